/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_lease.c - write leases and staging through the public API, against
 * engine fixture servers on 127.0.0.1 (TCP).  Every part ends with the
 * region compared byte for byte with what was last committed to it (a
 * model the test keeps):
 *
 * - epochs: every write open gets a larger epoch; ms_lease_get shows the
 *   holder, epoch, expiry and ttl; a read open takes no lease;
 * - expiry (ttl 300 ms): an idle writer's lease lapses, another writer
 *   takes it at epoch + 1 and commits; the idle one is fenced (ESTALE,
 *   "fenced: ...") and its staged bytes are counted abandoned;
 * - renewal: ms_lease_renew every 100 ms keeps a lease (ttl 300 ms) for
 *   a second, and a push whose transfer outlasts the ttl (1 s there: it
 *   naps in its progress callback) keeps it, renewed from its progress;
 * - break: the holder is fenced at once (a commit refused with ESTALE, a
 *   write into its revoked staging refused) and the next writer gets
 *   epoch + 1;
 * - handover: only the named client may take the lease, at epoch + 1; a
 *   third client gets EBUSY; the old holder is fenced; a handover nobody
 *   takes lapses; one to the holder's own id or to zero is EINVAL;
 * - resume: ms_open_with(expect_epoch) succeeds when nobody took the lease
 *   since that epoch, else ESTALE;
 * - atomicity: a writer that disconnects without a sync changes nothing
 *   (commits_abandoned); a commit of more entries than one COMMIT message
 *   holds is one commit; a small stage_limit splits a push into several
 *   commits and refuses an ms_write past it with E2BIG;
 * - direct mode: writes land in the region, there is no staging, and a
 *   fenced writer's registration of the region is revoked.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "memsync.h"
#include "tap.h"
#include "fixture.h"

#define KiB (1u << 10)
#define MiB (1u << 20)
#define SHORT_TTL 300u             /* ms */
#define POLL_MS 20
#define POLL_BOUND_MS 5000         /* generous: a lapse takes ttl + a tick */

static uint64_t seed = 0x1234567887654321ull;

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static uint8_t *xmalloc(size_t n)
{
	uint8_t *p = malloc(n);

	if (!p)
		tap_bail("out of memory (%zu bytes)", n);
	return p;
}

/* A copy of a region as the server holds it now (its last commit). */
static uint8_t *model_of(const struct fx_server *f, size_t i)
{
	uint64_t size = ms_export_size(f->e[i]);
	uint8_t *m = xmalloc(size);

	memcpy(m, f->mem[i], size);
	return m;
}

static void same_bytes(const struct fx_server *f, size_t i, const uint8_t *model,
		       const char *what)
{
	uint64_t size = ms_export_size(f->e[i]);
	uint64_t k = 0;

	while (k < size && f->mem[i][k] == model[k])
		k++;
	if (!ok(k == size, "%s: the region holds exactly its last committed bytes", what))
		diag("first difference at byte %llu", (unsigned long long)k);
}

static ms_client *conn(const struct fx_server *f, const uint8_t *id)
{
	ms_client *c = fx_connect(f, id);

	if (!c)
		tap_bail("cannot connect to the fixture server");
	return c;
}

static ms_region *wopen(ms_client *c, const char *name)
{
	ms_region *r = ms_open(c, name, MS_MODE_WRITE);

	if (!r)
		tap_bail("write open of %s: %s", name, ms_client_errmsg(c));
	return r;
}

static uint64_t epoch_of(const ms_region *r)
{
	struct ms_region_info ri;

	ms_region_info(r, &ri);
	return ri.epoch;
}

static struct ms_region_stat stat_of(ms_client *c, const char *name)
{
	struct ms_region_stat *st = NULL, out = { 0 };
	size_t n = 0;

	if (ms_stat(c, name, &st, &n) == 0 && n == 1)
		out = st[0];
	else
		tap_bail("stat of %s: %s", name, ms_client_errmsg(c));
	free(st);
	return out;
}

/* Poll the lease of name until it is in state want; true when it got
 * there within POLL_BOUND_MS. */
