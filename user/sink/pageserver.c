// SPDX-License-Identifier: GPL-2.0
/*
 * The page-server sink: the dumping side of CRIU's page-server protocol
 * (criu/page-xfer.c), so that `criu page-server` on another machine
 * receives memsplice's pre-dumps as it receives criu's.
 *
 *   connect, probe   PS_IOV_PARENT (twice with 24-byte headers) -> s32 each
 *   each pagemap     PS_IOV_OPEN2 dst_id                        -> u8 has_parent
 *                    PS_IOV_ADD_F | PE_PRESENT << 16, vaddr, n  + n pages
 *                    PS_IOV_ADD_F | PE_PARENT << 16, vaddr, n   (no data)
 *   end of the pass  PS_IOV_CLOSE                               -> s32 status 0
 *
 * Headers are raw structs in host byte order, as CRIU sends them:
 * cmd = flags << 16 | command, dst_id = id << 8 | type (1 a process, 2 a
 * shared segment).  The server writes pagemap-ID.img and pages-N.img into
 * its own -D; every other image stays here, as with criu.
 *
 * What the client must check, because the server does not:
 * - PE_PARENT runs are checked by the server against its own parent
 *   (`criu page-server --prev-images-dir`), but only if it has one: a
 *   server without a parent accepts them unchecked and the restore fails
 *   later.  OPEN2's answer says whether it has one for this pagemap; a
 *   PE_PARENT run for a pagemap it has none for is refused here.
 * - Which pages are PE_PARENT is decided while the tree is frozen, from the
 *   local parent's pagemap (collect.c), which is why this sink also writes
 *   every pagemap into the local image set, without pages (its head names
 *   pages-0.img, which does not exist: that set restores nothing by
 *   itself).  The next pass reads it like any parent, and `criu dump
 *   --page-server --prev-images-dir` reads only the local inventory.img
 *   (pid reuse), never a local pagemap.
 * - There is no greeting and no version field, and CRIU 4.2 made the
 *   header 32 bytes (u64 nr_pages).  The first request is built so that a
 *   server of the other layout cannot take it for valid: with 24-byte
 *   headers, two PARENT requests back to back, whose first 32 bytes read
 *   as one 32-byte PARENT for dst_id 5 (type 5: unknown); with 32-byte
 *   headers, one PARENT whose first 24 bytes read as dst_id 0 (type 0).
 *   CRIU's server closes the connection on an unknown type, before any
 *   answer: a connection closed there is a layout mismatch, refused with
 *   one line naming --page-server-criu.
 *
 * Zero-copy: pages that arrive in a pipe are spliced into the socket, so
 * no byte passes through memsplice; a buffer is sent with its header in
 * one sendmsg.  put_pages() returns only when every byte is in the socket:
 * memsplice holds no page longer than one fill, and the socket's send
 * buffer bounds what the kernel holds.  A server that takes no data for
 * --page-server-timeout seconds (SO_SNDTIMEO) fails the pass.  Nothing is
 * ever sent after a failure, and CLOSE only after the last page: a server
 * that did not get CLOSE exits non-zero ("The data were not flushed").
 */
#define LOG_PREFIX "page-server: "
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "images/image.h"
#include "images/imgset.h"
#include "images/pagemap-entry.h"
#include "log.h"
#include "proto/pageserver.h"
#include "sink/pageserver.h"
#include "proto/tls.h"
#include "source/source.h"
#include "util.h"

#define RETRY_MS		100	/* between refused connections */

struct sink_ps {
	struct ps_conn c;	/* the socket, its layout, and the run's signal */
	const struct ps_opts *o;
	/* the pagemap being sent */
	uint64_t dst_id;
	enum pagemap_kind kind;
	unsigned long id;
	bool has_parent;	/* OPEN2's answer */
	/* its local mirror, adjacent runs merged */
	struct imgset *set;
	struct img pm;
	unsigned long vaddr, nr_pages;
	unsigned int flags;
};

static const char *kind_name(enum pagemap_kind kind)
{
	return kind == PAGEMAP_SHMEM ? "shared segment" : "process";
}

/*
 * Report a failed exchange with the server, once, in words that say what
 * the server did; "@doing @kind @id" names the step.  An EINTR caused by our
 * own signal is left to dump_tree(), which says the run was interrupted.
 */
