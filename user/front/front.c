// SPDX-License-Identifier: GPL-2.0
/*
 * memsplice-criu: the criu binary to give a container engine
 * (`runc --criu PATH`, podman's `--runtime-flag criu=PATH`), so that its
 * pre-dumps are memsplice's and everything else stays criu's.
 *
 *   memsplice-criu swrk FD     criu's RPC session on the socket FD
 *   memsplice-criu ANYTHING    the real criu, with the same arguments
 *
 * In a swrk session each request is first looked at without being read
 * (MSG_PEEK).  PRE_DUMP and SINGLE_PRE_DUMP are performed by `memsplice
 * pre-dump` (front/predump.c) and answered as criu answers them.  Any
 * other request, one the front cannot decode, or a pre-dump asking for
 * what only criu does, is handed over: the real criu is exec'ed with our
 * command line and the socket still unread, so it reads that request
 * itself, resolves the engine's fds through the same peer, and nothing of
 * the front stays in the way.  As in criu, a PRE_DUMP session goes on:
 * more pre-dumps are the front's, a DUMP is criu's, anything else is "Bad
 * req seq"; the end of the session ends it.
 *
 * The real criu: $MEMSPLICE_CRIU, else the first `criu` in PATH that is
 * not this program (so the front may be installed as `criu` ahead of it,
 * for engines that look criu up in PATH).  memsplice: $MEMSPLICE_BIN, else
 * `memsplice` beside this program.
 */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>

#include "front/front.h"
#include "log.h"

#define DEFAULT_PATH	"/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

static bool same_file(const char *path, const struct stat *self)
{
	struct stat st;

	return !stat(path, &st) && st.st_dev == self->st_dev && st.st_ino == self->st_ino;
}

/* the real criu, never this program; NULL with a message if there is none */
static const char *find_criu(char *buf, size_t len)
{
	const char *env = getenv("MEMSPLICE_CRIU"), *path = getenv("PATH");
	char *dirs, *dir, *save;
	struct stat self;

	if (stat("/proc/self/exe", &self)) {
		pr_perror("cannot stat /proc/self/exe");
		return NULL;
	}
	if (env) {
		if (same_file(env, &self) || access(env, X_OK)) {
			pr_err("MEMSPLICE_CRIU=%s is not an executable criu other than this program",
			       env);
			return NULL;
		}
		return env;
	}
	dirs = strdup(path && *path ? path : DEFAULT_PATH);
	if (!dirs)
		return NULL;
	for (dir = strtok_r(dirs, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
		snprintf(buf, len, "%s/criu", dir);
		if (buf[0] == '/' && !access(buf, X_OK) && !same_file(buf, &self)) {
			free(dirs);
			return buf;
		}
	}
	free(dirs);
	pr_err("no criu in PATH other than this program: set MEMSPLICE_CRIU");
	return NULL;
}

/* memsplice beside this program, or $MEMSPLICE_BIN */
static const char *find_memsplice(char *buf, size_t len)
{
	const char *env = getenv("MEMSPLICE_BIN");
	char self[PATH_MAX];
	ssize_t n;

	if (env)
		return env;
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return "memsplice";
	self[n] = '\0';
	snprintf(buf, len, "%s/memsplice", dirname(self));
	return buf;
}

/* exec the real criu with our command line: it never returns */
static void __attribute__((noreturn)) handover(const struct front *f, int sk)
{
	int n = 0;

	while (f->argv[n])
		n++;
	char *argv[n + 1];

	argv[0] = (char *)f->criu;
	for (int i = 1; i <= n; i++)
		argv[i] = f->argv[i];
	if (sk >= 0)
		fcntl(sk, F_SETFD, 0);
	execv(f->criu, argv);
	pr_perror("cannot run %s", f->criu);
	exit(1);
}

/*
 * The next request on @sk, looked at but left unread: NULL at the end of
 * the session (*@len 0) or when it cannot be read or decoded (*@len > 0).
 */
static CriuReq *peek(int sk, size_t *len)
{
	ssize_t n = recv(sk, NULL, 0, MSG_PEEK | MSG_TRUNC);
	CriuReq *req = NULL;
	uint8_t *buf;

	*len = n < 0 ? 1 : n;
	if (n <= 0)
		return NULL;
	buf = malloc(n);
	if (!buf)
		return NULL;
	if (recv(sk, buf, n, MSG_PEEK) == n)
		req = criu_req__unpack(NULL, n, buf);
	free(buf);
	return req;
}

/* consume the request peek() looked at */
static int consume(int sk, size_t len)
{
	char *buf = malloc(len);
	ssize_t n;

	if (!buf)
		return -ENOMEM;
	n = recv(sk, buf, len, 0);
	free(buf);
	return n == (ssize_t)len ? 0 : -EIO;
}

static int answer(int sk, CriuReqType type, int ret, const char *errmsg)
{
	CriuResp resp = CRIU_RESP__INIT;
	size_t len;
	uint8_t *buf;
	int e = 0;

	resp.type = type;
	resp.success = !ret;
	if (ret) {
		resp.cr_errmsg = (char *)errmsg;
		/* criu's cr_errno says what it knows; memsplice's line says more */
		resp.has_cr_errno = ret != -EIO;
		resp.cr_errno = -ret;
	}
	len = criu_resp__get_packed_size(&resp);
	buf = malloc(len);
	if (!buf)
		return -ENOMEM;
	criu_resp__pack(&resp, buf);
	if (send(sk, buf, len, MSG_NOSIGNAL) != (ssize_t)len)
		e = -errno;
	free(buf);
	return e;
}

static pid_t peer_pid(int sk)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(sk, SOL_SOCKET, SO_PEERCRED, &cred, &len))
		return -1;
	return cred.pid;
}

