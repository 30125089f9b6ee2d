/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The receiver's last check before the flat set: every page the rounds
 * left to a process lies in one of its mappings, as the final dump's
 * mm-PID.img lists them (a sender that sent pages outside them lied, and
 * criu's restore would fail on them).  Only processes whose mm image was
 * handed over are checked (with --rounds, copied by hand: none).
 */
#ifndef MEMSPLICE_RECEIVE_VMAS_H
#define MEMSPLICE_RECEIVE_VMAS_H

struct store;
struct images;

/* vmas_check - 0, or -EPROTO said in one line, or another -errno */
int vmas_check(const struct store *s, const struct images *im);

#endif
