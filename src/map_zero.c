/* SPDX-License-Identifier: Apache-2.0 */
/*
 * map_zero.c - zero chunks in a lazy map (map_zero.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "map_zero.h"
#include "proto.h"

#define ZERO_META_BATCH 4096u   /* table entries read at once */
#define MIX_PULL 4u             /* the pull's own zero skip starts at 4
				 * chunks (client_pull.c, ZERO_MIN_CHUNKS) */

int map_zero_load(ms_map *m, ms_region *r)
{
	uint64_t n = MS_MIN(m->nchunks, (uint64_t)ZERO_META_BATCH);
	uint8_t *meta;
	int ret = 0;

	if (!m->zhint) {
		m->zhint = calloc(m->nchunks, sizeof(*m->zhint));
		if (!m->zhint)
			return -ENOMEM;
	}
	meta = malloc(n * MS_META_ENTRY_SIZE);
	if (!meta)
		return -ENOMEM;
	for (uint64_t c0 = 0; c0 < m->nchunks; c0 += n) {
		uint64_t k = MS_MIN(n, m->nchunks - c0);

		ret = ms_chunk_meta(r, c0, k, meta);
		if (ret)
			break;
		for (uint64_t i = 0; i < k; i++)
			atomic_store(&m->zhint[c0 + i],
				     (ms_meta_flags(meta, i) & MS_META_F_ZERO) ? 1 : 0);
	}
	free(meta);
	return ret;
}

bool map_zero_any(const ms_map *m, uint64_t first, uint64_t n)
{
	uint64_t k = 0;

	if (!m->zhint)
		return false;
	for (uint64_t i = first; i < first + n; i++)
		k += atomic_load(&m->zhint[i]) != 0;
	/* a mixed run of MIX_PULL chunks or more is one pull: the pull skips
	 * its zero chunks itself (client_zero.h), in fewer round trips than
	 * a pull per data run would take */
	return k && (k == n || n < MIX_PULL);
}

int map_zero_fetch(struct worker *w, uint64_t first, uint64_t n, uint64_t fault_t0)
{
	ms_map *m = w->m;
	uint8_t *meta = malloc(n * MS_META_ENTRY_SIZE);
	uint64_t *zg = malloc(n * sizeof(*zg));
	int ret = 0;

	/* the entries as they are now: a chunk written since the hint is
	 * pulled; a table that cannot be read: pull them all (the pull
	 * handles a lost connection) */
	if (!meta || !zg || ms_chunk_meta(w->r, first, n, meta)) {
		ret = map_fetch_run(w, first, n, fault_t0, NULL);
		goto out;
	}
	for (uint64_t i = 0; i < n; i++)
		zg[i] = ms_meta_gen(meta, i);
	for (uint64_t a = 0; a < n && !ret;) {
		bool z = ms_meta_flags(meta, a) & MS_META_F_ZERO;
		uint64_t b = a + 1;

		while (b < n && !!(ms_meta_flags(meta, b) & MS_META_F_ZERO) == z)
			b++;
		/* a fault's latency is noted once, when all of it is mapped */
		ret = map_fetch_run(w, first + a, b - a, b == n ? fault_t0 : 0,
				    z ? zg + a : NULL);
		a = b;
	}
	/* a failed run failed the mapping; the rest stay FETCHING like the
	 * chunks a stopped prefetch leaves: mark them so nobody waits */
	if (ret) {
		for (uint64_t i = first; i < first + n; i++) {
			uint8_t st = CH_FETCHING;

			if (atomic_compare_exchange_strong(&m->state[i], &st, CH_FAILED)) {
				uint64_t off, len;

				chunk_range(m, i, 1, &off, &len);
				map_poison(m, off, len);
			}
		}
	}
out:
	free(meta);
	free(zg);
	return ret;
}

bool map_zero_chunk(const ms_map *m, const uint8_t *src, uint64_t c, struct ms_wpiece *p)
{
	uint64_t off, len;

	chunk_range(m, c, 1, &off, &len);
	if (src[off] || memcmp(src + off, src + off + 1, len - 1))
		return false;
	*p = (struct ms_wpiece){ .off = off, .len = len, .zero = true };
	return true;
}

void map_zero_free(ms_map *m)
{
	free((void *)m->zhint);
	m->zhint = NULL;
}
