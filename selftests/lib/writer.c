// SPDX-License-Identifier: GPL-2.0
/*
 * A dump target that never stops writing (track_test.c): a thread stores
 * an increasing counter at random words of a small hot region without
 * pause, and 20000 times a second at a random word of any region, through
 * every pass of a checkpoint, so a pass that does not freeze the tree is
 * always racing it.  With --churn another thread changes the VMAs all the
 * time as well.
 *
 *   writer [--mib N] [--sparse] [--nothp|--huge] [--rate PCT [--part PCT]] [--thp]
 *          [--churn] [--own-uffd]
 *          [--shared-mib N] [--shared-child] [--punch] [--forks] [--idle] [--detach]
 *
 * Regions: 256 KiB hot and N MiB (default 16) of private anonymous memory
 * (--sparse: reserved, one page written in 16 MiB; --nothp: MADV_NOHUGEPAGE;
 * --huge: MADV_HUGEPAGE, aligned to 2 MiB),
 * 1 MiB shared
 * anonymous (--shared-mib N: N MiB, 0: none), with --thp 8 MiB of MADV_HUGEPAGE, with --own-uffd 64 KiB that
 * the writer registers with a userfaultfd of its own (missing mode, all
 * populated first, so no fault ever waits).  Every page starts with the
 * pattern of pattern.h.
 *
 * --churn, between 50 us pauses, in turn: a 16-page region unmapped and
 * mapped again at the same address, a 16-page region split by mprotect and
 * merged again, a fresh mapping (the one before unmapped), a region moved
 * by mremap between two addresses, MADV_DONTNEED of a page of the main
 * region.  Each is written after the change.
 *
 * --shared-child: a child process writes the shared region as well,
 * through its own mapping, 16000 times a second: it flips a random word of
 * a random page back and forth, so a page often holds again the bytes it
 * held a moment ago (what a tracker that missed the child's writes and
 * compared bytes instead would take for unwritten).  It dies with the
 * writer.
 *
 * --punch: a thread punches a hole in the shared region 1000 times a
 * second (MADV_REMOVE of a random page) and reads the page back in: the
 * page is a new zero page in the segment, at an address where no one wrote.
 *
 * --forks: a thread forks a child up to 1000 times a second, which writes a
 * word of a random page of the shared region through its own mapping and
 * exits; the write counter counts the children reaped.
 *
 * --idle: nothing is written once set up (no writing thread, no child).
 *
 * --rate PCT: no hot writes, and no shared region unless --shared-mib says
 * so (not written then); PCT% of the main region's written pages a second,
 * one at a time, at random pages of it (for bench/rounds), or with --part
 * PART at random pages of its first PART% (at the same rate).
 *
 * On fd 3, once set up: "ready SEQ GAP SHARED PAGES", the addresses of the
 * write counter, of the longest stall seen (ns), and of the shared region,
 * and its size in pages.  Runs until killed.  --detach: fd 3 is closed
 * then, so that criu finds no pipe to the outside (bench/lazy migrates it).
 *
 * Time is CLOCK_REALTIME: a tree that criu restores lands in a time
 * namespace whose monotonic clock continues where the dump left it, which
 * would hide the time it did not run.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/userfaultfd.h>

#include "pattern.h"

#define REPORT_FD	3
#define SEED		0x5eed
#define CHURN_PAGES	16
#define THP_SIZE	(8UL << 20)
#define OWN_PAGES	16
#define HOT_PAGES	64
#define SPARSE_STRIDE	4096	/* --sparse: one page written in 16 MiB */

struct region {
	char *addr;
	unsigned long pages;	/* written, one every @stride */
	unsigned long stride;
};

static struct region regions[5];
static int nr_regions;
static volatile uint64_t seq;
static volatile uint64_t max_gap_ns;	/* longest stall seen; the bench resets it */
static uint64_t cold_ns = 50000;	/* between two writes to a random page */
static bool hot = true;			/* write the hot region between them */

static void die(const char *what)
{
	dprintf(2, "writer: %s: %s\n", what, strerror(errno));
	exit(1);
}

