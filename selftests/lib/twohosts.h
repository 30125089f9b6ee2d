/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Two "hosts" for the migration tests: network namespaces joined by a veth
 * pair (10.99.0.1 the source, 10.99.0.2 the destination; both exist only
 * for a test), and whether this machine can run criu, and a migration, at
 * all (criu that runs, soft-dirty, ip, veth).
 */
#ifndef MEMSPLICE_TWOHOSTS_H
#define MEMSPLICE_TWOHOSTS_H

#define NS_SRC		"memsplice-src"
#define NS_DST		"memsplice-dst"
#define SRC_ADDR	"10.99.0.1"
#define DST_ADDR	"10.99.0.2"

/* criu_bin - the criu the tests run ($MEMSPLICE_CRIU, default /usr/sbin/criu) */
const char *criu_bin(void);
/* shell - system() of a printf-formatted command: its exit status, -1 if none */
int shell(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* netns_make - both namespaces, the veth pair, the addresses; 0 or -1 */
int netns_make(void);
void netns_remove(void);
/* netns_enter - move the calling thread into namespace @name; 0 or -1 */
int netns_enter(const char *name);
/*
 * twohosts_enter - both namespaces made, the caller in the source one and
 * the subreaper of what it starts (a restored tree's orphans come back to
 * it); 0 or -1
 */
int twohosts_enter(void);
/*
 * criu_unusable - NULL if criu runs here (and soft-dirty, which criu's
 * chains need, is there), or why not.  migration_unusable - the same, and
 * ip with network namespaces and veth.  The first call (of any test
 * process of the binary) finds out; the others share its answer.
 */
/*
 * tls_files_make - in @dir, a CA and one certificate it signed for both
 * ends (both hosts' addresses and the loopback in it: criu checks them),
 * its key; their paths into @paths, the options that name them for criu
 * and memsplice (--tls ...) into @opts, NULL-terminated.  0, -1 without
 * certtool (gnutls-bin).
 */
int tls_files_make(const char *dir, char paths[3][800], const char *opts[8]);
const char *criu_unusable(void);
const char *migration_unusable(void);

#endif
