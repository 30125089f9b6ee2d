// SPDX-License-Identifier: GPL-2.0
/* filling a restored tree's memory through its userfaultfds: see fill.h */
#define LOG_PREFIX "restore: "

#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "images/image.h"
#include "log.h"
#include "restore/fill.h"
#include "restore/remote.h"
#include "util.h"

#define PAGE		4096ULL
#define FAULT_AROUND	(16 * PAGE)	/* a fault also brings what follows it */

int fill_init(struct fill *f, int dirfd, uint64_t batch, struct remote *remote)
{
	memset(f, 0, sizeof(*f));
	f->dirfd = dirfd;
	f->batch = batch;
	f->remote = remote;
	if (remote) {
		f->buf = aligned_alloc(PAGE, MAX(batch, FAULT_AROUND));
		if (!f->buf)
			return -ENOMEM;
	}
	return 0;
}

static const char *pages_map(struct fill *f, unsigned long id)
{
	char name[64];
	struct stat st;
	void *addr, *maps;
	int fd;

	for (size_t i = 0; i < f->nr_maps; i++)
		if (f->maps[i].id == id)
			return f->maps[i].addr;
	maps = realloc(f->maps, (f->nr_maps + 1) * sizeof(*f->maps));
	if (!maps)
		return NULL;
	f->maps = maps;
	img_name(IMG_PAGES, id, name, sizeof(name));
	fd = openat(f->dirfd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st)) {
		pr_perror("%s", name);
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	addr = st.st_size ? mmap(NULL, st.st_size, PROT_READ, MAP_PRIVATE, fd, 0) : "";
	close(fd);
	if (addr == MAP_FAILED) {
		pr_perror("mapping %s", name);
		return NULL;
	}
	f->maps[f->nr_maps].id = id;
	f->maps[f->nr_maps].addr = addr;
	f->maps[f->nr_maps].len = st.st_size;
	f->nr_maps++;
	return addr;
}

static struct fill_proc *proc_new(struct fill *f, pid_t vpid, int uffd, const char *pages)
{
	struct fill_proc *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->vpid = vpid;
	p->uffd = uffd;
	p->pages = pages;
	p->next = f->procs;
	f->procs = p;
	return p;
}

int fill_add(struct fill *f, pid_t vpid, int uffd, struct mark *m)
{
	const char *pages = m->lazy.nr ? pages_map(f, m->pages_id) : "";
	struct fill_proc *p;

	if (!pages)
		return -EIO;
	p = proc_new(f, vpid, uffd, pages);
	if (!p)
		return -ENOMEM;
	p->missing = m->lazy;
	p->remote = m->remote;
	memset(&m->lazy, 0, sizeof(m->lazy));
	memset(&m->remote, 0, sizeof(m->remote));
	return 0;
}

/* the process is gone: nothing more to give it */
static void proc_gone(struct fill *f, struct fill_proc *p)
{
	f->st.gone_pages += (runs_bytes(&p->missing) + runs_bytes(&p->remote)) / PAGE;
	runs_free(&p->missing);
	runs_free(&p->remote);
}

/* both lists: what @p's mappings did to them */
static int drop(struct fill_proc *p, uint64_t start, uint64_t end)
{
	return runs_drop(&p->missing, start, end) ?: runs_drop(&p->remote, start, end);
}

static bool misses(const struct fill_proc *p, uint64_t addr)
{
	return runs_find(&p->missing, addr) || runs_find(&p->remote, addr);
}

/*
 * UFFDIO_COPY of [@addr, @addr + @len) from @src; the pages it put in
 * place, and those no longer registered, leave @p's runs.  Returns the
 * pages copied, 0 when the mappings are changing (read the events first)
 * or the process has gone, or -errno.
 */
