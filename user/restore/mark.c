// SPDX-License-Identifier: GPL-2.0
/* which pages a restore may leave to memsplice: see mark.h */
#define LOG_PREFIX "restore: "

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "collect/vma.h"
#include "images/image.h"
#include "images/pagemap-entry.h"
#include "log.h"
#include "mm.pb-c.h"
#include "restore/mark.h"
#include "util.h"

#define PAGE		4096ULL
#define PE_PARENT	1u
#define PE_LAZY		2u
#define PE_PRESENT	4u

/* criu's vma_entry_can_be_lazy() */
static bool can_be_lazy(const VmaEntry *v)
{
	return (v->flags & MAP_ANONYMOUS) && (v->flags & MAP_PRIVATE) &&
	       !(v->flags & (MAP_LOCKED | MAP_HUGETLB)) &&
	       !(v->status & (VMA_AREA_VDSO | VMA_AREA_VSYSCALL | VMA_AREA_VVAR));
}

struct cut {
	const MmEntry *mm;
	size_t vma;			/* the first VMA that may hold what comes next */
};

/* where the run from @a (up to @end) stops being one kind; *@lazy its kind */
static uint64_t next_cut(struct cut *c, uint64_t a, uint64_t end, bool *lazy)
{
	const VmaEntry *v;
	uint64_t stop = end;

	while (c->vma < c->mm->n_vmas && c->mm->vmas[c->vma]->end <= a)
		c->vma++;
	v = c->vma < c->mm->n_vmas ? c->mm->vmas[c->vma] : NULL;
	if (!v || v->start > a) {
		*lazy = false;			/* no VMA: criu will say so */
		return v && v->start < stop ? v->start : stop;
	}
	*lazy = can_be_lazy(v);
	return MIN(stop, v->end);
}

static int put(struct img *out, uint64_t a, uint64_t e, uint32_t flags)
{
	PagemapEntry pe = PAGEMAP_ENTRY__INIT;

	pe.vaddr = a;
	pe.has_flags = true;
	pe.flags = flags;
	pagemap_entry_set_pages(&pe, (e - a) / PAGE);
	return img_write_entry(out, &pe.base);
}

/* the entries of @in into @out, present runs cut by kind; lazy ones into @m */
static int rewrite(struct img *in, struct img *out, struct cut *c, struct mark *m,
		   uint64_t pages_size)
{
	uint64_t off = 0;
	ProtobufCMessage *msg;
	int ret;

	while ((ret = img_read_entry(in, &pagemap_entry__descriptor, &msg)) == 1) {
		PagemapEntry *pe = (PagemapEntry *)msg;
		uint32_t flags = pe->has_flags ? pe->flags :
				 pe->in_parent ? PE_PARENT : PE_PRESENT;
		uint64_t a = pe->vaddr, end = a + pagemap_entry_pages(pe) * PAGE;

		if (!(flags & PE_PRESENT)) {
			ret = img_write_entry(out, msg);
			if (!ret && (flags & PE_LAZY) && !(flags & PE_PARENT) && a < end)
				ret = runs_add(&m->remote, a, end, 0);
		} else if (off + (end - a) > pages_size) {
			pr_err("pages-%lu.img is shorter than its pagemap says",
			       m->pages_id);
			ret = -EBADMSG;
		} else {
			ret = 0;
			while (!ret && a < end) {
				bool lazy;
				uint64_t e = next_cut(c, a, end, &lazy);

				ret = put(out, a, e, PE_PRESENT | (lazy ? PE_LAZY : 0));
				if (!ret && lazy)
					ret = runs_add(&m->lazy, a, e, off);
				off += e - a;
				a = e;
			}
		}
		protobuf_c_message_free_unpacked(msg, NULL);
		if (ret)
			return ret;
	}
	return ret;
}

static MmEntry *read_mm(int dirfd, pid_t pid)
{
	ProtobufCMessage *msg = NULL;
	struct img img;
	int ret = img_open(&img, dirfd, IMG_MM, pid);

	if (!ret) {
		ret = img_read_entry(&img, &mm_entry__descriptor, &msg);
		img_close(&img);
	}
	if (ret <= 0) {
		pr_err("mm-%d.img: %s", pid, ret ? strerror(-ret) : "empty");
		return NULL;
	}
	return (MmEntry *)msg;
}

static int pages_size(int dirfd, unsigned long id, uint64_t *size)
{
	char name[64];
	struct stat st;

	img_name(IMG_PAGES, id, name, sizeof(name));
	if (fstatat(dirfd, name, &st, 0)) {
		pr_perror("%s", name);
		return -errno;
	}
	*size = st.st_size;
	return 0;
}

int mark_lazy(int dirfd, pid_t pid, struct mark *m)
{
	char name[64], part[80];
	struct cut c = { 0 };
	ProtobufCMessage *head = NULL;
	struct img in, out;
	MmEntry *mm = NULL;
	uint64_t size = 0;
	int ret = -EBADMSG;

	memset(m, 0, sizeof(*m));
	mm = read_mm(dirfd, pid);
	if (!mm)
		goto out;
	c.mm = mm;
	ret = img_open(&in, dirfd, IMG_PAGEMAP, pid);
	if (ret) {
		pr_errno(ret, "pagemap-%d.img", pid);
		goto out;
	}
	ret = img_read_entry(&in, &pagemap_head__descriptor, &head);
	if (ret <= 0) {
		pr_err("pagemap-%d.img: no head", pid);
		ret = ret ? ret : -EBADMSG;
		goto close_in;
	}
	m->pages_id = ((PagemapHead *)head)->pages_id;
	ret = pages_size(dirfd, m->pages_id, &size);
	if (ret)
		goto close_in;
	img_name(IMG_PAGEMAP, pid, name, sizeof(name));
	snprintf(part, sizeof(part), ".%s.part", name);
	ret = img_create(&out, dirfd, part, IMG_PAGEMAP);
	if (ret) {
		pr_errno(ret, "%s", part);
		goto close_in;
	}
	ret = img_write_entry(&out, head);
	if (!ret)
		ret = rewrite(&in, &out, &c, m, size);
	if (!ret && fsync(out.fd))
		ret = -errno;
	if (img_close(&out) && !ret)
		ret = -EIO;
	if (!ret && renameat(dirfd, part, dirfd, name))
		ret = -errno;
	if (ret) {
		pr_errno(ret, "rewriting %s", name);
		unlinkat(dirfd, part, 0);
	}
close_in:
	img_close(&in);
out:
	if (head)
		protobuf_c_message_free_unpacked(head, NULL);
	if (mm)
		mm_entry__free_unpacked(mm, NULL);
	if (ret)
		mark_free(m);
	return ret;
}

void mark_free(struct mark *m)
{
	runs_free(&m->lazy);
	runs_free(&m->remote);
}
