// SPDX-License-Identifier: GPL-2.0
/*
 * SPVM_STABLE: the bytes in the pipe never change after the call returns.
 *
 * A victim maps 4 pages of one kind (private or shared anonymous memory, a
 * tmpfs file mapped private or shared, a transparent huge page), fills them
 * with one pattern and waits.  The test attaches them to a pipe, leaves
 * them there, has the victim write a second pattern over them, and only
 * then reads the pipe:
 * - with SPVM_STABLE the pipe holds the first pattern, on every kind;
 * - without it (the reference mode) the second one, on every kind: the
 *   contrast that makes the first result mean something;
 * - either way the victim reads its own second pattern back, and so does
 *   /proc/PID/mem: the call left the target's memory and later writes alone.
 * Plus: an unaligned stable range, the features query and the flag probe.
 *
 * What these tests cannot show: that no reference to the target's page is
 * left after a stable call (no page reference count is exposed to
 * userspace); the copy is what the old bytes in the pipe prove.
 * Run as root in a guest, with the module loaded or the patched kernel.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "lib/pattern.h"
#include "lib/spvm_entry.h"

#define PG		VPAGE
#define PAGES		4
#define HUGE		(2UL << 20)
#define SEED		0x5eed
#define SEED2		0xd1e7

/* The flag is new in version 2 and takes the next free bit. */
_Static_assert(SPVM_STABLE == 1ULL << 2, "SPVM_STABLE");
_Static_assert(SPVM_VERSION >= 2, "SPVM_VERSION with SPVM_STABLE");

enum vkind { V_ANON, V_SHARED_ANON, V_FILE_PRIVATE, V_FILE_SHARED, V_THP };

struct victim {
	pid_t pid;
	int cmd, ack, target;
	unsigned long addr;
};

static void fill(char *p, unsigned long pages, uint64_t seed)
{
	for (unsigned long i = 0; i < pages; i++)
		pattern_fill(p + i * PG, (unsigned long)(p + i * PG), seed);
}

static bool filled(const char *p, unsigned long addr, unsigned long pages, uint64_t seed)
{
	for (unsigned long i = 0; i < pages; i++)
		if (pattern_check(p + i * PG, addr + i * PG, seed) >= 0)
			return false;
	return true;
}

