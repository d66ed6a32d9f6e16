/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rkeyprobe.c - try a server's keys the way an attacker with a raw
 * connection would, for tests/integration/rkeys.sh (over TCP on the host,
 * over RDMA in the soft-RoCE stage).
 *
 *   rkeyprobe tcp|rdma HOST PORT REGION [TIMEOUT_MS]
 *
 * Speaks the control protocol itself through the transport (HELLO, OPEN
 * for reading) and then:
 *   1. reads the region's first bytes with its own data descriptor
 *      (a snapshot), then WRITEs garbage with that read-only descriptor;
 *   2. opens again on a new connection, disconnects it, opens a third
 *      connection and READs with the disconnected one's descriptor;
 *   3. reads the snapshot's range again on a fresh connection.
 * Prints one line per step, "NAME STATUS" (0 or -errno):
 *   read-own 0           the own key reads
 *   write-read-key -13   a read-only key cannot write
 *   read-old-key -13     a disconnected client's key no longer reads
 *   unchanged 1          the bytes are what they were (0: they changed)
 * Exit 0 when every step ran, 1 when a connection or an OPEN failed.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "proto.h"
#include "transport.h"

#define SNAP (1u << 20)         /* bytes compared */

static const struct ms_transport_ops *T;
static const char *host, *port, *region;
static int tmo = 10000;

struct pconn {
	struct ms_xconn *c;
	struct ms_xmr *lmr;
	char *buf;
	struct ms_msg_open_ok ok;
};

static int call(struct pconn *p, const void *req, int n, void *resp, size_t cap,
		size_t *rlen)
{
	if (n < 0)
		return n;
	return T->call(p->c, req, (size_t)n, resp, cap, rlen, tmo);
}

/* Connect, HELLO, OPEN region for reading: 0 or -errno (said on stderr). */
static int pc_open(struct pconn *p)
{
	struct ms_xopts o = { .depth = 4, .max_io = SNAP, .timeout_ms = tmo };
	struct ms_msg_hello h = { .version = MS_PROTO_VERSION };
	struct ms_msg_open m = { .mode = MS_MODE_READ };
	char err[256], req[512], resp[4096];
	size_t rlen = 0;
	int rc;

	memset(p, 0, sizeof(*p));
	rc = T->connect(host, port, &o, &p->c, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "rkeyprobe: connect: %s\n", err);
		return rc;
	}
	if (getrandom(h.client_id, sizeof(h.client_id), 0) != sizeof(h.client_id))
		return -EIO;
	snprintf(h.agent, sizeof(h.agent), "rkeyprobe");
	rc = call(p, req, ms_enc_hello(req, sizeof(req), &h), resp, sizeof(resp), &rlen);
	if (!rc && ms_msg_type(resp, rlen) != MS_MSG_HELLO_OK)
		rc = -EPROTO;
	snprintf(m.name, sizeof(m.name), "%s", region);
	if (!rc)
		rc = call(p, req, ms_enc_open(req, sizeof(req), &m), resp, sizeof(resp), &rlen);
	if (!rc && ms_dec_open_ok(resp, rlen, &p->ok))
		rc = -EPROTO;
	p->buf = calloc(1, SNAP);
	if (!rc && !p->buf)
		rc = -ENOMEM;
	if (!rc)
		rc = T->reg_mr(p->c, p->buf, SNAP, &p->lmr);
	if (rc)
		fprintf(stderr, "rkeyprobe: HELLO/OPEN of '%s': %s\n", region, strerror(-rc));
	return rc;
}

static void pc_close(struct pconn *p)
{
	if (p->c)
		T->close(p->c);     /* frees its registrations */
	free(p->buf);
	p->c = NULL;
	p->buf = NULL;
}

/* One request of len bytes at roff of d, waited for: its status. */
static int io1(struct pconn *p, enum ms_xop op, uint32_t len, const struct ms_rdesc *d,
	       uint64_t roff)
{
	struct ms_xwr w = { .op = op, .local = p->buf, .len = len, .lmr = p->lmr, .remote = d,
			    .roff = roff, .ctx = p };
	struct ms_xwc wc;
	int rc = T->post(p->c, &w, 1);

	if (rc)
		return rc;
	rc = T->poll(p->c, &wc, 1, tmo);
	if (rc != 1)
		return rc < 0 ? rc : -ETIMEDOUT;
	return wc.status;
}

/* Read [0, n) with the connection's own descriptor, in max_io pieces. */
static int read_all(struct pconn *p, uint32_t n)
{
	uint32_t step = p->c->max_io < SNAP ? p->c->max_io : SNAP;
	int rc = 0;

	for (uint32_t off = 0; off < n && !rc; off += step) {
		struct ms_xwr w = { .op = MS_XOP_READ, .local = p->buf + off,
				    .len = n - off < step ? n - off : step, .lmr = p->lmr,
				    .remote = &p->ok.data, .roff = off, .ctx = p };
		struct ms_xwc wc;

		rc = T->post(p->c, &w, 1);
		if (!rc)
			rc = T->poll(p->c, &wc, 1, tmo) == 1 ? wc.status : -ETIMEDOUT;
	}
	return rc;
}

int main(int argc, char **argv)
{
	struct pconn a, b;
	struct ms_rdesc old;
	char why[256], *snap;
	uint32_t n;
	int rc;

	if (argc < 5 || (strcmp(argv[1], "tcp") && strcmp(argv[1], "rdma"))) {
		fprintf(stderr, "usage: rkeyprobe tcp|rdma HOST PORT REGION [TIMEOUT_MS]\n");
		return 2;
	}
	host = argv[2];
	port = argv[3];
	region = argv[4];
	if (argc > 5)
		tmo = atoi(argv[5]);
	T = ms_transport_get(strcmp(argv[1], "tcp") ? MS_TRANSPORT_RDMA : MS_TRANSPORT_TCP, host,
			     why, sizeof(why));
	if (!T) {
		fprintf(stderr, "rkeyprobe: %s\n", why);
		return 1;
	}
	/* 1. the own key reads; it cannot write */
	if (pc_open(&a))
		return 1;
	n = a.ok.size < SNAP ? (uint32_t)a.ok.size : SNAP;
	rc = read_all(&a, n);
	printf("read-own %d\n", rc);
	snap = malloc(n);
	if (!snap)
		return 1;
	memcpy(snap, a.buf, n);
	memset(a.buf, 0x5a, 64);
	printf("write-read-key %d\n", io1(&a, MS_XOP_WRITE, 64, &a.ok.data, 0));
	pc_close(&a);
	/* 2. a disconnected client's key, on a connection of its own */
	if (pc_open(&a))
		return 1;
	old = a.ok.data;
	pc_close(&a);
	usleep((useconds_t)tmo * 100);      /* the server has seen it go */
	if (pc_open(&b))
		return 1;
	printf("read-old-key %d\n", io1(&b, MS_XOP_READ, 64, &old, 0));
	pc_close(&b);
	/* 3. nothing changed */
	if (pc_open(&b))
		return 1;
	rc = read_all(&b, n);
	printf("unchanged %d\n", !rc && !memcmp(b.buf, snap, n));
	pc_close(&b);
	free(snap);
	fflush(stdout);
	return 0;
}
