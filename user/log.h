/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Logging: one message where an error happens, prefixed with the file's
 * LOG_PREFIX.  Errors and warnings go to stderr and, with --log-file, to the
 * log; info and debug only appear with -v / -vv or in the log file.
 */
#ifndef MEMSPLICE_LOG_H
#define MEMSPLICE_LOG_H

#include <errno.h>
#include <string.h>

enum log_level { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };

#ifndef LOG_PREFIX
#define LOG_PREFIX ""
#endif

int log_init(int verbosity, const char *path);
/* log_name - the program named before each line on stderr (default memsplice) */
void log_name(const char *name);
void log_fini(void);
void log_msg(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define pr_err(fmt, ...)   log_msg(LOG_ERROR, LOG_PREFIX fmt, ##__VA_ARGS__)
#define pr_warn(fmt, ...)  log_msg(LOG_WARN, LOG_PREFIX fmt, ##__VA_ARGS__)
#define pr_info(fmt, ...)  log_msg(LOG_INFO, LOG_PREFIX fmt, ##__VA_ARGS__)
#define pr_debug(fmt, ...) log_msg(LOG_DEBUG, LOG_PREFIX fmt, ##__VA_ARGS__)
/* pr_perror - pr_err with ": strerror(errno)" appended */
#define pr_perror(fmt, ...) \
	log_msg(LOG_ERROR, LOG_PREFIX fmt ": %s", ##__VA_ARGS__, strerror(errno))
/* pr_errno - pr_err for a negative errno value @e */
#define pr_errno(e, fmt, ...) \
	log_msg(LOG_ERROR, LOG_PREFIX fmt ": %s", ##__VA_ARGS__, strerror(-(e)))

#endif
