// SPDX-License-Identifier: GPL-2.0
/*
 * The single place where memsplice prints diagnostics.  The state here is the
 * log's own (where to write, how much), set once by main(); nothing else
 * below main() reads options.
 */
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include "log.h"

static struct {
	int verbosity;
	FILE *file;
	const char *name;
} log_state = { .name = "memsplice" };

static const char *const level_tag[] = {
	[LOG_ERROR] = "Error",
	[LOG_WARN]  = "Warn",
	[LOG_INFO]  = "Info",
	[LOG_DEBUG] = "Debug",
};

int log_init(int verbosity, const char *path)
{
	log_state.verbosity = verbosity;
	if (!path)
		return 0;
	log_state.file = fopen(path, "we");
	if (!log_state.file)
		return -errno;
	setvbuf(log_state.file, NULL, _IOLBF, 0);
	return 0;
}

void log_name(const char *name)
{
	log_state.name = name;
}

void log_fini(void)
{
	if (log_state.file)
		fclose(log_state.file);
	log_state.file = NULL;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	if (log_state.file) {
		struct timespec ts;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		fprintf(log_state.file, "(%5ld.%06ld) %s: ", (long)ts.tv_sec,
			ts.tv_nsec / 1000, level_tag[level]);
		va_start(ap, fmt);
		vfprintf(log_state.file, fmt, ap);
		va_end(ap);
		fputc('\n', log_state.file);
	}
	if (level <= LOG_WARN || (int)level <= log_state.verbosity + 1) {
		fprintf(stderr, "%s: %s", log_state.name, level == LOG_WARN ? "warning: " : "");
		va_start(ap, fmt);
		vfprintf(stderr, fmt, ap);
		va_end(ap);
		fputc('\n', stderr);
	}
	errno = saved;
}
