/* SPDX-License-Identifier: GPL-2.0 */
/*
 * An image directory being written.  inventory.img is written last (to a
 * temporary name, then renamed): a directory without it is not a complete
 * image set.  On abort every file this run created is removed again.
 */
#ifndef MEMSPLICE_IMGSET_H
#define MEMSPLICE_IMGSET_H

#include <stdbool.h>

#include "images/image.h"

struct InventoryEntry;

struct imgset {
	int dirfd;
	const char *dir;
	char **created;
	unsigned int nr_created, cap_created;
	bool parent_link;	/* we created DIR/parent */
	bool sync;		/* commit writes the set back first (images/sync.h) */
};

/*
 * imgset_open - open @dir, which must be a writable directory.  Nothing in
 * it changes yet: a failure before imgset_begin() leaves an old set intact.
 * @sync: imgset_commit() puts the set, and the sets it takes pages from, on
 * disk before and after it commits (images/sync.h); without, a crash of the
 * machine can leave a set that looks complete and is not.
 */
int imgset_open(struct imgset *set, const char *dir, bool sync);
/*
 * imgset_begin - start replacing whatever set @dir holds: remove its
 * inventory.img and parent link; link DIR/parent -> @parent_rel if given.
 */
int imgset_begin(struct imgset *set, const char *parent_rel);
/* imgset_create - create image @type/@id in the set (recorded for abort) */
int imgset_create(struct imgset *set, struct img *img, enum image_type type, unsigned long id);
/* imgset_create_raw - create a raw file (pages-N.img); returns fd or -errno */
int imgset_create_raw(struct imgset *set, enum image_type type, unsigned long id);
/*
 * Dirty tracking and failures: a --track-mem pass clears the tree's
 * soft-dirty bits while frozen, before it writes anything.  If it then
 * fails, the bits stay cleared: a retry on the same parent would take pages
 * written meanwhile for unchanged.  So the pass first leaves a marker in
 * DIR that only its commit removes, and a pass that finds one dumps in full.
 *
 * imgset_tracking_was_reset - whether a pass into this DIR failed after
 * clearing soft-dirty.  imgset_mark_tracking - leave the marker (0 or
 * -errno: do not clear the bits without it).
 */
bool imgset_tracking_was_reset(const struct imgset *set);
int imgset_mark_tracking(struct imgset *set);
/*
 * imgset_commit - write inventory.img last, by rename: the set is now
 * complete.  Atomic against memsplice failing; against a crash only with
 * @sync of imgset_open() (imgset.c says why).
 */
int imgset_commit(struct imgset *set, const struct InventoryEntry *inv);
/* imgset_abort - remove everything this run created */
void imgset_abort(struct imgset *set);
void imgset_end(struct imgset *set);

#endif
