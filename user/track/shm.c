// SPDX-License-Identifier: GPL-2.0
/* shared anonymous segments under the uffd-wp tracker: see shm.h */
#define LOG_PREFIX "uffd: "
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "collect/mm.h"
#include "log.h"
#include "track/shm.h"
#include "track/uffd.h"
#include "tree/pstree.h"
#include "util.h"

#define BITS	(8 * sizeof(unsigned long))

void shm_tracker_init(struct shm_tracker *st)
{
	memset(st, 0, sizeof(*st));
	st->forks.fd = -1;
}

void shm_tracker_free(struct shm_tracker *st)
{
	for (unsigned int i = 0; i < st->nr; i++) {
		free(st->segs[i].maps);
		free(st->segs[i].hash);
	}
	free(st->segs);
	fork_watch_stop(&st->forks);
	shm_tracker_init(st);
}

static struct shm_seg *seg_get(struct shm_tracker *st, const struct stat *s)
{
	struct shm_seg *n;

	for (unsigned int i = 0; i < st->nr; i++)
		if (st->segs[i].dev == s->st_dev && st->segs[i].ino == s->st_ino)
			return &st->segs[i];
	n = realloc(st->segs, (st->nr + 1) * sizeof(*n));
	if (!n)
		return NULL;
	st->segs = n;
	n = &st->segs[st->nr++];
	/* never seen: differs from anything (size -1) */
	*n = (struct shm_seg){ .dev = s->st_dev, .ino = s->st_ino, .size = -1 };
	return n;
}

/* 64 bits of a page's bytes: two lanes, each step a bijection, mixed at the end */
static uint64_t page_hash(const void *page)
{
	const uint64_t *w = page;
	uint64_t a = 0x9e3779b97f4a7c15ULL, b = 0xc2b2ae3d27d4eb4fULL;

	for (size_t i = 0; i < PAGE_SIZE / sizeof(*w); i += 2) {
		a = (a ^ w[i]) * 0xff51afd7ed558ccdULL;
		a = (a << 31) | (a >> 33);
		b = (b ^ w[i + 1]) * 0xc4ceb9fe1a85ec53ULL;
		b = (b << 29) | (b >> 35);
	}
	a ^= b * 0x94d049bb133111ebULL;
	a ^= a >> 31;
	return a | 1;		/* 0: no page there */
}

/*
 * What the page tables cannot tell: a hole punched (MADV_REMOVE) and read
 * back in before the next pass is a new zero page under the old page's
 * protection (a pte marker keeps it), so it reads unwritten.  Each pass
 * takes a hash of every page of the segment after the scans protected
 * them: a page whose bytes are not those of the last pass (or that had
 * none) is written.  @map: the segment, mapped by memsplice; @fd: its
 * file, for SEEK_DATA (reading a hole would allocate a page in it).
 */
static void hash_pages(struct shm_seg *seg, int fd, const char *map, unsigned long pages,
		       unsigned long *bits)
{
	off_t end = (off_t)pages * PAGE_SIZE, data, hole;
	unsigned long next = 0;

	for (off_t pos = 0; pos < end && file_extent(fd, pos, end, &data, &hole);) {
		for (; next < data / PAGE_SIZE; next++)
			seg->hash[next] = 0;
		for (; next < (hole + PAGE_SIZE - 1) / PAGE_SIZE; next++) {
			uint64_t h = page_hash(map + next * PAGE_SIZE);

			if (h != seg->hash[next])
				bits[next / BITS] |= 1UL << (next % BITS);
			seg->hash[next] = h;
		}
		pos = (off_t)next * PAGE_SIZE;
	}
	for (; next < pages; next++)
		seg->hash[next] = 0;
}

/* whether process @pid (not of the tree) maps the segment: /proc/PID/maps */
static bool maps_segment(pid_t pid, const struct stat *s)
{
	unsigned int maj, min;
	unsigned long ino;
	char line[512];
	bool found = false;
	FILE *f;
	int fd;

	fd = open_proc(pid, "maps", O_RDONLY);
	if (fd < 0)
		return false;	/* gone; a kernel thread */
	f = fdopen(fd, "re");
	if (!f) {
		close(fd);
		return true;	/* cannot tell */
	}
	while (!found && fgets(line, sizeof(line), f))
		found = sscanf(line, "%*x-%*x %*s %*x %x:%x %lu", &maj, &min, &ino) == 3 &&
			ino == s->st_ino && makedev(maj, min) == s->st_dev;
	fclose(f);
	return found;
}

/* whether a process outside @tree (and not memsplice) maps the segment */
static bool outsider_maps(const struct pstree *tree, const struct stat *s)
{
	pid_t self = getpid();
	struct dirent *d;
	bool found = false;
	DIR *dir;

	dir = opendir("/proc");
	if (!dir)
		return true;
	while (!found && (d = readdir(dir))) {
		pid_t pid = atoi(d->d_name);
		bool ours = pid == self;

		for (unsigned int i = 0; i < tree->nr && !ours; i++)
			ours = tree->tasks[i].pid == pid;
		if (pid > 0 && !ours)
			found = maps_segment(pid, s);
	}
	closedir(dir);
	return found;
}

