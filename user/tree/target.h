/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A process whose pages a source moves, pinned while the tree is frozen.
 *
 * A pre-dump resumes the tree before it copies: a process may exit then
 * and its pid be reused by a stranger.  A pid names whoever has it now; a
 * pidfd and an open /proc/PID/mem name the process they were opened on.
 * Sources use these handles, and where an API takes only a pid
 * (process_vm_readv, compel), they check the pidfd after the call: a
 * process that is still there (alive, or a zombie nobody reaped) never gave
 * its pid away, so what the call read was its own.
 */
#ifndef MEMSPLICE_TARGET_H
#define MEMSPLICE_TARGET_H

#include <stdbool.h>
#include <sys/types.h>

struct target {
	pid_t pid;	/* the thread to read the memory through */
	int pidfd;	/* pidfd_open() of its thread group, -1 if none */
	int mem_fd;	/* its /proc/PID/mem, -1 if none */
	int pagemap_fd;	/* its /proc/PID/pagemap, -1 if none */
};

/*
 * target_open - open the handles of process @tgid, read through its thread
 * @pid (the leader, unless it exited).  Call while the process is frozen.
 * 0 or -errno (-ESRCH: gone).
 */
int target_open(struct target *t, pid_t tgid, pid_t pid);
/* target_dup - *@to: the same process, its own fds.  0 or -errno. */
int target_dup(const struct target *from, struct target *to);
void target_close(struct target *t);
/*
 * target_gone - whether the process exited and was reaped (its pid may be
 * another's now), or its memory is not the one frozen any more (it exited,
 * or exec'd: the pid then reads another program's memory)
 */
bool target_gone(const struct target *t);

#endif
