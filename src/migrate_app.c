/* SPDX-License-Identifier: Apache-2.0 */
/*
 * migrate_app.c - application hand-over: the source's rounds, pause, final
 * sync and lease handover, and the destination's wait, take and resume
 * (memsync.h, "Application hand-over"; the design in migrate_app.h).
 *
 * Both sides see each other only through the server: the source polls the
 * region's lease until the destination holds it (or the reservation
 * lapsed), the destination polls it until it is handed to its client id.
 * Whether the destination is alive before anything is paused is asked of
 * the server too (map_probe_client: a second connection with its client
 * id is refused while it is connected).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "map_int.h"
#include "migrate_app.h"
#include "opts.h"

struct mig {
	ms_map *m;
	struct ms_migrate_app_opts o;
	struct ms_migrate_stat *st;
	uint64_t t0;
};

static uint64_t us_since(uint64_t t)
{
	return (ms_now_ns() - t) / 1000;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static void step(struct mig *g)
{
	g->st->total_us = us_since(g->t0);
	if (g->o.progress)
		g->o.progress(g->o.ud, g->st);
}

static int fail(struct mig *g, int ret, const char *fmt, ...) MS_PRINTF(3, 4);
static int fail(struct mig *g, int ret, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(g->st->error, sizeof(g->st->error), fmt, ap);
	va_end(ap);
	g->st->phase = MS_MIGRATE_FAILED;
	step(g);
	return ret;
}

static void resume(struct mig *g)
{
	if (g->o.on_after_resume)
		g->o.on_after_resume(g->o.ud);
}

static void id_hex(const uint8_t id[16], char out[33])
{
	for (int i = 0; i < 16; i++)
		snprintf(out + 2 * i, 3, "%02x", id[i]);
}

static int mig_init(struct mig *g, ms_map *m, const struct ms_migrate_app_opts *o,
		    struct ms_migrate_stat *st, struct ms_migrate_stat *own)
{
	int ret;

	g->st = st ? st : own;
	g->m = m;
	g->t0 = ms_now_ns();
	memset(g->st, 0, sizeof(*g->st));
	g->st->mode = MS_MIGRATE_PRECOPY;
	g->st->phase = MS_MIGRATE_NONE;
	if (!m)
		return fail(g, -EINVAL, "hand-over: no mapping");
	snprintf(g->st->name, sizeof(g->st->name), "%s", m->name);
	snprintf(g->st->source, sizeof(g->st->source), "%s:%s", m->host, m->port);
	g->st->size = m->size;
	g->st->chunks_total = m->nchunks;
	ret = ms_opts_take(&g->o, sizeof(g->o), MS_MIGRATE_APP_OPTS_V1, o);
	if (ret)
		return fail(g, ret, "hand-over: options not valid (opts_size)");
	if (!g->o.poll_ms)
		g->o.poll_ms = 1;
	return 0;
}

/* Is the destination connected to the server?  0, else failed. */
static int dest_alive(struct mig *g, const uint8_t dst[16], const char *when)
{
	char hex[33];
	int ret = map_probe_client(g->m, dst);

	if (!ret)
		return 0;
	id_hex(dst, hex);
	if (ret == -EHOSTDOWN)
		return fail(g, ret, "hand-over of '%s' %s: the destination (client %s) is not "
			    "connected to %s; nothing was paused, the source keeps the lease",
			    g->m->name, when, hex, g->st->source);
	return fail(g, ret, "hand-over of '%s' %s: cannot ask %s whether the destination is "
		    "connected: %s", g->m->name, when, g->st->source, strerror(-ret));
}

/* Pre-copy: syncs until one pushed little, stopped shrinking, or the
 * rounds ran out. */
static int rounds(struct mig *g)
{
	uint32_t max = g->o.max_rounds ? g->o.max_rounds : MIG_APP_ROUNDS;
	uint64_t limit = g->o.pause_bytes ? g->o.pause_bytes : MIG_APP_PAUSE_BYTES;
	uint64_t prev = UINT64_MAX;
	struct ms_map_sync_stats ss;
	int ret;

	g->st->phase = MS_MIGRATE_PRECOPYING;
	step(g);
	for (;;) {
		if (g->st->rounds >= max) {
			snprintf(g->st->end_reason, sizeof(g->st->end_reason), "max rounds");
			return 0;
		}
		ret = ms_map_sync(g->m, &ss);
		if (ret)
			return fail(g, ret, "hand-over of '%s': pre-copy round %u: %s; nothing was "
				    "paused", g->m->name, g->st->rounds + 1, ms_map_errmsg(g->m));
		g->st->rounds++;
		g->st->bytes += ss.bytes;
		step(g);
		if (ss.bytes <= limit) {
			snprintf(g->st->end_reason, sizeof(g->st->end_reason), "converged");
			return 0;
		}
		if (ss.bytes >= prev) {
			snprintf(g->st->end_reason, sizeof(g->st->end_reason),
				 "stopped shrinking");
			return 0;
		}
		prev = ss.bytes;
	}
}

