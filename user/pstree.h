/* SPDX-License-Identifier: GPL-2.0 */
/* Freezing a process tree with ptrace, and letting it go. */
#ifndef MEMSPLICE_PSTREE_H
#define MEMSPLICE_PSTREE_H

#include <stdbool.h>
#include <sys/types.h>

struct task {
	pid_t pid, ppid, pgid, sid;
	pid_t *threads;
	unsigned int nr_threads;
	unsigned long long start_time;	/* clock ticks after boot (stat field 22) */
};

struct pstree {
	struct task *tasks;	/* root first, then breadth-first */
	unsigned int nr;
	/* every seized thread, to detach them all whatever happens */
	pid_t *seized;
	unsigned int nr_seized, cap_seized;
};

/*
 * pstree_check_target - refuse targets that cannot be dumped (no such
 * process, kernel thread, memsplice itself).  0 or -errno; prints the reason.
 */
int pstree_check_target(pid_t root);
/*
 * pstree_seize - PTRACE_SEIZE + PTRACE_INTERRUPT every thread of every process
 * of the tree rooted at @root until no new thread or child appears.  On error
 * everything seized so far is released again.
 */
int pstree_seize(pid_t root, struct pstree *tree);
/* pstree_release - detach every thread; a task group-stopped before stays stopped */
void pstree_release(struct pstree *tree);
/* pstree_kill - SIGKILL every process of the tree (criu dump's default end) */
void pstree_kill(struct pstree *tree);
void pstree_free(struct pstree *tree);

#endif
