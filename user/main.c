// SPDX-License-Identifier: GPL-2.0
/*
 * memsplice: the command table and its options.  Every command lists the
 * options it takes; any other is refused.  Options end up in structs passed
 * down; nothing below main() reads a global option.
 */
#define LOG_PREFIX ""
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoint.h"
#include "dump.h"
#include "log.h"
#include "memsplice.h"
#include "postcopy.h"
#include "receive/receive.h"
#include "restore/restore.h"
#include "proto/tls.h"
#include "sink/pageserver.h"
#include "source/select.h"
#include "util.h"

#define DEFAULT_BUFFER_SIZE	(4UL << 20)
#define STR_(x)			#x
#define STR(x)			STR_(x)
#define PID_MAX_LIMIT		(4 * 1024 * 1024)	/* the kernel's, 64-bit */

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	interrupted = sig;
}

enum opt {
	OPT_TREE = 't', OPT_DIR = 'D', OPT_LEAVE = 'R', OPT_METHOD = 'm',
	OPT_BUFSZ = 'b', OPT_VERBOSE = 'v', OPT_LOG = 'o', OPT_HELP = 'h',
	OPT_PREV = 256, OPT_TRACK, OPT_KILL, OPT_STATS, OPT_JSON, OPT_PASSES, OPT_FINAL,
	OPT_PS, OPT_PS_ADDR, OPT_PS_PORT, OPT_PS_CRIU, OPT_PS_TIMEOUT, OPT_MIN_PASSES,
	OPT_TRACKER, OPT_SYNC, OPT_KEEP_HUGE, OPT_LAZY, OPT_LAZY_PEER, OPT_LAZY_TIMEOUT,
	OPT_LAZY_PORT, OPT_LAZY_ADDR, OPT_TLS, OPT_TLS_CACERT, OPT_TLS_CERT, OPT_TLS_KEY,
	OPT_PEER, OPT_ROUNDS, OPT_TIMEOUT, OPT_RECEIVER,
};

static const struct option long_opts[] = {
	{ "tree",		required_argument, NULL, OPT_TREE },
	{ "images-dir",		required_argument, NULL, OPT_DIR },
	{ "prev-images-dir",	required_argument, NULL, OPT_PREV },
	{ "track-mem",		no_argument,	   NULL, OPT_TRACK },
	{ "leave-running",	no_argument,	   NULL, OPT_LEAVE },
	{ "kill",		no_argument,	   NULL, OPT_KILL },
	{ "sync",		no_argument,	   NULL, OPT_SYNC },
	{ "method",		required_argument, NULL, OPT_METHOD },
	{ "buffer-size",	required_argument, NULL, OPT_BUFSZ },
	{ "display-stats",	no_argument,	   NULL, OPT_STATS },
	{ "stats-json",		required_argument, NULL, OPT_JSON },
	{ "max-passes",		required_argument, NULL, OPT_PASSES },
	{ "min-passes",		required_argument, NULL, OPT_MIN_PASSES },
	{ "tracker",		required_argument, NULL, OPT_TRACKER },
	{ "keep-huge-pages",	no_argument,	   NULL, OPT_KEEP_HUGE },
	{ "lazy-pages",		no_argument,	   NULL, OPT_LAZY },
	{ "lazy-port",		required_argument, NULL, OPT_LAZY_PORT },
	{ "lazy-address",	required_argument, NULL, OPT_LAZY_ADDR },
	{ "lazy-peer",		required_argument, NULL, OPT_LAZY_PEER },
	{ "lazy-timeout",	required_argument, NULL, OPT_LAZY_TIMEOUT },
	{ "final",		required_argument, NULL, OPT_FINAL },
	{ "page-server",	no_argument,	   NULL, OPT_PS },
	{ "address",		required_argument, NULL, OPT_PS_ADDR },
	{ "port",		required_argument, NULL, OPT_PS_PORT },
	{ "page-server-criu",	required_argument, NULL, OPT_PS_CRIU },
	{ "page-server-timeout", required_argument, NULL, OPT_PS_TIMEOUT },
	{ "peer",		required_argument, NULL, OPT_PEER },
	{ "receiver",		no_argument,	   NULL, OPT_RECEIVER },
	{ "rounds",		required_argument, NULL, OPT_ROUNDS },
	{ "timeout",		required_argument, NULL, OPT_TIMEOUT },
	{ "tls",		no_argument,	   NULL, OPT_TLS },
	{ "tls-cacert",		required_argument, NULL, OPT_TLS_CACERT },
	{ "tls-cert",		required_argument, NULL, OPT_TLS_CERT },
	{ "tls-key",		required_argument, NULL, OPT_TLS_KEY },
	{ "verbose",		no_argument,	   NULL, OPT_VERBOSE },
	{ "log-file",		required_argument, NULL, OPT_LOG },
	{ "help",		no_argument,	   NULL, OPT_HELP },
	{ NULL }
};

