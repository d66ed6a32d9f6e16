/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_engine.c - libmemsync end to end over the TCP transport, in one
 * process: a real server on 127.0.0.1 (port 0) and real clients.
 *
 * Covers pull (whole, unaligned, short last chunk), verification against
 * uncommitted changes, push of only the differing chunks, commit hash
 * checks, leases, duplicate client ids, read-only keys that cannot write,
 * and a server that goes away under a connected client.
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
#include "tcp.h"
#include "transport.h"

#define MiB (1ull << 20)
#define CHUNK (64u << 10)

static int warnings;

static void log_cb(void *ud, enum ms_log_level lvl, const char *msg)
{
	if (lvl <= MS_LOG_WARN) {
		warnings++;
		diag("server: %s", msg);
	}
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static void fill_random(void *p, size_t len)
{
	uint64_t *w = p;

	for (size_t i = 0; i < len / 8; i++) {
		rng ^= rng << 13;
		rng ^= rng >> 7;
		rng ^= rng << 17;
		w[i] = rng;
	}
}

static ms_client *connect_to(ms_server *s, const uint8_t *id)
{
	struct ms_client_opts o = { .transport = MS_TRANSPORT_TCP, .timeout_ms = 10000 };
	char port[8], err[256];
	ms_client *c;

	if (id) {
		o.have_client_id = true;
		memcpy(o.client_id, id, 16);
	}
	snprintf(port, sizeof(port), "%u", ms_server_port(s));
	c = ms_connect("127.0.0.1", port, &o, err, sizeof(err));
	if (!c)
		diag("connect: %s", err);
	return c;
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

/* The raw transport with a read-only grant: a WRITE must be refused. */
static void test_readonly_key(ms_server *s, ms_export *e)
{
	const struct ms_transport_ops *t = &ms_tcp_ops;
	struct ms_xopts xo = { .depth = 4, .max_io = 1 << 20, .timeout_ms = 5000 };
	struct ms_msg_hello h = { .version = MS_PROTO_VERSION, .agent = "test" };
	struct ms_msg_open om = { .name = "r1", .mode = MS_MODE_READ };
	struct ms_msg_open_ok ok_;
	struct ms_msg_commit cm = { 0 };
	struct ms_commit_ent ent = { 0, 4096, { 0 }, 0 };
	static uint8_t req[4096], resp[4096];
	struct ms_xconn *x = NULL;
	struct ms_xwc wc;
	char port[8], err[256];
	size_t rlen;
	uint8_t *before = malloc(CHUNK), junk[4096];
	int got;

	memcpy(before, ms_export_mem(e), CHUNK);
	snprintf(port, sizeof(port), "%u", ms_server_port(s));
	if (t->connect("127.0.0.1", port, &xo, &x, err, sizeof(err)))
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
	ok(memcmp(before, ms_export_mem(e), CHUNK) == 0, "raw: region unchanged");

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
}

static void test_file_region(void)
{
	char dir[] = "/tmp/ms-engine-XXXXXX", path[64], err[256];
	struct ms_server_opts so = { .host = "127.0.0.1", .port = "0",
				     .transport = MS_TRANSPORT_TCP, .log = log_cb };
	uint8_t *data = malloc(MiB), *back = malloc(MiB);
	ms_server *s;
	ms_export *e;
	ms_client *c;
	ms_region *r;
	int fd;

	if (!mkdtemp(dir))
		tap_bail("mkdtemp");
	snprintf(path, sizeof(path), "%s/f.img", dir);
	s = ms_server_create(&so, err, sizeof(err));
	struct ms_export_opts eo = { .name = "f", .size = MiB, .backing = MS_BACKING_FILE,
				     .path = path, .chunk_size = 4096 };
	e = s ? ms_server_add_region(s, &eo) : NULL;
	ok(e && ms_export_fd(e) >= 0, "file region created");
	ms_server_start(s);
	c = connect_to(s, NULL);
	r = c ? ms_open(c, "f", MS_MODE_WRITE) : NULL;
	fill_random(data, MiB);
	ok(r && ms_push(r, 0, data, MiB, NULL, NULL) == 0, "push into the file region");
	ms_close(r);
	ms_disconnect(c);
	ms_server_destroy(s);
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

int main(void)
{
	struct ms_server_opts so = { .host = "127.0.0.1", .port = "0",
				     .transport = MS_TRANSPORT_TCP, .log = log_cb };
	const uint64_t size = 8 * MiB;
	uint8_t id[16] = { 1, 2, 3 };
	struct ms_xfer_stats st;
	struct ms_region_info info;
	char err[256];
	uint8_t *local, *mem;
	ms_server *s;
	ms_export *e, *small;
	ms_client *c, *c2, *c3;
	ms_region *r, *w, *w2;
	uint64_t gen, before;
	int ret;

	s = ms_server_create(&so, err, sizeof(err));
	if (!s)
		tap_bail("server: %s", err);
	struct ms_export_opts eo = { .name = "r1", .size = size, .chunk_size = CHUNK };
	e = ms_server_add_region(s, &eo);
	struct ms_export_opts eo2 = { .name = "small", .size = 12288, .chunk_size = 8192 };
	small = ms_server_add_region(s, &eo2);
	if (!e || !small)
		tap_bail("add region: %s", ms_server_errmsg(s));
	ok(ms_server_add_region(s, &eo) == NULL && errno == EEXIST,
	   "a second region with the same name is refused");
	mem = ms_export_mem(e);
	fill_random(mem, size);
	is_int(ms_export_commit(e, 0, size), 0, "export commit");
	fill_random(ms_export_mem(small), 12288);
	ms_export_commit(small, 0, 12288);
	is_int(ms_server_start(s), 0, "server started");

	/* ---- pull */
	c = connect_to(s, NULL);
	if (!c)
		tap_bail("cannot connect");
	is_str(ms_client_transport(c), "tcp", "transport is tcp");
	r = ms_open(c, "r1", MS_MODE_READ);
	ok(r != NULL, "open r1 read-only");
	ms_region_info(r, &info);
	ok(info.size == size && info.chunk_size == CHUNK && info.nchunks == size / CHUNK,
	   "region info: size, chunk size, chunk count");
	local = malloc(size);
	memset(local, 0, size);
	ret = ms_pull(r, 0, local, size, NULL, &st);
	is_int(ret, 0, "pull whole region");
	ok(memcmp(local, mem, size) == 0, "pulled bytes equal the server's");
	ok(st.chunks_moved == size / CHUNK && st.bytes == size && st.chunks_retried == 0,
	   "pull stats: %llu chunks, %llu bytes",
	   (unsigned long long)st.chunks_moved, (unsigned long long)st.bytes);

	memset(local, 0, size);
	is_int(ms_pull(r, 1000, local, 200000, NULL, NULL), 0, "unaligned pull");
	ok(memcmp(local, mem + 1000, 200000) == 0, "unaligned pull bytes are right");
	is_int(ms_pull(r, size - 10, local, 11, NULL, NULL), -ERANGE,
	       "pull past the end: -ERANGE");
	ok(strstr(ms_client_errmsg(c), "outside region 'r1'") != NULL,
	   "message: %s", ms_client_errmsg(c));
	is_int(ms_pull(r, 0, local, 0, NULL, NULL), -ERANGE, "empty pull: -ERANGE");

	/* short last chunk */
	ms_region *rs = ms_open(c, "small", MS_MODE_READ);
	memset(local, 0, 12288);
	ok(rs && ms_pull(rs, 0, local, 12288, NULL, NULL) == 0 &&
	   memcmp(local, ms_export_mem(small), 12288) == 0, "pull with a short last chunk");
	ms_close(rs);

	/* unknown region */
	ok(ms_open(c, "nope", MS_MODE_READ) == NULL && errno == ENOENT,
	   "unknown region: ENOENT");
	ok(strstr(ms_client_errmsg(c), "unknown region 'nope'") != NULL,
	   "message: %s", ms_client_errmsg(c));
	ok(ms_open(c, "../x", MS_MODE_READ) == NULL && errno == EINVAL, "bad name: EINVAL");

	/* a change on the server without a commit is detected, not served */
	mem[5 * CHUNK + 7] ^= 0xff;
	ret = ms_pull(r, 0, local, size, NULL, NULL);
	is_int(ret, -EIO, "pull of an uncommitted change fails verification");
	ok(strstr(ms_client_errmsg(c), "chunk 5") != NULL, "message: %s",
	   ms_client_errmsg(c));
	ms_export_commit(e, 5 * CHUNK, 1);
	ok(ms_pull(r, 0, local, size, NULL, NULL) == 0 && memcmp(local, mem, size) == 0,
	   "after the commit the change is served");

	/* ---- write lease, push of only what differs */
	ok(ms_write(r, 0, local, 4096, NULL, NULL) == -EACCES, "write on a read handle: -EACCES");
	w = ms_open(c, "r1", MS_MODE_WRITE);
	ok(w != NULL, "open r1 for writing (lease)");
	c2 = connect_to(s, NULL);
	ok(c2 && ms_open(c2, "r1", MS_MODE_WRITE) == NULL && errno == EBUSY,
	   "second writer: EBUSY");
	ok(strstr(ms_client_errmsg(c2), "one writer at a time") != NULL, "message: %s",
	   ms_client_errmsg(c2));
	ms_region_info(w, &info);
	gen = info.generation;
	before = stat_written(s, "r1");
	for (int i = 0; i < 3; i++)
		local[(size_t)(i * 37 + 3) * CHUNK + 100] ^= 0x42;
	is_int(ms_push(w, 0, local, size, NULL, &st), 0, "push");
	ok(st.chunks_moved == 3 && st.bytes == 3 * CHUNK, "push moved 3 chunks (%llu bytes)",
	   (unsigned long long)st.bytes);
	ok(memcmp(local, mem, size) == 0, "server holds the pushed bytes");
	is_int(stat_written(s, "r1") - before, 3 * CHUNK, "server counted 3 chunks written");
	ms_region_info(w, &info);
	is_int(info.generation, gen + 1, "generation bumped once");
	is_int(ms_push(w, 0, local, size, NULL, &st), 0, "push again");
	ok(st.chunks_moved == 0 && st.bytes == 0, "nothing differs: nothing moved");
	ms_region_info(w, &info);
	is_int(info.generation, gen + 1, "generation unchanged");

	/* partial chunk at the end of a push range is always sent */
	local[size - 1] ^= 1;
	is_int(ms_push(w, size - 100, local + size - 100, 100, NULL, &st), 0, "tail push");
	ok(st.chunks_moved == 1 && mem[size - 1] == local[size - 1], "tail piece landed");

	/* commit verification: the bytes changed under the writer's feet */
	ms_region_info(w, &info);
	gen = info.generation;
	local[0] ^= 0x11;
	is_int(ms_write(w, 0, local, CHUNK, NULL, NULL), 0, "write a chunk");
	mem[10] ^= 0x77;   /* someone else scribbles over it before the commit */
	is_int(ms_sync(w), -EIO, "commit of bytes that do not match: -EIO");
	ok(strstr(ms_client_errmsg(c), "do not match") != NULL, "message: %s",
	   ms_client_errmsg(c));
	struct ms_region_stat *sst;
	size_t nst;
	ms_server_stat(s, "r1", &sst, &nst);
	is_int(sst[0].generation, gen, "refused commit leaves the generation alone");
	free(sst);
	/* overlapping writes: the earlier range can no longer be verified, the
	 * later one can; both are committed */
	ms_close(w);
	w = ms_open(c, "r1", MS_MODE_WRITE);
	ok(ms_write(w, 0, local, 2 * CHUNK, NULL, NULL) == 0 &&
	   ms_write(w, 100, local + 100, 50, NULL, NULL) == 0 && ms_sync(w) == 0 &&
	   memcmp(mem, local, 2 * CHUNK) == 0, "overlapping writes commit");

	/* lease release on close and on disconnect */
	ms_close(w);
	w2 = c2 ? ms_open(c2, "r1", MS_MODE_WRITE) : NULL;
	ok(w2 != NULL, "lease free after close");
	ms_disconnect(c2);
	w = ms_open(c, "r1", MS_MODE_WRITE);
	ok(w != NULL, "lease free after the holder disconnected");
	ms_close(w);

	/* duplicate client id */
	c3 = connect_to(s, id);
	ok(c3 != NULL, "client with a fixed id");
	ok(connect_to(s, id) == NULL && errno == EEXIST, "same id again: EEXIST");
	struct ms_region_stat *all;
	size_t nall;
	ok(c3 && ms_stat(c3, NULL, &all, &nall) == 0 && nall == 2,
	   "the first connection with that id still works");
	free(all);
	ms_disconnect(c3);
	c3 = connect_to(s, id);
	ok(c3 != NULL, "the id is free again after disconnect");
	ms_disconnect(c3);
	ok(ms_stat(c, "nope", &all, &nall) == -ENOENT, "stat of an unknown region");

	test_readonly_key(s, e);

	/* the server goes away under a connected client: errors, no hang */
	ms_server_destroy(s);
	ret = ms_pull(r, 0, local, size, NULL, NULL);
	ok(ret < 0, "pull after the server died fails (%d: %s)", ret, ms_client_errmsg(c));
	ms_close(r);
	ms_disconnect(c);
	free(local);

	test_file_region();
	diag("server warnings seen: %d", warnings);
	return tap_done();
}
