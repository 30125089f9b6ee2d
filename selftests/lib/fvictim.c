// SPDX-License-Identifier: GPL-2.0
/* Victims that are functions of the test: see fvictim.h. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fvictim.h"
#include "pattern.h"

int fvictim_report_fd = -1;

void fvictim_fill_and_report(void)
{
	char *p = mmap(NULL, FVICTIM_PAGES * VPAGE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char line[128];
	int n;

	if (p == MAP_FAILED)
		_exit(90);
	for (int i = 0; i < FVICTIM_PAGES; i++)
		pattern_fill(p + i * VPAGE, (uint64_t)(p + i * VPAGE), 77);
	n = snprintf(line, sizeof(line), "R %lx %d 77\n", (unsigned long)p, FVICTIM_PAGES);
	if (write(fvictim_report_fd, line, n) != n)
		_exit(91);
}

void fvictim_ready(void)
{
	if (write(fvictim_report_fd, "ready\n", 6) != 6)
		_exit(91);
}

void fvictim_block_forever(void)
{
	sigset_t none;

	sigemptyset(&none);
	for (;;)
		sigsuspend(&none);
}

void fvictim_plain(void)
{
	fvictim_fill_and_report();
	fvictim_ready();
	fvictim_block_forever();
}

int fvictim_start(void (*victim)(void), pid_t *pid, int *rfd, struct vregion *r,
		  unsigned long *dev)
{
	int pfd[2];
	char buf[256] = "";
	size_t got = 0;

	if (pipe(pfd))
		return -1;
	*pid = fork();
	if (*pid < 0)
		return -1;
	if (*pid == 0) {
		setpgid(0, 0);
		close(pfd[0]);
		fvictim_report_fd = pfd[1];
		victim();
		_exit(0);
	}
	close(pfd[1]);
	*rfd = pfd[0];
	while (!strstr(buf, "ready\n")) {
		ssize_t n;

		if (strstr(buf, "skip\n"))
			return 1;
		n = read(*rfd, buf + got, sizeof(buf) - 1 - got);
		if (n <= 0)
			return -1;
		got += n;
		buf[got] = '\0';
	}
	memset(r, 0, sizeof(*r));
	if (dev && sscanf(buf, "D %lx\n", dev) == 1)
		memmove(buf, strchr(buf, '\n') + 1, strlen(strchr(buf, '\n')));
	if (sscanf(buf, "R %lx %lu %lu", &r->addr, &r->pages, (unsigned long *)&r->seed) != 3)
		return -1;
	strcpy(r->name, "region");
	r->pid = *pid;
	return 0;
}
