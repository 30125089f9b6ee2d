// SPDX-License-Identifier: GPL-2.0
/*
 * Post-copy migration: `memsplice checkpoint --lazy-pages` hands criu's
 * lazy dump over and serves the lazy pages from the frozen tree to `criu
 * lazy-pages`; `criu restore --lazy-pages` brings the tree back before its
 * memory; the restored tree verifies every page.
 *
 * Between two network namespaces (lib/twohosts.h): the victim, memsplice
 * and criu's dump in the source one; `criu page-server` (the hybrid's
 * passes), `criu lazy-pages` and the restore in the destination one.  Pure
 * post-copy (no pass) and the hybrid (passes to the page server, then the
 * rest lazily) run for every method; the victim has two processes with
 * threads, shared memory (not lazy: it arrives with the images), THP and
 * PROT_NONE memory holding data; and a child forked after the restore,
 * whose faults criu asks for with its parent's id.
 *
 * The source holds none of the tree's memory while it serves: once it
 * says the destination may start, no criu is left in its namespace (criu's
 * page pipes are gone) and memsplice's own pipes are empty; while it
 * serves they hold at most its --buffer-size.
 *
 * The fault cases (FULL_PASS_ONLY) talk to the source themselves over the
 * source namespace's loopback, as criu lazy-pages would (24-byte headers:
 * criu 3.17): a stranger refused, a destination that goes away, one that
 * stalls, memsplice killed while serving, and a tree that someone resumed
 * between criu's dump and memsplice's seize.  Each checks both ends
 * afterwards: the source stopped (and intact) or gone.
 *
 * The victim lives in a pid namespace and a session of its own, so that
 * the restored tree can take its pids while the source tree still exists.
 *
 * Needs what a migration needs (criu 3.17 in the 6.1 guest): skips
 * elsewhere.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "lib/pattern.h"
#include "lib/twohosts.h"
#include "lib/vtest.h"
#include "lib/wctl.h"

#define PORT		"27100"		/* memsplice serves the lazy pages there */
#define PS_PORT		"27027"		/* the hybrid's page servers */
#define ANON		2048		/* pages of each victim process's "anon" */
#define GET		7		/* criu's PS_IOV_GET, PS_IOV_ADD_F, PS_IOV_CLOSE */
#define ADD_F		6
#define CLOSE		0x1023
#define PE_PRESENT	4
#define BUFFER		(256 << 10)	/* memsplice's --buffer-size: what it may hold */
#define BUFFER_ARG	"256K"

/* criu 3.17's page-server header */
struct hdr {
	uint32_t cmd, nr_pages;
	uint64_t vaddr, dst_id;
};

FIXTURE(lazy) {
	struct victim v;
	char why[200];		/* why the setup skipped */
	char *dir;
	char fifo[700], src[700], dst[700], work[700], out[700];	/* out: memsplice's */
	pid_t ms, daemon, server;
	char err[4096];
	char pid[16];		/* the victim's */
	struct vregion *anon;
	int sk;			/* a test's connection to the source */
	char certs[3][800];	/* the TLS test's CA, certificate, key */
	const char *tls[8];	/* their options, for criu and memsplice; { NULL } if none */
};

FIXTURE_VARIANT(lazy) {
	const char *method;
};

FIXTURE_VARIANT_ADD(lazy, read) { .method = "read" };
FIXTURE_VARIANT_ADD(lazy, device) { .method = "device" };
FIXTURE_VARIANT_ADD(lazy, syscall) { .method = "syscall" };

/* two processes, threads, shared memory, THP, PROT_NONE memory with data */
static const char *const rich[] = { "--anon", "2048", "--nothp", "--shared", "32",
				    "--protnone", "16", "--thp", "4", "--threads", "2",
				    "--children", "1", NULL };
static const char *const small[] = { "--anon", "256", "--nothp", NULL };

/* a connection to the source's lazy server, from @from (NULL: any); -errno */
static int dial(const char *from)
{
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(atoi(PORT)) };
	struct sockaddr_in me = { .sin_family = AF_INET };
	int sk = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), ret = 0;

	if (sk < 0)
		return -errno;
	inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
	if (from && (inet_pton(AF_INET, from, &me.sin_addr) != 1 ||
		     bind(sk, (struct sockaddr *)&me, sizeof(me))))
		ret = -errno ?: -EINVAL;
	if (!ret && connect(sk, (struct sockaddr *)&to, sizeof(to)))
		ret = -errno;
	if (ret) {
		close(sk);
		return ret;
	}
	return sk;
}

