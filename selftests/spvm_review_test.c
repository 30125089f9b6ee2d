// SPDX-License-Identifier: GPL-2.0
/*
 * What the reviews of the series asked to see tested, in each mode (copies,
 * the default; the syscall's SPVM_PIN; version 2's SPVM_STABLE, which the
 * module still takes) and through both entry points:
 *
 * - tee() and splice() of the attached buffers into a second pipe, then a
 *   write by the target: the second pipe holds what the first holds (the
 *   same pinned pages, or the same copies);
 * - hugetlb, memfd_secret() and VM_PFNMAP memory: the exact result, bytes
 *   or errno, of each mode;
 * - references to the target's pages, counted: while a pipe holds the
 *   page, and after many calls whose pipes were read or closed.
 *
 * Counting references: /proc/kpagecount is the page's map count, which a
 * pipe does not change, and no page reference count is exposed to
 * userspace.  So the test asks the target's copy-on-write, which does read
 * it: once a page is no longer exclusive to the victim (it forked a child
 * that exited: /proc/kpagecount says 1 again), the victim's next write
 * keeps the page only if the victim's own mapping is its one reference,
 * and copies it to a new page (a new PFN in /proc/PID/pagemap) if anybody
 * else holds one.  The victim and this test run on CPU 0 only and the
 * victim drains that CPU's LRU batches first, so that no batch holds the
 * page at that moment.  The kernel's copy-on-write decision (do_wp_page(),
 * wp_can_reuse_anon_folio() on 6.12) is the counter.
 *
 * Run as root in a guest, with the module loaded or the patched kernel.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <fcntl.h>

#include "kselftest_harness.h"
#include "lib/spvm_victim.h"

#define PG		VPAGE
#define PAGES		SV_PAGES
#define LEN		(PAGES * PG)
#define ROUNDS		64
#define NR_HUGEPAGES	"/proc/sys/vm/nr_hugepages"

/* one "Name: N" line of /proc/meminfo, or -1 */
static long meminfo(const char *name)
{
	return proc_field("/proc/meminfo", name);
}

/* the PFNs of the victim's pages; false if one is not present or hidden */
static bool victim_pfns(const struct victim *v, uint64_t pfn[PAGES])
{
	uint64_t ent[PAGES];
	bool ok = pagemap_read(v->pid, v->addr, ent, PAGES);

	for (int i = 0; ok && i < PAGES; i++) {
		pfn[i] = ent[i] & ((1ULL << 55) - 1);
		ok = (ent[i] >> 63) && pfn[i];
	}
	return ok;
}

/* how many processes map @pfn (/proc/kpagecount), or -1 */
static long kpagecount(uint64_t pfn)
{
	uint64_t count;
	int fd = open("/proc/kpagecount", O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = pread(fd, &count, sizeof(count), pfn * 8);
	close(fd);
	return n == sizeof(count) ? (long)count : -1;
}

/* the start of the victim's VM_PFNMAP [vvar] mapping (VmFlags "pf"), or 0 */
static unsigned long victim_vvar(const struct victim *v)
{
	char path[64], line[256];
	unsigned long start, end, found = 0, cur = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/smaps", v->pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &start, &end) == 2)
			cur = strstr(line, " [vvar]\n") ? start : 0;
		else if (cur && !strncmp(line, "VmFlags:", 8) && strstr(line, " pf"))
			found = cur;
	}
	fclose(f);
	return found;
}

FIXTURE(review) {
	bool skip;
	int p[2], q[2];
	long old_huge;
	struct victim v;
	char buf[LEN], buf2[LEN];
};

/* @flags: 0 (copies), SPVM_STABLE (the same, version 2's name), SPVM_PIN */
FIXTURE_VARIANT(review) {
	const struct spvm_entry *entry;
	__u64 flags;
};

FIXTURE_VARIANT_ADD(review, device_copy) { &device_entry, 0 };
FIXTURE_VARIANT_ADD(review, device_stable) { &device_entry, SPVM_STABLE };
FIXTURE_VARIANT_ADD(review, syscall_copy) { &syscall_entry, 0 };
FIXTURE_VARIANT_ADD(review, syscall_pin) { &syscall_entry, SPVM_PIN };

