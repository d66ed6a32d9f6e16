/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_engine.c - libmemsync end to end over the TCP transport, in one
 * process: a real server on 127.0.0.1 (port 0) and real clients, set up by
 * the engine fixture (fixture.h) afresh for every case.
 *
 * Covers pull (whole, unaligned, short last chunk), verification against
 * uncommitted changes, push of only the differing chunks, commit hash
 * checks, leases, duplicate client ids, read-only keys that cannot write,
 * a server that goes away under a connected client, file regions, and how
 * the entry points take an options struct's opts_size.  Every case asserts
 * the warnings its server logged.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "memsync.h"
#include "proto.h"
#include "tap.h"
#include "fixture.h"
#include "tcp.h"
#include "transport.h"

#define MiB (1ull << 20)
#define CHUNK (64u << 10)
#define SIZE (8 * MiB)

/* r1: 8 MiB in 64 KiB chunks; small: 12 KiB in 8 KiB chunks (a short
 * last chunk). */
static const struct fx_region regions[] = {
	{ .name = "r1", .size = SIZE, .chunk_size = CHUNK },
	{ .name = "small", .size = 12288, .chunk_size = 8192 },
	{ .name = "d1", .size = 4 * CHUNK, .chunk_size = CHUNK, .commit = MS_COMMIT_DIRECT },
};
#define NREGIONS (sizeof(regions) / sizeof(regions[0]))

static void up(struct fx_server *f)
{
	fx_server_up(f, regions, NREGIONS, FX_SEED);
}

/* Tear down and check the server logged exactly `want` warnings, the last
 * one containing `last` (when want > 0). */
static void down(struct fx_server *f, const char *what, int want, const char *last)
{
	char buf[256];
	int got;

	fx_server_down(f);
	got = fx_warnings(f);
	fx_last_warning(f, buf, sizeof(buf));
	if (want == 0)
		ok(got == 0, "%s: the server logged no warning (%d)", what, got);
	else
		ok(got == want && strstr(buf, last) != NULL,
		   "%s: the server logged %d warning(s), the last about '%s' (%d: %s)", what,
		   want, last, got, buf);
}

static uint64_t stat_written(ms_server *s, const char *name)
{
	struct ms_region_stat *st;
	size_t n;
	uint64_t v;

	if (ms_server_stat(s, name, &st, &n) || n != 1)
		tap_bail("ms_server_stat(%s) failed", name);
	v = st[0].bytes_written;
	free(st);
	return v;
}

/* Creating the server and its regions by hand: the steps the fixture
 * takes, each checked. */
static void test_setup(void)
{
	struct ms_server_opts so = { .opts_size = sizeof(so), .host = "127.0.0.1", .port = "0",
				     .transport = MS_TRANSPORT_TCP };
	struct ms_export_opts eo = { .opts_size = sizeof(eo), .name = "r1", .size = SIZE,
				     .chunk_size = CHUNK };
	struct ms_export_opts eo2 = { .opts_size = sizeof(eo2), .name = "small", .size = 12288,
				      .chunk_size = 8192 };
	uint64_t rng = FX_SEED;
	char err[256];
	ms_server *s;
	ms_export *e, *small;
	struct ms_region_stat *st = NULL;
	size_t n = 0;

	s = ms_server_create(&so, err, sizeof(err));
	if (!s)
		tap_bail("server: %s", err);
	e = ms_server_add_region(s, &eo);
	small = ms_server_add_region(s, &eo2);
	if (!e || !small)
		tap_bail("add region: %s", ms_server_errmsg(s));
	ok(ms_server_add_region(s, &eo) == NULL && errno == EEXIST,
	   "a second region with the same name is refused");
	fx_fill(ms_export_mem(e), SIZE, &rng);
	is_int(ms_export_commit(e, 0, SIZE), 0, "export commit");
	fx_fill(ms_export_mem(small), 12288, &rng);
	is_int(ms_export_commit(small, 0, 12288), 0, "export commit of the small region");
	is_int(ms_server_start(s), 0, "server started");
	ok(ms_server_stat(s, NULL, &st, &n) == 0 && n == 2 &&
	   st[0].backing == MS_BACKING_ANON && strcmp(ms_backing_name(st[0].backing), "anon") == 0,
	   "stat: two regions, anonymous memory");
	free(st);
	ms_server_destroy(s);
}

