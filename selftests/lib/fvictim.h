/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Victims that are functions of the test (tree_test, freeze_test): forked
 * into a process group of their own, they fill a region with the pattern,
 * report it on a pipe ("R ADDR PAGES SEED\n"), say "ready\n" and block.
 */
#ifndef MEMSPLICE_FVICTIM_H
#define MEMSPLICE_FVICTIM_H

#include <sys/types.h>

#include "vtest.h"

#define FVICTIM_PAGES	64	/* the region fvictim_fill_and_report() fills */

/* in the child: where the victim reports */
extern int fvictim_report_fd;

/* map FVICTIM_PAGES private anonymous pages, fill them, report the region */
void fvictim_fill_and_report(void);
/* write "ready\n" to the report pipe */
void fvictim_ready(void);
void fvictim_block_forever(void) __attribute__((noreturn));
/* the region, "ready", then block */
void fvictim_plain(void);

/*
 * fvictim_start - fork @victim and read its report up to "ready\n" into
 * *@r (named "region", its pid *@pid); its pipe stays open in *@rfd.  An
 * optional "D ADDR\n" line before the region goes to *@dev (if not NULL);
 * "skip\n" instead of "ready\n" returns 1.  0, 1 or -1.
 */
int fvictim_start(void (*victim)(void), pid_t *pid, int *rfd, struct vregion *r,
		  unsigned long *dev);

#endif
