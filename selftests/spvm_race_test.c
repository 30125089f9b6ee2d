// SPDX-License-Identifier: GPL-2.0
/*
 * splice_process_vm against a target that changes under the caller, the
 * rest of what the linux-mm review asked for:
 *
 * - exec between the proof and the call.  The device's proof, a
 *   /proc/PID/mem fd, pins the mm it was opened for: once the target
 *   execs, that mm has no users left and the call fails with ESRCH, never
 *   reaching the new image.  The syscall checks its pidfd at call time, so
 *   it reads the new image, or, when the exec raised privileges
 *   (setuid-root), gets EPERM.
 * - the proof delegated: a /proc/PID/mem fd root opened and passed to an
 *   unprivileged process is the capability (the call succeeds there), a
 *   pidfd root opened grants nothing (EPERM).  spvm_abi_test.c's
 *   unprivileged_caller_against_root_process covers a pidfd the
 *   unprivileged caller opened itself, and accepts EACCES as well.
 * - pages swapped out (zram) are swapped in by the call, with the right
 *   bytes, and another reader of the pipe goes on meanwhile.
 *
 * Same entry points as spvm_wait_test.c (lib/spvm_entry.h, one
 * FIXTURE_VARIANT each).  Run as root in a guest: tests switch to uid
 * 65534, install a setuid-root binary in /tmp and set up swap.  The exec
 * victim is this binary itself: a constructor runs it when argv[1] is
 * EXEC_VICTIM_ARG.  It reports every image (its euid, a fixed address
 * filled) through a pipe; nothing sleeps for a guessed time.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/swap.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "lib/spvm_victim.h"

#define PG		VPAGE
#define LEN		(SV_PAGES * PG)

/* where every image of the exec victim maps its pages, and what it writes */
#define EXEC_ADDR	0x2a5500000000UL
#define EXEC_SEED_OLD	0x01d
#define EXEC_SEED_NEW	0x0e3
#define EXEC_VICTIM_ARG	"--spvm-exec-victim"

#define PM_SWAPPED	(1ULL << 62)
#define PM_PRESENT	(1ULL << 63)

#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT	21
#endif

/* ---- helpers ------------------------------------------------------------ */

/* in a child: say why on stderr (TAP comment) and exit with @code */
static void __attribute__((noreturn, format(printf, 2, 3))) child_fail(int code,
								      const char *fmt, ...)
{
	int err = errno;
	va_list ap;

	fprintf(stderr, "# child: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (errno %d: %s)\n", err, strerror(err));
	_exit(code);
}

/* the device as the current user opens it (it is world-usable) */
static const char *entry_reopen(const struct spvm_entry *e)
{
	if (e->is_module && dev_fd >= 0) {
		close(dev_fd);
		dev_fd = -1;
	}
	return e->unavailable();
}

/* ---- the exec victim ---------------------------------------------------- */

/* what each image of the exec victim reports when it is ready */
struct exec_ready {
	uint32_t euid;
	uint32_t mapped;	/* EXEC_ADDR is mapped and filled */
};

/*
 * One image: map SV_PAGES pages at EXEC_ADDR, fill them with @seed, report,
 * then on 'x' exec @next (with the same two fds), until @cmd's EOF.
 */
static void __attribute__((noreturn)) exec_victim_run(int cmd, int ack, uint64_t seed,
						      const char *next)
{
	struct exec_ready r = { .euid = geteuid() };
	char *p, c, fds[2][16];

	p = mmap((void *)EXEC_ADDR, LEN, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (p == (char *)EXEC_ADDR) {
		madvise(p, LEN, MADV_NOHUGEPAGE);
		fill(p, SV_PAGES, seed);
		r.mapped = 1;
	}
	if (write(ack, &r, sizeof(r)) != sizeof(r))
		_exit(92);
	while (read(cmd, &c, 1) == 1) {
		if (c != 'x' || !next)
			continue;
		snprintf(fds[0], sizeof(fds[0]), "%d", cmd);
		snprintf(fds[1], sizeof(fds[1]), "%d", ack);
		execl(next, next, EXEC_VICTIM_ARG, fds[0], fds[1], (char *)NULL);
		_exit(93);
	}
	_exit(0);
}

/* the image after the exec: this binary run with EXEC_VICTIM_ARG CMD ACK */
static void __attribute__((constructor)) exec_victim_main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], EXEC_VICTIM_ARG))
		exec_victim_run(atoi(argv[2]), atoi(argv[3]), EXEC_SEED_NEW, NULL);
}

