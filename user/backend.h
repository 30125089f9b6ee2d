/* SPDX-License-Identifier: GPL-2.0 */
/* Choosing a page source: by name, or the first that works (auto). */
#ifndef MEMSPLICE_BACKEND_H
#define MEMSPLICE_BACKEND_H

#include <stddef.h>

#include "source.h"

/* the backends in the order auto probes them */
extern const struct page_source_ops *const backends[];
extern const size_t nr_backends;

/*
 * backend_select - find @method ("auto" or a backend name).  For auto, each
 * skipped backend is reported (at info level) with the reason.  0 or -errno
 * with a one-line error printed.
 */
int backend_select(const char *method, const struct page_source_ops **ops);

#endif
