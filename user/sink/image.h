/* SPDX-License-Identifier: GPL-2.0 */
#ifndef MEMSPLICE_SINK_IMAGE_H
#define MEMSPLICE_SINK_IMAGE_H

#include "sink/sink.h"

struct imgset;

/* sink_image_create - a sink writing pagemap/pages images into @set */
int sink_image_create(struct page_sink *sink, struct imgset *set);
void sink_image_destroy(struct page_sink *sink);

#endif