/* a victim (no target of its own: v.addr is EXEC_ADDR) and its last report */
struct xvictim {
	struct victim v;
	struct exec_ready ready;
};

#define XVICTIM_INIT	((struct xvictim){ .v = VICTIM_INIT })

/* a child whose first image holds EXEC_SEED_OLD and which execs @next on 'x' */
static int xvictim_start(struct xvictim *x, const char *next)
{
	pid_t pid = victim_fork(&x->v);

	if (pid < 0)
		return -1;
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		/* both survive the exec */
		if (fcntl(x->v.cmd, F_SETFD, 0) || fcntl(x->v.ack, F_SETFD, 0))
			_exit(91);
		exec_victim_run(x->v.cmd, x->v.ack, EXEC_SEED_OLD, next);
	}
	x->v.addr = EXEC_ADDR;
	if (read(x->v.ack, &x->ready, sizeof(x->ready)) != sizeof(x->ready) ||
	    !x->ready.mapped) {
		errno = ECHILD;
		return -1;
	}
	return 0;
}

/* exec; 0 once the new image reported (in x->ready) */
static int xvictim_exec(struct xvictim *x)
{
	char c = 'x';

	if (write(x->v.cmd, &c, 1) != 1 ||
	    read(x->v.ack, &x->ready, sizeof(x->ready)) != sizeof(x->ready))
		return -1;
	return x->ready.mapped ? 0 : -1;
}

static void xvictim_stop(struct xvictim *x)
{
	victim_stop(&x->v);
	*x = XVICTIM_INIT;
}

/* attach EXEC_ADDR's pages, read them back: do they hold @seed? */
static bool splice_filled(const struct spvm_entry *e, int target, int p[2], char *buf,
			  uint64_t seed)
{
	return spvm(e, target, p[1], EXEC_ADDR, LEN) == LEN && read_full(p[0], buf, LEN) == 0 &&
	       filled(buf, EXEC_ADDR, SV_PAGES, seed);
}

/* ---- swap --------------------------------------------------------------- */

#define ZRAM_CONTROL	"/sys/class/zram-control"
#define SWAP_SIZE	"64M"

struct swapdev {
	int id;			/* zram device number, -1 when none */
	bool loaded;		/* we loaded the zram module */
	bool on;		/* swapon succeeded */
	char path[32];
};

static int write_str(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = write(fd, s, strlen(s));
	close(fd);
	return n == (ssize_t)strlen(s) ? 0 : -1;
}

static int run_quiet(const char *cmd)
{
	char line[256];

	snprintf(line, sizeof(line), "%s >/dev/null 2>&1", cmd);
	return system(line);
}

/*
 * A zram swap device of SWAP_SIZE, the only one in use; NULL, or why there
 * is none in @why.  A device of our own (hot_add), so nothing else's zram
 * is touched.
 */
static const char *swap_setup(struct swapdev *s, char *why, size_t len)
{
	char path[96];

	*s = (struct swapdev){ .id = -1 };
	if (access("/proc/swaps", F_OK)) {
		snprintf(why, len, "/proc/swaps: %m (kernel without CONFIG_SWAP)");
		return NULL;
	}
	if (read_long("/proc/sys/vm/swappiness") < 0) {
		snprintf(why, len, "no /proc/sys/vm/swappiness");
		return NULL;
	}
	if (access(ZRAM_CONTROL, F_OK)) {
		if (run_quiet("modprobe zram num_devices=0") || access(ZRAM_CONTROL, F_OK)) {
			snprintf(why, len, "no zram: modprobe zram failed (kernel without CONFIG_ZRAM)");
			return NULL;
		}
		s->loaded = true;
	}
	s->id = read_long(ZRAM_CONTROL "/hot_add");
	if (s->id < 0) {
		snprintf(why, len, "%s/hot_add: %m", ZRAM_CONTROL);
		return NULL;
	}
	snprintf(path, sizeof(path), "/sys/block/zram%d/disksize", s->id);
	if (write_str(path, SWAP_SIZE)) {
		snprintf(why, len, "%s: %m", path);
		return NULL;
	}
	snprintf(s->path, sizeof(s->path), "/dev/zram%d", s->id);
	snprintf(path, sizeof(path), "mkswap %s", s->path);
	if (run_quiet(path)) {
		snprintf(why, len, "mkswap %s failed (is mkswap in PATH?)", s->path);
		return NULL;
	}
	if (swapon(s->path, SWAP_FLAG_PREFER | (32767 & SWAP_FLAG_PRIO_MASK))) {
		snprintf(why, len, "swapon %s: %m", s->path);
		return NULL;
	}
	s->on = true;
	return s->path;
}

