// SPDX-License-Identifier: GPL-2.0
/*
 * pre-dump: freeze the tree, note its VMAs, resume it, then find and copy
 *           the pages, process by process.
 * dump:     freeze, note the VMAs, find and copy the pages, write, then
 *           resume (or kill with --kill, as criu dump does by default).
 *           memsplice writes only memory images: CRIU continues from them,
 *           so leaving the tree running is the safe default.
 *
 * Neither syncs unless asked (--sync), except a dump with --kill
 * (images/sync.h).
 *
 * Whatever fails, the tree is released (never killed, never left stopped)
 * and the files of the half-written set are removed.
 */
#define LOG_PREFIX ""
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "collect/parent.h"
#include "dump.h"
#include "images/imgset.h"
#include "inventory.pb-c.h"
#include "log.h"
#include "pstree.pb-c.h"
#include "sink/image.h"
#include "sink/pageserver.h"
#include "source/select.h"
#include "track/uffd.h"
#include "util.h"
#include "xfer.h"

static int uptime_us(uint64_t *out)
{
	double up;
	FILE *f = fopen("/proc/uptime", "re");

	if (!f)
		return -errno;
	if (fscanf(f, "%lf", &up) != 1) {
		fclose(f);
		return -EINVAL;
	}
	fclose(f);
	*out = (uint64_t)(up * 1000000);
	return 0;
}

static int write_pstree(struct imgset *set, const struct pstree *tree)
{
	struct img img;
	int ret, ret2;

	ret = imgset_create(set, &img, IMG_PSTREE, 0);
	if (ret)
		return ret;
	for (unsigned int i = 0; i < tree->nr && !ret; i++) {
		const struct task *t = &tree->tasks[i];
		PstreeEntry pe = PSTREE_ENTRY__INIT;

		pe.pid = t->vpid;
		pe.ppid = t->ppid;
		pe.pgid = t->pgid;
		pe.sid = t->sid;
		pe.n_threads = t->nr_threads;
		pe.threads = (uint32_t *)t->vthreads;
		if (t->zombie) {	/* as CRIU lists a zombie: its own pid */
			pe.n_threads = 1;
			pe.threads = (uint32_t *)&t->vpid;
		}
		ret = img_write_entry(&img, &pe.base);
	}
	ret2 = img_close(&img);
	return ret ? ret : ret2;
}

static int write_images(struct dump_ctx *ctx, struct imgset *set, uint64_t uptime)
{
	const struct dump_opts *o = ctx->opts;
	InventoryEntry inv = INVENTORY_ENTRY__INIT;
	int ret;

	ret = write_pstree(set, &ctx->tree);
	for (unsigned int i = 0; i < ctx->tree.nr && !ret; i++)
		if (!ctx->tree.tasks[i].zombie)
			ret = mm_write(set, ctx->tree.tasks[i].vpid, &ctx->mms[i]);
	if (!ret)
		ret = stats_write_image(set, &ctx->stats);
	if (ret)
		return ret;

	inv.img_version = 2;
	inv.has_fdinfo_per_id = true;
	inv.fdinfo_per_id = true;
	inv.has_dump_uptime = true;
	inv.dump_uptime = uptime;
	if (o->pre_dump) {
		inv.has_pre_dump_mode = true;
		inv.pre_dump_mode = ctx->src.ops->pre_dump_mode;
	}
	return imgset_commit(set, &inv);
}

/*
 * A pass that clears soft-dirty marks DIR first (imgset.h).  If an earlier
 * pass into DIR failed after clearing, pages written since the parent may
 * look clean: take nothing from the parent this time.
 */
static int start_tracking(struct imgset *set, struct parent *parent)
{
	if (imgset_tracking_was_reset(set) && parent->dirfd >= 0) {
		pr_warn("an earlier pass into %s failed after resetting dirty tracking: "
			"dumping in full, nothing from the parent", set->dir);
		parent_close(parent);
	}
	return imgset_mark_tracking(set);
}

/* a pass that does not freeze: the tracker's tree, what of it still lives */
static int live_tree(const struct dump_opts *o, struct pstree *tree)
{
	int ret = pstree_copy_live(o->tracker->tree, tree);

	if (ret) {
		pr_errno(ret, "cannot copy the tree");
		return ret;
	}
	if (!tree->nr || tree->tasks[0].pid != o->pid) {
		pr_err("process %d exited (or exec'd) since the first pass", o->pid);
		return -ESRCH;
	}
	return 0;
}

static void thaw(struct dump_ctx *ctx, bool *frozen, uint64_t since)
{
	if (!*frozen)
		return;
	pstree_release(&ctx->tree);
	ctx->stats.frozen_time = now_us() - since;
	*frozen = false;
}

int dump_tree(const struct dump_opts *o, volatile sig_atomic_t *interrupted,
	      struct dump_stats *stats)
{
	struct dump_ctx ctx = { .opts = o, .interrupted = interrupted,
				.self = { .pidfd = -1, .mem_fd = -1, .pagemap_fd = -1 } };
	struct source_opts sopts = { .buffer_size = o->buffer_size };
	const struct page_source_ops *ops;
	struct parent parent = { .dirfd = -1 };
	uint64_t t0, frozen_at = 0, uptime = 0;
	bool frozen = false;
	struct imgset set;
	int ret;

