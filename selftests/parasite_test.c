// SPDX-License-Identifier: GPL-2.0
/*
 * The parasite source (user/source/parasite/) in isolation.
 *
 * A forked victim fills regions with a pattern derived from its pid
 * (readable, PROT_NONE, write-only, exec-only, sealed), installs a handler,
 * blocks and queues signals, reports its layout over a pipe and then, per
 * variant: blocks in read(), spins, does both from several threads, sleeps in
 * a timed futex wait, is job-control stopped, or runs under a seccomp filter
 * that kills it on vmsplice and memfd_create.  The test freezes it the way
 * pstree.c does, attaches the source, fills and drains ranges into memory
 * and compares them, provokes failures, detaches, and compares everything it
 * can see of the victim with what it saw before the attach: maps, status,
 * fds, and per thread the registers, FPU/AVX state, debug registers, signal
 * mask and kind of ptrace stop.  Then the victim checks itself (pattern,
 * mask, handler, pending signals, a restarted read(), register-carried loop
 * counters, fds) and exits 0 only if all is intact.
 *
 * The victim is selftests/lib/pvictim.c; freezing and snapshots are
 * selftests/lib/psnap.c.  Here: the fixture and the tests.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "psnap.h"
#include "pvictim.h"
#include "source/source.h"
#include "tree/target.h"

extern const struct page_source_ops source_parasite_ops;

#define PG		PV_PAGE

_Static_assert(PSNAP_MAX_THREADS >= PV_MAX_THREADS + 1,
	       "a snapshot holds the victim's leader and every extra thread");

static const struct page_source_ops *ops = &source_parasite_ops;

/* ---- the fixture ------------------------------------------------------------ */

struct victim {
	pid_t pid;
	enum pvictim_kind kind;
	int ready_fd, go_fd;		/* our ends */
	volatile int *go;		/* shared page: spinners stop when set */
	struct pvictim_layout lay;
	pid_t tids[PV_MAX_THREADS + 1];
	int nr;
	bool frozen;
	struct psnap before;
};

static char proc_state(pid_t pid)
{
	char *s = psnap_slurp("/proc/%d/stat", pid), *p, c = 0;

	if (s && (p = strrchr(s, ')')))
		c = p[2];
	free(s);
	return c;
}

/* wait until a job-control stopped victim is stopped ('T'), or has gone on */
static char wait_stopped(pid_t pid)
{
	char c = 0;

	for (long spins = 0; spins < 20000000; spins++) {
		c = proc_state(pid);
		if (c == 'T' || c == 'S')
			break;
		sched_yield();
	}
	return c;
}

/* wait until each thread that should block in read() or futex() is in it */
static bool wait_blocked(pid_t pid, int want)
{
	for (long spins = 0; spins < 20000000; spins++) {
		pid_t tids[PV_MAX_THREADS + 1];
		int n = psnap_threads(pid, tids, PV_MAX_THREADS + 1), in_read = 0;

		for (int i = 0; i < n; i++) {
			char *s = psnap_slurp("/proc/%d/task/%d/syscall", pid, tids[i]);

			in_read += s && (!strncmp(s, "0 ", 2) || !strncmp(s, "202 ", 4));
			free(s);
		}
		if (in_read >= want)
			return true;
		sched_yield();
	}
	return false;
}

