// SPDX-License-Identifier: GPL-2.0
/*
 * A pre-dump request of criu's RPC, performed by memsplice: the request's
 * options become a `memsplice pre-dump` command line, run with its output
 * in the request's log file, as criu would have logged there.
 *
 * The directories are fds in the engine's process, reached as criu reaches
 * them: /proc/PEER/fd/N.  The pre-dump tracks memory whatever the request
 * says, as criu's pre-dump does, so that criu's final dump (or another
 * pre-dump) can take what did not change from it.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "front/front.h"
#include "log.h"
#include "util.h"

#define MAX_ARGS	24

const char *predump_why_not(const CriuOpts *o)
{
	if (!o)
		return "a pre-dump request without options";
	if (!o->has_pid || o->pid <= 0)
		return "no pid: criu pre-dumps its caller";
	/* runc names /etc/criu/runc.conf whether it exists or not: criu ignores a missing one */
	if (o->config_file && !access(o->config_file, F_OK))
		return "a criu configuration file";
	if (o->lazy_pages)
		return "lazy pages";
	if (o->ps && (o->ps->has_fd || !o->ps->address || !o->ps->has_port))
		return "a page server given by a socket, or without an address and port";
	if (o->tls_cacrl || o->tls_no_cn_verify)
		return "TLS with a CRL or without CN verification";
	return NULL;
}

/* @ret (-errno), said on stderr and in @errmsg, the answer's cr_errmsg */
static int __attribute__((format(printf, 4, 5)))
fail(char *errmsg, size_t len, int ret, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(errmsg, len, fmt, ap);
	va_end(ap);
	if (n >= 0 && (size_t)n < len)
		snprintf(errmsg + n, len - n, ": %s", strerror(-ret));
	pr_err("%s", errmsg);
	return ret;
}

