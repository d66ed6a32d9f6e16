/* SPDX-License-Identifier: Apache-2.0 */
/*
 * wirefuzz_round.c - what one round of the wire fuzzer sends: a HELLO,
 * an OPEN and a STAGE to learn keys (most rounds), then a seeded sequence
 * of requests in random order, about 30% of them mutated (wirefuzz.c
 * mutates, sends and checks).  Offsets and lengths come from a small set
 * of cases: in range, across the end, below the start, overflowing 64
 * bits, zero and huge.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "hash.h"
#include "tcp_sock.h"
#include "util.h"
#include "wirefuzz.h"

static struct wf_conn conn;
static uint8_t msg[WF_MAX_PAYLOAD];
static uint8_t data[WF_MAX_PAYLOAD];
static uint64_t rsize;
static uint32_t rchunk;

static const char *region(struct wf_conn *c)
{
	return c->free_round ? "free" : "good";
}

static uint32_t pick_handle(struct wf_conn *c)
{
	if (c->have_data && wf_chance(85))
		return c->handle;
	return wf_chance(50) ? (uint32_t)wf_below(70) : (uint32_t)wf_rnd();
}

static uint64_t pick_epoch(struct wf_conn *c)
{
	switch (wf_below(6)) {
	case 0: return c->epoch + 1;
	case 1: return c->epoch ? c->epoch - 1 : 0;
	case 2: return wf_rnd();
	default: return c->epoch;
	}
}

/* Learn from an OPEN_OK or STAGE_OK reply. */
static void learn(struct wf_conn *c, size_t rlen)
{
	struct ms_msg_open_ok ok;
	struct ms_msg_stage_ok sok;

	if (ms_dec_open_ok(c->reply, rlen, &ok) == 0) {
		c->have_data = true;
		c->handle = ok.handle;
		c->data = ok.data;
		c->meta = ok.meta;
		c->nchunks = ok.nchunks;
		if (ok.mode == MS_MODE_WRITE) {
			c->have_lease = true;
			c->epoch = ok.epoch;
		}
	} else if (ms_dec_stage_ok(c->reply, rlen, &sok) == 0 && sok.n) {
		c->have_stage = true;
		c->seg = sok.seg[0];
	}
}

static void ctrl(struct wf_conn *c, int mlen, bool mut)
{
	size_t rlen = 0;

	if (wf_ctrl(c, msg, mlen, mut, &rlen) == 0)
		learn(c, rlen);
}

static void hello(struct wf_conn *c, bool mut)
{
	struct ms_msg_hello h = { .version = MS_PROTO_VERSION };

	if (wf_chance(5))
		h.version = (uint32_t)wf_below(8);
	wf_fill(h.client_id, sizeof(h.client_id));
	snprintf(h.agent, sizeof(h.agent), "wirefuzz");
	ctrl(c, ms_enc_hello(msg, sizeof(msg), &h), mut);
}

static void open_region(struct wf_conn *c, bool mut)
{
	struct ms_msg_open o = { .mode = MS_MODE_READ };

	snprintf(o.name, sizeof(o.name), "%s", wf_chance(90) ? region(c) : "nosuch");
	if (c->free_round && wf_chance(60))
		o.mode = MS_MODE_WRITE;
	if (wf_chance(10))
		o.mode = (uint32_t)wf_below(5);
	/* the good region is never opened for writing: its lease is the good
	 * client's (an OPEN for writing would only be refused) */
	if (!c->free_round && o.mode == MS_MODE_WRITE)
		o.mode = MS_MODE_READ;
	if (wf_chance(10))
		o.expect_epoch = wf_rnd();
	ctrl(c, ms_enc_open(msg, sizeof(msg), &o), mut);
}

static void stage(struct wf_conn *c, bool mut)
{
	static const uint64_t odd[] = { 0, 1, UINT64_MAX, UINT64_MAX / 2, 1ull << 40 };
	struct ms_msg_stage s = { .handle = pick_handle(c), .epoch = pick_epoch(c) };

	s.need = wf_chance(80) ? 1 + wf_below(rsize) : odd[wf_below(MS_ARRAY_SIZE(odd))];
	if (wf_chance(50))
		s.need = rsize;
	ctrl(c, ms_enc_stage(msg, sizeof(msg), &s), mut);
}

/* A key and the registration it names (or a made-up one). */
static struct ms_rdesc pick_desc(struct wf_conn *c)
{
	struct ms_rdesc d = { .addr = wf_rnd() & ~4095ull, .len = rsize, .rkey = wf_rnd() };

