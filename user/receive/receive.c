// SPDX-License-Identifier: GPL-2.0
/* memsplice receive: see receive.h */
#define LOG_PREFIX "receive: "

#include <errno.h>
#include <stdio.h>
#include <unistd.h>

#include "log.h"
#include "proto/tls.h"
#include "receive/flat.h"
#include "receive/receive.h"
#include "receive/session.h"
#include "receive/store.h"
#include "util.h"

int cmd_receive(const struct receive_opts *o, volatile sig_atomic_t *interrupted)
{
	struct ps_server srv = { .sk = -1 };
	char path[4096];
	struct store *s;
	int ret;

	snprintf(path, sizeof(path), "%s/store", o->dir);
	ret = store_open(path, &s);
	if (ret)
		return ret;
	if (store_rounds(s))
		printf("receive: %s holds %llu rounds: going on from there\n", path,
		       (unsigned long long)store_rounds(s));
	ret = ps_server_open(&srv, &o->srv);
	if (ret)
		goto out_store;
	printf("receive: listening on %s:%u\n", o->srv.address ?: "*", o->srv.port);
	fflush(stdout);
	while (store_rounds(s) < o->rounds) {
		struct ps_conn c = { .sk = -1, .interrupted = interrupted };
		struct round_stats st;

		ret = ps_server_accept(&srv, &c);
		if (ret)
			break;	/* -EINTR: a signal */
		ret = receive_session(&c, s, &st);
		tls_end(c.tls, !ret);
		close(c.sk);
		if (ret) {
			pr_err("round %llu failed: the store keeps round %llu; waiting for the next",
			       (unsigned long long)store_rounds(s) + 1,
			       (unsigned long long)store_rounds(s));
			continue;
		}
		printf("receive: round %llu: %llu objects, %llu pages sent, %llu kept, %llu "
		       "listed without data\n", (unsigned long long)store_rounds(s),
		       (unsigned long long)st.objects, (unsigned long long)st.pages,
		       (unsigned long long)st.kept, (unsigned long long)st.holes);
		fflush(stdout);
	}
	ps_server_close(&srv);
	if (store_rounds(s) < o->rounds) {
		pr_err("interrupted: %s keeps %llu rounds of %u; run again to take the rest",
		       path, (unsigned long long)store_rounds(s), o->rounds);
		ret = -EINTR;
		goto out_store;
	}
	ret = flat_write(s, o->dir);
	if (!ret)
		printf("receive: %s holds the memory of round %llu as one layer: copy the final "
		       "dump's other images there, then criu restore -D %s\n", o->dir,
		       (unsigned long long)store_rounds(s), o->dir);
out_store:
	store_close(s);
	return ret;
}
