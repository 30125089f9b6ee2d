// SPDX-License-Identifier: GPL-2.0
/*
 * The parasite backend, the last resort: for kernels without the
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
 * Only one thread runs parasite code; every other thread of the process stays
 * in the stop pstree.c put it in.  The pipe holds references to the target's
 * pages, not copies: what the target writes before the drain reaches the
 * image.  Hence xfer_while_frozen: the tree stays frozen until every page is
 * drained, and a pre-dump's frozen time includes the whole transfer.
 *
 * Curing is unconditional once compel_prepare() has succeeded: every error
 * path of attach, and detach whatever happened in between, go through
 * parasite_cure(), which leaves the thread with its registers (general, FPU,
 * AVX-512), signal mask, seccomp state and ptrace stop as attach found them;
 * selftests/parasite_test.c compares all of them, /proc/PID/maps, status and
 * fds.  What stays visible: the page of the first executable mapping that
 * compel patches for its remote syscalls is a private (anonymous) copy
 * afterwards, peaks (VmPeak, VmHWM) count the parasite, and if every thread
 * sleeps in a timed syscall, the one that runs the parasite sees EINTR (see
 * thread_fitness()).
 */
#define LOG_PREFIX "source-parasite: "
#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef __x86_64__
#error "source-parasite.c saves and restores x86-64 registers; port restore_thread() first"
#endif

#include <compel/infect.h>
#include <compel/infect-rpc.h>
#include <compel/infect-util.h>
#include <compel/log.h>

#include "parasite-abi.h"
#include "parasite-blob.h"

/* compel's common/compiler.h and <sys/user.h> have their own */
#undef ARRAY_SIZE
#undef PAGE_SIZE
#undef PAGE_SHIFT
#include "log.h"
#include "source.h"
#include "util.h"

/*
 * compel_infect()'s args area.  The init handshake (struct parasite_init_args,
 * ~150 bytes) is written there too, and compel does not check that it fits:
 * give it the minimum compel itself assumes.
 */
#define PARASITE_ARGS_SIZE	PARASITE_ARG_SIZE_MIN
/* room for any XSAVE layout (AMX included is ~11 KiB) */
#define XSTATE_BUF_SIZE		(64 << 10)
#define ERESTART_RESTARTBLOCK	516

/* parasite_probe() runs the backend on a child of ours */
extern const struct page_source_ops source_parasite_ops;

struct parasite_src {
	struct parasite_ctl *ctl;	/* non-NULL while infected */
	struct ms_parasite_args *args;	/* compel's args area, shared with the blob */
	pid_t tid;			/* the thread running the parasite */
	struct user_regs_struct regs;	/* its registers before the infection */
	struct iovec xstate;		/* its FPU/SSE/AVX/AVX-512 state before */
	int pipe[2];
	size_t pipe_size;		/* capacity of the pipe */
	int log_fd;			/* the parasite's log, our stderr */
	int listen_sk;			/* compel_prepare()'s socket, compel never closes it */
	ino_t listen_ino;
	void *regs_arg;			/* compel_prepare()'s buffer, compel never frees it */
	bool seccomp_suspended;		/* we set PTRACE_O_SUSPEND_SECCOMP on tid */
	bool broken;			/* an RPC failed: only curing is left */
};

static void compel_log(unsigned int lvl, const char *fmt, va_list ap)
{
	char msg[512];
	size_t n;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n && msg[n - 1] == '\n')
		msg[--n] = '\0';
	switch (lvl) {
	case COMPEL_LOG_MSG:
	case COMPEL_LOG_ERROR:
		log_msg(LOG_ERROR, LOG_PREFIX "compel: %s", msg);
		break;
	case COMPEL_LOG_WARN:
		log_msg(LOG_WARN, LOG_PREFIX "compel: %s", msg);
		break;
	case COMPEL_LOG_INFO:
		log_msg(LOG_INFO, LOG_PREFIX "compel: %s", msg);
		break;
	default:
		log_msg(LOG_DEBUG, LOG_PREFIX "compel: %s", msg);
		break;
	}
}

/*
 * compel's RPC and cure loop on recv() and wait4(): a signal handler of the
 * dumper without SA_RESTART would make them fail half-way, and a cure that
 * fails half-way leaves the parasite in the target.  Signals wait until the
 * call is over.
 */
static void signals_hold(sigset_t *old)
{
	sigset_t all;

	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, old);
}

static void signals_release(const sigset_t *old)
{
	sigprocmask(SIG_SETMASK, old, NULL);
}

