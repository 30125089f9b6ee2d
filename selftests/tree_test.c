// SPDX-License-Identifier: GPL-2.0
/*
 * Process trees as real workloads leave them: a zombie child nobody reaped,
 * a process whose main thread called pthread_exit (its zombie leader stays
 * in /proc/PID/task, and /proc/PID/maps is empty), shared memory in pieces,
 * device memory.  Each victim is forked here, fills a region with the
 * pattern, reports it on a pipe and blocks; the dumped bytes are checked
 * against the pattern.  Trees that do not hold still while they are frozen
 * are freeze_test's.
 *
 * Every method runs leader_exited and pid_reused_during_pre_dump; the
 * others are the tree's and collection's: FULL_PASS_ONLY.
 */
#include <fcntl.h>
#include <linux/sched.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "lib/fvictim.h"
#include "lib/pattern.h"
#include "lib/vtest.h"

#define PAGES		FVICTIM_PAGES
#define PE_PARENT	1u

FIXTURE(tree) {
	pid_t pid;		/* the victim (our child) */
	int rfd;		/* its report pipe */
	struct vregion r;	/* the region it filled */
	char *dir;
	char err[4096];
};

FIXTURE_VARIANT(tree) {
	const char *method;
};

FIXTURE_VARIANT_ADD(tree, read) { .method = "read" };
FIXTURE_VARIANT_ADD(tree, device) { .method = "device" };
FIXTURE_VARIANT_ADD(tree, syscall) { .method = "syscall" };
FIXTURE_VARIANT_ADD(tree, parasite) { .method = "parasite" };

FIXTURE_SETUP(tree)
{
	self->pid = 0;
	self->rfd = -1;
	const char *skip = method_skip(variant->method);

	if (skip)
		SKIP(return, "%s", skip);
	self->dir = make_dir("tree");
	ASSERT_NE(NULL, self->dir);
}

FIXTURE_TEARDOWN(tree)
{
	if (self->pid > 0) {
		kill(-self->pid, SIGKILL);	/* the victim's children too */
		waitpid(self->pid, NULL, 0);
	}
	if (self->rfd >= 0)
		close(self->rfd);
	if (self->dir)
		remove_dir(self->dir);
}

/* ---- the victims: run in the forked child, never return ---------------- */


static void victim_zombie_child(void)
{
	pid_t c = fork();

	if (c == 0)
		_exit(0);	/* never reaped */
	fvictim_fill_and_report();
	/* "ready" once the child is a zombie: waitid WNOWAIT leaves it one */
	waitid(P_PID, c, &(siginfo_t){ 0 }, WEXITED | WNOWAIT);
	fvictim_ready();
	fvictim_block_forever();
}

static void *leader_exited_thread(void *arg)
{
	fvictim_fill_and_report();
	fvictim_ready();
	fvictim_block_forever();
	return NULL;
}

static void victim_leader_exited(void)
{
	pthread_t th;

	if (pthread_create(&th, NULL, leader_exited_thread, NULL))
		_exit(92);
	pthread_exit(NULL);
}

static void victim_with_child(void)
{
	if (fork() == 0) {
		fvictim_fill_and_report();	/* the child's region is the one checked */
		fvictim_ready();
		fvictim_block_forever();
	}
	fvictim_block_forever();
}

/*
 * One shared anonymous segment in pieces: mprotect splits the parent's
 * mapping into three VMAs, the parent keeps only the first half and its
 * child only the second.  No single VMA, nor process, maps all of it.
 */
