/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The store written out as one layer of images criu restores without a
 * parent chain: for each object, pagemap-PID.img (pagemap-shmem-ID.img for
 * a shared segment) and its pages-N.img, every held page with its data, no
 * PE_PARENT entry; lazy runs stay PE_LAZY.  The other images of the final
 * dump (inventory, pstree, mm, ...) are not the store's: they come from the
 * sender's final directory.  A failure removes what it wrote.
 */
#ifndef MEMSPLICE_RECEIVE_FLAT_H
#define MEMSPLICE_RECEIVE_FLAT_H

struct store;

/* flat_write - @s's objects into @dir, on disk (syncfs) before it returns 0 */
int flat_write(const struct store *s, const char *dir);

#endif