static void test_pull(void)
{
	struct fx_server f;
	struct ms_xfer_stats st;
	struct ms_region_info info;
	uint8_t *local = malloc(SIZE), *mem;
	ms_client *c;
	ms_region *r, *rs;
	int ret;

	up(&f);
	mem = f.mem[0];
	c = fx_connect(&f, NULL);
	if (!c)
		tap_bail("cannot connect");
	is_str(ms_client_transport(c), "tcp", "transport is tcp");
	r = ms_open(c, "r1", MS_MODE_READ);
	ok(r != NULL, "open r1 read-only");
	if (!r)
		tap_bail("open r1: %s", ms_client_errmsg(c));
	ms_region_info(r, &info);
	ok(info.size == SIZE && info.chunk_size == CHUNK && info.nchunks == SIZE / CHUNK,
	   "region info: size, chunk size, chunk count");
	memset(local, 0, SIZE);
	ret = ms_pull(r, 0, local, SIZE, NULL, &st);
	is_int(ret, 0, "pull whole region");
	ok(memcmp(local, mem, SIZE) == 0, "pulled bytes equal the server's");
	ok(st.chunks_moved == SIZE / CHUNK && st.bytes == SIZE && st.chunks_retried == 0,
	   "pull stats: %llu chunks, %llu bytes",
	   (unsigned long long)st.chunks_moved, (unsigned long long)st.bytes);

	memset(local, 0, SIZE);
	is_int(ms_pull(r, 1000, local, 200000, NULL, NULL), 0, "unaligned pull");
	ok(memcmp(local, mem + 1000, 200000) == 0, "unaligned pull bytes are right");
	is_int(ms_pull(r, SIZE - 10, local, 11, NULL, NULL), -ERANGE,
	       "pull past the end: -ERANGE");
	ok(strstr(ms_client_errmsg(c), "outside region 'r1'") != NULL,
	   "message: %s", ms_client_errmsg(c));
	is_int(ms_pull(r, 0, local, 0, NULL, NULL), -ERANGE, "empty pull: -ERANGE");

	/* short last chunk */
	rs = ms_open(c, "small", MS_MODE_READ);
	memset(local, 0, 12288);
	ok(rs && ms_pull(rs, 0, local, 12288, NULL, NULL) == 0 &&
	   memcmp(local, f.mem[1], 12288) == 0, "pull with a short last chunk");
	ms_close(rs);

	/* unknown region */
	ok(ms_open(c, "nope", MS_MODE_READ) == NULL && errno == ENOENT,
	   "unknown region: ENOENT");
	ok(strstr(ms_client_errmsg(c), "unknown region 'nope'") != NULL,
	   "message: %s", ms_client_errmsg(c));
	ok(ms_open(c, "../x", MS_MODE_READ) == NULL && errno == EINVAL, "bad name: EINVAL");
	ms_close(r);
	ms_disconnect(c);
	free(local);
	down(&f, "pull", 0, NULL);
}

/* A change on the server without a commit is detected, not served. */
static void test_uncommitted(void)
{
	struct fx_server f;
	uint8_t *local = malloc(SIZE), *mem;
	ms_client *c;
	ms_region *r;

	up(&f);
	mem = f.mem[0];
	c = fx_connect(&f, NULL);
	r = c ? ms_open(c, "r1", MS_MODE_READ) : NULL;
	if (!r)
		tap_bail("open r1");
	mem[5 * CHUNK + 7] ^= 0xff;
	is_int(ms_pull(r, 0, local, SIZE, NULL, NULL), -EIO,
	       "pull of an uncommitted change fails verification");
	ok(strstr(ms_client_errmsg(c), "chunk 5") != NULL, "message: %s",
	   ms_client_errmsg(c));
	is_int(ms_export_commit(f.e[0], 5 * CHUNK, 1), 0, "the server commits the change");
	ok(ms_pull(r, 0, local, SIZE, NULL, NULL) == 0 && memcmp(local, mem, SIZE) == 0,
	   "after the commit the change is served");
	ms_close(r);
	ms_disconnect(c);
	free(local);
	down(&f, "uncommitted change", 0, NULL);
}

