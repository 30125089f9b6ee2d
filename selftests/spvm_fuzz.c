// SPDX-License-Identifier: GPL-2.0
/*
 * Random requests to splice_process_vm, through each entry point: the
 * device's ioctl and the syscall of a patched kernel (lib/spvm_entry.h; an
 * entry that is not there is skipped with the reason).
 *
 *   spvm_fuzz [CALLS [SEED [RACE_CALLS]]]
 *                  CALLS (100000): single-threaded calls per entry;
 *                  RACE_CALLS (60000): about as many in each entry's race;
 *                  the seed is printed, pass it back to replay a run
 *
 * Per entry, two parts.  "calls": one thread, mostly well-formed requests
 * with one or more fields off (sizes, flags, fds of every kind, vectors
 * over holes, PROT_NONE, never-touched and shared pages, kernel or
 * wrapping addresses), some random ioctl commands and pointers.  Pipes are
 * drained before any call that could block, so none waits, and before most
 * others, whose bytes are then read back and checked against the victim's
 * known layout; the rest find pipes as the last call left them (full:
 * EAGAIN).  The victim child is killed half way so the exited-target paths
 * run too.  The same seed gives the same calls.
 *
 * "race": RACE_THREADS caller threads, each with its own pipe (drained
 * before each call, so none waits), call on ranges of a victim whose own
 * threads meanwhile munmap, remap, mremap, mprotect, write and discard its
 * pages; the victim execs (this binary again, same layout) a third of the
 * way through and exits five sixths of the way through, during the calls
 * (calls that fail at once while the exec runs do not count).  Bytes are
 * checked only where the victim never changes them (RACE_STABLE pages,
 * moved into place whole by each image).  The seed gives each thread the
 * same sequence of requests, not the same interleaving.  A race that has
 * not ended after RACE_SECONDS makes the exit and its last calls at once.
 *
 * Every call must return a byte count no larger than asked or an errno of
 * the documented set.  Afterwards the kernel log written during the run
 * (/dev/kmsg) must contain no WARNING, BUG, Oops, bad page state, refcount
 * or leak report.  Prints TAP: "calls" and "race" per entry, then "kernel
 * log".
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/splice_process_vm.h>

#include "spvm_ioctl.h"

#include "kselftest.h"
#include "lib/fuzz.h"
#include "lib/pattern.h"
#include "lib/spvm_entry.h"
#include "lib/spvm_race.h"

#define NR_PIPES	4
#define REGION_PAGES	64

struct pool {
	const struct spvm_entry *e;
	int targets[8], nr_targets;
	int pipes[NR_PIPES][2];
	int others[8], nr_others;	/* fds that are neither */
	unsigned long region;		/* the victim's layout, see victim() */
	pid_t victim;
	char *self_region;		/* a copy of the layout in our own mm */
	struct spvm_iovec *iov;		/* 1100 entries */
	void *unmapped;			/* a page known to be unmapped */
};

/*
 * The victim's region: pages 0-15 filled, 16-19 a hole, 20-23 PROT_NONE,
 * 24-31 never touched, 32-63 a MAP_SHARED tail.  Its address comes through
 * the pipe; then it waits for SIGKILL.
 */
