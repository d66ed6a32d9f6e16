/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tcp_int.h - what the pieces of the TCP transport share: the entry points
 * tcp_ops.c joins into ms_tcp_ops, and the emulated NIC's registration
 * table (tcp_mr.c) the server loop uses.  Only the tcp-fallback/ sources
 * include this.
 */
#ifndef MS_TCP_INT_H
#define MS_TCP_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "frame.h"
#include "tcp.h"
#include "xsrvloop.h"

/* The client half (tcp_client.c). */
int ms_tcp_connect(const char *host, const char *port, const struct ms_xopts *o,
		   struct ms_xconn **out, char *err, size_t errlen);
int ms_tcp_reg_mr(struct ms_xconn *x, void *addr, size_t len, struct ms_xmr **out);
void ms_tcp_dereg_mr(struct ms_xconn *x, struct ms_xmr *mr);
int ms_tcp_post(struct ms_xconn *x, const struct ms_xwr *wrs, size_t n);
void ms_tcp_close(struct ms_xconn *x);

/* The server half (tcp_server.c). */
int ms_tcp_listen(const char *host, const char *port, const struct ms_xsrv_cbs *cbs,
		  struct ms_xsrv **out, char *err, size_t errlen);
int ms_tcp_srv_reg_mr(struct ms_xsrv *s, void *addr, size_t len, unsigned access,
		      struct ms_xsmr **out, struct ms_rdesc *desc);
void ms_tcp_srv_dereg_mr(struct ms_xsrv *s, struct ms_xsmr *mr);
int ms_tcp_srv_grant(struct ms_xsrv *s, struct ms_xpeer *peer, struct ms_xsmr *mr,
		     unsigned access, struct ms_xgrant **out, struct ms_rdesc *desc);
void ms_tcp_srv_revoke(struct ms_xsrv *s, struct ms_xgrant *g);
/* (tcp_mr.c) */
void ms_tcp_srv_mr_stats(struct ms_xsrv *s, struct ms_xsmr *mr, uint64_t *bytes_read,
			 uint64_t *bytes_written);
int ms_tcp_srv_notify(struct ms_xsrv *s, struct ms_xpeer *peer, const void *msg, size_t len);
void ms_tcp_srv_close(struct ms_xsrv *s);

/* ---- registrations (tcp_mr.c); the table is guarded by the loop's lock */
#define TCP_MR_BUCKETS 256

struct ms_xsmr {
	struct ms_xsmr *next;           /* hash chain */
	struct ms_xsmr *dnext;          /* queued for the loop (dq) */
	uint64_t key;
	char *base;
	uint64_t len;
	unsigned access;
	bool detached;                  /* the loop is done with it (dq) */
	uint64_t bytes_read, bytes_written; /* __atomic */
	struct ms_xgrant *grants;       /* handed to peers (srv_grant) */
};

/* A registration handed to one connection: its own random key, honoured
 * only on frames of the connection whose id is owner, while mr is set
 * (deregistering the parent clears it) and until srv_revoke.  Connection
 * ids are never reused, so a gone peer's keys match no connection. */
struct ms_xgrant {
	struct ms_xgrant *next;         /* hash chain */
	struct ms_xgrant *pnext, **pprev; /* mr->grants (while mr is set) */
	struct ms_xgrant *dnext;        /* queued for the loop (gq) */
	uint64_t key;
	uint64_t owner;                 /* connection id */
	struct ms_xsmr *mr;             /* parent; NULL once deregistered */
	unsigned access;
	bool detached;                  /* the loop is done with it (gq) */
};

struct tcp_mrtab {
	pthread_cond_t cond;            /* a queued deregistration is done */
	struct ms_xsmr *tab[TCP_MR_BUCKETS];
	struct ms_xsmr *dq;             /* deregistrations for the loop */
	struct ms_xgrant *gtab[TCP_MR_BUCKETS];
	struct ms_xgrant *gq;           /* revocations for the loop */
};

/* On the loop thread: make sure no connection refers to m's memory any
 * more, or (m NULL) that no WRITE with the revoked grant key is being
 * received. */
typedef void (*tcp_detach_fn)(struct ms_xloop *l, struct ms_xsmr *m, uint64_t key);

void tcp_mr_init(struct tcp_mrtab *t);
void tcp_mr_fini(struct tcp_mrtab *t);
int tcp_mr_reg(struct ms_xloop *l, struct tcp_mrtab *t, void *addr, size_t len,
	       unsigned access, struct ms_xsmr **out, struct ms_rdesc *desc);
/* detach (on the loop thread) makes sure no connection refers to m's
 * memory any more; from another thread the loop runs it and this waits. */
void tcp_mr_dereg(struct ms_xloop *l, struct tcp_mrtab *t, struct ms_xsmr *m,
		  tcp_detach_fn detach);
/* A grant of mr (access a subset of its own) to connection owner (not 0). */
int tcp_mr_grant(struct ms_xloop *l, struct tcp_mrtab *t, uint64_t owner, struct ms_xsmr *mr,
		 unsigned access, struct ms_xgrant **out, struct ms_rdesc *desc);
/* Revoke and free g; a WRITE with its key being received is discarded
 * (by the loop: from another thread this waits for it). */
void tcp_mr_revoke(struct ms_xloop *l, struct tcp_mrtab *t, struct ms_xgrant *g,
		   tcp_detach_fn detach);
/* A data request's key grants need to connection conn and [addr,
 * addr+len) lies inside its registration: 0 with *mp (the registration
 * whose memory it is) and *ptr, -EACCES or -ERANGE.  A grant's key works
 * only on its owner's connection. */
int tcp_mr_check(struct ms_xloop *l, struct tcp_mrtab *t, const struct ms_frame *f,
		 uint64_t conn, unsigned need, struct ms_xsmr **mp, char **ptr);
/* Serve the deregistrations and revocations other threads queued (loop
 * thread). */
void tcp_mr_process_dq(struct ms_xloop *l, struct tcp_mrtab *t, tcp_detach_fn detach);

#endif /* MS_TCP_INT_H */