/* The write lease, and a push that sends only what differs. */
static void test_push(void)
{
	struct fx_server f;
	struct ms_xfer_stats st;
	struct ms_region_info info;
	uint8_t *local = malloc(SIZE), *mem;
	ms_client *c, *c2;
	ms_region *r, *w;
	uint64_t gen, before;

	up(&f);
	mem = f.mem[0];
	memcpy(local, mem, SIZE);
	c = fx_connect(&f, NULL);
	r = c ? ms_open(c, "r1", MS_MODE_READ) : NULL;
	if (!r)
		tap_bail("open r1");
	ok(ms_write(r, 0, local, 4096, NULL, NULL) == -EACCES, "write on a read handle: -EACCES");
	w = ms_open(c, "r1", MS_MODE_WRITE);
	ok(w != NULL, "open r1 for writing (lease)");
	if (!w)
		tap_bail("open r1 for writing: %s", ms_client_errmsg(c));
	c2 = fx_connect(&f, NULL);
	ok(c2 && ms_open(c2, "r1", MS_MODE_WRITE) == NULL && errno == EBUSY,
	   "second writer: EBUSY");
	ok(c2 && strstr(ms_client_errmsg(c2), "one writer at a time") != NULL, "message: %s",
	   c2 ? ms_client_errmsg(c2) : "(no connection)");
	ms_region_info(w, &info);
	gen = info.generation;
	before = stat_written(f.s, "r1");
	for (int i = 0; i < 3; i++)
		local[(size_t)(i * 37 + 3) * CHUNK + 100] ^= 0x42;
	is_int(ms_push(w, 0, local, SIZE, NULL, &st), 0, "push");
	ok(st.chunks_moved == 3 && st.bytes == 3 * CHUNK, "push moved 3 chunks (%llu bytes)",
	   (unsigned long long)st.bytes);
	ok(memcmp(local, mem, SIZE) == 0, "server holds the pushed bytes");
	is_int(stat_written(f.s, "r1") - before, 3 * CHUNK, "server counted 3 chunks written");
	ms_region_info(w, &info);
	is_int(info.generation, gen + 1, "generation bumped once");
	is_int(ms_push(w, 0, local, SIZE, NULL, &st), 0, "push again");
	ok(st.chunks_moved == 0 && st.bytes == 0, "nothing differs: nothing moved");
	ms_region_info(w, &info);
	is_int(info.generation, gen + 1, "generation unchanged");

	/* partial chunk at the end of a push range is always sent */
	local[SIZE - 1] ^= 1;
	is_int(ms_push(w, SIZE - 100, local + SIZE - 100, 100, NULL, &st), 0, "tail push");
	ok(st.chunks_moved == 1 && mem[SIZE - 1] == local[SIZE - 1], "tail piece landed");
	ms_close(w);
	ms_close(r);
	ms_disconnect(c2);
	ms_disconnect(c);
	free(local);
	down(&f, "push", 0, NULL);
}

