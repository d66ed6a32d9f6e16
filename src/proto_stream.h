/* SPDX-License-Identifier: Apache-2.0 */
/*
 * proto_stream.h - the control messages of parallel streams (issue 13,
 * item 4): a client's extra connections join the session of its first.
 *
 *   SESSION {}                                -> SESSION_OK {session, secret[16]}
 *   ATTACH  {session, secret[16], handle, mode} -> ATTACH_OK {data desc}
 *
 * SESSION, on the first connection, gives it a session id (the server's
 * peer id) and a random secret (the same for the connection's life).  An
 * extra connection, authenticated like the first (key, TLS) and past its
 * own HELLO, sends ATTACH with them and a handle the first connection has
 * open: the server gives the extra connection its own grant of that
 * region with at most the handle's access, revoked when the handle
 * closes or either connection goes.  A wrong secret, a session that is
 * gone or a handle that is not open: EACCES, nothing granted.  A server
 * that predates these answers ERROR (unknown type): the client then uses
 * one connection, so older peers keep working.
 */
#ifndef MS_PROTO_STREAM_H
#define MS_PROTO_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include "proto.h"

#define MS_SESSION_SECRET_LEN 16

struct ms_msg_session_ok {
	uint64_t session;
	uint8_t secret[MS_SESSION_SECRET_LEN];
};

struct ms_msg_attach {
	uint64_t session;
	uint8_t secret[MS_SESSION_SECRET_LEN];
	uint32_t handle;            /* the first connection's */
	uint32_t mode;              /* enum ms_mode; at most the handle's */
};

struct ms_msg_attach_ok {
	struct ms_rdesc data;       /* this connection's own grant */
};

/* SESSION is ms_enc_empty / ms_dec_empty with MS_MSG_SESSION. */
int ms_enc_session_ok(void *buf, size_t cap, const struct ms_msg_session_ok *m);
int ms_dec_session_ok(const void *buf, size_t len, struct ms_msg_session_ok *m);
int ms_enc_attach(void *buf, size_t cap, const struct ms_msg_attach *m);
/* a mode other than READ or WRITE: -EBADMSG */
int ms_dec_attach(const void *buf, size_t len, struct ms_msg_attach *m);
int ms_enc_attach_ok(void *buf, size_t cap, const struct ms_msg_attach_ok *m);
int ms_dec_attach_ok(const void *buf, size_t len, struct ms_msg_attach_ok *m);

#endif