	if (c->have_stage && wf_chance(60))
		return c->seg.desc;
	if (c->have_data && wf_chance(85))
		return wf_chance(80) ? c->data : c->meta;
	return d;
}

/* An address and length against d (max: the largest length). */
static void pick_range(const struct ms_rdesc *d, uint64_t max, uint64_t *addr, uint32_t *len)
{
	uint64_t off;

	switch (wf_below(8)) {
	case 0: /* across the end */
		*addr = d->addr + d->len - wf_below(100);
		*len = (uint32_t)MS_MIN(max, 4096);
		break;
	case 1: /* overflowing addr + len */
		*addr = UINT64_MAX - wf_below(4096);
		*len = (uint32_t)MS_MIN(max, 4096 + wf_below(4096));
		break;
	case 2: /* below the start */
		*addr = d->addr - 1 - wf_below(4096);
		*len = (uint32_t)MS_MIN(max, 4096);
		break;
	case 3: /* empty */
		*addr = d->addr + wf_below(d->len + 1);
		*len = 0;
		break;
	case 4: /* the largest */
		*addr = d->addr;
		*len = (uint32_t)max;
		break;
	default: /* in range */
		off = wf_below(d->len ? d->len : 1);
		*addr = d->addr + off;
		*len = (uint32_t)(1 + wf_below(MS_MIN(max, d->len > off ? d->len - off : 1)));
		break;
	}
}

static void read_req(struct wf_conn *c, bool mut)
{
	struct ms_rdesc d = pick_desc(c);
	struct ms_frame h = { .type = MS_F_READ_REQ, .key = d.rkey }, f;

	pick_range(&d, wf_chance(10) ? MS_TCP_MAX_IO : 64u << 10, &h.addr, &h.len);
	wf_send(c, &h, NULL, 0, mut, &f);
}

static void write_req(struct wf_conn *c, bool mut)
{
	struct ms_rdesc d = pick_desc(c);
	struct ms_frame h = { .type = MS_F_WRITE_REQ, .key = d.rkey }, f;
	bool to_stage = c->have_stage && d.rkey == c->seg.desc.rkey;

	pick_range(&d, WF_MAX_PAYLOAD, &h.addr, &h.len);
	wf_fill(data, h.len);
	if (wf_send(c, &h, data, h.len, mut, &f) == 0 && !mut && to_stage && f.status == 0) {
		uint64_t soff = h.addr - c->seg.desc.addr + c->seg.base;

		if (soff < WF_REGION_MAX && h.len <= WF_REGION_MAX - soff)
			memcpy(c->staged + soff, data, h.len);
	}
}

static void commit(struct wf_conn *c, bool mut)
{
	static struct ms_commit_ent ents[256];
	struct ms_msg_commit m = { .handle = pick_handle(c), .epoch = pick_epoch(c) };
	uint64_t nch = c->nchunks ? c->nchunks : rsize / rchunk;

	m.n = wf_chance(5) ? 0 : wf_chance(5) ? 256 : 1 + (uint32_t)wf_below(4);
	if (wf_chance(10))
		m.flags = MS_COMMITMSG_MORE;
	for (uint32_t i = 0; i < m.n; i++) {
		struct ms_commit_ent *e = &ents[i];
		uint64_t k = wf_below(nch);

		*e = (struct ms_commit_ent){ .off = k * rchunk, .len = rchunk, .soff = k * rchunk };
		switch (wf_below(10)) {
		case 0: e->off = rsize + wf_below(1u << 20); break;       /* past the end */
		case 1: e->off = UINT64_MAX - wf_below(rchunk); break;    /* overflowing */
		case 2: e->len = wf_chance(50) ? 0 : UINT64_MAX; break;
		case 3: e->soff = wf_chance(50) ? UINT64_MAX - 10 : rsize + wf_below(rsize); break;
		case 4: e->off = wf_rnd(); e->len = wf_rnd(); e->soff = wf_rnd(); break;
		case 5: e->len = 1 + wf_below(rchunk); break;             /* part of a chunk */
		default: break;
		}
		if (wf_chance(10))
			e->flags = MS_COMMIT_F_NOVERIFY;
		if (e->soff < WF_REGION_MAX && e->len <= WF_REGION_MAX - e->soff && wf_chance(85))
			ms_chunk_hash(c->staged + e->soff, e->len, e->hash);
		else
			wf_fill(e->hash, sizeof(e->hash));
	}
	m.ents = ents;
	ctrl(c, ms_enc_commit(msg, sizeof(msg), &m), mut);
}

