// SPDX-License-Identifier: GPL-2.0
/*
 * What a splice_process_vm call does to the target's memory when it asks
 * for a page that is not there: in private anonymous memory nothing (the
 * call fails, no page and no page table is allocated); in shared anonymous
 * memory, which is shmem, the page is faulted in as process_vm_readv()
 * would, which allocates a zeroed page and maps it, page table included.
 * The documentation and the cover letter say exactly this; these tests keep
 * them honest.
 *
 * Each victim maps an untouched 2 MiB block aligned to 2 MiB inside a
 * larger mapping of its own, so that no page table covers it yet: a PTE
 * table allocated for it shows in VmPTE.  Run as root in a guest.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "lib/pattern.h"
#include "lib/spvm_entry.h"
#include "lib/spvm_proc.h"

#define PG		VPAGE
#define BLOCK		(2UL << 20)

/* map, report the block's address, then wait to be killed */
static void __attribute__((noreturn)) victim_main(int cmd, int ack, int share)
{
	char *p, c;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	p = mmap(NULL, 2 * BLOCK, PROT_READ | PROT_WRITE, share | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		_exit(90);
	p = (char *)(((unsigned long)p + BLOCK - 1) & ~(BLOCK - 1));
	madvise(p, BLOCK, MADV_NOHUGEPAGE);
	if (write(ack, &p, sizeof(p)) != sizeof(p))
		_exit(91);
	while (read(cmd, &c, 1) > 0)
		;
	_exit(0);
}

static int victim_start(struct victim *v, const struct spvm_entry *e, int share)
{
	pid_t pid = victim_fork(v);

	if (pid == 0)
		victim_main(v->cmd, v->ack, share);
	return pid < 0 ? -1 : victim_ready(v, e->open_target);
}

/* VmPTE of @pid in kB (page tables of every level), -1 on error */
static long vm_pte_kb(pid_t pid)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	return proc_field(path, "VmPTE");
}

FIXTURE(spvm) {
	bool skip;
	int p[2];
	struct victim v;
};

FIXTURE_VARIANT(spvm) {
	const struct spvm_entry *entry;
};

FIXTURE_VARIANT_ADD(spvm, device) {
	.entry = &device_entry,
};

FIXTURE_VARIANT_ADD(spvm, syscall) {
	.entry = &syscall_entry,
};

FIXTURE_SETUP(spvm)
{
	const char *why;

	self->p[0] = self->p[1] = -1;
	self->v = VICTIM_INIT;
	why = variant->entry->unavailable();
	if (why) {
		self->skip = true;
		SKIP(return, "%s", why);
	}
	ASSERT_EQ(0, pipe2(self->p, O_CLOEXEC));
}

FIXTURE_TEARDOWN(spvm)
{
	victim_stop(&self->v);
	if (self->p[0] >= 0)
		close(self->p[0]);
	if (self->p[1] >= 0)
		close(self->p[1]);
}

#define E	(variant->entry)

TEST_F(spvm, private_anonymous_hole_left_alone)
{
	long before;

	if (self->skip)
		return;
	ASSERT_EQ(0, victim_start(&self->v, E, MAP_PRIVATE)) TH_LOG("victim: %m");
	before = vm_pte_kb(self->v.pid);
	ASSERT_LE(0, before);
	EXPECT_EQ(-1, spvm(E, self->v.target, self->p[1], self->v.addr + PG, PG));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(0, page_present(self->v.pid, self->v.addr + PG));
	EXPECT_EQ(before, vm_pte_kb(self->v.pid)) TH_LOG("a page table was allocated");
}

TEST_F(spvm, shared_anonymous_hole_faulted_in)
{
	static char buf[PG], zero[PG];
	long before;

	if (self->skip)
		return;
	ASSERT_EQ(0, victim_start(&self->v, E, MAP_SHARED)) TH_LOG("victim: %m");
	before = vm_pte_kb(self->v.pid);
	ASSERT_LE(0, before);
	ASSERT_EQ(PG, spvm(E, self->v.target, self->p[1], self->v.addr + PG, PG)) TH_LOG("%m");
	ASSERT_EQ(PG, read(self->p[0], buf, PG));
	EXPECT_EQ(0, memcmp(buf, zero, PG));
	EXPECT_EQ(1, page_present(self->v.pid, self->v.addr + PG));
	EXPECT_LT(before, vm_pte_kb(self->v.pid)) TH_LOG("no page table was allocated");
}

TEST_HARNESS_MAIN
