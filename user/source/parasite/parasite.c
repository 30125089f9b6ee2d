// SPDX-License-Identifier: GPL-2.0
/*
 * The parasite: code memsplice injects (with compel) into a frozen process so
 * that the process vmsplices its own memory into a pipe memsplice drains.
 *
 * It runs as compel's daemon in one thread of the target, with every signal
 * but SIGTRAP blocked, while all other threads stay in their ptrace stops.
 * Nothing it does outlives the infection: the protections it lifts are put
 * back before the command returns, and the pipe fds it holds are closed by
 * parasite_cleanup() before compel restores the thread and unmaps the blob.
 *
 * Freestanding: only compel's std plugin (sys_*() return -errno) and the fds
 * plugin; libc headers for constants only.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/uio.h>

#include <compel/plugins/std.h>

#include "parasite-abi.h"

#ifndef SPLICE_F_NONBLOCK
#define SPLICE_F_NONBLOCK 0x02
#endif

/* <compel/plugins/plugin-fds.h> reuses std.h's include guard: declare it here */
extern int fds_recv_fd(void);

/* the std plugin has no pr_err */
#define pr_err(fmt, ...) \
	print_on_level(COMPEL_LOG_ERROR, "memsplice parasite: " fmt, ##__VA_ARGS__)

static int pipe_wr = -1;	/* vmsplice() goes here */
static int pipe_rd = -1;	/* never read: keeps the pipe readable, see SET_PIPE */

static void close_pipe(void)
{
	if (pipe_wr >= 0)
		sys_close(pipe_wr);
	if (pipe_rd >= 0)
		sys_close(pipe_rd);
	pipe_wr = pipe_rd = -1;
}

static long cmd_set_pipe(void)
{
	int wr, rd;

	/* always take both fds off the socket, or the next command reads garbage */
	wr = fds_recv_fd();
	rd = fds_recv_fd();
	if (wr < 0 || rd < 0) {
		if (wr >= 0)
			sys_close(wr);
		if (rd >= 0)
			sys_close(rd);
		pr_err("did not receive the pipe (%d, %d)\n", wr, rd);
		return -EBADMSG;
	}
	close_pipe();
	pipe_wr = wr;
	pipe_rd = rd;
	return 0;
}

/*
 * One iovec per call: vmsplice() stops at the first page it cannot pin or
 * when the pipe is full, and returns what it took so far.  SPLICE_F_NONBLOCK
 * because memsplice sizes requests to the pipe: if the pipe is not empty
 * anyway, a short count is better than a target that blocks forever in here.
 */
static long splice_range(unsigned long addr, unsigned long len)
{
	unsigned long done = 0;

	while (done < len) {
		struct iovec iov = {
			.iov_base = (void *)(addr + done),
			.iov_len = len - done,
		};
		long n = sys_vmsplice(pipe_wr, &iov, 1, SPLICE_F_NONBLOCK);

		if (n <= 0) {
			if (done)
				break;
			return n ? n : -EFAULT;
		}
		done += n;
	}
	return done;
}

/*
 * GUP refuses VMAs without VM_READ, so such a range is made readable for the
 * time of the vmsplice.  The pages then sit in the pipe as references; the
 * protection is not needed to drain them.  Putting @prot back re-merges the
 * VMA that the first mprotect() split.
 */
static long cmd_splice(struct ms_parasite_args *a)
{
	void *addr = (void *)(unsigned long)a->addr;
	unsigned long len = a->len;
	int prot = a->prot;
	long n, err;

	a->prot_err = 0;
	if (pipe_wr < 0)
		return -EBADF;
	if (prot & PROT_READ)
		return splice_range(a->addr, len);

	err = sys_mprotect(addr, len, prot | PROT_READ);
	if (err)
		return err;
	n = splice_range(a->addr, len);
	err = sys_mprotect(addr, len, prot);
	if (err) {
		pr_err("cannot restore protection 0x%x of %p+0x%lx: %ld\n", prot, addr, len, err);
		a->prot_err = err;
		return -ENOTRECOVERABLE;
	}
	return n;
}

/* one vmsplice() for many ranges: what pctl_splice_vec() asks */
static long cmd_splice_vec(struct ms_parasite_args *a)
{
	long n;

	if (pipe_wr < 0)
		return -EBADF;
	if (!a->nr_iov || a->nr_iov > MS_PARASITE_MAX_IOV)
		return -EINVAL;
	n = sys_vmsplice(pipe_wr, (const struct iovec *)a->iov, a->nr_iov, SPLICE_F_NONBLOCK);
	return n ? n : -EFAULT;
}

/* a userfaultfd of the target's own, for memsplice to copy (pidfd_getfd) */
static long cmd_userfaultfd(struct ms_parasite_args *a)
{
	return sys_userfaultfd(a->flags);
}

int parasite_daemon_cmd(int cmd, void *args)
{
	struct ms_parasite_args *a = args;

	switch (cmd) {
	case MS_PARASITE_SET_PIPE:
		a->ret = cmd_set_pipe();
		break;
	case MS_PARASITE_SPLICE:
		a->ret = cmd_splice(a);
		break;
	case MS_PARASITE_USERFAULTFD:
		a->ret = cmd_userfaultfd(a);
		break;
	case MS_PARASITE_CLOSE:
		a->ret = sys_close(a->fd);
		break;
	case MS_PARASITE_SPLICE_VEC:
		a->ret = cmd_splice_vec(a);
		break;
	default:
		pr_err("unknown command %d\n", cmd);
		a->ret = -EINVAL;
		break;
	}
	/* the result travels in a->ret: non-zero here would disable the daemon */
	return 0;
}

/* Trap-mode commands (compel_run_in_thread()) are not used by memsplice. */
int parasite_trap_cmd(int cmd, void *args)
{
	(void)cmd;
	(void)args;
	return -EINVAL;
}

/* Called by the std plugin on PARASITE_CMD_FINI, before the sigreturn. */
void parasite_cleanup(void)
{
	close_pipe();
}
