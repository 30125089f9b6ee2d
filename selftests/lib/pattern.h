/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The bytes a victim writes: one 64-bit word per 8 bytes, a hash of the word's
 * address and a seed, never zero.  Tests recompute it to check dumped pages
 * without trusting the dumper or the victim.
 */
#ifndef MEMSPLICE_PATTERN_H
#define MEMSPLICE_PATTERN_H

#include <stdint.h>

#define VPAGE	4096UL

static inline uint64_t pattern_word(uint64_t addr, uint64_t seed)
{
	uint64_t x = addr ^ (seed * 0x9E3779B97F4A7C15ULL);

	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	return x | 1;
}

static inline void pattern_fill(void *page, uint64_t addr, uint64_t seed)
{
	uint64_t *w = page;

	for (unsigned long i = 0; i < VPAGE / 8; i++)
		w[i] = pattern_word(addr + 8 * i, seed);
}

/* returns the index of the first differing word, or -1 */
static inline long pattern_check(const void *page, uint64_t addr, uint64_t seed)
{
	const uint64_t *w = page;

	for (unsigned long i = 0; i < VPAGE / 8; i++)
		if (w[i] != pattern_word(addr + 8 * i, seed))
			return i;
	return -1;
}

#endif
