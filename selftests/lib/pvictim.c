// SPDX-License-Identifier: GPL-2.0
/*
 * The victim of selftests/parasite_test.c (see pvictim.h): everything it
 * changes in itself before the dump, and checks after.
 */
#include <dirent.h>
#include <errno.h>
#include <linux/futex.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "pvictim.h"

#ifndef __NR_mseal
#define __NR_mseal	462
#endif

const int pvictim_prot[PV_NR_REGIONS] = {
	[PV_RW] = PROT_READ | PROT_WRITE,
	[PV_NONE] = PROT_NONE,
	[PV_WO] = PROT_WRITE,
	[PV_XO] = PROT_EXEC,
	[PV_SEALED] = PROT_NONE,
};

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

bool pvictim_check_pattern(const void *buf, unsigned long addr, size_t len, pid_t pid)
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
	return acc == 0x10001 * (i * (i - 1) / 2) && f == (double)i ? 0 : PV_FAIL_SPIN;
}

static int block_in_read(int fd)
{
	char c;

	/* no EINTR allowed: the parasite must leave the syscall restartable */
	return read(fd, &c, 1) == 1 && c == 'g' ? 0 : PV_FAIL_READ;
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
			return PV_FAIL_TIMED;
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

int pvictim_main(const struct pvictim_cfg *cfg, int ready_fd, int go_fd, volatile int *go)
{
	struct vthread th[PV_MAX_THREADS];
	volatile int started = 0;
	struct pvictim_layout lay = {};
	pid_t pid = getpid();
	sigset_t mask, cur, pend;
	struct sigaction sa = { .sa_handler = usr1_handler }, old;
	int nfds, nth = cfg->spinners + cfg->blockers, ret = 0;
	void *p;

	lay.len[PV_RW] = cfg->rw_len;
	lay.len[PV_NONE] = 48 * PV_PAGE;
	lay.len[PV_WO] = 4 * PV_PAGE;
	lay.len[PV_XO] = 4 * PV_PAGE;
	lay.len[PV_SEALED] = 4 * PV_PAGE;
	for (int r = 0; r < PV_NR_REGIONS; r++) {
		p = map_region(lay.len[r], pvictim_prot[r], pid);
		if (!p)
			_exit(PV_FAIL_SETUP);
		lay.addr[r] = (unsigned long)p;
	}
	if (syscall(__NR_mseal, lay.addr[PV_SEALED], lay.len[PV_SEALED], 0)) {
		munmap((void *)lay.addr[PV_SEALED], lay.len[PV_SEALED]);
		lay.addr[PV_SEALED] = 0;
	}
	/* a hole with readable pages on both sides */
	p = map_region(48 * PV_PAGE, PROT_READ, pid);
	if (!p || munmap((char *)p + 16 * PV_PAGE, 16 * PV_PAGE))
		_exit(PV_FAIL_SETUP);
	lay.hole = (unsigned long)p + 16 * PV_PAGE;

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
		_exit(PV_FAIL_SETUP);
	for (int i = 0; i < nth; i++) {
		th[i] = (struct vthread){ .spin = i < cfg->spinners, .go_fd = go_fd, .go = go,
					  .started = &started };
		if (pthread_create(&th[i].th, NULL, vthread_main, &th[i]))
			_exit(PV_FAIL_SETUP);
	}
	while (__atomic_load_n(&started, __ATOMIC_SEQ_CST) < nth)
		sched_yield();
	nfds = count_fds();

	if (write(ready_fd, &lay, sizeof(lay)) != sizeof(lay))
		_exit(PV_FAIL_SETUP);
	close(ready_fd);

	switch (cfg->kind) {
	case PV_SPIN:
		ret |= spin_until(go);
		break;
	case PV_TIMED:
		ret |= timed_wait(go);
		break;
	case PV_STOPPED:
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
		ret |= PV_FAIL_FDS;
	sigprocmask(SIG_SETMASK, NULL, &cur);
	if (!sigismember(&cur, SIGUSR1) || !sigismember(&cur, SIGUSR2) || sigismember(&cur, SIGPIPE))
		ret |= PV_FAIL_SIGNALS;
	sigpending(&pend);
	if (!sigismember(&pend, SIGUSR1) || !sigismember(&pend, SIGUSR2) || sigismember(&pend, SIGPIPE))
		ret |= PV_FAIL_PENDING;
	sigaction(SIGUSR1, NULL, &old);
	if (old.sa_handler != usr1_handler)
		ret |= PV_FAIL_SIGNALS;
	for (int r = 0; r < PV_NR_REGIONS; r++) {
		if (!lay.addr[r] || r == PV_SEALED)
			continue;
		if (pvictim_prot[r] != (PROT_READ | PROT_WRITE) &&
		    mprotect((void *)lay.addr[r], lay.len[r], PROT_READ)) {
			ret |= PV_FAIL_PATTERN;
			continue;
		}
		if (!pvictim_check_pattern((void *)lay.addr[r], lay.addr[r], lay.len[r], pid))
			ret |= PV_FAIL_PATTERN;
	}
	return ret;
}
