/* SPDX-License-Identifier: Apache-2.0 */
/*
 * migrate_in.c - the thread that moves a region from its source server A
 * into this one (B), as A's client (docs/migration.md):
 *
 *  1. pre-copy (precopy, hybrid): copy every chunk while A serves and
 *     writers commit there, then rounds that copy again the chunks whose
 *     generation moved, until what is left would move within the downtime
 *     target ("converged"), stops shrinking, or max_rounds;
 *  2. switch: FREEZE (A holds commits back: writers wait), read A's table,
 *     then precopy/stopcopy copy what differs, hybrid/postcopy flag it
 *     ABSENT here instead; take A's generation and epochs, HANDOFF (A
 *     fences its writer and redirects): B owns the region at A's last
 *     epoch + 1 and opens it to clients;
 *  3. post-copy: copy the ABSENT chunks, those clients wait for first
 *     (FETCH, commits: server_migrate.c), from A, which keeps serving
 *     this connection; then MIGRATED lets A go.
 *
 * Every copied chunk is checked against A's hash before it is published
 * here (ms_region_install).  Until the handoff a failure or an abort
 * leaves A as it was (A thaws when this connection ends) and removes the
 * copy here; after it, a chunk that cannot be fetched stays ABSENT and
 * whoever needs it gets an error, never its unfilled bytes.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client_int.h"
#include "migrate_in.h"

#define SLICE (64ull << 20)          /* pre-copy: bytes per pull */
#define BG_RUN (4ull << 20)          /* post-copy: background bytes per pull */
#define FAULT_RUN 4                  /* post-copy: chunks per client-asked pull */
#define FREEZE_MS 30000u
#define SOURCE_TIMEOUT_MS 10000
#define RECONNECT_MS 60000           /* post-copy: how long A may be away */

struct mctx {
	struct mig_in *m;
	ms_client *c;
	ms_region *ar;
	ms_mem *mem;
	struct ms_export *e;
	struct ms_rregion *r;
	uint64_t nch;
	uint64_t *bgen;              /* generation copied here, 0: not yet */
	uint8_t *meta;               /* A's table (final collect) */
	uint64_t *gens;              /* scratch per run */
	uint8_t *hashes;
	uint64_t bw_t0, bw_bytes;    /* max_bandwidth accounting */
	char err[512];
};

static uint64_t us_since(uint64_t t0)
{
	return (ms_now_ns() - t0) / 1000;
}

static bool aborted(struct mig_in *m)
{
	bool a;

	pthread_mutex_lock(&m->lock);
	a = m->abort;
	pthread_mutex_unlock(&m->lock);
	return a || ms_mig_stopping(m);
}

/* max_bandwidth: sleep until len more bytes fit the budget since the
 * copying began (in steps, so a stop or a client's FETCH is not kept
 * waiting: FETCHed chunks are copied by this thread too, after it). */
static void throttle(struct mctx *x, uint64_t len)
{
	uint64_t due;

	if (!x->m->max_bw)
		return;
	x->bw_bytes += len;
	due = x->bw_t0 + (uint64_t)((double)x->bw_bytes * 1e9 / (double)x->m->max_bw);
	while (ms_now_ns() < due && !ms_mig_stopping(x->m)) {
		bool urgent;

		pthread_mutex_lock(&x->m->lock);
		urgent = x->m->nprio > x->m->prio_head;
		pthread_mutex_unlock(&x->m->lock);
		if (urgent)     /* clients wait: their chunks go out of budget */
			break;
		usleep((useconds_t)MS_MIN((due - ms_now_ns()) / 1000, 10000ull));
	}
}

