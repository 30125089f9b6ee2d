/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The server's end of page-server protocol sessions: one listening socket,
 * and the sessions accepted on it one at a time, each only from the peer
 * the user named (any other connection refused and logged, the wait going
 * on) and through a TLS handshake where asked.  Used by the lazy-pages
 * server at the source and the receiver at the destination.
 */
#ifndef MEMSPLICE_PROTO_LISTEN_H
#define MEMSPLICE_PROTO_LISTEN_H

#include "proto/pageserver.h"

struct addrinfo;
struct tls_opts;

/* where a server listens and whom it serves */
struct ps_server_opts {
	const char *name;		/* for its messages: "lazy", "receive" */
	const char *address;		/* where to listen (NULL: any) */
	unsigned int port;
	const char *peer;		/* the only host served (NULL: any) */
	const char *peer_option;	/* the option that named it, for the log */
	unsigned int timeout_s;		/* a session that moves no byte that long fails */
	const struct tls_opts *tls;	/* the sessions encrypted (NULL: plain TCP) */
};

struct ps_server {
	int sk;				/* listening; -1 once stopped */
	struct addrinfo *peer;
	const struct ps_server_opts *o;
};

/* ps_server_open - the peer resolved and the socket listening; says why not */
int ps_server_open(struct ps_server *srv, const struct ps_server_opts *o);
/*
 * ps_server_accept - the next session from the peer into @c (its socket's
 * timeouts set, TLS started); -EINTR once *c->interrupted
 */
int ps_server_accept(const struct ps_server *srv, struct ps_conn *c);
/* ps_server_stop - no more sessions: the kernel refuses them from now on */
void ps_server_stop(struct ps_server *srv);
void ps_server_close(struct ps_server *srv);

#endif
