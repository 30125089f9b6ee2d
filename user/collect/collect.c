// SPDX-License-Identifier: GPL-2.0
/*
 * For every process, its VMAs (while frozen) and the runs of pages to dump,
 * read from /proc/PID/pagemap or with PAGEMAP_SCAN.  A page is dumped when
 * it exists (present or swapped), is not the zero page, and is not a
 * private file page that was never written.  With a parent and
 * --track-mem, a page whose soft-dirty bit is clear and which the parent
 * holds becomes a PE_PARENT run; anything else (new mappings included) is
 * written.  Then the soft-dirty bits are cleared for the next pass.
 *
 * Memory used here does not grow with the target: pagemap is read in fixed
 * windows, and runs are handed to xfer.c a batch at a time as they are
 * found (COLLECT_BATCH), process by process.  Only a tracked pre-dump with
 * a parent holds every run (ctx->hold_runs, dump.h): 24 bytes a run.
 */
#define LOG_PREFIX "collect: "
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "collect/pagemap-scan.h"
#include "collect/smaps.h"
#include "collect/parent.h"
#include "dump.h"
#include "log.h"
#include "track/uffd.h"
#include "util.h"
#include "xfer.h"

#define PM_WINDOW	4096	/* pagemap entries read at once */
/* this many pages to walk (1 GiB): ask smaps first which VMAs are empty */
#define SMAPS_MIN_PAGES	(1UL << 18)

struct scan {
	struct dump_ctx *ctx;
	const struct parent *parent;
	const struct parent_map *pmap;	/* NULL: no page may come from the parent */
	int pagemap_fd;
	/*
	 * uffd: dirty means written since the tracker's last scan; with a
	 * tracker but no uffd (a process new to it) every page is dirty.
	 */
	bool tracker;
	struct uffd_proc *uffd;
	uint64_t *pme;
	bool xfer_failed;	/* the error came from xfer.c, which printed it */
};

/*
 * A job begins: held for later (ctx->hold_runs), or started at the sink
 * now, its runs to go through ctx->batch.
 */
static int job_begin(struct scan *s, struct pm_job *job, enum pagemap_kind kind,
		     unsigned long id, const struct target *target, unsigned long delta)
{
	int ret;

	*job = (struct pm_job){ .kind = kind, .id = id, .target = target, .delta = delta };
	if (s->ctx->hold_runs)
		return 0;
	job->runs = s->ctx->batch;
	job->cap_runs = COLLECT_BATCH;
	ret = xfer_open(s->ctx, job);
	if (ret)
		s->xfer_failed = true;
	return ret;
}

/* the batch is full: move it (or, held, make room) */
static int job_flush(struct scan *s, struct pm_job *job)
{
	unsigned int cap = job->cap_runs ? 2 * job->cap_runs : 16;
	struct run *n;
	int ret;

	if (!s->ctx->hold_runs) {
		ret = xfer_runs(s->ctx, job);
		if (ret)
			s->xfer_failed = true;
		return ret;
	}
	n = realloc(job->runs, cap * sizeof(*n));
	if (!n)
		return -ENOMEM;
	job->runs = n;
	job->cap_runs = cap;
	return 0;
}

/*
 * A job ends (@ret: how its scan went): held in ctx->jobs, or its last runs
 * moved and its pagemap closed.  Returns @ret or the job's own error.
 */
static int job_end(struct scan *s, struct pm_job *job, int ret)
{
	struct dump_ctx *ctx = s->ctx;
	struct pm_job *n;

	if (!ctx->hold_runs) {
		int ret2 = ret;

		if (!ret2)
			ret2 = xfer_runs(ctx, job);
		ret2 = xfer_close(ctx, job, ret2);
		if (ret2 && !ret)
			s->xfer_failed = true;
		ret = ret2;
		goto unmap;
	}
	if (!ret) {
		n = realloc(ctx->jobs, (ctx->nr_jobs + 1) * sizeof(*n));
		if (n) {
			ctx->jobs = n;
			ctx->jobs[ctx->nr_jobs++] = *job;
			return 0;
		}
		ret = -ENOMEM;
	}
	free(job->runs);
unmap:
	if (job->map)
		munmap(job->map, job->map_len);
	return ret;
}