/* PAGES pages of @kind filled with SEED, or NULL */
static char *victim_map(enum vkind kind)
{
	size_t len = PAGES * PG;
	char *p, *tmp;
	int fd;

	switch (kind) {
	case V_ANON:
	case V_SHARED_ANON:
		p = mmap(NULL, len, PROT_READ | PROT_WRITE,
			 (kind == V_ANON ? MAP_PRIVATE : MAP_SHARED) | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			return NULL;
		madvise(p, len, MADV_NOHUGEPAGE);
		break;
	case V_THP:
		/* a whole huge page, faulted in at once, of which PAGES are read */
		tmp = mmap(NULL, 2 * HUGE, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (tmp == MAP_FAILED)
			return NULL;
		p = (char *)(((unsigned long)tmp + HUGE - 1) & ~(HUGE - 1));
		if (madvise(p, HUGE, MADV_HUGEPAGE))
			return NULL;
		fill(p, HUGE / PG, SEED);
		return p;
	case V_FILE_PRIVATE:
	case V_FILE_SHARED:
		/* tmpfs in the guests; the private mapping's pages are COW copies */
		fd = open("/tmp", O_TMPFILE | O_RDWR, 0600);
		if (fd < 0 || ftruncate(fd, len))
			return NULL;
		p = mmap(NULL, len, PROT_READ | PROT_WRITE,
			 kind == V_FILE_SHARED ? MAP_SHARED : MAP_PRIVATE, fd, 0);
		close(fd);
		if (p == MAP_FAILED)
			return NULL;
		break;
	default:
		return NULL;
	}
	fill(p, PAGES, SEED);
	return p;
}

/*
 * Map, report the address, then per 'w': write SEED2 over the pages and
 * answer whether they read back as SEED2 ('y' or 'n').
 */
static void __attribute__((noreturn)) victim_main(int cmd, int ack, enum vkind kind)
{
	char c, *p;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	p = victim_map(kind);
	if (!p)
		_exit(91);
	if (write(ack, &p, sizeof(p)) != sizeof(p))
		_exit(92);
	while (read(cmd, &c, 1) == 1) {
		fill(p, PAGES, SEED2);
		c = filled(p, (unsigned long)p, PAGES, SEED2) ? 'y' : 'n';
		if (write(ack, &c, 1) != 1)
			_exit(93);
	}
	_exit(0);
}

static int victim_start(struct victim *v, const struct spvm_entry *e, enum vkind kind)
{
	int cmd[2], ack[2];

	if (pipe2(cmd, O_CLOEXEC) || pipe2(ack, O_CLOEXEC))
		return -1;
	v->pid = fork();
	if (v->pid < 0)
		return -1;
	if (v->pid == 0)
		victim_main(cmd[0], ack[1], kind);
	close(cmd[0]);
	close(ack[1]);
	v->cmd = cmd[1];
	v->ack = ack[0];
	if (read(v->ack, &v->addr, sizeof(v->addr)) != sizeof(v->addr)) {
		errno = ECHILD;
		return -1;
	}
	v->target = e->open_target(v->pid);
	return v->target < 0 ? -1 : 0;
}

/* the victim's answer to 'w': 'y' when its own memory reads SEED2 */
static char victim_write(struct victim *v)
{
	char c = 'w';

	if (write(v->cmd, &c, 1) != 1 || read(v->ack, &c, 1) != 1)
		return 0;
	return c;
}

static void victim_stop(struct victim *v)
{
	if (v->pid > 0) {
		kill(v->pid, SIGKILL);
		waitpid(v->pid, NULL, 0);
	}
	if (v->target >= 0)
		close(v->target);
	if (v->cmd >= 0)
		close(v->cmd);
	if (v->ack >= 0)
		close(v->ack);
	*v = (struct victim){ .target = -1, .cmd = -1, .ack = -1 };
}

/* does /proc/PID/mem read @seed over the victim's pages? */
static bool mem_filled(const struct victim *v, uint64_t seed)
{
	static char buf[PAGES * PG];
	char path[64];
	bool ok;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/mem", v->pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	ok = pread(fd, buf, sizeof(buf), v->addr) == sizeof(buf) &&
	     filled(buf, v->addr, PAGES, seed);
	close(fd);
	return ok;
}

/* Is the victim's range backed by a huge page?  (AnonHugePages of its VMA) */
static bool victim_thp(const struct victim *v)
{
	char path[64], line[256];
	unsigned long start, end;
	bool in = false, huge = false;
	long kb;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/smaps", v->pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &start, &end) == 2)
			in = start <= v->addr && v->addr < end;
		else if (in && sscanf(line, "AnonHugePages: %ld kB", &kb) == 1)
			huge = kb >= 2048;
	}
	fclose(f);
	return huge;
}

static bool thp_off(void)
{
	char buf[128] = "";
	int fd = open("/sys/kernel/mm/transparent_hugepage/enabled", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return true;
	if (read(fd, buf, sizeof(buf) - 1) < 0)
		buf[0] = 0;
	close(fd);
	return !strstr(buf, "[always]") && !strstr(buf, "[madvise]");
}

static long spvm_flags(const struct spvm_entry *e, int target, int pipe_fd,
		       unsigned long addr, size_t len, __u64 flags)
{
	struct spvm_iovec iov = { .base = addr, .len = len };
	struct spvm_args a = {
		.size = sizeof(a),
		.flags = flags,
		.target_fd = target,
		.pipe_fd = pipe_fd,
		.iov = (uintptr_t)&iov,
		.iovcnt = 1,
	};

	return e->call(&a);
}

/* ---- one fixture per entry and kind of mapping ------------------------ */

FIXTURE(stable) {
	bool skip;
	int p[2];
	struct victim v;
	char buf[PAGES * PG];
};

FIXTURE_VARIANT(stable) {
	const struct spvm_entry *entry;
	enum vkind kind;
};

#define VARIANTS(entry_, e)							\
	FIXTURE_VARIANT_ADD(stable, entry_##_private_anon) { e, V_ANON };	\
	FIXTURE_VARIANT_ADD(stable, entry_##_shared_anon) { e, V_SHARED_ANON };	\
	FIXTURE_VARIANT_ADD(stable, entry_##_private_file) { e, V_FILE_PRIVATE }; \
	FIXTURE_VARIANT_ADD(stable, entry_##_shared_file) { e, V_FILE_SHARED };	\
	FIXTURE_VARIANT_ADD(stable, entry_##_thp) { e, V_THP }

VARIANTS(device, &device_entry);
VARIANTS(syscall, &syscall_entry);

FIXTURE_SETUP(stable)
{
	const char *why;

	self->p[0] = self->p[1] = -1;
	self->v = (struct victim){ .target = -1, .cmd = -1, .ack = -1 };
	why = variant->entry->unavailable();
	if (why) {
		self->skip = true;
		SKIP(return, "%s", why);
	}
	if (variant->kind == V_THP && thp_off()) {
		self->skip = true;
		SKIP(return, "transparent huge pages are off");
	}
	ASSERT_EQ(0, pipe2(self->p, O_CLOEXEC));
	ASSERT_EQ(0, victim_start(&self->v, variant->entry, variant->kind))
		TH_LOG("victim: %m");
	if (variant->kind == V_THP && !victim_thp(&self->v)) {
		self->skip = true;
		SKIP(return, "the victim got no huge page");
	}
}

FIXTURE_TEARDOWN(stable)
{
	victim_stop(&self->v);
	if (self->p[0] >= 0)
		close(self->p[0]);
	if (self->p[1] >= 0)
		close(self->p[1]);
}

#define E	(variant->entry)

TEST_F(stable, target_writes_after_the_call_do_not_show)
{
	if (self->skip)
		return;
	ASSERT_EQ(PAGES * PG, spvm_flags(E, self->v.target, self->p[1], self->v.addr,
					 PAGES * PG, SPVM_STABLE)) TH_LOG("%m");
	EXPECT_EQ('y', victim_write(&self->v)) TH_LOG("the victim's own writes");
	ASSERT_EQ(sizeof(self->buf), read(self->p[0], self->buf, sizeof(self->buf)));
	EXPECT_TRUE(filled(self->buf, self->v.addr, PAGES, SEED))
		TH_LOG("the pipe changed after the call");
	EXPECT_TRUE(mem_filled(&self->v, SEED2)) TH_LOG("the target's memory");
}

/* the reference mode on the same mapping, for contrast */
TEST_F(stable, reference_mode_shows_target_writes)
{
	if (self->skip)
		return;
	ASSERT_EQ(PAGES * PG, spvm(E, self->v.target, self->p[1], self->v.addr,
				   PAGES * PG)) TH_LOG("%m");
	EXPECT_EQ('y', victim_write(&self->v)) TH_LOG("the victim's own writes");
	ASSERT_EQ(sizeof(self->buf), read(self->p[0], self->buf, sizeof(self->buf)));
	EXPECT_TRUE(filled(self->buf, self->v.addr, PAGES, SEED2))
		TH_LOG("the pipe holds references: the new bytes show");
	EXPECT_TRUE(mem_filled(&self->v, SEED2)) TH_LOG("the target's memory");
}

/* a range that starts and ends inside pages: only its bytes, copied */
TEST_F(stable, unaligned_range)
{
	const unsigned long off = 100, len = 2 * PG;
	static char want[PAGES * PG];

	if (self->skip)
		return;
	ASSERT_EQ(len, spvm_flags(E, self->v.target, self->p[1], self->v.addr + off,
				  len, SPVM_STABLE)) TH_LOG("%m");
	EXPECT_EQ('y', victim_write(&self->v));
	ASSERT_EQ(len, read(self->p[0], self->buf, sizeof(self->buf)));
	for (int i = 0; i < PAGES; i++)
		pattern_fill(want + i * PG, self->v.addr + i * PG, SEED);
	EXPECT_EQ(0, memcmp(self->buf, want + off, len));
}

/* ---- what an implementation says about the flag ----------------------- */

FIXTURE(probe) {
	bool skip;
};

FIXTURE_VARIANT(probe) {
	const struct spvm_entry *entry;
};

FIXTURE_VARIANT_ADD(probe, device) { .entry = &device_entry };
FIXTURE_VARIANT_ADD(probe, syscall) { .entry = &syscall_entry };

FIXTURE_SETUP(probe)
{
	const char *why = variant->entry->unavailable();

	if (why) {
		self->skip = true;
		SKIP(return, "%s", why);
	}
}

FIXTURE_TEARDOWN(probe)
{
}

/* the device lists the flag in its features, from version 2 on */
TEST_F(probe, features_list_stable)
{
	struct spvm_features f = { .size = sizeof(f) };

	if (self->skip)
		return;
	if (!E->is_module)
		SKIP(return, "the syscall has no features query");
	ASSERT_EQ(0, ioctl(dev_fd, SPVM_IOC_FEATURES, &f)) TH_LOG("%m");
	EXPECT_LE(2, f.version);
	EXPECT_TRUE(f.flags & SPVM_STABLE);
}

/* fds of -1: EBADF for a known flag, EINVAL for an unknown one (none here) */
TEST_F(probe, flag_probe_knows_stable)
{
	if (self->skip)
		return;
	EXPECT_EQ(-1, spvm_flags(E, -1, -1, 0, 0, SPVM_STABLE));
	EXPECT_EQ(EBADF, errno);
	EXPECT_EQ(-1, spvm_flags(E, -1, -1, 0, 0, SPVM_STABLE << 1));
	EXPECT_EQ(EINVAL, errno);
}

TEST_HARNESS_MAIN
