// SPDX-License-Identifier: GPL-2.0
/* userfaultfd write-protect tracking: see uffd.h */
#define LOG_PREFIX "uffd: "
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/time.h>
#include <unistd.h>
#include <linux/cn_proc.h>
#include <linux/connector.h>
#include <linux/netlink.h>
#include <linux/userfaultfd.h>

#include "collect/mm.h"
#include "collect/vma.h"
#include "log.h"
#include "source/parasite/ctl.h"
#include "track/huge.h"
#include "track/uffd.h"
#include "tree/pstree.h"
#include "util.h"

/* uapi of 5.11 and 6.7, for older headers (Debian 12's are 6.1) */
#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY		1
#endif
#ifndef UFFD_FEATURE_WP_HUGETLBFS_SHMEM
#define UFFD_FEATURE_WP_HUGETLBFS_SHMEM	(1 << 12)
#endif
#ifndef UFFD_FEATURE_WP_UNPOPULATED
#define UFFD_FEATURE_WP_UNPOPULATED	(1 << 13)
#endif
#ifndef UFFD_FEATURE_WP_ASYNC
#define UFFD_FEATURE_WP_ASYNC		(1 << 15)
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd			438
#endif

#define NEEDED	(UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED)

/*
 * User-mode faults only: what vm.unprivileged_userfaultfd=0 still lets an
 * unprivileged process create, and all async write-protection needs (the
 * kernel resolves those faults itself, from any mode).
 */
#define UFFD_FLAGS	(O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY)

/* a userfaultfd of memsplice's own, its API not set yet: the fd or -errno */
static int create(void)
{
	int fd = syscall(SYS_userfaultfd, UFFD_FLAGS);

	if (fd < 0 && errno == EINVAL)	/* before 5.11 */
		fd = syscall(SYS_userfaultfd, UFFD_FLAGS & ~UFFD_USER_MODE_ONLY);
	return fd < 0 ? -errno : fd;
}

int uffd_open(int *fdp)
{
	struct uffdio_api api = { .api = UFFD_API, .features = NEEDED };
	int fd = create(), ret;

	if (fd < 0)
		return fd;
	if (ioctl(fd, UFFDIO_API, &api) < 0) {
		ret = -errno;
		close(fd);
		return ret;
	}
	*fdp = fd;
	return 0;
}

/* the features this kernel offers, asked of a userfaultfd of memsplice's own */
static int offered(unsigned long long *features)
{
	struct uffdio_api api = { .api = UFFD_API };
	int fd = create(), ret = 0;

	if (fd < 0)
		return fd;
	if (ioctl(fd, UFFDIO_API, &api) < 0)
		ret = -errno;
	close(fd);
	*features = api.features;
	return ret;
}

/* what offered() says, as uffd_probe() reports it; *@f: the features */
static int probe(char *why, size_t len, unsigned long long *f)
{
	int ret = offered(f);

	if (ret == -ENOSYS)
		snprintf(why, len, "no userfaultfd (CONFIG_USERFAULTFD off)");
	else if (ret)
		snprintf(why, len, "cannot create a userfaultfd: %s", strerror(-ret));
	else if ((*f & NEEDED) != NEEDED)
		snprintf(why, len, "no UFFD_FEATURE_WP_ASYNC (kernel < 6.7)");
	else
		return 0;
	return ret ?: -EOPNOTSUPP;
}

int uffd_probe(char *why, size_t len)
{
	unsigned long long f;

	return probe(why, len, &f);
}

static int fork_watch_start(struct fork_watch *w);
static void shm_tracker_init(struct shm_tracker *st);
static void shm_tracker_free(struct shm_tracker *st);

int uffd_tracker_init(struct uffd_tracker *tr, bool keep_huge)
{
	char why[128];
	int ret;

	memset(tr, 0, sizeof(*tr));
	ret = probe(why, sizeof(why), &tr->features);
	if (ret) {
		pr_err("write-protect tracking is not available: %s", why);
		return ret;
	}
	/* kept whole by the kernel: nothing to keep them from */
	tr->protect_huge = !keep_huge || uffd_thp_kept() == 1;
	if (!tr->protect_huge)
		pr_info("huge pages would be split at their first write here: memory in huge "
			"pages is dumped in full every pass");
	tr->features &= NEEDED | UFFD_FEATURE_WP_HUGETLBFS_SHMEM;
	shm_tracker_init(&tr->shm);
	return 0;
}

