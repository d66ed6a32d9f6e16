/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_move.c - the source's side of a region migration and clients
 * following it.  Two in-process servers on 127.0.0.1 (TCP): A, the source,
 * and B.  The test plays the destination itself (server_migrate.c is
 * another piece): it creates the same region at B with A's bytes, and
 * from a client of A that has the region open read-only calls FREEZE,
 * THAW, HANDOFF and MIGRATED (client_int.h).  Cases:
 *
 * - freeze: a writer's sync waits (is parked) while the region is frozen
 *   and goes through after THAW, after the freeze lapses (a WARN), after
 *   the freezer disconnects (a WARN); reads go on meanwhile;
 * - handoff: the parked sync gets MOVED: the writer follows to B, takes
 *   its lease there at epoch N+1, is told its uncommitted writes were
 *   dropped (both servers named), writes again and syncs at B; the old
 *   lease at A is fenced; A's stat shows moved_to; OPEN and LEASE by name
 *   at A get MOVED (EREMCHG on a client with another region open), a
 *   fresh client's ms_open lands at B; the freezer still reads at A;
 * - push: a writer's ms_push after the handoff follows and its bytes end
 *   up at B, at epoch N+1;
 * - migrated: read-only and writable lazy mappings of A follow to B once
 *   A released the region (a tombstone in A's stat, OPEN redirected); the
 *   writable one pushes its unsynced page there;
 * - bad input: FREEZE by the writer, with ms 0 or too large, of a region
 *   frozen by another connection, on an unknown handle; HANDOFF not
 *   frozen, by a non-freezer, at an epoch not above the last; THAW by a
 *   non-freezer or not frozen; MIGRATED before a handoff: each a clear
 *   error that changes nothing (a commit then goes through as ever).
 *
 * - hops: A -> B -> C is followed to C; A -> B -> A -> ... ends in ELOOP;
 * - file: a file region's redirect survives a restart of A (FILE.msmoved):
 *   the restarted server logs it, serves only MOVED (stat shows the
 *   tombstone) and a fresh client's open lands at B.
 *
 * Every case ends with the region compared byte for byte at A and at B.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include "memsync.h"
#include "tap.h"
#include "fixture.h"
#include "client_int.h"
#include "client_priv.h"

#define KiB (1u << 10)
#define MiB (1u << 20)
#define CHUNK (64u * KiB)
#define SIZE (1u * MiB)
#define POLL_MS 20
#define POLL_BOUND_MS 5000
#define WAIT_MS 300             /* a parked commit is still waiting after it */
#define MAX_OPENS_GUESS 63      /* a handle slot nobody opened */

static uint64_t seed = 0x5eed0011aa55aa55ull;
static struct fx_server fa, fb;

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static ms_client *conn(struct fx_server *f)
{
	ms_client *c = fx_connect(f, NULL);

	if (!c)
		tap_bail("cannot connect to the fixture server");
	return c;
}

static ms_region *xopen(ms_client *c, const char *name, enum ms_mode mode)
{
	ms_region *r = ms_open(c, name, mode);

	if (!r)
		tap_bail("open of %s: %s", name, ms_client_errmsg(c));
	return r;
}

static uint64_t epoch_of(const ms_region *r)
{
	struct ms_region_info ri;

	ms_region_info(r, &ri);
	return ri.epoch;
}

/* A's region i */
static uint8_t *a_mem(size_t i)
{
	return fa.mem[i];
}

static uint8_t *copy_of(const uint8_t *p, size_t n)
{
	uint8_t *m = malloc(n);

	if (!m)
		tap_bail("out of memory");
	memcpy(m, p, n);
	return m;
}

static void same(const uint8_t *mem, const uint8_t *model, const char *what)
{
	size_t k = 0;

	while (k < SIZE && mem[k] == model[k])
		k++;
	if (!ok(k == SIZE, "%s: byte for byte", what))
		diag("first difference at byte %zu", k);
}

/* The destination's copy of region name at B, with bytes. */
static ms_export *dest_region(const char *name, const uint8_t *bytes)
{
	struct ms_export_opts eo = { .opts_size = sizeof(eo), .name = name, .size = SIZE,
				     .chunk_size = CHUNK };
	ms_export *e = ms_server_add_region(fb.s, &eo);

	if (!e)
		tap_bail("region %s at B: %s", name, ms_server_errmsg(fb.s));
	memcpy(ms_export_mem(e), bytes, SIZE);
	if (ms_export_commit(e, 0, SIZE))
		tap_bail("commit of %s at B", name);
	return e;
}

static struct ms_region_stat a_stat(const char *name)
{
	struct ms_region_stat *st = NULL, out = { 0 };
	size_t n = 0;

	if (ms_server_stat(fa.s, name, &st, &n) == 0 && n == 1)
		out = st[0];
	free(st);
	return out;
}

/* A writer's ms_write + ms_sync on a thread of its own. */
struct bg {
	ms_region *r;
	uint64_t off;
	uint8_t buf[8 * KiB];
	int ret;
	atomic_bool done;
	char err[512];
	pthread_t t;
};

static void *bg_main(void *arg)
{
	struct bg *b = arg;

	b->ret = ms_write(b->r, b->off, b->buf, sizeof(b->buf), NULL, NULL);
	if (!b->ret)
		b->ret = ms_sync(b->r);
	snprintf(b->err, sizeof(b->err), "%s", ms_client_errmsg(b->r->c));
	atomic_store(&b->done, true);
	return NULL;
}

static void bg_start(struct bg *b, ms_region *r, uint64_t off)
{
	memset(b, 0, sizeof(*b));
	b->r = r;
	b->off = off;
	fx_fill(b->buf, sizeof(b->buf), &seed);
	atomic_init(&b->done, false);
	if (pthread_create(&b->t, NULL, bg_main, b))
		tap_bail("pthread_create");
}

static bool bg_wait(struct bg *b)
{
	for (int i = 0; i < POLL_BOUND_MS / POLL_MS && !atomic_load(&b->done); i++)
		sleep_ms(POLL_MS);
	if (!atomic_load(&b->done))
		return false;
	pthread_join(b->t, NULL);
	return true;
}

/* An application's ms_export_commit at A, on a thread of its own. */
struct lc {
	ms_export *e;
	int ret;
	atomic_bool done;
	pthread_t t;
};

static void *lc_main(void *arg)
{
	struct lc *l = arg;

	l->ret = ms_export_commit(l->e, 0, CHUNK);
	atomic_store(&l->done, true);
	return NULL;
}

/* ------------------------------------------------------------- freeze */

enum unfreeze { BY_THAW, BY_LAPSE, BY_DISCONNECT };

static void t_freeze(size_t i, const char *name, enum unfreeze how)
{
	static const char *const hows[] = { "thaw", "lapse", "disconnect" };
	const char *h = hows[how];
	ms_client *w = conn(&fa), *d = conn(&fa);
	ms_region *rw = xopen(w, name, MS_MODE_WRITE), *rd = xopen(d, name, MS_MODE_READ);
	uint8_t *model = copy_of(a_mem(i), SIZE), *rb = malloc(SIZE);
	uint64_t gen, ep, gen0 = fx_counts(fa.s, name).generation;
	int warn0 = fx_warnings(&fa);
	struct lc l = { .e = fa.e[i] };
	char last[256];
	struct bg b;

	is_int(ms_region_freeze(rd, how == BY_LAPSE ? WAIT_MS : 30000, &gen, &ep), 0,
	       "freeze/%s: FREEZE_OK", h);
	is_int(ep, epoch_of(rw), "freeze/%s: it tells the writer's epoch", h);
	is_int(gen, gen0, "freeze/%s: and the generation", h);
	atomic_init(&l.done, false);
	if (how == BY_THAW && pthread_create(&l.t, NULL, lc_main, &l))
		tap_bail("pthread_create");
	bg_start(&b, rw, 3 * CHUNK + 100);
	if (how != BY_LAPSE) {
		sleep_ms(WAIT_MS);
		ok(!atomic_load(&b.done), "freeze/%s: the writer's sync waits", h);
		is_int(fx_counts(fa.s, name).generation, gen0, "freeze/%s: nothing applied", h);
		is_int(ms_pull(rd, 0, rb, SIZE, NULL, NULL), 0, "freeze/%s: reads go on", h);
		same(rb, model, "freeze: the reader sees the frozen bytes");
	}
	if (how == BY_THAW) {
		ok(!atomic_load(&l.done), "freeze/thaw: a local ms_export_commit waits too");
		is_int(ms_region_thaw(rd), 0, "freeze/thaw: THAW_OK");
		pthread_join(l.t, NULL);
		is_int(l.ret, 0, "freeze/thaw: the local commit goes through");
	}
	if (how == BY_DISCONNECT) {
		ms_disconnect(d);
		d = NULL;
	}
	ok(bg_wait(&b), "freeze/%s: the sync ends", h);
	is_int(b.ret, 0, "freeze/%s: and goes through (%s)", h, b.ret ? b.err : "ok");
	memcpy(model + b.off, b.buf, sizeof(b.buf));
	ok(fx_counts(fa.s, name).generation > gen0, "freeze/%s: a new generation", h);
	if (how != BY_THAW) {
		ok(fx_warnings(&fa) > warn0, "freeze/%s: a warning", h);
		fx_last_warning(&fa, last, sizeof(last));
		ok(strstr(last, how == BY_LAPSE ? "lapsed" : "went away") != NULL,
		   "freeze/%s: it says why (%s)", h, last);
	}
	is_str(a_stat(name).moved_to, "", "freeze/%s: not moved", h);
	same(a_mem(i), model, "freeze: A holds the last commit");
	ok(ms_server_stat(fb.s, name, &(struct ms_region_stat *){ NULL }, &(size_t){ 0 }) ==
	   -ENOENT, "freeze/%s: B has no such region", h);
	ms_disconnect(w);
	ms_disconnect(d);
	free(model);
	free(rb);
}

/* ------------------------------------------------------------ handoff */

static void t_handoff(size_t i, const char *name)
{
	ms_client *w = conn(&fa), *d = conn(&fa), *x = conn(&fa), *y = conn(&fa);
	ms_region *rw = xopen(w, name, MS_MODE_WRITE), *rd = xopen(d, name, MS_MODE_READ), *ry;
	uint8_t *model, *rb = malloc(SIZE), buf[4 * KiB];
	uint64_t n = epoch_of(rw), gen, ep, g;
	char apart[272], bpart[272];
	struct ms_lease_info li;
	struct ms_region_stat st;
	struct bg b;
	ms_export *eb;

	snprintf(apart, sizeof(apart), "127.0.0.1:%s", fa.port);
	snprintf(bpart, sizeof(bpart), "127.0.0.1:%s", fb.port);
	fx_fill(buf, sizeof(buf), &seed);
	is_int(ms_write(rw, 5 * CHUNK, buf, sizeof(buf), NULL, NULL), 0, "handoff: write");
	is_int(ms_sync(rw), 0, "handoff: sync at A");
	model = copy_of(a_mem(i), SIZE);
	ok(!memcmp(model + 5 * CHUNK, buf, sizeof(buf)), "handoff: A has the write");
	is_int(ms_region_freeze(rd, 30000, &gen, &ep), 0, "handoff: frozen");
	is_int(ep, n, "handoff: at the writer's epoch %llu", (unsigned long long)n);
	bg_start(&b, rw, 9 * CHUNK);
	sleep_ms(WAIT_MS);
	ok(!atomic_load(&b.done), "handoff: the writer's sync is parked");
	eb = dest_region(name, a_mem(i));
	is_int(ms_region_handoff(rd, n + 1, "127.0.0.1", fb.port, &g), 0, "handoff: HANDOFF_OK");
	is_int(g, gen, "handoff: at the frozen generation");
	ok(bg_wait(&b), "handoff: the parked sync is answered");
	is_int(b.ret, -EREMCHG, "handoff: EREMCHG for the parked sync");
	ok(strstr(b.err, "dropped") && strstr(b.err, apart) && strstr(b.err, bpart),
	   "handoff: it says the writes were dropped, naming both servers (%s)", b.err);
	is_int(epoch_of(rw), n + 1, "handoff: the writer holds epoch N+1 at B");
	is_int(ms_lease_get(w, name, &li), 0, "handoff: lease at B");
	ok(li.state == MS_LEASE_HELD && li.epoch == n + 1, "handoff: held at B, epoch %llu",
	   (unsigned long long)li.epoch);
	is_int(ms_write(rw, 9 * CHUNK, b.buf, sizeof(b.buf), NULL, NULL), 0,
	       "handoff: write again");
	is_int(ms_sync(rw), 0, "handoff: sync at B");
	st = a_stat(name);
	is_str(st.moved_to, bpart, "handoff: A's stat says where it went");
	ok(!st.write_leased && st.lease.state != MS_LEASE_HELD, "handoff: A's writer is fenced");
	/* OPEN and LEASE by name at A */
	xopen(x, "other", MS_MODE_READ);
	ok(ms_open(x, name, MS_MODE_READ) == NULL && errno == EREMCHG,
	   "handoff: OPEN at A with another region open: EREMCHG");
	ok(strstr(ms_client_errmsg(x), bpart) != NULL, "handoff: naming B (%s)",
	   ms_client_errmsg(x));
	is_int(ms_lease_get(x, name, &li), -EREMCHG, "handoff: LEASE at A: MOVED");
	ry = ms_open(y, name, MS_MODE_READ);
	ok(ry != NULL, "handoff: a fresh client's open lands at B%s%s", ry ? "" : ": ",
	   ry ? "" : ms_client_errmsg(y));
	/* the freezer may still read at A: A's bytes as of the freeze */
	is_int(ms_pull(rd, 0, rb, SIZE, NULL, NULL), 0, "handoff: the freezer still reads A");
	same(rb, model, "handoff: the freezer reads A's bytes of the freeze");
	same(a_mem(i), model, "handoff: A holds nothing written after the freeze");
	memcpy(model + 9 * CHUNK, b.buf, sizeof(b.buf));
	if (ry) {
		is_int(ms_pull(ry, 0, rb, SIZE, NULL, NULL), 0, "handoff: pull at B");
		same(rb, model, "handoff: the reader at B sees the writer's bytes");
	}
	same(ms_export_mem(eb), model, "handoff: B holds every committed byte");
	ms_disconnect(w);
	ms_disconnect(d);
	ms_disconnect(x);
	ms_disconnect(y);
	free(model);
	free(rb);
}

/* --------------------------------------------------------------- push */

static void t_push(size_t i, const char *name)
{
	ms_client *w = conn(&fa), *d = conn(&fa);
	ms_region *rw = xopen(w, name, MS_MODE_WRITE), *rd = xopen(d, name, MS_MODE_READ);
	uint8_t *model = copy_of(a_mem(i), SIZE), *src = copy_of(a_mem(i), SIZE);
	uint64_t n = epoch_of(rw), gen, ep, g;
	struct ms_xfer_stats xs;
	ms_export *eb;

	is_int(ms_region_freeze(rd, 30000, &gen, &ep), 0, "push: frozen");
	eb = dest_region(name, a_mem(i));
	is_int(ms_region_handoff(rd, n + 1, "127.0.0.1", fb.port, &g), 0, "push: handed off");
	fx_fill(src + 2 * CHUNK, 3 * CHUNK + 77, &seed);
	is_int(ms_push(rw, 0, src, SIZE, NULL, &xs), 0, "push: follows to B");
	is_int(epoch_of(rw), n + 1, "push: the writer holds epoch N+1 at B");
	ok(strcmp(w->port, fb.port) == 0, "push: the client is at B now");
	ok(xs.chunks_moved >= 4, "push: the changed chunks were sent (%llu)",
	   (unsigned long long)xs.chunks_moved);
	same(ms_export_mem(eb), src, "push: B holds the pushed bytes");
	is_int(ms_export_commit(fa.e[i], 0, CHUNK), -EREMCHG,
	       "push: a local commit at A after the handoff: EREMCHG");
	same(a_mem(i), model, "push: A is unchanged");
	ms_disconnect(w);
	ms_disconnect(d);
	free(model);
	free(src);
}

/* ----------------------------------------------------------- migrated */

static bool released_at_a(const char *name)
{
	for (int t = 0; t < POLL_BOUND_MS / POLL_MS; t++) {
		if (a_stat(name).migrate_phase == MS_MIGRATE_DONE)
			return true;
		sleep_ms(POLL_MS);
	}
	return false;
}

static void t_migrated(size_t i, const char *name)
{
	struct ms_client_opts co = { .opts_size = sizeof(co), .transport = MS_TRANSPORT_TCP,
				     .timeout_ms = 10000 };
	struct ms_map_opts ro = { .opts_size = sizeof(ro), .no_prefetch = true,
				  .reconnect_timeout_ms = 5000 };
	struct ms_map_opts wo = ro;
	ms_client *d = conn(&fa), *y = conn(&fa);
	ms_region *rd = xopen(d, name, MS_MODE_READ), *ry;
	uint8_t *model = copy_of(a_mem(i), SIZE), *rb = malloc(SIZE), page[4096];
	uint64_t gen, ep, g, n;
	struct ms_region_stat st;
	ms_map *mr, *mw;
	char err[512], bpart[272];
	ms_export *eb;
	uint8_t *a;

	snprintf(bpart, sizeof(bpart), "127.0.0.1:%s", fb.port);
	wo.writable = true;
	mr = ms_map_open("127.0.0.1", fa.port, name, &co, &ro, err, sizeof(err));
	if (!ok(mr != NULL, "migrated: read-only map%s%s", mr ? "" : ": ", mr ? "" : err))
		goto out;
	mw = ms_map_open("127.0.0.1", fa.port, name, &co, &wo, err, sizeof(err));
	if (!ok(mw != NULL, "migrated: writable map%s%s", mw ? "" : ": ", mw ? "" : err)) {
		ms_map_close(mr);
		goto out;
	}
	a = ms_map_addr(mr);
	ok(!memcmp(a, model, CHUNK), "migrated: the read map reads chunk 0 at A");
	/* a page written at A, not synced: it goes to B */
	fx_fill(page, sizeof(page), &seed);
	memcpy((uint8_t *)ms_map_addr(mw) + 3 * CHUNK + 8192, page, sizeof(page));
	n = a_stat(name).lease.epoch;
	is_int(ms_region_freeze(rd, 30000, &gen, &ep), 0, "migrated: frozen");
	is_int(ep, n, "migrated: at the mapping's epoch");
	eb = dest_region(name, a_mem(i));
	is_int(ms_region_handoff(rd, n + 1, "127.0.0.1", fb.port, &g), 0, "migrated: handed off");
	same(a_mem(i), model, "migrated: A at the handoff");
	is_int(ms_region_migrated(rd), 0, "migrated: MIGRATED_OK");
	is_int(ms_region_migrated(rd), 0, "migrated: again: still OK");
	ok(released_at_a(name), "migrated: A released it (a tombstone)");
	st = a_stat(name);
	is_str(st.moved_to, bpart, "migrated: the tombstone says where");
	is_int(st.lease.epoch, n, "migrated: and the last epoch granted at A");
	is_int(ms_region_thaw(rd), -EREMCHG, "migrated: a request on the old handle: MOVED");
	/* the read-only mapping faults chunks A no longer has */
	ok(!memcmp(a + 7 * CHUNK, model + 7 * CHUNK, 4 * CHUNK),
	   "migrated: the read map reads chunks 7..10 from B");
	is_int(ms_map_sync(mw, NULL), 0, "migrated: the writable map syncs at B");
	memcpy(model + 3 * CHUNK + 8192, page, sizeof(page));
	same(ms_export_mem(eb), model, "migrated: B holds A's bytes and the synced page");
	ok(!memcmp(a + 4 * CHUNK, model + 4 * CHUNK, SIZE - 4 * CHUNK),
	   "migrated: the read map equals B past chunk 3");
	ms_map_close(mw);
	ms_map_close(mr);
	ry = ms_open(y, name, MS_MODE_READ);
	ok(ry != NULL, "migrated: OPEN at A after release lands at B%s%s", ry ? "" : ": ",
	   ry ? "" : ms_client_errmsg(y));
	if (ry) {
		is_int(ms_pull(ry, 0, rb, SIZE, NULL, NULL), 0, "migrated: pull at B");
		same(rb, model, "migrated: the bytes at B");
	}
	/* the region comes back to A (migrated here again): no tombstone */
	{
		struct ms_export_opts eo = { .opts_size = sizeof(eo), .name = name,
					     .size = SIZE, .chunk_size = CHUNK };
		ms_export *back = ms_server_add_region(fa.s, &eo);
		struct ms_region_stat *sv = NULL;
		size_t nv = 0;

		ok(back != NULL, "migrated: a region of that name is added at A again");
		is_int(ms_server_stat(fa.s, name, &sv, &nv), 0, "migrated: stat of it");
		ok(nv == 1 && !sv[0].moved_to[0] && sv[0].migrate_phase == MS_MIGRATE_NONE,
		   "migrated: one entry, the new region's: the tombstone is gone (%zu)", nv);
		free(sv);
	}
out:
	ms_disconnect(d);
	ms_disconnect(y);
	free(model);
	free(rb);
}

/* ---------------------------------------------------------- bad input */

static void t_bad(size_t i, const char *name)
{
	ms_client *w = conn(&fa), *d = conn(&fa), *e = conn(&fa);
	ms_region *rw = xopen(w, name, MS_MODE_WRITE), *rd = xopen(d, name, MS_MODE_READ);
	ms_region *re = xopen(e, name, MS_MODE_READ);
	uint8_t *model = copy_of(a_mem(i), SIZE), buf[4096];
	uint64_t n = epoch_of(rw), gen, ep, g;
	uint32_t h;

	is_int(ms_region_handoff(rd, n + 1, "127.0.0.1", fb.port, &g), -EINVAL,
	       "bad: HANDOFF of a region not frozen");
	ok(strstr(ms_client_errmsg(d), "not frozen") != NULL, "bad: says so (%s)",
	   ms_client_errmsg(d));
	is_int(ms_region_thaw(rd), -EINVAL, "bad: THAW of a region not frozen");
	is_int(ms_region_migrated(rd), -EINVAL, "bad: MIGRATED before a handoff");
	is_int(ms_region_freeze(rw, 1000, &gen, &ep), -EDEADLK, "bad: the writer freezes");
	is_int(ms_region_freeze(rd, 0, &gen, &ep), -EBADMSG, "bad: FREEZE for 0 ms");
	is_int(ms_region_freeze(rd, MS_FREEZE_MAX_MS + 1, &gen, &ep), -EBADMSG,
	       "bad: FREEZE for too long");
	h = rd->handle;
	rd->handle = MAX_OPENS_GUESS;
	is_int(ms_region_freeze(rd, 1000, &gen, &ep), -EBADF, "bad: FREEZE of an unknown handle");
	is_int(ms_region_handoff(rd, n + 1, "127.0.0.1", fb.port, &g), -EBADF,
	       "bad: HANDOFF of an unknown handle");
	rd->handle = h;
	is_int(ms_region_freeze(rd, 30000, &gen, &ep), 0, "bad: frozen by d");
	is_int(ms_region_freeze(re, 30000, &gen, &ep), -EBUSY, "bad: frozen by another: EBUSY");
	is_int(ms_region_handoff(re, n + 1, "127.0.0.1", fb.port, &g), -EPERM,
	       "bad: HANDOFF by a non-freezer");
	is_int(ms_region_thaw(re), -EPERM, "bad: THAW by a non-freezer");
	is_int(ms_region_handoff(rd, n, "127.0.0.1", fb.port, &g), -ESTALE,
	       "bad: HANDOFF at an epoch not above the last");
	ok(strstr(ms_client_errmsg(d), "not above") != NULL, "bad: says so (%s)",
	   ms_client_errmsg(d));
	is_int(ms_region_handoff(rd, n + 1, "", fb.port, &g), -EINVAL, "bad: HANDOFF, no host");
	is_str(a_stat(name).moved_to, "", "bad: nothing moved");
	is_int(ms_region_thaw(rd), 0, "bad: thawed");
	/* the writer goes on as ever */
	fx_fill(buf, sizeof(buf), &seed);
	is_int(ms_write(rw, CHUNK, buf, sizeof(buf), NULL, NULL), 0, "bad: write");
	is_int(ms_sync(rw), 0, "bad: sync at A");
	is_int(epoch_of(rw), n, "bad: same epoch");
	memcpy(model + CHUNK, buf, sizeof(buf));
	same(a_mem(i), model, "bad: A holds the commit");
	ok(ms_server_stat(fb.s, name, &(struct ms_region_stat *){ NULL }, &(size_t){ 0 }) ==
	   -ENOENT, "bad: B has no such region");
	ms_disconnect(w);
	ms_disconnect(d);
	ms_disconnect(e);
	free(model);
}

/* --------------------------------------------------------------- hops */

/* A's region (export ea) goes to B; at B the test hands it on to A or C. */
static void hand_on(ms_export *ea, const char *name, bool to_a, struct fx_server *fc)
{
	ms_client *da = conn(&fa), *db = conn(&fb);
	ms_region *ra = xopen(da, name, MS_MODE_READ), *rb;
	uint64_t gen, ep, g;

	if (ms_region_freeze(ra, 30000, &gen, &ep) ||
	    (dest_region(name, ms_export_mem(ea)), ms_region_handoff(ra, ep + 1, "127.0.0.1", fb.port, &g)))
		tap_bail("hops: %s to B: %s", name, ms_client_errmsg(da));
	rb = xopen(db, name, MS_MODE_READ);
	if (ms_region_freeze(rb, 30000, &gen, &ep) ||
	    ms_region_handoff(rb, ep + 2, "127.0.0.1", to_a ? fa.port : fc->port, &g))
		tap_bail("hops: %s on from B: %s", name, ms_client_errmsg(db));
	ms_disconnect(da);
	ms_disconnect(db);
}

/* A region of A for the hops (added while A runs), filled from seed. */
static ms_export *a_region(const char *name)
{
	struct ms_export_opts eo = { .opts_size = sizeof(eo), .name = name, .size = SIZE,
				     .chunk_size = CHUNK };
	ms_export *e = ms_server_add_region(fa.s, &eo);

	if (!e)
		tap_bail("hops: region %s at A: %s", name, ms_server_errmsg(fa.s));
	fx_fill(ms_export_mem(e), SIZE, &seed);
	if (ms_export_commit(e, 0, SIZE))
		tap_bail("hops: commit of %s at A", name);
	return e;
}

static void t_hops(const char *chain, const char *loop)
{
	static const struct fx_region none[] = { { "unused", 64 * KiB, 0, false, 0 } };
	ms_export *ea = a_region(chain), *el = a_region(loop);
	struct fx_server fc;
	ms_client *y = conn(&fa), *z = conn(&fa);
	uint8_t *rb = malloc(SIZE);
	struct ms_export_opts eo = { .opts_size = sizeof(eo), .name = chain, .size = SIZE,
				     .chunk_size = CHUNK };
	ms_export *ec;
	ms_region *r;

	fx_server_up(&fc, none, 1, FX_SEED);
	ec = ms_server_add_region(fc.s, &eo);
	if (!ec)
		tap_bail("hops: region at C");
	memcpy(ms_export_mem(ec), ms_export_mem(ea), SIZE);
	ms_export_commit(ec, 0, SIZE);
	hand_on(ea, chain, false, &fc);
	r = ms_open(y, chain, MS_MODE_READ);
	ok(r != NULL, "hops: A -> B -> C: the open lands at C%s%s", r ? "" : ": ",
	   r ? "" : ms_client_errmsg(y));
	is_str(y->port, fc.port, "hops: the client is at C");
	if (r) {
		is_int(ms_pull(r, 0, rb, SIZE, NULL, NULL), 0, "hops: pull at C");
		same(rb, ms_export_mem(ea), "hops: C's bytes equal A's");
	}
	hand_on(el, loop, true, NULL);
	ok(ms_open(z, loop, MS_MODE_READ) == NULL && errno == ELOOP,
	   "hops: A -> B -> A -> ...: ELOOP after %d hops", MS_REDIRECT_HOPS);
	ok(strstr(ms_client_errmsg(z), "moved more than") != NULL, "hops: says so (%s)",
	   ms_client_errmsg(z));
	ms_disconnect(y);
	ms_disconnect(z);
	fx_server_down(&fc);
	free(rb);
}

/* --------------------------------------------------------- file region */

static atomic_int redirect_logs;

static void info_log(void *ud, enum ms_log_level lvl, const char *msg)
{
	(void)ud;
	(void)lvl;
	if (strstr(msg, "serving only redirects"))
		atomic_fetch_add(&redirect_logs, 1);
}

/* A server on 127.0.0.1 with the file region "file" at path. */
static ms_server *file_server(const char *path, ms_export **e)
{
	struct ms_server_opts so = { .opts_size = sizeof(so), .host = "127.0.0.1", .port = "0",
				     .transport = MS_TRANSPORT_TCP, .log = info_log };
	struct ms_export_opts eo = { .opts_size = sizeof(eo), .name = "file", .size = SIZE,
				     .chunk_size = CHUNK, .backing = MS_BACKING_FILE,
				     .path = path, .no_mlock = true };
	char err[256];
	ms_server *s = ms_server_create(&so, err, sizeof(err));

	if (!s)
		tap_bail("file server: %s", err);
	*e = ms_server_add_region(s, &eo);
	if (!*e)
		tap_bail("file region: %s", ms_server_errmsg(s));
	if (ms_server_start(s))
		tap_bail("file server start: %s", ms_server_errmsg(s));
	return s;
}

static ms_client *conn_port(uint16_t port)
{
	struct ms_client_opts o = { .opts_size = sizeof(o), .transport = MS_TRANSPORT_TCP,
				    .timeout_ms = 10000 };
	char ps[8], err[256];
	ms_client *c;

	snprintf(ps, sizeof(ps), "%u", port);
	c = ms_connect("127.0.0.1", ps, &o, err, sizeof(err));
	if (!c)
		tap_bail("connect: %s", err);
	return c;
}

static void t_file(void)
{
	char dir[] = "/tmp/ms-move-XXXXXX", path[64], moved[80], bpart[272];
	uint8_t *model = malloc(SIZE), *rb = malloc(SIZE);
	struct ms_region_stat *st = NULL;
	uint64_t gen, ep, g;
	ms_export *ea, *eb;
	ms_client *d, *y;
	ms_region *rd, *ry;
	struct stat sb;
	ms_server *s;
	size_t n = 0;
	FILE *f;

	if (!mkdtemp(dir))
		tap_bail("mkdtemp: %s", strerror(errno));
	snprintf(path, sizeof(path), "%s/r.img", dir);
	snprintf(moved, sizeof(moved), "%s.msmoved", path);
	snprintf(bpart, sizeof(bpart), "127.0.0.1:%s", fb.port);
	s = file_server(path, &ea);
	fx_fill(ms_export_mem(ea), SIZE, &seed);
	if (ms_export_commit(ea, 0, SIZE))
		tap_bail("file commit");
	memcpy(model, ms_export_mem(ea), SIZE);
	d = conn_port(ms_server_port(s));
	rd = xopen(d, "file", MS_MODE_READ);
	is_int(ms_region_freeze(rd, 30000, &gen, &ep), 0, "file: frozen");
	eb = dest_region("file", model);
	is_int(ms_region_handoff(rd, ep + 5, "127.0.0.1", fb.port, &g), 0, "file: handed off");
	is_int(stat(moved, &sb), 0, "file: FILE.msmoved written at the handoff");
	is_int(ms_region_migrated(rd), 0, "file: MIGRATED_OK");
	ms_disconnect(d);
	ms_server_destroy(s);
	s = file_server(path, &ea);
	ok(atomic_load(&redirect_logs) >= 1, "file: the restarted server logs the redirect");
	for (int t = 0; t < POLL_BOUND_MS / POLL_MS; t++) {
		free(st);
		st = NULL;
		if (ms_server_stat(s, "file", &st, &n) == 0 && n == 1 &&
		    st[0].migrate_phase == MS_MIGRATE_DONE)
			break;
		sleep_ms(POLL_MS);
	}
	ok(st && n == 1 && st[0].migrate_phase == MS_MIGRATE_DONE,
	   "file: only a tombstone after the restart");
	is_str(st ? st[0].moved_to : "", bpart, "file: pointing at B");
	is_int(st ? st[0].lease.epoch : 0, ep + 4, "file: epoch below B's first");
	free(st);
	y = conn_port(ms_server_port(s));
	ry = ms_open(y, "file", MS_MODE_READ);
	ok(ry != NULL, "file: an open at the restarted A lands at B%s%s", ry ? "" : ": ",
	   ry ? "" : ms_client_errmsg(y));
	if (ry) {
		is_int(ms_pull(ry, 0, rb, SIZE, NULL, NULL), 0, "file: pull at B");
		same(rb, model, "file: B's bytes");
	}
	ms_disconnect(y);
	ms_server_destroy(s);
	f = fopen(path, "rb");
	ok(f && fread(rb, 1, SIZE, f) == SIZE, "file: A's file read");
	if (f)
		fclose(f);
	same(rb, model, "file: A's file kept its bytes");
	same(ms_export_mem(eb), model, "file: B holds them");
	unlink(moved);
	snprintf(moved, sizeof(moved), "%s.msmeta", path);
	unlink(moved);
	snprintf(moved, sizeof(moved), "%s.msjournal", path);
	unlink(moved);
	unlink(path);
	rmdir(dir);
	free(model);
	free(rb);
}

int main(void)
{
	static const struct fx_region regs[] = {
		{ "thaw", SIZE, CHUNK, false, MS_COMMIT_ATOMIC },
		{ "lapse", SIZE, CHUNK, false, MS_COMMIT_ATOMIC },
		{ "gone", SIZE, CHUNK, false, MS_COMMIT_ATOMIC },
		{ "hand", SIZE, CHUNK, false, MS_COMMIT_ATOMIC },
		{ "push", SIZE, CHUNK, false, MS_COMMIT_ATOMIC },
		{ "mapped", SIZE, CHUNK, true, MS_COMMIT_ATOMIC },
		{ "bad", SIZE, CHUNK, false, MS_COMMIT_ATOMIC },
		{ "other", SIZE, CHUNK, false, MS_COMMIT_ATOMIC },
	};


	fx_server_up(&fa, regs, MS_ARRAY_SIZE(regs), FX_SEED);
	fx_server_up(&fb, NULL, 0, FX_SEED);
	t_freeze(0, "thaw", BY_THAW);
	t_freeze(1, "lapse", BY_LAPSE);
	t_freeze(2, "gone", BY_DISCONNECT);
	t_handoff(3, "hand");
	t_push(4, "push");
	t_migrated(5, "mapped");
	t_bad(6, "bad");
	t_file();
	t_hops("chain", "loop");
	fx_server_down(&fb);
	fx_server_down(&fa);
	return tap_done();
}
