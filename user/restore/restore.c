// SPDX-License-Identifier: GPL-2.0
/* memsplice restore: see restore.h */
#define LOG_PREFIX "restore: "

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include "criu.h"
#include "images/image.h"
#include "log.h"
#include "pstree.pb-c.h"
#include "restore/daemon.h"
#include "restore/restore.h"
#include "util.h"

#define PIDFILE		"restore.pid"
#define DAEMON_CRIU_LEFT 2		/* the daemon's exit: criu closed the socket early */

/* the processes of pstree.img, each with its pagemap marked */
static int mark_tree(int dirfd, bool source, struct daemon_proc **procs, size_t *nr)
{
	ProtobufCMessage *msg;
	struct img img;
	uint64_t pages = 0, remote = 0;
	int ret = img_open(&img, dirfd, IMG_PSTREE, 0);

	*procs = NULL;
	*nr = 0;
	if (ret) {
		pr_errno(ret, "pstree.img");
		return ret;
	}
	while ((ret = img_read_entry(&img, &pstree_entry__descriptor, &msg)) == 1) {
		PstreeEntry *pe = (PstreeEntry *)msg;
		struct daemon_proc *v = realloc(*procs, (*nr + 1) * sizeof(*v));

		if (!v) {
			ret = -ENOMEM;
		} else {
			*procs = v;
			v[*nr].pid = pe->pid;
			ret = mark_lazy(dirfd, pe->pid, &v[*nr].mark);
			if (!ret) {
				pages += runs_bytes(&v[*nr].mark.lazy) / 4096;
				remote += runs_bytes(&v[*nr].mark.remote) / 4096;
				(*nr)++;
			}
		}
		protobuf_c_message_free_unpacked(msg, NULL);
		if (ret)
			break;
	}
	img_close(&img);
	if (!ret && !*nr)
		ret = -EBADMSG;
	if (ret) {
		pr_errno(ret, "pstree.img: no process to restore");
		return ret;
	}
	if (remote && !source) {
		pr_err("%llu pages of DIR are left at the source (a lazy dump): give the source's "
		       "--page-server --address --port", (unsigned long long)remote);
		return -ENODATA;
	}
	printf("restore: %llu pages of %zu processes marked lazy in pagemap-*.img, %llu more "
	       "to fetch from the source\n", (unsigned long long)pages, *nr,
	       (unsigned long long)remote);
	fflush(stdout);
	return 0;
}

static int listen_lazy(int dirfd)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX, .sun_path = LAZY_SOCKET };
	int cwd = open(".", O_PATH | O_CLOEXEC), sk = -1, ret = 0;

	if (cwd < 0 || fchdir(dirfd))
		return -errno;
	unlink(LAZY_SOCKET);
	sk = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (sk < 0 || bind(sk, (struct sockaddr *)&sa, sizeof(sa)) || listen(sk, 1))
		ret = -errno;
	if (fchdir(cwd) && !ret)
		ret = -errno;
	close(cwd);
	if (ret) {
		pr_errno(ret, "listening on %s", LAZY_SOCKET);
		if (sk >= 0)
			close(sk);
		return ret;
	}
	return sk;
}

/* the user's criu options leave to memsplice what it must set itself */
static int criu_args_ok(const struct restore_opts *o)
{
	static const char *const refused[] = { "-D", "--images-dir", "-W", "--work-dir",
					       "--lazy-pages", "--pidfile", NULL };

	for (int i = 0; i < o->nr_criu_args; i++)
		for (const char *const *r = refused; *r; r++)
			if (!strncmp(o->criu_args[i], *r, strlen(*r))) {
				pr_err("%s after --: memsplice restore sets it itself", *r);
				return -EINVAL;
			}
	return 0;
}

/* criu's arguments: memsplice's own, then the user's (@pidfile: where criu writes the root) */
static char **criu_argv(const struct restore_opts *o, const char *pidfile)
{
	char **argv = calloc(o->nr_criu_args + 10, sizeof(*argv));
	int n = 0;

	if (!argv)
		return NULL;
	argv[n++] = "criu";
	argv[n++] = "restore";
	argv[n++] = "--lazy-pages";
	argv[n++] = "-D";
	argv[n++] = (char *)o->dir;
	argv[n++] = "--pidfile";
	argv[n++] = (char *)pidfile;
	for (int i = 0; i < o->nr_criu_args; i++)
		argv[n++] = o->criu_args[i];
	return argv;
}

