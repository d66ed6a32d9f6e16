/* SPDX-License-Identifier: Apache-2.0 */
/*
 * xsrvloop.c - the server loop skeleton both transports share (see
 * xsrvloop.h).
 *
 * Stopping: srv_stop() raises a flag and writes the eventfd (async-signal
 * safe); the loop then stops listening, lets every peer finish what it has
 * in flight (the driver's check_peer closes a peer once it is idle) and
 * returns when none is left or DRAIN_NS has passed, closing the rest.
 * Peers closed during a batch of epoll events stay allocated until the
 * batch is over, for a later event of the same batch may name them.
 *
 * Deferred replies: when on_ctrl returns MS_XCTRL_LATER the peer is marked
 * deferred and the engine answers later with srv_reply (any thread),
 * which queues the reply on l->rq and wakes the loop; the loop hands it to
 * the driver's send_reply.  A deferred peer that is closed meanwhile is
 * torn down (socket or queue pair gone) but kept allocated "in limbo":
 * its on_disconnect is postponed until the engine's reply arrives (and is
 * dropped), so the engine never sees on_disconnect while it still works
 * for the peer, and the transport never frees a peer the engine will name
 * in srv_reply.  srv_run does not return while a peer is in limbo.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "xsrvloop.h"

#define DRAIN_NS (5ull * 1000000000ull) /* srv_stop: give up on slow peers */

static char tag_wake;                   /* epoll data of the eventfd */

int ms_xloop_init(struct ms_xloop *l, const struct ms_transport_ops *ops,
		  const struct ms_xloop_ops *lops, const struct ms_xsrv_cbs *cbs, char *err,
		  size_t errlen)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &tag_wake };
	int rc;

	l->pub.ops = ops;
	l->lops = lops;
	if (cbs)
		l->cbs = *cbs;
	ms_xlimits_init(&l->lim, cbs ? cbs->opts : NULL);
	pthread_mutex_init(&l->lock, NULL);
	pthread_mutex_init(&l->rq_lock, NULL);
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	l->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (l->epfd >= 0 && l->evfd >= 0 && !epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->evfd, &ev))
		return 0;
	rc = -errno;
	snprintf(err, errlen, "cannot set up the server loop: %s", strerror(errno));
	return rc;
}

void ms_xloop_fini(struct ms_xloop *l)
{
	if (l->epfd >= 0)
		close(l->epfd);
	if (l->evfd >= 0)
		close(l->evfd);
	l->epfd = l->evfd = -1;
	free(l->scratch);
	l->scratch = NULL;
	pthread_mutex_destroy(&l->lock);
	pthread_mutex_destroy(&l->rq_lock);
}

bool ms_xloop_on_loop(struct ms_xloop *l)
{
	return __atomic_load_n(&l->running, __ATOMIC_ACQUIRE) &&
	       pthread_equal(pthread_self(), l->loop);
}

void ms_xloop_wake(struct ms_xloop *l)
{
	if (write(l->evfd, &(uint64_t){ 1 }, 8) < 0) {
		/* the counter cannot overflow in practice; the loop also
		 * looks at its queue on every wakeup */
	}
}

void ms_xloop_stop(struct ms_xsrv *x)
{
	struct ms_xloop *l = (struct ms_xloop *)x;  /* pub is the first member */

	ms_xsrv_request_stop(&l->stop_req, l->evfd);
}

void ms_xloop_recheck(struct ms_xsrv *x)
{
	struct ms_xloop *l = (struct ms_xloop *)x;  /* pub is the first member */

	__atomic_store_n(&l->recheck_req, 1, __ATOMIC_RELEASE);
	ms_xloop_wake(l);
}

