/* SPDX-License-Identifier: Apache-2.0 */
/*
 * write_hash.c - commit hashes of a write beside its WRITEs (write_hash.h).
 */
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "write_hash.h"

static int whash_job(void *arg)
{
	const struct ms_whash_job *j = arg;

	for (size_t i = 0; i < j->n; i++)
		ms_chunk_hash(j->src + (j->e[i].off - j->e[0].off), j->e[i].len, j->e[i].hash);
	return 0;
}

void ms_whash_begin(struct ms_whash *w, size_t nents, uint64_t bytes)
{
	size_t want = (size_t)((bytes + MS_WHASH_JOB_BYTES - 1) / MS_WHASH_JOB_BYTES);

	memset(w, 0, sizeof(*w));
	if (want < 2 || !nents)
		return;                 /* one job: nothing to overlap it with */
	/* a job per MS_WHASH_JOB_BYTES, and one more per piece at most */
	w->cap = want + nents;
	if (w->cap > 2 * want + 64)
		w->cap = 2 * want + 64;
	w->jobs = calloc(w->cap, sizeof(*w->jobs));
	if (!w->jobs)
		goto inline_only;
	{
		unsigned n = ms_hashpool_default_threads();

		if (n > want - 1)
			n = (unsigned)(want - 1);
		/* the whole write's jobs fit in the queue: queueing them
		 * never waits for a worker, so the WRITEs start at once */
		w->pool = n ? ms_hashpool_new(n, w->cap) : NULL;
	}
	if (w->pool)
		return;
inline_only:
	free(w->jobs);
	w->jobs = NULL;
	w->cap = 0;
}

void ms_whash_add(struct ms_whash *w, const uint8_t *src, struct ms_commit_ent *e, size_t n)
{
	size_t i = 0;

	while (i < n) {
		size_t k = i;
		uint64_t sum = 0;

		while (k < n && (k == i || sum + e[k].len <= MS_WHASH_JOB_BYTES))
			sum += e[k++].len;
		struct ms_whash_job j = { src + (e[i].off - e[0].off), e + i, k - i };

		if (w->pool && w->njobs < w->cap) {
			w->jobs[w->njobs] = j;
			if (!ms_hashpool_submit(w->pool, &w->b, whash_job, &w->jobs[w->njobs])) {
				w->njobs++;
				i = k;
				continue;
			}
		}
		(void)whash_job(&j);
		i = k;
	}
}

void ms_whash_end(struct ms_whash *w)
{
	if (w->pool) {
		(void)ms_hashpool_wait(w->pool, &w->b);
		ms_hashpool_free(w->pool);
	}
	free(w->jobs);
	memset(w, 0, sizeof(*w));
}
