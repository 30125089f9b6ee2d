/* SPDX-License-Identifier: GPL-2.0 */
/* Shared helpers of the end-to-end tests: victims, running memsplice, reading images. */
#ifndef MEMSPLICE_VTEST_H
#define MEMSPLICE_VTEST_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "imgview.h"

#define MAX_VPIDS	32
#define MAX_VREGIONS	128

struct vregion {
	pid_t pid;
	char name[16];
	unsigned long addr, pages;
	uint64_t seed;
};

struct victim {
	pid_t pid;			/* the process we forked (the root of its tree) */
	FILE *report;			/* its fd 3 */
	pid_t pids[MAX_VPIDS];		/* every process that said "ready" */
	int nr_pids;
	struct vregion r[MAX_VREGIONS];
	int nr;
	char last[256];			/* last line read */
	unsigned int timeout;		/* seconds to wait for an answer; 0 = forever */
};

/*
 * How to start a victim that CRIU can dump and restore by itself:
 * @fifo:   report through this FIFO (created, opened O_RDWR on both sides)
 *          instead of a pipe: a restored victim reopens it by path.  Since
 *          the test holds a writer, a dead victim gives no EOF: answers are
 *          then awaited for at most 60 s (victim.timeout).
 * @detach: own session (setsid), stdio on /dev/null, no other inherited fd:
 *          a tree CRIU dumps without --shell-job.
 * @pidns:  run as pid 1 of a new pid namespace (a container's init).  The
 *          victim then reports the pids /proc names (the caller's view), so
 *          pids[] stay signalable.  The root is our child only if the caller
 *          is a child subreaper (PR_SET_CHILD_SUBREAPER).
 * @cwd:    the victim's working directory (default: ours).  CRIU's parasite
 *          mounts a proc of the task's own pid namespace below the task's
 *          cwd when /proc is not that namespace's: give such a victim a
 *          writable one.
 */
struct victim_opts {
	const char *fifo;
	bool detach;
	bool pidns;
	const char *cwd;
};

/*
 * victim_start - run selftests/lib/victim with @args (NULL-terminated) and
 * wait until @nr_ready processes and @nr_threads threads said ready.
 */
int victim_start(struct victim *v, const char *const *args, int nr_ready, int nr_threads);
int victim_start_opts(struct victim *v, const char *const *args, int nr_ready, int nr_threads,
		      const struct victim_opts *o);
/*
 * victim_wait_ready - read v->report (a victim started some other way: a
 * container's stdout) until @nr_ready processes and @nr_threads threads
 * said ready; their regions are then in v->r.  0, or -1 (v left as is).
 */
int victim_wait_ready(struct victim *v, int nr_ready, int nr_threads);
/*
 * victim_ask_as - send @sig to @to and wait for the answer holding @word
 * from the victim that reports itself as @pid (a victim in a pid namespace
 * reports the pid it has there): 0 if the answer holds @ok.
 */
int victim_ask_as(struct victim *v, pid_t to, pid_t pid, int sig, const char *word,
		  const char *ok);
/*
 * victim_reap - after something killed the whole tree (criu dump), wait
 * until none of its processes exists any more, so that their pids are free
 * for a restore.  Needs the caller to be the tree's child subreaper (or the
 * tree to be a single process, our child).  0, or -1 if one is still alive.
 */
int victim_reap(struct victim *v);
/*
 * victim_adopt - a restored tree rooted at @root (pid as /proc names it):
 * pids[] becomes @root and all its descendants, v->pid @root.  Returns
 * the number of processes found, -1 on error.
 */
int victim_adopt(struct victim *v, pid_t root);
/*
 * fork_pidns - fork() into a new pid namespace: 0 in the child, which is
 * its init (an intermediate process unshares CLONE_NEWPID, forks it and
 * exits, so it is reparented to the nearest subreaper); its pid in the
 * parent, -1 on failure
 */
pid_t fork_pidns(void);
/* gone_pid - a pid nobody has: a child of ours that exited and was reaped; -1 if fork fails */
pid_t gone_pid(void);
/* ns_pid - @pid's pid in its own (innermost) pid namespace, from NSpid; -1 if gone */
pid_t ns_pid(pid_t pid);
/* victim_verify - ask @pid to check its own memory; 0 if it says ok */
int victim_verify(struct victim *v, pid_t pid);
int victim_verify_all(struct victim *v);
/* victim_verify_forked - ask @pid to fork a child that checks the memory; 0 if ok */
int victim_verify_forked(struct victim *v, pid_t pid);
/* victim_dirty - ask @pid to dirty every 4th "anon" page and map a new region */
int victim_dirty(struct victim *v, pid_t pid);
/* victim_reshape - SIGURG: "anon" partly moved, unmapped, DONTNEED'd (victim.c) */
int victim_reshape(struct victim *v, pid_t pid);
void victim_kill(struct victim *v);
/*
 * victim_stop_all / victim_cont_all - group-stop every victim process
 * (SIGSTOP, waited for) and continue it.  A stopped victim runs no user code,
 * so its memory can be compared byte for byte with a dump taken meanwhile.
 */
int victim_stop_all(struct victim *v);
int victim_cont_all(struct victim *v);
struct vregion *victim_region(struct victim *v, pid_t pid, const char *name);
/*
 * map_inode - the inode of @pid's mapping at @addr in /proc/PID/maps: a
 * shared segment's id (pagemap-shmem-ID.img); 0 if none
 */
