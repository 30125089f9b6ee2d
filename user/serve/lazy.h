/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The source side of post-copy migration: `criu lazy-pages --page-server`
 * at the destination asks for the pages of the restored tree that were
 * left lazy (PS_IOV_GET), and memsplice answers from the frozen tree,
 * reading each page when it is asked for: nothing of the tree's memory is
 * held while it serves.
 *
 *   request   PS_IOV_GET, nr_pages n, vaddr, dst_id = the process's vpid
 *   answer    PS_IOV_ADD_F | PE_PRESENT << 16, m, vaddr, dst_id + m pages
 *             (0 < m <= n: clamped to the VMA holding vaddr), in request
 *             order
 *   end       PS_IOV_CLOSE (or FORCE_CLOSE) -> s32 0
 *
 * There is no "no pages" answer in criu's protocol: a request the tree
 * cannot answer (no such process, an address outside every private
 * anonymous VMA) ends the session with one line.  A child forked after the
 * restore asks with its parent's vpid, which is the memory it inherited.
 */
#ifndef MEMSPLICE_SERVE_LAZY_H
#define MEMSPLICE_SERVE_LAZY_H

#include <stdint.h>

#include "proto/pageserver.h"

struct page_source;
struct pstree;

/*
 * criu lazy-pages asks for one page at a fault of the restored tree, and
 * for 16 pages and more (64 KiB growing to 4 MiB) when it pulls the rest
 * in the background: a one-page request is counted on demand.
 */
struct lazy_stats {
	unsigned long requests;		/* GETs answered */
	unsigned long pages;		/* pages sent */
	unsigned long demand;		/* of them, one-page requests: faults */
};

/*
 * lazy_serve - answer the GETs of the session on @c from the frozen
 * @tree, moving pages with @src (created, not attached), until the peer
 * closes the session.  0 when it did (CLOSE answered), -errno otherwise,
 * printed, but for -EAGAIN (a wait bounded by the socket's timeouts ran
 * out) and -EINTR.  @st counts what was served either way.
 */
int lazy_serve(const struct ps_conn *c, const struct pstree *tree, struct page_source *src,
	       struct lazy_stats *st);

#endif
