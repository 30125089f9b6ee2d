/* SPDX-License-Identifier: GPL-2.0 */
/* Numbers in /proc and /sys files, read and written by the tests. */
#ifndef MEMSPLICE_PROCFILE_H
#define MEMSPLICE_PROCFILE_H

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* read_long - the number a /proc or /sys file starts with, or -1 */
static inline long read_long(const char *path)
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

/* write_long - @val into a /proc or /sys file: 0, or -1 */
static inline int write_long(const char *path, long val)
{
	char buf[32];
	int fd = open(path, O_WRONLY | O_CLOEXEC), len;
	ssize_t n;

	if (fd < 0)
		return -1;
	len = snprintf(buf, sizeof(buf), "%ld\n", val);
	n = write(fd, buf, len);
	close(fd);
	return n == len ? 0 : -1;
}

/* proc_field - the number of the first "@name: N" line of @path (meminfo, status), or -1 */
static inline long proc_field(const char *path, const char *name)
{
	char line[256];
	size_t len = strlen(name);
	long val = -1;
	FILE *f = fopen(path, "re");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, name, len) && line[len] == ':') {
			val = strtol(line + len + 1, NULL, 10);
			break;
		}
	fclose(f);
	return val;
}

/* anon_huge_kib - the KiB of @pid's anonymous memory in THPs (smaps_rollup), or -1 */
static inline long anon_huge_kib(pid_t pid)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", pid);
	return proc_field(path, "AnonHugePages");
}

#endif /* MEMSPLICE_PROCFILE_H */
