// SPDX-License-Identifier: GPL-2.0
/*
 * checkpoint --tracker uffd-wp (user/track/uffd.h): passes after the first
 * do not stop the tree, and the chain of images they make is still exact.
 *
 * The victim (lib/writer.c) writes without pause through every pass, and
 * with --churn remaps, splits, moves and drops its VMAs and pages.  At the
 * freeze of the final dump the test takes the victim's memory itself:
 * every page of every private VMA (pagemap and /proc/PID/mem, which reads
 * PROT_NONE too: a dump takes those pages as CRIU does) and the shared
 * region.  The final images, resolved through the chain down to
 * pass 1 as CRIU resolves them, must hold exactly that: each page the
 * process has, with its bytes, and no page it does not have.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "lib/pattern.h"
#include "lib/procfile.h"
#include "lib/vtest.h"
#include "lib/wctl.h"

#define PME_PRESENT	(1ULL << 63)
#define PME_SWAPPED	(1ULL << 62)
#define PME_FILE	(1ULL << 61)
#define NOBODY		65534
#define PE_PARENT	1u	/* pagemap entry flags (images/pagemap.proto) */
#define MAX_SNAP_VMAS	512

/* the victim's memory at the final freeze */
struct snap_vma {
	unsigned long start, end;
	bool compared;		/* private, not [vvar] & co: pages compared */
	char perms[8], name[32];	/* as maps said: for a failure's message */
	uint64_t *pme;
	char *data;		/* pages present or swapped; others untouched */
};

struct snap {
	struct snap_vma v[MAX_SNAP_VMAS];
	int nr;
	char *shared;		/* the writer's shared region */
	unsigned long shared_addr, shared_pages;
};

static void snap_free(struct snap *s)
{
	for (int i = 0; i < s->nr; i++) {
		free(s->v[i].pme);
		free(s->v[i].data);
	}
	free(s->shared);
	s->nr = 0;
	s->shared = NULL;
}

static int read_pages(int mem, unsigned long addr, char *buf, unsigned long len)
{
	return pread(mem, buf, len, addr) == (ssize_t)len ? 0 : -1;
}

/* take the frozen victim's memory: 0, or -1 with what failed in @why */
static int snap_take(pid_t pid, struct snap *s, char *why, size_t len)
{
	char path[64], line[512];
	int pm, mem, ret = -1;
	FILE *maps;

	snap_free(s);
	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	maps = fopen(path, "re");
	snprintf(path, sizeof(path), "/proc/%d/pagemap", pid);
	pm = open(path, O_RDONLY | O_CLOEXEC);
	snprintf(path, sizeof(path), "/proc/%d/mem", pid);
	mem = open(path, O_RDONLY | O_CLOEXEC);
	if (!maps || pm < 0 || mem < 0) {
		snprintf(why, len, "cannot open /proc/%d: %m", pid);
		goto out;
	}
	while (fgets(line, sizeof(line), maps)) {
		struct snap_vma *v = &s->v[s->nr];
		char perms[8], name[256] = "";
		unsigned long pages;

		if (s->nr == MAX_SNAP_VMAS) {
			snprintf(why, len, "more than %d VMAs", MAX_SNAP_VMAS);
			goto out;
		}
		if (sscanf(line, "%lx-%lx %7s %*s %*s %*s %255s", &v->start, &v->end, perms,
			   name) < 3)
			continue;
		s->nr++;
		memcpy(v->perms, perms, sizeof(v->perms));
		snprintf(v->name, sizeof(v->name), "%s", name);
		v->pme = NULL;
		v->data = NULL;
		v->compared = perms[3] == 'p' && strncmp(name, "[vvar", 5) &&
			      strcmp(name, "[vsyscall]");
		if (!v->compared)
			continue;
		pages = (v->end - v->start) / VPAGE;
		v->pme = malloc(pages * 8);
		v->data = malloc(pages * VPAGE);
		if (!v->pme || !v->data ||
		    pread(pm, v->pme, pages * 8, v->start / VPAGE * 8) != (ssize_t)(pages * 8)) {
			snprintf(why, len, "cannot read the pagemap of %lx-%lx", v->start, v->end);
			goto out;
		}
		for (unsigned long i = 0; i < pages; i++)
			if ((v->pme[i] & (PME_PRESENT | PME_SWAPPED)) &&
			    read_pages(mem, v->start + i * VPAGE, v->data + i * VPAGE, VPAGE)) {
				snprintf(why, len, "cannot read %lx", v->start + i * VPAGE);
				goto out;
			}
	}
	s->shared = malloc(s->shared_pages * VPAGE + 1);	/* none: --shared-mib 0 */
	if (!s->shared || (s->shared_pages &&
			   read_pages(mem, s->shared_addr, s->shared, s->shared_pages * VPAGE))) {
		snprintf(why, len, "cannot read the shared region");
		goto out;
	}
	ret = 0;
out:
	if (maps)
		fclose(maps);
	if (pm >= 0)
		close(pm);
	if (mem >= 0)
		close(mem);
	return ret;
}

