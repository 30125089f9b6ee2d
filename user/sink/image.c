// SPDX-License-Identifier: GPL-2.0
/*
 * The image-file sink: pagemap-ID.img gets the runs, pages-N.img the bytes.
 * Adjacent runs with the same flags are merged into one entry.  Bytes that
 * arrive in a pipe are spliced into the pages file without a userspace copy.
 */
#define LOG_PREFIX "sink-image: "
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "images/image.h"
#include "images/imgset.h"
#include "images/pagemap-entry.h"
#include "log.h"
#include "sink/image.h"
#include "source/source.h"
#include "util.h"

struct sink_image {
	struct imgset *set;
	struct img pagemap;
	int pages_fd;
	unsigned int next_pages_id;
	/* the entry being grown */
	unsigned long vaddr, nr_pages;
	unsigned int flags;
};

static int flush_entry(struct sink_image *si)
{
	PagemapEntry pe = PAGEMAP_ENTRY__INIT;

	if (!si->nr_pages)
		return 0;
	pe.vaddr = si->vaddr;
	pagemap_entry_set_pages(&pe, si->nr_pages);
	pe.has_flags = true;
	pe.flags = si->flags;
	si->nr_pages = 0;
	return img_write_entry(&si->pagemap, &pe.base);
}

static int add_run(struct sink_image *si, unsigned long vaddr, unsigned long nr,
		   unsigned int flags)
{
	int ret;

	if (si->nr_pages && si->flags == flags &&
	    si->vaddr + si->nr_pages * PAGE_SIZE == vaddr &&
	    si->nr_pages + nr <= UINT32_MAX) {
		si->nr_pages += nr;
		return 0;
	}
	ret = flush_entry(si);
	si->vaddr = vaddr;
	si->nr_pages = nr;
	si->flags = flags;
	return ret;
}

static int sink_image_open(struct page_sink *sink, enum pagemap_kind kind, unsigned long id)
{
	struct sink_image *si = sink->priv;
	PagemapHead head = PAGEMAP_HEAD__INIT;
	int ret;

	head.pages_id = si->next_pages_id++;
	ret = imgset_create(si->set, &si->pagemap,
			    kind == PAGEMAP_SHMEM ? IMG_SHMEM_PAGEMAP : IMG_PAGEMAP, id);
	if (ret)
		return ret;
	ret = img_write_entry(&si->pagemap, &head.base);
	if (ret) {
		pr_errno(ret, "cannot write pagemap");
		goto err_close;
	}
	si->pages_fd = imgset_create_raw(si->set, IMG_PAGES, head.pages_id);
	if (si->pages_fd < 0) {
		ret = si->pages_fd;
		goto err_close;
	}
	si->nr_pages = 0;
	return 0;

err_close:
	img_close(&si->pagemap);
	return ret;
}

static int splice_all(int in, int out, size_t len)
{
	while (len) {
		ssize_t n = splice(in, NULL, out, NULL, len, SPLICE_F_MOVE);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO;
		len -= n;
	}
	return 0;
}

static int sink_image_put_pages(struct page_sink *sink, unsigned long vaddr,
				const struct page_data *data)
{
	struct sink_image *si = sink->priv;
	int ret;

	if (data->buf)
		ret = write_all(si->pages_fd, data->buf, data->len);
	else
		ret = splice_all(data->pipe_fd, si->pages_fd, data->len);
	if (ret) {
		pr_errno(ret, "cannot write pages");
		return ret;
	}
	ret = add_run(si, vaddr, data->len / PAGE_SIZE, PE_PRESENT);
	if (ret)
		pr_errno(ret, "cannot write pagemap");
	return ret;
}

static int sink_image_put_hole(struct page_sink *sink, unsigned long vaddr,
			       unsigned long nr_pages, unsigned int flags)
{
	int ret = add_run(sink->priv, vaddr, nr_pages, flags);

	if (ret)
		pr_errno(ret, "cannot write pagemap");
	return ret;
}

static int sink_image_close(struct page_sink *sink)
{
	struct sink_image *si = sink->priv;
	int ret, ret2;

	ret = flush_entry(si);
	ret2 = img_close(&si->pagemap);
	if (!ret)
		ret = ret2;
	if (close(si->pages_fd) < 0 && !ret)
		ret = -errno;
	si->pages_fd = -1;
	return ret;
}

static const struct page_sink_ops sink_image_ops = {
	.name		= "image",
	.open		= sink_image_open,
	.put_pages	= sink_image_put_pages,
	.put_hole	= sink_image_put_hole,
	.close		= sink_image_close,
};

int sink_image_create(struct page_sink *sink, struct imgset *set)
{
	struct sink_image *si = calloc(1, sizeof(*si));

	if (!si)
		return -ENOMEM;
	si->set = set;
	si->pages_fd = -1;
	si->pagemap.fd = -1;
	si->next_pages_id = 1;
	sink->ops = &sink_image_ops;
	sink->priv = si;
	return 0;
}

void sink_image_destroy(struct page_sink *sink)
{
	struct sink_image *si = sink->priv;

	if (!si)
		return;
	if (si->pages_fd >= 0)
		close(si->pages_fd);
	img_close(&si->pagemap);
	free(si);
	sink->priv = NULL;
}
