/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * splice_process_vm(2): put pages of another process into a pipe.
 *
 *	long splice_process_vm(const struct spvm_args *args);
 *
 * Returns the number of bytes put into the pipe, or -1 with errno.
 * Documentation/userspace-api/splice_process_vm.rst has the contract.
 */
#ifndef _UAPI_LINUX_SPLICE_PROCESS_VM_H
#define _UAPI_LINUX_SPLICE_PROCESS_VM_H

#include <linux/types.h>

/* Request flags (struct spvm_args.flags).  Unknown bits fail with EINVAL. */

/* Do not wait for room in the pipe: fail with EAGAIN when it is full. */
#define SPVM_NONBLOCK		0x1ULL
/*
 * Read mappings without PROT_READ (but with VM_MAYREAD) where
 * /proc/PID/mem may (proc_mem.force_override).
 */
#define SPVM_FORCE		0x2ULL
/* 0x4 is never used: it meant something else in earlier versions. */
/*
 * Do not copy: pin the target's pages (FOLL_PIN | FOLL_LONGTERM) and put
 * the pinned pages into the pipe.  Pins are charged to the caller's
 * RLIMIT_MEMLOCK until the pipe releases them.  The pipe shows the page
 * as it is when read, not as it was during the call.
 */
#define SPVM_PIN		0x8ULL

/**
 * struct spvm_iovec - one range of the target's address space
 * @base: start address in the target; need not be page aligned
 * @len:  length in bytes; @base + @len must not wrap around
 *
 * On 64-bit architectures this has the layout of struct iovec.
 */
struct spvm_iovec {
	__u64 base;
	__u64 len;
};

/**
 * struct spvm_args - a request
 * @size:       sizeof(struct spvm_args) as known to the caller: at least
 *              %SPVM_ARGS_SIZE_VER0, at most PAGE_SIZE; bytes the kernel
 *              does not know must be zero (else E2BIG).
 * @flags:      SPVM_* flags.
 * @target_fd:  a pidfd of the process to read.
 * @pipe_fd:    the write end of a pipe.
 * @iov:        pointer to @iovcnt struct spvm_iovec in the caller's memory,
 *              ranges of the target's address space.
 * @iovcnt:     number of ranges, at most UIO_MAXIOV.
 * @__reserved: must be zero.
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

#endif /* _UAPI_LINUX_SPLICE_PROCESS_VM_H */
