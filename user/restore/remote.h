/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The pages a restore's images leave at the source (PE_LAZY without
 * data: a `criu dump --lazy-pages`, or `memsplice checkpoint
 * --lazy-pages`), asked of the source's lazy page server as `criu
 * lazy-pages --page-server` asks them: PS_IOV_GET {nr, vaddr, pid}, and
 * the answer {PS_IOV_ADD_F | PE_PRESENT, m <= nr, vaddr, pid} with m
 * pages.  One request at a time; PS_IOV_CLOSE once every page is in
 * place, which tells the source it may let its tree go.
 */
#ifndef MEMSPLICE_RESTORE_REMOTE_H
#define MEMSPLICE_RESTORE_REMOTE_H

#include <stdint.h>
#include <sys/types.h>

#include "proto/pageserver.h"
#include "sink/pageserver.h"

struct remote {
	struct ps_conn c;
	const struct ps_opts *o;
	uint64_t requests, pages;
};

/* remote_open - connect (TLS if @o says so); 0 or -errno, said in one line */
int remote_open(struct remote *r, const struct ps_opts *o, volatile sig_atomic_t *interrupted);
/* remote_get - up to @nr pages of @pid at @vaddr into @buf; the pages sent, or -errno */
long remote_get(struct remote *r, pid_t pid, uint64_t vaddr, uint64_t nr, void *buf);
/* remote_close - PS_IOV_CLOSE and the source's s32 answer; 0 or -errno */
int remote_close(struct remote *r);
/* remote_drop - the connection closed without PS_IOV_CLOSE: the source keeps its tree */
void remote_drop(struct remote *r);

#endif