/* exactly @len bytes from @sk, at most 60 s: 0, or -1 (closed, failed) */
static int recv_all(int sk, void *buf, size_t len)
{
	struct pollfd p = { .fd = sk, .events = POLLIN };

	while (len) {
		ssize_t n;

		if (poll(&p, 1, 60 * 1000) != 1)
			return -1;
		n = recv(sk, buf, len, 0);
		if (n <= 0)
			return -1;
		buf = (char *)buf + n;
		len -= n;
	}
	return 0;
}

/*
 * Ask for @nr pages at @addr of the process with vpid 1 (the victim's
 * root) as criu lazy-pages does; check the answer's header and that the
 * bytes are the victim's (@seed: its region's).  Returns what failed, or
 * NULL.
 */
static const char *get_pages(int sk, unsigned long addr, unsigned int nr, uint64_t seed)
{
	struct hdr h = { GET, nr, addr, 1 }, a;
	char page[VPAGE];

	if (send(sk, &h, sizeof(h), MSG_NOSIGNAL) != sizeof(h))
		return "cannot send a GET";
	if (recv_all(sk, &a, sizeof(a)))
		return "no answer to a GET";
	if (a.cmd != (PE_PRESENT << 16 | ADD_F) || a.nr_pages != nr || a.vaddr != addr ||
	    a.dst_id != 1)
		return "the answer's header is not criu's";
	for (unsigned int i = 0; i < nr; i++)
		if (recv_all(sk, page, VPAGE) ||
		    pattern_check(page, addr + i * VPAGE, seed) >= 0)
			return "a page served is not the victim's";
	return NULL;
}

/* @more (NULL-terminated) after the @*n entries of @argv (@max with the NULL) */
static void append(const char **argv, int *n, int max, const char *const *more)
{
	for (; *more && *n < max - 1; more++)
		argv[(*n)++] = *more;
	argv[*n] = NULL;
}

/* the victim, @args, in a pid namespace and a session of its own */
static int start_victim(FIXTURE_DATA(lazy) *self, const char *const *args, int nr_ready,
			int nr_threads)
{
	const struct victim_opts vo = { .fifo = self->fifo, .detach = true, .pidns = true,
					 .cwd = self->dir };	/* criu's parasite mkdirs there */

	if (victim_start_opts(&self->v, args, nr_ready, nr_threads, &vo))
		return -1;
	snprintf(self->pid, sizeof(self->pid), "%d", self->v.pid);
	self->anon = victim_region(&self->v, self->v.pid, "anon");
	return self->anon ? 0 : -1;
}

/*
 * memsplice (@bin) checkpoint --lazy-pages of the victim, with @extra
 * options (NULL-terminated), started; its output into self->out
 */
static pid_t start_memsplice(FIXTURE_DATA(lazy) *self, const char *bin, const char *method,
			     const char *const *extra)
{
	const char *argv[40] = { bin, "checkpoint", "-t", self->pid, "-D", self->src,
				 "--method", method, "--lazy-pages", "--lazy-port", PORT,
				 "--buffer-size", BUFFER_ARG };
	int n = 13;

	append(argv, &n, 40, extra);
	append(argv, &n, 40, self->tls);
	self->ms = spawn_to(argv, self->out);
	return self->ms;
}

/* the small victim and pure post-copy with @extra options, until "may start" */
static bool start_source(struct __test_metadata *_metadata, FIXTURE_DATA(lazy) *self,
			 const char *method, const char *const *extra)
{
	const char *argv[16] = { "--max-passes", "0" };
	int n = 2;

	for (; *extra && n < 15; extra++)
		argv[n++] = *extra;
	if (start_victim(self, small, 1, 0) ||
	    start_memsplice(self, memsplice_bin(), method, argv) < 0)
		return false;
	if (file_says(self->out, "may start", 120))
		return true;
	read_text(self->out, self->err, sizeof(self->err));
	TH_LOG("memsplice: %s", self->err);
	return false;
}

/* start_source(), then a session of ours (self->sk) served @nr pages, checked */
static bool serving(struct __test_metadata *_metadata, FIXTURE_DATA(lazy) *self,
		    const char *method, unsigned int nr)
{
	const char *const none[] = { NULL };
	const char *why;

	if (!start_source(_metadata, self, method, none))
		return false;
	self->sk = dial(NULL);
	if (self->sk < 0) {
		TH_LOG("cannot connect to the source: %s", strerror(-self->sk));
		return false;
	}
	why = get_pages(self->sk, self->anon->addr, nr, self->anon->seed);
	if (why)
		TH_LOG("%s", why);
	return !why;
}

