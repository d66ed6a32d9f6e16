/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_hold.c - readers under a steady writer (issue 10, item 6): HOLD
 * and RELEASE on the wire and in the server, and pulls that complete and
 * return one commit's copy while a writer commits without pause.  A real
 * server on 127.0.0.1 (TCP, port 0; tests/unit/fixture.h).
 *
 *  - proto: HOLD, HOLD_OK, RELEASE, RELEASE_OK encode and decode; a zero
 *    hold time, an unknown flag, a short or long message are refused;
 *  - a HOLD keeps a commit out until RELEASE, which says the hold was
 *    intact and no generation was published meanwhile;
 *  - a HOLD that is never released does not keep a commit out beyond its
 *    cap (MS_HOLD_MAX_MS; the time a HOLD asks for is capped);
 *  - a HOLD whose peer disconnects is released (not merely left to
 *    expire: an expired hold stays listed until released);
 *  - a HOLD with a bad handle, a malformed one, one before HELLO and a
 *    RELEASE without a hold get clear errors and change nothing;
 *  - consistent pulls with no writer: an unaligned one (confirmed under a
 *    hold) is exact; a change made without a commit is EIO, even under
 *    holds;
 *  - starve: a writer commits full-region versions without pause (every
 *    byte of version v is v, v = 1, 2, 3, ...) while readers pull the whole
 *    region again and again: every pull succeeds (no EIO), every
 *    consistent pull equals exactly one version (a mix of chunks of two
 *    versions fails), and every chunk of a default pull is one version.
 *    MS_STARVE_SECONDS sets the duration (default 3;
 *    tests/integration/starve.sh runs 30).
 *
 * The writer: by default a thread of the server process that changes the
 * region only inside its commit (region lock taken through the commit
 * gate, bytes copied, chunks stamped, generation published), which is
 * what an atomic commit does (issue 10 item 1: a remote writer's bytes
 * land in a staging area and are copied in by the commit).
 * MS_STARVE_WRITER=push makes it a remote client that ms_push()es each
 * version instead; that is the same test once remote commits are atomic,
 * and fails with direct (write-in-place) commits, whose chunks are torn
 * while the writer writes, hold or not.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tap.h"
#include "fixture.h"
#include "proto.h"
#include "region.h"
#include "server_int.h"
#include "tcp.h"
#include "util.h"

#define SIZE (2u << 20)
#define CHUNK (64u << 10)
#define NVERS 3             /* versions the writer cycles through */
#define READERS 3           /* two consistent, one default */

static const struct fx_region regs[] = {
	{ .name = "gate", .size = 1 << 20, .chunk_size = CHUNK, .no_mlock = true },
	{ .name = "busy", .size = SIZE, .chunk_size = CHUNK, .no_mlock = true },
};

static uint8_t req[4096], resp[4096];

/* ------------------------------------------------------------- proto */

