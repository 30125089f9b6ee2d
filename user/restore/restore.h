/* SPDX-License-Identifier: GPL-2.0 */
/*
 * memsplice restore: `criu restore --lazy-pages -D DIR` with memsplice as
 * its lazy-pages daemon, so that the tree runs before its memory is in
 * place.  Three processes: this one (the guard), the daemon it forks
 * (restore/daemon.h) and criu.  The pagemaps of DIR are marked first
 * (restore/mark.h); the tree's memory then comes from DIR's pages images,
 * and what a lazy dump left at the source from the source's lazy page
 * server (--page-server: memsplice checkpoint --lazy-pages, or criu dump
 * --lazy-pages), as `criu lazy-pages --page-server` would take it.
 *
 * The guard holds a copy of every userfaultfd the daemon takes.  If criu
 * fails, the daemon is killed (no daemon outlives a failed restore).  If
 * the daemon dies, or a signal reaches memsplice, before every page is in
 * place, the guard kills the restored tree, whose faults meanwhile wait:
 * a tree with pages missing never runs on zeros.
 */
#ifndef MEMSPLICE_RESTORE_H
#define MEMSPLICE_RESTORE_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "sink/pageserver.h"

#define RESTORE_DEFAULT_BATCH	(4ULL << 20)

struct restore_opts {
	const char *dir;		/* -D */
	uint64_t batch;			/* --buffer-size: bytes a batch copies */
	const struct ps_opts *source;	/* --page-server: where pages left at the source are */
	char *const *criu_args;		/* after "--", for criu restore */
	int nr_criu_args;
	bool test_stall;		/* test builds: no page after criu's restore */
	const char *test_go;		/* test builds: batches wait for a byte from this FIFO */
};

int cmd_restore(const struct restore_opts *o, volatile sig_atomic_t *interrupted);

#endif
