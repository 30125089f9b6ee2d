// SPDX-License-Identifier: GPL-2.0
/* criu's page-server wire format: see pageserver.h */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <sys/time.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include "proto/pageserver.h"
#include "proto/tls.h"

/* a decimal number of at most 4 digits at *@s; advances *@s */
static int version_part(const char **s, unsigned int *v)
{
	const char *p = *s;

	*v = 0;
	while (*p >= '0' && *p <= '9' && p - *s < 4)
		*v = *v * 10 + (*p++ - '0');
	if (p == *s || (*p >= '0' && *p <= '9'))
		return -EINVAL;
	*s = p;
	return 0;
}

int ps_layout_of(const char *version, enum ps_layout *layout)
{
	unsigned int major, minor, patch;
	const char *p = version;

	if (version_part(&p, &major) || *p++ != '.' || version_part(&p, &minor))
		return -EINVAL;
	if (*p == '.' && (p++, version_part(&p, &patch)))
		return -EINVAL;
	if (*p || !major)
		return -EINVAL;
	*layout = major > 4 || (major == 4 && minor >= 2) ? PS_LAYOUT_32 : PS_LAYOUT_24;
	return 0;
}

size_t ps_encode(enum ps_layout layout, union ps_hdr *h, uint32_t cmd, uint64_t nr_pages,
		 uint64_t vaddr, uint64_t dst_id)
{
	memset(h, 0, sizeof(*h));
	if (layout == PS_LAYOUT_24) {
		h->v24.cmd = cmd;
		h->v24.nr_pages = (uint32_t)nr_pages;
		h->v24.vaddr = vaddr;
		h->v24.dst_id = dst_id;
		return sizeof(h->v24);
	}
	h->v32.cmd = cmd;
	h->v32.nr_pages = nr_pages;
	h->v32.vaddr = vaddr;
	h->v32.dst_id = dst_id;
	return sizeof(h->v32);
}

void ps_decode(enum ps_layout layout, const union ps_hdr *h, struct ps_msg *m)
{
	if (layout == PS_LAYOUT_24) {
		*m = (struct ps_msg){ h->v24.cmd, h->v24.nr_pages, h->v24.vaddr, h->v24.dst_id };
		return;
	}
	*m = (struct ps_msg){ h->v32.cmd, h->v32.nr_pages, h->v32.vaddr, h->v32.dst_id };
}

int ps_set_timeouts(int sk, unsigned int seconds)
{
	struct timeval tv = { .tv_sec = seconds };
	int one = 1;

	if (setsockopt(sk, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) ||
	    setsockopt(sk, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) ||
	    setsockopt(sk, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)))
		return -errno;
	return 0;
}

/* all of @len bytes at @buf through the TLS session */
static int tls_send_all(const struct ps_conn *c, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = tls_send(c->tls, buf, len);

		if (n == -EINTR && !*c->interrupted)
			continue;
		if (n < 0)
			return (int)n;
		buf += n;
		len -= n;
	}
	return 0;
}

int ps_sendv(const struct ps_conn *c, struct iovec *iov, int cnt, int flags)
{
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = cnt };

	for (int i = 0; c->tls && i < cnt; i++) {
		int ret = tls_send_all(c, iov[i].iov_base, iov[i].iov_len);

		if (ret)
			return ret;
	}
	if (c->tls)
		return 0;

	while (mh.msg_iovlen) {
		ssize_t n = sendmsg(c->sk, &mh, flags | MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR && !*c->interrupted)
				continue;
			return errno == EWOULDBLOCK ? -EAGAIN : -errno;
		}
		while (n > 0) {
			if ((size_t)n < mh.msg_iov->iov_len) {
				mh.msg_iov->iov_base = (char *)mh.msg_iov->iov_base + n;
				mh.msg_iov->iov_len -= n;
				break;
			}
			n -= mh.msg_iov->iov_len;
			mh.msg_iov++;
			mh.msg_iovlen--;
		}
	}
	return 0;
}

