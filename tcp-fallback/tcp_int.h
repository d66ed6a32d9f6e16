/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tcp_int.h - what the halves of the TCP transport share: the entry points
 * tcp_ops.c joins into ms_tcp_ops.  Only the tcp-fallback/ sources include
 * this.
 */
#ifndef MS_TCP_INT_H
#define MS_TCP_INT_H

#include "tcp.h"

/* The client half (tcp_client.c). */
int ms_tcp_connect(const char *host, const char *port, const struct ms_xopts *o,
		   struct ms_xconn **out, char *err, size_t errlen);
int ms_tcp_reg_mr(struct ms_xconn *x, void *addr, size_t len, struct ms_xmr **out);
void ms_tcp_dereg_mr(struct ms_xconn *x, struct ms_xmr *mr);
int ms_tcp_post(struct ms_xconn *x, const struct ms_xwr *wrs, size_t n);
int ms_tcp_call(struct ms_xconn *x, const void *req, size_t len, void *resp, size_t cap,
		size_t *resp_len, int timeout_ms);
void ms_tcp_close(struct ms_xconn *x);

/* The server half (tcp_server.c). */
int ms_tcp_listen(const char *host, const char *port, const struct ms_xsrv_cbs *cbs,
		  struct ms_xsrv **out, char *err, size_t errlen);
int ms_tcp_srv_reg_mr(struct ms_xsrv *s, void *addr, size_t len, unsigned access,
		      struct ms_xsmr **out, struct ms_rdesc *desc);
void ms_tcp_srv_dereg_mr(struct ms_xsrv *s, struct ms_xsmr *mr);
void ms_tcp_srv_mr_stats(struct ms_xsrv *s, struct ms_xsmr *mr, uint64_t *bytes_read,
			 uint64_t *bytes_written);
int ms_tcp_srv_run(struct ms_xsrv *s);
void ms_tcp_srv_stop(struct ms_xsrv *s);
int ms_tcp_srv_notify(struct ms_xsrv *s, struct ms_xpeer *peer, const void *msg, size_t len);
void ms_tcp_srv_close(struct ms_xsrv *s);

#endif /* MS_TCP_INT_H */
