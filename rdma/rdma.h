/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rdma.h - the RDMA transport: struct ms_transport_ops over rdma_cm and
 * ibverbs (RC queue pairs).  The client is rdma_client.c, the server loop
 * rdma_server.c, what both share rdma_common.c, NUMA placement near the
 * device rdma_place.c.  Internals are in rdma_int.h.
 */
#ifndef MS_RDMA_H
#define MS_RDMA_H

#include <stddef.h>

#include "transport.h"

extern const struct ms_transport_ops ms_rdma_ops;

/* Can RDMA reach host?  Resolves host with rdma_resolve_addr on an
 * rdma_cm id: 1 when that succeeds and the id's device port is ACTIVE,
 * 0 when not (why says which device/port or what failed). */
int ms_rdma_usable(const char *host, char *why, size_t len);

/* ms_rdma_ops.connect, with the source address of the connection fixed
 * (src may be NULL: the route decides), for hosts with several devices. */
int ms_rdma_connect_from(const char *src, const char *host, const char *port,
			 const struct ms_xopts *o, struct ms_xconn **out, char *err,
			 size_t errlen);

#endif /* MS_RDMA_H */
