// SPDX-License-Identifier: GPL-2.0
/*
 * Copies: the bytes in the pipe never change after the call returns (the
 * only mode of version 3 without SPVM_PIN; version 2's SPVM_STABLE).
 *
 * A victim maps 4 pages of one kind (private or shared anonymous memory, a
 * tmpfs file mapped private or shared, a transparent huge page), fills them
 * with one pattern and waits.  The test attaches them to a pipe, leaves
 * them there, has the victim write a second pattern over them, and only
 * then reads the pipe:
 * - by default the pipe holds the first pattern, on every kind;
 * - with SPVM_PIN (the syscall) the second one, on every kind: the
 *   contrast that makes the first result mean something;
 * - either way the victim reads its own second pattern back, and so does
 *   /proc/PID/mem: the call left the target's memory and later writes alone.
 * Plus: an unaligned range, the features query and the flag probe.
 *
 * That no reference to the target's page is left after a copying call is
 * shown by spvm_review_test.c (through the target's copy-on-write); here
 * the copy is what the old bytes in the pipe prove.
 * Run as root in a guest, with the module loaded or the patched kernel.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "kselftest_harness.h"
#include "lib/spvm_victim.h"

#define PG		VPAGE
#define PAGES		SV_PAGES
#define SEED		SV_SEED
#define SEED2		SV_SEED2

/* Version 2's flag keeps its bit; SPVM_PIN takes the next one. */
_Static_assert(SPVM_STABLE == 1ULL << 2, "SPVM_STABLE");
_Static_assert(SPVM_PIN == 1ULL << 3, "SPVM_PIN");
_Static_assert(SPVM_VERSION >= 3, "SPVM_VERSION: copies always");

/* ---- one fixture per entry and kind of mapping ------------------------ */

FIXTURE(stable) {
	bool skip;
	int p[2];
	struct victim v;
	char buf[PAGES * PG];
};

FIXTURE_VARIANT(stable) {
	const struct spvm_entry *entry;
	enum vkind kind;
};