static bool all_zero(const char *p)
{
	for (unsigned long i = 0; i < VPAGE; i++)
		if (p[i])
			return false;
	return true;
}

static const struct snap_vma *snap_find(const struct snap *s, unsigned long addr)
{
	for (int i = 0; i < s->nr; i++)
		if (s->v[i].start <= addr && addr < s->v[i].end)
			return &s->v[i];
	return NULL;
}

/*
 * The final images of @dir, through the chain, against the snapshot.
 * Returns the number of pages compared, or -1 with the first difference
 * in @why.
 */
static long chain_matches(const char *dir, pid_t pid, const struct snap *s, char *why,
			  size_t len)
{
	struct dump_view dv;
	char page[VPAGE];
	long compared = 0;
	unsigned long shmid;

	if (dump_view_open(&dv, dir, pid, false)) {
		snprintf(why, len, "cannot open the pagemap of %d in %.160s", pid, dir);
		return -1;
	}
	/* every page the process has, with its bytes, and nothing where it has none */
	for (int i = 0; i < s->nr; i++) {
		const struct snap_vma *v = &s->v[i];

		for (unsigned long a = v->start; v->compared && a < v->end; a += VPAGE) {
			unsigned long k = (a - v->start) / VPAGE;
			bool has = v->pme[k] & (PME_PRESENT | PME_SWAPPED);
			const char *want = v->data + k * VPAGE;
			int r = dump_view_page(&dv, a, page);

			if (r < 0) {
				snprintf(why, len, "%lx: broken parent chain", a);
				goto fail;
			}
			if (r && !has) {
				snprintf(why, len, "%lx: dumped, but the process has no page there", a);
				goto fail;
			}
			if (r && memcmp(page, want, VPAGE)) {
				snprintf(why, len, "%lx: dumped bytes differ from the frozen memory", a);
				goto fail;
			}
			if (!r && has && !(v->pme[k] & PME_FILE) && !all_zero(want)) {
				snprintf(why, len, "%lx: a page of the process is missing", a);
				goto fail;
			}
			compared += r;
		}
	}
	for (int i = 0; i < dv.lv[0].n; i++) {
		for (unsigned long k = 0; k < dv.lv[0].e[i].nr; k++) {
			unsigned long a = dv.lv[0].e[i].vaddr + k * VPAGE;
			const struct snap_vma *v = snap_find(s, a);

			if (!v || !v->compared) {
				const struct dv_ent *e = &dv.lv[0].e[i];

				/* what the freeze saw there: the next failure says which race */
				if (v)
					snprintf(why, len, "%lx: dumped outside the VMAs compared (entry "
						 "%lx+%u flags %u; frozen: %lx-%lx %s %s)", a,
						 (unsigned long)e->vaddr, e->nr, e->flags, v->start,
						 v->end, v->perms, v->name);
				else
					snprintf(why, len, "%lx: dumped outside the VMAs compared (entry "
						 "%lx+%u flags %u; frozen: no VMA there)", a,
						 (unsigned long)e->vaddr, e->nr, e->flags);
				goto fail;
			}
		}
	}
	dump_view_close(&dv);
	/* the shared region: always dumped whole, by offset */
	if (!s->shared_pages)
		return compared;	/* --shared-mib 0 */
	shmid = shmem_id_of(dir);
	if (!shmid || dump_view_open(&dv, dir, shmid, true)) {
		snprintf(why, len, "no shared segment image in %.160s", dir);
		return -1;
	}
	for (unsigned long k = 0; k < s->shared_pages; k++) {
		if (dump_view_page(&dv, k * VPAGE, page) != 1 ||
		    memcmp(page, s->shared + k * VPAGE, VPAGE)) {
			snprintf(why, len, "shared page %lu differs or is missing", k);
			goto fail;
		}
		compared++;
	}
	dump_view_close(&dv);
	return compared;
fail:
	dump_view_close(&dv);
	return -1;
}