/* @nr pages at @addr, after everything added so far */
static int job_add(struct scan *s, struct pm_job *job, unsigned long addr, unsigned long nr,
		   unsigned int flags, int prot)
{
	struct run *last = job->nr_runs ? &job->runs[job->nr_runs - 1] : NULL;
	int ret;

	if (last && last->flags == flags && last->prot == prot &&
	    last->addr + last->nr_pages * PAGE_SIZE == addr) {
		last->nr_pages += nr;
		return 0;
	}
	if (job->nr_runs == job->cap_runs) {
		ret = job_flush(s, job);
		if (ret)
			return ret;
	}
	job->runs[job->nr_runs++] = (struct run){ addr, nr, flags, prot };
	return 0;
}

/* a range of dumpable pages from PAGEMAP_SCAN, into the job */
struct scan_range {
	struct scan *s;
	struct pm_job *job;
	int prot;
};

static int add_range(void *arg, unsigned long start, unsigned long end, bool soft_dirty)
{
	struct scan_range *sr = arg;
	const struct parent_map *pmap = sr->s->pmap;
	bool clean = pmap && !soft_dirty;

	for (unsigned long addr = start, next; addr < end; addr = next) {
		unsigned int flags = PE_PRESENT;
		bool covered = false;
		int ret;

		next = clean ? parent_map_span(pmap, addr, end, &covered) : end;
		if (covered) {
			flags = PE_PARENT;
			sr->s->ctx->stats.pages_skipped_parent += (next - addr) / PAGE_SIZE;
		}
		ret = job_add(sr->s, sr->job, addr, (next - addr) / PAGE_SIZE, flags, sr->prot);
		if (ret)
			return ret;
	}
	return 0;
}

/* scan_private() with PAGEMAP_SCAN: ranges from the kernel, no per-page loop */
static int scan_private_ranges(struct scan *s, struct pm_job *job, const struct vma *v)
{
	struct scan_range sr = { .s = s, .job = job, .prot = v->prot };

	s->ctx->stats.pages_scanned += (v->end - v->start) / PAGE_SIZE;
	if (s->uffd)
		return uffd_scan(s->uffd, s->pagemap_fd, v->start, v->end, add_range, &sr);
	return pm_scan_dumpable(s->pagemap_fd, v->start, v->end,
				s->tracker ? PM_DIRTY_ALL : PM_DIRTY_SOFT, add_range, &sr, NULL);
}

static int scan_private(struct scan *s, struct pm_job *job, const struct vma *v);

/*
 * Soft-dirty does not see writes to hugetlb memory: clear_refs clears the
 * VMA's VM_SOFTDIRTY, pagemap reports that flag for every huge page, and no
 * write sets it again, so a huge page reads clean for good (6.1's
 * pagemap_hugetlb_range() in fs/proc/task_mmu.c).  Every present page is
 * written in every pass, never PE_PARENT; nor is such a VMA given to the
 * uffd-wp tracker.  A final `criu dump --track-mem` (3.17) on this chain
 * makes those pages PE_PARENT: the last pass covers them.
 */
static int scan_hugetlb(struct scan *s, struct pm_job *job, const struct vma *v)
{
	struct scan own = *s;
	int ret;

	own.pmap = NULL;
	own.uffd = NULL;
	ret = scan_private(&own, job, v);
	s->xfer_failed = own.xfer_failed;
	return ret;
}

/* Add the pages of [start, end) of one private VMA to @job. */
static int scan_private(struct scan *s, struct pm_job *job, const struct vma *v)
{
	bool file_private = v->status & VMA_FILE_PRIVATE;
	bool whole = vma_dump_whole(v);
	unsigned long addr = v->start;

	if (v->hugetlb && (s->pmap || s->uffd))
		return scan_hugetlb(s, job, v);
	if ((s->ctx->kd.pagemap_scan || s->uffd) && !whole)
		return scan_private_ranges(s, job, v);

	while (addr < v->end) {
		unsigned long nr = MIN((v->end - addr) / PAGE_SIZE, PM_WINDOW);
		int ret = pagemap_read(s->pagemap_fd, addr, nr, s->pme);

		if (ret)
			return ret;
		s->ctx->stats.pages_scanned += nr;
		for (unsigned long i = 0; i < nr; i++, addr += PAGE_SIZE) {
			unsigned int flags = PE_PRESENT;

			if (!whole && !pme_wanted(&s->ctx->kd, s->pme[i], file_private))
				continue;
			if (s->pmap && !s->tracker && !(s->pme[i] & PME_SOFT_DIRTY) &&
			    parent_map_covers(s->pmap, addr)) {
				flags = PE_PARENT;
				s->ctx->stats.pages_skipped_parent++;
			}
			ret = job_add(s, job, addr, 1, flags, v->prot);
			if (ret)
				return ret;
		}
	}
	return 0;
}

