// SPDX-License-Identifier: GPL-2.0
/*
 * Freezing a tree that does not hold still: threads created and joined
 * during the freeze, a non-leader thread that execs during the freeze (and
 * so takes the leader's tid), a vfork parent that cannot stop, a task that
 * someone else already traces.  Whatever happens: no hang, either a
 * complete image set or one error line, and the tree afterwards running and
 * untraced.
 *
 * Every method runs the trees that change while frozen (the parasite picks
 * a thread among them); a freeze that fails before any page moves is
 * FULL_PASS_ONLY.
 */
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "lib/fvictim.h"
#include "lib/execer.h"
#include "lib/pattern.h"
#include "lib/vtest.h"

#define PAGES		FVICTIM_PAGES
#define MAX_TIDS	64
#define RUN_TIMEOUT_MS	10000	/* one memsplice run, however it ends */
#define EXEC_RUNS	12	/* per exec test: pre-dump and dump alternately */

FIXTURE(freeze) {
	pid_t pid;		/* the victim (our child) */
	int rfd;		/* its report pipe */
	struct vregion r;	/* the region it filled */
	struct execer_state *st;	/* an execer's generation counters */
	char *dir;
	char err[4096];
};

FIXTURE_VARIANT(freeze) {
	const char *method;
};

FIXTURE_VARIANT_ADD(freeze, read) { .method = "read" };
FIXTURE_VARIANT_ADD(freeze, device) { .method = "device" };
FIXTURE_VARIANT_ADD(freeze, syscall) { .method = "syscall" };
FIXTURE_VARIANT_ADD(freeze, parasite) { .method = "parasite" };

FIXTURE_SETUP(freeze)
{
	self->pid = 0;
	self->rfd = -1;
	self->st = MAP_FAILED;
	const char *skip = method_skip(variant->method);

	if (skip)
		SKIP(return, "%s", skip);
	self->dir = make_dir("freeze");
	ASSERT_NE(NULL, self->dir);
}

FIXTURE_TEARDOWN(freeze)
{
	if (self->pid > 0) {
		kill(-self->pid, SIGKILL);	/* the victim's children too */
		waitpid(self->pid, NULL, 0);
	}
	if (self->rfd >= 0)
		close(self->rfd);
	if (self->st != MAP_FAILED)
		munmap(self->st, VPAGE);
	if (self->dir)
		remove_dir(self->dir);
}

#define NEED_METHOD() do { \
	if (!self->dir) \
		SKIP(return, "method %s not available here or not selected", variant->method); \
} while (0)

/* ---- in-process victims: run in the forked child, never return ------------ */

static volatile uint64_t *churn_counter;

static void *short_thread(void *arg)
{
	(*churn_counter)++;
	return NULL;
}

/* threads are born and exit all the time, while memsplice freezes the tree */
static void victim_thread_churn(void)
{
	fvictim_fill_and_report();
	fvictim_ready();
	churn_counter = calloc(1, sizeof(*churn_counter));
	for (;;) {
		pthread_t th[4];

		for (int i = 0; i < 4; i++)
			if (pthread_create(&th[i], NULL, short_thread, NULL))
				_exit(93);
		for (int i = 0; i < 4; i++)
			pthread_join(th[i], NULL);
	}
}

/* a vfork parent waits, uninterruptibly, for a child that neither execs nor exits */
static void victim_vfork(void)
{
	if (vfork() == 0) {
		fvictim_fill_and_report();
		fvictim_ready();
		fvictim_block_forever();
	}
	_exit(0);	/* never reached while the child lives */
}

/* ---- the test side -------------------------------------------------------- */

/* fork @victim; wait for its "R ADDR PAGES SEED\nready\n" */
static int start(FIXTURE_DATA(freeze) *self, void (*victim)(void))
{
	return fvictim_start(victim, &self->pid, &self->rfd, &self->r, NULL);
}

