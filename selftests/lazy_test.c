// SPDX-License-Identifier: GPL-2.0
/*
 * Post-copy migration (WIP, branch wip/lazy-pages): `memsplice checkpoint
 * --lazy-pages` hands criu's lazy dump over and serves the lazy pages from
 * the frozen tree to `criu lazy-pages`; `criu restore --lazy-pages` brings
 * the tree back before its memory; the restored victim verifies every page.
 *
 * The victim lives in a pid namespace and a session of its own, so that
 * the restored tree can take its pids while the source tree still exists.
 * Source and destination share this machine's loopback here.
 *
 * Needs a criu that runs (3.17 in the 6.1 guest): skips elsewhere.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "lib/vtest.h"

#define PORT		"27100"
#define ANON		4096

FIXTURE(lazy) {
	struct victim v;
	char *dir;
	char path[3][700];	/* fifo, src, work */
	pid_t ms, daemon;
	char err[4096];
};

/* until @path holds @what (or exists, @what NULL), at most @seconds */
static bool wait_for(const char *path, const char *what, double seconds)
{
	double end = now_s() + seconds;
	char buf[8192];

	while (now_s() < end) {
		if (!what && !access(path, F_OK))
			return true;
		if (what && !read_text(path, buf, sizeof(buf)) && strstr(buf, what))
			return true;
		usleep(20 * 1000);	/* polled with a deadline, not a synchronisation */
	}
	return false;
}

FIXTURE_SETUP(lazy)
{
	memset(&self->v, 0, sizeof(self->v));
	self->ms = self->daemon = -1;
	if (system("criu check >/dev/null 2>&1"))
		SKIP(return, "no criu that runs here");
	self->dir = make_dir("lazy");
	ASSERT_NE(NULL, self->dir);
	snprintf(self->path[0], sizeof(self->path[0]), "%s/victim.fifo", self->dir);
	snprintf(self->path[1], sizeof(self->path[1]), "%s/src", self->dir);
	snprintf(self->path[2], sizeof(self->path[2]), "%s/work", self->dir);
	ASSERT_EQ(0, mkdir(self->path[1], 0700));
	ASSERT_EQ(0, mkdir(self->path[2], 0700));
}

FIXTURE_TEARDOWN(lazy)
{
	for (pid_t *p = &self->ms; p <= &self->daemon; p++)
		if (*p > 0) {
			kill(*p, SIGKILL);
			waitpid(*p, NULL, 0);
		}
	victim_kill(&self->v);
	if (self->dir)
		remove_dir(self->dir);
	free(self->dir);
}

/* pure post-copy: no pass; every anonymous page comes from the frozen source */
TEST_F_TIMEOUT(lazy, pure_postcopy_restores_exact, 300)
{
	const struct victim_opts vo = { .fifo = self->path[0], .detach = true, .pidns = true,
					 .cwd = self->dir };	/* criu's parasite mkdirs there */
	const char *vargs[] = { "--anon", "4096", "--nothp", NULL };
	char pid[16], final[800], out[800], pidfile[800], sock[800], buf[8192], *served;
	const char *ms[] = { memsplice_bin(), "checkpoint", "-t", pid, "-D", self->path[1],
			     "--max-passes", "0", "--lazy-pages", "--address", "127.0.0.1",
			     "--port", PORT, NULL };
	const char *lp[] = { "criu", "lazy-pages", "--page-server", "--address", "127.0.0.1",
			     "--port", PORT, "-D", final, "-W", self->path[2], "-o", "lazy.log",
			     NULL };
	const char *rs[] = { "criu", "restore", "--lazy-pages", "-D", final, "-W",
			     self->path[2], "-d", "-o", "restore.log", "--pidfile", pidfile,
			     NULL };
	pid_t source, root;
	long pages = 0;
	int st;

	ASSERT_EQ(0, victim_start_opts(&self->v, vargs, 1, 0, &vo));
	source = self->v.pid;
	snprintf(pid, sizeof(pid), "%d", source);
	snprintf(final, sizeof(final), "%s/final", self->path[1]);
	snprintf(out, sizeof(out), "%s/memsplice.out", self->dir);
	snprintf(pidfile, sizeof(pidfile), "%s/restore.pid", self->path[2]);
	snprintf(sock, sizeof(sock), "%s/lazy-pages.socket", self->path[2]);

	self->ms = spawn_to(ms, out);
	ASSERT_LT(0, self->ms);
	ASSERT_TRUE(wait_for(out, "may start", 120)) {
		char log[900];

		read_text(out, buf, sizeof(buf));
		TH_LOG("memsplice: %s", buf);
		snprintf(log, sizeof(log), "%s/dump.log", final);
		if (!read_text(log, buf, sizeof(buf)))
			TH_LOG("dump.log ends: %s", buf + (strlen(buf) > 1500 ? strlen(buf) - 1500 : 0));
	}
	self->daemon = spawn_to(lp, "/dev/null");
	ASSERT_LT(0, self->daemon);
	ASSERT_TRUE(wait_for(sock, NULL, 60));
	ASSERT_EQ(0, run_cmd(rs, self->err, sizeof(self->err))) TH_LOG("%s", self->err);

	ASSERT_EQ(self->ms, waitpid(self->ms, &st, 0));
	self->ms = -1;
	read_text(out, buf, sizeof(buf));
	EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) TH_LOG("memsplice: %s", buf);
	served = strstr(buf, "lazy: ");
	while (served && sscanf(served, "lazy: %ld pages served", &pages) != 1)
		served = strstr(served + 1, "lazy: ");
	EXPECT_LE(ANON, pages) TH_LOG("%s", buf);
	ASSERT_EQ(self->daemon, waitpid(self->daemon, &st, 0));
	self->daemon = -1;
	EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);

	/* the source is gone; the restored tree verifies its memory */
	ASSERT_EQ(0, victim_reap(&self->v));
	ASSERT_EQ(0, read_text(pidfile, buf, sizeof(buf)));
	root = atoi(buf);
	ASSERT_LT(0, root);
	ASSERT_EQ(1, victim_adopt(&self->v, root));
	EXPECT_EQ(0, victim_verify_all(&self->v));
}

/* criu's dump fails (an option it does not know): the source runs on */
TEST_F_TIMEOUT(lazy, criu_dump_failing_resumes_source, 120)
{
	const struct victim_opts vo = { .fifo = self->path[0], .detach = true, .pidns = true,
					 .cwd = self->dir };	/* criu's parasite mkdirs there */
	const char *vargs[] = { "--anon", "256", "--nothp", NULL };
	char pid[16];
	const char *ms[] = { memsplice_bin(), "checkpoint", "-t", pid, "-D", self->path[1],
			     "--max-passes", "0", "--lazy-pages", "--port", PORT, "--",
			     "--no-such-criu-option", NULL };

	ASSERT_EQ(0, victim_start_opts(&self->v, vargs, 1, 0, &vo));
	snprintf(pid, sizeof(pid), "%d", self->v.pid);
	EXPECT_EQ(1, run_cmd(ms, self->err, sizeof(self->err)));
	EXPECT_NE(NULL, strstr(self->err, "criu dump --lazy-pages failed")) TH_LOG("%s", self->err);
	EXPECT_EQ(0, proc_tracer(self->v.pid));
	EXPECT_NE('T', proc_state(self->v.pid));
	EXPECT_EQ(0, victim_verify_all(&self->v));
}

TEST_HARNESS_MAIN
