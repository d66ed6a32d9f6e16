/* SPDX-License-Identifier: Apache-2.0 */
/*
 * xt_rdma_stub.c - test_rdma_stub: everything test_rdma runs (the contract
 * suite, the RDMA checks, the engine over RDMA) against the RDMA driver
 * linked over the fake NIC of fnic.h instead of libibverbs/librdmacm, so it
 * runs on every host; then what only a fake NIC can show: the signalling
 * policy, completion order, and what happens when a request fails, a post
 * fails, the link drops or a request stalls (every request completes
 * exactly once, nothing hangs).  Included by test_transport.c.
 */
#define XT_RDMA_NO_MAIN
#include "xt_rdma.c"

#include "fnic.h"

#define NREQ 64

struct batch {
	struct ms_xconn *c;
	struct ms_xmr *lmr;
	struct ms_xwr w[NREQ];
	struct ms_xwc wc[NREQ];
	int seen[NREQ];                 /* completions per request */
	int n, got, good, bad_order;
	int st[NREQ];                   /* status by request */
	char *dst;
};

static void b_init(struct batch *b, struct tsrv *t, unsigned depth, int tmo)
{
	memset(b, 0, sizeof(*b));
	b->c = cli(t, depth, 1u << 20, tmo);
	b->dst = calloc(1, (size_t)NREQ * 65536);
	b->lmr = lreg(b->c, b->dst, (size_t)NREQ * 65536);
}

/* n reads of 64 KiB from A into dst, ctx = index (posted by b_post). */
static int b_post(struct batch *b, int n)
{
	int first = b->n;

	for (int i = first; i < first + n; i++)
		b->w[i] = (struct ms_xwr){ .op = MS_XOP_READ, .local = b->dst + (size_t)i * 65536,
					   .lmr = b->lmr, .len = 65536, .remote = &dA,
					   .roff = (uint64_t)i * 65536,
					   .ctx = (void *)(uintptr_t)i };
	b->n += n;
	return T->post(b->c, b->w + first, (size_t)n);
}

/* Reap until every posted request completed (bounded). */
static void b_reap(struct batch *b)
{
	int k, last = -1;

	while (b->got < b->n && (k = T->poll(b->c, b->wc, NREQ, 10000)) > 0) {
		for (int i = 0; i < k; i++) {
			int at = (int)(uintptr_t)b->wc[i].ctx;

			b->seen[at]++;
			b->st[at] = b->wc[i].status;
			b->bad_order += at < last;
			last = at;
			if (!b->wc[i].status)
				b->good += memcmp(b->dst + (size_t)at * 65536,
						  A + (size_t)at * 65536, 65536) == 0;
		}
		b->got += k;
	}
}

static int b_once(const struct batch *b)
{
	int once = 0;

	for (int i = 0; i < b->n; i++)
		once += b->seen[i] == 1;
	return once;
}

static int b_count(const struct batch *b, int status)
{
	int n = 0;

	for (int i = 0; i < b->n; i++)
		n += b->seen[i] && b->st[i] == status;
	return n;
}

static void b_free(struct batch *b)
{
	T->close(b->c);
	free(b->dst);
}

static void test_signalling(struct tsrv *t)
{
	struct fnic_stats s0, s1;
	struct batch b;

	b_init(&b, t, NREQ, 0);
	fnic_stats_reset();
	is_int(b_post(&b, 1), 0, "signalling: post 1 read");
	fnic_stats(&s0);
	is_int(s0.data_signaled, 1, "a chain of 1 is signalled");
	is_int(b_post(&b, 5), 0, "post a chain of 5");
	fnic_stats(&s1);
	is_int(s1.data_signaled - s0.data_signaled, 1, "only its last request is signalled");
	b_reap(&b);
	is_int(b.got, 6, "yet all 6 complete");

	b = (struct batch){ .c = b.c, .lmr = b.lmr, .dst = b.dst };
	fnic_stats_reset();
	is_int(b_post(&b, NREQ), 0, "post %d reads at once", NREQ);
	fnic_stats(&s1);
	ok(s1.data_signaled >= 2 && s1.data_signaled <= NREQ / 4,
	   "selective signalling: %lu of %d signalled", s1.data_signaled, NREQ);
	ok(s1.max_unsignaled < 32, "at most %lu unsignalled in a row (the send queue drains)",
	   s1.max_unsignaled);
	b_reap(&b);
	is_int(b_once(&b), NREQ, "every request completes exactly once");
	is_int(b.good, NREQ, "each with the right bytes");
	is_int(b.bad_order, 0, "completions come back in posting order");
	is_int(T->outstanding(b.c), 0, "nothing outstanding");

	/* the last request of a post completes locally (-ERANGE): the last
	 * one that went to the device must still be signalled */
	{
		struct ms_xwr w[3];
		struct ms_xwc wc[3];
		int got = 0, okc = 0, range = 0, k;

		for (int i = 0; i < 3; i++)
			w[i] = (struct ms_xwr){ .op = MS_XOP_READ, .local = b.dst, .lmr = b.lmr,
						.len = 4096, .remote = &dA,
						.roff = i == 2 ? X.rsz : 0 };
		is_int(T->post(b.c, w, 3), 0, "post 2 reads and one past the end");
		while (got < 3 && (k = T->poll(b.c, wc, 3, 5000)) > 0) {
			for (int i = 0; i < k; i++) {
				okc += wc[i].status == 0;
				range += wc[i].status == -ERANGE;
			}
			got += k;
		}
		ok(got == 3 && okc == 2 && range == 1,
		   "all 3 complete: 2 read, 1 -ERANGE (%d/%d/%d)", got, okc, range);
	}
	b_free(&b);
}

