// SPDX-License-Identifier: GPL-2.0
/*
 * Pre-copy migration over the network: memsplice streams its pre-dumps to
 * `criu page-server` (CRIU's protocol), criu's final dump goes there too,
 * and the tree is restored at the destination, where every restored
 * process checks its whole memory.
 *
 * Two network namespaces joined by a veth pair stand for two machines
 * (10.99.0.1 the source, 10.99.0.2 the destination; both exist only for
 * the test).  The test process joins the source namespace, so the victim,
 * memsplice and criu dump run there; every `criu page-server` and the
 * restore run in the destination one.  A page server serves one session,
 * so one is started per pass, each with --prev-images-dir of the one
 * before, as with criu alone.
 *
 * The faults: no server, a server killed mid-stream, a server that stops
 * reading (backpressure), one that never answers, one of the other header
 * layout, one without the parent memsplice builds on.  Each must end with
 * one error line, exit status 1, no local image set that looks complete,
 * a destination server that did not complete its session, and the tree
 * running, untraced, its memory verified by itself.
 *
 * Every method runs predumps_then_criu_dump and the faults that strike
 * while pages move (server killed, stalled, without the parent); those
 * refused before the freeze, and checkpoint_command, are FULL_PASS_ONLY.
 *
 * Needs soft-dirty, a criu that runs here (3.17 in the 6.1 guest), `ip`
 * and network namespaces with veth: every test skips elsewhere (the host).
 */
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
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

#define PE_PARENT	1u
#define PE_PRESENT	4u

#define PORT		27027
#define PORT_STR	"27027"

#define ANON		256			/* pages of each victim's "anon" */
#define DIRTY		(ANON / 4)		/* pages a victim_dirty() writes there */
#define CLEAN		(ANON - DIRTY)
#define BIG		"16384"			/* 64 MiB: more than the socket buffers */
#define TIMEOUT		"3"			/* --page-server-timeout of the fault cases */

FIXTURE(migrate) {
	struct victim v;
	char *dir;		/* src/N: memsplice's and criu's passes, dst/N: the servers' */
	char fifo[512];
	char err[4096];
	char why[200];
	pid_t server;		/* the page server running now, 0 if none */
	pid_t fake;		/* a fake server (fault cases) */
};

FIXTURE_VARIANT(migrate) {
	const char *method;
};

FIXTURE_VARIANT_ADD(migrate, read) { .method = "read" };
FIXTURE_VARIANT_ADD(migrate, device) { .method = "device" };
FIXTURE_VARIANT_ADD(migrate, parasite) { .method = "parasite" };
FIXTURE_VARIANT_ADD(migrate, syscall) { .method = "syscall" };

FIXTURE_SETUP(migrate)
{
	const char *why = migration_unusable();
	char path[600];

	if (why) {
		snprintf(self->why, sizeof(self->why), "%s", why);
		SKIP(return, "%s", self->why);
	}
	const char *skip = method_skip(variant->method);

	if (skip) {
		snprintf(self->why, sizeof(self->why), "%s", skip);
		SKIP(return, "%s", self->why);
	}
	ASSERT_EQ(0, twohosts_enter());
	self->dir = make_dir("migrate");
	ASSERT_NE(NULL, self->dir);
	snprintf(self->fifo, sizeof(self->fifo), "%s/report", self->dir);
	snprintf(path, sizeof(path), "%s/src", self->dir);
	ASSERT_EQ(0, mkdir(path, 0755));
	snprintf(path, sizeof(path), "%s/dst", self->dir);
	ASSERT_EQ(0, mkdir(path, 0755));
}

static int reap(pid_t *pid, double seconds);

FIXTURE_TEARDOWN(migrate)
{
	victim_kill(&self->v);
	if (self->server > 0)
		reap(&self->server, 0);
	if (self->fake > 0)
		reap(&self->fake, 0);
	if (self->dir && getenv("MEMSPLICE_KEEP"))
		TH_LOG("kept %s (MEMSPLICE_KEEP)", self->dir);
	else if (self->dir)
		remove_dir(self->dir);
	if (self->dir)
		netns_remove();
}

/* @side/@n below the test's directory ("src" or "dst"), created if missing */
static const char *level(FIXTURE_DATA(migrate) *self, const char *side, int n, char *buf,
			 size_t len)
{
	snprintf(buf, len, "%s/%s/%d", self->dir, side, n);
	mkdir(buf, 0755);
	return buf;
}

