// SPDX-License-Identifier: GPL-2.0
/*
 * Another process's memory to a file or a socket, every way side by side
 * (issue 21 §2: what splice_process_vm has to beat, and what it does).  One
 * source process holds SIZE of anonymous memory, page i filled with the low
 * byte of i | 1; the copier (this process) moves all of it, 4 MiB at a time:
 *
 *   readv-write     process_vm_readv into a buffer, write(2) to the file
 *                   (memsplice's read method): two copies
 *   readv-mmap      process_vm_readv straight into the file mmap'd shared:
 *                   one copy (the file fallocate'd and the mapping
 *                   populated first, inside the time measured)
 *   procmem-write   pread of /proc/PID/mem into a buffer, write(2): two
 *   spvm-write      splice_process_vm (copy, the default) into a pipe,
 *                   splice(2) to the file: two copies
 *   spvm-pin-write  the same with SPVM_PIN: the pipe holds the source's
 *                   pages, pinned; one copy
 *   procmem-splice-write
 *                   splice(2) from /proc/PID/mem into a pipe, then to the
 *                   file: two copies (needs /proc/PID/mem's ->splice_read)
 *   vmsplice-write  the parasite's way without the injection: the source
 *                   vmsplice(2)s its own memory (SPLICE_F_GIFT) into a pipe
 *                   the copier splices to the file: one copy
 *   readv-send      process_vm_readv into a buffer, send(2) on TCP
 *   readv-zerocopy  the same with MSG_ZEROCOPY (a ring of buffers, each
 *                   reused once its completion is read): says whether the
 *                   kernel copied anyway (loopback always does)
 *   procmem-send    pread of /proc/PID/mem, send(2)
 *   spvm-send, spvm-pin-send
 *                   splice_process_vm into a pipe, splice(2) to the socket
 *   procmem-sendfile
 *                   sendfile(2) from /proc/PID/mem to the socket
 *   vmsplice-send   the source vmsplices, the copier splices to the socket
 *
 *   bench/alternatives [-s MIB] [-n RUNS] [-d DIR] [-l] [WAY...]
 *
 * -l maps the source's memory at LOW (256 MiB) instead of where mmap puts
 * it (near 128 TiB): sendfile(2) refuses offsets beyond the s_maxbytes of
 * the input file's superblock, and /proc's is 2 GiB (MAX_NON_LFS), so
 * procmem-sendfile reaches only memory below 2 GiB (EOVERFLOW above).
 *
 * The pipes are STEP bytes (F_SETPIPE_SZ), or the largest allowed.  A way
 * the running kernel cannot do (no splice_process_vm, no splice from
 * /proc/PID/mem) is probed with one page first and shown "n/a" with why.
 * The socket ways send to a process on 127.0.0.1 that reads, counts and
 * checks the first 8 bytes of every page; after a file run the first 8
 * bytes of every page of the file are checked: a way that moves wrong bytes
 * is shown FAILED, and the exit status is 1.
 *
 * Prints per way the median over RUNS of MiB/s, the copier's CPU (user +
 * system) in ms per GiB and, for sockets, the receiver's.  The copier's CPU
 * includes the source's during the run: the vmsplice ways make the source
 * do half the work (it idles in the others).  Files go to DIR (default
 * /dev/shm: the page cache, no disk), unlinked after each run.  The header
 * says whether the CPU advertises ERMS and FSRM (under QEMU TCG, `rep
 * movsb` costs a step per byte: selftests/vm/run-guest.sh turns them off).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/errqueue.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common.h"
#include "spvm_sysnr.h"

#define STEP	(4u << 20)	/* bytes per call, and per pipe */
#define RING	8		/* MSG_ZEROCOPY buffers in flight */
#define MAX_RUNS 64
#define CHECKED	8		/* bytes checked at the start of every page */
#define LOW	(256ul << 20)	/* -l: the source's memory there */
#define LOW_MAX	(2048ul - 256 - 4)	/* MiB: -l keeps it below 2 GiB */

enum sink { TO_FILE, TO_SOCKET };

