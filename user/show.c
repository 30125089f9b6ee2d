// SPDX-License-Identifier: GPL-2.0
/* memsplice show DIR: a human summary of an image set. */
#define LOG_PREFIX "show: "
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "collect/parent.h"
#include "collect/vma.h"
#include "images/image.h"
#include "images/pagemap-entry.h"
#include "inventory.pb-c.h"
#include "log.h"
#include "memsplice.h"
#include "mm.pb-c.h"
#include "pstree.pb-c.h"
#include "sink/sink.h"
#include "stats.pb-c.h"
#include "util.h"

static const char *status_name(uint32_t st)
{
	if (st & VMA_AREA_VDSO) return "vdso";
	if (st & VMA_AREA_VVAR) return "vvar";
	if (st & VMA_AREA_STACK) return "stack";
	if (st & VMA_AREA_HEAP) return "heap";
	if (st & VMA_AREA_SYSVIPC) return "sysv-shm";
	if (st & VMA_ANON_SHARED) return "anon-shared";
	if (st & VMA_ANON_PRIVATE) return "anon-private";
	if (st & VMA_FILE_PRIVATE) return "file-private";
	if (st & VMA_FILE_SHARED) return "file-shared";
	return "other";
}

static bool image_absent(int dirfd, enum image_type type, uint32_t pid)
{
	char name[64];

	return !img_name(type, pid, name, sizeof(name)) && faccessat(dirfd, name, F_OK, 0) &&
	       errno == ENOENT;
}

/*
 * A zombie is in pstree.img (as CRIU lists it) with no memory images: only
 * one of mm and pagemap missing is a broken set.
 */
static bool is_zombie_entry(int dirfd, uint32_t pid)
{
	return image_absent(dirfd, IMG_MM, pid) && image_absent(dirfd, IMG_PAGEMAP, pid);
}

static int show_mm(int dirfd, uint32_t pid)
{
	ProtobufCMessage *msg;
	struct img img;
	MmEntry *mm;
	int ret;

	ret = img_open(&img, dirfd, IMG_MM, pid);
	if (ret) {
		printf("    mm-%u.img: %s\n", pid, strerror(-ret));
		return ret;
	}
	ret = img_read_entry(&img, &mm_entry__descriptor, &msg);
	img_close(&img);
	if (ret <= 0) {
		printf("    mm-%u.img: corrupt\n", pid);
		return ret ? ret : -EBADMSG;
	}
	mm = (MmEntry *)msg;
	printf("    vmas: %zu\n", mm->n_vmas);
	for (size_t i = 0; i < mm->n_vmas; i++) {
		VmaEntry *v = mm->vmas[i];

		printf("      %012lx-%012lx %c%c%c %-12s %7lu KiB\n",
		       (unsigned long)v->start, (unsigned long)v->end,
		       v->prot & PROT_READ ? 'r' : '-', v->prot & PROT_WRITE ? 'w' : '-',
		       v->prot & PROT_EXEC ? 'x' : '-', status_name(v->status),
		       (unsigned long)((v->end - v->start) >> 10));
	}
	mm_entry__free_unpacked(mm, NULL);
	return 0;
}

static int show_pagemap(int dirfd, enum image_type type, unsigned long id, const char *label)
{
	unsigned long present = 0, parent = 0, entries = 0;
	ProtobufCMessage *msg;
	struct img img;
	int ret;

	ret = img_open(&img, dirfd, type, id);
	if (ret) {
		printf("    %s: %s\n", label, strerror(-ret));
		return ret;
	}
	ret = img_read_entry(&img, &pagemap_head__descriptor, &msg);
	if (ret <= 0) {
		ret = ret ? ret : -EBADMSG;
		goto out;
	}
	printf("    %s -> pages-%u.img\n", label, ((PagemapHead *)msg)->pages_id);
	protobuf_c_message_free_unpacked(msg, NULL);
	while ((ret = img_read_entry(&img, &pagemap_entry__descriptor, &msg)) > 0) {
		PagemapEntry *pe = (PagemapEntry *)msg;
		uint32_t fl = pe->has_flags ? pe->flags : pe->in_parent ? PE_PARENT : PE_PRESENT;
		uint64_t nr = pagemap_entry_pages(pe);

		printf("      %012lx %6lu pages %s%s%s\n", (unsigned long)pe->vaddr, (unsigned long)nr,
		       fl & PE_PRESENT ? "present " : "", fl & PE_PARENT ? "parent " : "",
		       fl & PE_LAZY ? "lazy" : "");
		if (fl & PE_PARENT)
			parent += nr;
		else
			present += nr;
		entries++;
		pagemap_entry__free_unpacked(pe, NULL);
	}
	printf("      %lu entries: %lu pages present (%lu KiB), %lu in parent\n",
	       entries, present, present * 4, parent);
out:
	img_close(&img);
	if (ret < 0)
		printf("    %s: corrupt (%s)\n", label, strerror(-ret));
	return ret < 0 ? ret : 0;
}

