// SPDX-License-Identifier: GPL-2.0
/* criu's page-server wire format: see pageserver.h */
#include <errno.h>
#include <string.h>

#include "proto/pageserver.h"

/* a decimal number of at most 4 digits at *@s; advances *@s */
static int version_part(const char **s, unsigned int *v)
{
	const char *p = *s;

	*v = 0;
	while (*p >= '0' && *p <= '9' && p - *s < 4)
		*v = *v * 10 + (*p++ - '0');
	if (p == *s || (*p >= '0' && *p <= '9'))
		return -EINVAL;
	*s = p;
	return 0;
}

int ps_layout_of(const char *version, enum ps_layout *layout)
{
	unsigned int major, minor, patch;
	const char *p = version;

	if (version_part(&p, &major) || *p++ != '.' || version_part(&p, &minor))
		return -EINVAL;
	if (*p == '.' && (p++, version_part(&p, &patch)))
		return -EINVAL;
	if (*p || !major)
		return -EINVAL;
	*layout = major > 4 || (major == 4 && minor >= 2) ? PS_LAYOUT_32 : PS_LAYOUT_24;
	return 0;
}

size_t ps_encode(enum ps_layout layout, union ps_hdr *h, uint32_t cmd, uint64_t nr_pages,
		 uint64_t vaddr, uint64_t dst_id)
{
	memset(h, 0, sizeof(*h));
	if (layout == PS_LAYOUT_24) {
		h->v24.cmd = cmd;
		h->v24.nr_pages = (uint32_t)nr_pages;
		h->v24.vaddr = vaddr;
		h->v24.dst_id = dst_id;
		return sizeof(h->v24);
	}
	h->v32.cmd = cmd;
	h->v32.nr_pages = nr_pages;
	h->v32.vaddr = vaddr;
	h->v32.dst_id = dst_id;
	return sizeof(h->v32);
}
