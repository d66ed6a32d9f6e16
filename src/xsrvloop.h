/* SPDX-License-Identifier: Apache-2.0 */
/*
 * xsrvloop.h - the server loop both transports share: one epoll thread
 * with an eventfd for srv_stop() and work queued by other threads, the
 * peer list, peers closed in a batch freed after it (zombies), the stop
 * (refuse new peers, let the ones in flight finish, give up after a drain
 * time), timers, notify's thread check and the engine's control hook.
 *
 * A driver embeds struct ms_xloop first in its server and struct
 * ms_xlpeer first in its peers, and supplies what differs (struct
 * ms_xloop_ops): its own epoll sources (listener or rdma_cm channel, peer
 * sockets or completion channels), a peer's teardown, and when a stopping
 * peer is done.
 *
 * Used by tcp-fallback/ and rdma/ only; the engine sees transport.h.
 */
#ifndef MS_XSRVLOOP_H
#define MS_XSRVLOOP_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "transport.h"
#include "util.h"
#include "xlimits.h"

/* Common head of a driver's peer. */
struct ms_xlpeer {
	struct ms_xpeer pub;
	struct ms_xlpeer *next, *prev;  /* l->peers, or l->zombies (next only) */
	bool dead;                      /* closed: on the zombie list (or,
					 * while deferred, waiting for its reply) */
	bool accepted;                  /* on_connect took it */
	bool deferred;                  /* loop thread: the engine owes a reply
					 * (on_ctrl returned MS_XCTRL_LATER) */
	/* under l->rq_lock: a deferred reply handed over by srv_reply */
	struct ms_xlpeer *rq_next;
	char *rdata;
	size_t rlen;
	int rerr;
	/* loop thread: limits (xlimits.h) and fair service */
	char addr[48];                  /* source address, connections counted by */
	uint64_t born, seen;            /* accepted; last progress */
	size_t mem;                     /* bytes held (ms_xlimits_mem) */
	bool established;               /* a control request was answered */
	bool mem_logged;                /* over its memory bound (logged once) */
	bool ready;                     /* on l->ready */
	struct ms_xlpeer *rnext;
};

struct ms_xloop;

struct ms_xloop_ops {
	/* srv_run may start (a listener is there) */
	bool (*can_run)(struct ms_xloop *l);
	/* on the loop thread, before the first wait (may be NULL) */
	void (*on_start)(struct ms_xloop *l);
	/* stop taking new peers */
	void (*stop_listening)(struct ms_xloop *l);
	/* an epoll event on one of the driver's descriptors */
	void (*on_event)(struct ms_xloop *l, void *data, uint32_t events);
	/* after a batch, while stopping or when l->attention was raised:
	 * close p if it is done or broken */
	void (*check_peer)(struct ms_xloop *l, struct ms_xlpeer *p);
	/* release p's resources (before it is unlinked; it is freed after
	 * the batch) */
	void (*teardown)(struct ms_xloop *l, struct ms_xlpeer *p);
	/* the timer of ms_xloop_timer() has come (may be NULL) */
	void (*on_timer)(struct ms_xloop *l);
	/* work other threads queued, on every wakeup and when the loop ends
	 * (may be NULL) */
	void (*on_queue)(struct ms_xloop *l);
	/* send a deferred control reply to a live peer (loop thread): data
	 * is malloc'ed and the driver's to free; it then serves the control
	 * requests that waited.  NULL when the driver never defers. */
	void (*send_reply)(struct ms_xloop *l, struct ms_xlpeer *p, char *data, size_t len);
	/* p is in the middle of a frame or does not read its replies (may be
	 * NULL): after the idle timeout without progress it is closed */
	bool (*stalled)(struct ms_xloop *l, struct ms_xlpeer *p);
	/* p, put on the ready list by ms_xloop_ready() when its turn was
	 * over with work left, gets another turn (NULL when never used) */
	void (*on_ready)(struct ms_xloop *l, struct ms_xlpeer *p);
	/* the last words to peers still there when the drain time is over */
	const char *stopped_msg;
};

