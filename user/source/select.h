/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Choosing a page source: by name, or the first that works (auto).  The
 * command line calls a page source a method (--method read|device|...): the
 * name in its ops table.
 */
#ifndef MEMSPLICE_SELECT_H
#define MEMSPLICE_SELECT_H

#include <stddef.h>

#include "source/source.h"

/* the sources in the order auto probes them */
extern const struct page_source_ops *const sources[];
extern const size_t nr_sources;

/*
 * source_select - find @method ("auto" or a source's name).  For auto, each
 * skipped source is reported (at info level) with the reason.  0 or -errno
 * with a one-line error printed.
 */
int source_select(const char *method, const struct page_source_ops **ops);

#endif
