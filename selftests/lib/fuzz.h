/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What spvm_fuzz's two parts share: reproducible random numbers (per
 * thread, so each racing caller replays its own sequence from the seed),
 * the errnos a call may return, and the counts kept per part.
 */
#ifndef MEMSPLICE_FUZZ_H
#define MEMSPLICE_FUZZ_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>

#define PG		4096UL

/* per thread: the race's callers each replay their own sequence */
static __thread uint64_t rng_state;

static inline uint64_t rnd(void)
{
	/* xorshift64*: reproducible from the seed printed at start */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545F4914F6CDD1DULL;
}

static inline uint64_t below(uint64_t n)
{
	return n ? rnd() % n : 0;
}

static inline bool chance(int percent)
{
	return below(100) < (uint64_t)percent;
}

static inline bool documented(int err)
{
	switch (err) {
	case EINVAL: case E2BIG: case EFAULT: case EBADF: case ESRCH: case EPIPE:
	case EAGAIN: case EPERM: case ENOTTY: case ENOMEM: case EINTR:
	case EREMOTEIO:
		return true;
	}
	return false;
}

struct stats {
	unsigned long calls, ok, bytes, bad;
	unsigned long err[200];
};

#endif /* MEMSPLICE_FUZZ_H */
