// SPDX-License-Identifier: GPL-2.0
/*
 * The end of a migration, side by side: one writer (selftests/lib/writer
 * --rate 1 --nothp: 1% of its pages written a second, at random) moved from
 * one network namespace to another (lib/twohosts.h) by each way in one run,
 * medians of RUNS.
 *
 *   lazy [-n RUNS] [-s MIB[,MIB...]] WAY...
 *   WAY: criu       criu pre-dump twice (--track-mem), criu dump on them,
 *                   criu restore
 *        criu-lazy  criu dump --lazy-pages (its own page server), criu
 *                   lazy-pages + criu restore --lazy-pages
 *        ms         memsplice checkpoint (2 passes, then criu dump), criu restore
 *        ms-lazy    memsplice checkpoint --max-passes 0 --lazy-pages, criu
 *                   lazy-pages + criu restore --lazy-pages
 *        ms-hybrid  memsplice checkpoint --max-passes 2 --lazy-pages, the same
 *        ms-lazy-restore  as ms-lazy, with memsplice restore --page-server in
 *                   the place of criu lazy-pages + criu restore --lazy-pages
 *        ms-ps      memsplice checkpoint --page-server (2 passes, then criu
 *                   dump) to one `criu page-server` per pass at the
 *                   destination, each on the one before; the final images
 *                   copied there; criu restore through that chain
 *        ms-receive memsplice receive at the destination; memsplice checkpoint
 *                   --page-server --receiver (the same passes) to it; criu
 *                   restore of its flat set (no parent chain)
 *        ms-restore the same, then memsplice restore of the flat set (criu
 *                   restore --lazy-pages, memsplice filling the memory)
 *
 * The destination reads the source's images directory (one machine): what
 * a network copy of it would add is not counted, except for ms-ps and
 * ms-receive, whose pages cross the two namespaces' veth.  Per run:
 *   downtime   the longest time the writer did not run, by its own
 *              CLOCK_REALTIME (criu restores it into a time namespace whose
 *              monotonic clock would hide the gap): the final dump's freeze
 *              to the restored writer's first turn;
 *   all-in     from the start of the migration (the first command at the
 *              source) until the destination holds every page: the restore's
 *              end, or criu lazy-pages' (memsplice restore's) end for the
 *              lazy ways (and ms-restore);
 *   pinned     bytes in the pipes of the process that serves the lazy pages
 *              (criu dump's page pipes; memsplice's), once the destination
 *              may start;
 *   cpu        user + system time of the source's commands (criu's, or
 *              memsplice's with the criu it runs);
 *   restore    criu restore's own restore_time (stats-restore), -1: none;
 *   dst        the peak RSS of memsplice receive and of memsplice restore's
 *              daemon, the larger (-1: neither ran).
 * Needs criu that runs (the 6.1 guest) and root; run from the top of the
 * tree (bench/bench.sh does).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"
#include "twohosts.h"
#include "vtest.h"
#include "wctl.h"

#define PORT		"27300"
#define MAX_RUNS	16

#ifndef SYS_pidfd_open
#define SYS_pidfd_open	434
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd	438
#endif

static double larger(double a, double b)
{
	return a > b ? a : b;
}

struct sample {
	double downtime_ms, all_s, pinned_mib, cpu_s;
	double restore_s;		/* criu's stats-restore restore_time; -1 if none */
	double dst_mib;			/* peak RSS of memsplice receive / restore's daemon; -1 */
};

/* the largest "@key N KiB" in @path, in MiB; -1 if none */
static double peak_mib(const char *path, const char *key)
{
	FILE *f = fopen(path, "re");
	char line[1024], *k;
	double best = -1;

	while (f && fgets(line, sizeof(line), f))
		if ((k = strstr(line, key)))
			best = larger(best, strtol(k + strlen(key), NULL, 10) / 1024.0);
	if (f)
		fclose(f);
	return best;
}

struct job {
	pid_t pid;
	struct rusage ru;
	int status;
};

