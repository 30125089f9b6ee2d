// SPDX-License-Identifier: GPL-2.0
/*
 * memsplice and CRIU in one pipeline: pre-dumps by memsplice (and by criu,
 * interleaved) with --track-mem, a final `criu dump --track-mem
 * --prev-images-dir`, then `criu restore -d`, after which every restored
 * victim process checks its whole memory.  Every CRIU pass must have built
 * on its parent: the anon pages the victim did not write since are
 * PE_PARENT, counted exactly (a parent CRIU ignored, e.g. after a
 * misdetected pid reuse, leaves none).
 *
 * Needs soft-dirty and a criu that runs on this kernel (3.17 in the 6.1
 * guest): every test skips elsewhere.  The victims are CRIU-friendly:
 * session leaders, stdio on /dev/null, reporting through a FIFO that a
 * restored victim reopens by path.  The test is a child subreaper, so a
 * restored tree (criu's child until criu exits) becomes its child.
 *
 * Every method runs predumps_then_criu_dump, mutating_victim, pid_namespace,
 * hugetlb_then_criu_dump and checkpoint_uffd_wp_then_criu; the others (the
 * chain with criu, checkpoint's own logic) are FULL_PASS_ONLY.
 */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "lib/hugetlb.h"
#include "lib/pattern.h"
#include "lib/twohosts.h"
#include "lib/vtest.h"

#define PE_PARENT	1u
#define PE_PRESENT	4u
#define PSTREE_MAGIC	0x50273030u

#define ANON		256			/* pages of each victim's "anon" */
#define DIRTY		(ANON / 4)		/* pages a victim_dirty() writes there */
#define CLEAN		(ANON - DIRTY)

FIXTURE(pipeline) {
	struct victim v;
	char *dir;		/* levels go to dir/1, dir/2, ... */
	char fifo[512];
	char err[4096];
	char why[200];		/* why the setup skipped */
	bool pidns;		/* image names are the pids inside the namespace: */
	pid_t hpids[MAX_VPIDS], vpids[MAX_VPIDS];	/* host -> ns, taken at start */
	long old_huge;		/* nr_hugepages to give back, -1: untouched */
};

FIXTURE_VARIANT(pipeline) {
	const char *method;
};

FIXTURE_VARIANT_ADD(pipeline, syscall) { .method = "syscall" };
FIXTURE_VARIANT_ADD(pipeline, read) { .method = "read" };
FIXTURE_VARIANT_ADD(pipeline, device) { .method = "device" };
FIXTURE_VARIANT_ADD(pipeline, procmem) { .method = "procmem" };
FIXTURE_VARIANT_ADD(pipeline, parasite) { .method = "parasite" };

FIXTURE_SETUP(pipeline)
{
	self->old_huge = -1;
	const char *why = criu_unusable();

	if (why) {
		snprintf(self->why, sizeof(self->why), "%s", why);
		SKIP(return, "%s", self->why);
	}
	const char *skip = method_skip(variant->method);

	if (skip) {
		snprintf(self->why, sizeof(self->why), "%s", skip);
		SKIP(return, "%s", self->why);
	}
	ASSERT_EQ(0, prctl(PR_SET_CHILD_SUBREAPER, 1));
	self->dir = make_dir("pipeline");
	ASSERT_NE(NULL, self->dir);
	snprintf(self->fifo, sizeof(self->fifo), "%s/report", self->dir);
}

FIXTURE_TEARDOWN(pipeline)
{
	victim_kill(&self->v);
	hugetlb_release(&self->old_huge);
	if (self->dir && getenv("MEMSPLICE_KEEP"))
		TH_LOG("kept %s (MEMSPLICE_KEEP)", self->dir);
	else if (self->dir)
		remove_dir(self->dir);
}

/* the path of level @n (dir/@n), created if missing */
static const char *level(FIXTURE_DATA(pipeline) *self, int n, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%d", self->dir, n);
	mkdir(buf, 0755);
	return buf;
}

/* a victim process as the images name it (it may be dead by now) */
static pid_t img_pid(FIXTURE_DATA(pipeline) *self, pid_t pid)
{
	if (!self->pidns)
		return pid;
	for (int i = 0; i < MAX_VPIDS; i++)
		if (self->hpids[i] == pid)
			return self->vpids[i];
	return -1;
}

