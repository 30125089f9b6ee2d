/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Page sources: how pages leave the target.
 *
 * A source moves a page-aligned range of one process's memory either into a
 * buffer of the dumper (copying sources: process_vm_readv) or into a pipe
 * (zero-copy sources: splice_process_vm syscall or device, parasite
 * vmsplice).  It hands what it moved to the sink as a struct page_data, and
 * never needs to know which sink it feeds.
 *
 *   target VMA     [....|pg|pg|pg|....]
 *                        |  |  |   fill(addr, len)
 *                        v  v  v
 *   page_data      buf: [pg pg pg]      or   pipe: |ref|ref|ref|
 *                        |                          |  splice
 *                        v                          v
 *   sink           pages-N.img  [.. pg pg pg ..]  + pagemap entry (vaddr, 3)
 */
#ifndef MEMSPLICE_SOURCE_H
#define MEMSPLICE_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct page_sink;
struct target;

/**
 * struct src_range - one request to a source
 * @addr:  page-aligned start in the target
 * @len:   bytes wanted (page multiple, at most the source's buffer_size)
 * @prot:  PROT_* of the VMA holding the range (a parasite restores it exactly)
 * @force: the VMA has no PROT_READ: read it the way /proc/PID/mem does
 */
struct src_range {
	unsigned long addr;
	size_t len;
	int prot;
	bool force;
};

/**
 * struct page_data - pages a source has moved, waiting for the sink
 * @buf:     the bytes, in the dumper's memory, or NULL
 * @pipe_fd: read end of a pipe holding the bytes when @buf is NULL
 * @len:     number of bytes (a multiple of the page size)
 */
struct page_data {
	const void *buf;
	int pipe_fd;
	size_t len;
};

/**
 * struct source_opts - what the dump asks of a source
 * @buffer_size: bytes moved per fill() at most
 * @stable:      the tree runs while pages wait for the sink (a pre-dump
 *               after the resume): a source that would hand the target's
 *               own pages (pinned, or references on version 2 kernels)
 *               hands copies instead where it can, so that the pages are
 *               a snapshot of fill() as read's are.  Where it cannot, the
 *               pages stay the target's, and later writes may change them
 *               (the next pass re-dumps such pages).
 */
struct source_opts {
	size_t buffer_size;
	bool stable;
};

struct page_source {
	const struct page_source_ops *ops;
	void *priv;
	size_t buffer_size;
	const struct target *target;	/* attached, NULL when none */
};

struct page_source_ops {
	const char *name;
	/*
	 * A source that must move every page before the tree is resumed: the
	 * parasite, which runs inside the frozen target.  The dump loop then
	 * transfers before resuming, and a pre-dump reports that its frozen
	 * time includes the transfer.  Pages are found once the source is
	 * attached: the parasite's remote syscalls COW one page of the first
	 * executable mapping (same bytes, now anonymous), and that page is
	 * dumped.  The others move pages after the resume in a pre-dump: the
	 * copying sources' pages (read; splice_process_vm's copies, see
	 * source/spvm.h) are snapshots of the moment fill() ran; the
	 * references of a version 1 kernel may show a write made before the
	 * sink took them, which the next pass re-dumps.
	 */
	bool xfer_while_frozen;
	/*
	 * value of inventory.pre_dump_mode written for a pre-dump, in CRIU's
	 * terms: 1 (splice) the images cover mappings without PROT_READ too,
	 * 2 (read) they may not (CRIU's read mode skips them, and a CRIU pass
	 * on top then takes nothing of such mappings from the parent).  It
	 * says what the parent holds, not whether pages were copied.
	 */
	unsigned int pre_dump_mode;
	/*
	 * probe - can this source work on this kernel for this user?
	 * Returns 0, or -errno with a one-line reason in @why; on success
	 * @why may hold a note on how it works here (memsplice check prints
	 * both).  Must have no
	 * side effect on any process and must not call a syscall that could
	 * mean something else on an unpatched kernel.
	 */
	int (*probe)(char *why, size_t len);
	/*
	 * create/destroy - per-dump state (buffers, pipes, device fd).  create
	 * prints the one line that says why it failed.
	 */
	int (*create)(struct page_source *src, const struct source_opts *opts);
	void (*destroy)(struct page_source *src);
	/*
	 * attach - start moving pages of process @t (its handles were opened
	 * while frozen: tree/target.h; it outlives the attachment).  Called
	 * while the whole tree is frozen (the parasite infects here).  For a
	 * source with xfer_while_frozen == false the tree may be resumed
	 * before fill() is called: fill() must then read through @t's handles,
	 * or check target_gone() after a call that takes a pid, and report a
	 * process that is gone as -ESRCH, never a stranger's pages.  @t may be
	 * memsplice itself: shared segments are read from its own mapping.
	 * Returns 0, or -errno after printing why (one line).
	 */
	int (*attach)(struct page_source *src, const struct target *t);
	/* detach - stop with the current process (cures a parasite). */
	int (*detach)(struct page_source *src);
	/*
	 * fill - move up to @r->len bytes starting at page-aligned @r->addr.
	 * Returns the number of bytes moved (> 0, page multiple, possibly
	 * short: the range stops at the first page that could not be moved),
	 * or -errno when nothing was moved: -EFAULT for an unmapped or
	 * unreadable first page, -ESRCH when the process is gone.
	 * On success @data describes the bytes; they must be consumed by the
	 * sink before the next fill().
	 */
	ssize_t (*fill)(struct page_source *src, const struct src_range *r,
			struct page_data *data);
	/*
	 * fill_vec - fill() for up to @nr ranges (at most SRC_MAX_VEC, each
	 * readable, together at most buffer_size bytes) in one step: for a
	 * source whose every step costs a round trip (the parasite), so that
	 * memory with one run per page is not moved a page per trip.  Returns
	 * the bytes moved (> 0: the ranges in order, the last one reached
	 * possibly short), or -errno when nothing was moved; xfer.c moves what
	 * it did not get with fill().  NULL: fill() only.
	 */
	ssize_t (*fill_vec)(struct page_source *src, const struct src_range *r, unsigned int nr,
			    struct page_data *data);
};

#define SRC_MAX_VEC	192

extern const struct page_source_ops source_syscall_ops;
extern const struct page_source_ops source_read_ops;
extern const struct page_source_ops source_device_ops;
extern const struct page_source_ops source_procmem_ops;
extern const struct page_source_ops source_parasite_ops;

#endif