static bool lease_becomes(ms_client *c, const char *name, enum ms_lease_state want)
{
	struct ms_lease_info li;

	for (int t = 0; t < POLL_BOUND_MS / POLL_MS; t++) {
		if (ms_lease_get(c, name, &li))
			tap_bail("lease get %s: %s", name, ms_client_errmsg(c));
		if (li.state == want)
			return true;
		sleep_ms(POLL_MS);
	}
	return false;
}

static bool starts_with(const char *s, const char *p)
{
	return strncmp(s, p, strlen(p)) == 0;
}

/* Write len fresh bytes at off through r (ms_write, no sync) and return
 * them in buf. */
static int put(ms_region *r, uint64_t off, uint8_t *buf, uint64_t len)
{
	fx_fill(buf, len, &seed);
	return ms_write(r, off, buf, len, NULL, NULL);
}

/* ------------------------------------------------------------- epochs */

static void t_epochs(struct fx_server *f)
{
	static const uint8_t zero[16];
	ms_client *a = conn(f, NULL), *b = conn(f, NULL);
	uint8_t *model = model_of(f, 0), buf[8 * KiB], ida[16];
	struct ms_lease_info li;
	struct ms_region_info ri;
	ms_region *r, *rd;
	uint64_t e1;

	r = wopen(a, "big");
	ms_region_info(r, &ri);
	e1 = ri.epoch;
	ok(e1 > 0, "epochs: a write open has an epoch (%llu)", (unsigned long long)e1);
	is_int(ri.lease_ttl_ms, 60000, "epochs: the fixture's default ttl (60 s) is told");
	is_int(ri.commit_mode, MS_COMMIT_ATOMIC, "epochs: atomic by default");
	is_int(ri.stage_limit, ri.size, "epochs: the staging limit defaults to the size");
	is_int(ms_lease_get(b, "big", &li), 0, "epochs: lease get");
	is_int(li.state, MS_LEASE_HELD, "epochs: the lease is held");
	is_int(li.epoch, e1, "epochs: at the holder's epoch");
	ok(li.expires_ms > 0 && li.expires_ms <= 60000, "epochs: expiring within the ttl (%lld ms)",
	   (long long)li.expires_ms);
	is_int(li.ttl_ms, 60000, "epochs: ttl shown");
	ok(li.holder[0] != '\0', "epochs: holder named (%s)", li.holder);
	ms_client_id(a, ida);
	ok(!memcmp(li.client_id, ida, 16), "epochs: the holder's client id");
	is_int(put(r, 100 * KiB, buf, sizeof(buf)), 0, "epochs: write");
	is_int(ms_sync(r), 0, "epochs: sync");
	memcpy(model + 100 * KiB, buf, sizeof(buf));
	is_int(ms_close(r), 0, "epochs: close releases the lease");
	is_int(ms_lease_get(b, "big", &li), 0, "epochs: lease get after close");
	ok(li.state == MS_LEASE_FREE && li.expires_ms == -1 && !memcmp(li.client_id, zero, 16),
	   "epochs: free, no expiry, no holder");
	is_int(li.epoch, e1, "epochs: the last epoch granted is kept");

	rd = ms_open(b, "big", MS_MODE_READ);
	if (!rd)
		tap_bail("read open: %s", ms_client_errmsg(b));
	is_int(epoch_of(rd), 0, "epochs: a read open has no epoch");
	is_int(ms_lease_get(a, "big", &li), 0, "epochs: lease get with a reader");
	ok(li.state == MS_LEASE_FREE && li.epoch == e1, "epochs: a reader takes no lease");
	is_int(ms_lease_renew(rd), -EACCES, "epochs: a reader cannot renew");
	ms_close(rd);
	r = wopen(b, "big");
	is_int(epoch_of(r), e1 + 1, "epochs: the next write open gets a larger epoch");
	ms_close(r);
	r = wopen(a, "big");
	is_int(epoch_of(r), e1 + 2, "epochs: and the next one larger still");
	ms_close(r);
	same_bytes(f, 0, model, "epochs");
	ms_disconnect(a);
	ms_disconnect(b);
	free(model);
}

