// SPDX-License-Identifier: GPL-2.0
/*
 * memsplice end to end: dump victims and compare the images with what the
 * victim wrote (pattern) and with its memory (/proc/PID/mem), page for page.
 * Every test runs once per backend (FIXTURE_VARIANT); a backend that is not
 * available here is skipped.
 *
 * Every method runs the cases that move a kind of memory, threads, child
 * processes, a stopped, mutating or real tree, and the comparison with
 * read; the others are FULL_PASS_ONLY ($MEMSPLICE_TEST_FULL).
 */
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "lib/hugetlb.h"
#include "lib/pattern.h"
#include "lib/vtest.h"

#define PE_PARENT	1u
#define PE_PRESENT	4u
#define PSTREE_MAGIC	0x50273030u

FIXTURE(dump) {
	struct victim v;
	char *dir;
	char err[4096];
	long old_huge;		/* nr_hugepages to give back, -1: untouched */
};

FIXTURE_VARIANT(dump) {
	const char *method;
};

FIXTURE_VARIANT_ADD(dump, syscall) { .method = "syscall" };
FIXTURE_VARIANT_ADD(dump, read) { .method = "read" };
FIXTURE_VARIANT_ADD(dump, device) { .method = "device" };
FIXTURE_VARIANT_ADD(dump, procmem) { .method = "procmem" };
FIXTURE_VARIANT_ADD(dump, parasite) { .method = "parasite" };

/*
 * The 6.1 harness runs the test body even after SKIP() in the setup: every
 * test starts with NEED_METHOD() so a missing backend skips the test.
 */
#define NEED_METHOD() do { \
	if (!self->dir) \
		SKIP(return, "method %s not available here or not selected", variant->method); \
} while (0)

FIXTURE_SETUP(dump)
{
	self->old_huge = -1;
	const char *skip = method_skip(variant->method);

	if (skip)
		SKIP(return, "%s", skip);
	self->dir = make_dir("dump");
	ASSERT_NE(NULL, self->dir);
}

FIXTURE_TEARDOWN(dump)
{
	victim_kill(&self->v);
	hugetlb_release(&self->old_huge);
	if (self->dir)
		remove_dir(self->dir);
}

/* dump -R the victim into self->dir with extra args; asserts success */
static int do_dump(struct __test_metadata *_metadata, FIXTURE_DATA(dump) *self,
		   const FIXTURE_VARIANT(dump) *variant, const char *cmd, const char *extra)
{
	char pid[16];
	const char *args[] = { cmd, "-t", pid, "-D", self->dir, "--method", variant->method,
			       extra, NULL };
	int ret;

	snprintf(pid, sizeof(pid), "%d", self->v.pid);
	ret = run_memsplice(args, self->err, sizeof(self->err), -1);
	if (ret)
		TH_LOG("memsplice %s: exit %d: %s", cmd, ret, self->err);
	return ret;
}

/* all pages of @name in @pid's pagemap in @dir carry the pattern; the dump equals memory */
static void check_dump_in(struct __test_metadata *_metadata, FIXTURE_DATA(dump) *self,
			  const char *dir, pid_t pid, const char *name, bool compare_mem)
{
	struct dump_view dv;
	uint64_t bad = 0;
	long n;

	ASSERT_EQ(0, dump_view_open(&dv, dir, pid, false));
	for (int i = 0; i < self->v.nr; i++) {
		const struct vregion *r = &self->v.r[i];

		if (r->pid != pid || strcmp(r->name, name))
			continue;
		n = check_region(&dv, r, 0, 0, &bad);
		EXPECT_EQ((long)r->pages, n) {
			TH_LOG("%s page %#lx of %d is missing or wrong", name, (unsigned long)bad, pid);
		}
	}
	if (compare_mem) {
		n = compare_with_mem(&dv, pid, &bad);
		EXPECT_LT(0, n) {
			TH_LOG("dumped page %#lx differs from the memory of %d", (unsigned long)bad, pid);
		}
	}
	dump_view_close(&dv);
}

static void check_dump(struct __test_metadata *_metadata, FIXTURE_DATA(dump) *self,
		       pid_t pid, const char *name, bool compare_mem)
{
	check_dump_in(_metadata, self, self->dir, pid, name, compare_mem);
}