enum from {
	FROM_READV,		/* process_vm_readv into a buffer */
	FROM_PROCMEM,		/* pread of /proc/PID/mem into a buffer */
	FROM_SPVM,		/* splice_process_vm into a pipe */
	FROM_PROCMEM_SPLICE,	/* splice from /proc/PID/mem into a pipe */
	FROM_VMSPLICE,		/* the source vmsplices itself into a pipe */
	FROM_SENDFILE,		/* sendfile from /proc/PID/mem */
};

struct way {
	const char *name;
	enum sink sink;
	enum from from;
	__u64 spvm_flags;	/* FROM_SPVM */
	bool mmap;		/* into the mmap'd file */
	bool zerocopy;		/* MSG_ZEROCOPY */
};

static const struct way ways[] = {
	{ "readv-write", TO_FILE, .from = FROM_READV },
	{ "readv-mmap", TO_FILE, .from = FROM_READV, .mmap = true },
	{ "procmem-write", TO_FILE, .from = FROM_PROCMEM },
	{ "spvm-write", TO_FILE, .from = FROM_SPVM },
	{ "spvm-pin-write", TO_FILE, .from = FROM_SPVM, .spvm_flags = SPVM_PIN },
	{ "procmem-splice-write", TO_FILE, .from = FROM_PROCMEM_SPLICE },
	{ "vmsplice-write", TO_FILE, .from = FROM_VMSPLICE },
	{ "readv-send", TO_SOCKET, .from = FROM_READV },
	{ "readv-zerocopy", TO_SOCKET, .from = FROM_READV, .zerocopy = true },
	{ "procmem-send", TO_SOCKET, .from = FROM_PROCMEM },
	{ "spvm-send", TO_SOCKET, .from = FROM_SPVM },
	{ "spvm-pin-send", TO_SOCKET, .from = FROM_SPVM, .spvm_flags = SPVM_PIN },
	{ "procmem-sendfile", TO_SOCKET, .from = FROM_SENDFILE },
	{ "vmsplice-send", TO_SOCKET, .from = FROM_VMSPLICE },
};
#define NR_WAYS	(sizeof(ways) / sizeof(ways[0]))

struct source {
	pid_t pid;
	unsigned long addr;
	size_t size;
	int memfd;		/* /proc/PID/mem */
	int pidfd;
	int cmd;		/* its stdin: a byte has it vmsplice all of its
				 * memory into @gift; closing it ends it */
	int gift;		/* the read end of the pipe it vmsplices into */
	clockid_t clock;	/* its CPU time */
};

/* what the copier keeps from run to run */
struct copier {
	char *ring;		/* RING * STEP bytes */
	int pipe[2];		/* the pipe ways' pipe */
	size_t pipe_size;	/* its size, and the source's */
	long spvm_nr;		/* splice_process_vm's number, or -errno */
	char spvm_why[160];	/* why there is none */
};

/* the byte the source wrote at @off of its memory, and the sink holds at @off */
static unsigned char pattern(size_t off)
{
	return (off >> 12) | 1;
}

