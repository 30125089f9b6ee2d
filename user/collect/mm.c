// SPDX-License-Identifier: GPL-2.0
/* mm-PID.img: the address-space layout of one process and its VMAs. */
#define LOG_PREFIX "mm: "
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "dump.h"
#include "images/imgset.h"
#include "log.h"
#include "mm.pb-c.h"
#include "util.h"

/* /proc/PID/stat fields (1-based) in mm_entry order 1..11; brk is derived */
static const int stat_field[11] = { 26, 27, 45, 46, 28, 47, 0, 48, 49, 50, 51 };

static int read_stat_fields(pid_t pid, uint64_t out[11])
{
	unsigned long long f[52] = { 0 };
	char path[64], *buf, *p, *tok, *save;
	int ret, n;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	ret = read_file(path, &buf, NULL);
	if (ret)
		return ret == -ENOENT ? -ESRCH : ret;
	p = strrchr(buf, ')');
	if (!p) {
		free(buf);
		return -EINVAL;
	}
	/* field 3 (state) follows ") " */
	for (n = 3, tok = strtok_r(p + 2, " ", &save); tok && n < 52;
	     tok = strtok_r(NULL, " ", &save), n++)
		f[n] = strtoull(tok, NULL, 10);
	free(buf);
	for (int i = 0; i < 11; i++)
		out[i] = stat_field[i] ? f[stat_field[i]] : 0;
	return 0;
}

static int read_auxv(pid_t pid, struct task_mm *mm)
{
	char path[64], *buf;
	size_t len;
	int ret;

	snprintf(path, sizeof(path), "/proc/%d/auxv", pid);
	ret = read_file(path, &buf, &len);
	if (ret)
		return ret == -ENOENT ? -ESRCH : ret;
	mm->auxv = (uint64_t *)buf;
	mm->nr_auxv = len / sizeof(uint64_t);
	return 0;
}

int mm_collect(pid_t pid, struct task_mm *mm)
{
	int ret;

	memset(mm, 0, sizeof(*mm));
	ret = vma_list_collect(pid, &mm->vmas);
	if (!ret)
		ret = read_stat_fields(pid, mm->stat);
	if (!ret)
		ret = read_auxv(pid, mm);
	if (ret)
		return ret;
	/* mm_brk: the end of [heap] if there is one, else start_brk */
	mm->stat[6] = mm->stat[5];
	for (unsigned int i = 0; i < mm->vmas.nr; i++)
		if (mm->vmas.v[i].status & VMA_AREA_HEAP)
			mm->stat[6] = mm->vmas.v[i].end;
	return 0;
}

int mm_write(struct imgset *set, pid_t pid, const struct task_mm *mm)
{
	MmEntry me = MM_ENTRY__INIT;
	VmaEntry *ve, **vp;
	struct img img;
	int ret, ret2;

	ve = calloc(mm->vmas.nr, sizeof(*ve));
	vp = calloc(mm->vmas.nr, sizeof(*vp));
	if (!ve || !vp) {
		ret = -ENOMEM;
		goto out;
	}
	me.mm_start_code = mm->stat[0];
	me.mm_end_code = mm->stat[1];
	me.mm_start_data = mm->stat[2];
	me.mm_end_data = mm->stat[3];
	me.mm_start_stack = mm->stat[4];
	me.mm_start_brk = mm->stat[5];
	me.mm_brk = mm->stat[6];
	me.mm_arg_start = mm->stat[7];
	me.mm_arg_end = mm->stat[8];
	me.mm_env_start = mm->stat[9];
	me.mm_env_end = mm->stat[10];
	me.n_mm_saved_auxv = mm->nr_auxv;
	me.mm_saved_auxv = mm->auxv;
	for (unsigned int i = 0; i < mm->vmas.nr; i++) {
		const struct vma *v = &mm->vmas.v[i];

		vma_entry__init(&ve[i]);
		ve[i].start = v->start;
		ve[i].end = v->end;
		ve[i].pgoff = v->pgoff;
		ve[i].shmid = (v->flags & MAP_ANONYMOUS) && !(v->flags & MAP_SHARED) ? 0 : v->ino;
		ve[i].prot = v->prot;
		ve[i].flags = v->flags;
		ve[i].status = v->status;
		ve[i].fd = -1;
		vp[i] = &ve[i];
	}
	me.n_vmas = mm->vmas.nr;
	me.vmas = vp;

	ret = imgset_create(set, &img, IMG_MM, pid);
	if (ret)
		goto out;
	ret = img_write_entry(&img, &me.base);
	ret2 = img_close(&img);
	if (!ret)
		ret = ret2;
out:
	free(ve);
	free(vp);
	return ret;
}

void mm_free(struct task_mm *mm)
{
	vma_list_free(&mm->vmas);
	free(mm->auxv);
	mm->auxv = NULL;
}
