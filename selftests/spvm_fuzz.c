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

#include "kselftest.h"
#include "lib/pattern.h"
#include "lib/spvm_entry.h"

#define PG		4096UL
#define NR_PIPES	4
#define REGION_PAGES	64

/* per thread: the race's callers each replay their own sequence */
static __thread uint64_t rng_state;

static uint64_t rnd(void)
{
	/* xorshift64*: reproducible from the seed printed at start */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545F4914F6CDD1DULL;
}

static uint64_t below(uint64_t n)
{
	return n ? rnd() % n : 0;
}

static bool chance(int percent)
{
	return below(100) < (uint64_t)percent;
}

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

static bool documented(int err)
{
	switch (err) {
	case EINVAL: case E2BIG: case EFAULT: case EBADF: case ESRCH: case EPIPE:
	case EAGAIN: case EPERM: case ENOTTY: case ENOMEM: case EINTR:
	case EREMOTEIO:
		return true;
	}
	return false;
}

struct stats {
	unsigned long calls, ok, bytes, bad;
	unsigned long err[200];
};

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

/* ---- the race ----------------------------------------------------------- */

/*
 * The racing victim's address space, RACE_PAGES at RACE_ADDR in every image:
 *   [0, RACE_STABLE)           filled once, never changed: bytes checked
 *   [RACE_STABLE, RACE_A_END)  one thread munmaps, maps (private or shared),
 *                              mremaps and discards pages here
 *   [RACE_A_END, RACE_B_END)   one thread mprotects (none, read, read-write)
 *                              and writes pages it just made writable
 *   [RACE_B_END, RACE_PAGES)   a 2 MiB transparent huge page one thread
 *                              writes, splits (MADV_DONTNEED of a part) and
 *                              pages out (MADV_PAGEOUT, MADV_COLD)
 * Callers ask for ranges from RACE_SLACK pages before to RACE_SLACK after.
 */
#define RACE_ADDR	0x2b0000000000UL	/* 2 MiB aligned */
#define RACE_STABLE	16
#define RACE_A_END	128
#define RACE_B_END	512
#define RACE_PAGES	1024
#define RACE_SLACK	8
#define RACE_SEED	0x7ace
#define RACE_THREADS	4
#define RACE_SECONDS	40
#define RACE_VICTIM_ARG	"--spvm-race-victim"

/* one thread of churn in the victim, on its own part of the region */
struct churn {
	uint64_t seed;
	int part;
};

static void fill_pages(char *p, unsigned long pages, unsigned char c)
{
	for (unsigned long i = 0; i < pages; i++)
		p[i * PG] = c;
}

static void *churn_thread(void *arg)
{
	struct churn *c = arg;
	char *base = (char *)RACE_ADDR;

	rng_state = c->seed | 1;
	for (;;) {
		unsigned long lo, hi, first, n;
		char *at;

		switch (c->part) {
		case 0:
			lo = RACE_STABLE, hi = RACE_A_END;
			break;
		case 1:
			lo = RACE_A_END, hi = RACE_B_END;
			break;
		default:
			lo = RACE_B_END, hi = RACE_PAGES;
			break;
		}
		n = 1 + below(c->part == 2 ? 64 : 16);
		first = lo + below(hi - lo - n);
		at = base + first * PG;
		switch (c->part * 10 + below(5)) {
		case 0:		/* a hole */
			munmap(at, n * PG);
			break;
		case 1:		/* private memory again */
		case 2:		/* shared memory (shmem) */
			if (mmap(at, n * PG, PROT_READ | PROT_WRITE,
				 MAP_FIXED | MAP_ANONYMOUS |
				 (below(5) == 1 ? MAP_PRIVATE : MAP_SHARED), -1, 0) == at)
				fill_pages(at, n, (unsigned char)rnd());
			break;
		case 3: {	/* move pages elsewhere in the part: a hole here */
			unsigned long to = lo + below(hi - lo - n);

			if (to + n <= first || first + n <= to)
				mremap(at, n * PG, n * PG, MREMAP_MAYMOVE | MREMAP_FIXED,
				       base + to * PG);
			break;
		}
		case 4:
			madvise(at, n * PG, MADV_DONTNEED);
			break;
		case 10:
			mprotect(at, n * PG, PROT_NONE);
			break;
		case 11:
			mprotect(at, n * PG, PROT_READ);
			break;
		case 12:
		case 13:
		case 14:	/* writable, then written */
			if (!mprotect(at, n * PG, PROT_READ | PROT_WRITE))
				fill_pages(at, n, (unsigned char)rnd());
			break;
		case 20:
		case 21:
			fill_pages(at, n, (unsigned char)rnd());
			break;
		case 22:
			madvise(at, n * PG, MADV_DONTNEED);
			break;
		case 23:
			madvise(at, n * PG, MADV_PAGEOUT);
			break;
		case 24:
			madvise(at, n * PG, MADV_COLD);
			break;
		}
	}
	return NULL;
}

