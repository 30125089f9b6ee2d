// SPDX-License-Identifier: GPL-2.0
/*
 * Bad input: each case must end with one line on stderr, exit status 1,
 * no complete-looking image set, and the target untouched (not traced, not
 * stopped, its memory verified by itself).
 */
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "lib/vtest.h"

#define NOBODY	65534

FIXTURE(bad) {
	struct victim v;
	char *dir;
	char pid[16];
	char err[4096];
};

FIXTURE_SETUP(bad)
{
	const char *a[] = { "--anon", "64", NULL };

	self->dir = make_dir("bad");
	ASSERT_NE(NULL, self->dir);
	ASSERT_EQ(0, victim_start(&self->v, a, 1, 0));
	snprintf(self->pid, sizeof(self->pid), "%d", self->v.pid);
}

FIXTURE_TEARDOWN(bad)
{
	victim_kill(&self->v);
	remove_dir(self->dir);
}

static int count_lines(const char *s)
{
	int n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

/* the common end of every case: one line naming the problem, target unharmed */
#define EXPECT_REFUSED(ret, what) do { \
	EXPECT_EQ(1, ret); \
	EXPECT_EQ(1, count_lines(self->err)) { TH_LOG("stderr: %s", self->err); } \
	EXPECT_NE(NULL, strstr(self->err, what)) { TH_LOG("stderr: %s", self->err); } \
	EXPECT_EQ(0, proc_tracer(self->v.pid)); \
	EXPECT_NE('t', proc_state(self->v.pid)); \
	EXPECT_NE('T', proc_state(self->v.pid)); \
	EXPECT_EQ(0, victim_verify_all(&self->v)); \
} while (0)

static bool dir_has(const char *dir, const char *name)
{
	char p[1024];

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	return faccessat(AT_FDCWD, p, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
}

TEST_F(bad, no_such_pid)
{
	pid_t gone = gone_pid();
	char p[16];
	const char *args[] = { "dump", "-t", p, "-D", self->dir, NULL };

	ASSERT_LT(0, gone);
	snprintf(p, sizeof(p), "%d", gone);
	EXPECT_REFUSED(run_memsplice(args, self->err, sizeof(self->err), -1), "no such process");
	EXPECT_FALSE(dir_has(self->dir, "inventory.img"));
}

TEST_F(bad, kernel_thread)
{
	const char *args[] = { "dump", "-t", "2", "-D", self->dir, NULL };

	EXPECT_REFUSED(run_memsplice(args, self->err, sizeof(self->err), -1), "kernel thread");
}

TEST_F(bad, memsplice_itself)
{
	int efd[2], status;
	ssize_t n;
	pid_t pid;

	ASSERT_EQ(0, pipe(efd));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		char me[16];

		snprintf(me, sizeof(me), "%d", getpid());
		dup2(efd[1], 2);
		execl(memsplice_bin(), "memsplice", "dump", "-t", me, "-D", self->dir, NULL);
		_exit(127);
	}
	close(efd[1]);
	n = 0;
	for (ssize_t r; (r = read(efd[0], self->err + n, sizeof(self->err) - 1 - n)) > 0;)
		n += r;
	self->err[n] = '\0';
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_REFUSED(WEXITSTATUS(status), "memsplice itself");
}

TEST_F(bad, tree_contains_memsplice)
{
	char me[16];
	const char *args[] = { "pre-dump", "-t", me, "-D", self->dir, NULL };

	/* our own tree: memsplice is our child */
	snprintf(me, sizeof(me), "%d", getpid());
	EXPECT_REFUSED(run_memsplice(args, self->err, sizeof(self->err), -1), "memsplice itself");
	EXPECT_EQ(0, proc_tracer(getpid()));
}

TEST_F(bad, not_permitted)
{
	const char *args[] = { "dump", "-t", self->pid, "-D", self->dir, "-R", NULL };

	/* a complete set already there must survive a refused attempt */
	ASSERT_EQ(0, run_memsplice(args, self->err, sizeof(self->err), -1)) {
		TH_LOG("%s", self->err);
	}
	ASSERT_TRUE(dir_has(self->dir, "inventory.img"));
	EXPECT_REFUSED(run_memsplice(args, self->err, sizeof(self->err), NOBODY), "not permitted");
	EXPECT_TRUE(dir_has(self->dir, "inventory.img"));
	EXPECT_TRUE(dir_has(self->dir, "pstree.img"));
}

