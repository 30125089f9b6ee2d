/* SPDX-License-Identifier: GPL-2.0 */
/*
 * checkpoint --receiver: after the final dump, its other images (not the
 * pagemaps and pages, which the receiver has from the rounds) go to
 * `memsplice receive` over a session of memsplice's own (PS_MS_IMAGES,
 * proto/pageserver.h), which ends the migration there: the receiver puts
 * them next to its flat image set and answers once both are on disk.
 */
#ifndef MEMSPLICE_SINK_HANDOVER_H
#define MEMSPLICE_SINK_HANDOVER_H

#include <signal.h>

struct ps_opts;

/* handover_images - @dir's images (NULL: none) to the receiver @o names; 0 or -errno, said */
int handover_images(const struct ps_opts *o, const char *dir, volatile sig_atomic_t *interrupted);

#endif