/* A whole chunk written into the staging area and committed, as a writer
 * does (the commit alone may be mutated): the server's apply path. */
static void stage_commit(struct wf_conn *c, bool mut)
{
	struct ms_commit_ent e = { .len = rchunk };
	struct ms_msg_commit m = { .handle = c->handle, .epoch = c->epoch, .n = 1, .ents = &e };
	struct ms_frame h = { .type = MS_F_WRITE_REQ, .key = c->seg.desc.rkey, .len = rchunk }, f;
	uint64_t k = wf_below(c->nchunks ? c->nchunks : 1);

	e.off = k * rchunk;
	e.soff = e.off;
	if (!c->have_stage || e.soff < c->seg.base ||
	    e.soff - c->seg.base + rchunk > c->seg.desc.len || e.soff + rchunk > WF_REGION_MAX) {
		commit(c, mut);
		return;
	}
	h.addr = c->seg.desc.addr + (e.soff - c->seg.base);
	wf_fill(data, rchunk);
	if (wf_send(c, &h, data, rchunk, false, &f) || f.status)
		return;
	memcpy(c->staged + e.soff, data, rchunk);
	ms_chunk_hash(data, rchunk, e.hash);
	ctrl(c, ms_enc_commit(msg, sizeof(msg), &m), mut);
}

static void chunks(struct wf_conn *c, enum ms_msg_type t, bool mut)
{
	uint64_t idx[16];
	struct ms_msg_chunks m = { .handle = pick_handle(c), .n = (uint32_t)wf_below(17),
				   .idx = idx };
	uint64_t nch = c->nchunks ? c->nchunks : rsize / rchunk;

	for (uint32_t i = 0; i < m.n; i++)
		idx[i] = wf_chance(70) ? wf_below(nch) : wf_chance(50) ? nch + wf_below(9) : wf_rnd();
	ctrl(c, ms_enc_chunks(msg, sizeof(msg), t, &m), mut);
}

/* The requests that may take a lease away or hold a region's commits
 * back: only ever about "free". */
static void admin(struct wf_conn *c, bool mut)
{
	struct ms_msg_handover ho = { .handle = pick_handle(c), .epoch = pick_epoch(c) };
	struct ms_msg_freeze fz = { .handle = pick_handle(c), .ms = 1 + (uint32_t)wf_below(50) };

	switch (wf_below(6)) {
	case 0:
		ctrl(c, ms_enc_lease(msg, sizeof(msg), MS_MSG_LEASE_BREAK, "free"), mut);
		break;
	case 1:
		wf_fill(ho.client_id, sizeof(ho.client_id));
		ctrl(c, ms_enc_handover(msg, sizeof(msg), &ho), mut);
		break;
	case 2:
		ctrl(c, ms_enc_freeze(msg, sizeof(msg), &fz), mut);
		break;
	case 3:
		ctrl(c, ms_enc_mighandle(msg, sizeof(msg), MS_MSG_THAW, pick_handle(c)), mut);
		break;
	case 4:
		ctrl(c, ms_enc_migname(msg, sizeof(msg),
				       wf_chance(50) ? MS_MSG_MIGRATE_STATUS : MS_MSG_MIGRATE_ABORT,
				       "free"), mut);
		break;
	default:
		chunks(c, MS_MSG_FETCH, mut);
		break;
	}
}

/* An AUTH frame with a real M1 of key, mutated. */
static void auth_frame(struct wf_conn *c, const struct ms_authkey *key)
{
	struct ms_frame h = { .type = MS_F_AUTH }, f;
	struct ms_auth_cli a;
	size_t len = 0;

	if (ms_auth_cli_start(&a, key, msg, sizeof(msg), &len) == 0)
		wf_send(c, &h, msg, (uint32_t)len, true, &f);
	ms_auth_cli_clear(&a);
}