/* wait for @j; its rusage kept; 0 if it exited 0 */
static int finish(struct job *j)
{
	if (j->pid <= 0 || wait4(j->pid, &j->status, 0, &j->ru) != j->pid)
		return -1;
	j->pid = 0;
	return WIFEXITED(j->status) && !WEXITSTATUS(j->status) ? 0 : -1;
}

static double cpu_s(const struct job *j)
{
	return j->ru.ru_utime.tv_sec + j->ru.ru_utime.tv_usec / 1e6 +
	       j->ru.ru_stime.tv_sec + j->ru.ru_stime.tv_usec / 1e6;
}

/* run @argv to its end: 0 if it exited 0; its CPU time added to *@cpu */
static int run(const char *const *argv, const char *out, double *cpu)
{
	struct job j = { .pid = spawn_with(argv, out, O_APPEND, -1, -1) };
	int ret = finish(&j);

	*cpu += cpu_s(&j);
	return ret;
}

/* whether @pid has ended (not reaped: finish() does) */
static bool ended(pid_t pid)
{
	siginfo_t si = { 0 };

	return !waitid(P_PID, pid, &si, WEXITED | WNOHANG | WNOWAIT) && si.si_pid == pid;
}

/* until @path holds @what, or @j ended: true if it does */
static bool wait_text(const char *path, const char *what, const struct job *j)
{
	char buf[8192];

	for (;;) {
		if (!read_text(path, buf, sizeof(buf)) && strstr(buf, what))
			return true;
		if (ended(j->pid))
			return false;
		usleep(10000);	/* polled: a benchmark, not a test */
	}
}

/* the destination of a lazy way: lazy-pages, then the restore; its end in *@done_ms */
static int lazy_destination(const char *final, const char *work, const char *pidfile,
			    const char *log, double *done_ms)
{
	const char *lp[] = { "ip", "netns", "exec", NS_DST, criu_bin(), "lazy-pages",
			     "--page-server", "--address", SRC_ADDR, "--port", PORT, "-D", final,
			     "-W", work, "-o", "lazy.log", NULL };
	const char *rs[] = { "ip", "netns", "exec", NS_DST, criu_bin(), "restore",
			     "--lazy-pages", "-D", final, "-W", work, "-d", "-o", "restore.log",
			     "--pidfile", pidfile, NULL };
	struct job daemon = { .pid = spawn_with(lp, log, O_APPEND, -1, -1) };
	char sock[700];
	double unused = 0;
	int ret;

	snprintf(sock, sizeof(sock), "%s/lazy-pages.socket", work);
	while (access(sock, F_OK) && !ended(daemon.pid))
		usleep(10000);
	ret = run(rs, log, &unused);
	if (finish(&daemon))
		ret = -1;
	*done_ms = now_ms();
	return ret;
}

/*
 * memsplice restore of @final at the destination, fetching what it leaves
 * at the source when @source; it returns when every page is in place, the
 * root's pid in FINAL/restore.pid (into @pidfile, @len bytes)
 */
static int ms_restore(const char *final, bool source, char *pidfile, size_t len,
		      const char *log)
{
	const char *rs[20] = { "ip", "netns", "exec", NS_DST, memsplice_bin(), "restore", "-D",
			       final };
	const char *const tail[] = { "--", "-d", "-o", "restore.log", NULL };
	const char *const ps[] = { "--page-server", "--address", SRC_ADDR, "--port", PORT,
				   NULL };
	double unused = 0;
	int n = 8;

	for (const char *const *a = ps; source && *a; a++)
		rs[n++] = *a;
	for (const char *const *a = tail; *a; a++)
		rs[n++] = *a;
	rs[n] = NULL;
	snprintf(pidfile, len, "%s/restore.pid", final);
	return run(rs, log, &unused);
}

/* the restored writer (pid in @pidfile): its longest gap, then killed */
static double restored_gap(const struct writer *src, const char *pidfile)
{
	struct writer w = *src;
	char buf[32];
	double gap = -1;

	if (read_text(pidfile, buf, sizeof(buf)))
		return -1;
	w.pid = atoi(buf);
	if (w.pid > 0 && writer_runs(&w))	/* a turn after the restore */
		gap = writer_word(&w, w.gap_addr) / 1e6;
	if (w.pid > 0) {
		kill(w.pid, SIGKILL);
		waitpid(w.pid, NULL, 0);	/* ours: the subreaper */
	}
	return gap;
}

