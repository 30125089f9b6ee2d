// SPDX-License-Identifier: GPL-2.0
/*
 * Pre-dump rounds side by side: `memsplice checkpoint --final none` with
 * each tracker on the same kind of victim (selftests/lib/writer --rate 1
 * --nothp: 1% of its pages written a second, at random, no huge page),
 * medians of N runs.
 *
 *   rounds [-n RUNS] [-p PASSES] [-s MIB[,MIB...]] [-V sparse|thp|shared] TRACKER...
 *   TRACKER: uffd-wp | uffd-wp:keep (--keep-huge-pages) | soft-dirty |
 *   soft-dirty:walk (without PAGEMAP_SCAN) | criu (criu pre-dump
 *   --track-mem, each on the one before; its stalls count from the end of
 *   its first pre-dump, copy included)
 *   -V sparse: MIB reserved, one page in 16 MiB written;
 *   -V thp:    MIB in huge pages (MADV_HUGEPAGE), the writes (1% of all
 *              its pages a second) confined to its first 2%;
 *   -V shared: 16 MiB private written as above, and MIB of shared
 *              anonymous memory that nobody writes after set-up.
 *
 * Per run, from checkpoint's table and the victim: pass 1's pages and
 * frozen time; the median frozen time, pages written and duration of
 * passes 2..PASSES; the longest stall the victim saw from the end of pass
 * 1's freeze to the end (the longest time between two turns of its loop: a
 * freeze, a write fault); the share of its memory in huge pages at the
 * start still in huge pages at the end (AnonHugePages).  Uses the test
 * build (selftests/memsplice-test) for its hook at the end of pass 1's
 * freeze.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"
#include "procfile.h"
#include "vtest.h"
#include "wctl.h"

#define MAX_PASSES	16

static bool available(const char *tracker)
{
	if (!strcmp(tracker, "criu"))
		return !system("criu check >/dev/null 2>&1");
	return check_says_yes(strncmp(tracker, "soft-dirty", 10) ? "uffd-wp async" : "soft-dirty");
}

static int restart_stall(const struct writer *w);

/* pass 1 has resumed the tree: its stalls count from here */
static int reset_stall(struct ckpt_run *r, int nth)
{
	return nth == 1 ? restart_stall(r->arg) : 0;
}

struct sample {
	double first_pages, first_ms, frozen_ms, pages, pass_ms, stall_ms, huge_kept;
};

/* the passes after the first: medians of @n, and the victim's longest stall */
static void later_passes(struct sample *s, const struct writer *w, double *frozen,
			 double *pages, double *ms, int n)
{
	s->frozen_ms = median(frozen, n);
	s->pages = median(pages, n);
	s->pass_ms = median(ms, n);
	s->stall_ms = writer_word(w, w->gap_addr) / 1e6;
}

static int run_once(const char *tracker, const struct writer *w, int passes, struct sample *s)
{
	char n[16], *dir = make_dir("rounds");
	const char *args[] = { "--tracker", "soft-dirty", "--final", "none", "--min-passes", n,
			       "--max-passes", n, NULL, NULL };
	struct ckpt_run r = { .hook_env = "MEMSPLICE_TEST_THAWED_FD", .on_hook = reset_stall,
			      .arg = (void *)w, .pid = w->pid };
	struct ckpt_row rows[MAX_PASSES + 1];
	double fr[MAX_PASSES], pg[MAX_PASSES], ms[MAX_PASSES];
	int nr, ret = -1;

	if (!dir)
		return -1;
	snprintf(n, sizeof(n), "%d", passes);
	if (!strncmp(tracker, "uffd-wp", 7))
		args[1] = "uffd-wp";
	if (!strcmp(tracker, "uffd-wp:keep"))
		args[8] = "--keep-huge-pages";
	if (!strcmp(tracker, "soft-dirty:walk"))
		setenv("MEMSPLICE_TEST_HIDE_PAGEMAP_SCAN", "1", 1);
	if (ckpt_run(&r, dir, args) || !WIFEXITED(r.status) || WEXITSTATUS(r.status)) {
		fprintf(stderr, "rounds: %s: %s%s", tracker, r.why, r.err);
		goto out;
	}
	nr = ckpt_rows(r.out, rows, MAX_PASSES + 1);
	if (nr != passes)
		goto out;
	for (int i = 1; i < nr; i++) {
		fr[i - 1] = rows[i].frozen_ms;
		pg[i - 1] = rows[i].written;
		ms[i - 1] = rows[i].took_ms;
	}
	s->first_pages = rows[0].written;
	s->first_ms = rows[0].frozen_ms;
	later_passes(s, w, fr, pg, ms, nr - 1);
	ret = 0;
out:
	unsetenv("MEMSPLICE_TEST_HIDE_PAGEMAP_SCAN");
	remove_dir(dir);
	free(dir);
	return ret;
}

/* pass 1 is over: once the victim runs again, its stalls count */
static int restart_stall(const struct writer *w)
{
	if (!writer_runs(w))	/* its first turn after the freeze is behind it */
		return -1;
	return writer_set_word(w, w->gap_addr, 0);
}

