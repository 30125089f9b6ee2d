// SPDX-License-Identifier: GPL-2.0
/*
 * Freeze a tree with ptrace: seize and interrupt every thread, discover new
 * threads and children until the set stops growing.  A process that exits
 * while we walk is dropped, not an error.  Only the kernel's ptrace rules
 * decide whether we may freeze a task (PTRACE_SEIZE fails with EPERM).
 */
#define LOG_PREFIX "pstree: "
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/ptrace.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "tree/pstree.h"
#include "util.h"

#define PF_KTHREAD	0x00200000

struct proc_stat {
	pid_t ppid, pgid, sid;
	unsigned long flags;
	unsigned long long start_time;
};

static int parse_stat(pid_t pid, struct proc_stat *st)
{
	char path[64], *buf, *p;
	int ret;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	ret = read_file(path, &buf, NULL);
	if (ret)
		return ret == -ENOENT ? -ESRCH : ret;
	/* comm may contain anything: fields start after the last ')' */
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 2, "%*c %d %d %d %*d %*d %lu %*u %*u %*u %*u %*u %*u "
			 "%*d %*d %*d %*d %*d %*d %llu", &st->ppid, &st->pgid,
			 &st->sid, &st->flags, &st->start_time) != 5)
		ret = -EINVAL;
	free(buf);
	return ret;
}

/*
 * The ids a task has in its own pid namespace: the last number of the
 * NSpid/NSpgid/NSsid lines of /proc/PID/task/TID/status (the innermost
 * namespace, as CRIU takes them).  A line the kernel does not print leaves
 * its id as it was.
 */
static int read_nsids(pid_t pid, pid_t tid, pid_t *vpid, pid_t *vpgid, pid_t *vsid)
{
	static const char *const keys[] = { "NSpid:", "NSpgid:", "NSsid:" };
	pid_t *out[] = { vpid, vpgid, vsid };
	char path[96], *buf, *line, *save;
	int ret;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/status", pid, tid);
	ret = read_file(path, &buf, NULL);
	if (ret)
		return ret == -ENOENT ? -ESRCH : ret;
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		for (size_t k = 0; k < ARRAY_SIZE(keys); k++) {
			char *last;

			if (!out[k] || strncmp(line, keys[k], strlen(keys[k])))
				continue;
			last = strrchr(line, '\t');
			*out[k] = atoi(last ? last + 1 : line + strlen(keys[k]));
		}
	}
	free(buf);
	return 0;
}

/* ids in the tasks' namespace; every process must see the same one */
static int set_vids(struct pstree *tree)
{
	for (unsigned int i = 0; i < tree->nr; i++) {
		struct task *t = &tree->tasks[i];
		pid_t host_ppid = t->ppid;
		int ret;

		t->vpid = t->pid;
		ret = read_nsids(t->pid, t->pid, &t->vpid, &t->pgid, &t->sid);
		if (ret)
			return ret;
		t->vthreads = calloc(t->nr_threads + 1, sizeof(*t->vthreads));
		if (!t->vthreads)
			return -ENOMEM;
		for (unsigned int k = 0; k < t->nr_threads && !ret; k++) {
			t->vthreads[k] = t->threads[k];
			ret = read_nsids(t->pid, t->threads[k], &t->vthreads[k], NULL, NULL);
		}
		if (ret)
			return ret;
		t->ppid = 0;
		for (unsigned int j = 0; j < i; j++)
			if (tree->tasks[j].pid == host_ppid)
				t->ppid = tree->tasks[j].vpid;
		for (unsigned int j = 0; j < i; j++) {
			if (tree->tasks[j].vpid == t->vpid) {
				pr_err("processes %d and %d are both pid %d in their namespaces: "
				       "nested pid namespaces are not supported",
				       tree->tasks[j].pid, t->pid, t->vpid);
				return -EOPNOTSUPP;
			}
		}
	}
	return 0;
}

