// SPDX-License-Identifier: GPL-2.0
/*
 * Helpers of the end-to-end tests: victims, running memsplice and criu,
 * files.  The image reader is imgview.c.
 */
#include <dirent.h>
#include <errno.h>
#include <sched.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "methods.h"
#include "pattern.h"
#include "vtest.h"

/*
 * The harness prints each result with printf: line-buffered, every line
 * reaches selftests/run.sh when it is printed, and so does its time.
 */
static void __attribute__((constructor)) vtest_line_buffered(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
}

const char *memsplice_bin(void)
{
	const char *b = getenv("MEMSPLICE_BIN");

	return b ? b : "./user/memsplice";
}

static const char *victim_bin(void)
{
	const char *b = getenv("MEMSPLICE_VICTIM");

	return b ? b : "./selftests/lib/victim";
}

static int status_field(pid_t pid, const char *key, char *out, size_t len);

static char *read_line(struct victim *v)
{
	if (!fgets(v->last, sizeof(v->last), v->report))
		return NULL;
	return v->last;
}

static void on_alarm(int sig)
{
	(void)sig;	/* only interrupts a blocking read or wait */
}

/* parse report lines until a condition; region lines are recorded on the way */
static char *wait_for_line(struct victim *v, pid_t pid, const char *word)
{
	char *l;

	while ((l = read_line(v))) {
		struct vregion *r = &v->r[v->nr];
		unsigned long long seed;
		int lpid;

		if (l[0] == 'R' && v->nr < MAX_VREGIONS &&
		    sscanf(l, "R %d %15s %lx %lu %llu", &r->pid, r->name, &r->addr,
			   &r->pages, &seed) == 5) {
			r->seed = seed;
			v->nr++;
			continue;
		}
		if (sscanf(l, "%d", &lpid) == 1 && strstr(l, " error ")) {
			fprintf(stderr, "# victim: %s", l);
			return NULL;
		}
		if ((pid <= 0 || lpid == pid) && strstr(l, word))
			return l;
	}
	return NULL;
}

/* arm a timer around blocking calls: they fail with EINTR when it fires */
static void deadline_arm(unsigned int seconds, struct sigaction *old)
{
	struct sigaction sa = { .sa_handler = on_alarm };	/* no SA_RESTART */

	sigaction(SIGALRM, &sa, old);
	alarm(seconds);
}

static void deadline_disarm(const struct sigaction *old)
{
	alarm(0);
	sigaction(SIGALRM, old, NULL);
}

static char *wait_for(struct victim *v, pid_t pid, const char *word)
{
	struct sigaction old;
	char *l;

	if (!v->timeout)
		return wait_for_line(v, pid, word);
	deadline_arm(v->timeout, &old);
	l = wait_for_line(v, pid, word);
	if (!l && errno == EINTR)
		fprintf(stderr, "# victim: no \"%s\" within %u s\n", word, v->timeout);
	deadline_disarm(&old);
	return l;
}

/* in the forked child: fd 3 for reports, detach if asked, then the victim */
static void __attribute__((noreturn)) victim_exec(const char **argv, const struct victim_opts *o,
						  int wfd)
{
	if (o->fifo) {
		wfd = open(o->fifo, O_RDWR);
		if (wfd < 0)
			_exit(127);
	}
	if (wfd == 3)
		fcntl(3, F_SETFD, 0);
	else if (dup2(wfd, 3) != 3)
		_exit(127);
	if (o->detach) {
		int null = open("/dev/null", O_RDWR | O_CLOEXEC);

		if (null < 0 || dup2(null, 0) || dup2(null, 1) != 1 || dup2(null, 2) != 2)
			_exit(127);
		setsid();
		close_range(4, ~0U, 0);
	}
	if (o->cwd) {
		static char exe[4096];

		if (!realpath(argv[0], exe) || chdir(o->cwd))
			_exit(127);
		argv[0] = exe;
	}
	/* rseq areas are rewritten by the kernel: keep them out of byte compares */
	setenv("GLIBC_TUNABLES", "glibc.pthread.rseq=0", 1);
	execv(argv[0], (char **)argv);
	_exit(127);
}