static void test_proto(void)
{
	struct ms_msg_hold h = { .handle = 7, .ms = 1500 }, hd;
	struct ms_msg_hold_ok k = { .generation = 1ull << 40, .ms = 1999,
				    .flags = MS_HOLD_F_SETTLED }, kd;
	struct ms_msg_handle rl = { .handle = 9 }, rd;
	uint8_t b[64];
	int n;

	n = ms_enc_hold(b, sizeof(b), &h);
	ok(n == 12 && ms_dec_hold(b, (size_t)n, &hd) == 0 && hd.handle == 7 && hd.ms == 1500,
	   "proto: HOLD round trip (%d bytes)", n);
	is_int(ms_dec_hold(b, (size_t)n - 1, &hd), -EBADMSG, "proto: a short HOLD is refused");
	b[n] = 0;
	is_int(ms_dec_hold(b, (size_t)n + 1, &hd), -EBADMSG, "proto: a long HOLD is refused");
	h.ms = 0;
	n = ms_enc_hold(b, sizeof(b), &h);
	is_int(ms_dec_hold(b, (size_t)n, &hd), -EBADMSG, "proto: a HOLD of 0 ms is refused");

	n = ms_enc_hold_ok(b, sizeof(b), MS_MSG_HOLD_OK, &k);
	ok(n == 20 && ms_dec_hold_ok(b, (size_t)n, MS_MSG_HOLD_OK, &kd) == 0 &&
		   kd.generation == k.generation && kd.ms == 1999 && kd.flags == MS_HOLD_F_SETTLED,
	   "proto: HOLD_OK round trip");
	is_int(ms_dec_hold_ok(b, (size_t)n, MS_MSG_RELEASE_OK, &kd), -EBADMSG,
	       "proto: a HOLD_OK is not a RELEASE_OK");
	b[16] = 0x80;   /* flags, an unknown bit */
	is_int(ms_dec_hold_ok(b, (size_t)n, MS_MSG_HOLD_OK, &kd), -EBADMSG,
	       "proto: an unknown HOLD_OK flag is refused");
	k.flags = 1u << 5;
	is_int(ms_enc_hold_ok(b, sizeof(b), MS_MSG_HOLD_OK, &k), -EINVAL,
	       "proto: an unknown flag is not encoded");
	k.flags = MS_HOLD_F_INTACT;
	is_int(ms_enc_hold_ok(b, sizeof(b), MS_MSG_COMMIT_OK, &k), -EINVAL,
	       "proto: HOLD_OK's layout only for HOLD_OK and RELEASE_OK");
	n = ms_enc_hold_ok(b, sizeof(b), MS_MSG_RELEASE_OK, &k);
	ok(ms_dec_hold_ok(b, (size_t)n, MS_MSG_RELEASE_OK, &kd) == 0 &&
		   kd.flags == MS_HOLD_F_INTACT,
	   "proto: RELEASE_OK round trip");
	n = ms_enc_release(b, sizeof(b), &rl);
	ok(n == 8 && ms_dec_release(b, (size_t)n, &rd) == 0 && rd.handle == 9,
	   "proto: RELEASE round trip");
	is_int(ms_dec_close(b, (size_t)n, &rd), -EBADMSG, "proto: a RELEASE is not a CLOSE");
	is_str(ms_msg_name(MS_MSG_HOLD), "HOLD", "proto: HOLD has a name");
	is_str(ms_msg_name(MS_MSG_RELEASE_OK), "RELEASE_OK", "proto: RELEASE_OK has a name");
}

/* ------------------------------------------------------ raw connections */

/* One raw control round trip of the len bytes in req: the reply's type
 * (its length in *rlen). */
static int raw_call(struct ms_xconn *x, int len, size_t *rlen)
{
	if (len < 0 || ms_tcp_ops.call(x, req, (size_t)len, resp, sizeof(resp), rlen, 5000))
		tap_bail("raw call failed");
	return ms_msg_type(resp, *rlen);
}

/* A raw TCP connection (HELLO unless !hello) with region name open for
 * reading as *handle. */
static struct ms_xconn *raw_open(const struct fx_server *f, const char *name, bool hello,
				 uint32_t *handle)
{
	struct ms_xopts xo = { .depth = 4, .max_io = 1 << 20, .timeout_ms = 5000 };
	struct ms_msg_hello h = { .version = MS_PROTO_VERSION };
	struct ms_msg_open om = { .mode = MS_MODE_READ };
	struct ms_msg_open_ok oo;
	struct ms_xconn *x = NULL;
	char err[256];
	size_t rlen;

	snprintf(h.agent, sizeof(h.agent), "test_hold");
	snprintf(om.name, sizeof(om.name), "%s", name);
	if (ms_tcp_ops.connect("127.0.0.1", f->port, &xo, &x, err, sizeof(err)))
		tap_bail("raw connect: %s", err);
	if (!hello)
		return x;
	raw_call(x, ms_enc_hello(req, sizeof(req), &h), &rlen);
	raw_call(x, ms_enc_open(req, sizeof(req), &om), &rlen);
	if (ms_dec_open_ok(resp, rlen, &oo))
		tap_bail("raw: open of %s failed", name);
	*handle = oo.handle;
	return x;
}

