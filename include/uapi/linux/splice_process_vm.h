/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * splice_process_vm: attach pages of another process to a pipe, by reference
 * or (SPVM_STABLE) as a copy.
 *
 * One request structure serves two entry points that share one kernel core:
 *
 *   ioctl(dev_fd, SPVM_IOC_SPLICE, &args)   the splice_process_vm module,
 *                                           dev_fd an fd of /dev/splice_process_vm
 *   syscall(__NR_splice_process_vm, &args)  a kernel carrying the syscall
 *
 * What a reader of the pipe sees if the target writes to a page after the
 * call returned: without SPVM_STABLE the buffer holds a reference to the
 * target's page, so the new bytes may show, and the reference lives until
 * the buffer is read or the pipe closed; with SPVM_STABLE the buffer holds
 * a copy made during the call (one page copy per page), so never, and no
 * reference to the target's pages outlives the call.
 *
 * Both return the number of bytes attached to the pipe, or -1 with errno:
 *   E2BIG, EINVAL  the request (size, flags, vector; on a 32-bit kernel a
 *                  range beyond 4 GiB)
 *   EBADF          target_fd or pipe_fd is not what it must be
 *   EFAULT         the request or vector is not readable; the first page
 *                  cannot be attached (hole, zero page, no PROT_READ...)
 *   EAGAIN, EPIPE  the pipe is full and the call may not wait; no reader
 *   EINTR          a signal while waiting for room (restarted with
 *                  SA_RESTART) or, with the module on 6.2 and later, while
 *                  a page lookup waited.  A fatal signal ends the call
 *                  wherever it waits; no caller sees that error.
 *   ESRCH, EPERM   the target is gone; the caller may not read it (checked
 *                  after the wait for room)
 *   ENOMEM         no memory for the vector or a page
 *   EREMOTEIO      the first page is PCI P2PDMA memory (6.2 and later)
 *   ENOTTY, ENOSYS an unknown ioctl; no such syscall
 * Documentation/userspace-api/splice_process_vm.rst has the full contract.
 */
#ifndef _UAPI_LINUX_SPLICE_PROCESS_VM_H
#define _UAPI_LINUX_SPLICE_PROCESS_VM_H

#include <linux/types.h>
#include <linux/ioctl.h>

/* Name of the misc device, i.e. /dev/splice_process_vm. */
#define SPVM_DEVICE_NAME	"splice_process_vm"

/*
 * ABI revision reported by SPVM_IOC_FEATURES; bumped when semantics grow.
 * 2: SPVM_STABLE.
 */
#define SPVM_VERSION		2

/* Request flags (struct spvm_args.flags).  Unknown bits fail with EINVAL. */
/* Do not wait for room in the pipe: fail with EAGAIN when it is full. */
#define SPVM_NONBLOCK		(1ULL << 0)
/*
 * Read mappings without PROT_READ (but with VM_MAYREAD) the way /proc/PID/mem
 * and ptrace(PTRACE_PEEKDATA) do.  Without it such pages fail with EFAULT,
 * as with process_vm_readv().
 */
#define SPVM_FORCE		(1ULL << 1)
/*
 * Copy each page into a page of the pipe's own, during the call, instead
 * of attaching a reference to the target's page: the bytes in the pipe
 * never change after the call returns, and the call holds the target's
 * pages only while it copies them.  Same permission, wait, error and
 * partial-count rules as without it; ENOMEM when the first copy cannot be
 * allocated.  Offered where struct spvm_features.flags lists it; elsewhere
 * it fails with EINVAL like any unknown flag.
 */
#define SPVM_STABLE		(1ULL << 2)

/* What struct spvm_args.target_fd may refer to (struct spvm_features.targets). */
/* A file of /proc/PID/mem opened for reading: the device. */
#define SPVM_TARGET_PROC_MEM	(1U << 0)
/* A pidfd (pidfd_open(), CLONE_PIDFD): the syscall. */
#define SPVM_TARGET_PIDFD	(1U << 1)

/**
 * struct spvm_iovec - one range of the target's address space
 * @base: start address in the target; need not be page aligned
 * @len:  length in bytes; @base + @len must not wrap around (EINVAL), nor,
 *        on a 32-bit kernel, go beyond 4 GiB
 *
 * On 64-bit architectures this has the layout of struct iovec, so an array
 * of struct iovec can be passed as is there.  32-bit callers use this type.
 */