/* whether segment @shmid was dumped in this pass already; if not, it is now */
static int shmem_seen(struct dump_ctx *ctx, unsigned long shmid, bool *seen)
{
	unsigned long *n;

	*seen = false;
	for (unsigned int i = 0; i < ctx->nr_shm_seen; i++)
		if (ctx->shm_seen[i] == shmid)
			*seen = true;
	if (*seen)
		return 0;
	n = realloc(ctx->shm_seen, (ctx->nr_shm_seen + 1) * sizeof(*n));
	if (!n)
		return -ENOMEM;
	ctx->shm_seen = n;
	n[ctx->nr_shm_seen++] = shmid;
	return 0;
}

/*
 * Without map_files (no CAP_SYS_ADMIN or CAP_CHECKPOINT_RESTORE): what this
 * mapping of the segment shows, and a warning, since pages of it mapped
 * elsewhere (or nowhere any more) cannot be seen.
 */
static int scan_shmem_mapping(struct scan *s, const struct task *t, const struct vma *v,
			      int err)
{
	struct scan own = *s;
	struct pm_job job;
	int ret;

	pr_warn("%d: cannot open map_files (%s): shared segment %lu is dumped as its "
		"mapping at %#lx shows it; pages of it mapped elsewhere are missing",
		t->pid, strerror(-err), v->ino, v->start);
	own.pmap = NULL;	/* segments are always written whole */
	own.uffd = NULL;
	ret = job_begin(&own, &job, PAGEMAP_SHMEM, v->ino, &t->target, v->start - v->pgoff);
	if (!ret)
		ret = scan_private(&own, &job, v);
	ret = job_end(&own, &job, ret);
	s->xfer_failed = own.xfer_failed;
	return ret;
}

/*
 * The pages of a segment memsplice mapped at @map: its own SEEK_DATA says
 * which.  With @written (the tracker's, a bit a page) and @pmap, a page not
 * written since the parent's pass that the parent holds is PE_PARENT.
 */
static int scan_shmem_data(struct scan *s, struct pm_job *job, int fd, void *map, off_t end,
			   const unsigned long *written, const struct parent_map *pmap)
{
	const unsigned long bits = 8 * sizeof(*written);
	off_t data, hole;

	for (off_t pos = 0; pos < end && file_extent(fd, pos, end, &data, &hole); pos = hole) {
		for (off_t off = data & ~(off_t)(PAGE_SIZE - 1); off < hole; off += PAGE_SIZE) {
			unsigned long pg = off / PAGE_SIZE;
			unsigned int flags = PE_PRESENT;
			int ret;

			if (written && pmap && !(written[pg / bits] & (1UL << (pg % bits))) &&
			    parent_map_covers(pmap, off)) {
				flags = PE_PARENT;
				s->ctx->stats.pages_skipped_parent++;
			}
			ret = job_add(s, job, (unsigned long)map + off, 1, flags, PROT_READ);
			if (ret)
				return ret;
		}
		s->ctx->stats.pages_scanned += (hole - data + PAGE_SIZE - 1) / PAGE_SIZE;
	}
	return 0;
}

/*
 * The pages of a hugetlbfs segment: its SEEK_DATA is the generic one (all of
 * the file is data), and touching a missing huge page through a mapping
 * would allocate one (or fail, SIGBUS).  read() of the file copies a present
 * page and zero-fills a missing one without allocating it: a huge page that
 * reads as nothing but zeros is left out, which restores the same bytes.
 * The others are dumped whole, in 4 KiB pages, as criu dumps them
 * (shmem.c do_dump_one_shmem(): every page, never from a parent).
 */