static double cpu_ms(int who)
{
	struct rusage ru;

	getrusage(who, &ru);
	return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
	       (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
}

static double clock_ms(clockid_t clock)
{
	struct timespec ts;

	if (clock_gettime(clock, &ts))
		return 0;
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* @fd's pipe made @want bytes, or as large as allowed; its size */
static size_t pipe_grow(int fd, size_t want)
{
	char buf[32] = "";
	int max, sys;

	if (fcntl(fd, F_SETPIPE_SZ, (int)want) < 0 && errno == EPERM) {
		sys = open("/proc/sys/fs/pipe-max-size", O_RDONLY);
		if (sys >= 0 && read(sys, buf, sizeof(buf) - 1) > 0 && (max = atoi(buf)) > 0)
			fcntl(fd, F_SETPIPE_SZ, max);
		if (sys >= 0)
			close(sys);
	}
	max = fcntl(fd, F_GETPIPE_SZ);
	return max > 0 ? max : 4096;
}

/* the source: on every byte read from @cmd, all of @p into @gift */
static void source_serve(char *p, size_t size, int cmd, int gift)
{
	char c;

	while (read(cmd, &c, 1) > 0)
		for (size_t off = 0; off < size;) {
			struct iovec iov = { p + off, size - off };
			ssize_t n = vmsplice(gift, &iov, 1, SPLICE_F_GIFT);

			if (n <= 0) {
				perror("alternatives: source: vmsplice");
				_exit(1);	/* the copier then reads EOF */
			}
			off += n;
		}
	_exit(0);
}

/* a process holding @size of written anonymous memory; its address */
static int source_start(struct source *s, size_t size, size_t pipe_size, bool low)
{
	int ready[2], cmd[2], gift[2];
	char path[64];

	if (pipe(ready) || pipe(cmd) || pipe(gift))
		return -errno;
	pipe_grow(gift[0], pipe_size);
	s->size = size;
	s->pid = fork();
	if (s->pid == 0) {
		char *p = mmap(low ? (void *)LOW : NULL, size, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | (low ? MAP_FIXED_NOREPLACE : 0),
			       -1, 0);

		if (p == MAP_FAILED)
			_exit(1);
		madvise(p, size, MADV_NOHUGEPAGE);
		for (size_t off = 0; off < size; off += 4096)
			memset(p + off, pattern(off), 4096);
		if (write(ready[1], &p, sizeof(p)) != sizeof(p))
			_exit(1);
		close(cmd[1]);
		close(gift[0]);
		source_serve(p, size, cmd[0], gift[1]);
	}
	close(ready[1]);
	close(cmd[0]);
	close(gift[1]);
	s->cmd = cmd[1];
	s->gift = gift[0];
	if (s->pid < 0 || read(ready[0], &s->addr, sizeof(s->addr)) != sizeof(s->addr))
		return -EIO;
	close(ready[0]);
	if (clock_getcpuclockid(s->pid, &s->clock))
		return -EIO;
	s->pidfd = syscall(SYS_pidfd_open, s->pid, 0);
	if (s->pidfd < 0)
		return -errno;
	snprintf(path, sizeof(path), "/proc/%d/mem", s->pid);
	s->memfd = open(path, O_RDONLY);
	return s->memfd < 0 ? -errno : 0;
}

static void source_stop(struct source *s)
{
	close(s->cmd);
	close(s->gift);
	close(s->memfd);
	close(s->pidfd);
	waitpid(s->pid, NULL, 0);
}

/* @len bytes of the source at @off into @buf, the way asks */
static int fetch(const struct way *w, const struct source *s, size_t off, char *buf, size_t len)
{
	struct iovec local = { buf, len }, remote = { (void *)(s->addr + off), len };
	ssize_t n = w->from == FROM_PROCMEM ? pread(s->memfd, buf, len, s->addr + off)
					    : process_vm_readv(s->pid, &local, 1, &remote, 1, 0);

	return n == (ssize_t)len ? 0 : n < 0 ? -errno : -EIO;
}

static int write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);

		if (n <= 0)
			return n ? -errno : -EIO;
		buf += n;
		len -= n;
	}
	return 0;
}

