/* SPDX-License-Identifier: GPL-2.0 */
/* Dump statistics, as criu reports them (times in microseconds). */
#ifndef MEMSPLICE_STATS_H
#define MEMSPLICE_STATS_H

#include <stdint.h>
#include <stdio.h>

struct dump_stats {
	uint64_t freezing_time;		/* seizing the tree */
	uint64_t frozen_time;		/* tree stopped, from frozen to resumed */
	uint64_t memdump_time;		/* moving pages out of the target */
	uint64_t memwrite_time;		/* writing them to the sink */
	uint64_t pages_scanned;
	uint64_t pages_skipped_parent;
	uint64_t pages_written;
	uint64_t pages_dropped;		/* vanished during a pre-dump (race) */
	const char *method;
	int pre_dump;
};

struct imgset;
int stats_write_image(struct imgset *set, const struct dump_stats *st);
/*
 * stats_read_image - the dump counters of @dir/stats-dump, written by
 * memsplice or by criu alike; 0 or -errno (-ENOENT: no stats-dump).
 */
int stats_read_image(const char *dir, struct dump_stats *st);
void stats_print(FILE *f, const struct dump_stats *st);
int stats_write_json(const char *path, const struct dump_stats *st);

#endif
