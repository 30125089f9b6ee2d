/* SPDX-License-Identifier: GPL-2.0 */
/* memsplice checkpoint: pre-dump rounds, then criu's final dump on top. */
#ifndef MEMSPLICE_CHECKPOINT_H
#define MEMSPLICE_CHECKPOINT_H

#include <signal.h>
#include <stdbool.h>

#include "dump.h"

#define CHECKPOINT_MAX_PASSES	5	/* default --max-passes */

struct checkpoint_opts {
	struct dump_opts pass;	/* pid, method, buffer size: the same for every pass */
	const char *dir;	/* DIR/1, DIR/2, ... and DIR/final go here */
	unsigned int max_passes;
	bool final_criu;	/* --final criu (default) or none */
	char *const *criu_args;	/* after "--": passed to criu dump as they are */
	int nr_criu_args;
};

int cmd_checkpoint(const struct checkpoint_opts *o, volatile sig_atomic_t *interrupted);

#endif