static int scan_hugetlb_data(struct scan *s, struct pm_job *job, int fd, void *map, off_t end,
			     unsigned long hpage)
{
	size_t chunk = MIN(hpage, 64UL << 10);	/* a page with data: one read */
	char *buf;
	int ret = 0;

	buf = malloc(chunk);
	if (!buf)
		return -ENOMEM;
	for (off_t off = 0; off + (off_t)hpage <= end && !ret; off += hpage) {
		bool data = false;

		for (size_t at = 0; at < hpage && !data; at += chunk) {
			ssize_t n = pread_all(fd, buf, chunk, off + at);

			if (n != (ssize_t)chunk) {
				ret = n < 0 ? n : -EIO;
				break;
			}
			for (size_t k = 0; k < chunk / sizeof(long) && !data; k++)
				data = ((long *)buf)[k];
		}
		s->ctx->stats.pages_scanned += hpage / PAGE_SIZE;
		if (data)
			ret = job_add(s, job, (unsigned long)map + off, hpage / PAGE_SIZE,
				      PE_PRESENT, PROT_READ);
	}
	free(buf);
	return ret;
}

/*
 * A shared segment is dumped once, whichever processes map which parts of
 * it (mprotect may have split it, a child may map another range):
 * memsplice maps the segment itself through map_files, as CRIU does, and
 * the segment's own SEEK_DATA says which pages exist.  The job reads from
 * memsplice's mapping (its pid is ours); image vaddr = offset.  All of it
 * is written, but for shared anonymous memory under the uffd-wp tracker
 * (track/uffd.h): then a page not written since the parent's pass is
 * taken from the parent.
 */
static int scan_shmem(struct scan *s, const struct task *t, const struct vma *v)
{
	bool tracked = s->ctx->opts->tracker && (v->status & VMA_ANON_SHARED) && !v->hugetlb &&
		       !v->memfd;
	struct parent_map pmap = { 0 };
	unsigned long *written = NULL;
	unsigned long hpage = 0;
	struct pm_job job;
	struct stat st;
	char name[96];
	void *map;
	off_t end;
	bool seen;
	int fd, ret;

	ret = shmem_seen(s->ctx, v->ino, &seen);
	if (ret || seen)
		return ret;
	snprintf(name, sizeof(name), "map_files/%lx-%lx", v->start, v->end);
	fd = open_proc(t->mm_pid, name, O_RDONLY);
	if (fd >= 0 && target_gone(&t->target)) {
		close(fd);	/* the pid may name a stranger now */
		return -ESRCH;
	}
	if ((fd == -ENOENT && target_gone(&t->target)) || fd == -ESRCH)
		return -ESRCH;	/* exited, or in the middle of an exec */
	if (fd < 0)
		return scan_shmem_mapping(s, t, v, fd);
	if (fstat(fd, &st) < 0) {
		ret = -errno;
		goto out;
	}
	if (v->hugetlb) {
		struct statfs sfs;

		if (fstatfs(fd, &sfs) < 0) {
			ret = -errno;
			goto out;
		}
		hpage = sfs.f_bsize;	/* i_size is a multiple of it */
	}
	end = (st.st_size + PAGE_SIZE - 1) & ~(off_t)(PAGE_SIZE - 1);
	/* (hugetlb: only present pages are read, nothing to reserve) */
	map = end ? mmap(NULL, end, PROT_READ, MAP_SHARED | (hpage ? MAP_NORESERVE : 0), fd, 0)
		  : NULL;
	if (map == MAP_FAILED) {
		ret = -errno;
		goto out;
	}
	if (tracked) {
		ret = shm_tracker_written(s->ctx->opts->tracker, &s->ctx->tree, s->ctx->mms, fd,
					  &st, map, &written);
		if (!ret && written && s->parent)
			ret = parent_map_load_shmem(s->parent, v->ino, &pmap);
		if (ret) {
			if (map)
				munmap(map, end);
			goto out;
		}
	}
	ret = job_begin(s, &job, PAGEMAP_SHMEM, v->ino, &s->ctx->self, (unsigned long)map);
	job.map = map;
	job.map_len = end;
	if (!ret && hpage)
		ret = scan_hugetlb_data(s, &job, fd, map, end, hpage);
	else if (!ret)
		ret = scan_shmem_data(s, &job, fd, map, end, written, pmap.nr ? &pmap : NULL);
	ret = job_end(s, &job, ret);	/* unmaps once moved */
out:
	parent_map_free(&pmap);
	free(written);
	close(fd);
	return ret;
}

