// SPDX-License-Identifier: GPL-2.0
/*
 * The parasite backend (user/source-parasite.c) in isolation.
 *
 * A forked victim fills regions with a pattern derived from its pid
 * (readable, PROT_NONE, write-only, exec-only, sealed), installs a handler,
 * blocks and queues signals, reports its layout over a pipe and then, per
 * variant: blocks in read(), spins, does both from several threads, sleeps in
 * a timed futex wait, is job-control stopped, or runs under a seccomp filter
 * that kills it on vmsplice and memfd_create.  The test freezes it the way
 * pstree.c does, attaches the backend, fills and drains ranges into memory
 * and compares them, provokes failures, detaches, and compares everything it
 * can see of the victim with what it saw before the attach: maps, status,
 * fds, and per thread the registers, FPU/AVX state, debug registers, signal
 * mask and kind of ptrace stop.  Then the victim checks itself (pattern,
 * mask, handler, pending signals, a restarted read(), register-carried loop
 * counters, fds) and exits 0 only if all is intact.
 */
#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "source.h"

extern const struct page_source_ops source_parasite_ops;

#define PG		4096UL
#define MAX_THREADS	8
#define XSTATE_MAX	16384
#ifndef __NR_mseal
#define __NR_mseal	462
#endif

static const struct page_source_ops *ops = &source_parasite_ops;

/* ---- the victim ------------------------------------------------------------ */

enum region { R_RW, R_NONE, R_WO, R_XO, R_SEALED, NR_REGIONS };

static const int region_prot[NR_REGIONS] = {
	[R_RW] = PROT_READ | PROT_WRITE,
	[R_NONE] = PROT_NONE,
	[R_WO] = PROT_WRITE,
	[R_XO] = PROT_EXEC,
	[R_SEALED] = PROT_NONE,
};

struct layout {
	unsigned long addr[NR_REGIONS];	/* 0: region absent (mseal on old kernels) */
	size_t len[NR_REGIONS];
	unsigned long hole;		/* unmapped, between mappings */
};

enum victim_kind { V_BLOCKED, V_SPIN, V_TIMED, V_STOPPED };

struct victim_cfg {
	enum victim_kind kind;		/* what the leader does */
	int spinners, blockers;		/* extra threads */
	bool xfail_eintr;		/* no thread can run the parasite unnoticed */
	bool seccomp;
	size_t rw_len;
};

/* victim's exit status bits */
#define VF_PATTERN	0x01	/* memory */
#define VF_SIGNALS	0x02	/* mask or handler */
#define VF_PENDING	0x04	/* pending signals lost, or SIGPIPE added */
#define VF_READ		0x08	/* blocked read() not restarted */
#define VF_SPIN		0x10	/* register-carried loop state */
#define VF_FDS		0x20
#define VF_SETUP	0x40
#define VF_TIMED	0x80	/* futex with timeout returned EINTR */

static uint64_t pattern(unsigned long addr, pid_t pid)
{
	uint64_t x = addr ^ ((uint64_t)pid << 40);

	x *= 0x9E3779B97F4A7C15ull;
	return x ^ (x >> 29);
}

static void fill_pattern(void *p, size_t len, pid_t pid)
{
	for (uint64_t *w = p; (char *)w < (char *)p + len; w++)
		*w = pattern((unsigned long)w, pid);
}

static bool check_pattern(const void *buf, unsigned long addr, size_t len, pid_t pid)
{
	const uint64_t *w = buf;

	for (size_t i = 0; i < len / 8; i++)
		if (w[i] != pattern(addr + 8 * i, pid))
			return false;
	return true;
}

static void usr1_handler(int sig)
{
	(void)sig;
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	if (!d)
		return -1;
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

/*
 * Work that lives in registers: a loop whose counters the compiler must keep
 * in a general register and an SSE register on every iteration.  If anything
 * of the thread's state is changed while it is interrupted, the closed form
 * stops matching.
 */
static int spin_until(volatile int *go)
{
	uint64_t i = 0, acc = 0;
	double f = 0;

	while (!*go) {
		acc += i * 0x10001;
		f += 1.0;
		i++;
		asm volatile("" : "+r"(acc), "+r"(i), "+x"(f));
	}
	return acc == 0x10001 * (i * (i - 1) / 2) && f == (double)i ? 0 : VF_SPIN;
}

static int block_in_read(int fd)
{
	char c;

	/* no EINTR allowed: the parasite must leave the syscall restartable */
	return read(fd, &c, 1) == 1 && c == 'g' ? 0 : VF_READ;
}

/*
 * A futex wait with a timeout restarts through restart_block, which the
 * parasite's final rt_sigreturn resets: the backend must run the parasite in
 * another thread, or this returns EINTR.
 */
static int timed_wait(volatile int *go)
{
	struct timespec ts = { .tv_sec = 3600 };

	while (!*go) {
		long r = syscall(SYS_futex, go, FUTEX_WAIT, 0, &ts, NULL, 0);

		if (r && errno != EAGAIN)
			return VF_TIMED;
	}
	return 0;
}

struct vthread {
	pthread_t th;
	bool spin;
	int go_fd;
	volatile int *go;
	volatile int *started;
	int result;
};

static void *vthread_main(void *arg)
{
	struct vthread *t = arg;

	__atomic_add_fetch(t->started, 1, __ATOMIC_SEQ_CST);
	t->result = t->spin ? spin_until(t->go) : block_in_read(t->go_fd);
	return NULL;
}

static int install_seccomp(void)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_vmsplice, 2, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_memfd_create, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
	};
	struct sock_fprog prog = { .len = sizeof(f) / sizeof(f[0]), .filter = f };

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		return -1;
	return syscall(__NR_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, &prog);
}

