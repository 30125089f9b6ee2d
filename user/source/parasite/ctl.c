// SPDX-License-Identifier: GPL-2.0
/*
 * The compel glue of the parasite source (see ctl.h): infect a
 * thread of a frozen process, talk to the parasite, cure.
 *
 * Only one thread runs parasite code; every other thread of the process stays
 * in the stop pstree.c put it in.
 *
 * Curing is unconditional once compel_prepare() has succeeded: every error
 * path of pctl_infect(), and pctl_cure() whatever happened in between, go
 * through cure(), which leaves the thread with its registers (general, FPU,
 * AVX-512), signal mask, seccomp state and ptrace stop as infect() found
 * them; selftests/parasite_test.c compares all of them, /proc/PID/maps,
 * status and fds.  What stays visible: the page of the first executable
 * mapping that compel patches for its remote syscalls is a private
 * (anonymous) copy afterwards, peaks (VmPeak, VmHWM) count the parasite, and
 * if every thread sleeps in a timed syscall, the one that runs the parasite
 * sees EINTR (see thread_fitness()).
 */
#define LOG_PREFIX "parasite-ctl: "
#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef __x86_64__
#error "ctl.c saves and restores x86-64 registers; port restore_thread() first"
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
#include "source/parasite/ctl.h"
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

