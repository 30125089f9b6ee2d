// SPDX-License-Identifier: GPL-2.0
/*
 * Move runs of pages from the source to the sink, one fixed-size chunk at a
 * time: a held job's all at once, or (collect.c) each batch of runs as it
 * is found.  A source whose steps are round trips (fill_vec) takes many
 * small runs per step.  In a pre-dump the tree may be running: a run that shrank
 * (munmap, MADV_DONTNEED) is trimmed to what was really moved, unreadable
 * pages are dropped and a process that exited is fine.  In a dump the tree is
 * frozen and any page that cannot be moved is an error: nothing is lost
 * silently.
 */
#define LOG_PREFIX "xfer: "
#include <sys/mman.h>

#include "dump.h"
#include "log.h"
#include "util.h"
#include "xfer.h"

/* Returns 0, -ESRCH when the process is gone (pre-dump, not printed), or -errno. */
static int xfer_run(struct dump_ctx *ctx, const struct pm_job *job, const struct run *run)
{
	struct page_source *src = &ctx->src;
	struct page_sink *sink = &ctx->sink;
	unsigned long addr = run->addr, end = run->addr + run->nr_pages * PAGE_SIZE;
	bool pre_dump = ctx->opts->pre_dump;

	while (addr < end) {
		struct src_range r = {
			.addr = addr,
			.len = MIN(end - addr, src->buffer_size),
			.prot = run->prot,
			.force = !(run->prot & PROT_READ),
		};
		struct page_data data;
		uint64_t t0, t1;
		ssize_t n;
		int ret;

		if (*ctx->interrupted)
			return -EINTR;
		t0 = now_us();
		n = src->ops->fill(src, &r, &data);
		t1 = now_us();
		ctx->stats.memdump_time += t1 - t0;
		if (n > 0) {
			ret = sink->ops->put_pages(sink, addr - job->delta, &data);
			ctx->stats.memwrite_time += now_us() - t1;
			if (ret)
				return ret;
			ctx->stats.pages_written += n / PAGE_SIZE;
			addr += n;
			continue;
		}
		if (n == -ESRCH && pre_dump) {
			ctx->stats.pages_dropped += (end - addr) / PAGE_SIZE;
			return -ESRCH;
		}
		if (n == -EFAULT && pre_dump) {
			/* unmapped or changed since we looked: not in this image */
			pr_debug("%d: page %#lx vanished", job->target->pid, addr);
			ctx->stats.pages_dropped++;
			addr += PAGE_SIZE;
			continue;
		}
		pr_errno((int)n, "cannot read %lu pages at %#lx of process %d with %s",
			 (end - addr) / PAGE_SIZE, addr, job->target->pid, src->ops->name);
		return n;
	}
	return 0;
}

/*
 * How many runs from @first can go in one fill_vec(): readable, written
 * (not PE_PARENT), together within the source's buffer.  0 or 1: fill().
 */
static unsigned int vec_group(const struct page_source *src, const struct pm_job *job,
			      unsigned int first)
{
	size_t len = 0;
	unsigned int n = 0;

	if (!src->ops->fill_vec)
		return 0;
	for (unsigned int i = first; i < job->nr_runs && n < SRC_MAX_VEC; i++, n++) {
		const struct run *run = &job->runs[i];

		len += run->nr_pages * PAGE_SIZE;
		if ((run->flags & PE_PARENT) || !(run->prot & PROT_READ) || len > src->buffer_size)
			break;
	}
	return n;
}

/*
 * @n runs from @first in one fill_vec(), each handed to the sink as its
 * own run; whatever it did not move (a short or failed step) goes through
 * xfer_run(), which knows what a pre-dump and a dump make of a missing page.
 */
