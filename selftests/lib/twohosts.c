// SPDX-License-Identifier: GPL-2.0
/* two hosts for the migration tests: see twohosts.h */
#include <fcntl.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "twohosts.h"
#include "vtest.h"

const char *criu_bin(void)
{
	const char *b = getenv("MEMSPLICE_CRIU");

	return b ? b : "/usr/sbin/criu";
}

/*
 * Whether this machine can run criu, and a migration, found out by the
 * first test and shared with the others (each runs in its own child).
 */
static struct {
	int criu, net;		/* 0 unknown, 1 usable, -1 not */
	char why[200];
} *probe;

static void __attribute__((constructor)) probe_alloc(void)
{
	probe = mmap(NULL, sizeof(*probe), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
		     -1, 0);
	if (probe == MAP_FAILED)
		probe = NULL;
}

int shell(const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	st = system(cmd);
	return st == -1 || !WIFEXITED(st) ? -1 : WEXITSTATUS(st);
}

void netns_remove(void)
{
	shell("ip netns del " NS_SRC " 2>/dev/null; ip netns del " NS_DST " 2>/dev/null");
}

int netns_make(void)
{
	netns_remove();
	return shell("set -e; exec 2>/dev/null >/dev/null; "
		     "ip netns add " NS_SRC "; ip netns add " NS_DST "; "
		     "ip link add ms-veth-s netns " NS_SRC " type veth peer name ms-veth-d "
		     "netns " NS_DST "; "
		     "ip -n " NS_SRC " addr add " SRC_ADDR "/24 dev ms-veth-s; "
		     "ip -n " NS_DST " addr add " DST_ADDR "/24 dev ms-veth-d; "
		     "for n in " NS_SRC " " NS_DST "; do ip -n $n link set lo up; done; "
		     "ip -n " NS_SRC " link set ms-veth-s up; ip -n " NS_DST " link set ms-veth-d up")
	       ? -1 : 0;
}

int netns_enter(const char *name)
{
	char path[128];
	int fd, ret;

	snprintf(path, sizeof(path), "/run/netns/%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ret = setns(fd, CLONE_NEWNET);
	close(fd);
	return ret;
}

int twohosts_enter(void)
{
	if (netns_make())
		return -1;
	if (netns_enter(NS_SRC)) {
		fprintf(stderr, "# cannot enter %s: %m\n", NS_SRC);
		return -1;
	}
	return prctl(PR_SET_CHILD_SUBREAPER, 1);
}

/* criu_unusable's answer, or NULL; set in probe->why */
static const char *criu_check(void)
{
	/* what `criu check` wants loaded, on a kernel that does not autoload it */
	static const char modules[] = "for m in crc32c_generic libcrc32c nfnetlink nf_tables "
		"unix_diag inet_diag tcp_diag udp_diag raw_diag netlink_diag af_packet_diag tun "
		"veth; do modprobe -q $m; done 2>/dev/null";
	const char *check[] = { criu_bin(), "check", NULL };
	char out[4096];

	if (shell("%s check 2>/dev/null | grep -q '^soft-dirty *yes'", memsplice_bin())) {
		snprintf(probe->why, sizeof(probe->why), "%s check: no soft-dirty on this kernel",
			 memsplice_bin());
		return probe->why;
	}
	if (access(criu_bin(), X_OK)) {
		snprintf(probe->why, sizeof(probe->why), "no %s (MEMSPLICE_CRIU)", criu_bin());
		return probe->why;
	}
	if (run_cmd(check, out, sizeof(out))) {
		/* whichever of them loads is what there is */
		if (system(modules) < 0) {
			snprintf(probe->why, sizeof(probe->why), "criu check fails, no modprobe");
			return probe->why;
		}
		if (run_cmd(check, out, sizeof(out))) {
			out[strcspn(out, "\n")] = '\0';
			snprintf(probe->why, sizeof(probe->why), "criu check fails here: %.120s", out);
			return probe->why;
		}
	}
	return NULL;
}

const char *criu_unusable(void)
{
	if (!probe)
		return "cannot share the probe result";
	if (!probe->criu)
		probe->criu = criu_check() ? -1 : 1;
	return probe->criu > 0 ? NULL : probe->why;
}

const char *migration_unusable(void)
{
	const char *why = criu_unusable();

	if (why || probe->net)
		return why ?: probe->net > 0 ? NULL : probe->why;
	probe->net = -1;
	if (shell("command -v ip >/dev/null")) {
		snprintf(probe->why, sizeof(probe->why), "no ip (iproute2)");
		return probe->why;
	}
	if (netns_make()) {
		netns_remove();
		snprintf(probe->why, sizeof(probe->why), "no network namespaces with veth here");
		return probe->why;
	}
	netns_remove();
	probe->net = 1;
	return NULL;
}

int tls_files_make(const char *dir, char paths[3][800], const char *opts[8])
{
	static const char *const names[] = { "ca.pem", "cert.pem", "key.pem" };

	for (int i = 0; i < 3; i++)
		snprintf(paths[i], 800, "%s/%s", dir, names[i]);
	if (shell("set -e; cd '%s'; exec >/dev/null 2>&1; "
		  "printf 'cn = memsplice test CA\\nca\\ncert_signing_key\\nexpiration_days = 2\\n' "
		  ">ca.tmpl; "
		  "printf 'cn = memsplice test\\nip_address = " SRC_ADDR "\\nip_address = "
		  DST_ADDR "\\nip_address = 127.0.0.1\\ntls_www_server\\ntls_www_client\\n"
		  "signing_key\\nencryption_key\\nexpiration_days = 2\\n' >cert.tmpl; "
		  "certtool --generate-privkey --key-type=ecdsa --outfile ca-key.pem; "
		  "certtool --generate-self-signed --load-privkey ca-key.pem --template ca.tmpl "
		  "--outfile ca.pem; "
		  "certtool --generate-privkey --key-type=ecdsa --outfile key.pem; "
		  "certtool --generate-certificate --load-privkey key.pem --load-ca-certificate "
		  "ca.pem --load-ca-privkey ca-key.pem --template cert.tmpl --outfile cert.pem", dir))
		return -1;
	opts[0] = "--tls";
	opts[1] = "--tls-cacert";
	opts[2] = paths[0];
	opts[3] = "--tls-cert";
	opts[4] = paths[1];
	opts[5] = "--tls-key";
	opts[6] = paths[2];
	opts[7] = NULL;
	return 0;
}