static int ps_fail(const struct sink_ps *ps, int err, const char *doing)
{
	const struct ps_opts *o = ps->o;
	char step[96] = "";

	if (err == -EINTR && *ps->c.interrupted)
		return err;
	if (ps->dst_id)
		snprintf(step, sizeof(step), " of %s %lu", kind_name(ps->kind), ps->id);
	switch (err) {
	case -EAGAIN:
		pr_err("%s:%u took no data and gave no answer for %u s while %s%s "
		       "(--page-server-timeout): the server is stalled",
		       o->address, o->port, o->timeout_s, doing, step);
		break;
	case -EPIPE:
	case -ECONNRESET:
		pr_err("%s:%u closed the connection while %s%s: the server failed or was "
		       "stopped (see its log)", o->address, o->port, doing, step);
		break;
	default:
		pr_errno(err, "%s:%u: %s%s", o->address, o->port, doing, step);
	}
	return err;
}

static int ps_send_hdr(struct sink_ps *ps, uint32_t cmd, uint64_t nr_pages, uint64_t vaddr,
		       int flags)
{
	return ps_send_msg(&ps->c, cmd, nr_pages, vaddr, ps->dst_id, flags);
}

/* ---- connecting ---------------------------------------------------------- */

/* one attempt at @ai, at most @wait_ms; the connected socket or -errno */
static int try_connect(const struct addrinfo *ai, int wait_ms)
{
	struct pollfd pfd;
	socklen_t len = sizeof(int);
	int sk, err = 0, ret;

	sk = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
	if (sk < 0)
		return -errno;
	if (!connect(sk, ai->ai_addr, ai->ai_addrlen))
		goto connected;
	if (errno != EINPROGRESS) {
		err = -errno;
		goto err;
	}
	pfd = (struct pollfd){ .fd = sk, .events = POLLOUT };
	ret = poll(&pfd, 1, wait_ms);
	if (ret <= 0) {
		err = ret ? -errno : -ETIMEDOUT;
		goto err;
	}
	if (getsockopt(sk, SOL_SOCKET, SO_ERROR, &err, &len) < 0) {
		err = -errno;
		goto err;
	}
	if (err) {
		err = -err;
		goto err;
	}
connected:
	if (fcntl(sk, F_SETFL, 0) < 0) {	/* blocking, bounded by the timeouts */
		err = -errno;
		goto err;
	}
	return sk;
err:
	close(sk);
	return err;
}

int ps_connect(const struct ps_opts *o, volatile sig_atomic_t *interrupted, int *fd)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				  .ai_protocol = IPPROTO_TCP };
	uint64_t deadline = now_us() + (uint64_t)o->timeout_s * 1000000;
	struct addrinfo *list;
	char port[16];
	int ret, sk = -ECONNREFUSED;

	snprintf(port, sizeof(port), "%u", o->port);
	ret = getaddrinfo(o->address, port, &hints, &list);
	if (ret) {
		pr_err("cannot resolve page server address %s: %s", o->address,
		       ret == EAI_SYSTEM ? strerror(errno) : gai_strerror(ret));
		return -EHOSTUNREACH;
	}
	for (;;) {
		uint64_t now = now_us();
		int left_ms = now < deadline ? (int)((deadline - now) / 1000) : 0;

		for (const struct addrinfo *ai = list; ai; ai = ai->ai_next) {
			sk = try_connect(ai, MAX(left_ms, 1));
			if (sk >= 0 || sk != -ECONNREFUSED)
				break;
		}
		if (sk != -ECONNREFUSED || left_ms <= 0 || *interrupted)
			break;
		/* nobody listens yet: the next pass's server may still be starting */
		if (usleep(MIN(left_ms, RETRY_MS) * 1000) && *interrupted)
			break;
	}
	freeaddrinfo(list);
	if (*interrupted && (sk == -ECONNREFUSED || sk == -EINTR)) {
		pr_err("interrupted by signal %d while waiting for the page server at %s:%u",
		       (int)*interrupted, o->address, o->port);
		if (sk >= 0)
			close(sk);
		return -EINTR;
	}
	if (sk == -ECONNREFUSED) {
		pr_err("no page server at %s:%u: connection refused for %u s "
		       "(--page-server-timeout)", o->address, o->port, o->timeout_s);
		return sk;
	}
	if (sk < 0) {
		pr_errno(sk, "cannot connect to the page server at %s:%u", o->address, o->port);
		return sk;
	}
	ret = ps_set_timeouts(sk, o->timeout_s);
	if (ret) {
		pr_errno(ret, "cannot set up the socket to %s:%u", o->address, o->port);
		close(sk);
		return ret;
	}
	*fd = sk;
	return 0;
}

