/* SPDX-License-Identifier: Apache-2.0 */
/*
 * suggest.h - "Did you mean ...?" for the memsync command line: the edit
 * distance between two words and the nearest of a list of candidates.
 */
#ifndef MS_CLI_SUGGEST_H
#define MS_CLI_SUGGEST_H

#include <stddef.h>

/* Largest edit distance a suggestion may have. */
#define SUGGEST_MAX_DISTANCE 2

/* The optimal-string-alignment (restricted Damerau-Levenshtein) distance
 * between a and b: insertions, deletions, substitutions and transpositions
 * of two adjacent characters each cost one.  Words longer than 63 bytes
 * are compared on their first 63 (commands are short). */
unsigned suggest_distance(const char *a, const char *b);

/* The candidate word stands for: an exact match; else the only candidate
 * word (two characters at least) is a prefix of ("mig" is "migrate", not
 * "map" at distance 2); else the first candidate at the smallest distance
 * if that is at most SUGGEST_MAX_DISTANCE; else NULL. */
const char *suggest_nearest(const char *word, const char *const *cands, size_t n);

#endif