/* what the command line said, before a command makes sense of it */
struct cli {
	struct dump_opts dump;
	bool page_server;		/* --page-server */
	bool ps_detail;			/* one of the options that need it */
	struct ps_opts ps;
	unsigned int min_passes, max_passes;
	enum checkpoint_tracker tracker;
	bool keep_huge;			/* --keep-huge-pages */
	bool tls;			/* --tls */
	bool tls_detail;		/* --tls-cacert, --tls-cert or --tls-key */
	struct tls_opts tls_opts;
	bool receiver;			/* --receiver */
	bool lazy;			/* --lazy-pages */
	bool lazy_detail;		/* one of the --lazy-* options that need it */
	struct lazy_opts lazy_opts;
	struct receive_opts receive;
	enum checkpoint_final final;
	bool restore_stall;		/* test builds: see restore_opts */
	const char *restore_go;
	const char *arg;		/* show's DIR */
	char *const *rest;		/* after "--" */
	int nr_rest;
};

struct command {
	const char *name;
	const char *synopsis;
	const int *opts;		/* the options it takes, 0-terminated */
	int (*run)(struct cli *c);
};

/* --tls and its files: for the sessions of @what, which the command has when @has */
static int tls_setup(struct cli *c, bool has, const char *what)
{
	if (c->tls_detail && !c->tls) {
		pr_err("--tls-cacert, --tls-cert and --tls-key go with --tls");
		return -EINVAL;
	}
	if (c->tls && !has) {
		pr_err("--tls secures the sessions of %s, and there is none", what);
		return -EINVAL;
	}
	return 0;
}

/* --page-server and the options that go with it, as criu names them */
static int page_server_setup(struct cli *c)
{
	if (!c->page_server) {
		if (c->ps_detail) {
			pr_err("--address, --port and --page-server-* need --page-server");
			return -EINVAL;
		}
		return 0;
	}
	if (!c->ps.address || !c->ps.port) {
		pr_err("--page-server needs --address and --port of a `criu page-server`");
		return -EINVAL;
	}
	if (c->tls)
		c->ps.tls = &c->tls_opts;
	c->dump.page_server = &c->ps;
	return 0;
}

/* --lazy-pages and the options that go with it, into @o */
static int lazy_setup(struct cli *c, struct checkpoint_opts *o)
{
	if (c->final != FINAL_CRIU) {
		pr_err("--lazy-pages is criu's final dump made lazy: not with --final dump or none");
		return -EINVAL;
	}
	if (c->page_server) {
		/* the hybrid: passes to the page server, lazy pages on --lazy-port */
		if (page_server_setup(c))
			return -EINVAL;
		if (!c->max_passes) {
			pr_err("--max-passes 0 makes no pass to send to --page-server");
			return -EINVAL;
		}
		if (!c->lazy_opts.srv.port) {
			pr_err("--lazy-pages with --page-server needs --lazy-port P: where the "
			       "destination's criu lazy-pages connects");
			return -EINVAL;
		}
		if (!c->lazy_opts.srv.peer)	/* the destination, where the pages went */
			c->lazy_opts.srv.peer = c->ps.address;
	} else {
		/* pure post-copy: --address and --port are where to serve, as criu's */
		if ((c->lazy_opts.srv.port && c->ps.port) || (c->lazy_opts.srv.address && c->ps.address)) {
			pr_err("--port and --lazy-port (--address and --lazy-address): one is "
			       "enough without --page-server");
			return -EINVAL;
		}
		if (!c->lazy_opts.srv.port)
			c->lazy_opts.srv.port = c->ps.port;
		if (!c->lazy_opts.srv.address)
			c->lazy_opts.srv.address = c->ps.address;
		if (!c->lazy_opts.srv.port) {
			pr_err("--lazy-pages needs --lazy-port P (or --port P; --lazy-address A to "
			       "listen on one address)");
			return -EINVAL;
		}
	}
	if (!c->max_passes)	/* pure post-copy: no pass at all */
		o->min_passes = 0;
	if (!c->lazy_opts.srv.timeout_s)
		c->lazy_opts.srv.timeout_s = LAZY_DEFAULT_TIMEOUT;
	if (c->tls)
		c->lazy_opts.srv.tls = &c->tls_opts;
	o->lazy = &c->lazy_opts;
	return 0;
}