void uffd_tracker_free(struct uffd_tracker *tr)
{
	for (unsigned int i = 0; i < tr->nr; i++) {
		close(tr->procs[i].fd);	/* the kernel unregisters with the last fd */
		free(tr->procs[i].ranges);
	}
	free(tr->procs);
	shm_tracker_free(&tr->shm);
	if (tr->tree) {
		pstree_free(tr->tree);
		free(tr->tree);
	}
	memset(tr, 0, sizeof(*tr));
}

struct uffd_proc *uffd_tracker_find(struct uffd_tracker *tr, const struct task *t)
{
	for (unsigned int i = 0; i < tr->nr; i++)
		if (tr->procs[i].pid == t->pid && tr->procs[i].start_time == t->start_time)
			return &tr->procs[i];
	return NULL;
}

/*
 * A userfaultfd made by the parasite in @t (infected and cured here),
 * copied into *@fd and closed there.
 */
static int make_remote(struct pctl *pc, const struct task *t, int *fd)
{
	int rfd, ret, ret2;

	ret = pctl_infect(pc, t->pid, NULL);
	if (ret)
		return ret;	/* said why */
	rfd = pctl_userfaultfd(pc, UFFD_FLAGS);
	if (rfd == -EINVAL)
		rfd = pctl_userfaultfd(pc, UFFD_FLAGS & ~UFFD_USER_MODE_ONLY);
	if (rfd < 0) {
		ret = rfd;
		pr_errno(ret, "process %d cannot create a userfaultfd%s", t->pid,
			 ret == -EPERM ? " (vm.unprivileged_userfaultfd, and no user-mode-only "
			 "userfaultfd before Linux 5.11)" : "");
		goto cure;
	}
	*fd = syscall(SYS_pidfd_getfd, t->target.pidfd, rfd, 0);
	if (*fd < 0) {
		ret = -errno;
		pr_errno(ret, "cannot copy the userfaultfd of %d", t->pid);
	}
	ret2 = pctl_close(pc, rfd);
	if (ret2 && !ret) {
		pr_errno(ret2, "cannot close the userfaultfd copied from %d", t->pid);
		close(*fd);
		ret = ret2;
	}
cure:
	ret2 = pctl_cure(pc);	/* says why it failed */
	if (!ret && ret2) {
		close(*fd);
		ret = ret2;
	}
	return ret;
}

static int attach_one(struct uffd_tracker *tr, struct pctl *pc, const struct task *t)
{
	struct uffdio_api api = { .api = UFFD_API, .features = tr->features };
	struct uffd_proc *n;
	int fd, ret;

	n = realloc(tr->procs, (tr->nr + 1) * sizeof(*n));
	if (!n)
		return -ENOMEM;
	tr->procs = n;
	ret = make_remote(pc, t, &fd);
	if (ret)
		return ret;
	if (ioctl(fd, UFFDIO_API, &api) < 0) {
		ret = -errno;
		pr_errno(ret, "cannot enable write-protect tracking in %d", t->pid);
		close(fd);
		return ret;
	}
	tr->procs[tr->nr++] = (struct uffd_proc){ .pid = t->pid, .start_time = t->start_time,
						   .fd = fd, .protect_huge = tr->protect_huge };
	return 0;
}

int uffd_tracker_attach(struct uffd_tracker *tr, const struct pstree *tree)
{
	struct pctl *pc;
	int ret;

	ret = pctl_create(&pc);
	if (ret) {
		pr_errno(ret, "cannot set up the parasite");
		return ret;
	}
	/* forks are watched from the first freeze on; unwatched, shared memory is whole */
	if (!tr->nr && (tr->features & UFFD_FEATURE_WP_HUGETLBFS_SHMEM)) {
		ret = fork_watch_start(&tr->shm.forks);
		if (ret)
			pr_info("no fork events (%s): shared memory is dumped in full every pass",
				strerror(-ret));
		ret = 0;
	}
	for (unsigned int i = 0; i < tree->nr && !ret; i++) {
		const struct task *t = &tree->tasks[i];

		if (!t->zombie && !uffd_tracker_find(tr, t))
			ret = attach_one(tr, pc, t);
	}
	pctl_destroy(pc);
	return ret;
}

