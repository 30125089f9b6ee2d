/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What ctl.c (in memsplice) and parasite.c (the blob it injects
 * into the target with compel) say to each other.  Both are built from the
 * same tree at the same time, so nothing here is versioned.
 *
 * Transport: compel's RPC socket carries the command number and compel's
 * shared args area (a memfd mapped in both processes) carries struct
 * ms_parasite_args.  A command always acks with 0 and reports its own result
 * in @ret: compel's daemon refuses every command but FINI after one that
 * returned non-zero, and memsplice must keep the parasite usable after an
 * ordinary failure such as -EFAULT.
 */
#ifndef MEMSPLICE_PARASITE_ABI_H
#define MEMSPLICE_PARASITE_ABI_H

#include <linux/types.h>
#include <compel/infect-rpc.h>

enum ms_parasite_cmd {
	/*
	 * Receive the pipe: memsplice sends its write end, then its read end,
	 * with compel_util_send_fd() after the command and before the sync.
	 * Any pipe received earlier is closed.  The parasite only vmsplices
	 * into the write end; it holds the read end so that the pipe keeps a
	 * reader whatever memsplice does with its own, because vmsplice into a
	 * pipe without readers would queue a SIGPIPE on the target.
	 * @ret: 0 or -errno.
	 */
	MS_PARASITE_SET_PIPE = PARASITE_USER_CMDS,
	/*
	 * vmsplice [@addr, @addr + @len) of the target into the pipe, without
	 * blocking.  If @prot lacks PROT_READ the range is first mprotect()ed
	 * to @prot | PROT_READ and afterwards back to exactly @prot.
	 * @ret: bytes now in the pipe (> 0, short at the first page that could
	 * not be spliced or when the pipe filled up), or -errno when nothing
	 * was spliced.  -ENOTRECOVERABLE: the protection could not be put back
	 * (the range keeps @prot | PROT_READ); @prot_err holds mprotect's error.
	 */
	MS_PARASITE_SPLICE,
	/*
	 * userfaultfd(@flags) in the target: the new fd stays open in the
	 * target's table until MS_PARASITE_CLOSE, for memsplice to take a copy
	 * with pidfd_getfd().  The syscall is judged on the target's
	 * credentials.  @ret: the fd number in the target, or -errno.
	 */
	MS_PARASITE_USERFAULTFD,
	/* close(@fd) in the target.  @ret: 0 or -errno. */
	MS_PARASITE_CLOSE,
	/*
	 * vmsplice the @nr_iov ranges of @iov (readable, page-aligned, in
	 * order, together no more than the pipe has room for) into the pipe,
	 * without blocking, in one call.  @ret: bytes now in the pipe (> 0,
	 * the ranges in order, short at the first page that could not be
	 * spliced), or -errno when nothing was spliced.
	 */
	MS_PARASITE_SPLICE_VEC,
};

/* ranges per MS_PARASITE_SPLICE_VEC: the args area is one page */
#define MS_PARASITE_MAX_IOV	192

/**
 * struct ms_parasite_args - the args area of the parasite
 * @addr:     MS_PARASITE_SPLICE: page-aligned start in the target
 * @len:      MS_PARASITE_SPLICE: bytes, a page multiple, at most the pipe size
 * @ret:      result of the last command, written by the parasite
 * @prot:     MS_PARASITE_SPLICE: PROT_* of the VMA holding the range
 * @prot_err: MS_PARASITE_SPLICE: -errno of a failed mprotect() back to @prot
 * @flags:    MS_PARASITE_USERFAULTFD: its flags
 * @fd:       MS_PARASITE_CLOSE: the fd to close
 * @nr_iov:   MS_PARASITE_SPLICE_VEC: ranges in @iov
 * @iov:      MS_PARASITE_SPLICE_VEC: the ranges (struct iovec's layout)
 */
struct ms_parasite_args {
	__u64 addr;
	__u64 len;
	__s64 ret;
	__s32 prot;
	__s32 prot_err;
	__s32 flags;
	__s32 fd;
	__u32 nr_iov;
	__u32 pad;
	struct {
		__u64 base;
		__u64 len;
	} iov[MS_PARASITE_MAX_IOV];
};

#endif
