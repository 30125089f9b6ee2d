// SPDX-License-Identifier: GPL-2.0
/*
 * memsplice restore: `criu restore --lazy-pages` with memsplice as the
 * lazy-pages daemon, the tree running before its memory is in place.
 *
 * On any kernel: the runs of missing pages (restore/runs.c) under what a
 * process does to its mappings.
 *
 * With criu (3.17 in the 6.1 guest), between two network namespaces:
 * - the README's migration: memsplice checkpoint --receiver into one
 *   memsplice receive, then memsplice restore on the flat set; the tree
 *   verifies every page, most of which were filled after criu's restore
 *   was done; a plain `criu restore` of the same (marked) set is exact too;
 * - a tree that forks, mremaps, munmaps and MADV_DONTNEEDs while nothing
 *   but its faults has been filled (the batches held back by a test
 *   hook): every page it still has is right, the DONTNEED'd ones zero;
 * - the daemon killed while the tree waits on a fault: the tree is killed,
 *   it never ran on a zero page; criu failing: no daemon left;
 * - post-copy: memsplice checkpoint --lazy-pages at the source, memsplice
 *   restore --page-server fetching what the lazy dump left there.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "lib/twohosts.h"
#include "lib/vtest.h"
#include "restore/runs.h"

#define PORT		"27310"
#define ANON		2048
#define PAGE		4096ULL

/* ---- the runs of missing pages, on any kernel ------------------------------ */

static uint64_t pg(uint64_t n)
{
	return n * PAGE;
}

TEST(runs_follow_the_mappings)
{
	struct runs r = { 0 }, c = { 0 };
	const struct run *f;

	ASSERT_EQ(0, runs_add(&r, pg(10), pg(20), pg(0)));
	ASSERT_EQ(0, runs_add(&r, pg(30), pg(40), pg(10)));
	EXPECT_EQ(-EINVAL, runs_add(&r, pg(35), pg(50), pg(20)));	/* out of order */
	/* munmap of a middle piece splits a run, the offsets stay with the bytes */
	ASSERT_EQ(0, runs_drop(&r, pg(12), pg(14)));
	f = runs_find(&r, pg(15));
	ASSERT_NE(NULL, f);
	EXPECT_EQ(pg(14), f->start);
	EXPECT_EQ(pg(4), f->off);
	EXPECT_EQ(NULL, runs_find(&r, pg(13)));
	/* mremap of [30, 34) to 100: its bytes follow, what was at 100 is gone */
	ASSERT_EQ(0, runs_move(&r, pg(30), pg(100), pg(4)));
	f = runs_find(&r, pg(101));
	ASSERT_NE(NULL, f);
	EXPECT_EQ(pg(100), f->start);
	EXPECT_EQ(pg(104), f->end);
	EXPECT_EQ(pg(11), f->off + (pg(101) - f->start));
	EXPECT_EQ(NULL, runs_find(&r, pg(31)));
	EXPECT_EQ(pg(2 + 6 + 6 + 4), runs_bytes(&r));
	/* a fork's child misses what its parent misses */
	ASSERT_EQ(0, runs_copy(&c, &r));
	ASSERT_EQ(0, runs_drop(&r, 0, pg(1000)));
	EXPECT_EQ(0, runs_bytes(&r));
	EXPECT_EQ(pg(18), runs_bytes(&c));
	runs_free(&r);
	runs_free(&c);
}

/* ---- with criu, between two network namespaces ----------------------------- */

FIXTURE(restore) {
	struct victim v;
	char *dir;
	char src[600], dst[600], out[600], fifo[600], go[600], why[200];
	char pid[16];
	pid_t ms;			/* memsplice receive, then memsplice restore */
	pid_t source;			/* memsplice checkpoint --lazy-pages */
	char err[8192];
};

FIXTURE_SETUP(restore)
{
	const char *why = migration_unusable();

	memset(&self->v, 0, sizeof(self->v));
	self->ms = self->source = -1;
	if (why) {
		snprintf(self->why, sizeof(self->why), "%s", why);
		SKIP(return, "%s", self->why);
	}
	ASSERT_EQ(0, twohosts_enter());
	self->dir = make_dir("restore");
	ASSERT_NE(NULL, self->dir);
	snprintf(self->src, sizeof(self->src), "%s/src", self->dir);
	snprintf(self->dst, sizeof(self->dst), "%s/dst", self->dir);
	snprintf(self->out, sizeof(self->out), "%s/memsplice.out", self->dir);
	snprintf(self->fifo, sizeof(self->fifo), "%s/report", self->dir);
	snprintf(self->go, sizeof(self->go), "%s/go", self->dir);
	ASSERT_EQ(0, mkdir(self->src, 0755));
	ASSERT_EQ(0, mkdir(self->dst, 0755));
}

