// SPDX-License-Identifier: GPL-2.0
/*
 * The tests' image reader, deliberately independent of the tool's own
 * pagemap code (it decodes the few protobuf fields it needs by hand, and so
 * reads both CRIU pagemap layouts): a test that read images through the
 * dumper's code could not catch the dumper's mistakes.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "imgview.h"
#include "pattern.h"
#include "vtest.h"

#define PE_PARENT	1u
#define PE_PRESENT	4u

#define IMG_COMMON_MAGIC	0x54564319u
#define PAGEMAP_MAGIC		0x56084025u

static int read_exact(int fd, void *p, size_t len)
{
	return read(fd, p, len) == (ssize_t)len ? 0 : -1;
}

/*
 * A protobuf message of varint fields, decoded by hand: vals[f] is the last
 * value of field f (1..PB_MAX_FIELD), bit f of *seen says it was there.
 * Other wire types are skipped.  -1 if malformed.
 */
#define PB_MAX_FIELD	15

static int pb_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
	uint64_t x = 0;

	for (int shift = 0; shift < 64 && *p < end; shift += 7) {
		uint8_t b = *(*p)++;

		x |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*v = x;
			return 0;
		}
	}
	return -1;
}

static int pb_decode(const uint8_t *p, size_t len, uint64_t *vals, uint32_t *seen)
{
	const uint8_t *end = p + len;

	*seen = 0;
	while (p < end) {
		uint64_t key, v;
		unsigned int field;

		if (pb_varint(&p, end, &key))
			return -1;
		field = key >> 3;
		switch (key & 7) {
		case 0:
			if (pb_varint(&p, end, &v))
				return -1;
			if (field >= 1 && field <= PB_MAX_FIELD) {
				vals[field] = v;
				*seen |= 1u << field;
			}
			break;
		case 1:
			if (end - p < 8)
				return -1;
			p += 8;
			break;
		case 2:
			if (pb_varint(&p, end, &v) || v > (uint64_t)(end - p))
				return -1;
			p += v;
			break;
		case 5:
			if (end - p < 4)
				return -1;
			p += 4;
			break;
		default:
			return -1;
		}
	}
	return 0;
}

static size_t pb_put(uint8_t *p, unsigned int field, uint64_t v)
{
	uint64_t key = (uint64_t)field << 3;	/* wire type 0 */
	size_t n = 0;

	for (int k = 0; k < 2; k++, key = v) {
		while (key >= 0x80) {
			p[n++] = (uint8_t)(key | 0x80);
			key >>= 7;
		}
		p[n++] = (uint8_t)key;
	}
	return n;
}

/* pagemap_entry: 1 vaddr, 2 nr_pages (<= 4.1), 3 in_parent, 4 flags, 5 nr_pages (4.2+) */
static int pagemap_entry_decode(const uint8_t *buf, size_t len, uint64_t *vaddr, uint64_t *nr,
				uint32_t *flags)
{
	uint64_t f[PB_MAX_FIELD + 1] = { 0 };
	uint32_t seen;

	if (pb_decode(buf, len, f, &seen) || !(seen & (1u << 1)) ||
	    !(seen & ((1u << 2) | (1u << 5))))
		return -1;
	*vaddr = f[1];
	*nr = (seen & (1u << 5)) ? f[5] : f[2];
	if (seen & (1u << 4))
		*flags = f[4];
	else
		*flags = (seen & (1u << 3)) && f[3] ? PE_PARENT : PE_PRESENT;
	return 0;
}

static int load_level(struct dv_level *lv, int dirfd, unsigned long id, bool shmem)
{
	char name[64];
	uint32_t magic[2], len;
	int fd, cap = 0;
	uint64_t off = 0;
	bool head = true;

	snprintf(name, sizeof(name), shmem ? "pagemap-shmem-%lu.img" : "pagemap-%lu.img", id);
	fd = openat(dirfd, name, O_RDONLY);
	if (fd < 0)
		return -1;
	if (read_exact(fd, magic, sizeof(magic)) || magic[0] != IMG_COMMON_MAGIC ||
	    magic[1] != PAGEMAP_MAGIC)
		goto err;
	lv->pages_fd = -1;
	while (read(fd, &len, sizeof(len)) == sizeof(len)) {
		uint64_t vaddr, nr, f[PB_MAX_FIELD + 1];
		uint8_t buf[256];
		uint32_t flags, seen;

		if (len > sizeof(buf) || read_exact(fd, buf, len))
			goto err;
		if (head) {	/* pagemap_head: 1 pages_id */
			if (pb_decode(buf, len, f, &seen) || !(seen & (1u << 1)))
				goto err;
			snprintf(name, sizeof(name), "pages-%u.img", (uint32_t)f[1]);
			lv->pages_fd = openat(dirfd, name, O_RDONLY);
			if (lv->pages_fd < 0)
				goto err;
			head = false;
			continue;
		}
		if (pagemap_entry_decode(buf, len, &vaddr, &nr, &flags) || nr > UINT32_MAX)
			goto err;
		if (lv->n == cap) {
			cap = cap ? 2 * cap : 64;
			lv->e = realloc(lv->e, cap * sizeof(*lv->e));
		}
		lv->e[lv->n] = (struct dv_ent){ vaddr, (uint32_t)nr, flags, off };
		if (flags & PE_PRESENT)
			off += nr * VPAGE;
		lv->n++;
	}
	close(fd);
	return head ? -1 : 0;
err:
	close(fd);
	return -1;
}

