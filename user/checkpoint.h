/* SPDX-License-Identifier: GPL-2.0 */
/* memsplice checkpoint: pre-dump rounds, then criu's final dump on top. */
#ifndef MEMSPLICE_CHECKPOINT_H
#define MEMSPLICE_CHECKPOINT_H

#include <signal.h>
#include <stdbool.h>

#include "dump.h"

#define CHECKPOINT_MAX_PASSES	5	/* default --max-passes */

/* --tracker: what says which pages changed between passes */
enum checkpoint_tracker {
	TRACKER_AUTO,		/* soft-dirty where the kernel has it, else uffd-wp */
	TRACKER_SOFT_DIRTY,	/* every pass freezes the tree */
	TRACKER_UFFD_WP,	/* only the first pass freezes (track/uffd.h) */
};

/* --final: what follows the passes */
enum checkpoint_final {
	FINAL_CRIU,		/* criu dump --track-mem on top (default) */
	FINAL_DUMP,		/* memsplice dump on top: memory images only */
	FINAL_NONE,
};

struct checkpoint_opts {
	struct dump_opts pass;	/* pid, method, buffer size: the same for every pass */
	const char *dir;	/* DIR/1, DIR/2, ... and DIR/final go here */
	unsigned int min_passes, max_passes;
	enum checkpoint_tracker tracker;
	bool keep_huge;		/* uffd-wp: huge pages the kernel would split stay unprotected */
	enum checkpoint_final final;
	const struct lazy_opts *lazy;	/* --lazy-pages: criu's dump is lazy, served here */
	bool receiver;		/* --receiver: the page server is memsplice receive */
	char *const *criu_args;	/* after "--": passed to criu dump as they are */
	int nr_criu_args;
};

int cmd_checkpoint(const struct checkpoint_opts *o, volatile sig_atomic_t *interrupted);

#endif
