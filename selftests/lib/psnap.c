// SPDX-License-Identifier: GPL-2.0
/*
 * The dumper's side of selftests/parasite_test.c: freezing like pstree.c,
 * snapshots and their comparison (see psnap.h).
 */
#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

#include "psnap.h"

char *psnap_slurp(const char *fmt, ...)
{
	char path[128], *buf = NULL;
	size_t size = 0, used = 0;
	va_list ap;
	ssize_t n;
	int fd;

	va_start(ap, fmt);
	vsnprintf(path, sizeof(path), fmt, ap);
	va_end(ap);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return NULL;
	do {
		if (used + 4096 + 1 > size) {
			size = size ? 2 * size : 16384;
			buf = realloc(buf, size);
		}
		n = read(fd, buf + used, size - used - 1);
		if (n > 0)
			used += n;
	} while (n > 0);
	close(fd);
	buf[used] = 0;
	return buf;
}

/*
 * status lines a parasite legitimately changes (peaks, RSS, scheduling), and
 * SigQ, which counts the signals queued for the whole user
 */
static const char *const status_volatile[] = {
	"VmPeak:", "VmHWM:", "VmRSS:", "RssAnon:", "RssFile:", "RssShmem:", "VmPTE:",
	"voluntary_ctxt_switches:", "nonvoluntary_ctxt_switches:", "SigQ:", NULL,
};