/* Close every accepted peer the engine no longer allows (a revoked key). */
static void recheck(struct ms_xloop *l)
{
	struct ms_xlpeer *p, *next;

	if (!__atomic_exchange_n(&l->recheck_req, 0, __ATOMIC_ACQ_REL) || !l->cbs.peer_allowed)
		return;
	for (p = l->peers; p; p = next) {
		next = p->next;
		if (!p->accepted || p->dead || l->cbs.peer_allowed(l->cbs.ud, &p->pub))
			continue;
		if (p->pub.refused_why)
			ms_xloop_close_peer(l, p, MS_LOG_WARN, "%s", p->pub.refused_why);
		else
			ms_xloop_close_peer(l, p, MS_LOG_WARN,
					    "key '%s' was revoked or lost a grant; disconnected",
					    p->pub.who);
	}
}

void ms_xloop_counters(struct ms_xsrv *x, struct ms_xsrv_counters *out)
{
	struct ms_xlimits *lim = &((struct ms_xloop *)x)->lim;  /* pub is first */

	out->accepted = __atomic_load_n(&lim->accepted, __ATOMIC_RELAXED);
	out->open = __atomic_load_n(&lim->open, __ATOMIC_RELAXED);
	out->refused = __atomic_load_n(&lim->refused, __ATOMIC_RELAXED);
	out->handshake_failed = __atomic_load_n(&lim->handshake_failed, __ATOMIC_RELAXED);
	out->idle_closed = __atomic_load_n(&lim->idle_closed, __ATOMIC_RELAXED);
	out->errors = __atomic_load_n(&lim->errors, __ATOMIC_RELAXED);
}

void ms_xloop_add_peer(struct ms_xloop *l, struct ms_xlpeer *p)
{
	ms_xlimits_join(l, p);
	p->prev = NULL;
	p->next = l->peers;
	if (l->peers)
		l->peers->prev = p;
	l->peers = p;
}

void ms_xloop_close_peer(struct ms_xloop *l, struct ms_xlpeer *p, enum ms_log_level lvl,
			 const char *fmt, ...)
{
	char msg[200];
	va_list ap;

	if (p->dead)
		return;
	p->dead = true;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ms_xloop_log(l, lvl, "peer %s: %s", p->pub.name, msg);
	if (!p->accepted)
		__atomic_fetch_add(&l->lim.handshake_failed, 1, __ATOMIC_RELAXED);
	else if (lvl <= MS_LOG_WARN)
		__atomic_fetch_add(&l->lim.errors, 1, __ATOMIC_RELAXED);
	l->lops->teardown(l, p);
	ms_xlimits_leave(l, p);
	if (p->ready) {
		struct ms_xlpeer **pp = &l->ready;

		while (*pp != p)
			pp = &(*pp)->rnext;
		*pp = p->rnext;
		p->ready = false;
	}
	if (p->prev)
		p->prev->next = p->next;
	else
		l->peers = p->next;
	if (p->next)
		p->next->prev = p->prev;
	if (p->deferred) {
		/* The engine still works for it: on_disconnect and the free
		 * wait for its reply (take_replies). */
		p->next = p->prev = NULL;
		l->limbo++;
		return;
	}
	/* Freed after the current batch of epoll events (which may name it). */
	p->next = l->zombies;
	l->zombies = p;
	if (p->accepted && l->cbs.on_disconnect)
		l->cbs.on_disconnect(l->cbs.ud, &p->pub);
}

int ms_xloop_ctrl(struct ms_xloop *l, struct ms_xlpeer *p, const void *req, size_t len,
		  size_t *rlen)
{
	int rc;

	*rlen = 0;
	if (!l->scratch && !(l->scratch = malloc(MS_CTRL_MAX))) {
		ms_xloop_close_peer(l, p, MS_LOG_ERROR,
				    "out of memory for a control reply; disconnected");
		return -1;
	}
	rc = l->cbs.on_ctrl(l->cbs.ud, &p->pub, req, len, l->scratch, MS_CTRL_MAX, rlen);
	if (p->dead)
		return -1;
	if (rc == 0 || rc == MS_XCTRL_LATER)
		p->established = true;
	if (rc == MS_XCTRL_LATER && l->lops->send_reply) {
		p->deferred = true;
		return 1;
	}
	if (rc < 0 || rc == MS_XCTRL_LATER) {
		if (rc == MS_XCTRL_LATER)
			rc = -EOPNOTSUPP;
		ms_xloop_close_peer(l, p, MS_LOG_WARN,
				    "control request rejected (%s); disconnected", strerror(-rc));
		return -1;
	}
	if (*rlen > MS_CTRL_MAX) {
		ms_xloop_close_peer(l, p, MS_LOG_ERROR,
				    "control reply over MS_CTRL_MAX; disconnected");
		return -1;
	}
	return 0;
}