/* ------------------------------------------------------------- expiry */

static void t_expiry(struct fx_server *f)
{
	ms_client *a = conn(f, NULL), *b = conn(f, NULL);
	uint8_t *model = model_of(f, 0), bufa[64 * KiB], bufb[64 * KiB];
	struct ms_region_stat st0 = stat_of(b, "x"), st;
	ms_region *ra, *rb;
	uint64_t ea;
	int ret;

	ra = wopen(a, "x");
	ea = epoch_of(ra);
	is_int(put(ra, 0, bufa, sizeof(bufa)), 0, "expiry: A writes (no sync)");
	ok(lease_becomes(b, "x", MS_LEASE_FREE), "expiry: A's idle lease lapsed after the ttl");
	rb = wopen(b, "x");
	is_int(epoch_of(rb), ea + 1, "expiry: B's write open gets epoch + 1");
	is_int(put(rb, 32 * KiB, bufb, sizeof(bufb)), 0, "expiry: B writes");
	is_int(ms_sync(rb), 0, "expiry: B syncs");
	memcpy(model + 32 * KiB, bufb, sizeof(bufb));
	ret = ms_sync(ra);
	is_int(ret, -ESTALE, "expiry: A's sync is refused (stale)");
	ok(starts_with(ms_client_errmsg(a), "fenced:"), "expiry: A is told it was fenced: %s",
	   ms_client_errmsg(a));
	ret = put(ra, 0, bufa, 4 * KiB);
	ok(ret == -EACCES || ret == -ESTALE, "expiry: A's next write fails (%d: %s)", ret,
	   ms_client_errmsg(a));
	st = stat_of(b, "x");
	ok(st.commits_refused >= st0.commits_refused + 1, "expiry: a refused commit counted");
	ok(st.commits_abandoned >= st0.commits_abandoned + 1,
	   "expiry: A's staged writes counted abandoned");
	is_int(st.commits, st0.commits + 1, "expiry: only B's commit applied");
	same_bytes(f, 0, model, "expiry");
	ms_disconnect(a);
	ms_disconnect(b);
	free(model);
}

/* ------------------------------------------------------------ renewal */

#define PUSH_NAP_MS 200u
#define PUSH_TTL 1000u            /* ms: naps + 4 MiB sent well inside it */

struct naps {
	unsigned calls;
};

static void napping_progress(void *ud, uint64_t done, uint64_t total)
{
	struct naps *n = ud;

	(void)done;
	(void)total;
	n->calls++;
	sleep_ms(PUSH_NAP_MS);       /* the transfer outlasts the ttl */
}

