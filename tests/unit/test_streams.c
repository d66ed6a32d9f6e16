/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_streams.c - parallel streams (issue 13, item 4): the striping
 * math (cl_streams_resolve, cl_streams_deal), the SESSION and ATTACH
 * messages (proto_stream.c), and the server's side against an in-process
 * server: an extra connection that attaches with the session's secret
 * reads the region through its own grant; a wrong secret, a handle not
 * open, write access from a read handle and a session that is gone get
 * EACCES and nothing; the grant dies with the parent's handle; and
 * ms_pull over 1, 2 and 4 streams returns the region byte for byte, a
 * small pull opening no extra connection, and a stream whose connection
 * died is dropped, its share moved on the first connection.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "fixture.h"
#include "client_priv.h"
#include "client_streams.h"
#include "proto_stream.h"
#include "xfer.h"

#define BIG (16u << 20)
#define SMALL (4u << 20)

static void test_math(void)
{
	bool el[10];
	unsigned own[10];

	is_int(cl_streams_resolve(0, 8), 4, "default: 8 CPUs give 4 streams");
	is_int(cl_streams_resolve(0, 2), 2, "default: 2 CPUs give 2 streams");
	is_int(cl_streams_resolve(0, 0), 1, "default: unknown CPUs give 1 stream");
	is_int(cl_streams_resolve(1, 8), 1, "streams 1: one connection");
	is_int(cl_streams_resolve(100, 8), CL_STREAMS_MAX, "capped at CL_STREAMS_MAX");
	for (int i = 0; i < 10; i++)
		el[i] = true;
	is_int(cl_streams_deal(10, el, 4, own), 4, "10 segments over 4 streams use 4");
	ok(own[0] == 0 && own[1] == 1 && own[2] == 2 && own[3] == 3 && own[4] == 0 &&
	   own[9] == 1, "segments are dealt round-robin");
	el[0] = false;           /* the metadata table: the first connection's */
	el[5] = false;
	cl_streams_deal(10, el, 3, own);
	ok(own[0] == 0 && own[1] == 0 && own[2] == 1 && own[3] == 2 && own[4] == 0 &&
	   own[5] == 0 && own[6] == 1, "ineligible segments stay on stream 0 and skip no turn");
	is_int(cl_streams_deal(2, el + 1, 4, own), 2, "two segments use two of four streams");
}

static void test_proto(void)
{
	uint8_t buf[256];
	struct ms_msg_session_ok so = { .session = 77 }, so2;
	struct ms_msg_attach a = { .session = 77, .handle = 3, .mode = MS_MODE_READ }, a2;
	struct ms_msg_attach_ok ao = { .data = { 1, 2, 3 } }, ao2;
	int n;

	memset(so.secret, 0xa5, sizeof(so.secret));
	memcpy(a.secret, so.secret, sizeof(a.secret));
	n = ms_enc_session_ok(buf, sizeof(buf), &so);
	ok(n > 0 && ms_dec_session_ok(buf, (size_t)n, &so2) == 0 && so2.session == 77 &&
	   memcmp(so2.secret, so.secret, 16) == 0, "SESSION_OK round trip");
	is_int(ms_dec_session_ok(buf, (size_t)n - 1, &so2), -EBADMSG, "SESSION_OK truncated");
	n = ms_enc_attach(buf, sizeof(buf), &a);
	ok(n > 0 && ms_dec_attach(buf, (size_t)n, &a2) == 0 && a2.handle == 3 &&
	   a2.mode == MS_MODE_READ && memcmp(a2.secret, a.secret, 16) == 0,
	   "ATTACH round trip");
	a.mode = 3;
	n = ms_enc_attach(buf, sizeof(buf), &a);
	is_int(ms_dec_attach(buf, (size_t)n, &a2), -EBADMSG, "ATTACH with an unknown mode");
	n = ms_enc_attach_ok(buf, sizeof(buf), &ao);
	ok(n > 0 && ms_dec_attach_ok(buf, (size_t)n, &ao2) == 0 && ao2.data.len == 2 &&
	   ao2.data.rkey == 3, "ATTACH_OK round trip");
	is_int(ms_enc_attach_ok(buf, 8, &ao), -EMSGSIZE, "ATTACH_OK does not fit");
	is_str(ms_msg_name(MS_MSG_ATTACH), "ATTACH", "ATTACH has a name");
}