static int to_file(const struct way *w, const struct source *s, int fd, char *buf)
{
	char *map = NULL;
	int ret = 0;

	if (w->mmap) {
		/* the file's pages allocated and mapped first, as write(2) allocates
		 * them: the copy then never faults page by page */
		if (fallocate(fd, 0, 0, s->size))
			return -errno;
		map = mmap(NULL, s->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (map == MAP_FAILED)
			return -errno;
		if (madvise(map, s->size, MADV_POPULATE_WRITE)) {
			munmap(map, s->size);
			return -errno;
		}
	}
	for (size_t off = 0; off < s->size && !ret; off += STEP) {
		ret = fetch(w, s, off, map ? map + off : buf, STEP);
		if (!ret && !map)
			ret = write_all(fd, buf, STEP);
	}
	if (map)
		munmap(map, s->size);
	return ret;
}

/* MSG_ZEROCOPY completions read so far: ids below *@done are complete */
static int reap(int sk, uint32_t *done, bool *copied, bool wait)
{
	struct pollfd p = { .fd = sk, .events = 0 };
	char control[128];

	for (;;) {
		struct msghdr msg = { .msg_control = control, .msg_controllen = sizeof(control) };
		struct sock_extended_err *ee;
		struct cmsghdr *cm;

		if (recvmsg(sk, &msg, MSG_ERRQUEUE | MSG_DONTWAIT) < 0) {
			if (errno != EAGAIN)
				return -errno;
			if (!wait)
				return 0;
			if (poll(&p, 1, 10000) != 1)
				return -ETIMEDOUT;
			continue;
		}
		cm = CMSG_FIRSTHDR(&msg);
		if (!cm)
			continue;
		ee = (struct sock_extended_err *)CMSG_DATA(cm);
		if (ee->ee_errno || ee->ee_origin != SO_EE_ORIGIN_ZEROCOPY)
			return -EIO;
		if (ee->ee_code & SO_EE_CODE_ZEROCOPY_COPIED)
			*copied = true;
		if (ee->ee_data + 1 > *done)
			*done = ee->ee_data + 1;
		return 0;
	}
}

static int send_all(int sk, const char *buf, size_t len, int flags, uint32_t *sent)
{
	while (len) {
		ssize_t n = send(sk, buf, len, flags);

		if (n <= 0)
			return n ? -errno : -EIO;
		if (flags & MSG_ZEROCOPY)
			(*sent)++;
		buf += n;
		len -= n;
	}
	return 0;
}

static int to_socket(const struct way *w, const struct source *s, int sk, char *ring,
		     bool *copied)
{
	uint32_t sent = 0, done = 0, last[RING] = { 0 };
	int ret = 0, flags = w->zerocopy ? MSG_ZEROCOPY : 0;

	for (size_t off = 0, i = 0; off < s->size && !ret; off += STEP, i = (i + 1) % RING) {
		char *buf = w->zerocopy ? ring + i * STEP : ring;

		while (!ret && w->zerocopy && last[i] > done)
			ret = reap(sk, &done, copied, true);
		if (!ret)
			ret = fetch(w, s, off, buf, STEP);
		if (!ret)
			ret = send_all(sk, buf, STEP, flags, &sent);
		last[i] = sent;
	}
	while (!ret && w->zerocopy && done < sent)
		ret = reap(sk, &done, copied, true);
	return ret;
}

/* @len bytes of the pipe @from to @fd (a file, a socket, /dev/null) */
static int splice_all(int from, int fd, size_t len)
{
	while (len) {
		ssize_t n = splice(from, NULL, fd, NULL, len, SPLICE_F_MOVE);

		if (n <= 0)
			return n ? -errno : -EIO;	/* EOF: the source died */
		len -= n;
	}
	return 0;
}

/* up to @len bytes of the source at @off into the copier's pipe: how many, or -1 */
static ssize_t fill(const struct way *w, const struct source *s, const struct copier *c,
		    size_t off, size_t len)
{
	struct spvm_iovec iov = { .base = s->addr + off, .len = len };
	struct spvm_args args = {
		.size = sizeof(args), .flags = w->spvm_flags, .target_fd = s->pidfd,
		.pipe_fd = c->pipe[1], .iov = (uintptr_t)&iov, .iovcnt = 1,
	};
	loff_t pos = s->addr + off;

	if (w->from == FROM_SPVM)
		return syscall(c->spvm_nr, &args);
	return splice(s->memfd, &pos, c->pipe[1], NULL, len, 0);
}

/* the ways through a pipe, and sendfile's (through the kernel's own pipe) */
static int by_pipe(const struct way *w, const struct source *s, const struct copier *c, int fd)
{
	int ret = 0;

	if (w->from == FROM_VMSPLICE) {
		if (write(s->cmd, "v", 1) != 1)
			return -errno;
		return splice_all(s->gift, fd, s->size);
	}
	for (size_t off = 0; off < s->size && !ret;) {
		size_t len = s->size - off < c->pipe_size ? s->size - off : c->pipe_size;
		off_t pos = s->addr + off;
		ssize_t n = w->from == FROM_SENDFILE ? sendfile(fd, s->memfd, &pos, STEP)
						     : fill(w, s, c, off, len);

		if (n <= 0)
			return n ? -errno : -EIO;
		if (w->from != FROM_SENDFILE)
			ret = splice_all(c->pipe[0], fd, n);
		off += n;
	}
	return ret;
}

/* 0 if the way can run here, else -errno and why in @why: one page, to /dev/null */
static int probe(const struct way *w, const struct source *s, const struct copier *c,
		 char *why, size_t len)
{
	int null, ret = 0;
	off_t pos = s->addr;
	ssize_t n;

	if (w->from != FROM_SPVM && w->from != FROM_PROCMEM_SPLICE && w->from != FROM_SENDFILE)
		return 0;
	if (w->from == FROM_SPVM && c->spvm_nr < 0) {
		snprintf(why, len, "%s", c->spvm_why);
		return c->spvm_nr;
	}
	null = open("/dev/null", O_WRONLY);
	if (null < 0)
		return -errno;
	n = w->from == FROM_SENDFILE ? sendfile(null, s->memfd, &pos, 4096)
				     : fill(w, s, c, 0, 4096);
	if (n < 0)
		ret = -errno;
	else if (w->from != FROM_SENDFILE)
		ret = splice_all(c->pipe[0], null, n);
	close(null);
	if (ret)
		snprintf(why, len, "%s: %s%s",
			 w->from == FROM_SPVM ? (w->spvm_flags & SPVM_PIN ?
						 "splice_process_vm(SPVM_PIN)" :
						 "splice_process_vm()") :
			 w->from == FROM_SENDFILE ? "sendfile from /proc/PID/mem" :
			 "splice from /proc/PID/mem", strerror(-ret),
			 ret == -EOVERFLOW ? " (above /proc's s_maxbytes: see -l)" : "");
	return ret;
}

/* 0 if the first CHECKED bytes of every page of the file @fd are the source's */
static int check_file(int fd, const struct source *s, char *why, size_t len)
{
	struct stat st;
	unsigned char *map;
	int ret = 0;

	if (fstat(fd, &st))
		return -errno;
	if ((size_t)st.st_size != s->size) {
		snprintf(why, len, "the file has %lld bytes, the source %zu",
			 (long long)st.st_size, s->size);
		return -EIO;
	}
	map = mmap(NULL, s->size, PROT_READ, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED)
		return -errno;
	for (size_t off = 0; off < s->size && !ret; off += 4096)
		for (size_t i = off; i < off + CHECKED && !ret; i++)
			if (map[i] != pattern(i)) {
				snprintf(why, len, "wrong bytes: file offset %zu holds 0x%02x, the source wrote 0x%02x",
					 i, map[i], pattern(i));
				ret = -EIO;
			}
	munmap(map, s->size);
	return ret;
}

/* what the receiver tells: bytes read; where the first wrong byte was */
struct received {
	uint64_t bytes, bad_at;
	unsigned char bad;
};

/* read @c to its end, checking the first CHECKED bytes of every page; to @result */
static void drain_serve(int c, int result)
{
	static unsigned char buf[1 << 20];
	struct received r = { .bad_at = UINT64_MAX };
	ssize_t n;

	while (c >= 0 && (n = read(c, buf, sizeof(buf))) > 0) {
		for (size_t i = 0; i < (size_t)n;) {
			uint64_t at = r.bytes + i;

			if (at % 4096 >= CHECKED) {
				i += 4096 - at % 4096;
				continue;
			}
			if (buf[i] != pattern(at) && r.bad_at == UINT64_MAX) {
				r.bad_at = at;
				r.bad = buf[i];
			}
			i++;
		}
		r.bytes += n;
	}
	_exit(write(result, &r, sizeof(r)) != sizeof(r));
}

/* a process on 127.0.0.1 that reads and checks; the connected socket */
static int drain_start(pid_t *pid, int *result)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int l = socket(AF_INET, SOCK_STREAM, 0), sk, one = 1, res[2];

	if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) || listen(l, 1) ||
	    getsockname(l, (struct sockaddr *)&a, &len) || pipe(res))
		return -errno;
	*pid = fork();
	if (*pid == 0) {
		close(res[0]);
		drain_serve(accept(l, NULL, NULL), res[1]);
	}
	close(l);
	close(res[1]);
	*result = res[0];
	sk = socket(AF_INET, SOCK_STREAM, 0);
	if (sk < 0 || connect(sk, (struct sockaddr *)&a, sizeof(a)))
		return -errno;
	setsockopt(sk, SOL_SOCKET, SO_ZEROCOPY, &one, sizeof(one));
	return sk;
}

