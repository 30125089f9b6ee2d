// SPDX-License-Identifier: GPL-2.0
/* the source's end of a post-copy migration: see postcopy.h */
#define LOG_PREFIX "lazy: "
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <linux/ptrace.h>
#include <unistd.h>

#include "checkpoint.h"
#include "collect/pagemap.h"
#include "collect/vma.h"
#include "criu.h"
#include "log.h"
#include "postcopy.h"
#include "proto/pageserver.h"
#include "proto/tls.h"
#include "serve/lazy.h"
#include "source/select.h"
#include "source/source.h"
#include "tree/pstree.h"
#include "util.h"

/*
 * criu's lazy dump, until its page server is ready, then told to close:
 * criu lets the tree go, stopped, and exits.  0 when criu exited 0.
 */
static int lazy_dump(const struct checkpoint_opts *o, volatile sig_atomic_t *interrupted,
		     unsigned int last, const char *path, enum ps_layout layout, bool soft_dirty)
{
	char pid[16], parent[32], psk[16], sfd[16];
	/*
	 * The last three: the chain under it (none for pure post-copy);
	 * --track-mem alone: criu clears the soft-dirty bits once it has
	 * dumped, which proves afterwards that the tree did not run.
	 */
	const char *fixed[] = { "criu", "dump", "-t", pid, "-D", path, "-o", "dump.log",
				"--lazy-pages", "--leave-stopped", "--ps-socket", psk,
				"--status-fd", sfd, "--track-mem", "--prev-images-dir", parent };
	int nfixed = ARRAY_SIZE(fixed) - (last ? 0 : soft_dirty ? 2 : 3), ret, ret2;
	int sv[2] = { -1, -1 }, st[2] = { -1, -1 };
	struct ps_conn c = { .layout = layout, .interrupted = interrupted };
	int32_t status = -1;
	char **argv, ready;
	pid_t child;

	argv = calloc(nfixed + o->nr_criu_args + 1, sizeof(*argv));
	if (!argv)
		return -ENOMEM;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0 ||
	    pipe2(st, O_CLOEXEC) < 0 || fcntl(sv[1], F_SETFD, 0) < 0 ||
	    fcntl(st[1], F_SETFD, 0) < 0) {
		ret = -errno;
		pr_errno(ret, "cannot set up the fds criu's lazy dump needs");
		goto out;
	}
	snprintf(pid, sizeof(pid), "%d", o->pass.pid);
	snprintf(parent, sizeof(parent), "../%u", last);
	snprintf(psk, sizeof(psk), "%d", sv[1]);
	snprintf(sfd, sizeof(sfd), "%d", st[1]);
	memcpy(argv, fixed, nfixed * sizeof(*argv));
	for (int i = 0; i < o->nr_criu_args; i++)
		argv[nfixed + i] = o->criu_args[i];
	ret = criu_start(argv, &child);
	close(sv[1]);
	close(st[1]);
	if (ret) {
		pr_errno(ret, "cannot run criu");
		goto out;
	}
	/* the status byte, or the end of the pipe: criu failed (it resumed the tree) */
	while ((ret = read(st[0], &ready, 1)) < 0 && errno == EINTR && !*interrupted)
		;
	if (ret == 1) {
		c.sk = sv[0];
		ret = ps_send_msg(&c, PS_IOV_CLOSE, 0, 0, 0, 0);
		if (!ret)
			ret = ps_recv(&c, &status, sizeof(status));
		if (!ret && status)
			ret = -EPROTO;
		if (ret)
			pr_errno(ret, "criu's page server did not close (status %d)", status);
	} else {
		ret = -ECHILD;
	}
	ret2 = criu_wait(child, interrupted);
	if (ret2) {
		if (ret2 > 0)
			pr_err("criu dump --lazy-pages failed with exit status %d (its log: "
			       "%s/dump.log)", ret2, path);
		ret = ret ?: (ret2 < 0 ? ret2 : -ECHILD);
	}
out:
	if (sv[0] >= 0)
		close(sv[0]);
	if (st[0] >= 0)
		close(st[0]);
	free(argv);
	return ret;
}

