// SPDX-License-Identifier: GPL-2.0
/* post-copy: criu lazy-pages' requests answered from the frozen tree (lazy.h) */
#define LOG_PREFIX "lazy: "
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include "collect/vma.h"
#include "sink/sink.h"
#include "log.h"
#include "serve/lazy.h"
#include "source/source.h"
#include "tree/pstree.h"
#include "util.h"

/* one process of the tree, its VMAs read when it is first asked for */
struct lazy_task {
	const struct task *t;
	struct vma_list vmas;
	bool listed;
};

struct lazy {
	const struct ps_conn *c;
	struct page_source *src;
	struct lazy_task *tasks;
	unsigned int nr;
	const struct lazy_task *attached;	/* the source's current process */
	struct lazy_stats *st;
};

static struct lazy_task *by_vpid(struct lazy *l, uint64_t vpid)
{
	for (unsigned int i = 0; i < l->nr; i++)
		if ((uint64_t)l->tasks[i].t->vpid == vpid && !l->tasks[i].t->zombie)
			return &l->tasks[i];
	return NULL;
}

static const struct vma *vma_at(struct lazy_task *lt, unsigned long addr)
{
	for (unsigned int i = 0; i < lt->vmas.nr; i++) {
		const struct vma *v = &lt->vmas.v[i];

		if (v->start <= addr && addr < v->end)
			return v;
	}
	return NULL;
}

static int attach(struct lazy *l, const struct lazy_task *lt)
{
	int ret;

	if (l->attached == lt)
		return 0;
	if (l->attached) {
		ret = l->src->ops->detach(l->src);
		l->attached = NULL;
		if (ret)
			return ret;
	}
	ret = l->src->ops->attach(l->src, &lt->t->target);	/* says why it failed */
	if (!ret)
		l->attached = lt;
	return ret;
}

/* @len bytes at @addr of the attached process into the socket */
static int send_pages(struct lazy *l, const struct vma *v, unsigned long addr, size_t len)
{
	while (len) {
		struct src_range r = {
			.addr = addr,
			.len = MIN(len, l->src->buffer_size),
			.prot = v->prot,
			.force = !(v->prot & PROT_READ),
		};
		struct page_data d;
		ssize_t n = l->src->ops->fill(l->src, &r, &d);
		int ret;

		if (n < 0) {
			pr_errno((int)n, "cannot read %#lx of %d", addr, l->attached->t->pid);
			return (int)n;
		}
		if (d.buf) {
			struct iovec iov = { (void *)d.buf, d.len };

			ret = ps_sendv(l->c, &iov, 1, 0);
		} else {
			ret = ps_splice(l->c, d.pipe_fd, d.len);
		}
		if (ret)
			return ret;
		addr += d.len;
		len -= d.len;
	}
	return 0;
}

static int serve_get(struct lazy *l, const struct ps_msg *m)
{
	struct lazy_task *lt = by_vpid(l, m->dst_id);
	const struct vma *v;
	uint64_t nr;
	int ret;

	if (!lt) {
		pr_err("the destination asks for pages of process %llu, which the tree does not "
		       "have", (unsigned long long)m->dst_id);
		return -ESRCH;
	}
	if (!lt->listed) {
		ret = vma_list_collect(lt->t->mm_pid ?: lt->t->pid, &lt->vmas);
		if (ret) {
			pr_errno(ret, "cannot read the mappings of %d", lt->t->pid);
			return ret;
		}
		lt->listed = true;
	}
	v = vma_at(lt, m->vaddr);
	if (!m->nr_pages || m->vaddr % PAGE_SIZE || !v || !vma_has_private_pages(v)) {
		pr_err("the destination asks for %llu pages at %#llx of process %llu: not in any "
		       "private mapping of it", (unsigned long long)m->nr_pages,
		       (unsigned long long)m->vaddr, (unsigned long long)m->dst_id);
		return -EINVAL;
	}
	nr = MIN(m->nr_pages, (v->end - m->vaddr) / PAGE_SIZE);
	if (l->c->layout == PS_LAYOUT_24)
		nr = MIN(nr, (uint64_t)UINT32_MAX);
	ret = attach(l, lt);
	if (ret)
		return ret;
	ret = ps_send_msg(l->c, PE_PRESENT << PS_CMD_BITS | PS_IOV_ADD_F, nr, m->vaddr, m->dst_id,
			  MSG_MORE);
	if (!ret)
		ret = send_pages(l, v, m->vaddr, nr * PAGE_SIZE);
	if (ret)
		return ret;
	l->st->requests++;
	l->st->pages += nr;
	l->st->demand += m->nr_pages == 1;
	return 0;
}

static int serve(struct lazy *l)
{
	for (;;) {
		struct ps_msg m;
		int32_t status = 0;
		struct iovec iov = { &status, sizeof(status) };
		int ret = ps_recv_msg(l->c, &m);

		if (ret && ret != -ECONNRESET && ret != -EAGAIN && ret != -EINTR)
			pr_errno(ret, "reading a request of the destination");
		if (!ret && (m.cmd & ((1u << PS_CMD_BITS) - 1)) == PS_IOV_GET)
			ret = serve_get(l, &m);		/* says why, but for the socket's */
		if (ret == -ECONNRESET || ret == -EPIPE)
			pr_err("the destination closed the session before it had every page");
		if (ret)
			return ret;	/* the caller says -EAGAIN (--lazy-timeout), -EINTR */
		switch (m.cmd & ((1u << PS_CMD_BITS) - 1)) {
		case PS_IOV_GET:
			break;
		case PS_IOV_CLOSE:
		case PS_IOV_FORCE_CLOSE:
			return ps_sendv(l->c, &iov, 1, 0);
		default:
			pr_err("the destination sent command %#x, which a lazy-pages session does "
			       "not have", m.cmd);
			return -EPROTO;
		}
	}
}

int lazy_serve(const struct ps_conn *c, const struct pstree *tree, struct page_source *src,
	       struct lazy_stats *st)
{
	struct lazy l = { .c = c, .src = src, .st = st };
	int ret, ret2;

	l.tasks = calloc(tree->nr, sizeof(*l.tasks));
	if (!l.tasks) {
		pr_err("out of memory");
		return -ENOMEM;
	}
	l.nr = tree->nr;
	for (unsigned int i = 0; i < tree->nr; i++)
		l.tasks[i].t = &tree->tasks[i];
	ret = serve(&l);
	if (l.attached) {
		ret2 = src->ops->detach(src);
		if (!ret)
			ret = ret2;
	}
	for (unsigned int i = 0; i < l.nr; i++)
		if (l.tasks[i].listed)
			vma_list_free(&l.tasks[i].vmas);
	free(l.tasks);
	return ret;
}
