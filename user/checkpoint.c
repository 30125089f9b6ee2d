// SPDX-License-Identifier: GPL-2.0
/*
 * memsplice checkpoint: the whole job in one command.
 *
 *   DIR/1      memsplice pre-dump --track-mem           (everything)
 *   DIR/2      memsplice pre-dump --track-mem, parent 1 (what changed)
 *   ...        until a pass stops shrinking (below) or --max-passes
 *   DIR/final  criu dump --track-mem --prev-images-dir ../K [CRIU options]
 *
 * `criu restore -D DIR/final` then restores the tree: CRIU resolves every
 * page it did not write through the parent links down to DIR/1.
 *
 * With --page-server the pages of every pass, and of criu's final dump,
 * go to a `criu page-server` (sink/pageserver.c): DIR keeps the
 * other images, which are copied next to the server's last directory for
 * `criu restore`.  A page server serves one connection and exits, so one
 * is started per pass at the destination (checkpoint starts none there):
 * each pass, and the final dump, connect when the previous one is done and
 * retry a refused connection for --page-server-timeout seconds, long enough
 * for the next server to come up.  criu connects only once, and a probing
 * connection would use up the server's one session: checkpoint connects
 * for criu and hands it the socket (`criu dump --page-server --ps-socket`).
 *
 * When to stop: each pass writes what the tree dirtied while the previous
 * one ran, so passes shrink while the tree dirties memory more slowly than
 * memsplice copies it.  Once a pass writes more than 4/5 of the pages of the
 * one before, the dirty set has reached the rate at which the workload
 * rewrites its working set: another pass would cost as much and leave as
 * much for the final dump.  A pass of at most 1 MiB leaves nothing worth
 * another round either.  --min-passes overrides both.
 *
 * What changed between passes: soft-dirty bits (every pass freezes the tree
 * to read and clear them), or userfaultfd write-protection (--tracker
 * uffd-wp, track/uffd.h): only the first pass freezes, to give each process
 * a userfaultfd; the others do not stop the tree at all.  criu's final dump
 * takes unchanged pages from the passes only by soft-dirty: after uffd-wp
 * passes one more pass freezes the tree to clear the bits for it (on a
 * kernel with them; without, criu would have to write every page, and
 * checkpoint refuses --final criu).  --final dump ends with memsplice's own
 * frozen dump through the same tracker instead: memory images only, for
 * kernels or tools without criu.
 *
 * Syncs: the passes never write back to disk (a crash that loses them ends
 * the tree too, and a new checkpoint starts over).  The final dump, which
 * criu by default ends by killing the tree, is put on disk with the chain it
 * takes pages from (images/sync.h): by memsplice's commit with --final dump,
 * after criu's exit with --final criu (criu does not sync), unless -R or -s
 * among criu's options leaves the tree there.
 */
#define LOG_PREFIX "checkpoint: "
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "checkpoint.h"
#include "collect/pagemap.h"
#include "criu.h"
#include "postcopy.h"
#include "images/sync.h"
#include "log.h"
#include "sink/handover.h"
#include "sink/pageserver.h"
#include "source/select.h"
#include "track/uffd.h"
#include "util.h"

#define SMALL_PASS_PAGES	256	/* 1 MiB */

static bool pass_converged(const struct dump_stats *prev, const struct dump_stats *cur)
{
	return cur->pages_written <= SMALL_PASS_PAGES ||
	       cur->pages_written * 5 > prev->pages_written * 4;
}

static void print_row(const char *pass, const char *method, const struct dump_stats *st,
		      uint64_t took_us)
{
	printf("%-6s %-9s %13llu %11llu %10.1f %10.1f\n", pass, method,
	       (unsigned long long)st->pages_written,
	       (unsigned long long)st->pages_skipped_parent, st->frozen_time / 1e3,
	       took_us / 1e3);
	fflush(stdout);
}

/*
 * The page-server header layout criu @version speaks, in *@layout, where it
 * matters: criu's final dump talks to the same kind of page server as the
 * passes, and a lazy dump's page server is told to close in it.
 */
static int check_criu_layout(const struct checkpoint_opts *o, const char *version,
			     enum ps_layout *layout)
{
	const struct ps_opts *ps = o->pass.page_server;