static int start(FIXTURE_DATA(pipeline) *self, const char *const *args, int nr_ready,
		 int nr_threads, bool pidns)
{
	struct victim_opts o = { .fifo = self->fifo, .detach = true, .pidns = pidns,
				 .cwd = pidns ? self->dir : NULL };

	self->pidns = pidns;
	if (victim_start_opts(&self->v, args, nr_ready, nr_threads, &o))
		return -1;
	for (int i = 0; pidns && i < self->v.nr_pids; i++) {
		self->hpids[i] = self->v.pids[i];
		self->vpids[i] = ns_pid(self->v.pids[i]);
	}
	return 0;
}

/* memsplice pre-dump --track-mem into level @n, on level @prev if > 0 */
static int ms_predump(struct __test_metadata *_metadata, FIXTURE_DATA(pipeline) *self,
		      const FIXTURE_VARIANT(pipeline) *variant, int n, int prev)
{
	char pid[16], dir[600], rel[16];
	const char *args[] = { "pre-dump", "-t", pid, "-D", level(self, n, dir, sizeof(dir)),
			       "--track-mem", "--method", variant->method,
			       prev ? "--prev-images-dir" : NULL, rel, NULL };
	int ret;

	snprintf(pid, sizeof(pid), "%d", self->v.pid);
	snprintf(rel, sizeof(rel), "../%d", prev);
	ret = run_memsplice(args, self->err, sizeof(self->err), -1);
	if (ret)
		TH_LOG("memsplice pre-dump into %d: exit %d: %s", n, ret, self->err);
	return ret;
}

static long file_lines(const char *path)
{
	FILE *f = fopen(path, "re");
	long n = 0;
	int c;

	if (!f)
		return -1;
	while ((c = getc(f)) != EOF)
		n += c == '\n';
	fclose(f);
	return n;
}

/* criu's "Error" lines of @log (they come long before a -v4 log ends), then its tail */
static void log_tail(struct __test_metadata *_metadata, const char *dir, const char *log)
{
	char path[700], line[512], errors[2048] = "", tail[1024];
	FILE *f;
	int n = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, log);
	f = fopen(path, "re");
	while (f && fgets(line, sizeof(line), f))
		if (strstr(line, "Error") && n++ < 10)
			strncat(errors, line, sizeof(errors) - strlen(errors) - 1);
	if (f)
		fclose(f);
	TH_LOG("%s: errors:\n%slast lines:\n%s", path, errors,
	       file_tail(path, 6, tail, sizeof(tail)));
}

/* criu pre-dump|dump --track-mem into level @n, on level @prev if > 0; log CMD.log */
static int criu(struct __test_metadata *_metadata, FIXTURE_DATA(pipeline) *self,
		const char *cmd, int n, int prev)
{
	char pid[16], dir[600], rel[16], log[32];
	const char *args[] = { criu_bin(), cmd, "-t", pid, "-D", level(self, n, dir, sizeof(dir)),
			       "-o", log, "-v4", "--track-mem",
			       prev ? "--prev-images-dir" : NULL, rel, NULL };
	int ret;

	snprintf(pid, sizeof(pid), "%d", self->v.pid);
	snprintf(rel, sizeof(rel), "../%d", prev);
	snprintf(log, sizeof(log), "%s.log", cmd);
	ret = run_cmd(args, self->err, sizeof(self->err));
	if (ret) {
		TH_LOG("criu %s into %d: exit %d: %s", cmd, n, ret, self->err);
		log_tail(_metadata, dir, log);
	}
	return ret;
}

/* pages of @pid's region @name in level @n's own pagemap that have @flags */
static long count(FIXTURE_DATA(pipeline) *self, int n, pid_t pid, const char *name,
		  unsigned int flags)
{
	struct vregion *r = victim_region(&self->v, pid, name);
	struct dump_view dv;
	char dir[600];
	long c;

	if (!r || dump_view_open(&dv, level(self, n, dir, sizeof(dir)), img_pid(self, pid), false))
		return -1;
	c = dump_view_count(&dv, r->addr, r->addr + r->pages * VPAGE, flags);
	dump_view_close(&dv);
	return c;
}

