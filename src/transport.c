/* SPDX-License-Identifier: Apache-2.0 */
/*
 * transport.c - which transports are built in, and choosing one.
 *
 * AUTO picks RDMA only when an RDMA transport is built in and a device with
 * an active port can reach the peer; otherwise TCP, and `why` says which
 * and why, so the CLI and the daemon can log the decision.
 */
#include <errno.h>
#include <stdio.h>

#include "tcp.h"
#include "transport.h"
#include "util.h"

const struct ms_transport_ops *ms_transport_get(enum ms_transport_kind kind,
						const char *host, char *why,
						size_t whylen)
{
	switch (kind) {
	case MS_TRANSPORT_TCP:
		snprintf(why, whylen, "tcp: requested");
		return &ms_tcp_ops;
	case MS_TRANSPORT_RDMA:
		/* The RDMA transport is a later milestone; until it is built
		 * in, asking for it is an error, never a silent TCP. */
		snprintf(why, whylen,
			 "rdma: this memsync has no RDMA transport built in");
		errno = EPROTONOSUPPORT;
		return NULL;
	case MS_TRANSPORT_AUTO:
		snprintf(why, whylen,
			 "tcp: auto (no RDMA transport built into this memsync)");
		return &ms_tcp_ops;
	}
	snprintf(why, whylen, "unknown transport kind %d", (int)kind);
	errno = EINVAL;
	return NULL;
}