static int memsplice(struct __test_metadata *_metadata, FIXTURE_DATA(freeze) *self,
		     const FIXTURE_VARIANT(freeze) *variant, const char *cmd)
{
	char pid[16];
	const char *args[] = { cmd, "-t", pid, "-D", self->dir, "--method", variant->method,
			       NULL };
	int ret;

	snprintf(pid, sizeof(pid), "%d", self->pid);
	ret = run_memsplice(args, self->err, sizeof(self->err), -1);
	if (ret)
		TH_LOG("memsplice %s: exit %d: %s", cmd, ret, self->err);
	return ret;
}

/* the region's pages in pagemap-@pid.img carry the pattern */
static void check_pages(struct __test_metadata *_metadata, FIXTURE_DATA(freeze) *self, pid_t pid)
{
	struct dump_view dv;
	uint64_t bad = 0;

	ASSERT_EQ(0, dump_view_open(&dv, self->dir, pid, false));
	EXPECT_EQ(self->r.pages, check_region(&dv, &self->r, 0, 0, &bad)) {
		TH_LOG("page %#lx of the region is wrong or missing", (unsigned long)bad);
	}
	dump_view_close(&dv);
}

/* stderr holds exactly one line */
static bool one_line(const char *s)
{
	const char *nl = strchr(s, '\n');

	return nl && nl > s && !nl[1];
}

/* the first child of @pid's leader thread, 0 if none */
static pid_t first_child_of(pid_t pid)
{
	char path[64], buf[64], *end;
	long c = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", pid, pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	if (fgets(buf, sizeof(buf), f))
		c = strtol(buf, &end, 10);
	fclose(f);
	return c;
}

TEST_F(freeze, threads_come_and_go)
{
	NEED_METHOD();
	ASSERT_EQ(0, start(self, victim_thread_churn));
	for (int i = 0; i < 20; i++) {
		ASSERT_EQ(0, memsplice(_metadata, self, variant, i % 2 ? "dump" : "pre-dump"));
		check_pages(_metadata, self, self->pid);
	}
	EXPECT_EQ(0, proc_tracer(self->pid));
}

/* a task that cannot stop: one line after a bounded wait, nobody left traced */
TEST_F(freeze, task_that_cannot_stop)
{
	FULL_PASS_ONLY(variant->method);
	char pid[16];
	const char *args[] = { "pre-dump", "-t", pid, "-D", self->dir, "--method",
			       variant->method, NULL };
	pid_t child;

	NEED_METHOD();
	ASSERT_EQ(0, start(self, victim_vfork));
	child = first_child_of(self->pid);	/* the vfork child */
	ASSERT_GT(child, 0);
	ASSERT_EQ('D', proc_state(self->pid));
	snprintf(pid, sizeof(pid), "%d", self->pid);
	EXPECT_EQ(1, run_memsplice_hooked(args, self->err, sizeof(self->err),
					  "MEMSPLICE_TEST_STOP_TIMEOUT_MS", "500"));
	EXPECT_NE(NULL, strstr(self->err, "did not stop within 500 ms")) {
		TH_LOG("stderr: %s", self->err);
	}
	EXPECT_TRUE(one_line(self->err));
	EXPECT_EQ(0, proc_tracer(self->pid));
	EXPECT_EQ(0, proc_tracer(child));
	EXPECT_NE('t', proc_state(child));
}