/* The first request: does the server answer, in our layout?  (see the top) */
static int ps_probe(struct sink_ps *ps)
{
	const struct ps_opts *o = ps->o;
	int nr = o->layout == PS_LAYOUT_24 ? 2 : 1;
	union ps_hdr h[2];
	struct iovec iov[2];
	int32_t answer[2];
	int ret;

	/* has the server a parent for process 0?  (no side effect there) */
	for (int i = 0; i < nr; i++) {
		iov[i].iov_base = &h[i];
		iov[i].iov_len = ps_encode(o->layout, &h[i], PS_IOV_PARENT, 0, 0, PS_TYPE_PID);
	}
	ret = ps_sendv(&ps->c, iov, nr, 0);
	if (!ret)
		ret = ps_recv(&ps->c, answer, nr * sizeof(answer[0]));
	if (ret == -ECONNRESET || ret == -EPIPE) {
		pr_err("%s:%u closed the connection at the first request, unanswered: a page "
		       "server of CRIU %s needs --page-server-criu %s (or it failed: see its log)",
		       o->address, o->port, o->layout == PS_LAYOUT_24 ? "4.2 or later" : "4.1 or older",
		       o->layout == PS_LAYOUT_24 ? "4.2" : "3.17");
		return -EPROTO;
	}
	if (ret == -EAGAIN) {
		pr_err("%s:%u accepted the connection but did not answer for %u s "
		       "(--page-server-timeout): not a criu page-server, or stalled",
		       o->address, o->port, o->timeout_s);
		return ret;
	}
	if (ret)
		return ps_fail(ps, ret, "asking whether it has a parent");
	for (int i = 0; i < nr; i++) {
		if (answer[i] != 0 && answer[i] != 1) {
			pr_err("%s:%u answered %d to PS_IOV_PARENT: not a criu page-server",
			       o->address, o->port, answer[i]);
			return -EPROTO;
		}
	}
	return 0;
}

/* ---- the local mirror ---------------------------------------------------- */

static int mirror_flush(struct sink_ps *ps)
{
	PagemapEntry pe = PAGEMAP_ENTRY__INIT;

	if (!ps->nr_pages)
		return 0;
	pe.vaddr = ps->vaddr;
	pagemap_entry_set_pages(&pe, ps->nr_pages);
	pe.has_flags = true;
	pe.flags = ps->flags;
	ps->nr_pages = 0;
	return img_write_entry(&ps->pm, &pe.base);
}

static int mirror_add(struct sink_ps *ps, unsigned long vaddr, unsigned long nr,
		      unsigned int flags)
{
	int ret;

	if (ps->nr_pages && ps->flags == flags &&
	    ps->vaddr + ps->nr_pages * PAGE_SIZE == vaddr && ps->nr_pages + nr <= UINT32_MAX) {
		ps->nr_pages += nr;
		return 0;
	}
	ret = mirror_flush(ps);
	ps->vaddr = vaddr;
	ps->nr_pages = nr;
	ps->flags = flags;
	if (ret)
		pr_errno(ret, "cannot write the local pagemap of %s %lu", kind_name(ps->kind), ps->id);
	return ret;
}

/* ---- the sink ------------------------------------------------------------ */

static int sink_ps_open(struct page_sink *sink, enum pagemap_kind kind, unsigned long id)
{
	struct sink_ps *ps = sink->priv;
	PagemapHead head = PAGEMAP_HEAD__INIT;
	char has_parent;
	int ret;

	ps->kind = kind;
	ps->id = id;
	ps->nr_pages = 0;
	ps->dst_id = (uint64_t)id << PS_TYPE_BITS |
		     (kind == PAGEMAP_SHMEM ? PS_TYPE_SHMEM : PS_TYPE_PID);
	ret = imgset_create(ps->set, &ps->pm,
			    kind == PAGEMAP_SHMEM ? IMG_SHMEM_PAGEMAP : IMG_PAGEMAP, id);
	if (ret)
		return ret;
	head.pages_id = 0;	/* no pages here: they are on the server */
	ret = img_write_entry(&ps->pm, &head.base);
	if (ret) {
		pr_errno(ret, "cannot write the local pagemap of %s %lu", kind_name(kind), id);
		goto err;
	}
	ret = ps_send_hdr(ps, PS_IOV_OPEN2, 0, 0, 0);
	if (!ret)
		ret = ps_recv(&ps->c, &has_parent, 1);
	if (ret) {
		ps_fail(ps, ret, "opening the pagemap");
		goto err;
	}
	ps->has_parent = has_parent;
	return 0;
err:
	img_close(&ps->pm);
	return ret;
}

static int sink_ps_put_pages(struct page_sink *sink, unsigned long vaddr,
			     const struct page_data *data)
{
	struct sink_ps *ps = sink->priv;
	unsigned long nr = data->len / PAGE_SIZE;
	uint32_t cmd = PE_PRESENT << PS_CMD_BITS | PS_IOV_ADD_F;
	union ps_hdr h;
	struct iovec iov[2] = {
		{ &h, ps_encode(ps->o->layout, &h, cmd, nr, vaddr, ps->dst_id) },
		{ (void *)data->buf, data->len },
	};
	int ret;

	if (data->buf) {
		ret = ps_sendv(&ps->c, iov, 2, 0);
	} else {
		/* the header waits in the socket for the pages that follow it */
		ret = ps_sendv(&ps->c, iov, 1, MSG_MORE);
		if (!ret)
			ret = ps_splice(&ps->c, data->pipe_fd, data->len);
	}
	if (ret)
		return ps_fail(ps, ret, "sending the pages");
	return mirror_add(ps, vaddr, nr, PE_PRESENT);
}

