/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tcp_auth.h - the key handshake (src/auth.h) over TCP: MS_F_AUTH frames
 * before anything else.
 *
 *   client                               server
 *   AUTH {M1}                      ->
 *                                  <-    AUTH {M2}        (or a refusal status)
 *   AUTH {M3}                      ->
 *                                  <-    AUTH status 0    (or -EACCES, then close)
 *
 * A server without keys answers an AUTH frame with -EPROTONOSUPPORT; a
 * server with keys answers a control request before the handshake with
 * -EACCES, and closes a connection that sends a data frame first.
 */
#ifndef MS_TCP_AUTH_H
#define MS_TCP_AUTH_H

#include <stddef.h>

#include "auth.h"
#include "frame.h"
#include "transport.h"

/* How the client's handshake moves its bytes (blocking, within tmo ms):
 * 0 or -errno.  tcp_auth_fd_io() does it on a plain socket. */
struct tcp_auth_io {
	int (*send_all)(void *ud, const void *buf, size_t len, int tmo);
	int (*recv_all)(void *ud, void *buf, size_t len, int tmo);
	void *ud;                       /* tcp_auth_fd_io: the fd as (intptr_t) */
};

extern const struct tcp_auth_io tcp_auth_fd_io;

/* Client: authenticate with key over io; bind is the connection's
 * identity ("tcp", or the TLS binding).  0, or -EACCES (refused, or the
 * server did not prove it knows the key), -EPROTONOSUPPORT (the server
 * does not authenticate), -ECONNRESET / -ETIMEDOUT / -EPROTO, with the
 * reason in err. */
int tcp_auth_client(const struct tcp_auth_io *io, const struct ms_authkey *key,
		    const void *bind, size_t bindlen, int timeout_ms, char *err, size_t errlen);

/* Server: one AUTH frame's payload (req, len) for the handshake state a
 * of a peer.  Writes the reply's payload into out (cap >= MS_AUTH_M2_LEN)
 * with its length and status; returns 1 when the peer is authenticated
 * now (a->name is its key), 0 to go on, or -errno when the peer is
 * refused (the reply then tells it; close after sending), with the reason
 * for the log in why. */
int tcp_auth_server_step(struct ms_auth_srv *a, const struct ms_xsrv_cbs *cbs,
			 const void *bind, size_t bindlen, const void *req, size_t len,
			 void *out, size_t cap, size_t *outlen, int *status, char *why,
			 size_t whylen);

#endif /* MS_TCP_AUTH_H */
