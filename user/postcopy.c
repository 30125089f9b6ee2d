// SPDX-License-Identifier: GPL-2.0
/* the source's end of a post-copy migration: see postcopy.h */
#define LOG_PREFIX "lazy: "
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "checkpoint.h"
#include "collect/pagemap.h"
#include "criu.h"
#include "log.h"
#include "postcopy.h"
#include "proto/pageserver.h"
#include "serve/lazy.h"
#include "source/select.h"
#include "source/source.h"
#include "tree/pstree.h"
#include "util.h"

/* the listening socket for the destination, bound before anything is frozen */
static int listen_on(const struct lazy_opts *lo, int *fd)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_PASSIVE };
	struct addrinfo *ai, *a;
	char port[8];
	int ret, one = 1;

	snprintf(port, sizeof(port), "%u", lo->port);
	ret = getaddrinfo(lo->address, port, &hints, &ai);
	if (ret) {
		pr_err("cannot resolve %s: %s", lo->address ?: "*", gai_strerror(ret));
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
		pr_errno(ret, "cannot listen on %s:%u", lo->address ?: "*", lo->port);
	return ret;
}

/* the one session the migration needs; -EINTR on a signal */
static int accept_one(int lsk, volatile sig_atomic_t *interrupted, int *fd)
{
	struct pollfd p = { .fd = lsk, .events = POLLIN };

	while (!*interrupted) {
		if (poll(&p, 1, 200) < 0 && errno != EINTR)
			return -errno;
		if (!(p.revents & POLLIN))
			continue;
		*fd = accept4(lsk, NULL, NULL, SOCK_CLOEXEC);
		if (*fd >= 0)
			return 0;
		if (errno != EINTR && errno != ECONNABORTED)
			return -errno;
	}
	return -EINTR;
}

/*
 * criu's lazy dump, until its page server is ready, then told to close:
 * criu lets the tree go, stopped, and exits.  0 when criu exited 0.
 */
static int lazy_dump(const struct checkpoint_opts *o, volatile sig_atomic_t *interrupted,
		     unsigned int last, const char *path, enum ps_layout layout)
{
	char pid[16], parent[32], psk[16], sfd[16];
	/* the last three: the chain under it, none for pure post-copy */
	const char *fixed[] = { "criu", "dump", "-t", pid, "-D", path, "-o", "dump.log",
				"--lazy-pages", "--leave-stopped", "--ps-socket", psk,
				"--status-fd", sfd, "--track-mem", "--prev-images-dir", parent };
	int nfixed = ARRAY_SIZE(fixed) - (last ? 0 : 3), ret, ret2;
	int sv[2] = { -1, -1 }, st[2] = { -1, -1 };
	struct ps_conn c = { .layout = layout, .interrupted = interrupted };
	int32_t status = -1;
	char **argv, ready;
	pid_t child;

	argv = calloc(nfixed + o->nr_criu_args + 1, sizeof(*argv));
	if (!argv)
		return -ENOMEM;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0 ||
	    pipe2(st, O_CLOEXEC) < 0 || fcntl(sv[1], F_SETFD, 0) < 0 ||
	    fcntl(st[1], F_SETFD, 0) < 0) {
		ret = -errno;
		pr_errno(ret, "cannot set up the fds criu's lazy dump needs");
		goto out;
	}
	snprintf(pid, sizeof(pid), "%d", o->pass.pid);
	snprintf(parent, sizeof(parent), "../%u", last);
	snprintf(psk, sizeof(psk), "%d", sv[1]);
	snprintf(sfd, sizeof(sfd), "%d", st[1]);
	memcpy(argv, fixed, nfixed * sizeof(*argv));
	for (int i = 0; i < o->nr_criu_args; i++)
		argv[nfixed + i] = o->criu_args[i];
	ret = criu_start(argv, &child);
	close(sv[1]);
	close(st[1]);
	if (ret) {
		pr_errno(ret, "cannot run criu");
		goto out;
	}
	/* the status byte, or the end of the pipe: criu failed (it resumed the tree) */
	while ((ret = read(st[0], &ready, 1)) < 0 && errno == EINTR && !*interrupted)
		;
	if (ret == 1) {
		c.sk = sv[0];
		ret = ps_send_msg(&c, PS_IOV_CLOSE, 0, 0, 0, 0);
		if (!ret)
			ret = ps_recv(&c, &status, sizeof(status));
		if (!ret && status)
			ret = -EPROTO;
		if (ret)
			pr_errno(ret, "criu's page server did not close (status %d)", status);
	} else {
		ret = -ECHILD;
	}
	ret2 = criu_wait(child, interrupted);
	if (ret2) {
		if (ret2 > 0)
			pr_err("criu dump --lazy-pages failed with exit status %d (its log: "
			       "%s/dump.log)", ret2, path);
		ret = ret ?: (ret2 < 0 ? ret2 : -ECHILD);
	}
