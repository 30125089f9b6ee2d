/* SPDX-License-Identifier: GPL-2.0 */
#ifndef MEMSPLICE_TRACK_FORKS_H
#define MEMSPLICE_TRACK_FORKS_H

#include <sys/types.h>

/*
 * Forks of the tracked tree, seen through the proc connector (netlink,
 * CONFIG_PROC_EVENTS; CAP_NET_ADMIN in the initial namespaces).  A child
 * inherits its parent's shared mappings but not their registration (no
 * UFFD_FEATURE_EVENT_FORK): what it writes there is in no page table the
 * tracker scans, and once it has exited nothing shows it ever did.  The
 * kernel queues the event before the child runs, so draining the socket
 * before a scan tells of every fork until then; lost events count as one.
 * A child that still lives at the next pass and maps a segment is a
 * process outside the tree that maps it (below), for good.
 */
struct fork_watch {
	int fd;			/* -1: not watching */
	unsigned long gen;	/* forks of the tree seen, and losses */
};

/* fork_watch_start - listen for forks from now on: 0, or -errno (not printed) */
int fork_watch_start(struct fork_watch *w);
void fork_watch_stop(struct fork_watch *w);

/*
 * fork_watch_gen - a count that moves whenever one of @pids forked a
 * process (threads do not count) since the last look, events were lost,
 * or there is no watch.
 */
unsigned long fork_watch_gen(struct fork_watch *w, const pid_t *pids, unsigned int nr);

#endif