TEST_F(dump, anon_private)
{
	const char *a[] = { "--anon", "256", NULL };

	NEED_METHOD();
	ASSERT_EQ(0, victim_start(&self->v, a, 1, 0));
	ASSERT_EQ(0, victim_stop_all(&self->v));
	ASSERT_EQ(0, do_dump(_metadata, self, variant, "dump", "-R"));
	check_dump(_metadata, self, self->v.pid, "anon", true);
	ASSERT_EQ(0, victim_cont_all(&self->v));
	EXPECT_EQ(0, victim_verify_all(&self->v));
	EXPECT_EQ(0, proc_tracer(self->v.pid));
	EXPECT_NE('t', proc_state(self->v.pid));
}

TEST_F(dump, file_private_only_written_pages)
{
	const char *a[] = { "--file", "64", NULL };
	struct vregion *r;
	struct dump_view dv;

	NEED_METHOD();
	ASSERT_EQ(0, victim_start(&self->v, a, 1, 0));
	ASSERT_EQ(0, do_dump(_metadata, self, variant, "dump", "-R"));
	r = victim_region(&self->v, self->v.pid, "file");
	ASSERT_NE(NULL, r);
	ASSERT_EQ(0, dump_view_open(&dv, self->dir, self->v.pid, false));
	/* even pages were written (COWed), odd pages are still the file's */
	EXPECT_EQ(32, dump_view_count(&dv, r->addr, r->addr + r->pages * VPAGE, PE_PRESENT));
	for (unsigned long i = 0; i < r->pages; i += 2) {
		char page[VPAGE];

		ASSERT_EQ(1, dump_view_page(&dv, r->addr + i * VPAGE, page));
		EXPECT_EQ(-1, pattern_check(page, r->addr + i * VPAGE, r->seed));
	}
	dump_view_close(&dv);
	EXPECT_EQ(0, victim_verify_all(&self->v));
}

TEST_F(dump, shared_anon)
{
	const char *a[] = { "--shared", "64", NULL };
	struct vregion *r;
	struct dump_view dv;
	unsigned long id;
	uint64_t bad;

	NEED_METHOD();
	ASSERT_EQ(0, victim_start(&self->v, a, 1, 0));
	ASSERT_EQ(0, do_dump(_metadata, self, variant, "dump", "-R"));
	r = victim_region(&self->v, self->v.pid, "shared");
	ASSERT_NE(NULL, r);
	id = shmem_id_of(self->dir);
	ASSERT_NE(0, id);
	ASSERT_EQ(0, dump_view_open(&dv, self->dir, id, true));
	/* segment offsets: the region starts at offset 0 */
	EXPECT_EQ(64, check_region(&dv, r, r->addr, 0, &bad));
	dump_view_close(&dv);
	EXPECT_EQ(0, victim_verify_all(&self->v));
}

TEST_F(dump, prot_none_holds_data)
{
	const char *a[] = { "--protnone", "32", NULL };

	NEED_METHOD();
	ASSERT_EQ(0, victim_start(&self->v, a, 1, 0));
	ASSERT_EQ(0, do_dump(_metadata, self, variant, "dump", "-R"));
	check_dump(_metadata, self, self->v.pid, "protnone", false);
	EXPECT_EQ(0, victim_verify_all(&self->v));
}

TEST_F(dump, huge_pages)
{
	const char *a[] = { "--thp", "4", NULL };

	NEED_METHOD();
	ASSERT_EQ(0, victim_start(&self->v, a, 1, 0));
	ASSERT_EQ(0, victim_stop_all(&self->v));
	ASSERT_EQ(0, do_dump(_metadata, self, variant, "dump", "-R"));
	check_dump(_metadata, self, self->v.pid, "thp", true);
	ASSERT_EQ(0, victim_cont_all(&self->v));
	EXPECT_EQ(0, victim_verify_all(&self->v));
}

/*
 * MAP_HUGETLB memory, shared and private (maps: "/anon_hugepage (deleted)"):
 * the private huge page in pagemap-PID.img, the shared one once in
 * pagemap-shmem-INODE.img, every 4 KiB page of each with its bytes and
 * nothing else.
 */
