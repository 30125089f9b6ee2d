/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The page-server sink: pages go to a `criu page-server` over TCP, in
 * CRIU's own protocol; the pagemaps are also written locally, without
 * pages, so that the next pass can check what its parent covers.
 */
#ifndef MEMSPLICE_SINK_PAGESERVER_H
#define MEMSPLICE_SINK_PAGESERVER_H

#include <signal.h>
#include <stdbool.h>

#include "proto/pageserver.h"
#include "sink/sink.h"

#define PS_DEFAULT_CRIU		"3.17"	/* Debian 12's criu */
#define PS_DEFAULT_TIMEOUT	30	/* seconds, --page-server-timeout */

/**
 * struct ps_opts - where the page server is and how to talk to it
 * @address:   host name or address (criu's --address)
 * @port:      TCP port (criu's --port), 1..65535
 * @criu:      the server's CRIU version ("3.17", "4.2"): chooses @layout
 * @layout:    header layout derived from @criu
 * @timeout_s: how long to wait for the server: to accept a connection
 *             (refused connections are retried meanwhile), to take more
 *             data, to answer a request
 * @tls:       --tls: the session encrypted (NULL: plain TCP)
 */
struct tls_opts;

struct ps_opts {
	const char *address;
	unsigned int port;
	const char *criu;
	enum ps_layout layout;
	unsigned int timeout_s;
	const struct tls_opts *tls;
};

/*
 * ps_connect - a connected socket to the page server, in *@fd.  Refused
 * connections are retried every 100 ms for @o->timeout_s seconds (the
 * server of the next pass may not listen yet); any other failure, or the
 * end of that time, is an error.  The socket has send and receive timeouts
 * of @o->timeout_s and is close-on-exec.  Nothing is sent.  0 or -errno,
 * the error printed.
 */
int ps_connect(const struct ps_opts *o, volatile sig_atomic_t *interrupted, int *fd);

struct imgset;

/*
 * sink_ps_create - connect to the page server and check that it answers in
 * @o->layout (a server with the other layout closes the connection at the
 * first request: refused with one line naming the option).  The pagemaps
 * are mirrored into @set without pages.  0 or -errno, the error printed.
 * Call it before freezing the tree: nothing waits for the network then.
 */
int sink_ps_create(struct page_sink *sink, const struct ps_opts *o, struct imgset *set,
		   volatile sig_atomic_t *interrupted);
void sink_ps_destroy(struct page_sink *sink);

#endif
