// SPDX-License-Identifier: GPL-2.0
/*
 * Side-by-side pre-dump benchmark: one victim per size, every tool on the
 * same victim in the same run, medians of N runs.
 *
 *   bench [-n RUNS] [-s MIB[,MIB...]] [-V SHAPE] [-P|-S] TOOL...
 *   TOOL: memsplice:METHOD | memsplice:syscall:pin | criu:read | criu:splice
 *   (:pin: the syscall with SPVM_PIN, zero-copy, not the default copy; test build)
 *   SHAPE: anon (every page written, the default), sparse (16 pages written
 *   over the mapping), fragmented (every other page written: one pagemap
 *   run per page)
 *
 * Per run: frozen time (from the tool's own statistics), total wall time,
 * throughput (bytes written / total time) and the tool's peak RSS (wait4).
 *
 * -P, the pipeline: TOOL pre-dumps twice with --track-mem (the victim
 * dirties every 4th page in between), the victim dirties again, then
 * `criu dump --track-mem --prev-images-dir` on top (leaving the victim
 * running).  Reported from criu's final stats-dump: its frozen time, the
 * pages it wrote and the pages it took from TOOL's chain; and the frozen
 * time of TOOL's two pre-dumps.
 *
 * -S, pre-dump to a socket: TOOL sends the pages to a `criu page-server` on
 * loopback, started for each run (memsplice pre-dump --page-server, criu
 * pre-dump --page-server).  Reported: wall time, MiB/s (bytes the server
 * wrote / wall time), the tool's CPU time (user + sys) and peak RSS.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common.h"
#include "vtest.h"

struct sample {
	double frozen_ms, total_ms, mib_s, rss_mib;
	double pages, parent_pages;
};


/*
 * The command for "memsplice:METHOD", or "memsplice:METHOD:pin": the syscall
 * pinning the target's pages into the pipe (SPVM_PIN) where memsplice's
 * pre-dumps have them copied, the default (the test build's
 * MEMSPLICE_TEST_SPVM_PIN).  Fills @argv up to the command name and @method;
 * returns how many.
 */
static int memsplice_argv(const char *tool, char *method, size_t len, const char **argv)
{
	const char *pin = strstr(tool + 10, ":pin");
	int n = 0;

	snprintf(method, len, "%.*s", pin ? (int)(pin - tool - 10) : (int)strlen(tool + 10),
		 tool + 10);
	if (pin) {
		argv[n++] = "env";
		argv[n++] = "MEMSPLICE_TEST_SPVM_PIN=1";
		argv[n++] = "./selftests/memsplice-test";
	} else {
		argv[n++] = memsplice_bin();
	}
	return n;
}

/*
 * One pre-dump of @pid by @tool into @dir, memsplice's with --track-mem when
 * @track (criu's always); @prev: the parent, relative to @dir, or NULL.
 * "criu:dump" is criu's final dump, leaving @pid running.
 */
static int run_tool(const char *tool, pid_t pid, const char *dir, bool track,
		    const char *prev, struct sample *s)
{
	char p[16], mode[64], log[600];
	struct rusage ru;
	double t0, pages = 0;
	int status;
	pid_t child;

	snprintf(p, sizeof(p), "%d", pid);
	snprintf(log, sizeof(log), "%s/tool.log", dir);
	t0 = now_ms();
	child = fork();
	if (child < 0)
		return -1;
	if (child == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		dup2(fd, 1);
		dup2(fd, 2);
		const char *pv = prev ? "--prev-images-dir" : NULL;

		if (!strncmp(tool, "memsplice:", 10)) {
			const char *argv[16];
			char method[32];
			int n = memsplice_argv(tool, method, sizeof(method), argv);

			memcpy(&argv[n], (const char *[]){ "pre-dump", "-t", p, "-D", dir, "--method",
							   method, track ? "--track-mem" : NULL,
							   pv, prev, NULL }, 11 * sizeof(*argv));
			execvp(argv[0], (char **)argv);
			_exit(127);
		}
		if (!strcmp(tool, "criu:dump"))
			execlp("criu", "criu", "dump", "-t", p, "-D", dir, "--shell-job",
			       "--leave-running", "--track-mem", "-o", "criu.log", pv, prev, NULL);
		snprintf(mode, sizeof(mode), "--pre-dump-mode=%s", tool + 5);
		execlp("criu", "criu", "pre-dump", "-t", p, "-D", dir, "--shell-job",
		       "--track-mem", mode, "-o", "criu.log", pv, prev, NULL);
		_exit(127);
	}
	if (wait4(child, &status, 0, &ru) != child)
		return -1;
	s->total_ms = now_ms() - t0;
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		char cmd[1400];

		fprintf(stderr, "bench: %s failed; the end of its log:\n", tool);
		snprintf(cmd, sizeof(cmd), "tail -n 4 %s %s/criu.log 1>&2", log, dir);
		if (system(cmd))
			fprintf(stderr, "bench: (no log)\n");
		return -1;
	}
	if (stats_read_dir(dir, &s->frozen_ms, &pages, &s->parent_pages))
		return -1;
	s->pages = pages;
	s->mib_s = pages * 4096 / (1 << 20) / (s->total_ms / 1e3);
	s->rss_mib = ru.ru_maxrss / 1024.0;
	return 0;
}