static bool has_file(const char *dir, const char *name)
{
	char p[2048];

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	return !access(p, F_OK);
}

static int count_lines(const char *s)
{
	int n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

static void log_tail(struct __test_metadata *_metadata, const char *dir, const char *log)
{
	char path[700], tail[2048];

	snprintf(path, sizeof(path), "%s/%s", dir, log);
	TH_LOG("last lines of %s:\n%s", path, file_tail(path, 12, tail, sizeof(tail)));
}

/*
 * Wait for @pid at most @seconds: its exit status, 128 + signal, or -1
 * when it did not end in time (it is killed then).  *@pid becomes 0.
 */
static int reap(pid_t *pid, double seconds)
{
	double end = now_s() + seconds;
	int st;

	while (*pid > 0) {
		pid_t r = waitpid(*pid, &st, WNOHANG);

		if (r == *pid) {
			*pid = 0;
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		}
		if (r < 0 || now_s() > end) {
			kill(*pid, SIGKILL);
			waitpid(*pid, NULL, 0);
			*pid = 0;
			return -1;
		}
		usleep(5000);
	}
	return -1;
}

/* `criu page-server` in the destination namespace into dst/@n, parent dst/@prev if > 0 */
static void server_start(FIXTURE_DATA(migrate) *self, int n, int prev)
{
	char dir[600], rel[16], out[700];
	const char *argv[] = { "ip", "netns", "exec", NS_DST, criu_bin(), "page-server",
			       "-D", level(self, "dst", n, dir, sizeof(dir)), "--address", DST_ADDR,
			       "--port", PORT_STR, "-o", "page-server.log", "-v4",
			       prev ? "--prev-images-dir" : NULL, rel, NULL };

	snprintf(rel, sizeof(rel), "../%d", prev);
	snprintf(out, sizeof(out), "%s/page-server.out", dir);
	self->server = spawn_to(argv, out);
}

/* until @pid (its network namespace) listens on PORT; 0 or -1 after @seconds */
static int wait_listening(pid_t pid, double seconds)
{
	char path[64], line[512];
	double end = now_s() + seconds;

	snprintf(path, sizeof(path), "/proc/%d/net/tcp", pid);
	while (now_s() < end) {
		FILE *f = fopen(path, "re");
		unsigned int port, state;

		if (!f)
			return -1;
		while (fgets(line, sizeof(line), f))
			if (sscanf(line, " %*d: %*x:%x %*x:%*x %x", &port, &state) == 2 &&
			    port == PORT && state == 0x0A) {
				fclose(f);
				return 0;
			}
		fclose(f);
		usleep(10000);
	}
	return -1;
}

static int start_victim(FIXTURE_DATA(migrate) *self, const char *const *args, int nr_ready,
			int nr_threads)
{
	struct victim_opts o = { .fifo = self->fifo, .detach = true };

	return victim_start_opts(&self->v, args, nr_ready, nr_threads, &o);
}

/*
 * memsplice pre-dump --track-mem of the victim into src/@n (on src/@prev if
 * > 0), pages to the server, then @extra (NULL-terminated, at most 6):
 * into @args (40 entries) from index @at.
 */
struct ms_args {
	const char *args[40];
	char pid[16], dir[600], rel[16];
};

static void predump_args(FIXTURE_DATA(migrate) *self, const FIXTURE_VARIANT(migrate) *variant,
			 int n, int prev, const char *const *extra, struct ms_args *a, int at)
{
	const char *fixed[] = { "pre-dump", "-t", a->pid, "-D", a->dir, "--track-mem",
				"--method", variant->method, "--page-server", "--address", DST_ADDR,
				"--port", PORT_STR };
	int k = at;

	snprintf(a->pid, sizeof(a->pid), "%d", self->v.pid);
	level(self, "src", n, a->dir, sizeof(a->dir));
	snprintf(a->rel, sizeof(a->rel), "../%d", prev);
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		a->args[k++] = fixed[i];
	if (prev) {
		a->args[k++] = "--prev-images-dir";
		a->args[k++] = a->rel;
	}
	for (int i = 0; extra && extra[i] && i < 6; i++)
		a->args[k++] = extra[i];
	a->args[k] = NULL;
}

/* run it; its exit status, stderr in self->err */
static int predump(struct __test_metadata *_metadata, FIXTURE_DATA(migrate) *self,
		   const FIXTURE_VARIANT(migrate) *variant, int n, int prev,
		   const char *const *extra)
{
	struct ms_args a;
	int ret;

	predump_args(self, variant, n, prev, extra, &a, 0);
	ret = run_memsplice(a.args, self->err, sizeof(self->err), -1);
	if (ret)
		TH_LOG("memsplice pre-dump into src/%d: exit %d: %s", n, ret, self->err);
	return ret;
}

/* start it in the background (no parent), stderr into src/@n.err; bg_err() reads it */
static pid_t predump_bg(FIXTURE_DATA(migrate) *self, const FIXTURE_VARIANT(migrate) *variant,
			int n, const char *const *extra)
{
	char err[700];
	struct ms_args a;

	a.args[0] = memsplice_bin();
	predump_args(self, variant, n, 0, extra, &a, 1);
	snprintf(err, sizeof(err), "%s/src/%d.err", self->dir, n);
	return spawn_to(a.args, err);
}

static void bg_err(FIXTURE_DATA(migrate) *self, int n)
{
	char path[700];
	FILE *f;
	size_t len;

	snprintf(path, sizeof(path), "%s/src/%d.err", self->dir, n);
	self->err[0] = '\0';
	f = fopen(path, "re");
	if (!f)
		return;
	len = fread(self->err, 1, sizeof(self->err) - 1, f);
	self->err[len] = '\0';
	fclose(f);
}

/* pages of @pid's region @name in dst/@n's own pagemap that have @flags */
static long count(FIXTURE_DATA(migrate) *self, int n, pid_t pid, const char *name,
		  unsigned int flags)
{
	struct vregion *r = victim_region(&self->v, pid, name);
	struct dump_view dv;
	char dir[600];
	long c;

	if (!r || dump_view_open(&dv, level(self, "dst", n, dir, sizeof(dir)), pid, false))
		return -1;
	c = dump_view_count(&dv, r->addr, r->addr + r->pages * VPAGE, flags);
	dump_view_close(&dv);
	return c;
}

/* @pid's region @name read through dst/@n's chain equals the pattern (generation @gen) */
static long chain_check(FIXTURE_DATA(migrate) *self, int n, pid_t pid, const char *name, int gen,
			uint64_t *bad)
{
	struct vregion *r = victim_region(&self->v, pid, name);
	struct dump_view dv;
	char dir[600];
	long c;

	if (!r || dump_view_open(&dv, level(self, "dst", n, dir, sizeof(dir)), pid, false))
		return -1;
	c = check_region(&dv, r, 0, gen, bad);
	dump_view_close(&dv);
	return c;
}

/*
 * What travels besides the pages: every file criu's final dump wrote into
 * src/@from (not its log), copied into dst/@to, whose pagemaps and pages
 * the page server wrote.  The number of files copied, -1 on error.
 */
static int copy_images(FIXTURE_DATA(migrate) *self, const char *from, int to)
{
	char src[600], dst[600];
	struct dirent *de;
	int copied = 0;
	DIR *d;

	snprintf(src, sizeof(src), "%s/src/%s", self->dir, from);
	d = opendir(src);
	if (!d)
		return -1;
	level(self, "dst", to, dst, sizeof(dst));
	while ((de = readdir(d))) {
		if (de->d_type != DT_REG || strstr(de->d_name, ".log"))
			continue;
		if (has_file(dst, de->d_name) ||
		    shell("cp '%s/%s' '%s/'", src, de->d_name, dst)) {
			copied = -1;	/* the server wrote it, or cp failed */
			break;
		}
		copied++;
	}
	closedir(d);
	return copied;
}

/*
 * The tree is gone from the source (criu dump killed it): restore dst/@n
 * in the destination namespace, adopt the restored tree, have every process
 * verify itself.
 */
static void restore_and_verify(struct __test_metadata *_metadata, FIXTURE_DATA(migrate) *self,
			       int n)
{
	char dir[600], pidfile[700], line[32];
	const char *args[] = { "ip", "netns", "exec", NS_DST, criu_bin(), "restore", "-D", dir,
			       "-d", "-o", "restore.log", "--pidfile", pidfile, NULL };
	int nr = self->v.nr_pids, ret;
	pid_t root = 0;
	FILE *f;

	level(self, "dst", n, dir, sizeof(dir));
	ASSERT_EQ(0, victim_reap(&self->v));
	snprintf(pidfile, sizeof(pidfile), "%s/restore.pid", dir);
	ret = run_cmd(args, self->err, sizeof(self->err));
	EXPECT_EQ(0, ret) {
		TH_LOG("criu restore from dst/%d: exit %d: %s", n, ret, self->err);
		log_tail(_metadata, dir, "restore.log");
	}
	ASSERT_EQ(0, ret);
	f = fopen(pidfile, "re");
	ASSERT_NE(NULL, f);
	if (fgets(line, sizeof(line), f))
		root = atoi(line);
	fclose(f);
	ASSERT_LT(0, root);
	ASSERT_EQ(nr, victim_adopt(&self->v, root));
	EXPECT_EQ(0, victim_verify_all(&self->v)) {
		TH_LOG("a restored process did not verify its memory");
	}
}

/* the fault cases' common end: one line naming it, tree unharmed, nothing complete */
#define EXPECT_CLEAN_FAILURE(ret, what, n) do { \
	char _d[600]; \
	EXPECT_EQ(1, ret); \
	EXPECT_EQ(1, count_lines(self->err)) { TH_LOG("stderr: %s", self->err); } \
	EXPECT_NE(NULL, strstr(self->err, what)) { TH_LOG("stderr: %s", self->err); } \
	EXPECT_FALSE(has_file(level(self, "src", n, _d, sizeof(_d)), "inventory.img")); \
	for (int _i = 0; _i < self->v.nr_pids; _i++) { \
		EXPECT_EQ(0, proc_tracer(self->v.pids[_i])); \
		EXPECT_NE('t', proc_state(self->v.pids[_i])); \
		EXPECT_NE('T', proc_state(self->v.pids[_i])); \
	} \
	EXPECT_EQ(0, victim_verify_all(&self->v)); \
} while (0)

