// SPDX-License-Identifier: GPL-2.0
/* the lazy-pages daemon criu restore talks to: see daemon.h */
#define LOG_PREFIX "restore: "

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "restore/daemon.h"
#include "restore/fill.h"
#include "restore/remote.h"
#include "util.h"

#define RESTORE_FINISHED	0x52535446	/* criu's LAZY_PAGES_RESTORE_FINISHED */

static int watch(int ep, struct fill_proc *p, int guard)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = p };

	if (fd_send(guard, 'u', p->uffd) || epoll_ctl(ep, EPOLL_CTL_ADD, p->uffd, &ev)) {
		pr_perror("watching %d's userfaultfd", p->vpid);
		return -errno ? -errno : -EIO;
	}
	return 0;
}

static struct daemon_proc *proc_of(struct daemon_opts *o, pid_t pid)
{
	for (size_t i = 0; i < o->nr; i++)
		if (o->procs[i].pid == pid)
			return &o->procs[i];
	return NULL;
}

/* the pid and userfaultfd of every process, as criu sends them */
static int take_uffds(struct daemon_opts *o, int sk, struct fill *f, int ep)
{
	for (size_t i = 0; i < o->nr; i++) {
		struct daemon_proc *dp;
		int32_t pid;
		int uffd, ret;
		char tag;

		if (recv(sk, &pid, sizeof(pid), MSG_WAITALL) != sizeof(pid)) {
			pr_err("criu restore closed the lazy-pages socket before sending "
			       "every process");
			return -EPIPE;
		}
		if (pid < 0)			/* a zombie: no memory */
			continue;
		ret = fd_recv(sk, &tag, &uffd);
		if (!ret && uffd < 0)
			ret = -EPROTO;
		dp = proc_of(o, pid);
		if (!ret && !dp) {
			pr_err("criu restore sends process %d, which pstree.img does not have",
			       pid);
			close(uffd);
			return -EPROTO;
		}
		if (ret) {
			pr_errno(ret, "taking %d's userfaultfd", pid);
			return ret;
		}
		ret = fill_add(f, pid, uffd, &dp->mark);
		if (ret) {
			close(uffd);
			return ret;
		}
		ret = watch(ep, f->procs, o->guard);
		if (ret)
			return ret;
	}
	return 0;
}

/* criu's word that the tree is restored: 1, 0 if not yet, -EPIPE if it left without */
static int finished(int sk)
{
	uint32_t fin;
	ssize_t n = recv(sk, &fin, sizeof(fin), MSG_DONTWAIT);

	if (n < 0 && errno == EAGAIN)
		return 0;
	if (n == sizeof(fin) && fin == RESTORE_FINISHED)
		return 1;
	pr_err("criu restore left the lazy-pages socket before the tree was restored");
	return -EPIPE;
}

static void report(const struct fill *f, uint64_t before, uint64_t t0, uint64_t t_fin)
{
	const struct fill_stats *st = &f->st;
	uint64_t t = now_us();
	struct rusage ru;

	printf("restore: %llu pages filled after criu restore finished (%llu before), "
	       "%llu on faults (%llu faults, %llu zero pages), %llu by batches, %llu from the "
	       "source, %llu gone with their mappings; the tree ran %llu ms before its last "
	       "page was in place\n",
	       (unsigned long long)(st->fault_pages + st->batch_pages - before),
	       (unsigned long long)before, (unsigned long long)st->fault_pages,
	       (unsigned long long)st->faults, (unsigned long long)st->zero_pages,
	       (unsigned long long)st->batch_pages, (unsigned long long)st->remote_pages,
	       (unsigned long long)st->gone_pages,
	       (unsigned long long)(t_fin ? (t - t_fin) / 1000 : 0));
	pr_debug("served %llu ms in all", (unsigned long long)(t - t0) / 1000);
	if (!getrusage(RUSAGE_SELF, &ru))
		printf("restore: the daemon's peak RSS %ld KiB\n", ru.ru_maxrss);
	fflush(stdout);
}

int daemon_run(struct daemon_opts *o)
{
	static volatile sig_atomic_t never;	/* the guard decides on signals */
	struct epoll_event evs[16];
	uint64_t t0 = now_us(), t_fin = 0, before = 0;
	struct remote remote = { .c.sk = -1 };
	struct fill f;
	int sk, ep, ret, go = -1;
	bool fin = false;

	ret = fill_init(&f, o->dirfd, o->batch, o->source ? &remote : NULL);
	if (!ret && o->source)
		ret = remote_open(&remote, o->source, &never);
	if (ret)
		goto out_fill;
	sk = accept4(o->listen, NULL, NULL, SOCK_CLOEXEC);
	if (sk < 0) {
		pr_perror("accepting criu restore's connection");
		ret = -errno;
		goto out_fill;
	}
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0) {
		ret = -errno;
		goto out_sk;
	}
	ret = take_uffds(o, sk, &f, ep);
	if (!ret && o->test_go) {
		go = open(o->test_go, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
		if (go < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, go, &(struct epoll_event){
					.events = EPOLLIN, .data.ptr = &go }))
			ret = -errno;
	}
	if (!ret && epoll_ctl(ep, EPOLL_CTL_ADD, sk, &(struct epoll_event){
				.events = EPOLLIN, .data.ptr = NULL }))
		ret = -errno;
	while (!ret) {
		int timeout = fin && go < 0 ? 0 : -1, n;

		if (fill_pending(&f))
			timeout = 1;
		n = epoll_wait(ep, evs, ARRAY_SIZE(evs), timeout);
		if (n < 0 && errno != EINTR) {
			ret = -errno;
			break;
		}
		for (int i = 0; !ret && i < n; i++) {
			struct fill_proc *p = evs[i].data.ptr, *child = NULL;

			if (evs[i].data.ptr == &go) {
				epoll_ctl(ep, EPOLL_CTL_DEL, go, NULL);
				close(go);
				go = -1;
				continue;
			}
			if (!p) {
				ret = fin ? 0 : finished(sk);
				if (ret == 1 && o->test_stall)
					for (;;)
						pause();	/* until the guard's SIGKILL */
				if (ret == 1) {
					fin = true;
					t_fin = now_us();
					before = f.st.fault_pages;
					ret = 0;
				}
				if (fin)
					epoll_ctl(ep, EPOLL_CTL_DEL, sk, NULL);
				continue;
			}
			ret = fill_events(&f, p, &child);
			while (!ret && child) {
				ret = watch(ep, child, o->guard);
				if (!ret)
					ret = fill_events(&f, p, &child);
			}
		}
		if (!ret)
			ret = fill_retry(&f);
		if (ret || !fin || fill_pending(&f) || go >= 0)
			continue;
		ret = fill_batch(&f);
		if (ret == 1) {
			ret = 0;
			break;
		}
	}
	if (!ret && o->source)
		ret = remote_close(&remote);
	if (!ret) {
		report(&f, before, t0, t_fin);
		if (fd_send(o->guard, 'd', -1))
			ret = -EIO;
	} else if (ret != -EPIPE) {
		pr_errno(ret, "%llu pages not in place",
			 (unsigned long long)fill_missing(&f));
	}
	close(ep);
	if (go >= 0)
		close(go);
out_sk:
	close(sk);
out_fill:
	fill_free(&f);
	remote_drop(&remote);
	return ret;
}
