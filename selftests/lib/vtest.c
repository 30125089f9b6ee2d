// SPDX-License-Identifier: GPL-2.0
/*
 * Helpers of the end-to-end tests.  The image reader here is deliberately
 * independent of the tool's own pagemap code (it only shares the generated
 * protobuf-c structs): a test that read images through the dumper's code
 * could not catch the dumper's mistakes.
 */
#include <dirent.h>
#include <errno.h>
#include <sched.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pagemap.pb-c.h"
#include "pattern.h"
#include "vtest.h"

#define PE_PARENT	1u
#define PE_PRESENT	4u

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

static char *read_line(struct victim *v)
{
	if (!fgets(v->last, sizeof(v->last), v->report))
		return NULL;
	return v->last;
}

/* parse report lines until a condition; region lines are recorded on the way */
static char *wait_for(struct victim *v, pid_t pid, const char *word)
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

int victim_start(struct victim *v, const char *const *args, int nr_ready, int nr_threads)
{
	const char *argv[32] = { victim_bin() };
	int pfd[2], n = 1, ready = 0, threads = 0;
	char *l;

	memset(v, 0, sizeof(*v));
	for (; *args && n < 31; args++)
		argv[n++] = *args;
	if (pipe2(pfd, O_CLOEXEC))
		return -1;
	v->pid = fork();
	if (v->pid < 0)
		return -1;
	if (v->pid == 0) {
		dup2(pfd[1], 3);
		/* rseq areas are rewritten by the kernel: keep them out of byte compares */
		setenv("GLIBC_TUNABLES", "glibc.pthread.rseq=0", 1);
		execv(argv[0], (char **)argv);
		_exit(127);
	}
	close(pfd[1]);
	v->report = fdopen(pfd[0], "r");
	while (ready < nr_ready || threads < nr_threads) {
		int lpid;

		l = wait_for(v, 0, "ready");
		if (!l) {
			victim_kill(v);
			return -1;
		}
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

int victim_verify(struct victim *v, pid_t pid)
{
	char *l;

	if (kill(pid, SIGUSR1))
		return -1;
	l = wait_for(v, pid, " ok");
	if (!l || !strstr(l, " ok")) {
		fprintf(stderr, "# victim %d: %s", pid, l ? l : "no answer\n");
		return -1;
	}
	return 0;
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

int proc_tracer(pid_t pid)
{
	char v[64];

	return status_field(pid, "TracerPid:", v, sizeof(v)) ? -1 : atoi(v);
}

int run_memsplice(const char *const *args, char *err, size_t errlen, int uid)
{
	const char *argv[40] = { memsplice_bin() };
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

bool method_available(const char *method)
{
	const char *args[] = { "check", "--method", method, NULL };
	char err[512];

	return run_memsplice(args, err, sizeof(err), -1) == 0;
}

/* ---- image reader -------------------------------------------------------- */

static int read_exact(int fd, void *p, size_t len)
{
	return read(fd, p, len) == (ssize_t)len ? 0 : -1;
}

static int load_level(struct dv_level *lv, int dirfd, unsigned long id, bool shmem)
{
	char name[64];
	uint32_t magic[2], len;
	int fd, cap = 0;
	uint64_t off = 0;
	bool head = true;

	snprintf(name, sizeof(name), shmem ? "pagemap-shmem-%lu.img" : "pagemap-%lu.img", id);
	fd = openat(dirfd, name, O_RDONLY);
	if (fd < 0)
		return -1;
	if (read_exact(fd, magic, sizeof(magic)) || magic[0] != 0x54564319 ||
	    magic[1] != 0x56084025)
		goto err;
	lv->pages_fd = -1;
	while (read(fd, &len, sizeof(len)) == sizeof(len)) {
		uint8_t buf[256];

		if (len > sizeof(buf) || read_exact(fd, buf, len))
			goto err;
		if (head) {
			PagemapHead *h = pagemap_head__unpack(NULL, len, buf);

			if (!h)
				goto err;
			snprintf(name, sizeof(name), "pages-%u.img", h->pages_id);
			pagemap_head__free_unpacked(h, NULL);
			lv->pages_fd = openat(dirfd, name, O_RDONLY);
			if (lv->pages_fd < 0)
				goto err;
			head = false;
			continue;
		}
		PagemapEntry *pe = pagemap_entry__unpack(NULL, len, buf);

		if (!pe)
			goto err;
		if (lv->n == cap) {
			cap = cap ? 2 * cap : 64;
			lv->e = realloc(lv->e, cap * sizeof(*lv->e));
		}
		lv->e[lv->n] = (struct dv_ent){ pe->vaddr, pe->nr_pages,
						pe->has_flags ? pe->flags : PE_PRESENT, off };
		if (lv->e[lv->n].flags & PE_PRESENT)
			off += (uint64_t)pe->nr_pages * VPAGE;
		lv->n++;
		pagemap_entry__free_unpacked(pe, NULL);
	}
	close(fd);
	return head ? -1 : 0;
err:
	close(fd);
	return -1;
}

int dump_view_open(struct dump_view *dv, const char *dir, unsigned long id, bool shmem)
{
	int dirfd = open(dir, O_RDONLY | O_DIRECTORY);

	memset(dv, 0, sizeof(*dv));
	while (dirfd >= 0 && dv->nr_levels < MAX_LEVELS) {
		int next;

		if (load_level(&dv->lv[dv->nr_levels], dirfd, id, shmem)) {
			close(dirfd);
			break;
		}
		dv->nr_levels++;
		next = openat(dirfd, "parent", O_RDONLY | O_DIRECTORY);
		close(dirfd);
		dirfd = next;
	}
	return dv->nr_levels ? 0 : -1;
}

void dump_view_close(struct dump_view *dv)
{
	for (int i = 0; i < dv->nr_levels; i++) {
		free(dv->lv[i].e);
		if (dv->lv[i].pages_fd >= 0)
			close(dv->lv[i].pages_fd);
	}
	memset(dv, 0, sizeof(*dv));
}

static const struct dv_ent *find(const struct dv_level *lv, uint64_t addr)
{
	int lo = 0, hi = lv->n;

	while (lo < hi) {
		int mid = (lo + hi) / 2;
		const struct dv_ent *e = &lv->e[mid];

		if (addr < e->vaddr)
			hi = mid;
		else if (addr >= e->vaddr + (uint64_t)e->nr * VPAGE)
			lo = mid + 1;
		else
			return e;
	}
	return NULL;
}

int dump_view_page(const struct dump_view *dv, uint64_t addr, void *buf)
{
	for (int i = 0; i < dv->nr_levels; i++) {
		const struct dv_ent *e = find(&dv->lv[i], addr);

		if (!e)
			return i ? -1 : 0;	/* PE_PARENT pointing at nothing: broken */
		if (e->flags & PE_PARENT)
			continue;
		return pread(dv->lv[i].pages_fd, buf, VPAGE, e->off + (addr - e->vaddr)) ==
		       (ssize_t)VPAGE ? 1 : -1;
	}
	return -1;
}

unsigned long dump_view_count(const struct dump_view *dv, uint64_t start, uint64_t end,
			      unsigned int flags)
{
	unsigned long n = 0;

	for (uint64_t a = start; a < end; a += VPAGE) {
		const struct dv_ent *e = dv->nr_levels ? find(&dv->lv[0], a) : NULL;

		if (e && (e->flags & flags))
			n++;
	}
	return n;
}

unsigned long dump_view_total(const struct dump_view *dv, unsigned int flags)
{
	unsigned long n = 0;

	for (int i = 0; dv->nr_levels && i < dv->lv[0].n; i++)
		if (dv->lv[0].e[i].flags & flags)
			n += dv->lv[0].e[i].nr;
	return n;
}

long compare_with_mem(const struct dump_view *dv, pid_t pid, uint64_t *bad)
{
	char path[64], a[VPAGE], b[VPAGE];
	long pages = 0;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/mem", pid);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	for (int i = 0; i < dv->lv[0].n; i++) {
		const struct dv_ent *e = &dv->lv[0].e[i];

		if (!(e->flags & PE_PRESENT))
			continue;
		for (uint32_t k = 0; k < e->nr; k++) {
			uint64_t addr = e->vaddr + (uint64_t)k * VPAGE;

			if (pread(dv->lv[0].pages_fd, a, VPAGE, e->off + (uint64_t)k * VPAGE) != VPAGE ||
			    pread(fd, b, VPAGE, addr) != VPAGE || memcmp(a, b, VPAGE)) {
				*bad = addr;
				close(fd);
				return -1;
			}
			pages++;
		}
	}
	close(fd);
	return pages;
}

long check_region(const struct dump_view *dv, const struct vregion *r, uint64_t offset,
		  int gen_every4, uint64_t *bad)
{
	char page[VPAGE];

	for (unsigned long i = 0; i < r->pages; i++) {
		uint64_t addr = r->addr + i * VPAGE;
		uint64_t seed = r->seed + ((gen_every4 && i % 4 == 0) ? gen_every4 : 0);

		if (dump_view_page(dv, addr - offset, page) != 1 ||
		    pattern_check(page, addr, seed) >= 0) {
			*bad = addr;
			return -1;
		}
	}
	return r->pages;
}

unsigned long shmem_id_of(const char *dir)
{
	unsigned long id = 0, found;
	struct dirent *de;
	int n = 0;
	DIR *d = opendir(dir);

	if (!d)
		return 0;
	while ((de = readdir(d)))
		if (sscanf(de->d_name, "pagemap-shmem-%lu.img", &found) == 1) {
			id = found;
			n++;
		}
	closedir(d);
	return n == 1 ? id : 0;
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
