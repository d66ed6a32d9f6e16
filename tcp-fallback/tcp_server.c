/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tcp_server.c - the server half of the TCP fallback: one epoll thread that
 * emulates a NIC serving one-sided READs and WRITEs against registered
 * memory, and hands control requests to the engine.
 *
 * Per connection: a receive state machine (header, then payload) and a
 * queue of responses.  READ data is sent straight from registered memory
 * (writev of header + region bytes); WRITE data is received straight into
 * it, after the key and range were checked.  Responses leave in request
 * order.  A connection whose response queue is over its bound is not read
 * until the queue drains, so a client that does not read cannot make the
 * server buffer without limit.
 *
 * Registrations are tcp_mr.c's; the loop skeleton (stop, drain, zombies,
 * timers) is the shared one (src/xsrvloop.c).  Only the loop frees a
 * registration that may be in use: detach_mr() below gives queued
 * responses a private copy of its bytes and turns a WRITE being received
 * into a discarded one answered -EACCES.
 *
 * A control request the engine answers later (MS_XCTRL_LATER) gets a
 * placeholder in the response queue, filled by send_reply: the READs and
 * WRITEs after it are served meanwhile (their responses queue behind it,
 * for the client reads responses in request order), a next control
 * request is held, and the receiver pauses at the header after it.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "frame.h"
#include "tcp_auth.h"
#include "tcp_int.h"
#include "tcp_sock.h"
#include "tcp_srv.h"
#include "tcp_tls.h"
#include "util.h"
#include "xsrvloop.h"

static char tag_listen;                 /* epoll data of the listener */

#define slog(s, ...) ms_xloop_log(&(s)->l, __VA_ARGS__)
#define peer_close(s, p, ...) ms_xloop_close_peer(&(s)->l, &(p)->lp, __VA_ARGS__)

/* ------------------------------------------------------------ peers */

/* Too much queued to read more: entries, bytes, or memory (xlimits.h:
 * owned replies, entries, control payloads being received and held). */
static bool tx_full(struct srv *s, struct peer *p)
{
	size_t mem = p->txown + p->txn * sizeof(struct tx_ent) + (p->ctrl ? p->want : 0) +
		     (p->held ? p->held_len : 0);

	if (p->lp.dead)         /* its memory left the count at the close */
		return true;
	/* over its memory bound, a frame under way is finished, no new one
	 * started */
	return (ms_xlimits_mem(&s->l, &p->lp, mem) && p->rx == RX_HDR) ||
	       p->txn >= TX_MAX_ENTRIES || p->txbytes >= TX_MAX_BYTES;
}

void tcp_srv_set_events(struct srv *s, struct peer *p)
{
	struct epoll_event ev = { .data.ptr = p };
	bool paused = tx_full(s, p) || ((s->l.stopping || p->held) && p->rx == RX_HDR);

	ev.events = (paused ? 0 : EPOLLIN) | (p->txh && !p->txh->pending ? EPOLLOUT : 0);
	ev.events = ms_xio_events(p->tls, ev.events);
	if (p->lp.dead || ev.events == p->ev)
		return;
	if (epoll_ctl(s->l.epfd, EPOLL_CTL_MOD, p->fd, &ev) == 0)
		p->ev = ev.events;
	else
		p->broken = s->l.attention = true;
}

/* The connection is closed (ms_xloop_close_peer): release it. */
static void peer_teardown(struct ms_xloop *l, struct ms_xlpeer *lp)
{
	struct peer *p = to_peer(lp);
	struct tx_ent *e;

	epoll_ctl(l->epfd, EPOLL_CTL_DEL, p->fd, NULL);
	ms_tls_free(p->tls);
	p->tls = NULL;
	close(p->fd);
	while ((e = p->txh)) {
		p->txh = e->next;
		tcp_srv_tx_free(e);
	}
	p->txt = NULL;
	free(p->ctrl);
	p->ctrl = NULL;
	free(p->held);
	p->held = NULL;
	ms_auth_srv_clear(p->auth);
	free(p->auth);
	p->auth = NULL;
}