static void *map_region(size_t len, int prot, pid_t pid)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	fill_pattern(p, len, pid);
	if (mprotect(p, len, prot))
		return NULL;
	return p;
}

static int victim_main(const struct victim_cfg *cfg, int ready_fd, int go_fd, volatile int *go)
{
	struct vthread th[MAX_THREADS];
	volatile int started = 0;
	struct layout lay = {};
	pid_t pid = getpid();
	sigset_t mask, cur, pend;
	struct sigaction sa = { .sa_handler = usr1_handler }, old;
	int nfds, nth = cfg->spinners + cfg->blockers, ret = 0;
	void *p;

	lay.len[R_RW] = cfg->rw_len;
	lay.len[R_NONE] = 48 * PG;
	lay.len[R_WO] = 4 * PG;
	lay.len[R_XO] = 4 * PG;
	lay.len[R_SEALED] = 4 * PG;
	for (int r = 0; r < NR_REGIONS; r++) {
		p = map_region(lay.len[r], region_prot[r], pid);
		if (!p)
			_exit(VF_SETUP);
		lay.addr[r] = (unsigned long)p;
	}
	if (syscall(__NR_mseal, lay.addr[R_SEALED], lay.len[R_SEALED], 0)) {
		munmap((void *)lay.addr[R_SEALED], lay.len[R_SEALED]);
		lay.addr[R_SEALED] = 0;
	}
	/* a hole with readable pages on both sides */
	p = map_region(48 * PG, PROT_READ, pid);
	if (!p || munmap((char *)p + 16 * PG, 16 * PG))
		_exit(VF_SETUP);
	lay.hole = (unsigned long)p + 16 * PG;

	/* a handler, a blocked mask, a thread- and a process-pending signal */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
	sigemptyset(&mask);
	sigaddset(&mask, SIGUSR1);
	sigaddset(&mask, SIGUSR2);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	raise(SIGUSR2);
	kill(pid, SIGUSR1);

	if (cfg->seccomp && install_seccomp())
		_exit(VF_SETUP);
	for (int i = 0; i < nth; i++) {
		th[i] = (struct vthread){ .spin = i < cfg->spinners, .go_fd = go_fd, .go = go,
					  .started = &started };
		if (pthread_create(&th[i].th, NULL, vthread_main, &th[i]))
			_exit(VF_SETUP);
	}
	while (__atomic_load_n(&started, __ATOMIC_SEQ_CST) < nth)
		sched_yield();
	nfds = count_fds();

	if (write(ready_fd, &lay, sizeof(lay)) != sizeof(lay))
		_exit(VF_SETUP);
	close(ready_fd);

	switch (cfg->kind) {
	case V_SPIN:
		ret |= spin_until(go);
		break;
	case V_TIMED:
		ret |= timed_wait(go);
		break;
	case V_STOPPED:
		/* job-control stopped while dumped; the parent continues us after */
		raise(SIGSTOP);
		ret |= block_in_read(go_fd);
		break;
	default:
		ret |= block_in_read(go_fd);
		break;
	}
	for (int i = 0; i < nth; i++) {
		pthread_join(th[i].th, NULL);
		ret |= th[i].result;
	}

	/* nfds was counted with ready_fd open */
	if (count_fds() != nfds - 1)
		ret |= VF_FDS;
	sigprocmask(SIG_SETMASK, NULL, &cur);
	if (!sigismember(&cur, SIGUSR1) || !sigismember(&cur, SIGUSR2) || sigismember(&cur, SIGPIPE))
		ret |= VF_SIGNALS;
	sigpending(&pend);
	if (!sigismember(&pend, SIGUSR1) || !sigismember(&pend, SIGUSR2) || sigismember(&pend, SIGPIPE))
		ret |= VF_PENDING;
	sigaction(SIGUSR1, NULL, &old);
	if (old.sa_handler != usr1_handler)
		ret |= VF_SIGNALS;
	for (int r = 0; r < NR_REGIONS; r++) {
		if (!lay.addr[r] || r == R_SEALED)
			continue;
		if (region_prot[r] != (PROT_READ | PROT_WRITE) &&
		    mprotect((void *)lay.addr[r], lay.len[r], PROT_READ)) {
			ret |= VF_PATTERN;
			continue;
		}
		if (!check_pattern((void *)lay.addr[r], lay.addr[r], lay.len[r], pid))
			ret |= VF_PATTERN;
	}
	return ret;
}

/* ---- the dumper's side: freezing like pstree.c, snapshots ------------------ */

