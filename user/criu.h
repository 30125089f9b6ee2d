/* SPDX-License-Identifier: GPL-2.0 */
/* Running the criu binary: the one place memsplice hands over to CRIU. */
#ifndef MEMSPLICE_CRIU_H
#define MEMSPLICE_CRIU_H

#include <signal.h>
#include <stddef.h>
#include <sys/types.h>

/*
 * criu_version - run `criu --version` (criu from PATH) and put its version
 * ("3.17.1") into @buf.  0, or -errno: -ENOENT when there is no criu.
 */
int criu_version(char *buf, size_t len);

/*
 * criu_run - run criu with @argv (argv[0] "criu", looked up in PATH), stdin
 * on /dev/null, stdout and stderr shared with memsplice.  A SIGINT, SIGTERM
 * or SIGHUP that memsplice receives meanwhile (@interrupted) is passed on to
 * criu, which then lets its tree go.  Returns criu's exit status (0..255),
 * 128 + N when it was killed by signal N, or -errno when it did not start.
 */
int criu_run(char *const argv[], volatile sig_atomic_t *interrupted);

/*
 * criu_start, criu_wait - criu_run() in two steps, for a criu that talks
 * to memsplice over inherited fds while it runs: criu_start() returns 0
 * with the child in *@pid, or -errno; criu_wait() returns as criu_run().
 */
int criu_start(char *const argv[], pid_t *pid);
int criu_wait(pid_t pid, volatile sig_atomic_t *interrupted);

#endif
