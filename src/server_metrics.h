/* SPDX-License-Identifier: Apache-2.0 */
/*
 * server_metrics.h - the engine's counters for metrics that struct
 * ms_region_stat does not carry (ms_server_metrics,
 * ms_server_region_metrics in memsync.h): a region's lease events,
 * counted where they happen with relaxed atomics, and its zero-chunk
 * count, worked out from the metadata table when asked and cached per
 * generation.  Transport counts come from the listeners (srv_counters),
 * migration counts from the server's migrations (server_migrate.c).
 */
#ifndef MS_SERVER_METRICS_H
#define MS_SERVER_METRICS_H

#include <stdbool.h>
#include <stdint.h>

#include "hash.h"

/* Per export (struct ms_export.met). */
struct ms_smet_region {
	uint64_t leases_granted;      /* __atomic */
	uint64_t leases_lapsed;       /* __atomic */
	uint64_t leases_fenced;       /* __atomic */
	/* the zero-chunk cache, under the export's lock */
	bool zvalid;
	uint64_t zgen, zcount;
};

static inline void ms_smet_inc(uint64_t *c)
{
	__atomic_fetch_add(c, 1, __ATOMIC_RELAXED);
}

/* A holder was fenced; lapsed: because it did not renew in time. */
static inline void ms_smet_fenced(struct ms_smet_region *m, bool lapsed)
{
	ms_smet_inc(&m->leases_fenced);
	if (lapsed)
		ms_smet_inc(&m->leases_lapsed);
}

/* The chunk hash of len zero bytes (hash.h), without a buffer of len. */
void ms_smet_zero_hash(uint64_t len, uint8_t out[MS_HASH_LEN]);

#endif
