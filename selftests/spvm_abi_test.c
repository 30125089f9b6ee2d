// SPDX-License-Identifier: GPL-2.0
/*
 * ABI tests of splice_process_vm: every errno, each flag, partial transfers,
 * the kinds of memory a target can have, pipe states, signals, permission,
 * and what can and cannot reach a target's page.
 *
 * Every test goes through a struct spvm_entry, so the same tests run against
 * each entry point (one FIXTURE_VARIANT each): the device ioctl, and the
 * syscall of a kernel with kernel/patches/ applied, whose number comes only
 * from spvm_sysnr() (include/spvm_sysnr.h: a kernel without the series
 * skips the syscall variant and never sees a guessed number).  Victims are forked children
 * that map and fill memory, report its address through a pipe and then only
 * wait for commands; no test relies on sleeping.  Run as root: some tests
 * switch to an unprivileged user, one unloads and reloads the module
 * (MEMSPLICE_SPVM_KO names the .ko to reload; the test skips without it).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/splice_process_vm.h>

#include "spvm_ioctl.h"

#include "spvm_sysnr.h"

#include "kselftest_harness.h"
#include "lib/methods.h"
#include "lib/pattern.h"
#include "lib/spvm_proc.h"
#include "lib/thp.h"

#define PG		VPAGE
#define SEED		0x5eed
#define SEED2		0xd1e7
#define MODULE_NAME	"splice_process_vm"
#define BIG_PIPE	(1 << 20)	/* default pipe-max-size: 256 slots */

_Static_assert(sizeof(struct spvm_args) == SPVM_ARGS_SIZE_VER0, "args layout");
_Static_assert(sizeof(struct spvm_features) == SPVM_FEATURES_SIZE_VER0, "features layout");

/*
 * The ioctl numbers are those of the first header whatever the size of the
 * structs: expanded with struct tags of a grown struct, the macros must give
 * the same values.  A header encoding sizeof(struct) fails here.
 */
struct spvm_args_grown { struct spvm_args a; __u64 added; };
struct spvm_features_grown { struct spvm_features f; __u64 added; };
#define spvm_args spvm_args_grown
#define spvm_features spvm_features_grown
_Static_assert(SPVM_IOC_SPLICE == 0x4028b901, "SPVM_IOC_SPLICE depends on the struct's size");
_Static_assert(SPVM_IOC_FEATURES == 0xc028b900, "SPVM_IOC_FEATURES depends on the struct's size");
#undef spvm_args
#undef spvm_features
_Static_assert(SPVM_IOC_SPLICE == 0x4028b901, "SPVM_IOC_SPLICE changed");
_Static_assert(SPVM_IOC_FEATURES == 0xc028b900, "SPVM_IOC_FEATURES changed");

/* ---- entry points ---------------------------------------------------- */

/**
 * struct spvm_entry - one way into the kernel core
 * @name:        for messages
 * @is_module:   the module's device: can be unloaded, has /proc/PID/mem fds
 * @unavailable: NULL when usable in this process, else why not
 * @open_target: an fd for spvm_args.target_fd naming @pid, or -1 with errno
 * @call:        one request: bytes attached, or -1 with errno
 * @features:    the features query, or NULL when the entry has none
 */
struct spvm_entry {
	const char *name;
	bool is_module;
	const char *(*unavailable)(void);
	int (*open_target)(pid_t pid);
	long (*call)(struct spvm_args *args);
	int (*features)(struct spvm_features *f);
};

static int dev_fd = -1;

static const char *dev_unavailable(void)
{
	static char why[128];

	if (!method_selected("device"))
		return method_unselected("device");
	if (dev_fd >= 0)
		return NULL;
	dev_fd = open("/dev/" SPVM_DEVICE_NAME, O_RDONLY | O_CLOEXEC);
	if (dev_fd >= 0)
		return NULL;
	snprintf(why, sizeof(why), "/dev/%s: %s%s", SPVM_DEVICE_NAME, strerror(errno),
		 errno == ENOENT ? " (module not loaded)" : "");
	return why;
}

static void dev_close(void)
{
	if (dev_fd >= 0)
		close(dev_fd);
	dev_fd = -1;
}

static int dev_open_target(pid_t pid)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/mem", pid);
	return open(path, O_RDONLY | O_CLOEXEC);
}

static long dev_call(struct spvm_args *args)
{
	return ioctl(dev_fd, SPVM_IOC_SPLICE, args);
}

static int dev_features(struct spvm_features *f)
{
	return ioctl(dev_fd, SPVM_IOC_FEATURES, f);
}

static const struct spvm_entry device_entry = {
	.name		= "device",
	.is_module	= true,
	.unavailable	= dev_unavailable,
	.open_target	= dev_open_target,
	.call		= dev_call,
	.features	= dev_features,
};

static long sys_nr = -1;

/* spvm_sysnr()'s number, once it answered the probe; never a guessed one. */
static const char *sys_unavailable(void)
{
	static char why[256];
	long nr;

	if (!method_selected("syscall"))
		return method_unselected("syscall");
	if (sys_nr > 0)
		return NULL;
	nr = spvm_sysnr_probe(why, sizeof(why));
	if (nr < 0)
		return why;
	sys_nr = nr;
	return NULL;
}

static int sys_open_target(pid_t pid)
{
	return syscall(SYS_pidfd_open, pid, 0);
}

static long sys_call(struct spvm_args *args)
{
	return syscall(sys_nr, args);
}

/* No features query: flags are probed with fds of -1 (EINVAL vs EBADF). */
static const struct spvm_entry syscall_entry = {
	.name		= "syscall",
	.is_module	= false,
	.unavailable	= sys_unavailable,
	.open_target	= sys_open_target,
	.call		= sys_call,
	.features	= NULL,
};

/* ---- helpers --------------------------------------------------------- */

static long spvm_iov(const struct spvm_entry *e, int target, int pipe_fd,
		     const struct spvm_iovec *iov, unsigned int cnt, __u64 flags)
{
	struct spvm_args a = {
		.size = sizeof(a),
		.flags = flags,
		.target_fd = target,
		.pipe_fd = pipe_fd,
		.iov = (uintptr_t)iov,
		.iovcnt = cnt,
	};

	return e->call(&a);
}

static long spvm(const struct spvm_entry *e, int target, int pipe_fd,
		 unsigned long addr, size_t len, __u64 flags)
{
	struct spvm_iovec iov = { .base = addr, .len = len };

	return spvm_iov(e, target, pipe_fd, &iov, 1, flags);
}