/* the pages of the shared segment's image in @dir that are PE_PARENT */
static unsigned long shared_from_parent(const char *dir)
{
	unsigned long shmid = shmem_id_of(dir), n;
	struct dump_view dv;

	if (!shmid || dump_view_open(&dv, dir, shmid, true))
		return 0;
	n = dump_view_total(&dv, PE_PARENT);
	dump_view_close(&dv);
	return n;
}

/* every freeze may be the last: take the memory each time */
static int snap_on_freeze(struct ckpt_run *r, int nth)
{
	return snap_take(r->pid, r->arg, r->why, sizeof(r->why));
}

/*
 * The table checkpoint printed: pass 1 froze the tree, the passes after it
 * did not, and they took pages from their parents.  Returns the number of
 * passes, or -1 with why in r->why.
 */
static int check_table(struct ckpt_run *r)
{
	struct ckpt_row rows[32];
	unsigned long long from_parent = 0;
	int n = ckpt_rows(r->out, rows, 32), passes = 0;

	for (int i = 0; i < n; i++) {
		unsigned int k = atoi(rows[i].pass);

		if (!k)
			continue;	/* final */
		passes++;
		if (k == 1 && rows[i].frozen_ms <= 0) {
			snprintf(r->why, sizeof(r->why), "pass 1 did not freeze");
			return -1;
		}
		if (k > 1 && rows[i].frozen_ms != 0) {
			snprintf(r->why, sizeof(r->why), "pass %u froze the tree %.1f ms", k,
				 rows[i].frozen_ms);
			return -1;
		}
		if (k > 1)
			from_parent += rows[i].parent;
	}
	if (passes > 1 && !from_parent) {
		snprintf(r->why, sizeof(r->why), "no pass took a page from its parent");
		return -1;
	}
	return passes;
}

/* the table, as TAP diagnostics */
static void print_table(const char *out)
{
	for (const char *l = out; *l;) {
		size_t n = strcspn(l, "\n");

		if (isdigit(*l) || !strncmp(l, "pass", 4) || !strncmp(l, "final ", 6))
			fprintf(stderr, "# %.*s\n", (int)n, l);
		l += n + !!l[n];
	}
}

/* first thing in every case: selected (vtest.h), and uffd-wp here */
#define NEED_UFFD_WP()								\
	do {									\
		SELECTED_CASES_ONLY();						\
		if (!check_says_yes("uffd-wp async"))				\
			SKIP(return, "no async userfaultfd write-protection "	\
			     "(Linux 6.7+) here");				\
	} while (0)

FIXTURE(track) {
	struct writer w;
	struct snap snap;
	char *dir;
	bool idle;			/* the writer writes nothing once set up */
	char table[8192];		/* the last run's output */
	unsigned long shared_parent;	/* shared pages the final dumps took from parents */
	long huge_before, huge_after;	/* the last run's writer's KiB in THPs, around it */
};

FIXTURE_SETUP(track)
{
	memset(&self->w, 0, sizeof(self->w));
	memset(&self->snap, 0, sizeof(self->snap));
	self->dir = make_dir("track");
	ASSERT_NE(NULL, self->dir);
	signal(SIGPIPE, SIG_IGN);	/* a hook answered after memsplice died */
}