/* f: SHORT_TTL, region 0 "x"; fp: PUSH_TTL, region 0 "push" */
static void t_renewal(struct fx_server *f, struct fx_server *fp)
{
	/* one write in flight at a time: a progress report (a nap) every
	 * 4 MiB, whatever the speed */
	struct ms_client_opts co = { .opts_size = sizeof(co), .transport = MS_TRANSPORT_TCP,
				     .timeout_ms = 10000, .queue_depth = 1 };
	char err[256];
	ms_client *a = ms_connect("127.0.0.1", fp->port, &co, err, sizeof(err)), *b = conn(fp, NULL);
	ms_client *a2 = conn(f, NULL), *b2 = conn(f, NULL);
	uint64_t size = ms_export_size(fp->e[0]);
	uint8_t *model = model_of(f, 0), *model1 = model_of(fp, 0), buf[16 * KiB];
	uint8_t *src = xmalloc(size);
	struct naps naps = { 0 };
	struct ms_xfer_opts xo = { .opts_size = sizeof(xo), .progress = napping_progress,
				   .progress_ud = &naps };
	struct ms_xfer_stats xs;
	struct ms_lease_info li;
	ms_region *r;
	uint64_t e;
	int fails = 0;

	if (!a)
		tap_bail("connect: %s", err);

	r = wopen(a2, "x");
	e = epoch_of(r);
	for (int i = 0; i < 10; i++) {
		sleep_ms(100);
		fails += ms_lease_renew(r) != 0;
	}
	is_int(fails, 0, "renewal: ten renewals 100 ms apart (ttl %u ms) succeed", SHORT_TTL);
	is_int(ms_lease_get(b2, "x", &li), 0, "renewal: lease get");
	ok(li.state == MS_LEASE_HELD && li.epoch == e, "renewal: still held at epoch %llu",
	   (unsigned long long)e);
	is_int(put(r, 200 * KiB, buf, sizeof(buf)), 0, "renewal: write");
	is_int(ms_sync(r), 0, "renewal: sync after a second of renewals");
	memcpy(model + 200 * KiB, buf, sizeof(buf));
	ms_close(r);
	same_bytes(f, 0, model, "renewal");

	/* a push that takes longer than the ttl */
	fx_fill(src, size, &seed);
	r = wopen(a, "push");
	e = epoch_of(r);
	is_int(ms_push(r, 0, src, size, &xo, &xs), 0, "renewal: a long push succeeds: %s",
	       ms_client_errmsg(a));
	ok(naps.calls * PUSH_NAP_MS > PUSH_TTL,
	   "renewal: the transfer took longer than the ttl of %u ms (%u progress naps of %u ms)",
	   PUSH_TTL, naps.calls, PUSH_NAP_MS);
	is_int(xs.commits, 1, "renewal: the push was one commit");
	is_int(ms_lease_get(b, "push", &li), 0, "renewal: lease get after the push");
	ok(li.state == MS_LEASE_HELD && li.epoch == e, "renewal: the pusher kept its lease");
	ms_close(r);
	memcpy(model1, src, size);
	same_bytes(fp, 0, model1, "renewal (push)");
	ms_disconnect(a);
	ms_disconnect(b);
	ms_disconnect(a2);
	ms_disconnect(b2);
	free(src);
	free(model);
	free(model1);
}

/* -------------------------------------------------------------- break */

static void t_break(struct fx_server *f)
{
	ms_client *a = conn(f, NULL), *b = conn(f, NULL);
	uint8_t *model = model_of(f, 0), buf[16 * KiB];
	struct ms_lease_info was, li;
	ms_region *ra, *rb;
	uint64_t ea;
	int ret;

	ra = wopen(a, "big");
	ea = epoch_of(ra);
	is_int(put(ra, 0, buf, sizeof(buf)), 0, "break: write");
	is_int(ms_sync(ra), 0, "break: sync");
	memcpy(model, buf, sizeof(buf));
	is_int(put(ra, 64 * KiB, buf, sizeof(buf)), 0, "break: a write left uncommitted");
	is_int(ms_lease_break(b, "big", &was), 0, "break: lease break");
	ok(was.state == MS_LEASE_HELD && was.epoch == ea && was.holder[0],
	   "break: returns the holder (%s) and its epoch", was.holder);
	is_int(ms_lease_get(b, "big", &li), 0, "break: lease get");
	is_int(li.state, MS_LEASE_FREE, "break: the lease is free");
	/* fits the staging area A already has: goes to its revoked
	 * registration, no renewal is due */
	ret = put(ra, 128 * KiB, buf, 4 * KiB);
	ok(ret == -EACCES || ret == -ESTALE, "break: a write into revoked staging fails (%d: %s)",
	   ret, ms_client_errmsg(a));
	is_int(ms_sync(ra), -ESTALE, "break: the holder's next sync is refused");
	ok(strstr(ms_client_errmsg(a), "fenced") != NULL, "break: as fenced: %s",
	   ms_client_errmsg(a));
	rb = wopen(b, "big");
	is_int(epoch_of(rb), ea + 1, "break: the next writer gets epoch + 1");
	ms_close(rb);
	same_bytes(f, 0, model, "break");
	ms_disconnect(a);
	ms_disconnect(b);
	free(model);
}

/* ----------------------------------------------------------- handover */

