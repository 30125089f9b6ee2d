// SPDX-License-Identifier: GPL-2.0
/*
 * Iterative pre-dumps with soft-dirty tracking (needs CONFIG_MEM_SOFT_DIRTY:
 * skipped on kernels without it, run in the guest).  The victim dirties a
 * known set of pages between passes; each pass must write exactly those, and
 * the final dump resolved through the parent chain must equal what the victim
 * wrote.
 *
 * Every method runs the passes whose tracking meets the pages it moves;
 * parent_without_the_pid is FULL_PASS_ONLY.
 */
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "lib/pattern.h"
#include "lib/vtest.h"

#define PE_PARENT	1u
#define PE_PRESENT	4u
#define ANON_PAGES	256

FIXTURE(predump) {
	struct victim v;
	char *d[3];
	char rel[3][512];
	char err[4096];
};

FIXTURE_VARIANT(predump) {
	const char *method;
};

FIXTURE_VARIANT_ADD(predump, syscall) { .method = "syscall" };
FIXTURE_VARIANT_ADD(predump, read) { .method = "read" };
FIXTURE_VARIANT_ADD(predump, device) { .method = "device" };
FIXTURE_VARIANT_ADD(predump, procmem) { .method = "procmem" };
FIXTURE_VARIANT_ADD(predump, parasite) { .method = "parasite" };

#define NEED_PREDUMP_SETUP() do { \
	if (!self->d[2]) \
		SKIP(return, "method %s or soft-dirty not available here, or not selected", variant->method); \
} while (0)

FIXTURE_SETUP(predump)
{
	const char *a[] = { "--anon", "256", "--nothp", NULL };

	if (system("./user/memsplice check | grep -q '^soft-dirty *yes'"))
		SKIP(return, "no soft-dirty on this kernel");
	const char *skip = method_skip(variant->method);

	if (skip)
		SKIP(return, "%s", skip);
	for (int i = 0; i < 3; i++) {
		self->d[i] = make_dir("chain");
		ASSERT_NE(NULL, self->d[i]);
		snprintf(self->rel[i], sizeof(self->rel[i]), "../%s", strrchr(self->d[i], '/') + 1);
	}
	ASSERT_EQ(0, victim_start(&self->v, a, 1, 0));
}

FIXTURE_TEARDOWN(predump)
{
	victim_kill(&self->v);
	for (int i = 0; i < 3; i++)
		if (self->d[i])
			remove_dir(self->d[i]);
}

static int pass(struct __test_metadata *_metadata, FIXTURE_DATA(predump) *self,
		const FIXTURE_VARIANT(predump) *variant, const char *cmd, int i, const char *extra)
{
	char pid[16], json[600];
	const char *args[] = { cmd, "-t", pid, "-D", self->d[i], "--track-mem", "--method",
			       variant->method, "--stats-json", json,
			       i ? "--prev-images-dir" : extra, i ? self->rel[i - 1] : NULL,
			       extra, NULL };
	int ret;

	snprintf(pid, sizeof(pid), "%d", self->v.pid);
	snprintf(json, sizeof(json), "%s/stats.json", self->d[i]);
	ret = run_memsplice(args, self->err, sizeof(self->err), -1);
	if (ret)
		TH_LOG("memsplice %s #%d: exit %d: %s", cmd, i, ret, self->err);
	return ret;
}

/* every PE_PARENT page of the newest level resolves through the chain */
static long parents_resolve(const struct dump_view *dv)
{
	char page[VPAGE];
	long n = 0;

	for (int i = 0; i < dv->lv[0].n; i++) {
		const struct dv_ent *e = &dv->lv[0].e[i];

		if (!(e->flags & PE_PARENT))
			continue;
		for (uint32_t k = 0; k < e->nr; k++, n++)
			if (dump_view_page(dv, e->vaddr + (uint64_t)k * VPAGE, page) != 1)
				return -1;
	}
	return n;
}

