// SPDX-License-Identifier: GPL-2.0
/*
 * Parse /proc/PID/maps.  Classification follows what a restorer needs:
 * private anonymous and private file pages belong to the task, shared
 * anonymous (and SysV) segments are dumped once per segment, shared file
 * mappings live in their file (hugetlbfs memory: see vma_mark_hugetlb()).
 * Of the kernel-provided areas, vvar and vsyscall carry no pages; the vDSO
 * is dumped whole, as CRIU does.
 */
#define LOG_PREFIX "vma: "
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <linux/magic.h>

#include "collect/vma.h"
#include "log.h"
#include "util.h"

static void vma_classify(struct vma *v, bool shared, const char *path)
{
	v->flags = shared ? MAP_SHARED : MAP_PRIVATE;

	if (!strcmp(path, "[vdso]")) {
		v->status = VMA_AREA_REGULAR | VMA_AREA_VDSO;
		v->flags |= MAP_ANONYMOUS;
	} else if (!strncmp(path, "[vvar", 5)) {
		v->status = VMA_AREA_REGULAR | VMA_AREA_VVAR;
		v->flags |= MAP_ANONYMOUS;
	} else if (!strcmp(path, "[vsyscall]")) {
		v->status = VMA_AREA_VSYSCALL;
	} else if (!strncmp(path, "/SYSV", 5)) {
		v->status = VMA_AREA_REGULAR | VMA_AREA_SYSVIPC;
	} else if (shared && (!strcmp(path, "/dev/zero (deleted)") ||
			      !strcmp(path, "/dev/zero") || (!*path && v->ino))) {
		v->status = VMA_AREA_REGULAR | VMA_ANON_SHARED;
		v->flags |= MAP_ANONYMOUS;
	} else if (path[0] == '/' && v->ino) {
		v->status = VMA_AREA_REGULAR |
			    (shared ? VMA_FILE_SHARED : VMA_FILE_PRIVATE);
	} else {
		/* no path, [heap], [stack], [anon:name] */
		v->status = VMA_AREA_REGULAR | VMA_ANON_PRIVATE;
		v->flags |= MAP_ANONYMOUS;
		if (!strcmp(path, "[heap]"))
			v->status |= VMA_AREA_HEAP;
		if (!strcmp(path, "[stack]")) {
			v->status |= VMA_AREA_STACK;
			v->flags |= MAP_GROWSDOWN;
		}
	}
}

/*
 * hugetlbfs memory, told as criu tells it (criu/proc_parse.c: the mapped
 * file's device is one of hugetlbfs's): the flags get MAP_HUGETLB and the
 * page size's MAP_HUGE_* bits.  MAP_HUGETLB memory is a file of the kernel's
 * own, which maps shows as "/anon_hugepage (deleted)": it is anonymous
 * memory, private or a shared segment named by its inode (criu 3.18 and
 * later record it so; 3.17 calls it a memfd, which dumps the same pages).
 */
#define ANON_HUGEPAGE	"/anon_hugepage"

static void vma_mark_hugetlb(struct vma *v, const char *path, unsigned long hpage)
{
	bool shared = v->flags & MAP_SHARED;

	v->hugetlb = true;
	v->hpage = hpage;
	v->flags |= MAP_HUGETLB;
	if (hpage && !(hpage & (hpage - 1)))
		v->flags |= (unsigned int)__builtin_ctzl(hpage) << MAP_HUGE_SHIFT;
	if (!strncmp(path, ANON_HUGEPAGE, strlen(ANON_HUGEPAGE))) {
		v->status = VMA_AREA_REGULAR | (shared ? VMA_ANON_SHARED : VMA_ANON_PRIVATE);
		v->flags |= MAP_ANONYMOUS;
	}
}

/*
 * What the mapped file is, for what maps cannot say:
 * - VM_IO / VM_PFNMAP, without reading smaps (whose VmFlags CRIU uses, but
 *   which walks every page table for its counters: as slow as pagemap, and
 *   done while frozen): such mappings come from character devices, whose
 *   drivers map device memory with remap_pfn_range().  /dev/zero is the
 *   exception (anonymous memory).
 * - a file without a name left (memfd, unlinked): a shared mapping's pages
 *   live nowhere else.
 * - a file of hugetlbfs (its statfs): MAP_HUGETLB, SHM_HUGETLB, MFD_HUGETLB
 *   memory or a hugetlbfs file.
 * map_files names the mapped file even when its path is not ours to see;
 * without access to it, the path from maps (and "/anon_hugepage" for what
 * MAP_HUGETLB made, whose page size is then not known).
 */