int uffd_tracker_keep(struct uffd_tracker *tr, struct pstree *tree)
{
	struct pstree *kept;

	if (tr->tree) {
		pstree_free(tr->tree);
		free(tr->tree);
		tr->tree = NULL;
	}
	kept = malloc(sizeof(*kept));
	if (!kept)
		return -ENOMEM;
	*kept = *tree;
	memset(tree, 0, sizeof(*tree));
	tr->tree = kept;
	return 0;
}

/* whether one range registered earlier holds all of [start, end) */
static bool registered(const struct uffd_proc *p, unsigned long start, unsigned long end)
{
	for (unsigned int i = 0; i < p->nr_ranges; i++)
		if (p->ranges[i].start <= start && end <= p->ranges[i].end)
			return true;
	return false;
}

/*
 * Register [start, end) for async write-protection.  Registering a range
 * again with the same userfaultfd changes nothing.  -EBUSY: the process
 * registered it with a userfaultfd of its own; -ENOENT: not all mapped any
 * more; -ENOMEM: memsplice's own memory.
 */
static int do_register(struct uffd_proc *p, unsigned long start, unsigned long end)
{
	struct uffdio_register r = {
		.range = { .start = start, .len = end - start },
		.mode = UFFDIO_REGISTER_MODE_WP,
	};
	struct uffd_range *n;

	if (ioctl(p->fd, UFFDIO_REGISTER, &r) < 0)
		return errno == ENOMEM ? -ENOENT : -errno;
	n = realloc(p->ranges, (p->nr_ranges + 1) * sizeof(*n));
	if (!n)
		return -ENOMEM;
	p->ranges = n;
	p->ranges[p->nr_ranges++] = (struct uffd_range){ start, end };
	return 0;
}

int uffd_scan(struct uffd_proc *p, int pagemap_fd, unsigned long start, unsigned long end,
	      pm_scan_cb cb, void *arg)
{
	unsigned long at = start;
	int ret;

	if (registered(p, start, end)) {
		ret = pm_scan_dumpable(pagemap_fd, at, end, PM_DIRTY_WRITTEN, cb, arg, &at);
		if (ret != -EPERM)
			return ret;
	}
	/*
	 * New to the tracker, or not registered any more: all of it is dirty
	 * (a failed scan may have protected pages it did not report), and
	 * protected from now on, unless it holds a huge page that the
	 * process should keep (--keep-huge-pages where the kernel splits a
	 * protected huge page at its first write: huge.h).
	 */
	ret = p->protect_huge ? 0 : pm_scan_has_huge(pagemap_fd, at, end);
	if (ret < 0)
		return ret;
	if (ret) {
		pr_info("%d: %#lx-%#lx holds huge pages: dumped in full, never protected",
			p->pid, at, end);
	} else {
		ret = do_register(p, at, end);
		if (!ret) {
			ret = pm_scan_dumpable(pagemap_fd, at, end, PM_DIRTY_ALL_WP, cb, arg, &at);
			if (ret != -EPERM)
				return ret;
		} else if (ret == -EBUSY) {
			pr_info("%d: %#lx-%#lx has a userfaultfd of the process's own: dumped in "
				"full", p->pid, at, end);
		} else if (ret == -ENOMEM || ret == -ESRCH) {
			return ret;
		}
	}
	/* cannot be tracked (or changed meanwhile): dumped in full, every pass */
	return pm_scan_dumpable(pagemap_fd, at, end, PM_DIRTY_ALL, cb, arg, &at);
}

int uffd_scan_shared(struct uffd_proc *p, int pagemap_fd, unsigned long start, unsigned long end,
		     pm_scan_cat_cb cb, void *arg)
{
	int ret;

	if (registered(p, start, end)) {
		ret = pm_scan_protect_all(pagemap_fd, start, end, cb, arg);
		/* -EPERM: mapped again since; any other failure, all in doubt */
		return ret == -ENOMEM ? ret : ret ? 1 : 0;
	}
	ret = pm_scan_has_huge(pagemap_fd, start, end);
	if (ret < 0)
		return ret == -ENOMEM ? ret : 1;
	if (ret) {
		pr_info("%d: shared %#lx-%#lx holds huge pages: never protected", p->pid, start,
			end);
		return 1;
	}
	ret = do_register(p, start, end);
	if (ret == -ENOMEM)
		return ret;
	if (ret) {
		pr_info("%d: shared %#lx-%#lx cannot be registered (%s): dumped in full",
			p->pid, start, end, strerror(-ret));
		return 1;
	}
	/* new to the tracker: protected from now on, its pages all written */
	ret = pm_scan_protect_all(pagemap_fd, start, end, NULL, NULL);
	return ret == -ENOMEM ? ret : 1;
}