	if (!ps && !o->lazy)
		return 0;
	if (ps_layout_of(version, layout)) {
		pr_err("cannot tell the page-server header layout of criu %s", version);
		return -EINVAL;
	}
	if (ps && *layout != ps->layout) {
		pr_err("criu %s here sends %d-byte page-server headers, but --page-server-criu %s "
		       "says the page server reads %d-byte ones: they must be the same",
		       version, *layout, ps->criu, ps->layout);
		return -EINVAL;
	}
	return 0;
}

/* which tracker (*@uffd: uffd-wp), or why none fits this kernel and method */
static int pick_tracker(const struct checkpoint_opts *o, const struct kerndat *kd, bool *uffd)
{
	const struct page_source_ops *ops;
	char why[128];
	int ret;

	*uffd = o->tracker == TRACKER_UFFD_WP || (o->tracker == TRACKER_AUTO && !kd->soft_dirty);
	if (o->keep_huge && o->tracker == TRACKER_SOFT_DIRTY) {
		pr_err("--keep-huge-pages is for --tracker uffd-wp: soft-dirty never splits "
		       "a huge page");
		return -EINVAL;
	}
	if (!*uffd) {
		if (kd->soft_dirty)
			return 0;
		pr_err("this kernel has no soft-dirty bits (CONFIG_MEM_SOFT_DIRTY is off): "
		       "criu dump --track-mem cannot take pages from pre-dumps here");
		return -EOPNOTSUPP;
	}
	ret = uffd_probe(why, sizeof(why));
	if (ret) {
		if (o->tracker == TRACKER_AUTO)
			pr_err("no dirty tracking on this kernel: no soft-dirty bits "
			       "(CONFIG_MEM_SOFT_DIRTY), and %s", why);
		else
			pr_err("--tracker uffd-wp: %s", why);
		return ret;
	}
	if (!kd->soft_dirty && o->final == FINAL_CRIU) {
		pr_err("this kernel has no soft-dirty bits: criu's final dump cannot take pages "
		       "from the passes and would write every page (use --final dump or none)");
		return -EOPNOTSUPP;
	}
	ret = source_select(o->pass.method, &ops);
	if (ret)
		return ret;
	if (ops->xfer_while_frozen) {
		pr_err("method %s moves pages with the tree frozen: --tracker uffd-wp passes "
		       "do not freeze it (use another method)", ops->name);
		return -EINVAL;
	}
	return 0;
}

/* DIR must be there: refused like the rest, before the table and the tree */
static int check_dir(const char *dir)
{
	struct stat st;
	int ret;

	if (stat(dir, &st) < 0) {
		ret = -errno;
		pr_errno(ret, "images directory %s", dir);
		return ret;
	}
	if (!S_ISDIR(st.st_mode)) {
		pr_err("images directory %s is not a directory", dir);
		return -ENOTDIR;
	}
	if (access(dir, W_OK | X_OK) < 0) {
		ret = -errno;
		pr_errno(ret, "images directory %s is not writable", dir);
		return ret;
	}
	return 0;
}