FIXTURE_SETUP(review)
{
	const char *why;
	cpu_set_t cpu0;

	self->p[0] = self->p[1] = self->q[0] = self->q[1] = -1;
	self->old_huge = -1;
	self->v = VICTIM_INIT;
	why = variant->entry->unavailable();
	if (why) {
		self->skip = true;
		SKIP(return, "%s", why);
	}
	/* where the victim runs: our page lookups batch on its CPU */
	CPU_ZERO(&cpu0);
	CPU_SET(0, &cpu0);
	ASSERT_EQ(0, sched_setaffinity(0, sizeof(cpu0), &cpu0)) TH_LOG("%m");
	ASSERT_EQ(0, pipe2(self->p, O_CLOEXEC));
	ASSERT_EQ(0, pipe2(self->q, O_CLOEXEC));
}

FIXTURE_TEARDOWN(review)
{
	victim_stop(&self->v);
	for (int i = 0; i < 2; i++) {
		if (self->p[i] >= 0)
			close(self->p[i]);
		if (self->q[i] >= 0)
			close(self->q[i]);
	}
	if (self->old_huge >= 0)
		write_long(NR_HUGEPAGES, self->old_huge);
}

#define E		(variant->entry)
#define COPIED		(!(variant->flags & SPVM_PIN))
/* what the pipe shows after the victim's 'w': the old bytes only if copied */
#define AFTER_WRITE	(COPIED ? SV_SEED : SV_SEED2)

#define START(kind)							\
	ASSERT_EQ(0, victim_start(&self->v, E, kind)) TH_LOG("victim: %m")

#define ATTACH(fd, addr, len)						\
	ASSERT_EQ(len, spvm_flags(E, self->v.target, fd, addr, len,	\
				  variant->flags)) TH_LOG("%m")

/* ---- 1. a second pipe ------------------------------------------------- */

/*
 * tee() gives the second pipe the first one's buffers: references to the
 * same pages, or the same copies.  So after the target writes, both show
 * the new bytes (SPVM_PIN) or both the old ones (copies).
 */
TEST_F(review, tee_then_target_writes)
{
	if (self->skip)
		return;
	START(V_ANON);
	ATTACH(self->p[1], self->v.addr, LEN);
	ASSERT_EQ(LEN, tee(self->p[0], self->q[1], LEN, 0)) TH_LOG("%m");
	ASSERT_EQ('y', victim_write(&self->v));
	ASSERT_EQ(LEN, read(self->q[0], self->buf, LEN));
	ASSERT_EQ(LEN, read(self->p[0], self->buf2, LEN));
	EXPECT_TRUE(filled(self->buf, self->v.addr, PAGES, AFTER_WRITE))
		TH_LOG("the pipe tee() filled");
	EXPECT_TRUE(filled(self->buf2, self->v.addr, PAGES, AFTER_WRITE))
		TH_LOG("the pipe the call filled");
	/* the target: its memory, and a later write */
	EXPECT_TRUE(mem_filled(&self->v, SV_SEED2));
	ASSERT_EQ('y', victim_do(&self->v, '1'));
	EXPECT_TRUE(mem_filled(&self->v, SV_SEED));
}

/*
 * splice() between pipes moves whole buffers and shares a split one (the
 * first 100 bytes): the page goes along, so the second pipe shows what the
 * first would have shown.
 */
TEST_F(review, splice_to_pipe_then_target_writes)
{
	if (self->skip)
		return;
	START(V_ANON);
	ATTACH(self->p[1], self->v.addr, LEN);
	ASSERT_EQ(100, splice(self->p[0], NULL, self->q[1], NULL, 100, 0)) TH_LOG("%m");
	ASSERT_EQ(LEN - 100, splice(self->p[0], NULL, self->q[1], NULL, LEN, 0))
		TH_LOG("%m");
	EXPECT_EQ(0, pipe_bytes(self->p[0]));
	ASSERT_EQ('y', victim_write(&self->v));
	ASSERT_EQ(LEN, read(self->q[0], self->buf, LEN));
	EXPECT_TRUE(filled(self->buf, self->v.addr, PAGES, AFTER_WRITE));
	EXPECT_TRUE(mem_filled(&self->v, SV_SEED2));
	ASSERT_EQ('y', victim_do(&self->v, '1'));
	EXPECT_TRUE(mem_filled(&self->v, SV_SEED));
}