static const char *const rich[] = { "--anon", "256", "--nothp", "--file", "32", "--shared", "32",
				    "--protnone", "16", "--threads", "2", "--children", "1", NULL };
static const char *const big[] = { "--anon", BIG, NULL };

/* the other process of a two-process victim */
static pid_t child_of(const struct victim *v)
{
	for (int i = 0; i < v->nr_pids; i++)
		if (v->pids[i] != v->pid)
			return v->pids[i];
	return -1;
}

TEST_F_TIMEOUT(migrate, predumps_then_criu_dump, 900)
{
	char pid[16], src[600], dst[600];
	const char *dump[] = { criu_bin(), "dump", "-t", pid, "-D", src, "--track-mem",
			       "--prev-images-dir", "../2", "-o", "dump.log", "-v4",
			       "--page-server", "--address", DST_ADDR, "--port", PORT_STR, NULL };
	uint64_t bad = 0;
	pid_t root, child;
	int ret;

	NEED_SETUP();
	ASSERT_EQ(0, start_victim(self, rich, 2, 4));
	root = self->v.pid;
	child = child_of(&self->v);
	ASSERT_LT(0, child);

	/* pass 1: everything */
	server_start(self, 1, 0);
	ASSERT_EQ(0, predump(_metadata, self, variant, 1, 0, NULL));
	EXPECT_EQ(0, reap(&self->server, 60));
	EXPECT_EQ(ANON, count(self, 1, root, "anon", PE_PRESENT));
	/* the pages went to the server; the source keeps the pagemaps, no pages */
	level(self, "src", 1, src, sizeof(src));
	EXPECT_TRUE(has_file(src, "inventory.img"));
	snprintf(dst, sizeof(dst), "pagemap-%d.img", root);
	EXPECT_TRUE(has_file(src, dst));
	EXPECT_EQ(0, pages_bytes(src));
	EXPECT_LT(ANON * VPAGE, pages_bytes(level(self, "dst", 1, dst, sizeof(dst))));

	/* pass 2: what the victim wrote since; the rest from the server's parent */
	ASSERT_EQ(0, victim_dirty(&self->v, root));
	server_start(self, 2, 1);
	ASSERT_EQ(0, predump(_metadata, self, variant, 2, 1, NULL));
	EXPECT_EQ(0, reap(&self->server, 60));
	EXPECT_EQ(CLEAN, count(self, 2, root, "anon", PE_PARENT));
	EXPECT_EQ(DIRTY, count(self, 2, root, "anon", PE_PRESENT));
	EXPECT_EQ(ANON, chain_check(self, 2, root, "anon", 1, &bad)) {
		TH_LOG("anon page %#lx wrong through the server's chain", (unsigned long)bad);
	}

	/* criu's final dump from the source, pages to the destination */
	ASSERT_EQ(0, victim_dirty(&self->v, root));
	server_start(self, 3, 2);
	ASSERT_EQ(0, wait_listening(self->server, 60));
	snprintf(pid, sizeof(pid), "%d", root);
	level(self, "src", 3, src, sizeof(src));
	ret = run_cmd(dump, self->err, sizeof(self->err));
	EXPECT_EQ(0, ret) {
		TH_LOG("criu dump --page-server: exit %d: %s", ret, self->err);
		log_tail(_metadata, src, "dump.log");
	}
	ASSERT_EQ(0, ret);
	ASSERT_EQ(0, reap(&self->server, 60)) {
		log_tail(_metadata, level(self, "dst", 3, dst, sizeof(dst)), "page-server.log");
	}
	/* criu built on memsplice's passes at the destination */
	EXPECT_EQ(CLEAN, count(self, 3, root, "anon", PE_PARENT)) {
		TH_LOG("criu's final dump did not use memsplice's passes as its parent");
	}
	EXPECT_EQ(DIRTY, count(self, 3, root, "anon", PE_PRESENT));
	EXPECT_EQ(ANON, count(self, 3, child, "anon", PE_PARENT));
	EXPECT_EQ(ANON, chain_check(self, 3, root, "anon", 2, &bad)) {
		TH_LOG("anon page %#lx wrong through the destination's chain", (unsigned long)bad);
	}
	EXPECT_EQ(ANON, chain_check(self, 3, child, "anon", 0, &bad));
	ASSERT_LT(3, copy_images(self, "3", 3));
	restore_and_verify(_metadata, self, 3);
}