/* memsplice's exit status once it ended (its output in self->err), -1 if killed */
static int source_exit(FIXTURE_DATA(lazy) *self)
{
	int st;

	if (waitpid(self->ms, &st, 0) != self->ms)
		return -1;
	self->ms = -1;
	read_text(self->out, self->err, sizeof(self->err));
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* the source tree stopped, untraced, and intact once continued */
static void source_stopped_intact(struct __test_metadata *_metadata, FIXTURE_DATA(lazy) *self)
{
	EXPECT_EQ('T', proc_state_settled(self->v.pid, 'T', 5000));
	EXPECT_EQ(0, proc_tracer(self->v.pid));
	ASSERT_EQ(0, victim_cont_all(&self->v));
	EXPECT_EQ(0, victim_verify_all(&self->v));
}

/* "lazy: N pages served" of memsplice's output in self->err; -1 if none */
static long pages_served(FIXTURE_DATA(lazy) *self)
{
	const char *s = strstr(self->err, "lazy: ");
	long pages;

	for (; s; s = strstr(s + 1, "lazy: "))
		if (sscanf(s, "lazy: %ld pages served", &pages) == 1)
			return pages;
	return -1;
}

/* memsplice's line "lazy: N pages served ..." in self->err, for the log */
static const char *served_line(FIXTURE_DATA(lazy) *self)
{
	char *s = strstr(self->err, "pages served"), *nl;

	if (!s)
		return "(no pages served line)";
	while (s > self->err && s[-1] != '\n')
		s--;
	nl = strchr(s, '\n');
	if (nl)
		*nl = '\0';
	return s;
}

/* processes named criu in this (the source's) network namespace */
static int criu_here(void)
{
	char path[64], comm[32], ns[64], mine[64] = "";
	struct dirent *de;
	int n = 0;
	DIR *d;

	if (readlink("/proc/self/ns/net", mine, sizeof(mine) - 1) <= 0 || !(d = opendir("/proc")))
		return -1;
	while ((de = readdir(d))) {
		int pid = atoi(de->d_name);
		ssize_t len;

		if (pid <= 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/ns/net", pid);
		len = readlink(path, ns, sizeof(ns) - 1);
		if (len <= 0)
			continue;
		ns[len] = '\0';
		snprintf(path, sizeof(path), "/proc/%d/comm", pid);
		if (!strcmp(ns, mine) && !read_text(path, comm, sizeof(comm)) &&
		    !strcmp(comm, "criu\n"))
			n++;
	}
	closedir(d);
	return n;
}

/*
 * The destination, once the source said it may start: DIR/src/final's
 * images copied to DIR/dst/final (its parent DIR/dst/@parent if > 0),
 * `criu lazy-pages` and `criu restore --lazy-pages` from there in the
 * destination namespace.  The source holds none of the tree's memory
 * meanwhile: criu's dump (and its page pipes) gone, memsplice's pipes
 * empty before the first request and within --buffer-size (BUFFER) while
 * it serves.  Returns the restored tree's root, 0 on failure.
 */
static pid_t destination_start(struct __test_metadata *_metadata, FIXTURE_DATA(lazy) *self,
			       int parent)
{
	char final[800], pidfile[800], sock[800], buf[8192];
	const char *lp[32] = { "ip", "netns", "exec", NS_DST, criu_bin(), "lazy-pages",
			       "--page-server", "--address", SRC_ADDR, "--port", PORT, "-D", final,
			       "-W", self->work, "-o", "lazy.log", "-v4" };
	int n = 18;
	const char *rs[] = { "ip", "netns", "exec", NS_DST, criu_bin(), "restore",
			     "--lazy-pages", "-D", final, "-W", self->work, "-d", "-o",
			     "restore.log", "--pidfile", pidfile, NULL };
	long pinned;

	EXPECT_EQ(0, criu_here());
	EXPECT_EQ(0, proc_pipe_bytes(self->ms));
	snprintf(final, sizeof(final), "%s/final", self->dst);
	snprintf(pidfile, sizeof(pidfile), "%s/restore.pid", self->work);
	snprintf(sock, sizeof(sock), "%s/lazy-pages.socket", self->work);
	append(lp, &n, 32, self->tls);
	if (shell("mkdir '%s' && cp '%s'/final/*.img '%s'/", final, self->src, final) ||
	    (parent && shell("ln -s ../%d '%s/parent'", parent, final)))
		return 0;
	self->daemon = spawn_to(lp, "/dev/null");
	if (self->daemon < 0 || !file_says(sock, NULL, 60))
		return 0;
	if (run_cmd(rs, self->err, sizeof(self->err))) {
		TH_LOG("criu restore: %s", self->err);
		snprintf(buf, sizeof(buf), "%s/restore.log", self->work);
		TH_LOG("restore.log: %s", file_tail(buf, 8, self->err, sizeof(self->err)));
		return 0;
	}
	pinned = proc_pipe_bytes(self->ms);	/* -1 if it is done already */
	EXPECT_GE(BUFFER, pinned);
	return read_text(pidfile, buf, sizeof(buf)) ? 0 : atoi(buf);
}

/*
 * Then: memsplice done, at least @min_pages served, criu lazy-pages done;
 * the source gone, the restored tree at @root verifies itself.
 */
static void destination_finish(struct __test_metadata *_metadata, FIXTURE_DATA(lazy) *self,
			       pid_t root, long min_pages)
{
	int nr = self->v.nr_pids, st;

	EXPECT_EQ(0, source_exit(self)) TH_LOG("memsplice: %s", self->err);
	EXPECT_LE(min_pages, pages_served(self)) TH_LOG("%s", self->err);
	TH_LOG("%s", served_line(self));
	ASSERT_EQ(self->daemon, waitpid(self->daemon, &st, 0));
	self->daemon = -1;
	EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);

	ASSERT_EQ(0, victim_reap(&self->v));
	ASSERT_EQ(nr, victim_adopt(&self->v, root));
	EXPECT_EQ(0, victim_verify_all(&self->v));
}

static void destination(struct __test_metadata *_metadata, FIXTURE_DATA(lazy) *self,
			int parent, long min_pages)
{
	pid_t root = destination_start(_metadata, self, parent);

	ASSERT_LT(0, root);
	destination_finish(_metadata, self, root, min_pages);
}

FIXTURE_SETUP(lazy)
{
	const char *why = migration_unusable() ?: method_skip(variant->method);

	memset(&self->v, 0, sizeof(self->v));
	self->ms = self->daemon = self->server = self->sk = -1;
	self->tls[0] = NULL;
	if (why) {
		snprintf(self->why, sizeof(self->why), "%s", why);
		SKIP(return, "%s", self->why);
	}
	ASSERT_EQ(0, twohosts_enter());
	self->dir = make_dir("lazy");
	ASSERT_NE(NULL, self->dir);
	snprintf(self->fifo, sizeof(self->fifo), "%s/victim.fifo", self->dir);
	snprintf(self->src, sizeof(self->src), "%s/src", self->dir);
	snprintf(self->dst, sizeof(self->dst), "%s/dst", self->dir);
	snprintf(self->work, sizeof(self->work), "%s/work", self->dir);
	snprintf(self->out, sizeof(self->out), "%s/memsplice.out", self->dir);
	ASSERT_EQ(0, mkdir(self->src, 0700));
	ASSERT_EQ(0, mkdir(self->dst, 0700));
	ASSERT_EQ(0, mkdir(self->work, 0700));
}

FIXTURE_TEARDOWN(lazy)
{
	for (pid_t *p = &self->ms; p <= &self->server; p++)
		if (*p > 0) {
			kill(*p, SIGKILL);
			waitpid(*p, NULL, 0);
		}
	if (self->sk >= 0)
		close(self->sk);
	victim_kill(&self->v);
	if (self->dir) {
		remove_dir(self->dir);
		netns_remove();
	}
	free(self->dir);
}

/* pure post-copy: no pass; every private anonymous page comes from the frozen source */
TEST_F_TIMEOUT(lazy, pure_postcopy_restores_exact, 300)
{
	const char *extra[] = { "--max-passes", "0", NULL };

	NEED_SETUP();
	ASSERT_EQ(0, start_victim(self, rich, 2, 4));
	ASSERT_LT(0, start_memsplice(self, memsplice_bin(), variant->method, extra));
	ASSERT_TRUE(file_says(self->out, "may start", 120)) {
		char log[900];

		read_text(self->out, self->err, sizeof(self->err));
		TH_LOG("memsplice: %s", self->err);
		snprintf(log, sizeof(log), "%s/final/dump.log", self->src);
		TH_LOG("dump.log: %s", file_tail(log, 8, self->err, sizeof(self->err)));
	}
	/* both processes' "anon", and more (THP, PROT_NONE, heaps, stacks) */
	destination(_metadata, self, 0, 2 * ANON);
}

/*
 * A process forked after the restore while its parent's pages are still
 * lazy: criu lazy-pages asks for the child's faults with the parent's id
 * (its handle_fork()), and memsplice serves them from the parent's frozen
 * memory.  64 MiB, so that criu's background transfer is far from done
 * when the child forks: its log must show the fork and a fault of the
 * child's (the child's userfaultfd) served; the child checks every page.
 */
TEST_F_TIMEOUT(lazy, child_forked_after_restore_served, 300)
{
	static const char *const big[] = { "--anon", "16384", "--nothp", NULL };
	const char *extra[] = { "--max-passes", "0", NULL };
	pid_t root;

	NEED_SETUP();
	FULL_PASS_ONLY(variant->method);
	ASSERT_EQ(0, start_victim(self, big, 1, 0));
	ASSERT_LT(0, start_memsplice(self, memsplice_bin(), variant->method, extra));
	ASSERT_TRUE(file_says(self->out, "may start", 120));
	root = destination_start(_metadata, self, 0);
	ASSERT_LT(0, root);
	EXPECT_EQ(0, victim_verify_forked(&self->v, root));
	destination_finish(_metadata, self, root, 16384);
	EXPECT_EQ(0, shell("awk '/FORK: child with ufd=/ { split($0, a, \"ufd=\"); u = a[2] + 0; next }"
			   " u && index($0, \"-\" u \": #PF at\") { f = 1 } END { exit !f }'"
			   " '%s/lazy.log'", self->work))
		TH_LOG("criu lazy-pages saw no fault of a forked child (%s/lazy.log)", self->work);
}

/* `criu page-server` in the destination namespace into dst/@n, parent dst/@prev if > 0 */
static pid_t server_start(FIXTURE_DATA(lazy) *self, int n, int prev)
{
	char dir[800], rel[16], out[900];
	const char *argv[32] = { "ip", "netns", "exec", NS_DST, criu_bin(), "page-server",
				 "-D", dir, "--address", DST_ADDR, "--port", PS_PORT, "-o",
				 "page-server.log" };
	const char *parent[] = { "--prev-images-dir", rel, NULL };
	int k = 14;

	append(argv, &k, 32, self->tls);
	if (prev)
		append(argv, &k, 32, parent);
	snprintf(dir, sizeof(dir), "%s/%d", self->dst, n);
	snprintf(rel, sizeof(rel), "../%d", prev);
	snprintf(out, sizeof(out), "%s.out", dir);
	mkdir(dir, 0700);
	self->server = spawn_to(argv, out);
	return self->server;
}

/*
 * The hybrid: two passes to the destination's page servers, the victim
 * dirtying a quarter of its memory and mapping a new region while the
 * second moves (a test build's hook holds it there), then criu's lazy dump:
 * what was dirtied comes lazily, the rest from the passes.  Until the
 * source says the destination may start; true then.
 */
static bool hybrid_source(struct __test_metadata *_metadata, FIXTURE_DATA(lazy) *self,
			  const char *method)
{
	const char *extra[] = { "--min-passes", "2", "--max-passes", "2", "--page-server",
				"--address", DST_ADDR, "--port", PS_PORT, NULL };
	char fdarg[16], word[16];
	int hook[2], hooks = 0, n = 1;
	bool ready = false;

	if (start_victim(self, rich, 2, 4) || socketpair(AF_UNIX, SOCK_STREAM, 0, hook))
		return false;
	snprintf(fdarg, sizeof(fdarg), "%d", hook[1]);
	setenv("MEMSPLICE_TEST_THAWED_FD", fdarg, 1);
	if (server_start(self, 1, 0) < 0 ||
	    start_memsplice(self, "./selftests/memsplice-test", method, extra) < 0)
		return false;
	close(hook[1]);
	/* one page server per pass, each on the one before; the hooks answered */
	for (double end = now_s() + 200; now_s() < end && !ready;) {
		struct pollfd p = { .fd = hook[0], .events = POLLIN };
		int st;

		if (poll(&p, 1, 20) == 1) {
			if (read(hook[0], word, sizeof(word)) <= 0)
				break;
			hooks++;
			for (int i = 0; hooks == 2 && i < self->v.nr_pids; i++)
				if (victim_dirty(&self->v, self->v.pids[i]))
					goto out;
			if (write(hook[0], "", 1) != 1)
				break;
		}
		if (self->server > 0 && waitpid(self->server, &st, WNOHANG) == self->server) {
			self->server = -1;
			if (!WIFEXITED(st) || WEXITSTATUS(st)) {
				char log[900];

				snprintf(log, sizeof(log), "%s/%d/page-server.log", self->dst, n);
				TH_LOG("page server %d failed: %s", n,
				       file_tail(log, 6, self->err, sizeof(self->err)));
				break;
			}
			if (n == 1 && server_start(self, ++n, 1) < 0)
				break;
		}
		if (waitpid(self->ms, NULL, WNOHANG) == self->ms) {
			self->ms = -1;
			break;
		}
		ready = file_says(self->out, "may start", 0);
	}
out:
	close(hook[0]);
	if (!ready || hooks != 2) {
		read_text(self->out, self->err, sizeof(self->err));
		TH_LOG("%d hooks; memsplice: %s", hooks,
		       strstr(self->err, "memsplice:") ?: self->err);
	}
	return ready && hooks == 2;
}

TEST_F_TIMEOUT(lazy, hybrid_restores_exact, 300)
{
	NEED_SETUP();
	ASSERT_TRUE(hybrid_source(_metadata, self, variant->method));
	/* what was dirtied: a quarter of each process's "anon" */
	destination(_metadata, self, 2, 2 * ANON / 4);
}

/*
 * The hybrid over TLS, each session of it: the passes to `criu
 * page-server --tls`, and the lazy pages to `criu lazy-pages --tls`.  A
 * stranger at the destination's address without TLS is refused first.
 */
TEST_F_TIMEOUT(lazy, hybrid_over_tls, 300)
{
	const char *stranger[] = { "ip", "netns", "exec", NS_DST, "timeout", "30", "bash", "-c",
				   "exec 3<>/dev/tcp/" SRC_ADDR "/" PORT "; echo hello >&3; "
				   "cat <&3 >/dev/null", NULL };
	char out[256];

	NEED_SETUP();
	FULL_PASS_ONLY(variant->method);
	ASSERT_EQ(0, tls_files_make(self->dir, self->certs, self->tls))
		TH_LOG("certtool failed (gnutls-bin)");
	ASSERT_TRUE(hybrid_source(_metadata, self, variant->method));
	/* it connects, and is closed (or reset) at its first bytes */
	run_cmd(stranger, out, sizeof(out));
	EXPECT_EQ(NULL, strstr(out, "connect")) TH_LOG("%s", out);
	ASSERT_TRUE(file_says(self->out, "refused a connection from " DST_ADDR, 10)) {
		read_text(self->out, self->err, sizeof(self->err));
		TH_LOG("memsplice: %s", self->err);
	}
	destination(_metadata, self, 2, 2 * ANON / 4);
}

/*
 * --lazy-peer: a connection from another host is refused and logged, the
 * peer's is served (pages checked), and then the listener is gone; CLOSE
 * ends the migration: the source tree is killed.
 */
TEST_F_TIMEOUT(lazy, stranger_refused_peer_served, 120)
{
	const char *extra[] = { "--lazy-peer", "127.0.0.2", NULL };
	char one;
	int32_t status = -1;
	struct hdr close_msg = { .cmd = CLOSE };
	const char *why;
	int stranger;

	NEED_SETUP();
	FULL_PASS_ONLY(variant->method);
	ASSERT_TRUE(start_source(_metadata, self, variant->method, extra));
	stranger = dial("127.0.0.1");
	ASSERT_LE(0, stranger);
	EXPECT_NE(1, recv(stranger, &one, 1, 0));	/* closed at once: 0 or -1 */
	close(stranger);
	self->sk = dial("127.0.0.2");
	ASSERT_LE(0, self->sk);
	why = get_pages(self->sk, self->anon->addr + 3 * VPAGE, 5, self->anon->seed);
	ASSERT_EQ(NULL, why) TH_LOG("%s", why);
	/* one session: nobody listens any more */
	EXPECT_EQ(-ECONNREFUSED, dial("127.0.0.2"));
	ASSERT_EQ(sizeof(close_msg), send(self->sk, &close_msg, sizeof(close_msg), 0));
	ASSERT_EQ(0, recv_all(self->sk, &status, sizeof(status)));
	EXPECT_EQ(0, status);
	EXPECT_EQ(0, source_exit(self)) TH_LOG("%s", self->err);
	EXPECT_NE(NULL, strstr(self->err, "refused a connection from 127.0.0.1"))
		TH_LOG("%s", self->err);
	EXPECT_EQ(5, pages_served(self)) TH_LOG("%s", self->err);
	EXPECT_EQ(0, victim_reap(&self->v));	/* the migration is over: killed */
}

/* the destination goes away mid-session: the source stays stopped, intact */
TEST_F_TIMEOUT(lazy, destination_gone_leaves_source_stopped, 120)
{
	NEED_SETUP();
	FULL_PASS_ONLY(variant->method);
	ASSERT_TRUE(serving(_metadata, self, variant->method, 1));
	close(self->sk);
	self->sk = -1;
	EXPECT_EQ(1, source_exit(self));
	EXPECT_NE(NULL, strstr(self->err, "closed the session before it had every page"))
		TH_LOG("%s", self->err);
	EXPECT_NE(NULL, strstr(self->err, "left stopped, never resumed")) TH_LOG("%s", self->err);
	source_stopped_intact(_metadata, self);
}

/* a destination that stops talking: --lazy-timeout ends the session */
/*
 * Requests criu's own page server would end the session on (its
 * page_pipe_read() finds nothing): pages outside any private mapping,
 * of a process the tree does not have.  Each ends it with one line
 * saying what was asked, the source stopped and intact.
 */
TEST_F_TIMEOUT(lazy, requests_outside_the_tree_end_session, 120)
{
	const struct { uint64_t vaddr, vpid; const char *says; } bad[] = {
		{ 0x10000, 1, "not in any private mapping" },
		{ 0, 1, "not in any private mapping" },
		{ 0, 999, "which the tree does not have" },
	};

	NEED_SETUP();
	FULL_PASS_ONLY(variant->method);
	for (unsigned int i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct hdr h = { GET, 1, bad[i].vaddr ?: self->anon->addr, bad[i].vpid }, a;

		ASSERT_TRUE(serving(_metadata, self, variant->method, 1));
		ASSERT_EQ(sizeof(h), send(self->sk, &h, sizeof(h), MSG_NOSIGNAL));
		EXPECT_NE(0, recv_all(self->sk, &a, sizeof(a)));	/* closed, no answer */
		close(self->sk);
		self->sk = -1;
		EXPECT_EQ(1, source_exit(self));
		EXPECT_NE(NULL, strstr(self->err, bad[i].says)) TH_LOG("%s", self->err);
		EXPECT_NE(NULL, strstr(self->err, "left stopped, never resumed"))
			TH_LOG("%s", self->err);
		source_stopped_intact(_metadata, self);
		victim_kill(&self->v);
		memset(&self->v, 0, sizeof(self->v));
		/* the next memsplice's output from its start (spawn_to truncates late) */
		ASSERT_EQ(0, shell("rm -rf '%s'/final* '%s'", self->src, self->out));
	}
}

TEST_F_TIMEOUT(lazy, stalled_destination_times_out, 120)
{
	const char *extra[] = { "--lazy-timeout", "1", NULL };
	struct hdr half = { GET, 1, 0, 1 };

	NEED_SETUP();
	FULL_PASS_ONLY(variant->method);
	ASSERT_TRUE(start_source(_metadata, self, variant->method, extra));
	self->sk = dial(NULL);
	ASSERT_LE(0, self->sk);
	ASSERT_EQ(10, send(self->sk, &half, 10, 0));	/* and never the rest */
	EXPECT_EQ(1, source_exit(self));
	EXPECT_NE(NULL, strstr(self->err, "moved nothing for 1 s")) TH_LOG("%s", self->err);
	EXPECT_NE(NULL, strstr(self->err, "left stopped, never resumed")) TH_LOG("%s", self->err);
	source_stopped_intact(_metadata, self);
}

/* memsplice killed while it serves: the tree stays stopped, nobody traces it */
TEST_F_TIMEOUT(lazy, killed_while_serving_leaves_source_stopped, 120)
{
	NEED_SETUP();
	FULL_PASS_ONLY(variant->method);
	ASSERT_TRUE(serving(_metadata, self, variant->method, 2));
	ASSERT_EQ(0, kill(self->ms, SIGKILL));
	EXPECT_EQ(-1, source_exit(self));
	source_stopped_intact(_metadata, self);
}

/*
 * Someone resumes the tree between criu's dump and memsplice's seize (a
 * test build's hook holds memsplice there), and it writes: nothing is
 * served, DIR/final becomes DIR/final.stale, the tree is left stopped.
 */
TEST_F_TIMEOUT(lazy, tree_ran_after_dump_refused, 120)
{
	const char *extra[] = { "--max-passes", "0", NULL };
	char fdarg[16], word[16] = "", final[800], stale[800];
	struct pollfd p;
	int hook[2];

	NEED_SETUP();
	FULL_PASS_ONLY(variant->method);
	ASSERT_EQ(0, start_victim(self, small, 1, 0));
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, hook));
	snprintf(fdarg, sizeof(fdarg), "%d", hook[1]);
	setenv("MEMSPLICE_TEST_RELEASED_FD", fdarg, 1);
	ASSERT_LT(0, start_memsplice(self, "./selftests/memsplice-test", variant->method, extra));
	close(hook[1]);
	p = (struct pollfd){ .fd = hook[0], .events = POLLIN };
	ASSERT_EQ(1, poll(&p, 1, 120 * 1000));
	ASSERT_LT(0, read(hook[0], word, sizeof(word) - 1));
	ASSERT_EQ(0, strcmp(word, "released\n"));
	/* criu let it go, stopped: resumed, it writes, and stops again */
	ASSERT_EQ('T', proc_state_settled(self->v.pid, 'T', 5000));
	ASSERT_EQ(0, victim_cont_all(&self->v));
	ASSERT_EQ(0, victim_dirty(&self->v, self->v.pid));
	ASSERT_EQ(0, kill(self->v.pid, SIGSTOP));
	ASSERT_EQ('T', proc_state_settled(self->v.pid, 'T', 5000));
	ASSERT_EQ(1, write(hook[0], "", 1));
	EXPECT_EQ(1, source_exit(self));
	close(hook[0]);
	EXPECT_NE(NULL, strstr(self->err, "the tree ran after criu's dump")) TH_LOG("%s", self->err);
	EXPECT_EQ(NULL, strstr(self->err, "may start")) TH_LOG("%s", self->err);
	snprintf(final, sizeof(final), "%s/final", self->src);
	snprintf(stale, sizeof(stale), "%s/final.stale", self->src);
	EXPECT_NE(0, access(final, F_OK));
	EXPECT_EQ(0, access(stale, F_OK));
	source_stopped_intact(_metadata, self);
}

