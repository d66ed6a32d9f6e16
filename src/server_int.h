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
 * listener's thread.
 */
#ifndef MS_SERVER_INT_H
#define MS_SERVER_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "memsync.h"
#include "proto.h"
#include "region.h"
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
	bool *fresh;                  /* COMMIT: entry i's leaves are hashed */
	uint64_t *chunks;             /* HOT / TOUCH lists */
};

/* A region's read-only registrations with one listener. */
struct xreg {
	struct ms_xsmr *data_mr, *meta_mr;
	struct ms_rdesc data_desc, meta_desc;
};

struct ms_export {
	struct ms_server *srv;
	struct ms_rregion *r;
	struct xreg reg[MAX_LISTENERS];  /* indexed like srv->l */
	pthread_mutex_t lock;            /* the fields below, up to next */
	struct peer *lease;           /* the writer, or NULL */
	struct ms_xsmr *write_mr;     /* with the writer's listener; NULL
				       * while it is being made or revoked */
	struct ms_rdesc write_desc;
	uint64_t revoked_read, revoked_written; /* from write MRs gone */
	uint64_t bytes_committed;
	uint32_t clients;
	uint64_t commits;
	struct ms_export *next;       /* s->lock */
};

struct open_slot {
	struct ms_export *e;          /* NULL = free */
	enum ms_mode mode;
	struct ms_hold *hold;         /* server_hold.c; NULL until a HOLD */
};

struct peer {
	struct ms_xpeer *xp;
	struct listener *l;           /* the transport it came through */
	bool hello;                   /* set under s->lock */
	uint8_t client_id[16];        /* set under s->lock */
	struct open_slot opens[MAX_OPENS];
	struct peer *next;            /* s->lock */
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
};

/* server.c */
MS_PRINTF(3, 4) void ms_srv_log(ms_server *s, enum ms_log_level lvl, const char *fmt, ...);
/* The export named name, or NULL (takes s->lock). */
struct ms_export *ms_srv_find(ms_server *s, const char *name);
/* The export after e (the first one for NULL), or NULL (takes s->lock). */
struct ms_export *ms_srv_next(ms_server *s, struct ms_export *e);
/* Stat one region (name) or all ("") into a malloc'ed array. */
int ms_srv_collect_stats(ms_server *s, const char *name, struct ms_region_stat **out,
			 size_t *n);

/* server_work.c: the commit worker.  Queue a COMMIT (req is copied) for
 * p: 0, or -errno when no worker can take it (the caller then verifies
 * inline).  Stop and join the worker (after every loop has returned). */
int ms_srv_defer_commit(ms_server *s, struct peer *p, const void *req, size_t len);
void ms_srv_worker_fini(ms_server *s);

/* server_ctrl.c: a COMMIT for p, decoded into ents/fresh (room for
 * MS_COMMIT_MAX_ENTS), verified, published; the reply's length or -errno */
int ms_srv_commit(ms_server *s, struct peer *p, const void *req, size_t len, void *resp,
		  size_t cap, struct ms_commit_ent *ents, bool *fresh);

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
