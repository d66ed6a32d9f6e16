/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_commit.c - ms_region_commit_stream() (the one call that writes
 * batches of pieces and commits them all at once: the lazy mapper's sync
 * and ms_push use it) and its one-batch form ms_region_commit_pieces(),
 * against an in-process TCP server on 127.0.0.1:
 *
 * - success: the server holds the bytes, and every piece's chunk has the
 *   generation the call reports (one commit message for the batch);
 *   other chunks keep theirs;
 * - a commit the server refuses (one piece's hash does not match its
 *   bytes) fails with EIO after the write, publishes nothing, and leaves
 *   nothing recorded on the connection: an ms_sync() after it commits
 *   nothing, and the same pieces sent again are committed;
 * - a piece outside the region or a read-only region fails before
 *   anything is sent;
 * - ms_write()s pending on the region stay pending, minus what the pieces
 *   overwrite: the next ms_sync() commits only the rest;
 * - no pieces: nothing is committed;
 * - ms_region_commit_stream(): three batches from a fill that reuses one
 *   buffer are one commit (the server's commit counter and the region's
 *   generation move by one, every batch's chunks take that generation);
 *   a fill that fails at its second batch, or a commit refused for a piece
 *   of the last batch, publishes nothing of any batch (generations, commit
 *   counter and bytes_committed unchanged, nothing left to ms_sync), and
 *   the same stream again is one commit;
 * - ms_push() of changed chunks with ms_write()s pending is one commit
 *   (its pieces and the pending writes take the same generation), and
 *   with nothing to send it commits the pending writes, once.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client_int.h"
#include "hash.h"
#include "memsync.h"
#include "tap.h"
#include "fixture.h"

#define CHUNK (64u << 10)
#define NCHUNKS 64u
#define SIZE ((uint64_t)NCHUNKS * CHUNK)
#define PAGE 4096u

static ms_server *srv;
static uint8_t *mem;          /* the server's region */
static char port[8];

static uint64_t rng = 0x2545f4914f6cdd1dull;

static void fill(uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		rng ^= rng << 13;
		rng ^= rng >> 7;
		rng ^= rng << 17;
		p[i] = (uint8_t)rng;
	}
}

static ms_client *conn(void)
{
	struct ms_client_opts co = { .opts_size = sizeof(co), .transport = MS_TRANSPORT_TCP,
				     .timeout_ms = 10000 };
	char err[256];
	ms_client *c = ms_connect("127.0.0.1", port, &co, err, sizeof(err));

	if (!c)
		tap_bail("connect: %s", err);
	return c;
}

static void gens_now(ms_region *r, uint64_t *g)
{
	if (ms_chunk_generations(r, 0, g, NCHUNKS))
		tap_bail("cannot read the chunk generations");
}

/* Four pieces, new bytes in src: a page and two pages of chunk 3, a page
 * of chunk 10 (with their hashes in h), and a run over chunks 20-22 (no
 * hash: the call takes it). */
static size_t make_pieces(struct ms_wpiece *p, uint8_t *src, uint8_t (*h)[MS_HASH_LEN])
{
	static const uint64_t off[] = { 3 * CHUNK, 3 * CHUNK + 5 * PAGE, 10 * CHUNK + PAGE,
					20 * CHUNK + PAGE };
	static const uint64_t len[] = { PAGE, 2 * PAGE, PAGE, 2 * CHUNK };
	size_t used = 0;

	for (size_t i = 0; i < 4; i++) {
		fill(src + used, len[i]);
		p[i] = (struct ms_wpiece){ .off = off[i], .src = src + used, .len = len[i] };
		if (i < 3) {
			ms_chunk_hash(src + used, len[i], h[i]);
			p[i].hash = h[i];
		}
		used += len[i];
	}
	return 4;
}

static bool server_holds(const struct ms_wpiece *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (memcmp(mem + p[i].off, p[i].src, p[i].len))
			return false;
	return true;
}

static bool touched(uint64_t c)
{
	return c == 3 || c == 10 || (c >= 20 && c <= 22);
}

