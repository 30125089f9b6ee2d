/* SPDX-License-Identifier: GPL-2.0 */
/* Moving the collected runs from the page source to the page sink. */
#ifndef MEMSPLICE_XFER_H
#define MEMSPLICE_XFER_H

struct dump_ctx;

/* xfer_jobs - every job's pages; 0 or -errno (printed) */
int xfer_jobs(struct dump_ctx *ctx);

#endif
