/* SPDX-License-Identifier: GPL-2.0 */
/*
 * TLS on a page-server connection, as criu speaks it (--tls, criu/tls.c,
 * GnuTLS): X.509 on both ends, the server requires a client certificate,
 * each end checks the other's chain against the CA file (or the system's
 * trust store when none is named), and the client checks that the
 * server's certificate names the address it dialled.  The same files and
 * defaults as criu's:
 *
 *   --tls-cacert  /etc/pki/CA/cacert.pem
 *   --tls-cert    /etc/pki/criu/cert.pem
 *   --tls-key     /etc/pki/criu/private/key.pem
 *
 * Under TLS pages are encrypted in memsplice's memory: a pipe's pages are
 * read into a bounded buffer (64 KiB) and sent from there, never spliced.
 */
#ifndef MEMSPLICE_PROTO_TLS_H
#define MEMSPLICE_PROTO_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define TLS_DEFAULT_CACERT	"/etc/pki/CA/cacert.pem"
#define TLS_DEFAULT_CERT	"/etc/pki/criu/cert.pem"
#define TLS_DEFAULT_KEY		"/etc/pki/criu/private/key.pem"

/* --tls and its files (NULL: criu's defaults) */
struct tls_opts {
	const char *cacert, *cert, *key;
};

struct tls;

/*
 * tls_start - the handshake on the connected socket @sk, as the server
 * (@server) or the client, then the peer's certificate checked: its chain,
 * and that it names @peer when @peer is not NULL.  The socket's timeouts
 * bound it.  0 with the session in *@t, or -errno, printed.
 */
int tls_start(int sk, const struct tls_opts *o, bool server, const char *peer, struct tls **t);
/*
 * tls_end - tell the peer (best effort) and free the session; @t may be
 * NULL.  @clean: the session's work is done, so the peer's own close is
 * awaited as well (bounded by the socket's timeouts).
 */
void tls_end(struct tls *t, bool clean);
/*
 * tls_send / tls_recv - one record's worth: bytes moved (> 0), 0 at the
 * peer's end (recv), or -errno: -EAGAIN a timeout, -EINTR a signal
 */
ssize_t tls_send(struct tls *t, const void *buf, size_t len);
ssize_t tls_recv(struct tls *t, void *buf, size_t len);
/* tls_buffer - a buffer of the session's for data read from a pipe, and its size */
void *tls_buffer(struct tls *t, size_t *len);

#endif
