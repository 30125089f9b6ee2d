/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the two splice_process_vm backends (the device and the syscall) share:
 * one pipe that holds one fill at a time, and the fill itself.  They differ
 * only in how a request reaches the kernel and what target_fd is.
 *
 *   fill(addr, len)   target pages  --spvm_args-->  pipe: |ref|ref|ref|
 *                                                        | read end
 *   sink->put_pages   splice(pipe -> pages-N.img)  <-----'
 *
 * The pipe is empty when fill() starts (the sink drains it before the next
 * fill), and len never exceeds its capacity, so one request attaches the
 * whole range or stops at the first page that cannot be had.
 */
#ifndef MEMSPLICE_SPVM_PIPE_H
#define MEMSPLICE_SPVM_PIPE_H

#include <stddef.h>
#include <sys/types.h>

#include <linux/splice_process_vm.h>

#include "source.h"

struct spvm_pipe {
	int rd, wr;
	size_t size;		/* capacity in bytes: the largest fill */
};

/* One request to the kernel: bytes attached, or -errno. */
typedef long (*spvm_call_fn)(void *ctx, struct spvm_args *args);

/*
 * spvm_pipe_create - a pipe of min(@want, /proc/sys/fs/pipe-max-size) bytes,
 * or smaller when the user's pipe quota says so (->size tells).  0 or -errno.
 */
int spvm_pipe_create(struct spvm_pipe *p, size_t want);
void spvm_pipe_destroy(struct spvm_pipe *p);

/*
 * spvm_pipe_fill - attach @r of the process behind @target_fd to the pipe
 * through @call, and describe the result in @data (the pipe's read end).
 * Returns bytes attached (a page multiple, possibly short), -EFAULT when the
 * first page cannot be had, -ESRCH when the process is gone, other -errno.
 */
ssize_t spvm_pipe_fill(struct spvm_pipe *p, spvm_call_fn call, void *ctx,
		       int target_fd, const struct src_range *r,
		       struct page_data *data);

extern const struct page_source_ops source_device_ops;

#endif