/* @pid's region @name read through level @n's chain equals the pattern (generation @gen) */
static long chain_check(FIXTURE_DATA(pipeline) *self, int n, pid_t pid, const char *name,
			int gen, uint64_t *bad)
{
	struct vregion *r = victim_region(&self->v, pid, name);
	struct dump_view dv;
	char dir[600];
	long c;

	if (!r || dump_view_open(&dv, level(self, n, dir, sizeof(dir)), img_pid(self, pid), false))
		return -1;
	c = check_region(&dv, r, 0, gen, bad);
	dump_view_close(&dv);
	return c;
}

/*
 * After a final dump killed the tree: wait until its pids are free, restore
 * dir/@name, adopt the restored tree and have every process verify itself.
 */
static void restore_and_verify(struct __test_metadata *_metadata, FIXTURE_DATA(pipeline) *self,
			       const char *name)
{
	char dir[600], pidfile[700], line[32];
	const char *args[] = { criu_bin(), "restore", "-D", dir, "-d",
			       "-o", "restore.log", "-v4", "--pidfile", pidfile, NULL };
	pid_t old[MAX_VPIDS];
	int nr = self->v.nr_pids, ret;
	pid_t root = 0;
	FILE *f;

	snprintf(dir, sizeof(dir), "%s/%s", self->dir, name);
	memcpy(old, self->v.pids, sizeof(old));
	ASSERT_EQ(0, victim_reap(&self->v));
	snprintf(pidfile, sizeof(pidfile), "%s/restore.pid", dir);
	ret = run_cmd(args, self->err, sizeof(self->err));
	EXPECT_EQ(0, ret) {
		TH_LOG("criu restore from %s: exit %d: %s", name, ret, self->err);
		log_tail(_metadata, dir, "restore.log");
	}
	ASSERT_EQ(0, ret);
	f = fopen(pidfile, "re");
	ASSERT_NE(NULL, f);
	if (fgets(line, sizeof(line), f))
		root = atoi(line);
	fclose(f);
	ASSERT_LT(0, root);
	ASSERT_EQ(nr, victim_adopt(&self->v, root)) {
		TH_LOG("restored tree of %d: %d processes, %d dumped", root, self->v.nr_pids, nr);
	}
	if (self->pidns) {
		EXPECT_EQ(1, ns_pid(root));
	} else {
		/* no namespace: criu gives every process its pid back */
		for (int i = 0; i < nr; i++) {
			bool found = false;

			for (int k = 0; k < nr; k++)
				found |= self->v.pids[k] == old[i];
			EXPECT_TRUE(found) {
				TH_LOG("pid %d was not restored", old[i]);
			}
		}
	}
	EXPECT_EQ(0, victim_verify_all(&self->v)) {
		TH_LOG("a restored process did not verify its memory");
	}
}

/* the other process of a two-process victim */
static pid_t child_of(const struct victim *v)
{
	for (int i = 0; i < v->nr_pids; i++)
		if (v->pids[i] != v->pid)
			return v->pids[i];
	return -1;
}

static const char *const basic[] = { "--anon", "256", "--nothp", "--shared", "16", NULL };

TEST_F_TIMEOUT(pipeline, predumps_then_criu_dump, 600)
{
	const char *a[] = { "--anon", "256", "--nothp", "--file", "32", "--shared", "32",
			    "--protnone", "16", "--thp", "2", "--threads", "2",
			    "--children", "1", NULL };
	uint64_t bad = 0;
	pid_t root, child;

	NEED_SETUP();
	ASSERT_EQ(0, start(self, a, 2, 4, false));
	root = self->v.pid;
	child = child_of(&self->v);
	ASSERT_LT(0, child);

	ASSERT_EQ(0, ms_predump(_metadata, self, variant, 1, 0));
	ASSERT_EQ(0, victim_dirty(&self->v, root));
	ASSERT_EQ(0, ms_predump(_metadata, self, variant, 2, 1));
	EXPECT_EQ(CLEAN, count(self, 2, root, "anon", PE_PARENT));
	ASSERT_EQ(0, victim_dirty(&self->v, root));

	ASSERT_EQ(0, criu(_metadata, self, "dump", 3, 2));
	/* criu built on memsplice's pre-dump: what was not written since is in the parent */
	EXPECT_EQ(CLEAN, count(self, 3, root, "anon", PE_PARENT)) {
		TH_LOG("criu did not use memsplice's pre-dump as its parent");
		log_tail(_metadata, self->dir, "3/dump.log");
	}
	EXPECT_EQ(DIRTY, count(self, 3, root, "anon", PE_PRESENT));
	EXPECT_EQ(ANON, count(self, 3, child, "anon", PE_PARENT));
	/* criu -> memsplice -> memsplice resolves to what the victims wrote */
	EXPECT_EQ(ANON, chain_check(self, 3, root, "anon", 2, &bad)) {
		TH_LOG("anon page %#lx wrong through the chain", (unsigned long)bad);
	}
	EXPECT_EQ(ANON, chain_check(self, 3, child, "anon", 0, &bad)) {
		TH_LOG("child's anon page %#lx wrong through the chain", (unsigned long)bad);
	}
	restore_and_verify(_metadata, self, "3");
}