static void victim_split_shmem(void)
{
	char *p = mmap(NULL, PAGES * VPAGE, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	int sync[2];
	char line[128], c;
	int n;

	if (p == MAP_FAILED || pipe(sync))
		_exit(90);
	for (int i = 0; i < PAGES; i++)
		pattern_fill(p + i * VPAGE, (uint64_t)(p + i * VPAGE), 77);
	n = snprintf(line, sizeof(line), "R %lx %d 77\n", (unsigned long)p, PAGES);
	if (write(fvictim_report_fd, line, n) != n)
		_exit(91);
	if (mprotect(p + 8 * VPAGE, 8 * VPAGE, PROT_READ))
		_exit(92);
	if (fork() == 0) {
		munmap(p, PAGES / 2 * VPAGE);
		if (write(sync[1], "x", 1) != 1)
			_exit(91);
		fvictim_block_forever();
	}
	munmap(p + PAGES / 2 * VPAGE, PAGES / 2 * VPAGE);
	if (read(sync[0], &c, 1) != 1 || write(fvictim_report_fd, "ready\n", 6) != 6)
		_exit(91);
	fvictim_block_forever();
}

/* a memfd mapped shared: its pages are in no file */
static void victim_memfd(void)
{
	int fd = memfd_create("victim", 0);
	char *p;
	char line[128];
	int n;

	if (fd < 0 || ftruncate(fd, PAGES * VPAGE))
		_exit(90);
	p = mmap(NULL, PAGES * VPAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		_exit(90);
	close(fd);
	for (int i = 0; i < PAGES; i++)
		pattern_fill(p + i * VPAGE, (uint64_t)(p + i * VPAGE), 77);
	n = snprintf(line, sizeof(line), "R %lx %d 77\nready\n", (unsigned long)p, PAGES);
	if (write(fvictim_report_fd, line, n) != n)
		_exit(91);
	fvictim_block_forever();
}

/* a file mapped shared, then unlinked: its pages are in no file either */
static void victim_deleted_file(void)
{
	char path[] = "/tmp/memsplice-tree-XXXXXX";
	int fd = mkstemp(path);
	char *p;

	if (fd < 0 || ftruncate(fd, PAGES * VPAGE))
		_exit(90);
	p = mmap(NULL, PAGES * VPAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		_exit(90);
	close(fd);
	unlink(path);
	fvictim_fill_and_report();
	memset(p, 1, PAGES * VPAGE);
	fvictim_ready();
	fvictim_block_forever();
}

/*
 * A VMA that grows by a new mapping right after it: the kernel merges the
 * two and marks the whole VMA VM_SOFTDIRTY, old pages included, whose page
 * table entries stay clean.  Grows on SIGUSR1, then says "grown".
 */
static void victim_grows(void)
{
	char *p = mmap(NULL, (2 * PAGES + 1) * VPAGE, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char line[128];
	sigset_t usr1;
	int n;

	if (p == MAP_FAILED || mprotect(p, PAGES * VPAGE, PROT_READ | PROT_WRITE) ||
	    munmap(p + PAGES * VPAGE, PAGES * VPAGE))
		_exit(90);
	/* (no madvise: VMAs with other flags would not merge) */
	for (int i = 0; i < PAGES; i++)
		pattern_fill(p + i * VPAGE, (uint64_t)(p + i * VPAGE), 77);
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	sigprocmask(SIG_BLOCK, &usr1, NULL);
	n = snprintf(line, sizeof(line), "R %lx %d 77\nready\n", (unsigned long)p, PAGES);
	if (write(fvictim_report_fd, line, n) != n)
		_exit(91);
	while (sigwaitinfo(&usr1, NULL) < 0)
		;
	if (mmap(p + PAGES * VPAGE, PAGES * VPAGE, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != p + PAGES * VPAGE)
		_exit(92);
	memset(p + PAGES * VPAGE, 1, PAGES * VPAGE);
	if (write(fvictim_report_fd, "grown\n", 6) != 6)
		_exit(91);
	fvictim_block_forever();
}

static unsigned long devmem_addr;

/* device memory mapped privately (VM_IO | VM_PFNMAP): never read as memory */
static void victim_devmem(void)
{
	int fd = open("/dev/mem", O_RDONLY);
	volatile char *p = fd < 0 ? MAP_FAILED :
			   mmap(NULL, 16 * VPAGE, PROT_READ, MAP_PRIVATE, fd, 0);
	char line[64];
	int n;

	if (p == MAP_FAILED) {
		if (write(fvictim_report_fd, "skip\n", 5) != 5)
			_exit(91);
		fvictim_block_forever();
	}
	for (int i = 0; i < 16; i++)
		(void)p[i * VPAGE];
	n = snprintf(line, sizeof(line), "D %lx\n", (unsigned long)p);
	if (write(fvictim_report_fd, line, n) != n)
		_exit(91);
	fvictim_fill_and_report();
	fvictim_ready();
	fvictim_block_forever();
}

/* ---- the test side -------------------------------------------------------- */

static int start(FIXTURE_DATA(tree) *self, void (*victim)(void))
{
	return fvictim_start(victim, &self->pid, &self->rfd, &self->r, &devmem_addr);
}

#define NEED_METHOD() do { \
	if (!self->dir) \
		SKIP(return, "method %s not available here or not selected", variant->method); \
} while (0)

static int memsplice(struct __test_metadata *_metadata, FIXTURE_DATA(tree) *self,
		     const FIXTURE_VARIANT(tree) *variant, const char *cmd)
{
	char pid[16];
	const char *args[] = { cmd, "-t", pid, "-D", self->dir, "--method", variant->method,
			       NULL };
	int ret;

	snprintf(pid, sizeof(pid), "%d", self->pid);
	ret = run_memsplice(args, self->err, sizeof(self->err), -1);
	if (ret)
		TH_LOG("memsplice %s: exit %d: %s", cmd, ret, self->err);
	return ret;
}

/* the region's pages in pagemap-@pid.img carry the pattern */
static void check_pages(struct __test_metadata *_metadata, FIXTURE_DATA(tree) *self, pid_t pid)
{
	struct dump_view dv;
	uint64_t bad = 0;

	ASSERT_EQ(0, dump_view_open(&dv, self->dir, pid, false));
	EXPECT_EQ(PAGES, check_region(&dv, &self->r, 0, 0, &bad)) {
		TH_LOG("page %#lx of the region is wrong or missing", (unsigned long)bad);
	}
	dump_view_close(&dv);
}

/* how often "pid": N appears in crit's decoding of pstree.img, and whether @pid does */
static int pstree_entries(const char *dir, pid_t pid, bool *found)
{
	char cmd[1100], line[256], want[64];
	int n = 0;
	FILE *f;

	snprintf(cmd, sizeof(cmd), "crit show %s/pstree.img 2>/dev/null", dir);
	snprintf(want, sizeof(want), "\"pid\": %d,", pid);
	*found = false;
	f = popen(cmd, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		n += strstr(line, "\"pid\":") != NULL;
		*found |= strstr(line, want) != NULL;
	}
	return pclose(f) ? -1 : n;
}

TEST_F(tree, zombie_child)
{
	/* a zombie has no memory: no method sees it */
	FULL_PASS_ONLY(variant->method);
	pid_t z;
	bool found;

	NEED_METHOD();
	ASSERT_EQ(0, start(self, victim_zombie_child));
	ASSERT_EQ(1, proc_children(self->pid, &z, 1));
	ASSERT_EQ('Z', proc_state(z));
	ASSERT_EQ(0, memsplice(_metadata, self, variant, "pre-dump"));
	check_pages(_metadata, self, self->pid);
	EXPECT_EQ(2, pstree_entries(self->dir, z, &found));
	EXPECT_TRUE(found) { TH_LOG("zombie %d is not in pstree.img", z); }
	EXPECT_FALSE(has_image(self->dir, "mm", z));
	EXPECT_FALSE(has_image(self->dir, "pagemap", z));
	EXPECT_EQ('Z', proc_state(z));
	EXPECT_EQ(0, proc_tracer(self->pid));
}

TEST_F(tree, leader_exited)
{
	NEED_METHOD();
	ASSERT_EQ(0, start(self, victim_leader_exited));
	/* the leader exits right after creating the thread that reported */
	while (proc_state(self->pid) != 'Z')
		sched_yield();
	/*
	 * The syscall names the process by a pidfd, i.e. by its exited
	 * leader: version 3 takes the mm of a live thread (version 2, the
	 * 6.1 backport, failed here with one line).
	 */
	ASSERT_EQ(0, memsplice(_metadata, self, variant, "dump"));
	check_pages(_metadata, self, self->pid);
	EXPECT_TRUE(has_image(self->dir, "mm", self->pid));
	EXPECT_EQ(0, kill(self->pid, 0));
}

/* a kernel without CONFIG_PROC_CHILDREN: children found all the same */
TEST_F(tree, children_without_proc_children)
{
	FULL_PASS_ONLY(variant->method);
	char pid[16];
	const char *args[] = { "pre-dump", "-t", pid, "-D", self->dir, "--method",
			       variant->method, NULL };
	pid_t child;

	NEED_METHOD();
	ASSERT_EQ(0, start(self, victim_with_child));
	ASSERT_EQ(1, proc_children(self->pid, &child, 1));
	snprintf(pid, sizeof(pid), "%d", self->pid);
	EXPECT_EQ(0, run_memsplice_hooked(args, self->err, sizeof(self->err),
					  "MEMSPLICE_TEST_HIDE_PROC_CHILDREN", "1")) {
		TH_LOG("stderr: %s", self->err);
	}
	check_pages(_metadata, self, child);
	EXPECT_EQ(0, kill(child, SIGKILL));
}

TEST_F(tree, split_shared_segment)
{
	/* read from memsplice's own mapping of the whole segment (dump_test shared_anon) */
	FULL_PASS_ONLY(variant->method);
	static const char *const cmds[] = { "pre-dump", "dump" };
	struct dump_view dv;
	unsigned long id;
	uint64_t bad = 0;

	NEED_METHOD();
	ASSERT_EQ(0, start(self, victim_split_shmem));
	/* (the harness's own shared page is in the victim too: pick ours by inode) */
	id = map_inode(self->pid, self->r.addr);
	for (int i = 0; i < 2; i++) {
		ASSERT_EQ(0, memsplice(_metadata, self, variant, cmds[i]));
		ASSERT_NE(0, id);
		ASSERT_EQ(0, dump_view_open(&dv, self->dir, id, true));
		/* pagemap-shmem vaddrs are offsets in the segment */
		EXPECT_EQ(PAGES, check_region(&dv, &self->r, self->r.addr, 0, &bad)) {
			TH_LOG("%s: segment page %#lx is wrong or missing", cmds[i],
			       (unsigned long)(bad - self->r.addr));
		}
		dump_view_close(&dv);
	}
}

TEST_F(tree, memfd_shared)
{
	/* read from memsplice's own mapping, as in dump_test shared_anon */
	FULL_PASS_ONLY(variant->method);
	struct dump_view dv;
	unsigned long id;
	uint64_t bad = 0;

	NEED_METHOD();
	ASSERT_EQ(0, start(self, victim_memfd));
	id = map_inode(self->pid, self->r.addr);
	ASSERT_EQ(0, memsplice(_metadata, self, variant, "dump"));
	ASSERT_EQ(0, dump_view_open(&dv, self->dir, id, true)) {
		TH_LOG("no pagemap-shmem-%lu.img for the memfd", id);
	}
	EXPECT_EQ(PAGES, check_region(&dv, &self->r, self->r.addr, 0, &bad));
	dump_view_close(&dv);
}

TEST_F(tree, deleted_file_shared)
{
	/* refused while collecting, before any page moves */
	FULL_PASS_ONLY(variant->method);
	NEED_METHOD();
	ASSERT_EQ(0, start(self, victim_deleted_file));
	EXPECT_EQ(1, memsplice(_metadata, self, variant, "pre-dump"));
	EXPECT_NE(NULL, strstr(self->err, "deleted file")) { TH_LOG("stderr: %s", self->err); }
	EXPECT_EQ(strlen(self->err) - 1, (size_t)(strchr(self->err, '\n') - self->err));
	EXPECT_EQ(0, proc_tracer(self->pid));
	EXPECT_EQ(0, kill(self->pid, 0));
}

/* pages of a VMA that merged with a new mapping are never taken as unchanged */
TEST_F(tree, merged_vma_is_dirty)
{
	FULL_PASS_ONLY(variant->method);
	char *d0 = make_dir("tree"), pid[16], rel[600], buf[8];
	const char *p0[] = { "pre-dump", "-t", pid, "-D", d0, "--track-mem", "--method",
			     variant->method, NULL };
	const char *p1[] = { "pre-dump", "-t", pid, "-D", self->dir, "--track-mem", "--method",
			     variant->method, "--prev-images-dir", rel, NULL };
	struct dump_view dv;
	uint64_t bad = 0;

	NEED_METHOD();
	ASSERT_NE(NULL, d0);
	if (system("./user/memsplice check | grep -q '^soft-dirty *yes'")) {
		remove_dir(d0);
		free(d0);
		SKIP(return, "no soft-dirty on this kernel");
	}
	ASSERT_EQ(0, start(self, victim_grows));
	snprintf(pid, sizeof(pid), "%d", self->pid);
	snprintf(rel, sizeof(rel), "../%s", strrchr(d0, '/') + 1);
	ASSERT_EQ(0, run_memsplice(p0, self->err, sizeof(self->err), -1)) {
		TH_LOG("%s", self->err);
	}
	ASSERT_EQ(0, kill(self->pid, SIGUSR1));
	ASSERT_EQ(6, read(self->rfd, buf, 6));
	ASSERT_EQ(0, run_memsplice(p1, self->err, sizeof(self->err), -1)) {
		TH_LOG("%s", self->err);
	}
	ASSERT_EQ(0, dump_view_open(&dv, self->dir, self->pid, false));
	EXPECT_EQ(0, dump_view_count(&dv, self->r.addr, self->r.addr + PAGES * VPAGE, PE_PARENT));
	EXPECT_EQ(PAGES, check_region(&dv, &self->r, 0, 0, &bad));
	dump_view_close(&dv);
	remove_dir(d0);
	free(d0);
}

TEST_F(tree, device_memory)
{
	/* collection leaves VM_IO mappings out: no method is asked for them */
	FULL_PASS_ONLY(variant->method);
	struct dump_view dv;
	int ret;

	NEED_METHOD();
	ret = start(self, victim_devmem);
	if (ret == 1)
		SKIP(return, "cannot map /dev/mem here");
	ASSERT_EQ(0, ret);
	ASSERT_EQ(0, memsplice(_metadata, self, variant, "dump"));
	check_pages(_metadata, self, self->pid);
	ASSERT_EQ(0, dump_view_open(&dv, self->dir, self->pid, false));
	EXPECT_EQ(0, dump_view_count(&dv, devmem_addr, devmem_addr + 16 * VPAGE, ~0u));
	dump_view_close(&dv);
	EXPECT_EQ(0, proc_tracer(self->pid));
}

/* a process with pid @pid (now free), whose page at @addr.. holds seed 999 */
static pid_t spawn_stranger(pid_t pid, unsigned long addr, int *sync_rd)
{
	pid_t tid[1] = { pid };
	struct clone_args args = {
		.exit_signal = SIGCHLD,
		.set_tid = (uint64_t)(unsigned long)tid,
		.set_tid_size = 1,
	};
	int sync[2];
	long ret;

	if (pipe(sync))
		return -1;
	ret = syscall(SYS_clone3, &args, sizeof(args));
	if (ret == 0) {
		char *p = mmap((void *)addr, PAGES * VPAGE, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);

		if (p != (char *)addr)
			_exit(1);
		for (int i = 0; i < PAGES; i++)
			pattern_fill(p + i * VPAGE, (uint64_t)(p + i * VPAGE), 999);
		if (write(sync[1], "x", 1) != 1)
			_exit(1);
		fvictim_block_forever();
	}
	close(sync[1]);
	*sync_rd = sync[0];
	return ret;
}

/*
 * A pre-dump resumes the tree, then copies.  The victim dies meanwhile and
 * a stranger gets its pid, with other bytes at the same address: not one of
 * the stranger's pages may reach the victim's images.
 */
TEST_F(tree, pid_reused_during_pre_dump)
{
	char pid[16], fdenv[16], said[8], c, page[VPAGE];
	struct dump_view dv;
	int sv[2], status, sync_rd;
	pid_t ms, stranger;
	unsigned long dumped = 0;

	NEED_METHOD();
	if (!strcmp(variant->method, "parasite"))
		SKIP(return, "the parasite moves every page before the tree is resumed");
	ASSERT_EQ(0, start(self, fvictim_plain));
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	snprintf(pid, sizeof(pid), "%d", self->pid);
	snprintf(fdenv, sizeof(fdenv), "%d", sv[1]);
	ms = fork();
	ASSERT_LE(0, ms);
	if (ms == 0) {
		close(sv[0]);
		setenv("MEMSPLICE_TEST_THAWED_FD", fdenv, 1);
		execl("./selftests/memsplice-test", "memsplice", "pre-dump", "-t", pid, "-D",
		      self->dir, "--method", variant->method, NULL);
		_exit(127);
	}
	close(sv[1]);
	ASSERT_EQ(7, read(sv[0], said, 7));	/* "thawed\n": nothing read yet */
	kill(-self->pid, SIGKILL);
	ASSERT_EQ(self->pid, waitpid(self->pid, &status, 0));
	stranger = spawn_stranger(self->pid, self->r.addr, &sync_rd);
	if (stranger < 0) {
		close(sv[0]);
		waitpid(ms, &status, 0);
		SKIP(return, "cannot start a process with pid %d: %m", self->pid);
	}
	ASSERT_EQ(self->pid, stranger);
	ASSERT_EQ(1, read(sync_rd, &c, 1)) { kill(stranger, SIGKILL); }
	ASSERT_EQ(1, write(sv[0], "x", 1));
	ASSERT_EQ(ms, waitpid(ms, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	/* whatever is in the images for that pid, none of it is the stranger's */
	if (dump_view_open(&dv, self->dir, self->pid, false) == 0) {
		for (int i = 0; i < PAGES; i++) {
			uint64_t a = self->r.addr + i * VPAGE;

			if (dump_view_page(&dv, a, page) != 1)
				continue;
			dumped++;
			EXPECT_NE(-1, pattern_check(page, a, 999)) {
				TH_LOG("page %#lx is the stranger's", (unsigned long)a);
			}
		}
		dump_view_close(&dv);
	}
	TH_LOG("%lu of the victim's pages dumped before it died", dumped);
	kill(stranger, SIGKILL);
	waitpid(stranger, NULL, 0);
	close(sync_rd);
	close(sv[0]);
	self->pid = 0;
}

TEST_HARNESS_MAIN