int pstree_check_target(pid_t root)
{
	struct proc_stat st;
	int ret;

	if (root <= 0) {
		pr_err("invalid pid %d", root);
		return -EINVAL;
	}
	if (root == getpid()) {
		pr_err("pid %d is memsplice itself", root);
		return -EINVAL;
	}
	ret = parse_stat(root, &st);
	if (ret == -ESRCH) {
		pr_err("no such process: %d", root);
		return ret;
	}
	if (ret) {
		pr_errno(ret, "cannot read /proc/%d/stat", root);
		return ret;
	}
	if (st.flags & PF_KTHREAD) {
		pr_err("pid %d is a kernel thread: it has no user memory to dump", root);
		return -EINVAL;
	}
	return 0;
}

/*
 * A thread that execs while we freeze (execve(2) under ptrace) kills every
 * other thread of its process and takes the leader's tid.  Meanwhile:
 * - it waits until every killed thread we trace is reaped, by us, holding
 *   the process's cred_guard_mutex, on which PTRACE_SEIZE of any of its
 *   threads sleeps: the two would wait for each other forever.  So
 *   reap_exited() runs from a timer signal while PTRACE_SEIZE sleeps (the
 *   call restarts after the handler; it returns once the exec is done), and
 *   whenever a wait for a stop wakes up;
 * - the tid of a leader we froze may then name the exec'ing thread, running
 *   and not ours, or ours but not stopped yet (when we had seized it under
 *   its old tid): recheck_threads() finds every frozen thread that is no
 *   longer a stopped tracee of ours, and the threads are listed again;
 * - seizing the leader may fail with EPERM (the task the kernel looked up
 *   died meanwhile) while its tid names the exec'ing thread already, alive
 *   and with the leader's start time: seize_thread() tries again.
 */
#define REAP_INTERVAL_NS	(5 * 1000 * 1000)
#define SEIZE_EPERM_TRIES	4

/*
 * Reap every seized thread that exited and forget it (async-signal-safe).
 * WNOWAIT first: a stop that nobody collected yet is left for wait_frozen().
 */
static void reap_exited(struct pstree *tree)
{
	for (unsigned int i = 0; i < tree->nr_seized; i++) {
		pid_t tid = tree->seized[i];
		siginfo_t si;

		if (tid <= 0)
			continue;
		si.si_pid = 0;
		if (waitid(P_PID, tid, &si, WEXITED | WNOHANG | WNOWAIT | __WALL) ||
		    si.si_pid != tid || (si.si_code != CLD_EXITED && si.si_code != CLD_KILLED &&
					 si.si_code != CLD_DUMPED))
			continue;
		waitid(P_PID, tid, &si, WEXITED | WNOHANG | __WALL);
		tree->seized[i] = 0;
	}
}

/* SIGALRM of the reap timer; other senders' SIGALRM carries no tree */
static void reap_on_timer(int sig, siginfo_t *si, void *uc)
{
	int saved = errno;

	if (si->si_code == SI_TIMER)
		reap_exited(si->si_value.sival_ptr);
	errno = saved;
}

/*
 * PTRACE_SEIZE, with the reap timer running and SIGALRM let in for just as
 * long: the handler runs only while we are in this call, never while the
 * rest of this file changes @tree->seized.  0 or -errno.
 */
static int seize_reaping(struct pstree *tree, pid_t tid)
{
	struct itimerspec on = {
		.it_value = { .tv_nsec = REAP_INTERVAL_NS },
		.it_interval = { .tv_nsec = REAP_INTERVAL_NS },
	}, off = { 0 };
	sigset_t alrm;
	int ret;

	sigemptyset(&alrm);
	sigaddset(&alrm, SIGALRM);
	timer_settime(tree->reap_timer, 0, &on, NULL);
	sigprocmask(SIG_UNBLOCK, &alrm, NULL);
	ret = ptrace(PTRACE_SEIZE, tid, 0, 0) < 0 ? -errno : 0;
	sigprocmask(SIG_BLOCK, &alrm, NULL);
	timer_settime(tree->reap_timer, 0, &off, NULL);
	return ret;
}

static bool is_seized(const struct pstree *tree, pid_t tid)
{
	for (unsigned int i = 0; i < tree->nr_seized; i++)
		if (tree->seized[i] == tid)
			return true;
	return false;
}

