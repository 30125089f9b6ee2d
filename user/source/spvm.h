/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The splice_process_vm source.  The module's device and the syscall are
 * one source with two entries into the kernel: they differ only in how a
 * request reaches it (an ioctl on the device, the syscall) and which handle
 * of the target it takes (the /proc/PID/mem fd, the pidfd).  Everything
 * else is here: one pipe that holds one fill at a time, and the fill.
 *
 *   fill(addr, len)   target pages  --spvm_args-->  pipe: |pg|pg|pg|
 *                                                        | read end
 *   sink->put_pages   splice(pipe -> pages-N.img)  <-----'
 *
 * The pipe is empty when fill() starts (the sink drains it before the next
 * fill), and len never exceeds its capacity, so one request attaches the
 * whole range or stops at the first page that cannot be had.
 *
 * What the pipe holds depends on the kernel and the pass:
 * - the syscall, version 3 (kernel/patches/): copies by default; with
 *   SPVM_PIN the target's pages, pinned and charged to RLIMIT_MEMLOCK
 *   until the sink took them.  A dump, which keeps the tree frozen until
 *   the sink took the pages, pins them (no copy); a pre-dump, which moves
 *   pages after the resume, copies them.  Where pinning is refused
 *   (ENOMEM: over RLIMIT_MEMLOCK), the source copies instead.
 * - the module, version 3 (kernel/spvm_ioctl.h): copies, always.
 * - version 2 (the 6.1 backport's syscall, older modules): references to
 *   the target's pages by default, copies with SPVM_STABLE, which a
 *   pre-dump asks for.  Version 1 has no SPVM_STABLE: pre-dump pages are
 *   references that later writes may change (the next pass re-dumps them).
 */
#ifndef MEMSPLICE_SOURCE_SPVM_H
#define MEMSPLICE_SOURCE_SPVM_H

#include <stdbool.h>
#include <sys/types.h>

#include <linux/splice_process_vm.h>

#include "spvm_ioctl.h"		/* SPVM_STABLE, for version 2 kernels */

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

/* what spvm_mode() will ask of a kernel offering these: for probe() */
const char *spvm_mode_said(bool pin, bool stable);

/* the page_source_ops hooks both entries share; create with the entry's own */
int spvm_create(struct page_source *src, const struct source_opts *opts,
		const struct spvm_entry *entry);
void spvm_destroy(struct page_source *src);
int spvm_attach(struct page_source *src, const struct target *t);
int spvm_detach(struct page_source *src);
ssize_t spvm_fill(struct page_source *src, const struct src_range *r, struct page_data *data);

#endif