static char *status_stable(char *s)
{
	char *out, *o, *line, *save;

	if (!s)
		return NULL;
	o = out = calloc(1, strlen(s) + 1);
	for (line = strtok_r(s, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		bool skip = false;

		for (int i = 0; status_volatile[i]; i++)
			skip |= !strncmp(line, status_volatile[i], strlen(status_volatile[i]));
		if (!skip)
			o += sprintf(o, "%s\n", line);
	}
	free(s);
	return out;
}

static char *list_fds(pid_t pid)
{
	char path[64], *out = calloc(1, 65536), *o = out;
	struct dirent *de;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	d = opendir(path);
	if (!d)
		return out;
	while ((de = readdir(d))) {
		char link[PATH_MAX + 64], target[256] = "";
		ssize_t n;

		if (de->d_name[0] == '.')
			continue;
		snprintf(link, sizeof(link), "%s/%s", path, de->d_name);
		n = readlink(link, target, sizeof(target) - 1);
		target[n > 0 ? n : 0] = 0;
		o += snprintf(o, 65536 - (o - out), "%s -> %s\n", de->d_name, target);
	}
	closedir(d);
	return out;
}

int psnap_threads(pid_t pid, pid_t *tids, int max)
{
	char path[64];
	struct dirent *de;
	int n = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	d = opendir(path);
	if (!d)
		return -1;
	while ((de = readdir(d)) && n < max)
		if (atoi(de->d_name) > 0)
			tids[n++] = atoi(de->d_name);
	closedir(d);
	return n;
}

/* What pstree.c does: seize and interrupt each thread, wait for the stop. */
int psnap_freeze(pid_t pid, pid_t *tids, int max)
{
	int n = psnap_threads(pid, tids, max);

	for (int i = 0; i < n; i++) {
		int status;

		if (ptrace(PTRACE_SEIZE, tids[i], 0, 0) || ptrace(PTRACE_INTERRUPT, tids[i], 0, 0))
			return -1;
		for (;;) {
			if (waitpid(tids[i], &status, __WALL) != tids[i] || !WIFSTOPPED(status))
				return -1;
			if ((status >> 16) == PTRACE_EVENT_STOP)
				break;
			ptrace(PTRACE_CONT, tids[i], 0, (void *)(long)WSTOPSIG(status));
		}
	}
	return n;
}

void psnap_thaw(const pid_t *tids, int n)
{
	for (int i = 0; i < n; i++)
		ptrace(PTRACE_DETACH, tids[i], 0, 0);
}

static int snap_thread(pid_t pid, struct psnap_thread *t)
{
	struct iovec iov = { t->xstate, sizeof(t->xstate) };
	siginfo_t si;
	char *st;

	if (ptrace(PTRACE_GETREGS, t->tid, 0, &t->regs) ||
	    ptrace(PTRACE_GETFPREGS, t->tid, 0, &t->fpregs) ||
	    ptrace(PTRACE_GETSIGMASK, t->tid, sizeof(t->sigmask), &t->sigmask) ||
	    ptrace(PTRACE_GETSIGINFO, t->tid, 0, &si))
		return -1;
	t->xstate_len = ptrace(PTRACE_GETREGSET, t->tid, NT_X86_XSTATE, &iov) ? 0 : iov.iov_len;
	for (int i = 0; i < 8; i++) {
		errno = 0;
		t->dr[i] = (i == 4 || i == 5) ? 0 :
			ptrace(PTRACE_PEEKUSER, t->tid, offsetof(struct user, u_debugreg[i]), 0);
	}
	t->stop_signo = si.si_signo;
	t->stop_event = si.si_code >> 8;
	st = psnap_slurp("/proc/%d/task/%d/status", pid, t->tid);
	t->status = status_stable(st);
	return 0;
}

int psnap_take(pid_t pid, const pid_t *tids, int n, struct psnap *s)
{
	memset(s, 0, sizeof(*s));
	s->maps = psnap_slurp("/proc/%d/maps", pid);
	s->status = status_stable(psnap_slurp("/proc/%d/status", pid));
	s->fds = list_fds(pid);
	s->nr = n;
	for (int i = 0; i < n; i++) {
		s->t[i].tid = tids[i];
		if (snap_thread(pid, &s->t[i]))
			return -1;
	}
	return s->maps && s->status ? 0 : -1;
}

void psnap_free(struct psnap *s)
{
	free(s->maps);
	free(s->status);
	free(s->fds);
	for (int i = 0; i < s->nr; i++)
		free(s->t[i].status);
	memset(s, 0, sizeof(*s));
}

static void __attribute__((format(printf, 3, 4)))
report_fmt(psnap_report_fn *report, void *arg, const char *fmt, ...)
{
	va_list ap;
	char *msg;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (n < 0) {
		/* unformatted, but a difference all the same */
		report(arg, fmt);
		return;
	}
	report(arg, msg);
	free(msg);
}

static int diff_text(psnap_report_fn *report, void *arg, const char *what, const char *a,
		     const char *b)
{
	if (!strcmp(a, b))
		return 0;
	report_fmt(report, arg, "%s differs:\n--- before\n%s--- after\n%s", what, a, b);
	return 1;
}

int psnap_compare(const struct psnap *a, const struct psnap *b, psnap_report_fn *report,
		  void *arg)
{
	int diffs = 0;

	diffs += diff_text(report, arg, "/proc/PID/maps", a->maps, b->maps);
	diffs += diff_text(report, arg, "/proc/PID/status", a->status, b->status);
	diffs += diff_text(report, arg, "/proc/PID/fd", a->fds, b->fds);
	for (int i = 0; i < a->nr; i++) {
		const struct psnap_thread *x = &a->t[i], *y = &b->t[i];

		diffs += diff_text(report, arg, "thread status", x->status, y->status);
		if (memcmp(&x->regs, &y->regs, sizeof(x->regs))) {
			report_fmt(report, arg,
				   "thread %d: registers differ (ip %llx -> %llx, ax %llx -> %llx, orig_ax %llx -> %llx)",
				   x->tid, x->regs.rip, y->regs.rip, x->regs.rax, y->regs.rax,
				   x->regs.orig_rax, y->regs.orig_rax);
			diffs++;
		}
		if (memcmp(&x->fpregs, &y->fpregs, sizeof(x->fpregs))) {
			report_fmt(report, arg, "thread %d: FPU/SSE registers differ", x->tid);
			diffs++;
		}
		if (x->xstate_len != y->xstate_len ||
		    memcmp(x->xstate, y->xstate, x->xstate_len)) {
			report_fmt(report, arg, "thread %d: xstate differs (len %zu/%zu)", x->tid,
				   x->xstate_len, y->xstate_len);
			for (size_t o = 0; o < x->xstate_len; o++)
				if (x->xstate[o] != y->xstate[o])
					report_fmt(report, arg, "  [%zu] %02x -> %02x", o,
						   x->xstate[o], y->xstate[o]);
			diffs++;
		}
		if (x->sigmask != y->sigmask) {
			report_fmt(report, arg, "thread %d: sigmask %llx -> %llx", x->tid,
				   (unsigned long long)x->sigmask, (unsigned long long)y->sigmask);
			diffs++;
		}
		if (memcmp(x->dr, y->dr, sizeof(x->dr))) {
			report_fmt(report, arg, "thread %d: debug registers differ (dr7 %lx -> %lx)",
				   x->tid, x->dr[7], y->dr[7]);
			diffs++;
		}
		if (x->stop_signo != y->stop_signo || x->stop_event != y->stop_event) {
			report_fmt(report, arg, "thread %d: stop %d/%d -> %d/%d", x->tid,
				   x->stop_signo, x->stop_event, y->stop_signo, y->stop_event);
			diffs++;
		}
	}
	return diffs;
}
