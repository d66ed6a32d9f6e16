/* SPDX-License-Identifier: Apache-2.0 */
/*
 * map_zero.h - zero chunks in a lazy map (issue 13, item 1; map_zero.c).
 *
 * The map keeps, per chunk, whether the server's metadata table flagged it
 * MS_META_F_ZERO when it last read the table (at open and on every
 * refresh): a hint only.  A fetch (fault or prefetch) of chunks hinted
 * zero reads their table entries again (a few bytes, no chunk data) and
 * installs the chunks the fresh entries still flag ZERO as zeros, at the
 * generation the entry names, without reading their bytes; the others are
 * pulled as usual (a long mixed run of a prefetch is one pull: the pull
 * skips zero chunks itself).  A chunk that stops being zero later has a new
 * generation, so a refresh drops it like any changed chunk.
 */
#ifndef MS_MAP_ZERO_H
#define MS_MAP_ZERO_H

#include <stdbool.h>
#include <stdint.h>

#include "map_int.h"

/* Read the metadata table over r and set the hints; 0 or -errno (then the
 * hints are left as they were). */
int map_zero_load(ms_map *m, ms_region *r);
/* Does a fetch of chunks [first, first+n) go through map_zero_fetch: some
 * hinted zero, and either all of them or too few for the pull's own zero
 * skip (a longer mixed run is one pull, which skips its zero chunks). */
bool map_zero_any(const ms_map *m, uint64_t first, uint64_t n);
/* Fetch chunks [first, first+n) (ours, FETCHING), some hinted zero. */
int map_zero_fetch(struct worker *w, uint64_t first, uint64_t n, uint64_t fault_t0);
void map_zero_free(ms_map *m);
/* A sync: are chunk c's local bytes (at src + its offset) all zero?  Then
 * *p is its zero piece (client_int.h). */
bool map_zero_chunk(const ms_map *m, const uint8_t *src, uint64_t c, struct ms_wpiece *p);

/* map_fault.c: fetch chunks [first, first+n): pull them, or, zero, install
 * zeros at generations zgens[0..n) */
int map_fetch_run(struct worker *w, uint64_t first, uint64_t n, uint64_t fault_t0,
		  const uint64_t *zgens);

#endif
