/* SPDX-License-Identifier: GPL-2.0 */
/* pre-dump and dump of a process tree: the options and the state of one pass. */
#ifndef MEMSPLICE_DUMP_H
#define MEMSPLICE_DUMP_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "collect/collect.h"
#include "collect/mm.h"
#include "collect/pagemap.h"
#include "images/stats.h"
#include "sink/sink.h"
#include "source/source.h"
#include "tree/pstree.h"

struct ps_opts;

struct dump_opts {
	pid_t pid;
	const char *dir;
	const char *prev_dir;	/* relative to dir, like criu's */
	const char *method;
	size_t buffer_size;
	bool pre_dump;
	bool track_mem;
	bool kill;		/* dump: kill the tree afterwards (criu's default) */
	/*
	 * sync (--sync): put the set and its parents on disk before and after
	 * the commit (images/sync.h).  A dump with kill always does: the
	 * images are all that is left of the tree.
	 */
	bool sync;
	bool display_stats;
	const char *stats_json;
	/*
	 * page_server: send the pages to a `criu page-server` instead of
	 * pages-N.img (sink/pageserver.h); DIR still gets every other
	 * image and the pagemaps, without pages.  NULL: image files.
	 */
	const struct ps_opts *page_server;
	/*
	 * tracker: with track_mem, dirty pages come from userfaultfd
	 * write-protection (track/uffd.h) instead of soft-dirty; a pre-dump
	 * with it gives every new process of the tree a userfaultfd.  thawed:
	 * a pre-dump that does not freeze the tree at all; it dumps the
	 * processes of the tracker's first pass that still live.
	 */
	struct uffd_tracker *tracker;
	bool thawed;
	/*
	 * Test hooks, set only by test builds (selftests/memsplice-test):
	 * frozen_hook_fd (MEMSPLICE_TEST_FROZEN_FD): with the tree frozen and
	 * collected, write "frozen\n" to this fd and wait for one byte, so a
	 * test can kill or signal memsplice at exactly that point; -1: off.
	 * thawed_hook_fd (MEMSPLICE_TEST_THAWED_FD): the same, in a pre-dump
	 * right after the tree is resumed, before the first page is read.
	 * hide_proc_children (MEMSPLICE_TEST_HIDE_PROC_CHILDREN): find
	 * children as on a kernel without CONFIG_PROC_CHILDREN.
	 * hide_pagemap_scan (MEMSPLICE_TEST_HIDE_PAGEMAP_SCAN): collect by
	 * reading pagemap as on a kernel before 6.7 (tests, benchmarks).
	 * stop_timeout_ms (MEMSPLICE_TEST_STOP_TIMEOUT_MS): how long a thread
	 * may take to stop; 0: PSTREE_STOP_TIMEOUT_MS.
	 * spvm_pin (MEMSPLICE_TEST_SPVM_PIN): pre-dumps by syscall pin pages
	 * (SPVM_PIN) as dumps do, instead of copying them (benchmarks).
	 */
	int frozen_hook_fd;
	int thawed_hook_fd;
	bool hide_proc_children;
	bool hide_pagemap_scan;
	bool spvm_pin;
	unsigned int stop_timeout_ms;
};

struct parent;

struct dump_ctx {
	const struct dump_opts *opts;
	struct kerndat kd;
	struct pstree tree;
	struct task_mm *mms;	/* parallel to tree.tasks */
	struct target self;	/* memsplice: shared segments are read from its mappings */
	/*
	 * When pages are found, and how many runs are kept.  A pass that
	 * moves pages after the resume (a pre-dump, unless its source must
	 * move them frozen) needs the tree frozen only to note its VMAs and
	 * open its handles (and clear soft-dirty): which pages exist is read
	 * after the resume, so frozen time does not grow with memory.  Pages
	 * are found process by process as they are moved, a batch of runs at
	 * a time, so memsplice's memory does not grow with the tree's either.
	 * Except with hold_runs: a tracked pre-dump with a parent reads and
	 * clears the dirty bits in one frozen step, and keeps every run
	 * (ctx->jobs) until the pages are moved after the resume.
	 */
	bool move_after_thaw;
	bool hold_runs;
	bool clear_soft_dirty;	/* --track-mem by soft-dirty, or for criu after a tracker */
	struct pm_job *jobs;	/* hold_runs: every pagemap's runs */
	unsigned int nr_jobs;
	struct run *batch;	/* otherwise: the runs found and not yet moved */
	unsigned long *shm_seen;	/* shared segments dumped in this pass */
	unsigned int nr_shm_seen;
	struct page_source src;
	struct page_sink sink;
	struct dump_stats stats;
	volatile sig_atomic_t *interrupted;
};

/*
 * dump_tree - one pre-dump or dump of the tree @opts->pid into @opts->dir.
 * 0 or -errno (the error is printed); on success *@stats (if not NULL) gets
 * the pass's counters.  Whatever happens the tree is left running, unless a
 * dump with @opts->kill succeeded.
 */
int dump_tree(const struct dump_opts *opts, volatile sig_atomic_t *interrupted,
	      struct dump_stats *stats);

#endif
