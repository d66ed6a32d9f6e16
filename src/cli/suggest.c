/* SPDX-License-Identifier: Apache-2.0 */
/*
 * suggest.c - edit distance and the nearest command (see suggest.h).
 */
#include <string.h>

#include "suggest.h"

#define WORD_MAX 63

static unsigned min3(unsigned a, unsigned b, unsigned c)
{
	unsigned m = a < b ? a : b;

	return m < c ? m : c;
}

unsigned suggest_distance(const char *a, const char *b)
{
	/* three rows of the dynamic programme: i-2, i-1, i */
	unsigned rows[3][WORD_MAX + 1];
	size_t la = strnlen(a, WORD_MAX), lb = strnlen(b, WORD_MAX);

	for (size_t j = 0; j <= lb; j++)
		rows[0][j] = (unsigned)j;
	for (size_t i = 1; i <= la; i++) {
		unsigned *cur = rows[i % 3], *prev = rows[(i - 1) % 3], *pp = rows[(i - 2) % 3];

		cur[0] = (unsigned)i;
		for (size_t j = 1; j <= lb; j++) {
			unsigned cost = a[i - 1] != b[j - 1];

			cur[j] = min3(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost);
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    pp[j - 2] + 1 < cur[j])
				cur[j] = pp[j - 2] + 1;
		}
	}
	return rows[la % 3][lb];
}

const char *suggest_nearest(const char *word, const char *const *cands, size_t n)
{
	const char *best = NULL, *prefix = NULL;
	unsigned best_d = SUGGEST_MAX_DISTANCE + 1;
	size_t wl = strlen(word), nprefix = 0;

	if (!word[0])
		return NULL;
	for (size_t i = 0; i < n; i++) {
		unsigned d = suggest_distance(word, cands[i]);

		if (d < best_d) {
			best_d = d;
			best = cands[i];
		}
		if (wl >= 2 && strncmp(cands[i], word, wl) == 0) {
			prefix = cands[i];
			nprefix++;
		}
	}
	if (best_d == 0 || nprefix != 1)
		return best;
	return prefix;
}
