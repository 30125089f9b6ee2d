/* SPDX-License-Identifier: GPL-2.0 */
/* The VMAs of one process, parsed from /proc/PID/maps and classified as CRIU does. */
#ifndef MEMSPLICE_VMA_H
#define MEMSPLICE_VMA_H

#include <stdbool.h>
#include <sys/types.h>

/* vma_entry.status bits (CRIU's VMA_AREA_* / VMA_*) */
#define VMA_AREA_REGULAR	(1u << 0)
#define VMA_AREA_STACK		(1u << 1)
#define VMA_AREA_VSYSCALL	(1u << 2)
#define VMA_AREA_VDSO		(1u << 3)
#define VMA_AREA_HEAP		(1u << 5)
#define VMA_FILE_PRIVATE	(1u << 6)
#define VMA_FILE_SHARED		(1u << 7)
#define VMA_ANON_SHARED		(1u << 8)
#define VMA_ANON_PRIVATE	(1u << 9)
#define VMA_AREA_SYSVIPC	(1u << 10)
#define VMA_AREA_VVAR		(1u << 12)

struct vma {
	unsigned long start, end;
	unsigned long pgoff;	/* file offset in bytes */
	unsigned long ino;	/* inode: the shmid of a shared anonymous segment */
	int prot;		/* PROT_* */
	unsigned int flags;	/* MAP_* */
	unsigned int status;	/* VMA_* */
	/*
	 * Device memory (VM_IO / VM_PFNMAP: a character device's mapping,
	 * [uprobes]): no page of it can be read like memory nor restored;
	 * it is listed in mm-PID.img and dumped like vvar, i.e. not at all.
	 */
	bool io;
	bool unlinked;		/* a regular file without a name left (deleted, memfd) */
	bool memfd;		/* memfd_create()'s: shared, dumped like a shared segment */
	/*
	 * hugetlbfs memory (MAP_HUGETLB, SHM_HUGETLB, MFD_HUGETLB, a hugetlbfs
	 * file): soft-dirty never marks a write to it, so it is never taken
	 * from a parent; @hpage is its page size (0: not known).
	 */
	bool hugetlb;
	unsigned long hpage;
};

struct vma_list {
	struct vma *v;
	unsigned int nr;
};

/* vma_list_collect - parse /proc/@pid/maps; 0 or -errno (-ESRCH: gone) */
int vma_list_collect(pid_t pid, struct vma_list *list);
void vma_list_free(struct vma_list *list);

/* vma_has_private_pages - whether pages of this VMA go to the task's pagemap */
bool vma_has_private_pages(const struct vma *v);
/* vma_dump_whole - whether every page is dumped, present or not (the vDSO) */
bool vma_dump_whole(const struct vma *v);
/*
 * vma_is_shmem - whether pages of this VMA go to a shared segment's pagemap
 * (shared anonymous memory, SysV shm, a memfd mapped shared, shared
 * MAP_HUGETLB memory and any unlinked hugetlbfs file mapped shared)
 */
bool vma_is_shmem(const struct vma *v);

#endif