TEST_F_TIMEOUT(migrate, checkpoint_command, 900)
{
	/* each method's passes to the server under criu: predumps_then_criu_dump */
	FULL_PASS_ONLY(variant->method);
	char pid[16], errf[700], dir[600];
	const char *args[] = { memsplice_bin(), "checkpoint", "-t", pid, "-D", dir, "--method",
			       variant->method, "--max-passes", "3", "--page-server",
			       "--address", DST_ADDR, "--port", PORT_STR, NULL };
	pid_t ckpt;
	int n = 1, last = 0, ret = -1, st;

	NEED_SETUP();
	ASSERT_EQ(0, start_victim(self, rich, 2, 4));
	snprintf(pid, sizeof(pid), "%d", self->v.pid);
	snprintf(dir, sizeof(dir), "%s/src", self->dir);
	snprintf(errf, sizeof(errf), "%s/checkpoint.err", self->dir);
	ckpt = spawn_to(args, errf);
	ASSERT_LT(0, ckpt);

	/*
	 * The destination's side: one page server per session, each on the
	 * one before, until the source is done.  checkpoint waits for each.
	 */
	server_start(self, n, 0);
	for (double end = now_s() + 800; now_s() < end;) {
		pid_t r = waitpid(ckpt, &st, WNOHANG);

		if (r == ckpt) {
			ret = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
			break;
		}
		if (self->server > 0 && waitpid(self->server, &st, WNOHANG) == self->server) {
			self->server = 0;
			if (!WIFEXITED(st) || WEXITSTATUS(st))
				break;
			last = n;
			server_start(self, ++n, last);
		}
		usleep(5000);
	}
	/* the final dump's server ends when criu closes; a next one never gets a session */
	if (self->server > 0 && !reap(&self->server, 10))
		last = n;
	if (ret < 0)
		reap(&ckpt, 0);
	ASSERT_EQ(0, ret) {
		TH_LOG("checkpoint: exit %d: %s", ret, file_tail(errf, 5, self->err,
								   sizeof(self->err)));
		log_tail(_metadata, dir, "final/dump.log");
	}
	/* passes 1..K, then criu's: at least one pass and the final */
	ASSERT_LE(2, last);
	EXPECT_LT(0, count(self, last, self->v.pid, "anon", PE_PARENT)) {
		TH_LOG("criu's final dump took nothing from memsplice's passes");
	}
	level(self, "dst", last - 1, dir, sizeof(dir));
	EXPECT_LT(0, pages_bytes(dir));
	/* the final images: from src/final to the server's last directory */
	ASSERT_LT(3, copy_images(self, "final", last));
	restore_and_verify(_metadata, self, last);
}