static void swap_teardown(struct swapdev *s)
{
	char id[16];

	if (s->on && swapoff(s->path))
		fprintf(stderr, "# swapoff %s: %s\n", s->path, strerror(errno));
	if (s->id >= 0) {
		snprintf(id, sizeof(id), "%d", s->id);
		if (write_str(ZRAM_CONTROL "/hot_remove", id))
			fprintf(stderr, "# zram%d: hot_remove: %s\n", s->id, strerror(errno));
	}
	if (s->loaded)
		run_quiet("modprobe -r zram");
	*s = (struct swapdev){ .id = -1 };
}

static int count_bits(const uint64_t ent[SV_PAGES], uint64_t bit)
{
	int n = 0;

	for (int i = 0; i < SV_PAGES; i++)
		n += !!(ent[i] & bit);
	return n;
}

/* ---- fixture ------------------------------------------------------------ */

FIXTURE(race) {
	bool skip;
	int p[2];
	struct victim v;
	struct xvictim x;
	struct swapdev swap;
	char suid[64];		/* the setuid copy, unlinked at teardown */
	pid_t kids[2];		/* killed and reaped at teardown */
	char buf[LEN];
};

FIXTURE_VARIANT(race) {
	const struct spvm_entry *entry;
};

FIXTURE_VARIANT_ADD(race, device) {
	.entry = &device_entry,
};

FIXTURE_VARIANT_ADD(race, syscall) {
	.entry = &syscall_entry,
};

FIXTURE_SETUP(race)
{
	const char *why;

	self->p[0] = self->p[1] = -1;
	self->v = VICTIM_INIT;
	self->x = XVICTIM_INIT;
	self->swap = (struct swapdev){ .id = -1 };
	why = variant->entry->unavailable();
	if (why) {
		self->skip = true;
		SKIP(return, "%s", why);
	}
	if (geteuid()) {
		self->skip = true;
		SKIP(return, "needs root (another user, a setuid binary, swap)");
	}
	ASSERT_EQ(0, pipe2(self->p, O_CLOEXEC));
}

FIXTURE_TEARDOWN(race)
{
	for (int i = 0; i < 2; i++) {
		if (self->kids[i] > 0) {
			kill(self->kids[i], SIGKILL);
			waitpid(self->kids[i], NULL, 0);
		}
	}
	victim_stop(&self->v);
	xvictim_stop(&self->x);
	swap_teardown(&self->swap);
	if (self->suid[0])
		unlink(self->suid);
	if (self->p[0] >= 0)
		close(self->p[0]);
	if (self->p[1] >= 0)
		close(self->p[1]);
}

#define E	(variant->entry)

/* ---- 1. exec between the proof and the call ----------------------------- */

/*
 * The target execs this binary again; the new image has the same address
 * filled with another pattern.  Device: the old fd names the old mm, which
 * exec released: ESRCH, and nothing of the new image in the pipe.
 * Syscall: the pidfd names the process, now running the new image: its
 * bytes.
 */
