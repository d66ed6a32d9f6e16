/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tcp_srv_auth.c - a peer's admission by the server loop: its TLS handshake
 * (tcp_tls.h), then the key handshake (tcp_auth.h): a peer of a server with keys sends MS_F_AUTH frames
 * before anything else; until it is admitted, a control request is
 * answered -EACCES and the connection closed once that is out, a data
 * frame closes it at once, and the engine has not met it (on_connect is
 * called on admission, with the key's name in ms_xpeer.who).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tcp_auth.h"
#include "tcp_srv.h"
#include "tcp_tls.h"
#include "util.h"

#define slog(s, ...) ms_xloop_log(&(s)->l, __VA_ARGS__)
#define peer_close(s, p, ...) ms_xloop_close_peer(&(s)->l, &(p)->lp, __VA_ARGS__)

/* The engine meets the peer (on_connect); non-zero: it refused. */
int tcp_srv_engine_accept(struct srv *s, struct peer *p)
{
	if (s->l.cbs.on_connect && s->l.cbs.on_connect(s->l.cbs.ud, &p->lp.pub)) {
		slog(s, MS_LOG_INFO, "peer %s: refused", p->lp.pub.name);
		return -EACCES;
	}
	p->lp.accepted = true;
	return 0;
}

static void auth_reply(struct srv *s, struct peer *p, int status, const void *data,
		       size_t len)
{
	struct ms_frame f = { .type = MS_F_AUTH, .status = status, .plen = (uint32_t)len };
	char *copy = len ? malloc(len) : NULL;

	if (len && !copy) {
		peer_close(s, p, MS_LOG_ERROR, "out of memory for a response; disconnected");
		return;
	}
	if (len)
		memcpy(copy, data, len);
	if (tcp_srv_tx_push(p, &f, copy, len, NULL, copy != NULL))
		peer_close(s, p, MS_LOG_ERROR, "out of memory for a response; disconnected");
}

/* A frame header while the handshake is owed, or an AUTH frame: true when
 * it was dealt with here (refused). */
bool tcp_srv_auth_gate(struct srv *s, struct peer *p)
{
	if (p->auth && p->lp.pub.authn == MS_XAUTHN_CERT && p->req.type != MS_F_AUTH) {
		/* its TLS certificate names a key: that stands for the key
		 * handshake (a client with a key runs it, which then counts) */
		ms_auth_srv_clear(p->auth);
		free(p->auth);
		p->auth = NULL;
		if (!tcp_srv_engine_accept(s, p))
			return false;
		peer_close(s, p, MS_LOG_DEBUG, "disconnected");
		return true;
	}
	if (p->req.type == MS_F_AUTH) {
		if ((!p->auth && s->l.cbs.auth_lookup) || p->req.status) {
			peer_close(s, p, MS_LOG_WARN, "unexpected AUTH frame; closing");
			return true;
		}
		return false;   /* its payload is collected, then auth_done() */
	}
	if (p->req.type == MS_F_CTRL_REQ) {
		slog(s, MS_LOG_INFO, "peer %s: refused: not authenticated (this server "
		     "requires a key)", p->lp.pub.name);
		tcp_srv_ctrl_reply(s, p, p->req.id, -EACCES, NULL, 0);
		p->closing = true;
	} else {
		peer_close(s, p, MS_LOG_WARN, "%s before authentication; closing",
			   ms_frame_type_name(p->req.type));
	}
	return true;
}

/* An AUTH frame's payload has arrived. */
void tcp_srv_auth_done(struct srv *s, struct peer *p)
{
	struct ms_auth_srv none = { 0 };
	uint8_t out[MS_AUTH_M2_LEN], bind[MS_TLS_BIND_LEN];
	char why[160] = "", *m = p->ctrl;
	size_t olen = 0, blen = 0;
	int rc, st;

	p->ctrl = NULL;
	/* the connection's identity: "tcp", or TLS's exporter value */
	if (ms_tls_bind(p->tls, bind, sizeof(bind), &blen))
		blen = 0;       /* then no proof can match */
	rc = tcp_auth_server_step(p->auth ? p->auth : &none, &s->l.cbs, bind, blen,
				  m, p->req.plen, out, sizeof(out), &olen, &st, why, sizeof(why));
	free(m);
	if (rc == 1) {
		snprintf(p->lp.pub.who, sizeof(p->lp.pub.who), "%s", p->auth->name);
		p->lp.pub.authn = MS_XAUTHN_KEY;
		ms_auth_srv_clear(p->auth);
		free(p->auth);
		p->auth = NULL;
		if (tcp_srv_engine_accept(s, p)) {
			st = -EACCES;
			p->closing = true;
		} else {
			slog(s, MS_LOG_DEBUG, "peer %s: authenticated as key '%s'",
			     p->lp.pub.name, p->lp.pub.who);
		}
	} else if (rc < 0) {
		slog(s, MS_LOG_WARN, "peer %s: %s; closing", p->lp.pub.name, why);
		p->closing = true;
	}
	auth_reply(s, p, st, out, olen);
}

/* A TLS peer's handshake: true while it goes on or when the peer is gone.
 * Then without keys the engine meets the peer; with keys it must run the
 * key handshake or have a certificate that names a key (auth_gate). */
bool tcp_srv_tls_step(struct srv *s, struct peer *p)
{
	if (ms_tls_srv_handshake(&s->l, &p->lp, p->tls)) {
		tcp_srv_set_events(s, p);  /* waiting, or closed */
		return true;
	}
	if (!p->auth && tcp_srv_engine_accept(s, p)) {
		peer_close(s, p, MS_LOG_DEBUG, "disconnected");
		return true;
	}
	return false;
}
