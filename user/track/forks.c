// SPDX-License-Identifier: GPL-2.0
/* forks of the tracked tree, through the proc connector: see forks.h */
#define LOG_PREFIX "uffd: "
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/cn_proc.h>
#include <linux/connector.h>
#include <linux/netlink.h>

#include "log.h"
#include "track/forks.h"

#define MSG_BUF	8192

/* one message to the proc connector: @len bytes of @data after its headers */
static int send_cn(int fd, const void *data, size_t len)
{
	char buf[NLMSG_SPACE(sizeof(struct cn_msg) + 8)] __attribute__((aligned(NLMSG_ALIGNTO)));
	struct nlmsghdr *nl = (struct nlmsghdr *)buf;
	struct cn_msg *cn = NLMSG_DATA(nl);

	memset(buf, 0, sizeof(buf));
	nl->nlmsg_len = NLMSG_LENGTH(sizeof(*cn) + len);
	nl->nlmsg_type = NLMSG_DONE;
	cn->id.idx = CN_IDX_PROC;
	cn->id.val = CN_VAL_PROC;
	cn->len = len;
	memcpy(cn->data, data, len);
	return send(fd, buf, nl->nlmsg_len, 0) < 0 ? -errno : 0;
}

static int send_op(int fd, enum proc_cn_mcast_op op)
{
	return send_cn(fd, &op, sizeof(op));
}

/* the filter of Linux 6.6 (struct proc_input): forks only; older ones ignore it */
static int send_filter(int fd)
{
	const struct { __u32 mcast_op, event_type; } in = { PROC_CN_MCAST_LISTEN, PROC_EVENT_FORK };

	return send_cn(fd, &in, sizeof(in));
}

/*
 * The events in one datagram: *@ack the error of an acknowledgement (left
 * as it is if none came); ++*@gen for each fork of one of @pids.
 */
static void parse(const char *buf, ssize_t len, const pid_t *pids, unsigned int nr,
		  int *ack, unsigned long *gen)
{
	const struct nlmsghdr *nl = (const struct nlmsghdr *)buf;

	for (; NLMSG_OK(nl, len); nl = NLMSG_NEXT(nl, len)) {
		const struct cn_msg *cn = NLMSG_DATA(nl);
		const struct proc_event *ev = (const struct proc_event *)cn->data;

		if (nl->nlmsg_type == NLMSG_ERROR || nl->nlmsg_type == NLMSG_NOOP ||
		    cn->len < sizeof(*ev) - sizeof(ev->event_data))
			continue;
		if (ev->what == PROC_EVENT_NONE) {
			*ack = ev->event_data.ack.err;
		} else if (ev->what == PROC_EVENT_FORK &&
			   ev->event_data.fork.child_pid == ev->event_data.fork.child_tgid) {
			for (unsigned int i = 0; i < nr; i++)
				if (ev->event_data.fork.parent_tgid == pids[i])
					++*gen;
		}
	}
}

int fork_watch_start(struct fork_watch *w)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK, .nl_groups = CN_IDX_PROC };
	struct timeval tv = { .tv_sec = 1 };
	int ack = 1, ret, rcvbuf = 4 << 20;
	unsigned long gen = 0;
	char buf[MSG_BUF];
	ssize_t n;

	w->gen = 0;
	w->fd = socket(PF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_CONNECTOR);
	if (w->fd < 0)
		return -errno;
	/* every fork of the system comes by (or, before 6.6, every event): room */
	if (setsockopt(w->fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) < 0)
		setsockopt(w->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	if (bind(w->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		ret = -errno;
		goto err;
	}
	ret = send_op(w->fd, PROC_CN_MCAST_LISTEN);
	if (ret)
		goto err;
	/* the kernel answers the listen request (an ack, to every listener) */
	if (setsockopt(w->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0) {
		ret = -errno;
		goto err;
	}
	while (ack == 1) {
		n = recv(w->fd, buf, sizeof(buf), 0);
		if (n < 0) {
			ret = errno == EAGAIN ? -ETIMEDOUT : -errno;
			goto err;
		}
		parse(buf, n, NULL, 0, &ack, &gen);
	}
	if (ack) {
		ret = -ack;
		goto err;
	}
	ret = send_filter(w->fd);	/* no ack: it would be filtered out */
	if (!ret)
		return 0;
err:
	close(w->fd);
	w->fd = -1;
	return ret;
}

void fork_watch_stop(struct fork_watch *w)
{
	if (w->fd < 0)
		return;
	send_op(w->fd, PROC_CN_MCAST_IGNORE);	/* the count of listeners */
	close(w->fd);
	w->fd = -1;
}

unsigned long fork_watch_gen(struct fork_watch *w, const pid_t *pids, unsigned int nr)
{
	char buf[MSG_BUF];
	int ack = 0;

	if (w->fd < 0)
		return ++w->gen;
	for (;;) {
		ssize_t n = recv(w->fd, buf, sizeof(buf), MSG_DONTWAIT);

		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0) {
			/* ENOBUFS: events were dropped; anything else, in doubt too */
			pr_info("fork events lost (%s)", n < 0 ? strerror(errno) : "end of stream");
			w->gen++;
			if (n == 0 || errno != ENOBUFS)
				break;
			continue;
		}
		parse(buf, n, pids, nr, &ack, &w->gen);
	}
	return w->gen;
}