TEST_F(race, exec_between_proof_and_call)
{
	int target;
	long n;

	if (self->skip)
		return;
	ASSERT_EQ(0, xvictim_start(&self->x, "/proc/self/exe")) TH_LOG("victim: %m");
	target = E->open_target(self->x.v.pid);
	ASSERT_LE(0, target) TH_LOG("%m");
	/* the proof works on the first image */
	ASSERT_TRUE(splice_filled(E, target, self->p, self->buf, EXEC_SEED_OLD));

	ASSERT_EQ(0, xvictim_exec(&self->x)) TH_LOG("the victim did not exec");
	ASSERT_TRUE(mem_filled(&self->x.v, EXEC_SEED_NEW)) TH_LOG("no new image");
	n = spvm(E, target, self->p[1], EXEC_ADDR, LEN);
	if (E->is_module) {
		EXPECT_EQ(-1, n);
		EXPECT_EQ(ESRCH, errno) TH_LOG("%m");
		EXPECT_EQ(0, pipe_bytes(self->p[0])) TH_LOG("bytes of the new image attached");
	} else {
		ASSERT_EQ(LEN, n) TH_LOG("%m");
		ASSERT_EQ(0, read_full(self->p[0], self->buf, LEN));
		EXPECT_TRUE(filled(self->buf, EXEC_ADDR, SV_PAGES, EXEC_SEED_NEW))
			TH_LOG("not the new image's bytes");
	}
	close(target);
}

/* a setuid-root copy of this binary in /tmp, into @path; 0 or -errno */
static int install_setuid_copy(char *path, size_t len)
{
	static char buf[1 << 16];
	int in, out, ret = 0;
	ssize_t n;

	snprintf(path, len, "/tmp/spvm_race_suid.XXXXXX");
	in = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return -errno;
	out = mkostemp(path, O_CLOEXEC);
	if (out < 0) {
		ret = -errno;
		path[0] = 0;
		goto close_in;
	}
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, n) != n) {
			ret = -EIO;
			goto close_out;
		}
	/* chown clears the setuid bit: mode last */
	if (n < 0 || fchown(out, 0, 0) || fchmod(out, 04755))
		ret = n < 0 ? -EIO : -errno;
close_out:
	close(out);		/* open for writing, it could not be executed */
close_in:
	close(in);
	return ret;
}

#define SUID_NO_PRIVILEGE	4	/* the child's code when the exec raised nothing */

/*
 * An unprivileged caller, whose own child (same uid) then execs a
 * setuid-root binary: the proof made before the exec must not read the
 * privileged image.  Device: the old fd's mm is gone, ESRCH (and a fresh
 * open is refused).  Syscall: EPERM from the check at call time.
 */
TEST_F(race, setuid_exec_between_proof_and_call)
{
	pid_t c;
	int code;

	if (self->skip)
		return;
	ASSERT_EQ(0, install_setuid_copy(self->suid, sizeof(self->suid))) TH_LOG("%m");

	c = fork();
	ASSERT_LE(0, c);
	if (c == 0) {
		char path[64];
		int target, fd;
		long n;

		if (become_nobody())
			child_fail(10, "become uid %d", NOBODY);
		if (entry_reopen(E))
			child_fail(11, "%s unusable for uid %d", E->name, NOBODY);
		if (xvictim_start(&self->x, self->suid))
			child_fail(12, "victim");
		target = E->open_target(self->x.v.pid);
		if (target < 0)
			child_fail(13, "open_target of our own child");
		if (!splice_filled(E, target, self->p, self->buf, EXEC_SEED_OLD))
			child_fail(14, "the first image");
		if (xvictim_exec(&self->x))
			child_fail(15, "the victim did not exec %s", self->suid);
		if (self->x.ready.euid != 0)
			_exit(SUID_NO_PRIVILEGE);
		n = spvm(E, target, self->p[1], EXEC_ADDR, LEN);
		if (n >= 0)
			child_fail(16, "%ld bytes of the setuid image", n);
		if (errno != (E->is_module ? ESRCH : EPERM))
			child_fail(17, "errno not %s", E->is_module ? "ESRCH" : "EPERM");
		if (pipe_bytes(self->p[0]) != 0)
			child_fail(18, "bytes in the pipe");
		if (E->is_module) {
			/* a new proof is refused: the image is privileged */
			snprintf(path, sizeof(path), "/proc/%d/mem", self->x.v.pid);
			fd = open(path, O_RDONLY | O_CLOEXEC);
			if (fd >= 0 || errno != EACCES)
				child_fail(19, "open %s by uid %d: not EACCES", path, NOBODY);
		}
		xvictim_stop(&self->x);
		_exit(0);
	}
	code = exit_code(c);
	if (code == SUID_NO_PRIVILEGE)
		SKIP(return, "exec of setuid-root %s did not raise privileges (nosuid /tmp?)",
		     self->suid);
	EXPECT_EQ(0, code);
}

