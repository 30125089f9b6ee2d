// SPDX-License-Identifier: GPL-2.0
/*
 * splice_process_vm and the waits a caller can provoke: the permission
 * check comes after the wait for room, and a page lookup that waits (here
 * on a userfaultfd nobody answers) does not hold the pipe's lock, so other
 * users of the pipe go on and the waiting call can still be ended.
 *
 * Same entry points as spvm_abi_test.c (lib/spvm_entry.h, one
 * FIXTURE_VARIANT each: the device ioctl, and the syscall of a patched
 * kernel, whose number comes from spvm_sysnr()).  Run as root in a guest:
 * one test switches to an unprivileged user, the others need a userfaultfd
 * that handles faults of other processes.  Nothing sleeps for a guessed
 * time: tests wait for a state they can observe (a process sleeping, a
 * fault message queued).  A test that catches a reader stuck on the pipe's
 * lock fails, then kills the victim: that releases the userfaultfd, the
 * lookup and the lock.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/userfaultfd.h>

#include "kselftest_harness.h"
#include "lib/pattern.h"
#include "lib/spvm_entry.h"
#include "lib/spvm_proc.h"

#define PG		VPAGE
#define SEED		0x5eed

/* ---- victims ------------------------------------------------------------ */

enum vkind {
	V_ANON,		/* one private anonymous page, filled */
	V_UFFD,		/* two MAP_SHARED anonymous pages: page 0 filled, page 1
			 * a hole registered with userfaultfd (missing mode) */
};

/*
 * Commands: 'u' become undumpable; 'f' wait until a page fault of another
 * process is queued on the userfaultfd (the caller's lookup waits in it);
 * 'c' answer it by copying page 1's pattern in.  One byte of ack each.
 */
static void __attribute__((noreturn)) victim_main(int cmd, int ack, enum vkind kind)
{
	static uint64_t page[PG / 8];
	int uffd = -1;
	char *p, c;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	p = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE,
		 (kind == V_ANON ? MAP_PRIVATE : MAP_SHARED) | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		_exit(90);
	madvise(p, 2 * PG, MADV_NOHUGEPAGE);
	pattern_fill(p, (unsigned long)p, SEED);
	if (kind == V_UFFD) {
		struct uffdio_api api = { .api = UFFD_API };
		struct uffdio_register reg = {
			.range = { .start = (unsigned long)p, .len = 2 * PG },
			.mode = UFFDIO_REGISTER_MODE_MISSING,
		};

		uffd = syscall(SYS_userfaultfd, O_CLOEXEC);
		if (uffd < 0 || ioctl(uffd, UFFDIO_API, &api) ||
		    ioctl(uffd, UFFDIO_REGISTER, &reg))
			_exit(91);
	}
	if (write(ack, &p, sizeof(p)) != sizeof(p))
		_exit(92);
	while (read(cmd, &c, 1) == 1) {
		struct pollfd pfd = { .fd = uffd, .events = POLLIN };
		struct uffd_msg msg;
		struct uffdio_copy cp = {
			.dst = (unsigned long)p + PG, .src = (unsigned long)page, .len = PG,
		};

		switch (c) {
		case 'u':
			if (prctl(PR_SET_DUMPABLE, 0))
				_exit(93);
			break;
		case 'f':
			if (poll(&pfd, 1, -1) != 1 || read(uffd, &msg, sizeof(msg)) != sizeof(msg) ||
			    msg.event != UFFD_EVENT_PAGEFAULT ||
			    msg.arg.pagefault.address != (unsigned long)p + PG)
				_exit(94);
			break;
		case 'c':
			pattern_fill(page, (unsigned long)p + PG, SEED);
			if (ioctl(uffd, UFFDIO_COPY, &cp))
				_exit(95);
			break;
		}
		if (write(ack, &c, 1) != 1)
			_exit(96);
	}
	_exit(0);
}

static int victim_start(struct victim *v, const struct spvm_entry *e, enum vkind kind)
{
	pid_t pid = victim_fork(v);

	if (pid == 0)
		victim_main(v->cmd, v->ack, kind);
	return pid < 0 ? -1 : victim_ready(v, e->open_target);
}

/* one command; 0 once acknowledged (each command acks with itself) */
static int victim_cmd(struct victim *v, char c)
{
	return victim_do(v, c) ? 0 : -1;
}

/* a child making one blocking call; its exit code says how it ended */
static pid_t caller_start(const struct spvm_entry *e, int target, int wfd,
			  unsigned long addr, size_t len, void (*handler)(int))
{
	pid_t pid = fork();
	long n;

	if (pid)
		return pid;
	if (handler) {
		struct sigaction sa = { .sa_handler = handler };

		sigaction(SIGUSR1, &sa, NULL);
	}
	n = spvm(e, target, wfd, addr, len);
	if (n >= 0)
		_exit(n == PG ? 0 : 10);
	_exit(errno == EINTR ? 1 : errno == EPERM ? 2 : 11);
}