/* criu swrk: the pre-dumps are ours, the rest is criu's (see the top) */
static int swrk(const struct front *f, int sk)
{
	bool predumped = false;
	char errmsg[512];
	CriuReq *req;
	size_t len;

	fcntl(sk, F_SETFD, FD_CLOEXEC);
	for (;;) {
		CriuReqType type;
		const char *why;
		int ret;

		req = peek(sk, &len);
		if (!req && !len)
			return predumped ? 0 : 1;
		if (!req)
			handover(f, sk);
		type = req->type;
		if (type != CRIU_REQ_TYPE__PRE_DUMP && type != CRIU_REQ_TYPE__SINGLE_PRE_DUMP) {
			criu_req__free_unpacked(req, NULL);
			if (!predumped || type == CRIU_REQ_TYPE__DUMP)
				handover(f, sk);
			consume(sk, len);
			answer(sk, CRIU_REQ_TYPE__EMPTY, -EIO, "Bad req seq");
			return 1;
		}
		why = predump_why_not(req->opts);
		if (why) {
			pr_info("a pre-dump with %s: handed over to %s", why, f->criu);
			criu_req__free_unpacked(req, NULL);
			handover(f, sk);
		}
		ret = consume(sk, len);
		if (ret)
			snprintf(errmsg, sizeof(errmsg), "cannot read the request: %s", strerror(-ret));
		else
			ret = predump_run(f, req->opts, peer_pid(sk), errmsg, sizeof(errmsg));
		criu_req__free_unpacked(req, NULL);
		if (answer(sk, type, ret, errmsg) || ret || type == CRIU_REQ_TYPE__SINGLE_PRE_DUMP)
			return ret ? 1 : 0;
		predumped = true;
	}
}

int main(int argc, char **argv)
{
	char criu[PATH_MAX], memsplice[PATH_MAX];
	struct front f = { .argv = argv };
	char *end;
	long sk;

	log_name("memsplice-criu");
	log_init(0, NULL);
	f.criu = find_criu(criu, sizeof(criu));
	if (!f.criu)
		return 1;
	if (argc != 3 || strcmp(argv[1], "swrk"))
		handover(&f, -1);
	sk = strtol(argv[2], &end, 10);
	if (*end || end == argv[2] || sk < 0 || sk > INT_MAX)
		handover(&f, -1);
	f.memsplice = find_memsplice(memsplice, sizeof(memsplice));
	return swrk(&f, sk);
}