out:
	if (sv[0] >= 0)
		close(sv[0]);
	if (st[0] >= 0)
		close(st[0]);
	free(argv);
	return ret;
}

static void say_stopped(pid_t root)
{
	pr_err("the tree (root %d) is left stopped, never resumed: the destination may "
	       "already run it.  `kill -CONT -- %d` (each process) resumes it here, "
	       "`kill -KILL %d` ends it", root, root, root);
}

int postcopy_run(const struct checkpoint_opts *o, volatile sig_atomic_t *interrupted,
		 unsigned int last, const char *path, enum ps_layout layout)
{
	struct source_opts sopts = { .buffer_size = o->pass.buffer_size };
	struct page_source src = { 0 };
	const struct page_source_ops *ops;
	struct lazy_stats st = { 0 };
	struct pstree tree = { 0 };
	struct ps_conn c = { .sk = -1, .layout = layout, .interrupted = interrupted };
	struct seize_opts so = { .stop_timeout_ms = PSTREE_STOP_TIMEOUT_MS };
	struct kerndat kd;
	int lsk = -1, ret;
	uint64_t t0;

	ret = source_select(o->pass.method, &ops);
	if (ret)
		return ret;
	if (ops->xfer_while_frozen) {
		pr_err("method %s cannot serve lazy pages (pick read, device or syscall)",
		       ops->name);
		return -EINVAL;
	}
	ret = kerndat_probe(&kd);
	if (ret)
		return ret;
	so.proc_children = kd.proc_children;
	ret = listen_on(o->lazy, &lsk);
	if (ret)
		return ret;
	src.ops = ops;
	ret = ops->create(&src, &sopts);	/* says why it failed */
	if (ret)
		goto out_listen;
	t0 = now_us();
	ret = lazy_dump(o, interrupted, last, path, c.layout);
	if (ret)
		goto out_src;	/* criu resumed the tree, or never froze it */
	ret = pstree_seize(o->pass.pid, &so, &tree);
	if (ret) {
		say_stopped(o->pass.pid);
		goto out_src;
	}
	printf("lazy: the destination may start: criu lazy-pages --page-server --address "
	       "THIS-HOST --port %u, then criu restore --lazy-pages\n", o->lazy->port);
	fflush(stdout);
	ret = accept_one(lsk, interrupted, &c.sk);
	if (!ret)
		ret = lazy_serve(&c, &tree, &src, &st);
	if (ret) {
		pstree_release(&tree);	/* group-stopped by criu: stays stopped */
		say_stopped(o->pass.pid);
	} else {
		pstree_kill(&tree);
		pstree_release(&tree);
	}
	pstree_free(&tree);
	printf("lazy: %lu pages served in %lu requests; the source was frozen %.1f ms from "
	       "criu's dump to the last page\n", st.pages, st.requests, (now_us() - t0) / 1e3);
	if (c.sk >= 0)
		close(c.sk);
out_src:
	ops->destroy(&src);
out_listen:
	close(lsk);
	return ret;
}