/* HOLD (or RELEASE when ms is 0) on handle: 0 with *ok, else the errno of
 * the ERROR reply (its message in msg). */
static int raw_hold(struct ms_xconn *x, uint32_t handle, uint32_t ms,
		    struct ms_msg_hold_ok *ok_out, char *msg, size_t msglen)
{
	struct ms_msg_hold h = { .handle = handle, .ms = ms };
	struct ms_msg_handle rl = { .handle = handle };
	struct ms_msg_error e;
	size_t rlen;
	int t;

	t = raw_call(x, ms ? ms_enc_hold(req, sizeof(req), &h) : ms_enc_release(req, sizeof(req), &rl),
		     &rlen);
	if (t == MS_MSG_ERROR) {
		if (ms_dec_error(resp, rlen, &e))
			tap_bail("raw: malformed ERROR");
		if (msg)
			snprintf(msg, msglen, "%s", e.msg);
		return e.err;
	}
	if (ms_dec_hold_ok(resp, rlen, ms ? MS_MSG_HOLD_OK : MS_MSG_RELEASE_OK, ok_out))
		tap_bail("raw: malformed %s", ms ? "HOLD_OK" : "RELEASE_OK");
	return 0;
}

static struct ms_rregion *region_of(const struct fx_server *f, size_t i)
{
	return f->e[i]->r;
}

/* ------------------------------------------------------- the hold itself */

struct committer {
	ms_export *e;
	atomic_int done;
	int ret;
};

static void *commit_main(void *arg)
{
	struct committer *k = arg;

	k->ret = ms_export_commit(k->e, 0, 4096);
	atomic_store(&k->done, 1);
	return NULL;
}

/* A HOLD keeps a (local) commit out until its RELEASE.  The check that
 * the commit waited means something only when the hold was still in force
 * at the release (RELEASE_OK says so): on a machine too loaded to release
 * within the hold, the case runs again (3 attempts). */
static void test_hold_release(struct fx_server *f)
{
	struct ms_msg_hold_ok h = { 0 }, rl = { 0 };
	uint32_t handle = 0;
	struct ms_xconn *x = raw_open(f, "gate", true, &handle);
	uint64_t g0 = 0;
	bool waited = false, applied = false;
	int hret = -1, rret = -1;

	for (int attempt = 1; attempt <= 3; attempt++) {
		struct committer k = { .e = f->e[0] };
		pthread_t th;

		g0 = fx_counts(f->s, "gate").generation;
		hret = raw_hold(x, handle, MS_HOLD_MAX_MS, &h, NULL, 0);
		if (hret)
			break;
		if (pthread_create(&th, NULL, commit_main, &k))
			tap_bail("pthread_create");
		usleep(100 * 1000);   /* well inside the hold */
		waited = !atomic_load(&k.done) && fx_counts(f->s, "gate").generation == g0;
		rret = raw_hold(x, handle, 0, &rl, NULL, 0);
		pthread_join(th, NULL);
		applied = k.ret == 0 && fx_counts(f->s, "gate").generation == g0 + 1;
		if (rret || (rl.flags & MS_HOLD_F_INTACT))
			break;
		diag("hold: the hold expired before its release (a loaded machine); again");
	}
	is_int(hret, 0, "hold: HOLD answered");
	ok(h.flags & MS_HOLD_F_SETTLED, "hold: settled at once (no commit under way)");
	ok(h.generation == g0 && h.ms > 0 && h.ms <= MS_HOLD_MAX_MS,
	   "hold: HOLD_OK has the generation (%llu) and the time granted (%u ms)",
	   (unsigned long long)h.generation, h.ms);
	is_int(rret, 0, "hold: RELEASE answered");
	ok((rl.flags & MS_HOLD_F_INTACT) && rl.generation == g0,
	   "hold: RELEASE_OK says intact, generation unchanged");
	ok(waited, "hold: a commit waits while the hold is on");
	ok(applied, "hold: the commit is applied after the release");
	is_int((int)ms_region_holds(region_of(f, 0)), 0, "hold: nothing listed after it");
	ms_tcp_ops.close(x);
}

