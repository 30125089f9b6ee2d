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

#define NR_HUGEPAGES	"/proc/sys/vm/nr_hugepages"

static inline long hugetlb_read_long(const char *path)
{
	char buf[32] = "";
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	return n > 0 ? strtol(buf, NULL, 10) : -1;
}

static inline int hugetlb_write_long(const char *path, long v)
{
	char buf[32];
	int fd = open(path, O_WRONLY | O_CLOEXEC), n, ret;

	if (fd < 0)
		return -1;
	n = snprintf(buf, sizeof(buf), "%ld\n", v);
	ret = write(fd, buf, n) == n ? 0 : -1;
	close(fd);
	return ret;
}

/* a "Key: N" line of /proc/meminfo, -1 if absent */
static inline long hugetlb_meminfo(const char *key)
{
	char line[128];
	size_t len = strlen(key);
	long v = -1;
	FILE *f = fopen("/proc/meminfo", "re");

	if (!f)
		return -1;
	while (v < 0 && fgets(line, sizeof(line), f))
		if (!strncmp(line, key, len) && line[len] == ':')
			v = strtol(line + len + 1, NULL, 10);
	fclose(f);
	return v;
}

/*
 * hugetlb_reserve - make @nr huge pages of the default size (2 MiB) free.
 * *@old gets the nr_hugepages to give back with hugetlb_release() (-1: it
 * was not changed).  0 when they are free, else -1 with why in @why.
 */
static inline int hugetlb_reserve(long nr, long *old, char *why, size_t len)
{
	long n = hugetlb_read_long(NR_HUGEPAGES), free_now;

	*old = -1;
	if (n < 0) {
		snprintf(why, len, "%s: no hugetlb here", NR_HUGEPAGES);
		return -1;
	}
	if (hugetlb_meminfo("Hugepagesize") != 2048) {
		snprintf(why, len, "the default huge page size is not 2 MiB");
		return -1;
	}
	free_now = hugetlb_meminfo("HugePages_Free") - hugetlb_meminfo("HugePages_Rsvd");
	if (free_now < nr && !hugetlb_write_long(NR_HUGEPAGES, n + nr - free_now))
		*old = n;
	free_now = hugetlb_meminfo("HugePages_Free") - hugetlb_meminfo("HugePages_Rsvd");
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
		hugetlb_write_long(NR_HUGEPAGES, *old);
	*old = -1;
}

#endif /* MEMSPLICE_HUGETLB_H */
