// SPDX-License-Identifier: GPL-2.0
#define LOG_PREFIX "images: "
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "images/imgset.h"
#include "images/sync.h"
#include "inventory.pb-c.h"
#include "log.h"

#define INVENTORY_TMP	"inventory.img.tmp"
#define TRACKING_RESET	"memsplice-tracking-reset"

static int note_created(struct imgset *set, const char *name)
{
	char *copy;

	for (unsigned int i = 0; i < set->nr_created; i++)
		if (!strcmp(set->created[i], name))
			return 0;
	if (set->nr_created == set->cap_created) {
		unsigned int cap = set->cap_created ? 2 * set->cap_created : 32;
		char **n = realloc(set->created, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		set->created = n;
		set->cap_created = cap;
	}
	copy = strdup(name);
	if (!copy)
		return -ENOMEM;
	set->created[set->nr_created++] = copy;
	return 0;
}

int imgset_open(struct imgset *set, const char *dir, bool sync)
{
	int ret;

	memset(set, 0, sizeof(*set));
	set->dir = dir;
	set->sync = sync;
	set->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (set->dirfd < 0) {
		ret = -errno;
		pr_err("images directory %s: %s", dir, strerror(-ret));
		return ret;
	}
	if (faccessat(set->dirfd, ".", W_OK, AT_EACCESS) < 0) {
		ret = -errno;
		pr_err("images directory %s is not writable: %s", dir, strerror(-ret));
		close(set->dirfd);
		set->dirfd = -1;
		return ret;
	}
	return 0;
}

int imgset_begin(struct imgset *set, const char *parent_rel)
{
	int ret;

	/* from now on the directory holds no complete set until commit */
	if (unlinkat(set->dirfd, "inventory.img", 0) < 0 && errno != ENOENT) {
		ret = -errno;
		pr_err("cannot remove old %s/inventory.img: %s", set->dir, strerror(-ret));
		return ret;
	}
	unlinkat(set->dirfd, INVENTORY_TMP, 0);
	if (unlinkat(set->dirfd, "parent", 0) < 0 && errno != ENOENT) {
		ret = -errno;
		pr_err("cannot replace %s/parent: %s", set->dir, strerror(-ret));
		return ret;
	}
	if (parent_rel) {
		if (symlinkat(parent_rel, set->dirfd, "parent") < 0) {
			ret = -errno;
			pr_err("cannot link %s/parent -> %s: %s", set->dir, parent_rel,
			       strerror(-ret));
			return ret;
		}
		set->parent_link = true;
	}
	return 0;
}

int imgset_create(struct imgset *set, struct img *img, enum image_type type, unsigned long id)
{
	char name[64];
	int ret;

	ret = img_name(type, id, name, sizeof(name));
	if (!ret)
		ret = note_created(set, name);
	if (!ret)
		ret = img_create(img, set->dirfd, name, type);
	if (ret)
		pr_errno(ret, "cannot create %s/%s", set->dir, name);
	return ret;
}

int imgset_create_raw(struct imgset *set, enum image_type type, unsigned long id)
{
	char name[64];
	int fd, ret;

	ret = img_name(type, id, name, sizeof(name));
	if (!ret)
		ret = note_created(set, name);
	if (ret)
		return ret;
	fd = openat(set->dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		ret = -errno;
		pr_errno(ret, "cannot create %s/%s", set->dir, name);
		return ret;
	}
	return fd;
}

bool imgset_tracking_was_reset(const struct imgset *set)
{
	return !faccessat(set->dirfd, TRACKING_RESET, F_OK, AT_SYMLINK_NOFOLLOW);
}

int imgset_mark_tracking(struct imgset *set)
{
	int fd, ret;

	/*
	 * Not synced: it matters while the tree lives on after a failed pass;
	 * a crash ends the tree and its cleared bits together.
	 */
	fd = openat(set->dirfd, TRACKING_RESET, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		ret = -errno;
		pr_errno(ret, "cannot write %s/%s", set->dir, TRACKING_RESET);
		return ret;
	}
	close(fd);
	return 0;
}

/*
 * The commit is the rename of inventory.img.tmp.  Against memsplice failing
 * or being killed it is atomic either way: the rename comes after every
 * other file is complete.  Against a crash of the machine only with
 * set->sync: the set and its parents are written back before the rename
 * (a crash before it leaves no inventory.img), and the directory after it
 * (a crash after it leaves the complete set).  Without, the kernel may
 * write the rename back before the pages, so a crash can leave an
 * inventory.img next to files that are short or empty.
 */
int imgset_commit(struct imgset *set, const InventoryEntry *inv)
{
	struct img img;
	int ret;

	ret = note_created(set, INVENTORY_TMP);
	if (!ret)
		ret = img_create(&img, set->dirfd, INVENTORY_TMP, IMG_INVENTORY);
	if (ret)
		goto err;
	ret = img_write_entry(&img, &inv->base);
	if (!ret)
		ret = img_close(&img);
	else
		img_close(&img);
	if (ret)
		goto err;
	/* everything else must be on disk before the marker says "complete" */
	if (set->sync) {
		ret = imgsync_chain(set->dirfd, set->dir);	/* says what failed */
		if (ret)
			return ret;
	}
	if (renameat(set->dirfd, INVENTORY_TMP, set->dirfd, "inventory.img") < 0) {
		ret = -errno;
		goto err;
	}
	if (set->sync && fsync(set->dirfd) < 0) {
		ret = -errno;
		/* committed, but perhaps not on disk: not a complete set */
		unlinkat(set->dirfd, "inventory.img", 0);
		goto err;
	}
	/* a complete set: a base that tracking can build on again */
	unlinkat(set->dirfd, TRACKING_RESET, 0);
	return 0;
err:
	pr_errno(ret, "cannot write %s/inventory.img", set->dir);
	return ret;
}

void imgset_abort(struct imgset *set)
{
	for (unsigned int i = 0; i < set->nr_created; i++)
		unlinkat(set->dirfd, set->created[i], 0);
	if (set->parent_link)
		unlinkat(set->dirfd, "parent", 0);
}

void imgset_end(struct imgset *set)
{
	for (unsigned int i = 0; i < set->nr_created; i++)
		free(set->created[i]);
	free(set->created);
	if (set->dirfd >= 0)
		close(set->dirfd);
	memset(set, 0, sizeof(*set));
	set->dirfd = -1;
}
