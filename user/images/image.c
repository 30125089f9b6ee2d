// SPDX-License-Identifier: GPL-2.0
#define LOG_PREFIX "image: "
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "images/image.h"
#include "log.h"
#include "util.h"

#define IMG_BUF_SIZE	(64 * 1024)
#define IMG_MAX_ENTRY	(16 * 1024 * 1024)

static const struct image_desc {
	const char *fmt;
	uint32_t magic0;	/* first u32: common/service magic, or 0 */
	uint32_t magic;
} image_descs[IMG__MAX] = {
	[IMG_INVENTORY]		= { "inventory.img",	  0,		     0x58313116 },
	[IMG_PSTREE]		= { "pstree.img",	  IMG_COMMON_MAGIC,  0x50273030 },
	[IMG_MM]		= { "mm-%lu.img",	  IMG_COMMON_MAGIC,  0x57492820 },
	[IMG_PAGEMAP]		= { "pagemap-%lu.img",	  IMG_COMMON_MAGIC,  0x56084025 },
	[IMG_SHMEM_PAGEMAP]	= { "pagemap-shmem-%lu.img", IMG_COMMON_MAGIC, 0x56084025 },
	[IMG_PAGES]		= { "pages-%lu.img",	  0,		     0 },	/* raw */
	[IMG_STATS]		= { "stats-dump",	  IMG_SERVICE_MAGIC, 0x57093306 },
	[IMG_STATS_RESTORE]	= { "stats-restore",	  IMG_SERVICE_MAGIC, 0x57093306 },
};

int img_name(enum image_type type, unsigned long id, char *buf, size_t len)
{
	int n;

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
	n = snprintf(buf, len, image_descs[type].fmt, id);
#pragma GCC diagnostic pop
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static int img_flush(struct img *img)
{
	int ret = write_all(img->fd, img->buf, img->used);

	img->used = 0;
	return ret;
}

static int img_put(struct img *img, const void *p, size_t len)
{
	int ret;

	if (img->used + len > IMG_BUF_SIZE) {
		ret = img_flush(img);
		if (ret)
			return ret;
		if (len > IMG_BUF_SIZE)
			return write_all(img->fd, p, len);
	}
	memcpy(img->buf + img->used, p, len);
	img->used += len;
	return 0;
}

int img_create(struct img *img, int dirfd, const char *name, enum image_type type)
{
	const struct image_desc *d = &image_descs[type];
	int ret;

	memset(img, 0, sizeof(*img));
	img->type = type;
	img->buf = malloc(IMG_BUF_SIZE);
	if (!img->buf)
		return -ENOMEM;
	img->fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (img->fd < 0) {
		ret = -errno;
		free(img->buf);
		return ret;
	}
	ret = 0;
	if (d->magic0)
		ret = img_put(img, &d->magic0, sizeof(uint32_t));
	if (!ret && d->magic)
		ret = img_put(img, &d->magic, sizeof(uint32_t));
	return ret;
}

int img_write_entry(struct img *img, const ProtobufCMessage *msg)
{
	size_t size = protobuf_c_message_get_packed_size(msg);
	uint8_t stackbuf[512], *p = stackbuf;
	uint32_t len = size;
	int ret;

	if (size > sizeof(stackbuf)) {
		p = malloc(size);
		if (!p)
			return -ENOMEM;
	}
	protobuf_c_message_pack(msg, p);
	ret = img_put(img, &len, sizeof(len));
	if (!ret)
		ret = img_put(img, p, size);
	if (p != stackbuf)
		free(p);
	return ret;
}

int img_close(struct img *img)
{
	int ret = 0;

	if (img->fd < 0)
		return 0;
	if (img->used)
		ret = img_flush(img);
	if (close(img->fd) < 0 && !ret)
		ret = -errno;
	img->fd = -1;
	free(img->buf);
	img->buf = NULL;
	return ret;
}

/* read exactly @len bytes through the window; 0, -ENODATA at a clean end, -EBADMSG if cut */
static int img_get(struct img *img, void *p, size_t len, bool at_boundary)
{
	size_t done = 0;

	while (done < len) {
		size_t n;

		if (img->rpos == img->rlen) {
			ssize_t r = read(img->fd, img->buf, IMG_BUF_SIZE);

			if (r < 0)
				return -errno;
			if (r == 0)
				return at_boundary && !done ? -ENODATA : -EBADMSG;
			img->rpos = 0;
			img->rlen = r;
		}
		n = MIN(len - done, img->rlen - img->rpos);
		memcpy((char *)p + done, img->buf + img->rpos, n);
		img->rpos += n;
		done += n;
	}
	return 0;
}

int img_open(struct img *img, int dirfd, enum image_type type, unsigned long id)
{
	char name[64];
	int ret = img_name(type, id, name, sizeof(name));

	return ret ?: img_open_name(img, dirfd, name, type);
}

int img_open_name(struct img *img, int dirfd, const char *name, enum image_type type)
{
	const struct image_desc *d = &image_descs[type];
	uint32_t m;
	int ret;

	memset(img, 0, sizeof(*img));
	img->type = type;
	img->buf = malloc(IMG_BUF_SIZE);
	if (!img->buf)
		return -ENOMEM;
	img->fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
	if (img->fd < 0) {
		ret = -errno;
		goto err_free;
	}
	if (d->magic0) {
		ret = img_get(img, &m, sizeof(m), false);
		if (ret || m != d->magic0)
			goto err_magic;
	}
	if (d->magic) {
		ret = img_get(img, &m, sizeof(m), false);
		if (ret || m != d->magic)
			goto err_magic;
	}
	return 0;

err_magic:
	/* not an image of this type (callers say which file they wanted) */
	close(img->fd);
	ret = -EBADMSG;
err_free:
	free(img->buf);
	img->buf = NULL;
	img->fd = -1;
	return ret;
}

int img_read_entry(struct img *img, const ProtobufCMessageDescriptor *desc,
		   ProtobufCMessage **msg)
{
	uint32_t len;
	uint8_t *p;
	int ret;

	ret = img_get(img, &len, sizeof(len), true);
	if (ret == -ENODATA)
		return 0;
	if (ret)
		return ret;
	if (len > IMG_MAX_ENTRY)
		return -EBADMSG;
	p = malloc(len ? len : 1);
	if (!p)
		return -ENOMEM;
	ret = img_get(img, p, len, false);
	if (!ret) {
		*msg = protobuf_c_message_unpack(desc, NULL, len, p);
		ret = *msg ? 1 : -EBADMSG;
	}
	free(p);
	return ret;
}
