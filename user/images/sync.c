// SPDX-License-Identifier: GPL-2.0
/* Writing an image set and its parent chain back to disk (sync.h). */
#define LOG_PREFIX "images: "
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "images/sync.h"
#include "log.h"

#define IMGSYNC_MAX_DEPTH	256	/* checkpoint makes at most 101 sets */

/* every regular file of @dfd, then @dfd itself (the names of new files) */
static int sync_dir(int dfd, const char *path)
{
	struct dirent *de;
	int ret = 0, it, fd;
	DIR *d;

	it = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);	/* closedir() closes it */
	if (it < 0 || !(d = fdopendir(it))) {
		ret = -errno;
		if (it >= 0)
			close(it);
		pr_errno(ret, "cannot list %s", path);
		return ret;
	}
	while (!ret && (errno = 0, de = readdir(d))) {
		struct stat st;

		if (de->d_type != DT_REG) {
			if (de->d_type != DT_UNKNOWN)
				continue;
			if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
			    !S_ISREG(st.st_mode))
				continue;
		}
		fd = openat(dfd, de->d_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0 || fdatasync(fd) < 0) {
			ret = -errno;
			pr_errno(ret, "cannot write back %s/%s", path, de->d_name);
		}
		if (fd >= 0)
			close(fd);
	}
	if (!ret && errno) {
		ret = -errno;
		pr_errno(ret, "cannot list %s", path);
	}
	closedir(d);
	if (!ret && fsync(dfd) < 0) {
		ret = -errno;
		pr_errno(ret, "cannot write back the directory %s", path);
	}
	return ret;
}

int imgsync_chain(int dirfd, const char *dir)
{
	struct stat seen[IMGSYNC_MAX_DEPTH];
	char path[PATH_MAX];
	int ret = 0, cur, next;

	snprintf(path, sizeof(path), "%s", dir);
	cur = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cur < 0) {
		ret = -errno;
		pr_errno(ret, "cannot open %s", path);
		return ret;
	}
	for (unsigned int depth = 0; ; depth++) {
		bool loop = false;

		if (fstat(cur, &seen[depth]) < 0) {
			ret = -errno;
			pr_errno(ret, "cannot stat %s", path);
			break;
		}
		for (unsigned int i = 0; i < depth; i++)
			loop |= seen[i].st_dev == seen[depth].st_dev &&
				seen[i].st_ino == seen[depth].st_ino;
		if (loop)
			break;
		ret = sync_dir(cur, path);
		if (ret)
			break;
		next = openat(cur, "parent", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (next < 0) {
			if (errno != ENOENT) {
				ret = -errno;
				pr_errno(ret, "cannot open %s/parent", path);
			}
			break;
		}
		close(cur);
		cur = next;
		if (depth + 1 == IMGSYNC_MAX_DEPTH) {
			pr_err("%s: more than %d parents", dir, IMGSYNC_MAX_DEPTH - 1);
			ret = -ELOOP;
			break;
		}
		if (strlen(path) + sizeof("/parent") <= sizeof(path))
			strcat(path, "/parent");
	}
	close(cur);
	return ret;
}