int dump_view_open(struct dump_view *dv, const char *dir, unsigned long id, bool shmem)
{
	int dirfd = open(dir, O_RDONLY | O_DIRECTORY);

	memset(dv, 0, sizeof(*dv));
	while (dirfd >= 0 && dv->nr_levels < MAX_LEVELS) {
		int next;

		if (load_level(&dv->lv[dv->nr_levels], dirfd, id, shmem)) {
			close(dirfd);
			break;
		}
		dv->nr_levels++;
		next = openat(dirfd, "parent", O_RDONLY | O_DIRECTORY);
		close(dirfd);
		dirfd = next;
	}
	return dv->nr_levels ? 0 : -1;
}

void dump_view_close(struct dump_view *dv)
{
	for (int i = 0; i < dv->nr_levels; i++) {
		free(dv->lv[i].e);
		if (dv->lv[i].pages_fd >= 0)
			close(dv->lv[i].pages_fd);
	}
	memset(dv, 0, sizeof(*dv));
}

static const struct dv_ent *find(const struct dv_level *lv, uint64_t addr)
{
	int lo = 0, hi = lv->n;

	while (lo < hi) {
		int mid = (lo + hi) / 2;
		const struct dv_ent *e = &lv->e[mid];

		if (addr < e->vaddr)
			hi = mid;
		else if (addr >= e->vaddr + (uint64_t)e->nr * VPAGE)
			lo = mid + 1;
		else
			return e;
	}
	return NULL;
}

int dump_view_page(const struct dump_view *dv, uint64_t addr, void *buf)
{
	for (int i = 0; i < dv->nr_levels; i++) {
		const struct dv_ent *e = find(&dv->lv[i], addr);

		if (!e)
			return i ? -1 : 0;	/* PE_PARENT pointing at nothing: broken */
		if (e->flags & PE_PARENT)
			continue;
		return pread(dv->lv[i].pages_fd, buf, VPAGE, e->off + (addr - e->vaddr)) ==
		       (ssize_t)VPAGE ? 1 : -1;
	}
	return -1;
}

unsigned long dump_view_count(const struct dump_view *dv, uint64_t start, uint64_t end,
			      unsigned int flags)
{
	unsigned long n = 0;

	for (uint64_t a = start; a < end; a += VPAGE) {
		const struct dv_ent *e = dv->nr_levels ? find(&dv->lv[0], a) : NULL;

		if (e && (e->flags & flags))
			n++;
	}
	return n;
}

unsigned long dump_view_total(const struct dump_view *dv, unsigned int flags)
{
	unsigned long n = 0;

	for (int i = 0; dv->nr_levels && i < dv->lv[0].n; i++)
		if (dv->lv[0].e[i].flags & flags)
			n += dv->lv[0].e[i].nr;
	return n;
}

long compare_with_mem(const struct dump_view *dv, pid_t pid, uint64_t *bad)
{
	char path[64], a[VPAGE], b[VPAGE];
	long pages = 0;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/mem", pid);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	for (int i = 0; i < dv->lv[0].n; i++) {
		const struct dv_ent *e = &dv->lv[0].e[i];

		if (!(e->flags & PE_PRESENT))
			continue;
		for (uint32_t k = 0; k < e->nr; k++) {
			uint64_t addr = e->vaddr + (uint64_t)k * VPAGE;

			if (pread(dv->lv[0].pages_fd, a, VPAGE, e->off + (uint64_t)k * VPAGE) != VPAGE ||
			    pread(fd, b, VPAGE, addr) != VPAGE || memcmp(a, b, VPAGE)) {
				*bad = addr;
				close(fd);
				return -1;
			}
			pages++;
		}
	}
	close(fd);
	return pages;
}

long check_region(const struct dump_view *dv, const struct vregion *r, uint64_t offset,
		  int gen_every4, uint64_t *bad)
{
	char page[VPAGE];

	for (unsigned long i = 0; i < r->pages; i++) {
		uint64_t addr = r->addr + i * VPAGE;
		uint64_t seed = r->seed + ((gen_every4 && i % 4 == 0) ? gen_every4 : 0);

		if (dump_view_page(dv, addr - offset, page) != 1 ||
		    pattern_check(page, addr, seed) >= 0) {
			*bad = addr;
			return -1;
		}
	}
	return r->pages;
}