/*
 * After the handover: wait until the server shows dst holding the lease
 * (0), or the reservation gone without it (lapsed: the source takes the
 * lease back and resumes: -ETIMEDOUT), or a failure.
 */
static int await_take(struct mig *g, const uint8_t dst[16], uint64_t epoch, uint64_t tp,
		      uint64_t th)
{
	struct ms_lease_info li;
	uint64_t deadline = 0, got;
	char why[512] = "";
	int ret;

	for (;;) {
		ret = map_lease_get(g->m, &li);
		if (ret)
			break;
		if (li.state == MS_LEASE_HELD && !memcmp(li.client_id, dst, 16))
			goto taken;
		if (li.state != MS_LEASE_HANDOVER)
			break;
		if (!deadline)
			deadline = th + ((uint64_t)li.ttl_ms +
					 (uint64_t)(g->o.timeout_ms > 0 ? g->o.timeout_ms :
							 MIG_APP_TAKE_SLACK_MS)) * 1000000u;
		if (ms_now_ns() > deadline)
			break;
		sleep_ms(g->o.poll_ms);
	}
	/* the reservation lapsed (or the server is gone): the lease back,
	 * unless anyone was granted it after our epoch */
	ret = map_take(g->m, epoch, &got, why, sizeof(why));
	if (!ret) {
		g->st->epoch = got;
		resume(g);
		return fail(g, -ETIMEDOUT, "hand-over of '%s': the destination did not take the "
			    "write lease before its reservation lapsed; the source took it back "
			    "(epoch %llu) and resumed", g->m->name, (unsigned long long)got);
	}
	/* the destination took it at the last moment? */
	if (!map_lease_get(g->m, &li) && li.state == MS_LEASE_HELD &&
	    !memcmp(li.client_id, dst, 16))
		goto taken;
	return fail(g, ret, "hand-over of '%s': the destination did not take the write lease "
		    "and the source cannot take it back: %s (its writers stay paused: they "
		    "cannot sync)", g->m->name, why);
taken:
	g->st->handoff_us = us_since(th);
	g->st->downtime_us = us_since(tp);
	g->st->epoch = li.epoch;
	return 0;
}

int ms_migrate_app_source(ms_map *m, const uint8_t dst_id[16],
			  const struct ms_migrate_app_opts *o, struct ms_migrate_stat *st)
{
	struct ms_migrate_stat own;
	struct ms_map_sync_stats ss;
	struct map_sync_times tt;
	uint64_t epoch, new_epoch, tp, th;
	char why[512] = "";
	uint8_t me[16];
	struct mig g;
	int ret;

	if ((ret = mig_init(&g, m, o, st, &own)))
		return ret;
	if (!dst_id)
		return fail(&g, -EINVAL, "hand-over: no destination client id");
	if (!m->writable || !atomic_load(&m->leased))
		return fail(&g, -EACCES, "hand-over of '%s': the mapping does not hold the "
			    "write lease", m->name);
	if (!ms_map_client_id(m, me) && !memcmp(me, dst_id, 16))
		return fail(&g, -EINVAL, "hand-over of '%s': the destination is this mapping",
			    m->name);
	/* the chunks this application needed, in order, lead the hot list
	 * the destination prefetches */
	map_report_use(m);
	if ((ret = dest_alive(&g, dst_id, "before pre-copy")) || (ret = rounds(&g)) ||
	    (ret = dest_alive(&g, dst_id, "before the pause")))
		return ret;

	g.st->phase = MS_MIGRATE_SWITCHING;
	tp = ms_now_ns();
	if (g.o.on_before_pause && g.o.on_before_pause(g.o.ud)) {
		resume(&g);
		return fail(&g, -ECANCELED, "hand-over of '%s': on_before_pause refused; the "
			    "source resumed and keeps the lease", m->name);
	}
	g.st->pause_us = us_since(tp);
	step(&g);
	ret = map_sync_timed(m, &ss, &tt);
	if (ret) {
		resume(&g);
		return fail(&g, ret, "hand-over of '%s': the final sync: %s; the source resumed "
			    "and keeps the lease", m->name, ms_map_errmsg(m));
	}
	g.st->final_collect_us = tt.collect_ns / 1000;
	g.st->final_xfer_us = tt.xfer_ns / 1000;
	g.st->commit_us = tt.commit_ns / 1000;
	g.st->bytes += ss.bytes;
	epoch = map_epoch(m);
	th = ms_now_ns();
	ret = map_handover(m, dst_id, &new_epoch, why, sizeof(why));
	if (ret) {
		resume(&g);
		return fail(&g, ret, "hand-over of '%s': the lease handover: %s; the source "
			    "resumed", m->name, why);
	}
	step(&g);
	if ((ret = await_take(&g, dst_id, epoch, tp, th)))
		return ret;
	g.st->phase = MS_MIGRATE_DONE;
	step(&g);
	return 0;
}