/* "State:" and "Seccomp:" of /proc/PID/task/TID/status; state 0 when gone */
static int thread_status(pid_t pid, pid_t tid, char *state, int *seccomp)
{
	char path[64], *buf, *p;
	int ret;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/status", pid, tid);
	*state = 0;
	*seccomp = 0;
	ret = read_file(path, &buf, NULL);
	if (ret == -ENOENT || ret == -ESRCH)
		return 0;
	if (ret)
		return ret;
	p = strstr(buf, "\nState:");
	if (p)
		sscanf(p + 7, " %c", state);
	p = strstr(buf, "\nSeccomp:");
	if (p)
		sscanf(p + 9, "%d", seccomp);
	free(buf);
	return 0;
}

#define PF_EXITING	0x00000004

/*
 * Is @tid dead or past the point of no return (PF_EXITING, or SIGKILL
 * queued)?  Such a thread needs no cure, and must not get one: compel would
 * wait4() for it, forever if we hold other threads of its process stopped.
 * An RPC fails because the parasite's socket closed, which happens in
 * do_exit() after PF_EXITING is set, so a failed RPC is never mistaken for a
 * live parasite.
 */
static bool thread_dying(pid_t tid)
{
	char path[64], *buf, *p, state;
	unsigned long long pnd;
	unsigned int flags;
	bool dying = true;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", tid, tid);
	if (read_file(path, &buf, NULL))
		return true;
	p = strrchr(buf, ')');
	if (p && sscanf(p + 2, "%c %*d %*d %*d %*d %*d %u", &state, &flags) == 2)
		dying = state == 'Z' || state == 'X' || (flags & PF_EXITING);
	free(buf);
	if (dying)
		return true;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/status", tid, tid);
	if (read_file(path, &buf, NULL))
		return true;
	for (int i = 0; i < 2; i++) {
		const char *key = i ? "\nShdPnd:" : "\nSigPnd:";

		p = strstr(buf, key);
		if (p && sscanf(p + 8, "%llx", &pnd) == 1 && (pnd & (1ULL << (SIGKILL - 1))))
			dying = true;
	}
	free(buf);
	return dying;
}

/*
 * How well @tid can lend itself to the parasite: 0 not at all (gone, or not
 * in a ptrace stop of ours), 1 with a visible effect, 2 without.  compel
 * leaves the parasite through rt_sigreturn, which resets the thread's
 * restart_block: a thread stopped in a syscall that restarts through it
 * (nanosleep, clock_nanosleep, poll or futex with a timeout) would see EINTR.
 */
static int thread_fitness(pid_t pid, pid_t tid, struct user_regs_struct *regs)
{
	char state;
	int seccomp;

	if (thread_status(pid, tid, &state, &seccomp) || !state || state == 'Z' || state == 'X')
		return 0;
	if (ptrace(PTRACE_GETREGS, tid, 0, regs) < 0)
		return 0;
	return (long)regs->orig_rax >= 0 && (long)regs->rax == -ERESTART_RESTARTBLOCK ? 1 : 2;
}

/*
 * The thread to run the parasite in: the leader, unless it is a zombie whose
 * threads live on or it sleeps in a restart_block syscall and another thread
 * does not.  Its registers go to @regs.
 */
static int pick_thread(pid_t pid, pid_t *tid, struct user_regs_struct *regs)
{
	struct user_regs_struct r;
	int best, fit;
	char path[64];
	struct dirent *de;
	DIR *dir;

	*tid = pid;
	best = thread_fitness(pid, pid, regs);
	if (best == 2)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	dir = opendir(path);
	if (!dir)
		return -ESRCH;
	while (best < 2 && (de = readdir(dir))) {
		pid_t t = atoi(de->d_name);

		if (t <= 0 || t == pid)
			continue;
		fit = thread_fitness(pid, t, &r);
		if (fit > best) {
			best = fit;
			*tid = t;
			*regs = r;
		}
	}
	closedir(dir);
	if (!best) {
		pr_err("no thread of %d is in a ptrace stop of ours", pid);
		return -ESRCH;
	}
	if (best == 1)
		pr_warn("%d: every thread sleeps in a timed syscall (nanosleep, poll, futex...): "
			"thread %d will see it fail with EINTR", pid, *tid);
	return 0;
}

/*
 * Put @tid back into a PTRACE_EVENT_STOP, the stop pstree.c waited for.
 * After a cure it sits in the SIGTRAP signal-delivery-stop of compel's last
 * remote syscall, with the original registers and mask restored.  The
 * interrupt is taken by get_signal() as soon as the thread is resumed, before
 * it can return to user space; the SIGTRAP is discarded by resuming with 0.
 */
