// SPDX-License-Identifier: GPL-2.0
/* the pages left at the source, asked of its lazy page server: see remote.h */
#define LOG_PREFIX "restore: "

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "proto/tls.h"
#include "restore/remote.h"

#define CMD_MASK	((1u << PS_CMD_BITS) - 1)

int remote_open(struct remote *r, const struct ps_opts *o, volatile sig_atomic_t *interrupted)
{
	int ret;

	memset(r, 0, sizeof(*r));
	r->o = o;
	r->c.sk = -1;
	r->c.layout = o->layout;
	r->c.interrupted = interrupted;
	ret = ps_connect(o, interrupted, &r->c.sk);
	if (!ret && o->tls)
		ret = tls_start(r->c.sk, o->tls, false, o->address, &r->c.tls);
	if (ret && r->c.sk >= 0) {
		close(r->c.sk);
		r->c.sk = -1;
	}
	return ret;
}

long remote_get(struct remote *r, pid_t pid, uint64_t vaddr, uint64_t nr, void *buf)
{
	struct ps_msg m;
	int ret;

	if (r->c.layout == PS_LAYOUT_24 && nr > UINT32_MAX)
		nr = UINT32_MAX;
	ret = ps_send_msg(&r->c, PS_IOV_GET, nr, vaddr, pid, 0);
	if (!ret)
		ret = ps_recv_msg(&r->c, &m);
	if (ret) {
		pr_errno(ret, "asking the source at %s:%u for %llu pages of %d at %#llx",
			 r->o->address, r->o->port, (unsigned long long)nr, pid,
			 (unsigned long long)vaddr);
		return ret;
	}
	if ((m.cmd & CMD_MASK) != PS_IOV_ADD_F || !(m.cmd >> PS_CMD_BITS & PE_PRESENT) ||
	    m.vaddr != vaddr || m.dst_id != (uint64_t)pid || !m.nr_pages || m.nr_pages > nr) {
		pr_err("the source answers %llu pages at %#llx of %llu (command %#x) to a request "
		       "for %llu at %#llx of %d", (unsigned long long)m.nr_pages,
		       (unsigned long long)m.vaddr, (unsigned long long)m.dst_id, m.cmd,
		       (unsigned long long)nr, (unsigned long long)vaddr, pid);
		return -EPROTO;
	}
	ret = ps_recv(&r->c, buf, m.nr_pages * 4096);
	if (ret) {
		pr_errno(ret, "reading %llu pages from the source", (unsigned long long)m.nr_pages);
		return ret;
	}
	r->requests++;
	r->pages += m.nr_pages;
	return m.nr_pages;
}

int remote_close(struct remote *r)
{
	int32_t status = -1;
	int ret = ps_send_msg(&r->c, PS_IOV_CLOSE, 0, 0, 0, 0);

	if (!ret)
		ret = ps_recv(&r->c, &status, sizeof(status));
	if (!ret && status)
		ret = -EPROTO;
	if (ret)
		pr_errno(ret, "ending the session with the source (it answered %d)", status);
	tls_end(r->c.tls, !ret);
	close(r->c.sk);
	r->c.sk = -1;
	return ret;
}

void remote_drop(struct remote *r)
{
	if (r->c.sk < 0)
		return;
	tls_end(r->c.tls, false);
	close(r->c.sk);
	r->c.sk = -1;
}