/*
 * A deleted file mapped shared: its pages are in no file any more, and
 * memsplice writes memory images, not files (criu dump keeps such a file as
 * a ghost file).  Refused, rather than a dump that silently lacks them.
 */
static int check_unlinked_shared(const struct task *t, const struct task_mm *mm)
{
	for (unsigned int i = 0; i < mm->vmas.nr; i++) {
		const struct vma *v = &mm->vmas.v[i];

		if (v->unlinked && !vma_is_shmem(v) && (v->status & VMA_FILE_SHARED)) {
			pr_err("process %d maps a deleted file shared at %#lx: its contents "
			       "are in no file, and memsplice does not dump files",
			       t->pid, v->start);
			return -EOPNOTSUPP;
		}
	}
	return 0;
}

/*
 * Without PAGEMAP_SCAN, the walk reads 8 bytes for every page of every
 * private VMA: when that is a lot, *@empty gets the VMAs smaps shows
 * without a page (never the vDSO: dumped whole), to be skipped.
 */
static int find_empty(struct dump_ctx *ctx, const struct task *t, const struct task_mm *mm,
		      bool **empty)
{
	unsigned long pages = 0;
	int ret;

	*empty = NULL;
	if (ctx->kd.pagemap_scan)
		return 0;
	for (unsigned int i = 0; i < mm->vmas.nr; i++) {
		const struct vma *v = &mm->vmas.v[i];

		if (vma_has_private_pages(v))
			pages += (v->end - v->start) / PAGE_SIZE;
	}
	if (pages < SMAPS_MIN_PAGES)
		return 0;
	*empty = calloc(mm->vmas.nr, sizeof(**empty));
	if (!*empty)
		return -ENOMEM;
	ret = smaps_empty_vmas(&t->target, &mm->vmas, *empty);
	/* (smaps counts hugetlb pages apart from Rss: never taken for empty) */
	for (unsigned int i = 0; i < mm->vmas.nr; i++)
		if (vma_dump_whole(&mm->vmas.v[i]) || mm->vmas.v[i].hugetlb)
			(*empty)[i] = false;
	return ret;
}

/*
 * Which pages of one process to dump: its pagemap (through the fd opened
 * while it was frozen) into a job, then each shared segment it maps into
 * one of its own; moved as found, or (ctx->hold_runs) kept in ctx->jobs.
 * Every failure is reported here or in xfer.c, once; with @gone_ok a
 * process that exited meanwhile is not one (a pre-dump whose pages are
 * found after the resume).
 */
static int scan_task(struct dump_ctx *ctx, const struct parent *parent, const struct task *t,
		     const struct task_mm *mm, bool gone_ok)
{
	struct parent_map pmap = { 0 };
	struct scan s = { .ctx = ctx, .parent = ctx->opts->track_mem ? parent : NULL,
			  .pagemap_fd = t->target.pagemap_fd };
	struct pm_job job;
	bool *empty = NULL;
	int ret;

	if (ctx->opts->tracker) {
		s.tracker = true;
		s.uffd = uffd_tracker_find(ctx->opts->tracker, t);
	}

	if (ctx->opts->track_mem) {
		ret = parent_map_load(parent, t->vpid, t->start_time, &pmap);
		if (ret)
			return ret;	/* it says why */
		if (pmap.nr)
			s.pmap = &pmap;
	}
	s.pme = malloc(PM_WINDOW * sizeof(*s.pme));
	if (!s.pme) {
		ret = -ENOMEM;
		goto out;
	}
	ret = find_empty(ctx, t, mm, &empty);
	if (ret)
		goto out;
	ret = job_begin(&s, &job, PAGEMAP_TASK, t->vpid, &t->target, 0);
	for (unsigned int i = 0; i < mm->vmas.nr && !ret; i++)
		if (vma_has_private_pages(&mm->vmas.v[i]) && !(empty && empty[i]))
			ret = scan_private(&s, &job, &mm->vmas.v[i]);
	ret = job_end(&s, &job, ret);
	for (unsigned int i = 0; i < mm->vmas.nr && !ret; i++)
		if (vma_is_shmem(&mm->vmas.v[i]))
			ret = scan_shmem(&s, t, &mm->vmas.v[i]);
out:
	if (ret == -ESRCH && gone_ok) {
		/* its frozen memory went away (exit, exec): the next pass has it */
		pr_info("process %d exited or exec'd during the pre-dump", t->pid);
		ret = 0;
	} else if (ret && (!s.xfer_failed || (ret == -ESRCH && ctx->opts->pre_dump))) {
		pr_errno(ret, "cannot collect the pages of %d", t->pid);
	}
	free(empty);
	free(s.pme);
	parent_map_free(&pmap);
	return ret;
}