static int pidfd_of(pid_t pid)
{
	return syscall(SYS_pidfd_open, pid, 0);
}

/* SIGKILL @pid and every descendant, found through /proc/PID/task/TID/children */
static void kill_tree(pid_t pid)
{
	char path[320], *buf = NULL, *s, *end;
	struct dirent *de;
	DIR *d;

	kill(pid, SIGSTOP);		/* no new children while we look */
	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	d = opendir(path);
	while (d && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%s/children", pid, de->d_name);
		if (read_file(path, &buf, NULL))
			continue;
		for (s = buf; *s; s = end) {
			long c = strtol(s, &end, 10);

			if (end == s)
				break;
			kill_tree(c);
		}
		free(buf);
	}
	if (d)
		closedir(d);
	kill(pid, SIGKILL);
}

static pid_t root_of(const char *pidfile)
{
	char *buf;
	pid_t pid;

	if (read_file(pidfile, &buf, NULL))
		return 0;
	pid = atoi(buf);
	free(buf);
	return pid;
}

struct watch {
	const char *pidfile;
	pid_t daemon, criu;
	int guard;			/* the daemon's 'u'ffds and 'd'one */
	int *uffds;
	size_t nr_uffds;
	bool done;			/* the daemon said every page is in place */
	int daemon_status, criu_status;	/* -1 while running */
};

static int take(struct watch *w)
{
	int fd, *v;
	char tag;

	if (fd_recv(w->guard, &tag, &fd))
		return -EPIPE;
	if (tag == 'd')
		w->done = true;
	if (fd < 0)
		return 0;
	v = realloc(w->uffds, (w->nr_uffds + 1) * sizeof(*v));
	if (!v) {
		close(fd);
		return -ENOMEM;
	}
	w->uffds = v;
	w->uffds[w->nr_uffds++] = fd;
	return 0;
}

/* until the daemon and criu have both ended, or one of them failed */
static void supervise(struct watch *w, volatile sig_atomic_t *interrupted)
{
	struct pollfd pf[3] = {
		{ .fd = w->guard, .events = POLLIN },
		{ .fd = pidfd_of(w->daemon), .events = POLLIN },
		{ .fd = pidfd_of(w->criu), .events = POLLIN },
	};

	if (pf[1].fd < 0 || pf[2].fd < 0)
		pr_perror("pidfd_open");
	while ((w->daemon_status < 0 || w->criu_status < 0) && pf[1].fd != -1 &&
	       pf[2].fd != -1) {
		if (*interrupted)
			break;
		if (poll(pf, 3, -1) < 0)
			continue;
		if ((pf[0].revents & POLLIN) && take(w))
			pf[0].fd = -1;
		if (pf[1].revents & POLLIN) {
			while (pf[0].fd >= 0 && !take(w))	/* what it sent before it ended */
				if (w->done)
					break;
			w->daemon_status = child_wait(w->daemon, NULL);
			pf[1].fd = -pf[1].fd - 1;
			/* criu left the lazy-pages socket: its own status says why */
			if (w->daemon_status == DAEMON_CRIU_LEFT && w->criu_status < 0)
				continue;
			if (w->daemon_status || !w->done)
				break;
		}
		if (pf[2].revents & POLLIN) {
			w->criu_status = child_wait(w->criu, NULL);
			pf[2].fd = -pf[2].fd - 1;
			if (w->criu_status)
				break;
			if (!w->done) {
				printf("restore: criu restore is done: the tree (root %d) runs while "
				       "its memory is filled\n", root_of(w->pidfile));
				fflush(stdout);
			}
		}
	}
	for (int i = 1; i < 3; i++)
		if (pf[i].fd != -1)
			close(pf[i].fd < 0 ? -pf[i].fd - 1 : pf[i].fd);
}

