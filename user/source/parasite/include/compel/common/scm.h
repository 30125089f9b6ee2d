/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Stand-in for <compel/common/scm.h>, which <compel/plugins/std/fds.h>
 * includes but Debian's criu 3.17.1 package does not ship.
 *
 * The fd passing itself is compiled into libcompel (compel_util_send_fd())
 * and into the fds plugin archive (fds_recv_fd()); no installed header uses
 * anything declared here, so this only provides what such a header is
 * expected to pull in: the SCM_RIGHTS machinery of <sys/socket.h>.
 */
#ifndef MEMSPLICE_COMPAT_COMPEL_COMMON_SCM_H
#define MEMSPLICE_COMPAT_COMPEL_COMMON_SCM_H

#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>

#endif