/*
 * Threads with rseq areas (glibc registers one per thread; the victim's
 * are off): the kernel rewrites them while criu's parasite runs, after
 * criu cleared the soft-dirty bits.  That is not the tree running: the
 * source serves.
 */
TEST_F_TIMEOUT(lazy, rseq_writes_are_not_running, 120)
{
	const char *wargs[] = { "--mib", "8", "--rate", "1", "--nothp", "--shared-mib", "0",
				NULL };
	const char *extra[] = { "--max-passes", "0", NULL };
	struct writer w;

	NEED_SETUP();
	FULL_PASS_ONLY(variant->method);
	ASSERT_EQ(0, writer_start_ns(&w, wargs, -1, true));
	snprintf(self->pid, sizeof(self->pid), "%d", w.pid);
	self->v.pid = w.pid;	/* killed by the teardown */
	ASSERT_LT(0, start_memsplice(self, memsplice_bin(), variant->method, extra));
	EXPECT_TRUE(file_says(self->out, "may start", 120)) {
		read_text(self->out, self->err, sizeof(self->err));
		TH_LOG("memsplice: %s", self->err);
	}
}

/* criu's dump fails (an option it does not know): the source runs on */
TEST_F_TIMEOUT(lazy, criu_dump_failing_resumes_source, 120)
{
	const char *extra[] = { "--max-passes", "0", "--", "--no-such-criu-option", NULL };

	NEED_SETUP();
	FULL_PASS_ONLY(variant->method);
	ASSERT_EQ(0, start_victim(self, small, 1, 0));
	ASSERT_LT(0, start_memsplice(self, memsplice_bin(), variant->method, extra));
	EXPECT_EQ(1, source_exit(self));
	EXPECT_NE(NULL, strstr(self->err, "criu dump --lazy-pages failed")) TH_LOG("%s", self->err);
	EXPECT_EQ(0, proc_tracer(self->v.pid));
	EXPECT_NE('T', proc_state(self->v.pid));
	EXPECT_EQ(0, victim_verify_all(&self->v));
}

TEST_HARNESS_MAIN
