/* SPDX-License-Identifier: Apache-2.0 */
/*
 * server_int.h - what server.c (lifecycle, listeners, exports, the public
 * API) and server_ctrl.c (peers, leases, the control handlers) share.
 *
 * Threads: every listener runs its transport's loop on a thread of its own
 * and calls on_connect/on_ctrl/on_disconnect there, one at a time; the
 * application calls the public API from any thread.  A remote COMMIT,
 * whose verification reads every committed byte (about a second per GiB),
 * is not run on the loop: on_ctrl queues it for the server's commit
 * worker (server_work.c, one thread, started on the first commit) and
 * returns MS_XCTRL_LATER; the worker verifies and publishes it and
 * answers through the transport's srv_reply.  The loop meanwhile serves
 * every other peer and the committer's data path; the committer's next
 * control request waits for the reply (transport.h).
 *
 * Commit and disconnect: while its commit is queued or running, a peer's
 * on_disconnect is postponed by the transport until the worker has called
 * srv_reply, and no other handler runs for that peer; so the worker may
 * use the peer (its opens, its lease) without a lock, and a writer that
 * vanishes mid-commit does not lose its lease under the commit: the
 * commit completes as a whole (verified and published, or refused and
 * nothing published, under r->lock) and only then does on_disconnect
 * release the lease.  A region is never half-published.
 *
 * Locking (no lock is ever taken while another is held, but for a
 * region's hold lock, a leaf the commit gate takes under r->lock for a
 * list walk: region_hold.h):
 *  - s->lock guards the export list, the peer list, every peer's hello
 *    state and client id, and s->errmsg; it is held for a list walk or an
 *    insertion, never across work on a region;
 *  - e->lock guards an export's lease, write registration and counters;
 *    it is held for a few loads and stores (registering and deregistering
 *    the writer's memory happen outside it);
 *  - r->lock (region.h) is held by a commit of that region for its whole
 *    duration, and by nothing else that a reader of another region or a
 *    STAT waits for.
 * Everything else a handler reads is immutable once published: a region's
 * name, size and memory, an export's read-only registrations.  Exports are
 * only appended to the list while the server lives and are freed by
 * ms_server_destroy() after every loop has stopped, so a pointer found in
 * the list stays valid.  A peer's open handles are touched only by its own
 * listener's thread (server_admin.c reads them, atomically, under s->lock).
 *
 * Removing an export (ms_server_unexport) keeps that promise with a grace
 * lock, s->gp: every control handler runs with it read-held (the wrapper
 * around on_ctrl), and so does every walk of the list from an application
 * thread (ms_server_stat, the final msync).  Any other thread that finds
 * or walks exports (a timer, say) must read-hold it too while it uses
 * what it found, unless it holds a client's open (e->clients counts it),
 * as the commit worker does.  A removal takes an idle
 * export (no client, no lease) out of the list under s->lock, so no find
 * or walk can return it any more, then write-locks s->gp for an instant
 * with no other lock held: every handler that found the export before
 * has returned.  If one of them opened it meanwhile, the export goes back
 * into the list (-EBUSY); otherwise its registrations and region are
 * destroyed, and the struct itself stays on s->graveyard until
 * ms_server_destroy(), so a stale pointer still reaches a live e->lock.
 * s->gp is the outermost lock: a handler takes the others under it, and
 * it is never taken while another lock is held.
 */
#ifndef MS_SERVER_INT_H
#define MS_SERVER_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "memsync.h"
#include "proto.h"
#include "region.h"
#include "server_metrics.h"
#include "transport.h"
#include "util.h"

#define MAX_OPENS 64          /* region handles per connection */
#define SERVER_MAX_IO (16u << 20)
#define MAX_LISTENERS 2       /* TCP and RDMA */

/* One transport the server listens on, with its own loop thread. */
struct listener {
	struct ms_server *srv;
	const struct ms_transport_ops *ops;
	struct ms_xsrv *xs;
	pthread_t thread;
	bool thread_running;
	/* decode storage of this listener's handlers: they run one at a
	 * time on its loop thread, so no lock guards it */
	struct ms_commit_ent *ents;   /* COMMIT entries */
	uint64_t *chunks;             /* HOT / TOUCH lists */
};