static int repark(pid_t tid)
{
	int status;

	if (ptrace(PTRACE_INTERRUPT, tid, 0, 0) < 0 || ptrace(PTRACE_CONT, tid, 0, 0) < 0) {
		int ret = -errno;

		pr_perror("cannot stop %d again", tid);
		return ret;
	}
	for (;;) {
		if (waitpid(tid, &status, __WALL) < 0) {
			int ret = -errno;

			if (ret == -EINTR)
				continue;
			pr_perror("cannot wait for %d", tid);
			return ret == -ECHILD ? -ESRCH : ret;
		}
		if (!WIFSTOPPED(status)) {
			pr_err("%d died while being cured (status %#x)", tid, status);
			return -ESRCH;
		}
		if ((status >> 16) == PTRACE_EVENT_STOP)
			return 0;
		/* a signal that arrived while frozen: pass it on, the trap comes next */
		if (ptrace(PTRACE_CONT, tid, 0, (void *)(long)WSTOPSIG(status)) < 0) {
			int ret = -errno;

			pr_perror("cannot stop %d again", tid);
			return ret;
		}
	}
}

/*
 * A thread seized in a group stop (a job-control stopped process) can hold a
 * second trap: PTRACE_SEIZE turns its stop into a PTRACE_EVENT_STOP trap, and
 * the PTRACE_INTERRUPT that follows queues one more once that trap is taken.
 * compel's first remote syscall would run into it ("unexpected task
 * interruption").  Take it now.  The group stop itself is not ended by
 * running the parasite: the thread keeps reporting it, and PTRACE_DETACH
 * puts the thread back into it.
 */
static int settle_group_stop(struct parasite_src *ps)
{
	siginfo_t si;
	int ret;

	if (ptrace(PTRACE_GETSIGINFO, ps->tid, 0, &si) < 0)
		return -errno;
	if (si.si_signo == SIGTRAP)
		return 0;
	ret = repark(ps->tid);
	if (!ret && ptrace(PTRACE_GETREGS, ps->tid, 0, &ps->regs) < 0)
		ret = -errno;
	return ret;
}

/*
 * compel restores the thread's registers from what it saw through its own
 * eyes: with a pending syscall restart already applied (ip - 2, ax = nr),
 * which turns "EINTR if a handler runs" (ERESTARTNOHAND, ERESTARTSYS without
 * SA_RESTART) into "restart anyway"; and through a signal frame that drops
 * the AVX-512 opmask and upper ZMM registers.  Put back what ptrace read
 * before the infection, bit for bit; the kernel then restarts the syscall
 * itself when the thread resumes.
 */
static int restore_thread(struct parasite_src *ps)
{
	if (ps->xstate.iov_len && ptrace(PTRACE_SETREGSET, ps->tid, NT_X86_XSTATE, &ps->xstate) < 0) {
		int ret = -errno;

		pr_perror("cannot restore the FPU state of %d", ps->tid);
		return ret;
	}
	if (ptrace(PTRACE_SETREGS, ps->tid, 0, &ps->regs) < 0) {
		int ret = -errno;

		pr_perror("cannot restore the registers of %d", ps->tid);
		return ret;
	}
	return 0;
}

/*
 * Remove the parasite and give @ps->tid back as attach found it.  Safe to
 * call at any point after compel_prepare(); it never stops half-way by
 * choice.  Returns 0, or -errno when the target may not be intact (said
 * loudly, once).
 */
static int parasite_cure(struct parasite_src *ps)
{
	struct stat st;
	int ret = 0;

	if (thread_dying(ps->tid)) {
		if (compel_cure_local(ps->ctl))
			pr_err("cannot unmap compel's view of %d", ps->tid);
		pr_info("%d died while infected", ps->tid);
		ret = -ESRCH;
	} else if (compel_cure(ps->ctl)) {
		/* compel_cure() frees the ctl only when the remote part succeeded */
		if (compel_cure_local(ps->ctl))
			pr_err("cannot unmap compel's view of %d", ps->tid);
		if (thread_dying(ps->tid)) {
			pr_info("%d died while infected", ps->tid);
			ret = -ESRCH;
		} else {
			pr_err("could not cure %d: parasite code may be left in it", ps->tid);
			ret = -ENOTRECOVERABLE;
		}
	}
	ps->ctl = NULL;
	ps->args = NULL;
	ps->broken = false;
	/* compel closes it itself when accept() failed: only close our socket */
	if (ps->listen_sk >= 0 && !fstat(ps->listen_sk, &st) && st.st_ino == ps->listen_ino)
		close(ps->listen_sk);
	ps->listen_sk = -1;
	free(ps->regs_arg);
	ps->regs_arg = NULL;

	if (!ret)
		ret = restore_thread(ps);
	if (!ret)
		ret = repark(ps->tid);
	if (ps->seccomp_suspended && ptrace(PTRACE_SETOPTIONS, ps->tid, 0, 0) < 0 && !ret) {
		ret = -errno;
		pr_perror("cannot resume seccomp of %d", ps->tid);
	}
	ps->seccomp_suspended = false;
	return ret;
}

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