TEST_F(dump, hugetlb)
{
	const char *a[] = { "--hugetlb", "1", NULL };
	const unsigned long pages = (2UL << 20) / VPAGE;
	struct vregion *priv, *shared;
	struct dump_view dv;
	char why[128];
	uint64_t bad = 0;
	unsigned long id;

	NEED_METHOD();
	if (hugetlb_reserve(2, &self->old_huge, why, sizeof(why)))
		SKIP(return, "%s", why);
	ASSERT_EQ(0, victim_start(&self->v, a, 1, 0));
	priv = victim_region(&self->v, self->v.pid, "htlb-priv");
	shared = victim_region(&self->v, self->v.pid, "htlb-shared");
	ASSERT_NE(NULL, priv);
	ASSERT_NE(NULL, shared);
	ASSERT_EQ(0, do_dump(_metadata, self, variant, "pre-dump", NULL));

	ASSERT_EQ(0, dump_view_open(&dv, self->dir, self->v.pid, false));
	EXPECT_EQ(pages, check_region(&dv, priv, 0, 0, &bad)) {
		TH_LOG("private huge page: page %#lx wrong or missing", (unsigned long)bad);
	}
	EXPECT_EQ(pages, dump_view_count(&dv, priv->addr, priv->addr + pages * VPAGE, PE_PRESENT));
	EXPECT_EQ(0, dump_view_count(&dv, shared->addr, shared->addr + pages * VPAGE, ~0u));
	dump_view_close(&dv);

	id = map_inode(self->v.pid, shared->addr);
	ASSERT_NE(0, id);
	ASSERT_EQ(0, dump_view_open(&dv, self->dir, id, true)) {
		TH_LOG("no pagemap-shmem-%lu.img for the shared huge page", id);
	}
	EXPECT_EQ(pages, check_region(&dv, shared, shared->addr, 0, &bad)) {
		TH_LOG("shared huge page: offset %#lx wrong or missing",
		       (unsigned long)(bad - shared->addr));
	}
	EXPECT_EQ(pages, dump_view_total(&dv, ~0u));
	dump_view_close(&dv);
	EXPECT_EQ(0, victim_verify_all(&self->v));
}

/*
 * The syscall's dump pins pages (SPVM_PIN), charged to RLIMIT_MEMLOCK.
 * Without CAP_IPC_LOCK and with a limit of 1 MiB, a huge page (charged
 * whole, 2 MiB) is refused: memsplice says so, copies instead, and the
 * dump is whole.
 */
TEST_F(dump, pin_refused_copies)
{
	const char *a[] = { "--hugetlb", "1", NULL };
	const unsigned long pages = (2UL << 20) / VPAGE;
	char pid[16], why[128], out[16384];
	const char *argv[] = { "setpriv", "--bounding-set=-ipc_lock", "--inh-caps=-ipc_lock",
			       "prlimit", "--memlock=1048576", memsplice_bin(), "dump", "-t", pid,
			       "-D", self->dir, "--method", "syscall", "-R", "-v", NULL };
	struct vregion *priv;
	struct dump_view dv;
	uint64_t bad = 0;

	NEED_METHOD();
	if (strcmp(variant->method, "syscall"))
		SKIP(return, "pinning is the syscall's");
	if (hugetlb_reserve(2, &self->old_huge, why, sizeof(why)))
		SKIP(return, "%s", why);
	ASSERT_EQ(0, victim_start(&self->v, a, 1, 0));
	priv = victim_region(&self->v, self->v.pid, "htlb-priv");
	ASSERT_NE(NULL, priv);
	snprintf(pid, sizeof(pid), "%d", self->v.pid);
	ASSERT_EQ(0, run_cmd(argv, out, sizeof(out))) {
		TH_LOG("%s", out);
	}
	EXPECT_NE(NULL, strstr(out, "pinning refused (RLIMIT_MEMLOCK): copying instead")) {
		TH_LOG("%s", out);
	}
	ASSERT_EQ(0, dump_view_open(&dv, self->dir, self->v.pid, false));
	EXPECT_EQ(pages, check_region(&dv, priv, 0, 0, &bad)) {
		TH_LOG("private huge page: page %#lx wrong or missing", (unsigned long)bad);
	}
	dump_view_close(&dv);
	EXPECT_EQ(0, victim_verify_all(&self->v));
}

TEST_F(dump, threads)
{
	const char *a[] = { "--anon", "16", "--threads", "4", NULL };
	char out[4096];
	const char *show[] = { "show", self->dir, NULL };

	NEED_METHOD();
	ASSERT_EQ(0, victim_start(&self->v, a, 1, 4));
	ASSERT_EQ(0, victim_stop_all(&self->v));
	ASSERT_EQ(0, do_dump(_metadata, self, variant, "dump", "-R"));
	check_dump(_metadata, self, self->v.pid, "thread", true);
	check_dump(_metadata, self, self->v.pid, "anon", false);
	ASSERT_EQ(0, victim_cont_all(&self->v));
	ASSERT_EQ(0, run_memsplice(show, out, sizeof(out), -1));
	EXPECT_EQ(0, victim_verify_all(&self->v));
}

