/* SPDX-License-Identifier: Apache-2.0 */
/*
 * server_move.h - the source's side of a region migration (server_move.c):
 * FREEZE, THAW, HANDOFF and MIGRATED from the destination, the commit gate
 * that parks commits of a frozen region, the MOVED redirects of a region
 * that went away, and the tombstones left once the destination has it all.
 *
 * State lives in e->mv (struct move_state, server_int.h) under e->lock,
 * and in the server's struct move_srv (a timer thread that lapses freezes
 * and frees released regions, and the tombstones).
 */
#ifndef MS_SERVER_MOVE_H
#define MS_SERVER_MOVE_H

#include <errno.h>

#include "server_int.h"

/* ms_move_h_freeze's "answered later" (the caller returns MS_XCTRL_LATER);
 * ms_srv_commit's "parked" (the worker keeps the job until a thaw). */
#define MS_MOVE_LATER (-EINPROGRESS)

/* Request handlers (on the peer's loop thread, as handler_fn). */
int ms_move_h_freeze(ms_server *s, struct peer *p, const void *req, size_t len, void *resp,
		     size_t cap);
int ms_move_h_thaw(ms_server *s, struct peer *p, const void *req, size_t len, void *resp,
		   size_t cap);
int ms_move_h_handoff(ms_server *s, struct peer *p, const void *req, size_t len, void *resp,
		      size_t cap);
int ms_move_h_migrated(ms_server *s, struct peer *p, const void *req, size_t len,
		       void *resp, size_t cap);

/* Before a request's handler: when it is about a region that moved away
 * (by handle or by name), the MOVED reply's length; 0: handle it. */
int ms_move_redirect(ms_server *s, struct peer *p, int type, const void *req, size_t len,
		     void *resp, size_t cap);

/* The commit gate of a remote commit of e: 0 go on (counted as applying
 * until ms_move_commit_leave), 1 frozen (park it), -EREMCHG moved away
 * (answer with ms_move_enc_moved). */
int ms_move_commit_enter(struct ms_export *e);
void ms_move_commit_leave(struct ms_export *e);
/* A local commit (ms_export_commit): waits while e is frozen; 0 (then
 * ms_move_commit_leave) or -EREMCHG. */
int ms_move_local_enter(struct ms_export *e);
int ms_move_enc_moved(struct ms_export *e, void *resp, size_t cap);
/* Is e frozen (commits park)? */
bool ms_move_frozen(struct ms_export *e);
/* Was e's memory freed (released)?  Its slots then only close. */
bool ms_move_reaped(struct ms_export *e);

/* p's connection ends: the freezes it holds lapse (before close_all). */
void ms_move_peer_gone(ms_server *s, struct peer *p);
/* Stat: e's moved_to; tombstones (all, or the one named name) appended. */
void ms_move_fill_stat(struct ms_export *e, struct ms_region_stat *st);
int ms_move_tomb_stats(ms_server *s, const char *name, struct ms_region_stat **st,
		       size_t *cnt, size_t *cap);
/* ms_server_add_region: a file region that moved away before a restart
 * (FILE.msmoved) serves only MOVED (and the destination's reads until
 * MIGRATED); a tombstone of the same name goes (the region is back). */
void ms_move_loaded(ms_server *s, struct ms_export *e);
/* The server stops: every freeze ends (parked commits go on). */
void ms_move_stop(ms_server *s);
/* After every loop returned: the timer stops, the tombstones go. */
void ms_move_fini(ms_server *s);

#endif
