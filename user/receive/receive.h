/* SPDX-License-Identifier: GPL-2.0 */
/*
 * memsplice receive: the destination of a migration's rounds.  One
 * listening socket takes every round in turn, from memsplice's page-server
 * sink or from criu (pre-dump/dump --page-server), each a session of its
 * own (receive/session.h), into the store under DIR/store (receive/store.h:
 * on DIR's filesystem, so that a receiver started again goes on from its
 * last round).  After --rounds rounds in all, DIR gets the flat image set
 * (receive/flat.h) and the receiver exits 0.
 *
 * A round that fails (a broken or stalled session, a sender's lie) leaves
 * the store as it was and the receiver waiting for the next; a signal ends
 * it with the store kept (exit 1).
 */
#ifndef MEMSPLICE_RECEIVE_H
#define MEMSPLICE_RECEIVE_H

#include <signal.h>

#include "proto/listen.h"

#define RECEIVE_DEFAULT_TIMEOUT	30	/* seconds */

struct receive_opts {
	const char *dir;		/* -D */
	struct ps_server_opts srv;	/* --address, --port, --peer, --timeout, --tls */
	unsigned int rounds;		/* --rounds: then the flat set, and exit */
};

int cmd_receive(const struct receive_opts *o, volatile sig_atomic_t *interrupted);

#endif