/* 0 if the receiver got all the source's bytes, right */
static int check_received(int result, const struct source *s, char *why, size_t len)
{
	struct received r;

	if (read(result, &r, sizeof(r)) != sizeof(r)) {
		snprintf(why, len, "the receiver did not say what it got");
		return -EIO;
	}
	if (r.bad_at != UINT64_MAX) {
		snprintf(why, len, "wrong bytes: stream offset %llu is 0x%02x, the source wrote 0x%02x",
			 (unsigned long long)r.bad_at, r.bad, pattern(r.bad_at));
		return -EIO;
	}
	if (r.bytes != s->size) {
		snprintf(why, len, "the receiver got %llu bytes of %zu",
			 (unsigned long long)r.bytes, s->size);
		return -EIO;
	}
	return 0;
}

/* one run of @w: MiB/s, the copier's and the receiver's CPU ms per GiB */
static int run(const struct way *w, const struct source *s, const struct copier *c,
	       const char *dir, double *rate, double *cpu, double *rcpu, bool *copied,
	       char *why, size_t len)
{
	double gib = s->size / (double)(1u << 30), t0, c0, sc0;
	int fd, ret, check, result = -1;
	char path[512];
	pid_t drain = 0;

	if (w->sink == TO_FILE) {
		snprintf(path, sizeof(path), "%s/alternatives.%d", dir, getpid());
		fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	} else {
		fd = drain_start(&drain, &result);
	}
	if (fd < 0)
		return fd < -1 ? fd : -errno;
	t0 = now_ms();
	c0 = cpu_ms(RUSAGE_SELF);
	sc0 = clock_ms(s->clock);
	if (w->from == FROM_READV || w->from == FROM_PROCMEM)
		ret = w->sink == TO_FILE ? to_file(w, s, fd, c->ring)
					 : to_socket(w, s, fd, c->ring, copied);
	else
		ret = by_pipe(w, s, c, fd);
	*cpu = (cpu_ms(RUSAGE_SELF) - c0 + clock_ms(s->clock) - sc0) / gib;
	*rcpu = 0;
	if (w->sink == TO_SOCKET) {
		struct rusage ru;
		int status;

		close(fd);
		wait4(drain, &status, 0, &ru);	/* it ends when it read everything */
		*rcpu = ((ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
			 (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3) / gib;
	}
	*rate = s->size / (double)(1u << 20) / ((now_ms() - t0) / 1e3);
	if (w->sink == TO_FILE) {
		check = ret ? 0 : check_file(fd, s, why, len);
		close(fd);
		unlink(path);
	} else {
		check = ret ? 0 : check_received(result, s, why, len);
		close(result);
	}
	if (ret)
		snprintf(why, len, "%s", strerror(-ret));
	return ret ?: check;
}

/* whether the CPU advertises @flag (/proc/cpuinfo's first "flags" line) */
static const char *cpu_flag(const char *flag)
{
	FILE *f = fopen("/proc/cpuinfo", "r");
	char line[8192], word[32];
	const char *on = "?";

	snprintf(word, sizeof(word), " %s", flag);
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "flags", 5)) {
			char *at = strstr(line, word);

			on = at && (at[strlen(word)] == ' ' || at[strlen(word)] == '\n') ? "on" : "off";
			break;
		}
	if (f)
		fclose(f);
	return on;
}