static int check_setup(const struct checkpoint_opts *o, bool *uffd, enum ps_layout *layout)
{
	static const char *const subdirs[] = { "1", "final" };	/* a run creates them */
	static const char *const own[] = { "-t", "--tree", "-D", "--images-dir",
					   "--prev-images-dir", "--track-mem" };
	static const char *const ps[] = { "--page-server", "--address", "--port",
					  "--ps-socket" };
	struct kerndat kd;
	char path[PATH_MAX], version[64];
	int ret;

	ret = kerndat_probe(&kd);
	if (ret) {
		pr_errno(ret, "cannot probe pagemap");
		return ret;
	}
	ret = check_dir(o->dir);
	if (ret)
		return ret;
	if (o->min_passes > o->max_passes) {
		pr_err("--min-passes %u is more than --max-passes %u", o->min_passes,
		       o->max_passes);
		return -EINVAL;
	}
	/* pure post-copy (--max-passes 0): no pass, nothing to track */
	*uffd = false;
	ret = o->max_passes ? pick_tracker(o, &kd, uffd) : 0;
	if (ret)
		return ret;
	if (o->lazy) {
		const struct page_source_ops *ops;

		ret = source_select(o->pass.method, &ops);
		if (ret)
			return ret;
		if (ops->xfer_while_frozen) {
			pr_err("method %s cannot serve lazy pages: it moves pages only while it "
			       "freezes the tree itself (pick read, device or syscall)", ops->name);
			return -EINVAL;
		}
	}
	for (int i = 0; i < o->nr_criu_args; i++) {
		for (size_t k = 0; k < ARRAY_SIZE(own); k++) {
			if (!strcmp(o->criu_args[i], own[k])) {
				pr_err("criu option %s: checkpoint sets it itself", own[k]);
				return -EINVAL;
			}
		}
		for (size_t k = 0; k < ARRAY_SIZE(ps); k++) {
			if (!strcmp(o->criu_args[i], ps[k])) {
				pr_err("criu option %s: give memsplice --page-server --address A "
				       "--port P, for the passes and criu alike", ps[k]);
				return -EINVAL;
			}
		}
	}
	if (o->final == FINAL_CRIU) {
		ret = criu_version(version, sizeof(version));
		if (ret == -ENOENT) {
			pr_err("no criu in PATH for the final dump (install criu, or use --final none)");
			return ret;
		}
		if (ret) {
			pr_errno(ret, "`criu --version` failed");
			return ret;
		}
		pr_info("criu %s", version);
		ret = check_criu_layout(o, version, layout);
		if (ret)
			return ret;
	}
	for (size_t i = 0; i < ARRAY_SIZE(subdirs); i++) {
		snprintf(path, sizeof(path), "%s/%s", o->dir, subdirs[i]);
		if (!access(path, F_OK)) {
			pr_err("%s exists: checkpoint writes into a directory without 1/ or final/",
			       path);
			return -EEXIST;
		}
	}
	return 0;
}

static int make_subdir(const char *dir, const char *sub, char *path, size_t len)
{
	snprintf(path, len, "%s/%s", dir, sub);
	if (mkdir(path, 0700) < 0) {
		int ret = -errno;

		pr_errno(ret, "cannot create %s", path);
		return ret;
	}
	return 0;
}

static int stop_if_interrupted(const struct checkpoint_opts *o,
			       volatile sig_atomic_t *interrupted, unsigned int last)
{
	if (!*interrupted)
		return 0;
	pr_err("interrupted by signal %d: the tree runs on; %s/1..%u are complete pre-dumps",
	       (int)*interrupted, o->dir, last);
	return -EINTR;
}

/* one pre-dump, DIR/@k on top of DIR/@k-1 */
static int run_pass(const struct checkpoint_opts *o, volatile sig_atomic_t *interrupted,
		    struct uffd_tracker *tr, unsigned int k, bool thawed, struct dump_stats *st)
{
	struct dump_opts pass = o->pass;
	char path[PATH_MAX], name[16], parent[32];
	uint64_t t0;
	int ret;

	snprintf(name, sizeof(name), "%u", k);
	ret = make_subdir(o->dir, name, path, sizeof(path));
	if (ret)
		return ret;
	snprintf(parent, sizeof(parent), "../%u", k - 1);
	pass.dir = path;
	pass.prev_dir = k > 1 ? parent : NULL;
	pass.pre_dump = true;
	pass.track_mem = true;
	pass.tracker = tr;
	pass.thawed = thawed;
	t0 = now_us();
	ret = dump_tree(&pass, interrupted, st);
	if (ret) {
		rmdir(path);	/* dump_tree removed what it wrote */
		return ret;
	}
	print_row(name, st->method, st, now_us() - t0);
	return 0;
}

/*
 * The rounds; *@last is the number of the last complete pre-dump.  With a
 * tracker (@tr), passes after the first do not freeze the tree; one more
 * pass that does ends them when criu's dump follows (see the top).
 */
static int run_passes(const struct checkpoint_opts *o, volatile sig_atomic_t *interrupted,
		      struct uffd_tracker *tr, unsigned int *last)
{
	struct dump_stats prev = { 0 };
	int ret = 0;

	*last = 0;
	for (unsigned int k = 1; k <= o->max_passes; k++) {
		struct dump_stats st = { 0 };

		ret = stop_if_interrupted(o, interrupted, *last);
		if (!ret)
			ret = run_pass(o, interrupted, tr, k, tr && tr->tree, &st);
		if (ret)
			return ret;
		*last = k;
		if (k > 1 && k >= o->min_passes && pass_converged(&prev, &st))
			break;
		prev = st;
	}
	if (tr && o->final == FINAL_CRIU) {
		struct dump_stats st = { 0 };

		ret = stop_if_interrupted(o, interrupted, *last);
		if (!ret)
			ret = run_pass(o, interrupted, tr, *last + 1, false, &st);
		if (!ret)
			++*last;
	}
	return ret;
}