TEST_F_TIMEOUT(pipeline, mixed_criu_first, 600)
{
	FULL_PASS_ONLY(variant->method);
	uint64_t bad = 0;
	pid_t root;

	NEED_SETUP();
	ASSERT_EQ(0, start(self, basic, 1, 0, false));
	root = self->v.pid;

	ASSERT_EQ(0, criu(_metadata, self, "pre-dump", 1, 0));
	ASSERT_EQ(0, victim_dirty(&self->v, root));
	ASSERT_EQ(0, ms_predump(_metadata, self, variant, 2, 1));
	/* memsplice built on criu's pre-dump */
	EXPECT_EQ(CLEAN, count(self, 2, root, "anon", PE_PARENT));
	EXPECT_EQ(DIRTY, count(self, 2, root, "anon", PE_PRESENT));
	EXPECT_EQ(ANON, chain_check(self, 2, root, "anon", 1, &bad)) {
		TH_LOG("anon page %#lx wrong through memsplice -> criu", (unsigned long)bad);
	}
	ASSERT_EQ(0, victim_dirty(&self->v, root));
	ASSERT_EQ(0, criu(_metadata, self, "dump", 3, 2));
	EXPECT_EQ(CLEAN, count(self, 3, root, "anon", PE_PARENT));
	restore_and_verify(_metadata, self, "3");
}

TEST_F_TIMEOUT(pipeline, mixed_interleaved, 600)
{
	/* criu on each method's pre-dump (its pre_dump_mode): predumps_then_criu_dump */
	FULL_PASS_ONLY(variant->method);
	uint64_t bad = 0;
	pid_t root;

	NEED_SETUP();
	ASSERT_EQ(0, start(self, basic, 1, 0, false));
	root = self->v.pid;

	ASSERT_EQ(0, ms_predump(_metadata, self, variant, 1, 0));
	ASSERT_EQ(0, victim_dirty(&self->v, root));
	ASSERT_EQ(0, criu(_metadata, self, "pre-dump", 2, 1));
	EXPECT_EQ(CLEAN, count(self, 2, root, "anon", PE_PARENT)) {
		TH_LOG("criu pre-dump did not use memsplice's pre-dump as its parent");
	}
	ASSERT_EQ(0, victim_dirty(&self->v, root));
	ASSERT_EQ(0, ms_predump(_metadata, self, variant, 3, 2));
	EXPECT_EQ(CLEAN, count(self, 3, root, "anon", PE_PARENT));
	EXPECT_EQ(ANON, chain_check(self, 3, root, "anon", 2, &bad)) {
		TH_LOG("anon page %#lx wrong through memsplice -> criu -> memsplice",
		       (unsigned long)bad);
	}
	ASSERT_EQ(0, victim_dirty(&self->v, root));
	ASSERT_EQ(0, criu(_metadata, self, "dump", 4, 3));
	EXPECT_EQ(CLEAN, count(self, 4, root, "anon", PE_PARENT));
	EXPECT_EQ(ANON, chain_check(self, 4, root, "anon", 3, &bad));
	restore_and_verify(_metadata, self, "4");
}

TEST_F_TIMEOUT(pipeline, mutating_victim, 600)
{
	const char *a[] = { "--anon", "256", "--nothp", "--mutate", NULL };
	pid_t root;

	NEED_SETUP();
	ASSERT_EQ(0, start(self, a, 1, 0, false));
	root = self->v.pid;

	ASSERT_EQ(0, ms_predump(_metadata, self, variant, 1, 0));
	ASSERT_EQ(0, ms_predump(_metadata, self, variant, 2, 1));
	ASSERT_EQ(0, criu(_metadata, self, "dump", 3, 2));
	/* the churn never touches "anon": all of it stays in the parents */
	EXPECT_EQ(ANON, count(self, 3, root, "anon", PE_PARENT));
	restore_and_verify(_metadata, self, "3");
}

