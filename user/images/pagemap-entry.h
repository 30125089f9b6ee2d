/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A pagemap entry's page count in both of CRIU's layouts: field 2 (uint32,
 * required by CRIU 3.17, "compat_nr_pages" from 4.2 on) and field 5 (uint64,
 * the only one CRIU 4.2+ writes).  Write both, read either: a parent written
 * by a newer CRIU must not read as empty.
 */
#ifndef MEMSPLICE_PAGEMAP_ENTRY_H
#define MEMSPLICE_PAGEMAP_ENTRY_H

#include <stdint.h>

#include "pagemap.pb-c.h"

static inline uint64_t pagemap_entry_pages(const PagemapEntry *pe)
{
	if (pe->has_nr_pages64)
		return pe->nr_pages64;
	return pe->has_nr_pages ? pe->nr_pages : 0;
}

/* @nr fits field 2: writers split longer runs */
static inline void pagemap_entry_set_pages(PagemapEntry *pe, uint32_t nr)
{
	pe->has_nr_pages = true;
	pe->nr_pages = nr;
	pe->has_nr_pages64 = true;
	pe->nr_pages64 = nr;
}

#endif
