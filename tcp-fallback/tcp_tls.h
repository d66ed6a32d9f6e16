/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tcp_tls.h - TLS 1.3 (OpenSSL) for the TCP fallback: contexts built from
 * struct ms_xtls, the client's blocking handshake, the server's
 * nonblocking one driven by its epoll loop, and send/receive calls with
 * the semantics of tcp_sock.h's (bytes, 0 at end of stream, -EAGAIN,
 * -errno), so the client and the server loop change only where they pick
 * one or the other (the ms_xio_* dispatchers below, NULL: plain socket).
 *
 * Only TLS 1.3 is spoken (minimum and maximum).  A client verifies the
 * server's certificate against its CA and checks the server's name
 * (server_name, else the host it connected to: a DNS name or an IP
 * address).  A server with a CA asks for a client certificate (optional)
 * and verifies it; ms_tls_peer_cn() then gives its common name.
 *
 * Sockets stay nonblocking and owned by the caller; every send uses
 * MSG_NOSIGNAL (a BIO of our own), so a vanished peer is an error return,
 * never a SIGPIPE.  Nothing here prints.
 */
#ifndef MS_TCP_TLS_H
#define MS_TCP_TLS_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "tcp_sock.h"
#include "transport.h"

struct ms_tls_ctx;      /* certificates and settings (an SSL_CTX) */
struct ms_tls;          /* one connection (an SSL) */

/* A client (server false: ca required, cert+key optional) or server
 * (cert+key required, ca optional) context.  0, or -EINVAL / -errno with
 * the reason in err ("TLS: cannot load certificate x.pem: ..."). */
int ms_tls_ctx_new(const struct ms_xtls *t, bool server, struct ms_tls_ctx **out,
		   char *err, size_t errlen);
void ms_tls_ctx_free(struct ms_tls_ctx *ctx);

/* A connection over fd (nonblocking).  Client: name is the name the
 * server's certificate must carry.  NULL + errno on failure. */
struct ms_tls *ms_tls_new(struct ms_tls_ctx *ctx, int fd, const char *name);
/* Send close_notify if it fits (never waits) and free; fd stays open. */
void ms_tls_free(struct ms_tls *t);

/* Client: the whole handshake, waiting in poll(2) up to timeout_ms (<= 0:
 * no limit).  0, or -ECONNREFUSED (the peer's verdict or an alert),
 * -EPROTO, -ETIMEDOUT, -ECONNRESET with err, e.g. "TLS: certificate
 * verify failed: Hostname mismatch". */
int ms_tls_connect(struct ms_tls *t, int timeout_ms, char *err, size_t errlen);

/* Server: a step of the handshake when fd is ready.  0 once it is done,
 * -EAGAIN to wait for ms_tls_events(), or -errno with err.  The first
 * step looks at the first bytes: a plain memsync client (a frame header)
 * is answered with a plain response frame of status -EPROTONOSUPPORT
 * (its client then says the server requires TLS) and -EPROTONOSUPPORT is
 * returned. */
int ms_tls_accept_step(struct ms_tls *t, char *err, size_t errlen);

/* The poll events (POLLIN/POLLOUT, equal to EPOLLIN/EPOLLOUT) to wait
 * for, given those the caller wants (ev): during the handshake what it
 * waits for, afterwards ev and what an SSL_read or SSL_write that
 * returned -EAGAIN needs beyond the obvious (a read that must write). */
uint32_t ms_tls_events(const struct ms_tls *t, uint32_t ev);
/* Decrypted bytes wait inside the connection (poll would not report
 * them). */
bool ms_tls_pending(const struct ms_tls *t);

/* As ms_sock_sendv / ms_sock_recv (tcp_sock.h).  A send that returned
 * -EAGAIN or a short count must be retried with the same bytes first
 * (ours always are: both queues keep them until they are sent). */