	ctx.stats.pre_dump = o->pre_dump;
	ret = kerndat_probe(&ctx.kd);
	if (ret) {
		pr_errno(ret, "cannot probe pagemap");
		return ret;
	}
	if (o->hide_pagemap_scan)
		ctx.kd.pagemap_scan = false;
	if (o->track_mem && !o->tracker && !ctx.kd.soft_dirty) {
		pr_err("--track-mem needs soft-dirty bits, which this kernel does not have "
		       "(CONFIG_MEM_SOFT_DIRTY is off)");
		return -EOPNOTSUPP;
	}
	ret = source_select(o->method, &ops);
	if (ret)
		return ret;
	ctx.stats.method = ops->name;
	if (o->thawed && (ops->xfer_while_frozen || !o->tracker || !o->tracker->tree)) {
		pr_err("method %s cannot dump a tree that is not frozen", ops->name);
		return -EINVAL;
	}
	/* a dump drains every fill while frozen: pinned pages are a snapshot */
	sopts.stable = o->pre_dump && !ops->xfer_while_frozen && !o->spvm_pin;
	ret = pstree_check_target(o->pid);
	if (ret)
		return ret;
	/* killed, the tree lives on only in the images: on disk before the kill */
	ret = imgset_open(&set, o->dir, o->sync || (!o->pre_dump && o->kill));
	if (ret)
		return ret;
	if (o->prev_dir) {
		ret = parent_open(&parent, set.dirfd, o->prev_dir);
		if (ret)
			goto err_set;
	}
	ctx.src.ops = ops;
	ret = ops->create(&ctx.src, &sopts);	/* says why it failed */
	if (ret)
		goto err_parent;
	/* a page server is connected and checked before the tree is frozen */
	if (o->page_server)
		ret = sink_ps_create(&ctx.sink, o->page_server, &set, interrupted);
	else
		ret = sink_image_create(&ctx.sink, &set);
	if (ret)
		goto err_src;
	ret = target_open(&ctx.self, getpid(), getpid());
	if (ret) {
		pr_errno(ret, "cannot open memsplice's own /proc entries");
		goto err_sink;
	}

	t0 = now_us();
	if (o->thawed) {
		ret = live_tree(o, &ctx.tree);
		if (ret)
			goto err_sink;
	} else {
		ret = pstree_seize(o->pid, &(struct seize_opts){
				.proc_children = ctx.kd.proc_children && !o->hide_proc_children,
				.stop_timeout_ms = o->stop_timeout_ms ?: PSTREE_STOP_TIMEOUT_MS,
			   }, &ctx.tree);
		if (ret)
			goto err_sink;
		frozen = true;
	}
	frozen_at = now_us();
	ctx.stats.freezing_time = frozen_at - t0;
	ret = imgset_begin(&set, o->prev_dir);
	if (!ret)
		ret = uptime_us(&uptime);
	if (!ret && o->track_mem)
		ret = start_tracking(&set, &parent);
	ctx.move_after_thaw = o->pre_dump && !ops->xfer_while_frozen;
	ctx.hold_runs = ctx.move_after_thaw && o->track_mem && !o->tracker && parent.dirfd >= 0;
	/* never cleared unfrozen: a write between the scan and the clear would be lost */
	ctx.clear_soft_dirty = o->track_mem && ctx.kd.soft_dirty && frozen;
	if (!ret)
		ret = collect_tree(&ctx, &parent);
	if (!ret && o->tracker && o->pre_dump && frozen)
		ret = uffd_tracker_attach(o->tracker, &ctx.tree);
	if (!ret)
		ret = test_hook(frozen ? o->frozen_hook_fd : -1, "frozen\n", interrupted);
	if (ret)
		goto err_tree;
	if (ctx.move_after_thaw) {
		thaw(&ctx, &frozen, frozen_at);
		ret = test_hook(o->thawed_hook_fd, "thawed\n", interrupted);
		if (ret)
			goto err_tree;
	}
	if (o->pre_dump && ops->xfer_while_frozen)
		pr_info("method %s moves pages while the tree is frozen", ops->name);

	ret = collect_pages(&ctx, &parent);
	if (!ret && ctx.sink.ops->finish) {
		uint64_t t = now_us();

		ret = ctx.sink.ops->finish(&ctx.sink);	/* before inventory.img */
		ctx.stats.memwrite_time += now_us() - t;
	}
	if (ret)
		goto err_tree;
	if (o->pre_dump || !o->kill)
		thaw(&ctx, &frozen, frozen_at);
	else
		ctx.stats.frozen_time = now_us() - frozen_at;	/* until the kill */
	ret = *interrupted ? -EINTR : write_images(&ctx, &set, uptime);
	if (ret)
		goto err_tree;
	if (frozen) {
		pstree_kill(&ctx.tree);
		frozen = false;
	}

	/* what the passes that do not freeze dump */
	if (o->tracker && o->pre_dump && !o->thawed && uffd_tracker_keep(o->tracker, &ctx.tree))
		pr_warn("out of memory: the next pass freezes the tree again");
	if (o->display_stats)
		stats_print(stdout, &ctx.stats);
	if (o->stats_json)
		stats_write_json(o->stats_json, &ctx.stats);
	if (stats)
		*stats = ctx.stats;
	ret = 0;
	goto out;

err_tree:
	if (*interrupted)
		pr_err("interrupted by signal %d: the tree is resumed, no images kept",
		       (int)*interrupted);
	thaw(&ctx, &frozen, frozen_at);
out:
	collect_free(&ctx);
	pstree_free(&ctx.tree);
err_sink:
	target_close(&ctx.self);
	if (o->page_server)
		sink_ps_destroy(&ctx.sink);
	else
		sink_image_destroy(&ctx.sink);
err_src:
	ops->destroy(&ctx.src);
err_parent:
	parent_close(&parent);
err_set:
	if (ret)
		imgset_abort(&set);
	imgset_end(&set);
	return ret;
}