/* Copy chunks [c0, c0+n) from A and install them here. */
static int copy_run(struct mctx *x, uint64_t c0, uint64_t n)
{
	struct ms_rregion *r = x->r;
	uint64_t off = c0 * r->chunk_size, len = MS_MIN(n * r->chunk_size, r->size - off), bad;
	int ret;

	for (int attempt = 0; attempt < 2; attempt++) {
		ret = ms_pull_gens(x->ar, off, (uint8_t *)r->mem + off, len, x->gens, x->hashes);
		if (ret) {
			snprintf(x->err, sizeof(x->err), "%s", ms_client_errmsg(x->c));
			return ret;
		}
		ret = ms_region_install(r, c0, n, x->gens, x->hashes, &bad);
		if (ret != -EIO)
			break;
		snprintf(x->err, sizeof(x->err), "chunk %llu did not match the source's hash "
			 "after the copy", (unsigned long long)bad);
	}
	if (ret) {
		if (ret != -EIO)
			snprintf(x->err, sizeof(x->err), "installing chunks %llu..%llu: %s",
				 (unsigned long long)c0, (unsigned long long)(c0 + n - 1),
				 strerror(-ret));
		return ret;
	}
	for (uint64_t i = 0; i < n; i++)
		x->bgen[c0 + i] = x->gens[i];
	pthread_mutex_lock(&x->m->lock);
	x->m->st.bytes += len;
	pthread_mutex_unlock(&x->m->lock);
	throttle(x, len);
	return 0;
}

/* Copy every chunk i with want[i] != bgen[i] (want NULL: all), in runs. */
static int copy_changed(struct mctx *x, const uint64_t *want, bool check_abort)
{
	/* under a bandwidth cap, small runs: an abort is seen between them */
	uint64_t per = MS_MAX(1ull, (x->m->max_bw ? BG_RUN : SLICE) / x->r->chunk_size);

	for (uint64_t i = 0; i < x->nch;) {
		uint64_t n = 0;
		int ret;

		if (want && want[i] == x->bgen[i]) {
			i++;
			continue;
		}
		while (i + n < x->nch && n < per && (!want || want[i + n] != x->bgen[i + n]))
			n++;
		if (check_abort && aborted(x->m))
			return -ECANCELED;
		ret = copy_run(x, i, n);
		if (ret)
			return ret;
		i += n;
	}
	return 0;
}

static uint64_t count_changed(const struct mctx *x, const uint64_t *want)
{
	uint64_t n = 0;

	for (uint64_t i = 0; i < x->nch; i++)
		n += want[i] != x->bgen[i];
	return n;
}

static void set_phase(struct mig_in *m, enum ms_migrate_phase ph)
{
	pthread_mutex_lock(&m->lock);
	m->st.phase = ph;
	pthread_cond_broadcast(&m->cv);
	pthread_mutex_unlock(&m->lock);
}

/* Pre-copy rounds; *reason says why they ended. */
static int precopy(struct mctx *x, const char **reason)
{
	struct mig_in *m = x->m;
	uint64_t *want = malloc(x->nch * sizeof(*want)), prev = UINT64_MAX;
	double bps = 0;
	int ret = 0;

	if (!want)
		return -ENOMEM;
	*reason = "max rounds";
	for (uint32_t round = 1; round <= m->max_rounds; round++) {
		uint64_t t0 = ms_now_ns(), b0 = m->st.bytes, left;

		if (round == 1) {
			ret = copy_changed(x, NULL, true);
		} else {
			ret = ms_chunk_generations(x->ar, 0, want, x->nch);
			if (ret) {
				snprintf(x->err, sizeof(x->err), "%s", ms_client_errmsg(x->c));
				break;
			}
			left = count_changed(x, want);
			/* what is left fits the downtime, or rounds no longer help */
			if (bps > 0 && (double)left * x->r->chunk_size / bps * 1000.0 <=
					       (double)m->downtime_ms) {
				*reason = "converged";
				break;
			}
			if (left >= prev) {
				*reason = "stopped shrinking";
				break;
			}
			prev = left;
			ret = copy_changed(x, want, true);
		}
		if (ret)
			break;
		pthread_mutex_lock(&m->lock);
		m->st.rounds = round;
		pthread_mutex_unlock(&m->lock);
		if (ms_now_ns() > t0)
			bps = (double)(m->st.bytes - b0) * 1e9 / (double)(ms_now_ns() - t0);
	}
	free(want);
	return ret;
}

