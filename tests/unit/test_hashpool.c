/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_hashpool.c - the worker pool that hashes beside transfers
 * (src/hashpool.c) and the write hashes built on it (src/write_hash.c):
 * jobs start in order, every job of a batch has run when wait returns,
 * the first error of a batch is reported, a full queue makes submit wait,
 * freeing a pool with work still queued runs that work, and the hashes
 * of a write equal the ones computed one by one.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "hashpool.h"
#include "tap.h"
#include "write_hash.h"

#define NJOBS 200

static int order[NJOBS];
static int norder;
static pthread_mutex_t order_lock = PTHREAD_MUTEX_INITIALIZER;

struct job {
	int id;
	int ret;
	volatile int *gate;          /* spin until *gate (bounded) when set */
	int ran;
};

static int run_job(void *arg)
{
	struct job *j = arg;

	if (j->gate)
		for (long i = 0; i < 2000000000L && !__atomic_load_n(j->gate, __ATOMIC_ACQUIRE); i++)
			;
	pthread_mutex_lock(&order_lock);
	order[norder++] = j->id;
	pthread_mutex_unlock(&order_lock);
	__atomic_store_n(&j->ran, 1, __ATOMIC_RELEASE);
	return j->ret;
}

static void test_order(void)
{
	static struct job jobs[NJOBS];
	struct ms_hpbatch b = { 0 };
	struct ms_hashpool *p = ms_hashpool_new(1, 8);
	int in_order = 1, all = 1;

	ok(p != NULL, "a pool of one worker");
	if (!p)
		return;
	norder = 0;
	for (int i = 0; i < NJOBS; i++) {
		jobs[i] = (struct job){ .id = i };
		if (ms_hashpool_submit(p, &b, run_job, &jobs[i]))
			all = 0;
	}
	ok(all, "%d jobs queued through a queue of 8", NJOBS);
	is_int(ms_hashpool_wait(p, &b), 0, "a batch without errors waits to 0");
	is_int(norder, NJOBS, "every job ran before wait returned");
	for (int i = 0; i < norder; i++)
		if (order[i] != i)
			in_order = 0;
	ok(in_order, "one worker runs the jobs in the order they were queued");
	ms_hashpool_free(p);
}

static void test_errors(void)
{
	static struct job jobs[64];
	struct ms_hpbatch b = { 0 };
	struct ms_hashpool *p = ms_hashpool_new(3, 4);
	int ran = 0;

	ok(p != NULL, "a pool of three workers");
	if (!p)
		return;
	norder = 0;
	for (int i = 0; i < 64; i++) {
		jobs[i] = (struct job){ .id = i, .ret = i == 17 ? -EIO : 0 };
		ms_hashpool_submit(p, &b, run_job, &jobs[i]);
	}
	is_int(ms_hashpool_wait(p, &b), -EIO, "a failed job's error comes back from wait");
	for (int i = 0; i < 64; i++)
		ran += jobs[i].ran;
	is_int(ran, 64, "the other jobs of the batch ran too");
	is_int(ms_hashpool_wait(p, &b), 0, "the error is reported once; the batch is reusable");
	/* a second batch on the same pool, with two errors: the first one wins */
	jobs[0] = (struct job){ .id = 0, .ret = -ENOSPC };
	ms_hashpool_submit(p, &b, run_job, &jobs[0]);
	is_int(ms_hashpool_wait(p, &b), -ENOSPC, "a later batch reports its own error");
	ms_hashpool_free(p);

	/* NULL pool: inline, same contract */
	jobs[1] = (struct job){ .id = 1, .ret = -EPIPE };
	is_int(ms_hashpool_submit(NULL, &b, run_job, &jobs[1]), 0, "inline submit");
	is_int(jobs[1].ran, 1, "a NULL pool runs the job at once");
	is_int(ms_hashpool_wait(NULL, &b), -EPIPE, "and keeps its error for wait");
	errno = 0;
	ok(ms_hashpool_new(0, 4) == NULL && errno == EINVAL, "no workers: EINVAL");
	ok(ms_hashpool_new(2, 0) == NULL && errno == EINVAL, "no queue: EINVAL");
}

/* Free with work queued: the first job holds the only worker until the
 * rest are queued, then the pool is freed; every job still runs. */
struct freer {
	struct ms_hashpool *p;
	volatile int *gate;
};

static void *open_gate(void *arg)
{
	struct freer *f = arg;

	/* give ms_hashpool_free a moment to start waiting: not needed for
	 * correctness (free runs the queue either way) */
	for (volatile long i = 0; i < 1000000L; i++)
		;
	__atomic_store_n(f->gate, 1, __ATOMIC_RELEASE);
	return NULL;
}

static void test_shutdown(void)
{
	static struct job jobs[16];
	static volatile int gate;
	struct ms_hpbatch b = { 0 };
	struct ms_hashpool *p = ms_hashpool_new(1, 16);
	struct freer f = { p, &gate };
	pthread_t t;
	int ran = 0;

	ok(p != NULL, "a pool for the shutdown case");
	if (!p)
		return;
	gate = 0;
	norder = 0;
	jobs[0] = (struct job){ .id = 0, .gate = &gate };
	ms_hashpool_submit(p, &b, run_job, &jobs[0]);
	for (int i = 1; i < 16; i++) {
		jobs[i] = (struct job){ .id = i };
		ms_hashpool_submit(p, &b, run_job, &jobs[i]);
	}
	for (int i = 0; i < 16; i++)
		ran += __atomic_load_n(&jobs[i].ran, __ATOMIC_ACQUIRE);
	is_int(ran, 0, "nothing ran while the first job holds the worker");
	pthread_create(&t, NULL, open_gate, &f);
	ms_hashpool_free(p);
	pthread_join(t, NULL);
	ran = 0;
	for (int i = 0; i < 16; i++)
		ran += jobs[i].ran;
	is_int(ran, 16, "freeing the pool ran the 15 jobs still queued");
	is_int(norder, 16, "each exactly once");
}