/* the whole image file in memory; *len its size */
static uint8_t *slurp(const char *path, size_t *len)
{
	struct stat st;
	uint8_t *buf;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) || !(buf = malloc(st.st_size + 1))) {
		close(fd);
		return NULL;
	}
	if (read_exact(fd, buf, st.st_size)) {
		free(buf);
		buf = NULL;
	}
	*len = st.st_size;
	close(fd);
	return buf;
}

int pagemap_rewrite(const char *path, enum pagemap_layout layout)
{
	size_t len, pos = 8, olen = 8;
	uint8_t *in, *out = NULL;
	char tmp[4200];
	int n = 0, fd;

	in = slurp(path, &len);
	if (!in || len < 8 || ((uint32_t *)in)[0] != IMG_COMMON_MAGIC ||
	    ((uint32_t *)in)[1] != PAGEMAP_MAGIC)
		goto err;
	/* an entry re-encoded takes at most 4 + 5 fields * 11 bytes */
	out = malloc(2 * len + 64);
	if (!out)
		goto err;
	memcpy(out, in, 8);
	for (bool head = true; pos + 4 <= len; head = false) {
		uint32_t elen, flags, *olenp;
		uint64_t vaddr, nr;
		size_t e = 0;

		memcpy(&elen, in + pos, 4);
		pos += 4;
		if (elen > len - pos)
			goto err;
		if (head) {	/* pagemap_head as it is */
			memcpy(out + olen, in + pos - 4, elen + 4);
			olen += elen + 4;
			pos += elen;
			continue;
		}
		if (pagemap_entry_decode(in + pos, elen, &vaddr, &nr, &flags))
			goto err;
		pos += elen;
		olenp = (uint32_t *)(out + olen);
		olen += 4;
		e += pb_put(out + olen + e, 1, vaddr);
		if (layout != PM_LAYOUT_FIELD5)
			e += pb_put(out + olen + e, 2, nr);
		e += pb_put(out + olen + e, 4, flags);
		if (layout != PM_LAYOUT_FIELD2)
			e += pb_put(out + olen + e, 5, nr);
		memcpy(olenp, &(uint32_t){ e }, 4);
		olen += e;
		n++;
	}
	if (pos != len)
		goto err;
	snprintf(tmp, sizeof(tmp), "%s.rewrite", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		goto err;
	if (write(fd, out, olen) != (ssize_t)olen || close(fd) || rename(tmp, path)) {
		unlink(tmp);
		goto err;
	}
	free(in);
	free(out);
	return n;
err:
	free(in);
	free(out);
	return -1;
}

int image_u32_fields(const char *path, uint32_t magic, int field, uint32_t *out, int max)
{
	size_t len, pos = 8;
	uint8_t *in = slurp(path, &len);
	int n = 0;

	if (!in || len < 8 || ((uint32_t *)in)[0] != IMG_COMMON_MAGIC || ((uint32_t *)in)[1] != magic ||
	    field < 1 || field > PB_MAX_FIELD)
		goto err;
	while (pos + 4 <= len) {
		uint64_t f[PB_MAX_FIELD + 1] = { 0 };
		uint32_t elen, seen;

		memcpy(&elen, in + pos, 4);
		pos += 4;
		if (elen > len - pos || pb_decode(in + pos, elen, f, &seen))
			goto err;
		pos += elen;
		if (n < max)
			out[n] = (uint32_t)f[field];
		n++;
	}
	if (pos != len)
		goto err;
	free(in);
	return n;
err:
	free(in);
	return -1;
}

unsigned long shmem_id_of(const char *dir)
{
	unsigned long id = 0, found;
	struct dirent *de;
	int n = 0;
	DIR *d = opendir(dir);

	if (!d)
		return 0;
	while ((de = readdir(d)))
		if (sscanf(de->d_name, "pagemap-shmem-%lu.img", &found) == 1) {
			id = found;
			n++;
		}
	closedir(d);
	return n == 1 ? id : 0;
}

bool has_image(const char *dir, const char *kind, pid_t pid)
{
	char p[1024];

	snprintf(p, sizeof(p), "%s/%s-%d.img", dir, kind, pid);
	return access(p, F_OK) == 0;
}

long pages_bytes(const char *dir)
{
	struct dirent *de;
	long total = 0;
	DIR *d = opendir(dir);

	if (!d)
		return 0;
	while ((de = readdir(d))) {
		char p[1200];
		struct stat st;

		snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
		if (!strncmp(de->d_name, "pages-", 6) && !stat(p, &st))
			total += st.st_size;
	}
	closedir(d);
	return total;
}
