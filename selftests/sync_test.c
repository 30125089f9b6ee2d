// SPDX-License-Identifier: GPL-2.0
/*
 * When memsplice writes images back to disk (user/images/sync.h), seen in
 * the system calls themselves: memsplice runs under strace(1), which logs
 * every fsync, fdatasync, syncfs, sync and rename with the path of each fd
 * (-y).  Timing a disk would say little on tmpfs and less under load; the
 * calls say exactly what the kernel was asked to write back, and when:
 *   - pre-dump and dump without --sync, and checkpoint's passes: none;
 *   - --sync: every file of the set and of its parent, and both
 *     directories, before inventory.img.tmp is renamed; the set's
 *     directory again after the rename (the commit on disk);
 *   - dump --kill: the same without --sync;
 *   - checkpoint --final dump: the final set and its chain, nothing before.
 * Skipped without strace.
 */
#include <dirent.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "lib/vtest.h"

#define SYNC_CALLS	"trace=fsync,fdatasync,syncfs,sync,sync_file_range,rename,renameat,renameat2,mkdir,mkdirat"

FIXTURE(sync) {
	struct victim v;
	char *dir;
	char pid[16];
	char out[4096];
	char log[1024];
	char *trace;		/* the strace log, read after a run */
};

FIXTURE_SETUP(sync)
{
	const char *a[] = { "--anon", "64", NULL };
	const char *probe[] = { "strace", "-V", NULL };

	if (run_cmd(probe, self->out, sizeof(self->out)))
		SKIP(return, "no strace here");
	self->dir = make_dir("sync");
	ASSERT_NE(NULL, self->dir);
	snprintf(self->log, sizeof(self->log), "%s.strace", self->dir);
	ASSERT_EQ(0, victim_start(&self->v, a, 1, 0));
	snprintf(self->pid, sizeof(self->pid), "%d", self->v.pid);
}

FIXTURE_TEARDOWN(sync)
{
	victim_kill(&self->v);
	free(self->trace);
	if (self->dir) {
		unlink(self->log);
		remove_dir(self->dir);
	}
}

/* memsplice @args (up to 16) under strace; its exit status; the log in self->trace */
static int traced(struct __test_metadata *_metadata, FIXTURE_DATA(sync) *self,
		  const char *const *args)
{
	const char *argv[32] = { "strace", "-f", "-qq", "-y", "-o", self->log, "-e", SYNC_CALLS,
				 memsplice_bin() };
	int n = 9, ret;
	FILE *f;
	long len;

	while (*args && n < 31)
		argv[n++] = *args++;
	argv[n] = NULL;
	ret = run_cmd(argv, self->out, sizeof(self->out));
	free(self->trace);
	self->trace = NULL;
	f = fopen(self->log, "re");
	if (!f)
		return -1;
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	rewind(f);
	self->trace = calloc(1, len + 1);
	if (!self->trace || fread(self->trace, 1, len, f) != (size_t)len)
		ret = -1;
	fclose(f);
	TH_LOG("exit %d; output: %s", ret, self->out);
	return ret;
}

/* the first line at or after @from that has @a and @b; NULL if none */
static const char *find_line(const char *from, const char *a, const char *b)
{
	for (const char *l = from; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		const char *e = strchr(l, '\n');
		size_t len = e ? (size_t)(e - l) : strlen(l);
		const char *pa = memmem(l, len, a, strlen(a));

		if (pa && (!b || memmem(l, len, b, strlen(b))))
			return l;
	}
	return NULL;
}

/* the first call that writes back to disk ("sync(" is in fsync( and fdatasync( too) */
static const char *first_sync(const char *from)
{
	static const char *const calls[] = { "sync(", "syncfs(", "sync_file_range(" };
	const char *first = NULL;

	for (size_t i = 0; i < sizeof(calls) / sizeof(calls[0]); i++) {
		const char *l = find_line(from, calls[i], NULL);

		if (l && (!first || l < first))
			first = l;
	}
	return first;
}

/*
 * Every regular file of @dir was fdatasync'd, and @dir fsync'd, before
 * @before (a line of the log).  @committing: @dir is the set committed at
 * @before, whose inventory.img was inventory.img.tmp then.
 */
static void synced_before(struct __test_metadata *_metadata, const char *trace,
			  const char *dir, const char *before, bool committing)
{
	char want[1200];
	struct dirent *de;
	const char *l;
	DIR *d = opendir(dir);

	ASSERT_NE(NULL, d) { TH_LOG("%s: %m", dir); }
	while ((de = readdir(d))) {
		if (de->d_type != DT_REG)
			continue;
		snprintf(want, sizeof(want), "%s/%s%s>", dir, de->d_name,
			 committing && !strcmp(de->d_name, "inventory.img") ? ".tmp" : "");
		l = find_line(trace, "fdatasync(", want);
		EXPECT_TRUE(l && l < before) { TH_LOG("%s not written back before the commit", want); }
	}
	closedir(d);
	snprintf(want, sizeof(want), "<%s>)", dir);
	l = find_line(trace, "fsync(", want);
	EXPECT_TRUE(l && l < before) { TH_LOG("directory %s not written back before the commit", dir); }
}