FIXTURE_TEARDOWN(track)
{
	writer_stop(&self->w);
	snap_free(&self->snap);
	if (self->dir)
		remove_dir(self->dir);
	free(self->dir);
}

/* @runs checkpoints of @passes passes and a final memsplice dump, each exact */
static void exact_chain(struct __test_metadata *_metadata, FIXTURE_DATA(track) *self,
			const char *const *wargs, int uid, int runs, int passes)
{
	char n[16], sub[200];

	snprintf(n, sizeof(n), "%d", passes);
	for (int i = 0; i < runs; i++) {
		const char *extra[] = { "--tracker", "uffd-wp", "--final", "dump", "--min-passes",
					n, "--max-passes", n, NULL };
		struct ckpt_run r = { .hook_env = "MEMSPLICE_TEST_FROZEN_FD",
				      .on_hook = snap_on_freeze, .arg = &self->snap };
		char final[256];
		long pages;

		snprintf(sub, sizeof(sub), "%s/%d", self->dir, i);
		ASSERT_EQ(0, mkdir(sub, 0755));
		ASSERT_EQ(0, writer_start(&self->w, wargs, uid));
		r.pid = self->w.pid;
		self->huge_before = anon_huge_kib(self->w.pid);
		self->snap.shared_addr = self->w.shared_addr;
		self->snap.shared_pages = self->w.shared_pages;
		ASSERT_EQ(0, ckpt_run(&r, sub, extra)) TH_LOG("%s", r.why);
		ASSERT_TRUE(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0)
			TH_LOG("checkpoint failed: %s", r.err);
		ASSERT_EQ(passes, check_table(&r)) TH_LOG("%s\n%s", r.why, r.out);
		if (!i)
			print_table(r.out);
		snprintf(final, sizeof(final), "%s/final", sub);
		pages = chain_matches(final, self->w.pid, &self->snap, r.why, sizeof(r.why));
		ASSERT_LT(0, pages) TH_LOG("run %d: %s", i, r.why);
		self->shared_parent += shared_from_parent(final);
		memcpy(self->table, r.out, sizeof(self->table));
		self->huge_after = anon_huge_kib(self->w.pid);
		if (!self->idle)
			EXPECT_TRUE(writer_runs(&self->w));
		writer_stop(&self->w);
		/* a run's chain is about 320 MiB with --churn; a guest's /tmp is 1 GiB */
		remove_dir(sub);
	}
}

/* 2 x 11 rounds: a writer that never stops */
TEST_F_TIMEOUT(track, writer_chain_is_exact, 300)
{
	const char *wargs[] = { "--mib", "32", NULL };

	NEED_UFFD_WP();
	exact_chain(_metadata, self, wargs, -1, 2, 10);
}

/*
 * 3 x 11 rounds: and VMAs remapped, split, new, moved; dropped pages; THP;
 * shared memory; a region under the writer's own userfaultfd
 */
TEST_F_TIMEOUT(track, churning_writer_chain_is_exact, 300)
{
	const char *wargs[] = { "--mib", "32", "--churn", "--thp", "--own-uffd", NULL };

	NEED_UFFD_WP();
	exact_chain(_metadata, self, wargs, -1, 3, 10);
}

/* the passes after the first, and the final dump, each wrote under 1 % of pass 1 */
static void later_passes_small(struct __test_metadata *_metadata, FIXTURE_DATA(track) *self,
			       int rows_expected, unsigned long long first_min)
{
	struct ckpt_row rows[8];
	int n = ckpt_rows(self->table, rows, 8);

	ASSERT_EQ(rows_expected, n) TH_LOG("%s", self->table);
	ASSERT_LT(first_min, rows[0].written);
	for (int k = 1; k < n; k++) {
		const struct ckpt_row *row = &rows[k];

		EXPECT_GT(rows[0].written / 100, row->written)
			TH_LOG("pass %s wrote %llu pages after %llu", row->pass, row->written,
			       rows[0].written);
	}
}

