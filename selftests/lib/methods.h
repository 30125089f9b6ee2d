/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Which methods a test run covers: $MEMSPLICE_TEST_METHODS, a space-
 * separated list (unset or empty: every method).  selftests/check.sh sets
 * it per guest, so that each guest runs what its kernel adds: the
 * end-to-end suites (vtest.c's method_skip()) and the ways into
 * splice_process_vm ("device", "syscall": spvm_entry.h, spvm_abi_test.c).
 */
#ifndef MEMSPLICE_TEST_METHODS_H
#define MEMSPLICE_TEST_METHODS_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* method_selected - whether $MEMSPLICE_TEST_METHODS lists @method */
static inline bool method_selected(const char *method)
{
	const char *w = getenv("MEMSPLICE_TEST_METHODS");
	size_t n = strlen(method);

	if (!w || !*w)
		return true;
	while (*(w += strspn(w, " "))) {
		if (!strncmp(w, method, n) && (w[n] == ' ' || !w[n]))
			return true;
		w += strcspn(w, " ");
	}
	return false;
}

/* method_unselected - NULL if @method is selected, else why not (static) */
static inline const char *method_unselected(const char *method)
{
	static char why[256];

	if (method_selected(method))
		return NULL;
	snprintf(why, sizeof(why), "method %s not selected (MEMSPLICE_TEST_METHODS=%s)",
		 method, getenv("MEMSPLICE_TEST_METHODS"));
	return why;
}

#endif /* MEMSPLICE_TEST_METHODS_H */
