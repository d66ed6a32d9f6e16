/* SPDX-License-Identifier: Apache-2.0 */
/*
 * write_hash.h - the commit hashes of a write, computed on the hashpool's
 * workers while the write's WRITEs are in flight (client_write.c).
 *
 *   struct ms_whash w = {0};
 *   ms_whash_begin(&w, nents, bytes);     // before the transfer
 *   ms_whash_add(&w, src, ents, n);       // entries whose bytes start at src
 *   ms_whash_go(&w);                      // the last job goes out too
 *   ... run the transfer ...
 *   ms_whash_end(&w);                     // every hash is in its entry
 *
 * Consecutive calls to ms_whash_add whose entries follow each other in one
 * array share jobs (a sync's pieces are often single pages).
 *
 * Without workers (one CPU, MEMSYNC_HASH_THREADS=0, a small write, or no
 * memory for a pool) ms_whash_add hashes at once, in the caller's thread.
 * ms_whash_end must be called once begin was, also when the transfer
 * failed: the workers read the sources until then.
 */
#ifndef MS_WRITE_HASH_H
#define MS_WRITE_HASH_H

#include <stddef.h>
#include <stdint.h>

#include "hashpool.h"
#include "proto.h"

#define MS_WHASH_JOB_BYTES (1u << 20)   /* bytes hashed per job */

struct ms_whash_job {
	const uint8_t **src;            /* each entry's bytes */
	struct ms_commit_ent *e;
	size_t n;
	uint64_t bytes;
};

struct ms_whash {
	struct ms_hashpool *pool;
	struct ms_hpbatch b;
	struct ms_whash_job *jobs;
	size_t njobs, cap;
	const uint8_t **src;            /* per entry, nents of them */
	size_t nsrc, nents;
	struct ms_whash_job cur;        /* being gathered */
};

/* Ready w for at most nents entries covering about bytes bytes. */
void ms_whash_begin(struct ms_whash *w, size_t nents, uint64_t bytes);
/* Hash entries e[0..n) (their off and len set; contiguous bytes starting
 * at src) into their hash fields, now or on a worker. */
void ms_whash_add(struct ms_whash *w, const uint8_t *src, struct ms_commit_ent *e, size_t n);
/* Hand the job being gathered to the workers (call before the transfer). */
void ms_whash_go(struct ms_whash *w);
/* Wait for every hash, free the workers; w is zero after. */
void ms_whash_end(struct ms_whash *w);

#endif
