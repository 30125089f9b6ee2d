/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Filling a restored tree's missing memory through its userfaultfds:
 * a fault is answered at once (UFFDIO_COPY of the faulting page and what
 * follows it in its run, or a zero page where the image has none), the
 * rest goes in by batches; fork, mremap, munmap and MADV_DONTNEED change
 * what each process still misses (restore/runs.h).  Bytes come straight
 * from the pages image, mapped read-only, or from the source
 * (restore/remote.h) for pages the images leave there.
 */
#ifndef MEMSPLICE_RESTORE_FILL_H
#define MEMSPLICE_RESTORE_FILL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "restore/mark.h"
#include "restore/runs.h"

struct fill_proc {
	pid_t vpid;			/* as criu names it; a child forked since has its parent's */
	int uffd;
	struct runs missing;		/* in the pages image */
	struct runs remote;		/* at the source */
	const char *pages;		/* the pages image, mapped */
	uint64_t *pending;		/* faults held up by events not read yet */
	size_t nr_pending;
	struct fill_proc *next;
};

struct fill_stats {
	uint64_t faults;		/* answered */
	uint64_t fault_pages;		/* copied for them */
	uint64_t zero_pages;		/* faults where the image has no page */
	uint64_t batch_pages;		/* copied by batches */
	uint64_t remote_pages;		/* of those, fetched from the source */
	uint64_t gone_pages;		/* unmapped, remapped over, DONTNEED'd, exited */
};

struct fill {
	int dirfd;
	struct fill_proc *procs;
	struct { unsigned long id; void *addr; size_t len; } *maps;
	size_t nr_maps;
	uint64_t batch;			/* bytes a batch copies */
	struct remote *remote;		/* the source, if the images leave pages there */
	char *buf;			/* what the source sent */
	struct fill_stats st;
};

struct remote;

/* fill_init - @remote may be NULL; 0 or -ENOMEM */
int fill_init(struct fill *f, int dirfd, uint64_t batch, struct remote *remote);
/* fill_add - serve @uffd of @vpid, the pages of @m (its runs move to the fill) */
int fill_add(struct fill *f, pid_t vpid, int uffd, struct mark *m);
/*
 * fill_events - read and handle what @p's userfaultfd has: faults,
 * forks (*@forked gets the new process, which the caller must watch),
 * mappings changed.  0 or -errno.
 */
int fill_events(struct fill *f, struct fill_proc *p, struct fill_proc **forked);
/*
 * fill_retry - answer again the faults that met changing mappings;
 * fill_pending - whether there are such (then call it again soon)
 */
int fill_retry(struct fill *f);
bool fill_pending(const struct fill *f);
/* fill_batch - one batch into the first process that misses pages; 1 when none does */
int fill_batch(struct fill *f);
uint64_t fill_missing(const struct fill *f);
void fill_free(struct fill *f);

#endif
