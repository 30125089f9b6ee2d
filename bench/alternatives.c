// SPDX-License-Identifier: GPL-2.0
/*
 * Another process's memory to a file or a socket, by the ways that need no
 * kernel change (issue 21 §2: what splice_process_vm has to beat).  One
 * source process holds SIZE of anonymous memory, every page written; the
 * copier (this process) moves all of it, 4 MiB at a time:
 *
 *   readv-write     process_vm_readv into a buffer, write(2) to the file
 *                   (memsplice's read method): two copies
 *   readv-mmap      process_vm_readv straight into the file mmap'd shared:
 *                   one copy (the file fallocate'd and the mapping
 *                   populated first, inside the time measured)
 *   procmem-write   pread of /proc/PID/mem into a buffer, write(2): two
 *   readv-send      process_vm_readv into a buffer, send(2) on TCP
 *   readv-zerocopy  the same with MSG_ZEROCOPY (a ring of buffers, each
 *                   reused once its completion is read): says whether the
 *                   kernel copied anyway (loopback always does)
 *   procmem-send    pread of /proc/PID/mem, send(2)
 *
 *   bench/alternatives [-s MIB] [-n RUNS] [-d DIR] [WAY...]
 *
 * The socket ways send to a process on 127.0.0.1 that reads and drops.
 * Prints per way the median over RUNS of MiB/s, the copier's CPU (user +
 * system) in ms per GiB and, for sockets, the receiver's.  Files go to DIR
 * (default /dev/shm: the page cache, no disk), unlinked after each run.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/errqueue.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"

#define STEP	(4u << 20)	/* bytes per call */
#define RING	8		/* MSG_ZEROCOPY buffers in flight */
#define MAX_RUNS 64

enum sink { TO_FILE, TO_SOCKET };

struct way {
	const char *name;
	enum sink sink;
	bool procmem;		/* pread /proc/PID/mem, else process_vm_readv */
	bool mmap;		/* into the mmap'd file */
	bool zerocopy;		/* MSG_ZEROCOPY */
};

static const struct way ways[] = {
	{ "readv-write", TO_FILE, .procmem = false },
	{ "readv-mmap", TO_FILE, .mmap = true },
	{ "procmem-write", TO_FILE, .procmem = true },
	{ "readv-send", TO_SOCKET, .procmem = false },
	{ "readv-zerocopy", TO_SOCKET, .zerocopy = true },
	{ "procmem-send", TO_SOCKET, .procmem = true },
};
#define NR_WAYS	(sizeof(ways) / sizeof(ways[0]))

struct source {
	pid_t pid;
	unsigned long addr;
	size_t size;
	int memfd;		/* /proc/PID/mem */
	int hold;		/* its stdin: closing it ends it */
};

static double cpu_ms(int who)
{
	struct rusage ru;

	getrusage(who, &ru);
	return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
	       (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
}

/* a process holding @size of written anonymous memory; its address */
static int source_start(struct source *s, size_t size)
{
	int ready[2], hold[2];
	char path[64];

	if (pipe(ready) || pipe(hold))
		return -errno;
	s->size = size;
	s->pid = fork();
	if (s->pid == 0) {
		char *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			       -1, 0);
		char c;

		if (p == MAP_FAILED)
			_exit(1);
		madvise(p, size, MADV_NOHUGEPAGE);
		for (size_t off = 0; off < size; off += 4096)
			memset(p + off, (int)(off >> 12) | 1, 4096);
		if (write(ready[1], &p, sizeof(p)) != sizeof(p))
			_exit(1);
		close(hold[1]);
		while (read(hold[0], &c, 1) > 0)
			;
		_exit(0);
	}
	close(ready[1]);
	close(hold[0]);
	s->hold = hold[1];
	if (s->pid < 0 || read(ready[0], &s->addr, sizeof(s->addr)) != sizeof(s->addr))
		return -EIO;
	close(ready[0]);
	snprintf(path, sizeof(path), "/proc/%d/mem", s->pid);
	s->memfd = open(path, O_RDONLY);
	return s->memfd < 0 ? -errno : 0;
}

static void source_stop(struct source *s)
{
	close(s->hold);
	close(s->memfd);
	waitpid(s->pid, NULL, 0);
}