static void say_stopped(pid_t root)
{
	pr_err("the tree (root %d) is left stopped, never resumed: the destination may "
	       "already run it.  `kill -CONT -- %d` (each process) resumes it here, "
	       "`kill -KILL %d` ends it", root, root, root);
}

#define MAX_RSEQ_PAGES	64

/*
 * The pages holding the rseq areas of @t's threads, into @pages: the kernel
 * writes a thread's cpu_id there each time it returns to user mode, as it
 * did while criu's parasite ran in it after criu cleared the soft-dirty
 * bits.  Their number (none where the kernel cannot say: before 5.13).
 */
static int rseq_pages(const struct task *t, unsigned long *pages)
{
	int n = 0;

	for (unsigned int i = 0; i < t->nr_threads && n < MAX_RSEQ_PAGES - 1; i++) {
		struct ptrace_rseq_configuration conf = { 0 };

		if (ptrace(PTRACE_GET_RSEQ_CONFIGURATION, t->threads[i], sizeof(conf), &conf) <= 0 ||
		    !conf.rseq_abi_pointer)
			continue;
		pages[n++] = conf.rseq_abi_pointer & ~(PAGE_SIZE - 1);
		pages[n++] = (conf.rseq_abi_pointer + conf.rseq_abi_size - 1) & ~(PAGE_SIZE - 1);
	}
	return n;
}

static bool among(unsigned long page, const unsigned long *pages, int n)
{
	for (int i = 0; i < n; i++)
		if (pages[i] == page)
			return true;
	return false;
}

/*
 * The first soft-dirty page of a private anonymous mapping of @t, in
 * *@addr, but for its threads' rseq areas
 */
static int first_written(const struct task *t, unsigned long *addr)
{
	unsigned long skip[MAX_RSEQ_PAGES];
	int nskip = rseq_pages(t, skip);
	pid_t pid = t->mm_pid ?: t->pid;	/* a live thread's view: the leader may have exited */
	struct vma_list vl;
	uint64_t pme[512];
	char path[64];
	int fd, ret;

	*addr = 0;
	ret = vma_list_collect(pid, &vl);
	if (ret)
		return ret;
	snprintf(path, sizeof(path), "/proc/%d/pagemap", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		goto out;
	}
	for (unsigned int i = 0; i < vl.nr && !ret && !*addr; i++) {
		const struct vma *v = &vl.v[i];

		if (!(v->status & VMA_ANON_PRIVATE) || v->io || v->hugetlb)
			continue;
		for (unsigned long a = v->start; a < v->end && !ret && !*addr;
		     a += ARRAY_SIZE(pme) * PAGE_SIZE) {
			unsigned long n = MIN(ARRAY_SIZE(pme), (v->end - a) / PAGE_SIZE);

			ret = pagemap_read(fd, a, n, pme);
			for (unsigned long k = 0; k < n && !ret; k++)
				if ((pme[k] & PME_SOFT_DIRTY) && (pme[k] & (PME_PRESENT | PME_SWAP)) &&
				    !among(a + k * PAGE_SIZE, skip, nskip)) {
					*addr = a + k * PAGE_SIZE;
					break;
				}
		}
	}
	close(fd);
out:
	vma_list_free(&vl);
	return ret;
}

/*
 * Whether the seized @tree ran since criu's dump: 0 if not, -EBUSY (said,
 * and @path renamed) if a page was written, another -errno if the check
 * failed.
 */
static int check_untouched(const struct pstree *tree, const char *path)
{
	char stale[PATH_MAX + 8];
	unsigned long addr;
	int ret;

	for (unsigned int i = 0; i < tree->nr; i++) {
		const struct task *t = &tree->tasks[i];

		if (t->zombie)
			continue;
		ret = first_written(t, &addr);
		if (ret) {
			pr_errno(ret, "cannot read which pages of %d were written", t->pid);
			return ret;
		}
		if (!addr)
			continue;
		snprintf(stale, sizeof(stale), "%s.stale", path);
		if (rename(path, stale))
			pr_errno(-errno, "cannot rename %s", path);
		pr_err("the tree ran after criu's dump (process %d wrote %#lx): its lazy pages "
		       "would not match the images, so none is served and %s is renamed %s; "
		       "run checkpoint again", t->pid, addr, path, stale);
		return -EBUSY;
	}
	return 0;
}

