/* SPDX-License-Identifier: Apache-2.0 */
/*
 * server_grant.h - every descriptor the server hands a client is a grant
 * for that client alone (transport.h srv_grant): the read registrations of
 * an OPEN, a writer's staging areas and its direct-mode write access.  A
 * grant works only on the connection it was given to, with at most its
 * access, and stops working at srv_revoke or when the client disconnects.
 *
 * Who revokes what:
 *  - an open handle's data and meta grants (struct open_slot): CLOSE, BYE,
 *    disconnect (close_slot);
 *  - a lease's staging and direct-mode write grants (struct lease): when
 *    the lease ends, lapses, is broken or handed over (server_lease.c,
 *    access_free), always before the registration they come from is
 *    deregistered, which itself stops every grant of it at once (an
 *    export unexported or migrated away).
 * A read handle never gets a descriptor with write access.
 */
#ifndef MS_SERVER_GRANT_H
#define MS_SERVER_GRANT_H

#include "server_int.h"

/* A grant of mr (whose own descriptor is parent) for p with access, into
 * *g and *desc.  A transport without grants (a test's) hands out the
 * registration's own descriptor and *g is NULL.  Loop thread (on_ctrl). */
int ms_grant_give(struct peer *p, struct ms_xsmr *mr, const struct ms_rdesc *parent,
		  unsigned access, struct ms_xgrant **g, struct ms_rdesc *desc);
/* Revoke *g (any thread) on listener l and clear it; NULL is fine. */
void ms_grant_revoke(struct listener *l, struct ms_xgrant **g);

/* Register [mem, mem+len) with access on p's listener and grant it to p:
 * 0 with *mr, *g and the grant's *desc, or -errno (nothing left). */
int ms_grant_reg(struct peer *p, void *mem, size_t len, unsigned access, struct ms_xsmr **mr,
		 struct ms_xgrant **g, struct ms_rdesc *desc);
/* Revoke g, then deregister mr (either may be NULL); any thread. */
void ms_grant_dereg(struct listener *l, struct ms_xsmr *mr, struct ms_xgrant *g);

/* OPEN: p's own read grants of e's data (unless data is false: a direct
 * writer's data descriptor is its lease's) and meta registrations, kept in
 * o and written into *data and *meta.  0 or -errno (none kept). */
int ms_grant_open(struct peer *p, struct open_slot *o, struct ms_export *e, bool data,
		  struct ms_rdesc *data_desc, struct ms_rdesc *meta_desc);
/* The handle closes: its grants are revoked. */
void ms_grant_close(struct peer *p, struct open_slot *o);

#endif
