// SPDX-License-Identifier: GPL-2.0
/*
 * memsplice-criu (user/front/), the criu binary given to container engines.
 *
 * Host (a stand-in criu, selftests/lib/fakecriu, records what it is handed):
 * a request that is not a pre-dump, one that cannot be decoded and a
 * pre-dump asking for what only criu does reach the real criu unread, with
 * our command line; other command lines too.  A pre-dump memsplice fails
 * is answered as criu answers (success false, the reason in cr_errmsg, the
 * log in the work directory); a log file name with a '/' is refused as
 * criu refuses it; the front refuses to be its own criu.
 *
 * Where criu runs, the real criu given a broken request ends the session
 * (or answers it) and exits non-zero: the engine never hangs.  And criu's
 * own sequence in one session (p.haul's): a PRE_DUMP the front performs,
 * then a DUMP it hands criu mid-session, which takes the unchanged pages
 * from the pre-dump (PE_PARENT counted) and leaves the victim running and
 * intact; after a PRE_DUMP, any other request is "Bad req seq", as in
 * criu's pre_dump_loop.
 *
 * 6.1 guest (criu, runc and podman run there): a container whose process filled
 * its memory is pre-dumped twice by `runc --criu FRONT checkpoint
 * --pre-dump` (memsplice did it: its line in each log, no criu line),
 * dumped by runc's final checkpoint (criu's, through the front) on top of
 * them, with the pages it did not write since counted as PE_PARENT, then
 * restored by `runc restore`, where the process verifies every page.  The
 * same through podman (its store in the test's directory): one
 * `--pre-checkpoint` (memsplice's), `--with-previous` (criu's, PE_PARENT
 * counted), `podman container restore`, every page verified.
 */
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "lib/imgview.h"
#include "lib/twohosts.h"
#include "lib/vtest.h"
#include "rpc.pb-c.h"

#define FRONT		"./user/memsplice-criu"
#define FAKE		"./selftests/lib/fakecriu"
#define PE_PARENT	1u
#define PE_PRESENT	4u
#define ANON		256			/* the container victim's "anon" pages */
#define DIRTY		(ANON / 4)		/* written by each victim_dirty() */

FIXTURE(front) {
	char *dir;
	struct victim v;	/* predump_then_dump_in_one_session's */
	char out[600];		/* the stand-in's record: OUT.args, OUT.msg */
	int sk;			/* our end of the swrk socket */
	pid_t pid;		/* the front */
};

FIXTURE_SETUP(front)
{
	self->sk = -1;
	self->dir = make_dir("front");
	ASSERT_NE(NULL, self->dir);
	snprintf(self->out, sizeof(self->out), "%s/fake", self->dir);
}

FIXTURE_TEARDOWN(front)
{
	victim_kill(&self->v);
	if (self->sk >= 0)
		close(self->sk);
	if (self->pid > 0) {
		kill(self->pid, SIGKILL);
		waitpid(self->pid, NULL, 0);
	}
	remove_dir(self->dir);
}

/* run the front with @argv (after its name), the stand-in as its criu */
static pid_t front_start(FIXTURE_DATA(front) *self, const char *const *argv, const char *criu)
{
	const char *args[16] = { FRONT };
	int sv[2], n = 1;

	for (; *argv && n < 15; argv++)
		args[n++] = *argv;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv))
		return -1;
	self->pid = fork();
	if (self->pid == 0) {
		dup2(sv[1], 3);		/* dup2 clears FD_CLOEXEC on fd 3 */
		setenv("MEMSPLICE_CRIU", criu, 1);
		setenv("FAKECRIU_OUT", self->out, 1);
		setenv("MEMSPLICE_BIN", memsplice_bin(), 1);
		execv(FRONT, (char *const *)args);
		_exit(127);
	}
	close(sv[1]);
	self->sk = sv[0];
	return self->pid;
}

static const char *const swrk[] = { "swrk", "3", NULL };

static long anon_count(struct victim *v, pid_t pid, const char *dir, unsigned int flags);