static void vma_inspect_file(pid_t pid, struct vma *v, const char *path)
{
	const char *src = path;
	struct statfs sfs;
	struct stat st;
	char name[96];

	if (!strcmp(path, "[uprobes]")) {
		v->io = true;
		return;
	}
	if (path[0] != '/' || !v->ino || (v->status & VMA_ANON_SHARED) ||
	    !strncmp(path, "/dev/zero", 9))
		return;
	snprintf(name, sizeof(name), "/proc/%d/map_files/%lx-%lx", pid, v->start, v->end);
	if (!stat(name, &st))
		src = name;
	else if (stat(path, &st))
		src = NULL;
	if (src && !statfs(src, &sfs) && sfs.f_type == HUGETLBFS_MAGIC)
		vma_mark_hugetlb(v, path, sfs.f_bsize);
	else if (!src && !strncmp(path, ANON_HUGEPAGE, strlen(ANON_HUGEPAGE)))
		vma_mark_hugetlb(v, path, 0);
	if (!src)
		return;
	v->io = S_ISCHR(st.st_mode);
	v->unlinked = S_ISREG(st.st_mode) && !st.st_nlink;
	v->memfd = v->unlinked && !strncmp(path, "/memfd:", 7);
}

static int vma_parse_line(pid_t pid, char *line, struct vma *v)
{
	char perms[5], *path;
	unsigned int dmaj, dmin;
	int pos = 0;

	memset(v, 0, sizeof(*v));
	if (sscanf(line, "%lx-%lx %4s %lx %x:%x %lu %n", &v->start, &v->end,
		   perms, &v->pgoff, &dmaj, &dmin, &v->ino, &pos) < 7)
		return -EINVAL;
	path = line + pos;
	path[strcspn(path, "\n")] = '\0';

	if (perms[0] == 'r')
		v->prot |= PROT_READ;
	if (perms[1] == 'w')
		v->prot |= PROT_WRITE;
	if (perms[2] == 'x')
		v->prot |= PROT_EXEC;
	vma_classify(v, perms[3] == 's', path);
	vma_inspect_file(pid, v, path);
	return 0;
}

int vma_list_collect(pid_t pid, struct vma_list *list)
{
	char path[64], *buf, *line, *save;
	unsigned int cap = 64;
	int ret;

	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	ret = read_file(path, &buf, NULL);
	if (ret)
		return ret == -ENOENT ? -ESRCH : ret;

	list->nr = 0;
	list->v = malloc(cap * sizeof(*list->v));
	if (!list->v) {
		ret = -ENOMEM;
		goto out;
	}
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		struct vma v;

		if (vma_parse_line(pid, line, &v)) {
			ret = -EBADMSG;	/* the caller says whose maps */
			goto err_free;
		}
		if (v.status & VMA_AREA_VSYSCALL)
			continue;
		if (list->nr == cap) {
			struct vma *n = realloc(list->v, 2 * cap * sizeof(*n));

			if (!n) {
				ret = -ENOMEM;
				goto err_free;
			}
			list->v = n;
			cap *= 2;
		}
		list->v[list->nr++] = v;
	}
	ret = 0;
	goto out;

err_free:
	vma_list_free(list);
out:
	free(buf);
	return ret;
}

void vma_list_free(struct vma_list *list)
{
	free(list->v);
	list->v = NULL;
	list->nr = 0;
}

bool vma_has_private_pages(const struct vma *v)
{
	if (v->io || (v->status & (VMA_AREA_VVAR | VMA_AREA_VSYSCALL)))
		return false;
	if (v->status & VMA_AREA_VDSO)
		return true;
	return v->status & (VMA_ANON_PRIVATE | VMA_FILE_PRIVATE);
}

/*
 * CRIU dumps the vDSO whole, whatever pagemap says (its restore may need
 * to build a proxy from it), and a final `criu dump --track-mem` marks its
 * pages PE_PARENT: a parent that lacks them fails that dump with "Missing
 * ... in parent pagemap".
 */
bool vma_dump_whole(const struct vma *v)
{
	return v->status & VMA_AREA_VDSO;
}

bool vma_is_shmem(const struct vma *v)
{
	if (v->io)
		return false;
	return (v->status & (VMA_ANON_SHARED | VMA_AREA_SYSVIPC)) ||
	       ((v->memfd || (v->hugetlb && v->unlinked)) && (v->status & VMA_FILE_SHARED));
}