/* A hold nobody releases keeps a commit out for its cap at most. */
static void test_hold_expires(struct fx_server *f)
{
	struct ms_msg_hold_ok h, rl;
	uint32_t handle = 0;
	struct ms_xconn *x = raw_open(f, "gate", true, &handle);
	uint64_t g0 = fx_counts(f->s, "gate").generation, t0, t1, since_hold, since_commit;

	t0 = ms_now_ns();
	is_int(raw_hold(x, handle, 60000, &h, NULL, 0), 0, "expiry: a HOLD of 60 s is answered");
	ok(h.ms <= MS_HOLD_MAX_MS && h.ms >= MS_HOLD_MAX_MS - 100,
	   "expiry: it is granted the cap (%u ms of at most %u)", h.ms, MS_HOLD_MAX_MS);
	t1 = ms_now_ns();
	is_int(ms_export_commit(f->e[0], 0, 4096), 0, "expiry: a commit under the hold succeeds");
	since_hold = (ms_now_ns() - t0) / 1000000;
	since_commit = (ms_now_ns() - t1) / 1000000;
	/* the hold was granted after t0, for h.ms: the commit cannot end
	 * sooner (it did keep the commit out); the upper bound is what the
	 * issue asks for, with room for a loaded machine */
	ok(since_hold >= h.ms, "expiry: the commit waited for the hold (%llu ms since the HOLD)",
	   (unsigned long long)since_hold);
	ok(since_commit <= MS_HOLD_MAX_MS + 1500,
	   "expiry: ... not beyond the cap (%llu ms)", (unsigned long long)since_commit);
	is_int((int)ms_region_holds(region_of(f, 0)), 1,
	       "expiry: the hold was not released, it expired");
	is_int(raw_hold(x, handle, 0, &rl, NULL, 0), 0, "expiry: the late RELEASE is answered");
	ok(!(rl.flags & MS_HOLD_F_INTACT) && rl.generation == g0 + 1,
	   "expiry: RELEASE_OK says the hold expired and a commit came");
	is_int((int)ms_region_holds(region_of(f, 0)), 0, "expiry: released now");
	ms_tcp_ops.close(x);
}

/* A peer that holds and vanishes: its hold is released with it. */
static void test_hold_disconnect(struct fx_server *f)
{
	struct ms_msg_hold_ok h;
	uint32_t handle = 0;
	struct ms_xconn *x = raw_open(f, "gate", true, &handle);
	uint64_t g0 = fx_counts(f->s, "gate").generation;
	int tries;

	is_int(raw_hold(x, handle, 2000, &h, NULL, 0), 0, "disconnect: HOLD answered");
	is_int((int)ms_region_holds(region_of(f, 0)), 1, "disconnect: the hold is listed");
	ms_tcp_ops.close(x);
	/* an expired hold stays listed until released: only the release on
	 * disconnect empties the list (bounded wait for the loop to see it) */
	for (tries = 0; tries < 500 && ms_region_holds(region_of(f, 0)); tries++)
		usleep(10 * 1000);
	is_int((int)ms_region_holds(region_of(f, 0)), 0, "disconnect: the hold is released");
	ok(ms_export_commit(f->e[0], 0, 4096) == 0 &&
		   fx_counts(f->s, "gate").generation == g0 + 1,
	   "disconnect: commits go on");
}