/* ---- 2. memory of special kinds ---------------------------------------- */

/* two free 2 MiB huge pages for the victim, reserved if need be, or skip */
#define NEED_HUGEPAGES()							\
	do {									\
		long n = read_long(NR_HUGEPAGES);				\
		if (n < 0)							\
			SKIP(return, "%s: no hugetlb here", NR_HUGEPAGES);	\
		if (meminfo("HugePages_Free") < 2) {				\
			self->old_huge = n;					\
			write_long(NR_HUGEPAGES, n + 2);			\
		}								\
		if (meminfo("HugePages_Free") < 2 ||				\
		    meminfo("Hugepagesize") != 2048)				\
			SKIP(return, "cannot reserve two 2 MiB huge pages");	\
	} while (0)

/* present huge pages: pinned (SPVM_PIN) or copied */
TEST_F(review, hugetlb_target_writes)
{
	if (self->skip)
		return;
	NEED_HUGEPAGES();
	START(V_HUGETLB);
	ATTACH(self->p[1], self->v.addr, LEN);
	ASSERT_EQ('y', victim_write(&self->v));
	ASSERT_EQ(LEN, read(self->p[0], self->buf, LEN));
	EXPECT_TRUE(filled(self->buf, self->v.addr, PAGES, AFTER_WRITE));
	EXPECT_TRUE(mem_filled(&self->v, SV_SEED2));
	/* the rest of the huge page, never written: zeros, in one call */
	ATTACH(self->p[1], self->v.addr + LEN, LEN);
	ASSERT_EQ(LEN, read(self->p[0], self->buf, LEN));
	memset(self->buf2, 0, LEN);
	EXPECT_EQ(0, memcmp(self->buf, self->buf2, LEN));
}

/* a huge page never faulted in: EFAULT, and no huge page allocated */
TEST_F(review, hugetlb_hole)
{
	long free_before;

	if (self->skip)
		return;
	NEED_HUGEPAGES();
	START(V_HUGETLB);
	free_before = meminfo("HugePages_Free");
	EXPECT_EQ(-1, spvm_flags(E, self->v.target, self->p[1], self->v.addr + SV_HUGE,
				 PG, variant->flags));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(free_before, meminfo("HugePages_Free")) TH_LOG("a huge page was allocated");
	EXPECT_EQ(0, pipe_bytes(self->p[0]));
}

/* memfd_secret() memory: EFAULT in both modes; the victim unharmed */
TEST_F(review, secretmem_refused)
{
	int fd;

	if (self->skip)
		return;
	fd = syscall(__NR_memfd_secret, O_CLOEXEC);
	if (fd < 0 && errno == ENOSYS)
		SKIP(return, "memfd_secret: ENOSYS (no CONFIG_SECRETMEM, or 6.1 %s)",
		     "without secretmem.enable=1");
	ASSERT_LE(0, fd) TH_LOG("memfd_secret: %m");
	close(fd);
	START(V_SECRET);
	EXPECT_EQ(-1, spvm_flags(E, self->v.target, self->p[1], self->v.addr, LEN,
				 variant->flags));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(0, pipe_bytes(self->p[0]));
	EXPECT_EQ('y', victim_write(&self->v));
}

/* VM_PFNMAP (the victim's [vvar]): EFAULT in both modes */
TEST_F(review, pfnmap_refused)
{
	unsigned long vvar;

	if (self->skip)
		return;
	START(V_ANON);
	vvar = victim_vvar(&self->v);
	if (!vvar)
		SKIP(return, "the victim has no VM_PFNMAP [vvar]");
	EXPECT_EQ(-1, spvm_flags(E, self->v.target, self->p[1], vvar, PG,
				 variant->flags));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(0, pipe_bytes(self->p[0]));
}

