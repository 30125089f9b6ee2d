/* SPDX-License-Identifier: GPL-2.0 */
/* The tests' own reader of image sets (imgview.c): pagemaps through parent chains. */
#ifndef MEMSPLICE_IMGVIEW_H
#define MEMSPLICE_IMGVIEW_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct vregion;

/* a pagemap of an image set, resolved through its parent chain */
#define MAX_LEVELS	16
struct dump_view {
	int nr_levels;
	struct dv_level {
		struct dv_ent { uint64_t vaddr; uint32_t nr, flags; uint64_t off; } *e;
		int n;
		int pages_fd;
	} lv[MAX_LEVELS];
};

/* dump_view_open - load pagemap-@id (@shmem: pagemap-shmem-@id) of @dir and its parents */
int dump_view_open(struct dump_view *dv, const char *dir, unsigned long id, bool shmem);
void dump_view_close(struct dump_view *dv);
/* dump_view_page - the dumped bytes of page @addr: 1 found, 0 not dumped, -1 broken chain */
int dump_view_page(const struct dump_view *dv, uint64_t addr, void *buf);
/* dump_view_count - pages of the newest level in [start, end) having @flags */
unsigned long dump_view_count(const struct dump_view *dv, uint64_t start, uint64_t end,
			      unsigned int flags);
/* dump_view_total - all pages of the newest level having @flags */
unsigned long dump_view_total(const struct dump_view *dv, unsigned int flags);
/*
 * compare_with_mem - every present page of the newest level equals
 * /proc/@pid/mem; returns the number of pages compared, or -1 with the
 * first differing address in *bad.
 */
long compare_with_mem(const struct dump_view *dv, pid_t pid, uint64_t *bad);
/*
 * check_region - every page of @r is in the dump with the victim's pattern
 * (@gen_every4: pages i%4==0 carry seed+gen); returns pages checked or -1.
 */
long check_region(const struct dump_view *dv, const struct vregion *r, uint64_t offset,
		  int gen_every4, uint64_t *bad);
/*
 * Pagemap layouts (user/images/pagemap-entry.h): CRIU <= 4.1 reads the page
 * count from field 2 (required there); 4.2+ writes it only to the uint64
 * field 5.
 * The reader above takes field 5 when present, else field 2.
 */
enum pagemap_layout {
	PM_LAYOUT_FIELD2,	/* what CRIU 3.17 writes and reads */
	PM_LAYOUT_FIELD5,	/* what CRIU 4.2+ writes: field 2 absent */
	PM_LAYOUT_BOTH,
};
/*
 * pagemap_rewrite - re-encode every entry of the pagemap image @path in
 * @layout (vaddr, count, flags; a legacy in_parent becomes PE_PARENT).
 * Returns the number of entries, -1 on error.
 */
int pagemap_rewrite(const char *path, enum pagemap_layout layout);
/*
 * image_u32_fields - in the entries of image @path (common magic, then
 * @magic), the value of varint field @field of each, up to @max of them.
 * Returns how many entries were read, -1 on error.  E.g. the pids of
 * pstree.img (magic 0x50273030, field 1).
 */
int image_u32_fields(const char *path, uint32_t magic, int field, uint32_t *out, int max);

/* shmem_id_of - the one pagemap-shmem-ID.img in @dir; 0 if none or several */
unsigned long shmem_id_of(const char *dir);

/* has_image - whether @dir holds @kind-@pid.img (e.g. "mm", "pagemap") */
bool has_image(const char *dir, const char *kind, pid_t pid);

/* pages_bytes - the size of every pages-*.img in @dir: the bytes dumped there */
long pages_bytes(const char *dir);

#endif
