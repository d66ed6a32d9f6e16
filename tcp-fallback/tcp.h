/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tcp.h - the TCP fallback transport: struct ms_transport_ops over plain
 * sockets.  The client is tcp_client.c, the server loop tcp_server.c, the
 * ops table tcp_ops.c, the wire format frame.h (docs/protocol.md, "TCP
 * frames").  Internals are in tcp_int.h.
 */
#ifndef MS_TCP_H
#define MS_TCP_H

#include "transport.h"

extern const struct ms_transport_ops ms_tcp_ops;

#endif /* MS_TCP_H */
