/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Running memsplice's parasite (parasite.c, in this folder) in a frozen
 * process with libcompel, and taking it out again without a trace the
 * process could notice.  The page source built on it is source.c;
 * what the two sides say to each other is parasite-abi.h.
 *
 *   pctl_create()                       once per dump
 *     pctl_infect(pid, pipe)            per process, frozen by pstree.c
 *       pctl_splice(addr, len, prot)    pages into the pipe, as often as needed
 *       pctl_splice_vec(iov, nr)        many ranges in one call
 *       pctl_userfaultfd(), pctl_close()  a userfaultfd made in the process
 *     pctl_cure()                       the process as pctl_infect() found it
 *   pctl_destroy()
 *
 * Every call that talks to compel holds the dumper's signals until it is
 * over (compel's RPC and cure loop on recv() and wait4()).  Not thread-safe;
 * one process infected at a time.
 */
#ifndef MEMSPLICE_PARASITE_CTL_H
#define MEMSPLICE_PARASITE_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct pctl;

/*
 * pctl_create - the controller: compel's log hooked to ours, the parasite's
 * log on our stderr.  Returns 0 and the controller in @out, or -ENOMEM or
 * another -errno.
 */
int pctl_create(struct pctl **out);
/* pctl_destroy - cure the process if one is still infected, and free @pc */
void pctl_destroy(struct pctl *pc);

/*
 * pctl_infect - infect @pid, whose threads are all seized and in a
 * PTRACE_EVENT_STOP (pstree.c), in one of its threads, and hand the parasite
 * both ends of @pipe_fds (read end first, as pipe(2) gives them) to splice into,
 * if not NULL.
 * Returns 0, -EBUSY when a process is infected already, or -errno with the
 * process cured (-ESRCH: it died, or no thread of it is in a stop of ours;
 * -EPERM: not allowed to suspend its seccomp filter).
 */
int pctl_infect(struct pctl *pc, pid_t pid, const int pipe_fds[2]);

/*
 * pctl_cure - remove the parasite and give the thread back exactly as
 * pctl_infect() found it: general, FPU and xstate registers, signal mask,
 * seccomp, ptrace stop.  Never stops half-way by choice.  Returns 0 (also
 * when nothing is infected), -ESRCH when the process died while infected,
 * -ENOTRECOVERABLE when parasite code may be left in it, or another -errno
 * when the thread could not be restored; loud about it, once.
 */
int pctl_cure(struct pctl *pc);

/* pctl_infected - is a process infected (pctl_cure() still to be called)? */
bool pctl_infected(const struct pctl *pc);

/*
 * pctl_usable - can pctl_splice() be called?  0, -ESRCH when nothing is
 * infected, -EIO when an earlier call broke the parasite: only pctl_cure()
 * is left then.
 */
int pctl_usable(const struct pctl *pc);

/*
 * pctl_splice - have the parasite vmsplice [@addr, @addr + @len) of the
 * infected process into the pipe, made readable for the time if @prot (the
 * VMA's protection, restored exactly) lacks PROT_READ.  @addr page-aligned,
 * @len a page multiple no larger than what the pipe has room for.
 * Returns the bytes now in the pipe (> 0, short at the first page that could
 * not be spliced), or -errno: the parasite's when nothing could be spliced
 * (-EFAULT when it had none to give, -EPERM for a sealed range), what
 * pctl_usable() says, -ESRCH when the process died, -EIO when the parasite
 * does not answer, -ENOTRECOVERABLE when a protection could not be put back.
 * After the last three only pctl_cure() is left.
 */
ssize_t pctl_splice(struct pctl *pc, unsigned long addr, size_t len, int prot);

/*
 * pctl_splice_vec - have the parasite vmsplice @nr ranges (at most
 * PCTL_MAX_IOV; readable, page-aligned, together no more than the pipe has
 * room for) in one call.  Returns the bytes now in the pipe (> 0, the
 * ranges in order, short at the first page that could not be spliced), or
 * -errno as pctl_splice().
 */
#define PCTL_MAX_IOV	192	/* MS_PARASITE_MAX_IOV */
struct iovec;
ssize_t pctl_splice_vec(struct pctl *pc, const struct iovec *iov, unsigned int nr);

/*
 * pctl_userfaultfd - userfaultfd(@flags) run by the parasite: the fd is
 * open in the infected process until pctl_close().  Returns its number
 * there, the syscall's -errno (judged on the process's credentials), or
 * what pctl_usable() says.
 */
int pctl_userfaultfd(struct pctl *pc, int flags);
/* pctl_close - close(@fd) in the infected process.  0 or -errno. */
int pctl_close(struct pctl *pc, int fd);

#endif
