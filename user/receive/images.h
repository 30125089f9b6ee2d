/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The final dump's other images, as checkpoint --receiver hands them over
 * (PS_MS_IMAGES, proto/pageserver.h): each written as DIR/.NAME.part, put
 * in place by rename only once the flat image set is written too, so that
 * DIR never looks like a complete set before it is one.  Names are plain
 * file names, never a pagemap or pages image (the store writes those).
 */
#ifndef MEMSPLICE_RECEIVE_IMAGES_H
#define MEMSPLICE_RECEIVE_IMAGES_H

#include <stdbool.h>
#include <stddef.h>

struct ps_conn;

struct images {
	int dirfd;
	char **names;
	unsigned int nr;
};

/* images_receive - after PS_MS_IMAGES: the files, until PS_IOV_CLOSE (not answered) */
int images_receive(struct images *im, const struct ps_conn *c);
/*
 * images_staged - the staged copy of final image @name ("mm-1.img"), as a
 * name in im->dirfd, into @buf; false if the sender did not hand it over
 */
bool images_staged(const struct images *im, const char *name, char *buf, size_t len);
/* images_commit - every file in place, on disk */
int images_commit(struct images *im);
/* images_free - what was not committed removed, the rest forgotten */
void images_free(struct images *im);

#endif
