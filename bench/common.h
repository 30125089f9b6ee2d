/* SPDX-License-Identifier: GPL-2.0 */
/* What bench and rounds share: medians, and a tool's stats-dump. */
#ifndef MEMSPLICE_BENCH_COMMON_H
#define MEMSPLICE_BENCH_COMMON_H

/* now_ms - CLOCK_MONOTONIC in milliseconds */
double now_ms(void);
/* median - of @n values (sorts @v) */
double median(double *v, int n);
/* parse_sizes - at most @max comma-separated sizes (-s MIB,MIB...) into @sizes; how many */
int parse_sizes(char *arg, unsigned long *sizes, int max);

/*
 * stats_read_dir - frozen time, pages written and pages taken from the
 * parent, from DIR/stats-dump (memsplice and criu write it alike).  0 or -1.
 */
int stats_read_dir(const char *dir, double *frozen_ms, double *pages, double *parent);
/* stats_read_restore - criu restore's restore_time from DIR/stats-restore; 0 or -1 */
int stats_read_restore(const char *dir, double *restore_ms);

#endif