/* one migration of @w by @way into @dir; 0 with @s filled */
static int migrate(const char *way, struct writer *w, const char *dir, struct sample *s)
{
	char pid[16], d1[600], d2[600], final[600], work[600], pidfile[700], log[700], out[700];
	char status_arg[] = "5";
	bool lazy = strstr(way, "lazy") || !strcmp(way, "ms-hybrid");
	bool lazy_restore = !strcmp(way, "ms-lazy-restore");
	double t0, done = 0, cpu = 0;
	struct job src = { 0 };
	int ret = -1;

	snprintf(pid, sizeof(pid), "%d", w->pid);
	snprintf(d1, sizeof(d1), "%s/1", dir);
	snprintf(d2, sizeof(d2), "%s/2", dir);
	snprintf(final, sizeof(final), "%s/final", dir);
	snprintf(work, sizeof(work), "%s/work", dir);
	snprintf(pidfile, sizeof(pidfile), "%s/restore.pid", work);
	snprintf(log, sizeof(log), "%s/commands.log", dir);
	snprintf(out, sizeof(out), "%s/memsplice.out", dir);
	if (mkdir(work, 0700))
		return -1;
	memset(s, 0, sizeof(*s));
	writer_set_word(w, w->gap_addr, 0);	/* set-up is not the migration */
	t0 = now_ms();
	if (!strcmp(way, "criu") || !strcmp(way, "criu-lazy")) {
		const char *pre1[] = { criu_bin(), "pre-dump", "-t", pid, "-D", d1, "--track-mem",
				       "-o", "pre-dump.log", NULL };
		const char *pre2[] = { criu_bin(), "pre-dump", "-t", pid, "-D", d2, "--track-mem",
				       "--prev-images-dir", "../1", "-o", "pre-dump.log", NULL };
		const char *dump[] = { criu_bin(), "dump", "-t", pid, "-D", final, "--track-mem",
				       "--prev-images-dir", "../2", "-o", "dump.log", NULL };
		const char *ldump[] = { criu_bin(), "dump", "-t", pid, "-D", final, "-o",
					"dump.log", "--lazy-pages", "--address", SRC_ADDR, "--port",
					PORT, "--status-fd", status_arg, NULL };
		int st[2];
		char c;

		if (mkdir(final, 0700))
			return -1;
		if (!lazy) {
			if (mkdir(d1, 0700) || mkdir(d2, 0700) || run(pre1, log, &cpu) ||
			    run(pre2, log, &cpu) || run(dump, log, &cpu))
				return -1;
		} else {
			if (pipe2(st, O_CLOEXEC))
				return -1;
			src.pid = spawn_with(ldump, log, O_APPEND, st[1], 5);
			close(st[1]);
			ret = read(st[0], &c, 1) == 1 ? 0 : -1;
			close(st[0]);
			if (ret)
				goto out;
			s->pinned_mib = proc_pipe_bytes(src.pid) / (double)(1 << 20);
		}
	} else if (!strcmp(way, "ms-ps")) {
		char dst[600], sh[1600];
		const char *srv[] = { "ip", "netns", "exec", NS_DST, "sh", "-c", sh, NULL };
		const char *ms[] = { memsplice_bin(), "checkpoint", "-t", pid, "-D", dir,
				     "--min-passes", "2", "--max-passes", "2", "--page-server",
				     "--address", DST_ADDR, "--port", PORT, NULL };
		struct job dest = { 0 };

		snprintf(dst, sizeof(dst), "%s/dst", dir);
		snprintf(final, sizeof(final), "%s/dst/3", dir);	/* restored from there */
		/* one server per pass and one for criu's dump, each serving one session */
		snprintf(sh, sizeof(sh), "mkdir -p '%s' && cd '%s' && for n in 1 2 3; do "
			 "mkdir $n; p=; [ $n = 1 ] || p=\"--prev-images-dir ../$((n - 1))\"; "
			 "%s page-server -D $n --address %s --port %s -o ps.log $p || exit 1; done",
			 dst, dst, criu_bin(), DST_ADDR, PORT);
		dest.pid = spawn_with(srv, out, O_APPEND, -1, -1);
		ret = run(ms, log, &cpu);
		if (ret)
			kill(dest.pid, SIGKILL);
		if (finish(&dest) || ret || shell("cd '%s/final' && for f in *; do case $f in "
						   "*.log) ;; *) [ ! -f \"$f\" ] || "
						   "cp \"$f\" '%s'/ ;; esac; done",
						   dir, final)) {
			ret = -1;
			goto out;
		}
	} else if (!strcmp(way, "ms-receive") || !strcmp(way, "ms-restore")) {
		char dst[600];
		const char *rcv[] = { "ip", "netns", "exec", NS_DST, memsplice_bin(), "receive",
				      "-D", dst, "--address", DST_ADDR, "--port", PORT, NULL };
		const char *ms[] = { memsplice_bin(), "checkpoint", "-t", pid, "-D", dir,
				     "--min-passes", "2", "--max-passes", "2", "--page-server",
				     "--address", DST_ADDR, "--port", PORT, "--receiver", NULL };
		struct job dest = { 0 };

		snprintf(dst, sizeof(dst), "%s/dst", dir);
		snprintf(final, sizeof(final), "%s", dst);	/* restored from there */
		if (mkdir(dst, 0700))
			return -1;
		dest.pid = spawn_with(rcv, out, O_APPEND, -1, -1);
		if (!wait_text(out, "listening", &dest))
			goto out;
		ret = run(ms, log, &cpu);
		if (ret)
			kill(dest.pid, SIGTERM);	/* it would wait for the final images */
		if (finish(&dest) || ret) {
			ret = -1;
			goto out;
		}
	} else {
		const char *ms[24] = { memsplice_bin(), "checkpoint", "-t", pid, "-D", dir };
		int n = 6;

		if (!strcmp(way, "ms") || !strcmp(way, "ms-hybrid")) {
			ms[n++] = "--min-passes";
			ms[n++] = "2";
		}
		ms[n++] = "--max-passes";
		ms[n++] = strncmp(way, "ms-lazy", 7) ? "2" : "0";
		if (lazy) {
			ms[n++] = "--lazy-pages";
			ms[n++] = "--lazy-port";
			ms[n++] = PORT;
		}
		src.pid = spawn_with(ms, out, O_APPEND, -1, -1);
		if (!lazy) {
			ret = finish(&src);
			cpu += cpu_s(&src);
			if (ret)
				goto out;
		} else {
			if (!wait_text(out, "may start", &src))
				goto out;
			s->pinned_mib = proc_pipe_bytes(src.pid) / (double)(1 << 20);
		}
	}
	if (lazy) {
		if (lazy_restore) {
			ret = ms_restore(final, true, pidfile, sizeof(pidfile), log);
			done = now_ms();
		} else {
			ret = lazy_destination(final, work, pidfile, log, &done);
		}
		if (finish(&src))
			ret = -1;
		cpu += cpu_s(&src);
	} else {
		const char *rs[] = { "ip", "netns", "exec", NS_DST, criu_bin(), "restore", "-D",
				     final, "-d", "-o", "restore.log", "--pidfile", pidfile, NULL };
		double unused = 0;

		while (waitpid(-1, NULL, WNOHANG) > 0)	/* the dumped writer, killed */
			;
		if (!strcmp(way, "ms-restore"))
			ret = ms_restore(final, false, pidfile, sizeof(pidfile), log);
		else
			ret = run(rs, log, &unused);
		done = now_ms();
	}
	if (ret)
		goto out;
	if (stats_read_restore(final, &s->restore_s))
		s->restore_s = -1;
	else
		s->restore_s /= 1e3;
	s->dst_mib = larger(peak_mib(out, "receive: peak RSS "),
			 peak_mib(log, "the daemon's peak RSS "));
	s->downtime_ms = restored_gap(w, pidfile);
	s->all_s = (done - t0) / 1e3;
	s->cpu_s = cpu;
	ret = s->downtime_ms < 0 ? -1 : 0;
out:
	if (src.pid > 0) {
		kill(src.pid, SIGKILL);
		finish(&src);
	}
	if (ret)
		fprintf(stderr, "lazy: %s failed: see %s\n", way, log);
	return ret;
}

