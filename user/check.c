// SPDX-License-Identifier: GPL-2.0
/*
 * memsplice check: what this kernel and this user can do, one line each,
 * with the reason when something is missing.
 */
#define LOG_PREFIX "check: "
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/capability.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "collect/pagemap.h"
#include "criu.h"
#include "log.h"
#include "memsplice.h"
#include "source/select.h"
#include "track/huge.h"
#include "track/uffd.h"
#include "util.h"

static void line(const char *what, bool ok, const char *detail)
{
	printf("%-22s %s%s%s\n", what, ok ? "yes" : "no", *detail ? ": " : "", detail);
}

static void check_pipe(void)
{
	char *s;
	char detail[128];

	if (read_file("/proc/sys/fs/pipe-max-size", &s, NULL)) {
		line("pipe-max-size", false, "cannot read /proc/sys/fs/pipe-max-size");
		return;
	}
	snprintf(detail, sizeof(detail), "%ld bytes", strtol(s, NULL, 10));
	free(s);
	line("pipe-max-size", true, detail);
}

/* what checkpoint's final step needs: a criu binary (whether it runs here is criu check's job) */
static void check_criu(void)
{
	char version[64], detail[128];
	int ret = criu_version(version, sizeof(version));

	if (ret == -ENOENT)
		snprintf(detail, sizeof(detail), "not in PATH: checkpoint needs --final none");
	else if (ret)
		snprintf(detail, sizeof(detail), "`criu --version` failed: %s", strerror(-ret));
	else
		snprintf(detail, sizeof(detail), "%s (`criu check` says whether it runs on this kernel)",
			 version);
	line("criu", !ret, detail);
}

static void check_caps(void)
{
	static const struct { cap_value_t cap; const char *name, *why; } caps[] = {
		{ CAP_SYS_PTRACE, "CAP_SYS_PTRACE", "needed to dump other users' processes" },
		{ CAP_SYS_ADMIN, "CAP_SYS_ADMIN", "needed to see PFNs (zero page) and map_files" },
		{ CAP_CHECKPOINT_RESTORE, "CAP_CHECKPOINT_RESTORE", "map_files without CAP_SYS_ADMIN" },
		{ CAP_SYS_RESOURCE, "CAP_SYS_RESOURCE", "pipes above pipe-max-size" },
	};
	cap_t c = cap_get_proc();

	for (size_t i = 0; i < ARRAY_SIZE(caps); i++) {
		cap_flag_value_t v = CAP_CLEAR;

		if (c)
			cap_get_flag(c, caps[i].cap, CAP_EFFECTIVE, &v);
		line(caps[i].name, v == CAP_SET, v == CAP_SET ? "" : caps[i].why);
	}
	cap_free(c);
}

int cmd_check(const char *method)
{
	struct kerndat kd;
	char why[256];
	int ret, usable = 0;

	for (size_t i = 0; i < nr_sources; i++) {
		char what[32];

		if (strcmp(method, "auto") && strcmp(method, sources[i]->name))
			continue;
		why[0] = '\0';
		ret = sources[i]->probe(why, sizeof(why));
		snprintf(what, sizeof(what), "method %s", sources[i]->name);
		line(what, !ret, why);
		usable += !ret;
	}
	ret = kerndat_probe(&kd);
	if (ret) {
		pr_errno(ret, "cannot probe pagemap");
		return ret;
	}
	line("soft-dirty", kd.soft_dirty,
	     kd.soft_dirty ? "--track-mem works" : "CONFIG_MEM_SOFT_DIRTY off: --track-mem refused");
	why[0] = '\0';
	ret = uffd_probe(why, sizeof(why));
	line("uffd-wp async", !ret, !ret ? "checkpoint --tracker uffd-wp: passes after the first "
	     "do not freeze the tree" : why);
	if (!ret) {
		ret = uffd_thp_kept();
		line("uffd-wp keeps THP", ret == 1, ret == 1 ? "a written huge page stays whole" :
		     !ret ? "a written huge page is split (--keep-huge-pages: dumped whole instead)" :
		     "cannot tell: no transparent huge page to be had here");
	}
	line("children file", kd.proc_children, kd.proc_children ? "" :
	     "no CONFIG_PROC_CHILDREN: children are found by scanning /proc");
	line("zero page PFN", kd.zero_pfn, kd.zero_pfn ? "" : "PFNs hidden (no CAP_SYS_ADMIN)");
	line("PAGEMAP_SCAN", kd.pagemap_scan, kd.pagemap_scan ?
	     "collection walks only populated page tables" :
	     "ioctl unknown (kernel < 6.7): collection reads pagemap page by page");
	check_pipe();
	check_criu();
	check_caps();
	if (!usable) {
		pr_err("no usable method%s%s", strcmp(method, "auto") ? " " : "",
		       strcmp(method, "auto") ? method : "");
		return -ENODEV;
	}
	return 0;
}
