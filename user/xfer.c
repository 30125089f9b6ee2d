// SPDX-License-Identifier: GPL-2.0
/*
 * Move the collected runs from the source to the sink, one fixed-size chunk
 * at a time.  In a pre-dump the tree may be running: a run that shrank
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

/* Returns 0, 1 when the process is gone (pre-dump), or -errno. */
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
			pr_info("process %d exited during the pre-dump", job->target->pid);
			ctx->stats.pages_dropped += (end - addr) / PAGE_SIZE;
			return 1;
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

static int xfer_job(struct dump_ctx *ctx, const struct pm_job *job)
{
	struct page_source *src = &ctx->src;
	struct page_sink *sink = &ctx->sink;
	int ret, ret2;

	ret = sink->ops->open(sink, job->kind, job->id);
	if (ret)
		return ret;
	ret = src->ops->attach(src, job->target);
	if (ret == -ESRCH && ctx->opts->pre_dump)
		goto close;	/* gone: an empty pagemap */
	if (ret) {
		pr_errno(ret, "%s: cannot attach to %d", src->ops->name, job->target->pid);
		goto close;
	}
	for (unsigned int i = 0; i < job->nr_runs; i++) {
		const struct run *run = &job->runs[i];

		if (run->flags & PE_PARENT)
			ret = sink->ops->put_hole(sink, run->addr - job->delta,
						  run->nr_pages, PE_PARENT);
		else
			ret = xfer_run(ctx, job, run);
		if (ret)
			break;
	}
	if (ret > 0)
		ret = 0;
	ret2 = src->ops->detach(src);
	if (!ret)
		ret = ret2;
close:
	ret2 = sink->ops->close(sink);
	if (ret2 && !ret)
		pr_errno(ret2, "cannot finish the images of %d with sink %s", job->target->pid, sink->ops->name);
	return ret ? ret : ret2;
}

int xfer_jobs(struct dump_ctx *ctx)
{
	for (unsigned int i = 0; i < ctx->nr_jobs; i++) {
		int ret = xfer_job(ctx, &ctx->jobs[i]);

		if (ret)
			return ret;
	}
	return 0;
}