static int note_seized(struct pstree *tree, pid_t tid)
{
	if (is_seized(tree, tid))
		return 0;
	if (tree->nr_seized == tree->cap_seized) {
		unsigned int cap = tree->cap_seized ? 2 * tree->cap_seized : 64;
		pid_t *n = realloc(tree->seized, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		tree->seized = n;
		tree->cap_seized = cap;
	}
	tree->seized[tree->nr_seized++] = tid;
	return 0;
}

/* the State letter of a thread ('Z' zombie, 'X' dead), 0 when it is gone */
static char thread_state(pid_t pid, pid_t tid)
{
	char path[96], *buf, *p, state = 0;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", pid, tid);
	if (read_file(path, &buf, NULL))
		return 0;
	p = strrchr(buf, ')');
	if (p && p[1] == ' ')
		state = p[2];
	free(buf);
	return state;
}

static bool thread_exited(pid_t pid, pid_t tid)
{
	char st = thread_state(pid, tid);

	return !st || st == 'Z' || st == 'X';
}

/* TracerPid of a thread: who else ptraces it; 0 if nobody (or unknown) */
static pid_t thread_tracer(pid_t pid, pid_t tid)
{
	char path[96], *buf, *p;
	pid_t tracer = 0;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/status", pid, tid);
	if (read_file(path, &buf, NULL))
		return 0;
	p = strstr(buf, "\nTracerPid:");
	if (p)
		tracer = atoi(p + strlen("\nTracerPid:"));
	free(buf);
	return tracer;
}

/*
 * Wait until thread @tid of @pid reports a ptrace stop, for
 * @tree->stop_timeout_ms at most: a task in uninterruptible sleep (a vfork
 * parent waiting for its child, a thread stuck in I/O, a thread in the
 * middle of exec) stops only when it leaves it, maybe never.  Signals that
 * arrive first are delivered as they would have been without us; a group
 * stop counts as frozen.  Returns 0, -ESRCH when the thread died meanwhile
 * (or, exec'ing, took another tid), -ETIMEDOUT, or -EINTR.  Every ptrace
 * stop and every exit of a tracee sends us SIGCHLD, which pstree_seize()
 * receives on a signalfd: poll() on it is the wait with a deadline.  A
 * leader that died has nothing to report while other threads live, and the
 * exec that kills it releases it without a signal: after each wake-up, a
 * zombie counts as gone.
 */
static int wait_frozen(struct pstree *tree, pid_t pid, pid_t tid)
{
	uint64_t deadline = now_us() + tree->stop_timeout_ms * 1000ULL;
	bool woke = false;

	for (;;) {
		struct signalfd_siginfo si;
		struct pollfd pfd = { .fd = tree->sigchld_fd, .events = POLLIN };
		uint64_t now;
		int status;
		pid_t r = waitpid(tid, &status, __WALL | WNOHANG);

		if (r < 0) {
			if (errno == EINTR)
				return -EINTR;
			return errno == ECHILD ? -ESRCH : -errno;
		}
		if (r == 0) {
			if (woke && thread_exited(pid, tid))
				return -ESRCH;
			now = now_us();
			if (now >= deadline)
				return -ETIMEDOUT;
			if (poll(&pfd, 1, (deadline - now + 999) / 1000) < 0)
				return errno == EINTR ? -EINTR : -errno;
			while (read(tree->sigchld_fd, &si, sizeof(si)) == sizeof(si))
				;
			reap_exited(tree);	/* @tid may wait for an exec that waits for this */
			woke = true;
			continue;
		}
		if (WIFEXITED(status) || WIFSIGNALED(status))
			return -ESRCH;
		if (!WIFSTOPPED(status))
			continue;
		if ((status >> 16) == PTRACE_EVENT_STOP)
			return 0;
		/* signal-delivery-stop: let the signal through, the interrupt stays pending */
		if (ptrace(PTRACE_CONT, tid, 0, (void *)(long)WSTOPSIG(status)) < 0)
			return errno == ESRCH ? -ESRCH : -errno;
	}
}

/* Interrupt a seized thread and wait for its stop.  1 stopped, 0 gone, or -errno. */
static int stop_thread(struct pstree *tree, pid_t pid, pid_t tid)
{
	int ret;

	if (ptrace(PTRACE_INTERRUPT, tid, 0, 0) < 0)
		return errno == ESRCH ? 0 : -errno;
	ret = wait_frozen(tree, pid, tid);
	if (ret == -ESRCH)
		return 0;
	if (ret == -ETIMEDOUT)
		pr_err("thread %d of process %d did not stop within %u ms: it is in state %c "
		       "(a vfork parent waiting for its child, a thread in exec, or stuck in "
		       "the kernel)", tid, pid, tree->stop_timeout_ms,
		       thread_state(pid, tid) ?: '?');
	return ret ? ret : 1;
}

/*
 * Seize one thread of process @pid.  Returns 1 when seized, 0 when it is
 * gone or exiting (a zombie has nothing to freeze; its tid may be taken by
 * an exec meanwhile: list again), or -errno.
 */
static int seize_thread(struct pstree *tree, pid_t pid, pid_t tid)
{
	pid_t tracer;
	int ret;

	for (int tries = 1;; tries++) {
		ret = seize_reaping(tree, tid);
		if (ret != -EPERM)
			break;
		tracer = thread_tracer(pid, tid);
		if (tracer == getpid())
			goto seized;	/* seized under its old tid, it exec'ed */
		if (thread_exited(pid, tid))
			return 0;
		if (tracer > 0) {
			pr_err("cannot freeze %d: it is traced by pid %d (a debugger or "
			       "another checkpointer)", tid, tracer);
			return ret;
		}
		/*
		 * The task the kernel looked up may have died while
		 * PTRACE_SEIZE waited for an exec, which gave its tid to the
		 * exec'ing thread (with the same start time), and the next
		 * one may meet the next exec: a refusal that repeats is for us.
		 */
		if (tries == SEIZE_EPERM_TRIES) {
			pr_err("not permitted to freeze %d (ptrace: %s)", tid, strerror(EPERM));
			return ret;
		}
	}
	if (ret == -ESRCH)
		return 0;
	if (ret) {
		pr_errno(ret, "cannot seize %d", tid);
		return ret;
	}
seized:
	ret = note_seized(tree, tid);
	if (ret) {
		ptrace(PTRACE_DETACH, tid, 0, 0);
		return ret;
	}
	return stop_thread(tree, pid, tid);
}

static void drop_thread(struct task *t, unsigned int k)
{
	memmove(&t->threads[k], &t->threads[k + 1], (t->nr_threads - k - 1) * sizeof(*t->threads));
	t->nr_threads--;
}

/*
 * Whether every thread of @t we froze still is a stopped tracee of ours
 * (see "exec" above).  Drops the ones that died or whose tid names another
 * thread now; waits for the stop of an exec'ed one we had seized under its
 * old tid.  Returns 1 when a thread was dropped, 0 when all are frozen, or
 * -errno.
 */
static int recheck_threads(struct pstree *tree, struct task *t)
{
	int changed = 0;

	for (unsigned int k = 0; k < t->nr_threads;) {
		pid_t tid = t->threads[k];
		unsigned long msg;
		int ret;

		if (!ptrace(PTRACE_GETEVENTMSG, tid, 0, &msg)) {
			k++;
			continue;
		}
		if (errno != ESRCH)
			return -errno;
		reap_exited(tree);
		if (!thread_exited(t->pid, tid) && thread_tracer(t->pid, tid) == getpid()) {
			ret = stop_thread(tree, t->pid, tid);
			if (ret < 0)
				return ret;
			if (ret) {
				k++;
				continue;
			}
		}
		drop_thread(t, k);
		changed = 1;
	}
	return changed;
}

static bool has_thread(const struct task *t, pid_t tid)
{
	for (unsigned int k = 0; k < t->nr_threads; k++)
		if (t->threads[k] == tid)
			return true;
	return false;
}

/*
 * Seize the threads of @t in /proc/PID/task that are not frozen yet, once.
 * Returns 1 when that changed anything (a thread seized, or found gone),
 * 0 when every thread listed was frozen already, or -errno.
 */
static int seize_listed(struct pstree *tree, struct task *t)
{
	char path[64];
	struct dirent *de;
	int changed = 0, ret = 0;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/task", t->pid);
	dir = opendir(path);
	if (!dir)
		return errno == ENOENT ? -ESRCH : -errno;
	while (!ret && (de = readdir(dir))) {
		pid_t tid = atoi(de->d_name), *n;

		if (tid <= 0 || has_thread(t, tid) || thread_exited(t->pid, tid))
			continue;	/* frozen, or nothing left to freeze */
		ret = seize_thread(tree, t->pid, tid);
		changed = 1;
		if (ret <= 0)
			continue;
		ret = 0;
		n = realloc(t->threads, (t->nr_threads + 1) * sizeof(*n));
		if (!n) {
			ret = -ENOMEM;
			break;
		}
		t->threads = n;
		t->threads[t->nr_threads++] = tid;
	}
	closedir(dir);
	return ret ? ret : changed;
}

/* "Threads:" of /proc/PID/status: every thread not yet reaped, zombies too; -1 if gone */
static int thread_count(pid_t pid)
{
	char path[64], *buf, *p;
	int n = -1;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	if (read_file(path, &buf, NULL))
		return -1;
	p = strstr(buf, "\nThreads:");
	if (p)
		n = atoi(p + strlen("\nThreads:"));
	free(buf);
	return n;
}

/*
 * Whether the threads of @t we froze are all its threads: the listing of
 * /proc/PID/task can miss one while an exec moves tids around, its thread
 * count does not.  A leader that exited still counts, as a zombie.
 */
static bool all_frozen(const struct task *t)
{
	int n = thread_count(t->pid);
	bool dead_leader = !has_thread(t, t->pid) && thread_exited(t->pid, t->pid);

	return n < 0 || (int)t->nr_threads + dead_leader == n;
}

/*
 * Freeze all threads of @t: list and seize until a listing finds nothing
 * new, every thread frozen is still frozen and they are all there are, for
 * @tree->stop_timeout_ms at most (threads created or exec'ing all the
 * time).  -ESRCH when no thread is left.
 */
static int seize_threads(struct pstree *tree, struct task *t)
{
	uint64_t deadline = now_us() + tree->stop_timeout_ms * 1000ULL;

	for (;;) {
		int ret = seize_listed(tree, t);

		if (ret >= 0) {
			int again = recheck_threads(tree, t);

			ret = again < 0 ? again : ret | again;
		}
		if (ret < 0)
			return ret;
		if (!ret && all_frozen(t))
			return t->nr_threads ? 0 : -ESRCH;
		reap_exited(tree);	/* an exec may wait for that, unseen by the listing */
		if (now_us() >= deadline) {
			pr_err("process %d did not hold still within %u ms: its threads kept "
			       "changing (created, exiting or exec'ing)", t->pid,
			       tree->stop_timeout_ms);
			return -ETIMEDOUT;
		}
	}
}

static int add_task(struct pstree *tree, pid_t pid)
{
	struct task *n;

	for (unsigned int i = 0; i < tree->nr; i++)
		if (tree->tasks[i].pid == pid)
			return 0;
	n = realloc(tree->tasks, (tree->nr + 1) * sizeof(*n));
	if (!n)
		return -ENOMEM;
	tree->tasks = n;
	memset(&n[tree->nr], 0, sizeof(*n));
	n[tree->nr].target = (struct target){ .pidfd = -1, .mem_fd = -1, .pagemap_fd = -1 };
	n[tree->nr++].pid = pid;
	return 0;
}

static int add_child(struct pstree *tree, pid_t child)
{
	if (child == getpid()) {
		pr_err("the tree of %d contains memsplice itself", tree->tasks[0].pid);
		return -EINVAL;
	}
	return add_task(tree, child);
}

/* Queue the children of every (frozen) thread of @t. */
static int collect_children(struct pstree *tree, const struct task *t)
{
	for (unsigned int i = 0; i < t->nr_threads; i++) {
		char path[96], *buf, *p, *end;
		int ret = 0;

		snprintf(path, sizeof(path), "/proc/%d/task/%d/children", t->pid, t->threads[i]);
		ret = read_file(path, &buf, NULL);
		if (ret == -ENOENT)
			continue;
		if (ret)
			return ret;
		for (p = buf; !ret; p = end) {
			long child = strtol(p, &end, 10);

			if (end == p)
				break;
			ret = add_child(tree, child);
		}
		free(buf);
		if (ret)
			return ret;
	}
	return 0;
}

/*
 * Without CONFIG_PROC_CHILDREN: every process whose parent is @t (stat's
 * ppid is the parent's thread group, whichever thread forked).  @t is
 * frozen, so no child of it appears or is reparented meanwhile.
 */
static int scan_children(struct pstree *tree, const struct task *t)
{
	struct dirent *de;
	DIR *dir = opendir("/proc");
	int ret = 0;

	if (!dir)
		return -errno;
	while (!ret && (de = readdir(dir))) {
		pid_t pid = atoi(de->d_name);
		struct proc_stat st;

		if (pid <= 0 || pid == t->pid || parse_stat(pid, &st))
			continue;
		if (st.ppid == t->pid)
			ret = add_child(tree, pid);
	}
	closedir(dir);
	return ret;
}

/* the leader, unless it exited (pthread_exit) while other threads run on */
static pid_t live_thread(const struct task *t)
{
	for (unsigned int k = 0; k < t->nr_threads; k++)
		if (t->threads[k] == t->pid)
			return t->pid;
	return t->nr_threads ? t->threads[0] : t->pid;
}

static void drop_task(struct pstree *tree, unsigned int i)
{
	target_close(&tree->tasks[i].target);
	free(tree->tasks[i].threads);
	free(tree->tasks[i].vthreads);
	memmove(&tree->tasks[i], &tree->tasks[i + 1], (tree->nr - i - 1) * sizeof(tree->tasks[0]));
	tree->nr--;
}

int pstree_seize(pid_t root, const struct seize_opts *o, struct pstree *tree)
{
	struct sigaction reap = { .sa_sigaction = reap_on_timer, .sa_flags = SA_SIGINFO | SA_RESTART };
	struct sigevent sev = { .sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGALRM,
				.sigev_value.sival_ptr = tree };
	struct sigaction old_alrm;
	sigset_t chld, alrm, block, old;
	unsigned int nr_threads = 0;
	timer_t timer;
	int sfd = -1, ret;

	memset(tree, 0, sizeof(*tree));
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigemptyset(&alrm);
	sigaddset(&alrm, SIGALRM);
	block = chld;
	sigaddset(&block, SIGALRM);	/* let in by seize_reaping() alone */
	sigprocmask(SIG_BLOCK, &block, &old);
	sigaction(SIGALRM, &reap, &old_alrm);
	if (timer_create(CLOCK_MONOTONIC, &sev, &timer) < 0) {
		ret = -errno;
		pr_errno(ret, "cannot create a timer");
		goto out_sigaction;
	}
	sfd = signalfd(-1, &chld, SFD_NONBLOCK | SFD_CLOEXEC);
	if (sfd < 0) {
		ret = -errno;
		pr_errno(ret, "cannot create a signalfd");
		goto out;
	}
	tree->sigchld_fd = sfd;
	tree->stop_timeout_ms = o->stop_timeout_ms;
	tree->reap_timer = timer;
	ret = add_task(tree, root);
	if (ret)
		goto err;

	for (unsigned int i = 0; i < tree->nr;) {
		struct task *t = &tree->tasks[i];
		struct proc_stat st;

		ret = seize_threads(tree, t);
		if (ret == -ESRCH && thread_state(t->pid, t->pid) == 'Z') {
			t->zombie = true;	/* no thread left to freeze */
			ret = 0;
		}
		if (!ret)
			ret = parse_stat(t->pid, &st);
		if (ret == -ESRCH && i > 0) {
			pr_info("process %d exited while freezing, dropped", t->pid);
			drop_task(tree, i);
			continue;
		}
		if (ret == -ESRCH) {
			pr_err("process %d exited while freezing", root);
			goto err;
		}
		if (ret)
			goto err;
		t->ppid = i ? st.ppid : 0;	/* ours until set_vids() */
		t->pgid = st.pgid;
		t->sid = st.sid;
		t->start_time = st.start_time;
		t->mm_pid = live_thread(t);
		if (!t->zombie)
			ret = target_open(&t->target, t->pid, t->mm_pid);
		if (ret) {
			pr_errno(ret, "cannot open the handles of %d", t->pid);
			goto err;
		}
		ret = o->proc_children ? collect_children(tree, t) : scan_children(tree, t);
		if (ret)
			goto err;
		i++;
	}
	ret = set_vids(tree);
	if (ret) {
		if (ret != -EOPNOTSUPP)
			pr_errno(ret, "cannot read the namespace ids of the tree of %d", root);
		goto err;
	}
	for (unsigned int i = 0; i < tree->nr; i++)
		nr_threads += tree->tasks[i].nr_threads;
	pr_info("froze %u processes, %u threads", tree->nr, nr_threads);
	goto out;

err:
	pstree_release(tree);
	pstree_free(tree);
out:
	if (sfd >= 0)
		close(sfd);
	tree->sigchld_fd = -1;	/* pstree_free() may have cleared it already */
	timer_delete(timer);
	/* a SIGALRM of the timer still pending would meet the old disposition */
	while (sigtimedwait(&alrm, NULL, &(struct timespec){ 0 }) > 0)
		;
out_sigaction:
	sigaction(SIGALRM, &old_alrm, NULL);
	sigprocmask(SIG_SETMASK, &old, NULL);
	return ret;
}

void pstree_release(struct pstree *tree)
{
	for (unsigned int i = 0; i < tree->nr_seized; i++)
		if (tree->seized[i] > 0 &&	/* 0: reaped, or its tid another's */
		    ptrace(PTRACE_DETACH, tree->seized[i], 0, 0) < 0 && errno != ESRCH)
			pr_perror("cannot detach %d", tree->seized[i]);
	tree->nr_seized = 0;
}

void pstree_kill(struct pstree *tree)
{
	for (unsigned int i = 0; i < tree->nr; i++)
		if (kill(tree->tasks[i].pid, SIGKILL) < 0 && errno != ESRCH)
			pr_perror("cannot kill %d", tree->tasks[i].pid);
	/* dead tracees need no detach; drop the ptrace links with the rest */
	pstree_release(tree);
}

static int copy_task(const struct task *from, struct task *to)
{
	size_t len = from->nr_threads * sizeof(pid_t);

	*to = *from;
	to->threads = malloc(len ?: 1);
	to->vthreads = malloc(len ?: 1);
	to->target = (struct target){ .pidfd = -1, .mem_fd = -1, .pagemap_fd = -1 };
	if (!to->threads || !to->vthreads)
		return -ENOMEM;
	memcpy(to->threads, from->threads, len);
	memcpy(to->vthreads, from->vthreads, len);
	return target_dup(&from->target, &to->target);
}

int pstree_copy_live(const struct pstree *from, struct pstree *to)
{
	int ret = 0;

	memset(to, 0, sizeof(*to));
	to->sigchld_fd = -1;
	to->tasks = calloc(from->nr ?: 1, sizeof(*to->tasks));
	if (!to->tasks)
		return -ENOMEM;
	for (unsigned int i = 0; i < from->nr && !ret; i++) {
		const struct task *t = &from->tasks[i];

		if (t->zombie || target_gone(&t->target))
			continue;
		ret = copy_task(t, &to->tasks[to->nr++]);
	}
	if (ret)
		pstree_free(to);
	return ret;
}

void pstree_free(struct pstree *tree)
{
	for (unsigned int i = 0; i < tree->nr; i++) {
		target_close(&tree->tasks[i].target);
		free(tree->tasks[i].threads);
		free(tree->tasks[i].vthreads);
	}
	free(tree->tasks);
	free(tree->seized);
	memset(tree, 0, sizeof(*tree));
}
