// SPDX-License-Identifier: GPL-2.0
/*
 * The receiver's page store (store.h): listings in memory, data in page
 * slots, the committed listings in an index file replaced by rename.
 */
#define LOG_PREFIX "store: "

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "receive/store.h"
#include "sink/sink.h"
#include "util.h"

#define INDEX		"index"
#define INDEX_TMP	"index.tmp"
#define PAGES		"pages"
#define INDEX_MAGIC	0x7473736dU	/* "msst" */
#define INDEX_VERSION	1

/* the index file: this header, per object its id and run count then its runs, a checksum */
struct index_hdr {
	uint32_t magic, version;
	uint64_t rounds, nr_objects, nr_runs;
};

struct index_obj {
	uint64_t id, nr_runs;
};

struct index_run {
	uint64_t vaddr, nr;
	uint32_t flags, pad;
	uint64_t slot;
};

struct obj {
	uint64_t id;
	struct store_run *runs;
	size_t nr, cap;
};

struct store {
	int dirfd, pages;
	struct obj *objs;		/* committed, ascending ids */
	size_t nr_objs;
	struct obj *round;		/* the open round's listings */
	size_t nr_round;
	struct obj *cur;		/* the one being listed */
	bool open;
	uint64_t rounds;		/* committed */
	uint64_t *used;			/* a bit per slot: committed or the round's */
	uint64_t nr_bits, hint;
};

static uint64_t fnv1a(uint64_t h, const void *p, size_t len)
{
	const unsigned char *c = p;

	while (len--)
		h = (h ^ *c++) * 0x100000001b3ULL;
	return h;
}