static bool tool_available(const char *tool)
{
	if (!strncmp(tool, "memsplice:", 10)) {
		char method[32];
		const char *argv[4];

		memsplice_argv(tool, method, sizeof(method), argv);
		return method_available(method);
	}
	return !system("criu check >/dev/null 2>&1");
}

/* -P: two pre-dumps by @tool, then criu dump on top; one sample */
static int run_pipeline(const char *tool, struct victim *v, struct sample *pre, struct sample *fin)
{
	char *d[3] = { NULL }, rel[2][300];
	struct sample s1;
	int ret = -1;

	for (int i = 0; i < 3; i++)
		if (!(d[i] = make_dir("bench")))
			goto out;
	for (int i = 0; i < 2; i++)
		snprintf(rel[i], sizeof(rel[i]), "../%s", strrchr(d[i], '/') + 1);
	if (run_tool(tool, v->pid, d[0], true, NULL, &s1) || victim_dirty(v, v->pid) ||
	    run_tool(tool, v->pid, d[1], true, rel[0], pre) || victim_dirty(v, v->pid) ||
	    run_tool("criu:dump", v->pid, d[2], true, rel[1], fin))
		goto out;
	pre->frozen_ms += s1.frozen_ms;
	ret = 0;
out:
	for (int i = 0; i < 3; i++) {
		if (d[i])
			remove_dir(d[i]);
		free(d[i]);
	}
	return ret;
}

static void bench_pipeline(const char *label, struct victim *v, const char *tool, int runs)
{
	double pf[64], ff[64], fw[64], fp[64];
	int ok = 0;

	for (int r = 0; r < runs; r++) {
		struct sample pre, fin;

		if (!run_pipeline(tool, v, &pre, &fin)) {
			pf[ok] = pre.frozen_ms;
			ff[ok] = fin.frozen_ms;
			fw[ok] = fin.pages;
			fp[ok] = fin.parent_pages;
			ok++;
		}
	}
	if (ok < runs) {
		printf("%-6s %-20s %12s\n", label, tool, "(failed)");
		return;
	}
	printf("%-6s %-20s %14.1f %14.1f %12.0f %12.0f\n", label, tool, median(pf, ok),
	       median(ff, ok), median(fw, ok), median(fp, ok));
	fflush(stdout);
}

#define PS_ADDR		"127.0.0.1"
#define PS_PORT		27200	/* + run number: no TIME_WAIT in the way */

struct sock_sample {
	double total_ms, mib_s, cpu_ms, rss_mib;
};

/* until @pid listens on @port (in its /proc/PID/net/tcp); 0, or -1 after a minute */
static int wait_listen(pid_t pid, unsigned int port)
{
	char path[64], line[512];

	snprintf(path, sizeof(path), "/proc/%d/net/tcp", pid);
	for (int i = 0; i < 6000; i++) {
		FILE *f = fopen(path, "re");
		unsigned int lport, state;

		if (!f)
			return -1;
		while (fgets(line, sizeof(line), f)) {
			if (sscanf(line, " %*d: %*x:%x %*x:%*x %x", &lport, &state) == 2 &&
			    lport == port && state == 0x0A) {
				fclose(f);
				return 0;
			}
		}
		fclose(f);
		if (waitpid(pid, NULL, WNOHANG) == pid)
			return -1;	/* it gave up */
		usleep(10000);
	}
	return -1;
}

