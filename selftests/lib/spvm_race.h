/* SPDX-License-Identifier: GPL-2.0 */
/*
 * spvm_fuzz's race: RACE_THREADS callers against a victim that changes its
 * own address space, execs and exits during the calls (see spvm_fuzz.c).
 * race_run() runs it on one entry point; race_victim() is the victim's
 * image after its exec (spvm_fuzz RACE_VICTIM_ARG CMD ACK SEED).
 */
#ifndef MEMSPLICE_SPVM_RACE_H
#define MEMSPLICE_SPVM_RACE_H

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
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/splice_process_vm.h>

#include "spvm_ioctl.h"

#include "kselftest.h"
#include "lib/fuzz.h"
#include "lib/pattern.h"
#include "lib/spvm_entry.h"

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

#endif /* MEMSPLICE_SPVM_RACE_H */