int tcp_srv_tx_push(struct peer *p, const struct ms_frame *f, char *data, size_t dlen,
		   struct ms_xsmr *mr, bool owned)
{
	struct tx_ent *e = malloc(sizeof(*e));

	if (!e) {
		if (owned)
			free(data);
		return -ENOMEM;
	}
	ms_frame_encode(f, e->hdr);
	e->next = NULL;
	e->data = data;
	e->dlen = dlen;
	e->mr = mr;
	e->owned = owned;
	e->pending = false;
	e->done = 0;
	if (p->txt)
		p->txt->next = e;
	else
		p->txh = e;
	p->txt = e;
	p->txn++;
	p->txbytes += MS_FRAME_HDR + dlen;
	p->txown += owned ? dlen : 0;
	return 0;
}

/* Send as much of the queue as the socket takes. */
static void peer_tx(struct srv *s, struct peer *p)
{
	struct iovec iov[TX_IOV];
	struct tx_ent *e;
	ssize_t n;
	size_t rem;
	int cnt;

	while (p->txh && !p->txh->pending && !p->lp.dead) {
		cnt = 0;
		for (e = p->txh; e && !e->pending && cnt + 2 <= TX_IOV; e = e->next) {
			if (e->done < MS_FRAME_HDR)
				iov[cnt++] = (struct iovec){ e->hdr + e->done,
							     MS_FRAME_HDR - e->done };
			rem = MS_MIN(e->dlen, e->dlen + MS_FRAME_HDR - e->done);
			if (rem)
				iov[cnt++] = (struct iovec){ e->data + e->dlen - rem, rem };
		}
		n = ms_xio_sendv(p->tls, p->fd, iov, cnt);
		if (n == -EAGAIN)
			return;
		if (n < 0) {
			peer_close(s, p, MS_LOG_INFO, "send failed: %s; disconnected",
				   strerror((int)-n));
			return;
		}
		ms_xlimits_seen(&s->l, &p->lp);
		while ((e = p->txh) && n > 0) {
			rem = MS_FRAME_HDR + e->dlen - e->done;
			if ((size_t)n < rem) {
				e->done += (size_t)n;
				break;
			}
			n -= (ssize_t)rem;
			p->txh = e->next;
			if (!p->txh)
				p->txt = NULL;
			p->txn--;
			p->txbytes -= MS_FRAME_HDR + e->dlen;
			p->txown -= e->owned ? e->dlen : 0;
			tcp_srv_tx_free(e);
		}
	}
}

static void reply(struct srv *s, struct peer *p, uint8_t type, int status, char *data,
		  size_t dlen, struct ms_xsmr *mr, bool owned)
{
	struct ms_frame f = {
		.type = type, .status = status, .id = p->req.id,
		.plen = (uint32_t)dlen,
	};

	if (type != MS_F_CTRL_RESP) {
		f.key = p->req.key;
		f.addr = p->req.addr;
		f.len = p->req.len;
	}
	if (tcp_srv_tx_push(p, &f, data, dlen, mr, owned))
		peer_close(s, p, MS_LOG_ERROR, "out of memory for a response; disconnected");
}

void tcp_srv_ctrl_reply(struct srv *s, struct peer *p, uint64_t id, int status, char *data,
		       size_t dlen)
{
	struct ms_frame f = { .type = MS_F_CTRL_RESP, .status = status, .id = id,
			      .plen = (uint32_t)dlen };

	if (tcp_srv_tx_push(p, &f, data, dlen, NULL, data != NULL))
		peer_close(s, p, MS_LOG_ERROR, "out of memory for a response; disconnected");
}