unsigned long map_inode(pid_t pid, unsigned long addr);
/* proc_state - the State letter of /proc/PID/status ('T' stopped, 't' traced), 0 if gone */
char proc_state(pid_t pid);
/*
 * proc_state_settled - proc_state() once it is @want, or after @ms of
 * asking.  A group-stopped task that a tracer detaches from is woken to
 * stop again (the kernel's __ptrace_unlink()): for that moment it shows
 * 'R' without running any of its own code.
 */
char proc_state_settled(pid_t pid, char want, int ms);
int proc_tracer(pid_t pid);
/*
 * proc_children - up to @max children of @pid's main thread (zombies too),
 * from /proc/PID/task/PID/children, into @out; how many, -1 if unreadable
 */
int proc_children(pid_t pid, pid_t *out, int max);
/*
 * proc_pipe_bytes - bytes in the pipes @pid holds (each pipe once, by
 * FIONREAD on a pidfd_getfd() copy): what it pins of someone's memory
 * there.  -1 if @pid is gone or not ours to look at.
 */
long proc_pipe_bytes(pid_t pid);

/*
 * run_memsplice - run the tool with @args (NULL-terminated), as @uid when
 * >= 0; stderr is captured into @err.  Returns the exit status, or
 * 128 + signal number when it was killed.
 */
int run_memsplice(const char *const *args, char *err, size_t errlen, int uid);
/*
 * run_memsplice_hooked - the same with the test build (selftests/memsplice-
 * test, the only one that honours MEMSPLICE_TEST_* hooks) and @hook=@value
 */
int run_memsplice_hooked(const char *const *args, char *err, size_t errlen, const char *hook,
			 const char *value);
const char *memsplice_bin(void);
/*
 * run_cmd - run @argv (NULL-terminated; argv[0] looked up in PATH) with
 * stdin on /dev/null; stdout and stderr both go into @out (its first
 * @outlen - 1 bytes are kept).  Returns like run_memsplice().
 */
int run_cmd(const char *const *argv, char *out, size_t outlen);
/* file_tail - the last @lines lines of @path into @buf ("" if unreadable) */
char *file_tail(const char *path, int lines, char *buf, size_t len);
/* method_available - whether `memsplice check --method M` says yes */
bool method_available(const char *method);
/*
 * method_skip - NULL if the tests of @method run here, else why not: not
 * among the space-separated methods of $MEMSPLICE_TEST_METHODS (when set),
 * or not available.  The string is static.
 */
const char *method_skip(const char *method);
/*
 * method_full_pass - whether @method runs the cases marked FULL_PASS_ONLY:
 * those whose path is the same whichever method moves the pages (the
 * freezing, the chain, criu's part).  $MEMSPLICE_TEST_FULL names the one
 * method that runs them, or "none" (a run that covers only what differs by
 * method, beside a full pass made elsewhere); unset, every method does.
 */
bool method_full_pass(const char *method);
/* FULL_PASS_ONLY - first thing in such a case: SKIP unless method_full_pass() */
#define FULL_PASS_ONLY(method)								\
	do {										\
		if (!method_full_pass(method))						\
			SKIP(return, "same path for every method: run by %s",		\
			     getenv("MEMSPLICE_TEST_FULL"));				\
	} while (0)
/*
 * case_selected - whether the case @name runs: $MEMSPLICE_TEST_CASES,
 * when set, holds space-separated words, and a case runs if its name
 * contains one (a guest runs the cases of a suite that its kernel adds).
 * A case asks first thing: SELECTED_CASES_ONLY() (not the fixture's setup:
 * the harness of linux-source-6.1 runs a case whose setup skipped).
 */
bool case_selected(const char *name);
#define SELECTED_CASES_ONLY()								\
	do {										\
		if (!case_selected(_metadata->name))					\
			SKIP(return, "not among MEMSPLICE_TEST_CASES (%s)",		\
			     getenv("MEMSPLICE_TEST_CASES"));				\
	} while (0)
/*
 * NEED_SETUP - first thing in a case of a fixture whose setup may skip
 * (its `dir` NULL then, its `why` the reason): the 6.1 harness runs the
 * body even after SKIP() in the setup.
 */
#define NEED_SETUP()									\
	do {										\
		if (!self->dir)								\
			SKIP(return, "%s", self->why);					\
	} while (0)
/* check_says_yes - whether `memsplice check` has a line "@what ... yes" */
bool check_says_yes(const char *what);

/* crit_show_all - run crit show on every image of @dir; number that failed */
int crit_show_all(const char *dir, char *failed, size_t len);
/* stats_json_get - a number from --stats-json output */
long long stats_json_get(const char *path, const char *key);
/* now_s - CLOCK_MONOTONIC in seconds */
double now_s(void);
/*
 * spawn_to - run @argv (PATH searched) in the background, stdin on
 * /dev/null, stdout and stderr into file @out; the child's pid, -1 if
 * fork failed (127 is its exit status when it cannot start)
 */
pid_t spawn_to(const char *const *argv, const char *out);
/*
 * file_says - until @path holds @what (or exists, @what NULL), at most
 * @seconds: what a process writes once it is ready (its output)
 */
bool file_says(const char *path, const char *what, double seconds);
/*
 * spawn_with - the same, @out opened with @oflags (O_TRUNC, O_APPEND) and,
 * when @fd >= 0, @fd handed to the child as its fd @as
 */
pid_t spawn_with(const char *const *argv, const char *out, int oflags, int fd, int as);
/* read_text - the start of file @path as a string in @buf (@len with the NUL); 0 or -1 */
int read_text(const char *path, char *buf, size_t len);
/* make_dir - a fresh empty directory under TMPDIR */
char *make_dir(const char *tag);
void remove_dir(const char *dir);

#endif