TEST_F_TIMEOUT(migrate, server_absent, 300)
{
	FULL_PASS_ONLY(variant->method);
	const char *extra[] = { "--page-server-timeout", TIMEOUT, NULL };
	double t0;
	int ret;

	NEED_SETUP();
	ASSERT_EQ(0, start_victim(self, big, 1, 0));
	t0 = now_s();
	ret = predump(_metadata, self, variant, 1, 0, extra);
	/* refused connections are retried for the timeout, then given up */
	EXPECT_GT(atoi(TIMEOUT) + 30, now_s() - t0);
	EXPECT_CLEAN_FAILURE(ret, "no page server at " DST_ADDR, 1);
}

TEST_F_TIMEOUT(migrate, server_killed_mid_stream, 300)
{
	const char *extra[] = { "--buffer-size", "256K", NULL };
	char dst[600];
	pid_t ms;
	int ret = -1;

	NEED_SETUP();
	ASSERT_EQ(0, start_victim(self, big, 1, 0));
	server_start(self, 1, 0);
	ms = predump_bg(self, variant, 1, extra);
	ASSERT_LT(0, ms);
	/* some pages are at the destination, most are not: kill the server */
	level(self, "dst", 1, dst, sizeof(dst));
	for (double end = now_s() + 120; now_s() < end && pages_bytes(dst) < (1 << 20);)
		usleep(2000);
	ASSERT_LE(1 << 20, pages_bytes(dst));
	kill(self->server, SIGKILL);
	EXPECT_EQ(128 + SIGKILL, reap(&self->server, 30));
	ret = reap(&ms, 120);
	bg_err(self, 1);
	EXPECT_GT(16384L * 4096, pages_bytes(dst)) {
		TH_LOG("the server had every page before it was killed: no mid-stream fault");
	}
	EXPECT_CLEAN_FAILURE(ret, "closed the connection", 1);
}

