/* SPDX-License-Identifier: GPL-2.0 */
/*
 * selftests/lib/execer: a process whose non-leader thread execs all the time.
 *
 *   execer THREADS      fd 3: report pipe, fd 4: a memfd of one page
 *
 * Each generation (the first run, then every exec) maps the memfd shared,
 * maps EXECER_PAGES pages at EXECER_ADDR filled with the pattern of
 * EXECER_SEED, notes that in struct execer_state, starts THREADS threads
 * that block for good, then one more thread that checks the region, counts
 * a generation and execs the program again: the exec'ing thread is never
 * the leader, so every exec kills the leader and the other threads, and
 * the exec'ing thread takes the leader's tid.  The leader just waits.  Generation
 * EXECER_READY_GEN writes "ready\n" to fd 3; no other line is written, so
 * a reader that stops reading never blocks it.  Any failure exits the
 * whole process with status 90 + a step number (96: a page of the region
 * was wrong).
 */
#ifndef MEMSPLICE_EXECER_H
#define MEMSPLICE_EXECER_H

#include <stdint.h>

#define EXECER_ADDR	0x300000000000UL
#define EXECER_PAGES	32
#define EXECER_SEED	77
#define EXECER_READY_GEN	3

/**
 * struct execer_state - the memfd page, shared by every generation and the test
 * @gen:    the newest generation: 1 for the first run, counted up by the
 *          exec'ing thread right before execve()
 * @filled: the last generation whose region at EXECER_ADDR is complete.  In
 *          a frozen execer, @filled == @gen means that the image in memory
 *          has its region complete (no exec began since it filled it)
 */
struct execer_state {
	volatile uint64_t gen;
	volatile uint64_t filled;
};

#endif