/* A region's read-only registrations with one listener. */
struct xreg {
	struct ms_xsmr *data_mr, *meta_mr;
	struct ms_rdesc data_desc, meta_desc;
};

/* One staging area of a lease: anonymous memory registered writable for
 * the holder's listener, at staging offsets [base, base+len). */
struct stage_seg {
	void *mem;
	size_t len;
	uint64_t base;
	struct ms_xsmr *mr;
	struct ms_xgrant *grant;      /* the holder's (server_grant.h) */
	struct ms_rdesc desc;         /* the grant's */
};

/* Why a holder lost its lease (for the "fenced" message). */
enum fence_why { FENCE_NONE = 0, FENCE_LAPSED, FENCE_BROKEN, FENCE_HANDED_OVER };

/* A region's write lease (server_lease.c), under its export's lock. */
struct lease {
	struct peer *holder;          /* NULL: nobody may write */
	struct listener *l;           /* the holder's (its registrations') */
	uint64_t epoch;               /* the last epoch granted */
	uint64_t expires_ns;          /* CLOCK_MONOTONIC; renewals move it */
	char holder_name[64];
	uint8_t holder_id[16];
	bool reserved;                /* handed over: only reserved_for may */
	uint8_t reserved_for[16];     /* take it, until reserved_until_ns */
	uint64_t reserved_until_ns;
	enum fence_why why;           /* how the last holder lost it */
	/* the holder's write access: the region itself (direct mode) or
	 * its staging areas (atomic) */
	struct ms_xsmr *write_mr;     /* direct */
	struct ms_xgrant *write_grant; /* the holder's (server_grant.h) */
	struct ms_rdesc write_desc;   /* the grant's */
	struct stage_seg seg[MS_STAGE_MAX_SEGS];
	unsigned nseg;
	uint64_t staged;              /* bytes of all staging areas */
	bool cycle;                   /* written to since the last commit */
	bool applying;                /* the holder's commit is being applied */
	bool fence_pending;           /* fence it once that is done */
	struct ms_commit_ent *more;   /* entries of MORE messages so far */
	uint32_t nmore, capmore;
};

/* The source's side of a migration (server_move.c), under e->lock. */
struct move_state {
	bool frozen;                  /* commits of the region wait */
	struct peer *freezer;         /* the destination's connection */
	uint64_t frozen_until_ns;     /* CLOCK_MONOTONIC; thawed after it */
	bool moved;                   /* handed off: MOVED to every request */
	char host[MS_HOST_MAX + 1];   /* ... pointing there */
	char port[MS_PORT_MAX + 1];
	uint64_t epoch;               /* the destination's first epoch */
	bool released;                /* MIGRATED: the destination has it all */
	uint8_t dest_id[16];          /* the freezer's client id (HELLO) */
	uint32_t applying;            /* commits of the region being applied */
	bool freeze_reply;            /* FREEZE_OK owed once applying is 0 */
	bool reaped;                  /* released: memory freed, e->r NULL */
	char name[MS_NAME_MAX + 1];   /* the region's, kept for MOVED */
};

struct mig_in;                    /* server_migrate.c */

struct ms_export {
	struct ms_server *srv;
	struct ms_rregion *r;
	struct xreg reg[MAX_LISTENERS];  /* indexed like srv->l */
	enum ms_commit_mode mode;        /* immutable */
	uint64_t stage_limit;            /* immutable */
	pthread_mutex_t lock;            /* the fields below, up to next */
	struct lease lease;
	/* staging memory of leases gone, unregistered, kept for the next
	 * lease (its pages are faulted in already): taken in order */
	struct stage_seg pool[MS_STAGE_MAX_SEGS];
	unsigned npool;
	uint64_t revoked_read, revoked_written; /* from write MRs gone */
	uint64_t bytes_committed;
	uint32_t clients;
	uint64_t commits, refused, abandoned;
	struct ms_smet_region met;    /* metrics (server_metrics.h) */
	struct move_state mv;         /* this server is a migration's source */
	struct mig_in *mig;           /* ... its destination (set before the
				       * export is listed, freed at destroy) */
	struct ms_export *next;       /* s->lock */
	struct ms_export *grave_next; /* s->lock: on s->graveyard */
};