/*
 * One image of the racing victim.  The stable pages are built elsewhere
 * and moved into place whole, so that a caller racing with the exec never
 * sees them half written.  Then the churn threads start, 'r' goes out on
 * @ack, and the main thread waits for a command on @cmd: 'x' execs this
 * binary again (the same, with the same fds), 'q' exits with the threads
 * running.
 */
static void __attribute__((noreturn)) race_victim(int cmd, int ack, uint64_t seed)
{
	static struct churn churn[3];
	char *p, *stable, c, fds[3][24];
	pthread_t t;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	p = mmap((void *)RACE_ADDR, RACE_PAGES * PG, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	stable = mmap(NULL, RACE_STABLE * PG, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p != (char *)RACE_ADDR || stable == MAP_FAILED)
		_exit(81);
	for (int i = 0; i < RACE_STABLE; i++)
		pattern_fill(stable + i * PG, RACE_ADDR + i * PG, RACE_SEED);
	if (mremap(stable, RACE_STABLE * PG, RACE_STABLE * PG,
		   MREMAP_MAYMOVE | MREMAP_FIXED, p) != p)
		_exit(82);
	madvise(p + RACE_B_END * PG, (RACE_PAGES - RACE_B_END) * PG, MADV_HUGEPAGE);
	fill_pages(p + RACE_STABLE * PG, RACE_PAGES - RACE_STABLE, 0x11);
	for (int i = 0; i < 3; i++) {
		churn[i] = (struct churn){ .seed = seed * 3 + i, .part = i };
		if (pthread_create(&t, NULL, churn_thread, &churn[i]))
			_exit(83);
	}
	c = 'r';
	if (write(ack, &c, 1) != 1)
		_exit(84);
	while (read(cmd, &c, 1) == 1) {
		if (c == 'q')
			_exit(0);
		if (c == 'x') {
			snprintf(fds[0], sizeof(fds[0]), "%d", cmd);
			snprintf(fds[1], sizeof(fds[1]), "%d", ack);
			snprintf(fds[2], sizeof(fds[2]), "%llu", (unsigned long long)seed + 1);
			execl("/proc/self/exe", "spvm_fuzz", RACE_VICTIM_ARG, fds[0], fds[1],
			      fds[2], (char *)NULL);
			_exit(85);
		}
	}
	_exit(0);
}

struct race {
	const struct spvm_entry *e;
	pid_t victim;
	int cmd, ack;
	/* the targets callers pick from: more appear after an exec (device) */
	int targets[4];
	int nr_targets;			/* atomic */
	unsigned long calls;		/* atomic: calls made by all threads */
	unsigned long until;		/* atomic: the callers stop here */
	unsigned long waiting_for;	/* atomic: main waits for this count */
	sem_t reached;
	bool timed_out;			/* atomic */
	struct timespec deadline;
	uint64_t seed;
};

struct caller {
	struct race *r;
	pthread_t thread;
	int id;
	int pipe[2];
	struct spvm_iovec iov[8];
	struct stats st;
	unsigned char buf[64 * PG];
};

/* what the victim has at @addr, if it is a byte it never changes; else -1 */
static int race_expected(uint64_t addr)
{
	uint64_t word;

	if (addr < RACE_ADDR || addr >= RACE_ADDR + RACE_STABLE * PG)
		return -1;
	word = pattern_word(addr & ~7ULL, RACE_SEED);
	return (word >> (8 * (addr & 7))) & 0xff;
}

static void race_bad(struct caller *c, const char *fmt, ...)
{
	va_list ap;
	char msg[256];

	if (c->st.bad++ >= 5)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ksft_print_msg("race %s thread %d call %lu: %s\n", c->r->e->name, c->id,
		       c->st.calls, msg);
}

/*
 * One call from an empty pipe (so it never waits): mostly well-formed
 * ranges over the victim's region, any combination of flags, now and
 * then a field off.  Returns after checking count, errno and the stable
 * bytes.
 */
static void race_call(struct caller *c)
{
	struct race *r = c->r;
	unsigned long asked = 0, left;
	unsigned int nr = 1 + below(chance(70) ? 2 : 8);
	int nt = __atomic_load_n(&r->nr_targets, __ATOMIC_ACQUIRE);
	struct spvm_args a = {
		.size = sizeof(a),
		.flags = below(8),	/* NONBLOCK, FORCE, STABLE */
		/* mostly the newest: the victim's current image */
		.target_fd = r->targets[chance(75) ? nt - 1 : below(nt)],
		.pipe_fd = c->pipe[1],
		.iov = (uintptr_t)c->iov,
		.iovcnt = nr,
	};
	long ret;

	for (unsigned int i = 0; i < nr; i++) {
		uint64_t page = below(RACE_PAGES + 2 * RACE_SLACK);

		c->iov[i].base = RACE_ADDR - RACE_SLACK * PG + page * PG +
				 (chance(20) ? below(PG) : 0);
		c->iov[i].len = chance(20) ? 1 + below(3 * PG) : (1 + below(8)) * PG;
		asked += c->iov[i].len;
	}
	if (chance(3)) {
		switch (below(4)) {
		case 0:
			a.flags |= 1ULL << (3 + below(61));
			break;
		case 1:
			a.__reserved = 1;
			break;
		case 2:
			a.iov = (uintptr_t)(c->iov + 8) - 8;	/* runs off our array */
			break;
		default:
			a.target_fd = c->pipe[1];
			break;
		}
	}

	c->st.calls++;
	ret = r->e->call(&a);
	if (ret < 0) {
		if (!documented(errno))
			race_bad(c, "undocumented errno %d (%s)", errno, strerror(errno));
		else
			c->st.err[errno]++;
		return;
	}
	c->st.ok++;
	c->st.bytes += ret;
	if ((unsigned long)ret > asked || (unsigned long)ret > sizeof(c->buf)) {
		race_bad(c, "returned %ld > %lu asked", ret, asked);
		return;
	}
	for (long off = 0; off < ret; ) {
		ssize_t n = read(c->pipe[0], c->buf + off, ret - off);

		if (n <= 0) {
			race_bad(c, "returned %ld, the pipe holds %ld", ret, off);
			return;
		}
		off += n;
	}
	left = ret;
	for (unsigned int i = 0, off = 0; i < nr && left; i++) {
		unsigned long take = c->iov[i].len < left ? c->iov[i].len : left;

		for (unsigned long j = 0; j < take; j++) {
			int want = race_expected(c->iov[i].base + j);

			if (want >= 0 && c->buf[off + j] != want) {
				race_bad(c, "wrong byte at %#llx",
					 (unsigned long long)c->iov[i].base + j);
				return;
			}
		}
		off += take;
		left -= take;
	}
	/* whatever the count: nothing more than it in the pipe */
	if (read(c->pipe[0], c->buf, 1) != -1 || errno != EAGAIN)
		race_bad(c, "more bytes in the pipe than the %ld returned", ret);
}

static bool past(const struct timespec *t)
{
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	return now.tv_sec > t->tv_sec || (now.tv_sec == t->tv_sec && now.tv_nsec >= t->tv_nsec);
}

static void *caller_thread(void *arg)
{
	struct caller *c = arg;
	struct race *r = c->r;

	rng_state = (r->seed ^ (0x9E3779B97F4A7C15ULL * (c->id + 1))) | 1;
	while (__atomic_load_n(&r->calls, __ATOMIC_ACQUIRE) <
	       __atomic_load_n(&r->until, __ATOMIC_ACQUIRE)) {
		unsigned long n;

		race_call(c);
		n = __atomic_add_fetch(&r->calls, 1, __ATOMIC_ACQ_REL);
		if (n == __atomic_load_n(&r->waiting_for, __ATOMIC_ACQUIRE))
			sem_post(&r->reached);
		if (!(n & 63) && past(&r->deadline) &&
		    !__atomic_exchange_n(&r->timed_out, true, __ATOMIC_ACQ_REL))
			sem_post(&r->reached);	/* main stops waiting for counts */
	}
	return NULL;
}

/* until the callers made @n calls in all, or the time is up */
static void race_wait(struct race *r, unsigned long n)
{
	__atomic_store_n(&r->waiting_for, n, __ATOMIC_RELEASE);
	while (__atomic_load_n(&r->calls, __ATOMIC_ACQUIRE) < n &&
	       !__atomic_load_n(&r->timed_out, __ATOMIC_ACQUIRE)) {
		/* a post for a count already passed may be left over: look again */
		if (sem_timedwait(&r->reached, &r->deadline) && errno == ETIMEDOUT)
			__atomic_store_n(&r->timed_out, true, __ATOMIC_RELEASE);
	}
}

static int race_victim_start(struct race *r)
{
	int cmd[2], ack[2];
	char c;

	if (pipe2(cmd, O_CLOEXEC) || pipe2(ack, O_CLOEXEC))
		return -1;
	r->victim = fork();
	if (r->victim < 0)
		return -1;
	if (r->victim == 0) {
		close(cmd[1]);
		close(ack[0]);
		/* they survive the exec */
		if (fcntl(cmd[0], F_SETFD, 0) || fcntl(ack[1], F_SETFD, 0))
			_exit(80);
		race_victim(cmd[0], ack[1], r->seed);
	}
	close(cmd[0]);
	close(ack[1]);
	r->cmd = cmd[1];
	r->ack = ack[0];
	return read(r->ack, &c, 1) == 1 && c == 'r' ? 0 : -1;
}

/* a command to the victim; for 'x', wait for the new image to be ready */
static int race_victim_cmd(struct race *r, char c)
{
	if (write(r->cmd, &c, 1) != 1)
		return -1;
	if (c != 'x')
		return 0;
	return read(r->ack, &c, 1) == 1 && c == 'r' ? 0 : -1;
}

/*
 * The race on one entry, about @total calls from RACE_THREADS callers: the
 * victim execs after a third of them (unless the seed says it only exits),
 * exits half of @total calls after its new image is ready, and a sixth
 * more calls follow.  True when every call returned what it may and the
 * victim exited as told.
 */
static bool race_run(const struct spvm_entry *e, unsigned long total, uint64_t seed)
{
	static struct caller callers[RACE_THREADS];
	struct race r = { .e = e, .seed = seed, .until = ~0UL, .cmd = -1, .ack = -1 };
	struct stats sum = { 0 };
	struct timespec end;
	bool exec = seed & 1 ? true : (seed >> 1) % 4 != 0;	/* mostly */
	int status = -1, started = 0;
	bool ok = true;

	if (sem_init(&r.reached, 0, 0) || race_victim_start(&r)) {
		ksft_print_msg("race %s: victim: %s\n", e->name, strerror(errno));
		return false;
	}
	r.targets[r.nr_targets++] = e->open_target(r.victim);
	clock_gettime(CLOCK_REALTIME, &r.deadline);
	r.deadline.tv_sec += RACE_SECONDS;

	for (int i = 0; i < RACE_THREADS; i++) {
		struct caller *c = &callers[i];

		memset(c, 0, sizeof(*c));
		c->r = &r;
		c->id = i;
		if (pipe2(c->pipe, O_CLOEXEC | O_NONBLOCK) ||
		    pthread_create(&c->thread, NULL, caller_thread, c)) {
			ksft_print_msg("race %s: caller %d: %s\n", e->name, i, strerror(errno));
			ok = false;
			break;
		}
		started++;
	}

	race_wait(&r, total / 3);
	if (exec) {
		if (race_victim_cmd(&r, 'x')) {
			ksft_print_msg("race %s: the victim did not exec\n", e->name);
			ok = false;
		} else if (e->is_module) {
			/* the old fd names the old mm; a new one the new */
			r.targets[r.nr_targets] = e->open_target(r.victim);
			__atomic_add_fetch(&r.nr_targets, 1, __ATOMIC_RELEASE);
		}
	}
	/* counted from here: calls that failed fast during the exec do not count */
	race_wait(&r, __atomic_load_n(&r.calls, __ATOMIC_ACQUIRE) + total / 2);
	if (race_victim_cmd(&r, 'q'))
		ok = false;
	/* the last sixth against the exiting, then exited victim */
	__atomic_store_n(&r.until, __atomic_load_n(&r.calls, __ATOMIC_ACQUIRE) +
			 (__atomic_load_n(&r.timed_out, __ATOMIC_ACQUIRE) ?
			  RACE_THREADS * 64 : total / 6), __ATOMIC_RELEASE);
	if (waitpid(r.victim, &status, 0) != r.victim || !WIFEXITED(status) ||
	    WEXITSTATUS(status)) {
		ksft_print_msg("race %s: the victim ended with status %#x\n", e->name, status);
		ok = false;
	}
	if (__atomic_load_n(&r.timed_out, __ATOMIC_ACQUIRE))
		ksft_print_msg("race %s: %d s passed: stopped early\n", e->name, RACE_SECONDS);

	for (int i = 0; i < started; i++) {
		struct caller *c = &callers[i];

		pthread_join(c->thread, NULL);
		close(c->pipe[0]);
		close(c->pipe[1]);
		sum.calls += c->st.calls;
		sum.ok += c->st.ok;
		sum.bytes += c->st.bytes;
		sum.bad += c->st.bad;
		for (int j = 0; j < 200; j++)
			sum.err[j] += c->st.err[j];
	}
	clock_gettime(CLOCK_REALTIME, &end);
	ksft_print_msg("race %s: %lu calls in %ld s (victim %s), %lu ok (%lu bytes), EINVAL %lu "
		       "EFAULT %lu EBADF %lu ESRCH %lu EAGAIN %lu EPERM %lu ENOMEM %lu\n",
		       e->name, sum.calls, (long)(end.tv_sec - r.deadline.tv_sec + RACE_SECONDS),
		       exec ? "execed then exited" : "exited", sum.ok,
		       sum.bytes, sum.err[EINVAL], sum.err[EFAULT], sum.err[EBADF],
		       sum.err[ESRCH], sum.err[EAGAIN], sum.err[EPERM], sum.err[ENOMEM]);
	for (int i = 0; i < r.nr_targets; i++)
		close(r.targets[i]);
	close(r.cmd);
	close(r.ack);
	sem_destroy(&r.reached);
	return ok && !sum.bad;
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