TEST_F(dump, child_processes)
{
	const char *a[] = { "--anon", "32", "--children", "2", NULL };

	NEED_METHOD();
	ASSERT_EQ(0, victim_start(&self->v, a, 3, 0));
	ASSERT_EQ(3, self->v.nr_pids);
	ASSERT_EQ(0, victim_stop_all(&self->v));
	ASSERT_EQ(0, do_dump(_metadata, self, variant, "dump", "-R"));
	for (int i = 0; i < self->v.nr_pids; i++)
		check_dump(_metadata, self, self->v.pids[i], "anon", true);
	ASSERT_EQ(0, victim_cont_all(&self->v));
	EXPECT_EQ(0, victim_verify_all(&self->v));
}

TEST_F(dump, sparse_1g)
{
	const char *a[] = { "--sparse", "1024", NULL };
	struct dump_view dv;
	char json[512];

	NEED_METHOD();
	snprintf(json, sizeof(json), "--stats-json=%s/stats.json", self->dir);
	ASSERT_EQ(0, victim_start(&self->v, a, 1, 0));
	ASSERT_EQ(0, do_dump(_metadata, self, variant, "pre-dump", json));
	check_dump(_metadata, self, self->v.pid, "sparse", false);
	ASSERT_EQ(0, dump_view_open(&dv, self->dir, self->v.pid, false));
	/* 16 touched pages of the 262144, plus the victim's small own memory */
	EXPECT_GE(dump_view_total(&dv, PE_PRESENT), 16);
	EXPECT_LT(dump_view_total(&dv, PE_PRESENT), 2048);
	dump_view_close(&dv);
	snprintf(json, sizeof(json), "%s/stats.json", self->dir);
	EXPECT_LE(262144, stats_json_get(json, "pages_scanned"));
	EXPECT_EQ(0, victim_verify_all(&self->v));
}

TEST_F(dump, predump_while_mutating)
{
	const char *a[] = { "--anon", "64", "--mutate", NULL };

	NEED_METHOD();
	ASSERT_EQ(0, victim_start(&self->v, a, 1, 0));
	for (int i = 0; i < 5; i++) {
		ASSERT_EQ(0, do_dump(_metadata, self, variant, "pre-dump", NULL));
		check_dump(_metadata, self, self->v.pid, "anon", false);
		EXPECT_EQ(0, victim_verify_all(&self->v));
	}
}

/* memsplice writes memory images only: a dump leaves the tree running */
TEST_F(dump, dump_leaves_running_by_default)
{
	FULL_PASS_ONLY(variant->method);
	const char *a[] = { "--anon", "16", "--children", "1", NULL };

	NEED_METHOD();
	ASSERT_EQ(0, victim_start(&self->v, a, 2, 0));
	ASSERT_EQ(0, do_dump(_metadata, self, variant, "dump", NULL));
	check_dump(_metadata, self, self->v.pid, "anon", false);
	for (int i = 0; i < self->v.nr_pids; i++) {
		EXPECT_EQ(0, proc_tracer(self->v.pids[i]));
		EXPECT_NE('T', proc_state(self->v.pids[i]));
	}
	EXPECT_EQ(0, victim_verify_all(&self->v));
}

TEST_F(dump, dump_kill_option)
{
	/* killed once every page is moved and the source detached */
	FULL_PASS_ONLY(variant->method);
	const char *a[] = { "--anon", "16", NULL };
	int status;

	NEED_METHOD();
	ASSERT_EQ(0, victim_start(&self->v, a, 1, 0));
	ASSERT_EQ(0, do_dump(_metadata, self, variant, "dump", "--kill"));
	check_dump(_metadata, self, self->v.pid, "anon", false);
	ASSERT_EQ(self->v.pid, waitpid(self->v.pid, &status, 0));
	EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	self->v.pid = 0;
	self->v.nr_pids = 0;
}