enum state { SKIPPED, WANTED, NA, FAILED };

struct result {
	enum state state;
	double rate[MAX_RUNS], cpu[MAX_RUNS], rcpu[MAX_RUNS];
	bool copied;
	char why[240];
};

static void report(const struct result *res, const struct source *s, int runs,
		   const char *dir, const struct copier *c)
{
	printf("alternatives: %zu MiB of another process at %#lx, files in %s, median of %d; "
	       "pipes of %zu KiB; CPU erms %s, fsrm %s\n",
	       s->size >> 20, s->addr, dir, runs, c->pipe_size >> 10, cpu_flag("erms"),
	       cpu_flag("fsrm"));
	printf("  %-20s %-6s %8s %18s %20s\n", "way", "to", "MiB/s", "copier CPU ms/GiB",
	       "receiver CPU ms/GiB");
	for (size_t w = 0; w < NR_WAYS; w++) {
		const struct result *r = &res[w];
		double v[3][MAX_RUNS];

		if (r->state == SKIPPED)
			continue;
		printf("  %-20s %-6s ", ways[w].name, ways[w].sink == TO_FILE ? "file" : "socket");
		if (r->state != WANTED) {
			printf("%s (%s)\n", r->state == NA ? "n/a" : "FAILED", r->why);
			continue;
		}
		memcpy(v[0], r->rate, sizeof(v[0]));
		memcpy(v[1], r->cpu, sizeof(v[1]));
		memcpy(v[2], r->rcpu, sizeof(v[2]));
		printf("%8.0f %18.0f", median(v[0], runs), median(v[1], runs));
		if (ways[w].sink == TO_SOCKET)
			printf(" %20.0f%s", median(v[2], runs),
			       ways[w].zerocopy ? (r->copied ? "  (the kernel copied)"
							     : "  (no copy)") : "");
		printf("\n");
	}
}

