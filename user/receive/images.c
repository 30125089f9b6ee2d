// SPDX-License-Identifier: GPL-2.0
/* the final dump's other images at the receiver: see images.h */
#define LOG_PREFIX "receive: "

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "proto/pageserver.h"
#include "receive/images.h"
#include "util.h"

static bool name_ok(const char *name, size_t len)
{
	return len && strlen(name) == len && name[0] != '.' && !strchr(name, '/') &&
	       strncmp(name, "pagemap-", 8) && strncmp(name, "pages-", 6);
}

static void part_name(const char *name, char *buf, size_t len)
{
	snprintf(buf, len, ".%s.part", name);
}

/* one PS_MS_FILE's name and bytes into DIR/.NAME.part */
static int take_file(struct images *im, const struct ps_conn *c, const struct ps_msg *m)
{
	char name[PS_MS_NAME_MAX + 1] = "", part[PS_MS_NAME_MAX + 8];
	char **names;
	int fd, ret;

	if (!m->vaddr || m->vaddr > PS_MS_NAME_MAX || m->nr_pages > PS_MS_FILE_MAX) {
		pr_err("the sender hands over a file of %llu bytes named in %llu: refused",
		       (unsigned long long)m->nr_pages, (unsigned long long)m->vaddr);
		return -EPROTO;
	}
	ret = ps_recv(c, name, m->vaddr);
	if (ret)
		return ret;
	if (!name_ok(name, m->vaddr)) {
		pr_err("the sender hands over a file named '%s': not a plain image name",
		       name);
		return -EPROTO;
	}
	for (unsigned int i = 0; i < im->nr; i++)
		if (!strcmp(im->names[i], name)) {
			pr_err("the sender hands over %s twice", name);
			return -EPROTO;
		}
	names = realloc(im->names, (im->nr + 1) * sizeof(*names));
	if (!names)
		return -ENOMEM;
	im->names = names;
	im->names[im->nr] = strdup(name);
	if (!im->names[im->nr])
		return -ENOMEM;
	im->nr++;
	part_name(name, part, sizeof(part));
	fd = openat(im->dirfd, part, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		ret = -errno;
		pr_errno(ret, "cannot create %s", part);
		return ret;
	}
	ret = ps_recv_file(c, fd, 0, m->nr_pages);
	if (!ret && fsync(fd))
		ret = -errno;
	close(fd);
	return ret;
}

int images_receive(struct images *im, const struct ps_conn *c)
{
	for (;;) {
		struct ps_msg m;
		int ret = ps_recv_msg(c, &m);

		if (ret)
			return ret;
		if (m.cmd == PS_IOV_CLOSE)
			return 0;
		if (m.cmd != PS_MS_FILE) {
			pr_err("the sender sent command %#x among the final images", m.cmd);
			return -EPROTO;
		}
		ret = take_file(im, c, &m);
		if (ret)
			return ret;
	}
}

bool images_staged(const struct images *im, const char *name, char *buf, size_t len)
{
	for (unsigned int i = 0; i < im->nr; i++)
		if (!strcmp(im->names[i], name)) {
			part_name(name, buf, len);
			return true;
		}
	return false;
}

int images_commit(struct images *im)
{
	char part[PS_MS_NAME_MAX + 8];

	for (unsigned int i = 0; i < im->nr; i++) {
		part_name(im->names[i], part, sizeof(part));
		if (renameat(im->dirfd, part, im->dirfd, im->names[i])) {
			int ret = -errno;

			pr_errno(ret, "cannot put %s in place", im->names[i]);
			return ret;
		}
		free(im->names[i]);
		im->names[i] = NULL;
	}
	return fsync(im->dirfd) ? -errno : 0;
}

void images_free(struct images *im)
{
	char part[PS_MS_NAME_MAX + 8];

	for (unsigned int i = 0; i < im->nr; i++) {
		if (!im->names[i])
			continue;
		part_name(im->names[i], part, sizeof(part));
		unlinkat(im->dirfd, part, 0);
		free(im->names[i]);
	}
	free(im->names);
	im->names = NULL;
	im->nr = 0;
}