TEST_F(freeze, traced_by_another)
{
	FULL_PASS_ONLY(variant->method);
	char want[64];
	int status;

	NEED_METHOD();
	ASSERT_EQ(0, start(self, fvictim_plain));
	ASSERT_EQ(0, ptrace(PTRACE_SEIZE, self->pid, 0, 0));
	EXPECT_EQ(1, memsplice(_metadata, self, variant, "pre-dump"));
	snprintf(want, sizeof(want), "traced by pid %d", getpid());
	EXPECT_NE(NULL, strstr(self->err, want)) { TH_LOG("stderr: %s", self->err); }
	EXPECT_TRUE(one_line(self->err));
	/* a seized tracee detaches from a ptrace stop */
	ASSERT_EQ(0, ptrace(PTRACE_INTERRUPT, self->pid, 0, 0));
	ASSERT_EQ(self->pid, waitpid(self->pid, &status, __WALL));
	ASSERT_EQ(0, ptrace(PTRACE_DETACH, self->pid, 0, 0));
	EXPECT_EQ(0, proc_tracer(self->pid));
	EXPECT_EQ(0, waitpid(self->pid, &status, WNOHANG));
}

/* ---- a thread that execs during the freeze -------------------------------- */

static uint64_t ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000ULL + ts.tv_nsec / 1000000;
}

/* start selftests/lib/execer with @threads blockers; wait for its "ready" */
static int start_execer(FIXTURE_DATA(freeze) *self, int threads)
{
	const char *bin = getenv("MEMSPLICE_EXECER") ?: "./selftests/lib/execer";
	int mfd = memfd_create("execer-state", MFD_CLOEXEC);
	int pfd[2];
	char nr[16], buf[16] = "";
	size_t got = 0;

	if (mfd < 0 || ftruncate(mfd, VPAGE) || pipe2(pfd, O_CLOEXEC))
		return -1;
	self->st = mmap(NULL, VPAGE, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
	if (self->st == MAP_FAILED)
		return -1;
	snprintf(nr, sizeof(nr), "%d", threads);
	self->pid = fork();
	if (self->pid < 0)
		return -1;
	if (self->pid == 0) {
		/* above 4 first, so that neither dup2() below overwrites the other's source */
		int wfd = fcntl(pfd[1], F_DUPFD_CLOEXEC, 10);
		int sfd = fcntl(mfd, F_DUPFD_CLOEXEC, 10);

		setpgid(0, 0);
		if (wfd < 0 || sfd < 0 || dup2(wfd, 3) != 3 || dup2(sfd, 4) != 4)
			_exit(126);
		execl(bin, "execer", nr, NULL);
		_exit(127);
	}
	close(mfd);
	close(pfd[1]);
	self->rfd = pfd[0];
	while (!strstr(buf, "ready\n")) {
		ssize_t n = read(self->rfd, buf + got, sizeof(buf) - 1 - got);

		if (n <= 0)
			return -1;
		got += n;
		buf[got] = '\0';
	}
	self->r = (struct vregion){ .pid = self->pid, .name = "execer", .addr = EXECER_ADDR,
				    .pages = EXECER_PAGES, .seed = EXECER_SEED };
	return 0;
}

/* what one memsplice run did, and what the test saw while the tree was frozen */
struct run {
	int status;		/* exit status, 128 + signal, or -1: did not end in time */
	bool frozen;		/* it said "frozen" */
	char wchan[64];		/* where it was stuck, if it was */
	pid_t tids[MAX_TIDS];	/* /proc/PID/task while frozen */
	int nr_tids;
	char unfrozen[128];	/* a thread found running or traced by another, while frozen */
	uint64_t gen, filled;	/* the victim's generation while frozen */
	bool moved;		/* the generation changed while frozen */
};

/* the State letter and TracerPid of thread @tid of @pid; 0 if gone */
static char thread_state(pid_t pid, pid_t tid, pid_t *tracer)
{
	char path[96], line[256], state = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/status", pid, tid);
	*tracer = 0;
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "State:", 6))
			sscanf(line + 6, " %c", &state);
		else if (!strncmp(line, "TracerPid:", 10))
			*tracer = atoi(line + 10);
	}
	fclose(f);
	return state;
}

/*
 * Every thread of @pid, with its state: while memsplice @ms holds the tree,
 * each must be in a tracing stop of @ms's ('t'); afterwards none may be
 * (@ms 0).  Lists the threads into @run when frozen.  Returns a
 * description of the first offender in @bad ("" if none).
 */
