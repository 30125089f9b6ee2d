/* SPDX-License-Identifier: GPL-2.0 */
/*
 * One round into the store: a sender's page-server session (criu
 * pre-dump/dump --page-server, or memsplice's page-server sink), answered
 * as criu 3.17's page server answers (criu/page-xfer.c), its header layout
 * told from its first message.
 *
 *   OPEN, OPEN2     the object's listing starts (OPEN2 answers a byte:
 *                   whether the store holds data of it, the "parent")
 *   PARENT          answers an s32: the same
 *   ADD_F, ADD      PE_PRESENT: pages follow; PE_PARENT: the store's copy
 *   HOLE            stays; other flags (PE_LAZY): listed, no data
 *   CLOSE           the round is committed, then answered 0
 *   PS_MS_IMAGES    (first, memsplice's own) the final dump's other images
 *
 * Anything else ends the session with one line and the store as the last
 * commit left it: a lie (PE_PARENT for a page the store does not hold,
 * runs out of order), a lazy-pages request, a connection that breaks or
 * stalls (the socket's timeouts).
 */
#ifndef MEMSPLICE_RECEIVE_SESSION_H
#define MEMSPLICE_RECEIVE_SESSION_H

#include <stdbool.h>
#include <stdint.h>

struct images;
struct ps_conn;
struct store;

#define RECEIVE_END	1	/* the final images came (PS_MS_IMAGES): the migration ends */

/* what a round brought */
struct round_stats {
	uint64_t objects, pages, kept, holes;	/* holes: pages listed without data */
	bool images;				/* a session of the final images */
};

/*
 * receive_session - the round on @c (its layout set from the first header)
 * into @s; 0 once committed and answered, -errno with the reason printed.
 * A session of the final images instead (checkpoint --receiver) stages
 * them into @im and returns RECEIVE_END, its CLOSE not yet answered.
 */
int receive_session(struct ps_conn *c, struct store *s, struct images *im,
		    struct round_stats *st);

#endif
