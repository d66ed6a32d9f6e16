/* SPDX-License-Identifier: Apache-2.0 */
/*
 * server_attach.h - a client's extra connections (parallel streams,
 * proto_stream.h) joining the session of its first connection.
 *
 * The first connection (the parent) asks SESSION once and gets its peer
 * id and a random secret.  An extra connection on the same listener,
 * authenticated as the same identity (xp->who), sends ATTACH with them
 * and one of the parent's open handles; it gets its OWN grant of that
 * region's data (transport.h srv_grant: over RDMA a window bound to its
 * QP, over TCP a key only its frames may use) with at most the handle's
 * access and what its key allows.  Nothing else is shared: each stream is
 * an independent peer of the listener's loop, served without a lock
 * between them on the data path.
 *
 * Revocation: a stream's grant of a handle is revoked when the parent
 * closes that handle (CLOSE, BYE, disconnect), when the parent goes
 * (every handle) and when the stream itself goes.  Parent and streams
 * run on one listener's loop thread (ATTACH refuses another listener), so
 * the parent's slots and the streams' grants are touched by that thread
 * alone; s->lock guards the peer list walk and the parent link.
 */
#ifndef MS_SERVER_ATTACH_H
#define MS_SERVER_ATTACH_H

#include "server_int.h"

/* Streams one session may have attached at once. */
#define MS_ATTACH_MAX_STREAMS 16

int ms_srv_h_session(ms_server *s, struct peer *p, const void *req, size_t len, void *resp,
		     size_t cap);
int ms_srv_h_attach(ms_server *s, struct peer *p, const void *req, size_t len, void *resp,
		    size_t cap);
/* p (a parent) closes handle: its streams' grants of it are revoked. */
void ms_attach_close(ms_server *s, struct peer *p, uint32_t handle);
/* p goes away (after its handles were closed): its own grants as a
 * stream are revoked, its streams forget it; p->att is freed. */
void ms_attach_peer_gone(ms_server *s, struct peer *p);
/* How many streams are attached to p now (s->lock held by the caller). */
unsigned ms_attach_count_locked(ms_server *s, const struct peer *p);

#endif
