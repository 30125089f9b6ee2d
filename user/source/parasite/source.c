// SPDX-License-Identifier: GPL-2.0
/*
 * The parasite source, the last resort: for kernels without the
 * splice_process_vm syscall or device, and hosts where process_vm_readv is
 * not allowed.  As CRIU's pre-dump does, memsplice injects a parasite with
 * libcompel into the frozen target, and the target vmsplices its own memory
 * into a pipe that the sink drains.
 *
 *   memsplice                             target, frozen by pstree.c
 *   attach  compel_prepare(tid)  ------>  thread tid: regs and sigmask saved
 *           compel_infect()      ------>  blob + args memfd mapped, daemon runs
 *           SET_PIPE, 2 fds      --SCM->  holds both ends of memsplice's pipe
 *   fill    args {addr,len,prot}
 *           SPLICE               ------>  [mprotect +R] vmsplice [mprotect back]
 *                                <------  args.ret = bytes now in the pipe
 *           page_data.pipe_fd = read end  pipe: |ref|ref|ref|  live pages
 *   sink    splice(pipe -> pages-N.img), before the next fill
 *   detach  compel_cure()        ------>  FINI: close fds, sigreturn, munmap
 *           back into PTRACE_EVENT_STOP, as pstree.c left it
 *
 * The compel side of it (infecting one thread while the others stay in the
 * stop pstree.c put them in, the RPC, and a cure that leaves no trace the
 * target could notice) is ctl.c; here are the pipe and the
 * page_source_ops on top.  The pipe holds references to the target's
 * pages, not copies: what the target writes before the drain reaches the
 * image.  Hence xfer_while_frozen: the tree stays frozen until every page is
 * drained, and a pre-dump's frozen time includes the whole transfer.
 */
#define LOG_PREFIX "source-parasite: "
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "source/parasite/ctl.h"
#include "source/source.h"
#include "tree/target.h"
#include "util.h"

/* parasite_probe() runs the source on a child of ours */
extern const struct page_source_ops source_parasite_ops;

struct parasite_src {
	struct pctl *pc;		/* the parasite, in a process between attach and detach */
	bool self;			/* attached to memsplice itself: no parasite needed */
	int pipe[2];
	size_t pipe_size;		/* capacity of the pipe */
};

static int pipe_create(struct parasite_src *ps, size_t want)
{
	char *buf;
	long max;
	int size;

	if (pipe2(ps->pipe, O_CLOEXEC) < 0)
		return -errno;
	/* above fs/pipe-max-size only with CAP_SYS_RESOURCE */
	if (fcntl(ps->pipe[0], F_SETPIPE_SZ, (int)MIN(want, (size_t)INT_MAX)) < 0 &&
	    !read_file("/proc/sys/fs/pipe-max-size", &buf, NULL)) {
		max = strtol(buf, NULL, 10);
		free(buf);
		if (max > 0 && (size_t)max < want)
			fcntl(ps->pipe[0], F_SETPIPE_SZ, (int)max);
	}
	size = fcntl(ps->pipe[0], F_GETPIPE_SZ);
	if (size < (int)PAGE_SIZE) {
		int ret = size < 0 ? -errno : -ENOSPC;

		close(ps->pipe[0]);
		close(ps->pipe[1]);
		return ret;
	}
	ps->pipe_size = MIN((size_t)size, want);
	return 0;
}

static void pipe_destroy(struct parasite_src *ps)
{
	if (ps->pipe[0] >= 0) {
		close(ps->pipe[0]);
		close(ps->pipe[1]);
	}
	ps->pipe[0] = ps->pipe[1] = -1;
}

/*
 * memsplice's own memory (a shared segment it mapped, see collect.c): what
 * the parasite does in a target, done here.
 */
static ssize_t splice_self(struct parasite_src *ps, unsigned long addr, size_t len)
{
	size_t done = 0;

	while (done < len) {
		struct iovec iov = { (void *)(addr + done), len - done };
		ssize_t n = vmsplice(ps->pipe[1], &iov, 1, 0);

		if (n < 0)
			return done ? (ssize_t)done : -errno;
		if (!n)
			break;
		done += n;
	}
	return done;
}

