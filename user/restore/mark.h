/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Which pages a restore may leave to memsplice: in each process's
 * pagemap, the runs criu's own `dump --lazy-pages` would have left lazy
 * (private anonymous VMAs that are not locked, vDSO, vsyscall, vvar or
 * hugetlb, and not the page under a thread's stack pointer) get PE_LAZY
 * beside PE_PRESENT.  Their bytes stay where they are in pages-ID.img:
 * `criu restore --lazy-pages` skips them, a plain `criu restore` still
 * reads them, so the rewritten set restores either way.  PE_PARENT runs
 * stay as they are (criu reads them through the chain).
 */
#ifndef MEMSPLICE_RESTORE_MARK_H
#define MEMSPLICE_RESTORE_MARK_H

#include <stdint.h>
#include <sys/types.h>

#include "restore/runs.h"

struct mark {
	struct runs lazy;	/* the runs marked, at their offsets in pages-ID.img */
	unsigned long pages_id;
};

/*
 * mark_lazy - rewrite pagemap-@pid.img in @dirfd (by rename, so a crash
 * leaves the old or the new one) with @nr threads @tids; the lazy runs
 * into @m.  0 or -errno, said in one line.
 */
int mark_lazy(int dirfd, pid_t pid, const uint32_t *tids, size_t nr, struct mark *m);
void mark_free(struct mark *m);

#endif
