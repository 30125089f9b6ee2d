/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Huge pages under userfaultfd write-protection: whether this kernel keeps
 * a write-protected transparent huge page whole when it is written.
 *
 * A stock kernel resolves an async uffd-wp write fault on a PMD-mapped THP
 * by splitting the PMD (mm/memory.c, wp_huge_pmd()): the page written is
 * then reported alone, and the THP is lost for as long as the range stays
 * protected (khugepaged does not collapse protected PTEs).  With
 * kernel/patches/uffd-wp-thp/ the fault drops the protection of the whole
 * PMD instead: the THP stays, and PAGEMAP_SCAN reports its 2 MiB as
 * written.  No feature bit tells the two apart, so uffd_thp_kept() tries
 * it on a THP of memsplice's own.
 */
#ifndef MEMSPLICE_TRACK_HUGE_H
#define MEMSPLICE_TRACK_HUGE_H

/*
 * uffd_thp_kept - 1: a write to a protected THP keeps it whole; 0: the
 * kernel splits it; -errno: cannot tell (-EOPNOTSUPP: no THP to be had
 * here, THP off or memory fragmented; or no async write-protection).
 */
int uffd_thp_kept(void);

#endif