static char *map(void *at, unsigned long len, int flags)
{
	char *p = mmap(at, len, PROT_READ | PROT_WRITE,
		       flags | MAP_ANONYMOUS | (at ? MAP_FIXED : 0), -1, 0);

	if (p == MAP_FAILED)
		die("mmap");
	return p;
}

static void fill(char *p, unsigned long pages)
{
	for (unsigned long i = 0; i < pages; i++)
		pattern_fill(p + i * VPAGE, (uint64_t)(unsigned long)p + i * VPAGE, SEED);
}

static char *add_region(char *p, unsigned long pages)
{
	fill(p, pages);
	regions[nr_regions++] = (struct region){ p, pages, 1 };
	return p;
}

/* one page written every @stride: a sparse mapping */
static void add_sparse(char *p, unsigned long pages, unsigned long stride)
{
	for (unsigned long i = 0; i < pages; i++)
		fill(p + i * stride * VPAGE, 1);
	regions[nr_regions++] = (struct region){ p, pages, stride };
}

static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/*
 * Without pause, into a small hot region (not with --rate); and every
 * cold_ns into a random page of any other region, so most pages are written
 * once in a while: a write that a pass loses stays lost until the final
 * dump, where the test sees it.  The longest time between two turns of the
 * loop is what the workload felt of a pass (a freeze, a fault).
 */
static void *write_loop(void *arg)
{
	uint64_t s = 88172645463325252ULL, last = now_ns(), next = last;

	for (;;) {
		const struct region *r = &regions[0];
		uint64_t t = now_ns(), *w;

		if (t - last > max_gap_ns)
			max_gap_ns = t - last;
		last = t;
		if (t >= next) {
			r = &regions[hot ? 1 + xorshift(&s) % (nr_regions - 1) : 1];
			next += cold_ns;
		} else if (!hot) {
			continue;
		}
		w = (uint64_t *)(r->addr + xorshift(&s) % r->pages * r->stride * VPAGE);
		w[xorshift(&s) % (VPAGE / 8)] = ++seq;
	}
	return arg;
}

static char *aligned(unsigned long len, unsigned long align)
{
	char *p = map(NULL, len + align, MAP_PRIVATE);
	char *a = (char *)(((unsigned long)p + align - 1) & ~(align - 1));

	munmap(p, a - p);
	munmap(a + len, p + align - a);
	return a;
}

/* a region of its own, registered with its own userfaultfd (missing mode) */
static void own_uffd(void)
{
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg = { .mode = UFFDIO_REGISTER_MODE_MISSING };
	char *p = map(NULL, OWN_PAGES * VPAGE, MAP_PRIVATE);
	int fd;

	add_region(p, OWN_PAGES);	/* populated: no fault will wait for us */
	fd = syscall(SYS_userfaultfd, O_CLOEXEC | 1 /* UFFD_USER_MODE_ONLY */);
	if (fd < 0)
		die("userfaultfd");
	if (ioctl(fd, UFFDIO_API, &api))
		die("UFFDIO_API");
	reg.range.start = (unsigned long)p;
	reg.range.len = OWN_PAGES * VPAGE;
	if (ioctl(fd, UFFDIO_REGISTER, &reg))
		die("UFFDIO_REGISTER");
}

