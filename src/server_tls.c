/* SPDX-License-Identifier: Apache-2.0 */
/*
 * server_tls.c - a server's TLS settings (ms_server_opts.tls_*): handed
 * to the TCP listener through ms_xsrv_cbs.opts (tcp-fallback/tcp_tls.c
 * does the rest); RDMA is not covered by TLS, which the log says.
 */
#include <errno.h>
#include <stdio.h>

#include "server_int.h"

/* TLS settings (ms_server_opts.tls_*) into s->xso: for TCP only. */
int ms_srv_tls_opts(ms_server *s, const struct ms_server_opts *o)
{
	if (!o->tls_cert && !o->tls_key && !o->tls_ca)
		return 0;
	if (o->transport == MS_TRANSPORT_RDMA) {
		snprintf(s->errmsg, sizeof(s->errmsg), "TLS protects the TCP transport only "
			 "(RDMA traffic is not encrypted): use transport tcp or auto");
		return -EPROTONOSUPPORT;
	}
	s->tls = (struct ms_xtls){ .ca = o->tls_ca, .cert = o->tls_cert, .key = o->tls_key };
	s->xso.tls = &s->tls;
	ms_srv_log(s, MS_LOG_INFO, "TLS 1.3 on TCP (certificate %s; client certificates %s%s)",
		   o->tls_cert ? o->tls_cert : "(none)", o->tls_ca ? "verified against " : "not asked for",
		   o->tls_ca ? o->tls_ca : "");
	return 0;
}

void ms_srv_tls_rdma_note(ms_server *s, bool rdma_too)
{
	if (rdma_too && s->xso.tls)
		ms_srv_log(s, MS_LOG_WARN, "TLS protects the TCP listener only: RDMA traffic on "
			   "port %u is not encrypted", s->l[0].xs->port);
}