TEST_F(bad, dir_missing)
{
	const char *args[] = { "dump", "-t", self->pid, "-D", "/nonexistent/memsplice", NULL };

	EXPECT_REFUSED(run_memsplice(args, self->err, sizeof(self->err), -1), "images directory");
}

TEST_F(bad, dir_not_writable)
{
	const char *args[] = { "pre-dump", "-t", self->pid, "-D", self->dir, NULL };

	ASSERT_EQ(0, chmod(self->dir, 0755));
	EXPECT_REFUSED(run_memsplice(args, self->err, sizeof(self->err), NOBODY), "not writable");
}

TEST_F(bad, disk_full)
{
	const char *a[] = { "--anon", "2048", NULL };
	const char *args[] = { "dump", "-t", self->pid, "-D", self->dir, "-R", NULL };
	struct victim big;
	char name[64];
	int ret;

	if (mount("memsplice-full", self->dir, "tmpfs", 0, "size=1m"))
		SKIP(return, "cannot mount a small tmpfs: %m");
	/* a complete set from before must not survive a failed dump into the dir */
	ret = run_memsplice(args, self->err, sizeof(self->err), -1);
	ASSERT_EQ(0, ret) { TH_LOG("%s", self->err); }
	ASSERT_TRUE(dir_has(self->dir, "inventory.img"));

	ASSERT_EQ(0, victim_start(&big, a, 1, 0));
	snprintf(self->pid, sizeof(self->pid), "%d", big.pid);
	ret = run_memsplice(args, self->err, sizeof(self->err), -1);
	/* EXPECT_REFUSED checks self->v: check the big victim by hand */
	EXPECT_EQ(1, ret);
	EXPECT_EQ(1, count_lines(self->err)) { TH_LOG("stderr: %s", self->err); }
	EXPECT_NE(NULL, strstr(self->err, "No space left")) { TH_LOG("stderr: %s", self->err); }
	EXPECT_EQ(0, proc_tracer(big.pid));
	EXPECT_EQ(0, victim_verify_all(&big));
	/* no complete-looking set; what this run created is gone */
	EXPECT_FALSE(dir_has(self->dir, "inventory.img"));
	EXPECT_FALSE(dir_has(self->dir, "inventory.img.tmp"));
	EXPECT_FALSE(dir_has(self->dir, "pages-1.img"));
	snprintf(name, sizeof(name), "pagemap-%d.img", big.pid);
	EXPECT_FALSE(dir_has(self->dir, name));
	victim_kill(&big);
	umount2(self->dir, MNT_DETACH);
	EXPECT_EQ(0, victim_verify_all(&self->v));
}

TEST_F(bad, parent_missing)
{
	const char *args[] = { "pre-dump", "-t", self->pid, "-D", self->dir,
			       "--prev-images-dir", "../memsplice-no-such-parent", NULL };

	EXPECT_REFUSED(run_memsplice(args, self->err, sizeof(self->err), -1), "parent");
	EXPECT_FALSE(dir_has(self->dir, "parent"));
	EXPECT_FALSE(dir_has(self->dir, "inventory.img"));
}

TEST_F(bad, parent_corrupt)
{
	char *parent = make_dir("corrupt"), path[1024], rel[1024];
	const char *args[] = { "pre-dump", "-t", self->pid, "-D", self->dir,
			       "--prev-images-dir", rel, NULL };
	int fd;

	ASSERT_NE(NULL, parent);
	snprintf(path, sizeof(path), "%s/inventory.img", parent);
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	ASSERT_LE(0, fd);
	ASSERT_EQ(12, write(fd, "not an image", 12));
	close(fd);
	snprintf(rel, sizeof(rel), "../%s", strrchr(parent, '/') + 1);
	EXPECT_REFUSED(run_memsplice(args, self->err, sizeof(self->err), -1), "parent");
	EXPECT_FALSE(dir_has(self->dir, "inventory.img"));
	remove_dir(parent);
	free(parent);
}