struct ms_xloop {
	struct ms_xsrv pub;
	struct ms_xsrv_cbs cbs;
	const struct ms_xloop_ops *lops;
	int epfd, evfd;
	int stop_req;                   /* __atomic; set by srv_stop */
	int recheck_req;                /* __atomic; set by srv_recheck */
	pthread_mutex_t lock;           /* running, loop, and the driver's tables */
	bool running;
	pthread_t loop;
	/* loop thread only: */
	struct ms_xlpeer *peers, *zombies;
	bool stopping;
	bool attention;                 /* a peer needs check_peer() after this batch */
	uint64_t drain_end, timer;
	char *scratch;                  /* MS_CTRL_MAX control reply buffer */
	unsigned limbo;                 /* closed peers whose reply is owed */
	struct ms_xlimits lim;          /* resource limits (xlimits.h) */
	uint64_t now;                   /* ms_now_ns() at the last wakeup */
	struct ms_xlpeer *ready;        /* peers owed another turn (rnext) */
	/* deferred replies queued by srv_reply (any thread) */
	pthread_mutex_t rq_lock;
	struct ms_xlpeer *rq;
};

#define ms_xloop_log(l, ...) ms_xsrv_log(&(l)->cbs, __VA_ARGS__)

/* A driver's accessors, for a server type srv_t with its struct ms_xloop
 * in member l and a peer type peer_t with its struct ms_xlpeer in member
 * lp: to_srv(), loop_srv(), to_peer(). */
#define MS_XLOOP_ACCESSORS(srv_t, peer_t)                                             \
	static inline srv_t *to_srv(struct ms_xsrv *x)                               \
	{                                                                             \
		return ms_container_of(x, srv_t, l.pub);                              \
	}                                                                             \
	static inline srv_t *loop_srv(struct ms_xloop *l)                            \
	{                                                                             \
		return ms_container_of(l, srv_t, l);                                  \
	}                                                                             \
	static inline peer_t *to_peer(struct ms_xlpeer *lp)                          \
	{                                                                             \
		return ms_container_of(lp, peer_t, lp);                               \
	}

/* epoll, eventfd and lock; 0 or -errno (err says why). */
int ms_xloop_init(struct ms_xloop *l, const struct ms_transport_ops *ops,
		  const struct ms_xloop_ops *lops, const struct ms_xsrv_cbs *cbs, char *err,
		  size_t errlen);
void ms_xloop_fini(struct ms_xloop *l);

/* srv_run, srv_stop of both drivers (the ms_xloop is the first member of
 * the driver's server, so x is one). */
int ms_xloop_run(struct ms_xsrv *x);
void ms_xloop_stop(struct ms_xsrv *x);
/* srv_recheck of both drivers: the loop asks cbs.peer_allowed of every
 * accepted peer and closes those it refuses. */
void ms_xloop_recheck(struct ms_xsrv *x);
/* srv_counters of both drivers (thread-safe). */
void ms_xloop_counters(struct ms_xsrv *x, struct ms_xsrv_counters *out);
void ms_xloop_begin_stop(struct ms_xloop *l);

/* Called on the loop thread while it runs (srv_notify's check). */
bool ms_xloop_on_loop(struct ms_xloop *l);

/* Wake the loop (work queued for on_queue). */
void ms_xloop_wake(struct ms_xloop *l);

/* Run on_timer at ns (0: none). */
static inline void ms_xloop_timer(struct ms_xloop *l, uint64_t ns)
{
	l->timer = ns;
}

/* srv_reply of both drivers: thread-safe, see transport.h. */
int ms_xloop_reply(struct ms_xsrv *x, struct ms_xpeer *peer, const void *resp, size_t len);

/* Count p in (xlimits.h: ms_xlimits_admit() said yes first) and link it. */
void ms_xloop_add_peer(struct ms_xloop *l, struct ms_xlpeer *p);

/* Fair service: p's turn is over but it has work left (requests buffered
 * that epoll will not report again): on_ready gives it another turn after
 * the other peers of this wakeup had theirs. */
void ms_xloop_ready(struct ms_xloop *l, struct ms_xlpeer *p);

/* Log "peer NAME: <fmt>", tear down, unlink, on_disconnect if accepted;
 * once per peer. */
void ms_xloop_close_peer(struct ms_xloop *l, struct ms_xlpeer *p, enum ms_log_level lvl,
			 const char *fmt, ...) MS_PRINTF(4, 5);

/* Hand a control request to the engine: 0 with the reply in l->scratch
 * (*rlen bytes), 1 when the engine will answer later (p->deferred is set;
 * the reply comes through the driver's send_reply, and until then the
 * driver holds back p's further control requests), or -1 when the peer
 * was closed (out of memory, a rejected request, an oversized reply: each
 * logged). */
int ms_xloop_ctrl(struct ms_xloop *l, struct ms_xlpeer *p, const void *req, size_t len,
		  size_t *rlen);

#endif /* MS_XSRVLOOP_H */
