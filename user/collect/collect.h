/* SPDX-License-Identifier: GPL-2.0 */
/* What to dump: the runs of pages of each process and shared segment. */
#ifndef MEMSPLICE_COLLECT_H
#define MEMSPLICE_COLLECT_H

#include "sink/sink.h"
#include "tree/target.h"

/* a pagemap run waiting to be transferred */
struct run {
	unsigned long addr;	/* in the target */
	unsigned long nr_pages;
	unsigned int flags;	/* PE_PRESENT or PE_PARENT */
	int prot;
};

/* one pagemap to write: a process's private memory or a shared segment */
struct pm_job {
	enum pagemap_kind kind;
	unsigned long id;	/* pid or shmid */
	const struct target *target;	/* process to read from */
	unsigned long delta;	/* image vaddr = addr - delta */
	void *map;		/* a shared segment mapped by memsplice, or NULL */
	size_t map_len;
	struct run *runs;
	unsigned int nr_runs, cap_runs;
};

struct dump_ctx;
struct parent;

/* while frozen, note what to dump (and clear soft-dirty) */
int collect_tree(struct dump_ctx *ctx, const struct parent *parent);
/* with ctx->pages_after_thaw, after the resume: which pages */
int collect_pages(struct dump_ctx *ctx, const struct parent *parent);
void collect_free(struct dump_ctx *ctx);

#endif