/* ---- forks of the tree: the proc connector (uffd.h) ---- */

#define MSG_BUF	8192

static int send_op(int fd, enum proc_cn_mcast_op op)
{
	struct {
		struct nlmsghdr nl;
		struct cn_msg cn;
		enum proc_cn_mcast_op op;
	} __attribute__((packed)) m;

	memset(&m, 0, sizeof(m));
	m.nl.nlmsg_len = sizeof(m);
	m.nl.nlmsg_type = NLMSG_DONE;
	m.cn.id.idx = CN_IDX_PROC;
	m.cn.id.val = CN_VAL_PROC;
	m.cn.len = sizeof(op);
	m.op = op;
	return send(fd, &m, sizeof(m), 0) < 0 ? -errno : 0;
}

/* the filter of Linux 6.6 (struct proc_input): forks only; older ones ignore it */
static int send_filter(int fd)
{
	struct {
		struct nlmsghdr nl;
		struct cn_msg cn;
		struct { __u32 mcast_op, event_type; } in;
	} __attribute__((packed)) m;

	memset(&m, 0, sizeof(m));
	m.nl.nlmsg_len = sizeof(m);
	m.nl.nlmsg_type = NLMSG_DONE;
	m.cn.id.idx = CN_IDX_PROC;
	m.cn.id.val = CN_VAL_PROC;
	m.cn.len = sizeof(m.in);
	m.in.mcast_op = PROC_CN_MCAST_LISTEN;
	m.in.event_type = PROC_EVENT_FORK;
	return send(fd, &m, sizeof(m), 0) < 0 ? -errno : 0;
}

/*
 * The events in one datagram: *@ack the error of an acknowledgement (left
 * as it is if none came); ++*@gen for each fork of one of @pids.
 */
static void parse(const char *buf, ssize_t len, const pid_t *pids, unsigned int nr,
		  int *ack, unsigned long *gen)
{
	const struct nlmsghdr *nl = (const struct nlmsghdr *)buf;

	for (; NLMSG_OK(nl, len); nl = NLMSG_NEXT(nl, len)) {
		const struct cn_msg *cn = NLMSG_DATA(nl);
		const struct proc_event *ev = (const struct proc_event *)cn->data;

		if (nl->nlmsg_type == NLMSG_ERROR || nl->nlmsg_type == NLMSG_NOOP ||
		    cn->len < sizeof(*ev) - sizeof(ev->event_data))
			continue;
		if (ev->what == PROC_EVENT_NONE) {
			*ack = ev->event_data.ack.err;
		} else if (ev->what == PROC_EVENT_FORK &&
			   ev->event_data.fork.child_pid == ev->event_data.fork.child_tgid) {
			for (unsigned int i = 0; i < nr; i++)
				if (ev->event_data.fork.parent_tgid == pids[i])
					++*gen;
		}
	}
}

