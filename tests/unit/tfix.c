/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tfix.c - the fixture of the transport contract suite (see tfix.h): a
 * transport server on a thread of its own and the client helpers.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "tap.h"
#include "tfix.h"
#include "util.h"

char *A, *B;
struct ms_xsmr *mA, *mB;
struct ms_rdesc dA, dB;

static void t_log(void *ud, enum ms_log_level lvl, const char *fmt, va_list ap)
{
	struct tsrv *t = ud;
	static const char *const names[] = { "ERROR", "WARN", "INFO", "DEBUG" };
	size_t n;

	pthread_mutex_lock(&t->lk);
	n = strlen(t->log);
	if (n + 300 < sizeof(t->log)) {
		n += (size_t)snprintf(t->log + n, sizeof(t->log) - n, "%s: ", names[lvl]);
		n += (size_t)vsnprintf(t->log + n, sizeof(t->log) - n, fmt, ap);
		snprintf(t->log + n, sizeof(t->log) - n, "\n");
	}
	pthread_mutex_unlock(&t->lk);
}

bool log_has(struct tsrv *t, const char *a, const char *b)
{
	bool found = false;
	char *line, *save, *copy;

	pthread_mutex_lock(&t->lk);
	copy = strdup(t->log);
	pthread_mutex_unlock(&t->lk);
	for (line = strtok_r(copy, "\n", &save); line && !found;
	     line = strtok_r(NULL, "\n", &save))
		found = strstr(line, a) && strstr(line, b);
	free(copy);
	return found;
}

static int t_connect(void *ud, struct ms_xpeer *peer)
{
	struct tsrv *t = ud;

	if (__atomic_load_n(&t->refuse, __ATOMIC_RELAXED))
		return -EPERM;
	__atomic_fetch_add(&t->connects, 1, __ATOMIC_RELAXED);
	peer->eng = t;
	return 0;
}

static void t_disconnect(void *ud, struct ms_xpeer *peer)
{
	struct tsrv *t = ud;

	if (peer->eng != t)     /* a second call would find it cleared */
		tap_bail("on_disconnect for a peer that is not connected");
	peer->eng = NULL;
	__atomic_fetch_add(&t->disconnects, 1, __ATOMIC_RELAXED);
}

/* Echo, with a few commands for the tests. */
static int t_ctrl(void *ud, struct ms_xpeer *peer, const void *req, size_t len, void *resp,
		  size_t cap, size_t *resp_len)
{
	struct tsrv *t = ud;
	int rc;

	if (len == 4 && !memcmp(req, "fail", 4))
		return -EPROTO;
	if (len == 3 && !memcmp(req, "big", 3)) {
		memset(resp, 'b', cap);
		*resp_len = cap;
		return 0;
	}
	if (len == 5 && !memcmp(req, "later", 5)) {
		/* the test answers it with srv_reply */
		__atomic_store_n(&t->later, peer, __ATOMIC_RELEASE);
		return MS_XCTRL_LATER;
	}
	if (len == 5 && !memcmp(req, "dereg", 5)) {
		T->srv_dereg_mr(t->s, t->dereg_target);
		t->dereg_target = NULL;
	}
	if (len == 7 && !memcmp(req, "grant", 5)) {
		/* "grant" + 'A'/'B' + access: the grant's desc (or its error
		 * as 4 bytes) */
		struct ms_xsmr *m = ((const char *)req)[5] == 'A' ? mA : mB;
		struct ms_rdesc d;
		struct ms_xgrant *g = NULL;

		rc = T->srv_grant(t->s, peer, m, (unsigned)((const char *)req)[6], &g, &d);
		pthread_mutex_lock(&t->lk);
		if (!rc && t->ngrants < (int)MS_ARRAY_SIZE(t->grants))
			t->grants[t->ngrants++] = g;
		else if (!rc)
			T->srv_revoke(t->s, g), rc = -ENOSPC;
		pthread_mutex_unlock(&t->lk);
		if (rc) {
			memcpy(resp, &rc, sizeof(rc));
			*resp_len = sizeof(rc);
		} else {
			memcpy(resp, &d, sizeof(d));
			*resp_len = sizeof(d);
		}
		return 0;
	}
	if (len >= 7 && !memcmp(req, "notify:", 7)) {
		rc = T->srv_notify(t->s, peer, (const char *)req + 7, len - 7);
		if (rc)
			return rc;
	}
	if (len)
		memcpy(resp, req, len);
	*resp_len = len;
	return 0;
}

static void *t_run(void *arg)
{
	struct tsrv *t = arg;

	t->run_rc = T->srv_run(t->s);
	return NULL;
}

const struct ms_xsrv_opts *tfix_srv_opts;

struct tsrv *srv_start(void)
{
	struct tsrv *t = calloc(1, sizeof(*t));
	struct ms_xsrv_cbs cbs = {
		.ud = t, .on_connect = t_connect, .on_ctrl = t_ctrl,
		.on_disconnect = t_disconnect, .log = t_log,
		.opts = X.srv_opts ? X.srv_opts : tfix_srv_opts, .auth_lookup = X.auth_lookup,
	};
	char err[256];

	pthread_mutex_init(&t->lk, NULL);
	if (T->listen(X.srv_addr, "0", &cbs, &t->s, err, sizeof(err)))
		tap_bail("listen on %s: %s", X.srv_addr, err);
	snprintf(t->port, sizeof(t->port), "%u", t->s->port);
	pthread_create(&t->th, NULL, t_run, t);
	return t;
}

