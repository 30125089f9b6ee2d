/* SPDX-License-Identifier: GPL-2.0 */
/* Moving runs of pages from the page source to the page sink. */
#ifndef MEMSPLICE_XFER_H
#define MEMSPLICE_XFER_H

struct dump_ctx;
struct pm_job;

/*
 * One job's pagemap: xfer_open() starts it at the sink and attaches the
 * source to its process, xfer_runs() moves the runs the job holds (and
 * empties it), as often as runs are added, xfer_close() ends it whatever
 * happened and returns @ret or the first error of its own.  Each prints
 * what failed, once.  In a pre-dump, -ESRCH is a process that exited: not
 * printed, the caller decides.
 */
int xfer_open(struct dump_ctx *ctx, struct pm_job *job);
int xfer_runs(struct dump_ctx *ctx, struct pm_job *job);
int xfer_close(struct dump_ctx *ctx, struct pm_job *job, int ret);

/* xfer_jobs - the jobs held in ctx->jobs (ctx->hold_runs); 0 or -errno (printed) */
int xfer_jobs(struct dump_ctx *ctx);

#endif