FIXTURE_TEARDOWN(restore)
{
	for (pid_t *p = &self->ms; p <= &self->source; p++)
		if (*p > 0) {
			kill(*p, SIGKILL);
			waitpid(*p, NULL, 0);
		}
	victim_kill(&self->v);
	if (self->dir) {
		remove_dir(self->dir);
		netns_remove();
	}
	free(self->dir);
}

static const char *const rich[] = { "--anon", "2048", "--nothp", "--shared", "32",
				    "--protnone", "16", "--threads", "2", "--children", "1",
				    NULL };

static int start_victim(FIXTURE_DATA(restore) *self)
{
	const struct victim_opts vo = { .fifo = self->fifo, .detach = true };
	int ret = victim_start_opts(&self->v, rich, 2, 4, &vo);

	snprintf(self->pid, sizeof(self->pid), "%d", self->v.pid);
	return ret;
}

/* the exit status of self->ms, its output into err */
static int ms_exit(FIXTURE_DATA(restore) *self)
{
	int st;

	if (waitpid(self->ms, &st, 0) != self->ms)
		return -1;
	self->ms = -1;
	read_text(self->out, self->err, sizeof(self->err));
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* a number said in err after @key, -1 if not said */
static long said(const char *err, const char *key)
{
	const char *s = strstr(err, key);

	return s ? strtol(s + strlen(key), NULL, 10) : -1;
}

/* the counts the daemon reports before its key words; -1 if not said */
static long count_before(const char *err, const char *key)
{
	const char *s = strstr(err, key);

	while (s && s > err && s[-1] == ' ')
		s--;
	while (s && s > err && s[-1] >= '0' && s[-1] <= '9')
		s--;
	return s ? strtol(s, NULL, 10) : -1;
}

/* criu's dump of the victim (it ends the tree) straight into dst */
static int dump_to_dst(struct __test_metadata *_metadata, FIXTURE_DATA(restore) *self)
{
	const char *dump[] = { criu_bin(), "dump", "-t", self->pid, "-D", self->dst,
			       "-o", "dump.log", NULL };
	int ret = run_cmd(dump, self->err, sizeof(self->err));

	if (ret)
		TH_LOG("criu dump: %d %s", ret, self->err);
	return ret ? ret : victim_reap(&self->v);
}

/* memsplice (@bin) restore of dst in the destination, in the background */
static pid_t restore_start(FIXTURE_DATA(restore) *self, const char *bin)
{
	const char *rs[] = { "ip", "netns", "exec", NS_DST, bin, "restore", "-D", self->dst,
			     "--", "-d", "-o", "restore.log", NULL };

	self->ms = spawn_to(rs, self->out);
	return self->ms;
}

/* the restored root, once memsplice says criu restore is done */
static pid_t tree_runs(FIXTURE_DATA(restore) *self)
{
	if (!file_says(self->out, "runs while its memory is filled", 120))
		return -1;
	read_text(self->out, self->err, sizeof(self->err));
	return said(self->err, "the tree (root ");
}

/*
 * The README's commands: checkpoint --receiver into memsplice receive,
 * memsplice restore at the destination.  Then the same marked set
 * restored by criu alone.
 */
TEST_F_TIMEOUT(restore, receiver_then_restore, 600)
{
	const char *rcv[] = { "ip", "netns", "exec", NS_DST, memsplice_bin(), "receive", "-D",
			      self->dst, "--address", DST_ADDR, "--port", PORT, "--peer",
			      SRC_ADDR, NULL };
	const char *ck[] = { memsplice_bin(), "checkpoint", "-t", self->pid, "-D", self->src,
			     "--page-server", "--address", DST_ADDR, "--port", PORT, "--receiver",
			     "--min-passes", "2", "--max-passes", "2", NULL };
	const char *rs[] = { "ip", "netns", "exec", NS_DST, memsplice_bin(), "restore", "-D",
			     self->dst, "--", "-d", "-o", "restore.log", NULL };
	char path[700], buf[64], tail[2048];
	int nr;

	NEED_SETUP();
	ASSERT_EQ(0, start_victim(self));
	nr = self->v.nr_pids;
	self->ms = spawn_to(rcv, self->out);
	ASSERT_TRUE(file_says(self->out, "listening", 30));
	ASSERT_EQ(0, run_cmd(ck, self->err, sizeof(self->err))) TH_LOG("%s", self->err);
	ASSERT_EQ(0, ms_exit(self)) TH_LOG("memsplice receive: %s", self->err);
	ASSERT_EQ(0, victim_reap(&self->v));

	snprintf(path, sizeof(path), "%s/restore.log", self->dst);
	ASSERT_EQ(0, run_cmd(rs, self->err, sizeof(self->err)))
		TH_LOG("%s %s", self->err, file_tail(path, 8, tail, sizeof(tail)));
	TH_LOG("%s", self->err);
	/* the tree ran before most of its memory was there: each process's anon at least */
	EXPECT_LE(nr * ANON, count_before(self->err, "pages filled after criu restore"));
	snprintf(path, sizeof(path), "%s/restore.pid", self->dst);
	ASSERT_EQ(0, read_text(path, buf, sizeof(buf)));
	ASSERT_EQ(nr, victim_adopt(&self->v, atoi(buf)));
	EXPECT_EQ(0, victim_verify_all(&self->v));

	/* the marked set is still a set criu alone restores exactly (same report FIFO) */
	for (int i = 0; i < self->v.nr_pids; i++)
		kill(self->v.pids[i], SIGKILL);
	ASSERT_EQ(0, victim_reap(&self->v));
	snprintf(path, sizeof(path), "%s/again.pid", self->dir);
	ASSERT_EQ(0, shell("ip netns exec %s %s restore -D %s -d -o restore2.log --pidfile %s",
			   NS_DST, criu_bin(), self->dst, path));
	ASSERT_EQ(0, read_text(path, buf, sizeof(buf)));
	ASSERT_EQ(nr, victim_adopt(&self->v, atoi(buf)));
	EXPECT_EQ(0, victim_verify_all(&self->v));
}

/*
 * While only faults are answered (the batches wait for the test's byte):
 * the root forks a child that checks every page, moves, unmaps and
 * DONTNEEDs parts of its anon; every page is then right where it is now.
 */
TEST_F_TIMEOUT(restore, forked_and_reshaped_while_filling, 600)
{
	pid_t root;
	int fd;

	NEED_SETUP();
	ASSERT_EQ(0, start_victim(self));
	ASSERT_EQ(0, dump_to_dst(_metadata, self));
	ASSERT_EQ(0, mkfifo(self->go, 0600));
	ASSERT_EQ(0, setenv("MEMSPLICE_TEST_RESTORE_GO", self->go, 1));
	ASSERT_LT(0, restore_start(self, "./selftests/memsplice-test"));
	unsetenv("MEMSPLICE_TEST_RESTORE_GO");
	root = tree_runs(self);
	ASSERT_LT(0, root) TH_LOG("%s", self->err);
	ASSERT_EQ(2, victim_adopt(&self->v, root)) {
		shell("ps -eo pid,ppid,stat,args >&2");
	}

	EXPECT_EQ(0, victim_verify_forked(&self->v, root));
	ASSERT_EQ(0, victim_reshape(&self->v, root));
	EXPECT_EQ(0, victim_verify_all(&self->v));

	fd = open(self->go, O_WRONLY);
	ASSERT_LE(0, fd);
	ASSERT_EQ(1, write(fd, "g", 1));
	close(fd);
	ASSERT_EQ(0, ms_exit(self)) TH_LOG("%s", self->err);
	TH_LOG("%s", self->err);
	/* the unmapped and DONTNEED'd eighths were still missing: 2 * ANON / 8 pages */
	EXPECT_LE(ANON / 4, count_before(self->err, "gone with their mappings"));
	EXPECT_LT(0, count_before(self->err, "by batches"));
	EXPECT_EQ(0, victim_verify_all(&self->v));
	EXPECT_EQ(0, victim_verify_forked(&self->v, root));
}

/*
 * The daemon killed while the tree waits on a fault (the daemon answers
 * nothing once criu is done: a test hook): memsplice kills the tree and
 * says so; the tree never ran on a zero page (no "bad" answer).
 */
TEST_F_TIMEOUT(restore, daemon_killed_kills_tree, 600)
{
	char line[256];
	pid_t root, kids[4];
	int n;

	NEED_SETUP();
	ASSERT_EQ(0, start_victim(self));
	ASSERT_EQ(0, dump_to_dst(_metadata, self));
	ASSERT_EQ(0, setenv("MEMSPLICE_TEST_RESTORE_STALL", "1", 1));
	ASSERT_LT(0, restore_start(self, "./selftests/memsplice-test"));
	unsetenv("MEMSPLICE_TEST_RESTORE_STALL");
	root = tree_runs(self);
	ASSERT_LT(0, root) TH_LOG("%s", self->err);
	ASSERT_EQ(2, victim_adopt(&self->v, root));

	ASSERT_EQ(0, kill(root, SIGUSR1));		/* a check that waits on its faults */
	n = proc_children(self->ms, kids, 4);		/* criu has gone: the daemon */
	ASSERT_EQ(1, n);
	ASSERT_EQ(0, kill(kids[0], SIGKILL));
	ASSERT_EQ(1, ms_exit(self));
	EXPECT_NE(NULL, strstr(self->err, "the lazy-pages daemon failed (signal 9) before every "
				"page was in place: the restored tree is killed"))
		TH_LOG("%s", self->err);
	EXPECT_EQ(0, victim_reap(&self->v));
	fcntl(fileno(self->v.report), F_SETFL, O_NONBLOCK);
	while (fgets(line, sizeof(line), self->v.report))
		EXPECT_EQ(NULL, strstr(line, "bad")) TH_LOG("%s", line);
	self->v.nr_pids = 0;
}

/* criu restore fails (the tree's pids are taken: it still runs): no daemon stays */
TEST_F_TIMEOUT(restore, criu_fails_no_daemon_left, 600)
{
	const char *dump[] = { criu_bin(), "dump", "-t", self->pid, "-D", self->dst,
			       "--leave-running", "-o", "dump.log", NULL };
	const char *rs[] = { memsplice_bin(), "restore", "-D", self->dst, "--", "-d", "-o",
			     "restore.log", NULL };
	char path[700];

	NEED_SETUP();
	ASSERT_EQ(0, start_victim(self));
	ASSERT_EQ(0, run_cmd(dump, self->err, sizeof(self->err))) TH_LOG("%s", self->err);
	EXPECT_EQ(1, run_cmd(rs, self->err, sizeof(self->err)));
	EXPECT_NE(NULL, strstr(self->err, "criu restore failed")) TH_LOG("%s", self->err);
	EXPECT_EQ(0, shell("! pgrep -f '[r]estore -D %s'", self->dst));
	snprintf(path, sizeof(path), "%s/lazy-pages.socket", self->dst);
	EXPECT_NE(0, access(path, F_OK));
	EXPECT_EQ(0, victim_verify_all(&self->v));	/* the source untouched */
}

/*
 * Pure post-copy with memsplice at both ends: memsplice checkpoint
 * --lazy-pages at the source, memsplice restore --page-server at the
 * destination, which fetches what the lazy dump left at the source; the
 * source ends (its stopped tree killed) once every page is in place.
 */
TEST_F_TIMEOUT(restore, postcopy_from_the_source, 600)
{
	const struct victim_opts vo = { .fifo = self->fifo, .detach = true, .pidns = true,
					.cwd = self->dir };	/* criu's parasite mkdirs there */
	const char *ck[] = { memsplice_bin(), "checkpoint", "-t", self->pid, "-D", self->src,
			     "--max-passes", "0", "--lazy-pages", "--lazy-port", PORT,
			     "--lazy-peer", DST_ADDR, NULL };
	char final[700], path[800], buf[64], srcout[700];
	const char *rs[] = { "ip", "netns", "exec", NS_DST, memsplice_bin(), "restore", "-D",
			     final, "--page-server", "--address", SRC_ADDR, "--port", PORT, "--",
			     "-d", "-o", "restore.log", NULL };
	int nr, st;

	NEED_SETUP();
	ASSERT_EQ(0, victim_start_opts(&self->v, rich, 2, 4, &vo));
	snprintf(self->pid, sizeof(self->pid), "%d", self->v.pid);
	nr = self->v.nr_pids;
	snprintf(srcout, sizeof(srcout), "%s/source.out", self->dir);
	snprintf(final, sizeof(final), "%s/final", self->dst);
	self->source = spawn_to(ck, srcout);
	ASSERT_TRUE(file_says(srcout, "may start", 120)) {
		read_text(srcout, self->err, sizeof(self->err));
		TH_LOG("memsplice checkpoint: %s", self->err);
	}
	ASSERT_EQ(0, shell("mkdir '%s' && cp '%s'/final/*.img '%s'/", final, self->src, final));

	snprintf(path, sizeof(path), "%s/restore.log", final);
	ASSERT_EQ(0, run_cmd(rs, self->err, sizeof(self->err)))
		TH_LOG("%s %s", self->err, file_tail(path, 8, self->out, sizeof(self->out)));
	TH_LOG("%s", self->err);
	/* every process's anon was left at the source by the lazy dump */
	EXPECT_LE(nr * ANON, count_before(self->err, "from the source, "));
	ASSERT_EQ(self->source, waitpid(self->source, &st, 0));
	self->source = -1;
	EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) {
		read_text(srcout, self->err, sizeof(self->err));
		TH_LOG("memsplice checkpoint: %s", self->err);
	}
	ASSERT_EQ(0, victim_reap(&self->v));
	snprintf(path, sizeof(path), "%s/restore.pid", final);
	ASSERT_EQ(0, read_text(path, buf, sizeof(buf)));
	ASSERT_EQ(nr, victim_adopt(&self->v, atoi(buf)));
	EXPECT_EQ(0, victim_verify_all(&self->v));
}

TEST_HARNESS_MAIN