/* Bad requests: a clear error each, and nothing held. */
static void test_hold_bad(struct fx_server *f)
{
	struct ms_msg_hold hm = { .handle = 0, .ms = 500 };
	struct ms_msg_hold_ok h;
	struct ms_msg_error e;
	uint32_t handle = 0;
	struct ms_xconn *x = raw_open(f, "gate", true, &handle), *y;
	uint64_t g0 = fx_counts(f->s, "gate").generation;
	char msg[MS_ERRMSG_MAX + 1] = "";
	size_t rlen;
	int n;

	is_int(raw_hold(x, 77, 500, &h, msg, sizeof(msg)), EBADF, "bad: HOLD of handle 77: EBADF");
	ok(strstr(msg, "handle 77") != NULL, "bad: ... saying so (%s)", msg);
	is_int(raw_hold(x, handle + 1, 500, &h, msg, sizeof(msg)), EBADF,
	       "bad: HOLD of a handle not open: EBADF");
	n = ms_enc_hold(req, sizeof(req), &hm);
	ok(raw_call(x, n - 2, &rlen) == MS_MSG_ERROR && ms_dec_error(resp, rlen, &e) == 0 &&
		   e.err == EBADMSG && strstr(e.msg, "malformed HOLD"),
	   "bad: a short HOLD: EBADMSG (%s)", e.msg);
	is_int(raw_hold(x, handle, 0xffffffffu, &h, NULL, 0), 0, "bad: (a 4e9 ms HOLD is capped)");
	is_int(raw_hold(x, handle, 0, &h, NULL, 0), 0, "bad: (and released)");
	hm.handle = handle;
	hm.ms = 0;
	n = ms_enc_hold(req, sizeof(req), &hm);
	ok(raw_call(x, n, &rlen) == MS_MSG_ERROR && ms_dec_error(resp, rlen, &e) == 0 &&
		   e.err == EBADMSG,
	   "bad: a HOLD of 0 ms: EBADMSG (%s)", e.msg);
	is_int(raw_hold(x, handle, 0, &h, msg, sizeof(msg)), EINVAL,
	       "bad: RELEASE with no hold: EINVAL");
	ok(strstr(msg, "holds no commits") != NULL, "bad: ... saying so (%s)", msg);
	is_int(raw_hold(x, 5, 0, &h, NULL, 0), EBADF, "bad: RELEASE of a bad handle: EBADF");

	y = raw_open(f, "gate", false, &handle);
	hm.handle = 0;
	hm.ms = 500;
	n = ms_enc_hold(req, sizeof(req), &hm);
	ok(raw_call(y, n, &rlen) == MS_MSG_ERROR && ms_dec_error(resp, rlen, &e) == 0 &&
		   e.err == EPROTO,
	   "bad: HOLD before HELLO: EPROTO (%s)", e.msg);
	ms_tcp_ops.close(y);

	is_int((int)ms_region_holds(region_of(f, 0)), 0, "bad: nothing is held");
	ok(ms_export_commit(f->e[0], 0, 4096) == 0 &&
		   fx_counts(f->s, "gate").generation == g0 + 1,
	   "bad: commits go on");
	is_int(fx_warnings(f), 0, "bad: no server warnings");
	ms_tcp_ops.close(x);
}

/* Consistent pulls with no writer: an unaligned one is confirmed under a
 * hold and equals the region; a change made without a commit fails with
 * EIO even under holds, saying so; no hold is left either way. */
static void test_consistent_quiet(struct fx_server *f)
{
	struct ms_xfer_opts o = { .opts_size = sizeof(o), .consistent = true };
	ms_client *c = fx_connect(f, NULL);
	ms_region *r = c ? ms_open(c, "gate", MS_MODE_READ) : NULL;
	uint64_t off = CHUNK / 2 + 3, len = 5 * CHUNK + 11;
	uint8_t *buf = malloc(regs[0].size);

	if (!r || !buf)
		tap_bail("open gate");
	ok(ms_pull(r, off, buf, len, &o, NULL) == 0 && memcmp(buf, f->mem[0] + off, len) == 0,
	   "quiet: an unaligned consistent pull equals the region");
	ok(ms_pull(r, 0, buf, regs[0].size, &o, NULL) == 0 &&
		   memcmp(buf, f->mem[0], regs[0].size) == 0,
	   "quiet: a whole consistent pull equals the region");
	is_int((int)ms_region_holds(region_of(f, 0)), 0, "quiet: no hold is left");
	f->mem[0][3 * CHUNK + 5] ^= 0x5a;
	is_int(ms_pull(r, 0, buf, regs[0].size, &o, NULL), -EIO,
	       "quiet: an uncommitted change fails the pull (EIO)");
	ok(strstr(ms_client_errmsg(c), "chunk 3") && strstr(ms_client_errmsg(c), "held"),
	   "quiet: ... naming the chunk and the holds (%s)", ms_client_errmsg(c));
	is_int((int)ms_region_holds(region_of(f, 0)), 0, "quiet: no hold is left after it");
	f->mem[0][3 * CHUNK + 5] ^= 0x5a;
	ms_close(r);
	ms_disconnect(c);
	free(buf);
}

