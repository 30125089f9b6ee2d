/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The end of a post-copy migration, at the source (checkpoint
 * --lazy-pages): criu's final dump with --lazy-pages on top of the
 * passes, its page server told to close at once (memsplice serves the lazy
 * pages instead, from the tree, with nothing held in pipes), the tree
 * seized again, and the destination's `criu lazy-pages` served until it
 * has every page; then the tree is killed.
 *
 * criu 3.17 with --leave-stopped --ps-socket FD --status-fd S writes the
 * status byte once its lazy page server is ready; on PS_IOV_CLOSE it
 * answers 0, destroys its page pipes, leaves every task SIGSTOPped,
 * detaches and exits 0.  memsplice seizes the tree again at once.
 *
 * Whatever fails after criu's dump leaves the tree stopped, never resumed:
 * the destination may already run.  One line says where it is and how to
 * resume or kill it.  criu's dump failing resumes it (criu does).
 *
 * Proof that the tree did not run in between (criu --track-mem cleared
 * the soft-dirty bits while it held the tree): once seized again, a
 * soft-dirty page in a private mapping is a write after criu's dump, and
 * the lazy pages would mix two moments.  Nothing is served then: DIR/final
 * is renamed DIR/final.stale (criu restore cannot take it for a good set)
 * and the tree is left stopped.  Without soft-dirty bits (criu's
 * --track-mem needs them too) this cannot be checked, and is said.
 *
 * The session: only from --lazy-peer where given (any other connection is
 * refused and logged, the listener stays open for the right one); once
 * accepted, the listener is closed; a session that moves no byte for
 * --lazy-timeout seconds has failed.
 */
#ifndef MEMSPLICE_POSTCOPY_H
#define MEMSPLICE_POSTCOPY_H

#include <signal.h>

#include "proto/listen.h"
#include "proto/pageserver.h"

struct checkpoint_opts;

#define LAZY_DEFAULT_TIMEOUT	60	/* seconds */

/* where and to whom the lazy pages are served */
struct lazy_opts {
	struct ps_server_opts srv;	/* --lazy-address, --lazy-port, --lazy-peer,
					   --lazy-timeout, --tls */
	/*
	 * A test build's hook (MEMSPLICE_TEST_RELEASED_FD): once criu let
	 * the tree go, before it is seized again, "released" is said on the
	 * fd and one byte awaited; -1 without.
	 */
	int released_hook_fd;
};

/*
 * postcopy_run - criu's lazy dump into @path (DIR/final, created) on top of
 * pass @last, then serve the destination in @layout (criu's, and so the
 * daemon's at the destination).  0 when the destination had every page and
 * the tree was killed; -errno with the reason printed.
 */
int postcopy_run(const struct checkpoint_opts *o, volatile sig_atomic_t *interrupted,
		 unsigned int last, const char *path, enum ps_layout layout);

#endif
