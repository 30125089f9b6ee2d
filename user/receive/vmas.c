// SPDX-License-Identifier: GPL-2.0
/* every page in one of its process's mappings: see vmas.h */
#define LOG_PREFIX "receive: "

#include <errno.h>
#include <stdio.h>

#include "images/image.h"
#include "log.h"
#include "mm.pb-c.h"
#include "proto/pageserver.h"
#include "receive/images.h"
#include "receive/store.h"
#include "receive/vmas.h"
#include "util.h"

/* the first address from @a on that no VMA of @mm covers (VMAs sorted, may touch) */
static uint64_t covered_to(const MmEntry *mm, uint64_t a)
{
	for (size_t i = 0; i < mm->n_vmas; i++)
		if (mm->vmas[i]->start <= a && a < mm->vmas[i]->end)
			a = mm->vmas[i]->end;
	return a;
}

static int check_object(const struct store *s, uint64_t id, const MmEntry *mm)
{
	size_t nr;
	const struct store_run *r = store_runs(s, id, &nr);

	for (size_t i = 0; i < nr; i++) {
		uint64_t end = r[i].vaddr + r[i].nr * PAGE_SIZE, to = covered_to(mm, r[i].vaddr);

		if (to < end) {
			pr_err("the rounds left pages of process %llu at %#llx, outside its mappings "
			       "in mm-%llu.img: refused, the flat set not written",
			       (unsigned long long)(id >> PS_TYPE_BITS),
			       (unsigned long long)to, (unsigned long long)(id >> PS_TYPE_BITS));
			return -EPROTO;
		}
	}
	return 0;
}

int vmas_check(const struct store *s, const struct images *im)
{
	for (size_t i = 0; i < store_nr_objects(s); i++) {
		uint64_t id = store_object_id(s, i);
		ProtobufCMessage *msg = NULL;
		char name[64], staged[80];
		struct img img;
		int ret;

		if ((id & ((1u << PS_TYPE_BITS) - 1)) != PS_TYPE_PID)
			continue;
		img_name(IMG_MM, id >> PS_TYPE_BITS, name, sizeof(name));
		if (!images_staged(im, name, staged, sizeof(staged)))
			continue;
		ret = img_open_name(&img, im->dirfd, staged, IMG_MM);
		if (!ret) {
			ret = img_read_entry(&img, &mm_entry__descriptor, &msg);
			img_close(&img);
		}
		if (ret <= 0) {
			pr_err("%s, handed over by the sender, is not an mm image", name);
			return ret ? ret : -EBADMSG;
		}
		ret = check_object(s, id, (MmEntry *)msg);
		protobuf_c_message_free_unpacked(msg, NULL);
		if (ret)
			return ret;
	}
	return 0;
}