/* Run one control request (ctrl is malloc'ed; this frees it). */
static void run_ctrl(struct srv *s, struct peer *p, char *ctrl, size_t len, uint64_t id)
{
	size_t rlen = 0;
	char *copy;
	int rc;

	if (!s->l.cbs.on_ctrl) {
		free(ctrl);
		tcp_srv_ctrl_reply(s, p, id, -EOPNOTSUPP, NULL, 0);
		return;
	}
	rc = ms_xloop_ctrl(&s->l, &p->lp, ctrl, len, &rlen);
	free(ctrl);
	if (rc == 1) {
		/* Answered by send_reply.  Its place in the queue keeps the
		 * responses in request order (the client needs that): the
		 * READs and WRITEs after it are served, their responses wait
		 * behind it. */
		struct ms_frame f = { .type = MS_F_CTRL_RESP, .id = id };

		p->ctrl_id = id;
		if (tcp_srv_tx_push(p, &f, NULL, 0, NULL, false)) {
			peer_close(s, p, MS_LOG_ERROR, "out of memory for a response; disconnected");
			return;
		}
		p->txt->pending = true;
		p->dslot = p->txt;
	}
	if (rc)
		return;
	copy = malloc(rlen ? rlen : 1);
	if (!copy) {
		peer_close(s, p, MS_LOG_ERROR, "out of memory for a control reply; disconnected");
		return;
	}
	memcpy(copy, s->l.scratch, rlen);
	tcp_srv_ctrl_reply(s, p, id, 0, copy, rlen);
}

/* A control request has arrived.  While a reply is deferred it waits (the
 * receiver pauses at the next header until it ran); READs and WRITEs
 * before it were served (their responses queued behind the deferred
 * reply's place). */
static void handle_ctrl(struct srv *s, struct peer *p)
{
	char *ctrl = p->ctrl;

	p->ctrl = NULL;
	if (p->lp.deferred) {
		p->held = ctrl;
		p->held_len = p->req.plen;
		p->held_id = p->req.id;
		return;
	}
	run_ctrl(s, p, ctrl, p->req.plen, p->req.id);
}

/* A payload (or an empty one) has arrived in full: answer it. */
static void payload_done(struct srv *s, struct peer *p)
{
	enum rx_state st = p->rx;

	p->rx = RX_HDR;
	if (st == RX_WRITE) {
		__atomic_fetch_add(&p->rx_mr->bytes_written, p->req.len, __ATOMIC_RELAXED);
		__atomic_fetch_add(&p->lp.pub.bytes_written, p->req.len, __ATOMIC_RELAXED);
		p->rx_mr = NULL;
		reply(s, p, MS_F_WRITE_RESP, 0, NULL, 0, NULL, false);
	} else if (st == RX_DROP) {
		reply(s, p, MS_F_WRITE_RESP, p->rx_status, NULL, 0, NULL, false);
	} else if (p->req.type == MS_F_AUTH) {
		tcp_srv_auth_done(s, p);
	} else {
		handle_ctrl(s, p);
	}
}