static void free_jobs(struct dump_ctx *ctx)
{
	for (unsigned int i = 0; i < ctx->nr_jobs; i++) {
		free(ctx->jobs[i].runs);
		if (ctx->jobs[i].map)
			munmap(ctx->jobs[i].map, ctx->jobs[i].map_len);
	}
	free(ctx->jobs);
	ctx->jobs = NULL;
	ctx->nr_jobs = 0;
}

static int clear_dirty(const struct task *t)
{
	int ret = clear_soft_dirty(t->mm_pid);

	if (ret)
		pr_errno(ret, "cannot clear the soft-dirty bits of %d", t->pid);
	return ret;
}

/* what must be read while the process is frozen */
static int collect_task(struct dump_ctx *ctx, const struct parent *parent,
			const struct task *t, struct task_mm *mm)
{
	int ret;

	if (t->zombie)
		return 0;	/* no memory left */
	ret = mm_collect(t->mm_pid, mm);
	if (ret) {
		pr_errno(ret, "cannot read the memory map of %d", t->pid);
		return ret;
	}
	ret = check_unlinked_shared(t, mm);
	if (!ret && ctx->hold_runs)
		ret = scan_task(ctx, parent, t, mm, false);
	if (!ret && ctx->clear_soft_dirty && ctx->move_after_thaw)
		ret = clear_dirty(t);
	return ret;
}

int collect_tree(struct dump_ctx *ctx, const struct parent *parent)
{
	ctx->mms = calloc(ctx->tree.nr, sizeof(*ctx->mms));
	if (!ctx->mms) {
		pr_err("out of memory");
		return -ENOMEM;
	}
	for (unsigned int i = 0; i < ctx->tree.nr; i++) {
		int ret = collect_task(ctx, parent, &ctx->tree.tasks[i], &ctx->mms[i]);

		if (ret)
			return ret;
	}
	return 0;
}

int collect_pages(struct dump_ctx *ctx, const struct parent *parent)
{
	if (ctx->hold_runs)
		return xfer_jobs(ctx);
	ctx->batch = malloc(COLLECT_BATCH * sizeof(*ctx->batch));
	if (!ctx->batch) {
		pr_err("out of memory");
		return -ENOMEM;
	}
	for (unsigned int i = 0; i < ctx->tree.nr; i++) {
		const struct task *t = &ctx->tree.tasks[i];
		int ret;

		if (t->zombie)
			continue;
		ret = scan_task(ctx, parent, t, &ctx->mms[i], ctx->move_after_thaw);
		/* frozen all along: dirty bits read, now cleared */
		if (!ret && ctx->clear_soft_dirty && !ctx->move_after_thaw)
			ret = clear_dirty(t);
		if (ret)
			return ret;
	}
	return 0;
}

void collect_free(struct dump_ctx *ctx)
{
	free_jobs(ctx);
	free(ctx->batch);
	ctx->batch = NULL;
	free(ctx->shm_seen);
	ctx->shm_seen = NULL;
	ctx->nr_shm_seen = 0;
	if (ctx->mms)
		for (unsigned int i = 0; i < ctx->tree.nr; i++)
			mm_free(&ctx->mms[i]);
	free(ctx->mms);
	ctx->mms = NULL;
}
