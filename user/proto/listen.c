// SPDX-License-Identifier: GPL-2.0
/* a page-server protocol server's sessions: see listen.h */
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "proto/listen.h"
#include "proto/tls.h"

/* the listening socket */
static int listen_on(const struct ps_server_opts *lo, int *fd)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_PASSIVE };
	struct addrinfo *ai, *a;
	char port[8];
	int ret, one = 1;

	snprintf(port, sizeof(port), "%u", lo->port);
	ret = getaddrinfo(lo->address, port, &hints, &ai);
	if (ret) {
		pr_err("%s: cannot resolve %s: %s", lo->name, lo->address ?: "*", gai_strerror(ret));
		return -EINVAL;
	}
	ret = -EADDRNOTAVAIL;
	for (a = ai; a; a = a->ai_next) {
		int sk = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);

		if (sk < 0) {
			ret = -errno;
			continue;
		}
		setsockopt(sk, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (!bind(sk, a->ai_addr, a->ai_addrlen) && !listen(sk, 1)) {
			*fd = sk;
			ret = 0;
			break;
		}
		ret = -errno;
		close(sk);
	}
	freeaddrinfo(ai);
	if (ret)
		pr_errno(ret, "%s: cannot listen on %s:%u", lo->name, lo->address ?: "*", lo->port);
	return ret;
}

/* the addresses of the peer */
static int resolve_peer(const struct ps_server_opts *lo, struct addrinfo **peer)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
	int ret;

	*peer = NULL;
	if (!lo->peer)
		return 0;
	ret = getaddrinfo(lo->peer, NULL, &hints, peer);
	if (ret) {
		pr_err("%s: cannot resolve %s %s: %s", lo->name, lo->peer_option, lo->peer, gai_strerror(ret));
		return -EINVAL;
	}
	return 0;
}

/* the IPv4 address inside @sa (plain or v4-mapped IPv6), 0 if none */
static bool v4_of(const struct sockaddr *sa, struct in_addr *a)
{
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;

	if (sa->sa_family == AF_INET) {
		*a = ((const struct sockaddr_in *)sa)->sin_addr;
		return true;
	}
	if (sa->sa_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
		memcpy(a, &s6->sin6_addr.s6_addr[12], sizeof(*a));
		return true;
	}
	return false;
}

/* whether the host that connected from @from is one of @peer (none: any) */
static bool is_peer(const struct sockaddr *from, const struct addrinfo *peer)
{
	struct in_addr a, b;

	if (!peer)
		return true;
	for (const struct addrinfo *p = peer; p; p = p->ai_next) {
		if (v4_of(from, &a) && v4_of(p->ai_addr, &b) && a.s_addr == b.s_addr)
			return true;
		if (from->sa_family == AF_INET6 && p->ai_family == AF_INET6 &&
		    !memcmp(&((const struct sockaddr_in6 *)from)->sin6_addr,
			    &((const struct sockaddr_in6 *)p->ai_addr)->sin6_addr,
			    sizeof(struct in6_addr)))
			return true;
	}
	return false;
}

int ps_server_accept(const struct ps_server *srv, struct ps_conn *c)
{
	const struct ps_server_opts *lo = srv->o;
	struct pollfd p = { .fd = srv->sk, .events = POLLIN };

	while (!*c->interrupted) {
		struct sockaddr_storage from;
		socklen_t len = sizeof(from);
		char host[NI_MAXHOST];
		int ret;

		if (poll(&p, 1, 200) < 0 && errno != EINTR)
			return -errno;
		if (!(p.revents & POLLIN))
			continue;
		c->sk = accept4(srv->sk, (struct sockaddr *)&from, &len, SOCK_CLOEXEC);
		if (c->sk < 0) {
			if (errno != EINTR && errno != ECONNABORTED)
				return -errno;
			continue;
		}
		if (getnameinfo((struct sockaddr *)&from, len, host, sizeof(host), NULL, 0,
				NI_NUMERICHOST))
			snprintf(host, sizeof(host), "?");
		ret = ps_set_timeouts(c->sk, lo->timeout_s);
		if (ret) {
			pr_errno(ret, "%s: cannot set up the socket from %s", lo->name, host);
			return ret;
		}
		if (!is_peer((struct sockaddr *)&from, srv->peer))
			pr_warn("%s: refused a connection from %s: not %s %s", lo->name, host, lo->peer_option,
				lo->peer);
		else if (lo->tls && tls_start(c->sk, lo->tls, true, lo->peer, &c->tls))
			pr_warn("%s: refused a connection from %s: no TLS session (above)", lo->name, host);
		else
			return 0;
		close(c->sk);
		c->sk = -1;
	}
	return -EINTR;
}

int ps_server_open(struct ps_server *srv, const struct ps_server_opts *o)
{
	int ret;

	srv->o = o;
	srv->sk = -1;
	ret = resolve_peer(o, &srv->peer);
	if (!ret)
		ret = listen_on(o, &srv->sk);
	if (ret)
		ps_server_close(srv);
	return ret;
}

void ps_server_stop(struct ps_server *srv)
{
	if (srv->sk >= 0)
		close(srv->sk);
	srv->sk = -1;
}

void ps_server_close(struct ps_server *srv)
{
	ps_server_stop(srv);
	if (srv->peer)
		freeaddrinfo(srv->peer);
	srv->peer = NULL;
}