static void step(struct wf_conn *c, bool mut)
{
	struct ms_msg_renew rn = { .handle = pick_handle(c), .epoch = pick_epoch(c) };
	struct ms_msg_hot hot = { .handle = pick_handle(c), .max = 1 + (uint32_t)wf_below(64) };
	struct ms_msg_hold hd = { .handle = pick_handle(c), .ms = 1 + (uint32_t)wf_below(20) };
	struct ms_msg_handle hh = { .handle = pick_handle(c) };
	struct ms_msg_stat st = { .name = "" };
	struct ms_frame h = { 0 }, f;

	switch (wf_below(20)) {
	case 0: case 1: case 2: read_req(c, mut); break;
	case 3: case 4: case 5: write_req(c, mut); break;
	case 6: commit(c, mut); break;
	case 7: stage_commit(c, mut); break;
	case 8: stage(c, mut); break;
	case 9: open_region(c, mut); break;
	case 10:
		ctrl(c, ms_enc_renew(msg, sizeof(msg), &rn), mut);
		break;
	case 11:
		if (wf_chance(20))
			hot.max = wf_chance(50) ? 0 : (uint32_t)wf_rnd();
		ctrl(c, ms_enc_hot(msg, sizeof(msg), &hot), mut);
		break;
	case 12: chunks(c, MS_MSG_TOUCH, mut); break;
	case 13:
		if (wf_chance(50)) {
			ctrl(c, ms_enc_hold(msg, sizeof(msg), &hd), mut);
		} else {
			ctrl(c, ms_enc_release(msg, sizeof(msg), &hh), mut);
		}
		break;
	case 14:
		if (wf_chance(30))
			snprintf(st.name, sizeof(st.name), "%s", wf_chance(50) ? "free" : "nosuch");
		ctrl(c, ms_enc_stat(msg, sizeof(msg), &st), mut);
		break;
	case 15:
		if (c->free_round)
			admin(c, mut);
		else
			ctrl(c, ms_enc_lease(msg, sizeof(msg), MS_MSG_LEASE, "free"), mut);
		break;
	case 16:
		ctrl(c, ms_enc_close(msg, sizeof(msg), &hh), mut);
		break;
	case 17:
		if (wf.auth && wf_chance(20))
			auth_frame(c, &wf.key_read);   /* a second handshake */
		else if (wf_chance(30))
			ctrl(c, ms_enc_empty(msg, sizeof(msg), MS_MSG_BYE), mut);
		else
			hello(c, mut);
		break;
	case 18: /* a frame of garbage */
		h.type = (uint8_t)(1 + wf_below(MS_F_TYPE_MAX));
		wf_fill(data, 64);
		wf_send(c, &h, data, (uint32_t)wf_below(64), true, &f);
		break;
	default: /* a frame only a server sends */
		h.type = wf_chance(50) ? MS_F_NOTIFY : MS_F_READ_RESP;
		wf_send(c, &h, NULL, 0, mut, &f);
		break;
	}
}

/* The handshake: mostly with the key for this round's region (sometimes
 * the other one), else none, a wrong secret or a mangled AUTH frame.
 * 0 to go on, 1 when the connection is gone. */
static int authenticate(struct wf_conn *c)
{
	const struct ms_authkey *key = c->free_round ? &wf.key_write : &wf.key_read;
	struct ms_authkey bad;
	uint64_t how = wf_below(100);

	if (how < 10)
		key = c->free_round ? &wf.key_read : &wf.key_write;
	if (how < 85)
		return wf_auth(c, key);
	if (how < 90)
		return 0;               /* none: everything is refused */
	if (how < 95) {
		bad = *key;
		wf_fill(bad.secret, bad.secret_len);
		return wf_auth(c, &bad) ? 1 : (wf_fail("a wrong secret was accepted"), 1);
	}
	auth_frame(c, key);
	return c->fd < 0;
}

void wf_round(const char *port, uint64_t size, uint32_t chunk)
{
	struct wf_conn *c = &conn;
	char err[256];
	int steps;

	rsize = size;
	rchunk = chunk;
	memset(c, 0, offsetof(struct wf_conn, staged));
	c->fd = ms_sock_connect("127.0.0.1", port, 5000, 0, err, sizeof(err));
	if (c->fd < 0) {
		wf_fail("connect: %s", err);
		return;
	}
	c->free_round = wf_chance(50);
	if (wf.auth && authenticate(c))
		return;
	if (wf_chance(90))
		hello(c, false);
	/* a handover a round before reserved "free" for a made-up client:
	 * break it (most rounds) so that this one can lease it */
	if (c->free_round && wf_chance(50))
		ctrl(c, ms_enc_lease(msg, sizeof(msg), MS_MSG_LEASE_BREAK, "free"), false);
	if (wf_chance(85))
		open_region(c, false);
	if (c->have_lease && wf_chance(80))
		stage(c, false);
	steps = 1 + (int)wf_below(12);
	for (int i = 0; i < steps && c->fd >= 0 && !wf.failed; i++)
		step(c, wf_chance(30));
	wf_hangup(c);
}