TEST_F(dump, stopped_task_stays_stopped)
{
	const char *a[] = { "--anon", "16", NULL };
	int status;

	NEED_METHOD();
	ASSERT_EQ(0, victim_start(&self->v, a, 1, 0));
	ASSERT_EQ(0, kill(self->v.pid, SIGSTOP));
	ASSERT_EQ(self->v.pid, waitpid(self->v.pid, &status, WUNTRACED));
	ASSERT_EQ('T', proc_state(self->v.pid));
	ASSERT_EQ(0, do_dump(_metadata, self, variant, "dump", "-R"));
	/* back in its group stop once woken by the detach; a resumed one sleeps in sigwait */
	EXPECT_EQ('T', proc_state_settled(self->v.pid, 'T', 2000));
	EXPECT_EQ(0, proc_tracer(self->v.pid));
	ASSERT_EQ(0, kill(self->v.pid, SIGCONT));
	EXPECT_EQ(0, victim_verify_all(&self->v));
}

/*
 * memsplice dies (SIGKILL) or is interrupted while the tree is frozen, at
 * the hook before any page moves: no source is attached yet, so the path is
 * the same for every method (FULL_PASS_ONLY).
 */
static void interrupt_frozen(struct __test_metadata *_metadata, FIXTURE_DATA(dump) *self,
			     const FIXTURE_VARIANT(dump) *variant, int sig)
{
	const char *a[] = { "--anon", "64", "--children", "1", NULL };
	int sv[2], status;
	char pid[16], fdenv[16], buf[8];
	pid_t ms;

	NEED_METHOD();
	ASSERT_EQ(0, victim_start(&self->v, a, 2, 0));
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	snprintf(pid, sizeof(pid), "%d", self->v.pid);
	snprintf(fdenv, sizeof(fdenv), "%d", sv[1]);
	ms = fork();
	ASSERT_LE(0, ms);
	if (ms == 0) {
		close(sv[0]);
		setenv("MEMSPLICE_TEST_FROZEN_FD", fdenv, 1);
		/* the test build: only it honours the hook */
		execl("./selftests/memsplice-test", "memsplice", "dump", "-t", pid, "-D", self->dir,
		      "--method", variant->method, NULL);
		_exit(127);
	}
	close(sv[1]);
	ASSERT_EQ(7, read(sv[0], buf, 7));
	/* frozen now: every process is traced by memsplice */
	for (int i = 0; i < self->v.nr_pids; i++)
		EXPECT_EQ(ms, proc_tracer(self->v.pids[i]));
	ASSERT_EQ(0, kill(ms, sig));
	/* EOF wakes memsplice even if the signal came before it blocked in read */
	close(sv[0]);
	ASSERT_EQ(ms, waitpid(ms, &status, 0));
	if (sig == SIGKILL) {
		EXPECT_TRUE(WIFSIGNALED(status));
	} else {
		EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 1);
	}
	for (int i = 0; i < self->v.nr_pids; i++) {
		EXPECT_EQ(0, proc_tracer(self->v.pids[i]));
		EXPECT_NE('t', proc_state(self->v.pids[i]));
	}
	EXPECT_EQ(0, victim_verify_all(&self->v));
	if (sig != SIGKILL) {
		char path[512];

		snprintf(path, sizeof(path), "%s/inventory.img", self->dir);
		EXPECT_NE(0, access(path, F_OK));
	}
}

TEST_F(dump, killed_while_frozen)
{
	FULL_PASS_ONLY(variant->method);
	interrupt_frozen(_metadata, self, variant, SIGKILL);
}

TEST_F(dump, sigint_while_frozen)
{
	FULL_PASS_ONLY(variant->method);
	interrupt_frozen(_metadata, self, variant, SIGINT);
}

TEST_F(dump, sigterm_while_frozen)
{
	FULL_PASS_ONLY(variant->method);
	interrupt_frozen(_metadata, self, variant, SIGTERM);
}

TEST_F(dump, sighup_while_frozen)
{
	FULL_PASS_ONLY(variant->method);
	interrupt_frozen(_metadata, self, variant, SIGHUP);
}

#define MAX_ZOMBIES	16

/* the zombie children of every victim process; how many */
static int tree_zombies(struct victim *v, pid_t *z, int max)
{
	int n = 0;

	for (int i = 0; i < v->nr_pids; i++) {
		pid_t kids[MAX_ZOMBIES + 4];
		int nk = proc_children(v->pids[i], kids, MAX_ZOMBIES + 4);

		for (int k = 0; k < nk && n < max; k++)
			if (proc_state(kids[k]) == 'Z')
				z[n++] = kids[k];
	}
	return n;
}