pid_t fork_pidns(void)
{
	pid_t mid, init = -1;
	int npfd[2], st;

	if (pipe2(npfd, O_CLOEXEC))
		return -1;
	mid = fork();
	if (mid < 0)
		goto out;
	if (mid == 0) {
		if (unshare(CLONE_NEWPID))
			_exit(126);
		init = fork();
		if (init == 0) {
			close(npfd[0]);
			close(npfd[1]);
			return 0;	/* the namespace's init, on its way */
		}
		_exit(init > 0 && write(npfd[1], &init, sizeof(init)) == sizeof(init) ? 0 : 126);
	}
	close(npfd[1]);
	npfd[1] = -1;
	if (read(npfd[0], &init, sizeof(init)) != sizeof(init))
		init = -1;
	if (waitpid(mid, &st, 0) != mid || !WIFEXITED(st) || WEXITSTATUS(st))
		init = -1;
out:
	close(npfd[0]);
	if (npfd[1] >= 0)
		close(npfd[1]);
	return init;
}

int victim_start(struct victim *v, const char *const *args, int nr_ready, int nr_threads)
{
	return victim_start_opts(v, args, nr_ready, nr_threads, NULL);
}

int victim_start_opts(struct victim *v, const char *const *args, int nr_ready, int nr_threads,
		      const struct victim_opts *o)
{
	static const struct victim_opts plain;
	const char *argv[32] = { victim_bin() };
	int pfd[2] = { -1, -1 }, n = 1;

	if (!o)
		o = &plain;
	memset(v, 0, sizeof(*v));
	for (; *args && n < 30; args++)
		argv[n++] = *args;
	if (o->pidns)
		argv[n++] = "--procpid";
	if (o->fifo) {
		if (mkfifo(o->fifo, 0600) && errno != EEXIST)
			return -1;
		pfd[0] = open(o->fifo, O_RDWR | O_CLOEXEC);
		if (pfd[0] < 0)
			return -1;
		v->timeout = 60;
	} else if (pipe2(pfd, O_CLOEXEC)) {
		return -1;
	}
	v->pid = o->pidns ? fork_pidns() : fork();
	if (v->pid == 0)
		victim_exec(argv, o, pfd[1]);
	if (pfd[1] >= 0)
		close(pfd[1]);
	if (v->pid < 0) {
		v->pid = 0;
		close(pfd[0]);
		return -1;
	}
	v->report = fdopen(pfd[0], "r");
	if (victim_wait_ready(v, nr_ready, nr_threads)) {
		victim_kill(v);
		return -1;
	}
	return 0;
}

int victim_wait_ready(struct victim *v, int nr_ready, int nr_threads)
{
	int ready = 0, threads = 0;
	char *l;

	while (ready < nr_ready || threads < nr_threads) {
		int lpid;

		l = wait_for(v, 0, "ready");
		if (!l)
			return -1;
		if (strstr(l, "thread")) {
			threads++;
			continue;
		}
		if (sscanf(l, "%d", &lpid) == 1 && v->nr_pids < MAX_VPIDS)
			v->pids[v->nr_pids++] = lpid;
		ready++;
	}
	return 0;
}

int victim_ask_as(struct victim *v, pid_t to, pid_t pid, int sig, const char *word,
		  const char *ok)
{
	char *l;

	if (kill(to, sig))
		return -1;
	l = wait_for(v, pid, word);
	if (!l || !strstr(l, ok)) {
		fprintf(stderr, "# victim %d: %s", pid, l ? l : "no answer\n");
		return -1;
	}
	return 0;
}

/* send @sig to @pid and wait for its answer holding @word: 0 if it holds @ok */
static int ask(struct victim *v, pid_t pid, int sig, const char *word, const char *ok)
{
	return victim_ask_as(v, pid, pid, sig, word, ok);
}