/* ---- fixture ------------------------------------------------------------ */

FIXTURE(spvm) {
	bool skip;
	int p[2];
	struct victim v;
	pid_t kids[2];		/* killed and reaped after the victim */
	char *buf;
};

FIXTURE_VARIANT(spvm) {
	const struct spvm_entry *entry;
};

FIXTURE_VARIANT_ADD(spvm, device) {
	.entry = &device_entry,
};

FIXTURE_VARIANT_ADD(spvm, syscall) {
	.entry = &syscall_entry,
};

FIXTURE_SETUP(spvm)
{
	const char *why;

	self->p[0] = self->p[1] = -1;
	self->v = VICTIM_INIT;
	why = variant->entry->unavailable();
	if (why) {
		self->skip = true;
		SKIP(return, "%s", why);
	}
	if (geteuid()) {
		self->skip = true;
		SKIP(return, "needs root (another user, userfaultfd for remote faults)");
	}
	ASSERT_EQ(0, pipe2(self->p, O_CLOEXEC));
	self->buf = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->buf);
}

FIXTURE_TEARDOWN(spvm)
{
	/* the victim first: its userfaultfd may hold the others */
	victim_stop(&self->v);
	for (int i = 0; i < 2; i++) {
		if (self->kids[i] > 0) {
			kill(self->kids[i], SIGKILL);
			waitpid(self->kids[i], NULL, 0);
		}
	}
	if (self->p[0] >= 0)
		close(self->p[0]);
	if (self->p[1] >= 0)
		close(self->p[1]);
}

#define E	(variant->entry)
#define START_VICTIM(kind) \
	ASSERT_EQ(0, victim_start(&self->v, E, kind)) TH_LOG("victim: %m")

/* ---- the permission check comes after the wait ------------------------- */

struct blocked_call {
	const struct spvm_entry *e;
	int target, wfd;
	unsigned long addr;
	pid_t tid;
	long ret;
	int err;
};

static void *blocked_call_thread(void *arg)
{
	struct blocked_call *c = arg;

	__atomic_store_n(&c->tid, gettid(), __ATOMIC_RELEASE);
	c->ret = spvm(c->e, c->target, c->wfd, c->addr, PG);
	c->err = errno;
	return NULL;
}

/*
 * Unprivileged (root could read anything anyway): fill the pipe, start a
 * call that waits for room, make the target undumpable, free a slot.  The
 * syscall checks the caller's right when the room appears: EPERM.  The
 * device's proof is the /proc/PID/mem fd, checked when it was opened, which
 * stays valid as it does for read(): the call attaches its page.
 */
TEST_F(spvm, permission_checked_after_the_wait)
{
	pid_t c;

	if (self->skip)
		return;
	c = fork();
	ASSERT_LE(0, c);
	if (c == 0) {
		struct blocked_call call = { .e = E, .wfd = self->p[1] };
		char task[64];
		pthread_t t;

		/* the victim is our child: Yama's ptrace_scope=1 lets us read it */
		if (become_nobody())
			_exit(20);
		if (victim_start(&self->v, E, V_ANON))
			_exit(21);
		call.target = self->v.target;
		call.addr = self->v.addr;
		if (pipe_fill(self->p[1]) <= 0 ||
		    pthread_create(&t, NULL, blocked_call_thread, &call))
			_exit(22);
		while (!__atomic_load_n(&call.tid, __ATOMIC_ACQUIRE))
			usleep(1000);
		snprintf(task, sizeof(task), "self/task/%d", call.tid);
		if (wait_path_sleeping(task))
			_exit(23);	/* the call did not wait for room */
		if (victim_cmd(&self->v, 'u'))
			_exit(24);
		if (read(self->p[0], self->buf, PG) != PG)
			_exit(25);
		pthread_join(t, NULL);
		if (E->is_module)
			_exit(call.ret == PG ? 0 : 30);
		if (call.ret >= 0)
			_exit(31);	/* read after the target became undumpable */
		_exit(call.err == EPERM ? 0 : 32);
	}
	EXPECT_EQ(0, exit_code_within(c));
}

/* ---- page lookup outside the pipe's lock -------------------------------- */

/*
 * A call waits in the lookup of a page whose userfaultfd nobody answers.
 * Another reader of the same pipe, O_NONBLOCK, must get EAGAIN at once: with
 * the lookup under pipe->mutex it would sleep uninterruptibly on the mutex
 * for as long as the handler does not run.  SIGKILL must end the waiting
 * call (the lookup waits killably).
 */