/*
 * A tree that writes nothing once set up, with 64 MiB of shared anonymous
 * memory: pass 1 writes everything; the passes after it, and the final
 * dump, next to nothing (under 1 %: they wrote all of the shared segment
 * before it was tracked), and the chain is exact.
 */
TEST_F_TIMEOUT(track, idle_shared_segment, 120)
{
	const char *wargs[] = { "--mib", "8", "--shared-mib", "64", "--idle", NULL };

	NEED_UFFD_WP();
	self->idle = true;
	exact_chain(_metadata, self, wargs, -1, 1, 3);
	later_passes_small(_metadata, self, 4, 64 * 256);
	EXPECT_LE(64 * 256, self->shared_parent);
}

/*
 * The shared region written through two processes' mappings: the
 * writer's and its child's, which flips words back and forth (a page
 * often holds again the bytes it held a moment ago).  The written pages of
 * a segment are the union over every mapping of it: a tracker that
 * scanned only one would take the child's pages from the parent, stale.
 */
TEST_F_TIMEOUT(track, shared_written_by_two_processes, 120)
{
	const char *wargs[] = { "--mib", "8", "--shared-mib", "16", "--shared-child", NULL };

	NEED_UFFD_WP();
	exact_chain(_metadata, self, wargs, -1, 2, 6);
	/* and the segment was tracked: not all of it written every pass */
	EXPECT_LT(0, self->shared_parent);
}

/*
 * Holes punched in the shared region (MADV_REMOVE) and read back in: a new
 * zero page under the old page's write-protection, which no write shows;
 * the chain must have its zeros, not the bytes the hole replaced.
 */
TEST_F_TIMEOUT(track, shared_holes_punched, 120)
{
	const char *wargs[] = { "--mib", "8", "--shared-mib", "4", "--idle", "--punch", NULL };

	NEED_UFFD_WP();
	self->idle = true;
	exact_chain(_metadata, self, wargs, -1, 2, 4);
	EXPECT_LT(0, self->shared_parent);
}

/* each pass, before its scan: a child has written and gone since the last */
static int child_gone(struct ckpt_run *r, int nth)
{
	if (writer_runs(r->arg))
		return 0;
	snprintf(r->why, sizeof(r->why), "no child forked before pass %d", nth);
	return -1;
}

/*
 * Children forked all the time, each writing the shared region through its
 * own mapping (registered with nothing) and gone before the next pass: no
 * page table the tracker scans shows what they wrote, so a pass after a
 * fork writes the segment whole (the test waits for a child to come and go
 * before each pass).  And the chain is exact.
 */
TEST_F_TIMEOUT(track, shared_written_by_forked_children, 120)
{
	const char *wargs[] = { "--mib", "8", "--shared-mib", "4", "--idle", "--forks", NULL };
	const char *extra[] = { "--tracker", "uffd-wp", "--final", "none", "--min-passes", "3",
				"--max-passes", "3", NULL };
	struct ckpt_run r = { .hook_env = "MEMSPLICE_TEST_THAWED_FD", .on_hook = child_gone,
			      .arg = &self->w };
	struct ckpt_row rows[8];
	int n;

	NEED_UFFD_WP();
	ASSERT_EQ(0, writer_start(&self->w, wargs, -1));
	r.pid = self->w.pid;
	ASSERT_EQ(0, ckpt_run(&r, self->dir, extra)) TH_LOG("%s", r.why);
	ASSERT_TRUE(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0)
		TH_LOG("checkpoint failed: %s", r.err);
	n = ckpt_rows(r.out, rows, 8);
	ASSERT_EQ(3, n) TH_LOG("%s", r.out);
	for (int k = 1; k < n; k++) {
		const struct ckpt_row *row = &rows[k];

		EXPECT_LE(4 * 256, row->written)
			TH_LOG("pass %s wrote %llu pages: not the shared segment", row->pass,
			       row->written);
	}
	writer_stop(&self->w);

	self->idle = true;
	exact_chain(_metadata, self, wargs, -1, 1, 3);
}