/* Commit verification: the bytes changed under the writer's feet. */
static void test_commit_verify(void)
{
	struct fx_server f;
	struct ms_region_info info;
	struct ms_region_stat *sst = NULL;
	uint8_t *local = malloc(2 * CHUNK), *mem;
	size_t nst = 0;
	ms_client *c;
	ms_region *w;
	uint64_t gen;

	up(&f);
	/* direct mode ("d1"): the writes land in the region before the
	 * commit, so a scribble over them is caught by its hash */
	mem = f.mem[2];
	memcpy(local, mem, 2 * CHUNK);
	c = fx_connect(&f, NULL);
	w = c ? ms_open(c, "d1", MS_MODE_WRITE) : NULL;
	if (!w)
		tap_bail("open d1 for writing");
	ms_region_info(w, &info);
	gen = info.generation;
	ok(info.commit_mode == MS_COMMIT_DIRECT, "d1 commits in direct mode");
	local[0] ^= 0x11;
	is_int(ms_write(w, 0, local, CHUNK, NULL, NULL), 0, "write a chunk");
	mem[10] ^= 0x77;   /* someone else scribbles over it before the commit */
	is_int(ms_sync(w), -EIO, "commit of bytes that do not match: -EIO");
	ok(strstr(ms_client_errmsg(c), "do not match") != NULL, "message: %s",
	   ms_client_errmsg(c));
	ok(ms_server_stat(f.s, "d1", &sst, &nst) == 0 && nst == 1 && sst[0].generation == gen &&
	   sst[0].commits_refused == 1, "refused commit leaves the generation alone, counted");
	free(sst);
	/* overlapping writes: the earlier range can no longer be verified, the
	 * later one can; both are committed */
	ms_close(w);
	w = ms_open(c, "d1", MS_MODE_WRITE);
	ok(w && ms_write(w, 0, local, 2 * CHUNK, NULL, NULL) == 0 &&
	   ms_write(w, 100, local + 100, 50, NULL, NULL) == 0 && ms_sync(w) == 0 &&
	   memcmp(mem, local, 2 * CHUNK) == 0, "overlapping writes commit");
	ms_close(w);

	/* atomic mode ("r1"): the writes wait in the lease's staging, so a
	 * scribble in the region meanwhile is simply overwritten by the
	 * commit, and overlapping writes apply in order */
	mem = f.mem[0];
	memcpy(local, mem, 2 * CHUNK);
	w = ms_open(c, "r1", MS_MODE_WRITE);
	if (!w)
		tap_bail("open r1 for writing");
	ms_region_info(w, &info);
	ok(info.commit_mode == MS_COMMIT_ATOMIC && info.epoch >= 1 && info.lease_ttl_ms > 0,
	   "r1 commits atomically (epoch %llu, ttl %u ms)", (unsigned long long)info.epoch,
	   info.lease_ttl_ms);
	local[0] ^= 0x11;
	is_int(ms_write(w, 0, local, CHUNK, NULL, NULL), 0, "atomic: write a chunk");
	ok(mem[0] != local[0], "atomic: the region does not hold the write before its commit");
	mem[10] ^= 0x77;
	is_int(ms_sync(w), 0, "atomic: the commit applies the staged bytes (%s)",
	       ms_client_errmsg(c));
	ok(memcmp(mem, local, CHUNK) == 0, "atomic: the region holds the writer's bytes");
	local[5000] ^= 1;
	local[100] ^= 2;
	ok(ms_write(w, 0, local, 2 * CHUNK, NULL, NULL) == 0 &&
	   ms_write(w, 100, local + 100, 50, NULL, NULL) == 0 && ms_sync(w) == 0 &&
	   memcmp(mem, local, 2 * CHUNK) == 0, "atomic: overlapping writes commit in order");
	ms_close(w);
	ms_disconnect(c);
	free(local);
	down(&f, "refused commit", 1, "does not match its hash");
}

/* The lease is released on close and on disconnect. */
static void test_lease_release(void)
{
	struct fx_server f;
	ms_client *c, *c2;
	ms_region *w, *w2;

	up(&f);
	c = fx_connect(&f, NULL);
	c2 = fx_connect(&f, NULL);
	if (!c || !c2)
		tap_bail("cannot connect");
	w = ms_open(c, "r1", MS_MODE_WRITE);
	ok(w != NULL && ms_open(c2, "r1", MS_MODE_WRITE) == NULL && errno == EBUSY,
	   "the lease is held");
	ms_close(w);
	w2 = ms_open(c2, "r1", MS_MODE_WRITE);
	ok(w2 != NULL, "lease free after close");
	ms_disconnect(c2);
	w = ms_open(c, "r1", MS_MODE_WRITE);
	ok(w != NULL, "lease free after the holder disconnected");
	ms_close(w);
	ms_disconnect(c);
	down(&f, "leases", 0, NULL);
}

/* A second live connection with the same client id is refused. */
static void test_client_id(void)
{
	static const uint8_t id[16] = { 1, 2, 3 };
	struct ms_region_stat *all = NULL;
	struct fx_server f;
	ms_client *c, *c3;
	size_t nall = 0;

	up(&f);
	c = fx_connect(&f, NULL);
	if (!c)
		tap_bail("cannot connect");
	c3 = fx_connect(&f, id);
	ok(c3 != NULL, "client with a fixed id");
	ok(fx_connect(&f, id) == NULL && errno == EEXIST, "same id again: EEXIST");
	ok(c3 && ms_stat(c3, NULL, &all, &nall) == 0 && nall == NREGIONS,
	   "the first connection with that id still works");
	free(all);
	ms_disconnect(c3);
	c3 = fx_connect(&f, id);
	ok(c3 != NULL, "the id is free again after disconnect");
	ms_disconnect(c3);
	is_int(ms_stat(c, "nope", &all, &nall), -ENOENT, "stat of an unknown region");
	ms_disconnect(c);
	down(&f, "client ids", 1, "is already connected");
}

