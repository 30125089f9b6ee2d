/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Whether a test that asks for a transparent huge page (MADV_HUGEPAGE) can
 * get one here, so that it skips instead of failing on a kernel where THP
 * is off or absent.
 */
#ifndef MEMSPLICE_THP_H
#define MEMSPLICE_THP_H

#include <fcntl.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

#define THP_ENABLED	"/sys/kernel/mm/transparent_hugepage/enabled"

/* true when THP_ENABLED is missing (no THP) or says [never] */
static inline bool thp_off(void)
{
	char buf[128] = "";
	int fd = open(THP_ENABLED, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return true;
	if (read(fd, buf, sizeof(buf) - 1) < 0)
		buf[0] = 0;
	close(fd);
	return !strstr(buf, "[always]") && !strstr(buf, "[madvise]");
}

#endif /* MEMSPLICE_THP_H */