TEST_F(spvm, reader_not_blocked_by_a_waiting_lookup)
{
	pid_t reader;

	if (self->skip)
		return;
	START_VICTIM(V_UFFD);
	self->kids[0] = caller_start(E, self->v.target, self->p[1], self->v.addr + PG, PG, NULL);
	ASSERT_LT(0, self->kids[0]);
	ASSERT_EQ(0, victim_cmd(&self->v, 'f')) TH_LOG("no fault reached the userfaultfd");

	reader = fork();
	ASSERT_LE(0, reader);
	if (reader == 0) {
		char b;

		if (fcntl(self->p[0], F_SETFL, O_NONBLOCK))
			_exit(20);
		if (read(self->p[0], &b, 1) >= 0)
			_exit(21);
		_exit(errno == EAGAIN ? 0 : 22);
	}
	self->kids[1] = reader;
	ASSERT_EQ(0, exit_code_unless_stuck(reader))
		TH_LOG("the reader sleeps on the pipe's lock while the lookup waits");
	self->kids[1] = 0;

	/* it sleeps killably ('D' on 6.1): only the exit tells */
	ASSERT_EQ(0, kill(self->kids[0], SIGKILL));
	EXPECT_EQ(128 + SIGKILL, exit_code_within(self->kids[0]));
	self->kids[0] = 0;
}

/*
 * The same wait, another writer: it fills the pipe while the lookup waits
 * (with the lookup under the lock, that write() would sleep on the mutex).
 * When the fault is answered, the two pages looked up find no room: the
 * call releases them, waits for room again, and attaches page 0 once one
 * slot is read, or, if that slot was read before it got the lock, attaches
 * page 0 at once and releases page 1.  Either way: one page, page 0's bytes.
 */
TEST_F(spvm, pipe_filled_during_lookup)
{
	pid_t filler;
	int slots;

	if (self->skip)
		return;
	START_VICTIM(V_UFFD);
	self->kids[0] = caller_start(E, self->v.target, self->p[1], self->v.addr, 2 * PG, NULL);
	ASSERT_LT(0, self->kids[0]);
	ASSERT_EQ(0, victim_cmd(&self->v, 'f')) TH_LOG("no fault reached the userfaultfd");

	filler = fork();
	ASSERT_LE(0, filler);
	if (filler == 0)
		_exit(pipe_fill(self->p[1]));
	self->kids[1] = filler;
	slots = exit_code_unless_stuck(filler);
	ASSERT_LT(0, slots) TH_LOG("the writer sleeps on the pipe's lock while the lookup waits");
	self->kids[1] = 0;

	ASSERT_EQ(0, victim_cmd(&self->v, 'c'));
	ASSERT_EQ(PG, read(self->p[0], self->buf, PG));
	EXPECT_EQ(0, exit_code_within(self->kids[0]));
	self->kids[0] = 0;
	ASSERT_EQ(0, read_full(self->p[0], self->buf, slots * PG));
	EXPECT_EQ(-1, pattern_check(self->buf + (slots - 1) * PG, self->v.addr, SEED));
}

static void on_usr1(int sig)
{
	(void)sig;
}

/*
 * 6.2 added FOLL_INTERRUPTIBLE, which the module uses from there on, and
 * the series (against 6.12) always; the 6.1 backport cannot.
 */
static bool lookup_interruptible(const struct spvm_entry *e)
{
	struct utsname u;
	int major, minor;

	if (uname(&u) || sscanf(u.release, "%d.%d", &major, &minor) != 2)
		return false;
	return major > 6 || (major == 6 && minor >= 2);
}

/*
 * Where the lookup may be interrupted (6.2 and later), any signal ends the
 * wait in an unanswered userfaultfd: EINTR without SA_RESTART.  On 6.1 GUP
 * waits killably only: see the SIGKILL above.
 */
TEST_F(spvm, signal_interrupts_a_waiting_lookup)
{
	if (self->skip)
		return;
	if (!lookup_interruptible(E))
		SKIP(return, "%s: page lookups wait killably only (no FOLL_INTERRUPTIBLE)", E->name);
	START_VICTIM(V_UFFD);
	self->kids[0] = caller_start(E, self->v.target, self->p[1], self->v.addr + PG, PG, on_usr1);
	ASSERT_LT(0, self->kids[0]);
	ASSERT_EQ(0, victim_cmd(&self->v, 'f')) TH_LOG("no fault reached the userfaultfd");
	ASSERT_EQ(0, kill(self->kids[0], SIGUSR1));
	EXPECT_EQ(1, exit_code_within(self->kids[0])) TH_LOG("not EINTR");
	self->kids[0] = 0;
}

TEST_HARNESS_MAIN
