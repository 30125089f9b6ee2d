/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The module's core: the request's checks, the wait and the fill.  The
 * device (spvm_dev.c) turns the pipe fd into a pipe_inode_info and gives
 * the core a way to reach the target (struct spvm_target) that proves,
 * when the core asks, that the caller may read it.
 */
#ifndef SPVM_CORE_H
#define SPVM_CORE_H

#include <linux/types.h>
#include <linux/splice_process_vm.h>

#include "spvm_ioctl.h"

struct mm_struct;
struct pipe_inode_info;

/* Every flag the core knows; an entry point may offer fewer. */
#define SPVM_FLAGS_ALL		(SPVM_NONBLOCK | SPVM_FORCE | SPVM_STABLE)

/**
 * struct spvm_target_ops - how an entry point reaches the target's memory
 * @get_mm: resolve the target and check, with the caller's credentials of
 *          this moment, that the caller may read it.  spvm_splice() calls
 *          it after every wait for room in the pipe and before looking up
 *          any page, never under the pipe lock, with the request's flags.
 *          Returns the target's address space with mm_users held (the core
 *          drops it with mmput()), or an ERR_PTR: -ESRCH when there is no
 *          address space any more, -EPERM when the caller may not read it.
 */
struct spvm_target_ops {
	struct mm_struct *(*get_mm)(void *priv, u64 flags);
};

/**
 * struct spvm_target - the process a request reads
 * @ops:  how to reach it
 * @priv: the entry point's handle on it, passed to @ops
 */
struct spvm_target {
	const struct spvm_target_ops *ops;
	void *priv;
};

int spvm_args_from_user(struct spvm_args *args, const void __user *uargs);
int spvm_features_to_user(void __user *ufeat, u64 flags, u32 targets);
struct spvm_iovec *spvm_iov_from_user(const struct spvm_args *args,
				      bool *empty);
ssize_t spvm_splice(const struct spvm_target *target,
		    struct pipe_inode_info *pipe,
		    const struct spvm_iovec *iov, unsigned int nr_segs,
		    u64 flags);

#endif /* SPVM_CORE_H */