struct thread_snap {
	pid_t tid;
	struct user_regs_struct regs;
	struct user_fpregs_struct fpregs;
	unsigned char xstate[XSTATE_MAX];
	size_t xstate_len;
	uint64_t sigmask;
	unsigned long dr[8];
	int stop_signo, stop_event;
	char *status;
};

struct snapshot {
	char *maps, *status, *fds;
	int nr;
	struct thread_snap t[MAX_THREADS + 1];
};

static char *slurp(const char *fmt, ...)
{
	char path[128], *buf = NULL;
	size_t size = 0, used = 0;
	va_list ap;
	ssize_t n;
	int fd;

	va_start(ap, fmt);
	vsnprintf(path, sizeof(path), fmt, ap);
	va_end(ap);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return NULL;
	do {
		if (used + 4096 + 1 > size) {
			size = size ? 2 * size : 16384;
			buf = realloc(buf, size);
		}
		n = read(fd, buf + used, size - used - 1);
		if (n > 0)
			used += n;
	} while (n > 0);
	close(fd);
	buf[used] = 0;
	return buf;
}

/*
 * status lines a parasite legitimately changes (peaks, RSS, scheduling), and
 * SigQ, which counts the signals queued for the whole user
 */
static const char *const status_volatile[] = {
	"VmPeak:", "VmHWM:", "VmRSS:", "RssAnon:", "RssFile:", "RssShmem:", "VmPTE:",
	"voluntary_ctxt_switches:", "nonvoluntary_ctxt_switches:", "SigQ:", NULL,
};

static char *status_stable(char *s)
{
	char *out, *o, *line, *save;

	if (!s)
		return NULL;
	o = out = calloc(1, strlen(s) + 1);
	for (line = strtok_r(s, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		bool skip = false;

		for (int i = 0; status_volatile[i]; i++)
			skip |= !strncmp(line, status_volatile[i], strlen(status_volatile[i]));
		if (!skip)
			o += sprintf(o, "%s\n", line);
	}
	free(s);
	return out;
}

static char *list_fds(pid_t pid)
{
	char path[64], *out = calloc(1, 65536), *o = out;
	struct dirent *de;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	d = opendir(path);
	if (!d)
		return out;
	while ((de = readdir(d))) {
		char link[PATH_MAX + 64], target[256] = "";
		ssize_t n;

		if (de->d_name[0] == '.')
			continue;
		snprintf(link, sizeof(link), "%s/%s", path, de->d_name);
		n = readlink(link, target, sizeof(target) - 1);
		target[n > 0 ? n : 0] = 0;
		o += snprintf(o, 65536 - (o - out), "%s -> %s\n", de->d_name, target);
	}
	closedir(d);
	return out;
}

static int list_threads(pid_t pid, pid_t *tids, int max)
{
	char path[64];
	struct dirent *de;
	int n = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	d = opendir(path);
	if (!d)
		return -1;
	while ((de = readdir(d)) && n < max)
		if (atoi(de->d_name) > 0)
			tids[n++] = atoi(de->d_name);
	closedir(d);
	return n;
}

/* What pstree.c does: seize and interrupt each thread, wait for the stop. */
static int freeze(pid_t pid, pid_t *tids, int max)
{
	int n = list_threads(pid, tids, max);

	for (int i = 0; i < n; i++) {
		int status;

		if (ptrace(PTRACE_SEIZE, tids[i], 0, 0) || ptrace(PTRACE_INTERRUPT, tids[i], 0, 0))
			return -1;
		for (;;) {
			if (waitpid(tids[i], &status, __WALL) != tids[i] || !WIFSTOPPED(status))
				return -1;
			if ((status >> 16) == PTRACE_EVENT_STOP)
				break;
			ptrace(PTRACE_CONT, tids[i], 0, (void *)(long)WSTOPSIG(status));
		}
	}
	return n;
}

static void thaw(const pid_t *tids, int n)
{
	for (int i = 0; i < n; i++)
		ptrace(PTRACE_DETACH, tids[i], 0, 0);
}

static int snap_thread(pid_t pid, struct thread_snap *t)
{
	struct iovec iov = { t->xstate, sizeof(t->xstate) };
	siginfo_t si;
	char *st;

	if (ptrace(PTRACE_GETREGS, t->tid, 0, &t->regs) ||
	    ptrace(PTRACE_GETFPREGS, t->tid, 0, &t->fpregs) ||
	    ptrace(PTRACE_GETSIGMASK, t->tid, sizeof(t->sigmask), &t->sigmask) ||
	    ptrace(PTRACE_GETSIGINFO, t->tid, 0, &si))
		return -1;
	t->xstate_len = ptrace(PTRACE_GETREGSET, t->tid, NT_X86_XSTATE, &iov) ? 0 : iov.iov_len;
	for (int i = 0; i < 8; i++) {
		errno = 0;
		t->dr[i] = (i == 4 || i == 5) ? 0 :
			ptrace(PTRACE_PEEKUSER, t->tid, offsetof(struct user, u_debugreg[i]), 0);
	}
	t->stop_signo = si.si_signo;
	t->stop_event = si.si_code >> 8;
	st = slurp("/proc/%d/task/%d/status", pid, t->tid);
	t->status = status_stable(st);
	return 0;
}

static int snap_take(pid_t pid, const pid_t *tids, int n, struct snapshot *s)
{
	memset(s, 0, sizeof(*s));
	s->maps = slurp("/proc/%d/maps", pid);
	s->status = status_stable(slurp("/proc/%d/status", pid));
	s->fds = list_fds(pid);
	s->nr = n;
	for (int i = 0; i < n; i++) {
		s->t[i].tid = tids[i];
		if (snap_thread(pid, &s->t[i]))
			return -1;
	}
	return s->maps && s->status ? 0 : -1;
}

static void snap_free(struct snapshot *s)
{
	free(s->maps);
	free(s->status);
	free(s->fds);
	for (int i = 0; i < s->nr; i++)
		free(s->t[i].status);
	memset(s, 0, sizeof(*s));
}

#define DIFF(_metadata, what, a, b) do {					\
	if (strcmp((a), (b))) {							\
		TH_LOG("%s differs:\n--- before\n%s--- after\n%s", what, a, b);	\
		diffs++;							\
	}									\
} while (0)