static const struct obj *committed(const struct store *s, uint64_t id)
{
	size_t lo = 0, hi = s->nr_objs;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (s->objs[mid].id == id)
			return &s->objs[mid];
		if (s->objs[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* ---- slots --------------------------------------------------------------- */

static bool slot_used(const struct store *s, uint64_t slot)
{
	return slot < s->nr_bits && (s->used[slot / 64] >> (slot % 64) & 1);
}

static int slots_grow(struct store *s, uint64_t need)
{
	uint64_t bits = s->nr_bits ?: 4096, *p;

	while (bits < need)
		bits *= 2;
	if (bits == s->nr_bits)
		return 0;
	p = realloc(s->used, bits / 8);
	if (!p)
		return -ENOMEM;
	memset((char *)p + s->nr_bits / 8, 0, (bits - s->nr_bits) / 8);
	s->used = p;
	s->nr_bits = bits;
	return 0;
}

/* mark @nr slots from @slot; -EBADMSG if one is taken already (an index lying) */
static int slots_mark(struct store *s, uint64_t slot, uint64_t nr)
{
	int ret = slots_grow(s, slot + nr);

	for (uint64_t i = slot; !ret && i < slot + nr; i++) {
		if (slot_used(s, i))
			return -EBADMSG;
		s->used[i / 64] |= 1ULL << (i % 64);
	}
	return ret;
}

/* the bitmap from the committed listings alone */
static void slots_rebuild(struct store *s)
{
	memset(s->used, 0, s->nr_bits / 8);
	for (size_t i = 0; i < s->nr_objs; i++)
		for (size_t k = 0; k < s->objs[i].nr; k++)
			if (s->objs[i].runs[k].flags & PE_PRESENT)
				slots_mark(s, s->objs[i].runs[k].slot, s->objs[i].runs[k].nr);
	s->hint = 0;
}

/* up to @nr free consecutive slots: the first in *@first, how many returned */
static uint64_t slots_alloc(struct store *s, uint64_t nr, uint64_t *first)
{
	uint64_t n = 0;

	while (slot_used(s, s->hint))
		s->hint++;
	*first = s->hint;
	while (n < nr && !slot_used(s, *first + n))
		n++;
	if (slots_mark(s, *first, n))
		return 0;
	s->hint = *first + n;
	return n;
}

/* ---- listings ------------------------------------------------------------ */

static void obj_free(struct obj *o)
{
	free(o->runs);
	o->runs = NULL;
	o->nr = o->cap = 0;
}

static void objs_free(struct obj *objs, size_t nr)
{
	for (size_t i = 0; i < nr; i++)
		obj_free(&objs[i]);
	free(objs);
}

/* append a run to @o, merged with the last one where it continues it */
static int obj_append(struct obj *o, uint64_t vaddr, uint64_t nr, uint32_t flags, uint64_t slot)
{
	struct store_run *last = o->nr ? &o->runs[o->nr - 1] : NULL;

	if (last && last->flags == flags && last->vaddr + last->nr * PAGE_SIZE == vaddr &&
	    (!(flags & PE_PRESENT) || last->slot + last->nr == slot)) {
		last->nr += nr;
		return 0;
	}
	if (o->nr == o->cap) {
		size_t cap = o->cap ? o->cap * 2 : 16;
		struct store_run *r = realloc(o->runs, cap * sizeof(*r));

		if (!r)
			return -ENOMEM;
		o->runs = r;
		o->cap = cap;
	}
	o->runs[o->nr++] = (struct store_run){ vaddr, nr, flags, flags & PE_PRESENT ? slot : 0 };
	return 0;
}

/* whether @o's next run may be @nr pages at @vaddr: aligned, after its last one, below 2^64 */
static bool run_fits(const struct obj *o, uint64_t vaddr, uint64_t nr)
{
	const struct store_run *last = o->nr ? &o->runs[o->nr - 1] : NULL;

	return nr && !(vaddr % PAGE_SIZE) && nr <= (UINT64_MAX - vaddr) / PAGE_SIZE &&
	       (!last || vaddr >= last->vaddr + last->nr * PAGE_SIZE);
}

static int check_next(const struct store *s, uint64_t vaddr, uint64_t nr)
{
	if (!s->open || !s->cur) {
		pr_err("pages outside an open object of an open round");
		return -EINVAL;
	}
	if (!run_fits(s->cur, vaddr, nr)) {
		pr_err("object %#llx: %llu pages at %#llx: not page aligned, not after what it "
		       "listed last, or past 2^64", (unsigned long long)s->cur->id,
		       (unsigned long long)nr, (unsigned long long)vaddr);
		return -EINVAL;
	}
	return 0;
}

int store_begin(struct store *s)
{
	if (s->open)
		return -EBUSY;
	s->open = true;
	s->hint = 0;
	return 0;
}

bool store_holds(const struct store *s, uint64_t id)
{
	const struct obj *c = committed(s, id);

	for (size_t k = 0; c && k < c->nr; k++)
		if (c->runs[k].flags & PE_PRESENT)
			return true;
	return false;
}

int store_object(struct store *s, uint64_t id, bool *held)
{
	struct obj *r;

	if (!s->open)
		return -EINVAL;
	for (size_t i = 0; i < s->nr_round; i++)
		if (s->round[i].id == id) {
			pr_err("object %#llx opened twice in one round", (unsigned long long)id);
			return -EEXIST;
		}
	r = realloc(s->round, (s->nr_round + 1) * sizeof(*r));
	if (!r)
		return -ENOMEM;
	s->round = r;
	s->cur = &r[s->nr_round++];
	*s->cur = (struct obj){ .id = id };
	*held = store_holds(s, id);
	return 0;
}

int store_put(struct store *s, uint64_t vaddr, uint64_t nr, store_fill_fn fill, void *arg)
{
	int ret = check_next(s, vaddr, nr);

	while (!ret && nr) {
		uint64_t first, got = slots_alloc(s, nr, &first);

		if (!got)
			return -ENOMEM;
		ret = obj_append(s->cur, vaddr, got, PE_PRESENT, first);
		if (!ret)
			ret = fill(arg, s->pages, (off_t)(first * PAGE_SIZE), got * PAGE_SIZE);
		vaddr += got * PAGE_SIZE;
		nr -= got;
	}
	return ret;
}

/*
 * the committed run of the current object holding the page at @vaddr, its
 * index from *@k on (runs are walked in address order); NULL if none does
 */
static const struct store_run *held_run(const struct obj *c, size_t *k, uint64_t vaddr)
{
	while (c && *k < c->nr && c->runs[*k].vaddr + c->runs[*k].nr * PAGE_SIZE <= vaddr)
		(*k)++;
	if (!c || *k == c->nr || c->runs[*k].vaddr > vaddr || !(c->runs[*k].flags & PE_PRESENT))
		return NULL;
	return &c->runs[*k];
}

int store_keep(struct store *s, uint64_t vaddr, uint64_t nr)
{
	int ret = check_next(s, vaddr, nr);
	const struct obj *c = ret ? NULL : committed(s, s->cur->id);
	uint64_t end = vaddr + nr * PAGE_SIZE;
	size_t k = 0;

	/* all of it held, or nothing of it listed */
	for (uint64_t a = vaddr; !ret && a != end;) {
		const struct store_run *r = held_run(c, &k, a);

		if (!r) {
			pr_err("object %#llx: the sender keeps the page at %#llx from an earlier "
			       "round, which sent none", (unsigned long long)s->cur->id,
			       (unsigned long long)a);
			return -ENOENT;
		}
		a = MIN(end, r->vaddr + r->nr * PAGE_SIZE);
	}
	k = 0;
	while (!ret && vaddr != end) {
		const struct store_run *r = held_run(c, &k, vaddr);
		uint64_t off = (vaddr - r->vaddr) / PAGE_SIZE;
		uint64_t n = MIN(r->nr - off, (end - vaddr) / PAGE_SIZE);

		ret = obj_append(s->cur, vaddr, n, PE_PRESENT, r->slot + off);
		vaddr += n * PAGE_SIZE;
	}
	return ret;
}

int store_hole(struct store *s, uint64_t vaddr, uint64_t nr, uint32_t flags)
{
	int ret = check_next(s, vaddr, nr);

	if (!ret && (flags & (PE_PRESENT | PE_PARENT)))
		ret = -EINVAL;
	return ret ?: obj_append(s->cur, vaddr, nr, flags, 0);
}

/* ---- the index ----------------------------------------------------------- */

static int cmp_obj(const void *a, const void *b)
{
	const struct obj *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

static int index_write(struct store *s, const struct obj *objs, size_t nr_objs)
{
	struct index_hdr h = { INDEX_MAGIC, INDEX_VERSION, s->rounds + 1, nr_objs, 0 };
	size_t len, off;
	uint64_t sum;
	char *buf;
	int fd, ret = 0;

	for (size_t i = 0; i < nr_objs; i++)
		h.nr_runs += objs[i].nr;
	len = sizeof(h) + nr_objs * sizeof(struct index_obj) + h.nr_runs * sizeof(struct index_run) +
	      sizeof(sum);
	buf = malloc(len);
	if (!buf)
		return -ENOMEM;
	memcpy(buf, &h, sizeof(h));
	off = sizeof(h);
	for (size_t i = 0; i < nr_objs; i++) {
		struct index_obj io = { objs[i].id, objs[i].nr };

		memcpy(buf + off, &io, sizeof(io));
		off += sizeof(io);
		for (size_t k = 0; k < objs[i].nr; k++) {
			const struct store_run *r = &objs[i].runs[k];
			struct index_run ir = { r->vaddr, r->nr, r->flags, 0, r->slot };

			memcpy(buf + off, &ir, sizeof(ir));
			off += sizeof(ir);
		}
	}
	sum = fnv1a(0xcbf29ce484222325ULL, buf, off);
	memcpy(buf + off, &sum, sizeof(sum));

	fd = openat(s->dirfd, INDEX_TMP, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		ret = -errno;
		pr_perror("cannot create " INDEX_TMP);
		goto out_buf;
	}
	ret = write_all(fd, buf, len);
	if (!ret && fsync(fd))
		ret = -errno;
	if (close(fd) && !ret)
		ret = -errno;
	if (!ret && renameat(s->dirfd, INDEX_TMP, s->dirfd, INDEX))
		ret = -errno;
	if (!ret && fsync(s->dirfd))
		ret = -errno;
	if (ret)
		pr_errno(ret, "cannot write the index");
out_buf:
	free(buf);
	return ret;
}

/* the committed listings from the index in @buf (@len bytes); -EBADMSG if it does not check out */
static int index_parse(struct store *s, const char *buf, size_t len, uint64_t nr_slots)
{
	struct index_hdr h;
	uint64_t sum;
	size_t off = sizeof(h);

	if (len < sizeof(h) + sizeof(sum))
		return -EBADMSG;
	memcpy(&h, buf, sizeof(h));
	memcpy(&sum, buf + len - sizeof(sum), sizeof(sum));
	if (h.magic != INDEX_MAGIC || h.version != INDEX_VERSION ||
	    sum != fnv1a(0xcbf29ce484222325ULL, buf, len - sizeof(sum)) ||
	    h.nr_objects > len / sizeof(struct index_obj) || h.nr_runs > len / sizeof(struct index_run) ||
	    len != sizeof(h) + h.nr_objects * sizeof(struct index_obj) +
		   h.nr_runs * sizeof(struct index_run) + sizeof(sum))
		return -EBADMSG;
	s->rounds = h.rounds;
	s->objs = calloc(h.nr_objects ?: 1, sizeof(*s->objs));
	if (!s->objs)
		return -ENOMEM;
	for (uint64_t i = 0; i < h.nr_objects; i++) {
		struct obj *o = &s->objs[s->nr_objs++];
		struct index_obj io;

		memcpy(&io, buf + off, sizeof(io));
		off += sizeof(io);
		if (io.nr_runs > (len - off) / sizeof(struct index_run) ||
		    (i && io.id <= o[-1].id))
			return -EBADMSG;
		o->id = io.id;
		for (uint64_t k = 0; k < io.nr_runs; k++) {
			struct index_run ir;
			int ret = 0;

			memcpy(&ir, buf + off, sizeof(ir));
			off += sizeof(ir);
			if (!run_fits(o, ir.vaddr, ir.nr) ||
			    ((ir.flags & PE_PRESENT) && (ir.slot > nr_slots || ir.nr > nr_slots - ir.slot)))
				return -EBADMSG;
			if (ir.flags & PE_PRESENT)
				ret = slots_mark(s, ir.slot, ir.nr);	/* -EBADMSG: a slot twice */
			if (!ret)
				ret = obj_append(o, ir.vaddr, ir.nr, ir.flags, ir.slot);
			if (ret)
				return ret;
		}
	}
	return 0;
}

static int index_load(struct store *s)
{
	struct stat pages, st;
	char *buf;
	ssize_t n;
	int fd, ret;

	if (fstat(s->pages, &pages))
		return -errno;
	fd = openat(s->dirfd, INDEX, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	if (fstat(fd, &st)) {
		ret = -errno;
		goto out_fd;
	}
	buf = malloc(st.st_size ?: 1);
	if (!buf) {
		ret = -ENOMEM;
		goto out_fd;
	}
	n = pread_all(fd, buf, st.st_size, 0);
	ret = n < 0 ? (int)n : n != st.st_size ? -EBADMSG : 0;
	if (!ret)
		ret = index_parse(s, buf, st.st_size, (uint64_t)pages.st_size / PAGE_SIZE);
	if (ret == -EBADMSG)
		pr_err("the index does not check out: the store is damaged");
	free(buf);
out_fd:
	close(fd);
	return ret;
}

/* ---- commit, abort, open, close ------------------------------------------ */

int store_commit(struct store *s)
{
	size_t nr = s->nr_objs;
	struct obj *objs;
	uint64_t end = 0;
	int ret;

	if (!s->open)
		return -EINVAL;
	objs = calloc(s->nr_objs + s->nr_round ?: 1, sizeof(*objs));
	if (!objs)
		return -ENOMEM;
	memcpy(objs, s->objs, s->nr_objs * sizeof(*objs));
	for (size_t i = 0; i < s->nr_round; i++) {
		struct obj *old = bsearch(&s->round[i], objs, s->nr_objs, sizeof(*objs), cmp_obj);

		if (old)
			*old = s->round[i];
		else
			objs[nr++] = s->round[i];
	}
	qsort(objs, nr, sizeof(*objs), cmp_obj);
	ret = fdatasync(s->pages) ? -errno : 0;		/* the data before the index naming it */
	if (ret)
		pr_errno(ret, "cannot write the pages back");
	if (!ret)
		ret = index_write(s, objs, nr);
	if (ret) {
		free(objs);
		return ret;
	}
	/* the listings replaced go; the round's are the store's now */
	for (size_t i = 0; i < s->nr_round; i++) {
		const struct obj *old = committed(s, s->round[i].id);

		if (old)
			free(old->runs);
	}
	free(s->objs);
	free(s->round);
	s->objs = objs;
	s->nr_objs = nr;
	s->round = NULL;
	s->nr_round = 0;
	s->cur = NULL;
	s->open = false;
	s->rounds++;
	slots_rebuild(s);
	/* what no listing holds past the last slot in use goes back to the filesystem */
	for (uint64_t i = 0; i < s->nr_bits; i++)
		if (slot_used(s, i))
			end = i + 1;
	if (ftruncate(s->pages, (off_t)(end * PAGE_SIZE)))
		pr_warn("cannot shrink the pages file: %s", strerror(errno));
	return 0;
}

void store_abort(struct store *s)
{
	objs_free(s->round, s->nr_round);
	s->round = NULL;
	s->nr_round = 0;
	s->cur = NULL;
	s->open = false;
	slots_rebuild(s);
}

int store_open(const char *path, struct store **sp)
{
	struct store *s = calloc(1, sizeof(*s));
	int ret;

	if (!s)
		return -ENOMEM;
	s->pages = -1;
	if (mkdir(path, 0700) && errno != EEXIST) {
		ret = -errno;
		pr_perror("cannot create %s", path);
		goto out_free;
	}
	s->dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->dirfd < 0) {
		ret = -errno;
		pr_perror("cannot open %s", path);
		goto out_free;
	}
	s->pages = openat(s->dirfd, PAGES, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (s->pages < 0) {
		ret = -errno;
		pr_perror("cannot open %s/" PAGES, path);
		goto out_dir;
	}
	ret = slots_grow(s, 1);
	if (!ret)
		ret = index_load(s);
	if (ret)
		goto out_pages;
	*sp = s;
	return 0;

out_pages:
	objs_free(s->objs, s->nr_objs);
	free(s->used);
	close(s->pages);
out_dir:
	close(s->dirfd);
out_free:
	free(s);
	return ret;
}

void store_close(struct store *s)
{
	if (!s)
		return;
	if (s->open)
		store_abort(s);
	objs_free(s->objs, s->nr_objs);
	free(s->used);
	close(s->pages);
	close(s->dirfd);
	free(s);
}

uint64_t store_rounds(const struct store *s)
{
	return s->rounds;
}

size_t store_nr_objects(const struct store *s)
{
	return s->nr_objs;
}

uint64_t store_object_id(const struct store *s, size_t i)
{
	return s->objs[i].id;
}

const struct store_run *store_runs(const struct store *s, uint64_t id, size_t *nr)
{
	const struct obj *o = committed(s, id);

	*nr = o ? o->nr : 0;
	return o ? o->runs : NULL;
}

int store_pages_fd(const struct store *s)
{
	return s->pages;
}
