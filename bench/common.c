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

/* DIR's stats image of @type, decoded; NULL if there is none or it is bad */
static StatsEntry *stats_read(const char *dir, enum image_type type)
{
	ProtobufCMessage *msg;
	struct img img;
	int dirfd = open(dir, O_RDONLY | O_DIRECTORY), ret;

	if (dirfd < 0)
		return NULL;
	ret = img_open(&img, dirfd, type, 0);
	close(dirfd);
	if (ret)
		return NULL;
	ret = img_read_entry(&img, &stats_entry__descriptor, &msg);
	img_close(&img);
	return ret > 0 ? (StatsEntry *)msg : NULL;
}

int stats_read_dir(const char *dir, double *frozen_ms, double *pages, double *parent)
{
	StatsEntry *se = stats_read(dir, IMG_STATS);
	int ret = se && se->dump ? 0 : -1;

	if (!ret) {
		*frozen_ms = se->dump->frozen_time / 1e3;
		*pages = se->dump->pages_written;
		*parent = se->dump->pages_skipped_parent;
	}
	if (se)
		stats_entry__free_unpacked(se, NULL);
	return ret;
}

int stats_read_restore(const char *dir, double *restore_ms)
{
	StatsEntry *se = stats_read(dir, IMG_STATS_RESTORE);
	int ret = se && se->restore && se->restore->has_restore_time ? 0 : -1;

	if (!ret)
		*restore_ms = se->restore->restore_time / 1e3;
	if (se)
		stats_entry__free_unpacked(se, NULL);
	return ret;
}