/* ---------------------------------------------------------------- starve */

struct starve {
	struct fx_server *f;
	atomic_int stop;
	atomic_uint_fast64_t commits;
	bool push;              /* remote writer (MS_STARVE_WRITER=push) */
	int writer_err;
};

struct reader {
	struct starve *sv;
	bool consistent;
	uint64_t pulls, fails, mixed, retried, torn;
	int first_err;
	char errmsg[512];
};

/* One version committed as an atomic commit does: bytes and stamps under
 * the region's commit lock (through the hold gate), then published. */
static void commit_local(struct ms_rregion *r, uint8_t v)
{
	uint64_t gen = ms_region_commit_begin(r);

	memset(r->mem, v, r->size);
	ms_region_commit_piece(r, 0, r->size, gen, false);
	ms_region_commit_end(r, gen);
}

static void *writer_main(void *arg)
{
	struct starve *sv = arg;
	ms_client *c = NULL;
	ms_region *w = NULL;
	uint8_t *src = NULL;

	if (sv->push) {
		c = fx_connect(sv->f, NULL);
		w = c ? ms_open(c, "busy", MS_MODE_WRITE) : NULL;
		src = malloc(SIZE);
		if (!w || !src) {
			sv->writer_err = -EIO;
			goto out;
		}
	}
	for (uint64_t k = 1; !atomic_load(&sv->stop); k++) {
		uint8_t v = (uint8_t)(1 + k % NVERS);

		if (sv->push) {
			memset(src, v, SIZE);
			if ((sv->writer_err = ms_push(w, 0, src, SIZE, NULL, NULL))) {
				diag("writer: %s", ms_client_errmsg(c));
				break;
			}
		} else {
			commit_local(region_of(sv->f, 1), v);
		}
		atomic_fetch_add(&sv->commits, 1);
	}
out:
	if (c)
		ms_disconnect(c);
	free(src);
	return NULL;
}

/* Every byte of b[0..len) equals b[0], and b[0] is a version. */
static bool one_version(const uint8_t *b, size_t len)
{
	if (b[0] < 1 || b[0] > NVERS)
		return false;
	for (size_t i = 0; i < len; i++)
		if (b[i] != b[0])
			return false;
	return true;
}

static void *reader_main(void *arg)
{
	struct reader *rd = arg;
	struct ms_xfer_opts o = { .opts_size = sizeof(o), .consistent = rd->consistent };
	ms_client *c = fx_connect(rd->sv->f, NULL);
	ms_region *r = c ? ms_open(c, "busy", MS_MODE_READ) : NULL;
	uint8_t *buf = malloc(SIZE);

	if (!r || !buf) {
		rd->first_err = -ENOTCONN;
		rd->fails++;
		goto out;
	}
	while (!atomic_load(&rd->sv->stop)) {
		struct ms_xfer_stats st;
		int ret = ms_pull(r, 0, buf, SIZE, &o, &st);

		rd->pulls++;
		rd->retried += st.chunks_retried;
		if (ret) {
			if (!rd->fails++) {
				rd->first_err = ret;
				snprintf(rd->errmsg, sizeof(rd->errmsg), "%s", ms_client_errmsg(c));
			}
			continue;
		}
		if (!one_version(buf, SIZE))
			rd->mixed++;
		for (size_t i = 0; i < SIZE; i += CHUNK)
			rd->torn += !one_version(buf + i, CHUNK);
	}
out:
	free(buf);
	if (c)
		ms_disconnect(c);
	return NULL;
}

