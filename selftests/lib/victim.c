// SPDX-License-Identifier: GPL-2.0
/*
 * A dump target for the tests.  It maps the regions asked for, fills them
 * with pattern_fill(), describes them on fd 3 and says "ready".  Then it
 * waits for signals (never sleeps):
 *   SIGUSR1  verify every region, answer "PID ok" or "PID bad ..."
 *   SIGWINCH fork a child that verifies every region and exits (in a tree
 *            restored with lazy pages, the child faults in pages its
 *            parent never had); answer "PID forked ok" or "PID forked bad ..."
 *   SIGUSR2  dirty every 4th page of "anon" and of the --hugetlb regions
 *            (next generation) and map a new 8-page region; answer
 *            "PID dirtied GEN"
 *   SIGURG   reshape "anon" (at least 16 pages) as a restored tree's
 *            memory may change while it is filled: its last quarter moves
 *            (mremap) to a new address ("anon-moved", same bytes), the
 *            eighth before it is unmapped, the eighth before that is
 *            MADV_DONTNEED'd ("anon-zeroed": reads zeros from now on);
 *            answer "PID reshaped"
 *   SIGTERM  exit 0
 * Report lines (fd 3):  "R PID NAME ADDR PAGES SEED", "PID ready", answers.
 *
 * Options: --anon N --file N --shared N --protnone N --thp MIB --sparse MIB
 *          --fragmented MIB (every other page written: one pagemap run each)
 *          --reserve MIB (a PROT_NONE reservation, never touched)
 *          --threads N --children N --mutate --nothp --seed S --procpid
 *          --zombies N --churn-threads N --split-shared N
 *          --hugetlb N (N 2 MiB huge pages MAP_SHARED|MAP_ANONYMOUS|MAP_HUGETLB,
 *          "htlb-shared", and N private ones, "htlb-priv": the test reserves them)
 *
 * Every process of the tree (the root and each of --children) maps its own
 * regions, starts its own --threads, and:
 * --zombies N: forks N children that exit at once and are never reaped;
 *   "ready" once all are zombies.
 * --churn-threads N: a manager thread creates N threads, joins them (each
 *   returns at once: it touches no region) and starts over, for good;
 *   "ready" once a first round is done.
 * --split-shared N (the root only, before --children fork, so the whole tree
 * maps it): one MAP_SHARED|MAP_ANONYMOUS segment of N pages, filled, then
 * split into three VMAs by mprotect(PROT_READ) of its middle third, and
 * reported as one region "split" (its bytes are in pagemap-shmem-ID.img).
 *
 * --procpid: report pids as /proc names them (readlink /proc/self), not
 * getpid(): in a pid namespace of its own, with the test's /proc mounted,
 * those are the pids the test can signal.  Read again for every line, so a
 * tree restored into a new namespace reports its new pids.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pattern.h"

#define REPORT_FD	3
#define MAX_REGIONS	64

struct region {
	const char *name;
	char *addr;
	unsigned long pages;
	uint64_t seed;
	int prot;		/* restore after verifying a PROT_NONE region */
	unsigned char *gen;	/* per-page generation ("anon", "htlb-*") */
	bool written_even;	/* file region: only even pages were written */
	bool even_only;		/* only even pages exist: odd ones were never touched */
	bool zeroed;		/* MADV_DONTNEED'd: reads zeros */
	char *origin;		/* where its bytes were written (moved since), or NULL */
};

static struct region regions[MAX_REGIONS];
static int nr_regions;
static pthread_mutex_t regions_lock = PTHREAD_MUTEX_INITIALIZER;
static bool procpid;

/* the pid the test knows us by */
static int self_pid(void)
{
	char buf[32];
	ssize_t n;

	if (!procpid)
		return getpid();
	n = readlink("/proc/self", buf, sizeof(buf) - 1);
	if (n <= 0)
		return getpid();
	buf[n] = '\0';
	return atoi(buf);
}

static void report(const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (write(REPORT_FD, buf, n) != n)
		_exit(90);
}

static void die(const char *what)
{
	report("%d error %s: %s\n", self_pid(), what, strerror(errno));
	_exit(91);
}

static char *map(unsigned long len, int flags, int fd)
{
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, flags, fd, 0);

	if (p == MAP_FAILED)
		die("mmap");
	return p;
}