static void test_default(void)
{
	setenv("MEMSYNC_HASH_THREADS", "0", 1);
	is_int(ms_hashpool_default_threads(), 0, "MEMSYNC_HASH_THREADS=0: no workers");
	ok(ms_hashpool_for(100) == NULL, "and no pool for a transfer");
	setenv("MEMSYNC_HASH_THREADS", "3", 1);
	is_int(ms_hashpool_default_threads(), 3, "MEMSYNC_HASH_THREADS=3");
	ok(ms_hashpool_for(1) == NULL, "a transfer of one job gets no pool");
	struct ms_hashpool *p = ms_hashpool_for(2);

	is_int(ms_hashpool_threads(p), 1, "two jobs: one worker, never more than useful");
	ms_hashpool_free(p);
	unsetenv("MEMSYNC_HASH_THREADS");
	ok(ms_hashpool_default_threads() <= MS_HASHPOOL_MAX_DEFAULT, "the default is capped");
}

/* write_hash: entries of mixed lengths hashed by workers equal the ones
 * hashed one by one, with and without workers. */
static void test_whash(const char *threads)
{
	const size_t cs = 65536, nent = 100;
	size_t total = nent * cs - 1000;       /* the last entry is partial */
	uint8_t *src = malloc(total);
	struct ms_commit_ent *e = calloc(nent, sizeof(*e));
	struct ms_whash w;
	uint64_t x = 88172645463325252ull;
	int same = 1;

	if (!src || !e) {
		ok(0, "out of memory");
		free(src);
		free(e);
		return;
	}
	setenv("MEMSYNC_HASH_THREADS", threads, 1);
	for (size_t i = 0; i < total; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		src[i] = (uint8_t)x;
	}
	for (size_t i = 0; i < nent; i++) {
		e[i].off = 4096 + i * cs;      /* the entries' region offsets */
		e[i].len = i + 1 < nent ? cs : total - i * cs;
	}
	ms_whash_begin(&w, nent, total);
	ok(strcmp(threads, "0") ? w.pool != NULL : w.pool == NULL,
	   "MEMSYNC_HASH_THREADS=%s: %s", threads, strcmp(threads, "0") ? "a pool" : "inline");
	/* two calls, as write_pieces makes one per piece */
	ms_whash_add(&w, src, e, 37);
	ms_whash_add(&w, src + 37 * cs, e + 37, nent - 37);
	ms_whash_go(&w);
	ms_whash_end(&w);
	ok(w.pool == NULL && w.jobs == NULL, "end frees the workers");
	for (size_t i = 0; i < nent; i++) {
		uint8_t h[MS_HASH_LEN];

		ms_chunk_hash(src + i * cs, e[i].len, h);
		if (memcmp(h, e[i].hash, MS_HASH_LEN))
			same = 0;
	}
	ok(same, "MEMSYNC_HASH_THREADS=%s: every entry's hash equals ms_chunk_hash of its bytes",
	   threads);
	unsetenv("MEMSYNC_HASH_THREADS");
	free(src);
	free(e);
}

/* A sync's batch: one add per single-entry piece, pieces of 4 KiB to
 * 60 KiB; the entries share jobs and every hash is right. */
static void test_whash_small(void)
{
	const size_t n = 400;
	size_t total = 0, at = 0;
	struct ms_commit_ent *e = calloc(n, sizeof(*e));
	uint8_t *src;
	struct ms_whash w;
	int same = 1;

	for (size_t i = 0; i < n; i++)
		total += 4096 * (1 + i % 15);
	src = malloc(total);
	if (!src || !e) {
		ok(0, "out of memory");
		free(src);
		free(e);
		return;
	}
	for (size_t i = 0; i < total; i++)
		src[i] = (uint8_t)(i * 2654435761u >> 13);
	setenv("MEMSYNC_HASH_THREADS", "1", 1);
	ms_whash_begin(&w, n, total);
	ok(w.pool != NULL, "small pieces: a pool for %zu bytes", total);
	for (size_t i = 0; i < n; i++) {
		e[i].off = 1ull << 40 | (uint64_t)at;
		e[i].len = 4096 * (1 + i % 15);
		ms_whash_add(&w, src + at, e + i, 1);
		at += e[i].len;
	}
	ok(w.njobs < n / 4, "small pieces: %zu entries in %zu jobs", n, w.njobs + 1);
	ms_whash_go(&w);
	ms_whash_end(&w);
	at = 0;
	for (size_t i = 0; i < n; i++) {
		uint8_t h[MS_HASH_LEN];

		ms_chunk_hash(src + at, e[i].len, h);
		if (memcmp(h, e[i].hash, MS_HASH_LEN))
			same = 0;
		at += e[i].len;
	}
	ok(same, "small pieces: every entry's hash equals ms_chunk_hash of its bytes");
	unsetenv("MEMSYNC_HASH_THREADS");
	free(src);
	free(e);
}

int main(void)
{
	test_order();
	test_errors();
	test_shutdown();
	test_default();
	test_whash("0");
	test_whash("2");
	test_whash_small();
	return tap_done();
}