struct spvm_iovec {
	__u64 base;
	__u64 len;
};

/**
 * struct spvm_args - a request to attach target pages to a pipe
 * @size:      sizeof(struct spvm_args) as known to the caller.  At least
 *             %SPVM_ARGS_SIZE_VER0; a larger struct is accepted if the bytes
 *             the kernel does not know are zero (else E2BIG), up to 4096.
 * @flags:     %SPVM_NONBLOCK, %SPVM_FORCE, %SPVM_STABLE; any other bit fails
 *             with EINVAL.
 * @target_fd: the process to read, given as an fd that proves the caller
 *             may read its memory.  For the device ioctl: an fd of
 *             /proc/PID/mem (or /proc/PID/task/TID/mem) open for reading,
 *             whose open() already made the PTRACE_MODE_ATTACH check.  For
 *             the syscall: a pidfd, checked at call time like
 *             process_vm_readv().  See struct spvm_features.targets.
 * @pipe_fd:   the write end of a pipe (or a FIFO opened for writing) to
 *             attach the pages to.  Notification pipes are refused.
 * @iov:       user pointer to an array of @iovcnt struct spvm_iovec in the
 *             caller's memory, describing ranges in the target's memory.
 * @iovcnt:    number of elements in @iov, at most 1024 (UIO_MAXIOV).
 * @__reserved: must be zero.
 *
 * Integers are fixed-width and the layout has no implicit padding, so 32-bit
 * and 64-bit callers share it.  New fields are appended; zero in a new field
 * keeps the old behaviour.
 */
struct spvm_args {
	__u64 size;
	__u64 flags;
	__u32 target_fd;
	__u32 pipe_fd;
	__u64 iov;
	__u32 iovcnt;
	__u32 __reserved;
};

#define SPVM_ARGS_SIZE_VER0	40	/* sizeof first published struct */

/**
 * struct spvm_features - what an implementation supports; no side effects
 * @size:       in: sizeof(struct spvm_features) as known to the caller, at
 *              least %SPVM_FEATURES_SIZE_VER0.  out: the number of bytes
 *              the kernel filled in; fields past it are left untouched.
 * @version:    out: %SPVM_VERSION of the implementation.
 * @flags:      out: the request flags (SPVM_NONBLOCK, ...) it accepts;
 *              SPVM_STABLE among them from version 2 on.
 * @args_size:  out: the largest struct spvm_args size it understands.
 * @max_iovcnt: out: the largest struct spvm_args.iovcnt it accepts.
 * @targets:    out: SPVM_TARGET_* bits: what target_fd may be here.
 */
struct spvm_features {
	__u64 size;
	__u64 version;
	__u64 flags;
	__u64 args_size;
	__u32 max_iovcnt;
	__u32 targets;
};

#define SPVM_FEATURES_SIZE_VER0	40

/*
 * ioctls of /dev/splice_process_vm.
 *
 * The command numbers never change.  They encode the size of the first
 * published struct (%SPVM_ARGS_SIZE_VER0, %SPVM_FEATURES_SIZE_VER0), not
 * sizeof() of the struct in this header: the size that counts is the one in
 * the struct's own first field.  So a caller built against a later header,
 * whose struct has grown, sends the number a caller of the first header
 * sends, and every module dispatches it: an older module accepts the larger
 * struct if the fields it does not know are zero (else E2BIG), a newer one
 * reads a smaller struct as if the fields it lacks were zero.  Numbers made
 * of sizeof(struct) would change with each growth, and older modules would
 * answer the new number with ENOTTY.  The values are those the first header
 * produced (0xc028b900 and 0x4028b901), so nothing built against it changes.
 * 0xB9 is not registered in ioctl-number.rst; the device is an out-of-tree
 * stop-gap until the syscall exists.
 */
#define SPVM_IOC_MAGIC		0xB9
#define SPVM_IOC_FEATURES	_IOWR(SPVM_IOC_MAGIC, 0x00, __u8[SPVM_FEATURES_SIZE_VER0])
#define SPVM_IOC_SPLICE		_IOW(SPVM_IOC_MAGIC, 0x01, __u8[SPVM_ARGS_SIZE_VER0])

#endif /* _UAPI_LINUX_SPLICE_PROCESS_VM_H */