int victim_verify(struct victim *v, pid_t pid)
{
	return ask(v, pid, SIGUSR1, " ok", " ok");
}

int victim_verify_forked(struct victim *v, pid_t pid)
{
	return ask(v, pid, SIGWINCH, "forked", "forked ok");
}

int victim_verify_all(struct victim *v)
{
	for (int i = 0; i < v->nr_pids; i++)
		if (victim_verify(v, v->pids[i]))
			return -1;
	return 0;
}

int victim_dirty(struct victim *v, pid_t pid)
{
	if (kill(pid, SIGUSR2))
		return -1;
	return wait_for(v, pid, "dirtied") ? 0 : -1;
}

int victim_reshape(struct victim *v, pid_t pid)
{
	if (kill(pid, SIGURG))
		return -1;
	return wait_for(v, pid, "reshaped") && !strstr(v->last, "no anon") ? 0 : -1;
}

unsigned long map_inode(pid_t pid, unsigned long addr)
{
	unsigned long start, end, ino, found = 0;
	char path[64], line[512];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (!found && fgets(line, sizeof(line), f))
		if (sscanf(line, "%lx-%lx %*s %*s %*s %lu", &start, &end, &ino) == 3 &&
		    start <= addr && addr < end)
			found = ino;
	fclose(f);
	return found;
}

void victim_kill(struct victim *v)
{
	for (int i = 0; i < v->nr_pids; i++)
		kill(v->pids[i], SIGKILL);
	if (v->pid > 0) {
		kill(v->pid, SIGKILL);
		waitpid(v->pid, NULL, 0);
		v->pid = 0;
	}
	if (v->report)
		fclose(v->report);
	v->report = NULL;
}

int victim_stop_all(struct victim *v)
{
	for (int i = 0; i < v->nr_pids; i++) {
		if (kill(v->pids[i], SIGSTOP))
			return -1;
		/* not our child unless it is the root: poll its state, it stops promptly */
		if (v->pids[i] == v->pid) {
			int st;

			if (waitpid(v->pid, &st, WUNTRACED) != v->pid)
				return -1;
		} else {
			while (proc_state(v->pids[i]) != 'T')
				sched_yield();
		}
	}
	return 0;
}

int victim_cont_all(struct victim *v)
{
	for (int i = 0; i < v->nr_pids; i++)
		if (kill(v->pids[i], SIGCONT))
			return -1;
	return 0;
}

int victim_reap(struct victim *v)
{
	struct sigaction old;
	int ret = 0;

	deadline_arm(30, &old);
	/* the root first: once it is reaped, its children are ours (subreaper) */
	if (v->pid > 0 && waitpid(v->pid, NULL, 0) != v->pid && errno != ECHILD)
		ret = -1;
	for (int i = 0; !ret && i < v->nr_pids; i++) {
		pid_t pid = v->pids[i];

		if (pid == v->pid)
			continue;
		while (waitpid(pid, NULL, 0) != pid) {
			if (errno != ECHILD) {
				ret = -1;	/* EINTR: the deadline passed */
				break;
			}
			/* not ours: reaped by its namespace's init, or about to be */
			if (kill(pid, 0) && errno == ESRCH)
				break;
			sched_yield();
		}
	}
	deadline_disarm(&old);
	if (ret) {
		fprintf(stderr, "# victim: some process of the tree outlived it\n");
		return -1;
	}
	/* the pids are free now: never signal them again */
	v->pid = 0;
	v->nr_pids = 0;
	return 0;
}

static int add_descendants(struct victim *v, pid_t pid)
{
	char path[64], name[32];
	struct dirent *de;
	DIR *d;

	if (v->nr_pids == MAX_VPIDS)
		return -1;
	v->pids[v->nr_pids++] = pid;
	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	d = opendir(path);
	if (!d)
		return -1;
	while ((de = readdir(d))) {
		FILE *f;
		int child;

		if (de->d_name[0] == '.')
			continue;
		snprintf(name, sizeof(name), "%.16s", de->d_name);
		snprintf(path, sizeof(path), "/proc/%d/task/%s/children", pid, name);
		f = fopen(path, "re");
		if (!f)
			continue;
		while (fscanf(f, "%d", &child) == 1)
			if (add_descendants(v, child)) {
				fclose(f);
				closedir(d);
				return -1;
			}
		fclose(f);
	}
	closedir(d);
	return 0;
}