static void t_handover(struct fx_server *f, struct fx_server *fs)
{
	static const uint8_t zero[16];
	static const uint8_t idb[16] = { 0xb0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 };
	static const uint8_t nobody[16] = { 0xde, 0xad, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 };
	ms_client *a = conn(f, NULL), *b = conn(f, idb), *c = conn(f, NULL);
	uint8_t *model = model_of(f, 0), buf[16 * KiB], ida[16];
	struct ms_lease_info li;
	ms_region *ra, *rb, *rc;
	uint64_t ea, ne = 0;
	int ret;

	ra = wopen(a, "big");
	ea = epoch_of(ra);
	is_int(put(ra, 300 * KiB, buf, sizeof(buf)), 0, "handover: write");
	is_int(ms_sync(ra), 0, "handover: sync");
	memcpy(model + 300 * KiB, buf, sizeof(buf));
	ms_client_id(a, ida);
	is_int(ms_lease_handover(ra, ida, &ne), -EINVAL, "handover: to the holder's own id: EINVAL");
	is_int(ms_lease_handover(ra, zero, &ne), -EINVAL, "handover: to a zero id: EINVAL");
	is_int(put(ra, 400 * KiB, buf, sizeof(buf)), 0, "handover: a write left uncommitted");
	is_int(ms_lease_handover(ra, idb, &ne), 0, "handover: to B");
	is_int(ne, ea + 1, "handover: B's epoch will be A's + 1");
	is_int(ms_lease_get(c, "big", &li), 0, "handover: lease get");
	ok(li.state == MS_LEASE_HANDOVER && !memcmp(li.client_id, idb, 16) && li.expires_ms >= 0,
	   "handover: reserved for B");
	rc = ms_open(c, "big", MS_MODE_WRITE);
	ret = errno;
	ok(!rc && ret == EBUSY, "handover: a third client's write open is EBUSY");
	ok(strstr(ms_client_errmsg(c), "handed over") != NULL, "handover: %s",
	   ms_client_errmsg(c));
	if (rc)
		ms_close(rc);
	rb = wopen(b, "big");
	is_int(epoch_of(rb), ea + 1, "handover: B takes it at epoch + 1");
	ret = put(ra, 0, buf, 4 * KiB);
	is_int(ret, -ESTALE, "handover: A can no longer write");
	ok(strstr(ms_client_errmsg(a), "fenced") != NULL, "handover: %s", ms_client_errmsg(a));
	is_int(ms_lease_renew(ra), -ESTALE, "handover: nor renew");
	is_int(put(rb, 500 * KiB, buf, sizeof(buf)), 0, "handover: B writes");
	is_int(ms_sync(rb), 0, "handover: B commits");
	memcpy(model + 500 * KiB, buf, sizeof(buf));
	ms_close(rb);
	same_bytes(f, 0, model, "handover");
	ms_disconnect(a);
	ms_disconnect(b);
	ms_disconnect(c);
	free(model);

	/* a handover nobody takes lapses (short ttl) */
	model = model_of(fs, 0);
	a = conn(fs, NULL);
	c = conn(fs, NULL);
	ra = wopen(a, "x");
	ea = epoch_of(ra);
	is_int(ms_lease_handover(ra, nobody, &ne), 0, "handover: to a client that never comes");
	is_int(ms_lease_get(c, "x", &li), 0, "handover: lease get");
	is_int(li.state, MS_LEASE_HANDOVER, "handover: reserved");
	ok(lease_becomes(c, "x", MS_LEASE_FREE), "handover: lapsed after the ttl");
	rc = ms_open(c, "x", MS_MODE_WRITE);
	ok(rc && epoch_of(rc) > ea, "handover: then anyone may take it, at a larger epoch");
	if (rc)
		ms_close(rc);
	same_bytes(fs, 0, model, "handover (lapsed)");
	ms_disconnect(a);
	ms_disconnect(c);
	free(model);
}

/* ------------------------------------------------------------- resume */