static int run_dump(struct cli *c)
{
	if (!c->dump.pid || !c->dump.dir) {
		pr_err("%s needs -t PID and -D DIR", c->dump.pre_dump ? "pre-dump" : "dump");
		return -EINVAL;
	}
	if (tls_setup(c, c->page_server, "--page-server") || page_server_setup(c))
		return -EINVAL;
	return dump_tree(&c->dump, &interrupted, NULL);
}

static int run_pre_dump(struct cli *c)
{
	c->dump.pre_dump = true;
	return run_dump(c);
}

static int run_checkpoint(struct cli *c)
{
	struct checkpoint_opts o = {
		.pass = c->dump,
		.dir = c->dump.dir,
		.min_passes = c->min_passes,
		.max_passes = c->max_passes,
		.tracker = c->tracker,
		.keep_huge = c->keep_huge,
		.final = c->final,
		.criu_args = c->rest,
		.nr_criu_args = c->nr_rest,
	};

	if (!c->dump.pid || !c->dump.dir) {
		pr_err("checkpoint needs -t PID and -D DIR");
		return -EINVAL;
	}
	if (tls_setup(c, c->page_server || c->lazy, "--page-server or --lazy-pages"))
		return -EINVAL;
	if (c->lazy) {
		if (lazy_setup(c, &o))
			return -EINVAL;
	} else if (c->lazy_detail) {
		pr_err("--lazy-port, --lazy-address, --lazy-peer and --lazy-timeout go with "
		       "--lazy-pages");
		return -EINVAL;
	} else if (page_server_setup(c)) {
		return -EINVAL;
	} else if (!c->max_passes) {
		pr_err("--max-passes 0 (no pass: pure post-copy) needs --lazy-pages");
		return -EINVAL;
	} else if (c->tls && c->final == FINAL_CRIU) {
		pr_err("--tls: criu's final dump cannot take over memsplice's TLS session to the "
		       "page server (use --lazy-pages, or --final dump or none)");
		return -EINVAL;
	}
	if (c->receiver && (!c->page_server || c->lazy)) {
		pr_err("--receiver says the page server is memsplice receive: it needs "
		       "--page-server, and no --lazy-pages");
		return -EINVAL;
	}
	o.receiver = c->receiver;
	o.pass.page_server = c->dump.page_server;
	return cmd_checkpoint(&o, &interrupted);
}

static int run_receive(struct cli *c)
{
	struct receive_opts *o = &c->receive;

	o->dir = c->dump.dir;
	o->srv.address = c->ps.address;
	o->srv.port = c->ps.port;
	if (!o->dir || !o->srv.port) {
		pr_err("receive needs -D DIR and --port P");
		return -EINVAL;
	}
	if (tls_setup(c, true, "receive"))
		return -EINVAL;
	if (c->tls)
		o->srv.tls = &c->tls_opts;
	return cmd_receive(o, &interrupted);
}

static int run_restore(struct cli *c)
{
	struct restore_opts o = {
		.dir = c->dump.dir, .batch = c->dump.buffer_size,
		.criu_args = c->rest, .nr_criu_args = c->nr_rest,
		.test_stall = c->restore_stall, .test_go = c->restore_go,
	};

	if (!o.dir) {
		pr_err("restore needs -D DIR");
		return -EINVAL;
	}
	if (page_server_setup(c) || tls_setup(c, c->page_server, "restore without --page-server"))
		return -EINVAL;
	o.source = c->dump.page_server;
	return cmd_restore(&o, &interrupted);
}

static int run_check(struct cli *c)
{
	return cmd_check(c->dump.method);
}

static int run_show(struct cli *c)
{
	const char *dir = c->arg ? c->arg : c->dump.dir;

	if (!dir) {
		pr_err("show needs an images directory");
		return -EINVAL;
	}
	return cmd_show(dir);
}

#define COMMON		OPT_VERBOSE, OPT_LOG, OPT_HELP
#define PS_OPTS		OPT_PS, OPT_PS_ADDR, OPT_PS_PORT, OPT_PS_CRIU, OPT_PS_TIMEOUT, \
			OPT_TLS, OPT_TLS_CACERT, OPT_TLS_CERT, OPT_TLS_KEY
