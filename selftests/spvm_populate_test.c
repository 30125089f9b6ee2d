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

#define PG		VPAGE
#define BLOCK		(2UL << 20)

struct victim {
	pid_t pid;
	int cmd, target;
	unsigned long addr;
};

/* map, report the block's address, then wait to be killed */
static int victim_start(struct victim *v, const struct spvm_entry *e, int share)
{
	int cmd[2], ack[2];
	char c;

	if (pipe2(cmd, O_CLOEXEC) || pipe2(ack, O_CLOEXEC))
		return -1;
	v->pid = fork();
	if (v->pid < 0)
		return -1;
	if (v->pid == 0) {
		char *p;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		p = mmap(NULL, 2 * BLOCK, PROT_READ | PROT_WRITE, share | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			_exit(90);
		p = (char *)(((unsigned long)p + BLOCK - 1) & ~(BLOCK - 1));
		madvise(p, BLOCK, MADV_NOHUGEPAGE);
		if (write(ack[1], &p, sizeof(p)) != sizeof(p))
			_exit(91);
		while (read(cmd[0], &c, 1) > 0)
			;
		_exit(0);
	}
	close(cmd[0]);
	close(ack[1]);
	v->cmd = cmd[1];
	if (read(ack[0], &v->addr, sizeof(v->addr)) != sizeof(v->addr)) {
		close(ack[0]);
		errno = ECHILD;
		return -1;
	}
	close(ack[0]);
	v->target = e->open_target(v->pid);
	return v->target < 0 ? -1 : 0;
}

static void victim_stop(struct victim *v)
{
	if (v->pid > 0) {
		kill(v->pid, SIGKILL);
		waitpid(v->pid, NULL, 0);
	}
	if (v->target >= 0)
		close(v->target);
	if (v->cmd >= 0)
		close(v->cmd);
	*v = (struct victim){ .target = -1, .cmd = -1 };
}

/* VmPTE of @pid in kB (page tables of every level), -1 on error */
static long vm_pte_kb(pid_t pid)
{
	char path[64], line[128];
	long kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmPTE: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

/* bit 63 of /proc/PID/pagemap: 1 present, 0 not, -1 on error */
static int page_present(pid_t pid, unsigned long addr)
{
	char path[64];
	uint64_t ent;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/pagemap", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (pread(fd, &ent, sizeof(ent), addr / PG * 8) != sizeof(ent)) {
		close(fd);
		return -1;
	}
	close(fd);
	return !!(ent >> 63);
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
	self->v = (struct victim){ .target = -1, .cmd = -1 };
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
