/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The lazy-pages daemon `criu restore --lazy-pages` talks to: it takes the
 * connection criu makes to DIR/lazy-pages.socket, then each process's
 * pid and userfaultfd (a zombie's negative pid and none), then, when the
 * tree is restored, LAZY_PAGES_RESTORE_FINISHED (criu's uffd.c speaks the
 * same).  Until then it answers faults; after, it fills every missing
 * page (restore/fill.h) and returns when none is left.  Pages the images
 * leave at the source come from its lazy page server (restore/remote.h),
 * which is told PS_IOV_CLOSE at the end (the source may let its tree go).
 *
 * Every userfaultfd it takes it also hands to the guard (@guard, tag
 * 'u'), and says 'd' when done: a daemon that dies leaves them open in the
 * guard, so the tree's faults wait, and are never given zero pages, until
 * the guard has killed the tree.
 */
#ifndef MEMSPLICE_RESTORE_DAEMON_H
#define MEMSPLICE_RESTORE_DAEMON_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "restore/mark.h"
#include "sink/pageserver.h"

#define LAZY_SOCKET		"lazy-pages.socket"

struct daemon_proc {
	pid_t pid;			/* in pstree.img */
	struct mark mark;
};

struct daemon_opts {
	int dirfd;
	int listen;			/* bound to DIR/lazy-pages.socket */
	int guard;
	struct daemon_proc *procs;	/* the tree's processes */
	size_t nr;
	uint64_t batch;			/* bytes a batch copies */
	const struct ps_opts *source;	/* the source's lazy page server, or NULL */
	bool test_stall;		/* test builds: serve nothing once criu has finished */
	const char *test_go;		/* test builds: no batch before a byte from this FIFO */
};

/*
 * daemon_run - serve one restore; 0 when every page is in place, -EPIPE
 * when criu left the socket before its restore was done (criu says why),
 * or another -errno
 */
int daemon_run(struct daemon_opts *o);

#endif