static bool known(const char *way)
{
	static const char *const ways[] = { "criu", "criu-lazy", "ms", "ms-lazy", "ms-hybrid",
					    "ms-ps", "ms-receive", "ms-restore", "ms-lazy-restore" };

	for (size_t i = 0; i < sizeof(ways) / sizeof(ways[0]); i++)
		if (!strcmp(way, ways[i]))
			return true;
	return false;
}

static void bench_way(const char *way, unsigned long mib, int runs)
{
	double down[MAX_RUNS], all[MAX_RUNS], pin[MAX_RUNS], cpu[MAX_RUNS], rst[MAX_RUNS];
	double dst[MAX_RUNS];
	char mibs[16], *dir;
	const char *args[] = { "--mib", mibs, "--rate", "1", "--nothp", "--shared-mib", "0",
			       NULL };
	struct writer w;
	int ok = 0;

	snprintf(mibs, sizeof(mibs), "%lu", mib);
	for (int i = 0; i < runs; i++) {
		struct sample s;

		dir = make_dir("lazy-bench");
		if (!dir || writer_start_ns(&w, args, -1, true)) {
			fprintf(stderr, "lazy: cannot start the writer\n");
			free(dir);
			return;
		}
		if (!migrate(way, &w, dir, &s)) {
			down[ok] = s.downtime_ms;
			all[ok] = s.all_s;
			pin[ok] = s.pinned_mib;
			cpu[ok] = s.cpu_s;
			rst[ok] = s.restore_s;
			dst[ok] = s.dst_mib;
			ok++;
		}
		kill(w.pid, SIGKILL);
		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
		if (!getenv("MEMSPLICE_KEEP"))
			remove_dir(dir);
		free(dir);
	}
	if (!ok) {
		printf("%-6lu %-15s %12s\n", mib, way, "failed");
		return;
	}
	printf("%-6lu %-15s %12.0f %10.1f %10.1f %8.2f %10.2f %8.1f %5d\n", mib, way,
	       median(down, ok), median(all, ok), median(pin, ok), median(cpu, ok),
	       median(rst, ok), median(dst, ok), ok);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	unsigned long sizes[8] = { 256, 1024 };
	int runs = 3, nsizes = 2, c;
	const char *why;

	while ((c = getopt(argc, argv, "n:s:")) != -1) {
		switch (c) {
		case 'n': runs = atoi(optarg); break;
		case 's': nsizes = parse_sizes(optarg, sizes, 8); break;
		default:
			goto usage;
		}
	}
	if (optind >= argc || runs < 1 || runs > MAX_RUNS)
		goto usage;
	for (int i = optind; i < argc; i++)
		if (!known(argv[i]))
			goto usage;
	why = migration_unusable();
	if (why) {
		printf("lazy: skipped: %s\n", why);
		return 0;
	}
	if (netns_make() || netns_enter(NS_SRC) || prctl(PR_SET_CHILD_SUBREAPER, 1)) {
		fprintf(stderr, "lazy: cannot set up the two namespaces\n");
		netns_remove();
		return 1;
	}
	printf("the end of a migration (writer: 1%% of its pages a second), medians of %d runs\n",
	       runs);
	printf("%-6s %-15s %12s %10s %10s %8s %10s %8s %5s\n", "MiB", "way", "downtime ms",
	       "all-in s", "pinned MiB", "cpu s", "restore s", "dst MiB", "runs");
	fflush(stdout);
	for (int k = 0; k < nsizes; k++)
		for (int i = optind; i < argc; i++)
			bench_way(argv[i], sizes[k], runs);
	netns_remove();
	return 0;
usage:
	fprintf(stderr, "usage: lazy [-n RUNS] [-s MIB,...] criu|criu-lazy|ms|ms-lazy|ms-hybrid|"
		"ms-ps|ms-receive|ms-restore|ms-lazy-restore...\n");
	return 2;
}