/*
 * The images in @dir (through its parents) hold the whole tree: every
 * process's regions, all of the split shared segment, and the zombies in
 * pstree.img with no memory images of their own.
 */
static void check_tree(struct __test_metadata *_metadata, FIXTURE_DATA(dump) *self,
		       const char *dir, const pid_t *z, int nr_z)
{
	struct vregion *split = victim_region(&self->v, self->v.pid, "split");
	struct dump_view dv;
	unsigned long id = shmem_id_of(dir);
	uint32_t pids[MAX_VPIDS + MAX_ZOMBIES];
	char path[600];
	uint64_t bad = 0;
	int n;

	for (int i = 0; i < self->v.nr_pids; i++) {
		check_dump_in(_metadata, self, dir, self->v.pids[i], "anon", false);
		check_dump_in(_metadata, self, dir, self->v.pids[i], "thread", false);
	}
	ASSERT_NE(NULL, split);
	ASSERT_NE(0, id) { TH_LOG("not one pagemap-shmem-ID.img in %s", dir); }
	ASSERT_EQ(0, dump_view_open(&dv, dir, id, true));
	/* pagemap-shmem vaddrs are offsets in the segment */
	EXPECT_EQ((long)split->pages, check_region(&dv, split, split->addr, 0, &bad)) {
		TH_LOG("segment page %#lx is wrong or missing", (unsigned long)(bad - split->addr));
	}
	dump_view_close(&dv);
	snprintf(path, sizeof(path), "%s/pstree.img", dir);
	n = image_u32_fields(path, PSTREE_MAGIC, 1, pids, MAX_VPIDS + MAX_ZOMBIES);
	EXPECT_EQ(self->v.nr_pids + nr_z, n);
	for (int i = 0; i < nr_z; i++) {
		bool found = false;

		for (int k = 0; k < n; k++)
			found |= pids[k] == (uint32_t)z[i];
		EXPECT_TRUE(found) { TH_LOG("zombie %d is not in pstree.img", z[i]); }
		EXPECT_FALSE(has_image(dir, "mm", z[i]));
		EXPECT_FALSE(has_image(dir, "pagemap", z[i]));
	}
}

/*
 * A tree as workloads leave it: children, threads, zombies nobody reaped,
 * threads born and gone all the time, a shared segment split into three
 * VMAs in every process.  A pre-dump, then a dump on top of it.
 */
TEST_F_TIMEOUT(dump, real_tree, 300)
{
	const char *a[] = { "--anon", "64", "--threads", "2", "--children", "2", "--zombies", "2",
			    "--churn-threads", "2", "--split-shared", "48", NULL };
	char pre[512], fin[512], pid[16];
	bool track = !system("./user/memsplice check | grep -q '^soft-dirty *yes'");
	const char *pargs[] = { "pre-dump", "-t", pid, "-D", pre, "--method", variant->method,
				track ? "--track-mem" : NULL, NULL };
	const char *dargs[] = { "dump", "-t", pid, "-D", fin, "--method", variant->method,
				"--prev-images-dir", "../pre", track ? "--track-mem" : NULL, NULL };
	const char *show[] = { "show", fin, NULL };
	pid_t z[MAX_ZOMBIES];
	int nr_z;

	NEED_METHOD();
	snprintf(pre, sizeof(pre), "%s/pre", self->dir);
	snprintf(fin, sizeof(fin), "%s/final", self->dir);
	ASSERT_EQ(0, mkdir(pre, 0777));
	ASSERT_EQ(0, mkdir(fin, 0777));
	ASSERT_EQ(0, victim_start(&self->v, a, 3, 3 * 2));
	ASSERT_EQ(3, self->v.nr_pids);
	nr_z = tree_zombies(&self->v, z, MAX_ZOMBIES);
	ASSERT_EQ(3 * 2, nr_z);
	snprintf(pid, sizeof(pid), "%d", self->v.pid);
	ASSERT_EQ(0, run_memsplice(pargs, self->err, sizeof(self->err), -1)) {
		TH_LOG("pre-dump: %s", self->err);
	}
	check_tree(_metadata, self, pre, z, nr_z);
	ASSERT_EQ(0, run_memsplice(dargs, self->err, sizeof(self->err), -1)) {
		TH_LOG("dump: %s", self->err);
	}
	check_tree(_metadata, self, fin, z, nr_z);
	/* a zombie's entry has no memory images: not a broken set */
	EXPECT_EQ(0, run_memsplice(show, self->err, sizeof(self->err), -1)) {
		TH_LOG("show: %s", self->err);
	}
	for (int i = 0; i < self->v.nr_pids; i++) {
		EXPECT_EQ(0, proc_tracer(self->v.pids[i]));
		EXPECT_NE('t', proc_state(self->v.pids[i]));
		EXPECT_NE('T', proc_state(self->v.pids[i]));
	}
	for (int i = 0; i < nr_z; i++)
		EXPECT_EQ('Z', proc_state(z[i]));
	EXPECT_EQ(0, victim_verify_all(&self->v));
}