static void check_threads(pid_t pid, pid_t ms, struct run *run, char *bad, size_t len)
{
	char path[64];
	struct dirent *de;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	bad[0] = '\0';
	d = opendir(path);
	if (!d) {
		snprintf(bad, len, "%d is gone", pid);
		return;
	}
	while ((de = readdir(d))) {
		pid_t tid = atoi(de->d_name), tracer;
		char st;

		if (tid <= 0)
			continue;
		st = thread_state(pid, tid, &tracer);
		if (!st)
			continue;	/* exited since readdir: only possible when running */
		if (run && run->nr_tids < MAX_TIDS)
			run->tids[run->nr_tids++] = tid;
		if (!bad[0] && ms && (st != 't' || tracer != ms))
			snprintf(bad, len, "thread %d in state %c traced by %d, not frozen by %d",
				 tid, st, tracer, ms);
		if (!bad[0] && !ms && (st == 't' || st == 'T' || tracer))
			snprintf(bad, len, "thread %d left in state %c traced by %d",
				 tid, st, tracer);
	}
	closedir(d);
}

/* poll @fd for input until @deadline (ms_now()); false when it passed */
static bool wait_input(int fd, uint64_t deadline)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	for (;;) {
		uint64_t now = ms_now();

		if (now >= deadline)
			return false;
		if (poll(&pfd, 1, deadline - now) > 0)
			return true;
	}
}

/*
 * Run the test build of memsplice @cmd on the victim with the frozen hook,
 * bounded by RUN_TIMEOUT_MS in all; at the hook, look at the tree.  A run
 * that did not end in time is SIGKILLed (the kernel then detaches it) and
 * where it was stuck goes into run->wchan.
 */
static int run_hooked(FIXTURE_DATA(freeze) *self, const FIXTURE_VARIANT(freeze) *variant,
		      const char *cmd, struct run *run)
{
	uint64_t deadline = ms_now() + RUN_TIMEOUT_MS;
	char pid[16], hook[16], said[8];
	int sv[2], efd[2], status;
	bool ended = false;
	size_t got = 0;
	ssize_t n;
	pid_t ms;

	memset(run, 0, sizeof(*run));
	self->err[0] = '\0';
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) || pipe2(efd, O_CLOEXEC))
		return -1;
	snprintf(pid, sizeof(pid), "%d", self->pid);
	ms = fork();
	if (ms < 0)
		return -1;
	if (ms == 0) {
		int null = open("/dev/null", O_WRONLY);
		int hfd = fcntl(sv[1], F_DUPFD, 10);	/* without FD_CLOEXEC */

		snprintf(hook, sizeof(hook), "%d", hfd);
		setenv("MEMSPLICE_TEST_FROZEN_FD", hook, 1);
		setenv("MEMSPLICE_TEST_STOP_TIMEOUT_MS", "2000", 1);
		dup2(null, 1);
		dup2(efd[1], 2);
		execl("./selftests/memsplice-test", "memsplice", cmd, "-t", pid, "-D", self->dir,
		      "--method", variant->method, NULL);
		_exit(127);
	}
	close(sv[1]);
	close(efd[1]);
	/* "frozen\n", or the end of a run that failed before the freeze was complete */
	if (wait_input(sv[0], deadline)) {
		n = read(sv[0], said, 7);
		if (n == 7 && !memcmp(said, "frozen\n", 7)) {
			run->gen = self->st->gen;
			run->filled = self->st->filled;
			check_threads(self->pid, ms, run, run->unfrozen, sizeof(run->unfrozen));
			run->moved = self->st->gen != run->gen;
			run->frozen = true;
			if (write(sv[0], "x", 1) != 1)
				run->frozen = false;
		}
		/* stderr until memsplice exits; what does not fit is read and dropped */
		while (wait_input(efd[0], deadline)) {
			char sink[512];
			bool full = got == sizeof(self->err) - 1;

			n = full ? read(efd[0], sink, sizeof(sink)) :
				   read(efd[0], self->err + got, sizeof(self->err) - 1 - got);
			if (n <= 0) {
				ended = true;
				break;
			}
			if (!full)
				got += n;
		}
		self->err[got] = '\0';
	}
	if (!ended) {
		char path[64];
		FILE *f;

		snprintf(path, sizeof(path), "/proc/%d/wchan", ms);
		f = fopen(path, "re");
		if (f) {
			if (!fgets(run->wchan, sizeof(run->wchan), f))
				run->wchan[0] = '\0';
			fclose(f);
		}
		kill(ms, SIGKILL);
	}
	close(sv[0]);
	close(efd[0]);
	if (waitpid(ms, &status, 0) != ms)
		return -1;
	run->status = !ended ? -1 : WIFEXITED(status) ? WEXITSTATUS(status) :
		      128 + WTERMSIG(status);
	return 0;
}