/* The raw transport with a read-only grant: a WRITE must be refused. */
static void test_readonly_key(void)
{
	struct fx_server f;
	const struct ms_transport_ops *t = &ms_tcp_ops;
	struct ms_xopts xo = { .depth = 4, .max_io = 1 << 20, .timeout_ms = 5000 };
	struct ms_msg_hello h = { .version = MS_PROTO_VERSION, .agent = "test" };
	struct ms_msg_open om = { .name = "r1", .mode = MS_MODE_READ };
	struct ms_msg_open_ok ok_;
	struct ms_msg_commit cm = { 0 };
	struct ms_commit_ent ent = { .off = 0, .len = 4096 };
	static uint8_t req[4096], resp[4096];
	struct ms_xconn *x = NULL;
	struct ms_xwc wc;
	char err[256];
	size_t rlen;
	uint8_t *before = malloc(CHUNK), junk[4096];
	int got;

	up(&f);
	memcpy(before, f.mem[0], CHUNK);
	if (t->connect("127.0.0.1", f.port, &xo, &x, err, sizeof(err)))
		tap_bail("raw connect: %s", err);
	t->call(x, req, (size_t)ms_enc_hello(req, sizeof(req), &h), resp, sizeof(resp),
		&rlen, 5000);
	is_int(ms_msg_type(resp, rlen), MS_MSG_HELLO_OK, "raw: hello accepted");
	t->call(x, req, (size_t)ms_enc_open(req, sizeof(req), &om), resp, sizeof(resp),
		&rlen, 5000);
	ok(ms_dec_open_ok(resp, rlen, &ok_) == 0, "raw: read-only open");

	memset(junk, 0x5a, sizeof(junk));
	struct ms_xwr wr = { .op = MS_XOP_WRITE, .local = junk, .len = sizeof(junk),
			     .remote = &ok_.data, .roff = 0, .ctx = junk };
	is_int(t->post(x, &wr, 1), 0, "raw: write with the read key is posted");
	got = t->poll(x, &wc, 1, 5000);
	ok(got == 1 && wc.status == -EACCES, "raw: the read-only key cannot write (-EACCES)");
	ok(memcmp(before, f.mem[0], CHUNK) == 0, "raw: region unchanged");

	/* the metadata key is read-only too */
	wr.remote = &ok_.meta;
	t->post(x, &wr, 1);
	got = t->poll(x, &wc, 1, 5000);
	ok(got == 1 && wc.status == -EACCES, "raw: the metadata key cannot write");

	/* commit without the lease */
	cm.handle = ok_.handle;
	cm.n = 1;
	cm.ents = &ent;
	t->call(x, req, (size_t)ms_enc_commit(req, sizeof(req), &cm), resp, sizeof(resp),
		&rlen, 5000);
	struct ms_msg_error me;
	ok(ms_dec_error(resp, rlen, &me) == 0 && me.err == EACCES,
	   "raw: commit on a read handle is refused: %s", me.msg);

	/* hot list and use reports: bad handles, out-of-range chunks, bad max */
	{
		struct ms_msg_hot hq = { .handle = ok_.handle + 77, .max = 8 };
		uint64_t idx[2] = { 0, ok_.nchunks }, hot[8], hot0[8];
		uint32_t n0;
		int rc;
		struct ms_msg_chunks tm = { .handle = ok_.handle, .n = 2, .idx = idx }, hm;

		t->call(x, req, (size_t)ms_enc_hot(req, sizeof(req), &hq), resp, sizeof(resp),
			&rlen, 5000);
		ok(ms_dec_error(resp, rlen, &me) == 0 && me.err == EBADF,
		   "raw: HOT on an unknown handle: EBADF (%s)", me.msg);
		hq.handle = ok_.handle;
		hq.max = 0;
		t->call(x, req, (size_t)ms_enc_hot(req, sizeof(req), &hq), resp, sizeof(resp),
			&rlen, 5000);
		ok(ms_dec_error(resp, rlen, &me) == 0 && me.err == EBADMSG,
		   "raw: HOT with max 0: EBADMSG (%s)", me.msg);
		hq.max = 8;
		t->call(x, req, (size_t)ms_enc_hot(req, sizeof(req), &hq), resp, sizeof(resp),
			&rlen, 5000);
		rc = ms_dec_chunks(resp, rlen, MS_MSG_HOT_OK, &hm, hot0, 8);
		n0 = hm.n;
		ok(rc == 0, "raw: HOT answers (%u chunks)", n0);
		t->call(x, req, (size_t)ms_enc_chunks(req, sizeof(req), MS_MSG_TOUCH, &tm), resp,
			sizeof(resp), &rlen, 5000);
		ok(ms_dec_error(resp, rlen, &me) == 0 && me.err == ERANGE,
		   "raw: TOUCH naming chunk %llu of %llu: ERANGE (%s)",
		   (unsigned long long)idx[1], (unsigned long long)ok_.nchunks, me.msg);
		t->call(x, req, (size_t)ms_enc_hot(req, sizeof(req), &hq), resp, sizeof(resp),
			&rlen, 5000);
		rc = ms_dec_chunks(resp, rlen, MS_MSG_HOT_OK, &hm, hot, 8);
		diag("hot list before: %u chunks, after: %u (rc %d)", n0, hm.n, rc);
		ok(rc == 0 && hm.n == n0 && memcmp(hot, hot0, n0 * sizeof(*hot)) == 0,
		   "raw: the refused TOUCH counted nothing (the hot list is "
		   "unchanged)");
		tm.handle = ok_.handle + 77;
		tm.n = 1;
		t->call(x, req, (size_t)ms_enc_chunks(req, sizeof(req), MS_MSG_TOUCH, &tm), resp,
			sizeof(resp), &rlen, 5000);
		ok(ms_dec_error(resp, rlen, &me) == 0 && me.err == EBADF,
		   "raw: TOUCH on an unknown handle: EBADF");
	}

	/* control requests out of order: a second hello */
	t->call(x, req, (size_t)ms_enc_hello(req, sizeof(req), &h), resp, sizeof(resp),
		&rlen, 5000);
	ok(ms_dec_error(resp, rlen, &me) == 0 && me.err == EPROTO, "raw: second HELLO refused");
	t->close(x);
	free(before);
	down(&f, "raw transport", 0, NULL);
}