/* criu's own rounds: criu pre-dump --track-mem, each on top of the one before */
static int run_criu_once(const struct writer *w, int passes, struct sample *s)
{
	char *dir = make_dir("rounds"), sub[512], prev[16], pid[16], out[512];
	double fr[MAX_PASSES], pg[MAX_PASSES], ms[MAX_PASSES], parent;
	int ret = -1;

	if (!dir)
		return -1;
	snprintf(pid, sizeof(pid), "%d", w->pid);
	for (int k = 1; k <= passes; k++) {
		const char *argv[] = { "criu", "pre-dump", "-t", pid, "-D", sub, "--shell-job",
				       "--track-mem", "-o", "criu.log",
				       k > 1 ? "--prev-images-dir" : NULL, prev, NULL };
		double t0, frozen, pages;

		snprintf(sub, sizeof(sub), "%s/%d", dir, k);
		snprintf(prev, sizeof(prev), "../%d", k - 1);
		if (mkdir(sub, 0700))
			goto out;
		t0 = now_ms();
		if (run_cmd(argv, out, sizeof(out)) ||
		    stats_read_dir(sub, &frozen, &pages, &parent)) {
			fprintf(stderr, "rounds: criu pre-dump %d failed: %s\n", k, out);
			goto out;
		}
		if (k == 1) {
			s->first_pages = pages;
			s->first_ms = frozen;
			if (restart_stall(w))
				goto out;
			continue;
		}
		fr[k - 2] = frozen;
		pg[k - 2] = pages;
		ms[k - 2] = now_ms() - t0;
	}
	later_passes(s, w, fr, pg, ms, passes - 1);
	ret = 0;
out:
	remove_dir(dir);
	free(dir);
	return ret;
}

static void bench(const char *label, const char *const *wargs, const char *tracker, int runs,
		  int passes)
{
	double v[6][64], kept = -1;
	struct writer w;
	long huge;
	int ok = 0;

	if (!available(tracker)) {
		printf("%-6s %-16s %s\n", label, tracker, "(not on this kernel)");
		return;
	}
	if (writer_start(&w, wargs, -1)) {
		fprintf(stderr, "rounds: cannot start the victim\n");
		return;
	}
	huge = anon_huge_kib(w.pid);
	for (int i = 0; i < runs; i++) {
		struct sample s = { 0 };

		if (strcmp(tracker, "criu") ? run_once(tracker, &w, passes, &s) :
					      run_criu_once(&w, passes, &s))
			continue;
		v[0][ok] = s.first_ms;
		v[1][ok] = s.frozen_ms;
		v[2][ok] = s.stall_ms;
		v[3][ok] = s.pages;
		v[4][ok] = s.pass_ms;
		v[5][ok] = s.first_pages;
		ok++;
	}
	if (huge > 0)	/* over all the runs */
		kept = 100.0 * anon_huge_kib(w.pid) / huge;
	writer_stop(&w);
	if (ok < runs) {
		printf("%-6s %-16s %s\n", label, tracker, "(failed)");
		return;
	}
	printf("%-6s %-16s %10.0f %10.1f %10.2f %10.2f %10.0f %10.1f", label, tracker,
	       median(v[5], ok), median(v[0], ok), median(v[1], ok), median(v[2], ok),
	       median(v[3], ok), median(v[4], ok));
	if (kept >= 0)
		printf(" %9.0f%%", kept);
	printf("\n");
	fflush(stdout);
}

int main(int argc, char **argv)
{
	unsigned long sizes[8] = { 64, 1024 };
	int nsizes = 2, runs = 5, passes = 6, opt;
	const char *variant = "";

	while ((opt = getopt(argc, argv, "n:p:s:V:")) != -1) {
		switch (opt) {
		case 'n': runs = atoi(optarg); break;
		case 'p': passes = atoi(optarg); break;
		case 's': nsizes = parse_sizes(optarg, sizes, 8); break;
		case 'V':
			variant = optarg;
			if (strcmp(variant, "sparse") && strcmp(variant, "thp") &&
			    strcmp(variant, "shared"))
				goto usage;
			break;
		default:
			goto usage;
		}
	}
	if (optind >= argc || runs < 1 || runs > 64 || passes < 2 || passes > MAX_PASSES)
		goto usage;
	printf("pre-dump rounds (%d passes) of a victim writing 1%% of its pages a second%s, "
	       "median of %d runs\n", passes,
	       !strcmp(variant, "sparse") ? " (sparse: 1 page in 16 MiB)" :
	       !strcmp(variant, "thp") ? " (in huge pages, writes in its first 2%)" :
	       !strcmp(variant, "shared") ? " (16 MiB; SIZE is an idle shared segment)" : "",
	       runs);
	printf("%-6s %-16s %10s %10s %10s %10s %10s %10s %10s\n", "size", "tracker",
	       "1st pages", "1st frozen", "frozen ms", "stall ms", "pages", "pass ms",
	       "huge kept");
	for (int si = 0; si < nsizes; si++) {
		char mib[32], label[24];
		/* 4 KiB pages: both trackers then see single pages (see benchmarks.md) */
		const char *plain[] = { "--rate", "1", "--nothp", "--mib", mib,
					!strcmp(variant, "sparse") ? "--sparse" : NULL, NULL };
		const char *thp[] = { "--rate", "1", "--part", "2", "--huge", "--mib", mib, NULL };
		const char *shared[] = { "--rate", "1", "--nothp", "--mib", "16", "--shared-mib",
					 mib, NULL };
		const char *const *wargs = !strcmp(variant, "thp") ? thp :
					   !strcmp(variant, "shared") ? shared : plain;

		snprintf(mib, sizeof(mib), "%lu", sizes[si]);
		if (sizes[si] >= 1024 && !(sizes[si] % 1024))
			snprintf(label, sizeof(label), "%luG", sizes[si] >> 10);
		else
			snprintf(label, sizeof(label), "%luM", sizes[si]);
		for (int ti = optind; ti < argc; ti++)
			bench(label, wargs, argv[ti], runs, passes);
	}
	return 0;
usage:
	fprintf(stderr, "usage: rounds [-n RUNS] [-p PASSES] [-s MIB,...] [-V sparse|thp|shared] "
		"uffd-wp|uffd-wp:keep|soft-dirty|soft-dirty:walk|criu...\n");
	return 2;
}