static void reap(pid_t pid, int *status)
{
	if (*status >= 0)
		return;
	kill(pid, SIGKILL);
	*status = child_wait(pid, NULL);
}

static int run(const struct restore_opts *o, struct daemon_opts *d, const char *pidfile,
	       volatile sig_atomic_t *interrupted)
{
	struct watch w = { .pidfile = pidfile, .daemon_status = -1, .criu_status = -1 };
	char **argv = criu_argv(o, pidfile);
	int sv[2], ret;
	pid_t root;

	if (!argv)
		return -ENOMEM;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv)) {
		free(argv);
		return -errno;
	}
	unlink(pidfile);
	w.guard = sv[0];
	d->guard = sv[1];
	w.daemon = fork();
	if (w.daemon == 0) {
		close(sv[0]);
		signal(SIGINT, SIG_IGN);	/* the guard decides */
		signal(SIGTERM, SIG_IGN);
		signal(SIGHUP, SIG_IGN);
		ret = daemon_run(d);
		_exit(ret == -EPIPE ? DAEMON_CRIU_LEFT : ret ? 1 : 0);
	}
	close(sv[1]);
	ret = w.daemon < 0 ? -errno : criu_start(argv, &w.criu);
	free(argv);
	if (w.daemon > 0 && ret)
		reap(w.daemon, &w.daemon_status);
	if (ret) {
		pr_errno(ret, "starting criu restore");
		close(sv[0]);
		return ret;
	}
	supervise(&w, interrupted);

	ret = 0;
	if (w.criu_status > 0 && !*interrupted) {
		reap(w.daemon, &w.daemon_status);
		root = root_of(pidfile);
		if (root > 0)
			kill_tree(root);
		pr_err("criu restore failed (exit %d): see its log; no page was lost, "
		       "DIR restores again", w.criu_status);
		ret = -ECANCELED;
	} else if (!w.done) {
		/* faults wait on the userfaultfds held here until the tree is gone */
		reap(w.daemon, &w.daemon_status);
		root = root_of(pidfile);
		if (w.criu_status < 0)
			reap(w.criu, &w.criu_status);
		if (root > 0)
			kill_tree(root);
		if (*interrupted)
			pr_err("interrupted before every page was in place: the restored tree%s "
			       "is killed", root > 0 ? "" : " (not running yet)");
		else
			pr_err("the lazy-pages daemon failed (%s %d) before every page was in "
			       "place: the restored tree%s is killed",
			       w.daemon_status > 128 ? "signal" : "exit",
			       w.daemon_status > 128 ? w.daemon_status - 128 : w.daemon_status,
			       root > 0 ? "" : " (not running yet)");
		ret = -ECANCELED;
	}
	for (size_t i = 0; i < w.nr_uffds; i++)
		close(w.uffds[i]);
	free(w.uffds);
	close(sv[0]);
	return ret;
}

int cmd_restore(const struct restore_opts *o, volatile sig_atomic_t *interrupted)
{
	struct daemon_opts d = { .batch = o->batch ? o->batch : RESTORE_DEFAULT_BATCH,
				 .test_stall = o->test_stall, .test_go = o->test_go,
				 .source = o->source };
	char pidfile[PATH_MAX];
	int ret = criu_args_ok(o);

	if (ret)
		return ret;
	d.dirfd = open(o->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (d.dirfd < 0) {
		pr_perror("%s", o->dir);
		return -errno;
	}
	ret = mark_tree(d.dirfd, o->source, &d.procs, &d.nr);
	if (!ret) {
		d.listen = listen_lazy(d.dirfd);
		ret = d.listen < 0 ? d.listen : 0;
	}
	if (!ret) {
		snprintf(pidfile, sizeof(pidfile), "%s/%s", o->dir, PIDFILE);
		ret = run(o, &d, pidfile, interrupted);
		close(d.listen);
		unlinkat(d.dirfd, LAZY_SOCKET, 0);
	}
	for (size_t i = 0; i < d.nr; i++)
		mark_free(&d.procs[i].mark);
	free(d.procs);
	close(d.dirfd);
	return ret;
}