/* Did A answer that it handed the region to this server's address? */
static bool handed_to_us(struct mctx *x, uint64_t *epoch)
{
	const char *h, *p;

	return ms_client_moved_to(x->c, &h, &p, epoch) && strcmp(h, x->m->adv_host) == 0 &&
	       strcmp(p, x->m->adv_port) == 0;
}

/* The switch: FREEZE, last changes, HANDOFF.  0 once B owns the region. */
static int switch_over(struct mctx *x)
{
	struct mig_in *m = x->m;
	bool post = m->mode == MS_MIGRATE_HYBRID || m->mode == MS_MIGRATE_POSTCOPY;
	uint64_t t0 = ms_now_ns(), t, gen_a = 0, epoch_a = 0, gen2, nabsent = 0;
	uint64_t *want = malloc(x->nch * sizeof(*want));
	bool resumed = false;
	int ret;

	if (!want)
		return -ENOMEM;
	if (aborted(m)) {
		snprintf(x->err, sizeof(x->err), "aborted on request");
		ret = -ECANCELED;
		goto out;
	}
	set_phase(m, MS_MIGRATE_SWITCHING);
	ret = ms_region_freeze(x->ar, FREEZE_MS, &gen_a, &epoch_a);
	if (ret == -EREMCHG && handed_to_us(x, &epoch_a)) {
		/* resumed: A handed it to this address before (a destination
		 * that restarted): A's copy is final, no handoff again; above
		 * every epoch the lost destination may have granted */
		resumed = true;
		epoch_a += 1;
		ret = 0;
		ms_srv_log(m->s, MS_LOG_WARN, "'%s': %s:%s handed it to this address before: "
			   "resuming from its copy (what was committed here since is lost), "
			   "epochs from %llu", m->name, m->host, m->port,
			   (unsigned long long)(epoch_a + 1));
	}
	if (ret) {
		snprintf(x->err, sizeof(x->err), "%s", ms_client_errmsg(x->c));
		goto out;
	}
	m->st.pause_us = us_since(t0);
	t = ms_now_ns();
	ret = ms_chunk_meta(x->ar, 0, x->nch, x->meta);
	if (ret) {
		snprintf(x->err, sizeof(x->err), "%s", ms_client_errmsg(x->c));
		goto thaw;
	}
	if (resumed)
		gen_a = ms_region_generation(x->r);
	for (uint64_t i = 0; resumed && i < x->nch; i++)
		gen_a = MS_MAX(gen_a, ms_meta_gen(x->meta, i));
	for (uint64_t i = 0; i < x->nch; i++)
		want[i] = ms_meta_gen(x->meta, i);
	m->st.final_collect_us = us_since(t);
	t = ms_now_ns();
	if (!post) {
		ret = copy_changed(x, want, false);
		if (ret)
			goto thaw;
	} else {
		pthread_mutex_lock(&m->lock);
		for (uint64_t i = 0; i < x->nch; i++)
			if (want[i] != x->bgen[i]) {
				m->state[i] = CH_ABSENT;
				nabsent++;
			}
		m->st.chunks_missing = nabsent;
		pthread_mutex_unlock(&m->lock);
		/* runs of absent chunks, one region lock each */
		for (uint64_t i = 0, n; i < x->nch; i += n ? n : 1) {
			for (n = 0; i + n < x->nch && m->state[i + n] == CH_ABSENT; n++)
				;
			if (n)
				ms_region_mark_absent(x->r, i, n,
						      x->meta + i * MS_META_ENTRY_SIZE);
		}
	}
	m->st.final_xfer_us = us_since(t);
	t = ms_now_ns();
	ms_region_set_generation(x->r, gen_a);
	pthread_mutex_lock(&x->e->lock);
	/* the next writer here gets epoch_a + 1: above every grant of A */
	x->e->lease.epoch = MS_MAX(x->e->lease.epoch, epoch_a);
	pthread_mutex_unlock(&x->e->lock);
	/* a file region keeps its epoch, and its ABSENT chunks, across a
	 * restart of this server (which then refuses to serve them) */
	if (x->r->store && ((ret = ms_rstore_set_epoch(x->r->store, epoch_a)) != 0 ||
			    (ret = ms_rstore_applied(x->r->store, x->r, gen_a,
						     &(struct ms_commit_ent){ .len = x->r->size },
						     1)) != 0)) {
		snprintf(x->err, sizeof(x->err), "persisting epoch %llu and the table: %s",
			 (unsigned long long)epoch_a, ms_rstore_errmsg(x->r->store));
		goto thaw;
	}
	m->st.commit_us = us_since(t);
	if (aborted(m)) {
		ret = -ECANCELED;
		snprintf(x->err, sizeof(x->err), "aborted on request");
		goto thaw;
	}
	t = ms_now_ns();
	ret = resumed ? 0 : ms_region_handoff(x->ar, epoch_a + 1, m->adv_host, m->adv_port, &gen2);
	if (ret) {
		/* A thaws when this connection ends, had it not moved */
		snprintf(x->err, sizeof(x->err), "handoff: %s", ms_client_errmsg(x->c));
		goto out;
	}
	pthread_mutex_lock(&m->lock);
	m->st.handoff_us = us_since(t);
	m->st.epoch = epoch_a + 1;
	m->owned = true;
	m->t_owned = ms_now_ns();
	m->st.downtime_us = us_since(t0);
	m->st.phase = nabsent ? MS_MIGRATE_POSTCOPYING : MS_MIGRATE_DONE;
	pthread_cond_broadcast(&m->cv);
	pthread_mutex_unlock(&m->lock);
	ms_srv_log(m->s, MS_LOG_INFO,
		   "'%s' is owned here from epoch %llu (downtime %.3f ms, %llu chunk(s) to "
		   "fetch from %s:%s)", m->name, (unsigned long long)(epoch_a + 1),
		   (double)m->st.downtime_us / 1000.0, (unsigned long long)nabsent, m->host,
		   m->port);
	free(want);
	return 0;
thaw:
	if (!resumed && ms_region_thaw(x->ar))
		ms_srv_log(m->s, MS_LOG_WARN, "thaw of '%s' at %s:%s failed (it thaws when "
			   "this connection ends): %s", m->name, m->host, m->port,
			   ms_client_errmsg(x->c));
out:
	free(want);
	return ret;
}