static void t_resume(struct fx_server *f, struct fx_server *fs)
{
	struct ms_open_opts oo = { .opts_size = sizeof(oo) };
	ms_client *a = conn(f, NULL), *b = conn(f, NULL);
	uint8_t *model = model_of(f, 0), buf[16 * KiB];
	ms_region *r;
	uint64_t n;
	int ret;

	r = wopen(a, "big");
	n = epoch_of(r);
	is_int(put(r, 600 * KiB, buf, sizeof(buf)), 0, "resume: write");
	is_int(ms_sync(r), 0, "resume: sync");
	memcpy(model + 600 * KiB, buf, sizeof(buf));
	ms_close(r);
	oo.expect_epoch = n;
	r = ms_open_with(b, "big", MS_MODE_WRITE, &oo);
	ok(r && epoch_of(r) == n + 1, "resume: released at epoch N: resuming from N succeeds");
	if (r)
		ms_close(r);
	r = wopen(a, "big");          /* someone else writes after N + 1 */
	ms_close(r);
	oo.expect_epoch = n + 1;
	r = ms_open_with(b, "big", MS_MODE_WRITE, &oo);
	ret = errno;
	ok(!r && ret == ESTALE, "resume: taken since: ESTALE");
	ok(strstr(ms_client_errmsg(b), "fenced") != NULL, "resume: %s", ms_client_errmsg(b));
	if (r)
		ms_close(r);
	same_bytes(f, 0, model, "resume");
	ms_disconnect(a);
	ms_disconnect(b);
	free(model);

	/* lapsed: the writer resumes on a new connection */
	model = model_of(fs, 0);
	a = conn(fs, NULL);
	b = conn(fs, NULL);
	r = wopen(a, "x");
	n = epoch_of(r);
	is_int(put(r, 0, buf, sizeof(buf)), 0, "resume: a write that will lapse");
	ok(lease_becomes(b, "x", MS_LEASE_FREE), "resume: lapsed");
	ms_disconnect(a);
	oo.expect_epoch = n;
	r = ms_open_with(b, "x", MS_MODE_WRITE, &oo);
	ok(r && epoch_of(r) == n + 1, "resume: lapsed at epoch N: resuming from N succeeds");
	if (r) {
		is_int(put(r, 0, buf, sizeof(buf)), 0, "resume: rewrite");
		is_int(ms_sync(r), 0, "resume: commit");
		memcpy(model, buf, sizeof(buf));
		ms_close(r);
	}
	same_bytes(fs, 0, model, "resume (lapsed)");
	ms_disconnect(b);
	free(model);
}

/* --------------------------------------------------------- atomicity */

static void t_disconnect(struct fx_server *f)
{
	ms_client *a = conn(f, NULL), *b = conn(f, NULL);
	uint8_t *model = model_of(f, 0), buf[64 * KiB];
	struct ms_region_stat st0 = stat_of(b, "big"), st;
	ms_region *r = wopen(a, "big");
	int t;

	is_int(put(r, 0, buf, sizeof(buf)), 0, "atomic: write");
	is_int(put(r, 1 * MiB, buf, sizeof(buf)), 0, "atomic: another");
	ms_disconnect(a);
	for (t = 0, st = stat_of(b, "big"); t < POLL_BOUND_MS / POLL_MS &&
	     st.commits_abandoned == st0.commits_abandoned; t++) {
		sleep_ms(POLL_MS);
		st = stat_of(b, "big");
	}
	is_int(st.commits_abandoned, st0.commits_abandoned + 1,
	       "atomic: a writer gone without a sync is counted abandoned");
	is_int(st.generation, st0.generation, "atomic: the generation did not move");
	is_int(st.commits, st0.commits, "atomic: nothing committed");
	same_bytes(f, 0, model, "atomic (disconnect)");
	ms_disconnect(b);
	free(model);
}