/* attach and read back [addr, addr + len) in as many calls as needed */
static long splice_all(const struct spvm_entry *e, int target, int p[2],
		       unsigned long addr, size_t len, void *buf, __u64 flags)
{
	size_t done = 0;

	while (done < len) {
		long n = spvm(e, target, p[1], addr + done, len - done, flags);

		if (n <= 0)
			return done ? (long)done : n;
		if (read_full(p[0], (char *)buf + done, n))
			return -1;
		done += n;
	}
	return done;
}

/* does @buf hold the victim's pattern for [addr, addr + len)? */
static bool pattern_equal(const void *buf, unsigned long addr, size_t len, uint64_t seed)
{
	static uint64_t page[PG / 8];
	const char *p = buf;

	while (len) {
		unsigned long base = addr & ~(PG - 1), off = addr - base;
		size_t n = PG - off < len ? PG - off : len;

		pattern_fill(page, base, seed);
		if (memcmp(p, (char *)page + off, n))
			return false;
		p += n;
		addr += n;
		len -= n;
	}
	return true;
}

/* ---- victims --------------------------------------------------------- */

enum vkind {
	V_ANON,		/* private anonymous, filled */
	V_HOLE,		/* V_ANON with page 2 unmapped */
	V_UNTOUCHED,	/* private anonymous, never touched */
	V_ZEROPAGE,	/* private anonymous, only read: zero page mapped */
	V_PROTNONE,	/* filled, then PROT_NONE */
	V_THP,		/* 2 MiB aligned, MADV_HUGEPAGE, filled */
	V_SHARED_ANON,	/* MAP_SHARED | MAP_ANONYMOUS, filled */
	V_FILE_SHARED,	/* tmpfs file written with pwrite(), mapped, not touched */
	V_FILE_PRIVATE,	/* tmpfs file mapped MAP_PRIVATE, filled (COW copies) */
};

struct vcmd {
	char op;		/* 'w': rewrite page @arg with SEED2 */
	unsigned long arg;
};

