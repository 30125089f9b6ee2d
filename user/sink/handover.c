// SPDX-License-Identifier: GPL-2.0
/* the final dump's other images to memsplice receive: see handover.h */
#define LOG_PREFIX "page-server: "

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "proto/pageserver.h"
#include "proto/tls.h"
#include "sink/handover.h"
#include "sink/pageserver.h"
#include "util.h"

/* the files of the final set the receiver takes: not logs, not memory */
static bool handed_over(const char *name)
{
	size_t len = strlen(name);

	return name[0] != '.' && strncmp(name, "pagemap-", 8) && strncmp(name, "pages-", 6) &&
	       !(len > 4 && !strcmp(name + len - 4, ".log")) && len <= PS_MS_NAME_MAX;
}

static int send_file(const struct ps_conn *c, int dirfd, const char *name)
{
	struct iovec iov = { (void *)name, strlen(name) };
	char buf[64 << 10];
	struct stat st;
	int fd, ret;

	fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st)) {
		ret = -errno;
		goto out;
	}
	if (st.st_size > PS_MS_FILE_MAX) {
		ret = -EFBIG;
		goto out;
	}
	ret = ps_send_msg(c, PS_MS_FILE, st.st_size, iov.iov_len, 1, MSG_MORE);
	if (!ret)
		ret = ps_sendv(c, &iov, 1, MSG_MORE);
	for (off_t off = 0; !ret && off < st.st_size;) {
		ssize_t n = pread_all(fd, buf, MIN((off_t)sizeof(buf), st.st_size - off), off);
		struct iovec data = { buf, n > 0 ? (size_t)n : 0 };

		if (n <= 0) {
			ret = n < 0 ? (int)n : -EIO;	/* shrank under us */
			break;
		}
		ret = ps_sendv(c, &data, 1, MSG_MORE);
		off += n;
	}
out:
	if (ret)
		pr_errno(ret, "cannot send %s to the receiver", name);
	if (fd >= 0)
		close(fd);
	return ret;
}

int handover_images(const struct ps_opts *o, const char *dir, volatile sig_atomic_t *interrupted)
{
	struct ps_conn c = { .sk = -1, .layout = o->layout, .interrupted = interrupted };
	int32_t status = -1;
	unsigned int nr = 0;
	struct dirent *de;
	DIR *d;
	int ret;

	d = dir ? opendir(dir) : NULL;
	if (dir && !d) {
		ret = -errno;
		pr_errno(ret, "cannot read %s", dir);
		return ret;
	}
	ret = ps_connect(o, interrupted, &c.sk);	/* says why not */
	if (ret)
		goto out_dir;
	if (o->tls) {
		ret = tls_start(c.sk, o->tls, false, o->address, &c.tls);
		if (ret)
			goto out_sk;
	}
	ret = ps_send_msg(&c, PS_MS_IMAGES, 0, 0, 1, MSG_MORE);
	while (!ret && d && (de = readdir(d)))
		if (de->d_type == DT_REG && handed_over(de->d_name)) {
			ret = send_file(&c, dirfd(d), de->d_name);	/* says why not */
			if (ret)
				goto out_sk;
			nr++;
		}
	if (!ret)
		ret = ps_send_msg(&c, PS_IOV_CLOSE, 0, 0, 0, 0);
	if (!ret)
		ret = ps_recv(&c, &status, sizeof(status));
	if (ret == -ECONNRESET)
		pr_err("%s:%u closed the session of the final images unanswered: not memsplice "
		       "receive (--receiver)?", o->address, o->port);
	else if (ret)
		pr_errno(ret, "cannot hand the final images over to %s:%u", o->address, o->port);
	else if (status)
		pr_err("the receiver at %s:%u could not take the final images (status %d: its "
		       "output says why)", o->address, o->port, status);
	if (!ret && status)
		ret = -EPROTO;
	if (!ret)
		printf("final: %u images of %s sent to the receiver at %s:%u: it holds the "
		       "migration (criu restore -D its DIR there)\n", nr, dir ?: "(none)",
		       o->address, o->port);
out_sk:
	tls_end(c.tls, !ret);
	close(c.sk);
out_dir:
	if (d)
		closedir(d);
	return ret;
}