static void t_many_entries(struct fx_server *f)
{
	const uint64_t size = ms_export_size(f->e[1]);
	const uint64_t piece = 4 * KiB, step = 1 * MiB;
	ms_client *a = conn(f, NULL);
	uint8_t *model = model_of(f, 1), *src = xmalloc(size);
	struct fx_counts k0 = fx_counts(f->s, "small4k"), k1;
	ms_region *r = wopen(a, "small4k");
	uint64_t fails = 0;

	fx_fill(src, size, &seed);
	/* the commit has size / 4 KiB entries (4 KiB chunks), more than one
	 * COMMIT message holds (16384): 1 MiB writes (256 entries each) up
	 * to the last 2 MiB, then single 4 KiB pieces (staging is taken per
	 * write, overwrites too, so the writes tile the region once) */
	for (uint64_t off = 0; off < size - 2 * MiB; off += step)
		fails += ms_write(r, off, src + off, step, NULL, NULL) != 0;
	for (uint64_t off = size - 2 * MiB; off < size; off += piece)
		fails += ms_write(r, off, src + off, piece, NULL, NULL) != 0;
	is_int(fails, 0, "atomic: %llu entries written", (unsigned long long)(size / piece));
	is_int(ms_sync(r), 0, "atomic: one sync: %s", ms_client_errmsg(a));
	k1 = fx_counts(f->s, "small4k");
	is_int(k1.generation, k0.generation + 1, "atomic: the generation moved by exactly 1");
	is_int(k1.commits, k0.commits + 1, "atomic: one commit");
	memcpy(model, src, size);
	same_bytes(f, 1, model, "atomic (many entries)");
	ms_close(r);
	ms_disconnect(a);
	free(src);
	free(model);
}

static void t_stage_limit(struct fx_server *f)
{
	const uint64_t size = 8 * MiB, limit = 1 * MiB;
	struct ms_export_opts eo = { .opts_size = sizeof(eo), .name = "lim", .size = size,
				     .chunk_size = 64 * KiB, .stage_limit = limit };
	ms_export *e = ms_server_add_region(f->s, &eo);
	ms_client *a;
	uint8_t *model, *src;
	struct ms_region_info ri;
	struct ms_xfer_stats xs;
	ms_region *r;
	int ret;

	if (!e)
		tap_bail("add region lim: %s", ms_server_errmsg(f->s));
	model = xmalloc(size);
	src = xmalloc(size);
	memcpy(model, ms_export_mem(e), size);
	a = conn(f, NULL);
	r = wopen(a, "lim");
	ms_region_info(r, &ri);
	is_int(ri.stage_limit, limit, "stage limit: shown by the open");
	fx_fill(src, size, &seed);
	is_int(ms_push(r, 0, src, 4 * MiB, NULL, &xs), 0, "stage limit: push of 4 MiB: %s",
	       ms_client_errmsg(a));
	ok(xs.commits > 1, "stage limit: split into %llu commits", (unsigned long long)xs.commits);
	memcpy(model, src, 4 * MiB);
	ok(!memcmp(ms_export_mem(e), model, size), "stage limit: the region holds the push");
	is_int(ms_write(r, 4 * MiB, src + 4 * MiB, limit, NULL, NULL), 0,
	       "stage limit: a write of the limit");
	ret = ms_write(r, 6 * MiB, src + 6 * MiB, 64 * KiB, NULL, NULL);
	is_int(ret, -E2BIG, "stage limit: one more write without a sync is E2BIG");
	ok(strstr(ms_client_errmsg(a), "limit") != NULL, "stage limit: %s", ms_client_errmsg(a));
	is_int(ms_sync(r), 0, "stage limit: the sync commits the first");
	memcpy(model + 4 * MiB, src + 4 * MiB, limit);
	is_int(ms_write(r, 6 * MiB, src + 6 * MiB, 64 * KiB, NULL, NULL), 0,
	       "stage limit: after the sync there is room again");
	is_int(ms_sync(r), 0, "stage limit: sync");
	memcpy(model + 6 * MiB, src + 6 * MiB, 64 * KiB);
	ok(!memcmp(ms_export_mem(e), model, size),
	   "stage limit: the region holds exactly its last committed bytes");
	ms_close(r);
	ms_disconnect(a);
	free(src);
	free(model);
}

/* ------------------------------------------------------------- direct */