/* a corrupt pagemap in a good parent: one line, not the loader's and the collector's */
TEST_F(bad, parent_pagemap_corrupt)
{
	char *parent = make_dir("corrupt"), path[1024], rel[1024];
	const char *first[] = { "pre-dump", "-t", self->pid, "-D", parent, "--track-mem", NULL };
	const char *args[] = { "pre-dump", "-t", self->pid, "-D", self->dir, "--track-mem",
			       "--prev-images-dir", rel, NULL };

	ASSERT_NE(NULL, parent);
	if (system("./user/memsplice check | grep -q '^soft-dirty *yes'")) {
		remove_dir(parent);
		free(parent);
		SKIP(return, "no soft-dirty on this kernel");
	}
	ASSERT_EQ(0, run_memsplice(first, self->err, sizeof(self->err), -1));
	snprintf(path, sizeof(path), "%s/pagemap-%s.img", parent, self->pid);
	/* magics (8), the head (4 + 2), the first entry's length: its body is cut */
	ASSERT_EQ(0, truncate(path, 18));
	snprintf(rel, sizeof(rel), "../%s", strrchr(parent, '/') + 1);
	EXPECT_REFUSED(run_memsplice(args, self->err, sizeof(self->err), -1), "pagemap");
	EXPECT_FALSE(dir_has(self->dir, "inventory.img"));
	remove_dir(parent);
	free(parent);
}

TEST_F(bad, track_mem_without_soft_dirty)
{
	const char *chk[] = { "check", NULL };
	const char *args[] = { "pre-dump", "-t", self->pid, "-D", self->dir, "--track-mem", NULL };
	char out[4096];

	run_memsplice(chk, out, sizeof(out), -1);
	if (!system("./user/memsplice check | grep -q '^soft-dirty *yes'"))
		SKIP(return, "this kernel has soft-dirty");
	EXPECT_REFUSED(run_memsplice(args, self->err, sizeof(self->err), -1), "soft-dirty");
}

TEST_F(bad, unknown_method)
{
	const char *args[] = { "dump", "-t", self->pid, "-D", self->dir, "--method", "bogus", NULL };

	EXPECT_REFUSED(run_memsplice(args, self->err, sizeof(self->err), -1), "unknown method");
}

TEST_F(bad, bad_buffer_size)
{
	const char *args[] = { "dump", "-t", self->pid, "-D", self->dir, "-b", "1000", NULL };

	EXPECT_REFUSED(run_memsplice(args, self->err, sizeof(self->err), -1), "buffer-size");
}

TEST_F(bad, leave_running_on_pre_dump)
{
	const char *args[] = { "pre-dump", "-t", self->pid, "-D", self->dir, "-R", NULL };

	EXPECT_REFUSED(run_memsplice(args, self->err, sizeof(self->err), -1), "leave-running");
}

/* 4294967297 is pid 1 once truncated to 32 bits: init must never be frozen */
TEST_F(bad, pid_out_of_range)
{
	static const char *const pids[] = { "4294967297", "-1", "0", "+5", "12abc", "99999999" };

	for (size_t i = 0; i < sizeof(pids) / sizeof(pids[0]); i++) {
		const char *args[] = { "pre-dump", "-t", pids[i], "-D", self->dir, NULL };

		EXPECT_REFUSED(run_memsplice(args, self->err, sizeof(self->err), -1),
			       "invalid pid");
		EXPECT_FALSE(dir_has(self->dir, "inventory.img"));
	}
}

TEST_F(bad, size_overflow)
{
	const char *args[] = { "pre-dump", "-t", self->pid, "-D", self->dir, "-b",
			       "18014398509481984K", NULL };

	EXPECT_REFUSED(run_memsplice(args, self->err, sizeof(self->err), -1), "buffer-size");
}

TEST_F(bad, option_of_another_command)
{
	const char *chk[] = { "check", "--track-mem", "-t", self->pid, NULL };
	const char *pre[] = { "pre-dump", "-t", self->pid, "-D", self->dir, "--kill", NULL };

	EXPECT_REFUSED(run_memsplice(chk, self->err, sizeof(self->err), -1),
		       "does not apply to check");
	EXPECT_REFUSED(run_memsplice(pre, self->err, sizeof(self->err), -1),
		       "does not apply to pre-dump");
}