/* the tree stays frozen until detach: t->pid cannot change hands meanwhile */
static int parasite_attach(struct page_source *src, const struct target *t)
{
	struct parasite_src *ps = src->priv;
	int ret;

	ps->self = t->pid == getpid();
	if (ps->self) {
		src->target = t;
		return 0;
	}
	ret = pctl_infect(ps->pc, t->pid, ps->pipe);
	if (!ret)
		src->target = t;
	return ret;
}

static int parasite_detach(struct page_source *src)
{
	struct parasite_src *ps = src->priv;
	int ret, queued = 0;

	ret = ps->self ? 0 : pctl_cure(ps->pc);
	ps->self = false;
	src->target = NULL;
	/* pages left undrained must not reach the next process's pagemap */
	if (ioctl(ps->pipe[0], FIONREAD, &queued) < 0 || queued) {
		pipe_destroy(ps);
		if (pipe_create(ps, src->buffer_size) && !ret)
			ret = -ENOMEM;
	}
	return ret;
}

/* the parasite can take a command and the pipe is empty: 0 or -errno */
static int fill_ready(struct parasite_src *ps)
{
	int queued, ret;

	ret = ps->self ? 0 : pctl_usable(ps->pc);
	if (ret)
		return ret;
	if (ioctl(ps->pipe[0], FIONREAD, &queued) < 0)
		return -errno;
	if (queued) {
		pr_err("%d bytes of the previous fill not drained", queued);
		return -EBUSY;
	}
	return 0;
}

/* @ret bytes (or -errno) now in the pipe: what the sink is to take */
static ssize_t in_pipe(struct parasite_src *ps, ssize_t ret, struct page_data *data)
{
	if (ret < 0)
		return ret;
	data->buf = NULL;
	data->pipe_fd = ps->pipe[0];
	data->len = ret;
	return ret;
}

static ssize_t parasite_fill(struct page_source *src, const struct src_range *r,
			     struct page_data *data)
{
	struct parasite_src *ps = src->priv;
	ssize_t ret;

	ret = fill_ready(ps);
	if (ret)
		return ret;
	if (ps->self)
		ret = splice_self(ps, r->addr, MIN(r->len, ps->pipe_size));
	else
		ret = pctl_splice(ps->pc, r->addr, MIN(r->len, ps->pipe_size), r->prot);
	return in_pipe(ps, ret, data);
}

/* many small runs in one round trip (memsplice's own mapping: the first only) */
static ssize_t parasite_fill_vec(struct page_source *src, const struct src_range *r,
				 unsigned int nr, struct page_data *data)
{
	struct parasite_src *ps = src->priv;
	struct iovec iov[SRC_MAX_VEC];
	size_t room = ps->pipe_size;
	unsigned int n = 0;
	ssize_t ret;

	if (ps->self)
		return parasite_fill(src, r, data);
	ret = fill_ready(ps);
	if (ret)
		return ret;
	while (n < MIN(nr, (unsigned int)SRC_MAX_VEC) && room) {
		iov[n].iov_base = (void *)r[n].addr;
		iov[n].iov_len = MIN(r[n].len, room);
		room -= iov[n++].iov_len;
	}
	return in_pipe(ps, pctl_splice_vec(ps->pc, iov, n), data);
}

static int parasite_create(struct page_source *src, const struct source_opts *opts)
{
	struct parasite_src *ps;
	int ret;

	ps = calloc(1, sizeof(*ps));
	if (!ps) {
		pr_err("out of memory");
		return -ENOMEM;
	}
	ps->pipe[0] = ps->pipe[1] = -1;
	ret = pctl_create(&ps->pc);
	if (ret) {
		pr_errno(ret, "cannot set up the parasite control");
		goto err_free;
	}
	ret = pipe_create(ps, opts->buffer_size & ~(PAGE_SIZE - 1));
	if (ret) {
		pr_errno(ret, "cannot create a pipe of %zu bytes", opts->buffer_size);
		goto err_pctl;
	}
	src->buffer_size = ps->pipe_size;
	src->priv = ps;
	return 0;

err_pctl:
	pctl_destroy(ps->pc);
err_free:
	free(ps);
	return ret;
}