static void t_direct(struct fx_server *fs)
{
	ms_client *a = conn(fs, NULL), *b = conn(fs, NULL);
	uint8_t *model = model_of(fs, 1), buf[16 * KiB], old[16 * KiB];
	struct ms_region_info ri;
	struct ms_lease_info was;
	ms_region *r;
	int ret;

	r = wopen(a, "direct");
	ms_region_info(r, &ri);
	is_int(ri.commit_mode, MS_COMMIT_DIRECT, "direct: the open says direct");
	is_int(ri.stage_limit, 0, "direct: no staging");
	is_int(put(r, 0, buf, sizeof(buf)), 0, "direct: write");
	ok(!memcmp(fs->mem[1], buf, sizeof(buf)), "direct: the bytes landed before the sync");
	is_int(ms_sync(r), 0, "direct: sync");
	memcpy(model, buf, sizeof(buf));
	/* broken: the next write (no renewal due) meets the revoked
	 * registration of the region */
	ms_close(r);
	r = wopen(a, "direct");
	is_int(ms_lease_break(b, "direct", &was), 0, "direct: break");
	memcpy(old, fs->mem[1] + 64 * KiB, sizeof(old));
	ret = put(r, 64 * KiB, buf, sizeof(buf));
	ok(ret < 0, "direct: a write after the break fails (%d: %s)", ret, ms_client_errmsg(a));
	ok(!memcmp(fs->mem[1] + 64 * KiB, old, sizeof(old)), "direct: and changed nothing");
	ms_close(r);
	/* lapsed: the same */
	r = wopen(a, "direct");
	ok(lease_becomes(b, "direct", MS_LEASE_FREE), "direct: an idle lease lapses");
	ret = put(r, 64 * KiB, buf, sizeof(buf));
	ok(ret < 0, "direct: a write after the lapse fails (%d: %s)", ret, ms_client_errmsg(a));
	ok(!memcmp(fs->mem[1] + 64 * KiB, old, sizeof(old)), "direct: and changed nothing");
	ms_close(r);
	r = wopen(b, "direct");
	is_int(put(r, 128 * KiB, buf, sizeof(buf)), 0, "direct: another writer writes");
	is_int(ms_sync(r), 0, "direct: and syncs");
	memcpy(model + 128 * KiB, buf, sizeof(buf));
	ms_close(r);
	same_bytes(fs, 1, model, "direct");
	ms_disconnect(a);
	ms_disconnect(b);
	free(model);
}

int main(void)
{
	/* default ttl */
	static const struct fx_region regs[] = {
		{ "big", 4 << 20, 64 << 10, false, MS_COMMIT_ATOMIC },
		{ "small4k", 68 << 20, 4 << 10, true, MS_COMMIT_ATOMIC },
	};
	/* short ttl */
	static const struct fx_region sregs[] = {
		{ "x", 1 << 20, 64 << 10, false, MS_COMMIT_ATOMIC },
		{ "direct", 1 << 20, 64 << 10, false, MS_COMMIT_DIRECT },
	};
	/* 6 progress reports, one per 4 MiB */
	static const struct fx_region pregs[] = {
		{ "push", 24 << 20, 64 << 10, true, MS_COMMIT_ATOMIC },
	};
	struct fx_server f, fs, fp;

	fx_server_up(&f, regs, 2, FX_SEED);
	memset(&fs, 0, sizeof(fs));
	fs.lease_ttl_ms = SHORT_TTL;
	fx_server_up_with(&fs, sregs, 2, FX_SEED + 1);

	t_epochs(&f);
	t_expiry(&fs);
	t_break(&f);
	t_handover(&f, &fs);
	t_resume(&f, &fs);
	t_disconnect(&f);
	t_many_entries(&f);
	t_stage_limit(&f);
	t_direct(&fs);
	fx_server_down(&f);
	memset(&fp, 0, sizeof(fp));
	fp.lease_ttl_ms = PUSH_TTL;
	fx_server_up_with(&fp, pregs, 1, FX_SEED + 2);
	t_renewal(&fs, &fp);
	fx_server_down(&fp);
	fx_server_down(&fs);
	return tap_done();
}