static int sink_ps_put_hole(struct page_sink *sink, unsigned long vaddr,
			    unsigned long nr_pages, unsigned int flags)
{
	struct sink_ps *ps = sink->priv;
	int ret;

	if ((flags & PE_PARENT) && !ps->has_parent) {
		pr_err("%s:%u has no parent pagemap for %s %lu, but memsplice's parent holds "
		       "pages of it: start `criu page-server` with --prev-images-dir naming "
		       "where the previous pass went", ps->o->address, ps->o->port,
		       kind_name(ps->kind), ps->id);
		return -ENOENT;
	}
	if (ps->o->layout == PS_LAYOUT_24 && nr_pages > UINT32_MAX) {
		pr_err("a run of %lu pages does not fit a 24-byte page-server header", nr_pages);
		return -EOVERFLOW;
	}
	/* sent at once, so that any failure is reported here and never on close */
	ret = ps_send_hdr(ps, flags << PS_CMD_BITS | PS_IOV_ADD_F, nr_pages, vaddr, 0);
	if (ret)
		return ps_fail(ps, ret, "sending the pagemap");
	return mirror_add(ps, vaddr, nr_pages, flags);
}

static int sink_ps_close(struct page_sink *sink)
{
	struct sink_ps *ps = sink->priv;
	int ret, ret2;

	/* the server moves on at the next OPEN2 or CLOSE: nothing to send */
	ret = mirror_flush(ps);
	ret2 = img_close(&ps->pm);
	return ret ? ret : ret2;
}

static int sink_ps_finish(struct page_sink *sink)
{
	struct sink_ps *ps = sink->priv;
	int32_t status;
	int ret;

	ps->dst_id = 0;
	ret = ps_send_hdr(ps, PS_IOV_CLOSE, 0, 0, 0);
	if (!ret)
		ret = ps_recv(&ps->c, &status, sizeof(status));
	if (ret)
		return ps_fail(ps, ret, "closing the pass (PS_IOV_CLOSE)");
	if (status) {
		pr_err("%s:%u answered %d to PS_IOV_CLOSE: the pass is not complete there",
		       ps->o->address, ps->o->port, status);
		return -EPROTO;
	}
	/* the server now waits for our end of the connection: sink_ps_destroy */
	tls_end(ps->c.tls, true);
	ps->c.tls = NULL;
	return 0;
}

static const struct page_sink_ops sink_ps_ops = {
	.name		= "page-server",
	.open		= sink_ps_open,
	.put_pages	= sink_ps_put_pages,
	.put_hole	= sink_ps_put_hole,
	.close		= sink_ps_close,
	.finish		= sink_ps_finish,
};

int sink_ps_create(struct page_sink *sink, const struct ps_opts *o, struct imgset *set,
		   volatile sig_atomic_t *interrupted)
{
	struct sink_ps *ps = calloc(1, sizeof(*ps));
	int ret;

	if (!ps) {
		pr_err("out of memory");
		return -ENOMEM;
	}
	ps->o = o;
	ps->set = set;
	ps->c.interrupted = interrupted;
	ps->c.layout = o->layout;
	ps->pm.fd = -1;
	ret = ps_connect(o, interrupted, &ps->c.sk);
	if (ret)
		goto err;
	if (o->tls) {
		ret = tls_start(ps->c.sk, o->tls, false, o->address, &ps->c.tls);
		if (ret)
			goto err_sk;
	}
	ret = ps_probe(ps);
	if (ret == -EINTR && *interrupted)
		pr_err("interrupted by signal %d while asking the page server at %s:%u",
		       (int)*interrupted, o->address, o->port);
	if (ret)
		goto err_sk;
	sink->ops = &sink_ps_ops;
	sink->priv = ps;
	return 0;
err_sk:
	tls_end(ps->c.tls, false);
	close(ps->c.sk);
err:
	free(ps);
	return ret;
}

void sink_ps_destroy(struct page_sink *sink)
{
	struct sink_ps *ps = sink->priv;

	if (!ps)
		return;
	img_close(&ps->pm);
	/* without a CLOSE before, the server takes this for a failed pass */
	tls_end(ps->c.tls, false);
	close(ps->c.sk);
	free(ps);
	sink->priv = NULL;
}
