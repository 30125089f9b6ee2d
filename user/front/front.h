/* SPDX-License-Identifier: GPL-2.0 */
/*
 * memsplice-criu: a criu binary for container engines.  An engine (runc,
 * podman through runc, crun through libcriu) runs it as `criu swrk FD`;
 * the pre-dump requests of that session are memsplice's, everything else
 * is the real criu's, handed over with the socket unread.
 */
#ifndef MEMSPLICE_FRONT_H
#define MEMSPLICE_FRONT_H

#include <stdbool.h>
#include <sys/types.h>

#include "rpc.pb-c.h"

/* what the front needs to find: the real criu and memsplice */
struct front {
	const char *criu;	/* the real criu (absolute path) */
	const char *memsplice;	/* the memsplice binary */
	char *const *argv;	/* our own command line, handed over as it is */
};

/**
 * predump_why_not - why @opts asks for something only the real criu does
 * Return: NULL when memsplice can perform the pre-dump @opts describes.
 */
const char *predump_why_not(const CriuOpts *opts);

/**
 * predump_run - perform the pre-dump @opts describes with memsplice
 * @peer: the engine's pid (SO_PEERCRED): its fds name the directories
 * @errmsg, @len: on failure, the line memsplice gave as its reason
 *
 * Logs to the request's log file in its work directory, as criu would.
 * Return: 0 on success, -errno (-EIO when memsplice failed: see @errmsg).
 */
int predump_run(const struct front *f, const CriuOpts *opts, pid_t peer,
		char *errmsg, size_t len);

#endif