TEST_F(bad, checkpoint_without_criu)
{
	const char *args[] = { "checkpoint", "-t", self->pid, "-D", self->dir, NULL };
	bool soft_dirty = !system("./user/memsplice check | grep -q '^soft-dirty *yes'");
	char *path = getenv("PATH") ? strdup(getenv("PATH")) : NULL;

	/* no criu in PATH (or no soft-dirty): refused before anything is frozen */
	setenv("PATH", "/nonexistent", 1);
	EXPECT_REFUSED(run_memsplice(args, self->err, sizeof(self->err), -1),
		       soft_dirty ? "no criu" : "soft-dirty");
	if (path)
		setenv("PATH", path, 1);
	free(path);
	EXPECT_FALSE(dir_has(self->dir, "1"));
	EXPECT_FALSE(dir_has(self->dir, "final"));
}

/*
 * DIR missing: refused like the rest, before the table's header and before
 * the tree is touched (stdout and stderr together: one line); not created
 */
TEST_F(bad, checkpoint_dir_missing)
{
	char missing[1100];
	const char *args[] = { memsplice_bin(), "checkpoint", "-t", self->pid, "-D", missing,
			       "--final", "none", NULL };

	snprintf(missing, sizeof(missing), "%s/missing", self->dir);
	EXPECT_REFUSED(run_cmd(args, self->err, sizeof(self->err)), "images directory");
	EXPECT_NE(NULL, strstr(self->err, missing)) { TH_LOG("stderr: %s", self->err); }
	EXPECT_EQ(NULL, strstr(self->err, "pass")) { TH_LOG("output: %s", self->err); }
	EXPECT_FALSE(dir_has(self->dir, "missing"));
}

TEST_F(bad, checkpoint_bad_tracker)
{
	const char *args[] = { "checkpoint", "-t", self->pid, "-D", self->dir, "--tracker",
			       "bogus", NULL };

	EXPECT_REFUSED(run_memsplice(args, self->err, sizeof(self->err), -1), "--tracker");
}

/* --keep-huge-pages is about the uffd-wp tracker: soft-dirty never splits */
TEST_F(bad, checkpoint_keep_huge_pages_with_soft_dirty)
{
	const char *args[] = { "checkpoint", "-t", self->pid, "-D", self->dir, "--tracker",
			       "soft-dirty", "--keep-huge-pages", "--final", "none", NULL };

	EXPECT_REFUSED(run_memsplice(args, self->err, sizeof(self->err), -1),
		       "--keep-huge-pages");
	EXPECT_FALSE(dir_has(self->dir, "1"));
}

TEST_F(bad, checkpoint_bad_final)
{
	const char *args[] = { "checkpoint", "-t", self->pid, "-D", self->dir, "--final",
			       "bogus", NULL };

	EXPECT_REFUSED(run_memsplice(args, self->err, sizeof(self->err), -1), "--final");
}

TEST_F(bad, checkpoint_min_above_max_passes)
{
	const char *args[] = { "checkpoint", "-t", self->pid, "-D", self->dir, "--final", "none",
			       "--min-passes", "5", "--max-passes", "3", NULL };

	EXPECT_REFUSED(run_memsplice(args, self->err, sizeof(self->err), -1), "--min-passes");
	EXPECT_FALSE(dir_has(self->dir, "1"));
}

/*
 * --lazy-pages, --tls and their options, each misuse refused before
 * anything is frozen
 */
