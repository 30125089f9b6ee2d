// SPDX-License-Identifier: GPL-2.0
/* userfaultfd write-protect tracking: see uffd.h */
#define LOG_PREFIX "uffd: "
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/userfaultfd.h>

#include "log.h"
#include "source/parasite/ctl.h"
#include "track/huge.h"
#include "track/uffd.h"
#include "tree/pstree.h"

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
