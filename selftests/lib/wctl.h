/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The writer victim (writer.c) and `memsplice checkpoint` runs driven
 * through the test build's hooks: shared by track_test and bench/rounds.
 */
#ifndef MEMSPLICE_WCTL_H
#define MEMSPLICE_WCTL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct writer {
	pid_t pid;
	unsigned long seq_addr;		/* its write counter */
	unsigned long gap_addr;		/* its longest stall, ns (writer --rate) */
	unsigned long shared_addr, shared_pages;	/* its shared region */
};

/* writer_start - ./selftests/lib/writer @args, as @uid if >= 0; 0 once ready */
int writer_start(struct writer *w, const char *const *args, int uid);
/*
 * writer_start_ns - the same, @detached: the init of a pid namespace and a
 * session of its own, stdio on /dev/null, no fd kept to us (--detach), its
 * cwd /tmp (writable, for criu's parasite): a tree criu can dump and
 * restore while the source tree still exists
 */
int writer_start_ns(struct writer *w, const char *const *args, int uid, bool detached);
void writer_stop(struct writer *w);
/* writer_word - the word at @addr of the writer (e.g. seq_addr), 0 if unreadable */
uint64_t writer_word(const struct writer *w, unsigned long addr);
/* writer_set_word - store @v at @addr of the writer: 0 or -1 */
int writer_set_word(const struct writer *w, unsigned long addr, uint64_t v);
/* writer_runs - whether its counter moves (a bounded wait) */
bool writer_runs(const struct writer *w);

/*
 * One `memsplice checkpoint -t PID -D DIR ARGS...` run of the test build
 * (selftests/memsplice-test): each time it says a word on the hook named
 * @hook_env (MEMSPLICE_TEST_FROZEN_FD or _THAWED_FD, see user/dump.h),
 * @on_hook(@r, n) runs (n counts from 1), then memsplice goes on.
 */
struct ckpt_run {
	const char *hook_env;
	int (*on_hook)(struct ckpt_run *r, int nth);
	void *arg;
	pid_t pid;			/* the tree */
	pid_t ms;			/* memsplice while it runs */
	char out[8192], err[4096];
	int status;			/* its wait status */
	char why[256];			/* on_hook's reason to fail */
};

/* ckpt_run - 0, or the first non-zero of @r->on_hook (-1: could not run) */
int ckpt_run(struct ckpt_run *r, const char *dir, const char *const *args);

/* a row of checkpoint's table: pass "1".."N" or "final" */
struct ckpt_row {
	char pass[8];
	unsigned long long written, parent;
	double frozen_ms, took_ms;
};

/* ckpt_rows - the rows of @out, at most @max; how many */
int ckpt_rows(const char *out, struct ckpt_row *rows, int max);

#endif