/* The server goes away under a connected client: errors, no hang. */
static void test_server_gone(void)
{
	struct fx_server f;
	uint8_t *local = malloc(SIZE);
	ms_client *c;
	ms_region *r;
	int ret;

	up(&f);
	c = fx_connect(&f, NULL);
	r = c ? ms_open(c, "r1", MS_MODE_READ) : NULL;
	if (!r)
		tap_bail("open r1");
	is_int(ms_pull(r, 0, local, SIZE, NULL, NULL), 0, "pull while the server is up");
	is_int(fx_warnings(&f), 0, "server gone: no warning while it was up");
	fx_server_down(&f);
	ret = ms_pull(r, 0, local, SIZE, NULL, NULL);
	/* the server's sockets are closed: its kernel answers the first
	 * request with a reset */
	is_int(ret, -ECONNRESET, "pull after the server died fails: -ECONNRESET (%s)",
	       ms_client_errmsg(c));
	is_int(ms_pull(r, 0, local, SIZE, NULL, NULL), -ENOTCONN,
	       "and the next one finds the connection gone: -ENOTCONN");
	ms_close(r);
	ms_disconnect(c);
	free(local);
}

static void test_file_region(void)
{
	char dir[] = "/tmp/ms-engine-XXXXXX", path[64], err[256];
	struct fx_server f = { 0 };
	struct ms_server_opts so = { .opts_size = sizeof(so), .host = "127.0.0.1", .port = "0",
				     .transport = MS_TRANSPORT_TCP, .log = fx_log_cb, .log_ud = &f };
	uint8_t *data = malloc(MiB), *back = malloc(MiB);
	uint64_t rng = FX_SEED;
	ms_server *s;
	ms_export *e;
	ms_client *c;
	ms_region *r;
	int fd;

	if (!mkdtemp(dir))
		tap_bail("mkdtemp");
	pthread_mutex_init(&f.lk, NULL);
	snprintf(path, sizeof(path), "%s/f.img", dir);
	s = ms_server_create(&so, err, sizeof(err));
	struct ms_export_opts eo = { .opts_size = sizeof(eo), .name = "f", .size = MiB,
				     .backing = MS_BACKING_FILE, .path = path, .chunk_size = 4096 };
	e = s ? ms_server_add_region(s, &eo) : NULL;
	ok(e && ms_export_fd(e) >= 0, "file region created");
	if (!e)
		tap_bail("file region: %s", s ? ms_server_errmsg(s) : err);
	ms_server_start(s);
	f.s = s;
	snprintf(f.port, sizeof(f.port), "%u", ms_server_port(s));
	c = fx_connect(&f, NULL);
	r = c ? ms_open(c, "f", MS_MODE_WRITE) : NULL;
	fx_fill(data, MiB, &rng);
	ok(r && ms_push(r, 0, data, MiB, NULL, NULL) == 0, "push into the file region");
	ms_close(r);
	ms_disconnect(c);
	down(&f, "file region", 0, NULL);
	fd = open(path, O_RDONLY);
	ok(fd >= 0 && read(fd, back, MiB) == (ssize_t)MiB && memcmp(back, data, MiB) == 0,
	   "after the server is gone, the file holds what was pushed");
	if (fd >= 0)
		close(fd);
	unlink(path);
	rmdir(dir);
	free(data);
	free(back);
}