static int victim_start(struct __test_metadata *_metadata, struct victim *v,
			const struct pvictim_cfg *cfg)
{
	int ready[2], go[2];

	memset(v, 0, sizeof(*v));
	v->kind = cfg->kind;
	v->go = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, v->go);
	ASSERT_EQ(0, pipe2(ready, O_CLOEXEC));
	ASSERT_EQ(0, pipe(go));
	v->pid = fork();
	ASSERT_LE(0, v->pid);
	if (v->pid == 0) {
		close(ready[0]);
		close(go[1]);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		_exit(pvictim_main(cfg, ready[1], go[0], v->go));
	}
	close(ready[1]);
	close(go[0]);
	v->ready_fd = ready[0];
	v->go_fd = go[1];
	ASSERT_EQ(sizeof(v->lay), read(v->ready_fd, &v->lay, sizeof(v->lay))) {
		TH_LOG("victim did not get ready");
	}
	ASSERT_TRUE(wait_blocked(v->pid, (cfg->kind != PV_SPIN && cfg->kind != PV_STOPPED) +
					 cfg->blockers)) {
		TH_LOG("victim threads not blocked in read()");
	}
	if (cfg->kind == PV_STOPPED)
		ASSERT_EQ('T', wait_stopped(v->pid));
	v->nr = psnap_freeze(v->pid, v->tids, PV_MAX_THREADS + 1);
	ASSERT_EQ(1 + cfg->spinners + cfg->blockers, v->nr) {
		TH_LOG("%m: cannot freeze the victim");
	}
	v->frozen = true;
	ASSERT_EQ(0, psnap_take(v->pid, v->tids, v->nr, &v->before));
	return 0;
}

static void snap_report(void *arg, const char *msg)
{
	struct __test_metadata *_metadata = arg;

	TH_LOG("%s", msg);
}

/*
 * Compare with the snapshot taken before the attach, let the victim go and
 * collect its own verdict.
 */
