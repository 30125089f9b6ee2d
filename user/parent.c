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
#include <string.h>
#include <unistd.h>

#include "image.h"
#include "inventory.pb-c.h"
#include "log.h"
#include "pagemap-entry.h"
#include "parent.h"
#include "sink.h"
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

int parent_open(struct parent *p, int dirfd, const char *rel)
{
	InventoryEntry *inv;
	int ret;

	p->dump_uptime = 0;
	p->dirfd = openat(dirfd, rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (p->dirfd < 0) {
		ret = -errno;
		pr_err("parent images %s: %s", rel, strerror(-ret));
		return ret;
	}
	ret = read_inventory(p->dirfd, &inv);
	if (ret) {
		pr_err("parent images %s are not a complete image set (inventory.img: %s)",
		       rel, strerror(-ret));
		close(p->dirfd);
		p->dirfd = -1;
		return ret == -ENOENT ? -ENOENT : -EBADMSG;
	}
	if (inv->has_dump_uptime)
		p->dump_uptime = inv->dump_uptime;
	inventory_entry__free_unpacked(inv, NULL);
	return 0;
}

void parent_close(struct parent *p)
{
	if (p->dirfd >= 0)
		close(p->dirfd);
	p->dirfd = -1;
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

int parent_map_load(const struct parent *p, pid_t vpid, unsigned long long start_ticks,
		    struct parent_map *m)
{
	ProtobufCMessage *msg;
	unsigned int cap = 0;
	struct img img;
	int ret;

	memset(m, 0, sizeof(*m));
	if (p->dirfd < 0)
		return 0;
	if (p->dump_uptime) {
		unsigned long long dump_ticks = p->dump_uptime / (1000000 / sysconf(_SC_CLK_TCK));

		if (start_ticks >= dump_ticks) {
			pr_warn("pid %d was reused since the parent dump: dumping it in full", vpid);
			return 0;
		}
	}
	ret = img_open(&img, p->dirfd, IMG_PAGEMAP, vpid);
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
		pr_errno(ret, "parent pagemap-%d.img is corrupt", vpid);
		parent_map_free(m);
	}
	return ret < 0 ? ret : 0;
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

void parent_map_free(struct parent_map *m)
{
	free(m->r);
	memset(m, 0, sizeof(*m));
}