long srv_stop_join(struct tsrv *t)
{
	uint64_t t0 = ms_now_ns();

	T->srv_stop(t->s);
	pthread_join(t->th, NULL);
	return (long)((ms_now_ns() - t0) / 1000000);
}

void srv_free(struct tsrv *t)
{
	T->srv_close(t->s);
	pthread_mutex_destroy(&t->lk);
	free(t);
}

/* Every peer the server met has gone, and it stays so for 200 ms: a
 * connection an earlier case closed may reach the server's on_connect
 * (and then on_disconnect) late on a loaded machine, and would otherwise
 * be counted by the next case (bounded: 10 s). */
void settle(struct tsrv *t)
{
	int quiet = 0;

	for (int i = 0; i < 200 && quiet < 4; i++) {
		bool idle = __atomic_load_n(&t->connects, __ATOMIC_RELAXED) ==
			    __atomic_load_n(&t->disconnects, __ATOMIC_RELAXED);

		quiet = idle ? quiet + 1 : 0;
		usleep(50000);
	}
}

/* ------------------------------------------------------------ clients */

struct ms_xconn *cli_opts(struct tsrv *t, const struct ms_xopts *o)
{
	struct ms_xconn *c = NULL;
	char err[256];
	int rc = X.connect ? X.connect(X.cli_src, X.srv_addr, t->port, o, &c, err, sizeof(err))
			   : T->connect(X.srv_addr, t->port, o, &c, err, sizeof(err));

	if (rc)
		tap_bail("connect: %s", err);
	return c;
}

struct ms_xconn *cli(struct tsrv *t, unsigned depth, uint32_t max_io, int tmo)
{
	struct ms_xopts o = { .depth = depth, .max_io = max_io, .timeout_ms = tmo };

	return cli_opts(t, &o);
}

struct ms_xmr *lreg(struct ms_xconn *c, void *p, size_t len)
{
	struct ms_xmr *m;

	if (T->reg_mr(c, p, len, &m))
		tap_bail("reg_mr failed");
	return m;
}

int io1(struct ms_xconn *c, enum ms_xop op, void *local, struct ms_xmr *lmr, uint32_t len,
	const struct ms_rdesc *d, uint64_t roff)
{
	struct ms_xwr w = { .op = op, .local = local, .len = len, .lmr = lmr, .remote = d,
			    .roff = roff, .ctx = &w };
	struct ms_xwc wc;
	int rc = T->post(c, &w, 1);

	if (rc)
		return rc;
	rc = T->poll(c, &wc, 1, 10000);
	if (rc != 1)
		return rc < 0 ? rc : -ETIME;
	if (wc.ctx != &w)
		return -EBADMSG;
	return wc.status;
}

int run_ops(struct ms_xconn *c, struct ms_xmr *lmr, const struct ms_rdesc *d, struct op *ops,
	    size_t n)
{
	size_t next = 0, done = 0;
	struct ms_xwc wc[32];
	int bad = 0, k;

	while (done < n) {
		while (next < n && T->outstanding(c) < c->depth) {
			struct ms_xwr w = { .op = ops[next].op, .local = ops[next].local,
					    .len = ops[next].len, .lmr = lmr, .remote = d,
					    .roff = ops[next].roff, .ctx = &ops[next] };
			if (T->post(c, &w, 1))
				return -1;
			next++;
		}
		k = T->poll(c, wc, 32, 20000);
		if (k <= 0)
			return -1;
		for (int i = 0; i < k; i++) {
			struct op *o = wc[i].ctx;

			if (wc[i].status || o < ops || o >= ops + n || wc[i].len != o->len) {
				if (bad++ < 3)
					diag("op %td: status %d, len %u", o - ops, wc[i].status,
					     wc[i].len);
			}
		}
		done += (size_t)k;
	}
	return bad;
}

int queue_reads(struct ms_xconn *c, struct ms_xmr *lmr, const struct ms_rdesc *d, char *dst,
		struct ms_xwc *wc, int *got)
{
	struct ms_xwr w[16];
	int k, rc;

	for (int i = 0; i < 16; i++)
		w[i] = (struct ms_xwr){ .op = MS_XOP_READ, .local = dst + ((size_t)i << 20),
					.lmr = lmr, .len = 1u << 20, .remote = d,
					.roff = (uint64_t)i << 20, .ctx = (void *)(uintptr_t)i };
	rc = T->post(c, w, 16);
	k = T->poll(c, wc, 16, 0);
	*got = k > 0 ? k : 0;
	usleep(200000);
	return rc;
}

int finish_reads(struct ms_xconn *c, struct ms_xwc *wc, int got, const char *dst,
		 const char *expect)
{
	int bad = 0, k;

	while (got < 16 && (k = T->poll(c, wc + got, 16 - got, 5000)) > 0)
		got += k;
	if (got != 16)
		return 100;
	for (int i = 0; i < 16; i++) {
		size_t at = (uintptr_t)wc[i].ctx << 20;

		bad += wc[i].status != 0 || memcmp(dst + at, expect + at, 1u << 20) != 0;
	}
	return bad;
}

void fill(char *p, size_t len, unsigned seed)
{
	uint64_t x = seed * 0x9e3779b97f4a7c15ull + 1;

	for (size_t i = 0; i < len; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		p[i] = (char)x;
	}
}

char *map(size_t len, unsigned seed)
{
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		tap_bail("mmap: %s", strerror(errno));
	fill(p, len, seed);
	return p;
}