static void victim_finish(struct __test_metadata *_metadata, struct victim *v)
{
	struct psnap after;
	int status;

	ASSERT_EQ(0, psnap_take(v->pid, v->tids, v->nr, &after));
	EXPECT_EQ(0, psnap_compare(&v->before, &after, snap_report, _metadata));
	psnap_free(&after);
	psnap_thaw(v->tids, v->nr);
	v->frozen = false;
	if (v->kind == PV_STOPPED) {
		/* it must still be stopped: running the parasite ends no group stop */
		EXPECT_EQ('T', wait_stopped(v->pid));
		kill(v->pid, SIGCONT);
	}
	*v->go = 1;
	syscall(SYS_futex, v->go, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
	ASSERT_EQ(16, write(v->go_fd, "gggggggggggggggg", 16));
	ASSERT_EQ(v->pid, waitpid(v->pid, &status, 0));
	v->pid = 0;
	ASSERT_TRUE(WIFEXITED(status)) {
		TH_LOG("victim died: status %#x (signal %d)", status,
		       WIFSIGNALED(status) ? WTERMSIG(status) : 0);
	}
	ASSERT_EQ(0, WEXITSTATUS(status)) {
		TH_LOG("victim's self-check failed: %#x", WEXITSTATUS(status));
	}
}

static void victim_kill(struct victim *v)
{
	if (v->pid > 0) {
		kill(v->pid, SIGKILL);
		if (v->frozen)
			psnap_thaw(v->tids, v->nr);
		while (waitpid(-1, NULL, __WALL) > 0)
			;
	}
	psnap_free(&v->before);
	if (v->go)
		munmap((void *)v->go, PG);
	close(v->ready_fd);
	close(v->go_fd);
}

static int drain(int fd, void *buf, size_t len)
{
	for (size_t done = 0; done < len;) {
		ssize_t n = read(fd, (char *)buf + done, len - done);

		if (n <= 0)
			return -1;
		done += n;
	}
	return 0;
}

/* fill+drain [addr, addr+len) the way the dump loop does; bytes or -errno */
static ssize_t dump_range(struct page_source *src, unsigned long addr, size_t len, int prot,
			  void *out)
{
	size_t done = 0;

	while (done < len) {
		struct src_range r = {
			.addr = addr + done,
			.len = len - done < src->buffer_size ? len - done : src->buffer_size,
			.prot = prot,
			.force = !(prot & PROT_READ),
		};
		struct page_data d;
		ssize_t n = ops->fill(src, &r, &d);

		if (n <= 0)
			return done ? (ssize_t)done : n;
		if (d.buf || d.len != (size_t)n || drain(d.pipe_fd, (char *)out + done, n))
			return -EPROTO;
		done += n;
	}
	return done;
}

/* the parasite source needs only the pid: it infects while frozen */
static const struct target *target_of(struct target *t, pid_t pid)
{
	*t = (struct target){ .pid = pid, .pidfd = -1, .mem_fd = -1, .pagemap_fd = -1 };
	return t;
}

FIXTURE(parasite) {
	struct victim v;
	struct page_source src;
	struct target tgt;	/* what src is attached to */
	bool created;
	void *buf;
};

FIXTURE_VARIANT(parasite) {
	struct pvictim_cfg cfg;
};

FIXTURE_VARIANT_ADD(parasite, blocked) {
	.cfg = { .kind = PV_BLOCKED, .rw_len = 8 << 20 },
};

FIXTURE_VARIANT_ADD(parasite, spinning) {
	.cfg = { .kind = PV_SPIN, .rw_len = 8 << 20 },
};

FIXTURE_VARIANT_ADD(parasite, threads) {
	.cfg = { .kind = PV_BLOCKED, .spinners = 2, .blockers = 2, .rw_len = 8 << 20 },
};

FIXTURE_VARIANT_ADD(parasite, timed) {
	.cfg = { .kind = PV_TIMED, .blockers = 1, .rw_len = 8 << 20 },
};

FIXTURE_VARIANT_ADD(parasite, stopped) {
	.cfg = { .kind = PV_STOPPED, .blockers = 1, .rw_len = 8 << 20 },
};

FIXTURE_VARIANT_ADD(parasite, seccomp) {
	.cfg = { .kind = PV_SPIN, .spinners = 1, .blockers = 1, .seccomp = true,
		 .rw_len = 8 << 20 },
};

FIXTURE_SETUP(parasite)
{
	struct source_opts opts = { .buffer_size = 1 << 20 };
	char why[256] = "";

	memset(&self->src, 0, sizeof(self->src));
	self->src.ops = ops;
	if (ops->probe(why, sizeof(why)))
		SKIP(return, "parasite backend unavailable: %s", why);
	self->buf = malloc(variant->cfg.rw_len);
	ASSERT_NE(NULL, self->buf);
	victim_start(_metadata, &self->v, &variant->cfg);
	ASSERT_EQ(0, ops->create(&self->src, &opts));
	self->created = true;
	ASSERT_LT(0, self->src.buffer_size);
	ASSERT_GE(opts.buffer_size, self->src.buffer_size);
}

FIXTURE_TEARDOWN(parasite)
{
	if (self->created) {
		if (self->src.target)
			ops->detach(&self->src);
		ops->destroy(&self->src);
	}
	victim_kill(&self->v);
	free(self->buf);
}

/* every region, in buffer-sized fills, byte for byte */
TEST_F(parasite, dump_all)
{
	struct victim *v = &self->v;
	pid_t pid = v->pid;

	ASSERT_EQ(0, ops->attach(&self->src, target_of(&self->tgt, pid)));
	ASSERT_EQ(pid, self->src.target->pid);
	for (int r = 0; r < PV_NR_REGIONS; r++) {
		if (!v->lay.addr[r] || r == PV_SEALED)
			continue;
		memset(self->buf, 0, v->lay.len[r]);
		EXPECT_EQ((ssize_t)v->lay.len[r],
			  dump_range(&self->src, v->lay.addr[r], v->lay.len[r], pvictim_prot[r], self->buf));
		EXPECT_TRUE(pvictim_check_pattern(self->buf, v->lay.addr[r], v->lay.len[r], pid)) {
			TH_LOG("region %d: wrong bytes", r);
		}
	}
	/* the middle of a PROT_NONE VMA: mprotect splits it, the restore must merge it */
	memset(self->buf, 0, 16 * PG);
	EXPECT_EQ(16 * PG, dump_range(&self->src, v->lay.addr[PV_NONE] + 16 * PG, 16 * PG,
				      PROT_NONE, self->buf));
	EXPECT_TRUE(pvictim_check_pattern(self->buf, v->lay.addr[PV_NONE] + 16 * PG, 16 * PG, pid));
	ASSERT_EQ(0, ops->detach(&self->src));
	ASSERT_EQ(NULL, self->src.target);
	victim_finish(_metadata, v);
}

/* one request larger than the pipe: a short, exact fill */
TEST_F(parasite, larger_than_pipe)
{
	struct victim *v = &self->v;
	struct src_range r = { .addr = v->lay.addr[PV_RW], .len = v->lay.len[PV_RW],
			       .prot = PROT_READ | PROT_WRITE };
	struct page_data d;
	ssize_t n;

	ASSERT_EQ(0, ops->attach(&self->src, target_of(&self->tgt, v->pid)));
	n = ops->fill(&self->src, &r, &d);
	ASSERT_EQ((ssize_t)self->src.buffer_size, n);
	ASSERT_EQ(0, drain(d.pipe_fd, self->buf, n));
	EXPECT_TRUE(pvictim_check_pattern(self->buf, r.addr, n, v->pid));
	ASSERT_EQ(0, ops->detach(&self->src));
	victim_finish(_metadata, v);
}

/* errors after the infection: the parasite stays usable, the cure is complete */
TEST_F(parasite, provoked_failures)
{
	struct victim *v = &self->v;
	struct src_range r = { .addr = v->lay.hole, .len = 4 * PG, .prot = PROT_READ };
	struct page_data d;
	int decoy[2];
	ssize_t n;

	ASSERT_EQ(0, ops->attach(&self->src, target_of(&self->tgt, v->pid)));
	/* unmapped */
	EXPECT_EQ(-EFAULT, ops->fill(&self->src, &r, &d));
	/* unmapped, as if PROT_NONE: the mprotect fails, nothing to restore */
	r.prot = PROT_NONE;
	EXPECT_GT(0, ops->fill(&self->src, &r, &d));
	/* a range running into the hole: short */
	r = (struct src_range){ .addr = v->lay.hole - 2 * PG, .len = 4 * PG, .prot = PROT_READ };
	n = ops->fill(&self->src, &r, &d);
	if (n > 0)
		ASSERT_EQ(0, drain(d.pipe_fd, self->buf, n));
	EXPECT_TRUE(n == -EFAULT || n == 2 * (ssize_t)PG) {
		TH_LOG("fill into a hole: %zd", n);
	}
	/* sealed PROT_NONE: mprotect refused (mseal, 6.10+) */
	if (v->lay.addr[PV_SEALED]) {
		r = (struct src_range){ .addr = v->lay.addr[PV_SEALED], .len = 4 * PG,
					.prot = PROT_NONE, .force = true };
		EXPECT_EQ(-EPERM, ops->fill(&self->src, &r, &d));
	}
	/* still works */
	EXPECT_EQ(64 * (ssize_t)PG, dump_range(&self->src, v->lay.addr[PV_RW], 64 * PG,
					       PROT_READ | PROT_WRITE, self->buf));
	EXPECT_TRUE(pvictim_check_pattern(self->buf, v->lay.addr[PV_RW], 64 * PG, v->pid));
	/* not drained, then detached with pages in the pipe */
	r = (struct src_range){ .addr = v->lay.addr[PV_NONE], .len = 8 * PG, .prot = PROT_NONE };
	EXPECT_EQ(8 * (ssize_t)PG, ops->fill(&self->src, &r, &d));
	EXPECT_EQ(-EBUSY, ops->fill(&self->src, &r, &d));
	ASSERT_EQ(0, ops->detach(&self->src));

	/* again: no stale pages; then the pipe closed under the backend */
	ASSERT_EQ(0, ops->attach(&self->src, target_of(&self->tgt, v->pid)));
	r = (struct src_range){ .addr = v->lay.addr[PV_RW], .len = 4 * PG,
				.prot = PROT_READ | PROT_WRITE };
	ASSERT_EQ(4 * (ssize_t)PG, ops->fill(&self->src, &r, &d));
	ASSERT_EQ(0, drain(d.pipe_fd, self->buf, 4 * PG));
	EXPECT_TRUE(pvictim_check_pattern(self->buf, r.addr, 4 * PG, v->pid));
	/*
	 * Closed, and its number taken by another pipe: the backend cannot
	 * tell, and the parasite splices into a pipe memsplice no longer reads.
	 * It must have a reader still, or the target gets a SIGPIPE.
	 */
	close(d.pipe_fd);
	ASSERT_EQ(0, pipe(decoy));
	if (decoy[0] == d.pipe_fd) {
		EXPECT_EQ(4 * (ssize_t)PG, ops->fill(&self->src, &r, &d));
	} else {
		EXPECT_GT(0, ops->fill(&self->src, &r, &d));
		close(decoy[0]);	/* else the backend owns it now */
	}
	close(decoy[1]);
	ops->detach(&self->src);
	victim_finish(_metadata, v);
}

/* pre-dump iterations: attach and detach several times */
TEST_F(parasite, reattach)
{
	struct victim *v = &self->v;

	for (int i = 0; i < 3; i++) {
		ASSERT_EQ(0, ops->attach(&self->src, target_of(&self->tgt, v->pid)));
		EXPECT_EQ(4 * (ssize_t)PG, dump_range(&self->src, v->lay.addr[PV_XO], 4 * PG,
						      PROT_EXEC, self->buf));
		EXPECT_TRUE(pvictim_check_pattern(self->buf, v->lay.addr[PV_XO], 4 * PG, v->pid));
		ASSERT_EQ(0, ops->detach(&self->src));
	}
	victim_finish(_metadata, v);
}

/* the target dies while infected: errors, no hang, nothing left to cure */
TEST_F(parasite, victim_killed)
{
	struct victim *v = &self->v;
	struct src_range r = { .addr = v->lay.addr[PV_RW], .len = 4 * PG,
			       .prot = PROT_READ | PROT_WRITE };
	struct page_data d;
	int status;

	ASSERT_EQ(0, ops->attach(&self->src, target_of(&self->tgt, v->pid)));
	ASSERT_EQ(0, kill(v->pid, SIGKILL));
	EXPECT_GT(0, ops->fill(&self->src, &r, &d));
	EXPECT_GT(0, ops->detach(&self->src));
	EXPECT_EQ(NULL, self->src.target);
	/* the zombie threads are ours to reap (we trace them) before the leader */
	for (pid_t p; (p = waitpid(-1, &status, __WALL)) > 0;)
		if (p == v->pid)
			EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	v->pid = 0;
	v->frozen = false;
}

/* ---- probe and numbers ------------------------------------------------------ */

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/*
 * Absolute times mean nothing under QEMU's TCG (the guests of
 * selftests/vm/run-guest.sh): everything is 10-50x slower there.
 */
static bool cpu_emulated(void)
{
	char *s = psnap_slurp("/proc/cpuinfo");
	bool tcg = s && strstr(s, "QEMU TCG");

	free(s);
	return tcg;
}

TEST(probe)
{
	char why[256] = "";
	uint64_t t = now_ns();
	int ret = ops->probe(why, sizeof(why));

	t = now_ns() - t;
	ASSERT_EQ(0, ret) {
		TH_LOG("probe: %s", why);
	}
	TH_LOG("probe: %.2f ms", t / 1e6);
	/* memsplice check runs every probe: this one must stay cheap */
	if (!cpu_emulated())
		EXPECT_GT(50000000ull, t);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

#define RUNS 7

FIXTURE(numbers) {};
FIXTURE_SETUP(numbers) {}
FIXTURE_TEARDOWN(numbers) {}

/*
 * attach, 64 MiB through the pipe (into memory, spliced to /dev/null and to
 * a file), detach; medians
 */
TEST_F_TIMEOUT(numbers, parasite_64m, 600)
{
	const struct pvictim_cfg cfg = { .kind = PV_BLOCKED, .rw_len = 64 << 20 };
	struct source_opts opts = { .buffer_size = 1 << 20 };
	struct page_source src = { .ops = ops };
	struct target tgt;
	uint64_t t_att[RUNS], t_mem[RUNS], t_null[RUNS], t_file[RUNS], t_det[RUNS];
	char file[] = "/tmp/parasite_test.XXXXXX";
	int file_fd;
	char why[256] = "";
	struct victim v;
	int null_fd;
	void *buf;

	if (ops->probe(why, sizeof(why)))
		SKIP(return, "parasite backend unavailable: %s", why);
	buf = malloc(cfg.rw_len);
	ASSERT_NE(NULL, buf);
	null_fd = open("/dev/null", O_WRONLY);
	ASSERT_LE(0, null_fd);
	file_fd = mkstemp(file);
	ASSERT_LE(0, file_fd);
	unlink(file);
	victim_start(_metadata, &v, &cfg);
	ASSERT_EQ(0, ops->create(&src, &opts));
	for (int i = 0; i < RUNS; i++) {
		uint64_t t0 = now_ns();
		size_t done;

		ASSERT_EQ(0, ops->attach(&src, target_of(&tgt, v.pid)));
		t_att[i] = now_ns() - t0;

		t0 = now_ns();
		ASSERT_EQ((ssize_t)cfg.rw_len, dump_range(&src, v.lay.addr[PV_RW], cfg.rw_len,
							  PROT_READ | PROT_WRITE, buf));
		t_mem[i] = now_ns() - t0;
		if (i == 0)
			ASSERT_TRUE(pvictim_check_pattern(buf, v.lay.addr[PV_RW], cfg.rw_len, v.pid));

		t0 = now_ns();
		for (done = 0; done < cfg.rw_len;) {
			struct src_range r = { .addr = v.lay.addr[PV_RW] + done,
					       .len = src.buffer_size,
					       .prot = PROT_READ | PROT_WRITE };
			struct page_data d;
			ssize_t n = ops->fill(&src, &r, &d);

			ASSERT_LT(0, n);
			ASSERT_EQ(n, splice(d.pipe_fd, NULL, null_fd, NULL, n, 0));
			done += n;
		}
		t_null[i] = now_ns() - t0;

		ASSERT_EQ(0, ftruncate(file_fd, 0));
		t0 = now_ns();
		for (done = 0; done < cfg.rw_len;) {
			struct src_range r = { .addr = v.lay.addr[PV_RW] + done,
					       .len = src.buffer_size,
					       .prot = PROT_READ | PROT_WRITE };
			struct page_data d;
			loff_t off = done;
			ssize_t n = ops->fill(&src, &r, &d);

			ASSERT_LT(0, n);
			ASSERT_EQ(n, splice(d.pipe_fd, NULL, file_fd, &off, n, 0));
			done += n;
		}
		t_file[i] = now_ns() - t0;

		t0 = now_ns();
		ASSERT_EQ(0, ops->detach(&src));
		t_det[i] = now_ns() - t0;
	}
	ops->destroy(&src);
	qsort(t_att, RUNS, sizeof(uint64_t), cmp_u64);
	qsort(t_mem, RUNS, sizeof(uint64_t), cmp_u64);
	qsort(t_null, RUNS, sizeof(uint64_t), cmp_u64);
	qsort(t_det, RUNS, sizeof(uint64_t), cmp_u64);
	qsort(t_file, RUNS, sizeof(uint64_t), cmp_u64);
	TH_LOG("64 MiB, pipe %zu KiB, median of %d (min..max):", src.buffer_size >> 10, RUNS);
	TH_LOG("  attach (infect)      %8.3f ms (%.3f..%.3f)", t_att[RUNS / 2] / 1e6,
	       t_att[0] / 1e6, t_att[RUNS - 1] / 1e6);
	TH_LOG("  fill+read to memory  %8.3f ms  %6.0f MiB/s", t_mem[RUNS / 2] / 1e6,
	       64e9 / t_mem[RUNS / 2]);
	TH_LOG("  fill+splice to null  %8.3f ms  %6.0f MiB/s", t_null[RUNS / 2] / 1e6,
	       64e9 / t_null[RUNS / 2]);
	TH_LOG("  fill+splice to /tmp  %8.3f ms  %6.0f MiB/s", t_file[RUNS / 2] / 1e6,
	       64e9 / t_file[RUNS / 2]);
	TH_LOG("  detach (cure)        %8.3f ms (%.3f..%.3f)", t_det[RUNS / 2] / 1e6,
	       t_det[0] / 1e6, t_det[RUNS - 1] / 1e6);
	victim_finish(_metadata, &v);
	victim_kill(&v);
	close(file_fd);
	close(null_fd);
	free(buf);
}

TEST_HARNESS_MAIN