/*
 * A fake page server in the destination namespace.  @answer: reply to the
 * probe and to OPEN2 as criu 3.17 would, then stop reading; without it,
 * accept and never read or answer.  Says "A" on @note once it stops.
 */
static pid_t fake_server(bool answer, int note)
{
	pid_t pid = fork();

	if (pid == 0) {
		struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(PORT) };
		char buf[48] = { 0 };
		int sk, c, one = 1;

		if (netns_enter(NS_DST))
			_exit(1);
		inet_pton(AF_INET, DST_ADDR, &sa.sin_addr);
		sk = socket(AF_INET, SOCK_STREAM, 0);
		setsockopt(sk, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (sk < 0 || bind(sk, (struct sockaddr *)&sa, sizeof(sa)) || listen(sk, 1))
			_exit(2);
		c = accept(sk, NULL, NULL);
		if (c < 0)
			_exit(3);
		/* probe: two 24-byte PARENT -> two ints; OPEN2 -> one byte */
		if (answer && (recv(c, buf, 48, MSG_WAITALL) != 48 || send(c, "\0\0\0\0\0\0\0\0", 8, 0) != 8 ||
			       recv(c, buf, 24, MSG_WAITALL) != 24 || send(c, "", 1, 0) != 1))
			_exit(4);
		if (write(note, "A", 1) != 1)
			_exit(5);
		for (;;)
			pause();
	}
	return pid;
}

static int wait_note(int fd, int seconds)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char c;

	return poll(&p, 1, seconds * 1000) == 1 && read(fd, &c, 1) == 1 ? 0 : -1;
}

