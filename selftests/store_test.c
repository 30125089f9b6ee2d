// SPDX-License-Identifier: GPL-2.0
/*
 * The receiver's page store (user/receive/store.h) on its own, without the
 * network: rounds of pages put, kept (PE_PARENT) and listed lazily, each
 * page's bytes compared with what the round wrote; a round aborted, or its
 * writer killed before the commit, leaving the last commit whole after a
 * reopen; the lies a sender can tell refused; the pages file bounded by
 * the tree's pages, not the number of rounds; a damaged index refused.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "lib/pattern.h"
#include "lib/vtest.h"
#include "receive/store.h"
#include "sink/sink.h"

#define OBJ		(1ULL << 8 | 1)		/* dst_id of process 1's pagemap */
#define A		0x7f0000000000ULL
#define PG		4096ULL

/* fill(): the pattern of page @vaddr with seed @seed, as a round would send it */
struct src {
	uint64_t vaddr, seed;
	int calls;
};

static int fill(void *arg, int fd, off_t off, size_t len)
{
	struct src *src = arg;
	char page[PG];

	for (size_t i = 0; i < len; i += PG, src->vaddr += PG) {
		pattern_fill(page, src->vaddr, src->seed);
		if (pwrite(fd, page, PG, off + i) != PG)
			return -EIO;
	}
	src->calls++;
	return 0;
}

static int fill_fails(void *arg, int fd, off_t off, size_t len)
{
	return -ECONNRESET;
}

/* put @nr pages at @vaddr, each the pattern of its address with @seed */
static int put(struct store *s, uint64_t vaddr, uint64_t nr, uint64_t seed)
{
	struct src src = { .vaddr = vaddr, .seed = seed };

	return store_put(s, vaddr, nr, fill, &src);
}

/* the page at @vaddr of object @id holds the pattern of @seed; -1 if not held or wrong */
static int held(const struct store *s, uint64_t id, uint64_t vaddr, uint64_t seed)
{
	size_t nr;
	const struct store_run *r = store_runs(s, id, &nr);
	char page[PG];

	for (size_t i = 0; i < nr; i++, r++) {
		if (vaddr < r->vaddr || vaddr >= r->vaddr + r->nr * PG)
			continue;
		if (!(r->flags & PE_PRESENT))
			return -1;
		if (pread(store_pages_fd(s), page, PG, (r->slot + (vaddr - r->vaddr) / PG) * PG) != PG)
			return -1;
		return pattern_check(page, vaddr, seed) >= 0 ? -1 : 0;
	}
	return -1;
}

/* pages object @id lists (with any flags) */
static uint64_t listed(const struct store *s, uint64_t id)
{
	size_t nr;
	const struct store_run *r = store_runs(s, id, &nr);
	uint64_t n = 0;

	for (size_t i = 0; i < nr; i++)
		n += r[i].nr;
	return n;
}

static off_t pages_size(const char *dir)
{
	char path[700];
	struct stat st;

	snprintf(path, sizeof(path), "%s/pages", dir);
	return stat(path, &st) ? -1 : st.st_size;
}

FIXTURE(store) {
	char *dir;
	char path[600];
	struct store *s;
};

FIXTURE_SETUP(store)
{
	self->dir = make_dir("store");
	ASSERT_NE(NULL, self->dir);
	snprintf(self->path, sizeof(self->path), "%s/store", self->dir);
	ASSERT_EQ(0, store_open(self->path, &self->s));
}

FIXTURE_TEARDOWN(store)
{
	store_close(self->s);
	if (self->dir)
		remove_dir(self->dir);
	free(self->dir);
}

/* round 1: 16 pages and 4 lazy ones; what a reopened store holds */
static void round1(struct __test_metadata *_metadata, FIXTURE_DATA(store) *self)
{
	bool has;

	ASSERT_EQ(0, store_begin(self->s));
	ASSERT_EQ(0, store_object(self->s, OBJ, &has));
	EXPECT_FALSE(has);
	ASSERT_EQ(0, put(self->s, A, 16, 1));
	ASSERT_EQ(0, store_hole(self->s, A + 32 * PG, 4, PE_LAZY));
	ASSERT_EQ(0, store_commit(self->s));
}

TEST_F(store, round_survives_reopen)
{
	size_t nr;
	const struct store_run *r;

	round1(_metadata, self);
	store_close(self->s);
	self->s = NULL;
	ASSERT_EQ(0, store_open(self->path, &self->s));
	EXPECT_EQ(1, store_rounds(self->s));
	ASSERT_EQ(1, store_nr_objects(self->s));
	EXPECT_EQ(OBJ, store_object_id(self->s, 0));
	r = store_runs(self->s, OBJ, &nr);
	ASSERT_EQ(2, nr);
	EXPECT_EQ(A, r[0].vaddr);
	EXPECT_EQ(16, r[0].nr);
	EXPECT_EQ(PE_PRESENT, r[0].flags);
	EXPECT_EQ(A + 32 * PG, r[1].vaddr);
	EXPECT_EQ(PE_LAZY, r[1].flags);
	for (int i = 0; i < 16; i++) {
		EXPECT_EQ(0, held(self->s, OBJ, A + i * PG, 1)) TH_LOG("page %d", i);
	}
}

