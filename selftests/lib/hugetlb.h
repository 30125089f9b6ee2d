/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Huge pages for a test's victim: reserved through /proc/sys/vm/nr_hugepages
 * (root) when too few are free, and given back afterwards, so that a test of
 * MAP_HUGETLB memory skips instead of failing where none can be had.
 */
#ifndef MEMSPLICE_HUGETLB_H
#define MEMSPLICE_HUGETLB_H

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "procfile.h"

#define NR_HUGEPAGES	"/proc/sys/vm/nr_hugepages"

/*
 * hugetlb_reserve - make @nr huge pages of the default size (2 MiB) free.
 * *@old gets the nr_hugepages to give back with hugetlb_release() (-1: it
 * was not changed).  0 when they are free, else -1 with why in @why.
 */
static inline int hugetlb_reserve(long nr, long *old, char *why, size_t len)
{
	long n = read_long(NR_HUGEPAGES), free_now;

	*old = -1;
	if (n < 0) {
		snprintf(why, len, "%s: no hugetlb here", NR_HUGEPAGES);
		return -1;
	}
	if (proc_field("/proc/meminfo", "Hugepagesize") != 2048) {
		snprintf(why, len, "the default huge page size is not 2 MiB");
		return -1;
	}
	free_now = proc_field("/proc/meminfo", "HugePages_Free") - proc_field("/proc/meminfo", "HugePages_Rsvd");
	if (free_now < nr && !write_long(NR_HUGEPAGES, n + nr - free_now))
		*old = n;
	free_now = proc_field("/proc/meminfo", "HugePages_Free") - proc_field("/proc/meminfo", "HugePages_Rsvd");
	if (free_now < nr) {
		snprintf(why, len, "cannot reserve %ld huge pages (%ld free)", nr, free_now);
		return -1;
	}
	return 0;
}

/* hugetlb_release - give back what hugetlb_reserve() took (after the victim is gone) */
static inline void hugetlb_release(long *old)
{
	if (*old >= 0)
		write_long(NR_HUGEPAGES, *old);
	*old = -1;
}

#endif /* MEMSPLICE_HUGETLB_H */
