/* SPDX-License-Identifier: GPL-2.0 */
/* The commands besides dump/pre-dump. */
#ifndef MEMSPLICE_MEMSPLICE_H
#define MEMSPLICE_MEMSPLICE_H

#include <stddef.h>

int cmd_check(const char *method);
int cmd_show(const char *dir);

#endif