static char *victim_map(enum vkind kind, unsigned long pages)
{
	size_t len = pages * PG;
	char *p = MAP_FAILED, *tmp;
	int fd;

	switch (kind) {
	case V_ANON:
	case V_HOLE:
	case V_UNTOUCHED:
	case V_ZEROPAGE:
	case V_PROTNONE:
		p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			return NULL;
		/* small pages: each test below means the page kind it names */
		madvise(p, len, MADV_NOHUGEPAGE);
		if (kind == V_ZEROPAGE) {
			for (unsigned long i = 0; i < pages; i++)
				(void)*(volatile char *)(p + i * PG);
		} else if (kind != V_UNTOUCHED) {
			fill(p, pages, SEED);
		}
		if (kind == V_HOLE && munmap(p + 2 * PG, PG))
			return NULL;
		if (kind == V_PROTNONE && mprotect(p, len, PROT_NONE))
			return NULL;
		break;
	case V_THP:
		tmp = mmap(NULL, len + (2UL << 20), PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (tmp == MAP_FAILED)
			return NULL;
		p = (char *)(((unsigned long)tmp + (2UL << 20) - 1) & ~((2UL << 20) - 1));
		if (madvise(p, len, MADV_HUGEPAGE))
			return NULL;
		fill(p, pages, SEED);
		break;
	case V_SHARED_ANON:
		p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			return NULL;
		fill(p, pages, SEED);
		break;
	case V_FILE_SHARED:
	case V_FILE_PRIVATE:
		fd = open("/tmp", O_TMPFILE | O_RDWR, 0600);
		if (fd < 0 || ftruncate(fd, len))
			return NULL;
		p = mmap(NULL, len, PROT_READ | PROT_WRITE,
			 kind == V_FILE_SHARED ? MAP_SHARED : MAP_PRIVATE, fd, 0);
		if (p == MAP_FAILED)
			return NULL;
		if (kind == V_FILE_PRIVATE) {
			fill(p, pages, SEED);
		} else {
			/* pattern of the address it will be mapped at */
			static uint64_t page[PG / 8];

			for (unsigned long i = 0; i < pages; i++) {
				pattern_fill(page, (unsigned long)(p + i * PG), SEED);
				if (pwrite(fd, page, PG, i * PG) != PG)
					return NULL;
			}
		}
		close(fd);
		break;
	}
	return p;
}

static void __attribute__((noreturn)) victim_main(int cmd, int ack, enum vkind kind,
						  unsigned long pages)
{
	struct vcmd c;
	char *p;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	/* Hold nothing of the test's (the device, pipes) but our own pipes. */
	if (dup2(cmd, 3) != 3 || dup2(ack, 4) != 4)
		_exit(90);
	close_range(5, ~0U, 0);
	p = victim_map(kind, pages);
	if (!p)
		_exit(91);
	if (write(4, &p, sizeof(p)) != sizeof(p))
		_exit(92);
	while (read(3, &c, sizeof(c)) == sizeof(c)) {
		if (c.op == 'w')
			pattern_fill(p + c.arg * PG, (unsigned long)(p + c.arg * PG), SEED2);
		if (write(4, &c.op, 1) != 1)
			_exit(93);
	}
	_exit(0);
}

/* fork a victim of @kind; 0, or -1 (setup failed: see errno) */
static int victim_start(struct victim *v, const struct spvm_entry *e,
			enum vkind kind, unsigned long pages)
{
	pid_t pid = victim_fork(v);

	if (pid == 0)
		victim_main(v->cmd, v->ack, kind, pages);
	return pid < 0 ? -1 : victim_ready(v, e->open_target);
}

static int victim_cmd(struct victim *v, char op, unsigned long arg)
{
	struct vcmd c = { .op = op, .arg = arg };
	char a;

	if (write(v->cmd, &c, sizeof(c)) != sizeof(c) || read(v->ack, &a, 1) != 1)
		return -1;
	return 0;
}

/* ---- fixture --------------------------------------------------------- */

FIXTURE(spvm) {
	bool skip;
	int p[2];		/* p[0] read end, p[1] write end */
	struct victim v;
	char *buf;		/* 4 MiB for what comes out of the pipe */
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
	self->buf = mmap(NULL, 4 << 20, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->buf);
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
#define START_VICTIM(kind, pages) \
	ASSERT_EQ(0, victim_start(&self->v, E, kind, pages)) \
		TH_LOG("victim: %m")

/* ---- the struct, the flags, the vector ------------------------------- */

TEST_F(spvm, features)
{
	struct {
		struct spvm_features f;
		unsigned char tail[24];
	} big;

	if (self->skip)
		return;
	if (!E->features)
		SKIP(return, "%s has no features query", E->name);
	memset(&big, 0xaa, sizeof(big));
	big.f.size = sizeof(big);
	ASSERT_EQ(0, E->features(&big.f)) TH_LOG("%m");
	EXPECT_EQ(SPVM_FEATURES_SIZE_VER0, big.f.size);
	EXPECT_EQ(SPVM_VERSION, big.f.version);
	EXPECT_TRUE(big.f.flags & SPVM_NONBLOCK);
	EXPECT_EQ(0, big.f.flags & ~(SPVM_NONBLOCK | SPVM_FORCE | SPVM_STABLE));
	EXPECT_EQ(SPVM_ARGS_SIZE_VER0, big.f.args_size);
	EXPECT_EQ(1024, big.f.max_iovcnt);
	if (E->is_module)
		EXPECT_EQ(SPVM_TARGET_PROC_MEM, big.f.targets);
	for (size_t i = 0; i < sizeof(big.tail); i++) {
		ASSERT_EQ(0xaa, big.tail[i]) TH_LOG("byte %zu past size written", i);
	}

	big.f.size = 8;
	EXPECT_EQ(-1, E->features(&big.f));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, E->features(NULL));
	EXPECT_EQ(EFAULT, errno);
	if (E->is_module) {
		EXPECT_EQ(-1, ioctl(dev_fd, _IO(SPVM_IOC_MAGIC, 0x7f)));
		EXPECT_EQ(ENOTTY, errno);
	}
}

/*
 * An old-size and a new-size caller send the same command number and are
 * told apart by their struct's size field; the number a header encoding
 * sizeof(struct) would send for the grown struct is unknown to the module.
 */
TEST_F(spvm, ioctl_number_independent_of_size)
{
	struct spvm_features_grown fg = { .f.size = sizeof(fg) };
	struct spvm_args_grown g = { 0 };
	struct spvm_iovec iov[2];
	struct spvm_args old;

	if (self->skip)
		return;
	if (!E->is_module)
		SKIP(return, "%s has no ioctl", E->name);
	START_VICTIM(V_ANON, 2);
	iov[0] = (struct spvm_iovec){ self->v.addr, PG };
	iov[1] = (struct spvm_iovec){ self->v.addr + PG, PG };
	old = (struct spvm_args){
		.size = SPVM_ARGS_SIZE_VER0, .target_fd = self->v.target,
		.pipe_fd = self->p[1], .iov = (uintptr_t)&iov[0], .iovcnt = 1,
	};
	EXPECT_EQ(PG, ioctl(dev_fd, SPVM_IOC_SPLICE, &old)) TH_LOG("old size: %m");
	g.a = old;
	g.a.size = sizeof(g);
	g.a.iov = (uintptr_t)&iov[1];
	EXPECT_EQ(PG, ioctl(dev_fd, SPVM_IOC_SPLICE, &g)) TH_LOG("new size: %m");
	ASSERT_EQ(0, read_full(self->p[0], self->buf, 2 * PG));
	EXPECT_TRUE(pattern_equal(self->buf, self->v.addr, 2 * PG, SEED));
	g.added = 1;
	EXPECT_EQ(-1, ioctl(dev_fd, SPVM_IOC_SPLICE, &g));
	EXPECT_EQ(E2BIG, errno);

	EXPECT_EQ(0, ioctl(dev_fd, SPVM_IOC_FEATURES, &fg)) TH_LOG("%m");
	EXPECT_EQ(SPVM_FEATURES_SIZE_VER0, fg.f.size);
	EXPECT_EQ(0, fg.added);

	g.added = 0;
	EXPECT_EQ(-1, ioctl(dev_fd, _IOW(SPVM_IOC_MAGIC, 0x01, struct spvm_args_grown), &g));
	EXPECT_EQ(ENOTTY, errno);
}

TEST_F(spvm, struct_size)
{
	struct {
		struct spvm_args a;
		__u64 tail;
	} big = { 0 };
	struct spvm_args a;

	if (self->skip)
		return;
	START_VICTIM(V_ANON, 1);
	a = (struct spvm_args){
		.flags = 0, .target_fd = self->v.target, .pipe_fd = self->p[1],
	};
	for (__u64 sz = 0; sz < SPVM_ARGS_SIZE_VER0; sz += 13) {
		a.size = sz;
		EXPECT_EQ(-1, E->call(&a));
		EXPECT_EQ(EINVAL, errno) TH_LOG("size %llu", (unsigned long long)sz);
	}
	a.size = 4097;
	EXPECT_EQ(-1, E->call(&a));
	EXPECT_EQ(E2BIG, errno);

	/* a newer, larger struct is fine while its unknown tail is zero */
	big.a = a;
	big.a.size = sizeof(big);
	EXPECT_EQ(0, E->call(&big.a)) TH_LOG("%m");
	big.tail = 1;
	EXPECT_EQ(-1, E->call(&big.a));
	EXPECT_EQ(E2BIG, errno);

	a.size = sizeof(a);
	EXPECT_EQ(0, E->call(&a)) TH_LOG("%m");
	a.__reserved = 1;
	EXPECT_EQ(-1, E->call(&a));
	EXPECT_EQ(EINVAL, errno);
	a.__reserved = 0;

	EXPECT_EQ(-1, E->call(NULL));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(-1, E->call((struct spvm_args *)(uintptr_t)PG));
	EXPECT_EQ(EFAULT, errno);
}

TEST_F(spvm, unknown_flags_einval_before_fds)
{
	if (self->skip)
		return;
	START_VICTIM(V_ANON, 1);
	/* the module still takes version 2's SPVM_STABLE, the syscall SPVM_PIN */
	__u64 known = E->is_module ? SPVM_STABLE : SPVM_PIN;

	for (int bit = 2; bit < 64; bit++) {
		if ((1ULL << bit) & known)
			continue;
		EXPECT_EQ(-1, spvm(E, self->v.target, self->p[1], self->v.addr, PG, 1ULL << bit));
		EXPECT_EQ(EINVAL, errno) TH_LOG("flag bit %d", bit);
	}
	/* the side-effect-free probe: flags are checked before anything else */
	EXPECT_EQ(-1, spvm(E, -1, -1, 0, 0, 1ULL << 5));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, spvm(E, -1, -1, 0, 0, SPVM_NONBLOCK));
	EXPECT_EQ(EBADF, errno);
}

