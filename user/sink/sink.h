/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Page sinks: where pages go (image files, or a CRIU page server).
 *
 * The dump loop describes each process's memory to the sink as a sequence of
 * pagemap runs in address order: present runs come with their bytes, parent
 * runs (pages unchanged since the previous pre-dump) come without.  The sink
 * decides how that is stored or sent.  open, put_pages and put_hole print
 * why they failed (one line) before returning -errno.
 */
#ifndef MEMSPLICE_SINK_H
#define MEMSPLICE_SINK_H

#include <stddef.h>
#include <sys/types.h>

struct page_data;

/* pagemap_entry flags, as CRIU writes them */
#define PE_PARENT	(1u << 0)
#define PE_LAZY		(1u << 1)
#define PE_PRESENT	(1u << 2)

enum pagemap_kind {
	PAGEMAP_TASK,		/* private memory of one process, id = pid */
	PAGEMAP_SHMEM,		/* shared anonymous segment, id = shmid */
};

struct page_sink {
	const struct page_sink_ops *ops;
	void *priv;
};

struct page_sink_ops {
	const char *name;
	/* open - start the pagemap of one process or shared segment. */
	int (*open)(struct page_sink *sink, enum pagemap_kind kind, unsigned long id);
	/*
	 * put_pages - a present run of data->len bytes at @vaddr.  The sink
	 * consumes all of @data (drains the pipe) before returning 0, or
	 * returns -errno.  Runs arrive in increasing address order.
	 */
	int (*put_pages)(struct page_sink *sink, unsigned long vaddr,
			 const struct page_data *data);
	/* put_hole - @nr_pages at @vaddr live in the parent dump (flags PE_PARENT). */
	int (*put_hole)(struct page_sink *sink, unsigned long vaddr,
			unsigned long nr_pages, unsigned int flags);
	/* close - finish the current pagemap; returns -errno without printing. */
	int (*close)(struct page_sink *sink);
	/*
	 * finish - every pagemap of the pass is out: make the pass complete
	 * where the pages went (a page server: PS_IOV_CLOSE and its answer),
	 * before inventory.img says it is.  NULL when the image set's own
	 * commit is all it takes.  Prints why it failed.
	 */
	int (*finish)(struct page_sink *sink);
};

#endif