static void show_stats(int dirfd)
{
	ProtobufCMessage *msg;
	struct img img;
	StatsEntry *se;

	if (img_open(&img, dirfd, IMG_STATS, 0))
		return;
	if (img_read_entry(&img, &stats_entry__descriptor, &msg) > 0) {
		se = (StatsEntry *)msg;
		if (se->dump)
			printf("stats: freezing %u us, frozen %u us, memdump %u us, memwrite %u us\n"
			       "       pages scanned %lu, skipped (parent) %lu, written %lu\n",
			       se->dump->freezing_time, se->dump->frozen_time,
			       se->dump->memdump_time, se->dump->memwrite_time,
			       (unsigned long)se->dump->pages_scanned,
			       (unsigned long)se->dump->pages_skipped_parent,
			       (unsigned long)se->dump->pages_written);
		stats_entry__free_unpacked(se, NULL);
	}
	img_close(&img);
}

static void show_chain(int dirfd)
{
	char link[4096];
	int fd = dup(dirfd);

	for (int depth = 0; fd >= 0 && depth < 64; depth++) {
		ssize_t n = readlinkat(fd, "parent", link, sizeof(link) - 1);
		int next;

		if (n < 0)
			break;
		link[n] = '\0';
		next = openat(fd, "parent", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		printf("%*sparent: %s%s\n", 2 * depth, "", link,
		       next < 0 ? " (missing)" :
		       faccessat(next, "inventory.img", F_OK, 0) ? " (incomplete)" : "");
		close(fd);
		fd = next;
	}
	if (fd >= 0)
		close(fd);
}

static int show_shmem(int dirfd)
{
	struct dirent *de;
	DIR *d = fdopendir(dup(dirfd));
	int ret = 0;

	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		unsigned long id;
		char label[64];

		if (sscanf(de->d_name, "pagemap-shmem-%lu.img", &id) != 1)
			continue;
		printf("shared segment %lu:\n", id);
		snprintf(label, sizeof(label), "pagemap-shmem-%lu.img", id);
		ret = show_pagemap(dirfd, IMG_SHMEM_PAGEMAP, id, label) ?: ret;
	}
	closedir(d);
	return ret;
}

int cmd_show(const char *dir)
{
	ProtobufCMessage *msg;
	InventoryEntry *inv;
	struct img img;
	int dirfd, ret, bad = 0;

	dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0) {
		ret = -errno;
		pr_err("%s: %s", dir, strerror(-ret));
		return ret;
	}
	ret = read_inventory(dirfd, &inv);
	if (ret) {
		pr_err("%s is not a complete image set (inventory.img: %s)", dir,
		       ret == -ENOENT ? "missing" : strerror(-ret));
		close(dirfd);
		return ret;
	}
	printf("images: %s\n", dir);
	printf("inventory: version %u, %s%s, dumped at uptime %.3f s\n", inv->img_version,
	       inv->has_pre_dump_mode ? "pre-dump" : "dump",
	       !inv->has_pre_dump_mode ? "" : inv->pre_dump_mode == 1 ? " (splice)" : " (read)",
	       inv->has_dump_uptime ? inv->dump_uptime / 1e6 : 0.0);
	inventory_entry__free_unpacked(inv, NULL);
	show_chain(dirfd);

	ret = img_open(&img, dirfd, IMG_PSTREE, 0);
	if (ret) {
		pr_err("%s/pstree.img: %s", dir, strerror(-ret));
		close(dirfd);
		return ret;
	}
	while ((ret = img_read_entry(&img, &pstree_entry__descriptor, &msg)) > 0) {
		PstreeEntry *pe = (PstreeEntry *)msg;
		char label[64];

		printf("task %u: ppid %u pgid %u sid %u, %zu thread%s:", pe->pid, pe->ppid,
		       pe->pgid, pe->sid, pe->n_threads, pe->n_threads == 1 ? "" : "s");
		for (size_t i = 0; i < pe->n_threads; i++)
			printf(" %u", pe->threads[i]);
		printf("\n");
		if (is_zombie_entry(dirfd, pe->pid)) {
			printf("    no memory images: a zombie\n");
		} else {
			bad |= show_mm(dirfd, pe->pid);
			snprintf(label, sizeof(label), "pagemap-%u.img", pe->pid);
			bad |= show_pagemap(dirfd, IMG_PAGEMAP, pe->pid, label);
		}
		pstree_entry__free_unpacked(pe, NULL);
	}
	img_close(&img);
	if (ret < 0)
		pr_err("%s/pstree.img is corrupt", dir);
	bad |= show_shmem(dirfd);
	show_stats(dirfd);
	close(dirfd);
	if (!ret && bad)
		pr_err("%s: some images are missing or corrupt", dir);
	return ret < 0 ? ret : bad ? -EBADMSG : 0;
}