/* opts_size (memsync.h, "Options structs"): 0 or too small is EINVAL; a
 * larger struct is fine while its unknown tail is zero, else EOPNOTSUPP;
 * NULL means the defaults. */
static void test_opts_size(void)
{
	struct big_client_opts {
		struct ms_client_opts o;
		uint64_t future;
	} big = { .o = { .opts_size = sizeof(big), .transport = MS_TRANSPORT_TCP } };
	struct ms_server_opts so = { .host = "127.0.0.1", .port = "0",
				     .transport = MS_TRANSPORT_TCP };
	struct ms_export_opts eo = { .opts_size = 0, .name = "z", .size = 1 << 20 };
	struct ms_client_opts co = { .opts_size = 0, .transport = MS_TRANSPORT_TCP };
	struct ms_xfer_opts xo = { .opts_size = 0 };
	struct fx_server f;
	char err[256] = "";
	uint8_t buf[4096];
	ms_client *c;
	ms_region *r;

	errno = 0;
	ok(ms_server_create(&so, err, sizeof(err)) == NULL && errno == EINVAL &&
	   strstr(err, "opts_size"), "server options with opts_size 0: EINVAL (%s)", err);
	so.opts_size = sizeof(size_t);
	errno = 0;
	ok(ms_server_create(&so, err, sizeof(err)) == NULL && errno == EINVAL,
	   "server options smaller than their first version: EINVAL");

	up(&f);
	errno = 0;
	ok(ms_server_add_region(f.s, &eo) == NULL && errno == EINVAL &&
	   strstr(ms_server_errmsg(f.s), "opts_size"),
	   "region options with opts_size 0: EINVAL (%s)", ms_server_errmsg(f.s));
	errno = 0;
	ok(ms_connect("127.0.0.1", f.port, &co, err, sizeof(err)) == NULL && errno == EINVAL,
	   "client options with opts_size 0: EINVAL (%s)", err);
	c = ms_connect("127.0.0.1", f.port, &big.o, err, sizeof(err));
	ok(c != NULL, "a larger struct whose unknown tail is zero is taken (%s)", c ? "" : err);
	ms_disconnect(c);
	big.future = 1;
	errno = 0;
	ok(ms_connect("127.0.0.1", f.port, &big.o, err, sizeof(err)) == NULL &&
	   errno == EOPNOTSUPP, "an unknown option that is set: EOPNOTSUPP (%s)", err);
	c = fx_connect(&f, NULL);
	r = c ? ms_open(c, "small", MS_MODE_READ) : NULL;
	if (!r)
		tap_bail("open small");
	is_int(ms_pull(r, 0, buf, sizeof(buf), &xo, NULL), -EINVAL,
	       "transfer options with opts_size 0: -EINVAL");
	xo.opts_size = sizeof(xo);
	ok(ms_pull(r, 0, buf, sizeof(buf), &xo, NULL) == 0 &&
	   memcmp(buf, f.mem[1], sizeof(buf)) == 0, "with opts_size set the pull works");
	ok(ms_pull(r, 0, buf, sizeof(buf), NULL, NULL) == 0, "NULL options: the defaults");
	ms_close(r);
	ms_disconnect(c);
	down(&f, "opts_size", 0, NULL);
}

int main(void)
{
	test_setup();
	test_pull();
	test_uncommitted();
	test_push();
	test_commit_verify();
	test_lease_release();
	test_client_id();
	test_readonly_key();
	test_server_gone();
	test_file_region();
	test_opts_size();
	return tap_done();
}