/* @len bytes of the source at @off into @buf, the way asks */
static int fetch(const struct way *w, const struct source *s, size_t off, char *buf, size_t len)
{
	struct iovec local = { buf, len }, remote = { (void *)(s->addr + off), len };
	ssize_t n = w->procmem ? pread(s->memfd, buf, len, s->addr + off)
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

/* a process on 127.0.0.1 that reads and drops; the connected socket */
static int drain_start(pid_t *pid)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int l = socket(AF_INET, SOCK_STREAM, 0), sk, one = 1;

	if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) || listen(l, 1) ||
	    getsockname(l, (struct sockaddr *)&a, &len))
		return -errno;
	*pid = fork();
	if (*pid == 0) {
		static char buf[1 << 20];
		int c = accept(l, NULL, NULL);

		while (c >= 0 && read(c, buf, sizeof(buf)) > 0)
			;
		_exit(0);
	}
	close(l);
	sk = socket(AF_INET, SOCK_STREAM, 0);
	if (sk < 0 || connect(sk, (struct sockaddr *)&a, sizeof(a)))
		return -errno;
	setsockopt(sk, SOL_SOCKET, SO_ZEROCOPY, &one, sizeof(one));
	return sk;
}

/* one run of @w: MiB/s, the copier's and the receiver's CPU ms per GiB */
static int run(const struct way *w, const struct source *s, const char *dir, char *ring,
	       double *rate, double *cpu, double *rcpu, bool *copied)
{
	double gib = s->size / (double)(1u << 30), t0, c0;
	char path[512];
	pid_t drain = 0;
	int fd, ret;

	if (w->sink == TO_FILE) {
		snprintf(path, sizeof(path), "%s/alternatives.%d", dir, getpid());
		fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	} else {
		fd = drain_start(&drain);
	}
	if (fd < 0)
		return fd < -1 ? fd : -errno;
	t0 = now_ms();
	c0 = cpu_ms(RUSAGE_SELF);
	ret = w->sink == TO_FILE ? to_file(w, s, fd, ring) : to_socket(w, s, fd, ring, copied);
	*cpu = (cpu_ms(RUSAGE_SELF) - c0) / gib;
	close(fd);
	*rcpu = 0;
	if (drain > 0) {
		struct rusage ru;
		int status;

		wait4(drain, &status, 0, &ru);	/* it ends when it read everything */
		*rcpu = ((ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
			 (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3) / gib;
	}
	*rate = s->size / (double)(1u << 20) / ((now_ms() - t0) / 1e3);
	if (w->sink == TO_FILE)
		unlink(path);
	return ret;
}

int main(int argc, char **argv)
{
	double rate[NR_WAYS][MAX_RUNS], cpu[NR_WAYS][MAX_RUNS], rcpu[NR_WAYS][MAX_RUNS];
	bool want[NR_WAYS] = { false }, any = false, copied[NR_WAYS] = { false };
	int mib = 1024, runs = 5, opt, ret = 0;
	const char *dir = "/dev/shm";
	struct source s;
	char *ring;

	while ((opt = getopt(argc, argv, "s:n:d:")) != -1) {
		switch (opt) {
		case 's': mib = atoi(optarg); break;
		case 'n': runs = atoi(optarg); break;
		case 'd': dir = optarg; break;
		default:
			fprintf(stderr, "usage: %s [-s MIB] [-n RUNS] [-d DIR] [WAY...]\n", argv[0]);
			return 2;
		}
	}
	if (mib < 4 || mib % 4 || runs < 1 || runs > MAX_RUNS) {
		fprintf(stderr, "alternatives: -s wants a multiple of 4 MiB, -n 1..%d\n", MAX_RUNS);
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
		want[w] = any = true;
	}
	signal(SIGPIPE, SIG_IGN);
	ring = aligned_alloc(4096, (size_t)RING * STEP);
	if (!ring || source_start(&s, (size_t)mib << 20)) {
		perror("alternatives: set-up");
		return 1;
	}
	for (int r = 0; r < runs && !ret; r++)
		for (size_t w = 0; w < NR_WAYS && !ret; w++) {
			if (any && !want[w])
				continue;
			ret = run(&ways[w], &s, dir, ring, &rate[w][r], &cpu[w][r], &rcpu[w][r],
				  &copied[w]);
			if (ret)
				fprintf(stderr, "alternatives: %s: %s\n", ways[w].name,
					strerror(-ret));
		}
	source_stop(&s);
	if (ret)
		return 1;
	printf("alternatives: %d MiB of another process, files in %s, median of %d\n", mib, dir,
	       runs);
	printf("  %-15s %-6s %8s %18s %20s\n", "way", "to", "MiB/s", "copier CPU ms/GiB",
	       "receiver CPU ms/GiB");
	for (size_t w = 0; w < NR_WAYS; w++) {
		if (any && !want[w])
			continue;
		printf("  %-15s %-6s %8.0f %18.0f", ways[w].name,
		       ways[w].sink == TO_FILE ? "file" : "socket", median(rate[w], runs),
		       median(cpu[w], runs));
		if (ways[w].sink == TO_SOCKET)
			printf(" %20.0f%s", median(rcpu[w], runs),
			       ways[w].zerocopy ? (copied[w] ? "  (the kernel copied)"
							     : "  (no copy)") : "");
		printf("\n");
	}
	return 0;
}