/* listen for forks from now on; 0 or -errno (not printed) */
static int fork_watch_start(struct fork_watch *w)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK, .nl_groups = CN_IDX_PROC };
	struct timeval tv = { .tv_sec = 1 };
	int ack = 1, ret, rcvbuf = 4 << 20;
	unsigned long gen = 0;
	char buf[MSG_BUF];
	ssize_t n;

	w->gen = 0;
	w->fd = socket(PF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_CONNECTOR);
	if (w->fd < 0)
		return -errno;
	/* every fork of the system comes by (or, before 6.6, every event): room */
	if (setsockopt(w->fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) < 0)
		setsockopt(w->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	if (bind(w->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		ret = -errno;
		goto err;
	}
	ret = send_op(w->fd, PROC_CN_MCAST_LISTEN);
	if (ret)
		goto err;
	/* the kernel answers the listen request (an ack, to every listener) */
	if (setsockopt(w->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0) {
		ret = -errno;
		goto err;
	}
	while (ack == 1) {
		n = recv(w->fd, buf, sizeof(buf), 0);
		if (n < 0) {
			ret = errno == EAGAIN ? -ETIMEDOUT : -errno;
			goto err;
		}
		parse(buf, n, NULL, 0, &ack, &gen);
	}
	if (ack) {
		ret = -ack;
		goto err;
	}
	ret = send_filter(w->fd);	/* no ack: it would be filtered out */
	if (!ret)
		return 0;
err:
	close(w->fd);
	w->fd = -1;
	return ret;
}

static void fork_watch_stop(struct fork_watch *w)
{
	if (w->fd < 0)
		return;
	send_op(w->fd, PROC_CN_MCAST_IGNORE);	/* the count of listeners */
	close(w->fd);
	w->fd = -1;
}

/*
 * A count that moves whenever one of @pids forked a process (threads do
 * not count) since the last look, events were lost, or there is no watch.
 */
static unsigned long fork_watch_gen(struct fork_watch *w, const pid_t *pids, unsigned int nr)
{
	char buf[MSG_BUF];
	int ack = 0;

	if (w->fd < 0)
		return ++w->gen;
	for (;;) {
		ssize_t n = recv(w->fd, buf, sizeof(buf), MSG_DONTWAIT);

		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0) {
			/* ENOBUFS: events were dropped; anything else, in doubt too */
			pr_info("fork events lost (%s)", n < 0 ? strerror(errno) : "end of stream");
			w->gen++;
			if (n == 0 || errno != ENOBUFS)
				break;
			continue;
		}
		parse(buf, n, pids, nr, &ack, &w->gen);
	}
	return w->gen;
}

/* ---- shared anonymous segments (uffd.h) ---- */

#define BITS	(8 * sizeof(unsigned long))

static void shm_tracker_init(struct shm_tracker *st)
{
	memset(st, 0, sizeof(*st));
	st->forks.fd = -1;
}

static void shm_tracker_free(struct shm_tracker *st)
{
	for (unsigned int i = 0; i < st->nr; i++) {
		free(st->segs[i].maps);
		free(st->segs[i].hash);
	}
	free(st->segs);
	fork_watch_stop(&st->forks);
	shm_tracker_init(st);
}

static struct shm_seg *seg_get(struct shm_tracker *st, const struct stat *s)
{
	struct shm_seg *n;

	for (unsigned int i = 0; i < st->nr; i++)
		if (st->segs[i].dev == s->st_dev && st->segs[i].ino == s->st_ino)
			return &st->segs[i];
	n = realloc(st->segs, (st->nr + 1) * sizeof(*n));
	if (!n)
		return NULL;
	st->segs = n;
	n = &st->segs[st->nr++];
	/* never seen: differs from anything (size -1) */
	*n = (struct shm_seg){ .dev = s->st_dev, .ino = s->st_ino, .size = -1 };
	return n;
}

/* 64 bits of a page's bytes: two lanes, each step a bijection, mixed at the end */
static uint64_t page_hash(const void *page)
{
	const uint64_t *w = page;
	uint64_t a = 0x9e3779b97f4a7c15ULL, b = 0xc2b2ae3d27d4eb4fULL;

	for (size_t i = 0; i < PAGE_SIZE / sizeof(*w); i += 2) {
		a = (a ^ w[i]) * 0xff51afd7ed558ccdULL;
		a = (a << 31) | (a >> 33);
		b = (b ^ w[i + 1]) * 0xc4ceb9fe1a85ec53ULL;
		b = (b << 29) | (b >> 35);
	}
	a ^= b * 0x94d049bb133111ebULL;
	a ^= a >> 31;
	return a | 1;		/* 0: no page there */
}

/*
 * What the page tables cannot tell: a hole punched (MADV_REMOVE) and read
 * back in before the next pass is a new zero page under the old page's
 * protection (a pte marker keeps it), so it reads unwritten.  Each pass
 * takes a hash of every page of the segment after the scans protected
 * them: a page whose bytes are not those of the last pass (or that had
 * none) is written.  @map: the segment, mapped by memsplice; @fd: its
 * file, for SEEK_DATA (reading a hole would allocate a page in it).
 */
static void hash_pages(struct shm_seg *seg, int fd, const char *map, unsigned long pages,
		       unsigned long *bits)
{
	off_t end = (off_t)pages * PAGE_SIZE;
	unsigned long next = 0;

	for (off_t pos = 0; pos < end;) {
		off_t data = lseek(fd, pos, SEEK_DATA), hole;

		if (data < 0 || data >= end)
			break;
		hole = lseek(fd, data, SEEK_HOLE);
		if (hole < 0 || hole > end)
			hole = end;
		for (; next < data / PAGE_SIZE; next++)
			seg->hash[next] = 0;
		for (; next < (hole + PAGE_SIZE - 1) / PAGE_SIZE; next++) {
			uint64_t h = page_hash(map + next * PAGE_SIZE);

			if (h != seg->hash[next])
				bits[next / BITS] |= 1UL << (next % BITS);
			seg->hash[next] = h;
		}
		pos = (off_t)next * PAGE_SIZE;
	}
	for (; next < pages; next++)
		seg->hash[next] = 0;
}

/* whether process @pid (not of the tree) maps the segment: /proc/PID/maps */
static bool maps_segment(pid_t pid, const struct stat *s)
{
	unsigned int maj, min;
	unsigned long ino;
	char line[512];
	bool found = false;
	FILE *f;
	int fd;

	fd = open_proc(pid, "maps", O_RDONLY);
	if (fd < 0)
		return false;	/* gone; a kernel thread */
	f = fdopen(fd, "re");
	if (!f) {
		close(fd);
		return true;	/* cannot tell */
	}
	while (!found && fgets(line, sizeof(line), f))
		found = sscanf(line, "%*x-%*x %*s %*x %x:%x %lu", &maj, &min, &ino) == 3 &&
			ino == s->st_ino && makedev(maj, min) == s->st_dev;
	fclose(f);
	return found;
}

/* whether a process outside @tree (and not memsplice) maps the segment */
static bool outsider_maps(const struct pstree *tree, const struct stat *s)
{
	pid_t self = getpid();
	struct dirent *d;
	bool found = false;
	DIR *dir;

	dir = opendir("/proc");
	if (!dir)
		return true;
	while (!found && (d = readdir(dir))) {
		pid_t pid = atoi(d->d_name);
		bool ours = pid == self;

		for (unsigned int i = 0; i < tree->nr && !ours; i++)
			ours = tree->tasks[i].pid == pid;
		if (pid > 0 && !ours)
			found = maps_segment(pid, s);
	}
	closedir(dir);
	return found;
}

/* the mappings of the segment in @tree, in tree and address order */
static int find_maps(const struct pstree *tree, const struct task_mm *mms,
		     const struct stat *s, struct shm_map **maps, unsigned int *nr)
{
	*maps = NULL;
	*nr = 0;
	for (unsigned int i = 0; i < tree->nr; i++) {
		const struct task *t = &tree->tasks[i];

		if (t->zombie)
			continue;
		for (unsigned int k = 0; k < mms[i].vmas.nr; k++) {
			const struct vma *v = &mms[i].vmas.v[k];
			struct shm_map *n;

			if (!vma_is_shmem(v) || v->ino != s->st_ino)
				continue;
			n = realloc(*maps, (*nr + 1) * sizeof(*n));
			if (!n) {
				free(*maps);
				*maps = NULL;
				return -ENOMEM;
			}
			*maps = n;
			n[(*nr)++] = (struct shm_map){ .pid = t->pid, .start_time = t->start_time,
						       .start = v->start, .end = v->end,
						       .pgoff = v->pgoff };
		}
	}
	return 0;
}

static bool same_maps(const struct shm_map *maps, unsigned int nr, const struct shm_seg *seg)
{
	if (nr != seg->nr_maps)
		return false;
	for (unsigned int i = 0; i < nr; i++) {
		const struct shm_map *a = &maps[i], *b = &seg->maps[i];

		if (a->pid != b->pid || a->start_time != b->start_time || a->start != b->start ||
		    a->end != b->end || a->pgoff != b->pgoff)
			return false;
	}
	return true;
}

struct mark {
	unsigned long *bits;
	unsigned long pages;
	unsigned long first;	/* the segment's page at the mapping's start */
	unsigned long start;
};

/* written, or no page table entry left to tell: a written page */
static int mark(void *arg, unsigned long start, unsigned long end, __u64 cat)
{
	struct mark *m = arg;

	if ((cat & (PAGE_IS_PRESENT | PAGE_IS_SWAPPED)) && !(cat & PAGE_IS_WRITTEN))
		return 0;
	for (unsigned long a = start; a < end; a += PAGE_SIZE) {
		unsigned long pg = m->first + (a - m->start) / PAGE_SIZE;

		if (pg < m->pages)
			m->bits[pg / BITS] |= 1UL << (pg % BITS);
	}
	return 0;
}

/*
 * Scan every mapping (registering the new ones): *@sure false if any of
 * them cannot say what was written through it.  0 or -ENOMEM.
 */
static int scan_maps(struct uffd_tracker *tr, const struct pstree *tree,
		     const struct shm_map *maps, unsigned int nr, struct mark *m, bool *sure)
{
	for (unsigned int i = 0; i < nr; i++) {
		const struct task *t = NULL;
		struct uffd_proc *p;
		int ret;

		for (unsigned int k = 0; k < tree->nr && !t; k++)
			if (tree->tasks[k].pid == maps[i].pid)
				t = &tree->tasks[k];
		p = t ? uffd_tracker_find(tr, t) : NULL;
		if (!p) {
			*sure = false;
			continue;
		}
		m->first = maps[i].pgoff / PAGE_SIZE;
		m->start = maps[i].start;
		ret = uffd_scan_shared(p, t->target.pagemap_fd, maps[i].start, maps[i].end, mark, m);
		if (ret < 0)
			return ret;
		if (ret)
			*sure = false;
	}
	return 0;
}

int shm_tracker_written(struct uffd_tracker *tr, const struct pstree *tree,
			const struct task_mm *mms, int fd, const struct stat *st, const void *map,
			unsigned long **written)
{
	struct shm_tracker *sh = &tr->shm;
	unsigned long pages = (st->st_size + PAGE_SIZE - 1) / PAGE_SIZE;
	struct mark m = { .pages = pages };
	const char *why = NULL;
	struct shm_map *maps;
	struct shm_seg *seg;
	unsigned int nr;
	bool sure = true;
	unsigned long gen;
	pid_t *pids;
	int ret;

	*written = NULL;
	seg = seg_get(sh, st);
	pids = malloc((tr->nr + 1) * sizeof(*pids));
	m.bits = calloc(pages / BITS + 1, sizeof(*m.bits));
	ret = find_maps(tree, mms, st, &maps, &nr);
	if (!seg || !pids || !m.bits || ret) {
		free(maps);
		ret = -ENOMEM;
		pr_err("out of memory");
		goto out;
	}
	if (seg->size != st->st_size) {
		free(seg->hash);
		seg->hash = calloc(pages, sizeof(*seg->hash));
		seg->size = seg->hash ? st->st_size : -1;
		if (!seg->hash) {
			ret = -ENOMEM;
			pr_err("out of memory");
			free(maps);
			goto out;
		}
		why = "new, or its size changed";
	}
	for (unsigned int i = 0; i < tr->nr; i++)
		pids[i] = tr->procs[i].pid;
	gen = fork_watch_gen(&sh->forks, pids, tr->nr);
	if (gen != seg->fork_gen)
		why = why ?: "a process of the tree forked, or forks cannot be seen";
	seg->fork_gen = gen;
	if (!seg->outsider && outsider_maps(tree, st))
		seg->outsider = true;
	if (seg->outsider)
		why = why ?: "a process outside the tree maps it";
	if (!same_maps(maps, nr, seg))
		why = why ?: "its mappings changed";
	free(seg->maps);
	seg->maps = maps;
	seg->nr_maps = nr;

	ret = scan_maps(tr, tree, maps, nr, &m, &sure);
	if (ret) {
		pr_err("out of memory");
		goto out;
	}
	hash_pages(seg, fd, map, pages, m.bits);	/* after the scans protected them */
	if (!sure && !why)
		why = "a mapping of it is not tracked";
	if (why) {
		pr_info("shared segment %lu: dumped in full (%s)", (unsigned long)st->st_ino, why);
		goto out;
	}
	*written = m.bits;
	m.bits = NULL;
out:
	free(m.bits);
	free(pids);
	return ret;
}