/* ---- 2. the proof passed to an unprivileged process --------------------- */

static int send_fd(int sock, int fd)
{
	char c = 'f', cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
	struct iovec iov = { .iov_base = &c, .iov_len = 1 };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);

	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	return sendmsg(sock, &msg, 0) == 1 ? 0 : -1;
}

static int recv_fd(int sock)
{
	char c, cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { .iov_base = &c, .iov_len = 1 };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *cm;
	int fd;

	if (recvmsg(sock, &msg, MSG_CMSG_CLOEXEC) != 1)
		return -1;
	cm = CMSG_FIRSTHDR(&msg);
	if (!cm || cm->cmsg_type != SCM_RIGHTS || cm->cmsg_len != CMSG_LEN(sizeof(int))) {
		errno = EBADMSG;
		return -1;
	}
	memcpy(&fd, CMSG_DATA(cm), sizeof(int));
	return fd;
}

/*
 * Root opens the proof of a root-owned target and passes it over a unix
 * socket to a process that already runs as uid 65534 and could not open
 * one itself.  Device: the /proc/PID/mem fd is the capability, the call
 * returns the target's bytes.  Syscall: the pidfd only names the process,
 * the check at call time uses the caller's credentials: EPERM.
 */
TEST_F(race, proof_passed_to_unprivileged_process)
{
	int sk[2];
	pid_t c;

	if (self->skip)
		return;
	ASSERT_EQ(0, victim_start(&self->v, E, V_ANON)) TH_LOG("victim: %m");
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sk));
	c = fork();
	ASSERT_LE(0, c);
	if (c == 0) {
		char path[64];
		int fd;
		long n;

		close(sk[0]);
		/* nothing of root's survives but the pipe and the socket */
		close(self->v.target);
		if (become_nobody())
			child_fail(10, "become uid %d", NOBODY);
		if (entry_reopen(E))
			child_fail(11, "%s unusable for uid %d", E->name, NOBODY);
		if (E->is_module) {
			/* so the passed fd is the only proof this process has */
			snprintf(path, sizeof(path), "/proc/%d/mem", self->v.pid);
			fd = open(path, O_RDONLY | O_CLOEXEC);
			if (fd >= 0 || errno != EACCES)
				child_fail(12, "open %s by uid %d: not EACCES", path, NOBODY);
		}
		fd = recv_fd(sk[1]);
		if (fd < 0)
			child_fail(13, "no fd received");
		n = spvm(E, fd, self->p[1], self->v.addr, LEN);
		if (E->is_module) {
			if (n != LEN)
				child_fail(14, "call with the passed fd returned %ld", n);
			if (read_full(self->p[0], self->buf, LEN) ||
			    !filled(self->buf, self->v.addr, SV_PAGES, SV_SEED))
				child_fail(15, "not the target's bytes");
			/* and it keeps working: the target's next bytes, copied */
			if (victim_write(&self->v) != 'y')
				child_fail(19, "victim");
			n = spvm_flags(E, fd, self->p[1], self->v.addr, LEN, 0);
			if (n != LEN)
				child_fail(20, "second call with the passed fd returned %ld", n);
			if (read_full(self->p[0], self->buf, LEN) ||
			    !filled(self->buf, self->v.addr, SV_PAGES, SV_SEED2))
				child_fail(21, "not the target's new bytes");
		} else {
			if (n >= 0)
				child_fail(16, "%ld bytes with a pidfd root opened", n);
			if (errno != EPERM)
				child_fail(17, "errno not EPERM");
			/* not even without waiting */
			n = spvm_flags(E, fd, self->p[1], self->v.addr, LEN,
				       SPVM_NONBLOCK);
			if (n >= 0 || errno != EPERM)
				child_fail(22, "second call: %ld, not EPERM", n);
		}
		if (pipe_bytes(self->p[0]) != 0)
			child_fail(18, "bytes left in the pipe");
		_exit(0);
	}
	close(sk[1]);
	ASSERT_EQ(0, send_fd(sk[0], self->v.target)) TH_LOG("%m");
	close(sk[0]);
	EXPECT_EQ(0, exit_code(c));
	/* the target is unharmed and still readable by its owner */
	EXPECT_TRUE(mem_filled(&self->v, E->is_module ? SV_SEED2 : SV_SEED));
}