ssize_t ms_tls_sendv(struct ms_tls *t, const struct iovec *iov, int cnt);
ssize_t ms_tls_recv(struct ms_tls *t, void *buf, size_t len);
/* Receive and drop up to len bytes (as recv(MSG_TRUNC) on a socket). */
ssize_t ms_tls_discard(struct ms_tls *t, size_t len);

/* Blocking, within tmo ms (< 0: no limit), for the client's key handshake
 * (tcp_auth.h's struct tcp_auth_io, ud the struct ms_tls): 0, -ETIMEDOUT,
 * -ECONNRESET (end of stream) or -errno. */
int ms_tls_send_all(void *ud, const void *buf, size_t len, int tmo);
int ms_tls_recv_all(void *ud, void *buf, size_t len, int tmo);

/* The handshake is over. */
bool ms_tls_done(const struct ms_tls *t);

/* Server loop (loop thread): drive peer lp's handshake on an event, then
 * identify the peer.  A verified client certificate whose common name
 * cbs.auth_lookup knows makes the peer that key (who = the name, authn =
 * MS_XAUTHN_CERT); a certificate naming no key is refused; without
 * auth_lookup the peer stays anonymous (the name is logged).  Returns
 * true while the handshake goes on or when lp was closed (refused,
 * failed: logged), false once the handshake is over (or t is NULL): the
 * caller then meets the engine (on_connect), or waits for the key
 * handshake when the server has keys and the certificate named none. */
struct ms_xloop;
struct ms_xlpeer;
bool ms_tls_srv_handshake(struct ms_xloop *l, struct ms_xlpeer *lp, struct ms_tls *t);

/* Server: the common name of the peer's verified certificate.  0,
 * -ENOENT (no certificate), -EINVAL (no usable common name). */
int ms_tls_peer_cn(struct ms_tls *t, char *cn, size_t len);

/* The connection's identity for the key handshake (auth.h's bind), the
 * same on both ends: "tcp" without TLS (t NULL), else "tcp+tls:" and 32
 * bytes of SSL_export_keying_material(label "EXPORTER-memsync-auth", no
 * context).  0 with *len, -ENOSPC (cap too small) or -EPROTO. */
#define MS_TLS_BIND_LABEL "EXPORTER-memsync-auth"
#define MS_TLS_BIND_LEN (8 + 32)
int ms_tls_bind(struct ms_tls *t, uint8_t *buf, size_t cap, size_t *len);

/* The last OpenSSL failure of t in words (for logs), "" if none. */
const char *ms_tls_errstr(const struct ms_tls *t);

/* ---- one call for both: t NULL is the plain socket fd */
static inline ssize_t ms_xio_sendv(struct ms_tls *t, int fd, const struct iovec *iov,
				   int cnt)
{
	return t ? ms_tls_sendv(t, iov, cnt) : ms_sock_sendv(fd, iov, cnt);
}

static inline ssize_t ms_xio_recv(struct ms_tls *t, int fd, void *buf, size_t len)
{
	return t ? ms_tls_recv(t, buf, len) : ms_sock_recv(fd, buf, len);
}

static inline uint32_t ms_xio_events(struct ms_tls *t, uint32_t ev)
{
	return t ? ms_tls_events(t, ev) : ev;
}

static inline bool ms_xio_pending(struct ms_tls *t)
{
	return t && ms_tls_pending(t);
}

/* Receive and drop up to len bytes: bytes, 0 at end, -EAGAIN, -errno. */
static inline ssize_t ms_xio_discard(struct ms_tls *t, int fd, size_t len)
{
	ssize_t r;

	if (t)
		return ms_tls_discard(t, len);
	/* MSG_TRUNC on TCP discards without copying. */
	r = recv(fd, NULL, len, MSG_TRUNC | MSG_DONTWAIT);
	return r >= 0 ? r : errno == EINTR ? -EAGAIN : -errno;
}

#endif /* MS_TCP_TLS_H */