/* Next chunks to fetch in post-copy: a run of ABSENT chunks, those a
 * client waits for first; marked FETCHING.  false when none is left. */
static bool next_run(struct mctx *x, uint64_t *cur, uint64_t *c0, uint64_t *n)
{
	struct mig_in *m = x->m;
	uint64_t max = MS_MAX(1ull, BG_RUN / x->r->chunk_size), i = x->nch;

	pthread_mutex_lock(&m->lock);
	while (m->prio_head < m->nprio && i == x->nch) {
		uint64_t k = m->prio[m->prio_head++];

		if (m->prio_head == m->nprio)
			m->prio_head = m->nprio = 0;
		if (m->state[k] == CH_ABSENT) {
			i = k;
			max = FAULT_RUN;
		}
	}
	for (uint64_t k = 0; i == x->nch && k < x->nch; k++) {
		uint64_t j = (*cur + k) % x->nch;

		if (m->state[j] == CH_ABSENT)
			i = j;
	}
	if (i == x->nch) {
		pthread_mutex_unlock(&m->lock);
		return false;
	}
	*c0 = i;
	for (*n = 0; i + *n < x->nch && *n < max && m->state[i + *n] == CH_ABSENT; (*n)++)
		m->state[i + *n] = CH_FETCHING;
	*cur = i + *n;
	pthread_mutex_unlock(&m->lock);
	return true;
}