static int session(ms_client *c, struct ms_msg_session_ok *so)
{
	int len = cl_call(c, "session", ms_enc_empty(c->msg, MS_CTRL_MAX, MS_MSG_SESSION),
			  MS_MSG_SESSION_OK);

	if (len < 0)
		return len;
	return ms_dec_session_ok(c->resp, (size_t)len, so);
}

static int attach(ms_client *sc, const struct ms_msg_session_ok *so, uint32_t handle,
		  uint32_t mode, struct ms_rdesc *d)
{
	struct ms_msg_attach m = { .session = so->session, .handle = handle, .mode = mode };
	struct ms_msg_attach_ok ok;
	int len;

	memcpy(m.secret, so->secret, sizeof(m.secret));
	len = cl_call(sc, "attach", ms_enc_attach(sc->msg, MS_CTRL_MAX, &m), MS_MSG_ATTACH_OK);
	if (len < 0)
		return len;
	if (ms_dec_attach_ok(sc->resp, (size_t)len, &ok))
		return -EPROTO;
	*d = ok.data;
	return 0;
}

/* READ [off, off+len) of d over sc's own connection into buf. */
static int read_via(ms_client *sc, const struct ms_rdesc *d, uint64_t off, void *buf,
		    uint64_t len)
{
	struct ms_seg seg = { .op = MS_XOP_READ, .local = buf, .len = len, .remote = d,
			      .roff = off };
	struct ms_xmr *mr;
	int ret = sc->ops->reg_mr(sc->x, buf, len, &mr);

	if (ret)
		return ret;
	seg.lmr = mr;
	ret = ms_xfer_run(sc->x, &seg, 1, 10000, NULL, NULL);
	sc->ops->dereg_mr(sc->x, mr);
	return ret;
}

static void test_attach(struct fx_server *f)
{
	ms_client *c = fx_connect(f, NULL), *sc = fx_connect(f, NULL), *sc2 = fx_connect(f, NULL);
	struct ms_msg_session_ok so, bad;
	struct ms_rdesc d, d2;
	uint8_t *buf = malloc(1u << 20);
	ms_region *r, *w;

	if (!c || !sc || !sc2 || !buf)
		tap_bail("connect");
	r = ms_open(c, "big", MS_MODE_READ);
	w = ms_open(c, "small", MS_MODE_WRITE);
	if (!r || !w)
		tap_bail("open: %s", ms_client_errmsg(c));
	is_int(session(c, &so), 0, "SESSION on the first connection");
	ok(so.session != 0, "a session id");
	is_int(attach(sc, &so, r->handle, MS_MODE_READ, &d), 0, "ATTACH with the secret");
	ok(d.len >= BIG, "ATTACH_OK: a grant of the whole region");
	memset(buf, 0, 1u << 20);
	is_int(read_via(sc, &d, 3u << 20, buf, 1u << 20), 0, "the stream READs through its grant");
	ok(memcmp(buf, f->mem[0] + (3u << 20), 1u << 20) == 0,
	   "the stream read the region's bytes, exactly");
	is_int(session(sc, &bad), -EPERM, "a stream has no session of its own");

	bad = so;
	bad.secret[7] ^= 1;
	is_int(attach(sc2, &bad, r->handle, MS_MODE_READ, &d2), -EACCES, "a wrong secret: EACCES");
	bad = so;
	bad.session += 1000;
	is_int(attach(sc2, &bad, r->handle, MS_MODE_READ, &d2), -EACCES,
	       "an unknown session: EACCES");
	is_int(attach(sc2, &so, 63, MS_MODE_READ, &d2), -EACCES, "a handle not open: EACCES");
	is_int(attach(sc2, &so, r->handle, MS_MODE_WRITE, &d2), -EACCES,
	       "write access from a read handle: EACCES");
	is_int(attach(sc2, &so, w->handle, MS_MODE_WRITE, &d2), -EOPNOTSUPP,
	       "write streams of a writer: not served (writes use the first connection)");
	is_int(attach(sc2, &so, w->handle, MS_MODE_READ, &d2), 0,
	       "a writer's handle can be read through a stream");
	memset(buf, 0, 1u << 20);
	is_int(read_via(sc2, &d2, 0, buf, 1u << 20), 0, "... and READ");
	ok(memcmp(buf, f->mem[1], 1u << 20) == 0, "... the writer's region, exactly");

	/* the parent closes the handle: the stream's grant is revoked */
	is_int(ms_close(r), 0, "the first connection closes the region");
	is_int(read_via(sc, &d, 0, buf, 4096), -EACCES, "the stream's grant died with the handle");
	is_int(attach(sc, &so, 0, MS_MODE_READ, &d), -EACCES, "a closed handle: EACCES");

	/* the session goes: a later ATTACH gets EACCES */
	ms_disconnect(c);
	is_int(read_via(sc2, &d2, 0, buf, 4096), -EACCES, "the parent went: the grant went too");
	if (sc2->x)
		is_int(attach(sc2, &so, 1, MS_MODE_READ, &d2), -EACCES, "a session gone: EACCES");
	else
		ok(1, "a session gone: the stream's connection was closed");
	ms_disconnect(sc);
	ms_disconnect(sc2);
	free(buf);
}