static void test_success(void)
{
	ms_client *c = conn();
	ms_region *r = ms_open(c, "w", MS_MODE_WRITE);
	static uint8_t src[4 * CHUNK];
	uint8_t h[4][MS_HASH_LEN];
	struct ms_wpiece p[4];
	struct ms_commit_res res;
	uint64_t before[NCHUNKS], after[NCHUNKS];
	size_t n = make_pieces(p, src, h);
	bool stamped = true, kept = true;

	if (!r)
		tap_bail("open: %s", ms_client_errmsg(c));
	gens_now(r, before);
	is_int(ms_region_commit_pieces(r, p, n, &res), 0, "success: committed (%s)",
	       ms_client_errmsg(c));
	ok(res.sent, "success: the pieces were sent");
	is_int(res.bytes, 3 * PAGE + 1 * PAGE + 2 * CHUNK, "success: every byte sent once");
	is_int(res.gen_first, res.gen_last, "success: one commit message for the batch");
	ok(server_holds(p, n), "success: the server holds the pieces' bytes");
	gens_now(r, after);
	for (uint64_t i = 0; i < NCHUNKS; i++) {
		if (touched(i) && after[i] != res.gen_last)
			stamped = false;
		if (!touched(i) && after[i] != before[i])
			kept = false;
	}
	ok(stamped, "success: every piece's chunk has the commit's generation %llu",
	   (unsigned long long)res.gen_last);
	ok(kept, "success: the other chunks keep their generations");
	ok(res.gen_last > before[3], "success: a newer generation than before");
	ms_disconnect(c);
}

static void test_refused(void)
{
	ms_client *c = conn();
	ms_region *r = ms_open(c, "w", MS_MODE_WRITE);
	static uint8_t src[4 * CHUNK];
	uint8_t h[4][MS_HASH_LEN], good[MS_HASH_LEN];
	struct ms_wpiece p[4];
	struct ms_commit_res res;
	uint64_t before[NCHUNKS], after[NCHUNKS];
	size_t n = make_pieces(p, src, h);

	if (!r)
		tap_bail("open: %s", ms_client_errmsg(c));
	gens_now(r, before);
	/* the middle piece names a hash its bytes do not have */
	memcpy(good, h[1], MS_HASH_LEN);
	h[1][0] ^= 1;
	is_int(ms_region_commit_pieces(r, p, n, &res), -EIO,
	       "refused: a piece whose hash does not match fails the commit (EIO)");
	ok(res.sent, "refused: the pieces had been written, the commit failed");
	ok(strstr(ms_client_errmsg(c), "refused") != NULL,
	   "refused: the client says why: %s", ms_client_errmsg(c));
	gens_now(r, after);
	ok(memcmp(before, after, sizeof(before)) == 0,
	   "refused: the server published nothing (no generation moved)");
	/* nothing of the batch is pending on the connection */
	is_int(ms_sync(r), 0, "refused: an ms_sync() after it succeeds");
	gens_now(r, after);
	ok(memcmp(before, after, sizeof(before)) == 0,
	   "refused: ... and commits nothing: no piece was left recorded");
	/* the caller still owns them: the same pieces again */
	memcpy(h[1], good, MS_HASH_LEN);
	is_int(ms_region_commit_pieces(r, p, n, &res), 0,
	       "refused: the same pieces again: committed");
	ok(server_holds(p, n), "refused: the server now holds them");
	gens_now(r, after);
	ok(after[3] == res.gen_last && after[10] == res.gen_last && after[21] == res.gen_last,
	   "refused: their chunks have the new generation");
	ms_disconnect(c);
}

static void test_rejected_before_send(void)
{
	ms_client *c = conn();
	ms_region *r = ms_open(c, "w", MS_MODE_WRITE);
	ms_region *ro = ms_open(c, "w", MS_MODE_READ);
	static uint8_t src[2 * PAGE];
	struct ms_wpiece p[2] = {
		{ .off = 5 * CHUNK, .src = src, .len = PAGE },
		{ .off = SIZE - PAGE, .src = src + PAGE, .len = 2 * PAGE },  /* past the end */
	};
	uint8_t keep[PAGE];
	struct ms_commit_res res;

	if (!r || !ro)
		tap_bail("open: %s", ms_client_errmsg(c));
	fill(src, sizeof(src));
	memcpy(keep, mem + 5 * CHUNK, PAGE);
	is_int(ms_region_commit_pieces(r, p, 2, &res), -ERANGE,
	       "range: a piece outside the region: ERANGE");
	ok(!res.sent && res.bytes == 0, "range: nothing sent");
	ok(memcmp(mem + 5 * CHUNK, keep, PAGE) == 0, "range: the valid piece was not written");
	is_int(ms_region_commit_pieces(ro, p, 1, &res), -EACCES,
	       "read-only: EACCES");
	ok(!res.sent && res.bytes == 0, "read-only: nothing sent");
	ms_disconnect(c);
}