static void run_done(struct mctx *x, uint64_t c0, uint64_t n, bool ok)
{
	struct mig_in *m = x->m;

	pthread_mutex_lock(&m->lock);
	for (uint64_t i = c0; i < c0 + n; i++)
		m->state[i] = ok ? CH_HERE : CH_ABSENT;
	if (ok)
		m->st.chunks_missing -= n;
	ms_mig_answer_waits(m, 0, NULL);
	pthread_cond_broadcast(&m->cv);
	pthread_mutex_unlock(&m->lock);
}

/* A is away: connect again (it may have restarted) for up to RECONNECT_MS. */
static int source_again(struct mctx *x)
{
	struct ms_client_opts co = { .opts_size = sizeof(co), .transport = x->m->transport,
				     .timeout_ms = SOURCE_TIMEOUT_MS, .key_file = x->m->s->key_file };
	uint64_t deadline = ms_now_ns() + RECONNECT_MS * 1000000ull;
	char err[256];
	bool fatal = false;
	int ret = -ENOTCONN;

	/* a source that restarts may listen before its regions are back
	 * (ENOENT meanwhile): only a changed geometry ends the tries */
	while (ms_now_ns() < deadline && !ms_mig_stopping(x->m)) {
		ret = ms_client_reconnect(x->c, &co, 2000, &fatal, err, sizeof(err));
		if (!ret)
			return 0;
		snprintf(x->err, sizeof(x->err), "%s", err);
		if (fatal && ret == -ESTALE)
			break;
		usleep(200000);
	}
	return ret;
}

static int postcopy(struct mctx *x)
{
	uint64_t cur = 0, c0, n;
	int ret;

	while (next_run(x, &cur, &c0, &n)) {
		if (ms_mig_stopping(x->m)) {
			run_done(x, c0, n, false);
			snprintf(x->err, sizeof(x->err), "the server is stopping");
			return -ESHUTDOWN;
		}
		ret = copy_run(x, c0, n);
		if (ret && !ms_client_connected(x->c) && !source_again(x))
			ret = copy_run(x, c0, n);
		run_done(x, c0, n, !ret);
		if (ret)
			return ret;
	}
	return 0;
}

static int setup(struct mctx *x)
{
	struct mig_in *m = x->m;
	struct ms_client_opts co = { .opts_size = sizeof(co), .transport = m->transport,
				     .timeout_ms = SOURCE_TIMEOUT_MS, .have_client_id = true,
				     .key_file = m->s->key_file };
	struct ms_export_opts eo = { .opts_size = sizeof(eo) };
	struct ms_region_info ri;
	char err[384];

	memcpy(co.client_id, m->client_id, 16);
	x->c = ms_connect(m->host, m->port, &co, err, sizeof(err));
	if (!x->c) {
		snprintf(x->err, sizeof(x->err), "%s", err);
		return -errno;
	}
	x->ar = ms_open(x->c, m->name, MS_MODE_READ);
	if (!x->ar) {
		snprintf(x->err, sizeof(x->err), "%s", ms_client_errmsg(x->c));
		return -errno;
	}
	ms_region_info(x->ar, &ri);
	eo.name = m->name;
	eo.size = ri.size;
	eo.chunk_size = ri.chunk_size;
	eo.backing = m->path[0] ? MS_BACKING_FILE : MS_BACKING_ANON;
	eo.path = m->path[0] ? m->path : NULL;
	eo.commit = ri.commit_mode;
	x->e = ms_srv_add_export(m->s, &eo, m);
	if (!x->e) {
		int e = errno;

		snprintf(x->err, sizeof(x->err), "%s", ms_server_errmsg(m->s));
		return -e;
	}
	x->r = x->e->r;
	x->nch = x->r->nchunks;
	x->bgen = calloc(x->nch, sizeof(*x->bgen));
	x->meta = malloc(x->nch * MS_META_ENTRY_SIZE);
	x->gens = malloc(MS_MAX(SLICE / x->r->chunk_size, 1ull) * sizeof(*x->gens));
	x->hashes = malloc(MS_MAX(SLICE / x->r->chunk_size, 1ull) * MS_HASH_LEN);
	pthread_mutex_lock(&m->lock);
	m->e = x->e;
	m->nchunks = x->nch;
	m->state = calloc(x->nch, 1);
	m->st.size = x->r->size;
	m->st.chunks_total = x->nch;
	pthread_mutex_unlock(&m->lock);
	if (!x->bgen || !x->meta || !x->gens || !x->hashes || !m->state) {
		snprintf(x->err, sizeof(x->err), "out of memory");
		return -ENOMEM;
	}
	/* pulls land in the region itself: one registration for all */
	x->bw_t0 = ms_now_ns();
	x->mem = ms_mem_register(x->c, x->r->mem, x->r->size);
	if (!x->mem) {
		snprintf(x->err, sizeof(x->err), "%s", ms_client_errmsg(x->c));
		return -errno;
	}
	return 0;
}