/* Hand both pipe ends to the parasite (see MS_PARASITE_SET_PIPE). */
static int send_pipe(struct parasite_src *ps)
{
	if (compel_rpc_call(MS_PARASITE_SET_PIPE, ps->ctl) ||
	    compel_util_send_fd(ps->ctl, ps->pipe[1]) ||
	    compel_util_send_fd(ps->ctl, ps->pipe[0]) ||
	    compel_rpc_sync(MS_PARASITE_SET_PIPE, ps->ctl)) {
		pr_err("cannot hand the pipe to the parasite in %d", ps->tid);
		return thread_dying(ps->tid) ? -ESRCH : -EIO;
	}
	if (ps->args->ret) {
		pr_errno((int)ps->args->ret, "parasite in %d did not take the pipe", ps->tid);
		return (int)ps->args->ret;
	}
	return 0;
}

/*
 * Infect @pid.  pstree.c has already seized and interrupted every thread,
 * which is what compel_stop_task() would do for one; compel_prepare() wants
 * exactly a thread in a ptrace stop.  What compel_wait_task() adds on top
 * is done here: PTRACE_O_SUSPEND_SECCOMP, or the target's own filter would
 * judge the parasite's syscalls (pstree.c seizes without options, so
 * setting this one replaces nothing).
 */
static int infect(struct parasite_src *ps, pid_t pid)
{
	struct infect_ctx *ictx;
	struct stat st;
	int seccomp, ret;
	char state;

	ret = pick_thread(pid, &ps->tid, &ps->regs);
	if (ret)
		return ret;
	ret = settle_group_stop(ps);
	if (ret)
		return ret;
	ps->xstate.iov_len = XSTATE_BUF_SIZE;
	if (ptrace(PTRACE_GETREGSET, ps->tid, NT_X86_XSTATE, &ps->xstate) < 0)
		ps->xstate.iov_len = 0;	/* no XSAVE: compel's FXSAVE handling is complete */
	ret = thread_status(pid, ps->tid, &state, &seccomp);
	if (ret)
		return ret;
	if (seccomp) {
		if (ptrace(PTRACE_SETOPTIONS, ps->tid, 0, PTRACE_O_SUSPEND_SECCOMP) < 0) {
			ret = -errno;
			pr_perror("cannot suspend seccomp (mode %d) of %d%s", seccomp, ps->tid,
				  ret == -EPERM ? " (needs CAP_SYS_ADMIN, and no seccomp on memsplice)" : "");
			return ret;
		}
		ps->seccomp_suspended = true;
	}

	/* only reads registers and mask, and setns()es to make a socket */
	errno = 0;
	ps->ctl = compel_prepare(ps->tid);
	if (!ps->ctl) {
		ret = errno ? -errno : -EIO;
		pr_errno(ret, "compel cannot prepare %d", ps->tid);
		if (ps->seccomp_suspended)
			ptrace(PTRACE_SETOPTIONS, ps->tid, 0, 0);
		ps->seccomp_suspended = false;
		return ret;
	}
	ictx = compel_infect_ctx(ps->ctl);
	ps->listen_sk = ictx->sock;
	ps->listen_ino = fstat(ictx->sock, &st) ? 0 : st.st_ino;
	ps->regs_arg = ictx->regs_arg;
	ictx->log_fd = ps->log_fd;
	/*
	 * compel's default SIGCHLD handler reaps any child with waitpid(-1),
	 * stealing wait statuses from pstree.c; a dying parasite shows as a
	 * closed RPC socket anyway.  NULL means SIG_DFL while the daemon runs.
	 */
	ictx->child_handler = NULL;
	/*
	 * Find the parasite's final sigreturn by stepping its few syscalls
	 * instead of with a hardware breakpoint: leaves DR0/DR6/DR7 alone.
	 */
	ictx->flags |= INFECT_NO_BREAKPOINTS;
	parasite_setup_c_header(ps->ctl);

	if (compel_infect(ps->ctl, 1, PARASITE_ARGS_SIZE)) {
		pr_err("cannot infect %d", ps->tid);
		ret = thread_dying(ps->tid) ? -ESRCH : -EIO;
		goto err_cure;
	}
	ps->args = compel_parasite_args_s(ps->ctl, sizeof(*ps->args));
	ret = send_pipe(ps);
	if (ret)
		goto err_cure;
	return 0;

err_cure:
	parasite_cure(ps);
	return ret;
}