static void test_with_pending(void)
{
	ms_client *c = conn();
	ms_region *r = ms_open(c, "w", MS_MODE_WRITE);
	static uint8_t w[2 * CHUNK], q[CHUNK];
	struct ms_wpiece p = { .off = 40 * CHUNK, .src = q, .len = CHUNK };
	struct ms_commit_res res;
	uint64_t g[NCHUNKS];

	if (!r)
		tap_bail("open: %s", ms_client_errmsg(c));
	fill(w, sizeof(w));
	fill(q, sizeof(q));
	is_int(ms_write(r, 40 * CHUNK, w, sizeof(w), NULL, NULL), 0,
	       "pending: ms_write of chunks 40-41, not synced");
	is_int(ms_region_commit_pieces(r, &p, 1, &res), 0,
	       "pending: pieces over chunk 40 committed");
	ok(memcmp(mem + 40 * CHUNK, q, CHUNK) == 0, "pending: chunk 40 holds the piece");
	/* chunk 40's pending entry was superseded: a commit naming it with
	 * the ms_write hash would be refused */
	is_int(ms_sync(r), 0, "pending: ms_sync commits the rest (%s)", ms_client_errmsg(c));
	ok(memcmp(mem + 41 * CHUNK, w + CHUNK, CHUNK) == 0 &&
		   memcmp(mem + 40 * CHUNK, q, CHUNK) == 0,
	   "pending: chunk 41 holds the ms_write bytes, chunk 40 the piece's");
	gens_now(r, g);
	ok(g[41] > res.gen_last && g[40] == res.gen_last,
	   "pending: only chunk 41 was committed by the sync");
	ms_disconnect(c);
}

static void test_empty(void)
{
	ms_client *c = conn();
	ms_region *r = ms_open(c, "w", MS_MODE_WRITE);
	struct ms_commit_res res = { .bytes = 7 };
	uint64_t before[NCHUNKS], after[NCHUNKS];

	if (!r)
		tap_bail("open: %s", ms_client_errmsg(c));
	gens_now(r, before);
	is_int(ms_region_commit_pieces(r, NULL, 0, &res), 0, "empty: no pieces: 0");
	ok(res.bytes == 0 && !res.sent, "empty: nothing sent");
	gens_now(r, after);
	ok(memcmp(before, after, sizeof(before)) == 0, "empty: nothing committed");
	ms_disconnect(c);
}

/* A stream of NBATCH batches of BPIECES pieces, each a page of its own
 * chunk (batch b, piece i: chunk 30 + 4 * b + i), all from one buffer the
 * fill rewrites for each batch (the client has written the previous batch
 * by then).  want[] keeps what each piece should leave on the server. */
#define NBATCH 3
#define BPIECES 4

struct stream {
	uint8_t buf[BPIECES * PAGE];
	uint8_t hash[BPIECES][MS_HASH_LEN];
	uint8_t want[NBATCH * BPIECES][PAGE];
	int batch;
	int fail_at;      /* the fill returns -EIO at this batch (-1: never) */
	int spoil_at;     /* this batch's first piece names a wrong hash */
};

static uint64_t stream_chunk(int b, int i)
{
	return 30 + 4 * (uint64_t)b + (uint64_t)i;
}

static int stream_fill(void *ud, struct ms_wpiece *p, size_t cap)
{
	struct stream *st = ud;
	int b = st->batch;

	if (b == NBATCH)
		return 0;
	if (b == st->fail_at)
		return -EIO;
	if (cap < BPIECES)
		return -ENOSPC;
	fill(st->buf, sizeof(st->buf));
	for (int i = 0; i < BPIECES; i++) {
		uint8_t *src = st->buf + i * PAGE;

		memcpy(st->want[b * BPIECES + i], src, PAGE);
		ms_chunk_hash(src, PAGE, st->hash[i]);
		if (b == st->spoil_at && i == 0)
			st->hash[i][0] ^= 1;
		p[i] = (struct ms_wpiece){ .off = stream_chunk(b, i) * CHUNK + PAGE, .src = src,
					   .len = PAGE, .hash = st->hash[i] };
	}
	st->batch++;
	return BPIECES;
}