/* crit is python: ~2 s per image under TCG */
TEST_F_TIMEOUT(dump, crit_decodes_every_image, 300)
{
	/* the images are the sink's: the same whichever method fills them */
	FULL_PASS_ONLY(variant->method);
	const char *a[] = { "--anon", "16", "--shared", "8", "--children", "1", NULL };
	char failed[1024];

	NEED_METHOD();
	ASSERT_EQ(0, victim_start(&self->v, a, 2, 0));
	ASSERT_EQ(0, do_dump(_metadata, self, variant, "pre-dump", NULL));
	EXPECT_EQ(0, crit_show_all(self->dir, failed, sizeof(failed))) {
		TH_LOG("crit show failed on: %s", failed);
	}
	ASSERT_EQ(0, do_dump(_metadata, self, variant, "dump", "-R"));
	EXPECT_EQ(0, crit_show_all(self->dir, failed, sizeof(failed))) {
		TH_LOG("crit show failed on: %s", failed);
	}
}

/* the same frozen victim dumped with this method and with read: same pages, same bytes */
/* pages equal in two dumps of a stopped victim, both ways */
static void expect_same_pages(struct __test_metadata *_metadata, const char *a_dir,
			      const char *b_dir, unsigned long id)
{
	struct dump_view a, b;
	char p1[VPAGE], p2[VPAGE];

	ASSERT_EQ(0, dump_view_open(&a, a_dir, id, false));
	ASSERT_EQ(0, dump_view_open(&b, b_dir, id, false));
	EXPECT_EQ(dump_view_total(&a, PE_PRESENT), dump_view_total(&b, PE_PRESENT));
	for (int i = 0; i < a.lv[0].n; i++) {
		const struct dv_ent *e = &a.lv[0].e[i];

		for (uint32_t k = 0; k < e->nr; k++) {
			uint64_t addr = e->vaddr + (uint64_t)k * VPAGE;

			ASSERT_EQ(1, dump_view_page(&a, addr, p1));
			ASSERT_EQ(1, dump_view_page(&b, addr, p2)) {
				TH_LOG("page %#lx is in one dump only", (unsigned long)addr);
			}
			ASSERT_EQ(0, memcmp(p1, p2, VPAGE));
		}
	}
	dump_view_close(&a);
	dump_view_close(&b);
}

/* PAGEMAP_SCAN (6.7+) collects exactly the pages the pagemap walk does */
TEST_F(dump, pagemap_scan_same_as_walk)
{
	FULL_PASS_ONLY(variant->method);
	const char *a[] = { "--anon", "128", "--file", "32", "--protnone", "8", "--thp", "2",
			    "--sparse", "64", NULL };
	char *walk = make_dir("walk"), pid[16];
	const char *args[] = { "dump", "-t", pid, "-D", walk, "--method", variant->method, NULL };

	NEED_METHOD();
	ASSERT_NE(NULL, walk);
	/* collection is the same for every method; a parasite would COW a page between */
	if (strcmp(variant->method, "read") ||
	    system("./user/memsplice check | grep -q '^PAGEMAP_SCAN *yes'")) {
		remove_dir(walk);
		free(walk);
		SKIP(return, "collection is checked with read, on kernels with PAGEMAP_SCAN");
	}
	ASSERT_EQ(0, victim_start(&self->v, a, 1, 0));
	ASSERT_EQ(0, victim_stop_all(&self->v));
	snprintf(pid, sizeof(pid), "%d", self->v.pid);
	EXPECT_EQ(0, run_memsplice_hooked(args, self->err, sizeof(self->err),
					  "MEMSPLICE_TEST_HIDE_PAGEMAP_SCAN", "1")) {
		TH_LOG("%s", self->err);
	}
	ASSERT_EQ(0, do_dump(_metadata, self, variant, "dump", NULL));
	expect_same_pages(_metadata, walk, self->dir, self->v.pid);
	expect_same_pages(_metadata, self->dir, walk, self->v.pid);
	ASSERT_EQ(0, victim_cont_all(&self->v));
	EXPECT_EQ(0, victim_verify_all(&self->v));
	remove_dir(walk);
	free(walk);
}

