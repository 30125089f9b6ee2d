// SPDX-License-Identifier: GPL-2.0
/* the store as one layer of images: see flat.h */
#define LOG_PREFIX "receive: "

#include <errno.h>
#include <fcntl.h>
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

#define STEP	(256 * PAGE_SIZE)	/* bytes moved from the store per step */

/*
 * one held run: its slots spliced from the store's file into @pipe (page
 * references, no copy), the sink splicing them on into the pages image
 */
static int put_run(struct page_sink *sink, const struct store *s, const struct store_run *r,
		   const int pipe[2])
{
	for (uint64_t done = 0; done < r->nr * PAGE_SIZE;) {
		size_t len = MIN(STEP, r->nr * PAGE_SIZE - done);
		struct page_data d = { .buf = NULL, .pipe_fd = pipe[0], .len = len };
		loff_t off = r->slot * PAGE_SIZE + done;
		int ret;

		for (size_t in = 0; in < len;) {
			ssize_t n = splice(store_pages_fd(s), &off, pipe[1], NULL, len - in,
					   SPLICE_F_MOVE);

			if (n <= 0) {
				pr_err("the store's pages file is short or unreadable: damaged");
				return n < 0 ? -errno : -EIO;
			}
			in += n;
		}
		ret = sink->ops->put_pages(sink, r->vaddr + done, &d);
		if (ret)
			return ret;
		done += len;
	}
	return 0;
}

static int put_object(struct page_sink *sink, const struct store *s, uint64_t id,
		      const int pipe[2])
{
	enum pagemap_kind kind = (id & ((1u << PS_TYPE_BITS) - 1)) == PS_TYPE_SHMEM ?
				 PAGEMAP_SHMEM : PAGEMAP_TASK;
	size_t nr;
	const struct store_run *r = store_runs(s, id, &nr);
	int ret = sink->ops->open(sink, kind, id >> PS_TYPE_BITS), ret2;

	for (size_t i = 0; !ret && i < nr; i++)
		ret = r[i].flags & PE_PRESENT ? put_run(sink, s, &r[i], pipe) :
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
	int pipe[2], ret;

	if (pipe2(pipe, O_CLOEXEC))
		return -errno;
	if (fcntl(pipe[1], F_SETPIPE_SZ, (int)STEP) < (int)STEP) {
		ret = -errno ?: -ENOMEM;
		pr_errno(ret, "cannot size a pipe to %lu bytes", STEP);
		goto out_pipe;
	}
	ret = imgset_open(&set, dir, false);
	if (ret)
		goto out_pipe;
	ret = sink_image_create(&sink, &set);
	if (ret)
		goto out_set;
	for (size_t i = 0; !ret && i < store_nr_objects(s); i++)
		ret = put_object(&sink, s, store_object_id(s, i), pipe);
	if (!ret && syncfs(set.dirfd)) {
		ret = -errno;
		pr_errno(ret, "cannot write %s back", dir);
	}
	sink_image_destroy(&sink);
	if (ret)
		imgset_abort(&set);
out_set:
	imgset_end(&set);
out_pipe:
	close(pipe[0]);
	close(pipe[1]);
	return ret;
}