/*
 * The final dump's page server: connected here (retrying, as the passes
 * do), handed to criu as an inherited fd.  *@sk stays -1 without one.
 */
static int connect_for_criu(const struct checkpoint_opts *o, volatile sig_atomic_t *interrupted,
			    int *sk, char *num, size_t len)
{
	int ret;

	*sk = -1;
	if (!o->pass.page_server)
		return 0;
	ret = ps_connect(o->pass.page_server, interrupted, sk);
	if (ret)
		return ret;
	if (fcntl(*sk, F_SETFD, 0) < 0) {	/* criu inherits it */
		ret = -errno;
		pr_errno(ret, "cannot pass the page server's socket to criu");
		close(*sk);
		*sk = -1;
		return ret;
	}
	snprintf(num, len, "%d", *sk);
	return 0;
}

/* criu kills the tree after its dump unless told -R or -s */
static bool criu_kills_tree(const struct checkpoint_opts *o)
{
	for (int i = 0; i < o->nr_criu_args; i++)
		if (!strcmp(o->criu_args[i], "-R") ||
		    !strcmp(o->criu_args[i], "--leave-running") ||
		    !strcmp(o->criu_args[i], "-s") ||
		    !strcmp(o->criu_args[i], "--leave-stopped"))
			return false;
	return true;
}

/*
 * criu's set and the chain under it, on disk: the tree is gone.  A failure
 * leaves no inventory.img, as a failed dump does.
 */
static int sync_criu_set(const char *path)
{
	char inv[PATH_MAX + 16];
	int dfd, ret;

	dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		ret = -errno;
		pr_errno(ret, "cannot open %s", path);
		return ret;
	}
	ret = imgsync_chain(dfd, path);		/* says what failed */
	close(dfd);
	if (ret) {
		snprintf(inv, sizeof(inv), "%s/inventory.img", path);
		unlink(inv);
	}
	return ret;
}

static int final_dump(const struct checkpoint_opts *o, volatile sig_atomic_t *interrupted,
		      unsigned int last)
{
	char path[PATH_MAX], pid[16], parent[32], failed[PATH_MAX + 16], sknum[16];
	const char *fixed[] = { "criu", "dump", "-t", pid, "-D", path, "--track-mem",
				"--prev-images-dir", parent, "-o", "dump.log",
				"--page-server", "--ps-socket", sknum };
	int nfixed = ARRAY_SIZE(fixed), ret, sk;
	struct dump_stats st = { 0 };
	char **argv;
	uint64_t t0;

	if (!o->pass.page_server)
		nfixed -= 3;
	ret = make_subdir(o->dir, "final", path, sizeof(path));
	if (ret)
		return ret;
	snprintf(pid, sizeof(pid), "%d", o->pass.pid);
	snprintf(parent, sizeof(parent), "../%u", last);
	argv = calloc(nfixed + o->nr_criu_args + 1, sizeof(*argv));
	if (!argv) {
		pr_err("out of memory");
		rmdir(path);
		return -ENOMEM;
	}
	memcpy(argv, fixed, nfixed * sizeof(*argv));
	for (int i = 0; i < o->nr_criu_args; i++)
		argv[nfixed + i] = o->criu_args[i];

	t0 = now_us();
	ret = connect_for_criu(o, interrupted, &sk, sknum, sizeof(sknum));
	if (ret) {
		free(argv);
		rmdir(path);
		return ret;
	}
	ret = criu_run(argv, interrupted);
	if (sk >= 0)
		close(sk);	/* criu's copy was the one in use; the server sees the end */
	free(argv);
	if (ret) {
		/* never leave a set that looks complete */
		snprintf(failed, sizeof(failed), "%s/inventory.img", path);
		unlink(failed);
		if (ret < 0)
			pr_errno(ret, "cannot run criu");
		else if (ret > 128)
			pr_err("criu dump was killed by signal %d (its log: %s/dump.log)",
			       ret - 128, path);
		else
			pr_err("criu dump failed with exit status %d (its log: %s/dump.log)",
			       ret, path);
		return ret < 0 ? ret : -ECHILD;
	}
	if (criu_kills_tree(o)) {
		ret = sync_criu_set(path);
		if (ret)
			return ret;
	}
	if (stats_read_image(path, &st))
		pr_warn("criu wrote no readable %s/stats-dump", path);
	print_row("final", "criu", &st, now_us() - t0);
	if (o->receiver)
		;	/* cmd_checkpoint() hands them over */
	else if (o->pass.page_server)
		printf("restore: copy the files of %s (not dump.log) into the page server's "
		       "last directory, then criu restore -D there\n", path);
	else
		printf("restore: criu restore -D %s\n", path);
	return 0;
}

