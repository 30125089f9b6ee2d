/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The victim of the spvm_*_test.c that use lib/spvm_entry.h: a child that
 * maps SV_PAGES pages of one kind of memory, fills them with SV_SEED,
 * reports their address and then does what the test asks, one byte per
 * command (victim_do()), answering one byte:
 *
 *   'w'  write SV_SEED2 over the pages; 'y' if they read it back, else 'n'
 *   '1'  the same with SV_SEED
 *   'u'  fork a child that exits at once and reap it, so that the pages
 *        are no longer exclusive to the victim (its next write to a page
 *        reuses the page only if nobody else holds a reference to it: see
 *        spvm_review_test.c), then drain this CPU's LRU batches; 'y'
 *
 * The victim runs on CPU 0 only, so that the LRU batches holding its pages
 * are the ones 'u' drains (a caller that counts references runs there too).
 */
#ifndef MEMSPLICE_SPVM_VICTIM_H
#define MEMSPLICE_SPVM_VICTIM_H

#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "lib/pattern.h"
#include "lib/spvm_entry.h"
#include "lib/spvm_proc.h"
#include "lib/thp.h"

#define SV_PAGES	4
#define SV_HUGE		(2UL << 20)
#define SV_SEED		0x5eed
#define SV_SEED2	0xd1e7

#ifndef __NR_memfd_secret
#define __NR_memfd_secret 447
#endif

enum vkind {
	V_ANON,			/* private anonymous, MADV_NOHUGEPAGE */
	V_SHARED_ANON,
	V_FILE_PRIVATE,		/* a tmpfs file */
	V_FILE_SHARED,
	V_THP,			/* a whole transparent huge page */
	V_HUGETLB,		/* 2 huge pages, MAP_HUGETLB: the first one faulted in */
	V_SECRET,		/* memfd_secret() */
};

/* SV_PAGES pages of @kind filled with SV_SEED, or NULL */
static char *victim_map(enum vkind kind)
{
	size_t len = SV_PAGES * VPAGE;
	char *p, *tmp;
	int fd;

	switch (kind) {
	case V_ANON:
	case V_SHARED_ANON:
		p = mmap(NULL, len, PROT_READ | PROT_WRITE,
			 (kind == V_ANON ? MAP_PRIVATE : MAP_SHARED) | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			return NULL;
		madvise(p, len, MADV_NOHUGEPAGE);
		break;
	case V_THP:
		/* a whole huge page, faulted in at once, of which SV_PAGES are read */
		tmp = mmap(NULL, 2 * SV_HUGE, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (tmp == MAP_FAILED)
			return NULL;
		p = (char *)(((unsigned long)tmp + SV_HUGE - 1) & ~(SV_HUGE - 1));
		if (madvise(p, SV_HUGE, MADV_HUGEPAGE))
			return NULL;
		fill(p, SV_HUGE / VPAGE, SV_SEED);
		return p;
	case V_HUGETLB:
		/* the second huge page stays a hole */
		p = mmap(NULL, 2 * SV_HUGE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
		if (p == MAP_FAILED)
			return NULL;
		break;
	case V_SECRET:
		fd = syscall(__NR_memfd_secret, O_CLOEXEC);
		if (fd < 0 || ftruncate(fd, len))
			return NULL;
		p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		close(fd);
		if (p == MAP_FAILED)
			return NULL;
		break;
	case V_FILE_PRIVATE:
	case V_FILE_SHARED:
		/* tmpfs in the guests; the private mapping's pages are COW copies */
		fd = open("/tmp", O_TMPFILE | O_RDWR, 0600);
		if (fd < 0 || ftruncate(fd, len))
			return NULL;
		p = mmap(NULL, len, PROT_READ | PROT_WRITE,
			 kind == V_FILE_SHARED ? MAP_SHARED : MAP_PRIVATE, fd, 0);
		close(fd);
		if (p == MAP_FAILED)
			return NULL;
		break;
	default:
		return NULL;
	}
	fill(p, SV_PAGES, SV_SEED);
	return p;
}

/* 'u': the pages lose their exclusive mark; the LRU batches let go of them */
static bool victim_unshare(char *idle)
{
	pid_t pid = fork();

	if (pid < 0)
		return false;
	if (pid == 0)
		_exit(0);
	if (waitpid(pid, NULL, 0) != pid)
		return false;
	/* MADV_COLD drains this CPU's LRU batches first; @idle has no page */
	return madvise(idle, VPAGE, MADV_COLD) == 0;
}

static void __attribute__((noreturn)) victim_main(int cmd, int ack, enum vkind kind)
{
	cpu_set_t cpu0;
	char c, *p, *idle;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	CPU_ZERO(&cpu0);
	CPU_SET(0, &cpu0);
	if (sched_setaffinity(0, sizeof(cpu0), &cpu0))
		_exit(90);
	idle = mmap(NULL, VPAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	p = victim_map(kind);
	if (!p || idle == MAP_FAILED)
		_exit(91);
	if (write(ack, &p, sizeof(p)) != sizeof(p))
		_exit(92);
	while (read(cmd, &c, 1) == 1) {
		if (c == 'u') {
			c = victim_unshare(idle) ? 'y' : 'n';
		} else {
			uint64_t seed = c == '1' ? SV_SEED : SV_SEED2;

			fill(p, SV_PAGES, seed);
			c = filled(p, (unsigned long)p, SV_PAGES, seed) ? 'y' : 'n';
		}
		if (write(ack, &c, 1) != 1)
			_exit(93);
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

/* the victim's answer to 'w': 'y' when its own memory reads SV_SEED2 */
static char victim_write(struct victim *v)
{
	return victim_do(v, 'w');
}

/* does /proc/PID/mem read @seed over the victim's pages? */
static bool mem_filled(const struct victim *v, uint64_t seed)
{
	static char buf[SV_PAGES * VPAGE];
	char path[64];
	bool ok;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/mem", v->pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	ok = pread(fd, buf, sizeof(buf), v->addr) == sizeof(buf) &&
	     filled(buf, v->addr, SV_PAGES, seed);
	close(fd);
	return ok;
}

/* Is the victim's range backed by a huge page?  (AnonHugePages of its VMA) */
static inline bool victim_thp(const struct victim *v)
{
	char path[64], line[256];
	unsigned long start, end;
	bool in = false, huge = false;
	long kb;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/smaps", v->pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &start, &end) == 2)
			in = start <= v->addr && v->addr < end;
		else if (in && sscanf(line, "AnonHugePages: %ld kB", &kb) == 1)
			huge = kb >= 2048;
	}
	fclose(f);
	return huge;
}

static long spvm_flags(const struct spvm_entry *e, int target, int pipe_fd,
		       unsigned long addr, size_t len, __u64 flags)
{
	struct spvm_iovec iov = { .base = addr, .len = len };
	struct spvm_args a = {
		.size = sizeof(a),
		.flags = flags,
		.target_fd = target,
		.pipe_fd = pipe_fd,
		.iov = (uintptr_t)&iov,
		.iovcnt = 1,
	};

	return e->call(&a);
}

#endif /* MEMSPLICE_SPVM_VICTIM_H */