int postcopy_run(const struct checkpoint_opts *o, volatile sig_atomic_t *interrupted,
		 unsigned int last, const char *path, enum ps_layout layout)
{
	const struct lazy_opts *lo = o->lazy;
	struct source_opts sopts = { .buffer_size = o->pass.buffer_size };
	struct page_source src = { 0 };
	const struct page_source_ops *ops;
	struct lazy_stats st = { 0 };
	struct pstree tree = { 0 };
	struct ps_conn c = { .sk = -1, .layout = layout, .interrupted = interrupted };
	struct seize_opts so = { .stop_timeout_ms = PSTREE_STOP_TIMEOUT_MS };
	struct ps_server srv = { .sk = -1 };
	struct kerndat kd;
	int ret;
	uint64_t t0;

	ret = source_select(o->pass.method, &ops);	/* not parasite: check_setup() */
	if (ret)
		return ret;
	ret = kerndat_probe(&kd);
	if (ret)
		return ret;
	so.proc_children = kd.proc_children;
	ret = ps_server_open(&srv, &lo->srv);	/* before anything is frozen */
	if (ret)
		return ret;
	src.ops = ops;
	ret = ops->create(&src, &sopts);	/* says why it failed */
	if (ret)
		goto out_listen;
	t0 = now_us();
	ret = lazy_dump(o, interrupted, last, path, c.layout, kd.soft_dirty);
	if (ret)
		goto out_src;	/* criu resumed the tree, or never froze it */
	ret = test_hook(lo->released_hook_fd, "released\n", interrupted);
	if (!ret)
		ret = pstree_seize(o->pass.pid, &so, &tree);
	if (ret) {
		say_stopped(o->pass.pid);
		goto out_src;
	}
	if (kd.soft_dirty)
		ret = check_untouched(&tree, path);
	else
		pr_info("no soft-dirty bits here: cannot prove that the tree did not run between "
			"criu's dump and the seize");
	if (ret)
		goto out_tree;
	printf("lazy: the destination may start: with %s there%s, criu lazy-pages "
	       "--page-server --address THIS-HOST --port %u, then criu restore --lazy-pages\n",
	       path, o->pass.page_server ? " (next to the page server's last directory, its "
	       "parent)" : "", lo->srv.port);
	fflush(stdout);
	ret = ps_server_accept(&srv, &c);
	ps_server_stop(&srv);	/* no second session: refused by the kernel now */
	if (!ret)
		ret = lazy_serve(&c, &tree, &src, &st);
	if (ret == -EAGAIN)
		pr_err("the destination moved nothing for %u s (--lazy-timeout): stalled or gone",
		       lo->srv.timeout_s);
out_tree:
	if (ret == -EBUSY) {
		pstree_release(&tree);
		pr_err("the tree (root %d) is left stopped: nothing was served, no destination "
		       "can run it; `kill -CONT -- %d` (each process) resumes it",
		       o->pass.pid, o->pass.pid);
	} else if (ret) {
		pstree_release(&tree);	/* group-stopped by criu: stays stopped */
		say_stopped(o->pass.pid);
	} else {
		pstree_kill(&tree);
		pstree_release(&tree);
	}
	pstree_free(&tree);
	printf("lazy: %lu pages served in %lu requests (%lu on demand, %lu in the background); "
	       "the source was frozen %.1f ms from criu's dump to the last page\n", st.pages,
	       st.requests, st.demand, st.pages - st.demand, (now_us() - t0) / 1e3);
	tls_end(c.tls, !ret);
	if (c.sk >= 0)
		close(c.sk);
out_src:
	ops->destroy(&src);
out_listen:
	ps_server_close(&srv);
	return ret;
}