int victim_adopt(struct victim *v, pid_t root)
{
	v->nr_pids = 0;
	v->pid = root;
	if (add_descendants(v, root))
		return -1;
	return v->nr_pids;
}

pid_t gone_pid(void)
{
	pid_t pid = fork();

	if (pid == 0)
		_exit(0);
	if (pid > 0 && waitpid(pid, NULL, 0) != pid)
		return -1;
	return pid;
}

pid_t ns_pid(pid_t pid)
{
	char v[128], *last;

	if (status_field(pid, "NSpid:", v, sizeof(v)))
		return -1;
	v[strcspn(v, "\n")] = '\0';
	last = strrchr(v, '\t');
	if (!last)
		last = strrchr(v, ' ');
	return atoi(last ? last + 1 : v);
}

struct vregion *victim_region(struct victim *v, pid_t pid, const char *name)
{
	for (int i = 0; i < v->nr; i++)
		if ((!pid || v->r[i].pid == pid) && !strcmp(v->r[i].name, name))
			return &v->r[i];
	return NULL;
}

static int status_field(pid_t pid, const char *key, char *out, size_t len)
{
	char path[64], line[256];
	FILE *f;
	int ret = -1;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, strlen(key))) {
			snprintf(out, len, "%s", line + strlen(key));
			ret = 0;
			break;
		}
	fclose(f);
	return ret;
}

char proc_state(pid_t pid)
{
	char v[64];

	if (status_field(pid, "State:", v, sizeof(v)))
		return 0;
	for (char *p = v; *p; p++)
		if (*p != ' ' && *p != '\t')
			return *p;
	return 0;
}

char proc_state_settled(pid_t pid, char want, int ms)
{
	struct timespec t0, t;
	char s;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		s = proc_state(pid);
		if (s == want || s == 0)
			return s;
		clock_gettime(CLOCK_MONOTONIC, &t);
		if ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 > ms)
			return s;
		sched_yield();
	}
}

int proc_tracer(pid_t pid)
{
	char v[64];

	return status_field(pid, "TracerPid:", v, sizeof(v)) ? -1 : atoi(v);
}

long proc_pipe_bytes(pid_t pid)
{
	int pidfd = syscall(SYS_pidfd_open, pid, 0);
	unsigned long seen[256];
	int nseen = 0;
	long bytes = 0;
	char path[64], link[64];
	struct dirent *de;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	d = opendir(path);
	if (pidfd < 0 || !d) {
		if (d)
			closedir(d);
		if (pidfd >= 0)
			close(pidfd);
		return -1;
	}
	while ((de = readdir(d))) {
		char fdpath[400];
		unsigned long ino;
		ssize_t n;
		int fd, avail = 0, dup = 0;

		snprintf(fdpath, sizeof(fdpath), "%s/%s", path, de->d_name);
		n = readlink(fdpath, link, sizeof(link) - 1);
		if (n <= 0)
			continue;
		link[n] = '\0';
		if (sscanf(link, "pipe:[%lu]", &ino) != 1)
			continue;
		for (int i = 0; i < nseen; i++)
			dup |= seen[i] == ino;
		if (dup || nseen == 256)
			continue;
		seen[nseen++] = ino;
		fd = syscall(SYS_pidfd_getfd, pidfd, atoi(de->d_name), 0);
		if (fd < 0)
			continue;
		if (!ioctl(fd, FIONREAD, &avail))
			bytes += avail;
		close(fd);
	}
	closedir(d);
	close(pidfd);
	return bytes;
}