#define VARIANTS(entry_, e)							\
	FIXTURE_VARIANT_ADD(stable, entry_##_private_anon) { e, V_ANON };	\
	FIXTURE_VARIANT_ADD(stable, entry_##_shared_anon) { e, V_SHARED_ANON };	\
	FIXTURE_VARIANT_ADD(stable, entry_##_private_file) { e, V_FILE_PRIVATE }; \
	FIXTURE_VARIANT_ADD(stable, entry_##_shared_file) { e, V_FILE_SHARED };	\
	FIXTURE_VARIANT_ADD(stable, entry_##_thp) { e, V_THP }

VARIANTS(device, &device_entry);
VARIANTS(syscall, &syscall_entry);

FIXTURE_SETUP(stable)
{
	const char *why;

	self->p[0] = self->p[1] = -1;
	self->v = VICTIM_INIT;
	why = variant->entry->unavailable();
	if (why) {
		self->skip = true;
		SKIP(return, "%s", why);
	}
	if (variant->kind == V_THP && thp_off()) {
		self->skip = true;
		SKIP(return, "transparent huge pages are off (%s: [never] or absent)",
		     THP_ENABLED);
	}
	ASSERT_EQ(0, pipe2(self->p, O_CLOEXEC));
	ASSERT_EQ(0, victim_start(&self->v, variant->entry, variant->kind))
		TH_LOG("victim: %m");
	if (variant->kind == V_THP && !victim_thp(&self->v)) {
		self->skip = true;
		SKIP(return, "the victim got no huge page");
	}
}

FIXTURE_TEARDOWN(stable)
{
	victim_stop(&self->v);
	if (self->p[0] >= 0)
		close(self->p[0]);
	if (self->p[1] >= 0)
		close(self->p[1]);
}

#define E	(variant->entry)

TEST_F(stable, target_writes_after_the_call_do_not_show)
{
	if (self->skip)
		return;
	ASSERT_EQ(PAGES * PG, spvm_flags(E, self->v.target, self->p[1], self->v.addr,
					 PAGES * PG, 0)) TH_LOG("%m");
	EXPECT_EQ('y', victim_write(&self->v)) TH_LOG("the victim's own writes");
	ASSERT_EQ(sizeof(self->buf), read(self->p[0], self->buf, sizeof(self->buf)));
	EXPECT_TRUE(filled(self->buf, self->v.addr, PAGES, SEED))
		TH_LOG("the pipe changed after the call");
	EXPECT_TRUE(mem_filled(&self->v, SEED2)) TH_LOG("the target's memory");
}

/* pinned pages (the syscall's SPVM_PIN) on the same mapping, for contrast */
TEST_F(stable, pinned_pages_show_target_writes)
{
	if (self->skip)
		return;
	if (E->is_module)
		SKIP(return, "the module has no SPVM_PIN");
	ASSERT_EQ(PAGES * PG, spvm_flags(E, self->v.target, self->p[1], self->v.addr,
					 PAGES * PG, SPVM_PIN)) TH_LOG("%m");
	EXPECT_EQ('y', victim_write(&self->v)) TH_LOG("the victim's own writes");
	ASSERT_EQ(sizeof(self->buf), read(self->p[0], self->buf, sizeof(self->buf)));
	EXPECT_TRUE(filled(self->buf, self->v.addr, PAGES, SEED2))
		TH_LOG("the pipe holds the target's pages: the new bytes show");
	EXPECT_TRUE(mem_filled(&self->v, SEED2)) TH_LOG("the target's memory");
}

/* a range that starts and ends inside pages: only its bytes, copied */
TEST_F(stable, unaligned_range)
{
	const unsigned long off = 100, len = 2 * PG;
	static char want[PAGES * PG];

	if (self->skip)
		return;
	ASSERT_EQ(len, spvm_flags(E, self->v.target, self->p[1], self->v.addr + off,
				  len, 0)) TH_LOG("%m");
	EXPECT_EQ('y', victim_write(&self->v));
	ASSERT_EQ(len, read(self->p[0], self->buf, sizeof(self->buf)));
	for (int i = 0; i < PAGES; i++)
		pattern_fill(want + i * PG, self->v.addr + i * PG, SEED);
	EXPECT_EQ(0, memcmp(self->buf, want + off, len));
}

/* ---- what an implementation says about the flag ----------------------- */

FIXTURE(probe) {
	bool skip;
};

FIXTURE_VARIANT(probe) {
	const struct spvm_entry *entry;
};

FIXTURE_VARIANT_ADD(probe, device) { .entry = &device_entry };
FIXTURE_VARIANT_ADD(probe, syscall) { .entry = &syscall_entry };

FIXTURE_SETUP(probe)
{
	const char *why = variant->entry->unavailable();

	if (why) {
		self->skip = true;
		SKIP(return, "%s", why);
	}
}

FIXTURE_TEARDOWN(probe)
{
}

/* the device copies always from version 3 on, and still lists SPVM_STABLE */
TEST_F(probe, features_list_stable)
{
	struct spvm_features f = { .size = sizeof(f) };

	if (self->skip)
		return;
	if (!E->is_module)
		SKIP(return, "the syscall has no features query");
	ASSERT_EQ(0, ioctl(dev_fd, SPVM_IOC_FEATURES, &f)) TH_LOG("%m");
	EXPECT_LE(3, f.version);
	EXPECT_FALSE(f.flags & SPVM_PIN);
	EXPECT_TRUE(f.flags & SPVM_STABLE);
}

/*
 * fds of -1: EBADF for a known flag, EINVAL for an unknown one.  The
 * module knows version 2's SPVM_STABLE and not SPVM_PIN; the syscall
 * (version 3) the other way round.
 */
TEST_F(probe, flag_probe_knows_its_flags)
{
	__u64 known = E->is_module ? SPVM_STABLE : SPVM_PIN;
	__u64 unknown = E->is_module ? SPVM_PIN : SPVM_STABLE;

	if (self->skip)
		return;
	EXPECT_EQ(-1, spvm_flags(E, -1, -1, 0, 0, known));
	EXPECT_EQ(EBADF, errno);
	EXPECT_EQ(-1, spvm_flags(E, -1, -1, 0, 0, unknown));
	EXPECT_EQ(EINVAL, errno);
}

TEST_HARNESS_MAIN
