/* SPDX-License-Identifier: Apache-2.0 */
/*
 * transport.c - which transports are built in, and choosing one.
 *
 * AUTO picks RDMA only when an RDMA transport is built in and a device with
 * an active port can reach the peer; otherwise TCP, and `why` says which
 * and why, so the CLI and the daemon can log the decision.  A server has no
 * peer to probe (host is NULL): AUTO listens on TCP there, and a server
 * that wants RDMA asks for it.
 */
#include <errno.h>
#include <stdio.h>

#include "tcp.h"
#include "transport.h"
#include "util.h"
#ifdef HAVE_RDMA
#include "rdma.h"
#endif

const struct ms_transport_ops *ms_transport_get(enum ms_transport_kind kind,
						const char *host, char *why,
						size_t whylen)
{
#ifdef HAVE_RDMA
	char probe[200];
#endif

	switch (kind) {
	case MS_TRANSPORT_TCP:
		snprintf(why, whylen, "tcp: requested");
		return &ms_tcp_ops;
	case MS_TRANSPORT_RDMA:
#ifdef HAVE_RDMA
		snprintf(why, whylen, "rdma: requested");
		return &ms_rdma_ops;
#else
		/* Asking for RDMA is an error, never a silent TCP. */
		snprintf(why, whylen,
			 "rdma: this memsync has no RDMA transport built in");
		errno = EPROTONOSUPPORT;
		return NULL;
#endif
	case MS_TRANSPORT_AUTO:
#ifdef HAVE_RDMA
		if (ms_rdma_usable(host, probe, sizeof(probe))) {
			snprintf(why, whylen, "rdma: auto (%s)", probe);
			return &ms_rdma_ops;
		}
		snprintf(why, whylen, "tcp: auto (rdma: %s)", probe);
#else
		snprintf(why, whylen,
			 "tcp: auto (no RDMA transport built into this memsync)");
#endif
		return &ms_tcp_ops;
	}
	snprintf(why, whylen, "unknown transport kind %d", (int)kind);
	errno = EINVAL;
	return NULL;
}