TEST_F(bad, checkpoint_session_options_refused)
{
	static const struct {
		const char *args[12], *what;
	} cases[] = {
		{ { "--lazy-pages", "--port", "27199", "--final", "dump" }, "--final" },
		{ { "--lazy-pages" }, "needs --lazy-port" },
		{ { "--lazy-pages", "--page-server", "--address", "127.0.0.1", "--port", "27199" },
		  "needs --lazy-port P" },
		{ { "--lazy-pages", "--page-server", "--address", "127.0.0.1", "--port", "27199",
		    "--lazy-port", "27198", "--max-passes", "0" }, "no pass" },
		{ { "--lazy-pages", "--port", "27199", "--lazy-port", "27198" }, "one is enough" },
		{ { "--lazy-peer", "127.0.0.1" }, "go with --lazy-pages" },
		{ { "--lazy-pages", "--port", "27199", "--lazy-timeout", "0" }, "--lazy-timeout" },
		{ { "--max-passes", "0" }, "needs --lazy-pages" },
		{ { "--lazy-pages", "--port", "27199", "--max-passes", "0", "--method", "parasite" },
		  "cannot serve lazy pages" },
		{ { "--lazy-pages", "--port", "27199", "--max-passes", "0", "--lazy-peer",
		    "no-such-host.invalid" }, "cannot resolve --lazy-peer" },
		{ { "--tls" }, "--tls secures" },
		{ { "--lazy-pages", "--port", "27199", "--tls-cert", "c.pem" }, "go with --tls" },
		{ { "--tls", "--page-server", "--address", "127.0.0.1", "--port", "27199" },
		  "cannot take over" },
		{ { "--receiver" }, "needs --page-server" },
		{ { "--receiver", "--lazy-pages", "--page-server", "--address", "127.0.0.1",
		    "--port", "27199", "--lazy-port", "27198" }, "no --lazy-pages" },
	};

	for (unsigned int i = 0; i < ARRAY_SIZE(cases); i++) {
		const char *args[20] = { "checkpoint", "-t", self->pid, "-D", self->dir };
		int n = 5;

		for (int k = 0; cases[i].args[k]; k++)
			args[n++] = cases[i].args[k];
		EXPECT_REFUSED(run_memsplice(args, self->err, sizeof(self->err), -1),
			       cases[i].what);
		EXPECT_FALSE(dir_has(self->dir, "1"));
	}
}

/* receive: what it needs, and a DIR it cannot use, each one line */
TEST_F(bad, receive_refused)
{
	static const struct {
		const char *args[8], *what;
	} cases[] = {
		{ { "receive", "--port", "27199" }, "needs -D DIR" },
		{ { "receive", "-D", "/tmp" }, "--port P" },
		{ { "receive", "-D", "/nonexistent/dir", "--port", "27199" }, "/nonexistent/dir" },
		{ { "receive", "-D", "/tmp", "--port", "27199", "--rounds", "0" }, "--rounds" },
		{ { "receive", "-D", "/tmp", "--port", "27199", "--timeout", "0" }, "--timeout" },
		{ { "receive", "-D", "/tmp", "--port", "27199", "-t", "1" }, "-t" },
	};

	for (unsigned int i = 0; i < ARRAY_SIZE(cases); i++)
		EXPECT_REFUSED(run_memsplice(cases[i].args, self->err, sizeof(self->err), -1),
			       cases[i].what);
}

/* restore without what it needs, or with criu options that are memsplice's to set */
TEST_F(bad, restore_refused)
{
	const struct {
		const char *args[8], *what;
	} cases[] = {
		{ { "restore" }, "needs -D DIR" },
		{ { "restore", "-D", "/nonexistent/dir" }, "/nonexistent/dir" },
		{ { "restore", "-D", self->dir }, "pstree.img" },
		{ { "restore", "-D", self->dir, "--", "-d", "-W", "/tmp" }, "-W after --" },
		{ { "restore", "-D", self->dir, "--", "--pidfile=/tmp/x" }, "--pidfile after --" },
		{ { "restore", "-D", self->dir, "-t", "1" }, "-t" },
	};

	for (unsigned int i = 0; i < ARRAY_SIZE(cases); i++)
		EXPECT_REFUSED(run_memsplice(cases[i].args, self->err, sizeof(self->err), -1),
			       cases[i].what);
	EXPECT_FALSE(dir_has(self->dir, "lazy-pages.socket"));
}

/*
 * --tracker uffd-wp where it cannot work: a kernel without async uffd-wp
 * (6.1), or without soft-dirty for criu's final dump (the 6.18 host)
 */