/* One whole header is at buf[boff]: validate it and act on it. */
static void handle_hdr(struct srv *s, struct peer *p)
{
	char why[160];
	struct ms_xsmr *m = NULL;
	char *ptr = NULL;
	int rc;

	rc = ms_frame_decode(p->buf + p->boff, p->blen - p->boff, MS_FRAME_ACCEPT_SERVER,
			     MS_TCP_MAX_IO, &p->req, why, sizeof(why));
	if (rc) {
		peer_close(s, p, MS_LOG_WARN, "%s; closing the connection", why);
		return;
	}
	p->boff += MS_FRAME_HDR;
	if ((p->auth || p->req.type == MS_F_AUTH) && tcp_srv_auth_gate(s, p))
		return;
	__atomic_store_n(&p->lp.pub.last_ns, s->l.now, __ATOMIC_RELAXED);
	p->want = p->req.plen;
	p->got = 0;
	p->big_writes = p->req.type == MS_F_WRITE_REQ && p->req.len >= BIG_WRITE;
	p->turn += 1 + (unsigned)((p->req.plen + (p->req.type == MS_F_READ_REQ ? p->req.len : 0)) >> 20);
	p->turn_ctrl |= p->req.type == MS_F_CTRL_REQ;
	switch (p->req.type) {
	case MS_F_READ_REQ:
		rc = tcp_mr_check(&s->l, &s->mrs, &p->req, p->cid, MS_XACCESS_READ, &m, &ptr);
		if (!rc) {
			__atomic_fetch_add(&m->bytes_read, p->req.len, __ATOMIC_RELAXED);
			__atomic_fetch_add(&p->lp.pub.bytes_read, p->req.len, __ATOMIC_RELAXED);
		}
		reply(s, p, MS_F_READ_RESP, rc, ptr, rc ? 0 : p->req.len, m, false);
		return;
	case MS_F_WRITE_REQ:
		/* Checked before a payload byte is read: a refused write is
		 * drained (keeping the stream in step) and never lands. */
		rc = tcp_mr_check(&s->l, &s->mrs, &p->req, p->cid, MS_XACCESS_WRITE, &m, &ptr);
		p->rx = rc ? RX_DROP : RX_WRITE;
		p->rx_status = rc;
		p->rx_mr = m;
		p->dst = ptr;
		break;
	default:
		p->rx = RX_CTRL;
		p->ctrl = malloc(p->want ? p->want : 1);
		if (!p->ctrl) {
			peer_close(s, p, MS_LOG_ERROR,
				   "out of memory for a control request; disconnected");
			return;
		}
		p->dst = p->ctrl;
		break;
	}
	if (p->want == 0)
		payload_done(s, p);
}

/* Stopping: the requests already received (whole headers in buf) are
 * served, nothing more is read. */
static bool stop_reading(struct srv *s, struct peer *p)
{
	return s->l.stopping && p->blen - p->boff < MS_FRAME_HDR;
}

static bool rx_paused(struct srv *s, struct peer *p)
{
	return p->lp.dead || p->broken || p->closing || p->yielded || tx_full(s, p) ||
	       ((stop_reading(s, p) || p->held) && p->rx == RX_HDR);
}

/* Whole input that peer_rx() would act on sits in buf (a partial header
 * waits for more bytes, which EPOLLIN reports). */
static bool rx_buffered(struct srv *s, struct peer *p)
{
	size_t avail = p->blen - p->boff;

	return !rx_paused(s, p) && ((p->rx == RX_HDR ? avail >= MS_FRAME_HDR : avail > 0) ||
				    ms_xio_pending(p->tls));
}

/* Read more header bytes.  After a large WRITE the next request is likely
 * another one, so read just the header: its payload then goes straight
 * into region memory instead of through buf. */
static ssize_t peer_recv_hdr(struct peer *p)
{
	size_t have = p->blen - p->boff, room;

	if (p->boff) {
		memmove(p->buf, p->buf + p->boff, have);
		p->boff = 0;
		p->blen = have;
	}
	room = p->big_writes ? MS_FRAME_HDR - have : RXBUF - have;
	return ms_xio_recv(p->tls, p->fd, p->buf + p->blen, room);
}

/* Receive and act on requests.  What is already buffered is always
 * processed (unless paused): once the socket is drained, epoll will not
 * report those bytes again.  Only recv calls count against the budget that
 * keeps one busy peer from starving the others; the socket still holds
 * data when it runs out, so level-triggered EPOLLIN brings us back. */