/*
 * A target of another user, vm.unprivileged_userfaultfd as it is (0 by
 * default): its userfaultfd is user-mode only, which that allows.
 */
TEST_F_TIMEOUT(track, unprivileged_target, 300)
{
	const char *wargs[] = { "--mib", "8", "--churn", NULL };
	char before[16] = "", after[16] = "";
	FILE *f;

	NEED_UFFD_WP();
	f = fopen("/proc/sys/vm/unprivileged_userfaultfd", "re");
	if (f) {
		fgets(before, sizeof(before), f);
		fclose(f);
	}
	exact_chain(_metadata, self, wargs, NOBODY, 1, 4);
	f = fopen("/proc/sys/vm/unprivileged_userfaultfd", "re");
	if (f) {
		fgets(after, sizeof(after), f);
		fclose(f);
	}
	EXPECT_STREQ(before, after);
}

/* the fds of @pid as "N -> target" lines */
static void fd_table(pid_t pid, char *buf, size_t len)
{
	char dir[64], path[PATH_MAX], target[PATH_MAX];
	struct dirent *de;
	size_t used = 0;
	DIR *d;

	buf[0] = '\0';
	snprintf(dir, sizeof(dir), "/proc/%d/fd", pid);
	d = opendir(dir);
	while (d && (de = readdir(d))) {
		ssize_t n;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		n = readlink(path, target, sizeof(target) - 1);
		target[n > 0 ? n : 0] = '\0';
		used += snprintf(buf + used, used < len ? len - used : 0, "%s -> %s\n",
				 de->d_name, target);
	}
	if (d)
		closedir(d);
}

/* VMAs registered for write-protection (smaps VmFlags "uw") */
static int uw_vmas(pid_t pid)
{
	char path[64], line[512];
	int n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/smaps", pid);
	f = fopen(path, "re");
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "VmFlags:", 8) && strstr(line, " uw"))
			n++;
	if (f)
		fclose(f);
	return n;
}

static char fds_before[4096], maps_before[16384];

/* pass 2, before its first page: memsplice holds the tracker; kill it */
static int kill_in_pass2(struct ckpt_run *r, int nth)
{
	if (nth < 2)
		return 0;
	if (!uw_vmas(r->pid)) {
		snprintf(r->why, sizeof(r->why), "no VMA registered when pass 2 began");
		return -1;
	}
	kill(r->ms, SIGKILL);
	return 0;
}

/*
 * memsplice SIGKILLed while it holds the tracker: the kernel drops the
 * registrations with the fds, and the target runs on with its fd table and
 * maps as they were.
 */
TEST_F_TIMEOUT(track, sigkill_holding_tracker, 120)
{
	const char *wargs[] = { "--mib", "8", NULL };
	const char *extra[] = { "--tracker", "uffd-wp", "--final", "none", "--min-passes", "3",
				"--max-passes", "3", NULL };
	struct ckpt_run r = { .hook_env = "MEMSPLICE_TEST_THAWED_FD", .on_hook = kill_in_pass2 };
	char path[64], fds_after[4096], maps_after[16384];

	NEED_UFFD_WP();
	ASSERT_EQ(0, writer_start(&self->w, wargs, -1));
	r.pid = self->w.pid;
	fd_table(self->w.pid, fds_before, sizeof(fds_before));
	snprintf(path, sizeof(path), "/proc/%d/maps", self->w.pid);
	ASSERT_EQ(0, read_text(path, maps_before, sizeof(maps_before)));
	ASSERT_EQ(0, ckpt_run(&r, self->dir, extra)) TH_LOG("%s", r.why);
	ASSERT_TRUE(WIFSIGNALED(r.status) && WTERMSIG(r.status) == SIGKILL)
		TH_LOG("checkpoint was not killed: %s", r.err);
	EXPECT_EQ(0, uw_vmas(self->w.pid));
	fd_table(self->w.pid, fds_after, sizeof(fds_after));
	EXPECT_STREQ(fds_before, fds_after);
	ASSERT_EQ(0, read_text(path, maps_after, sizeof(maps_after)));
	EXPECT_STREQ(maps_before, maps_after);
	EXPECT_EQ(0, proc_tracer(self->w.pid));
	EXPECT_TRUE(writer_runs(&self->w));
}