TEST_F(dump, same_images_as_read)
{
	const char *a[] = { "--anon", "128", "--shared", "16", "--protnone", "8", "--thp", "2", NULL };
	char *ref = make_dir("ref"), pid[16];
	const char *args[] = { "dump", "-t", pid, "-D", ref, "--method", "read", "-R", NULL };
	struct dump_view mine, theirs;
	char p1[VPAGE], p2[VPAGE];
	unsigned long id;

	NEED_METHOD();
	ASSERT_NE(NULL, ref);
	ASSERT_EQ(0, victim_start(&self->v, a, 1, 0));
	ASSERT_EQ(0, victim_stop_all(&self->v));
	/*
	 * read last: a parasite's remote syscalls leave one page of the first
	 * executable mapping COWed (same bytes, now anonymous), which the
	 * parasite's own dump (pages are found once it is in) and any later
	 * dump rightly include.
	 */
	snprintf(pid, sizeof(pid), "%d", self->v.pid);
	ASSERT_EQ(0, do_dump(_metadata, self, variant, "dump", "-R"));
	ASSERT_EQ(0, run_memsplice(args, self->err, sizeof(self->err), -1)) {
		TH_LOG("%s", self->err);
	}
	for (int shmem = 0; shmem < 2; shmem++) {
		id = shmem ? shmem_id_of(ref) : (unsigned long)self->v.pid;
		ASSERT_EQ(0, dump_view_open(&mine, self->dir, id, shmem));
		ASSERT_EQ(0, dump_view_open(&theirs, ref, id, shmem));
		EXPECT_EQ(dump_view_total(&theirs, PE_PRESENT), dump_view_total(&mine, PE_PRESENT));
		for (int i = 0; i < theirs.lv[0].n; i++) {
			const struct dv_ent *e = &theirs.lv[0].e[i];

			for (uint32_t k = 0; k < e->nr; k++) {
				uint64_t addr = e->vaddr + (uint64_t)k * VPAGE;

				ASSERT_EQ(1, dump_view_page(&theirs, addr, p1));
				ASSERT_EQ(1, dump_view_page(&mine, addr, p2)) {
					TH_LOG("page %#lx missing with %s", (unsigned long)addr,
					       variant->method);
				}
				ASSERT_EQ(0, memcmp(p1, p2, VPAGE));
			}
		}
		dump_view_close(&mine);
		dump_view_close(&theirs);
	}
	ASSERT_EQ(0, victim_cont_all(&self->v));
	EXPECT_EQ(0, victim_verify_all(&self->v));
	remove_dir(ref);
	free(ref);
}

/* --method auto takes the first method that works, in the documented order */
TEST(auto_picks_first_available)
{
	static const char *const order[] = { "syscall", "device", "procmem", "read", "parasite" };
	const char *a[] = { "--anon", "8", NULL };
	const char *expected = NULL;
	char *dir = make_dir("auto"), pid[16], err[4096], want[64];
	const char *args[] = { "pre-dump", "-t", pid, "-D", dir, "-v", NULL };
	struct victim v;

	ASSERT_NE(NULL, dir);
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]) && !expected; i++)
		if (method_available(order[i]))
			expected = order[i];
	ASSERT_NE(NULL, expected);
	ASSERT_EQ(0, victim_start(&v, a, 1, 0));
	snprintf(pid, sizeof(pid), "%d", v.pid);
	ASSERT_EQ(0, run_memsplice(args, err, sizeof(err), -1)) {
		TH_LOG("%s", err);
	}
	snprintf(want, sizeof(want), "memsplice: method %s\n", expected);
	EXPECT_NE(NULL, strstr(err, want)) {
		TH_LOG("expected %s, got: %s", expected, err);
	}
	victim_kill(&v);
	remove_dir(dir);
	free(dir);
}

TEST_HARNESS_MAIN