/*
 * Private anonymous memory with a PROT_NONE guard page on each side, so that
 * no later mapping merges with it: the kernel marks a whole merged VMA
 * soft-dirty, which would blur "exactly these pages were written".
 */
static char *map_guarded(unsigned long len)
{
	char *p = map(len + 2 * VPAGE, MAP_PRIVATE | MAP_ANONYMOUS, -1);

	if (mprotect(p, VPAGE, PROT_NONE) || mprotect(p + VPAGE + len, VPAGE, PROT_NONE))
		die("mprotect guard");
	return p + VPAGE;
}

static struct region *add_region(const char *name, char *addr, unsigned long pages, uint64_t seed)
{
	struct region *r;

	pthread_mutex_lock(&regions_lock);
	if (nr_regions == MAX_REGIONS) {
		errno = ENOSPC;
		die("regions");
	}
	r = &regions[nr_regions++];
	pthread_mutex_unlock(&regions_lock);
	r->name = name;
	r->addr = addr;
	r->pages = pages;
	r->seed = seed;
	r->prot = PROT_READ | PROT_WRITE;
	return r;
}

static bool zero_page(const char *p)
{
	for (unsigned long i = 0; i < VPAGE; i++)
		if (p[i])
			return false;
	return true;
}

/* the address @r's page @i was written at: its pattern's key */
static uint64_t key(const struct region *r, unsigned long i)
{
	return (uint64_t)((r->origin ? r->origin : r->addr) + i * VPAGE);
}

static void fill(struct region *r)
{
	for (unsigned long i = 0; i < r->pages; i++) {
		if ((r->written_even || r->even_only) && (i & 1))
			continue;
		pattern_fill(r->addr + i * VPAGE, key(r, i),
			     r->seed + (r->gen ? r->gen[i] : 0));
	}
	report("R %d %s %lx %lu %llu\n", self_pid(), r->name, (unsigned long)r->addr,
	       r->pages, (unsigned long long)r->seed);
}

/* the first wrong page as "NAME page N" into @why, -1; 0 if all are right */
static int check(char *why, size_t len)
{
	for (int k = 0; k < nr_regions; k++) {
		struct region *r = &regions[k];

		if (r->prot != (PROT_READ | PROT_WRITE))
			mprotect(r->addr, r->pages * VPAGE, PROT_READ);
		for (unsigned long i = 0; i < r->pages; i++) {
			uint64_t a = (uint64_t)(r->addr + i * VPAGE);
			uint64_t seed = r->seed + (r->gen ? r->gen[i] : 0);

			if (r->even_only && (i & 1))
				continue;
			if (r->written_even && (i & 1))
				seed = r->seed ^ 0xf11e;	/* the file's own bytes */
			if (r->zeroed ? !zero_page((void *)a) :
			    pattern_check((void *)a, key(r, i), seed) >= 0) {
				snprintf(why, len, "%s page %lu", r->name, i);
				return -1;
			}
		}
		if (r->prot != (PROT_READ | PROT_WRITE))
			mprotect(r->addr, r->pages * VPAGE, r->prot);
	}
	return 0;
}

/* SIGURG: see the head of this file */
static void reshape(void)
{
	struct region *r = NULL, *m;
	unsigned long q, e;
	char *to;

	for (int k = 0; k < nr_regions; k++)
		if (!strcmp(regions[k].name, "anon"))
			r = &regions[k];
	if (!r || r->pages < 16) {
		report("%d reshaped: no anon of 16 pages\n", self_pid());
		return;
	}
	q = r->pages / 4;
	e = r->pages / 8;
	to = map_guarded(q * VPAGE);
	if (mremap(r->addr + (r->pages - q) * VPAGE, q * VPAGE, q * VPAGE,
		   MREMAP_MAYMOVE | MREMAP_FIXED, to) != to)
		die("mremap");
	m = add_region("anon-moved", to, q, r->seed);
	m->origin = r->addr + (r->pages - q) * VPAGE;
	m->gen = r->gen ? r->gen + (r->pages - q) : NULL;
	r->pages -= q;
	if (munmap(r->addr + (r->pages - e) * VPAGE, e * VPAGE))
		die("munmap");
	r->pages -= e;
	if (madvise(r->addr + (r->pages - e) * VPAGE, e * VPAGE, MADV_DONTNEED))
		die("madvise");
	m = add_region("anon-zeroed", r->addr + (r->pages - e) * VPAGE, e, r->seed);
	m->zeroed = true;
	r->pages -= e;
	report("%d reshaped\n", self_pid());
}