/* one pre-dump of @pid by @tool into a page server on @port */
static int run_socket(const char *tool, pid_t pid, unsigned int port, struct sock_sample *s)
{
	char *cdir = make_dir("bench"), *sdir = make_dir("bench-ps");
	char p[16], portstr[16], mode[64], log[600], slog[600];
	const char *server_argv[] = { "criu", "page-server", "-D", sdir, "--address", PS_ADDR,
				      "--port", portstr, "-o", "ps.log", NULL };
	const char *ms_argv[20];
	char method[32];
	int n = memsplice_argv(tool, method, sizeof(method), ms_argv);
	const char *criu_argv[] = { "criu", "pre-dump", "-t", p, "-D", cdir, "--shell-job",
				    "--track-mem", mode, "-o", "criu.log", "--page-server",
				    "--address", PS_ADDR, "--port", portstr, NULL };
	int st, sst, ret = -1;
	pid_t server, child;
	struct rusage ru;
	double t0;

	if (!cdir || !sdir)
		goto out;
	snprintf(p, sizeof(p), "%d", pid);
	snprintf(portstr, sizeof(portstr), "%u", port);
	snprintf(mode, sizeof(mode), "--pre-dump-mode=%s", tool + 5);
	memcpy(&ms_argv[n], (const char *[]){ "pre-dump", "-t", p, "-D", cdir, "--method", method,
					      "--page-server", "--address", PS_ADDR, "--port",
					      portstr, NULL }, 13 * sizeof(*ms_argv));
	snprintf(log, sizeof(log), "%s/tool.log", cdir);
	snprintf(slog, sizeof(slog), "%s/server.out", cdir);
	server = spawn_to(server_argv, slog);
	if (server < 0)
		goto out;
	if (wait_listen(server, port)) {
		fprintf(stderr, "bench: the page server on port %u did not come up\n", port);
		kill(server, SIGKILL);
		waitpid(server, NULL, 0);
		goto out;
	}
	t0 = now_ms();
	child = spawn_to(strncmp(tool, "memsplice:", 10) ? criu_argv : ms_argv, log);
	if (child < 0 || wait4(child, &st, 0, &ru) != child) {
		kill(server, SIGKILL);
		waitpid(server, NULL, 0);
		goto out;
	}
	s->total_ms = now_ms() - t0;
	if (!WIFEXITED(st) || WEXITSTATUS(st))
		kill(server, SIGKILL);	/* it may wait for a pass that never comes */
	if (waitpid(server, &sst, 0) != server || !WIFEXITED(st) || WEXITSTATUS(st) ||
	    !WIFEXITED(sst) || WEXITSTATUS(sst)) {
		char cmd[2400];

		fprintf(stderr, "bench: %s to a page server failed; the end of the logs:\n", tool);
		snprintf(cmd, sizeof(cmd), "tail -n 4 %s %s/criu.log %s %s/ps.log 1>&2", log, cdir,
			 slog, sdir);
		if (system(cmd))
			fprintf(stderr, "bench: (no log)\n");
		goto out;
	}
	s->mib_s = (double)pages_bytes(sdir) / (1 << 20) / (s->total_ms / 1e3);
	s->cpu_ms = (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
		    (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
	s->rss_mib = ru.ru_maxrss / 1024.0;
	ret = 0;
out:
	if (cdir)
		remove_dir(cdir);
	if (sdir)
		remove_dir(sdir);
	free(cdir);
	free(sdir);
	return ret;
}

static void bench_socket(const char *label, struct victim *v, const char *tool, int runs,
			 unsigned int *port)
{
	double to[64], th[64], cpu[64], rs[64];
	int ok = 0;

	for (int r = 0; r < runs; r++) {
		struct sock_sample smp;

		if (!run_socket(tool, v->pid, (*port)++, &smp)) {
			to[ok] = smp.total_ms;
			th[ok] = smp.mib_s;
			cpu[ok] = smp.cpu_ms;
			rs[ok] = smp.rss_mib;
			ok++;
		}
	}
	if (ok < runs) {
		printf("%-6s %-20s %12s\n", label, tool, "(failed)");
		return;
	}
	printf("%-6s %-20s %12.1f %10.0f %12.1f %7.1f MiB\n", label, tool, median(to, ok),
	       median(th, ok), median(cpu, ok), median(rs, ok));
	fflush(stdout);
}

int main(int argc, char **argv)
{
	int runs = 5, c, nsizes = 0;
	bool pipeline = false, sock = false;
	const char *shape = "anon";
	unsigned int port = PS_PORT;
	unsigned long sizes[8];

	while ((c = getopt(argc, argv, "n:s:V:PS")) != -1) {
		switch (c) {
		case 'n': runs = atoi(optarg); break;
		case 'V': shape = optarg; break;
		case 'P': pipeline = true; break;
		case 'S': sock = true; break;
		case 's': nsizes += parse_sizes(optarg, sizes + nsizes, 8 - nsizes); break;
		default:
			fprintf(stderr, "usage: bench [-n RUNS] [-s MIB,...] [-V SHAPE] [-P|-S] TOOL...\n");
			return 2;
		}
	}
	if (strcmp(shape, "anon") && strcmp(shape, "sparse") && strcmp(shape, "fragmented")) {
		fprintf(stderr, "bench: -V anon|sparse|fragmented\n");
		return 2;
	}
	if (!nsizes) {
		sizes[0] = 64;
		sizes[1] = 1024;
		nsizes = 2;
	}
	if (optind >= argc || runs < 1 || runs > 64) {
		fprintf(stderr, "usage: bench [-n RUNS] [-s MIB,...] TOOL...\n");
		return 2;
	}
	if (pipeline) {
		printf("pipeline: 2 pre-dumps by TOOL, then criu dump --track-mem on top "
		       "(1/4 of the victim dirtied before each of the last two), median of %d runs\n",
		       runs);
		printf("%-6s %-20s %14s %14s %12s %12s\n", "size", "pre-dumps by",
		       "pre frozen ms", "criu frozen ms", "criu wrote", "from parent");
	} else if (sock) {
		printf("pre-dump of an idle victim to criu page-server on loopback, "
		       "median of %d runs\n", runs);
		printf("%-6s %-20s %12s %10s %12s %10s\n", "size", "tool", "total ms", "MiB/s",
		       "CPU ms", "peak RSS");
	} else {
		printf("pre-dump of an idle victim (%s), median of %d runs\n", shape, runs);
		printf("%-6s %-20s %12s %12s %10s %10s\n", "size", "tool", "frozen ms",
		       "total ms", "MiB/s", "peak RSS");
	}
	for (int si = 0; si < nsizes; si++) {
		char pages[32], label[24];
		const char *a[] = { "--anon", pages, NULL, NULL };
		struct victim v;

		snprintf(pages, sizeof(pages), "%lu", sizes[si] << 8);
		if (pipeline)
			a[2] = "--nothp";	/* a dirtied page dirties its page, not 2 MiB */
		if (strcmp(shape, "anon")) {
			a[0] = strcmp(shape, "sparse") ? "--fragmented" : "--sparse";
			snprintf(pages, sizeof(pages), "%lu", sizes[si]);
		}
		if (sizes[si] >= 1024 && !(sizes[si] % 1024))
			snprintf(label, sizeof(label), "%luG", sizes[si] >> 10);
		else
			snprintf(label, sizeof(label), "%luM", sizes[si]);
		/* criu dump wants the tree in its own session (pre-dump does not care) */
		if (victim_start_opts(&v, a, 1, 0, &(struct victim_opts){ .detach = pipeline })) {
			fprintf(stderr, "bench: cannot start a %lu MiB victim\n", sizes[si]);
			return 1;
		}
		for (int ti = optind; ti < argc; ti++) {
			double fr[64], to[64], th[64], rs[64];
			int ok = 0;

			if (!tool_available(argv[ti])) {
				printf("%-6s %-20s %12s\n", label, argv[ti], "(not available)");
				continue;
			}
			if (pipeline) {
				bench_pipeline(label, &v, argv[ti], runs);
				continue;
			}
			if (sock && !tool_available("criu:page-server")) {
				printf("%-6s %-20s %12s\n", label, argv[ti], "(no criu page-server)");
				continue;
			}
			if (sock) {
				bench_socket(label, &v, argv[ti], runs, &port);
				continue;
			}
			for (int r = 0; r < runs; r++) {
				struct sample smp;
				char *dir = make_dir("bench");

				if (dir && !run_tool(argv[ti], v.pid, dir, false, NULL, &smp)) {
					fr[ok] = smp.frozen_ms;
					to[ok] = smp.total_ms;
					th[ok] = smp.mib_s;
					rs[ok] = smp.rss_mib;
					ok++;
				}
				if (dir)
					remove_dir(dir);
				free(dir);
			}
			if (ok < runs) {
				printf("%-6s %-20s %12s\n", label, argv[ti], "(failed)");
				continue;
			}
			printf("%-6s %-20s %12.1f %12.1f %10.0f %7.1f MiB\n", label, argv[ti],
			       median(fr, ok), median(to, ok), median(th, ok), median(rs, ok));
			fflush(stdout);
		}
		if (victim_verify_all(&v))
			fprintf(stderr, "bench: the victim was damaged!\n");
		victim_kill(&v);
	}
	return 0;
}