/* the threads pstree.img lists for process @pid (crit show); -1 if no entry is @pid */
static int pstree_threads(const char *dir, pid_t pid, pid_t *tids, int max)
{
	static char out[1 << 16];
	char path[1024], want[32], *p, *end;
	const char *argv[] = { "crit", "show", path, NULL };
	int n = 0;

	snprintf(path, sizeof(path), "%s/pstree.img", dir);
	snprintf(want, sizeof(want), "\"pid\": %d,", pid);
	if (run_cmd(argv, out, sizeof(out)))
		return -1;
	p = strstr(out, want);
	p = p ? strstr(p, "\"threads\": [") : NULL;
	if (!p)
		return -1;
	for (p += strlen("\"threads\": ["); n < max; p = end) {
		long t = strtol(p, &end, 10);

		if (end == p)
			break;
		tids[n++] = t;
		end += strspn(end, ", \n");
	}
	return n;
}

static bool same_set(const pid_t *a, int na, const pid_t *b, int nb)
{
	if (na != nb)
		return false;
	for (int i = 0; i < na; i++) {
		int j = 0;

		while (j < nb && b[j] != a[i])
			j++;
		if (j == nb)
			return false;
	}
	return true;
}

/* the execer starts new generations; false if it did not within 5 s */
static bool execer_runs(const struct execer_state *st)
{
	uint64_t from = st->gen, deadline = ms_now() + 5000;

	while (st->gen < from + 2) {
		if (ms_now() >= deadline)
			return false;
		usleep(1000);
	}
	return true;
}

/*
 * EXEC_RUNS pre-dumps and dumps of an execer with @threads blockers.  Each
 * run ends in time, with a complete image set or one error line (but for a
 * pre-dump that fails after the thaw, a collector's matter); while the
 * tree is frozen, every thread is in a tracing stop of memsplice's and the
 * victim starts no generation; the dump's pstree.img lists exactly the
 * threads that were frozen, and its region holds the pattern (when the
 * frozen generation had filled it); afterwards no thread is stopped or
 * traced, and the victim goes on exec'ing.
 */