TEST_F(spvm, vector_checks)
{
	struct spvm_iovec iov[2];
	static struct spvm_iovec many[1025];

	if (self->skip)
		return;
	START_VICTIM(V_ANON, 1);

	EXPECT_EQ(-1, spvm_iov(E, self->v.target, self->p[1], many, 1025, 0));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, spvm_iov(E, self->v.target, self->p[1],
			       (struct spvm_iovec *)(uintptr_t)PG, 1, 0));
	EXPECT_EQ(EFAULT, errno);

	iov[0] = (struct spvm_iovec){ self->v.addr, PG };
	iov[1] = (struct spvm_iovec){ self->v.addr, 1ULL << 63 };
	EXPECT_EQ(-1, spvm_iov(E, self->v.target, self->p[1], iov, 2, 0));
	EXPECT_EQ(EINVAL, errno);
	iov[1] = (struct spvm_iovec){ ~0ULL - 10, 100 };
	EXPECT_EQ(-1, spvm_iov(E, self->v.target, self->p[1], iov, 2, 0));
	EXPECT_EQ(EINVAL, errno) TH_LOG("a wrapping range is refused up front");

	/* nothing to do: 0, whatever the pipe */
	EXPECT_EQ(0, spvm_iov(E, self->v.target, self->p[1], NULL, 0, 0));
	iov[0].len = 0;
	EXPECT_EQ(0, spvm_iov(E, self->v.target, self->p[1], iov, 1, 0));

	/* addresses the target cannot have */
	EXPECT_EQ(-1, spvm(E, self->v.target, self->p[1], 0xffff888000000000UL, PG, 0));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(-1, spvm(E, self->v.target, self->p[1], 0, PG, 0));
	EXPECT_EQ(EFAULT, errno);
}

/* ---- fds -------------------------------------------------------------- */

TEST_F(spvm, bad_target_fd_ebadf)
{
	int bad[5], n = 0, closed;

	if (self->skip)
		return;
	START_VICTIM(V_ANON, 1);
	closed = dup(self->p[0]);
	close(closed);
	bad[n++] = open("/dev/null", O_RDWR | O_CLOEXEC);
	bad[n++] = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
	bad[n++] = self->p[0];
	bad[n++] = closed;
	bad[n++] = -1;
	for (int i = 0; i < n; i++) {
		EXPECT_EQ(-1, spvm(E, bad[i], self->p[1], self->v.addr, PG, 0));
		EXPECT_EQ(EBADF, errno) TH_LOG("target fd #%d", i);
	}
	if (E->is_module) {
		char path[64];
		int wr;

		/* /proc/PID/mem opened without read access proves nothing */
		snprintf(path, sizeof(path), "/proc/%d/mem", self->v.pid);
		wr = open(path, O_WRONLY | O_CLOEXEC);
		ASSERT_LE(0, wr) TH_LOG("%m");
		EXPECT_EQ(-1, spvm(E, wr, self->p[1], self->v.addr, PG, 0));
		EXPECT_EQ(EBADF, errno);
		close(wr);
	}
}

