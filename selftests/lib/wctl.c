// SPDX-License-Identifier: GPL-2.0
/* The writer victim and hooked checkpoint runs: see wctl.h */
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vtest.h"
#include "wctl.h"

int writer_start(struct writer *w, const char *const *args, int uid)
{
	return writer_start_ns(w, args, uid, false);
}

int writer_start_ns(struct writer *w, const char *const *args, int uid, bool detached)
{
	const char *argv[16] = { "./selftests/lib/writer" };
	char line[160];
	int fds[2], n = 1;
	FILE *f;

	memset(w, 0, sizeof(*w));
	for (int i = 0; args[i] && n < 14; i++)
		argv[n++] = args[i];
	if (detached)
		argv[n++] = "--detach";
	if (pipe2(fds, O_CLOEXEC))
		return -1;
	w->pid = detached ? fork_pidns() : fork();
	if (w->pid < 0)
		return -1;
	if (w->pid == 0) {
		int null = open("/dev/null", O_RDWR | O_CLOEXEC);

		dup2(fds[1], 3);
		if (uid >= 0 && (setgroups(0, NULL) || setgid(uid) || setuid(uid)))
			_exit(126);
		if (detached) {	/* what criu dumps without --shell-job */
			static char exe[4096];

			if (null < 0 || dup2(null, 0) || dup2(null, 1) != 1 || dup2(null, 2) != 2)
				_exit(127);
			setsid();
			close_range(4, ~0U, 0);
			/* criu's parasite mounts a proc of the namespace below the cwd */
			if (!realpath(argv[0], exe) || chdir("/tmp"))
				_exit(127);
			argv[0] = exe;
		} else {
			prctl(PR_SET_PDEATHSIG, SIGKILL);	/* after setuid(), which clears it */
		}
		execv(argv[0], (char **)argv);
		_exit(127);
	}
	close(fds[1]);
	f = fdopen(fds[0], "r");
	if (!f || !fgets(line, sizeof(line), f) ||
	    sscanf(line, "ready %lx %lx %lx %lu", &w->seq_addr, &w->gap_addr, &w->shared_addr,
		   &w->shared_pages) != 4) {
		if (f)
			fclose(f);
		return -1;
	}
	fclose(f);
	return 0;
}

void writer_stop(struct writer *w)
{
	if (w->pid > 0) {
		kill(w->pid, SIGKILL);
		waitpid(w->pid, NULL, 0);
	}
	w->pid = 0;
}

uint64_t writer_word(const struct writer *w, unsigned long addr)
{
	uint64_t v = 0;
	struct iovec l = { &v, sizeof(v) }, r = { (void *)addr, sizeof(v) };

	process_vm_readv(w->pid, &l, 1, &r, 1, 0);
	return v;
}

int writer_set_word(const struct writer *w, unsigned long addr, uint64_t v)
{
	struct iovec l = { &v, sizeof(v) }, r = { (void *)addr, sizeof(v) };

	return process_vm_writev(w->pid, &l, 1, &r, 1, 0) == sizeof(v) ? 0 : -1;
}

bool writer_runs(const struct writer *w)
{
	uint64_t first = writer_word(w, w->seq_addr);

	for (int i = 0; i < 1000000; i++) {
		if (writer_word(w, w->seq_addr) != first)
			return true;
		sched_yield();
	}
	return false;
}

static void read_all(int fd, char *buf, size_t len)
{
	size_t got = 0;
	ssize_t n;

	while (got + 1 < len && (n = read(fd, buf + got, len - 1 - got)) > 0)
		got += n;
	buf[got] = '\0';
}

int ckpt_run(struct ckpt_run *r, const char *dir, const char *const *args)
{
	const char *argv[32] = { "memsplice", "checkpoint", "-t", NULL, "-D", dir };
	int sv[2], out[2], err[2], n = 6, nth = 0, ret = 0;
	char pid[16], fdnum[16], word[16];

	snprintf(pid, sizeof(pid), "%d", r->pid);
	argv[3] = pid;
	for (int i = 0; args[i] && n < 31; i++)
		argv[n++] = args[i];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) || pipe2(out, O_CLOEXEC) ||
	    pipe2(err, O_CLOEXEC))
		return -1;
	r->ms = fork();
	if (r->ms < 0)
		return -1;
	if (r->ms == 0) {
		int hook = dup(sv[1]);	/* without CLOEXEC */

		snprintf(fdnum, sizeof(fdnum), "%d", hook);
		setenv(r->hook_env, fdnum, 1);
		dup2(out[1], 1);
		dup2(err[1], 2);
		execv("./selftests/memsplice-test", (char **)argv);
		_exit(127);
	}
	close(sv[1]);
	close(out[1]);
	close(err[1]);
	while (read(sv[0], word, sizeof(word)) > 0) {
		if (r->on_hook && !ret)
			ret = r->on_hook(r, ++nth);
		/* MSG_NOSIGNAL: on_hook may have killed memsplice */
		if (send(sv[0], "x", 1, MSG_NOSIGNAL) != 1)
			break;
	}
	close(sv[0]);
	read_all(out[0], r->out, sizeof(r->out));
	read_all(err[0], r->err, sizeof(r->err));
	close(out[0]);
	close(err[0]);
	waitpid(r->ms, &r->status, 0);
	return ret;
}

int ckpt_rows(const char *out, struct ckpt_row *rows, int max)
{
	int n = 0;

	for (const char *l = out; *l && n < max;) {
		struct ckpt_row *row = &rows[n];

		if (sscanf(l, "%7s %*s %llu %llu %lf %lf", row->pass, &row->written, &row->parent,
			   &row->frozen_ms, &row->took_ms) == 5 && strcmp(row->pass, "pass"))
			n++;
		l += strcspn(l, "\n");
		l += !!*l;
	}
	return n;
}
