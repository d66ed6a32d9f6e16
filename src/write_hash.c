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
		ms_chunk_hash(j->src[i], j->e[i].len, j->e[i].hash);
	return 0;
}

void ms_whash_begin(struct ms_whash *w, size_t nents, uint64_t bytes)
{
	size_t want = (size_t)((bytes + MS_WHASH_JOB_BYTES - 1) / MS_WHASH_JOB_BYTES);
	unsigned n;

	memset(w, 0, sizeof(*w));
	if (want < 2 || !nents)
		return;                 /* one job: nothing to overlap it with */
	/* a job per MS_WHASH_JOB_BYTES, one more per separate add at most */
	w->cap = want + nents;
	if (w->cap > 2 * want + 64)
		w->cap = 2 * want + 64;
	n = ms_hashpool_default_threads();
	if (n > want - 1)
		n = (unsigned)(want - 1);
	if (!n)
		goto inline_only;
	w->jobs = calloc(w->cap, sizeof(*w->jobs));
	w->src = calloc(nents, sizeof(*w->src));
	if (!w->jobs || !w->src)
		goto inline_only;
	/* the whole write's jobs fit in the queue: queueing them never
	 * waits for a worker, so the WRITEs start at once */
	w->pool = ms_hashpool_new(n, w->cap);
	if (w->pool) {
		w->nents = nents;
		return;
	}
inline_only:
	free(w->jobs);
	free(w->src);
	memset(w, 0, sizeof(*w));
}

void ms_whash_go(struct ms_whash *w)
{
	struct ms_whash_job j = w->cur;

	memset(&w->cur, 0, sizeof(w->cur));
	if (!j.n)
		return;
	if (w->pool && w->njobs < w->cap) {
		w->jobs[w->njobs] = j;
		if (!ms_hashpool_submit(w->pool, &w->b, whash_job, &w->jobs[w->njobs])) {
			w->njobs++;
			return;
		}
	}
	(void)whash_job(&j);
}

void ms_whash_add(struct ms_whash *w, const uint8_t *src, struct ms_commit_ent *e, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const uint8_t *s = src + (e[i].off - e[0].off);

		if (!w->pool || w->nsrc >= w->nents) {
			ms_chunk_hash(s, e[i].len, e[i].hash);      /* inline */
			continue;
		}
		/* a new job unless this entry follows the gathered ones */
		if (w->cur.n && (w->cur.e + w->cur.n != e + i ||
				 w->cur.bytes + e[i].len > MS_WHASH_JOB_BYTES))
			ms_whash_go(w);
		if (!w->cur.n) {
			w->cur.e = e + i;
			w->cur.src = w->src + w->nsrc;
		}
		w->src[w->nsrc++] = s;
		w->cur.n++;
		w->cur.bytes += e[i].len;
	}
}

void ms_whash_end(struct ms_whash *w)
{
	ms_whash_go(w);
	if (w->pool) {
		(void)ms_hashpool_wait(w->pool, &w->b);
		ms_hashpool_free(w->pool);
	}
	free(w->jobs);
	free(w->src);
	memset(w, 0, sizeof(*w));
}