TEST_F(spvm, bad_pipe_fd_ebadf)
{
	int bad[6], n = 0, sv[2], closed;

	if (self->skip)
		return;
	START_VICTIM(V_ANON, 1);
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
	closed = dup(self->p[0]);
	close(closed);
	bad[n++] = open("/dev/null", O_WRONLY | O_CLOEXEC);
	bad[n++] = open("/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	bad[n++] = sv[0];
	bad[n++] = self->p[0];		/* the read end */
	bad[n++] = closed;
	bad[n++] = -1;
	for (int i = 0; i < n; i++) {
		EXPECT_EQ(-1, spvm(E, self->v.target, bad[i], self->v.addr, PG, 0));
		EXPECT_EQ(EBADF, errno) TH_LOG("pipe fd #%d", i);
	}
}

TEST_F(spvm, fifo_write_end)
{
	char path[] = "/tmp/spvm-fifo-XXXXXX";
	int rd, wr, ro;

	if (self->skip)
		return;
	START_VICTIM(V_ANON, 1);
	ASSERT_NE(NULL, mkdtemp(path));
	ASSERT_EQ(0, chdir(path));
	ASSERT_EQ(0, mkfifo("f", 0600));
	rd = open("f", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	wr = open("f", O_WRONLY | O_CLOEXEC);
	ro = open("f", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	ASSERT_LE(0, rd);
	ASSERT_LE(0, wr);
	EXPECT_EQ(PG, spvm(E, self->v.target, wr, self->v.addr, PG, 0)) TH_LOG("%m");
	EXPECT_EQ(PG, read(rd, self->buf, PG));
	EXPECT_TRUE(pattern_equal(self->buf, self->v.addr, PG, SEED));
	EXPECT_EQ(-1, spvm(E, self->v.target, ro, self->v.addr, PG, 0));
	EXPECT_EQ(EBADF, errno);
	unlink("f");
	chdir("/");
	rmdir(path);
}

TEST_F(spvm, exited_target_esrch)
{
	siginfo_t si;

	if (self->skip)
		return;
	START_VICTIM(V_ANON, 1);
	kill(self->v.pid, SIGKILL);
	/* a zombie has no address space any more */
	ASSERT_EQ(0, waitid(P_PID, self->v.pid, &si, WEXITED | WNOWAIT));
	EXPECT_EQ(-1, spvm(E, self->v.target, self->p[1], self->v.addr, PG, 0));
	EXPECT_EQ(ESRCH, errno);
	victim_kill(&self->v);
	EXPECT_EQ(-1, spvm(E, self->v.target, self->p[1], self->v.addr, PG, 0));
	EXPECT_EQ(ESRCH, errno);
}

TEST_F(spvm, kernel_thread_esrch)
{
	int fd;

	if (self->skip)
		return;
	/* pid 2 is kthreadd */
	fd = E->open_target(2);
	if (fd < 0) {
		EXPECT_EQ(ESRCH, errno) TH_LOG("open_target(2): %m");
		return;
	}
	EXPECT_EQ(-1, spvm(E, fd, self->p[1], 0x400000, PG, 0));
	EXPECT_EQ(ESRCH, errno);
	close(fd);
}

/* ---- bytes ------------------------------------------------------------ */

TEST_F(spvm, bytes_equal)
{
	unsigned long a;

	if (self->skip)
		return;
	ASSERT_EQ(BIG_PIPE, fcntl(self->p[1], F_SETPIPE_SZ, BIG_PIPE));
	START_VICTIM(V_ANON, 64);
	a = self->v.addr;
	/* one call takes all 64 pages: they fit in the pipe */
	ASSERT_EQ(64 * PG, spvm(E, self->v.target, self->p[1], a, 64 * PG, 0)) TH_LOG("%m");
	ASSERT_EQ(0, read_full(self->p[0], self->buf, 64 * PG));
	EXPECT_TRUE(pattern_equal(self->buf, a, 64 * PG, SEED));

	/* unaligned start and end, several ranges, one of them twice */
	struct spvm_iovec iov[] = {
		{ a + 100, 5000 }, { a + 10 * PG + 4095, 2 }, { a + 63 * PG, PG }, { a + 100, 5000 },
	};
	size_t total = 5000 + 2 + PG + 5000, off = 0;

	ASSERT_EQ(total, spvm_iov(E, self->v.target, self->p[1], iov, 4, 0)) TH_LOG("%m");
	ASSERT_EQ(0, read_full(self->p[0], self->buf, total));
	for (int i = 0; i < 4; i++) {
		EXPECT_TRUE(pattern_equal(self->buf + off, iov[i].base, iov[i].len, SEED))
			TH_LOG("range %d", i);
		off += iov[i].len;
	}
}

TEST_F(spvm, many_small_ranges_fill_the_pipe)
{
	static struct spvm_iovec iov[1024];

	if (self->skip)
		return;
	ASSERT_EQ(BIG_PIPE, fcntl(self->p[1], F_SETPIPE_SZ, BIG_PIPE));
	START_VICTIM(V_ANON, 4);
	for (int i = 0; i < 1024; i++)
		iov[i] = (struct spvm_iovec){ self->v.addr + i * 16, 16 };
	/* one pipe buffer per range: the 256-slot pipe takes 256 of them */
	ASSERT_EQ(256 * 16, spvm_iov(E, self->v.target, self->p[1], iov, 1024, 0))
		TH_LOG("%m");
	ASSERT_EQ(0, read_full(self->p[0], self->buf, 256 * 16));
	EXPECT_TRUE(pattern_equal(self->buf, self->v.addr, 256 * 16, SEED));
}

TEST_F(spvm, partial_at_hole)
{
	unsigned long a;

	if (self->skip)
		return;
	START_VICTIM(V_HOLE, 4);
	a = self->v.addr;
	/* pages 0 and 1, then the hole: short count, no error */
	ASSERT_EQ(2 * PG, spvm(E, self->v.target, self->p[1], a, 4 * PG, 0)) TH_LOG("%m");
	ASSERT_EQ(0, read_full(self->p[0], self->buf, 2 * PG));
	EXPECT_TRUE(pattern_equal(self->buf, a, 2 * PG, SEED));
	/* also inside one page run of a later range */
	struct spvm_iovec iov[] = { { a + 3 * PG, PG }, { a + PG + 10, 2 * PG } };

	ASSERT_EQ(PG + PG - 10, spvm_iov(E, self->v.target, self->p[1], iov, 2, 0));
	ASSERT_EQ(0, read_full(self->p[0], self->buf, 2 * PG - 10));
	EXPECT_TRUE(pattern_equal(self->buf, a + 3 * PG, PG, SEED));
	EXPECT_TRUE(pattern_equal(self->buf + PG, a + PG + 10, PG - 10, SEED));
	/* nothing before the failure: the error */
	EXPECT_EQ(-1, spvm(E, self->v.target, self->p[1], a + 2 * PG, 2 * PG, 0));
	EXPECT_EQ(EFAULT, errno);
}

static bool force_offered(const struct spvm_entry *e)
{
	struct spvm_features f = { .size = sizeof(f) };

	return !e->features || (e->features(&f) == 0 && (f.flags & SPVM_FORCE));
}

TEST_F(spvm, untouched_memory_not_populated)
{
	if (self->skip)
		return;
	START_VICTIM(V_UNTOUCHED, 4);
	EXPECT_EQ(-1, spvm(E, self->v.target, self->p[1], self->v.addr, 4 * PG, 0));
	EXPECT_EQ(EFAULT, errno);
	if (force_offered(E)) {
		EXPECT_EQ(-1, spvm(E, self->v.target, self->p[1], self->v.addr, 4 * PG,
				   SPVM_FORCE));
		EXPECT_EQ(EFAULT, errno);
	}
	for (int i = 0; i < 4; i++) {
		EXPECT_EQ(0, page_present(self->v.pid, self->v.addr + i * PG))
			TH_LOG("page %d was faulted in", i);
	}
}

TEST_F(spvm, zero_page_efault)
{
	if (self->skip)
		return;
	START_VICTIM(V_ZEROPAGE, 4);
	EXPECT_EQ(1, page_present(self->v.pid, self->v.addr));
	EXPECT_EQ(-1, spvm(E, self->v.target, self->p[1], self->v.addr, 4 * PG, 0));
	EXPECT_EQ(EFAULT, errno);
}

TEST_F(spvm, protnone_needs_force)
{
	if (self->skip)
		return;
	START_VICTIM(V_PROTNONE, 4);
	EXPECT_EQ(-1, spvm(E, self->v.target, self->p[1], self->v.addr, 4 * PG, 0));
	EXPECT_EQ(EFAULT, errno);
	if (!force_offered(E)) {
		EXPECT_EQ(-1, spvm(E, self->v.target, self->p[1], self->v.addr, 4 * PG,
				   SPVM_FORCE));
		EXPECT_EQ(EPERM, errno);
		SKIP(return, "SPVM_FORCE not offered (/proc/PID/mem does not force here)");
	}
	ASSERT_EQ(4 * PG, splice_all(E, self->v.target, self->p, self->v.addr, 4 * PG,
				     self->buf, SPVM_FORCE)) TH_LOG("%m");
	EXPECT_TRUE(pattern_equal(self->buf, self->v.addr, 4 * PG, SEED));
}

TEST_F(spvm, transparent_huge_pages)
{
	unsigned long a;

	if (self->skip)
		return;
	if (thp_off())
		SKIP(return, "transparent huge pages are off (%s: [never] or absent)",
		     THP_ENABLED);
	ASSERT_EQ(BIG_PIPE, fcntl(self->p[1], F_SETPIPE_SZ, BIG_PIPE));
	START_VICTIM(V_THP, 512);
	a = self->v.addr;
	ASSERT_LE(2048, anon_huge_kib(self->v.pid)) TH_LOG("the victim got no huge page");
	ASSERT_EQ(512 * PG, splice_all(E, self->v.target, self->p, a, 512 * PG,
				       self->buf, 0)) TH_LOG("%m");
	EXPECT_TRUE(pattern_equal(self->buf, a, 512 * PG, SEED));
	/* a range starting inside the huge page */
	ASSERT_EQ(3 * PG, splice_all(E, self->v.target, self->p, a + 300 * PG + 1,
				     3 * PG, self->buf, 0));
	EXPECT_TRUE(pattern_equal(self->buf, a + 300 * PG + 1, 3 * PG, SEED));
	EXPECT_LE(2048, anon_huge_kib(self->v.pid)) TH_LOG("the huge page was split");
}

TEST_F(spvm, shared_anonymous_memory)
{
	if (self->skip)
		return;
	START_VICTIM(V_SHARED_ANON, 8);
	ASSERT_EQ(8 * PG, splice_all(E, self->v.target, self->p, self->v.addr, 8 * PG,
				     self->buf, 0)) TH_LOG("%m");
	EXPECT_TRUE(pattern_equal(self->buf, self->v.addr, 8 * PG, SEED));
}

TEST_F(spvm, file_pages_not_yet_mapped)
{
	if (self->skip)
		return;
	START_VICTIM(V_FILE_SHARED, 8);
	/* file holes in the page tables are read through the page cache */
	EXPECT_EQ(0, page_present(self->v.pid, self->v.addr));
	ASSERT_EQ(8 * PG, splice_all(E, self->v.target, self->p, self->v.addr, 8 * PG,
				     self->buf, 0)) TH_LOG("%m");
	EXPECT_TRUE(pattern_equal(self->buf, self->v.addr, 8 * PG, SEED));
}

TEST_F(spvm, file_private_copies)
{
	if (self->skip)
		return;
	START_VICTIM(V_FILE_PRIVATE, 8);
	ASSERT_EQ(8 * PG, splice_all(E, self->v.target, self->p, self->v.addr, 8 * PG,
				     self->buf, 0)) TH_LOG("%m");
	EXPECT_TRUE(pattern_equal(self->buf, self->v.addr, 8 * PG, SEED));
}

/* the victim's program text: page cache of a file on the root file system */
TEST_F(spvm, executable_text)
{
	unsigned long start = 0, end, off = 0;
	char path[64], exe[PATH_MAX], line[PATH_MAX + 128], file[PATH_MAX];
	ssize_t n;
	size_t len;
	FILE *maps;
	int fd;

	if (self->skip)
		return;
	START_VICTIM(V_ANON, 1);
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	ASSERT_LT(0, n);
	exe[n] = 0;
	snprintf(path, sizeof(path), "/proc/%d/maps", self->v.pid);
	maps = fopen(path, "re");
	ASSERT_NE(NULL, maps);
	while (fgets(line, sizeof(line), maps)) {
		char perms[8];

		if (sscanf(line, "%lx-%lx %7s %lx %*s %*s %s", &start, &end, perms, &off,
			   file) == 5 && perms[2] == 'x' && !strcmp(file, exe))
			break;
		start = 0;
	}
	fclose(maps);
	ASSERT_NE(0, start) TH_LOG("no executable mapping of %s", exe);
	len = end - start < 8 * PG ? end - start : 8 * PG;
	ASSERT_EQ(len, splice_all(E, self->v.target, self->p, start, len, self->buf, 0))
		TH_LOG("%m");
	fd = open(exe, O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, fd);
	ASSERT_EQ(len, pread(fd, self->buf + len, len, off));
	EXPECT_EQ(0, memcmp(self->buf, self->buf + len, len));
	close(fd);
}

/*
 * Free memory in kB: the buddy allocator's (MemFree) plus the pages parked
 * on per-cpu lists, which hold tens of MiB right after a process exits.
 * The page cache is dropped first (best effort): what the rest of the
 * system reads meanwhile (a guest's 9p files) is not the test's.
 */
static long free_kb(void)
{
	long kb = -1, count, pcp = 0;
	char line[128];
	FILE *f;

	f = fopen("/proc/sys/vm/drop_caches", "we");
	if (f) {
		fputs("3\n", f);
		fclose(f);
	}

	f = fopen("/proc/meminfo", "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "MemFree: %ld kB", &kb) == 1)
			break;
	fclose(f);
	f = fopen("/proc/zoneinfo", "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, " count: %ld", &count) == 1)
			pcp += count;
	fclose(f);
	return kb + pcp * (PG / 1024);
}

/*
 * Every reference a call takes is dropped when the pipe is read: after the
 * victim is gone its 128 MiB come back.  A leaked reference per page would
 * keep all of them; the rest of the system moves a few tens of MiB
 * meanwhile (17 MiB seen in a guest), hence half of them as the bound.
 */
TEST_F(spvm, page_references_released)
{
	const unsigned long pages = 32768, chunk = BIG_PIPE / PG;
	long before, after;

	if (self->skip)
		return;
	ASSERT_EQ(BIG_PIPE, fcntl(self->p[1], F_SETPIPE_SZ, BIG_PIPE));
	before = free_kb();
	START_VICTIM(V_ANON, pages);
	for (int pass = 0; pass < 2; pass++) {
		for (unsigned long i = 0; i < pages; i += chunk) {
			ASSERT_EQ(chunk * PG, splice_all(E, self->v.target, self->p,
							 self->v.addr + i * PG, chunk * PG,
							 self->buf, 0));
		}
	}
	EXPECT_TRUE(pattern_equal(self->buf, self->v.addr + (pages - chunk) * PG,
				  chunk * PG, SEED));
	victim_kill(&self->v);
	after = free_kb();
	EXPECT_LT(before - after, (long)(pages * PG / 1024 / 2))
		TH_LOG("%ld kB free before, %ld kB after", before, after);
}

/* ---- what may reach a target's page ----------------------------------- */

TEST_F(spvm, write_into_pipe_never_reaches_target)
{
	char junk[200], mem[PG];
	char path[64];
	int fd;

	if (self->skip)
		return;
	START_VICTIM(V_ANON, 2);
	memset(junk, 'X', sizeof(junk));
	/* a partial page first: a mergeable buffer would take the write */
	ASSERT_EQ(100, spvm(E, self->v.target, self->p[1], self->v.addr, 100, 0));
	ASSERT_EQ(sizeof(junk), write(self->p[1], junk, sizeof(junk)));
	ASSERT_EQ(PG, spvm(E, self->v.target, self->p[1], self->v.addr + PG, PG, 0));
	ASSERT_EQ(sizeof(junk), write(self->p[1], junk, sizeof(junk)));

	ASSERT_EQ(0, read_full(self->p[0], self->buf, 100 + 200 + PG + 200));
	EXPECT_TRUE(pattern_equal(self->buf, self->v.addr, 100, SEED));
	EXPECT_EQ(0, memcmp(self->buf + 100, junk, 200));
	EXPECT_TRUE(pattern_equal(self->buf + 300, self->v.addr + PG, PG, SEED));
	EXPECT_EQ(0, memcmp(self->buf + 300 + PG, junk, 200));

	/* and the target still has its own bytes */
	snprintf(path, sizeof(path), "/proc/%d/mem", self->v.pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, fd);
	for (int i = 0; i < 2; i++) {
		ASSERT_EQ(PG, pread(fd, mem, PG, self->v.addr + i * PG));
		EXPECT_EQ(-1, pattern_check(mem, self->v.addr + i * PG, SEED)) TH_LOG("page %d", i);
	}
	close(fd);
}

/* version 3: the pipe holds a copy made by the call, later writes never show */
TEST_F(spvm, target_write_after_attach_not_visible)
{
	if (self->skip)
		return;
	START_VICTIM(V_ANON, 1);
	ASSERT_EQ(PG, spvm(E, self->v.target, self->p[1], self->v.addr, PG, 0));
	ASSERT_EQ(0, victim_cmd(&self->v, 'w', 0));
	ASSERT_EQ(0, read_full(self->p[0], self->buf, PG));
	EXPECT_TRUE(pattern_equal(self->buf, self->v.addr, PG, SEED));
}

/* SPVM_PIN (the syscall only): the pipe holds the target's page itself */
TEST_F(spvm, pinned_page_shows_target_write)
{
	if (self->skip)
		return;
	if (E->is_module)
		SKIP(return, "the module has no SPVM_PIN");
	START_VICTIM(V_ANON, 1);
	ASSERT_EQ(PG, spvm(E, self->v.target, self->p[1], self->v.addr, PG, SPVM_PIN));
	ASSERT_EQ(0, victim_cmd(&self->v, 'w', 0));
	ASSERT_EQ(0, read_full(self->p[0], self->buf, PG));
	EXPECT_TRUE(pattern_equal(self->buf, self->v.addr, PG, SEED2));
}

TEST_F(spvm, pages_outlive_the_target)
{
	if (self->skip)
		return;
	START_VICTIM(V_ANON, 8);
	ASSERT_EQ(8 * PG, spvm(E, self->v.target, self->p[1], self->v.addr, 8 * PG, 0));
	victim_kill(&self->v);
	ASSERT_EQ(0, read_full(self->p[0], self->buf, 8 * PG));
	EXPECT_TRUE(pattern_equal(self->buf, self->v.addr, 8 * PG, SEED));
}

/* ---- a full pipe, no reader, signals --------------------------------- */

TEST_F(spvm, full_pipe_nonblock_eagain)
{
	int fl;

	if (self->skip)
		return;
	START_VICTIM(V_ANON, 2);
	ASSERT_LT(0, pipe_fill(self->p[1]));
	EXPECT_EQ(-1, spvm(E, self->v.target, self->p[1], self->v.addr, PG, SPVM_NONBLOCK));
	EXPECT_EQ(EAGAIN, errno);
	/* an O_NONBLOCK pipe end behaves the same without the flag */
	fl = fcntl(self->p[1], F_GETFL);
	ASSERT_EQ(0, fcntl(self->p[1], F_SETFL, fl | O_NONBLOCK));
	EXPECT_EQ(-1, spvm(E, self->v.target, self->p[1], self->v.addr, PG, 0));
	EXPECT_EQ(EAGAIN, errno);
	/* one free slot: one page of two, no error */
	ASSERT_EQ(PG, read(self->p[0], self->buf, PG));
	EXPECT_EQ(PG, spvm(E, self->v.target, self->p[1], self->v.addr, 2 * PG, 0));
}

TEST_F(spvm, partial_when_pipe_fills)
{
	if (self->skip)
		return;
	ASSERT_EQ(16 * PG, fcntl(self->p[1], F_SETPIPE_SZ, 16 * PG));
	START_VICTIM(V_ANON, 32);
	/* waits for the first slot only, then stops when the ring is full */
	ASSERT_EQ(16 * PG, spvm(E, self->v.target, self->p[1], self->v.addr, 32 * PG, 0));
	ASSERT_EQ(0, read_full(self->p[0], self->buf, 16 * PG));
	EXPECT_TRUE(pattern_equal(self->buf, self->v.addr, 16 * PG, SEED));
}

/* child: one blocking call, exit status says how it ended */
static pid_t blocked_caller(const struct spvm_entry *e, int target, int wfd,
			    unsigned long addr, size_t len, int ready,
			    void (*handler)(int), int sa_flags)
{
	pid_t pid = fork();

	if (pid)
		return pid;
	if (handler) {
		struct sigaction sa = { .sa_handler = handler, .sa_flags = sa_flags };

		sigaction(SIGUSR1, &sa, NULL);
	}
	if (write(ready, "r", 1) != 1)
		_exit(100);
	long n = spvm(e, target, wfd, addr, len, 0);

	if (n >= 0)
		_exit(n == PG ? 0 : 101);
	_exit(errno == EINTR ? 1 : errno == ESRCH ? 2 : 102);
}

TEST_F(spvm, full_pipe_blocks_until_drained)
{
	int ready[2], slots;
	pid_t c;
	char r;

	if (self->skip)
		return;
	START_VICTIM(V_ANON, 2);
	ASSERT_EQ(0, pipe2(ready, O_CLOEXEC));
	slots = pipe_fill(self->p[1]);
	c = blocked_caller(E, self->v.target, self->p[1], self->v.addr, 2 * PG, ready[1], NULL, 0);
	ASSERT_EQ(1, read(ready[0], &r, 1));
	ASSERT_EQ(0, wait_sleeping(c)) TH_LOG("the call did not block");
	ASSERT_EQ(PG, read(self->p[0], self->buf, PG));
	/* one slot freed: the call attaches one page and returns */
	EXPECT_EQ(0, exit_code(c));
	ASSERT_EQ(0, read_full(self->p[0], self->buf, (slots - 1) * PG + PG));
	EXPECT_TRUE(pattern_equal(self->buf + (slots - 1) * PG, self->v.addr, PG, SEED));
}

TEST_F(spvm, target_exits_while_call_blocks)
{
	int ready[2];
	pid_t c;
	char r;

	if (self->skip)
		return;
	START_VICTIM(V_ANON, 1);
	ASSERT_EQ(0, pipe2(ready, O_CLOEXEC));
	pipe_fill(self->p[1]);
	c = blocked_caller(E, self->v.target, self->p[1], self->v.addr, PG, ready[1], NULL, 0);
	ASSERT_EQ(1, read(ready[0], &r, 1));
	ASSERT_EQ(0, wait_sleeping(c));
	victim_kill(&self->v);
	ASSERT_EQ(PG, read(self->p[0], self->buf, PG));
	/* the blocked call did not keep the address space: ESRCH */
	EXPECT_EQ(2, exit_code(c));
}

TEST_F(spvm, no_reader_epipe_sigpipe)
{
	sigset_t set, pending;

	if (self->skip)
		return;
	START_VICTIM(V_ANON, 1);
	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	ASSERT_EQ(0, sigprocmask(SIG_BLOCK, &set, NULL));
	close(self->p[0]);
	self->p[0] = -1;
	EXPECT_EQ(-1, spvm(E, self->v.target, self->p[1], self->v.addr, PG, 0));
	EXPECT_EQ(EPIPE, errno);
	ASSERT_EQ(0, sigpending(&pending));
	EXPECT_TRUE(sigismember(&pending, SIGPIPE));
}

static int note_fd = -1;

static void on_usr1(int sig)
{
	(void)sig;
	if (write(note_fd, "s", 1) != 1)
		_exit(103);
}

TEST_F(spvm, signal_interrupts_blocked_call)
{
	int ready[2], note[2];
	pid_t c;
	char r;

	if (self->skip)
		return;
	START_VICTIM(V_ANON, 1);
	ASSERT_EQ(0, pipe2(ready, O_CLOEXEC));
	ASSERT_EQ(0, pipe2(note, O_CLOEXEC));
	note_fd = note[1];
	pipe_fill(self->p[1]);
	c = blocked_caller(E, self->v.target, self->p[1], self->v.addr, PG, ready[1], on_usr1, 0);
	ASSERT_EQ(1, read(ready[0], &r, 1));
	ASSERT_EQ(0, wait_sleeping(c));
	kill(c, SIGUSR1);
	/* without SA_RESTART: EINTR, nothing attached */
	EXPECT_EQ(1, exit_code(c));
	EXPECT_EQ(1, read(note[0], &r, 1));
}

TEST_F(spvm, signal_restarts_blocked_call)
{
	int ready[2], note[2];
	pid_t c;
	char r;

	if (self->skip)
		return;
	START_VICTIM(V_ANON, 1);
	ASSERT_EQ(0, pipe2(ready, O_CLOEXEC));
	ASSERT_EQ(0, pipe2(note, O_CLOEXEC));
	note_fd = note[1];
	pipe_fill(self->p[1]);
	c = blocked_caller(E, self->v.target, self->p[1], self->v.addr, PG, ready[1], on_usr1,
			   SA_RESTART);
	ASSERT_EQ(1, read(ready[0], &r, 1));
	ASSERT_EQ(0, wait_sleeping(c));
	kill(c, SIGUSR1);
	ASSERT_EQ(1, read(note[0], &r, 1));	/* the handler ran */
	ASSERT_EQ(PG, read(self->p[0], self->buf, PG));
	/* SA_RESTART: the call went on waiting and then attached its page */
	EXPECT_EQ(0, exit_code(c));
}

/* ---- permission ------------------------------------------------------ */

TEST_F(spvm, unprivileged_caller_against_root_process)
{
	pid_t c;

	if (self->skip)
		return;
	if (geteuid())
		SKIP(return, "needs root to switch users");
	START_VICTIM(V_ANON, 1);
	c = fork();
	ASSERT_LE(0, c);
	if (c == 0) {
		int fd;

		if (become_nobody())
			_exit(10);
		dev_close();
		if (E->unavailable())
			_exit(11);	/* the device must be usable by anyone */
		/* the fd root opened is not ours: fresh proof is needed */
		fd = E->open_target(self->v.pid);
		if (fd < 0)
			_exit(errno == EACCES || errno == EPERM ? 0 : 12);
		if (spvm(E, fd, self->p[1], self->v.addr, PG, SPVM_NONBLOCK) >= 0)
			_exit(13);
		_exit(errno == EPERM || errno == EACCES ? 0 : 14);
	}
	EXPECT_EQ(0, exit_code(c));
	/* nothing reached the pipe */
	ASSERT_EQ(0, fcntl(self->p[0], F_SETFL, O_NONBLOCK));
	EXPECT_EQ(-1, read(self->p[0], self->buf, 1));
	EXPECT_EQ(EAGAIN, errno);
}

TEST_F(spvm, unprivileged_caller_own_child)
{
	pid_t c;

	if (self->skip)
		return;
	if (geteuid())
		SKIP(return, "needs root to switch users");
	c = fork();
	ASSERT_LE(0, c);
	if (c == 0) {
		struct victim v = VICTIM_INIT;
		int p[2];
		long n;

		if (become_nobody())
			_exit(10);
		dev_close();
		if (E->unavailable())
			_exit(11);
		if (pipe(p) || victim_start(&v, E, V_ANON, 4))
			_exit(12);
		n = splice_all(E, v.target, p, v.addr, 4 * PG, self->buf, 0);
		if (n != 4 * PG)
			_exit(13);
		_exit(pattern_equal(self->buf, v.addr, 4 * PG, SEED) ? 0 : 14);
	}
	EXPECT_EQ(0, exit_code(c));
}

/* ---- unloading ------------------------------------------------------- */

/* Keep last: it unloads the module and loads it again. */
TEST_F(spvm, rmmod_with_pages_in_pipe)
{
	const char *ko = getenv("MEMSPLICE_SPVM_KO");
	int ko_fd;

	if (self->skip)
		return;
	if (!E->is_module)
		SKIP(return, "%s is not a module", E->name);
	if (!ko)
		SKIP(return, "MEMSPLICE_SPVM_KO unset: could not load the module again");
	ko_fd = open(ko, O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, ko_fd) TH_LOG("%s: %m", ko);

	START_VICTIM(V_ANON, 8);
	ASSERT_EQ(8 * PG, spvm(E, self->v.target, self->p[1], self->v.addr, 8 * PG, 0));
	victim_kill(&self->v);		/* the pipe holds the only references */
	dev_close();
	ASSERT_EQ(0, syscall(__NR_delete_module, MODULE_NAME, O_NONBLOCK)) TH_LOG("%m");
	EXPECT_NE(0, access("/dev/" SPVM_DEVICE_NAME, F_OK));

	ASSERT_EQ(0, read_full(self->p[0], self->buf, 8 * PG));
	EXPECT_TRUE(pattern_equal(self->buf, self->v.addr, 8 * PG, SEED));

	ASSERT_EQ(0, syscall(__NR_finit_module, ko_fd, "", 0)) TH_LOG("reload %s: %m", ko);
	close(ko_fd);
}

TEST_HARNESS_MAIN