/* round 2 keeps pages 0-7, sends 8-11 anew, drops 12-15: its listing replaces round 1's */
TEST_F(store, parent_keeps_new_replaces)
{
	bool has;

	round1(_metadata, self);
	ASSERT_EQ(0, store_begin(self->s));
	ASSERT_EQ(0, store_object(self->s, OBJ, &has));
	EXPECT_TRUE(has);
	ASSERT_EQ(0, store_keep(self->s, A, 8));
	ASSERT_EQ(0, put(self->s, A + 8 * PG, 4, 2));
	ASSERT_EQ(0, store_commit(self->s));
	EXPECT_EQ(12, listed(self->s, OBJ));
	for (int i = 0; i < 8; i++) {
		EXPECT_EQ(0, held(self->s, OBJ, A + i * PG, 1)) TH_LOG("page %d", i);
	}
	for (int i = 8; i < 12; i++) {
		EXPECT_EQ(0, held(self->s, OBJ, A + i * PG, 2)) TH_LOG("page %d", i);
	}
	EXPECT_EQ(-1, held(self->s, OBJ, A + 12 * PG, 1));
}

/* a round aborted, and one whose writer died before its commit: round 1 whole */
TEST_F(store, broken_round_leaves_last_commit)
{
	struct store *t;
	bool has;
	pid_t pid;
	int st;

	round1(_metadata, self);
	ASSERT_EQ(0, store_begin(self->s));
	ASSERT_EQ(0, store_object(self->s, OBJ, &has));
	ASSERT_EQ(0, put(self->s, A, 16, 3));
	store_abort(self->s);
	for (int i = 0; i < 16; i++) {
		EXPECT_EQ(0, held(self->s, OBJ, A + i * PG, 1)) TH_LOG("page %d", i);
	}

	store_close(self->s);
	self->s = NULL;
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		if (store_open(self->path, &t) || store_begin(t) || store_object(t, OBJ, &has) ||
		    put(t, A, 16, 4) || store_keep(t, A + 16 * PG, 1) != -ENOENT)
			_exit(1);
		_exit(0);	/* killed mid-round: no commit, no abort */
	}
	ASSERT_EQ(pid, waitpid(pid, &st, 0));
	ASSERT_TRUE(WIFEXITED(st) && !WEXITSTATUS(st));
	ASSERT_EQ(0, store_open(self->path, &self->s));
	EXPECT_EQ(1, store_rounds(self->s));
	EXPECT_EQ(20, listed(self->s, OBJ));
	for (int i = 0; i < 16; i++) {
		EXPECT_EQ(0, held(self->s, OBJ, A + i * PG, 1)) TH_LOG("page %d", i);
	}
}

/* the lies a sender can tell, each refused with nothing of it applied */
TEST_F(store, lies_refused)
{
	bool has;

	round1(_metadata, self);
	ASSERT_EQ(0, store_begin(self->s));
	ASSERT_EQ(0, store_object(self->s, OBJ, &has));
	EXPECT_EQ(-ENOENT, store_keep(self->s, A + 16 * PG, 1));	/* never sent */
	EXPECT_EQ(-ENOENT, store_keep(self->s, A + 32 * PG, 1));	/* lazy: no data */
	EXPECT_EQ(-ENOENT, store_keep(self->s, A + 15 * PG, 2));	/* half of it */
	EXPECT_EQ(-EINVAL, put(self->s, A + 1, 1, 5));			/* unaligned */
	EXPECT_EQ(-EINVAL, put(self->s, A, 0, 5));			/* no page */
	EXPECT_EQ(-EINVAL, put(self->s, A, 1ULL << 60, 5));		/* past 2^64 */
	EXPECT_EQ(-EINVAL, store_hole(self->s, A, 1, PE_PRESENT));
	ASSERT_EQ(0, put(self->s, A + 4 * PG, 1, 5));
	EXPECT_EQ(-EINVAL, put(self->s, A, 1, 5));			/* backwards */
	EXPECT_EQ(-EINVAL, store_keep(self->s, A + 4 * PG, 1));	/* overlaps */
	EXPECT_EQ(-EEXIST, store_object(self->s, OBJ, &has));
	EXPECT_EQ(-ECONNRESET, store_put(self->s, A + 8 * PG, 1, fill_fails, NULL));
	store_abort(self->s);
	EXPECT_EQ(20, listed(self->s, OBJ));
	for (int i = 0; i < 16; i++) {
		EXPECT_EQ(0, held(self->s, OBJ, A + i * PG, 1)) TH_LOG("page %d", i);
	}
}

/* 20 rounds rewriting every page: the pages file stays within two rounds' pages */
TEST_F(store, bounded_by_the_tree)
{
	bool has;

	for (int round = 0; round < 20; round++) {
		ASSERT_EQ(0, store_begin(self->s));
		ASSERT_EQ(0, store_object(self->s, OBJ, &has));
		ASSERT_EQ(0, put(self->s, A, 256, 10 + round));
		ASSERT_EQ(0, store_commit(self->s));
		EXPECT_GE(2 * 256 * PG, pages_size(self->path));
	}
	for (int i = 0; i < 256; i++) {
		EXPECT_EQ(0, held(self->s, OBJ, A + i * PG, 29)) TH_LOG("page %d", i);
	}
}

/* one byte of the index changed: refused, not read as an empty store */
TEST_F(store, damaged_index_refused)
{
	char path[700];
	struct store *t = NULL;
	char c;
	int fd;

	round1(_metadata, self);
	snprintf(path, sizeof(path), "%s/index", self->path);
	fd = open(path, O_RDWR);
	ASSERT_LE(0, fd);
	ASSERT_EQ(1, pread(fd, &c, 1, 40));
	c ^= 1;
	ASSERT_EQ(1, pwrite(fd, &c, 1, 40));
	close(fd);
	EXPECT_EQ(-EBADMSG, store_open(self->path, &t));
	EXPECT_EQ(NULL, t);
}

TEST_HARNESS_MAIN