struct open_slot {
	struct ms_export *e;          /* NULL = free */
	enum ms_mode mode;
	struct ms_hold *hold;         /* server_hold.c; NULL until a HOLD */
	bool touched;                 /* a READ open's one use report (TOUCH) */
	/* this client's own read grants of data and meta (server_grant.h) */
	struct ms_xgrant *gdata, *gmeta;
};

struct peer {
	struct ms_xpeer *xp;
	struct ms_keydb *keys;        /* admitted under (NULL: no keys); loop
				       * thread (server_auth.c) */
	struct listener *l;           /* the transport it came through */
	bool hello;                   /* set under s->lock */
	uint8_t client_id[16];        /* set under s->lock */
	struct open_slot opens[MAX_OPENS];
	struct peer *next;            /* s->lock */
	uint64_t id;                  /* the server's name for it (stat,
				       * disconnect), immutable */
	bool kicked;                  /* atomic: an operator disconnects it
				       * (server_admin.c) */
	struct ms_attach *att;        /* streams (server_attach.c); NULL: none */
};

struct ms_server {
	struct listener l[MAX_LISTENERS];
	unsigned nl;
	char transport_name[16];      /* "tcp", "rdma" or "tcp+rdma" */
	ms_log_fn log;
	void *log_ud;
	pthread_mutex_t lock;
	struct ms_export *exports;
	struct peer *peers;
	uint8_t server_id[16];
	pthread_t thread;
	bool thread_running;
	char errmsg[512];
	struct srv_worker *worker;    /* commit worker, NULL until needed */
	pthread_mutex_t wlock;        /* creating the worker */
	uint32_t lease_ttl_ms;
	struct lease_timer *timer;    /* lapses leases (server_lease.c) */
	pthread_rwlock_t gp;          /* grace lock: see the top */
	pthread_mutex_t ulock;        /* one ms_server_unexport at a time */
	struct ms_export *graveyard;  /* s->lock: removed, freed at destroy */
	struct mig_in *migs;          /* s->lock: migrations into this server,
				       * newest first, freed at destroy */
	char listen_host[256];
	bool stopping;                /* atomic: ms_server_stop was called */
	struct ms_keydb *keys;        /* s->lock; NULL: no authentication */
	char *keys_path;              /* ms_server_opts.auth_keys */
	char *key_file;               /* the key this server presents */
	struct move_srv *mvs;         /* server_move.c; NULL until needed */
	struct ms_xsrv_opts xso;      /* every listener's cbs.opts */
	struct ms_xtls tls;           /* xso.tls (paths: during create only) */
	uint64_t last_peer_id;        /* s->lock: the last peer.id given */
};

/* server.c */
/* Set s's errmsg (ms_server_errmsg). */
MS_PRINTF(2, 3) void ms_srv_errmsg(ms_server *s, const char *fmt, ...);
/* ms_server_add_region, with e->mig set before the export is listed. */
struct ms_export *ms_srv_add_export(ms_server *s, const struct ms_export_opts *o,
				    struct mig_in *mig);
MS_PRINTF(3, 4) void ms_srv_log(ms_server *s, enum ms_log_level lvl, const char *fmt, ...);
/* The export named name, or NULL (takes s->lock). */
struct ms_export *ms_srv_find(ms_server *s, const char *name);
/* The export after e (the first one for NULL), or NULL (takes s->lock). */
struct ms_export *ms_srv_next(ms_server *s, struct ms_export *e);
/* Stat one region (name) or all ("") into a malloc'ed array. */
int ms_srv_collect_stats(ms_server *s, const char *name, struct ms_region_stat **out,
			 size_t *n);

/* server_tls.c: take o's TLS settings into s->xso (logged); 0, or
 * -EPROTONOSUPPORT for an RDMA-only server (errmsg set). */