TEST_F(predump, chain_writes_only_dirty_pages)
{
	struct vregion *anon, *new1, *new2;
	struct dump_view dv;
	uint64_t bad = 0;
	char json[600];

	NEED_PREDUMP_SETUP();
	anon = victim_region(&self->v, self->v.pid, "anon");
	ASSERT_NE(NULL, anon);

	/* pass 0: everything */
	ASSERT_EQ(0, pass(_metadata, self, variant, "pre-dump", 0, NULL));
	ASSERT_EQ(0, dump_view_open(&dv, self->d[0], self->v.pid, false));
	EXPECT_EQ(ANON_PAGES, dump_view_count(&dv, anon->addr, anon->addr + ANON_PAGES * VPAGE,
					      PE_PRESENT));
	dump_view_close(&dv);

	/* pass 1: every 4th anon page was written, and a new mapping appeared */
	ASSERT_EQ(0, victim_dirty(&self->v, self->v.pid));
	new1 = victim_region(&self->v, self->v.pid, "new1");
	ASSERT_NE(NULL, new1);
	ASSERT_EQ(0, pass(_metadata, self, variant, "pre-dump", 1, NULL));
	ASSERT_EQ(0, dump_view_open(&dv, self->d[1], self->v.pid, false));
	EXPECT_EQ(ANON_PAGES / 4, dump_view_count(&dv, anon->addr,
						  anon->addr + ANON_PAGES * VPAGE, PE_PRESENT));
	EXPECT_EQ(ANON_PAGES * 3 / 4, dump_view_count(&dv, anon->addr,
						      anon->addr + ANON_PAGES * VPAGE, PE_PARENT));
	for (unsigned long i = 0; i < ANON_PAGES; i += 4)
		EXPECT_EQ(1, dump_view_count(&dv, anon->addr + i * VPAGE,
					     anon->addr + (i + 1) * VPAGE, PE_PRESENT));
	/* new since the parent: written in full, never PE_PARENT */
	EXPECT_EQ(8, dump_view_count(&dv, new1->addr, new1->addr + 8 * VPAGE, PE_PRESENT));
	EXPECT_LE(0, parents_resolve(&dv));
	EXPECT_EQ(ANON_PAGES, check_region(&dv, anon, 0, 1, &bad)) {
		TH_LOG("anon page %#lx wrong after pass 1", (unsigned long)bad);
	}
	dump_view_close(&dv);
	snprintf(json, sizeof(json), "%s/stats.json", self->d[1]);
	EXPECT_LE(ANON_PAGES * 3 / 4, stats_json_get(json, "pages_skipped_parent"));

	/* final dump: dirty again, dump frozen, resolve everything through the chain */
	ASSERT_EQ(0, victim_dirty(&self->v, self->v.pid));
	new2 = victim_region(&self->v, self->v.pid, "new2");
	ASSERT_NE(NULL, new2);
	ASSERT_EQ(0, victim_stop_all(&self->v));
	ASSERT_EQ(0, pass(_metadata, self, variant, "dump", 2, "-R"));
	ASSERT_EQ(0, dump_view_open(&dv, self->d[2], self->v.pid, false));
	EXPECT_EQ(3, dv.nr_levels);
	EXPECT_EQ(ANON_PAGES / 4, dump_view_count(&dv, anon->addr,
						  anon->addr + ANON_PAGES * VPAGE, PE_PRESENT));
	EXPECT_EQ(ANON_PAGES, check_region(&dv, anon, 0, 2, &bad)) {
		TH_LOG("anon page %#lx wrong in the final dump", (unsigned long)bad);
	}
	EXPECT_EQ(8, check_region(&dv, new1, 0, 0, &bad));
	EXPECT_EQ(8, check_region(&dv, new2, 0, 0, &bad));
	EXPECT_LE(0, parents_resolve(&dv));
	dump_view_close(&dv);
	ASSERT_EQ(0, victim_cont_all(&self->v));
	EXPECT_EQ(0, victim_verify_all(&self->v));
}

TEST_F(predump, unchanged_victim_writes_almost_nothing)
{
	struct vregion *anon;
	struct dump_view dv;

	NEED_PREDUMP_SETUP();
	anon = victim_region(&self->v, self->v.pid, "anon");
	ASSERT_NE(NULL, anon);
	ASSERT_EQ(0, pass(_metadata, self, variant, "pre-dump", 0, NULL));
	ASSERT_EQ(0, pass(_metadata, self, variant, "pre-dump", 1, NULL));
	ASSERT_EQ(0, dump_view_open(&dv, self->d[1], self->v.pid, false));
	EXPECT_EQ(0, dump_view_count(&dv, anon->addr, anon->addr + ANON_PAGES * VPAGE, PE_PRESENT));
	EXPECT_EQ(ANON_PAGES, dump_view_count(&dv, anon->addr, anon->addr + ANON_PAGES * VPAGE,
					      PE_PARENT));
	EXPECT_LE(0, parents_resolve(&dv));
	dump_view_close(&dv);
	EXPECT_EQ(0, victim_verify_all(&self->v));
}