static int snap_compare(struct __test_metadata *_metadata, const struct snapshot *a,
			const struct snapshot *b)
{
	int diffs = 0;

	DIFF(_metadata, "/proc/PID/maps", a->maps, b->maps);
	DIFF(_metadata, "/proc/PID/status", a->status, b->status);
	DIFF(_metadata, "/proc/PID/fd", a->fds, b->fds);
	for (int i = 0; i < a->nr; i++) {
		const struct thread_snap *x = &a->t[i], *y = &b->t[i];

		DIFF(_metadata, "thread status", x->status, y->status);
		if (memcmp(&x->regs, &y->regs, sizeof(x->regs))) {
			TH_LOG("thread %d: registers differ (ip %llx -> %llx, ax %llx -> %llx, orig_ax %llx -> %llx)",
			       x->tid, x->regs.rip, y->regs.rip, x->regs.rax, y->regs.rax,
			       x->regs.orig_rax, y->regs.orig_rax);
			diffs++;
		}
		if (memcmp(&x->fpregs, &y->fpregs, sizeof(x->fpregs))) {
			TH_LOG("thread %d: FPU/SSE registers differ", x->tid);
			diffs++;
		}
		if (x->xstate_len != y->xstate_len ||
		    memcmp(x->xstate, y->xstate, x->xstate_len)) {
			TH_LOG("thread %d: xstate differs (len %zu/%zu)", x->tid, x->xstate_len, y->xstate_len);
			for (size_t o = 0; o < x->xstate_len; o++)
				if (x->xstate[o] != y->xstate[o])
					TH_LOG("  [%zu] %02x -> %02x", o, x->xstate[o], y->xstate[o]);
			diffs++;
		}
		if (x->sigmask != y->sigmask) {
			TH_LOG("thread %d: sigmask %llx -> %llx", x->tid,
			       (unsigned long long)x->sigmask, (unsigned long long)y->sigmask);
			diffs++;
		}
		if (memcmp(x->dr, y->dr, sizeof(x->dr))) {
			TH_LOG("thread %d: debug registers differ (dr7 %lx -> %lx)", x->tid,
			       x->dr[7], y->dr[7]);
			diffs++;
		}
		if (x->stop_signo != y->stop_signo || x->stop_event != y->stop_event) {
			TH_LOG("thread %d: stop %d/%d -> %d/%d", x->tid, x->stop_signo,
			       x->stop_event, y->stop_signo, y->stop_event);
			diffs++;
		}
	}
	return diffs;
}

/* ---- the fixture ------------------------------------------------------------ */

struct victim {
	pid_t pid;
	enum victim_kind kind;
	int ready_fd, go_fd;		/* our ends */
	volatile int *go;		/* shared page: spinners stop when set */
	struct layout lay;
	pid_t tids[MAX_THREADS + 1];
	int nr;
	bool frozen;
	struct snapshot before;
};

static char proc_state(pid_t pid)
{
	char *s = slurp("/proc/%d/stat", pid), *p, c = 0;

	if (s && (p = strrchr(s, ')')))
		c = p[2];
	free(s);
	return c;
}

/* wait until a job-control stopped victim is stopped ('T'), or has gone on */
static char wait_stopped(pid_t pid)
{
	char c = 0;

	for (long spins = 0; spins < 20000000; spins++) {
		c = proc_state(pid);
		if (c == 'T' || c == 'S')
			break;
		sched_yield();
	}
	return c;
}

/* wait until each thread that should block in read() or futex() is in it */
static bool wait_blocked(pid_t pid, int want)
{
	for (long spins = 0; spins < 20000000; spins++) {
		pid_t tids[MAX_THREADS + 1];
		int n = list_threads(pid, tids, MAX_THREADS + 1), in_read = 0;

		for (int i = 0; i < n; i++) {
			char *s = slurp("/proc/%d/task/%d/syscall", pid, tids[i]);

			in_read += s && (!strncmp(s, "0 ", 2) || !strncmp(s, "202 ", 4));
			free(s);
		}
		if (in_read >= want)
			return true;
		sched_yield();
	}
	return false;
}

