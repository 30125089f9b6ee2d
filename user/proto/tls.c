// SPDX-License-Identifier: GPL-2.0
/* TLS on a page-server connection, as criu speaks it: see tls.h */
#define LOG_PREFIX "tls: "
#include <errno.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>
#include <gnutls/gnutls.h>

#include "log.h"
#include "proto/tls.h"

#define TLS_BUF_SIZE	(64 << 10)

struct tls {
	gnutls_session_t session;
	gnutls_certificate_credentials_t cred;
	int sk;
	char buf[TLS_BUF_SIZE];
};

/* the socket's own errors, and no SIGPIPE when the peer is gone */
static ssize_t push(gnutls_transport_ptr_t p, const void *data, size_t len)
{
	return send(((struct tls *)p)->sk, data, len, MSG_NOSIGNAL);
}

static ssize_t pull(gnutls_transport_ptr_t p, void *data, size_t len)
{
	return recv(((struct tls *)p)->sk, data, len, 0);
}

static int to_errno(int ret)
{
	switch (ret) {
	case GNUTLS_E_AGAIN:
		return -EAGAIN;
	case GNUTLS_E_INTERRUPTED:
		return -EINTR;
	case GNUTLS_E_PREMATURE_TERMINATION:
	case GNUTLS_E_PUSH_ERROR:
	case GNUTLS_E_PULL_ERROR:
		return -ECONNRESET;
	default:
		return -EPROTO;
	}
}

static int load_creds(struct tls *t, const struct tls_opts *o)
{
	const char *cacert = o->cacert ?: TLS_DEFAULT_CACERT;
	const char *cert = o->cert ?: TLS_DEFAULT_CERT;
	const char *key = o->key ?: TLS_DEFAULT_KEY;
	int ret;

	ret = gnutls_certificate_allocate_credentials(&t->cred);
	if (ret) {
		pr_err("cannot allocate credentials: %s", gnutls_strerror(ret));
		return -ENOMEM;
	}
	if (!o->cacert && gnutls_certificate_set_x509_system_trust(t->cred) < 0)
		pr_info("no system trust store");
	ret = gnutls_certificate_set_x509_trust_file(t->cred, cacert, GNUTLS_X509_FMT_PEM);
	if (ret < 0 || (ret == 0 && o->cacert)) {
		pr_err("cannot load CA certificates from %s: %s (--tls-cacert)", cacert,
		       ret < 0 ? gnutls_strerror(ret) : "none in it");
		return -EINVAL;
	}
	ret = gnutls_certificate_set_x509_key_file(t->cred, cert, key, GNUTLS_X509_FMT_PEM);
	if (ret < 0) {
		pr_err("cannot load the certificate %s and key %s: %s (--tls-cert, --tls-key)",
		       cert, key, gnutls_strerror(ret));
		return -EINVAL;
	}
	return 0;
}

/* the peer's certificate: signed by a trusted CA, naming @peer if given */
static int verify(struct tls *t, const char *peer)
{
	gnutls_datum_t out = { 0 };
	unsigned int status;
	int ret;

	ret = gnutls_certificate_verify_peers3(t->session, peer, &status);
	if (ret < 0) {
		pr_err("cannot verify the peer's certificate: %s", gnutls_strerror(ret));
		return -EACCES;
	}
	if (!status)
		return 0;
	gnutls_certificate_verification_status_print(status, GNUTLS_CRT_X509, &out, 0);
	pr_err("the peer's certificate is refused%s%s: %s", peer ? " for " : "", peer ?: "",
	       out.data ? (char *)out.data : "invalid");
	gnutls_free(out.data);
	return -EACCES;
}

int tls_start(int sk, const struct tls_opts *o, bool server, const char *peer, struct tls **tp)
{
	struct tls *t = calloc(1, sizeof(*t));
	int ret;

	if (!t) {
		pr_err("out of memory");
		return -ENOMEM;
	}
	t->sk = sk;
	ret = load_creds(t, o);
	if (ret)
		goto err;
	ret = gnutls_init(&t->session, server ? GNUTLS_SERVER : GNUTLS_CLIENT);
	if (!ret)
		ret = gnutls_credentials_set(t->session, GNUTLS_CRD_CERTIFICATE, t->cred);
	if (!ret)
		ret = gnutls_set_default_priority(t->session);
	if (ret) {
		pr_err("cannot set up a session: %s", gnutls_strerror(ret));
		ret = -EPROTO;
		goto err;
	}
	gnutls_transport_set_ptr(t->session, t);
	gnutls_transport_set_push_function(t->session, push);
	gnutls_transport_set_pull_function(t->session, pull);
	if (server)
		gnutls_certificate_server_set_request(t->session, GNUTLS_CERT_REQUIRE);
	do
		ret = gnutls_handshake(t->session);
	while (ret < 0 && !gnutls_error_is_fatal(ret) && ret != GNUTLS_E_AGAIN);
	if (ret < 0) {
		pr_err("the TLS handshake failed: %s", ret == GNUTLS_E_AGAIN ?
		       "the peer did not answer in time" : gnutls_strerror(ret));
		ret = ret == GNUTLS_E_AGAIN ? -EAGAIN : -EPROTO;
		goto err;
	}
	ret = verify(t, peer);
	if (ret)
		goto err;
	*tp = t;
	return 0;
err:
	tls_end(t, false);
	return ret;
}

void tls_end(struct tls *t, bool clean)
{
	if (!t)
		return;
	if (t->session) {
		/*
		 * Clean: the peer's close_notify read too (criu's page server
		 * sends one, then wants the connection's end, not a reset from
		 * a socket closed with it unread); the socket's timeouts bound it.
		 */
		gnutls_bye(t->session, clean ? GNUTLS_SHUT_RDWR : GNUTLS_SHUT_WR);
		gnutls_deinit(t->session);
	}
	if (t->cred)
		gnutls_certificate_free_credentials(t->cred);
	free(t);
}

ssize_t tls_send(struct tls *t, const void *buf, size_t len)
{
	ssize_t n = gnutls_record_send(t->session, buf, len);

	return n < 0 ? to_errno((int)n) : n;
}

ssize_t tls_recv(struct tls *t, void *buf, size_t len)
{
	ssize_t n = gnutls_record_recv(t->session, buf, len);

	return n < 0 ? to_errno((int)n) : n;
}

void *tls_buffer(struct tls *t, size_t *len)
{
	*len = sizeof(t->buf);
	return t->buf;
}