/*
 * A tracked pass that fails after clearing soft-dirty (here: disk full)
 * leaves the bits cleared.  A retry on the same parent must not take the
 * pages written before the failure for unchanged: it dumps in full.
 */
TEST_F(predump, retry_after_failed_tracked_pass)
{
	struct vregion *anon;
	struct dump_view dv;
	uint64_t bad = 0;
	char marker[600];

	NEED_PREDUMP_SETUP();
	anon = victim_region(&self->v, self->v.pid, "anon");
	ASSERT_NE(NULL, anon);
	ASSERT_EQ(0, pass(_metadata, self, variant, "pre-dump", 0, NULL));
	ASSERT_EQ(0, victim_dirty(&self->v, self->v.pid));
	if (mount("memsplice-full", self->d[1], "tmpfs", 0, "size=64k"))
		SKIP(return, "cannot mount a small tmpfs: %m");
	EXPECT_EQ(1, pass(_metadata, self, variant, "pre-dump", 1, NULL));
	snprintf(marker, sizeof(marker), "%s/memsplice-tracking-reset", self->d[1]);
	EXPECT_EQ(0, access(marker, F_OK));
	ASSERT_EQ(0, mount(NULL, self->d[1], NULL, MS_REMOUNT, "size=64m"));
	ASSERT_EQ(0, pass(_metadata, self, variant, "pre-dump", 1, NULL));
	EXPECT_NE(0, access(marker, F_OK));
	ASSERT_EQ(0, dump_view_open(&dv, self->d[1], self->v.pid, false));
	EXPECT_EQ(0, dump_view_count(&dv, anon->addr, anon->addr + ANON_PAGES * VPAGE,
				     PE_PARENT));
	EXPECT_EQ(ANON_PAGES, check_region(&dv, anon, 0, 1, &bad)) {
		TH_LOG("anon page %#lx is stale after the retry", (unsigned long)bad);
	}
	dump_view_close(&dv);
	umount2(self->d[1], MNT_DETACH);
	EXPECT_EQ(0, victim_verify_all(&self->v));
}

/* a parent whose pstree.img does not list the process gives it nothing */
TEST_F(predump, parent_without_the_pid)
{
	FULL_PASS_ONLY(variant->method);
	const char *a[] = { "--anon", "16", NULL };
	struct vregion *anon;
	struct dump_view dv;
	struct victim other;
	char cmd[1400], pid[16];
	const char *args[] = { "pre-dump", "-t", pid, "-D", self->d[2], NULL };

	NEED_PREDUMP_SETUP();
	anon = victim_region(&self->v, self->v.pid, "anon");
	ASSERT_NE(NULL, anon);
	ASSERT_EQ(0, pass(_metadata, self, variant, "pre-dump", 0, NULL));
	/* d[0] keeps our pagemap but claims another tree */
	ASSERT_EQ(0, victim_start(&other, a, 1, 0));
	snprintf(pid, sizeof(pid), "%d", other.pid);
	ASSERT_EQ(0, run_memsplice(args, self->err, sizeof(self->err), -1));
	victim_kill(&other);
	snprintf(cmd, sizeof(cmd), "cp %s/pstree.img %s/pstree.img", self->d[2], self->d[0]);
	ASSERT_EQ(0, system(cmd));
	ASSERT_EQ(0, pass(_metadata, self, variant, "pre-dump", 1, NULL));
	ASSERT_EQ(0, dump_view_open(&dv, self->d[1], self->v.pid, false));
	EXPECT_EQ(0, dump_view_count(&dv, anon->addr, anon->addr + ANON_PAGES * VPAGE,
				     PE_PARENT));
	EXPECT_EQ(ANON_PAGES, dump_view_count(&dv, anon->addr, anon->addr + ANON_PAGES * VPAGE,
					      PE_PRESENT));
	dump_view_close(&dv);
	EXPECT_EQ(0, victim_verify_all(&self->v));
}

TEST_HARNESS_MAIN