static long copy(struct fill *f, struct fill_proc *p, const void *src, uint64_t addr,
		 uint64_t len)
{
	struct uffdio_copy uc = { .dst = addr, .src = (uintptr_t)src, .len = len };
	uint64_t done;
	int err;

	for (;;) {
		err = ioctl(p->uffd, UFFDIO_COPY, &uc) ? errno : 0;
		/* the VMA may end inside the run since (mprotect, mremap): halve */
		if (err != ENOENT || uc.len == PAGE)
			break;
		uc.len = MAX((uc.len / 2) & ~(PAGE - 1), PAGE);
		len = uc.len;
	}
	done = uc.copy > 0 ? (uint64_t)uc.copy : 0;
	switch (err) {
	case 0:
	case EAGAIN:			/* events pending: the caller reads them */
		break;
	case EEXIST:
		/*
		 * Only a copy puts a page where the process misses one: this
		 * one came before the range was registered, and holds the
		 * wrong bytes.  Never let the tree run on them.
		 */
		pr_err("%d's page at %#llx was populated before it was registered: its bytes "
		       "are not the image's", p->vpid, (unsigned long long)(addr + done));
		return -EEXIST;
	case ENOENT:			/* this page is no longer registered: gone */
		f->st.gone_pages += len / PAGE;
		done = len;
		break;
	case ESRCH:
	case ENOSPC:
		proc_gone(f, p);
		return 0;
	default:
		pr_err("filling %d at %#llx: %s", p->vpid, (unsigned long long)addr,
		       strerror(err));
		return -err;
	}
	if (done && drop(p, addr, addr + done))
		return -ENOMEM;
	return uc.copy > 0 ? uc.copy / PAGE : 0;
}

/* up to @len bytes at @addr, which @r holds: from the image, or fetched from the source */
static long bring(struct fill *f, struct fill_proc *p, const struct run *r, bool remote,
		  uint64_t addr, uint64_t len)
{
	long n;

	if (!remote)
		return copy(f, p, p->pages + r->off + (addr - r->start), addr, len);
	n = remote_get(f->remote, p->vpid, addr, len / PAGE, f->buf);
	if (n <= 0)
		return n ? n : -EPROTO;
	f->st.remote_pages += n;
	return copy(f, p, f->buf, addr, n * PAGE);
}

/* the run of @p that holds @addr, local or remote (*@remote), or NULL */
static const struct run *held(const struct fill_proc *p, uint64_t addr, bool *remote)
{
	const struct run *r = runs_find(&p->missing, addr);

	*remote = !r;
	return r ?: runs_find(&p->remote, addr);
}