/* the mappings of the segment in @tree, in tree and address order */
static int find_maps(const struct pstree *tree, const struct task_mm *mms,
		     const struct stat *s, struct shm_map **maps, unsigned int *nr)
{
	*maps = NULL;
	*nr = 0;
	for (unsigned int i = 0; i < tree->nr; i++) {
		const struct task *t = &tree->tasks[i];

		if (t->zombie)
			continue;
		for (unsigned int k = 0; k < mms[i].vmas.nr; k++) {
			const struct vma *v = &mms[i].vmas.v[k];
			struct shm_map *n;

			if (!vma_is_shmem(v) || v->ino != s->st_ino)
				continue;
			n = realloc(*maps, (*nr + 1) * sizeof(*n));
			if (!n) {
				free(*maps);
				*maps = NULL;
				return -ENOMEM;
			}
			*maps = n;
			n[(*nr)++] = (struct shm_map){ .pid = t->pid, .start_time = t->start_time,
						       .start = v->start, .end = v->end,
						       .pgoff = v->pgoff };
		}
	}
	return 0;
}

static bool same_maps(const struct shm_map *maps, unsigned int nr, const struct shm_seg *seg)
{
	if (nr != seg->nr_maps)
		return false;
	for (unsigned int i = 0; i < nr; i++) {
		const struct shm_map *a = &maps[i], *b = &seg->maps[i];

		if (a->pid != b->pid || a->start_time != b->start_time || a->start != b->start ||
		    a->end != b->end || a->pgoff != b->pgoff)
			return false;
	}
	return true;
}

struct mark {
	unsigned long *bits;
	unsigned long pages;
	unsigned long first;	/* the segment's page at the mapping's start */
	unsigned long start;
};

/* written, or no page table entry left to tell: a written page */
static int mark(void *arg, unsigned long start, unsigned long end, __u64 cat)
{
	struct mark *m = arg;

	if ((cat & (PAGE_IS_PRESENT | PAGE_IS_SWAPPED)) && !(cat & PAGE_IS_WRITTEN))
		return 0;
	for (unsigned long a = start; a < end; a += PAGE_SIZE) {
		unsigned long pg = m->first + (a - m->start) / PAGE_SIZE;

		if (pg < m->pages)
			m->bits[pg / BITS] |= 1UL << (pg % BITS);
	}
	return 0;
}

/*
 * Scan every mapping (registering the new ones): *@sure false if any of
 * them cannot say what was written through it.  0 or -ENOMEM.
 */
static int scan_maps(struct uffd_tracker *tr, const struct pstree *tree,
		     const struct shm_map *maps, unsigned int nr, struct mark *m, bool *sure)
{
	for (unsigned int i = 0; i < nr; i++) {
		const struct task *t = NULL;
		struct uffd_proc *p;
		int ret;

		for (unsigned int k = 0; k < tree->nr && !t; k++)
			if (tree->tasks[k].pid == maps[i].pid)
				t = &tree->tasks[k];
		p = t ? uffd_tracker_find(tr, t) : NULL;
		if (!p) {
			*sure = false;
			continue;
		}
		m->first = maps[i].pgoff / PAGE_SIZE;
		m->start = maps[i].start;
		ret = uffd_scan_shared(p, t->target.pagemap_fd, maps[i].start, maps[i].end, mark, m);
		if (ret < 0)
			return ret;
		if (ret)
			*sure = false;
	}
	return 0;
}

int shm_tracker_written(struct uffd_tracker *tr, const struct pstree *tree,
			const struct task_mm *mms, int fd, const struct stat *st, const void *map,
			unsigned long **written)
{
	struct shm_tracker *sh = &tr->shm;
	unsigned long pages = (st->st_size + PAGE_SIZE - 1) / PAGE_SIZE;
	struct mark m = { .pages = pages };
	const char *why = NULL;
	struct shm_map *maps;
	struct shm_seg *seg;
	unsigned int nr;
	bool sure = true;
	unsigned long gen;
	pid_t *pids;
	int ret;

	*written = NULL;
	seg = seg_get(sh, st);
	pids = malloc((tr->nr + 1) * sizeof(*pids));
	m.bits = calloc(pages / BITS + 1, sizeof(*m.bits));
	ret = find_maps(tree, mms, st, &maps, &nr);
	if (!seg || !pids || !m.bits || ret) {
		free(maps);
		ret = -ENOMEM;
		pr_err("out of memory");
		goto out;
	}
	if (seg->size != st->st_size) {
		free(seg->hash);
		seg->hash = calloc(pages, sizeof(*seg->hash));
		seg->size = seg->hash ? st->st_size : -1;
		if (!seg->hash) {
			ret = -ENOMEM;
			pr_err("out of memory");
			free(maps);
			goto out;
		}
		why = "new, or its size changed";
	}
	for (unsigned int i = 0; i < tr->nr; i++)
		pids[i] = tr->procs[i].pid;
	gen = fork_watch_gen(&sh->forks, pids, tr->nr);
	if (gen != seg->fork_gen)
		why = why ?: "a process of the tree forked, or forks cannot be seen";
	seg->fork_gen = gen;
	if (!seg->outsider && outsider_maps(tree, st))
		seg->outsider = true;
	if (seg->outsider)
		why = why ?: "a process outside the tree maps it";
	if (!same_maps(maps, nr, seg))
		why = why ?: "its mappings changed";
	free(seg->maps);
	seg->maps = maps;
	seg->nr_maps = nr;

	ret = scan_maps(tr, tree, maps, nr, &m, &sure);
	if (ret) {
		pr_err("out of memory");
		goto out;
	}
	hash_pages(seg, fd, map, pages, m.bits);	/* after the scans protected them */
	if (!sure && !why)
		why = "a mapping of it is not tracked";
	if (why) {
		pr_info("shared segment %lu: dumped in full (%s)", (unsigned long)st->st_ino, why);
		goto out;
	}
	*written = m.bits;
	m.bits = NULL;
out:
	free(m.bits);
	free(pids);
	return ret;
}