TEST_F_TIMEOUT(migrate, server_stops_reading, 300)
{
	const char *extra[] = { "--page-server-timeout", TIMEOUT, NULL };
	int note[2];
	double t0;
	pid_t ms;
	int ret;

	NEED_SETUP();
	ASSERT_EQ(0, start_victim(self, big, 1, 0));
	ASSERT_EQ(0, pipe(note));
	self->fake = fake_server(true, note[1]);
	ASSERT_LT(0, self->fake);
	t0 = now_s();
	ms = predump_bg(self, variant, 1, extra);
	ASSERT_LT(0, ms);
	/* the server opened a pagemap and reads no more: the socket fills up */
	ASSERT_EQ(0, wait_note(note[0], 120));
	if (strcmp(variant->method, "parasite")) {
		/* the tree was resumed before the first page went out */
		usleep(500000);
		for (int i = 0; i < self->v.nr_pids; i++) {
			EXPECT_EQ(0, proc_tracer(self->v.pids[i])) {
				TH_LOG("the tree is traced while the server stalls");
			}
		}
	}
	ret = reap(&ms, 120);
	bg_err(self, 1);
	/* the send timeout ends it (TCG is slow: a wide margin) */
	EXPECT_GT(atoi(TIMEOUT) + 60, now_s() - t0);
	EXPECT_CLEAN_FAILURE(ret, "stalled", 1);
}

TEST_F_TIMEOUT(migrate, server_never_answers, 300)
{
	FULL_PASS_ONLY(variant->method);
	const char *extra[] = { "--page-server-timeout", TIMEOUT, NULL };
	int note[2];
	pid_t ms;
	int ret;

	NEED_SETUP();
	ASSERT_EQ(0, start_victim(self, big, 1, 0));
	ASSERT_EQ(0, pipe(note));
	self->fake = fake_server(false, note[1]);
	ASSERT_LT(0, self->fake);
	ms = predump_bg(self, variant, 1, extra);
	ASSERT_LT(0, ms);
	ASSERT_EQ(0, wait_note(note[0], 120));
	/* the server is checked before the tree is frozen: it never was */
	for (int i = 0; i < self->v.nr_pids; i++)
		EXPECT_EQ(0, proc_tracer(self->v.pids[i]));
	ret = reap(&ms, 120);
	bg_err(self, 1);
	EXPECT_CLEAN_FAILURE(ret, "did not answer", 1);
}

TEST_F_TIMEOUT(migrate, wrong_header_layout, 300)
{
	/* refused at the first request, before the freeze */
	FULL_PASS_ONLY(variant->method);
	const char *extra[] = { "--page-server-criu", "4.2", NULL };
	char dst[600];
	int ret;

	NEED_SETUP();
	ASSERT_EQ(0, start_victim(self, big, 1, 0));
	server_start(self, 1, 0);
	ret = predump(_metadata, self, variant, 1, 0, extra);
	EXPECT_CLEAN_FAILURE(ret, "--page-server-criu 3.17", 1);
	/* criu 3.17's server read garbage and gave up: nothing there either */
	EXPECT_NE(0, reap(&self->server, 60));
	EXPECT_EQ(0, pages_bytes(level(self, "dst", 1, dst, sizeof(dst))));
}

TEST_F_TIMEOUT(migrate, server_without_parent, 600)
{
	uint64_t bad = 0;
	char dst[600];
	int ret;

	NEED_SETUP();
	ASSERT_EQ(0, start_victim(self, rich, 2, 4));
	server_start(self, 1, 0);
	ASSERT_EQ(0, predump(_metadata, self, variant, 1, 0, NULL));
	ASSERT_EQ(0, reap(&self->server, 60));
	ASSERT_EQ(0, victim_dirty(&self->v, self->v.pid));
	/* the next server was started without --prev-images-dir: memsplice refuses */
	level(self, "dst", 2, dst, sizeof(dst));
	server_start(self, 2, 0);
	ret = predump(_metadata, self, variant, 2, 1, NULL);
	EXPECT_CLEAN_FAILURE(ret, "has no parent pagemap", 2);
	/* the server got no PS_IOV_CLOSE: it reports the pass as failed */
	EXPECT_NE(0, reap(&self->server, 60)) {
		log_tail(_metadata, dst, "page-server.log");
	}
	/*
	 * Pass 2 again, into the same directories (the destination's emptied),
	 * on a server with the parent: it had cleared soft-dirty, so this time
	 * nothing may come from the parent, and everything reads right.
	 */
	ASSERT_EQ(0, shell("rm -rf '%s'/*", dst));
	server_start(self, 2, 1);
	ASSERT_EQ(0, predump(_metadata, self, variant, 2, 1, NULL));
	EXPECT_EQ(0, reap(&self->server, 60));
	EXPECT_EQ(0, count(self, 2, self->v.pid, "anon", PE_PARENT));
	EXPECT_EQ(ANON, chain_check(self, 2, self->v.pid, "anon", 1, &bad));
}

TEST_HARNESS_MAIN