static int victim_start(struct __test_metadata *_metadata, struct victim *v,
			const struct victim_cfg *cfg)
{
	int ready[2], go[2];

	memset(v, 0, sizeof(*v));
	v->kind = cfg->kind;
	v->go = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, v->go);
	ASSERT_EQ(0, pipe2(ready, O_CLOEXEC));
	ASSERT_EQ(0, pipe(go));
	v->pid = fork();
	ASSERT_LE(0, v->pid);
	if (v->pid == 0) {
		close(ready[0]);
		close(go[1]);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		_exit(victim_main(cfg, ready[1], go[0], v->go));
	}
	close(ready[1]);
	close(go[0]);
	v->ready_fd = ready[0];
	v->go_fd = go[1];
	ASSERT_EQ(sizeof(v->lay), read(v->ready_fd, &v->lay, sizeof(v->lay))) {
		TH_LOG("victim did not get ready");
	}
	ASSERT_TRUE(wait_blocked(v->pid, (cfg->kind != V_SPIN && cfg->kind != V_STOPPED) +
					 cfg->blockers)) {
		TH_LOG("victim threads not blocked in read()");
	}
	if (cfg->kind == V_STOPPED)
		ASSERT_EQ('T', wait_stopped(v->pid));
	v->nr = freeze(v->pid, v->tids, MAX_THREADS + 1);
	ASSERT_EQ(1 + cfg->spinners + cfg->blockers, v->nr) {
		TH_LOG("%m: cannot freeze the victim");
	}
	v->frozen = true;
	ASSERT_EQ(0, snap_take(v->pid, v->tids, v->nr, &v->before));
	return 0;
}

/*
 * Compare with the snapshot taken before the attach, let the victim go and
 * collect its own verdict.
 */
