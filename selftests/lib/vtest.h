/* SPDX-License-Identifier: GPL-2.0 */
/* Shared helpers of the end-to-end tests: victims, running memsplice, reading images. */
#ifndef MEMSPLICE_VTEST_H
#define MEMSPLICE_VTEST_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#define MAX_VPIDS	32
#define MAX_VREGIONS	128

struct vregion {
	pid_t pid;
	char name[16];
	unsigned long addr, pages;
	uint64_t seed;
};

struct victim {
	pid_t pid;			/* the process we forked */
	FILE *report;			/* its fd 3 */
	pid_t pids[MAX_VPIDS];		/* every process that said "ready" */
	int nr_pids;
	struct vregion r[MAX_VREGIONS];
	int nr;
	char last[256];			/* last line read */
};

/*
 * victim_start - run selftests/lib/victim with @args (NULL-terminated) and
 * wait until @nr_ready processes and @nr_threads threads said ready.
 */
int victim_start(struct victim *v, const char *const *args, int nr_ready, int nr_threads);
/* victim_verify - ask @pid to check its own memory; 0 if it says ok */
int victim_verify(struct victim *v, pid_t pid);
int victim_verify_all(struct victim *v);
/* victim_dirty - ask @pid to dirty every 4th "anon" page and map a new region */
int victim_dirty(struct victim *v, pid_t pid);
void victim_kill(struct victim *v);
/*
 * victim_stop_all / victim_cont_all - group-stop every victim process
 * (SIGSTOP, waited for) and continue it.  A stopped victim runs no user code,
 * so its memory can be compared byte for byte with a dump taken meanwhile.
 */
int victim_stop_all(struct victim *v);
int victim_cont_all(struct victim *v);
struct vregion *victim_region(struct victim *v, pid_t pid, const char *name);
/* proc_state - the State letter of /proc/PID/status ('T' stopped, 't' traced), 0 if gone */
char proc_state(pid_t pid);
int proc_tracer(pid_t pid);

/*
 * run_memsplice - run the tool with @args (NULL-terminated), as @uid when
 * >= 0; stderr is captured into @err.  Returns the exit status, or
 * 128 + signal number when it was killed.
 */
int run_memsplice(const char *const *args, char *err, size_t errlen, int uid);
const char *memsplice_bin(void);
/* method_available - whether `memsplice check --method M` says yes */
bool method_available(const char *method);

/* a pagemap of an image set, resolved through its parent chain */
#define MAX_LEVELS	16
struct dump_view {
	int nr_levels;
	struct dv_level {
		struct dv_ent { uint64_t vaddr; uint32_t nr, flags; uint64_t off; } *e;
		int n;
		int pages_fd;
	} lv[MAX_LEVELS];
};

/* dump_view_open - load pagemap-@id (@shmem: pagemap-shmem-@id) of @dir and its parents */
int dump_view_open(struct dump_view *dv, const char *dir, unsigned long id, bool shmem);
void dump_view_close(struct dump_view *dv);
/* dump_view_page - the dumped bytes of page @addr: 1 found, 0 not dumped, -1 broken chain */
int dump_view_page(const struct dump_view *dv, uint64_t addr, void *buf);
/* dump_view_count - pages of the newest level in [start, end) having @flags */
unsigned long dump_view_count(const struct dump_view *dv, uint64_t start, uint64_t end,
			      unsigned int flags);
/* dump_view_total - all pages of the newest level having @flags */
unsigned long dump_view_total(const struct dump_view *dv, unsigned int flags);
/*
 * compare_with_mem - every present page of the newest level equals
 * /proc/@pid/mem; returns the number of pages compared, or -1 with the
 * first differing address in *bad.
 */
long compare_with_mem(const struct dump_view *dv, pid_t pid, uint64_t *bad);
/*
 * check_region - every page of @r is in the dump with the victim's pattern
 * (@gen_every4: pages i%4==0 carry seed+gen); returns pages checked or -1.
 */
long check_region(const struct dump_view *dv, const struct vregion *r, uint64_t offset,
		  int gen_every4, uint64_t *bad);
/* shmem_id_of - the one pagemap-shmem-ID.img in @dir; 0 if none or several */
unsigned long shmem_id_of(const char *dir);
/* crit_show_all - run crit show on every image of @dir; number that failed */
int crit_show_all(const char *dir, char *failed, size_t len);
/* stats_json_get - a number from --stats-json output */
long long stats_json_get(const char *path, const char *key);
/* make_dir - a fresh empty directory under TMPDIR */
char *make_dir(const char *tag);
void remove_dir(const char *dir);

#endif
