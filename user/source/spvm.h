/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The splice_process_vm source.  The module's device and the syscall are
 * one source with two entries into the kernel: they differ only in how a
 * request reaches it (an ioctl on the device, the syscall) and which handle
 * of the target it takes (the /proc/PID/mem fd, the pidfd).  Everything
 * else is here: one pipe that holds one fill at a time, and the fill.
 *
 *   fill(addr, len)   target pages  --spvm_args-->  pipe: |ref|ref|ref|
 *                                                        | read end
 *   sink->put_pages   splice(pipe -> pages-N.img)  <-----'
 *
 * The pipe is empty when fill() starts (the sink drains it before the next
 * fill), and len never exceeds its capacity, so one request attaches the
 * whole range or stops at the first page that cannot be had.
 *
 * What the pipe holds: references to the target's pages (the reference
 * mode), or, when source_opts.stable asks for a snapshot and the kernel
 * offers SPVM_STABLE, copies made by the call.  A dump keeps the tree
 * frozen until the sink took the pages, so references are a snapshot
 * there and cost no copy; a pre-dump moves pages after the resume.
 */
#ifndef MEMSPLICE_SOURCE_SPVM_H
#define MEMSPLICE_SOURCE_SPVM_H

#include <stdbool.h>
#include <sys/types.h>

#include <linux/splice_process_vm.h>

#include "source/source.h"

struct target;

/* One way into the kernel: the device (device.c) or the syscall (syscall.c). */
struct spvm_entry {
	/* open - get what call() needs (the device's fd, the syscall's number); prints why not */
	int (*open)(long *handle);
	void (*close)(long handle);
	/* call - one request: bytes attached, or -errno */
	long (*call)(long handle, struct spvm_args *args);
	/* target_fd - the handle of @t this entry names the target with */
	int (*target_fd)(const struct target *t);
	/* offers - does the kernel behind @handle accept request flag @flag? */
	bool (*offers)(long handle, __u64 flag);
};

/* the page_source_ops hooks both entries share; create with the entry's own */
int spvm_create(struct page_source *src, const struct source_opts *opts,
		const struct spvm_entry *entry);
void spvm_destroy(struct page_source *src);
int spvm_attach(struct page_source *src, const struct target *t);
int spvm_detach(struct page_source *src);
ssize_t spvm_fill(struct page_source *src, const struct src_range *r, struct page_data *data);

#endif