/* the commit of @dir: the rename, then @dir written back */
static void commit_synced(struct __test_metadata *_metadata, const char *trace, const char *dir)
{
	char want[1200];
	const char *rename, *after;

	snprintf(want, sizeof(want), "<%s>, \"inventory.img.tmp\"", dir);
	rename = find_line(trace, "rename", want);
	ASSERT_NE(NULL, rename) { TH_LOG("no rename in %s:\n%s", dir, trace); }
	synced_before(_metadata, trace, dir, rename, true);
	snprintf(want, sizeof(want), "<%s>)", dir);
	after = find_line(rename, "fsync(", want);
	EXPECT_NE(NULL, after) { TH_LOG("the rename in %s is not written back:\n%s", dir, trace); }
}

TEST_F(sync, predump_and_dump_sync_nothing_by_default)
{
	const char *pre[] = { "pre-dump", "-t", self->pid, "-D", self->dir, NULL };
	const char *dump[] = { "dump", "-t", self->pid, "-D", self->dir, NULL };

	ASSERT_EQ(0, traced(_metadata, self, pre));
	ASSERT_NE(NULL, find_line(self->trace, "rename", "inventory.img")) { TH_LOG("%s", self->trace); }
	EXPECT_EQ(NULL, first_sync(self->trace)) { TH_LOG("%s", self->trace); }
	ASSERT_EQ(0, traced(_metadata, self, dump));
	EXPECT_EQ(NULL, first_sync(self->trace)) { TH_LOG("%s", self->trace); }
	EXPECT_EQ(0, victim_verify_all(&self->v));
}

TEST_F(sync, sync_option_writes_back_set_and_parent_around_commit)
{
	char sub1[1100], sub2[1100];
	const char *pre1[] = { "pre-dump", "-t", self->pid, "-D", sub1, NULL };
	const char *pre2[] = { "pre-dump", "-t", self->pid, "-D", sub2, "--prev-images-dir", "../1",
			       "--sync", NULL };

	snprintf(sub1, sizeof(sub1), "%s/1", self->dir);
	snprintf(sub2, sizeof(sub2), "%s/2", self->dir);
	ASSERT_EQ(0, mkdir(sub1, 0700));
	ASSERT_EQ(0, mkdir(sub2, 0700));
	ASSERT_EQ(0, traced(_metadata, self, pre1));
	EXPECT_EQ(NULL, first_sync(self->trace)) { TH_LOG("%s", self->trace); }
	ASSERT_EQ(0, traced(_metadata, self, pre2));
	commit_synced(_metadata, self->trace, sub2);
	/* the parent, never synced by its own pass, is written back for this one */
	synced_before(_metadata, self->trace, sub1,
		      find_line(self->trace, "rename", "\"inventory.img.tmp\""), false);
	EXPECT_EQ(0, victim_verify_all(&self->v));
}

TEST_F(sync, dump_kill_syncs_before_the_kill)
{
	const char *dump[] = { "dump", "-t", self->pid, "-D", self->dir, "--kill", NULL };

	ASSERT_EQ(0, traced(_metadata, self, dump));
	commit_synced(_metadata, self->trace, self->dir);
	EXPECT_EQ(0, victim_reap(&self->v));
}

TEST_F(sync, checkpoint_syncs_only_its_final_dump)
{
	char sub[1100];
	const char *ck[] = { "checkpoint", "-t", self->pid, "-D", self->dir, "--final", "dump",
			     "--min-passes", "2", "--max-passes", "2", NULL };
	const char *mk;

	if (!check_says_yes("uffd-wp async") && !check_says_yes("soft-dirty"))
		SKIP(return, "no tracker on this kernel");
	ASSERT_EQ(0, traced(_metadata, self, ck));
	snprintf(sub, sizeof(sub), "%s/final\"", self->dir);
	mk = find_line(self->trace, "mkdir", sub);
	ASSERT_NE(NULL, mk) { TH_LOG("%s", self->trace); }
	/* nothing before DIR/final, so no pass waited for the disk */
	EXPECT_TRUE(first_sync(self->trace) > mk) { TH_LOG("%s", self->trace); }
	snprintf(sub, sizeof(sub), "%s/final", self->dir);
	commit_synced(_metadata, self->trace, sub);
	for (int k = 1; k <= 2; k++) {
		snprintf(sub, sizeof(sub), "%s/%d", self->dir, k);
		synced_before(_metadata, self->trace, sub,
			      find_line(mk, "rename", "\"inventory.img.tmp\""), false);
	}
	EXPECT_EQ(0, victim_verify_all(&self->v));
}

TEST_HARNESS_MAIN
