/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The dumper's side of selftests/parasite_test.c: freezing a process the
 * way user/tree/pstree.c does, and snapshots of everything the test can see of
 * it from outside (maps, status, fds, and per thread the registers, FPU/AVX
 * state, debug registers, signal mask and kind of ptrace stop), to compare
 * before an attach with after a detach.
 */
#ifndef MEMSPLICE_PSNAP_H
#define MEMSPLICE_PSNAP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/user.h>

#define PSNAP_MAX_THREADS	9
#define PSNAP_XSTATE_MAX	16384

struct psnap_thread {
	pid_t tid;
	struct user_regs_struct regs;
	struct user_fpregs_struct fpregs;
	unsigned char xstate[PSNAP_XSTATE_MAX];
	size_t xstate_len;
	uint64_t sigmask;
	unsigned long dr[8];
	int stop_signo, stop_event;
	char *status;
};

struct psnap {
	char *maps, *status, *fds;
	int nr;
	struct psnap_thread t[PSNAP_MAX_THREADS];
};

/* psnap_slurp - a whole file, path made from @fmt; malloc'ed, NULL if unopenable */
char *psnap_slurp(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* psnap_threads - up to @max thread ids of @pid into @tids; their number, or -1 */
int psnap_threads(pid_t pid, pid_t *tids, int max);

/*
 * psnap_freeze - what pstree.c does: seize and interrupt each thread of @pid
 * (up to @max, ids into @tids) and wait for its PTRACE_EVENT_STOP.  Returns
 * the number of threads, or -1 (errno set when a ptrace call failed).
 */
int psnap_freeze(pid_t pid, pid_t *tids, int max);
/* psnap_thaw - detach from the @n threads psnap_freeze() stopped */
void psnap_thaw(const pid_t *tids, int n);

/*
 * psnap_take - snapshot of @pid and its @n frozen threads @tids into @s.
 * Returns 0 or -1; psnap_free() @s in either case.
 */
int psnap_take(pid_t pid, const pid_t *tids, int n, struct psnap *s);
void psnap_free(struct psnap *s);

/*
 * psnap_compare - the number of differences between @a and @b, snapshots of
 * the same threads.  Each difference is described in one call of @report
 * (a differing file in one message of several lines); a differing xstate
 * adds one call per differing byte.
 */
typedef void psnap_report_fn(void *arg, const char *msg);
int psnap_compare(const struct psnap *a, const struct psnap *b, psnap_report_fn *report,
		  void *arg);

#endif