static int xfer_vec(struct dump_ctx *ctx, const struct pm_job *job, unsigned int first,
		    unsigned int n)
{
	struct page_source *src = &ctx->src;
	struct src_range r[SRC_MAX_VEC];
	struct page_data data;
	unsigned int k = 0;
	uint64_t t0, t1;
	ssize_t got;
	int ret = 0;

	for (unsigned int i = 0; i < n; i++)
		r[i] = (struct src_range){ .addr = job->runs[first + i].addr,
					   .len = job->runs[first + i].nr_pages * PAGE_SIZE,
					   .prot = job->runs[first + i].prot };
	t0 = now_us();
	got = src->ops->fill_vec(src, r, n, &data);
	t1 = now_us();
	ctx->stats.memdump_time += t1 - t0;
	for (size_t off = 0; got > 0 && k < n && !ret; k++) {
		struct page_data part = data;
		size_t take = MIN(r[k].len, (size_t)got);

		part.len = take;
		if (data.buf)
			part.buf = (const char *)data.buf + off;
		ret = ctx->sink.ops->put_pages(&ctx->sink, r[k].addr - job->delta, &part);
		ctx->stats.pages_written += take / PAGE_SIZE;
		got -= take;
		off += take;
		if (!ret && take < r[k].len) {	/* the rest of this run, one step at a time */
			struct run rest = job->runs[first + k];

			rest.addr += take;
			rest.nr_pages -= take / PAGE_SIZE;
			ret = xfer_run(ctx, job, &rest);
		}
	}
	ctx->stats.memwrite_time += now_us() - t1;
	for (; k < n && !ret; k++)
		ret = xfer_run(ctx, job, &job->runs[first + k]);
	return ret;
}

int xfer_open(struct dump_ctx *ctx, struct pm_job *job)
{
	struct page_source *src = &ctx->src;
	int ret;

	ret = ctx->sink.ops->open(&ctx->sink, job->kind, job->id);
	if (ret)
		return ret;
	job->opened = true;
	ret = src->ops->attach(src, job->target);	/* says why it failed */
	if (ret)
		return ret;
	job->attached = true;
	return 0;
}

int xfer_runs(struct dump_ctx *ctx, struct pm_job *job)
{
	struct page_sink *sink = &ctx->sink;
	int ret = 0;

	for (unsigned int i = 0, n; i < job->nr_runs && !ret; i += n) {
		const struct run *run = &job->runs[i];

		n = vec_group(&ctx->src, job, i);
		if (n > 1) {
			ret = *ctx->interrupted ? -EINTR : xfer_vec(ctx, job, i, n);
			continue;
		}
		n = 1;
		if (run->flags & PE_PARENT)
			ret = sink->ops->put_hole(sink, run->addr - job->delta,
						  run->nr_pages, PE_PARENT);
		else
			ret = xfer_run(ctx, job, run);
	}
	job->nr_runs = 0;
	return ret;
}

int xfer_close(struct dump_ctx *ctx, struct pm_job *job, int ret)
{
	int ret2;

	if (job->attached) {
		ret2 = ctx->src.ops->detach(&ctx->src);
		if (!ret)
			ret = ret2;
		job->attached = false;
	}
	if (job->opened) {
		ret2 = ctx->sink.ops->close(&ctx->sink);
		if (ret2 && !ret)
			pr_errno(ret2, "cannot finish the images of %d with sink %s",
				 job->target->pid, ctx->sink.ops->name);
		if (!ret)
			ret = ret2;
		job->opened = false;
	}
	return ret;
}

int xfer_jobs(struct dump_ctx *ctx)
{
	for (unsigned int i = 0; i < ctx->nr_jobs; i++) {
		struct pm_job *job = &ctx->jobs[i];
		int ret = xfer_open(ctx, job);

		if (!ret)
			ret = xfer_runs(ctx, job);
		ret = xfer_close(ctx, job, ret);
		if (ret == -ESRCH && ctx->opts->pre_dump) {
			pr_info("process %d exited or exec'd during the pre-dump", job->target->pid);
			ret = 0;
		}
		if (ret)
			return ret;
	}
	return 0;
}
