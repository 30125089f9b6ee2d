// SPDX-License-Identifier: GPL-2.0
/*
 * Lookups in the parent image set.  Every PE_PARENT run written must be
 * covered by the parent's pagemap (present or itself in its parent), or
 * restore fails with "hole not found in parent": the dump loop asks
 * parent_map_covers() page by page before writing one.
 */
#define LOG_PREFIX "parent: "
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <string.h>
#include <unistd.h>

#include "collect/parent.h"
#include "images/image.h"
#include "images/pagemap-entry.h"
#include "inventory.pb-c.h"
#include "log.h"
#include "pstree.pb-c.h"
#include "sink/sink.h"
#include "util.h"

int read_inventory(int dirfd, InventoryEntry **inv)
{
	ProtobufCMessage *msg = NULL;
	struct img img;
	int ret;

	ret = img_open(&img, dirfd, IMG_INVENTORY, 0);
	if (ret)
		return ret;
	ret = img_read_entry(&img, &inventory_entry__descriptor, &msg);
	img_close(&img);
	if (ret <= 0)
		return ret ? ret : -EBADMSG;
	*inv = (InventoryEntry *)msg;
	return 0;
}

#define MAX_CHAIN	256	/* parent links followed looking for a loop */

static bool same_dir(int a, int b)
{
	struct stat sa, sb;

	return !fstat(a, &sa) && !fstat(b, &sb) && sa.st_dev == sb.st_dev &&
	       sa.st_ino == sb.st_ino;
}