/* --final dump: memsplice's own dump on top, frozen, through the same tracker */
static int final_memsplice(const struct checkpoint_opts *o, volatile sig_atomic_t *interrupted,
			   struct uffd_tracker *tr, unsigned int last)
{
	struct dump_opts pass = o->pass;
	struct dump_stats st = { 0 };
	char path[PATH_MAX], parent[32];
	uint64_t t0;
	int ret;

	ret = make_subdir(o->dir, "final", path, sizeof(path));
	if (ret)
		return ret;
	snprintf(parent, sizeof(parent), "../%u", last);
	pass.dir = path;
	pass.prev_dir = parent;
	pass.pre_dump = false;
	pass.track_mem = true;
	pass.kill = false;
	pass.sync = true;	/* the product: on disk with its chain */
	pass.tracker = tr;
	t0 = now_us();
	ret = dump_tree(&pass, interrupted, &st);
	if (ret) {
		rmdir(path);
		return ret;
	}
	print_row("final", st.method, &st, now_us() - t0);
	printf("%s/final: memory images of the tree, which runs on (not restorable by criu "
	       "without criu's own images)\n", o->dir);
	return 0;
}

/*
 * --receiver: DIR/final's other images (none with --final none) to the
 * receiver, which ends the migration; if that fails they stay here, and
 * the receiver, stopped and run again with --rounds as many as it holds,
 * writes its set without them
 */
static int hand_over(const struct checkpoint_opts *o, volatile sig_atomic_t *interrupted)
{
	char path[PATH_MAX];
	int ret;

	snprintf(path, sizeof(path), "%s/final", o->dir);
	ret = handover_images(o->pass.page_server, o->final == FINAL_NONE ? NULL : path,
			      interrupted);
	if (ret)
		pr_err("the final images stay in %s: copy them into the receiver's DIR, stop it and "
		       "run it again with --rounds as many as it has taken", path);
	return ret;
}

int cmd_checkpoint(const struct checkpoint_opts *o, volatile sig_atomic_t *interrupted)
{
	struct uffd_tracker tr, *trp = NULL;
	unsigned int last;
	enum ps_layout layout = PS_LAYOUT_24;
	bool uffd;
	int ret;

	ret = check_setup(o, &uffd, &layout);
	if (ret)
		return ret;
	if (uffd && o->max_passes) {
		ret = uffd_tracker_init(&tr, o->keep_huge);
		if (ret)
			return ret;
		trp = &tr;
		if (o->final == FINAL_CRIU)
			pr_info("uffd-wp passes, then one frozen pass that clears soft-dirty for criu");
	}
	printf("%-6s %-9s %13s %11s %10s %10s\n", "pass", "method", "pages written",
	       "from parent", "frozen ms", "took ms");
	ret = run_passes(o, interrupted, trp, &last);
	if (!ret)
		ret = stop_if_interrupted(o, interrupted, last);
	if (ret)
		goto out;
	switch (o->final) {
	case FINAL_NONE:
		printf("final: none (criu dump -t %d --track-mem --prev-images-dir ../%u "
		       "-D %s/final%s makes the set restorable)\n", o->pass.pid, last, o->dir,
		       o->pass.page_server ? " --page-server --address A --port P" : "");
		break;
	case FINAL_DUMP:
		ret = final_memsplice(o, interrupted, trp, last);
		break;
	case FINAL_CRIU:
		if (o->lazy) {
			char path[PATH_MAX];

			ret = make_subdir(o->dir, "final", path, sizeof(path));
			if (!ret)
				ret = postcopy_run(o, interrupted, last, path, layout);
			if (ret)
				rmdir(path);	/* only if nothing was written there */
			break;
		}
		ret = final_dump(o, interrupted, last);
		break;
	}
	if (!ret && o->receiver)
		ret = hand_over(o, interrupted);
out:
	if (trp)
		uffd_tracker_free(trp);
	return ret;
}