static void churn_step(unsigned int step, char **fresh, char *moved[2], unsigned int *at,
		       char *remapped, char *split, uint64_t *s)
{
	const struct region *main_region = &regions[1];
	char *p;

	switch (step % 5) {
	case 0:	/* unmapped and mapped again: a new VMA at an old address */
		munmap(remapped, CHURN_PAGES * VPAGE);
		fill(map(remapped, CHURN_PAGES * VPAGE, MAP_PRIVATE), CHURN_PAGES);
		break;
	case 1:	/* split, then merged */
		if (mprotect(split + 4 * VPAGE, 4 * VPAGE, PROT_READ))
			die("mprotect");
		if (mprotect(split + 4 * VPAGE, 4 * VPAGE, PROT_READ | PROT_WRITE))
			die("mprotect");
		fill(split + (step / 5 % CHURN_PAGES) * VPAGE, 1);
		break;
	case 2:	/* a new mapping, the one before gone */
		p = map(NULL, CHURN_PAGES * VPAGE, MAP_PRIVATE);
		fill(p, CHURN_PAGES);
		if (*fresh)
			munmap(*fresh, CHURN_PAGES * VPAGE);
		*fresh = p;
		break;
	case 3:	/* moved by mremap, back and forth, over a placeholder */
		p = mremap(moved[*at], CHURN_PAGES * VPAGE, CHURN_PAGES * VPAGE,
			   MREMAP_MAYMOVE | MREMAP_FIXED, moved[!*at]);
		if (p == MAP_FAILED)
			die("mremap");
		if (mmap(moved[*at], CHURN_PAGES * VPAGE, PROT_NONE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == MAP_FAILED)
			die("mmap");
		*at = !*at;
		((uint64_t *)p)[xorshift(s) % (CHURN_PAGES * VPAGE / 8)] = ++seq;
		break;
	case 4:	/* a page dropped: it reads as zeros now */
		madvise(main_region->addr + xorshift(s) % main_region->pages * VPAGE, VPAGE,
			MADV_DONTNEED);
		break;
	}
}

/* --punch: holes punched in the shared region, read back as zero pages */
static void *punch_loop(void *arg)
{
	const struct region *r = arg;
	uint64_t s = 0x2545F4914F6CDD1DULL;

	for (;;) {
		char *p = r->addr + xorshift(&s) % r->pages * VPAGE;

		if (madvise(p, VPAGE, MADV_REMOVE))
			die("madvise(MADV_REMOVE)");
		(void)*(volatile char *)p;
		usleep(1000);	/* pacing the workload, not synchronisation */
	}
	return NULL;
}

/* --forks: short-lived children writing the shared region */
static void *fork_loop(void *arg)
{
	const struct region *r = arg;
	uint64_t s = 0x853c49e6748fea9bULL;

	for (;;) {
		uint64_t *w = (uint64_t *)(r->addr + xorshift(&s) % r->pages * VPAGE);
		pid_t pid = fork();

		if (pid < 0)
			die("fork");
		if (!pid) {
			w[xorshift(&s) % (VPAGE / 8)] = ++seq;
			_exit(0);
		}
		waitpid(pid, NULL, 0);
		++seq;		/* one more child has written and gone */
		usleep(1000);	/* pacing the workload, not synchronisation */
	}
	return NULL;
}

/* --shared-child: flips words of the shared region through its own mapping */
static void shared_child(const struct region *r)
{
	uint64_t s = 0x9E3779B97F4A7C15ULL;
	pid_t pid = fork();

	if (pid < 0)
		die("fork");
	if (pid)
		return;
	close(REPORT_FD);	/* the writer says when it is ready */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) || getppid() == 1)
		_exit(0);
	for (;;) {
		for (int i = 0; i < 16; i++) {
			uint64_t *w = (uint64_t *)(r->addr + xorshift(&s) % r->pages * VPAGE);

			w[xorshift(&s) % (VPAGE / 8)] ^= 0x5a5a5a5a5a5a5a5aULL;
		}
		usleep(1000);	/* pacing the workload, not synchronisation */
	}
}

static void churn(void)
{
	char *remapped = map(NULL, CHURN_PAGES * VPAGE, MAP_PRIVATE);
	char *split = map(NULL, CHURN_PAGES * VPAGE, MAP_PRIVATE);
	char *moved[2], *fresh = NULL;
	unsigned int at = 0;
	uint64_t s = 0x2545F4914F6CDD1DULL;

	/* two places to move between, the empty one held by a PROT_NONE placeholder */
	moved[0] = map(NULL, 2 * CHURN_PAGES * VPAGE, MAP_PRIVATE);
	moved[1] = moved[0] + CHURN_PAGES * VPAGE;
	if (mprotect(moved[1], CHURN_PAGES * VPAGE, PROT_NONE))
		die("mprotect");
	fill(remapped, CHURN_PAGES);
	fill(split, CHURN_PAGES);
	fill(moved[0], CHURN_PAGES);
	for (unsigned int step = 0;; step++) {
		churn_step(step, &fresh, moved, &at, remapped, split, &s);
		usleep(50);	/* pacing the workload, not synchronisation */
	}
}