int ms_srv_tls_opts(ms_server *s, const struct ms_server_opts *o);
/* After open_listeners: when RDMA listens too (rdma_too), warn that TLS
 * does not cover it. */
void ms_srv_tls_rdma_note(ms_server *s, bool rdma_too);
/* server_auth.c: keys, grants, reloads (see there). */
bool ms_srv_host_loopback(const char *host);
/* Load the keys (or refuse a non-loopback listen without them); 0 or
 * -errno with s->errmsg set. */
int ms_srv_auth_init(ms_server *s, const struct ms_server_opts *o);
void ms_srv_auth_fini(ms_server *s);
/* Set cbs's authentication hooks for a listener on ops (when s has
 * keys); -EPROTONOSUPPORT when ops cannot authenticate. */
int ms_srv_auth_cbs(ms_server *s, const struct ms_transport_ops *ops, struct ms_xsrv_cbs *cbs,
		    char *err, size_t errlen);
void ms_srv_auth_peer_init(ms_server *s, struct peer *p);
void ms_srv_auth_peer_fini(struct peer *p);
/* What p's key may do on region (MS_GRANT_RW without keys). */
enum ms_grant ms_srv_grant(ms_server *s, const struct peer *p, const char *region);
/* The reply to a request about a region p may not see: the very one an
 * unknown region gets. */
int ms_srv_hidden(void *resp, size_t cap, const char *region);
/* 0 when p's key grants need on region, else the error reply's length. */
int ms_srv_need(ms_server *s, const struct peer *p, const char *region, enum ms_grant need,
		void *resp, size_t cap, const char *what);
/* Before a request is handled: 0, or the length of the refusal in resp. */
int ms_srv_authorize(ms_server *s, struct peer *p, int type, const void *req, size_t len,
		     void *resp, size_t cap);
/* Keep only the regions p's key may see. */
void ms_srv_stat_filter(ms_server *s, const struct peer *p, struct ms_region_stat *st,
			size_t *n);

/* server_work.c: the commit worker.  Queue a COMMIT (req is copied) for
 * p: 0, or -errno when no worker can take it (the caller then verifies
 * inline).  Stop and join the worker (after every loop has returned). */
int ms_srv_defer_commit(ms_server *s, struct peer *p, const void *req, size_t len);

/* server_migrate.c: this server as a migration's destination */
int ms_srv_h_migrate(ms_server *s, struct peer *p, const void *req, size_t len, void *resp,
		     size_t cap);
int ms_srv_h_migrate_status(ms_server *s, struct peer *p, const void *req, size_t len,
			    void *resp, size_t cap);
int ms_srv_h_migrate_abort(ms_server *s, struct peer *p, const void *req, size_t len,
			   void *resp, size_t cap);
/* FETCH: a reply in resp (its length), or MS_XCTRL_LATER with *later set:
 * answered through srv_reply once the chunks are here. */
int ms_srv_h_fetch(ms_server *s, struct peer *p, const void *req, size_t len, void *resp,
		   size_t cap, bool *later);
/* OPEN of e while it is migrating in: 0 when it may be opened, else
 * -EAGAIN with a message. */
int ms_mig_open_check(struct ms_export *e, char *msg, size_t len);
/* Before a commit of ents[0..n) to e is applied (no lock held): wait until
 * every chunk they touch is here.  0, or -errno with a message. */
int ms_mig_ensure(struct ms_export *e, const struct ms_commit_ent *ents, uint32_t n,
		  char *msg, size_t len);
/* Fill st's migration fields for e. */
void ms_mig_stat(struct ms_export *e, struct ms_region_stat *st);
/* Stop and join every migration, free them (ms_server_destroy). */
void ms_srv_mig_fini(ms_server *s);
void ms_srv_worker_fini(ms_server *s);
/* Requeue the commits of e parked while it was frozen (server_move.c). */
void ms_srv_work_unpark(ms_server *s, struct ms_export *e);

/* server_work.c: a COMMIT for p, decoded into ents (room for
 * MS_COMMIT_MAX_ENTS), checked against p's lease, verified, applied and
 * published; the reply's length or -errno */