/* The 10th request fails at the responder: the 9 before it succeeded, the
 * rest are flushed. */
static void test_wc_error(struct tsrv *t)
{
	struct batch b;

	b_init(&b, t, NREQ, 0);
	fnic_hold(true);
	is_int(b_post(&b, 40), 0, "wc error: 40 reads in flight");
	fnic_inject_wc(10, IBV_WC_REM_ACCESS_ERR);
	fnic_release();
	b_reap(&b);
	is_int(b_once(&b), 40, "every request completes exactly once");
	is_int(b_count(&b, 0), 9, "the 9 before the failed one succeed");
	is_int(b.good, 9, "with their bytes");
	is_int(b.st[9], -EACCES, "the failed one: -EACCES");
	is_int(b_count(&b, -ECONNRESET), 30, "the 30 after it are flushed: -ECONNRESET");
	is_int(b_post(&b, 1), -ENOTCONN, "then post: -ENOTCONN");
	is_int(T->poll(b.c, b.wc, 1, 1000), -ENOTCONN, "and poll: -ENOTCONN");
	fnic_inject_wc(0, IBV_WC_SUCCESS);
	b_free(&b);
}

/* ibv_post_send refuses the 5th request of a chain of 8. */
static void test_post_error(struct tsrv *t)
{
	struct batch b;

	b_init(&b, t, NREQ, 0);
	fnic_hold(true);
	fnic_inject_post(5);
	is_int(b_post(&b, 8), 0, "post error: post() itself succeeds");
	b_reap(&b);
	fnic_release();
	is_int(b_once(&b), 8, "every request completes exactly once");
	is_int(b_count(&b, -ECONNRESET), 8, "each with -ECONNRESET (posted ones flushed)");
	is_int(T->call(b.c, "x", 1, b.dst, 64, NULL, 1000), -ECONNRESET,
	       "call afterwards: -ECONNRESET");
	fnic_inject_post(0);
	b_free(&b);
}

/* The link drops with requests in flight. */
static void test_link_drop(struct tsrv *t)
{
	struct batch b;
	int before;

	settle(t);
	before = __atomic_load_n(&t->disconnects, __ATOMIC_RELAXED);
	b_init(&b, t, NREQ, 0);
	fnic_hold(true);
	is_int(b_post(&b, 16), 0, "link drop: 16 reads in flight");
	fnic_drop_links();
	b_reap(&b);
	fnic_release();
	is_int(b_once(&b), 16, "every request completes exactly once");
	is_int(b_count(&b, -ECONNRESET), 16, "each with -ECONNRESET");
	is_int(T->call(b.c, "x", 1, b.dst, 64, NULL, 1000), -ECONNRESET, "call: -ECONNRESET");
	for (int i = 0; i < 100 && __atomic_load_n(&t->disconnects, __ATOMIC_RELAXED) == before;
	     i++)
		usleep(20000);
	is_int(__atomic_load_n(&t->disconnects, __ATOMIC_RELAXED), before + 1,
	       "the server sees the peer go once");
	b_free(&b);
}