static void peer_rx(struct srv *s, struct peer *p)
{
	int budget = 64;
	size_t avail, n;
	ssize_t r;

	while (!rx_paused(s, p)) {
		avail = p->blen - p->boff;
		if (p->rx == RX_HDR && avail >= MS_FRAME_HDR) {
			if (p->turn && (p->turn >= TURN_UNITS ||
					(p->turn_ctrl && ms_now_ns() >= p->turn_end))) {
				p->yielded = true;      /* the others' turn; back soon */
				ms_xloop_ready(&s->l, &p->lp);
				return;
			}
			handle_hdr(s, p);
			continue;
		}
		if (p->rx != RX_HDR && avail) {
			n = MS_MIN(avail, p->want - p->got);
			if (p->rx != RX_DROP)
				memcpy(p->dst + p->got, p->buf + p->boff, n);
			p->boff += n;
			p->got += n;
			if (p->got == p->want)
				payload_done(s, p);
			continue;
		}
		if (budget-- == 0)
			return;
		if (p->rx == RX_HDR) {
			r = peer_recv_hdr(p);
		} else if (p->rx == RX_DROP) {
			r = ms_xio_discard(p->tls, p->fd, p->want - p->got);
		} else {
			r = ms_xio_recv(p->tls, p->fd, p->dst + p->got, p->want - p->got);
		}
		if (r == -EAGAIN)
			return;
		if (r == 0) {
			if (p->rx == RX_HDR && !avail)
				peer_close(s, p, MS_LOG_DEBUG, "disconnected");
			else
				peer_close(s, p, MS_LOG_INFO,
					   "disconnected in the middle of a %s",
					   p->rx == RX_HDR ? "header" : "payload");
			return;
		}
		if (r < 0) {
			peer_close(s, p, MS_LOG_INFO, "receive failed: %s; disconnected",
				   strerror((int)-r));
			return;
		}
		ms_xlimits_seen(&s->l, &p->lp);
		if (p->rx == RX_HDR) {
			p->blen += (size_t)r;
		} else {
			p->got += (size_t)r;
			if (p->got == p->want)
				payload_done(s, p);
		}
	}
}

/* ------------------------------------------------------------ the loop */

static void do_accept(struct srv *s)
{
	struct epoll_event ev = { .events = EPOLLIN };
	struct peer *p;
	int fd;

	while (s->lfd >= 0) {   /* closed by stop_listening() earlier in this batch */
		fd = accept4(s->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EAGAIN)
				return;
			slog(s, MS_LOG_WARN, "cannot accept a connection: %s; pausing for 100 ms",
			     strerror(errno));
			/* Out of descriptors: a level-triggered listener would
			 * spin, so stop listening for a moment. */
			ev.events = 0;
			ev.data.ptr = &tag_listen;
			epoll_ctl(s->l.epfd, EPOLL_CTL_MOD, s->lfd, &ev);
			ms_xloop_timer(&s->l, ms_now_ns() + 100000000ull);
			return;
		}
		p = calloc(1, sizeof(*p));
		if (!p) {
			slog(s, MS_LOG_ERROR, "out of memory for a new connection");
			close(fd);
			continue;
		}
		p->fd = fd;
		p->cid = ++s->last_cid;
		ms_sock_set_nodelay(fd);
		if (ms_sock_name(fd, true, p->lp.pub.name, sizeof(p->lp.pub.name)))
			snprintf(p->lp.pub.name, sizeof(p->lp.pub.name), "(unknown peer)");
		if (ms_xlimits_admit(&s->l, p->lp.pub.name)) {  /* logged once per burst */
			close(fd);
			free(p);
			continue;
		}
		ms_xlimits_keepalive(fd);
		/* with keys, the engine meets the peer once it authenticated;
		 * a TLS peer after its handshake (tls_step) */
		p->tls = s->tls ? ms_tls_new(s->tls, fd, NULL) : NULL;
		if (s->l.cbs.auth_lookup)
			p->auth = calloc(1, sizeof(*p->auth));
		if (s->l.cbs.auth_lookup ? !p->auth : !s->tls && tcp_srv_engine_accept(s, p) != 0) {
			ms_tls_free(p->tls);
			close(fd);
			free(p);
			continue;
		}
		ms_xloop_add_peer(&s->l, &p->lp);
		ev.events = EPOLLIN;
		ev.data.ptr = p;
		if ((s->tls && !p->tls) || epoll_ctl(s->l.epfd, EPOLL_CTL_ADD, fd, &ev)) {
			peer_close(s, p, MS_LOG_ERROR, "%s: %s; disconnected",
				   p->tls || !s->tls ? "epoll_ctl" : "TLS", strerror(errno));
			continue;
		}
		p->ev = EPOLLIN;
		slog(s, MS_LOG_DEBUG, "peer %s: connected", p->lp.pub.name);
	}
}