int ms_migrate_app_dest(ms_map *m, const struct ms_migrate_app_opts *o,
			struct ms_migrate_stat *st)
{
	struct ms_migrate_stat own;
	struct ms_lease_info li;
	uint64_t deadline, next_hot = 0, hot, epoch, changed = 0, tg, local;
	uint8_t me[16];
	char why[512] = "";
	struct mig g;
	int ret, wait;

	if ((ret = mig_init(&g, m, o, st, &own)))
		return ret;
	if (!m->writable || !m->mo.standby || atomic_load(&m->leased) ||
	    ms_map_client_id(m, me))
		return fail(&g, -EINVAL, "hand-over of '%s': the destination needs a standby "
			    "mapping that does not hold the lease yet", m->name);
	wait = g.o.timeout_ms ? g.o.timeout_ms : MIG_APP_DEST_WAIT_MS;
	deadline = wait < 0 ? UINT64_MAX : g.t0 + (uint64_t)wait * 1000000u;
	g.st->phase = MS_MIGRATE_PRECOPYING;
	step(&g);
	for (;;) {
		/* the source's use report and commits reorder the hot list:
		 * its chunks are prefetched first */
		if (ms_now_ns() >= next_hot) {
			(void)map_adopt_hot(m, &hot);
			next_hot = ms_now_ns() + MIG_APP_HOT_EVERY_MS * 1000000ull;
		}
		ret = map_lease_get(m, &li);
		if (ret)
			return fail(&g, ret, "hand-over of '%s': asking for the lease: %s", m->name,
				    ms_client_errmsg(m->sw.c));
		if (li.state == MS_LEASE_HANDOVER && !memcmp(li.client_id, me, 16))
			break;
		if (ms_now_ns() > deadline)
			return fail(&g, -ETIMEDOUT, "hand-over of '%s': the lease was not handed to "
				    "this client within %d ms", m->name, wait);
		sleep_ms(g.o.poll_ms);
	}
	tg = ms_now_ns();
	g.st->phase = MS_MIGRATE_SWITCHING;
	ret = map_take(m, li.epoch, &epoch, why, sizeof(why));
	if (ret)
		return fail(&g, ret, "hand-over of '%s': taking the handed-over lease: %s",
			    m->name, why);
	g.st->handoff_us = us_since(tg);
	g.st->epoch = epoch;
	/* what the source's last syncs changed goes (pulled again on touch) */
	ret = ms_map_refresh(m, &changed);
	if (ret)
		return fail(&g, ret, "hand-over of '%s': the lease is held (epoch %llu) but "
			    "dropping the chunks that changed failed: %s", m->name,
			    (unsigned long long)epoch, ms_map_errmsg(m));
	atomic_store(&m->resume_ns, ms_now_ns());
	resume(&g);
	g.st->downtime_us = us_since(tg);
	/* the hot list as the source left it (outside the downtime): its
	 * chunks that are not local, the dropped ones among them, first */
	(void)map_adopt_hot(m, &hot);
	local = atomic_load(&m->nlocal);
	g.st->bytes = local * m->chunk;
	g.st->chunks_missing = m->nchunks - local;
	g.st->phase = MS_MIGRATE_DONE;
	ms_migrate_app_dest_stat(m, g.st);
	step(&g);
	return 0;
}

void ms_migrate_app_dest_stat(const ms_map *m, struct ms_migrate_stat *st)
{
	struct ms_map_fault_stat fs;

	ms_map_fault_stat(m, &fs);
	st->first_fault_us = fs.first_after_resume_us;
	st->faults = fs.faults;
	memcpy(st->fault_hist, fs.hist, sizeof(st->fault_hist));
}

void ms_migrate_app_merge(struct ms_migrate_stat *src, const struct ms_migrate_stat *dst)
{
	/* the source's downtime ends when the server grants the take; what
	 * the destination did after that (the drop, its resume) adds to it */
	uint64_t after = dst->downtime_us > dst->handoff_us ?
			 dst->downtime_us - dst->handoff_us : 0;

	src->downtime_us += after;
	src->total_us += after;
	src->first_fault_us = dst->first_fault_us;
	src->faults = dst->faults;
	memcpy(src->fault_hist, dst->fault_hist, sizeof(src->fault_hist));
	src->chunks_missing = dst->chunks_missing;
}