/*
 * --keep-huge-pages: where the kernel would split a protected huge page at
 * its first write, a VMA holding huge pages is dumped in full instead of
 * tracked, and keeps them although the writer writes them all the time.
 * (Where the kernel keeps them whole, it tracks them, and they stay too.)
 */
TEST_F_TIMEOUT(track, huge_pages_kept_when_asked, 120)
{
	const char *wargs[] = { "--mib", "8", "--thp", NULL };
	const char *extra[] = { "--tracker", "uffd-wp", "--keep-huge-pages", "--final", "none",
				"--min-passes", "3", "--max-passes", "3", NULL };
	struct ckpt_run r = { .hook_env = "MEMSPLICE_TEST_FROZEN_FD" };
	long before;

	NEED_UFFD_WP();
	ASSERT_EQ(0, writer_start(&self->w, wargs, -1));
	r.pid = self->w.pid;
	before = anon_huge_kib(self->w.pid);
	if (before <= 0)
		SKIP(return, "the writer got no huge page (THP off or memory fragmented)");
	ASSERT_EQ(0, ckpt_run(&r, self->dir, extra));
	ASSERT_TRUE(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0) TH_LOG("%s", r.err);
	EXPECT_GE(anon_huge_kib(self->w.pid), before);
	EXPECT_TRUE(writer_runs(&self->w));
}

/*
 * 64 MiB in huge pages that nobody writes after set-up: tracked, so the
 * passes after the first write under 1 % of it, and no huge page is lost
 * (nothing is written, so not even a kernel that splits on a write would).
 * No shared region: without fork events (the patched guest's kernel has no
 * CONFIG_PROC_EVENTS) it is written whole every pass.
 */
TEST_F_TIMEOUT(track, idle_huge_region, 120)
{
	const char *wargs[] = { "--mib", "64", "--huge", "--idle", "--shared-mib", "0", NULL };

	NEED_UFFD_WP();
	self->idle = true;
	exact_chain(_metadata, self, wargs, -1, 1, 3);
	if (self->huge_before < 32 * 1024)
		SKIP(return, "the writer got %ld KiB in huge pages (THP off or memory fragmented)",
		     self->huge_before);
	later_passes_small(_metadata, self, 4, 64 * 256);
	EXPECT_GE(self->huge_after, self->huge_before);
}

/*
 * Huge pages written all the time, tracked: the chain is exact whether the
 * kernel splits a written huge page (the pages written are reported) or
 * keeps it whole (its 2 MiB are: kernel/patches/uffd-wp-thp/), and where
 * it keeps them, the writer has all of its huge pages at the end.
 */
TEST_F_TIMEOUT(track, written_huge_pages_chain_is_exact, 300)
{
	const char *wargs[] = { "--mib", "32", "--huge", NULL };

	NEED_UFFD_WP();
	exact_chain(_metadata, self, wargs, -1, 2, 6);
	if (self->huge_before < 16 * 1024)
		SKIP(return, "the writer got %ld KiB in huge pages (THP off or memory fragmented)",
		     self->huge_before);
	if (check_says_yes("uffd-wp keeps THP")) {
		EXPECT_GE(self->huge_after, self->huge_before);
	} else {
		TH_LOG("this kernel splits written huge pages: %ld KiB of %ld left",
		       self->huge_after, self->huge_before);
	}
}

/* the target's fd table after a whole checkpoint: as before */
TEST_F_TIMEOUT(track, fd_table_untouched, 120)
{
	const char *wargs[] = { "--mib", "8", NULL };
	const char *extra[] = { "--tracker", "uffd-wp", "--final", "dump", "--min-passes", "2",
				"--max-passes", "2", NULL };
	struct ckpt_run r = { .hook_env = "MEMSPLICE_TEST_FROZEN_FD" };
	char fds_after[4096];

	NEED_UFFD_WP();
	ASSERT_EQ(0, writer_start(&self->w, wargs, -1));
	r.pid = self->w.pid;
	fd_table(self->w.pid, fds_before, sizeof(fds_before));
	ASSERT_EQ(0, ckpt_run(&r, self->dir, extra));
	ASSERT_TRUE(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0) TH_LOG("%s", r.err);
	fd_table(self->w.pid, fds_after, sizeof(fds_after));
	EXPECT_STREQ(fds_before, fds_after);
	EXPECT_EQ(0, uw_vmas(self->w.pid));
}