/* The accept pause is over. */
static void on_timer(struct ms_xloop *l)
{
	struct srv *s = loop_srv(l);
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &tag_listen };

	if (s->lfd >= 0)
		epoll_ctl(l->epfd, EPOLL_CTL_MOD, s->lfd, &ev);
}

static bool can_run(struct ms_xloop *l)
{
	return loop_srv(l)->lfd >= 0;
}

static void stop_listening(struct ms_xloop *l)
{
	struct srv *s = loop_srv(l);

	/* New clients get ECONNREFUSED at once instead of a silent queue. */
	epoll_ctl(l->epfd, EPOLL_CTL_DEL, s->lfd, NULL);
	close(s->lfd);
	s->lfd = -1;
	for (struct ms_xlpeer *lp = l->peers; lp; lp = lp->next)
		tcp_srv_set_events(s, to_peer(lp));
}

static void on_peer_event(struct srv *s, struct peer *p, uint32_t events)
{
	if (p->tls && !ms_tls_done(p->tls) && tcp_srv_tls_step(s, p))
		return;
	p->turn = 0;                                    /* a new turn */
	p->turn_ctrl = false;
	p->turn_end = ms_now_ns() + TURN_NS;
	p->yielded = false;
	if ((events & (EPOLLERR | EPOLLHUP)) && rx_paused(s, p)) {
		peer_close(s, p, MS_LOG_INFO, "connection reset; disconnected");
		return;
	}
	if (events & (EPOLLIN | EPOLLERR | EPOLLHUP))
		peer_rx(s, p);
	peer_tx(s, p);
	/* Sending lifted the pause: parse the requests already buffered, for
	 * EPOLLIN will not fire for bytes we hold.  Repeat until they are
	 * parsed or the queue is over its bound again: a client that reads
	 * as fast as we send can drain the whole queue in one peer_tx(), and
	 * then no EPOLLOUT comes back either, so leaving requests in buf here
	 * would strand them (the pipelining hang of issue #9).  Each round
	 * consumes buffered bytes, so the loop ends. */
	while (rx_buffered(s, p)) {
		peer_rx(s, p);
		peer_tx(s, p);
	}
	if (p->closing && !p->txh && !p->lp.dead) {
		peer_close(s, p, MS_LOG_DEBUG, "refused; disconnected");
		return;
	}
	tcp_srv_set_events(s, p);
}

static void on_event(struct ms_xloop *l, void *d, uint32_t events)
{
	struct srv *s = loop_srv(l);

	if (d == &tag_listen)
		do_accept(s);
	else if (!((struct peer *)d)->lp.dead)
		on_peer_event(s, d, events);
}

/* After a batch: a broken peer goes, and a stopping one once idle. */
static void check_peer(struct ms_xloop *l, struct ms_xlpeer *lp)
{
	struct srv *s = loop_srv(l);
	struct peer *p = to_peer(lp);

	if (p->broken)
		peer_close(s, p, MS_LOG_ERROR, "out of memory or epoll failure; disconnected");
	else if (l->stopping && !p->txh && p->rx == RX_HDR && !p->lp.deferred && !p->held &&
		 stop_reading(s, p))
		peer_close(s, p, MS_LOG_DEBUG, "server stopping; disconnected");
}

/* The engine's deferred reply (ms_xloop_reply): send it, then run the
 * control request that waited for it and parse what it held back. */
static void send_reply(struct ms_xloop *l, struct ms_xlpeer *lp, char *data, size_t len)
{
	struct srv *s = loop_srv(l);
	struct peer *p = to_peer(lp);
	struct ms_frame f = { .type = MS_F_CTRL_RESP, .id = p->ctrl_id, .plen = (uint32_t)len };
	struct tx_ent *e = p->dslot;
	char *held = p->held;

	p->dslot = NULL;
	if (!e) {               /* the queue was dropped (broken): closing */
		free(data);
		return;
	}
	ms_frame_encode(&f, e->hdr);
	e->data = data;
	e->dlen = len;
	e->owned = true;
	e->pending = false;
	p->txbytes += len;
	p->txown += len;
	if (held && !p->lp.dead) {
		p->held = NULL;
		run_ctrl(s, p, held, p->held_len, p->held_id);
	}
	if (!p->lp.dead)
		on_peer_event(s, p, 0);
}