static void verify(void)
{
	char why[128];

	if (check(why, sizeof(why)))
		report("%d bad %s\n", self_pid(), why);
	else
		report("%d ok\n", self_pid());
}

/* SIGWINCH: the same check in a child forked now; its exit status says */
static void verify_forked(void)
{
	char why[128] = "fork failed";
	pid_t pid = fork();
	int st = 0;

	if (pid == 0)
		_exit(check(why, sizeof(why)) ? 1 : 0);
	if (pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) && !WEXITSTATUS(st)) {
		report("%d forked ok\n", self_pid());
		return;
	}
	if (pid > 0)
		snprintf(why, sizeof(why), "child status %#x", st);
	report("%d forked bad: %s\n", self_pid(), why);
}

static struct opts {
	unsigned long anon, file, shared, protnone, thp_mib, sparse_mib, fragmented_mib;
	unsigned long reserve_mib, split_shared, hugetlb;
	int threads, children, zombies, churn_threads;
	bool mutate, nothp;
	uint64_t seed;
} o = { .seed = 1 };

static int gen;

static void dirty(void)
{
	char *p;

	gen++;
	for (int k = 0; k < nr_regions; k++) {
		struct region *r = &regions[k];

		for (unsigned long i = 0; r->gen && i < r->pages; i += 4) {
			r->gen[i] = gen;
			pattern_fill(r->addr + i * VPAGE, key(r, i),
				     r->seed + gen);
		}
	}
	p = map_guarded(8 * VPAGE);
	if (o.nothp)
		madvise(p, 8 * VPAGE, MADV_NOHUGEPAGE);
	fill(add_region(gen == 1 ? "new1" : gen == 2 ? "new2" : "newN", p, 8, o.seed + 500 + gen));
	report("%d dirtied %d\n", self_pid(), gen);
}

static void *churn_one(void *arg)
{
	return arg;
}

static void *thread_main(void *arg)
{
	long idx = (long)arg;
	char *p = map(16 * VPAGE, MAP_PRIVATE | MAP_ANONYMOUS, -1);
	int pfd[2];
	char c;

	fill(add_region("thread", p, 16, o.seed + 100 + idx));
	if (pipe(pfd))
		die("pipe");
	report("%d thread %ld ready\n", self_pid(), idx);
	/* block for good: nobody ever writes */
	while (read(pfd[0], &c, 1) < 0 && errno == EINTR)
		;
	return NULL;
}