/* pass 2 has begun: each process dirties every 4th page and maps a new region */
static int dirty_in_pass2(struct ckpt_run *r, int nth)
{
	struct victim *v = r->arg;

	if (nth != 2)
		return 0;
	for (int i = 0; i < v->nr_pids; i++)
		if (victim_dirty(v, v->pids[i])) {
			snprintf(r->why, sizeof(r->why), "process %d did not dirty", v->pids[i]);
			return -1;
		}
	return 0;
}

/*
 * A tree: every process gets a userfaultfd of its own in pass 1; writes in
 * each, while pass 2 runs, reach the final dump, and the rest comes from
 * the passes.
 */
TEST_F_TIMEOUT(track, tree_of_processes, 120)
{
	const char *a[] = { "--anon", "64", "--children", "2", "--threads", "1", NULL };
	const char *extra[] = { "--tracker", "uffd-wp", "--final", "dump", "--min-passes", "3",
				"--max-passes", "3", NULL };
	struct ckpt_run r = { .hook_env = "MEMSPLICE_TEST_THAWED_FD", .on_hook = dirty_in_pass2 };
	struct victim v = { 0 };
	char final[256];
	int checked = 0;

	NEED_UFFD_WP();
	ASSERT_EQ(0, victim_start(&v, a, 3, 1));
	r.pid = v.pid;
	r.arg = &v;
	ASSERT_EQ(0, ckpt_run(&r, self->dir, extra)) TH_LOG("%s", r.why);
	ASSERT_TRUE(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0) TH_LOG("%s", r.err);
	snprintf(final, sizeof(final), "%s/final", self->dir);
	for (int i = 0; i < v.nr; i++) {
		const struct vregion *reg = &v.r[i];
		struct dump_view dv;
		uint64_t bad = 0;

		if (strcmp(reg->name, "anon"))
			continue;
		ASSERT_EQ(0, dump_view_open(&dv, final, reg->pid, false));
		EXPECT_EQ((long)reg->pages, check_region(&dv, reg, 0, 1, &bad))
			TH_LOG("process %d: page %#lx wrong", reg->pid, (unsigned long)bad);
		/* the pages not dirtied came from the passes */
		EXPECT_LT(0, dump_view_count(&dv, reg->addr, reg->addr + reg->pages * VPAGE,
					     PE_PARENT));
		dump_view_close(&dv);
		checked++;
	}
	EXPECT_EQ(3, checked);
	EXPECT_EQ(0, victim_verify_all(&v));
	victim_kill(&v);
}

/* refused before the tree is touched, with one line */
TEST_F(track, parasite_method_refused)
{
	const char *wargs[] = { "--mib", "1", NULL };
	const char *extra[] = { "--tracker", "uffd-wp", "--final", "none", "--method",
				"parasite", NULL };
	struct ckpt_run r = { .hook_env = "MEMSPLICE_TEST_FROZEN_FD" };

	NEED_UFFD_WP();
	ASSERT_EQ(0, writer_start(&self->w, wargs, -1));
	r.pid = self->w.pid;
	ASSERT_EQ(0, ckpt_run(&r, self->dir, extra));
	EXPECT_TRUE(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 1);
	EXPECT_NE(NULL, strstr(r.err, "do not freeze")) TH_LOG("%s", r.err);
	EXPECT_EQ(strlen(r.err) - 1, strcspn(r.err, "\n")) TH_LOG("not one line: %s", r.err);
	EXPECT_EQ(0, uw_vmas(self->w.pid));
}

TEST_HARNESS_MAIN