TEST_F_TIMEOUT(pipeline, pid_namespace, 600)
{
	const char *a[] = { "--anon", "256", "--nothp", "--children", "1", NULL };
	char dir[600], path[700];
	uint32_t pids[8];
	pid_t root, child, vchild;
	int n;

	NEED_SETUP();
	ASSERT_EQ(0, start(self, a, 2, 0, true));
	root = self->v.pid;
	child = child_of(&self->v);
	ASSERT_LT(0, child);
	ASSERT_EQ(1, ns_pid(root));
	vchild = ns_pid(child);
	ASSERT_LT(1, vchild);

	ASSERT_EQ(0, ms_predump(_metadata, self, variant, 1, 0));
	/* images and pstree name the pids inside the namespace, as criu's do */
	level(self, 1, dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/pagemap-1.img", dir);
	EXPECT_EQ(0, access(path, F_OK)) {
		TH_LOG("no pagemap-1.img for the namespace's init (host pid %d)", root);
	}
	snprintf(path, sizeof(path), "%s/pagemap-%d.img", dir, vchild);
	EXPECT_EQ(0, access(path, F_OK));
	snprintf(path, sizeof(path), "%s/pagemap-%d.img", dir, root);
	EXPECT_NE(0, access(path, F_OK)) {
		TH_LOG("pagemap named after the host pid %d", root);
	}
	snprintf(path, sizeof(path), "%s/pstree.img", dir);
	n = image_u32_fields(path, PSTREE_MAGIC, 1, pids, 8);
	ASSERT_EQ(2, n);
	EXPECT_EQ(1, pids[0] == 1 ? pids[1] == (uint32_t)vchild : pids[0] == (uint32_t)vchild &&
		  pids[1] == 1) {
		TH_LOG("pstree pids %u %u, want 1 and %d", pids[0], pids[1], vchild);
	}

	ASSERT_EQ(0, victim_dirty(&self->v, root));
	ASSERT_EQ(0, ms_predump(_metadata, self, variant, 2, 1));
	EXPECT_EQ(CLEAN, count(self, 2, root, "anon", PE_PARENT));
	ASSERT_EQ(0, victim_dirty(&self->v, root));
	ASSERT_EQ(0, criu(_metadata, self, "dump", 3, 2));
	EXPECT_EQ(CLEAN, count(self, 3, root, "anon", PE_PARENT)) {
		TH_LOG("criu did not use memsplice's pre-dump as its parent");
	}
	EXPECT_EQ(ANON, count(self, 3, child, "anon", PE_PARENT));
	restore_and_verify(_metadata, self, "3");
}

/*
 * MAP_HUGETLB memory, shared and private, pre-dumped by memsplice, then
 * `criu dump --track-mem` on top.  Soft-dirty never sees a write to hugetlb
 * memory, so memsplice writes all of it in every pass.  criu 3.17 then
 * takes the private huge page's pages as PE_PARENT (mem.c generate_iovs(),
 * the same blindness), which the last pass must cover, or the dump fails
 * "Missing ... in parent pagemap"; criu 3.18 and later dump hugetlb VMAs in
 * full instead.  The shared one criu dumps itself, whole, as a memfd
 * (shmem.c do_dump_one_shmem(), pagemap-shmem-INODE.img).  Not restored:
 * criu 3.17 cannot restore hugetlb memory from a chain (its restorer loops
 * on preadv; vm.md), a criu limit.
 */
TEST_F_TIMEOUT(pipeline, hugetlb_then_criu_dump, 600)
{
	const char *a[] = { "--anon", "16", "--nothp", "--hugetlb", "1", NULL };
	const long pages = (2L << 20) / VPAGE;
	struct vregion *shared;
	struct dump_view dv;
	long parent, present;
	unsigned long id;
	uint64_t bad = 0;
	char why[128], dir[600];
	pid_t root;

	NEED_SETUP();
	/* the victim's two, and criu's: its kerndat probe maps one, its memfd dumps one each */
	if (hugetlb_reserve(5, &self->old_huge, why, sizeof(why)))
		SKIP(return, "%s", why);
	ASSERT_EQ(0, start(self, a, 1, 0, false));
	root = self->v.pid;
	shared = victim_region(&self->v, root, "htlb-shared");
	ASSERT_NE(NULL, shared);
	id = map_inode(root, shared->addr);
	ASSERT_NE(0, id);

	ASSERT_EQ(0, ms_predump(_metadata, self, variant, 1, 0));
	ASSERT_EQ(pages, count(self, 1, root, "htlb-priv", PE_PRESENT));
	ASSERT_EQ(0, victim_dirty(&self->v, root));
	ASSERT_EQ(0, ms_predump(_metadata, self, variant, 2, 1));
	/* soft-dirty says clean; the new bytes are written all the same */
	EXPECT_EQ(pages, count(self, 2, root, "htlb-priv", PE_PRESENT));
	EXPECT_EQ(pages, chain_check(self, 2, root, "htlb-priv", 1, &bad)) {
		TH_LOG("private huge page: page %#lx stale or missing", (unsigned long)bad);
	}
	ASSERT_EQ(0, dump_view_open(&dv, level(self, 2, dir, sizeof(dir)), id, true));
	EXPECT_EQ(pages, check_region(&dv, shared, shared->addr, 1, &bad)) {
		TH_LOG("shared huge page: offset %#lx stale or missing",
		       (unsigned long)(bad - shared->addr));
	}
	dump_view_close(&dv);

	ASSERT_EQ(0, criu(_metadata, self, "dump", 3, 2));
	parent = count(self, 3, root, "htlb-priv", PE_PARENT);
	present = count(self, 3, root, "htlb-priv", PE_PRESENT);
	TH_LOG("criu's dump: of the private huge page, %ld pages from memsplice's pass, %ld "
	       "its own", parent, present);
	EXPECT_EQ(pages, parent + present);
	EXPECT_EQ(pages, chain_check(self, 3, root, "htlb-priv", 1, &bad)) {
		TH_LOG("private huge page: page %#lx wrong through criu -> memsplice",
		       (unsigned long)bad);
	}
	ASSERT_EQ(0, dump_view_open(&dv, level(self, 3, dir, sizeof(dir)), id, true)) {
		TH_LOG("criu wrote no pagemap-shmem-%lu.img", id);
	}
	EXPECT_EQ(pages, dump_view_count(&dv, 0, pages * VPAGE, PE_PRESENT));
	EXPECT_EQ(pages, check_region(&dv, shared, shared->addr, 1, &bad));
	dump_view_close(&dv);
}

/* every pagemap image of level @n rewritten in @layout; the number of images */
static int rewrite_level(FIXTURE_DATA(pipeline) *self, int n, enum pagemap_layout layout)
{
	char dir[600], path[900];
	struct dirent *de;
	int done = 0;
	DIR *d = opendir(level(self, n, dir, sizeof(dir)));

	if (!d)
		return -1;
	while ((de = readdir(d))) {
		if (strncmp(de->d_name, "pagemap-", 8))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (pagemap_rewrite(path, layout) < 0) {
			done = -1;
			break;
		}
		done++;
	}
	closedir(d);
	return done;
}

TEST_F_TIMEOUT(pipeline, newer_criu_parent_layout, 600)
{
	FULL_PASS_ONLY(variant->method);
	uint64_t bad = 0;
	pid_t root;

	NEED_SETUP();
	ASSERT_EQ(0, start(self, basic, 1, 0, false));
	root = self->v.pid;

	ASSERT_EQ(0, ms_predump(_metadata, self, variant, 1, 0));
	/* as CRIU 4.2+ writes it: the count in field 5 only */
	ASSERT_LT(0, rewrite_level(self, 1, PM_LAYOUT_FIELD5));
	ASSERT_EQ(ANON, count(self, 1, root, "anon", PE_PRESENT));
	ASSERT_EQ(0, victim_dirty(&self->v, root));
	ASSERT_EQ(0, ms_predump(_metadata, self, variant, 2, 1));
	/* the parent was read, not taken for empty */
	EXPECT_EQ(CLEAN, count(self, 2, root, "anon", PE_PARENT)) {
		TH_LOG("memsplice did not read a parent pagemap in CRIU 4.2's layout");
	}
	EXPECT_EQ(ANON, chain_check(self, 2, root, "anon", 1, &bad));
	/*
	 * criu 3.17 opens the whole chain, when dumping as when restoring, and
	 * cannot unpack field 5 alone (field 2 is required there): it would
	 * take the parent for absent, dump everything and still succeed.  Give
	 * level 1 both fields, as a tool serving both versions writes them.
	 */
	ASSERT_LT(0, rewrite_level(self, 1, PM_LAYOUT_BOTH));
	ASSERT_EQ(0, victim_dirty(&self->v, root));
	ASSERT_EQ(0, criu(_metadata, self, "dump", 3, 2));
	EXPECT_EQ(CLEAN, count(self, 3, root, "anon", PE_PARENT)) {
		log_tail(_metadata, self->dir, "3/dump.log");
	}
	restore_and_verify(_metadata, self, "3");
}

/* memsplice checkpoint -t ROOT -D DIR --method M --max-passes 3 --final F [-- -v4] */
static int checkpoint(struct __test_metadata *_metadata, FIXTURE_DATA(pipeline) *self,
		      const FIXTURE_VARIANT(pipeline) *variant, const char *final)
{
	char pid[16];
	const char *args[] = { "checkpoint", "-t", pid, "-D", self->dir, "--method",
			       variant->method, "--max-passes", "3", "--final", final,
			       strcmp(final, "none") ? "--" : NULL, "-v4", NULL };
	int ret;

	snprintf(pid, sizeof(pid), "%d", self->v.pid);
	ret = run_memsplice(args, self->err, sizeof(self->err), -1);
	if (ret)
		TH_LOG("memsplice checkpoint --final %s: exit %d: %s", final, ret, self->err);
	return ret;
}

TEST_F_TIMEOUT(pipeline, checkpoint_command, 600)
{
	/* each method's passes under criu: predumps_then_criu_dump */
	FULL_PASS_ONLY(variant->method);
	char path[700];
	struct dump_view dv;
	pid_t root;

	NEED_SETUP();
	ASSERT_EQ(0, start(self, basic, 1, 0, false));
	root = self->v.pid;

	ASSERT_EQ(0, checkpoint(_metadata, self, variant, "criu")) {
		log_tail(_metadata, self->dir, "final/dump.log");
	}
	snprintf(path, sizeof(path), "%s/1/inventory.img", self->dir);
	EXPECT_EQ(0, access(path, F_OK));
	/* the options after "--" reached criu: -v4 logs every step */
	snprintf(path, sizeof(path), "%s/final/dump.log", self->dir);
	EXPECT_LT(100, file_lines(path)) {
		TH_LOG("criu did not get -v4: %s has %ld lines", path, file_lines(path));
	}
	snprintf(path, sizeof(path), "%s/final", self->dir);
	ASSERT_EQ(0, dump_view_open(&dv, path, root, false));
	EXPECT_LT(0, dump_view_total(&dv, PE_PARENT)) {
		TH_LOG("criu's final dump has no PE_PARENT page");
	}
	dump_view_close(&dv);
	restore_and_verify(_metadata, self, "final");
}

/*
 * --tracker uffd-wp, then criu: passes 2.. do not freeze, one more frozen
 * pass clears soft-dirty, and criu's final dump takes pages from the chain
 */
TEST_F_TIMEOUT(pipeline, checkpoint_uffd_wp_then_criu, 600)
{
	char pid[16], path[700];
	const char *args[] = { "checkpoint", "-t", pid, "-D", self->dir, "--method",
			       variant->method, "--tracker", "uffd-wp", "--min-passes", "3",
			       "--max-passes", "3", NULL };
	struct dump_view dv;
	int ret;

	NEED_SETUP();
	if (!strcmp(variant->method, "parasite"))
		SKIP(return, "the parasite moves pages frozen: refused with uffd-wp");
	snprintf(path, sizeof(path), "%s check 2>/dev/null | grep -q '^uffd-wp async *yes'",
		 memsplice_bin());
	if (system(path))
		SKIP(return, "no async userfaultfd write-protection (6.7+) here");
	ASSERT_EQ(0, start(self, basic, 1, 0, false));
	snprintf(pid, sizeof(pid), "%d", self->v.pid);
	ret = run_memsplice(args, self->err, sizeof(self->err), -1);
	ASSERT_EQ(0, ret) {
		TH_LOG("checkpoint: exit %d: %s", ret, self->err);
		log_tail(_metadata, self->dir, "final/dump.log");
	}
	/* 3 passes and the frozen one for criu */
	snprintf(path, sizeof(path), "%s/4/inventory.img", self->dir);
	EXPECT_EQ(0, access(path, F_OK));
	snprintf(path, sizeof(path), "%s/final", self->dir);
	ASSERT_EQ(0, dump_view_open(&dv, path, self->v.pid, false));
	EXPECT_LT(0, dump_view_total(&dv, PE_PARENT)) {
		TH_LOG("criu's final dump took no page from the passes");
	}
	dump_view_close(&dv);
	restore_and_verify(_metadata, self, "final");
}

TEST_F_TIMEOUT(pipeline, checkpoint_final_none, 600)
{
	FULL_PASS_ONLY(variant->method);
	char path[700];

	NEED_SETUP();
	ASSERT_EQ(0, start(self, basic, 1, 0, false));

	ASSERT_EQ(0, checkpoint(_metadata, self, variant, "none"));
	snprintf(path, sizeof(path), "%s/1/inventory.img", self->dir);
	EXPECT_EQ(0, access(path, F_OK));
	snprintf(path, sizeof(path), "%s/final", self->dir);
	EXPECT_NE(0, access(path, F_OK));
	EXPECT_EQ(0, kill(self->v.pid, 0));
	EXPECT_EQ(0, proc_tracer(self->v.pid));
	EXPECT_NE('t', proc_state(self->v.pid));
	EXPECT_NE('T', proc_state(self->v.pid));
	EXPECT_EQ(0, victim_verify_all(&self->v));
}

TEST_F_TIMEOUT(pipeline, checkpoint_criu_fails, 600)
{
	FULL_PASS_ONLY(variant->method);
	char bin[600], fake[700], path[1200];
	const char *old = getenv("PATH");
	int ret, lines = 0;
	FILE *f;

	NEED_SETUP();
	ASSERT_EQ(0, start(self, basic, 1, 0, false));

	/*
	 * A criu found first by PATH (or CRIU) that knows its version but fails
	 * `dump` at once, silently, leaving a trace that it was asked.
	 */
	snprintf(bin, sizeof(bin), "%s/fakebin", self->dir);
	ASSERT_EQ(0, mkdir(bin, 0755));
	snprintf(fake, sizeof(fake), "%s/criu", bin);
	f = fopen(fake, "we");
	ASSERT_NE(NULL, f);
	fprintf(f, "#!/bin/sh\n"
		"[ \"$1\" = --version ] && exec %s --version\n"
		"[ \"$1\" = dump ] && : >%s/asked-to-dump\n"
		"exit 1\n", criu_bin(), bin);
	ASSERT_EQ(0, fclose(f));
	ASSERT_EQ(0, chmod(fake, 0755));
	snprintf(path, sizeof(path), "%s:%s", bin, old ? old : "/usr/sbin:/usr/bin:/sbin:/bin");
	setenv("PATH", path, 1);
	setenv("CRIU", fake, 1);
	ret = checkpoint(_metadata, self, variant, "criu");
	setenv("PATH", old ? old : "", 1);
	unsetenv("CRIU");

	snprintf(path, sizeof(path), "%s/asked-to-dump", bin);
	ASSERT_EQ(0, access(path, F_OK)) {
		TH_LOG("checkpoint never ran the fake criu's dump (does it honour PATH or CRIU?)");
	}
	EXPECT_NE(0, ret) {
		TH_LOG("checkpoint exited 0 although criu dump failed");
	}
	/* the pre-dumps were made; no final set that looks complete */
	snprintf(path, sizeof(path), "%s/1/inventory.img", self->dir);
	EXPECT_EQ(0, access(path, F_OK));
	snprintf(path, sizeof(path), "%s/final/inventory.img", self->dir);
	EXPECT_NE(0, access(path, F_OK));
	for (const char *p = self->err; *p; p++)
		lines += *p == '\n';
	EXPECT_EQ(1, lines) {
		TH_LOG("want one error line, got: %s", self->err);
	}
	/* the tree was never handed over: it runs on */
	EXPECT_EQ(0, kill(self->v.pid, 0));
	EXPECT_EQ(0, proc_tracer(self->v.pid));
	EXPECT_NE('t', proc_state(self->v.pid));
	EXPECT_NE('T', proc_state(self->v.pid));
	EXPECT_EQ(0, victim_verify_all(&self->v));
}

TEST_HARNESS_MAIN