/* the fault at @addr again, after the events that held it up */
static int pend(struct fill_proc *p, uint64_t addr)
{
	uint64_t *v;

	for (size_t i = 0; i < p->nr_pending; i++)
		if (p->pending[i] == addr)
			return 0;
	v = realloc(p->pending, (p->nr_pending + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	p->pending = v;
	p->pending[p->nr_pending++] = addr;
	return 0;
}

/* @p's thread waits at @addr: its page (and what follows), or a zero page */
static int answer(struct fill *f, struct fill_proc *p, uint64_t addr)
{
	struct uffdio_zeropage z = { .range = { addr, PAGE } };
	bool remote;
	const struct run *r = held(p, addr, &remote);
	long n;

	if (r) {
		n = bring(f, p, r, remote, addr, MIN(FAULT_AROUND, r->end - addr));
		if (n < 0)
			return n;
		f->st.fault_pages += n;
		/* not copied, still missing: the mappings are changing */
		return !n && misses(p, addr) ? pend(p, addr) : 0;
	}
	if (!ioctl(p->uffd, UFFDIO_ZEROPAGE, &z)) {
		f->st.zero_pages++;
		return 0;
	}
	if (errno == EAGAIN)
		return pend(p, addr);
	if (errno == EEXIST || errno == ENOENT || errno == ESRCH || errno == ENOSPC)
		return 0;
	pr_perror("zero page for %d at %#llx", p->vpid, (unsigned long long)addr);
	return -errno;
}

static int fault(struct fill *f, struct fill_proc *p, uint64_t addr)
{
	f->st.faults++;
	return answer(f, p, addr & ~(PAGE - 1));
}

int fill_retry(struct fill *f)
{
	for (struct fill_proc *p = f->procs; p; p = p->next) {
		size_t nr = p->nr_pending;
		uint64_t *v = p->pending;
		int ret = 0;

		p->pending = NULL;
		p->nr_pending = 0;
		for (size_t i = 0; !ret && i < nr; i++)
			ret = answer(f, p, v[i]);
		free(v);
		if (ret)
			return ret;
	}
	return 0;
}

bool fill_pending(const struct fill *f)
{
	for (const struct fill_proc *p = f->procs; p; p = p->next)
		if (p->nr_pending)
			return true;
	return false;
}

static int forked(struct fill *f, struct fill_proc *p, int uffd, struct fill_proc **child)
{
	struct fill_proc *c = proc_new(f, p->vpid, uffd, p->pages);

	if (!c) {
		close(uffd);
		return -ENOMEM;
	}
	*child = c;
	return runs_copy(&c->missing, &p->missing) ?: runs_copy(&c->remote, &p->remote);
}

int fill_events(struct fill *f, struct fill_proc *p, struct fill_proc **child)
{
	struct uffd_msg msg;
	ssize_t n;
	int ret = 0;

	*child = NULL;
	while (!ret && !*child) {
		n = read(p->uffd, &msg, sizeof(msg));
		if (n < 0 && errno == EAGAIN)
			return 0;
		if (n < 0) {
			pr_perror("reading %d's userfaultfd", p->vpid);
			return -errno;
		}
		if (n != sizeof(msg)) {
			proc_gone(f, p);
			return 0;
		}
		switch (msg.event) {
		case UFFD_EVENT_PAGEFAULT:
			ret = fault(f, p, msg.arg.pagefault.address);
			break;
		case UFFD_EVENT_FORK:
			ret = forked(f, p, msg.arg.fork.ufd, child);
			break;
		case UFFD_EVENT_REMAP:
			ret = runs_move(&p->missing, msg.arg.remap.from, msg.arg.remap.to,
					msg.arg.remap.len) ?:
			      runs_move(&p->remote, msg.arg.remap.from, msg.arg.remap.to,
					msg.arg.remap.len);
			break;
		case UFFD_EVENT_REMOVE: {
			struct uffdio_range r = { msg.arg.remove.start,
						  msg.arg.remove.end - msg.arg.remove.start };

			/* DONTNEED'd: the process reads zeros there now, not the image */
			if (ioctl(p->uffd, UFFDIO_UNREGISTER, &r) && errno != ENOMEM)
				ret = -errno;
		}
			/* fall through */
		case UFFD_EVENT_UNMAP: {
			uint64_t before = runs_bytes(&p->missing) + runs_bytes(&p->remote);

			if (!ret)
				ret = drop(p, msg.arg.remove.start, msg.arg.remove.end);
			f->st.gone_pages += (before - runs_bytes(&p->missing) -
					     runs_bytes(&p->remote)) / PAGE;
			break;
		}
		default:
			pr_err("%d's userfaultfd says event %u", p->vpid, msg.event);
			ret = -EPROTO;
		}
	}
	return ret;
}

/* what the images hold first, then what the source does */
int fill_batch(struct fill *f)
{
	for (int remote = 0; remote < 2; remote++)
		for (struct fill_proc *p = f->procs; p; p = p->next) {
			const struct runs *rs = remote ? &p->remote : &p->missing;
			const struct run *r = rs->v;
			long n;

			if (!rs->nr)
				continue;
			n = bring(f, p, r, remote, r->start, MIN(f->batch, r->end - r->start));
			if (n < 0)
				return n;
			f->st.batch_pages += n;
			return 0;
		}
	return 1;
}

uint64_t fill_missing(const struct fill *f)
{
	uint64_t n = 0;

	for (const struct fill_proc *p = f->procs; p; p = p->next)
		n += (runs_bytes(&p->missing) + runs_bytes(&p->remote)) / PAGE;
	return n;
}

void fill_free(struct fill *f)
{
	while (f->procs) {
		struct fill_proc *p = f->procs;

		f->procs = p->next;
		runs_free(&p->missing);
		runs_free(&p->remote);
		free(p->pending);
		if (p->uffd >= 0)
			close(p->uffd);
		free(p);
	}
	for (size_t i = 0; i < f->nr_maps; i++)
		if (f->maps[i].len)
			munmap(f->maps[i].addr, f->maps[i].len);
	free(f->maps);
	free(f->buf);
	memset(f, 0, sizeof(*f));
}