int ms_xloop_reply(struct ms_xsrv *x, struct ms_xpeer *peer, const void *resp, size_t len)
{
	struct ms_xloop *l = (struct ms_xloop *)x;  /* pub is the first member */
	struct ms_xlpeer *p = ms_container_of(peer, struct ms_xlpeer, pub);
	char *copy = len <= MS_CTRL_MAX ? malloc(len ? len : 1) : NULL;
	int rc = copy ? 0 : len > MS_CTRL_MAX ? -EMSGSIZE : -ENOMEM;

	if (copy && len)
		memcpy(copy, resp, len);
	/* Queued even on failure: the loop must learn that the engine is
	 * done with the peer (it then closes it). */
	pthread_mutex_lock(&l->rq_lock);
	p->rdata = copy;
	p->rlen = len;
	p->rerr = rc;
	p->rq_next = l->rq;
	l->rq = p;
	pthread_mutex_unlock(&l->rq_lock);
	ms_xloop_wake(l);
	return rc;
}

void ms_xloop_ready(struct ms_xloop *l, struct ms_xlpeer *p)
{
	struct ms_xlpeer **pp = &l->ready;

	if (p->ready || p->dead)
		return;
	while (*pp)             /* at the end: the others go first */
		pp = &(*pp)->rnext;
	p->rnext = NULL;
	*pp = p;
	p->ready = true;
}

/* One more turn for each peer that was ready before this call (those that
 * are ready again go to the back of the list).  Popped one at a time: a
 * turn may close another ready peer, which unlinks itself. */
static void run_ready(struct ms_xloop *l)
{
	struct ms_xlpeer *p;
	unsigned n = 0;

	for (p = l->ready; p; p = p->rnext)
		n++;
	while (n-- && (p = l->ready)) {
		l->ready = p->rnext;
		p->ready = false;
		p->rnext = NULL;
		l->lops->on_ready(l, p);
	}
}

/* Deliver the deferred replies srv_reply queued (loop thread). */
static void take_replies(struct ms_xloop *l)
{
	struct ms_xlpeer *p, *next;

	pthread_mutex_lock(&l->rq_lock);
	p = l->rq;
	l->rq = NULL;
	pthread_mutex_unlock(&l->rq_lock);
	for (; p; p = next) {
		next = p->rq_next;
		if (!p->deferred) {     /* srv_reply without a deferral: ignored */
			free(p->rdata);
			p->rdata = NULL;
			continue;
		}
		p->deferred = false;
		if (p->dead) {
			/* Closed while the engine worked: the reply is dropped
			 * and the postponed on_disconnect runs now. */
			free(p->rdata);
			l->limbo--;
			p->next = l->zombies;
			l->zombies = p;
			if (p->accepted && l->cbs.on_disconnect)
				l->cbs.on_disconnect(l->cbs.ud, &p->pub);
		} else if (p->rerr) {
			ms_xloop_close_peer(l, p, MS_LOG_ERROR,
					    "deferred control reply failed (%s); disconnected",
					    strerror(-p->rerr));
		} else {
			l->lops->send_reply(l, p, p->rdata, p->rlen);
		}
		p->rdata = NULL;
	}
}

void ms_xloop_begin_stop(struct ms_xloop *l)
{
	if (l->stopping)
		return;
	l->stopping = true;
	l->drain_end = ms_now_ns() + DRAIN_NS;
	l->lops->stop_listening(l);
}