static bool stream_landed(const struct stream *st)
{
	for (int b = 0; b < NBATCH; b++)
		for (int i = 0; i < BPIECES; i++)
			if (memcmp(mem + stream_chunk(b, i) * CHUNK + PAGE,
				   st->want[b * BPIECES + i], PAGE))
				return false;
	return true;
}

static void test_stream(void)
{
	ms_client *c = conn();
	ms_region *r = ms_open(c, "w", MS_MODE_WRITE);
	static struct stream st;
	struct ms_commit_res res;
	struct fx_counts k0, k1;
	uint64_t g[NCHUNKS];
	bool stamped = true;

	if (!r)
		tap_bail("open: %s", ms_client_errmsg(c));
	st = (struct stream){ .fail_at = -1, .spoil_at = -1 };
	k0 = fx_counts(srv, "w");
	is_int(ms_region_commit_stream(r, stream_fill, &st, &res), 0,
	       "stream: %d batches committed (%s)", NBATCH, ms_client_errmsg(c));
	k1 = fx_counts(srv, "w");
	ok(res.sent && res.bytes == NBATCH * BPIECES * PAGE,
	   "stream: every batch written, every byte once (%llu)",
	   (unsigned long long)res.bytes);
	is_int(k1.commits - k0.commits, 1, "stream: the server counted one commit");
	is_int(k1.generation - k0.generation, 1, "stream: the region's generation moved by one");
	ok(res.gen_first == res.gen_last && res.gen_last == k1.generation,
	   "stream: one commit message, the region's new generation");
	ok(stream_landed(&st), "stream: the server holds every batch's bytes");
	gens_now(r, g);
	for (int b = 0; b < NBATCH; b++)
		for (int i = 0; i < BPIECES; i++)
			stamped = stamped && g[stream_chunk(b, i)] == res.gen_last;
	ok(stamped, "stream: every batch's chunks have that generation");
	ms_disconnect(c);
}

/* A failure at a later batch (the fill's, or the commit refusing a piece
 * of the last batch) publishes nothing of the earlier ones. */
static void test_stream_fails(bool refuse)
{
	const char *what = refuse ? "stream, refused" : "stream, fill fails";
	ms_client *c = conn();
	ms_region *r = ms_open(c, "w", MS_MODE_WRITE);
	static struct stream st;
	struct ms_commit_res res;
	struct fx_counts k0, k1;
	uint64_t before[NCHUNKS], after[NCHUNKS];
	int ret;

	if (!r)
		tap_bail("open: %s", ms_client_errmsg(c));
	st = (struct stream){ .fail_at = refuse ? -1 : 1, .spoil_at = refuse ? NBATCH - 1 : -1 };
	gens_now(r, before);
	k0 = fx_counts(srv, "w");
	ret = ms_region_commit_stream(r, stream_fill, &st, &res);
	is_int(ret, -EIO, "%s: the stream fails (EIO): %s", what, ms_client_errmsg(c));
	if (refuse)
		ok(res.sent && res.bytes == NBATCH * BPIECES * PAGE,
		   "%s: every batch had been written, the commit failed", what);
	else
		ok(!res.sent && res.bytes == BPIECES * PAGE &&
			   strstr(ms_client_errmsg(c), "source of the pieces failed"),
		   "%s: the first batch had been written, not committed: %s", what,
		   ms_client_errmsg(c));
	k1 = fx_counts(srv, "w");
	gens_now(r, after);
	ok(k1.commits == k0.commits && k1.generation == k0.generation &&
		   k1.committed == k0.committed,
	   "%s: the server accepted no commit (commits, generation, bytes_committed)", what);
	ok(memcmp(before, after, sizeof(before)) == 0,
	   "%s: no chunk of any batch was published (no generation moved)", what);
	is_int(ms_sync(r), 0, "%s: an ms_sync() after it succeeds", what);
	is_int(fx_counts(srv, "w").commits, k0.commits, "%s: ... and commits nothing", what);
	/* the same stream again */
	st.batch = 0;
	st.fail_at = st.spoil_at = -1;
	is_int(ms_region_commit_stream(r, stream_fill, &st, &res), 0,
	       "%s: the stream again: committed", what);
	k1 = fx_counts(srv, "w");
	ok(k1.commits == k0.commits + 1 && k1.generation == k0.generation + 1,
	   "%s: ... as one commit", what);
	ok(stream_landed(&st), "%s: the server holds every batch's bytes", what);
	ms_disconnect(c);
}