static void parasite_destroy(struct page_source *src)
{
	struct parasite_src *ps = src->priv;

	if (pctl_infected(ps->pc))
		parasite_detach(src);
	pipe_destroy(ps);
	pctl_destroy(ps->pc);
	free(ps);
	src->priv = NULL;
}

/*
 * A child that has nothing to do but be infected: probe's victim.  Only
 * async-signal-safe calls after fork().
 */
static pid_t probe_victim(void)
{
	pid_t pid = fork();

	if (pid == 0) {
		for (;;)
			pause();
	}
	return pid;
}

static int probe_freeze(pid_t pid)
{
	int status;

	if (ptrace(PTRACE_SEIZE, pid, 0, PTRACE_O_EXITKILL) < 0 ||
	    ptrace(PTRACE_INTERRUPT, pid, 0, 0) < 0)
		return -errno;
	while (waitpid(pid, &status, __WALL) < 0)
		if (errno != EINTR)
			return -errno;
	return WIFSTOPPED(status) && (status >> 16) == PTRACE_EVENT_STOP ? 0 : -ECHILD;
}

/*
 * Can compel infect a process here?  Try it: infect a child of ours that
 * shares a known page with us, splice that page, compare, cure, kill it.
 * About 2 ms; the child is the only process touched.
 */
static int parasite_probe(char *why, size_t len)
{
	struct page_source src = { .ops = &source_parasite_ops };
	struct source_opts opts = { .buffer_size = PAGE_SIZE };
	struct page_data data;
	struct src_range r;
	unsigned char *page, back[PAGE_SIZE];
	const char *step;
	ssize_t n;
	pid_t pid;
	int ret;

	page = mmap(NULL, PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (page == MAP_FAILED) {
		snprintf(why, len, "mmap: %s", strerror(errno));
		return -ENOMEM;
	}
	for (size_t i = 0; i < PAGE_SIZE; i++)
		page[i] = (unsigned char)(i * 7 + 1);

	step = "fork";
	pid = probe_victim();
	if (pid < 0) {
		ret = -errno;
		goto out_unmap;
	}
	step = "ptrace";
	ret = probe_freeze(pid);
	if (ret)
		goto out_kill;
	step = "create";
	ret = source_parasite_ops.create(&src, &opts);
	if (ret)
		goto out_kill;
	step = "infect";
	ret = source_parasite_ops.attach(&src, &(struct target){ pid, -1, -1, -1 });
	if (ret)
		goto out_destroy;
	step = "vmsplice";
	r = (struct src_range){ .addr = (unsigned long)page, .len = PAGE_SIZE,
				.prot = PROT_READ | PROT_WRITE };
	n = source_parasite_ops.fill(&src, &r, &data);
	if (n == PAGE_SIZE)
		n = read(data.pipe_fd, back, sizeof(back));
	if (n != PAGE_SIZE || memcmp(back, page, PAGE_SIZE))
		ret = n < 0 ? (int)n : -EIO;
	if (source_parasite_ops.detach(&src) && !ret) {
		step = "cure";
		ret = -EIO;
	}
out_destroy:
	source_parasite_ops.destroy(&src);
out_kill:
	kill(pid, SIGKILL);
	while (waitpid(pid, NULL, __WALL) < 0 && errno == EINTR)
		;
out_unmap:
	munmap(page, PAGE_SIZE);
	if (ret)
		snprintf(why, len, "compel injection fails at %s: %s%s", step, strerror(-ret),
			 ret == -EPERM ? " (needs CAP_SYS_PTRACE and CAP_SYS_ADMIN)" : "");
	return ret;
}

const struct page_source_ops source_parasite_ops = {
	.name			= "parasite",
	.xfer_while_frozen	= true,
	.pre_dump_mode		= 1,
	.probe			= parasite_probe,
	.create			= parasite_create,
	.destroy		= parasite_destroy,
	.attach			= parasite_attach,
	.detach			= parasite_detach,
	.fill			= parasite_fill,
	.fill_vec		= parasite_fill_vec,
};