#define DUMP_OPTS	OPT_TREE, OPT_DIR, OPT_PREV, OPT_TRACK, OPT_METHOD, OPT_BUFSZ, \
			OPT_STATS, OPT_JSON, OPT_SYNC, PS_OPTS

static const struct command commands[] = {
	{ "checkpoint",
	  "-t PID -D DIR [--method M] [--tracker T] [--keep-huge-pages]\n"
	  "                     [--final criu|dump|none] [--min-passes N] [--max-passes N]\n"
	  "                     [--page-server --address A --port P [--receiver] | --lazy-pages\n"
	  "                     [--address A] --port P [--lazy-peer HOST] [--lazy-timeout S]]\n"
	  "                     [-- CRIU-DUMP-OPTIONS]",
	  (const int[]){ OPT_TREE, OPT_DIR, OPT_METHOD, OPT_BUFSZ, OPT_PASSES, OPT_MIN_PASSES,
			 OPT_TRACKER, OPT_KEEP_HUGE, OPT_LAZY, OPT_LAZY_PEER, OPT_LAZY_TIMEOUT,
			 OPT_RECEIVER,
	OPT_LAZY_PORT, OPT_LAZY_ADDR,
			 OPT_FINAL, PS_OPTS, COMMON, 0 },
	  run_checkpoint },
	{ "pre-dump", "-t PID -D DIR [--prev-images-dir REL] [--track-mem] [--sync]\n"
	  "                     [--page-server --address A --port P] [options]",
	  (const int[]){ DUMP_OPTS, COMMON, 0 }, run_pre_dump },
	{ "dump", "-t PID -D DIR [--prev-images-dir REL] [--track-mem] [--kill] [--sync]\n"
	  "                     [options]",
	  (const int[]){ DUMP_OPTS, OPT_LEAVE, OPT_KILL, COMMON, 0 }, run_dump },
	{ "receive", "-D DIR --port P [--rounds N] [--address A] [--peer HOST] [--timeout S]\n"
	  "                     [--tls ...]",
	  (const int[]){ OPT_DIR, OPT_PS_ADDR, OPT_PS_PORT, OPT_PEER, OPT_ROUNDS, OPT_TIMEOUT,
			 OPT_TLS, OPT_TLS_CACERT, OPT_TLS_CERT, OPT_TLS_KEY, COMMON, 0 },
	  run_receive },
	{ "restore", "-D DIR [--buffer-size SIZE] [--page-server --address A --port P\n"
	  "                     [--tls ...]] [-- CRIU-RESTORE-OPTIONS]",
	  (const int[]){ OPT_DIR, OPT_BUFSZ, PS_OPTS, COMMON, 0 }, run_restore },
	{ "check", "[--method M]", (const int[]){ OPT_METHOD, COMMON, 0 }, run_check },
	{ "show", "DIR", (const int[]){ OPT_DIR, COMMON, 0 }, run_show },
};