int ps_recv(const struct ps_conn *c, void *buf, size_t len)
{
	char *p = buf;

	while (len) {
		ssize_t n = c->tls ? tls_recv(c->tls, p, len) : recv(c->sk, p, len, 0);

		if (n < 0 && !c->tls)
			n = errno == EWOULDBLOCK ? -EAGAIN : -errno;
		if (n < 0) {
			if (n == -EINTR && !*c->interrupted)
				continue;
			return (int)n;
		}
		if (n == 0)
			return -ECONNRESET;
		p += n;
		len -= n;
	}
	return 0;
}

/* under TLS: through the session's buffer */
static int tls_from_pipe(const struct ps_conn *c, int pipe_fd, size_t len)
{
	size_t size;
	char *buf = tls_buffer(c->tls, &size);

	while (len) {
		ssize_t n = read(pipe_fd, buf, len < size ? len : size);
		int ret;

		if (n < 0 && errno == EINTR && !*c->interrupted)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;	/* the source promised @len bytes */
		ret = tls_send_all(c, buf, n);
		if (ret)
			return ret;
		len -= n;
	}
	return 0;
}

int ps_splice(const struct ps_conn *c, int pipe_fd, size_t len)
{
	if (c->tls)
		return tls_from_pipe(c, pipe_fd, len);
	while (len) {
		ssize_t n = splice(pipe_fd, NULL, c->sk, NULL, len, SPLICE_F_MOVE);

		if (n < 0) {
			if (errno == EINTR && !*c->interrupted)
				continue;
			return errno == EWOULDBLOCK ? -EAGAIN : -errno;
		}
		if (n == 0)
			return -EIO;	/* the source promised @len bytes */
		len -= n;
	}
	return 0;
}

int ps_recv_file(const struct ps_conn *c, int fd, off_t off, size_t len)
{
	char buf[64 << 10];
	int ret = 0;

	while (!ret && len) {
		size_t n = len < sizeof(buf) ? len : sizeof(buf);

		ret = ps_recv(c, buf, n);
		if (!ret && pwrite(fd, buf, n, off) != (ssize_t)n)
			ret = -EIO;
		off += n;
		len -= n;
	}
	return ret;
}

int ps_send_msg(const struct ps_conn *c, uint32_t cmd, uint64_t nr_pages, uint64_t vaddr,
		uint64_t dst_id, int flags)
{
	union ps_hdr h;
	struct iovec iov = { &h, ps_encode(c->layout, &h, cmd, nr_pages, vaddr, dst_id) };

	return ps_sendv(c, &iov, 1, flags);
}

int ps_recv_msg(const struct ps_conn *c, struct ps_msg *m)
{
	union ps_hdr h;
	int ret = ps_recv(c, &h, c->layout);

	if (!ret)
		ps_decode(c->layout, &h, m);
	return ret;
}

int ps_recv_first(struct ps_conn *c, struct ps_msg *m)
{
	union ps_hdr h;
	uint64_t at16;
	uint32_t cmd;
	int ret = ps_recv(c, &h, PS_LAYOUT_24);

	if (ret)
		return ret;
	cmd = h.v24.cmd & ((1u << PS_CMD_BITS) - 1);
	if (cmd != PS_IOV_OPEN && cmd != PS_IOV_OPEN2 && cmd != PS_IOV_PARENT &&
	    h.v24.cmd != PS_MS_IMAGES)
		return -EPROTO;
	memcpy(&at16, (char *)&h + 16, sizeof(at16));
	c->layout = at16 ? PS_LAYOUT_24 : PS_LAYOUT_32;
	if (c->layout == PS_LAYOUT_32) {
		ret = ps_recv(c, (char *)&h + PS_LAYOUT_24, PS_LAYOUT_32 - PS_LAYOUT_24);
		if (ret)
			return ret;
		if (h.v32.pad)
			return -EPROTO;
	}
	ps_decode(c->layout, &h, m);
	return m->dst_id ? 0 : -EPROTO;
}
