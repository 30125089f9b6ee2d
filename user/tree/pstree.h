/* SPDX-License-Identifier: GPL-2.0 */
/* Freezing a process tree with ptrace, and letting it go. */
#ifndef MEMSPLICE_PSTREE_H
#define MEMSPLICE_PSTREE_H

#include <stdbool.h>
#include <sys/types.h>
#include <time.h>

#include "tree/target.h"

/*
 * Every id twice: as this process sees it (to freeze and read the task) and
 * as the task sees it in its own pid namespace (the ids images carry: a
 * container's init is pid 1 in pagemap-1.img and pstree.img, as in CRIU's).
 */
struct task {
	pid_t pid;			/* ours: /proc/PID */
	pid_t vpid, ppid, pgid, sid;	/* the task's own namespace's (NSpid etc.) */
	pid_t *threads, *vthreads;	/* ours, and in the task's namespace */
	unsigned int nr_threads;
	/*
	 * A live thread whose /proc entries and process_vm_readv show the
	 * process's memory: the leader's own are empty once it has exited
	 * (pthread_exit) while other threads run on.
	 */
	pid_t mm_pid;
	bool zombie;			/* exited, not reaped: no threads, no memory */
	struct target target;		/* handles opened while frozen (not for a zombie) */
	unsigned long long start_time;	/* clock ticks after boot (stat field 22) */
};

struct pstree {
	struct task *tasks;	/* root first, then breadth-first */
	unsigned int nr;
	/*
	 * every seized thread, to detach them all whatever happens; 0 for one
	 * reaped while freezing (an exec killed it), and a tid may name
	 * another thread by now (the exec'ing one takes the leader's)
	 */
	pid_t *seized;
	unsigned int nr_seized, cap_seized;
	/* while seizing: SIGCHLD as a signalfd, and how long a thread may take to stop */
	int sigchld_fd;
	unsigned int stop_timeout_ms;
	/*
	 * While seizing: a timer whose SIGALRM, let in only while PTRACE_SEIZE
	 * waits, reaps the seized threads that died (pstree.c, "exec").
	 */
	timer_t reap_timer;
};

struct seize_opts {
	bool proc_children;		/* CONFIG_PROC_CHILDREN: children files exist */
	unsigned int stop_timeout_ms;	/* per thread; PSTREE_STOP_TIMEOUT_MS by default */
};

#define PSTREE_STOP_TIMEOUT_MS	10000

/*
 * pstree_check_target - refuse targets that cannot be dumped (no such
 * process, kernel thread, memsplice itself).  0 or -errno; prints the reason.
 */
int pstree_check_target(pid_t root);
/*
 * pstree_seize - PTRACE_SEIZE + PTRACE_INTERRUPT every thread of every process
 * of the tree rooted at @root until no new thread or child appears.  Zombie
 * threads are skipped, a zombie process is kept (without memory), a thread
 * that exits meanwhile is dropped; a thread that does not stop within
 * @o->stop_timeout_ms fails the freeze (-ETIMEDOUT) with one line.  Children
 * are listed by /proc/PID/task/TID/children with @o->proc_children, else (a
 * kernel without CONFIG_PROC_CHILDREN) by the parent pid of every process in
 * /proc.  On error everything seized so far is released again.
 */
int pstree_seize(pid_t root, const struct seize_opts *o, struct pstree *tree);
/* pstree_release - detach every thread; a task group-stopped before stays stopped */
void pstree_release(struct pstree *tree);
/* pstree_kill - SIGKILL every process of the tree (criu dump's default end) */
void pstree_kill(struct pstree *tree);
/*
 * pstree_copy_live - *@to: the processes of @from that still live (no
 * zombie), with handles of their own, nothing seized: for a pass that does
 * not freeze (track/uffd.h).  0 or -errno.
 */
int pstree_copy_live(const struct pstree *from, struct pstree *to);
void pstree_free(struct pstree *tree);

#endif