int main(int argc, char **argv)
{
	unsigned long mib = 16, rate = 0, part = 100;
	long shared_mib = -1;	/* -1: 1 MiB, none with --rate */
	bool thp = false, churning = false, own = false, sparse = false, nothp = false;
	bool huge = false;
	bool child = false, idle = false, punch = false, forks = false, detach = false;
	char *main_region;
	struct region none = { 0 }, *shared = &none;
	pthread_t th;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--mib") && i + 1 < argc)
			mib = strtoul(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--thp"))
			thp = true;
		else if (!strcmp(argv[i], "--churn"))
			churning = true;
		else if (!strcmp(argv[i], "--own-uffd"))
			own = true;
		else if (!strcmp(argv[i], "--sparse"))
			sparse = true;
		else if (!strcmp(argv[i], "--nothp"))
			nothp = true;
		else if (!strcmp(argv[i], "--huge"))
			huge = true;
		else if (!strcmp(argv[i], "--shared-mib") && i + 1 < argc)
			shared_mib = strtol(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--shared-child"))
			child = true;
		else if (!strcmp(argv[i], "--forks"))
			forks = true;
		else if (!strcmp(argv[i], "--punch"))
			punch = true;
		else if (!strcmp(argv[i], "--idle"))
			idle = true;
		else if (!strcmp(argv[i], "--detach"))
			detach = true;
		else if (!strcmp(argv[i], "--rate") && i + 1 < argc)
			rate = strtoul(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--part") && i + 1 < argc)
			part = strtoul(argv[++i], NULL, 10);
		else
			return 2;
	}
	add_region(map(NULL, HOT_PAGES * VPAGE, MAP_PRIVATE), HOT_PAGES);
	if (huge)
		main_region = aligned(mib << 20, 2UL << 20);
	else
		main_region = map(NULL, mib << 20, MAP_PRIVATE | (sparse ? MAP_NORESERVE : 0));
	if (nothp || huge)
		madvise(main_region, mib << 20, huge ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
	if (sparse)
		add_sparse(main_region, (mib << 20) / VPAGE / SPARSE_STRIDE, SPARSE_STRIDE);
	else
		add_region(main_region, (mib << 20) / VPAGE);
	if (rate) {	/* rate% of the written pages a second, nothing else */
		hot = false;
		cold_ns = 100ULL * 1000000000ULL / (rate * regions[1].pages);
		if (part > 0 && part < 100)	/* written from here on: the first part */
			regions[1].pages = regions[1].pages * part / 100 ?: 1;
	}
	if (shared_mib < 0)
		shared_mib = rate ? 0 : 1;
	if (shared_mib > 0) {	/* not in the rate's numbers: not written with --rate */
		shared = &regions[nr_regions];
		add_region(map(NULL, shared_mib << 20, MAP_SHARED), (shared_mib << 20) / VPAGE);
	}
	if (thp) {
		char *p = aligned(THP_SIZE, 2UL << 20);

		madvise(p, THP_SIZE, MADV_HUGEPAGE);
		add_region(p, THP_SIZE / VPAGE);
	}
	if (own)
		own_uffd();
	if (child && shared->pages)
		shared_child(shared);
	if (!idle && pthread_create(&th, NULL, write_loop, NULL))
		return 1;
	if (punch && shared->pages && pthread_create(&th, NULL, punch_loop, shared))
		return 1;
	if (forks && shared->pages && pthread_create(&th, NULL, fork_loop, shared))
		return 1;
	dprintf(REPORT_FD, "ready %lx %lx %lx %lu\n", (unsigned long)&seq,
		(unsigned long)&max_gap_ns, (unsigned long)shared->addr, shared->pages);
	if (detach)
		close(REPORT_FD);
	if (idle)
		for (;;)
			pause();
	if (churning)
		churn();
	pthread_join(th, NULL);
	return 0;
}