int proc_children(pid_t pid, pid_t *out, int max)
{
	char path[64];
	FILE *f;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", pid, pid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (n < max && fscanf(f, "%d", &out[n]) == 1)
		n++;
	fclose(f);
	return n;
}

/* @bin with @args, as @uid when >= 0, with @hook=@value in its environment */
static int run_bin(const char *bin, const char *const *args, char *err, size_t errlen, int uid,
		   const char *hook, const char *value)
{
	const char *argv[40] = { bin };
	int efd[2], n = 1, status;
	ssize_t got = 0, r;
	pid_t pid;

	for (; *args && n < 39; args++)
		argv[n++] = *args;
	if (pipe2(efd, O_CLOEXEC))
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		dup2(efd[1], 2);
		dup2(null, 1);
		if (uid >= 0 && (setgid(uid) || setuid(uid)))
			_exit(126);
		if (hook)
			setenv(hook, value, 1);
		execv(argv[0], (char **)argv);
		_exit(127);
	}
	close(efd[1]);
	while (errlen > 1 && (r = read(efd[0], err + got, errlen - 1 - got)) > 0)
		got += r;
	if (errlen)
		err[got] = '\0';
	close(efd[0]);
	if (waitpid(pid, &status, 0) < 0)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int run_memsplice(const char *const *args, char *err, size_t errlen, int uid)
{
	return run_bin(memsplice_bin(), args, err, errlen, uid, NULL, NULL);
}

int run_memsplice_hooked(const char *const *args, char *err, size_t errlen, const char *hook,
			 const char *value)
{
	return run_bin("./selftests/memsplice-test", args, err, errlen, -1, hook, value);
}

int run_cmd(const char *const *argv, char *out, size_t outlen)
{
	int ofd[2], status;
	ssize_t got = 0, r;
	char sink[512];
	pid_t pid;

	if (pipe2(ofd, O_CLOEXEC))
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY);

		dup2(null, 0);
		dup2(ofd[1], 1);
		dup2(ofd[1], 2);
		execvp(argv[0], (char **)argv);
		_exit(127);
	}
	close(ofd[1]);
	/* keep the head, drain the rest so the child never blocks on a full pipe */
	while ((r = outlen > 1 && got < (ssize_t)outlen - 1 ?
		    read(ofd[0], out + got, outlen - 1 - got) : read(ofd[0], sink, sizeof(sink))) > 0)
		if (outlen > 1 && got < (ssize_t)outlen - 1)
			got += r;
	if (outlen)
		out[got] = '\0';
	close(ofd[0]);
	if (waitpid(pid, &status, 0) < 0)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

char *file_tail(const char *path, int lines, char *buf, size_t len)
{
	FILE *f = fopen(path, "re");
	char *p;
	long size;
	size_t n;

	buf[0] = '\0';
	if (!f)
		return buf;
	fseek(f, 0, SEEK_END);
	size = ftell(f);
	fseek(f, size > (long)len - 1 ? size - (long)(len - 1) : 0, SEEK_SET);
	n = fread(buf, 1, len - 1, f);
	fclose(f);
	buf[n] = '\0';
	if (n && buf[n - 1] == '\n')
		buf[--n] = '\0';
	for (p = buf + n; p > buf; p--)
		if (p[-1] == '\n' && --lines == 0)
			break;
	memmove(buf, p, strlen(p) + 1);
	return buf;
}

bool method_available(const char *method)
{
	const char *args[] = { "check", "--method", method, NULL };
	char err[512];

	return run_memsplice(args, err, sizeof(err), -1) == 0;
}

const char *method_skip(const char *method)
{
	const char *unselected = method_unselected(method);
	static char why[256];

	if (unselected)
		return unselected;
	if (method_available(method))
		return NULL;
	snprintf(why, sizeof(why), "method %s not available here", method);
	return why;
}

bool method_full_pass(const char *method)
{
	const char *full = getenv("MEMSPLICE_TEST_FULL");

	return !full || !*full || !strcmp(full, method);
}