/* ms_push of changed chunks with ms_write()s pending: one commit names
 * both. */
static void test_push_one_commit(void)
{
	ms_client *c = conn();
	ms_region *r = ms_open(c, "w", MS_MODE_WRITE);
	static uint8_t w[CHUNK], img[3 * CHUNK];
	struct ms_xfer_stats xs;
	struct fx_counts k0, k1;
	uint64_t g[NCHUNKS];

	if (!r)
		tap_bail("open: %s", ms_client_errmsg(c));
	fill(w, sizeof(w));
	memcpy(img, mem + 60 * CHUNK, sizeof(img));
	img[5] ^= 1;                    /* chunk 60 and 62 differ, 61 not */
	img[2 * CHUNK + 7] ^= 1;
	is_int(ms_write(r, 50 * CHUNK, w, CHUNK, NULL, NULL), 0,
	       "push: ms_write of chunk 50, not synced");
	k0 = fx_counts(srv, "w");
	is_int(ms_push(r, 60 * CHUNK, img, sizeof(img), NULL, &xs), 0, "push: chunks 60-62 (%s)",
	       ms_client_errmsg(c));
	k1 = fx_counts(srv, "w");
	is_int(xs.chunks_moved, 2, "push: the two chunks that differ moved");
	is_int(k1.commits - k0.commits, 1,
	       "push: one commit for its pieces and the pending ms_write");
	gens_now(r, g);
	ok(g[50] == k1.generation && g[60] == k1.generation && g[62] == k1.generation &&
		   g[61] < k1.generation,
	   "push: chunks 50, 60 and 62 took the new generation %llu, 61 kept its own",
	   (unsigned long long)k1.generation);
	ok(memcmp(mem + 50 * CHUNK, w, CHUNK) == 0 &&
		   memcmp(mem + 60 * CHUNK, img, sizeof(img)) == 0,
	   "push: the server holds both");
	is_int(ms_sync(r), 0, "push: an ms_sync() after it");
	is_int(fx_counts(srv, "w").commits, k1.commits, "push: ... has nothing left to commit");
	/* nothing differs, an ms_write pending: its one commit */
	fill(w, sizeof(w));
	is_int(ms_write(r, 51 * CHUNK, w, CHUNK, NULL, NULL), 0, "push: ms_write of chunk 51");
	is_int(ms_push(r, 60 * CHUNK, img, sizeof(img), NULL, &xs), 0,
	       "push: the same bytes again");
	k0 = fx_counts(srv, "w");
	ok(xs.chunks_moved == 0 && k0.commits == k1.commits + 1,
	   "push: nothing moved, one commit (the pending ms_write)");
	gens_now(r, g);
	ok(g[51] == k0.generation && memcmp(mem + 51 * CHUNK, w, CHUNK) == 0,
	   "push: chunk 51 committed");
	is_int(ms_push(r, 60 * CHUNK, img, sizeof(img), NULL, &xs), 0, "push: once more");
	is_int(fx_counts(srv, "w").commits, k0.commits, "push: nothing to send or commit: no commit");
	ms_disconnect(c);
}

int main(void)
{
	struct ms_server_opts so = { .opts_size = sizeof(so), .host = "127.0.0.1", .port = "0",
				     .transport = MS_TRANSPORT_TCP };
	struct ms_export_opts eo = { .opts_size = sizeof(eo), .name = "w", .size = SIZE,
				     .chunk_size = CHUNK,
				     .no_mlock = true };
	ms_export *e;
	char err[256];

	alarm(300);
	srv = ms_server_create(&so, err, sizeof(err));
	if (!srv)
		tap_bail("server: %s", err);
	e = ms_server_add_region(srv, &eo);
	if (!e)
		tap_bail("add region: %s", ms_server_errmsg(srv));
	mem = ms_export_mem(e);
	fill(mem, SIZE);
	if (ms_export_commit(e, 0, SIZE) || ms_server_start(srv))
		tap_bail("server start: %s", ms_server_errmsg(srv));
	snprintf(port, sizeof(port), "%u", ms_server_port(srv));

	test_success();
	test_refused();
	test_rejected_before_send();
	test_with_pending();
	test_empty();
	test_stream();
	test_stream_fails(false);
	test_stream_fails(true);
	test_push_one_commit();

	ms_server_destroy(srv);
	return tap_done();
}
