/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * The splice_process_vm module's own interface: /dev/splice_process_vm,
 * its ioctls and its features query.  None of this is part of the syscall
 * series (kernel/patches/), whose uapi header <linux/splice_process_vm.h>
 * has only what the syscall needs; the module takes the same struct
 * spvm_args, with target_fd a /proc/PID/mem fd instead of a pidfd.
 *
 *   ioctl(dev_fd, SPVM_IOC_SPLICE, &args)    bytes put into the pipe
 *   ioctl(dev_fd, SPVM_IOC_FEATURES, &feat)  what this module offers
 *
 * Errors are the syscall's (Documentation/userspace-api/splice_process_vm.rst),
 * plus EPERM for a flag the module knows but does not offer here
 * (SPVM_FORCE where /proc/PID/mem does not force) and ENOTTY for an
 * unknown ioctl.
 */
#ifndef _UAPI_SPVM_IOCTL_H
#define _UAPI_SPVM_IOCTL_H

#include <linux/ioctl.h>
#include <linux/types.h>
#include <linux/splice_process_vm.h>

/* Name of the misc device, i.e. /dev/splice_process_vm. */
#define SPVM_DEVICE_NAME	"splice_process_vm"

/*
 * Revision reported by SPVM_IOC_FEATURES.
 * 2: SPVM_STABLE (a copy on request; references otherwise).
 * 3: copies always: no reference to a target's page outlives the call.
 *    SPVM_STABLE is accepted and changes nothing.  No SPVM_PIN: the pipe
 *    buffers of pinned pages would need pipe_buf_operations of the
 *    module's own, which pipes could outlive.
 */
#define SPVM_VERSION		3

/* The v2 flag for a copy; the 6.1 backport's syscall (v2) still needs it. */
#define SPVM_STABLE		0x4ULL

/* What struct spvm_args.target_fd may be (struct spvm_features.targets). */
#define SPVM_TARGET_PROC_MEM	0x1U	/* /proc/PID/mem open for reading */
#define SPVM_TARGET_PIDFD	0x2U	/* a pidfd: set by no module; kept reserved */

/**
 * struct spvm_features - what the module supports; no side effects
 * @size:       in: sizeof(struct spvm_features) as known to the caller, at
 *              least %SPVM_FEATURES_SIZE_VER0.  out: the bytes filled in.
 * @version:    out: %SPVM_VERSION.
 * @flags:      out: the request flags accepted.
 * @args_size:  out: the largest struct spvm_args size understood.
 * @max_iovcnt: out: the largest struct spvm_args.iovcnt accepted.
 * @targets:    out: SPVM_TARGET_* bits.
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
 * The command numbers encode the size of the first published structs, not
 * sizeof(): the size that counts is each struct's own first field, so a
 * caller built against a later header sends the number every module
 * dispatches (0xc028b900 and 0x4028b901, as since the first version).
 */
#define SPVM_IOC_MAGIC		0xB9
#define SPVM_IOC_FEATURES	_IOWR(SPVM_IOC_MAGIC, 0x00, __u8[SPVM_FEATURES_SIZE_VER0])
#define SPVM_IOC_SPLICE		_IOW(SPVM_IOC_MAGIC, 0x01, __u8[SPVM_ARGS_SIZE_VER0])

#endif /* _UAPI_SPVM_IOCTL_H */