static void exec_during_freeze(struct __test_metadata *_metadata, FIXTURE_DATA(freeze) *self,
			       const FIXTURE_VARIANT(freeze) *variant, int threads)
{
	int complete = 0, after_thaw = 0, failed = 0, checked = 0, frozen = 0, runs;

	ASSERT_EQ(0, start_execer(self, threads));
	for (int i = 0; i < EXEC_RUNS; i++) {
		const char *cmd = i % 2 ? "dump" : "pre-dump";
		pid_t tids[MAX_TIDS];
		struct run run;
		char bad[128];
		int n;

		ASSERT_EQ(0, run_hooked(self, variant, cmd, &run));
		ASSERT_NE(-1, run.status) {
			TH_LOG("run %d, %s: memsplice did not end within %d ms (in %s, %s); stderr: %s",
			       i, cmd, RUN_TIMEOUT_MS, run.wchan,
			       run.frozen ? "after the freeze" : "while freezing", self->err);
		}
		if (run.frozen) {
			frozen++;
			EXPECT_STREQ("", run.unfrozen) {
				TH_LOG("run %d, %s: while frozen: %s", i, cmd, run.unfrozen);
			}
			EXPECT_FALSE(run.moved) {
				TH_LOG("run %d, %s: a generation started while frozen", i, cmd);
			}
		}
		if (run.status == 0) {
			complete++;
			EXPECT_TRUE(run.frozen);
			EXPECT_STREQ("", self->err);
			n = pstree_threads(self->dir, self->pid, tids, MAX_TIDS);
			EXPECT_TRUE(same_set(tids, n, run.tids, run.nr_tids)) {
				TH_LOG("run %d, %s: pstree.img lists %d threads (first %d), %d were frozen (first %d)",
				       i, cmd, n, n > 0 ? tids[0] : 0, run.nr_tids,
				       run.nr_tids ? run.tids[0] : 0);
			}
			/* a pre-dump reads after the thaw: the pages of a newer generation */
			if (!strcmp(cmd, "dump") && run.filled == run.gen) {
				struct dump_view dv;
				uint64_t bad_page = 0;

				ASSERT_EQ(0, dump_view_open(&dv, self->dir, self->pid, false));
				EXPECT_EQ(EXECER_PAGES, check_region(&dv, &self->r, 0, 0, &bad_page)) {
					TH_LOG("run %d: page %#lx of generation %llu is wrong or missing",
					       i, (unsigned long)bad_page, (unsigned long long)run.gen);
				}
				dump_view_close(&dv);
				checked++;
			}
		} else if (run.frozen && !strcmp(cmd, "pre-dump")) {
			/*
			 * After the thaw a pre-dump reads a process that may
			 * have exec'ed since: its frozen memory is gone, which
			 * is no failure (the next pass has the new one).
			 */
			after_thaw++;
			TH_LOG("run %d, pre-dump, after the thaw: exit %d: %s", i, run.status,
			       self->err);
			EXPECT_EQ(0, run.status);
		} else {
			failed++;
			TH_LOG("run %d, %s: exit %d: %s", i, cmd, run.status, self->err);
			EXPECT_EQ(1, run.status);
			EXPECT_TRUE(one_line(self->err)) {
				TH_LOG("run %d, %s: exit %d, stderr: %s", i, cmd, run.status, self->err);
			}
		}
		check_threads(self->pid, 0, NULL, bad, sizeof(bad));
		EXPECT_STREQ("", bad) { TH_LOG("run %d, %s: afterwards: %s", i, cmd, bad); }
		ASSERT_TRUE(execer_runs(self->st)) {
			TH_LOG("run %d, %s: afterwards the victim is stuck at generation %llu",
			       i, cmd, (unsigned long long)self->st->gen);
		}
		if (!_metadata->passed)	/* the first failure is the one to read */
			break;
	}
	runs = complete + after_thaw + failed;
	TH_LOG("%d runs: %d froze the tree, %d complete (%d dumps checked page by page), "
	       "%d pre-dumps failed after the thaw, %d runs failed cleanly", runs, frozen,
	       complete, checked, after_thaw, failed);
	/* a freezer that always gives up is no freezer */
	EXPECT_LE(runs, 2 * frozen);
}

/* the leader and the exec'ing thread only: the exec waits for the leader alone */
TEST_F_TIMEOUT(freeze, exec_during_freeze, 300)
{
	NEED_METHOD();
	exec_during_freeze(_metadata, self, variant, 0);
}

/* with other threads, each of which the exec must see reaped */
TEST_F_TIMEOUT(freeze, exec_during_freeze_threads, 300)
{
	NEED_METHOD();
	exec_during_freeze(_metadata, self, variant, 4);
}

TEST_HARNESS_MAIN