static int parasite_attach(struct page_source *src, pid_t pid)
{
	struct parasite_src *ps = src->priv;
	sigset_t old;
	int ret;

	if (ps->ctl)
		return -EBUSY;
	signals_hold(&old);
	ret = infect(ps, pid);
	signals_release(&old);
	if (!ret)
		src->pid = pid;
	return ret;
}

static int parasite_detach(struct page_source *src)
{
	struct parasite_src *ps = src->priv;
	sigset_t old;
	int ret = 0, queued = 0;

	if (ps->ctl) {
		signals_hold(&old);
		ret = parasite_cure(ps);
		signals_release(&old);
	}
	src->pid = 0;
	/* pages left undrained must not reach the next process's pagemap */
	if (ioctl(ps->pipe[0], FIONREAD, &queued) < 0 || queued) {
		pipe_destroy(ps);
		if (pipe_create(ps, src->buffer_size) && !ret)
			ret = -ENOMEM;
	}
	return ret;
}

static ssize_t parasite_fill(struct page_source *src, const struct src_range *r,
			     struct page_data *data)
{
	struct parasite_src *ps = src->priv;
	struct ms_parasite_args *a = ps->args;
	int queued;
	sigset_t old;
	ssize_t ret;

	if (!ps->ctl)
		return -ESRCH;
	if (ps->broken)
		return -EIO;
	if (ioctl(ps->pipe[0], FIONREAD, &queued) < 0)
		return -errno;
	if (queued) {
		pr_err("%d bytes of the previous fill not drained", queued);
		return -EBUSY;
	}

	a->addr = r->addr;
	a->len = MIN(r->len, ps->pipe_size);
	a->prot = r->prot;
	signals_hold(&old);
	if (compel_rpc_call_sync(MS_PARASITE_SPLICE, ps->ctl)) {
		ps->broken = true;
		ret = thread_dying(ps->tid) ? -ESRCH : -EIO;
		pr_err("parasite in %d does not answer", ps->tid);
	} else {
		ret = a->ret;
	}
	signals_release(&old);
	if (ret == -ENOTRECOVERABLE) {
		pr_errno(a->prot_err, "%d: cannot restore protection %#x of %#lx-%#lx",
			 ps->tid, r->prot, r->addr, r->addr + (unsigned long)a->len);
		ps->broken = true;
	}
	if (ret <= 0)
		return ret ? ret : -EFAULT;

	data->buf = NULL;
	data->pipe_fd = ps->pipe[0];
	data->len = ret;
	return ret;
}

static int parasite_create(struct page_source *src, const struct source_opts *opts)
{
	struct parasite_src *ps;
	int ret;

	if (opts->buffer_size < PAGE_SIZE)
		return -EINVAL;
	ps = calloc(1, sizeof(*ps));
	if (!ps)
		return -ENOMEM;
	ps->listen_sk = -1;
	ps->pipe[0] = ps->pipe[1] = -1;
	ps->xstate.iov_base = malloc(XSTATE_BUF_SIZE);
	if (!ps->xstate.iov_base) {
		ret = -ENOMEM;
		goto err_free;
	}
	/* the parasite's error messages go where ours go */
	ps->log_fd = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
	if (ps->log_fd < 0)
		ps->log_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (ps->log_fd < 0) {
		ret = -errno;
		goto err_free;
	}
	ret = pipe_create(ps, opts->buffer_size & ~(PAGE_SIZE - 1));
	if (ret) {
		pr_errno(ret, "cannot create a pipe of %zu bytes", opts->buffer_size);
		goto err_log;
	}
	/*
	 * Errors only: compel's warnings are about what it does and we undo
	 * (its own syscall-restart emulation).  The parasite logs at this
	 * level too.
	 */
	compel_log_init(compel_log, COMPEL_LOG_ERROR);
	src->buffer_size = ps->pipe_size;
	src->priv = ps;
	return 0;

err_log:
	close(ps->log_fd);
err_free:
	free(ps->xstate.iov_base);
	free(ps);
	return ret;
}

static void parasite_destroy(struct page_source *src)
{
	struct parasite_src *ps = src->priv;

	if (ps->ctl)
		parasite_detach(src);
	pipe_destroy(ps);
	close(ps->log_fd);
	free(ps->xstate.iov_base);
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
	ret = source_parasite_ops.attach(&src, pid);
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
};