TEST_F(bad, checkpoint_uffd_wp_refused)
{
	const char *args[] = { "checkpoint", "-t", self->pid, "-D", self->dir, "--tracker",
			       "uffd-wp", NULL };
	bool soft_dirty = !system("./user/memsplice check | grep -q '^soft-dirty *yes'");
	bool uffd_wp = !system("./user/memsplice check | grep -q '^uffd-wp async *yes'");

	if (soft_dirty && uffd_wp)
		SKIP(return, "this kernel has both: nothing to refuse");
	EXPECT_REFUSED(run_memsplice(args, self->err, sizeof(self->err), -1),
		       uffd_wp ? "soft-dirty" : "uffd-wp");
	EXPECT_FALSE(dir_has(self->dir, "1"));
}

TEST_F(bad, parent_is_images_dir)
{
	const char *first[] = { "pre-dump", "-t", self->pid, "-D", self->dir, NULL };
	const char *args[] = { "pre-dump", "-t", self->pid, "-D", self->dir,
			       "--prev-images-dir", ".", NULL };

	ASSERT_EQ(0, run_memsplice(first, self->err, sizeof(self->err), -1));
	EXPECT_REFUSED(run_memsplice(args, self->err, sizeof(self->err), -1),
		       "is the images directory itself");
	EXPECT_TRUE(dir_has(self->dir, "inventory.img"));
	EXPECT_FALSE(dir_has(self->dir, "parent"));
}

/* A <- B: B as A's parent would loop, and restore would never end */
TEST_F(bad, parent_loop)
{
	char *b = make_dir("bad");
	char rel_a[600], rel_b[600];
	const char *first[] = { "pre-dump", "-t", self->pid, "-D", self->dir, NULL };
	const char *second[] = { "pre-dump", "-t", self->pid, "-D", b,
				 "--prev-images-dir", rel_a, NULL };
	const char *args[] = { "pre-dump", "-t", self->pid, "-D", self->dir,
			       "--prev-images-dir", rel_b, NULL };

	ASSERT_NE(NULL, b);
	snprintf(rel_a, sizeof(rel_a), "../%s", strrchr(self->dir, '/') + 1);
	snprintf(rel_b, sizeof(rel_b), "../%s", strrchr(b, '/') + 1);
	ASSERT_EQ(0, run_memsplice(first, self->err, sizeof(self->err), -1));
	ASSERT_EQ(0, run_memsplice(second, self->err, sizeof(self->err), -1));
	EXPECT_REFUSED(run_memsplice(args, self->err, sizeof(self->err), -1),
		       "would make a loop");
	EXPECT_TRUE(dir_has(self->dir, "inventory.img"));
	EXPECT_FALSE(dir_has(self->dir, "parent"));
	remove_dir(b);
	free(b);
}

/* the test hook is for test builds: a stray variable never stops a dump */
TEST_F(bad, test_hook_ignored)
{
	struct pollfd pfd;
	char pid[16], fdenv[16], buf[8];
	int sv[2], status;
	pid_t ms;

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	snprintf(pid, sizeof(pid), "%d", self->v.pid);
	snprintf(fdenv, sizeof(fdenv), "%d", sv[1]);
	ms = fork();
	ASSERT_LE(0, ms);
	if (ms == 0) {
		close(sv[0]);
		setenv("MEMSPLICE_TEST_FROZEN_FD", fdenv, 1);
		execl(memsplice_bin(), "memsplice", "pre-dump", "-t", pid, "-D", self->dir,
		      "--method", "read", NULL);
		_exit(127);
	}
	close(sv[1]);
	/* memsplice exits (EOF here) without ever saying "frozen" */
	pfd = (struct pollfd){ .fd = sv[0], .events = POLLIN };
	ASSERT_EQ(1, poll(&pfd, 1, 120000));
	EXPECT_EQ(0, read(sv[0], buf, sizeof(buf)));
	close(sv[0]);
	ASSERT_EQ(ms, waitpid(ms, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	EXPECT_EQ(0, proc_tracer(self->v.pid));
	EXPECT_EQ(0, victim_verify_all(&self->v));
}

TEST_HARNESS_MAIN
