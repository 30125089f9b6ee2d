// SPDX-License-Identifier: GPL-2.0
/* the store as one layer of images: see flat.h */
#define LOG_PREFIX "receive: "

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "images/imgset.h"
#include "log.h"
#include "proto/pageserver.h"
#include "receive/flat.h"
#include "receive/store.h"
#include "sink/image.h"
#include "source/source.h"
#include "util.h"

#define STEP	(256 * PAGE_SIZE)	/* bytes read from the store per write */

/* one held run, its data read from the store's slots */
static int put_run(struct page_sink *sink, const struct store *s, const struct store_run *r,
		   char *buf)
{
	for (uint64_t done = 0; done < r->nr * PAGE_SIZE;) {
		size_t len = MIN(STEP, r->nr * PAGE_SIZE - done);
		struct page_data d = { .buf = buf, .pipe_fd = -1, .len = len };
		ssize_t n = pread_all(store_pages_fd(s), buf, len, r->slot * PAGE_SIZE + done);
		int ret;

		if (n != (ssize_t)len) {
			pr_err("the store's pages file is short: damaged");
			return n < 0 ? (int)n : -EIO;
		}
		ret = sink->ops->put_pages(sink, r->vaddr + done, &d);
		if (ret)
			return ret;
		done += len;
	}
	return 0;
}

static int put_object(struct page_sink *sink, const struct store *s, uint64_t id, char *buf)
{
	enum pagemap_kind kind = (id & ((1u << PS_TYPE_BITS) - 1)) == PS_TYPE_SHMEM ?
				 PAGEMAP_SHMEM : PAGEMAP_TASK;
	size_t nr;
	const struct store_run *r = store_runs(s, id, &nr);
	int ret = sink->ops->open(sink, kind, id >> PS_TYPE_BITS), ret2;

	for (size_t i = 0; !ret && i < nr; i++)
		ret = r[i].flags & PE_PRESENT ? put_run(sink, s, &r[i], buf) :
		      sink->ops->put_hole(sink, r[i].vaddr, r[i].nr, r[i].flags);
	ret2 = ret ? 0 : sink->ops->close(sink);
	if (ret2)
		pr_errno(ret2, "cannot write the pagemap of object %#llx", (unsigned long long)id);
	return ret ?: ret2;
}

int flat_write(const struct store *s, const char *dir)
{
	struct page_sink sink;
	struct imgset set;
	char *buf = malloc(STEP);
	int ret;

	if (!buf)
		return -ENOMEM;
	ret = imgset_open(&set, dir, false);
	if (ret)
		goto out_buf;
	ret = sink_image_create(&sink, &set);
	if (ret)
		goto out_set;
	for (size_t i = 0; !ret && i < store_nr_objects(s); i++)
		ret = put_object(&sink, s, store_object_id(s, i), buf);
	if (!ret && syncfs(set.dirfd)) {
		ret = -errno;
		pr_errno(ret, "cannot write %s back", dir);
	}
	sink_image_destroy(&sink);
	if (ret)
		imgset_abort(&set);
out_set:
	imgset_end(&set);
out_buf:
	free(buf);
	return ret;
}
