/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tsrv.h - a transport server for the transport tests (test_tcp.c,
 * test_rdma.c): srv_run() on a thread of its own, its log kept in a buffer,
 * counters of connects and disconnects, and control requests that echo
 * (or, for "fail", "big", "dereg", "notify:TEXT", do what they say).
 *
 * Also a client side: io1() and run_ops() post work requests and check
 * their completions, fill() and map() make deterministic data.
 *
 * Include it after defining T (the transport under test) and SRV_ADDR
 * (the address to listen on).
 */
#ifndef MS_TEST_TSRV_H
#define MS_TEST_TSRV_H

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
#include "transport.h"
#include "util.h"

struct tsrv {
	struct ms_xsrv *s;
	pthread_t th;
	int run_rc;
	char port[8];
	pthread_mutex_t lk;
	char log[16384];
	int connects, disconnects;      /* __atomic */
	int refuse;
	struct ms_xsmr *dereg_target;   /* "dereg" control request */
};

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

static bool log_has(struct tsrv *t, const char *a, const char *b)
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
	if (len == 5 && !memcmp(req, "dereg", 5)) {
		T->srv_dereg_mr(t->s, t->dereg_target);
		t->dereg_target = NULL;
	}
	if (len >= 7 && !memcmp(req, "notify:", 7)) {
		rc = T->srv_notify(t->s, peer, (const char *)req + 7, len - 7);
		if (rc)
			return rc;
	}
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

static struct tsrv *srv_start(void)
{
	struct tsrv *t = calloc(1, sizeof(*t));
	struct ms_xsrv_cbs cbs = {
		.ud = t, .on_connect = t_connect, .on_ctrl = t_ctrl,
		.on_disconnect = t_disconnect, .log = t_log,
	};
	char err[256];

	pthread_mutex_init(&t->lk, NULL);
	if (T->listen(SRV_ADDR, "0", &cbs, &t->s, err, sizeof(err)))
		tap_bail("listen on %s: %s", SRV_ADDR, err);
	snprintf(t->port, sizeof(t->port), "%u", t->s->port);
	pthread_create(&t->th, NULL, t_run, t);
	return t;
}

/* Stop and join; returns the ms it took. */
static long srv_stop_join(struct tsrv *t)
{
	uint64_t t0 = ms_now_ns();

	T->srv_stop(t->s);
	pthread_join(t->th, NULL);
	return (long)((ms_now_ns() - t0) / 1000000);
}

static void srv_free(struct tsrv *t)
{
	T->srv_close(t->s);
	pthread_mutex_destroy(&t->lk);
	free(t);
}

/* Wait (bounded) until the server has seen every earlier client go. */
static void settle(struct tsrv *t)
{
	for (int i = 0; i < 200 && __atomic_load_n(&t->connects, __ATOMIC_RELAXED) !=
					   __atomic_load_n(&t->disconnects, __ATOMIC_RELAXED);
	     i++)
		usleep(50000);
}

/* ------------------------------------------------------------ clients */

/* One operation, waited for (lmr may be NULL for transports that need
 * no registration). */
static int io1(struct ms_xconn *c, enum ms_xop op, void *local, struct ms_xmr *lmr,
	       uint32_t len, const struct ms_rdesc *d, uint64_t roff)
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

struct op {
	enum ms_xop op;
	uint64_t roff;
	uint32_t len;
	char *local;
};

/* Run ops keeping the queue full; returns how many failed or came back
 * wrong (status, length or context), -1 if posting or polling failed. */
static int run_ops(struct ms_xconn *c, struct ms_xmr *lmr, const struct ms_rdesc *d,
		   struct op *ops, size_t n)
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

static void fill(char *p, size_t len, unsigned seed)
{
	uint64_t x = seed * 0x9e3779b97f4a7c15ull + 1;

	for (size_t i = 0; i < len; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		p[i] = (char)x;
	}
}

static char *map(size_t len, unsigned seed)
{
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		tap_bail("mmap: %s", strerror(errno));
	fill(p, len, seed);
	return p;
}

#endif /* MS_TEST_TSRV_H */
