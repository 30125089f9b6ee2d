// SPDX-License-Identifier: GPL-2.0
/* memsplice receive: see receive.h */
#define LOG_PREFIX "receive: "

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/resource.h>
#include <unistd.h>

#include "log.h"
#include "proto/tls.h"
#include "receive/flat.h"
#include "receive/images.h"
#include "receive/receive.h"
#include "receive/session.h"
#include "receive/store.h"
#include "receive/vmas.h"
#include "util.h"

/* the end: the flat set and the final images in place, then the sender told */
static int finish(const struct receive_opts *o, struct store *s, struct images *im,
		  struct ps_conn *c)
{
	uint64_t t0 = now_us();
	int ret = vmas_check(s, im) ?: flat_write(s, o->dir);
	struct rusage ru;
	int32_t status;
	struct iovec iov = { &status, sizeof(status) };

	if (!ret) {
		printf("receive: the flat set written in %.1f ms\n", (now_us() - t0) / 1e3);
		ret = images_commit(im);
	}
	status = ret ? -1 : 0;
	if (c && ps_sendv(c, &iov, 1, 0))
		pr_warn("the sender of the final images went away before the answer");
	if (!ret && !getrusage(RUSAGE_SELF, &ru))
		printf("receive: peak RSS %ld KiB\n", ru.ru_maxrss);
	if (!ret)
		printf("receive: %s holds the migration, its memory as of round %llu in one layer%s"
		       ": criu restore -D %s\n", o->dir, (unsigned long long)store_rounds(s),
		       im->nr ? " with the final dump's images" : " (copy the final dump's "
		       "other images there)", o->dir);
	return ret;
}

int cmd_receive(const struct receive_opts *o, volatile sig_atomic_t *interrupted)
{
	struct ps_server srv = { .sk = -1 };
	struct images im = { .dirfd = -1 };
	bool end = false;
	char path[4096];
	struct store *s;
	int ret;

	im.dirfd = open(o->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (im.dirfd < 0) {
		ret = -errno;
		pr_errno(ret, "cannot open %s", o->dir);
		return ret;
	}
	snprintf(path, sizeof(path), "%s/store", o->dir);
	ret = store_open(path, &s);
	if (ret)
		goto out_dir;
	if (store_rounds(s))
		printf("receive: %s holds %llu rounds: going on from there\n", path,
		       (unsigned long long)store_rounds(s));
	ret = ps_server_open(&srv, &o->srv);
	if (ret)
		goto out_store;
	printf("receive: listening on %s:%u\n", o->srv.address ?: "*", o->srv.port);
	fflush(stdout);
	while (!end && !(o->rounds && store_rounds(s) >= o->rounds)) {
		struct ps_conn c = { .sk = -1, .interrupted = interrupted };
		struct round_stats st;

		ret = ps_server_accept(&srv, &c);
		if (ret)
			break;	/* -EINTR: a signal */
		ret = receive_session(&c, s, &im, &st);
		if (ret == RECEIVE_END) {
			ret = finish(o, s, &im, &c);
			end = true;
		} else if (ret && st.images) {
			images_free(&im);
			pr_err("the final images failed: none kept; waiting for them again");
		} else if (ret) {
			pr_err("round %llu failed: the store keeps round %llu; waiting for the next",
			       (unsigned long long)store_rounds(s) + 1,
			       (unsigned long long)store_rounds(s));
		} else {
			printf("receive: round %llu: %llu objects, %llu pages sent, %llu kept, %llu "
			       "listed without data\n", (unsigned long long)store_rounds(s),
			       (unsigned long long)st.objects, (unsigned long long)st.pages,
			       (unsigned long long)st.kept, (unsigned long long)st.holes);
			fflush(stdout);
		}
		tls_end(c.tls, !ret);
		close(c.sk);
		if (end)
			goto out_srv;
	}
	if (ret) {
		pr_err("interrupted: %s keeps %llu rounds; run again to take the rest", path,
		       (unsigned long long)store_rounds(s));
		ret = -EINTR;
		goto out_srv;
	}
	ret = finish(o, s, &im, NULL);	/* --rounds reached */
out_srv:
	ps_server_close(&srv);
out_store:
	store_close(s);
out_dir:
	images_free(&im);
	close(im.dirfd);
	return ret;
}