int ms_srv_commit(ms_server *s, struct peer *p, const void *req, size_t len, void *resp,
		  size_t cap, struct ms_commit_ent *ents);

/* server_lease.c: write leases, their staging areas and the fence.
 * Every function takes e->lock itself; registering and freeing memory
 * happen outside it. */
uint64_t ms_srv_now_ns(void);
/* OPEN for writing: take e's lease for p (a new epoch); in direct mode
 * also register the region writable.  0, or -EBUSY/-ESTALE with the
 * reason in msg, or a registration's error. */
int ms_lease_take(struct ms_export *e, struct peer *p, uint64_t expect_epoch, char *msg,
		  size_t msglen);
/* p closes e or goes away: release its lease if it holds it (true). */
bool ms_lease_release(struct ms_export *e, struct peer *p);
/* Is p e's holder at epoch?  If not, the ESTALE message in msg. */
bool ms_lease_check(struct ms_export *e, struct peer *p, uint64_t epoch, char *msg,
		    size_t msglen);
/* Fence e's holder (lapsed, broken, handed over): its access is revoked
 * and its staging discarded before this returns, unless its commit is
 * being applied (then right after that commit). */
void ms_lease_fence(struct ms_export *e, enum fence_why why, const char *by);
/* Unmap e's pool of staging memory (the export is going away). */
void ms_lease_pool_free(struct ms_export *e);
void ms_lease_info_of(struct ms_export *e, struct ms_lease_info *li);
/* The region's write descriptor for its holder (direct mode). */
struct ms_rdesc ms_lease_write_desc(struct ms_export *e);
/* Request handlers: reply length or -errno (as handler_fn). */
int ms_srv_h_stage(ms_server *s, struct peer *p, const void *req, size_t len, void *resp,
		   size_t cap);
int ms_srv_h_renew(ms_server *s, struct peer *p, const void *req, size_t len, void *resp,
		   size_t cap);
int ms_srv_h_lease(ms_server *s, struct peer *p, const void *req, size_t len, void *resp,
		   size_t cap);
int ms_srv_h_lease_break(ms_server *s, struct peer *p, const void *req, size_t len,
			 void *resp, size_t cap);
int ms_srv_h_handover(ms_server *s, struct peer *p, const void *req, size_t len, void *resp,
		      size_t cap);
/* The commit path's part: start applying (holder at epoch, entries of
 * MORE messages joined: all and nall, owned by the lease until
 * ms_lease_apply_end); the stage view for ms_region_commit. */
int ms_lease_apply_begin(struct ms_export *e, struct peer *p, uint64_t epoch,
			 const struct ms_commit_ent *ents, uint32_t n, bool more,
			 const struct ms_commit_ent **all, uint32_t *nall, char *msg,
			 size_t msglen);
void ms_lease_apply_end(struct ms_export *e, bool ok);
struct ms_stage_src ms_lease_stage_src(struct ms_export *e);
/* Start and stop the timer that lapses unrenewed leases. */
int ms_lease_timer_start(ms_server *s);
void ms_lease_timer_stop(ms_server *s);
/* The open slot handle of p (server_ctrl.c) */
struct open_slot *ms_srv_slot(struct peer *p, uint32_t handle);

/* server_hold.c: the HOLD and RELEASE handlers (on the peer's loop
 * thread, like the others), and the end of a slot's hold when it closes
 * (CLOSE, BYE, disconnect) */
int ms_srv_h_hold(ms_server *s, struct peer *p, const void *req, size_t len, void *resp,
		  size_t cap);
int ms_srv_h_release(ms_server *s, struct peer *p, const void *req, size_t len, void *resp,
		     size_t cap);
void ms_srv_hold_drop(ms_server *s, struct peer *p, struct open_slot *o);

/* server_ctrl.c: the transport callbacks */
int ms_srv_on_connect(void *ud, struct ms_xpeer *xp);
int ms_srv_on_ctrl(void *ud, struct ms_xpeer *xp, const void *req, size_t len, void *resp,
		   size_t cap, size_t *resp_len);
void ms_srv_on_disconnect(void *ud, struct ms_xpeer *xp);

#endif
