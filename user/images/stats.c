// SPDX-License-Identifier: GPL-2.0
#define LOG_PREFIX "stats: "
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "images/imgset.h"
#include "images/stats.h"
#include "log.h"
#include "stats.pb-c.h"

static uint32_t clamp32(uint64_t v)
{
	return v > UINT32_MAX ? UINT32_MAX : v;
}

int stats_write_image(struct imgset *set, const struct dump_stats *st)
{
	DumpStatsEntry ds = DUMP_STATS_ENTRY__INIT;
	StatsEntry se = STATS_ENTRY__INIT;
	struct img img;
	int ret, ret2;

	ds.freezing_time = clamp32(st->freezing_time);
	ds.frozen_time = clamp32(st->frozen_time);
	ds.memdump_time = clamp32(st->memdump_time);
	ds.memwrite_time = clamp32(st->memwrite_time);
	ds.pages_scanned = st->pages_scanned;
	ds.pages_skipped_parent = st->pages_skipped_parent;
	ds.pages_written = st->pages_written;
	ds.pages_lazy = 0;
	se.dump = &ds;

	ret = imgset_create(set, &img, IMG_STATS, 0);
	if (ret)
		return ret;
	ret = img_write_entry(&img, &se.base);
	ret2 = img_close(&img);
	return ret ? ret : ret2;
}

int stats_read_image(const char *dir, struct dump_stats *st)
{
	ProtobufCMessage *msg = NULL;
	StatsEntry *se;
	struct img img;
	int dirfd, ret;

	dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return -errno;
	ret = img_open(&img, dirfd, IMG_STATS, 0);
	close(dirfd);
	if (ret)
		return ret;
	ret = img_read_entry(&img, &stats_entry__descriptor, &msg);
	img_close(&img);
	if (ret <= 0)
		return ret ? ret : -EBADMSG;
	se = (StatsEntry *)msg;
	if (se->dump) {
		st->freezing_time = se->dump->freezing_time;
		st->frozen_time = se->dump->frozen_time;
		st->memdump_time = se->dump->memdump_time;
		st->memwrite_time = se->dump->memwrite_time;
		st->pages_scanned = se->dump->pages_scanned;
		st->pages_skipped_parent = se->dump->pages_skipped_parent;
		st->pages_written = se->dump->pages_written;
	}
	ret = se->dump ? 0 : -EBADMSG;
	stats_entry__free_unpacked(se, NULL);
	return ret;
}

void stats_print(FILE *f, const struct dump_stats *st)
{
	fprintf(f, "Dumping finished successfully\n"
		"Method:              %s%s\n"
		"Freezing time:       %llu us\n"
		"Frozen time:         %llu us\n"
		"Memory dump time:    %llu us\n"
		"Memory write time:   %llu us\n"
		"Pages scanned:       %llu\n"
		"Pages skipped (parent): %llu\n"
		"Pages written:       %llu\n"
		"Pages dropped (race): %llu\n",
		st->method, st->pre_dump ? " (pre-dump)" : "",
		(unsigned long long)st->freezing_time, (unsigned long long)st->frozen_time,
		(unsigned long long)st->memdump_time, (unsigned long long)st->memwrite_time,
		(unsigned long long)st->pages_scanned,
		(unsigned long long)st->pages_skipped_parent,
		(unsigned long long)st->pages_written, (unsigned long long)st->pages_dropped);
}

int stats_write_json(const char *path, const struct dump_stats *st)
{
	FILE *f = fopen(path, "we");
	int ret = 0;

	if (!f) {
		ret = -errno;
		pr_perror("cannot write %s", path);
		return ret;
	}
	fprintf(f, "{\"method\": \"%s\", \"pre_dump\": %s, \"freezing_time\": %llu, "
		"\"frozen_time\": %llu, \"memdump_time\": %llu, \"memwrite_time\": %llu, "
		"\"pages_scanned\": %llu, \"pages_skipped_parent\": %llu, "
		"\"pages_written\": %llu, \"pages_dropped\": %llu}\n",
		st->method, st->pre_dump ? "true" : "false",
		(unsigned long long)st->freezing_time, (unsigned long long)st->frozen_time,
		(unsigned long long)st->memdump_time, (unsigned long long)st->memwrite_time,
		(unsigned long long)st->pages_scanned,
		(unsigned long long)st->pages_skipped_parent,
		(unsigned long long)st->pages_written, (unsigned long long)st->pages_dropped);
	if (fclose(f) == EOF) {
		ret = -errno;
		pr_perror("cannot write %s", path);
	}
	return ret;
}
