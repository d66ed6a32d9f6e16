/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tfix.h - the fixture of the transport contract suite (test_transport.c),
 * which every transport test binary links: test_tcp, test_rdma (a real
 * device), test_rdma_stub (the RDMA driver over the fake NIC of fnic.h) and
 * test_loop (the in-memory loopback transport of loopx.h).
 *
 * The binary's own file (test_tcp.c, ...) fills X with the transport under
 * test and what it does differently, then runs xs_pass() (the contract
 * with one server), xs_lifecycle() (server start/stop cases) and its own
 * checks.
 *
 * The server: srv_run() on a thread of its own, its log kept in a buffer,
 * counters of connects and disconnects, and control requests that echo (or,
 * for "fail", "big", "dereg", "notify:TEXT", do what they say).  The
 * client side: cli() connects, lreg() registers local memory, io1() and
 * run_ops() post work requests and check their completions, fill() and
 * map() make deterministic data.
 */
#ifndef MS_TEST_TFIX_H
#define MS_TEST_TFIX_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "transport.h"

struct tsrv;

/* What a transport does where the contract leaves it a choice. */
enum xcaps {
	XC_SRV_COUNTS = 1u << 0,    /* the server sees (and counts) the data path */
	XC_ACCESS_FATAL = 1u << 1,  /* a refused key ends the connection (a NIC) */
	XC_NEEDS_LMR = 1u << 2,     /* every work request needs a local registration */
	XC_STOP_FINISHES = 1u << 3, /* srv_stop serves the requests in flight first */
	XC_KEYS_NONZERO = 1u << 4,  /* a key is never 0 */
	XC_DESC_ADDR = 1u << 5,     /* desc.addr is the registered address */
	/* a grant's key is honoured on any connection while it lives (RDMA
	 * without type 2 memory windows: a registration per grant) */
	XC_GRANT_ANY_CONN = 1u << 6,
};

struct xcfg {
	const struct ms_transport_ops *ops;
	const char *srv_addr;       /* where servers listen */
	const char *cli_src;        /* clients' source address, or NULL */
	unsigned caps;
	size_t rsz;                 /* size of the shared regions A and B */
	unsigned nregs;             /* registrations test_reg makes */
	size_t nreads;              /* reads test_reads pipelines */
	uint32_t big_io;            /* 0, or a max_io for a second read pass */
	/* NULL: ops->connect (src is cli_src) */
	int (*connect)(const char *src, const char *host, const char *port,
		       const struct ms_xopts *o, struct ms_xconn **out, char *err,
		       size_t errlen);
	/* transport checks run inside xs_pass with its server and regions,
	 * and after that server stopped; may be NULL */
	void (*extra)(struct tsrv *t, const char *what);
	void (*after_stop)(struct tsrv *t, const char *what);
	/* servers' ms_xsrv_cbs.opts and .auth_lookup (NULL: none) */
	const struct ms_xsrv_opts *srv_opts;
	ms_auth_lookup_fn auth_lookup;
};

extern struct xcfg X;
#define T (X.ops)

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
	struct ms_xpeer *later;         /* __atomic: the peer of the last "later"
					 * request, whose reply is deferred */
	/* "grant" requests (tgrant.c): the grants made, for the test to
	 * revoke (srv_revoke is thread-safe) */
	struct ms_xgrant *grants[16];   /* under lk */
	int ngrants;
};

/* The regions every pass serves: A read-only, B read-write (X.rsz bytes). */
extern char *A, *B;
extern struct ms_xsmr *mA, *mB;
extern struct ms_rdesc dA, dB;

struct tsrv *srv_start(void);
/* The settings of the servers srv_start() starts (NULL: defaults). */
extern const struct ms_xsrv_opts *tfix_srv_opts;
/* Stop and join; returns the ms it took. */
long srv_stop_join(struct tsrv *t);
void srv_free(struct tsrv *t);
/* Wait (bounded) until the server has seen every earlier client go. */
void settle(struct tsrv *t);
bool log_has(struct tsrv *t, const char *a, const char *b);

struct ms_xconn *cli(struct tsrv *t, unsigned depth, uint32_t max_io, int tmo);
struct ms_xconn *cli_opts(struct tsrv *t, const struct ms_xopts *o);
/* A local registration of a whole buffer (close frees it). */
struct ms_xmr *lreg(struct ms_xconn *c, void *p, size_t len);

/* One operation, waited for. */
int io1(struct ms_xconn *c, enum ms_xop op, void *local, struct ms_xmr *lmr, uint32_t len,
	const struct ms_rdesc *d, uint64_t roff);

struct op {
	enum ms_xop op;
	uint64_t roff;
	uint32_t len;
	char *local;
};

/* Run ops keeping the queue full; returns how many failed or came back
 * wrong (status, length or context), -1 if posting or polling failed. */
int run_ops(struct ms_xconn *c, struct ms_xmr *lmr, const struct ms_rdesc *d, struct op *ops,
	    size_t n);

/* Post 16 reads of 1 MiB at d (ctx = index), let the server queue them;
 * *got counts completions already taken into wc; returns post()'s code. */
int queue_reads(struct ms_xconn *c, struct ms_xmr *lmr, const struct ms_rdesc *d, char *dst,
		struct ms_xwc *wc, int *got);
/* Reap the rest of them: how many failed or read other than expect. */
int finish_reads(struct ms_xconn *c, struct ms_xwc *wc, int got, const char *dst,
		 const char *expect);

void fill(char *p, size_t len, unsigned seed);
char *map(size_t len, unsigned seed);

/* Per-peer grants (tgrant.c): a key works on its own connection only,
 * until revoked or its peer is gone, with no more than its access. */
void tc_xgrants(struct tsrv *t, const char *what);

/* The contract suite (test_transport.c). */
void xs_pass(const char *what);
void xs_lifecycle(void);

#endif /* MS_TEST_TFIX_H */
