// SPDX-License-Identifier: GPL-2.0
/* one round from a sender into the store: see session.h */
#define LOG_PREFIX "receive: "

#include <errno.h>
#include <stdbool.h>
#include <unistd.h>

#include "log.h"
#include "proto/pageserver.h"
#include "receive/images.h"
#include "receive/session.h"
#include "receive/store.h"
#include "sink/sink.h"
#include "util.h"

#define STEP_PAGES	1024	/* pages put into the store per step */

struct session {
	struct ps_conn *c;
	struct store *s;
	struct round_stats *st;
	uint64_t dst_id;	/* the object open, 0 if none */
};

/* store_fill_fn: @len bytes of page data from the socket into @fd at @off */
static int from_socket(void *arg, int fd, off_t off, size_t len)
{
	int ret = ps_recv_file(arg, fd, off, len);

	if (ret == -EIO)
		pr_err("cannot write pages into the store");
	return ret;
}

static bool known_type(uint64_t dst_id)
{
	uint64_t type = dst_id & ((1u << PS_TYPE_BITS) - 1);

	return type == PS_TYPE_PID || type == PS_TYPE_SHMEM;
}

/* OPEN, OPEN2: the object @m names, its listing starting; OPEN2 answers */
static int open_object(struct session *x, const struct ps_msg *m, bool answer)
{
	bool held;
	uint8_t byte;
	struct iovec iov = { &byte, 1 };
	int ret;

	if (!known_type(m->dst_id)) {
		pr_err("the sender opens object %#llx, which is no process and no shared "
		       "segment", (unsigned long long)m->dst_id);
		return -EPROTO;
	}
	ret = store_object(x->s, m->dst_id, &held);
	if (ret)
		return ret;
	x->dst_id = m->dst_id;
	x->st->objects++;
	byte = held;
	return answer ? ps_sendv(x->c, &iov, 1, 0) : 0;
}

/* PARENT: an s32, whether the store holds data of the object */
static int answer_parent(struct session *x, const struct ps_msg *m)
{
	int32_t held = store_holds(x->s, m->dst_id);
	struct iovec iov = { &held, sizeof(held) };

	return ps_sendv(x->c, &iov, 1, 0);
}

/* ADD_F, ADD, HOLE: a run of the open object, with @flags */
static int add(struct session *x, const struct ps_msg *m, uint32_t flags)
{
	uint64_t vaddr = m->vaddr, left = m->nr_pages;
	int ret = 0;

	if (m->dst_id != x->dst_id) {
		/* criu's server opens it ("IO w/o open"): so does this one */
		ret = open_object(x, m, false);
		if (ret)
			return ret;
	}
	if (flags & PE_PARENT && !(flags & PE_PRESENT)) {
		ret = store_keep(x->s, vaddr, left);
		x->st->kept += ret ? 0 : left;
		return ret;
	}
	if (!(flags & PE_PRESENT)) {
		ret = store_hole(x->s, vaddr, left, flags);
		x->st->holes += ret ? 0 : left;
		return ret;
	}
	/* in bounded steps: a header announcing more than comes fails on the socket */
	while (!ret && left) {
		uint64_t n = MIN(left, (uint64_t)STEP_PAGES);

		ret = store_put(x->s, vaddr, n, from_socket, x->c);
		vaddr += n * PAGE_SIZE;
		left -= n;
		x->st->pages += ret ? 0 : n;
	}
	return ret;
}

/* CLOSE: the round committed, then answered; then the sender hangs up */
static int close_round(struct session *x)
{
	int32_t status = 0;
	struct iovec iov = { &status, sizeof(status) };
	char c;
	int ret = store_commit(x->s);

	if (ret) {
		store_abort(x->s);
		return ret;
	}
	ret = ps_sendv(x->c, &iov, 1, 0);
	if (!ret && ps_recv(x->c, &c, 1) != -ECONNRESET)
		pr_warn("the sender sent more after its round closed: ignored");
	return ret;
}

static int dispatch(struct session *x, const struct ps_msg *m, bool *closed)
{
	uint32_t cmd = m->cmd & ((1u << PS_CMD_BITS) - 1);

	switch (cmd) {
	case PS_IOV_OPEN:
	case PS_IOV_OPEN2:
		return open_object(x, m, cmd == PS_IOV_OPEN2);
	case PS_IOV_PARENT:
		return answer_parent(x, m);
	case PS_IOV_ADD_F:
		return add(x, m, m->cmd >> PS_CMD_BITS);
	case PS_IOV_ADD:
		return add(x, m, PE_PRESENT);
	case PS_IOV_HOLE:
		return add(x, m, PE_PARENT);
	case PS_IOV_CLOSE:
	case PS_IOV_FORCE_CLOSE:
		*closed = true;
		return close_round(x);
	case PS_IOV_GET:
		pr_err("the sender asks for lazy pages: this is a receiver, not a lazy-pages "
		       "server");
		return -EPROTO;
	default:
		pr_err("the sender sent command %#x, which a page server does not have", m->cmd);
		return -EPROTO;
	}
}

/* why a session ended early, in one line (the lies said where they were found) */
static void say_broken(int ret)
{
	if (ret == -ECONNRESET)
		pr_err("the sender hung up in the middle of its round");
	else if (ret == -EAGAIN)
		pr_err("the sender stalled in the middle of its round (timeout)");
	else if (ret && ret != -EPROTO && ret != -ENOENT && ret != -EINVAL && ret != -EEXIST)
		pr_errno(ret, "the round failed");
}

int receive_session(struct ps_conn *c, struct store *s, struct images *im,
		    struct round_stats *st)
{
	struct session x = { .c = c, .s = s, .st = st };
	bool closed = false;
	struct ps_msg m;
	int ret;

	*st = (struct round_stats){ 0 };
	ret = ps_recv_first(c, &m);
	if (ret == -EPROTO)
		pr_err("the sender's first message opens nothing: no page-server session");
	if (!ret && m.cmd == PS_MS_IMAGES) {
		st->images = true;
		ret = images_receive(im, c);
		say_broken(ret);
		return ret ?: RECEIVE_END;
	}
	if (!ret)
		ret = store_begin(s);
	while (!ret) {
		ret = dispatch(&x, &m, &closed);
		if (ret || closed)
			break;
		ret = ps_recv_msg(c, &m);
	}
	say_broken(ret);
	if (ret && !closed)
		store_abort(s);
	return ret;
}