bool case_selected(const char *name)
{
	const char *words = getenv("MEMSPLICE_TEST_CASES");
	char buf[256], *w, *save;

	if (!words || !*words)
		return true;
	snprintf(buf, sizeof(buf), "%s", words);
	for (w = strtok_r(buf, " ", &save); w; w = strtok_r(NULL, " ", &save))
		if (strstr(name, w))
			return true;
	return false;
}

bool check_says_yes(const char *what)
{
	const char *argv[] = { memsplice_bin(), "check", NULL };
	char out[4096], *l;

	run_cmd(argv, out, sizeof(out));
	for (l = out; (l = strstr(l, what)); l += strlen(what))
		if (l == out || l[-1] == '\n') {
			l += strlen(what);
			return !strncmp(l + strspn(l, " "), "yes", 3);
		}
	return false;
}

int crit_show_all(const char *dir, char *failed, size_t len)
{
	struct dirent *de;
	int bad = 0, n = 0;
	DIR *d = opendir(dir);

	if (!d)
		return -1;
	failed[0] = '\0';
	while ((de = readdir(d))) {
		char cmd[1024];

		if (de->d_name[0] == '.' || !strncmp(de->d_name, "pages-", 6) ||
		    !strcmp(de->d_name, "parent"))
			continue;
		snprintf(cmd, sizeof(cmd), "/usr/bin/crit show '%s/%s' >/dev/null 2>&1",
			 dir, de->d_name);
		n++;
		if (system(cmd)) {
			bad++;
			strncat(failed, de->d_name, len - strlen(failed) - 2);
			strncat(failed, " ", len - strlen(failed) - 1);
		}
	}
	closedir(d);
	return n ? bad : -1;
}

long long stats_json_get(const char *path, const char *key)
{
	char buf[2048], pat[64], *p;
	FILE *f = fopen(path, "re");
	size_t n;

	if (!f)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	snprintf(pat, sizeof(pat), "\"%s\": ", key);
	p = strstr(buf, pat);
	return p ? strtoll(p + strlen(pat), NULL, 10) : -1;
}

char *make_dir(const char *tag)
{
	const char *tmp = getenv("TMPDIR");
	char *d;

	if (asprintf(&d, "%s/memsplice-%s-XXXXXX", tmp ? tmp : "/tmp", tag) < 0)
		return NULL;
	if (!mkdtemp(d)) {
		free(d);
		return NULL;
	}
	chmod(d, 0777);
	return d;
}

void remove_dir(const char *dir)
{
	char cmd[1024];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd))
		fprintf(stderr, "# cannot remove %s\n", dir);
}

int read_text(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t got = 0;
	ssize_t n;

	if (fd < 0)
		return -1;
	while (got + 1 < len && (n = read(fd, buf + got, len - 1 - got)) > 0)
		got += n;
	buf[got] = '\0';
	close(fd);
	return 0;
}

double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

bool file_says(const char *path, const char *what, double seconds)
{
	double end = now_s() + seconds;
	char buf[8192];

	for (;;) {
		if (!what && !access(path, F_OK))
			return true;
		if (what && !read_text(path, buf, sizeof(buf)) && strstr(buf, what))
			return true;
		if (now_s() >= end)
			return false;
		usleep(20 * 1000);	/* polled with a deadline, not a synchronisation */
	}
}

pid_t spawn_to(const char *const *argv, const char *out)
{
	return spawn_with(argv, out, O_TRUNC, -1, -1);
}

pid_t spawn_with(const char *const *argv, const char *out, int oflags, int keep, int as)
{
	pid_t pid = fork();

	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY);
		int fd = open(out, O_WRONLY | O_CREAT | oflags, 0644);

		if (null < 0 || fd < 0 || dup2(null, 0) || dup2(fd, 1) != 1 || dup2(fd, 2) != 2)
			_exit(127);
		if (keep >= 0 && dup2(keep, as) != as)
			_exit(127);
		execvp(argv[0], (char **)argv);
		_exit(127);
	}
	return pid;
}
