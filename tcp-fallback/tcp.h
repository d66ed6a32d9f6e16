/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tcp.h - the TCP fallback transport: struct ms_transport_ops over plain
 * sockets.  The client is tcp_client.c, the server loop tcp_server.c, the
 * wire format frame.h (docs/protocol.md, "TCP frames").
 */
#ifndef MS_TCP_H
#define MS_TCP_H

#include "transport.h"

extern const struct ms_transport_ops ms_tcp_ops;

#ifdef MS_TCP_INTERNAL
/* The server half, defined in tcp_server.c; tcp_client.c joins both halves
 * into ms_tcp_ops.  Nothing outside tcp-fallback/ defines MS_TCP_INTERNAL. */
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
#endif

#endif /* MS_TCP_H */