/* open the directory the engine holds as its fd @fd, as criu does */
static int open_peer_dir(pid_t peer, int fd, const char *what, char *errmsg, size_t len)
{
	char link[64];
	int dfd;

	snprintf(link, sizeof(link), "/proc/%d/fd/%d", peer, fd);
	dfd = open(link, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return fail(errmsg, len, -errno, "cannot open the %s, fd %d of pid %d", what, fd,
			    peer);
	return dfd;
}

/*
 * The path the child is given for @dfd: its name where that name still
 * leads to it (readable logs), else the fd through our own /proc entry.
 */
static void dir_path(int dfd, char *buf, size_t len)
{
	char link[64];
	struct stat a, b;
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", dfd);
	n = readlink(link, buf, len - 1);
	if (n > 0 && buf[0] == '/') {
		buf[n] = '\0';
		if (!stat(buf, &a) && !fstat(dfd, &b) && a.st_dev == b.st_dev &&
		    a.st_ino == b.st_ino)
			return;
	}
	snprintf(buf, len, "/proc/%d/fd/%d", getpid(), dfd);
	fcntl(dfd, F_SETFD, 0);
}

/* the log the request names (criu: no subdirectories), or a memfd */
static int open_log(const CriuOpts *o, int wfd)
{
	int fd;

	if (!o->log_file)
		fd = memfd_create("memsplice-criu-log", MFD_CLOEXEC);
	else if (strchr(o->log_file, '/'))
		return -EINVAL;
	else
		fd = openat(wfd, o->log_file, O_RDWR | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC,
			    0600);
	return fd < 0 ? -errno : fd;
}

/* the last non-empty line at or after @from in @fd, into @buf */
static void last_line(int fd, off_t from, char *buf, size_t len)
{
	off_t end = lseek(fd, 0, SEEK_END);
	char tail[1024], *l, *p;
	ssize_t n;

	buf[0] = '\0';
	if (end < 0 || end <= from)
		return;
	if (end - from > (off_t)sizeof(tail) - 1)
		from = end - (sizeof(tail) - 1);
	n = pread_all(fd, tail, end - from, from);
	if (n <= 0)
		return;
	tail[n] = '\0';
	while (n > 0 && (tail[n - 1] == '\n' || tail[n - 1] == ' '))
		tail[--n] = '\0';
	l = strrchr(tail, '\n');
	p = l ? l + 1 : tail;
	snprintf(buf, len, "%s", p);
}

/* a log kept in a memfd (the request named none) goes to our stderr */
static void to_stderr(int fd)
{
	char buf[4096];
	ssize_t n;

	for (off_t off = 0; (n = pread_all(fd, buf, sizeof(buf), off)) > 0; off += n)
		if (write_all(STDERR_FILENO, buf, n))
			break;
}

/* @opt and @val at @argv[@n] if @val is set: the new count */
static int push(const char **argv, int n, const char *opt, const char *val)
{
	if (!val)
		return n;
	argv[n++] = opt;
	argv[n++] = val;
	return n;
}

/* `memsplice pre-dump` for @o into @dir; @argv points into @o, @pid and @port */
static void build_argv(const struct front *f, const CriuOpts *o, const char *dir, char *pid,
		       char *port, const char **argv)
{
	bool tls = o->ps && o->tls;
	int n = 0;

	argv[n++] = f->memsplice;
	argv[n++] = "pre-dump";
	n = push(argv, n, "-t", pid);
	n = push(argv, n, "-D", dir);
	argv[n++] = "--track-mem";
	n = push(argv, n, "--prev-images-dir", o->parent_img);
	if (o->ps) {
		argv[n++] = "--page-server";
		n = push(argv, n, "--address", o->ps->address);
		n = push(argv, n, "--port", port);
	}
	if (tls) {
		argv[n++] = "--tls";
		n = push(argv, n, "--tls-cacert", o->tls_cacert);
		n = push(argv, n, "--tls-cert", o->tls_cert);
		n = push(argv, n, "--tls-key", o->tls_key);
	}
	if (o->has_log_level && o->log_level >= 4)
		argv[n++] = "-v";
	argv[n] = NULL;
}

static int run(const char **argv, int lfd, char *errmsg, size_t len)
{
	off_t from;
	pid_t child;
	int ret;

	dprintf(lfd, "memsplice-criu: this pre-dump is memsplice's:");
	for (int i = 0; argv[i]; i++)
		dprintf(lfd, " %s", argv[i]);
	dprintf(lfd, "\n");
	from = lseek(lfd, 0, SEEK_END);
	child = fork();
	if (child < 0)
		return -errno;
	if (child == 0) {
		if (dup2(lfd, STDOUT_FILENO) < 0 || dup2(lfd, STDERR_FILENO) < 0)
			_exit(127);
		execv(argv[0], (char *const *)argv);
		dprintf(STDERR_FILENO, "memsplice-criu: cannot run %s: %s\n", argv[0],
			strerror(errno));
		_exit(127);
	}
	ret = child_wait(child, NULL);
	if (ret < 0)
		return ret;
	if (ret == 0)
		return 0;
	last_line(lfd, from, errmsg, len);
	if (!errmsg[0])
		snprintf(errmsg, len, "memsplice pre-dump failed (exit %d)", ret);
	return -EIO;
}

int predump_run(const struct front *f, const CriuOpts *o, pid_t peer, char *errmsg, size_t len)
{
	char dir[PATH_MAX], pid[16], port[16];
	const char *argv[MAX_ARGS];
	int dfd, wfd, lfd, ret;

	errmsg[0] = '\0';
	dfd = open_peer_dir(peer, o->images_dir_fd, "images directory", errmsg, len);
	if (dfd < 0)
		return dfd;
	if (o->has_work_dir_fd) {
		wfd = open_peer_dir(peer, o->work_dir_fd, "work directory", errmsg, len);
	} else {	/* criu's default: the images directory */
		wfd = fcntl(dfd, F_DUPFD_CLOEXEC, 0);
		if (wfd < 0)
			wfd = -errno;
	}
	if (wfd < 0) {
		ret = wfd;
		goto close_dir;
	}
	lfd = open_log(o, wfd);
	if (lfd < 0) {
		ret = fail(errmsg, len, lfd, "cannot open the log file %s%s", o->log_file,
			   lfd == -EINVAL ? " (no subdirectories, as in criu)" : "");
		goto close_work;
	}
	dir_path(dfd, dir, sizeof(dir));
	snprintf(pid, sizeof(pid), "%d", o->pid);
	snprintf(port, sizeof(port), "%d", o->ps ? o->ps->port : 0);
	build_argv(f, o, dir, pid, port, argv);
	ret = run(argv, lfd, errmsg, len);
	if (!o->log_file)
		to_stderr(lfd);
	close(lfd);
close_work:
	close(wfd);
close_dir:
	close(dfd);
	if (ret && !errmsg[0])
		fail(errmsg, len, ret, "pre-dump");
	return ret;
}