/* ---- 4. swapped-out pages ------------------------------------------------ */

/*
 * The victim's pages are pushed to a zram swap device (process_madvise()
 * MADV_PAGEOUT; pagemap must say swapped for each).  The call swaps them in
 * (the victim maps them again afterwards) and attaches the right bytes.  A
 * reader of two pages already in the pipe runs alongside and must get
 * them.  Whether it ever sleeps on the pipe's lock is not judged here: it
 * may, for an instant, when it meets the caller attaching pages (seen
 * once under TCG as 'D'), and a zram swap-in is too short to tell that
 * apart from a lookup made under the lock.  spvm_wait_test.c's
 * reader_not_blocked_by_a_waiting_lookup holds a lookup as long as it
 * likes, with a reader that must not block.
 */
TEST_F(race, swapped_out_pages)
{
	static char junk[2 * PG], back[2 * PG];
	struct iovec range;
	uint64_t ent[SV_PAGES];
	char why[160];
	pid_t caller, reader;
	int pidfd, tries;

	if (self->skip)
		return;
	if (!swap_setup(&self->swap, why, sizeof(why)))
		SKIP(return, "%s", why);
	ASSERT_EQ(0, victim_start(&self->v, E, V_ANON)) TH_LOG("victim: %m");
	pidfd = syscall(SYS_pidfd_open, self->v.pid, 0);
	ASSERT_LE(0, pidfd) TH_LOG("pidfd_open: %m");
	range = (struct iovec){ .iov_base = (void *)self->v.addr, .iov_len = LEN };

	/* pages still in a per-CPU LRU batch are not reclaimed: 'u' drains them */
	for (tries = 0; tries < 20; tries++) {
		ASSERT_EQ('y', victim_do(&self->v, 'u'));
		if (syscall(SYS_process_madvise, pidfd, &range, 1, MADV_PAGEOUT, 0) < 0) {
			if (errno == ENOSYS || errno == EINVAL)
				SKIP(return, "process_madvise(MADV_PAGEOUT): %m");
			ASSERT_TRUE(0) TH_LOG("process_madvise: %m");
		}
		ASSERT_TRUE(pagemap_read(self->v.pid, self->v.addr, ent, SV_PAGES));
		if (count_bits(ent, PM_SWAPPED) == SV_PAGES)
			break;
	}
	close(pidfd);
	ASSERT_EQ(SV_PAGES, count_bits(ent, PM_SWAPPED))
		TH_LOG("pages not swapped out after %d MADV_PAGEOUT", tries);
	EXPECT_EQ(0, count_bits(ent, PM_PRESENT));

	memset(junk, 'J', sizeof(junk));
	ASSERT_EQ(sizeof(junk), write(self->p[1], junk, sizeof(junk)));
	caller = fork();
	ASSERT_LE(0, caller);
	self->kids[0] = caller;
	if (caller == 0)
		_exit(spvm(E, self->v.target, self->p[1], self->v.addr, LEN) == LEN ? 0 :
		      10);
	reader = fork();
	ASSERT_LE(0, reader);
	self->kids[1] = reader;
	if (reader == 0)
		_exit(read_full(self->p[0], back, sizeof(back)) ? 20 :
		      memcmp(back, junk, sizeof(junk)) ? 21 : 0);
	ASSERT_EQ(0, exit_code_within(reader)) TH_LOG("the reader did not get its pages");
	self->kids[1] = 0;
	ASSERT_EQ(0, exit_code_unless_stuck(caller)) TH_LOG("the call failed or got stuck");
	self->kids[0] = 0;

	ASSERT_EQ(0, read_full(self->p[0], self->buf, LEN));
	EXPECT_TRUE(filled(self->buf, self->v.addr, SV_PAGES, SV_SEED))
		TH_LOG("wrong bytes from swapped-out pages");
	EXPECT_EQ(0, pipe_bytes(self->p[0]));
	/* the lookup swapped them in: mapped again in the victim */
	ASSERT_TRUE(pagemap_read(self->v.pid, self->v.addr, ent, SV_PAGES));
	EXPECT_EQ(SV_PAGES, count_bits(ent, PM_PRESENT));
	EXPECT_TRUE(mem_filled(&self->v, SV_SEED));
}

TEST_HARNESS_MAIN