static void test_pull(struct fx_server *f)
{
	static const unsigned ns[] = { 1, 2, 4 };
	uint8_t *buf = malloc(BIG);

	if (!buf)
		tap_bail("malloc");
	for (size_t i = 0; i < MS_ARRAY_SIZE(ns); i++) {
		struct ms_client_opts o = { .opts_size = sizeof(o),
					    .transport = f->transport ? f->transport
								      : MS_TRANSPORT_TCP,
					    .timeout_ms = 10000, .streams = ns[i] };
		char err[256];
		ms_client *c = ms_connect("127.0.0.1", f->port, &o, err, sizeof(err));
		ms_region *r, *s;
		struct ms_xfer_stats st;

		if (!c || !(r = ms_open(c, "big", MS_MODE_READ)) ||
		    !(s = ms_open(c, "small", MS_MODE_READ)))
			tap_bail("connect/open: %s", c ? ms_client_errmsg(c) : err);
		memset(buf, 0, BIG);
		is_int(ms_pull(s, 0, buf, SMALL, NULL, &st), 0, "streams %u: pull 4 MiB", ns[i]);
		ok(memcmp(buf, f->mem[1], SMALL) == 0, "streams %u: 4 MiB exactly", ns[i]);
		is_int(cl_streams_open(c), 0, "streams %u: a small pull opens no stream", ns[i]);
		memset(buf, 0, BIG);
		is_int(ms_pull(r, 0, buf, BIG, NULL, &st), 0, "streams %u: pull 16 MiB", ns[i]);
		ok(memcmp(buf, f->mem[0], BIG) == 0, "streams %u: 16 MiB exactly", ns[i]);
		is_int(st.bytes, BIG, "streams %u: 16 MiB counted once", ns[i]);
		is_int(cl_streams_open(c), ns[i] - 1, "streams %u: %u extra connection(s)", ns[i],
		       ns[i] - 1);
		memset(buf, 0, BIG);
		is_int(ms_pull(r, 1000, buf, BIG - 5000, NULL, NULL), 0,
		       "streams %u: pull an unaligned range", ns[i]);
		ok(memcmp(buf, f->mem[0] + 1000, BIG - 5000) == 0,
		   "streams %u: the unaligned range exactly", ns[i]);
		if (ns[i] > 1) {
			/* a stream's connection dies: its share moves on the
			 * first connection, the stream is dropped */
			cl_kill(cl_streams_conn(c, 0));
			memset(buf, 0, BIG);
			is_int(ms_pull(r, 0, buf, BIG, NULL, &st), 0,
			       "streams %u: pull with a dead stream", ns[i]);
			ok(memcmp(buf, f->mem[0], BIG) == 0,
			   "streams %u: with a dead stream, 16 MiB exactly", ns[i]);
			is_int(st.bytes, BIG, "streams %u: ... counted once", ns[i]);
			is_int(cl_streams_open(c), ns[i] - 2,
			       "streams %u: the dead stream was dropped", ns[i]);
		}
		ms_disconnect(c);
	}
	free(buf);
}

int main(void)
{
	static const struct fx_region regs[] = { { "big", BIG, 64u << 10, false, 0 },
						 { "small", SMALL, 64u << 10, false, 0 } };
	struct fx_server f;

	test_math();
	test_proto();
	fx_server_up(&f, regs, 2, FX_SEED);
	test_attach(&f);
	test_pull(&f);
	is_int(fx_warnings(&f), 0, "no server warnings");
	fx_server_down(&f);
	return tap_done();
}
