// SPDX-License-Identifier: GPL-2.0
#define LOG_PREFIX ""
#include <string.h>

#include "log.h"
#include "source/select.h"
#include "util.h"

const struct page_source_ops *const sources[] = {
	&source_syscall_ops,
	&source_device_ops,
	&source_procmem_ops,
	&source_read_ops,
	&source_parasite_ops,
};
const size_t nr_sources = ARRAY_SIZE(sources);

int source_select(const char *method, const struct page_source_ops **ops)
{
	char why[256];
	int ret;

	for (size_t i = 0; i < nr_sources; i++) {
		const struct page_source_ops *b = sources[i];
		bool wanted = !strcmp(method, b->name);

		if (!wanted && strcmp(method, "auto"))
			continue;
		why[0] = '\0';
		ret = b->probe(why, sizeof(why));
		if (!ret) {
			pr_info("method %s", b->name);
			*ops = b;
			return 0;
		}
		if (wanted) {
			pr_err("method %s is not available: %s", b->name, why);
			return ret;
		}
		pr_info("method %s skipped: %s", b->name, why);
	}
	if (strcmp(method, "auto")) {
		pr_err("unknown method '%s' (see memsplice --help)", method);
		return -EINVAL;
	}
	pr_err("no method works on this system (memsplice check says why)");
	return -ENODEV;
}

