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
};

struct tcp_mrtab {
	pthread_cond_t cond;            /* a queued deregistration is done */
	struct ms_xsmr *tab[TCP_MR_BUCKETS];
	struct ms_xsmr *dq;             /* deregistrations for the loop */
};

void tcp_mr_init(struct tcp_mrtab *t);
void tcp_mr_fini(struct tcp_mrtab *t);
int tcp_mr_reg(struct ms_xloop *l, struct tcp_mrtab *t, void *addr, size_t len,
	       unsigned access, struct ms_xsmr **out, struct ms_rdesc *desc);
/* detach (on the loop thread) makes sure no connection refers to m's
 * memory any more; from another thread the loop runs it and this waits. */
void tcp_mr_dereg(struct ms_xloop *l, struct tcp_mrtab *t, struct ms_xsmr *m,
		  void (*detach)(struct ms_xloop *l, struct ms_xsmr *m));
void tcp_mr_stats(struct ms_xsmr *m, uint64_t *bytes_read, uint64_t *bytes_written);
/* A data request's key grants need and [addr, addr+len) lies inside its
 * registration: 0 with *mp and *ptr, -EACCES or -ERANGE. */
int tcp_mr_check(struct ms_xloop *l, struct tcp_mrtab *t, const struct ms_frame *f,
		 unsigned need, struct ms_xsmr **mp, char **ptr);
/* Serve the deregistrations other threads queued (loop thread). */
void tcp_mr_process_dq(struct ms_xloop *l, struct tcp_mrtab *t,
		       void (*detach)(struct ms_xloop *l, struct ms_xsmr *m));

#endif /* MS_TCP_INT_H */