/* neither the parent nor any of its ancestors may be the images dir */
static int check_chain(int dirfd, int pfd, const char *rel)
{
	int cur = dup(pfd), next;

	for (int depth = 0; cur >= 0 && depth < MAX_CHAIN; depth++) {
		if (same_dir(cur, dirfd)) {
			close(cur);
			if (!depth)
				pr_err("--prev-images-dir %s is the images directory itself", rel);
			else
				pr_err("--prev-images-dir %s would make a loop: the images "
				       "directory is its ancestor", rel);
			return -ELOOP;
		}
		next = openat(cur, "parent", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		close(cur);
		if (next < 0 && errno == ELOOP) {
			pr_err("--prev-images-dir %s: its chain of parent links loops", rel);
			return -ELOOP;
		}
		cur = next;
	}
	if (cur < 0)
		return 0;	/* the end of the chain */
	close(cur);
	pr_err("--prev-images-dir %s: more than %d parents, or a loop", rel, MAX_CHAIN);
	return -ELOOP;
}

static int read_pids(struct parent *p)
{
	ProtobufCMessage *msg;
	struct img img;
	int ret;

	ret = img_open(&img, p->dirfd, IMG_PSTREE, 0);
	if (ret)
		return ret;
	while ((ret = img_read_entry(&img, &pstree_entry__descriptor, &msg)) > 0) {
		pid_t *n = realloc(p->pids, (p->nr_pids + 1) * sizeof(*n));

		if (!n) {
			protobuf_c_message_free_unpacked(msg, NULL);
			ret = -ENOMEM;
			break;
		}
		p->pids = n;
		p->pids[p->nr_pids++] = ((PstreeEntry *)msg)->pid;
		protobuf_c_message_free_unpacked(msg, NULL);
	}
	img_close(&img);
	return ret < 0 ? ret : 0;
}

int parent_open(struct parent *p, int dirfd, const char *rel)
{
	InventoryEntry *inv;
	const char *what = "inventory.img";
	int ret;

	memset(p, 0, sizeof(*p));
	p->dirfd = openat(dirfd, rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (p->dirfd < 0) {
		ret = -errno;
		pr_err("parent images %s: %s", rel, strerror(-ret));
		return ret;
	}
	ret = check_chain(dirfd, p->dirfd, rel);
	if (ret)
		goto err;
	ret = read_inventory(p->dirfd, &inv);
	if (!ret) {
		if (inv->has_dump_uptime)
			p->dump_uptime = inv->dump_uptime;
		inventory_entry__free_unpacked(inv, NULL);
		what = "pstree.img";
		ret = read_pids(p);
		/* a criu pre-dump writes none: then every pid may be in it */
		if (ret == -ENOENT) {
			p->any_pid = true;
			ret = 0;
		}
	}
	if (ret) {
		pr_err("parent images %s are not a complete image set (%s: %s)",
		       rel, what, strerror(-ret));
		ret = ret == -ENOENT ? -ENOENT : -EBADMSG;
		goto err;
	}
	return 0;
err:
	parent_close(p);
	return ret;
}

void parent_close(struct parent *p)
{
	if (p->dirfd >= 0)
		close(p->dirfd);
	p->dirfd = -1;
	free(p->pids);
	p->pids = NULL;
	p->nr_pids = 0;
}

static bool parent_has(const struct parent *p, pid_t vpid)
{
	if (p->any_pid)
		return true;
	for (unsigned int i = 0; i < p->nr_pids; i++)
		if (p->pids[i] == vpid)
			return true;
	return false;
}

static int map_add(struct parent_map *m, unsigned long start, unsigned long end,
		   unsigned int *cap)
{
	if (m->nr && m->r[m->nr - 1].end == start) {
		m->r[m->nr - 1].end = end;
		return 0;
	}
	if (m->nr && start < m->r[m->nr - 1].end)
		return -EBADMSG;	/* entries must be in address order */
	if (m->nr == *cap) {
		unsigned int ncap = *cap ? 2 * *cap : 64;
		struct prange *n = realloc(m->r, ncap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		m->r = n;
		*cap = ncap;
	}
	m->r[m->nr].start = start;
	m->r[m->nr].end = end;
	m->nr++;
	return 0;
}

/* the ranges of one pagemap image of the parent; none if it has no such image */
static int map_read(const struct parent *p, enum image_type type, unsigned long id,
		    struct parent_map *m)
{
	ProtobufCMessage *msg;
	unsigned int cap = 0;
	struct img img;
	int ret;

	ret = img_open(&img, p->dirfd, type, id);
	if (ret == -ENOENT)
		return 0;
	if (ret)
		return ret;
	ret = img_read_entry(&img, &pagemap_head__descriptor, &msg);
	if (ret <= 0) {
		ret = ret ? ret : -EBADMSG;
		goto out;
	}
	protobuf_c_message_free_unpacked(msg, NULL);
	while ((ret = img_read_entry(&img, &pagemap_entry__descriptor, &msg)) > 0) {
		PagemapEntry *pe = (PagemapEntry *)msg;

		ret = map_add(m, pe->vaddr, pe->vaddr + pagemap_entry_pages(pe) * PAGE_SIZE, &cap);
		pagemap_entry__free_unpacked(pe, NULL);
		if (ret)
			break;
	}
out:
	img_close(&img);
	if (ret < 0) {
		pr_errno(ret, "parent %s-%lu.img is corrupt",
			 type == IMG_SHMEM_PAGEMAP ? "pagemap-shmem" : "pagemap", id);
		parent_map_free(m);
	}
	return ret < 0 ? ret : 0;
}

int parent_map_load(const struct parent *p, pid_t vpid, unsigned long long start_ticks,
		    struct parent_map *m)
{
	memset(m, 0, sizeof(*m));
	if (p->dirfd < 0)
		return 0;
	if (!parent_has(p, vpid)) {
		pr_info("pid %d is not in the parent's pstree.img: dumping it in full", vpid);
		return 0;
	}
	if (p->dump_uptime) {
		unsigned long long dump_ticks = p->dump_uptime / (1000000 / sysconf(_SC_CLK_TCK));

		if (start_ticks >= dump_ticks) {
			pr_warn("pid %d was reused since the parent dump: dumping it in full", vpid);
			return 0;
		}
	}
	return map_read(p, IMG_PAGEMAP, vpid, m);
}

int parent_map_load_shmem(const struct parent *p, unsigned long shmid, struct parent_map *m)
{
	memset(m, 0, sizeof(*m));
	if (p->dirfd < 0)
		return 0;
	return map_read(p, IMG_SHMEM_PAGEMAP, shmid, m);
}

bool parent_map_covers(const struct parent_map *m, unsigned long addr)
{
	unsigned int lo = 0, hi = m->nr;

	while (lo < hi) {
		unsigned int mid = lo + (hi - lo) / 2;

		if (addr < m->r[mid].start)
			hi = mid;
		else if (addr >= m->r[mid].end)
			lo = mid + 1;
		else
			return true;
	}
	return false;
}

unsigned long parent_map_span(const struct parent_map *m, unsigned long addr, unsigned long end,
			      bool *covered)
{
	unsigned int lo = 0, hi = m->nr;

	/* the first range ending after @addr */
	while (lo < hi) {
		unsigned int mid = lo + (hi - lo) / 2;

		if (m->r[mid].end <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	*covered = lo < m->nr && m->r[lo].start <= addr;
	if (lo == m->nr)
		return end;
	return MIN(end, *covered ? m->r[lo].end : m->r[lo].start);
}

void parent_map_free(struct parent_map *m)
{
	free(m->r);
	memset(m, 0, sizeof(*m));
}