int main(int argc, char **argv)
{
	static struct result res[NR_WAYS];
	int mib = 1024, runs = 5, opt, ret = 0;
	struct copier c = { .pipe = { -1, -1 } };
	const char *dir = "/dev/shm";
	bool any = false, low = false;
	struct source s;

	while ((opt = getopt(argc, argv, "s:n:d:l")) != -1) {
		switch (opt) {
		case 's': mib = atoi(optarg); break;
		case 'n': runs = atoi(optarg); break;
		case 'd': dir = optarg; break;
		case 'l': low = true; break;
		default:
			fprintf(stderr, "usage: %s [-s MIB] [-n RUNS] [-d DIR] [-l] [WAY...]\n",
				argv[0]);
			return 2;
		}
	}
	if (mib < 4 || mib % 4 || runs < 1 || runs > MAX_RUNS || (low && mib > LOW_MAX)) {
		fprintf(stderr, "alternatives: -s wants a multiple of 4 MiB (at most %lu with -l), -n 1..%d\n",
			LOW_MAX, MAX_RUNS);
		return 2;
	}
	for (int i = optind; i < argc; i++) {
		size_t w;

		for (w = 0; w < NR_WAYS && strcmp(argv[i], ways[w].name); w++)
			;
		if (w == NR_WAYS) {
			fprintf(stderr, "alternatives: no way '%s'\n", argv[i]);
			return 2;
		}
		res[w].state = WANTED;
		any = true;
	}
	for (size_t w = 0; w < NR_WAYS && !any; w++)
		res[w].state = WANTED;
	signal(SIGPIPE, SIG_IGN);
	c.ring = aligned_alloc(4096, (size_t)RING * STEP);
	if (!c.ring || pipe(c.pipe)) {
		perror("alternatives: set-up");
		return 1;
	}
	c.pipe_size = pipe_grow(c.pipe[0], STEP);
	c.spvm_nr = spvm_sysnr_probe(c.spvm_why, sizeof(c.spvm_why));
	ret = source_start(&s, (size_t)mib << 20, c.pipe_size, low);
	if (ret) {
		fprintf(stderr, "alternatives: set-up: %s\n", strerror(-ret));
		return 1;
	}
	for (size_t w = 0; w < NR_WAYS; w++)
		if (res[w].state == WANTED && probe(&ways[w], &s, &c, res[w].why, sizeof(res[w].why)))
			res[w].state = NA;
	for (int r = 0; r < runs; r++)
		for (size_t w = 0; w < NR_WAYS; w++) {
			struct result *x = &res[w];

			if (x->state != WANTED)
				continue;
			if (run(&ways[w], &s, &c, dir, &x->rate[r], &x->cpu[r], &x->rcpu[r],
				&x->copied, x->why, sizeof(x->why))) {
				fprintf(stderr, "alternatives: %s: %s\n", ways[w].name, x->why);
				x->state = FAILED;
				ret = 1;
			}
		}
	source_stop(&s);
	report(res, &s, runs, dir, &c);
	return ret;
}
