// SPDX-License-Identifier: GPL-2.0
/*
 * splice_process_vm() on a 32-bit kernel, where unsigned long has 32 bits
 * but struct spvm_args and struct spvm_iovec carry 64-bit addresses and
 * lengths: a value that does not fit must fail (EINVAL; EFAULT for the
 * vector's address, like any pointer the caller cannot have), never be
 * cut to its low 32 bits (which would read some other range of the
 * target, or a vector at some other address of the caller).
 *
 * Built static for i386 (gcc -m32 -static) and run as /init of an
 * initramfs by selftests/vm/run-i386.sh, on the series built for i386
 * (scripts/build-kernel.sh -a i386).  Each value is chosen so that its
 * low 32 bits name a valid range: a kernel that truncates returns the
 * bytes (the test then fails), one that checks fails the call.  The
 * control case reads the same range with the high bits clear.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/splice_process_vm.h>

#include "kselftest_harness.h"
#include "lib/pattern.h"
#include "spvm_sysnr.h"

#define SEED		0x1386
#define HIGH		(1ULL << 32)

FIXTURE(narrow) {
	pid_t pid;
	int pidfd;
	int p[2];
	uint64_t addr;			/* the victim's filled page */
	char buf[VPAGE];
};

FIXTURE_SETUP(narrow)
{
	int ready[2];

	self->pid = -1;
	self->pidfd = -1;
	ASSERT_EQ(4, sizeof(unsigned long)) TH_LOG("not a 32-bit build");
	ASSERT_EQ(0, pipe(ready));
	self->pid = fork();
	ASSERT_LE(0, self->pid);
	if (!self->pid) {
		char *page = mmap(NULL, VPAGE, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		uint64_t addr = (uintptr_t)page;

		if (page == MAP_FAILED)
			_exit(1);
		pattern_fill(page, addr, SEED);
		if (write(ready[1], &addr, sizeof(addr)) != sizeof(addr))
			_exit(2);
		for (;;)
			pause();
	}
	close(ready[1]);
	ASSERT_EQ(sizeof(self->addr), read(ready[0], &self->addr, sizeof(self->addr)));
	close(ready[0]);
	self->pidfd = syscall(SYS_pidfd_open, self->pid, 0);
	ASSERT_LE(0, self->pidfd);
	ASSERT_EQ(0, pipe(self->p));
}

FIXTURE_TEARDOWN(narrow)
{
	if (self->pid > 0) {
		kill(self->pid, SIGKILL);
		waitpid(self->pid, NULL, 0);
	}
}

/* one range of the victim, the vector itself at @iov_high | &iov */
static long spvm_range(FIXTURE_DATA(narrow) *self, uint64_t base, uint64_t len,
		       uint64_t iov_high)
{
	struct spvm_iovec iov = { .base = base, .len = len };
	struct spvm_args a = {
		.size = sizeof(a),
		.target_fd = self->pidfd,
		.pipe_fd = self->p[1],
		.iov = iov_high | (uintptr_t)&iov,
		.iovcnt = 1,
	};

	return syscall(SPVM_NR_SERIES, &a);
}

TEST_F(narrow, control_reads_the_page)
{
	ASSERT_EQ(VPAGE, spvm_range(self, self->addr, VPAGE, 0));
	ASSERT_EQ(VPAGE, read(self->p[0], self->buf, VPAGE));
	EXPECT_EQ(-1, pattern_check(self->buf, self->addr, SEED));
}

TEST_F(narrow, base_beyond_4g_einval)
{
	EXPECT_EQ(-1, spvm_range(self, HIGH | self->addr, VPAGE, 0));
	EXPECT_EQ(EINVAL, errno);
}

TEST_F(narrow, len_beyond_4g_einval)
{
	EXPECT_EQ(-1, spvm_range(self, self->addr, HIGH | VPAGE, 0));
	EXPECT_EQ(EINVAL, errno);
}

/* a vector the caller cannot have: EFAULT, as for any bad pointer */
TEST_F(narrow, vector_beyond_4g_efault)
{
	EXPECT_EQ(-1, spvm_range(self, self->addr, VPAGE, HIGH));
	EXPECT_EQ(EFAULT, errno);
}

/* what TEST_HARNESS_MAIN does before its main(): run tests in file order */
static void __attribute__((constructor)) order_tests(void)
{
	if (!__constructor_order)
		__constructor_order = _CONSTRUCTOR_ORDER_BACKWARD;
}

/* the harness ends with exit(): as PID 1, end the guest then (not in children) */
static void power_off(void)
{
	if (getpid() != 1)
		return;
	fflush(stdout);
	sync();
	reboot(RB_AUTOBOOT);	/* QEMU runs with -no-reboot: it exits */
}

/*
 * PID 1 of the initramfs: a console to print on, the tests, then reboot,
 * which ends QEMU (an init that exits panics the kernel).
 */
int main(int argc, char **argv)
{
	char why[256];
	int fd;

	if (getpid() == 1) {
		mkdir("/dev", 0755);
		mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
		fd = open("/dev/console", O_RDWR);
		if (fd >= 0) {
			dup2(fd, 0);
			dup2(fd, 1);
			dup2(fd, 2);
		}
		atexit(power_off);
	}
	/* the series' number, probed like everywhere else */
	if (spvm_sysnr_probe(why, sizeof(why)) != SPVM_NR_SERIES) {
		printf("TAP version 13\n1..0 # SKIP %s\n", why);
		exit(KSFT_SKIP);
	}
	return test_harness_run(argc, argv);
}