void *ms_mig_main(void *arg)
{
	struct mctx x = { .m = arg };
	struct mig_in *m = x.m;
	const char *reason = "post-copy";
	bool owned = false;
	int ret;

	ret = setup(&x);
	if (!ret && (m->mode == MS_MIGRATE_PRECOPY || m->mode == MS_MIGRATE_HYBRID))
		ret = precopy(&x, &reason);
	else if (!ret && m->mode == MS_MIGRATE_STOPCOPY)
		reason = "stop-and-copy";
	if (!ret) {
		pthread_mutex_lock(&m->lock);
		snprintf(m->st.end_reason, sizeof(m->st.end_reason), "%s", reason);
		pthread_mutex_unlock(&m->lock);
		ret = switch_over(&x);
		owned = !ret;
	}
	if (!ret)
		ret = postcopy(&x);
	if (!ret) {
		ret = ms_region_migrated(x.ar);
		if (ret)        /* B has it all; A keeps its copy until told */
			ms_srv_log(m->s, MS_LOG_WARN, "'%s': telling %s:%s it may let go failed: %s",
				   m->name, m->host, m->port, ms_client_errmsg(x.c));
		ret = 0;
	}
	if (x.mem)
		ms_mem_unregister(x.mem);
	x.mem = NULL;
	if (x.c)
		ms_disconnect(x.c);     /* closes x.ar too; A thaws if it froze */
	x.c = NULL;
	/* before the switch nothing here is anyone's: the copy goes, then
	 * the failure is told */
	if (ret && !owned && x.e && ms_server_unexport(m->s, m->name))
		ms_srv_log(m->s, MS_LOG_WARN, "'%s': the partial copy stays (unexport failed)",
			   m->name);
	if (ret) {
		if (ret == -ECANCELED && !x.err[0])
			snprintf(x.err, sizeof(x.err), "aborted on request");
		ms_mig_fail(m, ret, "%s", x.err[0] ? x.err : strerror(-ret));
	} else {
		pthread_mutex_lock(&m->lock);
		m->st.phase = MS_MIGRATE_DONE;
		m->st.total_us = us_since(m->t_start);
		__atomic_store_n(&m->ended, true, __ATOMIC_RELEASE);
		pthread_cond_broadcast(&m->cv);
		pthread_mutex_unlock(&m->lock);
		ms_srv_log(m->s, MS_LOG_INFO, "migration of '%s' from %s:%s done: %llu bytes in "
			   "%.1f ms, downtime %.3f ms", m->name, m->host, m->port,
			   (unsigned long long)m->st.bytes, (double)m->st.total_us / 1000.0,
			   (double)m->st.downtime_us / 1000.0);
	}
	free(x.bgen);
	free(x.meta);
	free(x.gens);
	free(x.hashes);
	return NULL;
}