struct pctl {
	struct parasite_ctl *ctl;	/* non-NULL while infected */
	struct ms_parasite_args *args;	/* compel's args area, shared with the blob */
	pid_t tid;			/* the thread running the parasite */
	struct user_regs_struct regs;	/* its registers before the infection */
	struct iovec xstate;		/* its FPU/SSE/AVX/AVX-512 state before */
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
	if (!dir) {
		pr_perror("cannot list the threads of %d", pid);
		return -ESRCH;
	}
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
static int settle_group_stop(struct pctl *pc)
{
	siginfo_t si;
	int ret;

	if (ptrace(PTRACE_GETSIGINFO, pc->tid, 0, &si) < 0)
		return -errno;
	if (si.si_signo == SIGTRAP)
		return 0;
	ret = repark(pc->tid);
	if (!ret && ptrace(PTRACE_GETREGS, pc->tid, 0, &pc->regs) < 0)
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
static int restore_thread(struct pctl *pc)
{
	if (pc->xstate.iov_len && ptrace(PTRACE_SETREGSET, pc->tid, NT_X86_XSTATE, &pc->xstate) < 0) {
		int ret = -errno;

		pr_perror("cannot restore the FPU state of %d", pc->tid);
		return ret;
	}
	if (ptrace(PTRACE_SETREGS, pc->tid, 0, &pc->regs) < 0) {
		int ret = -errno;

		pr_perror("cannot restore the registers of %d", pc->tid);
		return ret;
	}
	return 0;
}

/*
 * Remove the parasite and give @pc->tid back as infect() found it.  Safe to
 * call at any point after compel_prepare(); it never stops half-way by
 * choice.  Returns 0, or -errno when the target may not be intact (said
 * loudly, once).
 */
static int cure(struct pctl *pc)
{
	struct stat st;
	int ret = 0;

	if (thread_dying(pc->tid)) {
		if (compel_cure_local(pc->ctl))
			pr_err("cannot unmap compel's view of %d", pc->tid);
		pr_info("%d died while infected", pc->tid);
		ret = -ESRCH;
	} else if (compel_cure(pc->ctl)) {
		/* compel_cure() frees the ctl only when the remote part succeeded */
		if (compel_cure_local(pc->ctl))
			pr_err("cannot unmap compel's view of %d", pc->tid);
		if (thread_dying(pc->tid)) {
			pr_info("%d died while infected", pc->tid);
			ret = -ESRCH;
		} else {
			pr_err("could not cure %d: parasite code may be left in it", pc->tid);
			ret = -ENOTRECOVERABLE;
		}
	}
	pc->ctl = NULL;
	pc->args = NULL;
	pc->broken = false;
	/* compel closes it itself when accept() failed: only close our socket */
	if (pc->listen_sk >= 0 && !fstat(pc->listen_sk, &st) && st.st_ino == pc->listen_ino)
		close(pc->listen_sk);
	pc->listen_sk = -1;
	free(pc->regs_arg);
	pc->regs_arg = NULL;

	if (!ret)
		ret = restore_thread(pc);
	if (!ret)
		ret = repark(pc->tid);
	if (pc->seccomp_suspended && ptrace(PTRACE_SETOPTIONS, pc->tid, 0, 0) < 0 && !ret) {
		ret = -errno;
		pr_perror("cannot resume seccomp of %d", pc->tid);
	}
	pc->seccomp_suspended = false;
	return ret;
}

/* Hand both pipe ends to the parasite (see MS_PARASITE_SET_PIPE). */
static int send_pipe(struct pctl *pc, const int pipe_fds[2])
{
	if (compel_rpc_call(MS_PARASITE_SET_PIPE, pc->ctl) ||
	    compel_util_send_fd(pc->ctl, pipe_fds[1]) ||
	    compel_util_send_fd(pc->ctl, pipe_fds[0]) ||
	    compel_rpc_sync(MS_PARASITE_SET_PIPE, pc->ctl)) {
		pr_err("cannot hand the pipe to the parasite in %d", pc->tid);
		return thread_dying(pc->tid) ? -ESRCH : -EIO;
	}
	if (pc->args->ret) {
		pr_errno((int)pc->args->ret, "parasite in %d did not take the pipe", pc->tid);
		return (int)pc->args->ret;
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
static int infect(struct pctl *pc, pid_t pid, const int pipe_fds[2])
{
	struct infect_ctx *ictx;
	struct stat st;
	int seccomp, ret;
	char state;

	ret = pick_thread(pid, &pc->tid, &pc->regs);
	if (ret)
		return ret;
	ret = settle_group_stop(pc);
	if (ret) {
		pr_errno(ret, "cannot put %d back into its ptrace stop", pc->tid);
		return ret;
	}
	pc->xstate.iov_len = XSTATE_BUF_SIZE;
	if (ptrace(PTRACE_GETREGSET, pc->tid, NT_X86_XSTATE, &pc->xstate) < 0)
		pc->xstate.iov_len = 0;	/* no XSAVE: compel's FXSAVE handling is complete */
	ret = thread_status(pid, pc->tid, &state, &seccomp);
	if (ret) {
		pr_errno(ret, "cannot read the status of %d", pc->tid);
		return ret;
	}
	if (seccomp) {
		if (ptrace(PTRACE_SETOPTIONS, pc->tid, 0, PTRACE_O_SUSPEND_SECCOMP) < 0) {
			ret = -errno;
			pr_perror("cannot suspend seccomp (mode %d) of %d%s", seccomp, pc->tid,
				  ret == -EPERM ? " (needs CAP_SYS_ADMIN, and no seccomp on memsplice)" : "");
			return ret;
		}
		pc->seccomp_suspended = true;
	}

	/* only reads registers and mask, and setns()es to make a socket */
	errno = 0;
	pc->ctl = compel_prepare(pc->tid);
	if (!pc->ctl) {
		ret = errno ? -errno : -EIO;
		pr_errno(ret, "compel cannot prepare %d", pc->tid);
		if (pc->seccomp_suspended)
			ptrace(PTRACE_SETOPTIONS, pc->tid, 0, 0);
		pc->seccomp_suspended = false;
		return ret;
	}
	ictx = compel_infect_ctx(pc->ctl);
	pc->listen_sk = ictx->sock;
	pc->listen_ino = fstat(ictx->sock, &st) ? 0 : st.st_ino;
	pc->regs_arg = ictx->regs_arg;
	ictx->log_fd = pc->log_fd;
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
	parasite_setup_c_header(pc->ctl);

	if (compel_infect(pc->ctl, 1, PARASITE_ARGS_SIZE)) {
		pr_err("cannot infect %d", pc->tid);
		ret = thread_dying(pc->tid) ? -ESRCH : -EIO;
		goto err_cure;
	}
	pc->args = compel_parasite_args_s(pc->ctl, sizeof(*pc->args));
	ret = pipe_fds ? send_pipe(pc, pipe_fds) : 0;
	if (ret)
		goto err_cure;
	return 0;

err_cure:
	cure(pc);
	return ret;
}

int pctl_infect(struct pctl *pc, pid_t pid, const int pipe_fds[2])
{
	sigset_t old;
	int ret;

	if (pc->ctl) {
		pr_err("cannot infect %d: %d is still infected", pid, pc->tid);
		return -EBUSY;
	}
	signals_hold(&old);
	ret = infect(pc, pid, pipe_fds);
	signals_release(&old);
	return ret;
}

int pctl_cure(struct pctl *pc)
{
	sigset_t old;
	int ret;

	if (!pc->ctl)
		return 0;
	signals_hold(&old);
	ret = cure(pc);
	signals_release(&old);
	return ret;
}

bool pctl_infected(const struct pctl *pc)
{
	return pc->ctl != NULL;
}

int pctl_usable(const struct pctl *pc)
{
	if (!pc->ctl)
		return -ESRCH;
	return pc->broken ? -EIO : 0;
}

/* one command whose result is in args->ret; -ESRCH/-EIO when the parasite is lost */
static long rpc(struct pctl *pc, int cmd)
{
	sigset_t old;
	long ret;

	ret = pctl_usable(pc);
	if (ret)
		return ret;
	signals_hold(&old);
	if (compel_rpc_call_sync(cmd, pc->ctl)) {
		pc->broken = true;
		ret = thread_dying(pc->tid) ? -ESRCH : -EIO;
		pr_err("parasite in %d does not answer", pc->tid);
	} else {
		ret = pc->args->ret;
	}
	signals_release(&old);
	return ret;
}

ssize_t pctl_splice(struct pctl *pc, unsigned long addr, size_t len, int prot)
{
	struct ms_parasite_args *a = pc->args;
	ssize_t ret;

	ret = pctl_usable(pc);
	if (ret)
		return ret;
	a->addr = addr;
	a->len = len;
	a->prot = prot;
	ret = rpc(pc, MS_PARASITE_SPLICE);
	if (ret == -ENOTRECOVERABLE) {
		pr_errno(a->prot_err, "%d: cannot restore protection %#x of %#lx-%#lx",
			 pc->tid, prot, addr, addr + (unsigned long)a->len);
		pc->broken = true;
	}
	return ret ? ret : -EFAULT;
}

_Static_assert(PCTL_MAX_IOV == MS_PARASITE_MAX_IOV, "ctl.h and parasite-abi.h disagree");

ssize_t pctl_splice_vec(struct pctl *pc, const struct iovec *iov, unsigned int nr)
{
	struct ms_parasite_args *a = pc->args;
	ssize_t ret;

	ret = pctl_usable(pc);
	if (ret)
		return ret;
	if (nr > MS_PARASITE_MAX_IOV)
		return -EINVAL;
	for (unsigned int i = 0; i < nr; i++) {
		a->iov[i].base = (unsigned long)iov[i].iov_base;
		a->iov[i].len = iov[i].iov_len;
	}
	a->nr_iov = nr;
	ret = rpc(pc, MS_PARASITE_SPLICE_VEC);
	return ret ? ret : -EFAULT;
}

int pctl_userfaultfd(struct pctl *pc, int flags)
{
	if (pctl_usable(pc))
		return pctl_usable(pc);
	pc->args->flags = flags;
	return rpc(pc, MS_PARASITE_USERFAULTFD);
}

int pctl_close(struct pctl *pc, int fd)
{
	if (pctl_usable(pc))
		return pctl_usable(pc);
	pc->args->fd = fd;
	return rpc(pc, MS_PARASITE_CLOSE);
}

int pctl_create(struct pctl **out)
{
	struct pctl *pc;
	int ret;

	pc = calloc(1, sizeof(*pc));
	if (!pc)
		return -ENOMEM;
	pc->listen_sk = -1;
	pc->xstate.iov_base = malloc(XSTATE_BUF_SIZE);
	if (!pc->xstate.iov_base) {
		ret = -ENOMEM;
		goto err_free;
	}
	/* the parasite's error messages go where ours go */
	pc->log_fd = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
	if (pc->log_fd < 0)
		pc->log_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (pc->log_fd < 0) {
		ret = -errno;
		goto err_xstate;
	}
	/*
	 * Errors only: compel's warnings are about what it does and we undo
	 * (its own syscall-restart emulation).  The parasite logs at this
	 * level too.
	 */
	compel_log_init(compel_log, COMPEL_LOG_ERROR);
	*out = pc;
	return 0;

err_xstate:
	free(pc->xstate.iov_base);
err_free:
	free(pc);
	return ret;
}

void pctl_destroy(struct pctl *pc)
{
	pctl_cure(pc);
	close(pc->log_fd);
	free(pc->xstate.iov_base);
	free(pc);
}