static void print_usage(FILE *f)
{
	fputs("Usage:\n", f);
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		fprintf(f, "  memsplice %-10s %s\n", commands[i].name, commands[i].synopsis);
	fputs("\n"
	      "memsplice writes CRIU-format memory images of a running process tree; CRIU\n"
	      "continues from them and writes the rest.  checkpoint runs pre-dumps into\n"
	      "DIR/1, DIR/2, ... until they stop shrinking, then `criu dump --track-mem\n"
	      "--prev-images-dir` into DIR/final: `criu restore -D DIR/final` restores it.\n"
	      "pre-dump freezes the tree only while it collects what to dump, then copies\n"
	      "while the tree runs.  dump keeps the tree frozen until every page is\n"
	      "written, then resumes it (--kill: kills it, as criu dump does).\n"
	      "\n"
	      "Options:\n"
	      "  -t, --tree PID            root of the process tree\n"
	      "  -D, --images-dir DIR      where images go (must exist)\n"
	      "      --prev-images-dir REL previous pre-dump, relative to DIR (links DIR/parent)\n"
	      "      --track-mem           dirty tracking: clear soft-dirty bits; with a parent,\n"
	      "                            write only pages written since it\n"
	      "      --kill                dump: kill the tree afterwards (implies --sync)\n"
	      "      --sync                pre-dump, dump: put the set, and the parents it\n"
	      "                            takes pages from, on disk before inventory.img\n"
	      "                            marks it complete, and the rename after.  Without,\n"
	      "                            a crash of the machine can leave a set that looks\n"
	      "                            complete and is not.  checkpoint syncs its final\n"
	      "                            set and the passes under it, never a pass alone\n"
	      "  -R, --leave-running       dump: resume the tree afterwards (the default)\n"
	      "      --max-passes N        checkpoint: at most N pre-dumps (default 5; 0 with\n"
	      "                            --lazy-pages: none)\n"
	      "      --min-passes N        checkpoint: at least N pre-dumps (default 1)\n"
	      "      --tracker T           checkpoint: what finds the pages changed between\n"
	      "                            passes: soft-dirty (every pass freezes the tree),\n"
	      "                            uffd-wp (only the first does; Linux 6.7+), or auto\n"
	      "                            (default: soft-dirty where the kernel has it)\n"
	      "      --keep-huge-pages     checkpoint, uffd-wp: where the kernel splits a\n"
	      "                            protected huge page at its first write, dump\n"
	      "                            memory in huge pages in full every pass instead\n"
	      "                            of tracking it (the process keeps its huge pages)\n"
	      "      --lazy-pages          checkpoint: criu's dump leaves memory lazy, and\n"
	      "                            memsplice serves it from the stopped tree to\n"
	      "                            `criu lazy-pages --page-server` until it has every\n"
	      "                            page, then kills the tree (a failure leaves it\n"
	      "                            stopped); --max-passes 0: no pre-copy pass.  With\n"
	      "                            --page-server the passes go there (the hybrid)\n"
	      "      --lazy-port P         checkpoint --lazy-pages: serve on TCP port P (without\n"
	      "                            --page-server, --port P says the same)\n"
	      "      --lazy-address A      checkpoint --lazy-pages: listen on A only (without\n"
	      "                            --page-server, --address A says the same)\n"
	      "      --lazy-peer HOST      checkpoint --lazy-pages: serve only a session from\n"
	      "                            HOST (default with --page-server: its --address);\n"
	      "                            any other is refused and logged\n"
	      "      --lazy-timeout S      checkpoint --lazy-pages: a session that moves no\n"
	      "                            byte for S seconds (default "
	      STR(LAZY_DEFAULT_TIMEOUT) ") has failed\n"
	      "      --final criu|dump|none  checkpoint: then criu dump (default), memsplice's\n"
	      "                            own dump (memory images only), or nothing\n"
	      "      --page-server         send the pages to `criu page-server` (the pagemaps and\n"
	      "                            every other image stay in DIR; no pages there);\n"
	      "                            restore: the source's lazy page server (checkpoint\n"
	      "                            --lazy-pages), for the pages DIR leaves there\n"
	      "      --address A           page server host (with --page-server); receive:\n"
	      "                            where to listen (default: any)\n"
	      "      --port P              page server TCP port (with --page-server); receive:\n"
	      "                            the port to listen on\n"
	      "      --page-server-criu V  the server's criu version (default " PS_DEFAULT_CRIU "): up to\n"
	      "                            4.1 its headers are 24 bytes, from 4.2 32 bytes\n"
	      "      --page-server-timeout S  wait at most S seconds (default "
	      STR(PS_DEFAULT_TIMEOUT) ") for the server\n"
	      "                            to listen (refused connections are retried), to\n"
	      "                            take more data, to answer\n"
	      "      --receiver            checkpoint --page-server: the page server is\n"
	      "                            `memsplice receive`; the final dump's other images\n"
	      "                            go there too, and the migration ends there\n"
	      "      --rounds N            receive: end after N rounds in all (the store\n"
	      "                            keeps them across restarts) instead of when\n"
	      "                            checkpoint --receiver hands the final images over;\n"
	      "                            then the flat image set into DIR, and exit\n"
	      "      --peer HOST           receive: take rounds only from HOST; any other\n"
	      "                            connection is refused and logged\n"
	      "      --timeout S           receive: a round that moves no byte for S seconds\n"
	      "                            (default " STR(RECEIVE_DEFAULT_TIMEOUT) ") has failed\n"
	      "      --tls                 TLS on the page-server, lazy-pages and receive\n"
	      "                            sessions, as criu's --tls (pages are then copied)\n"
	      "      --tls-cacert F        CA certificates (default " TLS_DEFAULT_CACERT ")\n"
	      "      --tls-cert F          this end's certificate (default " TLS_DEFAULT_CERT ")\n"
	      "      --tls-key F           its key (default " TLS_DEFAULT_KEY ")\n"
	      "  -m, --method M            auto (default), or one of:", f);
	for (size_t i = 0; i < nr_sources; i++)
		fprintf(f, " %s", sources[i]->name);
	fputs("\n"
	      "  -b, --buffer-size SIZE    bytes moved per step (default 4M; K/M/G suffixes);\n"
	      "                            restore: bytes a batch fills\n"
	      "      --display-stats       print timings and page counts\n"
	      "      --stats-json FILE     write them as JSON\n"
	      "  -v, --verbose             more messages (repeat for debug)\n"
	      "  -o, --log-file FILE       write a full log to FILE\n"
	      "  -h, --help                this text\n"
	      "\n"
	      "Exit status: 0 on success, 1 on error (one line on stderr says why).\n"
	      "See memsplice(8).\n", f);
}

