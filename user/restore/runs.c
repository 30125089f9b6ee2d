// SPDX-License-Identifier: GPL-2.0
/* the pages a restored process still misses: see runs.h */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "restore/runs.h"

static int grow(struct runs *r, size_t more)
{
	struct run *v;
	size_t cap;

	if (r->nr + more <= r->cap)
		return 0;
	cap = r->cap ? r->cap * 2 : 16;
	while (cap < r->nr + more)
		cap *= 2;
	v = realloc(r->v, cap * sizeof(*v));
	if (!v)
		return -ENOMEM;
	r->v = v;
	r->cap = cap;
	return 0;
}

/* @run at index @i, keeping the order */
static int insert(struct runs *r, size_t i, const struct run *run)
{
	if (grow(r, 1))
		return -ENOMEM;
	memmove(&r->v[i + 1], &r->v[i], (r->nr - i) * sizeof(*r->v));
	r->v[i] = *run;
	r->nr++;
	return 0;
}

int runs_add(struct runs *r, uint64_t start, uint64_t end, uint64_t off)
{
	struct run *last = r->nr ? &r->v[r->nr - 1] : NULL;

	if (start >= end || (last && start < last->end))
		return -EINVAL;
	if (last && last->end == start && last->off + (last->end - last->start) == off) {
		last->end = end;
		return 0;
	}
	return insert(r, r->nr, &(struct run){ start, end, off });
}

/* the index of the first run that ends after @addr (r->nr if none) */
static size_t first_after(const struct runs *r, uint64_t addr)
{
	size_t lo = 0, hi = r->nr;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (r->v[mid].end <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

const struct run *runs_find(const struct runs *r, uint64_t addr)
{
	size_t i = first_after(r, addr);

	return i < r->nr && r->v[i].start <= addr ? &r->v[i] : NULL;
}

/* the pieces of [@start, @end) taken out into @cut (may be NULL) */
static int cut_out(struct runs *r, uint64_t start, uint64_t end, struct runs *cut)
{
	size_t i = first_after(r, start);

	while (i < r->nr && r->v[i].start < end) {
		struct run *v = &r->v[i];
		uint64_t s = v->start > start ? v->start : start;
		uint64_t e = v->end < end ? v->end : end;
		struct run tail = { e, v->end, v->off + (e - v->start) };

		if (cut && runs_add(cut, s, e, v->off + (s - v->start)))
			return -ENOMEM;
		if (v->start < s) {
			v->end = s;
			if (tail.start < tail.end && insert(r, i + 1, &tail))
				return -ENOMEM;
			i++;
			continue;
		}
		if (tail.start < tail.end) {
			*v = tail;
			i++;
			continue;
		}
		memmove(v, v + 1, (r->nr - i - 1) * sizeof(*v));
		r->nr--;
	}
	return 0;
}

int runs_drop(struct runs *r, uint64_t start, uint64_t end)
{
	return cut_out(r, start, end, NULL);
}

int runs_move(struct runs *r, uint64_t from, uint64_t to, uint64_t len)
{
	struct runs moved = { 0 };
	int ret = cut_out(r, from, from + len, &moved);

	/* what was at the destination is gone: mremap unmapped it */
	if (!ret)
		ret = cut_out(r, to, to + len, NULL);
	for (size_t k = 0; !ret && k < moved.nr; k++) {
		struct run run = moved.v[k];

		run.start = run.start - from + to;
		run.end = run.end - from + to;
		ret = insert(r, first_after(r, run.start), &run);
	}
	runs_free(&moved);
	return ret;
}

int runs_copy(struct runs *to, const struct runs *from)
{
	if (grow(to, from->nr))
		return -ENOMEM;
	memcpy(to->v, from->v, from->nr * sizeof(*from->v));
	to->nr = from->nr;
	return 0;
}

uint64_t runs_bytes(const struct runs *r)
{
	uint64_t n = 0;

	for (size_t i = 0; i < r->nr; i++)
		n += r->v[i].end - r->v[i].start;
	return n;
}

void runs_free(struct runs *r)
{
	free(r->v);
	memset(r, 0, sizeof(*r));
}