static void test_starve(struct fx_server *f)
{
	const char *env = getenv("MS_STARVE_SECONDS"), *wenv = getenv("MS_STARVE_WRITER");
	struct starve sv = { .f = f, .push = wenv && !strcmp(wenv, "push") };
	struct reader rd[READERS];
	pthread_t wt, rt[READERS];
	unsigned secs = env ? (unsigned)strtoul(env, NULL, 10) : 3;
	uint64_t c0, pulls = 0, retried = 0;
	bool all_pulled = true;

	if (secs == 0 || secs > 3600)
		secs = 3;
	diag("starve: %u s, writer: %s", secs, sv.push ? "remote ms_push" : "local atomic commits");
	commit_local(region_of(f, 1), 1);  /* one version from the start */
	if (pthread_create(&wt, NULL, writer_main, &sv))
		tap_bail("pthread_create");
	for (int i = 0; i < READERS; i++) {
		rd[i] = (struct reader){ .sv = &sv, .consistent = i < READERS - 1 };
		if (pthread_create(&rt[i], NULL, reader_main, &rd[i]))
			tap_bail("pthread_create");
	}
	/* the writer is going before the clock runs */
	for (int i = 0; i < 1000 && atomic_load(&sv.commits) < 2; i++)
		usleep(1000);
	c0 = atomic_load(&sv.commits);
	sleep(secs);
	atomic_store(&sv.stop, 1);
	for (int i = 0; i < READERS; i++)
		pthread_join(rt[i], NULL);
	pthread_join(wt, NULL);

	is_int(sv.writer_err, 0, "starve: the writer never failed");
	ok(atomic_load(&sv.commits) > c0 + 1, "starve: the writer kept committing (%llu commits)",
	   (unsigned long long)atomic_load(&sv.commits));
	for (int i = 0; i < READERS; i++) {
		const char *kind = rd[i].consistent ? "consistent" : "default";

		diag("starve: reader %d (%s): %llu pulls, %llu chunks re-read", i, kind,
		     (unsigned long long)rd[i].pulls, (unsigned long long)rd[i].retried);
		if (!ok(rd[i].fails == 0, "starve: reader %d (%s): no pull failed (%llu of %llu)", i,
			kind, (unsigned long long)rd[i].fails, (unsigned long long)rd[i].pulls))
			diag("first failure: %d: %s", rd[i].first_err, rd[i].errmsg);
		ok(rd[i].torn == 0, "starve: reader %d (%s): every chunk is one version", i, kind);
		if (rd[i].consistent)
			ok(rd[i].mixed == 0,
			   "starve: reader %d (consistent): every pull is one version (%llu mixed)",
			   i, (unsigned long long)rd[i].mixed);
		pulls += rd[i].pulls;
		retried += rd[i].retried;
		all_pulled = all_pulled && rd[i].pulls > 0;
	}
	ok(all_pulled, "starve: every reader pulled (%llu pulls in all)", (unsigned long long)pulls);
	/* otherwise the test proved nothing: no pull met a commit */
	ok(retried > 0, "starve: pulls met commits and re-read chunks (%llu)",
	   (unsigned long long)retried);
	diag("starve: commits that waited for a hold: %llu",
	     (unsigned long long)region_of(f, 1)->hold.waited);
	is_int((int)ms_region_holds(region_of(f, 1)), 0, "starve: no hold is left behind");
}

int main(void)
{
	struct fx_server f;

	test_proto();
	fx_server_up(&f, regs, MS_ARRAY_SIZE(regs), FX_SEED);
	test_hold_release(&f);
	test_hold_bad(&f);
	test_hold_disconnect(&f);
	test_hold_expires(&f);
	test_consistent_quiet(&f);
	test_starve(&f);
	is_int(fx_warnings(&f), 0, "no server warnings");
	fx_server_down(&f);
	return tap_done();
}
