/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Which pages a restore may leave to memsplice: in each process's
 * pagemap, the runs criu's own `dump --lazy-pages` leaves lazy (private
 * anonymous VMAs that are not locked, vDSO, vsyscall, vvar or hugetlb)
 * get PE_LAZY beside PE_PRESENT.  Every present page of such a VMA: criu
 * restores a lazy VMA's other pages into the premapped area before it
 * registers the VMA, and a page populated there (the page under a
 * thread's stack pointer, which criu's dump means to keep present, drew
 * its neighbours in with it in the 6.1 guest) is one a copy can no longer
 * fill.  Their bytes stay where they are in pages-ID.img:
 * `criu restore --lazy-pages` skips them, a plain `criu restore` still
 * reads them, so the rewritten set restores either way.  PE_PARENT runs
 * stay as they are (criu reads them through the chain); PE_LAZY runs
 * without data (a lazy dump's: the source holds them) too.
 */
#ifndef MEMSPLICE_RESTORE_MARK_H
#define MEMSPLICE_RESTORE_MARK_H

#include <stdint.h>
#include <sys/types.h>

#include "restore/runs.h"

struct mark {
	struct runs lazy;	/* the runs marked, at their offsets in pages-ID.img */
	struct runs remote;	/* PE_LAZY runs without data: held at the source */
	unsigned long pages_id;
};

/*
 * mark_lazy - rewrite pagemap-@pid.img in @dirfd (by rename, so a crash
 * leaves the old or the new one); the lazy runs into @m.  0 or -errno,
 * said in one line.
 */
int mark_lazy(int dirfd, pid_t pid, struct mark *m);
void mark_free(struct mark *m);

#endif
