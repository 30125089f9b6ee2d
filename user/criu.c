// SPDX-License-Identifier: GPL-2.0
/*
 * The criu binary, run as a child.  memsplice never reads or writes criu's
 * own images here: it only starts criu on the image directories it wrote
 * and reports how criu ended.
 */
#define LOG_PREFIX "criu: "
#include <fcntl.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "criu.h"
#include "log.h"
#include "util.h"

extern char **environ;

/* start @argv with stdin on /dev/null and stdout on @out_fd (-1: ours) */
static int spawn(char *const argv[], int out_fd, pid_t *pid)
{
	posix_spawn_file_actions_t fa;
	int ret;

	ret = posix_spawn_file_actions_init(&fa);
	if (ret)
		return -ret;
	ret = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	if (!ret && out_fd >= 0)
		ret = posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
	if (!ret)
		ret = posix_spawnp(pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	return -ret;
}

int criu_version(char *buf, size_t len)
{
	char *const argv[] = { "criu", "--version", NULL };
	char out[256], *v;
	ssize_t n, got = 0;
	int pfd[2], ret;
	pid_t pid;

	if (pipe2(pfd, O_CLOEXEC) < 0)
		return -errno;
	ret = spawn(argv, pfd[1], &pid);
	close(pfd[1]);
	if (ret) {
		close(pfd[0]);
		return ret;
	}
	while (got < (ssize_t)sizeof(out) - 1 &&
	       (n = read(pfd[0], out + got, sizeof(out) - 1 - got)) > 0)
		got += n;
	close(pfd[0]);
	out[got] = '\0';
	ret = child_wait(pid, NULL);
	if (ret)
		return ret < 0 ? ret : -ENOEXEC;
	/* "Version: 3.17.1\n" (and a GitID line on some builds) */
	v = strstr(out, "Version:");
	if (!v)
		return -ENOEXEC;
	v += strlen("Version:");
	v += strspn(v, " \t");
	snprintf(buf, len, "%.*s", (int)strcspn(v, "\n"), v);
	return 0;
}

int criu_run(char *const argv[], volatile sig_atomic_t *interrupted)
{
	pid_t pid;
	int ret;

	ret = spawn(argv, -1, &pid);
	if (ret)
		return ret;
	return child_wait(pid, interrupted);
}

int criu_start(char *const argv[], pid_t *pid)
{
	return spawn(argv, -1, pid);
}

int criu_wait(pid_t pid, volatile sig_atomic_t *interrupted)
{
	return child_wait(pid, interrupted);
}
