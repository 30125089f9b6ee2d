/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The victim of selftests/parasite_test.c: a forked child that fills regions
 * with a pattern derived from its pid, installs a handler, blocks and queues
 * signals, reports its layout over a pipe and then, as configured, blocks in
 * read(), spins, does both from several threads, sleeps in a timed futex
 * wait, is job-control stopped, or runs under a seccomp filter that kills it
 * on vmsplice and memfd_create.  When let go it checks itself (pattern, mask,
 * handler, pending signals, a restarted read(), register-carried loop
 * counters, fds) and exits 0 only if all is intact.
 */
#ifndef MEMSPLICE_PVICTIM_H
#define MEMSPLICE_PVICTIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define PV_PAGE		4096UL
#define PV_MAX_THREADS	8	/* extra threads: spinners + blockers */

enum pvictim_region { PV_RW, PV_NONE, PV_WO, PV_XO, PV_SEALED, PV_NR_REGIONS };

/* the protection of each region; PV_SEALED is also mseal()ed */
extern const int pvictim_prot[PV_NR_REGIONS];

/**
 * struct pvictim_layout - what the victim writes to its ready pipe
 * @addr: start of each region; 0: absent (PV_SEALED, where mseal is missing)
 * @len:  bytes of each region: PV_RW as configured, PV_NONE 48 pages, the
 *        others 4 pages
 * @hole: 16 unmapped pages, with 16 readable pages on either side
 */
struct pvictim_layout {
	unsigned long addr[PV_NR_REGIONS];
	size_t len[PV_NR_REGIONS];
	unsigned long hole;
};

enum pvictim_kind { PV_BLOCKED, PV_SPIN, PV_TIMED, PV_STOPPED };

/**
 * struct pvictim_cfg - what the victim does while it is dumped
 * @kind:        what the leader does: blocks in read(), spins, sleeps in a
 *               timed futex wait, or stops itself and then blocks in read()
 * @spinners:    extra threads that spin
 * @blockers:    extra threads that block in read(); at most PV_MAX_THREADS
 *               extra threads in all
 * @xfail_eintr: no thread can run the parasite unnoticed
 * @seccomp:     run under a filter that kills on vmsplice and memfd_create
 * @rw_len:      bytes of PV_RW, a page multiple
 */
struct pvictim_cfg {
	enum pvictim_kind kind;
	int spinners, blockers;
	bool xfail_eintr;
	bool seccomp;
	size_t rw_len;
};

/* the victim's exit status bits */
#define PV_FAIL_PATTERN	0x01	/* memory */
#define PV_FAIL_SIGNALS	0x02	/* mask or handler */
#define PV_FAIL_PENDING	0x04	/* pending signals lost, or SIGPIPE added */
#define PV_FAIL_READ	0x08	/* blocked read() not restarted */
#define PV_FAIL_SPIN	0x10	/* register-carried loop state */
#define PV_FAIL_FDS	0x20
#define PV_FAIL_SETUP	0x40
#define PV_FAIL_TIMED	0x80	/* futex with timeout returned EINTR */

/*
 * pvictim_check_pattern - are the @len bytes at @buf what victim @pid wrote
 * at @addr?
 */
bool pvictim_check_pattern(const void *buf, unsigned long addr, size_t len, pid_t pid);

/*
 * pvictim_main - the victim, run in a child just forked.  Writes its struct
 * pvictim_layout to @ready_fd once every thread is started, closes it, and
 * does what @cfg says: threads in read() until each reads a 'g' from @go_fd,
 * spinners and timed waits until *@go (shared memory) becomes non-zero.
 * Returns the PV_FAIL_* bits of its self-check, 0 if all is intact; exits
 * with PV_FAIL_SETUP itself when it cannot set up.
 */
int pvictim_main(const struct pvictim_cfg *cfg, int ready_fd, int go_fd, volatile int *go);

#endif