/* an unsigned decimal number in [min, max], nothing else */
static int parse_uint(const char *s, unsigned long long min, unsigned long long max,
		      unsigned long long *out)
{
	unsigned long long v;
	char *end;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

static int parse_size(const char *s, size_t *out)
{
	unsigned long long v;
	unsigned int shift = 0;
	char *end;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s)
		return -EINVAL;
	switch (*end) {
	case 'k': case 'K': shift = 10; end++; break;
	case 'm': case 'M': shift = 20; end++; break;
	case 'g': case 'G': shift = 30; end++; break;
	}
	if (*end || v > (1ULL << 30) >> shift)
		return -EINVAL;
	v <<= shift;
	if (v < PAGE_SIZE || v % PAGE_SIZE)
		return -EINVAL;
	*out = v;
	return 0;
}

static const char *opt_name(int c)
{
	static char buf[4];

	for (const struct option *o = long_opts; o->name; o++)
		if (o->val == c)
			return o->name;
	snprintf(buf, sizeof(buf), "%c", c);
	return buf;
}

static bool takes(const struct command *cmd, int c)
{
	for (const int *o = cmd->opts; *o; o++)
		if (*o == c)
			return true;
	return false;
}

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

/* one option into @c; 0, or -EINVAL after printing why */
static int parse_opt(struct cli *c, int opt, const char *arg, int *verbosity,
		     const char **log_file)
{
	unsigned long long v;

	switch (opt) {
	case OPT_TREE:
		if (parse_uint(arg, 1, PID_MAX_LIMIT, &v)) {
			fprintf(stderr, "memsplice: invalid pid '%s'\n", arg);
			return -EINVAL;
		}
		c->dump.pid = v;
		break;
	case OPT_DIR: c->dump.dir = arg; break;
	case OPT_PREV: c->dump.prev_dir = arg; break;
	case OPT_TRACK: c->dump.track_mem = true; break;
	case OPT_LEAVE: c->dump.kill = false; break;
	case OPT_KILL: c->dump.kill = true; break;
	case OPT_SYNC: c->dump.sync = true; break;
	case OPT_METHOD: c->dump.method = arg; break;
	case OPT_BUFSZ:
		if (parse_size(arg, &c->dump.buffer_size)) {
			fprintf(stderr, "memsplice: invalid --buffer-size '%s' "
				"(a multiple of 4K between 4K and 1G)\n", arg);
			return -EINVAL;
		}
		break;
	case OPT_STATS: c->dump.display_stats = true; break;
	case OPT_JSON: c->dump.stats_json = arg; break;
	case OPT_PASSES:
		if (parse_uint(arg, 0, 100, &v)) {
			fprintf(stderr, "memsplice: invalid --max-passes '%s' (0 to 100)\n", arg);
			return -EINVAL;
		}
		c->max_passes = v;
		break;
	case OPT_MIN_PASSES:
		if (parse_uint(arg, 1, 100, &v)) {
			fprintf(stderr, "memsplice: invalid --min-passes '%s' (1 to 100)\n", arg);
			return -EINVAL;
		}
		c->min_passes = v;
		break;
	case OPT_TRACKER:
		if (!strcmp(arg, "auto"))
			c->tracker = TRACKER_AUTO;
		else if (!strcmp(arg, "soft-dirty"))
			c->tracker = TRACKER_SOFT_DIRTY;
		else if (!strcmp(arg, "uffd-wp"))
			c->tracker = TRACKER_UFFD_WP;
		else {
			fprintf(stderr, "memsplice: invalid --tracker '%s' "
				"(auto, soft-dirty or uffd-wp)\n", arg);
			return -EINVAL;
		}
		break;
	case OPT_KEEP_HUGE: c->keep_huge = true; break;
	case OPT_LAZY: c->lazy = true; break;
	case OPT_LAZY_PEER: c->lazy_opts.srv.peer = arg; c->lazy_detail = true; break;
	case OPT_LAZY_ADDR: c->lazy_opts.srv.address = arg; c->lazy_detail = true; break;
	case OPT_LAZY_PORT:
		if (parse_uint(arg, 1, 65535, &v)) {
			fprintf(stderr, "memsplice: invalid --lazy-port '%s' (1 to 65535)\n", arg);
			return -EINVAL;
		}
		c->lazy_opts.srv.port = v;
		c->lazy_detail = true;
		break;
	case OPT_LAZY_TIMEOUT:
		if (parse_uint(arg, 1, 3600, &v)) {
			fprintf(stderr, "memsplice: invalid --lazy-timeout '%s' "
				"(1 to 3600 seconds)\n", arg);
			return -EINVAL;
		}
		c->lazy_opts.srv.timeout_s = v;
		c->lazy_detail = true;
		break;
	case OPT_FINAL:
		if (!strcmp(arg, "criu"))
			c->final = FINAL_CRIU;
		else if (!strcmp(arg, "dump"))
			c->final = FINAL_DUMP;
		else if (!strcmp(arg, "none"))
			c->final = FINAL_NONE;
		else {
			fprintf(stderr, "memsplice: invalid --final '%s' (criu, dump or none)\n", arg);
			return -EINVAL;
		}
		break;
	case OPT_PEER: c->receive.srv.peer = arg; break;
	case OPT_RECEIVER: c->receiver = true; break;
	case OPT_ROUNDS:
		if (parse_uint(arg, 1, 1000000, &v)) {
			fprintf(stderr, "memsplice: invalid --rounds '%s' (1 to 1000000)\n", arg);
			return -EINVAL;
		}
		c->receive.rounds = v;
		break;
	case OPT_TIMEOUT:
		if (parse_uint(arg, 1, 3600, &v)) {
			fprintf(stderr, "memsplice: invalid --timeout '%s' (1 to 3600 seconds)\n",
				arg);
			return -EINVAL;
		}
		c->receive.srv.timeout_s = v;
		break;
	case OPT_PS: c->page_server = true; break;
	case OPT_TLS: c->tls = true; break;
	case OPT_TLS_CACERT: c->tls_opts.cacert = arg; c->tls_detail = true; break;
	case OPT_TLS_CERT: c->tls_opts.cert = arg; c->tls_detail = true; break;
	case OPT_TLS_KEY: c->tls_opts.key = arg; c->tls_detail = true; break;
	case OPT_PS_ADDR: c->ps.address = arg; c->ps_detail = true; break;
	case OPT_PS_PORT:
		if (parse_uint(arg, 1, 65535, &v)) {
			fprintf(stderr, "memsplice: invalid --port '%s' (1 to 65535)\n", arg);
			return -EINVAL;
		}
		c->ps.port = v;
		c->ps_detail = true;
		break;
	case OPT_PS_CRIU:
		if (ps_layout_of(arg, &c->ps.layout)) {
			fprintf(stderr, "memsplice: invalid --page-server-criu '%s' "
				"(a criu version: 3.17, 4.2, ...)\n", arg);
			return -EINVAL;
		}
		c->ps.criu = arg;
		c->ps_detail = true;
		break;
	case OPT_PS_TIMEOUT:
		if (parse_uint(arg, 1, 3600, &v)) {
			fprintf(stderr, "memsplice: invalid --page-server-timeout '%s' "
				"(1 to 3600 seconds)\n", arg);
			return -EINVAL;
		}
		c->ps.timeout_s = v;
		c->ps_detail = true;
		break;
	case OPT_VERBOSE: (*verbosity)++; break;
	case OPT_LOG: *log_file = arg; break;
	default:
		fprintf(stderr, "memsplice: try 'memsplice --help'\n");
		return -EINVAL;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct cli c = {
		.dump = { .method = "auto", .buffer_size = DEFAULT_BUFFER_SIZE,
			  .frozen_hook_fd = -1, .thawed_hook_fd = -1 },
		.min_passes = 1,
		.max_passes = CHECKPOINT_MAX_PASSES,
		.final = FINAL_CRIU,
		.ps = { .criu = PS_DEFAULT_CRIU, .layout = PS_LAYOUT_24,
			.timeout_s = PS_DEFAULT_TIMEOUT },
		.lazy_opts = { .srv = { .name = "lazy", .peer_option = "--lazy-peer" },
				.released_hook_fd = -1 },
		.receive = { .srv = { .name = "receive", .peer_option = "--peer",
				      .timeout_s = RECEIVE_DEFAULT_TIMEOUT } },
	};
	const struct command *cmd = NULL;
	const char *log_file = NULL, *name;
	int verbosity = 0, opt, ret, nopts = argc;
	int seen[64], nr_seen = 0;

	/* "--" ends memsplice's options: the rest belongs to criu (checkpoint) */
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--")) {
			nopts = i;
			c.rest = argv + i + 1;
			c.nr_rest = argc - i - 1;
			break;
		}
	}
	/* GNU getopt permutes: options may come before or after the command */
	while ((opt = getopt_long(nopts, argv, "t:D:Rm:b:vo:h", long_opts, NULL)) != -1) {
		if (opt == OPT_HELP) {
			print_usage(stdout);
			return 0;
		}
		if (parse_opt(&c, opt, optarg, &verbosity, &log_file))
			return 1;
		if (nr_seen < (int)ARRAY_SIZE(seen))
			seen[nr_seen++] = opt;
	}
	if (optind >= nopts) {
		print_usage(stderr);
		return 1;
	}
	name = argv[optind++];
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		if (!strcmp(commands[i].name, name))
			cmd = &commands[i];
	if (!cmd) {
		fprintf(stderr, "memsplice: unknown command '%s' (try 'memsplice --help')\n", name);
		return 1;
	}
	for (int i = 0; i < nr_seen; i++) {
		if (!takes(cmd, seen[i])) {
			fprintf(stderr, "memsplice: option --%s does not apply to %s\n",
				opt_name(seen[i]), cmd->name);
			return 1;
		}
	}
	if (optind < nopts && cmd->run == run_show && optind + 1 == nopts) {
		c.arg = argv[optind++];
	} else if (optind < nopts) {
		fprintf(stderr, "memsplice: unexpected argument '%s' for %s\n", argv[optind],
			cmd->name);
		return 1;
	}
	if (c.rest && cmd->run != run_checkpoint && cmd->run != run_restore) {
		fprintf(stderr, "memsplice: only checkpoint and restore pass options after '--' "
			"(to criu)\n");
		return 1;
	}
