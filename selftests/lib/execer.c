// SPDX-License-Identifier: GPL-2.0
/*
 * A dump target whose non-leader thread execs in a loop (execer.h), so that
 * a freeze at any moment lands in the middle of exec churn: threads being
 * created, a thread in execve() killing its siblings, the leader's tid
 * taken over by the exec'ing thread.
 */
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "execer.h"
#include "pattern.h"

#define REPORT_FD	3
#define STATE_FD	4

extern char **environ;

static char **args;
static struct execer_state *state;

static void block_forever(void)
{
	sigset_t none;

	sigemptyset(&none);
	for (;;)
		sigsuspend(&none);
}

static void *blocker(void *arg)
{
	block_forever();
	return NULL;
}

static void *execer(void *arg)
{
	/* whatever froze and read us meanwhile left the region as it was */
	for (int i = 0; i < EXECER_PAGES; i++)
		if (pattern_check((char *)EXECER_ADDR + i * VPAGE, EXECER_ADDR + i * VPAGE,
				  EXECER_SEED) >= 0)
			_exit(96);
	__atomic_add_fetch(&state->gen, 1, __ATOMIC_SEQ_CST);	/* names the next image */
	execve("/proc/self/exe", args, environ);
	_exit(95);
}

int main(int argc, char **argv)
{
	int threads = argc > 1 ? atoi(argv[1]) : 0;
	char *p;
	pthread_t th;
	uint64_t gen;

	args = argv;
	state = mmap(NULL, VPAGE, PROT_READ | PROT_WRITE, MAP_SHARED, STATE_FD, 0);
	if (state == MAP_FAILED)
		_exit(90);
	if (!state->gen)
		state->gen = 1;	/* the first run */
	gen = state->gen;
	p = mmap((void *)EXECER_ADDR, EXECER_PAGES * VPAGE, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (p != (char *)EXECER_ADDR)
		_exit(91);
	for (int i = 0; i < EXECER_PAGES; i++)
		pattern_fill(p + i * VPAGE, EXECER_ADDR + i * VPAGE, EXECER_SEED);
	__atomic_store_n(&state->filled, gen, __ATOMIC_SEQ_CST);
	if (gen == EXECER_READY_GEN && write(REPORT_FD, "ready\n", 6) != 6)
		_exit(92);
	for (int i = 0; i < threads; i++)
		if (pthread_create(&th, NULL, blocker, NULL))
			_exit(93);
	if (pthread_create(&th, NULL, execer, NULL))
		_exit(94);
	block_forever();
}
