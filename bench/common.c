// SPDX-License-Identifier: GPL-2.0
/* What bench and rounds share: see common.h */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common.h"
#include "images/image.h"
#include "stats.pb-c.h"

double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

double median(double *v, int n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int parse_sizes(char *arg, unsigned long *sizes, int max)
{
	char *tok;
	int n = 0;

	for (; n < max && (tok = strtok(arg, ",")); arg = NULL)
		sizes[n++] = strtoul(tok, NULL, 10);
	return n;
}

int stats_read_dir(const char *dir, double *frozen_ms, double *pages, double *parent)
{
	ProtobufCMessage *msg;
	struct img img;
	int dirfd = open(dir, O_RDONLY | O_DIRECTORY), ret;

	if (dirfd < 0)
		return -1;
	ret = img_open(&img, dirfd, IMG_STATS, 0);
	close(dirfd);
	if (ret)
		return -1;
	ret = img_read_entry(&img, &stats_entry__descriptor, &msg);
	img_close(&img);
	if (ret <= 0)
		return -1;
	StatsEntry *se = (StatsEntry *)msg;

	ret = se->dump ? 0 : -1;
	if (se->dump) {
		*frozen_ms = se->dump->frozen_time / 1e3;
		*pages = se->dump->pages_written;
		*parent = se->dump->pages_skipped_parent;
	}
	stats_entry__free_unpacked(se, NULL);
	return ret;
}

int stats_read_restore(const char *dir, double *restore_ms)
{
	ProtobufCMessage *msg;
	StatsEntry *se;
	struct img img;
	int dirfd = open(dir, O_RDONLY | O_DIRECTORY), ret;

	if (dirfd < 0)
		return -1;
	ret = img_open(&img, dirfd, IMG_STATS_RESTORE, 0);
	close(dirfd);
	if (ret)
		return -1;
	ret = img_read_entry(&img, &stats_entry__descriptor, &msg);
	img_close(&img);
	if (ret <= 0)
		return -1;
	se = (StatsEntry *)msg;
	ret = se->restore && se->restore->has_restore_time ? 0 : -1;
	if (!ret)
		*restore_ms = se->restore->restore_time / 1e3;
	stats_entry__free_unpacked(se, NULL);
	return ret;
}
