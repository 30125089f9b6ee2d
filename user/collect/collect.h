/* SPDX-License-Identifier: GPL-2.0 */
/* What to dump: the runs of pages of each process and shared segment. */
#ifndef MEMSPLICE_COLLECT_H
#define MEMSPLICE_COLLECT_H

#include "sink/sink.h"
#include "tree/target.h"

/* a pagemap run waiting to be moved */
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
	bool opened, attached;	/* xfer.c's: open at the sink, source attached */
};

/* runs found before they are moved (not ctx->hold_runs): 96 KiB */
#define COLLECT_BATCH	4096

struct dump_ctx;
struct parent;

/*
 * collect_tree - while frozen: each process's VMAs and mm; with
 * ctx->hold_runs its runs too; soft-dirty cleared where the pages are moved
 * after the resume.  0 or -errno (printed).
 */
int collect_tree(struct dump_ctx *ctx, const struct parent *parent);
/*
 * collect_pages - the pages: held runs are moved (xfer_jobs); otherwise
 * each process's pages are found and moved a batch at a time, after the
 * resume or (a dump, a source that moves frozen) still frozen, and then
 * its soft-dirty bits cleared if asked.  0 or -errno (printed).
 */
int collect_pages(struct dump_ctx *ctx, const struct parent *parent);
void collect_free(struct dump_ctx *ctx);

#endif