/* A request the device never completes: the stall limit fails it. */
static void test_stall(struct tsrv *t)
{
	struct batch b;

	b_init(&b, t, NREQ, 300);
	fnic_hold(true);
	is_int(b_post(&b, 3), 0, "stall: 3 reads the device sits on");
	b_reap(&b);
	fnic_release();
	is_int(b_once(&b), 3, "every request completes exactly once");
	is_int(b_count(&b, -ETIMEDOUT), 3, "each with -ETIMEDOUT after the stall limit");
	is_int(T->poll(b.c, b.wc, 1, 100), -ENOTCONN, "poll afterwards: -ENOTCONN");
	b_free(&b);
}

/* The connection limit and the idle timeout apply over RDMA too (the
 * shared loop, xlimits.h): a connect request over the per-address limit is
 * rejected, and peers that never send a control request are closed. */
static void test_limits(void)
{
	struct ms_xsrv_opts so = { .max_conns_per_addr = 2, .idle_timeout_ms = 300 };
	struct ms_xopts o = { .depth = 4, .max_io = 4096, .timeout_ms = 5000 };
	struct ms_xconn *c[3] = { 0 }, *late = NULL;
	char err[256] = "";
	struct tsrv *t;
	int rc;

	tfix_srv_opts = &so;
	t = srv_start();
	tfix_srv_opts = NULL;
	c[0] = cli_opts(t, &o);
	c[1] = cli_opts(t, &o);
	rc = X.connect ? X.connect(X.cli_src, X.srv_addr, t->port, &o, &c[2], err, sizeof(err))
		       : T->connect(X.srv_addr, t->port, &o, &c[2], err, sizeof(err));
	ok(rc != 0, "limits: a third connection from one address is rejected (%s)", err);
	ok(log_has(t, "refused", "from that address"),
	   "limits: the refusal is logged with the address");
	for (int i = 0; i < 200 && __atomic_load_n(&t->disconnects, __ATOMIC_RELAXED) < 2; i++)
		usleep(20000);
	is_int(__atomic_load_n(&t->disconnects, __ATOMIC_RELAXED), 2,
	       "limits: the two peers that never sent a control request were closed");
	ok(log_has(t, "no handshake", "idle timeout"), "limits: ... after the idle timeout");
	rc = X.connect ? X.connect(X.cli_src, X.srv_addr, t->port, &o, &late, err, sizeof(err))
		       : T->connect(X.srv_addr, t->port, &o, &late, err, sizeof(err));
	ok(rc == 0, "limits: then a new connection is accepted (%s)", rc ? err : "ok");
	for (int i = 0; i < 2; i++)
		T->close(c[i]);
	if (late)
		T->close(late);
	srv_stop_join(t);
	srv_free(t);
}

static void stub_checks(void)
{
	struct tsrv *t = srv_start();
	struct fnic_stats s;

	A = map(X.rsz, 1);
	if (T->srv_reg_mr(t->s, A, X.rsz, MS_XACCESS_READ, &mA, &dA))
		tap_bail("reg_mr failed");
	test_signalling(t);
	test_wc_error(t);
	test_post_error(t);
	test_link_drop(t);
	test_stall(t);
	T->srv_dereg_mr(t->s, mA);
	srv_stop_join(t);
	is_int(t->connects, t->disconnects, "fake NIC checks: on_disconnect once per peer (%d)",
	       t->connects);
	srv_free(t);
	munmap(A, X.rsz);
	fnic_stats(&s);
	is_int(s.cq_overflows, 0, "no completion queue ever overflowed");
}

int main(void)
{
	char why[256];
	struct fnic_stats s;

	ok(ms_rdma_usable(FNIC_ADDR, why, sizeof(why)) == 1, "rdma reaches %s: %s", FNIC_ADDR,
	   why);
	ok(ms_rdma_usable("127.0.0.1", why, sizeof(why)) == 0, "but not 127.0.0.1: %s", why);
	rdma_setup(FNIC_ADDR, NULL);
	xs_pass("fake NIC");
	xs_lifecycle();
	test_engine();
	rdma_setup(FNIC_ADDR2, FNIC_ADDR);
	/* a device without type 2 memory windows: grants are registrations */
	fnic_no_mw(true);
	X.caps |= XC_GRANT_ANY_CONN;
	xs_pass("fake NIC, two devices, no memory windows");
	X.caps &= ~XC_GRANT_ANY_CONN;
	fnic_no_mw(false);
	fnic_stats(&s);
	is_int(s.sq_overflows + s.cq_overflows, 0,
	       "the driver never overfilled a send or completion queue");
	rdma_setup(FNIC_ADDR, NULL);
	stub_checks();
	test_limits();
	return tap_done();
}