/* Idle rules (xlimits.h): half a frame, or replies it does not take. */
static bool peer_stalled(struct ms_xloop *l, struct ms_xlpeer *lp)
{
	struct peer *p = to_peer(lp);

	return (p->txh && !p->txh->pending) ||
	       (!rx_paused(loop_srv(l), p) && (p->rx != RX_HDR || p->blen > p->boff));
}

static void on_ready(struct ms_xloop *l, struct ms_xlpeer *lp)
{ on_peer_event(loop_srv(l), to_peer(lp), 0); }

static const struct ms_xloop_ops tcp_loop_ops = {
	.can_run = can_run,
	.stop_listening = stop_listening,
	.on_event = on_event,
	.check_peer = check_peer,
	.teardown = peer_teardown,
	.on_timer = on_timer,
	.on_queue = tcp_srv_process_dq,
	.send_reply = send_reply,
	.stalled = peer_stalled,
	.on_ready = on_ready,
	.stopped_msg = "server stopped before its responses were sent; disconnected",
};

int ms_tcp_srv_notify(struct ms_xsrv *x, struct ms_xpeer *peer, const void *msg, size_t len)
{
	struct srv *s = to_srv(x);
	struct ms_frame f = { .type = MS_F_NOTIFY, .plen = (uint32_t)len };
	struct peer *p;
	char *copy;

	if (!peer || (len && !msg) || !ms_xloop_on_loop(&s->l))
		return -EINVAL;
	p = ms_container_of(peer, struct peer, lp.pub);
	if (len > MS_CTRL_MAX)
		return -EMSGSIZE;
	if (p->lp.dead)
		return -ENOTCONN;
	copy = malloc(len ? len : 1);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, msg, len);
	if (tcp_srv_tx_push(p, &f, copy, len, NULL, true))
		return -ENOMEM;
	/* Sent by the loop when the socket is writable. */
	tcp_srv_set_events(s, p);
	return 0;
}

int ms_tcp_listen(const char *host, const char *port, const struct ms_xsrv_cbs *cbs,
		  struct ms_xsrv **out, char *err, size_t errlen)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &tag_listen };
	struct srv *s;
	int rc;

	if (!err)
		errlen = 0;
	s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	s->l.epfd = s->l.evfd = -1;
	s->lfd = ms_sock_listen(host, port, &s->l.pub.port, err, errlen);
	if (s->lfd < 0) {
		rc = s->lfd;
		free(s);
		return rc;
	}
	tcp_mr_init(&s->mrs);
	rc = ms_xloop_init(&s->l, &ms_tcp_ops, &tcp_loop_ops, cbs, err, errlen);
	if (!rc && cbs && cbs->opts && cbs->opts->tls)
		rc = ms_tls_ctx_new(cbs->opts->tls, true, &s->tls, err, errlen);
	if (!rc && epoll_ctl(s->l.epfd, EPOLL_CTL_ADD, s->lfd, &ev)) {
		rc = -errno;
		snprintf(err, errlen, "cannot set up the server loop: %s", strerror(errno));
	}
	if (rc) {
		ms_xloop_fini(&s->l);
		tcp_mr_fini(&s->mrs);
		ms_tls_ctx_free(s->tls);
		close(s->lfd);
		free(s);
		return rc;
	}
	*out = &s->l.pub;
	return 0;
}

void ms_tcp_srv_close(struct ms_xsrv *x)
{
	struct srv *s;

	if (!x)
		return;
	s = to_srv(x);
	if (s->lfd >= 0)
		close(s->lfd);
	ms_xloop_fini(&s->l);
	tcp_mr_fini(&s->mrs);
	ms_tls_ctx_free(s->tls);
	free(s);
}
