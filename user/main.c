// SPDX-License-Identifier: GPL-2.0
/*
 * memsplice: command table and options.  Options end up in a struct that is
 * passed down; nothing below main() reads a global option.
 */
#define LOG_PREFIX ""
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "dump.h"
#include "log.h"
#include "memsplice.h"
#include "util.h"

#define DEFAULT_BUFFER_SIZE	(4UL << 20)

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	interrupted = sig;
}

static const char usage[] =
"Usage:\n"
"  memsplice pre-dump -t PID -D DIR [--prev-images-dir REL] [--track-mem] [options]\n"
"  memsplice dump     -t PID -D DIR [--prev-images-dir REL] [--track-mem]\n"
"                     [--leave-running] [options]\n"
"  memsplice check    [--method M]\n"
"  memsplice show     DIR\n"
"\n"
"pre-dump freezes the tree rooted at PID, collects what to dump, resumes it and\n"
"copies its memory while it runs.  dump keeps the tree frozen until every page\n"
"is written, then kills it (or resumes it with --leave-running).\n"
"\n"
"Options:\n"
"  -t, --tree PID            root of the process tree to dump\n"
"  -D, --images-dir DIR      where images go (must exist)\n"
"      --prev-images-dir REL previous pre-dump, relative to DIR (links DIR/parent)\n"
"      --track-mem           dirty tracking: clear soft-dirty bits; with a parent,\n"
"                            write only pages written since it\n"
"  -R, --leave-running       dump: resume the tree afterwards instead of killing it\n"
"  -m, --method M            auto (default), or one of:";

static void print_usage(FILE *f)
{
	fputs(usage, f);
	for (size_t i = 0; i < nr_backends; i++)
		fprintf(f, " %s", backends[i]->name);
	fputs("\n"
	      "  -b, --buffer-size SIZE    bytes moved per step (default 4M; K/M/G suffixes)\n"
	      "      --display-stats       print timings and page counts\n"
	      "      --stats-json FILE     write them as JSON\n"
	      "  -v, --verbose             more messages (repeat for debug)\n"
	      "  -o, --log-file FILE       write a full log to FILE\n"
	      "  -h, --help                this text\n"
	      "\n"
	      "Exit status: 0 on success, 1 on error (one line on stderr says why).\n"
	      "See memsplice(8).\n", f);
}

static int parse_size(const char *s, size_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s || *s == '-')
		return -EINVAL;
	switch (*end) {
	case 'k': case 'K': v <<= 10; end++; break;
	case 'm': case 'M': v <<= 20; end++; break;
	case 'g': case 'G': v <<= 30; end++; break;
	}
	if (*end || v < PAGE_SIZE || v > (1ULL << 30) || v % PAGE_SIZE)
		return -EINVAL;
	*out = v;
	return 0;
}

enum { OPT_PREV = 256, OPT_TRACK, OPT_STATS, OPT_JSON };

static const struct option long_opts[] = {
	{ "tree",		required_argument, NULL, 't' },
	{ "images-dir",		required_argument, NULL, 'D' },
	{ "prev-images-dir",	required_argument, NULL, OPT_PREV },
	{ "track-mem",		no_argument,	   NULL, OPT_TRACK },
	{ "leave-running",	no_argument,	   NULL, 'R' },
	{ "method",		required_argument, NULL, 'm' },
	{ "buffer-size",	required_argument, NULL, 'b' },
	{ "display-stats",	no_argument,	   NULL, OPT_STATS },
	{ "stats-json",		required_argument, NULL, OPT_JSON },
	{ "verbose",		no_argument,	   NULL, 'v' },
	{ "log-file",		required_argument, NULL, 'o' },
	{ "help",		no_argument,	   NULL, 'h' },
	{ NULL }
};

static int install_signals(void)
{
	struct sigaction sa = { .sa_handler = on_signal };	/* no SA_RESTART */
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP };

	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < ARRAY_SIZE(sigs); i++)
		if (sigaction(sigs[i], &sa, NULL) < 0)
			return -errno;
	/* a closed reader of our stdout or a pipe must not kill us mid-dump */
	signal(SIGPIPE, SIG_IGN);
	return 0;
}

int main(int argc, char **argv)
{
	struct dump_opts o = {
		.method = "auto",
		.buffer_size = DEFAULT_BUFFER_SIZE,
		.frozen_hook_fd = -1,
	};
	const char *hook = getenv("MEMSPLICE_TEST_FROZEN_FD");
	const char *cmd, *log_file = NULL;
	int verbosity = 0, c, ret;
	char *end;

	/* GNU getopt permutes: options may come before or after the command */
	while ((c = getopt_long(argc, argv, "t:D:Rm:b:vo:h", long_opts, NULL)) != -1) {
		switch (c) {
		case 't':
			errno = 0;
			o.pid = strtol(optarg, &end, 10);
			if (errno || *end || o.pid <= 0) {
				fprintf(stderr, "memsplice: invalid pid '%s'\n", optarg);
				return 1;
			}
			break;
		case 'D': o.dir = optarg; break;
		case OPT_PREV: o.prev_dir = optarg; break;
		case OPT_TRACK: o.track_mem = true; break;
		case 'R': o.leave_running = true; break;
		case 'm': o.method = optarg; break;
		case 'b':
			if (parse_size(optarg, &o.buffer_size)) {
				fprintf(stderr, "memsplice: invalid --buffer-size '%s' "
					"(a multiple of 4K between 4K and 1G)\n", optarg);
				return 1;
			}
			break;
		case OPT_STATS: o.display_stats = true; break;
		case OPT_JSON: o.stats_json = optarg; break;
		case 'v': verbosity++; break;
		case 'o': log_file = optarg; break;
		case 'h': print_usage(stdout); return 0;
		default:
			fprintf(stderr, "memsplice: try 'memsplice --help'\n");
			return 1;
		}
	}
	if (optind >= argc) {
		print_usage(stderr);
		return 1;
	}
	cmd = argv[optind++];
	if (hook)
		o.frozen_hook_fd = atoi(hook);
	ret = log_init(verbosity, log_file);
	if (ret) {
		fprintf(stderr, "memsplice: cannot open log file %s: %s\n", log_file, strerror(-ret));
		return 1;
	}

	if (!strcmp(cmd, "pre-dump") || !strcmp(cmd, "dump")) {
		o.pre_dump = !strcmp(cmd, "pre-dump");
		if (!o.pid || !o.dir) {
			pr_err("%s needs -t PID and -D DIR", cmd);
			ret = -EINVAL;
		} else if (o.pre_dump && o.leave_running) {
			pr_err("--leave-running is for dump; a pre-dump always resumes the tree");
			ret = -EINVAL;
		} else if (!(ret = install_signals())) {
			ret = dump_tree(&o, &interrupted);
		}
	} else if (!strcmp(cmd, "check")) {
		ret = cmd_check(o.method);
	} else if (!strcmp(cmd, "show")) {
		if (optind >= argc && !o.dir) {
			pr_err("show needs an images directory");
			ret = -EINVAL;
		} else {
			ret = cmd_show(optind < argc ? argv[optind] : o.dir);
		}
	} else {
		pr_err("unknown command '%s' (try 'memsplice --help')", cmd);
		ret = -EINVAL;
	}
	log_fini();
	return ret ? 1 : 0;
}
