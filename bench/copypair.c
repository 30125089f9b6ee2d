// SPDX-License-Identifier: GPL-2.0
/*
 * One copy into the page cache, two ways, to see what a CPU model does to
 * the kernel's copies (under QEMU TCG, `rep movsb` runs a byte per step,
 * and the kernel copies user memory with it when the CPU advertises ERMS
 * or FSRM):
 *
 *   write   write(2) of a user buffer into a tmpfs file: copy_from_user()
 *   splice  the same buffer vmspliced into a pipe, then spliced into the
 *           file: the kernel's memcpy() of the pipe's pages
 *
 *   bench/copypair [-s MIB] [-n RUNS] [-d DIR]
 *
 * Prints, per way, the median MiB/s and system CPU ms per GiB over RUNS,
 * and which copy features /proc/cpuinfo shows.  Both ways make exactly one
 * copy of every byte, so on hardware their ratio is near 1.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/uio.h>
#include <unistd.h>

#include "common.h"

#define CHUNK	(1 << 20)	/* bytes per write, and per pipe round */

static double sys_ms(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_stime.tv_sec * 1e3 + ru.ru_stime.tv_usec / 1e3;
}

static int by_write(int fd, char *buf, size_t total)
{
	for (size_t done = 0; done < total; done += CHUNK)
		if (write(fd, buf, CHUNK) != CHUNK)
			return -errno;
	return 0;
}

static int by_splice(int fd, char *buf, size_t total, int pipefd[2])
{
	for (size_t done = 0; done < total; done += CHUNK) {
		struct iovec iov = { buf, CHUNK };
		size_t left = CHUNK;

		while (iov.iov_len) {
			ssize_t n = vmsplice(pipefd[1], &iov, 1, 0);

			if (n <= 0)
				return n ? -errno : -EIO;
			iov.iov_base = (char *)iov.iov_base + n;
			iov.iov_len -= n;
			while (left > iov.iov_len) {
				ssize_t m = splice(pipefd[0], NULL, fd, NULL, left - iov.iov_len, 0);

				if (m <= 0)
					return m ? -errno : -EIO;
				left -= m;
			}
		}
	}
	return 0;
}

static void cpu_flags(char *out, size_t len)
{
	static const char *const want[] = { "erms", "fsrm" };
	char line[8192];
	FILE *f = fopen("/proc/cpuinfo", "r");

	snprintf(out, len, "none");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "flags", 5))
			continue;
		out[0] = '\0';
		for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
			char pat[16];

			snprintf(pat, sizeof(pat), " %s", want[i]);
			for (char *p = line; (p = strstr(p, pat)); p++)
				if (p[strlen(pat)] == ' ' || p[strlen(pat)] == '\n') {
					snprintf(out + strlen(out), len - strlen(out), "%s%s",
						 *out ? "," : "", want[i]);
					break;
				}
		}
		if (!*out)
			snprintf(out, len, "neither");
		break;
	}
	fclose(f);
}

int main(int argc, char **argv)
{
	const char *dir = "/dev/shm";
	int mib = 256, runs = 5, opt, pipefd[2];
	double rate[2][64], cpu[2][64];
	char path[256], flags[64];
	size_t total;
	char *buf;

	while ((opt = getopt(argc, argv, "s:n:d:")) != -1) {
		switch (opt) {
		case 's': mib = atoi(optarg); break;
		case 'n': runs = atoi(optarg); break;
		case 'd': dir = optarg; break;
		default:
			fprintf(stderr, "usage: %s [-s MIB] [-n RUNS] [-d DIR]\n", argv[0]);
			return 2;
		}
	}
	if (mib < 1 || runs < 1 || runs > 64) {
		fprintf(stderr, "copypair: -s wants MiB >= 1, -n 1..64\n");
		return 2;
	}
	total = (size_t)mib << 20;
	buf = aligned_alloc(4096, CHUNK);
	if (!buf || pipe(pipefd) || fcntl(pipefd[1], F_SETPIPE_SZ, CHUNK) < 0) {
		perror("copypair: set-up");
		return 1;
	}
	memset(buf, 0x5a, CHUNK);
	snprintf(path, sizeof(path), "%s/copypair.%d", dir, getpid());
	for (int r = 0; r < runs; r++) {
		for (int way = 0; way < 2; way++) {
			int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600), ret;
			double t0, c0;

			if (fd < 0) {
				perror(path);
				return 1;
			}
			t0 = now_ms();
			c0 = sys_ms();
			ret = way ? by_splice(fd, buf, total, pipefd) : by_write(fd, buf, total);
			cpu[way][r] = (sys_ms() - c0) * 1024 / mib;
			rate[way][r] = mib / ((now_ms() - t0) / 1e3);
			close(fd);
			unlink(path);
			if (ret) {
				fprintf(stderr, "copypair: %s: %s\n", way ? "splice" : "write",
					strerror(-ret));
				return 1;
			}
		}
	}
	cpu_flags(flags, sizeof(flags));
	printf("copypair: %d MiB into %s, median of %d; CPU copy features: %s\n", mib, dir,
	       runs, flags);
	printf("  %-7s %10s %16s\n", "way", "MiB/s", "sys ms per GiB");
	for (int way = 0; way < 2; way++)
		printf("  %-7s %10.0f %16.0f\n", way ? "splice" : "write",
		       median(rate[way], runs), median(cpu[way], runs));
	return 0;
}