/* keep changing the address space; only touches regions it owns */
static void mutate_step(unsigned long i)
{
	char *p = mmap(NULL, 16 * VPAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		die("mmap");
	for (int k = 0; k < 16; k++)
		p[k * VPAGE] = (char)(i + k);
	mprotect(p + 4 * VPAGE, 4 * VPAGE, (i & 1) ? PROT_READ : PROT_NONE);
	munmap(p + 8 * VPAGE, 4 * VPAGE);
	munmap(p, 16 * VPAGE);
	p = mmap(NULL, 64 * VPAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		die("mmap");
	memset(p, (int)i, 64 * VPAGE);
	madvise(p, 32 * VPAGE, MADV_DONTNEED);
	munmap(p, 64 * VPAGE);
}

/* threads that live for an instant, forever: the tree never holds still */
static void *churn_main(void *arg)
{
	int ready_fd = (int)(long)arg;
	pthread_t *th = calloc(o.churn_threads, sizeof(*th));

	if (!th)
		die("calloc");
	for (;;) {
		for (int i = 0; i < o.churn_threads; i++)
			if (pthread_create(&th[i], NULL, churn_one, NULL))
				die("pthread_create churn");
		for (int i = 0; i < o.churn_threads; i++)
			pthread_join(th[i], NULL);
		if (ready_fd >= 0) {
			if (write(ready_fd, "x", 1) != 1)
				die("write churn");
			close(ready_fd);
			ready_fd = -1;
		}
	}
	return NULL;
}

/* returns once a first round of churning threads came and went */
static void start_churn(void)
{
	pthread_t th;
	int pfd[2];
	char c;

	if (pipe(pfd))
		die("pipe");
	if (pthread_create(&th, NULL, churn_main, (void *)(long)pfd[1]))
		die("pthread_create");
	if (read(pfd[0], &c, 1) != 1)
		die("read churn");
	close(pfd[0]);
}

/* children that exited at once; returns when every one is a zombie */
static void make_zombies(void)
{
	for (int z = 0; z < o.zombies; z++) {
		siginfo_t si;
		pid_t pid = fork();

		if (pid < 0)
			die("fork");
		if (pid == 0)
			_exit(0);
		/* WNOWAIT: wait for the exit, leave the zombie */
		if (waitid(P_PID, pid, &si, WEXITED | WNOWAIT))
			die("waitid");
	}
}

/* the root's, before the children fork: every process maps it, split alike */
static void setup_split_shared(uint64_t seed)
{
	unsigned long third = o.split_shared / 3;
	char *p = map(o.split_shared * VPAGE, MAP_SHARED | MAP_ANONYMOUS, -1);

	fill(add_region("split", p, o.split_shared, seed + 70));
	if (mprotect(p + third * VPAGE, third * VPAGE, PROT_READ))
		die("mprotect split");
}

static void setup(uint64_t seed)
{
	struct region *r;
	char *p;

	o.seed = seed;
	if (o.anon) {
		p = map_guarded(o.anon * VPAGE);
		if (o.nothp)
			madvise(p, o.anon * VPAGE, MADV_NOHUGEPAGE);
		r = add_region("anon", p, o.anon, seed);
		r->gen = calloc(o.anon, 1);
		if (!r->gen)
			die("calloc");
		fill(r);
	}
	if (o.file) {
		char path[] = "/tmp/memsplice-victim-XXXXXX";
		int fd = mkstemp(path);
		char *w;

		if (fd < 0)
			die("mkstemp");
		unlink(path);
		if (ftruncate(fd, o.file * VPAGE))
			die("ftruncate");
		/* the file's own bytes: seed ^ 0xf11e at the address they will be mapped at */
		w = map(o.file * VPAGE, MAP_PRIVATE | MAP_ANONYMOUS, -1);
		p = mmap(NULL, o.file * VPAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
		if (p == MAP_FAILED)
			die("mmap file");
		for (unsigned long i = 0; i < o.file; i++)
			pattern_fill(w + i * VPAGE, (uint64_t)(p + i * VPAGE), (seed + 10) ^ 0xf11e);
		if (pwrite(fd, w, o.file * VPAGE, 0) != (ssize_t)(o.file * VPAGE))
			die("pwrite");
		munmap(w, o.file * VPAGE);
		/* fault the odd pages in as file pages: read, do not write */
		for (unsigned long i = 1; i < o.file; i += 2)
			(void)*(volatile char *)(p + i * VPAGE);
		r = add_region("file", p, o.file, seed + 10);
		r->written_even = true;
		fill(r);
		close(fd);
	}
	if (o.shared) {
		p = map(o.shared * VPAGE, MAP_SHARED | MAP_ANONYMOUS, -1);
		fill(add_region("shared", p, o.shared, seed + 20));
	}
	if (o.protnone) {
		p = map(o.protnone * VPAGE, MAP_PRIVATE | MAP_ANONYMOUS, -1);
		r = add_region("protnone", p, o.protnone, seed + 30);
		fill(r);
		r->prot = PROT_NONE;
		if (mprotect(p, o.protnone * VPAGE, PROT_NONE))
			die("mprotect");
	}
	if (o.thp_mib) {
		unsigned long len = o.thp_mib << 20, huge = 2UL << 20;
		char *raw = map(len + huge, MAP_PRIVATE | MAP_ANONYMOUS, -1);

		p = (char *)(((unsigned long)raw + huge - 1) & ~(huge - 1));
		madvise(p, len, MADV_HUGEPAGE);
		fill(add_region("thp", p, len / VPAGE, seed + 40));
	}
	if (o.sparse_mib) {
		unsigned long len = o.sparse_mib << 20;

		p = map(len, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1);
		madvise(p, len, MADV_NOHUGEPAGE);
		/* 16 single pages spread over the mapping */
		for (int k = 0; k < 16; k++) {
			char *pg = p + (len / 16) * k;

			fill(add_region("sparse", pg, 1, seed + 50 + k));
		}
	}
	if (o.hugetlb) {
		static const char *const name[2] = { "htlb-shared", "htlb-priv" };
		static const int type[2] = { MAP_SHARED, MAP_PRIVATE };
		unsigned long pages = o.hugetlb * (2UL << 20) / VPAGE;

		for (int k = 0; k < 2; k++) {
			p = map(pages * VPAGE, type[k] | MAP_ANONYMOUS | MAP_HUGETLB, -1);
			r = add_region(name[k], p, pages, seed + 80 + k);
			r->gen = calloc(pages, 1);
			if (!r->gen)
				die("calloc");
			fill(r);
		}
	}
	if (o.reserve_mib &&
	    mmap(NULL, o.reserve_mib << 20, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		 -1, 0) == MAP_FAILED)
		die("mmap");
	if (o.fragmented_mib) {
		unsigned long len = o.fragmented_mib << 20;
		struct region *r;

		p = map(len, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1);
		madvise(p, len, MADV_NOHUGEPAGE);
		r = add_region("fragmented", p, len / VPAGE, seed + 60);
		r->even_only = true;
		fill(r);
	}
	for (long t = 0; t < o.threads; t++) {
		pthread_t th;

		if (pthread_create(&th, NULL, thread_main, (void *)t))
			die("pthread_create");
	}
	make_zombies();
	if (o.churn_threads)
		start_churn();
}

static int serve(void)
{
	sigset_t set;
	unsigned long step = 0;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	sigaddset(&set, SIGWINCH);
	sigaddset(&set, SIGURG);
	sigaddset(&set, SIGTERM);
	for (;;) {
		struct timespec zero = { 0, 0 };
		int sig;

		if (o.mutate) {
			mutate_step(step++);
			sig = sigtimedwait(&set, NULL, &zero);
			if (sig < 0)
				continue;
		} else {
			sig = sigwaitinfo(&set, NULL);
			if (sig < 0)
				continue;
		}
		switch (sig) {
		case SIGUSR1: verify(); break;
		case SIGWINCH: verify_forked(); break;
		case SIGUSR2: dirty(); break;
		case SIGURG: reshape(); break;
		case SIGTERM: return 0;
		}
	}
}

int main(int argc, char **argv)
{
	sigset_t set;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		unsigned long v = i + 1 < argc ? strtoul(argv[i + 1], NULL, 0) : 0;

		if (!strcmp(a, "--mutate")) { o.mutate = true; continue; }
		if (!strcmp(a, "--nothp")) { o.nothp = true; continue; }
		if (!strcmp(a, "--procpid")) { procpid = true; continue; }
		if (i + 1 >= argc) {
			fprintf(stderr, "victim: %s needs a value\n", a);
			return 2;
		}
		i++;
		if (!strcmp(a, "--anon")) o.anon = v;
		else if (!strcmp(a, "--file")) o.file = v;
		else if (!strcmp(a, "--shared")) o.shared = v;
		else if (!strcmp(a, "--protnone")) o.protnone = v;
		else if (!strcmp(a, "--thp")) o.thp_mib = v;
		else if (!strcmp(a, "--sparse")) o.sparse_mib = v;
		else if (!strcmp(a, "--fragmented")) o.fragmented_mib = v;
		else if (!strcmp(a, "--reserve")) o.reserve_mib = v;
		else if (!strcmp(a, "--threads")) o.threads = v;
		else if (!strcmp(a, "--children")) o.children = v;
		else if (!strcmp(a, "--seed")) o.seed = v;
		else if (!strcmp(a, "--zombies")) o.zombies = v;
		else if (!strcmp(a, "--churn-threads")) o.churn_threads = v;
		else if (!strcmp(a, "--split-shared")) o.split_shared = v;
		else if (!strcmp(a, "--hugetlb")) o.hugetlb = v;
		else {
			fprintf(stderr, "victim: unknown option %s\n", a);
			return 2;
		}
	}
	/* signals are taken with sigwaitinfo by the main thread only */
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	sigaddset(&set, SIGWINCH);
	sigaddset(&set, SIGURG);
	sigaddset(&set, SIGTERM);
	sigprocmask(SIG_BLOCK, &set, NULL);

	if (o.split_shared)
		setup_split_shared(o.seed);
	for (int c = 0; c < o.children; c++) {
		pid_t pid = fork();

		if (pid < 0)
			die("fork");
		if (pid == 0) {
			setup(o.seed + 1000 * (c + 1));
			report("%d ready\n", self_pid());
			_exit(serve());
		}
	}
	setup(o.seed);
	report("%d ready\n", self_pid());
	return serve();
}
