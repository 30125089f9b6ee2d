/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Writing an image set back to disk, and the sets it takes pages from.
 *
 * memsplice does not sync by default, as criu does not: a pre-dump whose tree
 * still runs costs only a re-dump if a crash takes it.  Where losing the
 * images loses the tree (a dump with --kill, checkpoint's final dump) or
 * with --sync, imgset_commit() writes the set and its parent chain back
 * before it renames inventory.img into place, and the rename after it.
 * Only the files of those directories are written back, not the whole
 * filesystem: syncfs(2) would also wait for whatever else is dirty there.
 */
#ifndef MEMSPLICE_IMAGES_SYNC_H
#define MEMSPLICE_IMAGES_SYNC_H

/*
 * imgsync_chain - fdatasync every regular file of the directory @dirfd
 * (named @dir in messages) and fsync the directory itself, then the same
 * for DIR/parent, its parent, and so on: everything a restore from @dir
 * reads.  A missing parent link ends the chain; a loop ends it too.
 * 0 or -errno (printed).
 */
int imgsync_chain(int dirfd, const char *dir);

#endif
