/* SPDX-License-Identifier: GPL-2.0 */
/* Small helpers shared by the tool's files. */
#ifndef MEMSPLICE_UTIL_H
#define MEMSPLICE_UTIL_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define PAGE_SIZE	4096UL
#define PAGE_SHIFT	12
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#define MIN(a, b)	((a) < (b) ? (a) : (b))
#define MAX(a, b)	((a) > (b) ? (a) : (b))

/* monotonic time in microseconds */
uint64_t now_us(void);
/* read a whole small file (proc) into a NUL-terminated malloc'ed buffer */
int read_file(const char *path, char **out, size_t *len);
/* write all of @len bytes; returns 0 or -errno */
int write_all(int fd, const void *buf, size_t len);
/*
 * test_hook - a test build's hook (MEMSPLICE_TEST_*_FD): say @word on @fd
 * and wait for one byte; nothing when @fd < 0.  -EINTR when interrupted.
 */
int test_hook(int fd, const char *word, volatile sig_atomic_t *interrupted);
/* pread all of @len bytes at @off; returns bytes read (short at EOF/EFAULT) or -errno */
ssize_t pread_all(int fd, void *buf, size_t len, off_t off);
/* open a file below /proc/PID; returns fd or -errno */
int open_proc(pid_t pid, const char *name, int flags);

/*
 * file_extent - the first extent of data of @fd at or after @pos, before
 * @end (SEEK_DATA, then SEEK_HOLE): true with it in [*@data, *@hole), false
 * when there is none (or lseek fails: the rest reads as a hole).
 */
bool file_extent(int fd, off_t pos, off_t end, off_t *data, off_t *hole);

/*
 * fd_send - @fd over the unix socket @sk (SCM_RIGHTS) with one byte @tag;
 * fd_recv - the next such message: its tag into *@tag, its fd (or -1 if it
 * carried none) into *@fd.  0, or -errno (-EPIPE: the peer has gone).
 */
int fd_send(int sk, char tag, int fd);
int fd_recv(int sk, char *tag, int *fd);

/*
 * child_wait - reap child @pid: its exit status (0..255), 128 + N if
 * signal N killed it, or -errno.  A signal that sets *@interrupted (may
 * be NULL) meanwhile is passed on to the child, once.
 */
int child_wait(pid_t pid, volatile sig_atomic_t *interrupted);

#endif
