/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The entry-point independent part of splice_process_vm.
 *
 * An entry point (the misc device here, the syscall in the kernel patch)
 * proves that the caller may read the target and turns the target into an
 * mm_struct and the pipe fd into a pipe_inode_info, in whatever way is
 * available to it; everything after that is shared and lives behind these
 * four functions.
 */
#ifndef SPVM_CORE_H
#define SPVM_CORE_H

#include <linux/types.h>
#include <linux/splice_process_vm.h>

struct mm_struct;
struct pipe_inode_info;

/* Every flag the core knows; an entry point may offer fewer. */
#define SPVM_FLAGS_ALL		(SPVM_NONBLOCK | SPVM_FORCE)

int spvm_args_from_user(struct spvm_args *args, const void __user *uargs);
int spvm_features_to_user(void __user *ufeat, u64 flags, u32 targets);
struct spvm_iovec *spvm_iov_from_user(const struct spvm_args *args,
				      bool *empty);
ssize_t spvm_splice(struct mm_struct *mm, struct pipe_inode_info *pipe,
		    const struct spvm_iovec *iov, unsigned int nr_segs,
		    u64 flags);

#endif /* SPVM_CORE_H */