static void victim_finish(struct __test_metadata *_metadata, struct victim *v)
{
	struct snapshot after;
	int status;

	ASSERT_EQ(0, snap_take(v->pid, v->tids, v->nr, &after));
	EXPECT_EQ(0, snap_compare(_metadata, &v->before, &after));
	snap_free(&after);
	thaw(v->tids, v->nr);
	v->frozen = false;
	if (v->kind == V_STOPPED) {
		/* it must still be stopped: running the parasite ends no group stop */
		EXPECT_EQ('T', wait_stopped(v->pid));
		kill(v->pid, SIGCONT);
	}
	*v->go = 1;
	syscall(SYS_futex, v->go, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
	ASSERT_EQ(16, write(v->go_fd, "gggggggggggggggg", 16));
	ASSERT_EQ(v->pid, waitpid(v->pid, &status, 0));
	v->pid = 0;
	ASSERT_TRUE(WIFEXITED(status)) {
		TH_LOG("victim died: status %#x (signal %d)", status,
		       WIFSIGNALED(status) ? WTERMSIG(status) : 0);
	}
	ASSERT_EQ(0, WEXITSTATUS(status)) {
		TH_LOG("victim's self-check failed: %#x", WEXITSTATUS(status));
	}
}

static void victim_kill(struct victim *v)
{
	if (v->pid > 0) {
		kill(v->pid, SIGKILL);
		if (v->frozen)
			thaw(v->tids, v->nr);
		while (waitpid(-1, NULL, __WALL) > 0)
			;
	}
	snap_free(&v->before);
	if (v->go)
		munmap((void *)v->go, PG);
	close(v->ready_fd);
	close(v->go_fd);
}

static int drain(int fd, void *buf, size_t len)
{
	for (size_t done = 0; done < len;) {
		ssize_t n = read(fd, (char *)buf + done, len - done);

		if (n <= 0)
			return -1;
		done += n;
	}
	return 0;
}

/* fill+drain [addr, addr+len) the way the dump loop does; bytes or -errno */
static ssize_t dump_range(struct page_source *src, unsigned long addr, size_t len, int prot,
			  void *out)
{
	size_t done = 0;

	while (done < len) {
		struct src_range r = {
			.addr = addr + done,
			.len = len - done < src->buffer_size ? len - done : src->buffer_size,
			.prot = prot,
			.force = !(prot & PROT_READ),
		};
		struct page_data d;
		ssize_t n = ops->fill(src, &r, &d);

		if (n <= 0)
			return done ? (ssize_t)done : n;
		if (d.buf || d.len != (size_t)n || drain(d.pipe_fd, (char *)out + done, n))
			return -EPROTO;
		done += n;
	}
	return done;
}

FIXTURE(parasite) {
	struct victim v;
	struct page_source src;
	bool created;
	void *buf;
};

FIXTURE_VARIANT(parasite) {
	struct victim_cfg cfg;
};

FIXTURE_VARIANT_ADD(parasite, blocked) {
	.cfg = { .kind = V_BLOCKED, .rw_len = 8 << 20 },
};

FIXTURE_VARIANT_ADD(parasite, spinning) {
	.cfg = { .kind = V_SPIN, .rw_len = 8 << 20 },
};

FIXTURE_VARIANT_ADD(parasite, threads) {
	.cfg = { .kind = V_BLOCKED, .spinners = 2, .blockers = 2, .rw_len = 8 << 20 },
};

FIXTURE_VARIANT_ADD(parasite, timed) {
	.cfg = { .kind = V_TIMED, .blockers = 1, .rw_len = 8 << 20 },
};

FIXTURE_VARIANT_ADD(parasite, stopped) {
	.cfg = { .kind = V_STOPPED, .blockers = 1, .rw_len = 8 << 20 },
};

FIXTURE_VARIANT_ADD(parasite, seccomp) {
	.cfg = { .kind = V_SPIN, .spinners = 1, .blockers = 1, .seccomp = true,
		 .rw_len = 8 << 20 },
};

FIXTURE_SETUP(parasite)
{
	struct source_opts opts = { .buffer_size = 1 << 20 };
	char why[256] = "";

	memset(&self->src, 0, sizeof(self->src));
	self->src.ops = ops;
	if (ops->probe(why, sizeof(why)))
		SKIP(return, "parasite backend unavailable: %s", why);
	self->buf = malloc(variant->cfg.rw_len);
	ASSERT_NE(NULL, self->buf);
	victim_start(_metadata, &self->v, &variant->cfg);
	ASSERT_EQ(0, ops->create(&self->src, &opts));
	self->created = true;
	ASSERT_LT(0, self->src.buffer_size);
	ASSERT_GE(opts.buffer_size, self->src.buffer_size);
}

FIXTURE_TEARDOWN(parasite)
{
	if (self->created) {
		if (self->src.pid)
			ops->detach(&self->src);
		ops->destroy(&self->src);
	}
	victim_kill(&self->v);
	free(self->buf);
}

/* every region, in buffer-sized fills, byte for byte */
TEST_F(parasite, dump_all)
{
	struct victim *v = &self->v;
	pid_t pid = v->pid;

	ASSERT_EQ(0, ops->attach(&self->src, pid));
	ASSERT_EQ(pid, self->src.pid);
	for (int r = 0; r < NR_REGIONS; r++) {
		if (!v->lay.addr[r] || r == R_SEALED)
			continue;
		memset(self->buf, 0, v->lay.len[r]);
		EXPECT_EQ((ssize_t)v->lay.len[r],
			  dump_range(&self->src, v->lay.addr[r], v->lay.len[r], region_prot[r], self->buf));
		EXPECT_TRUE(check_pattern(self->buf, v->lay.addr[r], v->lay.len[r], pid)) {
			TH_LOG("region %d: wrong bytes", r);
		}
	}
	/* the middle of a PROT_NONE VMA: mprotect splits it, the restore must merge it */
	memset(self->buf, 0, 16 * PG);
	EXPECT_EQ(16 * PG, dump_range(&self->src, v->lay.addr[R_NONE] + 16 * PG, 16 * PG,
				      PROT_NONE, self->buf));
	EXPECT_TRUE(check_pattern(self->buf, v->lay.addr[R_NONE] + 16 * PG, 16 * PG, pid));
	ASSERT_EQ(0, ops->detach(&self->src));
	ASSERT_EQ(0, self->src.pid);
	victim_finish(_metadata, v);
}

/* one request larger than the pipe: a short, exact fill */
TEST_F(parasite, larger_than_pipe)
{
	struct victim *v = &self->v;
	struct src_range r = { .addr = v->lay.addr[R_RW], .len = v->lay.len[R_RW],
			       .prot = PROT_READ | PROT_WRITE };
	struct page_data d;
	ssize_t n;

	ASSERT_EQ(0, ops->attach(&self->src, v->pid));
	n = ops->fill(&self->src, &r, &d);
	ASSERT_EQ((ssize_t)self->src.buffer_size, n);
	ASSERT_EQ(0, drain(d.pipe_fd, self->buf, n));
	EXPECT_TRUE(check_pattern(self->buf, r.addr, n, v->pid));
	ASSERT_EQ(0, ops->detach(&self->src));
	victim_finish(_metadata, v);
}

/* errors after the infection: the parasite stays usable, the cure is complete */
TEST_F(parasite, provoked_failures)
{
	struct victim *v = &self->v;
	struct src_range r = { .addr = v->lay.hole, .len = 4 * PG, .prot = PROT_READ };
	struct page_data d;
	int decoy[2];
	ssize_t n;

	ASSERT_EQ(0, ops->attach(&self->src, v->pid));
	/* unmapped */
	EXPECT_EQ(-EFAULT, ops->fill(&self->src, &r, &d));
	/* unmapped, as if PROT_NONE: the mprotect fails, nothing to restore */
	r.prot = PROT_NONE;
	EXPECT_GT(0, ops->fill(&self->src, &r, &d));
	/* a range running into the hole: short */
	r = (struct src_range){ .addr = v->lay.hole - 2 * PG, .len = 4 * PG, .prot = PROT_READ };
	n = ops->fill(&self->src, &r, &d);
	if (n > 0)
		ASSERT_EQ(0, drain(d.pipe_fd, self->buf, n));
	EXPECT_TRUE(n == -EFAULT || n == 2 * (ssize_t)PG) {
		TH_LOG("fill into a hole: %zd", n);
	}
	/* sealed PROT_NONE: mprotect refused (mseal, 6.10+) */
	if (v->lay.addr[R_SEALED]) {
		r = (struct src_range){ .addr = v->lay.addr[R_SEALED], .len = 4 * PG,
					.prot = PROT_NONE, .force = true };
		EXPECT_EQ(-EPERM, ops->fill(&self->src, &r, &d));
	}
	/* still works */
	EXPECT_EQ(64 * (ssize_t)PG, dump_range(&self->src, v->lay.addr[R_RW], 64 * PG,
					       PROT_READ | PROT_WRITE, self->buf));
	EXPECT_TRUE(check_pattern(self->buf, v->lay.addr[R_RW], 64 * PG, v->pid));
	/* not drained, then detached with pages in the pipe */
	r = (struct src_range){ .addr = v->lay.addr[R_NONE], .len = 8 * PG, .prot = PROT_NONE };
	EXPECT_EQ(8 * (ssize_t)PG, ops->fill(&self->src, &r, &d));
	EXPECT_EQ(-EBUSY, ops->fill(&self->src, &r, &d));
	ASSERT_EQ(0, ops->detach(&self->src));

	/* again: no stale pages; then the pipe closed under the backend */
	ASSERT_EQ(0, ops->attach(&self->src, v->pid));
	r = (struct src_range){ .addr = v->lay.addr[R_RW], .len = 4 * PG,
				.prot = PROT_READ | PROT_WRITE };
	ASSERT_EQ(4 * (ssize_t)PG, ops->fill(&self->src, &r, &d));
	ASSERT_EQ(0, drain(d.pipe_fd, self->buf, 4 * PG));
	EXPECT_TRUE(check_pattern(self->buf, r.addr, 4 * PG, v->pid));
	/*
	 * Closed, and its number taken by another pipe: the backend cannot
	 * tell, and the parasite splices into a pipe memsplice no longer reads.
	 * It must have a reader still, or the target gets a SIGPIPE.
	 */
	close(d.pipe_fd);
	ASSERT_EQ(0, pipe(decoy));
	if (decoy[0] == d.pipe_fd) {
		EXPECT_EQ(4 * (ssize_t)PG, ops->fill(&self->src, &r, &d));
	} else {
		EXPECT_GT(0, ops->fill(&self->src, &r, &d));
		close(decoy[0]);	/* else the backend owns it now */
	}
	close(decoy[1]);
	ops->detach(&self->src);
	victim_finish(_metadata, v);
}

/* pre-dump iterations: attach and detach several times */
TEST_F(parasite, reattach)
{
	struct victim *v = &self->v;

	for (int i = 0; i < 3; i++) {
		ASSERT_EQ(0, ops->attach(&self->src, v->pid));
		EXPECT_EQ(4 * (ssize_t)PG, dump_range(&self->src, v->lay.addr[R_XO], 4 * PG,
						      PROT_EXEC, self->buf));
		EXPECT_TRUE(check_pattern(self->buf, v->lay.addr[R_XO], 4 * PG, v->pid));
		ASSERT_EQ(0, ops->detach(&self->src));
	}
	victim_finish(_metadata, v);
}

/* the target dies while infected: errors, no hang, nothing left to cure */
TEST_F(parasite, victim_killed)
{
	struct victim *v = &self->v;
	struct src_range r = { .addr = v->lay.addr[R_RW], .len = 4 * PG,
			       .prot = PROT_READ | PROT_WRITE };
	struct page_data d;
	int status;

	ASSERT_EQ(0, ops->attach(&self->src, v->pid));
	ASSERT_EQ(0, kill(v->pid, SIGKILL));
	EXPECT_GT(0, ops->fill(&self->src, &r, &d));
	EXPECT_GT(0, ops->detach(&self->src));
	EXPECT_EQ(0, self->src.pid);
	/* the zombie threads are ours to reap (we trace them) before the leader */
	for (pid_t p; (p = waitpid(-1, &status, __WALL)) > 0;)
		if (p == v->pid)
			EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	v->pid = 0;
	v->frozen = false;
}

/* ---- probe and numbers ------------------------------------------------------ */

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/*
 * Absolute times mean nothing under QEMU's TCG (the guests of
 * selftests/vm/run-guest.sh): everything is 10-50x slower there.
 */
static bool cpu_emulated(void)
{
	char *s = slurp("/proc/cpuinfo");
	bool tcg = s && strstr(s, "QEMU TCG");

	free(s);
	return tcg;
}

TEST(probe)
{
	char why[256] = "";
	uint64_t t = now_ns();
	int ret = ops->probe(why, sizeof(why));

	t = now_ns() - t;
	ASSERT_EQ(0, ret) {
		TH_LOG("probe: %s", why);
	}
	TH_LOG("probe: %.2f ms", t / 1e6);
	/* memsplice check runs every probe: this one must stay cheap */
	if (!cpu_emulated())
		EXPECT_GT(50000000ull, t);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

#define RUNS 7

FIXTURE(numbers) {};
FIXTURE_SETUP(numbers) {}
FIXTURE_TEARDOWN(numbers) {}

/*
 * attach, 64 MiB through the pipe (into memory, spliced to /dev/null and to
 * a file), detach; medians
 */
TEST_F_TIMEOUT(numbers, parasite_64m, 600)
{
	const struct victim_cfg cfg = { .kind = V_BLOCKED, .rw_len = 64 << 20 };
	struct source_opts opts = { .buffer_size = 1 << 20 };
	struct page_source src = { .ops = ops };
	uint64_t t_att[RUNS], t_mem[RUNS], t_null[RUNS], t_file[RUNS], t_det[RUNS];
	char file[] = "/tmp/parasite_test.XXXXXX";
	int file_fd;
	char why[256] = "";
	struct victim v;
	int null_fd;
	void *buf;

	if (ops->probe(why, sizeof(why)))
		SKIP(return, "parasite backend unavailable: %s", why);
	buf = malloc(cfg.rw_len);
	ASSERT_NE(NULL, buf);
	null_fd = open("/dev/null", O_WRONLY);
	ASSERT_LE(0, null_fd);
	file_fd = mkstemp(file);
	ASSERT_LE(0, file_fd);
	unlink(file);
	victim_start(_metadata, &v, &cfg);
	ASSERT_EQ(0, ops->create(&src, &opts));
	for (int i = 0; i < RUNS; i++) {
		uint64_t t0 = now_ns();
		size_t done;

		ASSERT_EQ(0, ops->attach(&src, v.pid));
		t_att[i] = now_ns() - t0;

		t0 = now_ns();
		ASSERT_EQ((ssize_t)cfg.rw_len, dump_range(&src, v.lay.addr[R_RW], cfg.rw_len,
							  PROT_READ | PROT_WRITE, buf));
		t_mem[i] = now_ns() - t0;
		if (i == 0)
			ASSERT_TRUE(check_pattern(buf, v.lay.addr[R_RW], cfg.rw_len, v.pid));

		t0 = now_ns();
		for (done = 0; done < cfg.rw_len;) {
			struct src_range r = { .addr = v.lay.addr[R_RW] + done,
					       .len = src.buffer_size,
					       .prot = PROT_READ | PROT_WRITE };
			struct page_data d;
			ssize_t n = ops->fill(&src, &r, &d);

			ASSERT_LT(0, n);
			ASSERT_EQ(n, splice(d.pipe_fd, NULL, null_fd, NULL, n, 0));
			done += n;
		}
		t_null[i] = now_ns() - t0;

		ASSERT_EQ(0, ftruncate(file_fd, 0));
		t0 = now_ns();
		for (done = 0; done < cfg.rw_len;) {
			struct src_range r = { .addr = v.lay.addr[R_RW] + done,
					       .len = src.buffer_size,
					       .prot = PROT_READ | PROT_WRITE };
			struct page_data d;
			loff_t off = done;
			ssize_t n = ops->fill(&src, &r, &d);

			ASSERT_LT(0, n);
			ASSERT_EQ(n, splice(d.pipe_fd, NULL, file_fd, &off, n, 0));
			done += n;
		}
		t_file[i] = now_ns() - t0;

		t0 = now_ns();
		ASSERT_EQ(0, ops->detach(&src));
		t_det[i] = now_ns() - t0;
	}
	ops->destroy(&src);
	qsort(t_att, RUNS, sizeof(uint64_t), cmp_u64);
	qsort(t_mem, RUNS, sizeof(uint64_t), cmp_u64);
	qsort(t_null, RUNS, sizeof(uint64_t), cmp_u64);
	qsort(t_det, RUNS, sizeof(uint64_t), cmp_u64);
	qsort(t_file, RUNS, sizeof(uint64_t), cmp_u64);
	TH_LOG("64 MiB, pipe %zu KiB, median of %d (min..max):", src.buffer_size >> 10, RUNS);
	TH_LOG("  attach (infect)      %8.3f ms (%.3f..%.3f)", t_att[RUNS / 2] / 1e6,
	       t_att[0] / 1e6, t_att[RUNS - 1] / 1e6);
	TH_LOG("  fill+read to memory  %8.3f ms  %6.0f MiB/s", t_mem[RUNS / 2] / 1e6,
	       64e9 / t_mem[RUNS / 2]);
	TH_LOG("  fill+splice to null  %8.3f ms  %6.0f MiB/s", t_null[RUNS / 2] / 1e6,
	       64e9 / t_null[RUNS / 2]);
	TH_LOG("  fill+splice to /tmp  %8.3f ms  %6.0f MiB/s", t_file[RUNS / 2] / 1e6,
	       64e9 / t_file[RUNS / 2]);
	TH_LOG("  detach (cure)        %8.3f ms (%.3f..%.3f)", t_det[RUNS / 2] / 1e6,
	       t_det[0] / 1e6, t_det[RUNS - 1] / 1e6);
	victim_finish(_metadata, &v);
	victim_kill(&v);
	close(file_fd);
	close(null_fd);
	free(buf);
}

TEST_HARNESS_MAIN