/* ---- 3. references to the target's pages, counted --------------------- */

/*
 * Make the victim's pages non-exclusive, check that only the victim maps
 * them, have it write @cmd's pattern, and return how many pages it kept
 * (same PFN): a kept page had no reference besides the victim's mapping.
 */
static int victim_pages_kept(struct __test_metadata *_metadata, struct victim *v, char cmd)
{
	uint64_t before[PAGES], after[PAGES];
	int kept = 0;

	if (!victim_pfns(v, before))
		return -1;
	if (victim_do(v, 'u') != 'y')
		return -1;
	for (int i = 0; i < PAGES; i++) {
		EXPECT_EQ(1, kpagecount(before[i])) TH_LOG("page %d: map count", i);
	}
	if (victim_do(v, cmd) != 'y' || !victim_pfns(v, after))
		return -1;
	for (int i = 0; i < PAGES; i++)
		kept += before[i] == after[i];
	return kept;
}

#define NEED_PFNS()								\
	do {									\
		uint64_t pfn[PAGES];						\
		if (!victim_pfns(&self->v, pfn))				\
			SKIP(return, "no PFNs in /proc/PID/pagemap (root only)"); \
	} while (0)

/*
 * While the pipe holds the buffers, the victim writes in place in every
 * mode: copies hold nothing of the victim's; a pinned page stays the
 * victim's own (its fork copies a pinned page for the child at once), so
 * the pipe shows that write.  (Version 2's references held the page: the
 * victim's write copied it, and the pipe kept the old bytes.)
 */
TEST_F(review, page_references_while_in_the_pipe)
{
	if (self->skip)
		return;
	START(V_ANON);
	NEED_PFNS();
	/* the baseline: the victim's mapping is the one reference */
	ASSERT_EQ(PAGES, victim_pages_kept(_metadata, &self->v, 'w'));
	ATTACH(self->p[1], self->v.addr, LEN);
	EXPECT_EQ(PAGES, victim_pages_kept(_metadata, &self->v, '1'))
		TH_LOG("pages written in place with the buffers in the pipe");
	ASSERT_EQ(LEN, read(self->p[0], self->buf, LEN));
	EXPECT_TRUE(filled(self->buf, self->v.addr, PAGES, COPIED ? SV_SEED2 : SV_SEED));
	EXPECT_TRUE(mem_filled(&self->v, SV_SEED));
}

/*
 * ROUNDS calls whose pipes were read, closed unread, or tee()d and
 * spliced into a second pipe and closed: every reference is gone, the
 * victim's pages are back at one reference each.
 */
TEST_F(review, page_references_back_to_baseline)
{
	if (self->skip)
		return;
	START(V_ANON);
	NEED_PFNS();
	ASSERT_EQ(PAGES, victim_pages_kept(_metadata, &self->v, 'w'));
	for (int r = 0; r < ROUNDS; r++) {
		int p[2], q[2];

		ASSERT_EQ(0, pipe2(p, O_CLOEXEC));
		ASSERT_EQ(0, pipe2(q, O_CLOEXEC));
		ATTACH(p[1], self->v.addr, LEN);
		switch (r % 3) {
		case 0:
			ASSERT_EQ(LEN, read(p[0], self->buf, LEN));
			break;
		case 1:
			break;
		case 2:
			ASSERT_EQ(LEN, tee(p[0], q[1], LEN, 0));
			ASSERT_EQ(PG + 1, splice(p[0], NULL, q[1], NULL, PG + 1, 0));
			break;
		}
		close(p[0]);
		close(p[1]);
		close(q[0]);
		close(q[1]);
	}
	EXPECT_EQ(PAGES, victim_pages_kept(_metadata, &self->v, '1'))
		TH_LOG("pages still referenced after %d calls and closes", ROUNDS);
	EXPECT_TRUE(mem_filled(&self->v, SV_SEED));
}

TEST_HARNESS_MAIN