static int front_exit(FIXTURE_DATA(front) *self)
{
	int status;

	if (waitpid(self->pid, &status, 0) != self->pid)
		return -1;
	self->pid = 0;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static int send_req(int sk, const CriuReq *req, uint8_t *buf, size_t *len)
{
	*len = criu_req__get_packed_size(req);
	criu_req__pack(req, buf);
	return send(sk, buf, *len, 0) == (ssize_t)*len ? 0 : -1;
}

/* the front's answer, within 60 s, or NULL */
static CriuResp *recv_resp(int sk)
{
	struct pollfd p = { .fd = sk, .events = POLLIN };
	uint8_t buf[4096];
	ssize_t n;

	if (poll(&p, 1, 60000) != 1)
		return NULL;
	n = recv(sk, buf, sizeof(buf), 0);
	return n > 0 ? criu_resp__unpack(NULL, n, buf) : NULL;
}

/* the stand-in's record @what ("args" or "msg") into @buf; its length or -1 */
static ssize_t record(FIXTURE_DATA(front) *self, const char *what, void *buf, size_t len)
{
	char path[700];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s.%s", self->out, what);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	n = read(fd, buf, len);
	close(fd);
	return n;
}

/* the front handed @req over: the stand-in ran as `criu swrk 3`, read @req itself */
static void expect_handed_over(struct __test_metadata *_metadata, FIXTURE_DATA(front) *self,
			       const uint8_t *req, size_t len)
{
	uint8_t got[65536];
	char args[64] = "";

	ASSERT_EQ(0, front_exit(self));
	ASSERT_LT(0, record(self, "args", args, sizeof(args) - 1));
	EXPECT_STREQ("swrk 3\n", args);
	EXPECT_EQ((ssize_t)len, record(self, "msg", got, sizeof(got)));
	EXPECT_EQ(0, memcmp(got, req, len));
}

TEST_F(front, version_handed_over_unread)
{
	CriuReq req = CRIU_REQ__INIT;
	uint8_t buf[256];
	size_t len;

	req.type = CRIU_REQ_TYPE__VERSION;
	ASSERT_LT(0, front_start(self, swrk, FAKE));
	ASSERT_EQ(0, send_req(self->sk, &req, buf, &len));
	expect_handed_over(_metadata, self, buf, len);
}

TEST_F(front, undecodable_request_handed_over)
{
	static const uint8_t junk[] = { 0xff, 0xff, 0xff, 0x07 };

	ASSERT_LT(0, front_start(self, swrk, FAKE));
	ASSERT_EQ((ssize_t)sizeof(junk), send(self->sk, junk, sizeof(junk), 0));
	expect_handed_over(_metadata, self, junk, sizeof(junk));
}

/* with the real criu (where it runs): a broken request ends the session, no hang */
TEST_F(front, undecodable_request_real_criu_answers_or_ends)
{
	static const uint8_t junk[] = { 0xff, 0xff, 0xff, 0x07 };
	const char *why = criu_unusable();
	CriuResp *resp;

	if (why)
		SKIP(return, "%s", why);
	ASSERT_LT(0, front_start(self, swrk, criu_bin()));
	ASSERT_EQ((ssize_t)sizeof(junk), send(self->sk, junk, sizeof(junk), 0));
	resp = recv_resp(self->sk);	/* NULL: the session ended (or 60 s passed) */
	if (resp) {
		EXPECT_FALSE(resp->success);
		criu_resp__free_unpacked(resp, NULL);
	}
	EXPECT_NE(0, front_exit(self));
}

/* a directory @name of the test's, open (the request names our fd) */
static int test_dir(FIXTURE_DATA(front) *self, const char *name)
{
	char path[700];

	snprintf(path, sizeof(path), "%s/%s", self->dir, name);
	mkdir(path, 0700);
	return open(path, O_RDONLY | O_DIRECTORY);
}

/*
 * A victim, and a PRE_DUMP of it into "1" the front performs in a session
 * whose criu is the real one; @opts (with @req) stays set up for the next
 * request of the session.  0, or -1 with the reason logged.
 */
static int session_predump(struct __test_metadata *_metadata, FIXTURE_DATA(front) *self,
			   CriuReq *req, CriuOpts *opts)
{
	const char *args[] = { "--anon", "256", "--nothp", NULL };
	char fifo[700], log[700];
	struct victim_opts vo = { .fifo = fifo, .detach = true };
	uint8_t buf[512];
	CriuResp *resp;
	size_t len;
	bool ok;

	snprintf(fifo, sizeof(fifo), "%s/report", self->dir);
	if (victim_start_opts(&self->v, args, 1, 0, &vo))
		return -1;
	req->opts = opts;
	opts->has_pid = true;
	opts->pid = self->v.pid;
	opts->log_file = "dump.log";
	opts->has_log_level = true;
	opts->log_level = 4;		/* as runc asks: criu's log then starts with its version */
	opts->has_leave_running = true;
	opts->leave_running = true;
	req->type = CRIU_REQ_TYPE__PRE_DUMP;
	opts->images_dir_fd = test_dir(self, "1");
	if (opts->images_dir_fd < 0 || front_start(self, swrk, criu_bin()) < 0 ||
	    send_req(self->sk, req, buf, &len))
		return -1;
	resp = recv_resp(self->sk);
	if (!resp)
		return -1;
	ok = resp->type == CRIU_REQ_TYPE__PRE_DUMP && resp->success;
	if (!ok)
		TH_LOG("pre-dump: %s", resp->cr_errmsg ? resp->cr_errmsg : "");
	criu_resp__free_unpacked(resp, NULL);
	snprintf(log, sizeof(log), "%s/1/dump.log", self->dir);
	if (!file_says(log, "this pre-dump is memsplice's", 0)) {
		TH_LOG("%s: no line of memsplice's", log);
		ok = false;
	}
	return ok ? 0 : -1;
}

/* criu's own sequence in one session, as p.haul drives it: PRE_DUMP, then
 * DUMP on top of it; the front does the first and hands criu the second */
TEST_F_TIMEOUT(front, predump_then_dump_in_one_session, 300)
{
	const char *why = criu_unusable();
	CriuOpts opts = CRIU_OPTS__INIT;
	CriuReq req = CRIU_REQ__INIT;
	char log[700], d2[700];
	uint8_t buf[512];
	CriuResp *resp;
	size_t len;

	if (why)
		SKIP(return, "%s", why);
	snprintf(d2, sizeof(d2), "%s/2", self->dir);
	ASSERT_EQ(0, session_predump(_metadata, self, &req, &opts));
	ASSERT_EQ(0, victim_dirty(&self->v, self->v.pid));

	req.type = CRIU_REQ_TYPE__DUMP;
	opts.images_dir_fd = test_dir(self, "2");
	ASSERT_LE(0, opts.images_dir_fd);
	opts.parent_img = "../1";
	opts.has_track_mem = true;
	opts.track_mem = true;
	ASSERT_EQ(0, send_req(self->sk, &req, buf, &len));
	resp = recv_resp(self->sk);
	ASSERT_NE(NULL, resp);
	EXPECT_EQ(CRIU_REQ_TYPE__DUMP, resp->type);
	EXPECT_TRUE(resp->success);
	criu_resp__free_unpacked(resp, NULL);
	snprintf(log, sizeof(log), "%s/2/dump.log", self->dir);
	EXPECT_TRUE(file_says(log, "Version: 3.", 0));	/* the head of a criu log */
	EXPECT_FALSE(file_says(log, "this pre-dump is memsplice's", 0));
	EXPECT_EQ(ANON - DIRTY, anon_count(&self->v, self->v.pid, d2, PE_PARENT));
	EXPECT_EQ(DIRTY, anon_count(&self->v, self->v.pid, d2, PE_PRESENT));
	EXPECT_EQ(0, victim_verify(&self->v, self->v.pid));
	close(self->sk);
	self->sk = -1;
	EXPECT_EQ(0, front_exit(self));
}

/* after a PRE_DUMP, a request that is neither PRE_DUMP nor DUMP: criu's "Bad req seq" */
TEST_F_TIMEOUT(front, predump_then_other_request_refused, 300)
{
	const char *why = criu_unusable();
	CriuOpts opts = CRIU_OPTS__INIT;
	CriuReq req = CRIU_REQ__INIT, version = CRIU_REQ__INIT;
	uint8_t buf[512];
	CriuResp *resp;
	size_t len;

	if (why)
		SKIP(return, "%s", why);
	ASSERT_EQ(0, session_predump(_metadata, self, &req, &opts));
	version.type = CRIU_REQ_TYPE__VERSION;
	ASSERT_EQ(0, send_req(self->sk, &version, buf, &len));
	resp = recv_resp(self->sk);
	ASSERT_NE(NULL, resp);
	EXPECT_EQ(CRIU_REQ_TYPE__EMPTY, resp->type);
	EXPECT_FALSE(resp->success);
	ASSERT_NE(NULL, resp->cr_errmsg);
	EXPECT_STREQ("Bad req seq", resp->cr_errmsg);
	criu_resp__free_unpacked(resp, NULL);
	EXPECT_EQ(1, front_exit(self));
	EXPECT_EQ(0, victim_verify(&self->v, self->v.pid));
}

TEST_F(front, predump_only_criu_does_handed_over)
{
	CriuOpts opts = CRIU_OPTS__INIT;
	CriuReq req = CRIU_REQ__INIT;
	uint8_t buf[256];
	size_t len;

	req.type = CRIU_REQ_TYPE__PRE_DUMP;
	req.opts = &opts;
	opts.images_dir_fd = 0;
	opts.has_pid = true;
	opts.pid = getpid();
	opts.has_lazy_pages = true;
	opts.lazy_pages = true;
	ASSERT_LT(0, front_start(self, swrk, FAKE));
	ASSERT_EQ(0, send_req(self->sk, &req, buf, &len));
	expect_handed_over(_metadata, self, buf, len);
}

TEST_F(front, other_command_lines_handed_over)
{
	const char *const argv[] = { "check", "--feature", "mem_dirty_track", NULL };
	char args[128] = "";

	ASSERT_LT(0, front_start(self, argv, FAKE));
	ASSERT_EQ(0, front_exit(self));
	ASSERT_LT(0, record(self, "args", args, sizeof(args) - 1));
	EXPECT_STREQ("check --feature mem_dirty_track\n", args);
}

TEST_F(front, refuses_to_be_its_own_criu)
{
	char err[1024];
	const char *argv[] = { "/usr/bin/env", "MEMSPLICE_CRIU=" FRONT, FRONT, "--version", NULL };

	EXPECT_EQ(1, run_cmd(argv, err, sizeof(err)));
	EXPECT_NE(NULL, strstr(err, "MEMSPLICE_CRIU")) TH_LOG("%s", err);
}

/* a pre-dump of @pid into a directory of ours, logging to @log in another */
static CriuResp *predump(struct __test_metadata *_metadata, FIXTURE_DATA(front) *self, pid_t pid,
			 const char *log)
{
	CriuOpts opts = CRIU_OPTS__INIT;
	CriuReq req = CRIU_REQ__INIT;
	char path[700];
	uint8_t buf[512];
	size_t len;
	int dfd, wfd;

	snprintf(path, sizeof(path), "%s/images", self->dir);
	mkdir(path, 0700);
	dfd = open(path, O_RDONLY | O_DIRECTORY);
	snprintf(path, sizeof(path), "%s/work", self->dir);
	mkdir(path, 0700);
	wfd = open(path, O_RDONLY | O_DIRECTORY);
	if (dfd < 0 || wfd < 0)
		return NULL;
	req.type = CRIU_REQ_TYPE__PRE_DUMP;
	req.opts = &opts;
	opts.images_dir_fd = dfd;
	opts.has_work_dir_fd = true;
	opts.work_dir_fd = wfd;
	opts.has_pid = true;
	opts.pid = pid;
	opts.log_file = (char *)log;
	if (front_start(self, swrk, FAKE) < 0 || send_req(self->sk, &req, buf, &len))
		return NULL;
	return recv_resp(self->sk);
}

TEST_F(front, predump_failure_answered_like_criu)
{
	CriuResp *resp = predump(_metadata, self, gone_pid(), "dump.log");
	char path[700], says[700];

	ASSERT_NE(NULL, resp);
	EXPECT_EQ(CRIU_REQ_TYPE__PRE_DUMP, resp->type);
	EXPECT_FALSE(resp->success);
	ASSERT_NE(NULL, resp->cr_errmsg);
	EXPECT_NE(0, strlen(resp->cr_errmsg));
	/* the log criu would have written: memsplice's run and its reason */
	snprintf(path, sizeof(path), "%s/work/dump.log", self->dir);
	EXPECT_TRUE(file_says(path, "this pre-dump is memsplice's", 0));
	snprintf(says, sizeof(says), "%.600s", resp->cr_errmsg);
	EXPECT_TRUE(file_says(path, says, 0)) TH_LOG("cr_errmsg: %s", says);
	criu_resp__free_unpacked(resp, NULL);
	EXPECT_EQ(1, front_exit(self));
	EXPECT_GT(0, record(self, "args", path, sizeof(path)));	/* criu never ran */
}

TEST_F(front, log_file_with_a_directory_refused)
{
	char path[700];
	CriuResp *resp = predump(_metadata, self, gone_pid(), "../escape.log");

	ASSERT_NE(NULL, resp);
	EXPECT_FALSE(resp->success);
	ASSERT_NE(NULL, resp->cr_errmsg);
	EXPECT_NE(NULL, strstr(resp->cr_errmsg, "../escape.log")) TH_LOG("%s", resp->cr_errmsg);
	EXPECT_EQ(EINVAL, resp->cr_errno);
	criu_resp__free_unpacked(resp, NULL);
	snprintf(path, sizeof(path), "%s/escape.log", self->dir);
	EXPECT_NE(0, access(path, F_OK));
	EXPECT_EQ(1, front_exit(self));
}

/* ---- runc, where criu runs (the 6.1 guest) ------------------------------- */

#define RUNC		"/usr/sbin/runc"
#define BUSYBOX		"/bin/busybox"
#define CT		"memsplice-front-test"

static const char *runc_skip(void)
{
	const char *why = criu_unusable();

	if (why)
		return why;
	if (access(RUNC, X_OK))
		return "no runc (scripts/deps.sh --guest installs it)";
	if (access(BUSYBOX, X_OK))
		return "no " BUSYBOX " (busybox-static)";
	if (access("/sys/fs/cgroup/cgroup.controllers", F_OK))
		return "no cgroup2 at /sys/fs/cgroup";
	return NULL;
}

/* stdio for the container: [0] its stdin's write end, [1], [2] the read ends */
struct ct_stdio {
	int keep[3];
	int give[3];
};

static int stdio_open(struct ct_stdio *s)
{
	int p[2];

	for (int i = 0; i < 3; i++) {
		if (pipe2(p, O_CLOEXEC))
			return -1;
		s->keep[i] = i ? p[0] : p[1];
		s->give[i] = i ? p[1] : p[0];
	}
	return 0;
}

static void stdio_close(struct ct_stdio *s, bool kept_too)
{
	for (int i = 0; i < 3; i++) {
		close(s->give[i]);
		if (kept_too)
			close(s->keep[i]);
	}
}

/* runc @argv with the container's stdio @s (run -d, restore -d): its exit */
static int runc_with(const char *const *argv, struct ct_stdio *s)
{
	int status;
	pid_t pid = fork();

	if (pid == 0) {
		for (int i = 0; i < 3; i++)
			dup2(s->give[i], i);
		execv(RUNC, (char *const *)argv);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* the container's init as the host names it (runc state) */
static pid_t ct_pid(void)
{
	const char *argv[] = { RUNC, "state", CT, NULL };
	char out[2048], *p;

	if (run_cmd(argv, out, sizeof(out)))
		return -1;
	p = strstr(out, "\"pid\": ");
	return p ? atoi(p + 7) : -1;
}

/* @root: busybox as /bin/sh and the static victim as /victim */
static int make_rootfs(const char *root)
{
	char bin[800], victim[800], out[1024];
	const char *mk[] = { "mkdir", "-p", bin, NULL };
	const char *cp1[] = { "cp", BUSYBOX, bin, NULL };
	const char *cp2[] = { "cp", "selftests/lib/victim-static", victim, NULL };

	if (snprintf(bin, sizeof(bin), "%s/bin", root) >= (int)sizeof(bin) ||
	    snprintf(victim, sizeof(victim), "%s/victim", root) >= (int)sizeof(victim))
		return -1;
	if (run_cmd(mk, out, sizeof(out)) || run_cmd(cp1, out, sizeof(out)) ||
	    run_cmd(cp2, out, sizeof(out)))
		return -1;
	if (snprintf(bin, sizeof(bin), "%s/bin/sh", root) >= (int)sizeof(bin))
		return -1;
	return symlink("busybox", bin);
}

/* the container's process: the victim, reporting on its stdout */
#define CT_CMD	"exec /victim --anon 256 --nothp 3>&1"

/* a bundle in @dir/bundle: runc spec's config with no terminal, the victim,
 * and no network namespace (criu would lock it with iptables) */
static int make_bundle(const char *dir, char *bundle, size_t len)
{
	const char *edit =
		"import json,sys; p=sys.argv[1]+'/config.json'; c=json.load(open(p)); "
		"c['process']['terminal']=False; "
		"c['process']['args']=['/bin/sh','-c','" CT_CMD "']; "
		"c['linux']['namespaces']=[n for n in c['linux']['namespaces'] "
		"if n['type']!='network']; json.dump(c,open(p,'w'))";
	const char *spec[] = { RUNC, "spec", "--bundle", bundle, NULL };
	const char *py[] = { "python3", "-c", edit, bundle, NULL };
	char root[800], out[1024];

	snprintf(bundle, len, "%s/bundle", dir);
	snprintf(root, sizeof(root), "%s/rootfs", bundle);
	if (make_rootfs(root) || run_cmd(spec, out, sizeof(out)) || run_cmd(py, out, sizeof(out)))
		return -1;
	return 0;
}

/* `runc --criu FRONT checkpoint ARGS... CT`, its log's tail on failure */
static int checkpoint(struct __test_metadata *_metadata, const char *front,
		      const char *const *args, const char *log)
{
	const char *argv[16] = { RUNC, "--criu", front, "checkpoint" };
	char out[2048], tail[2048];
	int n = 4, ret;

	for (; *args; args++)
		argv[n++] = *args;
	argv[n++] = CT;
	argv[n] = NULL;
	ret = run_cmd(argv, out, sizeof(out));
	if (ret)
		TH_LOG("runc checkpoint: exit %d: %s\n%s: %s", ret, out, log,
		       file_tail(log, 8, tail, sizeof(tail)));
	return ret;
}

/* pages of victim @pid's "anon" in @dir's own pagemap with @flags */
static long anon_count(struct victim *v, pid_t pid, const char *dir, unsigned int flags)
{
	struct vregion *r = victim_region(v, pid, "anon");
	struct dump_view dv;
	long c;

	if (!r || dump_view_open(&dv, dir, pid, false))
		return -1;
	c = dump_view_count(&dv, r->addr, r->addr + r->pages * 4096, flags);
	dump_view_close(&dv);
	return c;
}

FIXTURE(runc) {
	char *dir;
	char why[200];
	char front[600], bundle[700], d[4][800];	/* pre-dumps 1, 2, the dump 3, work */
	struct ct_stdio io, io2;
	bool started;
};

FIXTURE_SETUP(runc)
{
	const char *why = runc_skip();
	char here[512];

	if (why) {
		snprintf(self->why, sizeof(self->why), "%s", why);
		SKIP(return, "%s", self->why);
	}
	self->dir = make_dir("runc");
	ASSERT_NE(NULL, self->dir);
	ASSERT_NE(NULL, getcwd(here, sizeof(here)));
	snprintf(self->front, sizeof(self->front), "%s/%s", here, FRONT);
	for (int i = 1; i <= 3; i++)
		snprintf(self->d[i], sizeof(self->d[i]), "%s/%d", self->dir, i);
	snprintf(self->d[0], sizeof(self->d[0]), "%s/work", self->dir);
	ASSERT_EQ(0, make_bundle(self->dir, self->bundle, sizeof(self->bundle)));
	ASSERT_EQ(0, stdio_open(&self->io));
	ASSERT_EQ(0, stdio_open(&self->io2));
}

FIXTURE_TEARDOWN(runc)
{
	const char *del[] = { RUNC, "delete", "-f", CT, NULL };
	char out[512];

	if (!self->dir)
		return;
	if (self->started)
		run_cmd(del, out, sizeof(out));
	stdio_close(&self->io, true);
	stdio_close(&self->io2, true);
	if (getenv("MEMSPLICE_KEEP"))
		TH_LOG("kept %s (MEMSPLICE_KEEP)", self->dir);
	else
		remove_dir(self->dir);
}

TEST_F_TIMEOUT(runc, predumps_then_checkpoint_and_restore, 600)
{
	const char *run[] = { RUNC, "--criu", self->front, "run", "-d", "--bundle", self->bundle,
			      CT, NULL };
	const char *pre1[] = { "--pre-dump", "--image-path", self->d[1], NULL };
	const char *pre2[] = { "--pre-dump", "--parent-path", "../1", "--image-path", self->d[2],
			       NULL };
	const char *last[] = { "--parent-path", "../2", "--image-path", self->d[3],
			       "--work-path", self->d[0], NULL };
	char log[1000], work2[900];
	const char *restore[] = { RUNC, "--criu", self->front, "restore", "-d", "--bundle",
				  self->bundle, "--image-path", self->d[3], "--work-path", work2,
				  CT, NULL };
	struct victim v = { .timeout = 60 }, v2 = { .timeout = 60 };
	pid_t pid;

	NEED_SETUP();
	ASSERT_EQ(0, runc_with(run, &self->io));
	self->started = true;
	stdio_close(&self->io, false);
	v.report = fdopen(dup(self->io.keep[1]), "r");
	ASSERT_EQ(0, victim_wait_ready(&v, 1, 0));
	pid = ct_pid();
	ASSERT_LT(0, pid);

	/* two pre-dumps, memsplice's: its line in the log, criu's absent */
	ASSERT_EQ(0, checkpoint(_metadata, self->front, pre1, self->d[1]));
	snprintf(log, sizeof(log), "%s/dump.log", self->d[1]);
	EXPECT_TRUE(file_says(log, "this pre-dump is memsplice's", 0));
	EXPECT_FALSE(file_says(log, "Pre-dumping finished", 0));
	ASSERT_EQ(0, victim_ask_as(&v, pid, 1, SIGUSR2, "dirtied", "dirtied"));
	ASSERT_EQ(0, checkpoint(_metadata, self->front, pre2, self->d[2]));
	snprintf(log, sizeof(log), "%s/dump.log", self->d[2]);
	EXPECT_TRUE(file_says(log, "this pre-dump is memsplice's", 0));
	EXPECT_EQ(ANON - DIRTY, anon_count(&v, 1, self->d[2], PE_PARENT));
	ASSERT_EQ(0, victim_ask_as(&v, pid, 1, SIGUSR2, "dirtied", "dirtied"));

	/* runc's checkpoint: criu's dump, on top of memsplice's pre-dumps */
	snprintf(log, sizeof(log), "%s/dump.log", self->d[0]);
	ASSERT_EQ(0, checkpoint(_metadata, self->front, last, log));
	EXPECT_FALSE(file_says(log, "this pre-dump is memsplice's", 0));
	EXPECT_EQ(ANON - DIRTY, anon_count(&v, 1, self->d[3], PE_PARENT)) {
		TH_LOG("criu did not take the unchanged pages from memsplice's pre-dump");
	}
	EXPECT_EQ(DIRTY, anon_count(&v, 1, self->d[3], PE_PRESENT));

	/* runc restore (criu's, through the front): the process checks every page */
	snprintf(work2, sizeof(work2), "%s/work2", self->dir);
	ASSERT_EQ(0, runc_with(restore, &self->io2)) {
		snprintf(log, sizeof(log), "%s/restore.log", work2);
		TH_LOG("runc restore failed: %s", file_tail(log, 8, work2, sizeof(work2)));
	}
	stdio_close(&self->io2, false);
	pid = ct_pid();
	ASSERT_LT(0, pid);
	v2.report = fdopen(dup(self->io2.keep[1]), "r");
	memcpy(v2.r, v.r, sizeof(v.r));
	v2.nr = v.nr;
	EXPECT_EQ(0, victim_ask_as(&v2, pid, 1, SIGUSR1, " ok", " ok"));
	fclose(v.report);
	fclose(v2.report);
}

/* ---- podman (through runc), where criu runs ------------------------------- */

#define PODMAN		"/usr/bin/podman"

FIXTURE(podman) {
	char *dir;
	char why[200];
	char root[700], run[700], flag[700], id[80], log[1100];
	bool started;
};

/* podman with its store in the test's directory and runc given the front */
static int podman(FIXTURE_DATA(podman) *self, const char *const *args, char *out, size_t len)
{
	const char *argv[32] = { PODMAN, "--root", self->root, "--runroot", self->run,
				 "--storage-driver", "vfs", "--cgroup-manager", "cgroupfs",
				 "--events-backend", "file", "--runtime", RUNC,
				 "--runtime-flag", self->flag };
	int n = 15;

	for (; *args && n < 31; args++)
		argv[n++] = *args;
	argv[n] = NULL;
	return run_cmd(argv, out, len);
}

static pid_t podman_pid(FIXTURE_DATA(podman) *self)
{
	const char *args[] = { "inspect", "--format", "{{.State.Pid}}", "ct", NULL };
	char out[256];

	return podman(self, args, out, sizeof(out)) ? -1 : atoi(out);
}

FIXTURE_SETUP(podman)
{
	const char *why = runc_skip();
	char here[512];

	if (!why && access(PODMAN, X_OK))
		why = "no podman (scripts/deps.sh --guest installs it)";
	if (why) {
		snprintf(self->why, sizeof(self->why), "%s", why);
		SKIP(return, "%s", self->why);
	}
	self->dir = make_dir("podman");
	ASSERT_NE(NULL, self->dir);
	ASSERT_NE(NULL, getcwd(here, sizeof(here)));
	snprintf(self->flag, sizeof(self->flag), "criu=%s/%s", here, FRONT);
	snprintf(self->root, sizeof(self->root), "%s/root", self->dir);
	snprintf(self->run, sizeof(self->run), "%s/run", self->dir);
	setenv("TMPDIR", self->dir, 1);		/* podman's temporary files: not /var/tmp */
}

FIXTURE_TEARDOWN(podman)
{
	const char *rm[] = { "rm", "-f", "ct", NULL };
	char out[512];

	if (!self->dir)
		return;
	if (self->started)
		podman(self, rm, out, sizeof(out));
	if (getenv("MEMSPLICE_KEEP"))
		TH_LOG("kept %s (MEMSPLICE_KEEP)", self->dir);
	else
		remove_dir(self->dir);
}

TEST_F_TIMEOUT(podman, pre_checkpoint_then_checkpoint_and_restore, 600)
{
	char rootfs[800], tar[800], image[] = "localhost/memsplice-victim:1", out[4096];
	char userdata[1000], pre[1100], fin[1100], path[1200];
	const char *tarv[] = { "tar", "-C", rootfs, "-cf", tar, ".", NULL };
	const char *import[] = { "import", tar, image, NULL };
	const char *run[] = { "run", "-d", "--name", "ct", "--network", "none", image,
			      "/bin/sh", "-c", CT_CMD, NULL };
	const char *precheck[] = { "container", "checkpoint", "--pre-checkpoint", "ct", NULL };
	const char *check[] = { "container", "checkpoint", "--with-previous", "ct", NULL };
	const char *restore[] = { "container", "restore", "ct", NULL };
	const char *logs[] = { "logs", "ct", NULL };
	struct victim v = { 0 };
	pid_t pid;

	NEED_SETUP();
	snprintf(rootfs, sizeof(rootfs), "%s/rootfs", self->dir);
	snprintf(tar, sizeof(tar), "%s/rootfs.tar", self->dir);
	ASSERT_EQ(0, make_rootfs(rootfs));
	ASSERT_EQ(0, run_cmd(tarv, out, sizeof(out))) TH_LOG("%s", out);
	ASSERT_EQ(0, podman(self, import, out, sizeof(out))) TH_LOG("%s", out);
	ASSERT_EQ(0, podman(self, run, out, sizeof(out))) TH_LOG("%s", out);
	self->started = true;
	out[strcspn(out, "\n")] = '\0';
	snprintf(self->id, sizeof(self->id), "%.64s", out);
	snprintf(userdata, sizeof(userdata), "%s/vfs-containers/%s/userdata", self->root, self->id);
	snprintf(self->log, sizeof(self->log), "%s/ctr.log", userdata);
	snprintf(pre, sizeof(pre), "%s/pre-checkpoint", userdata);
	snprintf(fin, sizeof(fin), "%s/checkpoint", userdata);

	/* the victim's report is in conmon's log: once it says ready, its
	 * lines as `podman logs` gives them (without conmon's prefixes) */
	ASSERT_TRUE(file_says(self->log, "1 ready", 60)) TH_LOG("no ready in %s", self->log);
	ASSERT_EQ(0, podman(self, logs, out, sizeof(out))) TH_LOG("%s", out);
	v.report = fmemopen(out, strlen(out), "r");
	ASSERT_NE(NULL, v.report);
	ASSERT_EQ(0, victim_wait_ready(&v, 1, 0));
	fclose(v.report);
	pid = podman_pid(self);
	ASSERT_LT(0, pid);

	/* podman's pre-checkpoint is runc's pre-dump: memsplice's */
	ASSERT_EQ(0, podman(self, precheck, out, sizeof(out))) TH_LOG("%s", out);
	snprintf(path, sizeof(path), "%s/dump.log", userdata);
	EXPECT_TRUE(file_says(path, "this pre-dump is memsplice's", 0));
	ASSERT_EQ(0, kill(pid, SIGUSR2));
	ASSERT_TRUE(file_says(self->log, "1 dirtied", 60));

	/* the checkpoint on top of it is criu's; what was not written is PE_PARENT */
	ASSERT_EQ(0, podman(self, check, out, sizeof(out))) {
		TH_LOG("%s\n%s", out, file_tail(path, 8, out, sizeof(out)));
	}
	EXPECT_EQ(ANON - DIRTY, anon_count(&v, 1, fin, PE_PARENT)) {
		TH_LOG("criu did not take the unchanged pages from memsplice's pre-dump");
	}
	EXPECT_EQ(DIRTY, anon_count(&v, 1, fin, PE_PRESENT));

	ASSERT_EQ(0, podman(self, restore, out, sizeof(out))) TH_LOG("%s", out);
	pid = podman_pid(self);
	ASSERT_LT(0, pid);
	ASSERT_EQ(0, kill(pid, SIGUSR1));
	EXPECT_TRUE(file_says(self->log, "1 ok", 60)) {
		TH_LOG("the restored process: %s", file_tail(self->log, 3, out, sizeof(out)));
	}
}

TEST_HARNESS_MAIN