static void on_wake(struct ms_xloop *l)
{
	uint64_t v;

	if (read(l->evfd, &v, sizeof(v)) < 0) {
		/* EAGAIN: already consumed; nothing else can fail here */
	}
	if (__atomic_load_n(&l->stop_req, __ATOMIC_ACQUIRE))
		ms_xloop_begin_stop(l);
	take_replies(l);
	recheck(l);
	if (l->lops->on_queue)
		l->lops->on_queue(l);
}

/* Housekeeping after a batch of events; true when run() should return. */
static bool after_batch(struct ms_xloop *l)
{
	struct ms_xlpeer *p, *next;
	uint64_t now = ms_now_ns();

	/* Walk the peers only when there is something to find. */
	for (p = l->stopping || l->attention ? l->peers : NULL; p; p = next) {
		next = p->next;
		l->lops->check_peer(l, p);
	}
	l->attention = false;
	ms_xlimits_tick(l, now);
	while ((p = l->zombies)) {
		l->zombies = p->next;
		free(p);
	}
	if (l->timer && now >= l->timer) {
		l->timer = 0;
		l->lops->on_timer(l);
	}
	return l->stopping && (!l->peers || now >= l->drain_end);
}

static int next_timeout(struct ms_xloop *l)
{
	uint64_t now = ms_now_ns(), until = 0, tick = ms_xlimits_next(l);

	if (l->ready)
		return 0;
	if (l->stopping)
		until = l->drain_end;
	if (l->timer && (!until || l->timer < until))
		until = l->timer;
	if (tick && (!until || tick < until))
		until = tick;
	if (!until)
		return -1;
	return until <= now ? 0 : (int)((until - now) / 1000000 + 1);
}

int ms_xloop_run(struct ms_xsrv *x)
{
	struct ms_xloop *l = (struct ms_xloop *)x;  /* pub is the first member */
	struct epoll_event evs[64];
	int n;

	pthread_mutex_lock(&l->lock);
	if (l->running || !l->lops->can_run(l)) {
		pthread_mutex_unlock(&l->lock);
		return l->running ? -EBUSY : -EINVAL;
	}
	l->loop = pthread_self();
	__atomic_store_n(&l->running, true, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&l->lock);
	if (l->lops->on_start)
		l->lops->on_start(l);

	for (;;) {
		n = epoll_wait(l->epfd, evs, MS_ARRAY_SIZE(evs), next_timeout(l));
		if (n < 0 && errno != EINTR) {
			ms_xloop_log(l, MS_LOG_ERROR, "epoll_wait: %s; stopping", strerror(errno));
			ms_xloop_begin_stop(l);
			l->drain_end = 0;
		}
		l->now = ms_now_ns();
		for (int i = 0; i < n; i++) {
			if (evs[i].data.ptr == &tag_wake)
				on_wake(l);
			else
				l->lops->on_event(l, evs[i].data.ptr, evs[i].events);
		}
		run_ready(l);
		if (after_batch(l))
			break;
	}
	while (l->peers)
		ms_xloop_close_peer(l, l->peers, MS_LOG_WARN, "%s", l->lops->stopped_msg);
	/* The engine owes replies to peers in limbo: on_disconnect for
	 * them must still run before srv_run returns. */
	while (l->limbo) {
		struct pollfd pfd = { .fd = l->evfd, .events = POLLIN };

		if (poll(&pfd, 1, -1) < 0 && errno != EINTR)
			break;
		on_wake(l);
	}
	after_batch(l);
	if (l->lops->on_queue)
		l->lops->on_queue(l);
	pthread_mutex_lock(&l->lock);
	__atomic_store_n(&l->running, false, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&l->lock);
	/* Work queued after the last look is served here: there are no
	 * connections left to detach from. */
	if (l->lops->on_queue)
		l->lops->on_queue(l);
	return 0;
}
