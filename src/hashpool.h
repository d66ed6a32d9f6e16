/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hashpool.h - a small pool of worker threads for CPU work that can run
 * beside a transfer: hashing the segments of a pull as they land
 * (client_pull.c) and the chunks of a push while its WRITEs are in
 * flight (client_write.c).
 *
 * Work is grouped in batches: ms_hashpool_submit() queues fn(arg) in a
 * batch (blocking while the bounded queue is full), ms_hashpool_wait()
 * returns once every job of the batch has run, with the first non-zero
 * value one of them returned.  Jobs start in the order they were queued.
 * A NULL pool runs each job at once in the caller's thread, so callers
 * need no second code path.  ms_hashpool_free() runs what is still
 * queued, then joins the workers.
 */
#ifndef MS_HASHPOOL_H
#define MS_HASHPOOL_H

#include <stddef.h>

struct ms_hashpool;

/* A batch of jobs; zero-initialise it ({0}) before its first submit. */
struct ms_hpbatch {
	size_t pending;      /* queued or running, under the pool's lock */
	int err;             /* the first non-zero return of one of its jobs */
};

typedef int (*ms_hashpool_fn)(void *arg);

/* Workers the library uses by default for work that overlaps a transfer:
 * MEMSYNC_HASH_THREADS when set (0 = none: hash inline), else one less
 * than the online CPUs (the caller's thread drives the transfer), at most
 * MS_HASHPOOL_MAX_DEFAULT. */
#define MS_HASHPOOL_MAX_DEFAULT 4u
unsigned ms_hashpool_default_threads(void);

/* A pool of nthreads workers (1..64) and a queue of qcap jobs (>= 1):
 * the pool, or NULL with errno set. */
struct ms_hashpool *ms_hashpool_new(unsigned nthreads, size_t qcap);

/* The default pool for a transfer of `jobs` jobs: NULL (inline) when the
 * default is no worker or the transfer has fewer than two jobs, or when
 * the pool cannot be made (the work then runs inline: never an error). */
struct ms_hashpool *ms_hashpool_for(size_t jobs);

/* Queue fn(arg) in batch b (runs it at once when pool is NULL): 0, or
 * -ESHUTDOWN once the pool is being freed. */
int ms_hashpool_submit(struct ms_hashpool *pool, struct ms_hpbatch *b, ms_hashpool_fn fn,
		       void *arg);

/* Wait until every job of b has run: the first non-zero value a job
 * returned, else 0.  b may be submitted to again afterwards. */
int ms_hashpool_wait(struct ms_hashpool *pool, struct ms_hpbatch *b);

/* Run the jobs still queued, stop and join the workers, free the pool
 * (NULL: nothing). */
void ms_hashpool_free(struct ms_hashpool *pool);

/* Workers of the pool (0 for NULL). */
unsigned ms_hashpool_threads(const struct ms_hashpool *pool);

#endif