#ifdef MEMSPLICE_TEST_HOOKS
	/* test builds only: a stray variable must not stop a production dump */
	if (getenv("MEMSPLICE_TEST_FROZEN_FD"))
		c.dump.frozen_hook_fd = atoi(getenv("MEMSPLICE_TEST_FROZEN_FD"));
	if (getenv("MEMSPLICE_TEST_THAWED_FD"))
		c.dump.thawed_hook_fd = atoi(getenv("MEMSPLICE_TEST_THAWED_FD"));
	if (getenv("MEMSPLICE_TEST_RELEASED_FD"))
		c.lazy_opts.released_hook_fd = atoi(getenv("MEMSPLICE_TEST_RELEASED_FD"));
	c.dump.hide_proc_children = getenv("MEMSPLICE_TEST_HIDE_PROC_CHILDREN");
	c.restore_stall = getenv("MEMSPLICE_TEST_RESTORE_STALL");
	c.restore_go = getenv("MEMSPLICE_TEST_RESTORE_GO");
	c.dump.hide_pagemap_scan = getenv("MEMSPLICE_TEST_HIDE_PAGEMAP_SCAN");
	c.dump.spvm_pin = getenv("MEMSPLICE_TEST_SPVM_PIN");
	if (getenv("MEMSPLICE_TEST_STOP_TIMEOUT_MS"))
		c.dump.stop_timeout_ms = atoi(getenv("MEMSPLICE_TEST_STOP_TIMEOUT_MS"));
#endif
	ret = log_init(verbosity, log_file);
	if (ret) {
		fprintf(stderr, "memsplice: cannot open log file %s: %s\n", log_file, strerror(-ret));
		return 1;
	}
	ret = install_signals();
	if (ret)
		pr_errno(ret, "cannot install signal handlers");
	else
		ret = cmd->run(&c);
	log_fini();
	return ret ? 1 : 0;
}