static char *map_layout(void)
{
	char *p = mmap(NULL, REGION_PAGES * PG, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	memset(p, 0x5a, 16 * PG);
	memset(p + 20 * PG, 0xa5, 4 * PG);
	munmap(p + 16 * PG, 4 * PG);
	mprotect(p + 20 * PG, 4 * PG, PROT_NONE);
	if (mmap(p + 32 * PG, 32 * PG, PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == MAP_FAILED)
		return NULL;
	memset(p + 32 * PG, 0x3c, 32 * PG);
	return p;
}

static pid_t victim(unsigned long *addr)
{
	int ready[2];
	pid_t pid;
	char *p;

	if (pipe(ready))
		return -1;
	pid = fork();
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(ready[0]);
		p = map_layout();
		if (!p || write(ready[1], &p, sizeof(p)) != sizeof(p))
			_exit(1);
		for (;;)
			pause();
	}
	close(ready[1]);
	if (pid < 0 || read(ready[0], addr, sizeof(*addr)) != sizeof(*addr))
		pid = -1;
	close(ready[0]);
	return pid;
}

/*
 * The fds a request may name as its target: the first two are the
 * victim's good ones (what verify() checks), the rest each entry's wrong
 * kinds: the device's /proc/PID/mem opened for writing only, of ourselves
 * and of a kernel thread, and another /proc file; the syscall's pidfds of
 * ourselves and of a kernel thread, and /proc/PID/mem, which is no pidfd.
 */
static void open_targets(struct pool *p)
{
	char mem[64], maps[64];

	snprintf(mem, sizeof(mem), "/proc/%d/mem", p->victim);
	snprintf(maps, sizeof(maps), "/proc/%d/maps", p->victim);
	if (p->e->is_module) {
		p->targets[p->nr_targets++] = open(mem, O_RDONLY | O_CLOEXEC);
		p->targets[p->nr_targets++] = open(mem, O_RDWR | O_CLOEXEC);
		p->targets[p->nr_targets++] = open(mem, O_WRONLY | O_CLOEXEC);
		p->targets[p->nr_targets++] = open("/proc/self/mem", O_RDONLY | O_CLOEXEC);
		p->targets[p->nr_targets++] = open("/proc/2/mem", O_RDONLY | O_CLOEXEC);
	} else {
		p->targets[p->nr_targets++] = p->e->open_target(p->victim);
		p->targets[p->nr_targets++] = p->e->open_target(p->victim);
		p->targets[p->nr_targets++] = open(mem, O_RDONLY | O_CLOEXEC);
		p->targets[p->nr_targets++] = p->e->open_target(getpid());
		p->targets[p->nr_targets++] = p->e->open_target(2);
	}
	p->targets[p->nr_targets++] = open(maps, O_RDONLY | O_CLOEXEC);
}

static int pool_open(struct pool *p, const struct spvm_entry *e)
{
	char path[64];
	int i;

	memset(p, 0, sizeof(*p));
	p->e = e;
	p->victim = victim(&p->region);
	if (p->victim < 0)
		return -1;
	p->self_region = map_layout();
	if (!p->self_region)
		return -1;
	open_targets(p);

	for (i = 1; i < NR_PIPES; i++) {
		if (pipe2(p->pipes[i], O_CLOEXEC))
			return -1;
		/* drained without blocking */
		fcntl(p->pipes[i][0], F_SETFL, O_NONBLOCK);
	}
	/* pipes[0] is a FIFO */
	snprintf(path, sizeof(path), "/tmp/spvm-fuzz-%d", getpid());
	if (mkfifo(path, 0600))
		return -1;
	p->pipes[0][0] = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	p->pipes[0][1] = open(path, O_WRONLY | O_CLOEXEC);
	unlink(path);
	if (p->pipes[0][0] < 0 || p->pipes[0][1] < 0)
		return -1;
	fcntl(p->pipes[1][1], F_SETPIPE_SZ, 1 << 20);
	fcntl(p->pipes[2][1], F_SETPIPE_SZ, PG);
	fcntl(p->pipes[3][1], F_SETFL, O_NONBLOCK);

	if (dev_fd >= 0)
		p->others[p->nr_others++] = dev_fd;
	p->others[p->nr_others++] = open("/dev/null", O_RDWR | O_CLOEXEC);
	p->others[p->nr_others++] = open("/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	/* a pipe with no reader: EPIPE (SIGPIPE is ignored) */
	{
		int dead[2];

		if (pipe2(dead, O_CLOEXEC))
			return -1;
		close(dead[0]);
		p->others[p->nr_others++] = dead[1];
	}

	p->iov = calloc(1100, sizeof(*p->iov));
	p->unmapped = mmap(NULL, PG, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (!p->iov || p->unmapped == MAP_FAILED)
		return -1;
	munmap(p->unmapped, PG);
	return 0;
}

static void pool_close(struct pool *p)
{
	if (p->victim > 0) {
		kill(p->victim, SIGKILL);
		waitpid(p->victim, NULL, 0);
	}
	for (int i = 0; i < p->nr_targets; i++)
		if (p->targets[i] >= 0)
			close(p->targets[i]);
	for (int i = 0; i < NR_PIPES; i++)
		for (int j = 0; j < 2; j++)
			if (p->pipes[i][j] > 0)
				close(p->pipes[i][j]);
	for (int i = 0; i < p->nr_others; i++)
		if (p->others[i] != dev_fd)
			close(p->others[i]);
	if (p->self_region)
		munmap(p->self_region, REGION_PAGES * PG);
	free(p->iov);
}

static int pick_fd(struct pool *p, bool want_target)
{
	switch (below(20)) {
	case 0:
		return p->others[below(p->nr_others)];
	case 1:
		return (int)rnd();
	case 2:
		return -1;
	case 3:
		return p->pipes[below(NR_PIPES)][below(2)];
	case 4:
		return p->targets[below(p->nr_targets)];
	default:
		return want_target ? p->targets[below(2)] : p->pipes[below(NR_PIPES)][1];
	}
}

static uint64_t pick_addr(struct pool *p)
{
	static const uint64_t odd[] = {
		0, 1, PG, 0x7ffffffff000ULL, 0x800000000000ULL, 0xffff888000000000ULL,
		0xffffffffff600000ULL, ~0ULL, ~0ULL - PG + 1,
	};

	switch (below(8)) {
	case 0:
		return odd[below(sizeof(odd) / sizeof(odd[0]))];
	case 1:
		return rnd();
	case 2:
		return (uint64_t)(uintptr_t)p->self_region + below(REGION_PAGES * PG);
	default:
		return p->region + below(REGION_PAGES) * PG + (chance(30) ? below(PG) : 0);
	}
}

static uint64_t pick_len(void)
{
	switch (below(8)) {
	case 0:
		return 0;
	case 1:
		return rnd();
	case 2:
		return 1ULL << below(64);
	case 3:
		return below(PG);
	default:
		return (1 + below(20)) * PG;
	}
}

/* a pointer for the ioctl argument: usually @good, sometimes anything */
static void *pick_ptr(struct pool *p, void *good)
{
	switch (below(40)) {
	case 0:
		return NULL;
	case 1:
		return p->unmapped;
	case 2:
		return (void *)(uintptr_t)0xffff888000000000ULL;
	case 3:
		return (void *)(uintptr_t)rnd();
	case 4:
		return (char *)p->self_region + 20 * PG;	/* PROT_NONE */
	default:
		return good;
	}
}

static void drain(struct pool *p)
{
	static char buf[64 << 10];

	for (int i = 0; i < NR_PIPES; i++)
		while (read(p->pipes[i][0], buf, sizeof(buf)) > 0)
			;
}

static struct stats st;

/* one request through @e: the device's ioctl @cmd, or the syscall */
static long entry_call(const struct spvm_entry *e, unsigned long cmd, void *arg)
{
	if (e->is_module)
		return ioctl(dev_fd, cmd, arg);
	return e->call(arg);
}

/* could this request wait for room in a pipe? */
static bool may_block(struct pool *p, const struct spvm_args *a, unsigned long cmd, void *arg)
{
	if ((p->e->is_module && cmd != SPVM_IOC_SPLICE) || arg != a ||
	    (a->flags & SPVM_NONBLOCK))
		return false;
	for (int i = 0; i < NR_PIPES; i++)
		if ((int)a->pipe_fd == p->pipes[i][1])
			return i != 3;	/* pipes[3] is O_NONBLOCK */
	return false;
}

/* byte the victim has at @addr, or -1 when the layout does not say */
static int expected(struct pool *p, uint64_t addr, bool force)
{
	uint64_t page;

	if (addr < p->region || addr >= p->region + REGION_PAGES * PG)
		return -1;
	page = (addr - p->region) / PG;
	if (page < 16)
		return 0x5a;
	if (page >= 20 && page < 24)
		return force ? 0xa5 : -2;	/* -2: must not have been attached */
	if (page >= 32)
		return 0x3c;
	return -2;
}

/*
 * After a successful call from empty pipes: read back the @ret bytes the
 * ranges produced, in order, and check them against the victim's layout.
 * Returns true when something is wrong.
 */
static bool verify(struct pool *p, const struct spvm_args *a, long ret)
{
	static unsigned char buf[1 << 20];
	int rd = -1, mem0 = p->targets[0], mem1 = p->targets[1];
	bool force = a->flags & SPVM_FORCE;
	unsigned long left = ret;

	if ((int)a->target_fd != mem0 && (int)a->target_fd != mem1)
		return false;
	for (int i = 0; i < NR_PIPES; i++)
		if ((int)a->pipe_fd == p->pipes[i][1])
			rd = p->pipes[i][0];
	if (rd < 0 || ret > (long)sizeof(buf))
		return false;
	for (unsigned long off = 0; off < (unsigned long)ret; ) {
		ssize_t n = read(rd, buf + off, ret - off);

		if (n <= 0)
			return true;	/* fewer bytes in the pipe than returned */
		off += n;
	}
	for (unsigned int i = 0, off = 0; i < a->iovcnt && left; i++) {
		unsigned long take = p->iov[i].len < left ? p->iov[i].len : left;

		for (unsigned long j = 0; j < take; j++) {
			int want = expected(p, p->iov[i].base + j, force);

			if (want == -2 || (want >= 0 && buf[off + j] != want))
				return true;
		}
		off += take;
		left -= take;
	}
	return false;
}

static void one_call(struct pool *p)
{
	struct {
		struct spvm_args a;
		uint64_t tail[8];
	} req;
	struct spvm_features feat[2];
	unsigned long cmd, nr, asked = 0;
	bool drained = false;
	void *arg;
	long ret;

	memset(&req, 0, sizeof(req));
	req.a.size = sizeof(req.a);
	if (chance(10)) {
		static const uint64_t sizes[] = { 0, 8, 39, 41, 48, 64, 4096, 4097, ~0ULL };

		req.a.size = chance(50) ? sizes[below(9)] : below(5000);
		if (chance(50))
			req.tail[below(8)] = rnd();
	}
	req.a.flags = chance(90) ? below(4) : (chance(50) ? 1ULL << below(64) : rnd());
	req.a.target_fd = pick_fd(p, true);
	req.a.pipe_fd = pick_fd(p, false);
	if (chance(3))
		req.a.__reserved = rnd();

	nr = chance(80) ? below(8) : (chance(50) ? below(1100) : rnd());
	req.a.iovcnt = nr;
	for (unsigned long i = 0; i < nr && i < 1100; i++) {
		p->iov[i].base = pick_addr(p);
		p->iov[i].len = pick_len();
		asked = asked + p->iov[i].len < asked ? ~0UL : asked + p->iov[i].len;
	}
	req.a.iov = (uintptr_t)pick_ptr(p, p->iov);
	if (chance(2))	/* the vector cut by an unmapped page */
		req.a.iov = (uintptr_t)p->unmapped - 16;

	/* the syscall has no command: only the device draws one */
	switch (p->e->is_module ? below(20) : 20) {
	case 0:
		cmd = SPVM_IOC_FEATURES;
		memset(feat, 0, sizeof(feat));
		feat[0].size = chance(70) ? sizeof(feat[0]) : below(100);
		arg = pick_ptr(p, feat);
		break;
	case 1:
		cmd = chance(50) ? (unsigned long)rnd() :
			_IOC(below(4), SPVM_IOC_MAGIC, below(4), below(1 << 14));
		arg = pick_ptr(p, &req);
		break;
	default:
		cmd = SPVM_IOC_SPLICE;
		arg = pick_ptr(p, &req);
		break;
	}

	/*
	 * Usually start from empty pipes, so a blocking call cannot wait and
	 * the bytes can be checked; sometimes leave them full, when the call
	 * cannot block anyway, for EAGAIN.
	 */
	if (may_block(p, &req.a, cmd, arg) || chance(60)) {
		drain(p);
		drained = true;
	}

	st.calls++;
	ret = entry_call(p->e, cmd, arg);
	if (ret >= 0) {
		st.ok++;
		st.bytes += ret;
		if (cmd == SPVM_IOC_SPLICE && arg == &req && (unsigned long)ret > asked &&
		    nr <= 1100) {
			if (st.bad++ < 10)
				ksft_print_msg("call %lu returned %ld > %lu asked\n",
					       st.calls, ret, asked);
		}
		if (cmd == SPVM_IOC_SPLICE && arg == &req && ret > 0 && drained &&
		    (void *)(uintptr_t)req.a.iov == p->iov && verify(p, &req.a, ret) &&
		    st.bad++ < 10)
			ksft_print_msg("call %lu: wrong bytes in the pipe\n", st.calls);
	} else if (!documented(errno)) {
		if (st.bad++ < 10)
			ksft_print_msg("call %lu: cmd %#lx: undocumented errno %d (%s)\n",
				       st.calls, cmd, errno, strerror(errno));
	} else {
		st.err[errno < 200 ? errno : 0]++;
	}
}

/* New kernel log records matching a failure pattern; -1 if unreadable. */
static int kmsg_problems(int kmsg)
{
	static const char *const bad[] = {
		"WARNING", "BUG", "Oops", "bad page", "refcount", "leak",
		"general protection", "list_add corruption", "list_del corruption",
		"RIP:", "Call Trace", "splice_process_vm",
	};
	char rec[8192];
	int found = 0;
	ssize_t n;

	if (kmsg < 0)
		return -1;
	while ((n = read(kmsg, rec, sizeof(rec) - 1)) != 0) {
		char *msg;

		if (n < 0) {
			if (errno == EPIPE)	/* overwritten records */
				continue;
			break;			/* EAGAIN: no more */
		}
		rec[n] = 0;
		msg = strchr(rec, ';');
		msg = msg ? msg + 1 : rec;
		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			/* our own load/unload lines are fine */
			if (!strcmp(bad[i], "splice_process_vm") &&
			    !strstr(msg, "WARN") && !strstr(msg, "BUG"))
				continue;
			if (strstr(msg, bad[i])) {
				ksft_print_msg("kernel: %s", msg);
				found++;
				break;
			}
		}
	}
	return found;
}

/* ---- main ---------------------------------------------------------------- */

/* the single-threaded part on one entry */
static bool fuzz_run(const struct spvm_entry *e, unsigned long calls, uint64_t seed)
{
	struct pool p;

	memset(&st, 0, sizeof(st));
	rng_state = seed | 1;
	if (pool_open(&p, e)) {
		ksft_print_msg("%s: setup: %s\n", e->name, strerror(errno));
		pool_close(&p);
		return false;
	}
	for (unsigned long i = 0; i < calls; i++) {
		if (i == calls / 2) {
			/* from here on the victim's fds name an exited process */
			kill(p.victim, SIGKILL);
			waitpid(p.victim, NULL, 0);
		}
		one_call(&p);
	}
	ksft_print_msg("%s: %lu ok (%lu bytes), EINVAL %lu E2BIG %lu EFAULT %lu EBADF %lu "
		       "ESRCH %lu EPIPE %lu EAGAIN %lu EPERM %lu ENOTTY %lu\n",
		       e->name, st.ok, st.bytes, st.err[EINVAL], st.err[E2BIG], st.err[EFAULT],
		       st.err[EBADF], st.err[ESRCH], st.err[EPIPE], st.err[EAGAIN],
		       st.err[EPERM], st.err[ENOTTY]);
	pool_close(&p);
	return st.bad == 0;
}

int main(int argc, char **argv)
{
	static const struct spvm_entry *const entries[] = { &device_entry, &syscall_entry };
	unsigned long calls, race_calls;
	uint64_t seed;
	int kmsg, problems, fuzzed = 0;

	/* an image of the race's victim after its exec */
	if (argc == 5 && !strcmp(argv[1], RACE_VICTIM_ARG))
		race_victim(atoi(argv[2]), atoi(argv[3]), strtoull(argv[4], NULL, 10));

	calls = argc > 1 ? strtoul(argv[1], NULL, 0) : 100000;
	seed = argc > 2 ? strtoull(argv[2], NULL, 0) :
	       (uint64_t)time(NULL) * 2654435761u ^ getpid();
	race_calls = argc > 3 ? strtoul(argv[3], NULL, 0) : 60000;

	ksft_print_header();
	ksft_set_plan(2 * 2 + 1);
	signal(SIGPIPE, SIG_IGN);

	kmsg = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (kmsg >= 0)
		lseek(kmsg, 0, SEEK_END);
	ksft_print_msg("%lu calls and %lu racing calls per entry, seed %#llx\n", calls,
		       race_calls, (unsigned long long)seed);

	for (int i = 0; i < 2; i++) {
		const struct spvm_entry *e = entries[i];
		const char *why = e->unavailable();

		if (why) {
			ksft_test_result_skip("calls (%s): %s\n", e->name, why);
			ksft_test_result_skip("race (%s): %s\n", e->name, why);
			continue;
		}
		fuzzed++;
		ksft_test_result(fuzz_run(e, calls, seed), "calls (%s)\n", e->name);
		ksft_test_result(race_run(e, race_calls, seed), "race (%s)\n", e->name);
	}

	if (dev_fd >= 0)
		close(dev_fd);
	problems = kmsg_problems(kmsg);
	if (!fuzzed)
		ksft_test_result_skip("kernel log: nothing was fuzzed\n");
	else if (problems < 0)
		ksft_test_result_skip("kernel log: /dev/kmsg unreadable\n");
	else
		ksft_test_result(problems == 0, "kernel log\n");
	ksft_finished();
}
