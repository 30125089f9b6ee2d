/* SPDX-License-Identifier: GPL-2.0 */
/*
 * CRIU image framing: u32 magics, then entries of u32 length + packed
 * protobuf.  One table maps image type -> file name -> magic.
 */
#ifndef MEMSPLICE_IMAGE_H
#define MEMSPLICE_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <protobuf-c/protobuf-c.h>

enum image_type {
	IMG_INVENTORY,
	IMG_PSTREE,
	IMG_MM,
	IMG_PAGEMAP,
	IMG_SHMEM_PAGEMAP,
	IMG_PAGES,
	IMG_STATS,
	IMG_STATS_RESTORE,	/* criu restore's, read by bench/ */
	IMG__MAX,
};

#define IMG_COMMON_MAGIC	0x54564319
#define IMG_SERVICE_MAGIC	0x55105940

/* img_name - file name of image @type with id @id (pid, shmid, pages id) */
int img_name(enum image_type type, unsigned long id, char *buf, size_t len);

struct img {
	int fd;
	enum image_type type;
	size_t used;		/* bytes buffered for writing */
	size_t rpos, rlen;	/* read window */
	unsigned char *buf;
};

/* img_create - create @name in @dirfd (truncating) and write the magics */
int img_create(struct img *img, int dirfd, const char *name, enum image_type type);
/* img_open - open for reading and check the magics; -ENOENT if absent */
int img_open(struct img *img, int dirfd, enum image_type type, unsigned long id);
/* img_open_name - the same for an image of @type under another name */
int img_open_name(struct img *img, int dirfd, const char *name, enum image_type type);
int img_write_entry(struct img *img, const ProtobufCMessage *msg);
/* img_read_entry - 1 with *msg set, 0 at the end, or -errno (-EBADMSG: corrupt) */
int img_read_entry(struct img *img, const ProtobufCMessageDescriptor *desc,
		   ProtobufCMessage **msg);
/* img_close - flush, close; returns the first write error, if any */
int img_close(struct img *img);

#endif
