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
 * Registrations live in a small hash table under s->lock; the loop looks a
 * key up for every request.  Only the loop frees a registration that may
 * be in use: a deregistration from another thread queues it and waits
 * until the loop has detached it from every connection (responses still
 * queued get a private copy of their bytes, a WRITE being received is
 * discarded and answered -EACCES), so memory can be unmapped as soon as
 * srv_dereg_mr() returns, as with RDMA.
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
#include "tcp_int.h"
#include "tcp_sock.h"
#include "util.h"

#define NBUCKETS 256                    /* key table (chained) */
#define RXBUF (64u << 10)               /* per-connection receive buffer: headers
					 * and the payloads of small WRITEs */
#define TX_MAX_ENTRIES 1024             /* stop reading a connection above this... */
#define TX_MAX_BYTES (64u << 20)        /* ...or this much queued */
#define TX_IOV 64                       /* iovecs per sendmsg */
#define DRAIN_NS (5ull * 1000000000ull) /* srv_stop: give up on slow peers */
#define BIG_WRITE (32u << 10)           /* see peer_recv_hdr() */

struct ms_xsmr {
	struct ms_xsmr *next;           /* hash chain */
	struct ms_xsmr *dnext;          /* s->dq */
	uint64_t key;
	char *base;
	uint64_t len;
	unsigned access;
	bool detached;                  /* the loop is done with it (s->dq) */
	uint64_t bytes_read, bytes_written; /* __atomic */
};

struct tx_ent {
	struct tx_ent *next;
	uint8_t hdr[MS_FRAME_HDR];
	char *data;                     /* payload: region memory or owned */
	size_t dlen;
	struct ms_xsmr *mr;             /* data lies in mr's memory */
	bool owned;                     /* data is malloc'ed */
	size_t done;                    /* bytes of header + data sent */
};

enum rx_state { RX_HDR, RX_CTRL, RX_WRITE, RX_DROP };

struct peer {
	struct ms_xpeer pub;
	struct peer *next, *prev;       /* s->peers, or s->zombies (next only) */
	int fd;
	uint32_t ev;                    /* epoll interest now registered */
	bool dead, broken, accepted, big_writes;
	enum rx_state rx;
	struct ms_frame req;            /* the request being received */
	char *dst;                      /* payload destination */
	size_t want, got;
	struct ms_xsmr *rx_mr;          /* RX_WRITE: the target registration */
	int rx_status;                  /* RX_DROP: status of the reply */
	char *ctrl;                     /* RX_CTRL: the payload */
	struct tx_ent *txh, *txt;
	unsigned txn;
	size_t txbytes;
	size_t boff, blen;              /* unparsed bytes: buf[boff..blen) */
	uint8_t buf[RXBUF];
};

struct srv {
	struct ms_xsrv pub;
	struct ms_xsrv_cbs cbs;
	int lfd, epfd, evfd;
	int stop_req;                   /* __atomic; set by srv_stop */
	pthread_mutex_t lock;           /* tab, dq, running, loop */
	pthread_cond_t cond;            /* a queued deregistration is done */
	struct ms_xsmr *tab[NBUCKETS];
	struct ms_xsmr *dq;             /* deregistrations for the loop */
	bool running;
	pthread_t loop;
	/* loop thread only: */
	struct peer *peers, *zombies;
	bool stopping, any_broken;
	uint64_t drain_end, accept_resume;
	char *scratch;                  /* MS_CTRL_MAX control reply buffer */
};

static char tag_listen, tag_wake;       /* epoll data for the two special fds */

#define slog(s, ...) ms_xsrv_log(&(s)->cbs, __VA_ARGS__)

static struct srv *to_srv(struct ms_xsrv *x)
{
	return ms_container_of(x, struct srv, pub);
}

static bool on_loop(struct srv *s)
{
	return __atomic_load_n(&s->running, __ATOMIC_ACQUIRE) &&
	       pthread_equal(pthread_self(), s->loop);
}

/* ------------------------------------------------------------ keys */

static struct ms_xsmr **bucket(struct srv *s, uint64_t key)
{
	return &s->tab[(key ^ (key >> 32)) % NBUCKETS];
}

static struct ms_xsmr *lookup_locked(struct srv *s, uint64_t key)
{
	struct ms_xsmr *m;

	for (m = *bucket(s, key); m; m = m->next)
		if (m->key == key)
			return m;
	return NULL;
}

static int new_key(struct srv *s, uint64_t *key)
{
	ssize_t n;

	/* 64 random bits: a capability nobody can guess; never 0. */
	do {
		n = getrandom(key, sizeof(*key), 0);
		if (n < 0 && errno != EINTR)
			return -errno;
	} while (n != sizeof(*key) || *key == 0 || lookup_locked(s, *key));
	return 0;
}

int ms_tcp_srv_reg_mr(struct ms_xsrv *x, void *addr, size_t len, unsigned access,
		      struct ms_xsmr **out, struct ms_rdesc *desc)
{
	struct srv *s = to_srv(x);
	struct ms_xsmr *m;
	int rc;

	if (!addr || !len || !access || (access & ~(MS_XACCESS_READ | MS_XACCESS_WRITE)) ||
	    !out || !desc)
		return -EINVAL;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->base = addr;
	m->len = len;
	m->access = access;
	pthread_mutex_lock(&s->lock);
	rc = new_key(s, &m->key);
	if (!rc) {
		m->next = *bucket(s, m->key);
		*bucket(s, m->key) = m;
	}
	pthread_mutex_unlock(&s->lock);
	if (rc) {
		free(m);
		return rc;
	}
	/* The wire address is the offset: the base is opaque (0), so no
	 * server pointer leaks to clients. */
	desc->addr = 0;
	desc->len = len;
	desc->rkey = m->key;
	*out = m;
	return 0;
}

static void detach_mr(struct srv *s, struct ms_xsmr *m);

void ms_tcp_srv_dereg_mr(struct ms_xsrv *x, struct ms_xsmr *m)
{
	struct srv *s = to_srv(x);
	struct ms_xsmr **pp;
	bool wait, self;

	if (!m)
		return;
	pthread_mutex_lock(&s->lock);
	for (pp = bucket(s, m->key); *pp && *pp != m; pp = &(*pp)->next)
		;
	if (*pp)
		*pp = m->next;
	self = s->running && pthread_equal(pthread_self(), s->loop);
	wait = s->running && !self;
	if (wait) {
		m->dnext = s->dq;
		s->dq = m;
		if (write(s->evfd, &(uint64_t){ 1 }, 8) < 0) {
			/* the counter cannot overflow in practice; the loop also
			 * checks dq on every wakeup */
		}
		while (!m->detached)
			pthread_cond_wait(&s->cond, &s->lock);
	}
	pthread_mutex_unlock(&s->lock);
	if (self)
		detach_mr(s, m);
	free(m);
}

void ms_tcp_srv_mr_stats(struct ms_xsrv *x, struct ms_xsmr *m, uint64_t *bytes_read,
			 uint64_t *bytes_written)
{
	if (bytes_read)
		*bytes_read = m ? __atomic_load_n(&m->bytes_read, __ATOMIC_RELAXED) : 0;
	if (bytes_written)
		*bytes_written = m ? __atomic_load_n(&m->bytes_written, __ATOMIC_RELAXED) : 0;
}

/* Check a data request: the key grants `need` and [addr, addr+len) lies
 * inside the registration (no overflow: addr is compared first). */
static int check_access(struct srv *s, const struct ms_frame *f, unsigned need,
			struct ms_xsmr **mp, char **ptr)
{
	struct ms_xsmr *m;

	pthread_mutex_lock(&s->lock);
	m = lookup_locked(s, f->key);
	pthread_mutex_unlock(&s->lock);
	/* m stays valid: only this thread frees a registration that was in
	 * the table while the loop runs (detach_mr). */
	if (!m || !(m->access & need))
		return -EACCES;
	if (f->addr > m->len || f->len > m->len - f->addr)
		return -ERANGE;
	*mp = m;
	*ptr = m->base + f->addr;
	return 0;
}

/* ------------------------------------------------------------ peers */

static void tx_free(struct tx_ent *e)
{
	if (e->owned)
		free(e->data);
	free(e);
}

static void peer_set_events(struct srv *s, struct peer *p)
{
	struct epoll_event ev = { .data.ptr = p };
	bool paused = p->txn >= TX_MAX_ENTRIES || p->txbytes >= TX_MAX_BYTES ||
		      (s->stopping && p->rx == RX_HDR);

	ev.events = (paused ? 0 : EPOLLIN) | (p->txh ? EPOLLOUT : 0);
	if (p->dead || ev.events == p->ev)
		return;
	if (epoll_ctl(s->epfd, EPOLL_CTL_MOD, p->fd, &ev) == 0)
		p->ev = ev.events;
	else
		p->broken = s->any_broken = true;
}

/* Log "peer NAME: <fmt>" and drop the connection (once). */
static void peer_close(struct srv *s, struct peer *p, enum ms_log_level lvl, const char *fmt,
		       ...) MS_PRINTF(4, 5);

static void peer_close(struct srv *s, struct peer *p, enum ms_log_level lvl, const char *fmt,
		       ...)
{
	struct tx_ent *e;
	char msg[200];
	va_list ap;

	if (p->dead)
		return;
	p->dead = true;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	slog(s, lvl, "peer %s: %s", p->pub.name, msg);
	epoll_ctl(s->epfd, EPOLL_CTL_DEL, p->fd, NULL);
	close(p->fd);
	while ((e = p->txh)) {
		p->txh = e->next;
		tx_free(e);
	}
	p->txt = NULL;
	free(p->ctrl);
	p->ctrl = NULL;
	if (p->prev)
		p->prev->next = p->next;
	else
		s->peers = p->next;
	if (p->next)
		p->next->prev = p->prev;
	/* Freed after the current batch of epoll events (which may name it). */
	p->next = s->zombies;
	s->zombies = p;
	if (p->accepted && s->cbs.on_disconnect)
		s->cbs.on_disconnect(s->cbs.ud, &p->pub);
}

static int tx_push(struct peer *p, const struct ms_frame *f, char *data, size_t dlen,
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
	e->done = 0;
	if (p->txt)
		p->txt->next = e;
	else
		p->txh = e;
	p->txt = e;
	p->txn++;
	p->txbytes += MS_FRAME_HDR + dlen;
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

	while (p->txh && !p->dead) {
		cnt = 0;
		for (e = p->txh; e && cnt + 2 <= TX_IOV; e = e->next) {
			if (e->done < MS_FRAME_HDR)
				iov[cnt++] = (struct iovec){ e->hdr + e->done,
							     MS_FRAME_HDR - e->done };
			rem = MS_MIN(e->dlen, e->dlen + MS_FRAME_HDR - e->done);
			if (rem)
				iov[cnt++] = (struct iovec){ e->data + e->dlen - rem, rem };
		}
		n = ms_sock_sendv(p->fd, iov, cnt);
		if (n == -EAGAIN)
			return;
		if (n < 0) {
			peer_close(s, p, MS_LOG_INFO, "send failed: %s; disconnected",
				   strerror((int)-n));
			return;
		}
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
			tx_free(e);
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
	if (tx_push(p, &f, data, dlen, mr, owned))
		peer_close(s, p, MS_LOG_ERROR, "out of memory for a response; disconnected");
}

static void handle_ctrl(struct srv *s, struct peer *p)
{
	size_t rlen = 0;
	char *copy;
	int rc;

	if (!s->cbs.on_ctrl) {
		reply(s, p, MS_F_CTRL_RESP, -EOPNOTSUPP, NULL, 0, NULL, false);
		return;
	}
	if (!s->scratch && !(s->scratch = malloc(MS_CTRL_MAX))) {
		peer_close(s, p, MS_LOG_ERROR, "out of memory for a control reply; disconnected");
		return;
	}
	rc = s->cbs.on_ctrl(s->cbs.ud, &p->pub, p->ctrl, p->req.plen, s->scratch,
			    MS_CTRL_MAX, &rlen);
	free(p->ctrl);
	p->ctrl = NULL;
	if (p->dead)
		return;
	if (rc < 0) {
		peer_close(s, p, MS_LOG_WARN, "control request rejected (%s); disconnected",
			   strerror(-rc));
		return;
	}
	if (rlen > MS_CTRL_MAX) {
		peer_close(s, p, MS_LOG_ERROR, "control reply over MS_CTRL_MAX; disconnected");
		return;
	}
	copy = malloc(rlen ? rlen : 1);
	if (!copy) {
		peer_close(s, p, MS_LOG_ERROR, "out of memory for a control reply; disconnected");
		return;
	}
	memcpy(copy, s->scratch, rlen);
	reply(s, p, MS_F_CTRL_RESP, 0, copy, rlen, NULL, true);
}

/* A payload (or an empty one) has arrived in full: answer it. */
static void payload_done(struct srv *s, struct peer *p)
{
	enum rx_state st = p->rx;

	p->rx = RX_HDR;
	if (st == RX_WRITE) {
		__atomic_fetch_add(&p->rx_mr->bytes_written, p->req.len, __ATOMIC_RELAXED);
		p->rx_mr = NULL;
		reply(s, p, MS_F_WRITE_RESP, 0, NULL, 0, NULL, false);
	} else if (st == RX_DROP) {
		reply(s, p, MS_F_WRITE_RESP, p->rx_status, NULL, 0, NULL, false);
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
	p->want = p->req.plen;
	p->got = 0;
	p->big_writes = p->req.type == MS_F_WRITE_REQ && p->req.len >= BIG_WRITE;
	switch (p->req.type) {
	case MS_F_READ_REQ:
		rc = check_access(s, &p->req, MS_XACCESS_READ, &m, &ptr);
		if (!rc)
			__atomic_fetch_add(&m->bytes_read, p->req.len, __ATOMIC_RELAXED);
		reply(s, p, MS_F_READ_RESP, rc, ptr, rc ? 0 : p->req.len, m, false);
		return;
	case MS_F_WRITE_REQ:
		/* Checked before a payload byte is read: a refused write is
		 * drained (keeping the stream in step) and never lands. */
		rc = check_access(s, &p->req, MS_XACCESS_WRITE, &m, &ptr);
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

static bool rx_paused(struct srv *s, struct peer *p)
{
	return p->dead || p->broken || p->txn >= TX_MAX_ENTRIES || p->txbytes >= TX_MAX_BYTES ||
	       (s->stopping && p->rx == RX_HDR);
}

/* Whole input that peer_rx() would act on sits in buf (a partial header
 * waits for more bytes, which EPOLLIN reports). */
static bool rx_buffered(struct srv *s, struct peer *p)
{
	size_t avail = p->blen - p->boff;

	return !rx_paused(s, p) && (p->rx == RX_HDR ? avail >= MS_FRAME_HDR : avail > 0);
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
	return ms_sock_recv(p->fd, p->buf + p->blen, room);
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
			/* MSG_TRUNC on TCP discards without copying. */
			r = recv(p->fd, NULL, p->want - p->got, MSG_TRUNC | MSG_DONTWAIT);
			if (r < 0)
				r = errno == EINTR ? -EAGAIN : -errno;
		} else {
			r = ms_sock_recv(p->fd, p->dst + p->got, p->want - p->got);
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
		if (p->rx == RX_HDR) {
			p->blen += (size_t)r;
		} else {
			p->got += (size_t)r;
			if (p->got == p->want)
				payload_done(s, p);
		}
	}
}

/* ------------------------------------------------------- deregistration */

/* Make sure no connection refers to m's memory any more (loop thread). */
static void detach_mr(struct srv *s, struct ms_xsmr *m)
{
	struct tx_ent *e;
	struct peer *p;
	char *copy;

	for (p = s->peers; p; p = p->next) {
		for (e = p->txh; e; e = e->next) {
			if (e->mr != m)
				continue;
			copy = malloc(e->dlen);
			if (!copy) {
				/* Cannot keep the bytes: this stream is lost;
				 * the loop closes the peer after this batch. */
				p->broken = s->any_broken = true;
				break;
			}
			memcpy(copy, e->data, e->dlen);
			e->data = copy;
			e->owned = true;
			e->mr = NULL;
		}
		if (p->broken) {
			while ((e = p->txh)) {
				p->txh = e->next;
				tx_free(e);
			}
			p->txt = NULL;
			p->txn = 0;
			p->txbytes = 0;
		}
		if (p->rx == RX_WRITE && p->rx_mr == m) {
			p->rx = RX_DROP;
			p->rx_status = -EACCES;
			p->rx_mr = NULL;
		}
	}
}

/* Serve deregistrations queued by other threads. */
static void process_dq(struct srv *s)
{
	struct ms_xsmr *m, *next;

	pthread_mutex_lock(&s->lock);
	m = s->dq;
	s->dq = NULL;
	pthread_mutex_unlock(&s->lock);
	if (!m)
		return;
	for (next = m; next; next = next->dnext)
		detach_mr(s, next);
	pthread_mutex_lock(&s->lock);
	for (; m; m = next) {
		next = m->dnext;
		m->detached = true;     /* the waiter frees it */
	}
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
}

/* ------------------------------------------------------------ the loop */

static void do_accept(struct srv *s)
{
	struct epoll_event ev = { .events = EPOLLIN };
	struct peer *p;
	int fd;

	while (s->lfd >= 0) {   /* closed by begin_stop() earlier in this batch */
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
			epoll_ctl(s->epfd, EPOLL_CTL_MOD, s->lfd, &ev);
			s->accept_resume = ms_now_ns() + 100000000ull;
			return;
		}
		p = calloc(1, sizeof(*p));
		if (!p) {
			slog(s, MS_LOG_ERROR, "out of memory for a new connection");
			close(fd);
			continue;
		}
		p->fd = fd;
		ms_sock_set_nodelay(fd);
		if (ms_sock_name(fd, true, p->pub.name, sizeof(p->pub.name)))
			snprintf(p->pub.name, sizeof(p->pub.name), "(unknown peer)");
		if (s->cbs.on_connect && s->cbs.on_connect(s->cbs.ud, &p->pub)) {
			slog(s, MS_LOG_INFO, "peer %s: refused", p->pub.name);
			close(fd);
			free(p);
			continue;
		}
		p->accepted = true;
		p->next = s->peers;
		if (s->peers)
			s->peers->prev = p;
		s->peers = p;
		ev.events = EPOLLIN;
		ev.data.ptr = p;
		if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev)) {
			peer_close(s, p, MS_LOG_ERROR, "epoll_ctl: %s; disconnected",
				   strerror(errno));
			continue;
		}
		p->ev = EPOLLIN;
		slog(s, MS_LOG_DEBUG, "peer %s: connected", p->pub.name);
	}
}

static void begin_stop(struct srv *s)
{
	struct peer *p;

	if (s->stopping)
		return;
	s->stopping = true;
	s->drain_end = ms_now_ns() + DRAIN_NS;
	/* New clients get ECONNREFUSED at once instead of a silent queue. */
	epoll_ctl(s->epfd, EPOLL_CTL_DEL, s->lfd, NULL);
	close(s->lfd);
	s->lfd = -1;
	for (p = s->peers; p; p = p->next)
		peer_set_events(s, p);
}

static void on_wake(struct srv *s)
{
	uint64_t v;

	if (read(s->evfd, &v, sizeof(v)) < 0) {
		/* EAGAIN: already consumed; nothing else can fail here */
	}
	if (__atomic_load_n(&s->stop_req, __ATOMIC_ACQUIRE))
		begin_stop(s);
	process_dq(s);
}

static void on_peer_event(struct srv *s, struct peer *p, uint32_t events)
{
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
	peer_set_events(s, p);
}

/* Housekeeping after a batch of events; true when run() should return. */
static bool after_batch(struct srv *s)
{
	struct peer *p, *next;
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &tag_listen };
	uint64_t now = ms_now_ns();

	/* Walk the peers only when there is something to find. */
	for (p = s->stopping || s->any_broken ? s->peers : NULL; p; p = next) {
		next = p->next;
		if (p->broken)
			peer_close(s, p, MS_LOG_ERROR,
				   "out of memory or epoll failure; disconnected");
		else if (s->stopping && !p->txh && p->rx == RX_HDR)
			peer_close(s, p, MS_LOG_DEBUG, "server stopping; disconnected");
	}
	s->any_broken = false;
	while ((p = s->zombies)) {
		s->zombies = p->next;
		free(p);
	}
	if (s->accept_resume && now >= s->accept_resume && s->lfd >= 0) {
		s->accept_resume = 0;
		epoll_ctl(s->epfd, EPOLL_CTL_MOD, s->lfd, &ev);
	}
	return s->stopping && (!s->peers || now >= s->drain_end);
}

static int next_timeout(struct srv *s)
{
	uint64_t now = ms_now_ns(), until = 0;

	if (s->stopping)
		until = s->drain_end;
	if (s->accept_resume && (!until || s->accept_resume < until))
		until = s->accept_resume;
	if (!until)
		return -1;
	return until <= now ? 0 : (int)((until - now) / 1000000 + 1);
}

int ms_tcp_srv_run(struct ms_xsrv *x)
{
	struct srv *s = to_srv(x);
	struct epoll_event evs[64];
	struct peer *p;
	int n;

	pthread_mutex_lock(&s->lock);
	if (s->running || s->lfd < 0) {
		pthread_mutex_unlock(&s->lock);
		return s->running ? -EBUSY : -EINVAL;
	}
	s->loop = pthread_self();
	__atomic_store_n(&s->running, true, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&s->lock);

	for (;;) {
		n = epoll_wait(s->epfd, evs, MS_ARRAY_SIZE(evs), next_timeout(s));
		if (n < 0 && errno != EINTR) {
			slog(s, MS_LOG_ERROR, "epoll_wait: %s; stopping", strerror(errno));
			begin_stop(s);
			s->drain_end = 0;
		}
		for (int i = 0; i < n; i++) {
			void *d = evs[i].data.ptr;

			if (d == &tag_wake)
				on_wake(s);
			else if (d == &tag_listen)
				do_accept(s);
			else if (!((struct peer *)d)->dead)
				on_peer_event(s, d, evs[i].events);
		}
		if (after_batch(s))
			break;
	}
	while ((p = s->peers))
		peer_close(s, p, MS_LOG_WARN,
			   "server stopped before its responses were sent; disconnected");
	after_batch(s);
	process_dq(s);
	pthread_mutex_lock(&s->lock);
	__atomic_store_n(&s->running, false, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&s->lock);
	/* A deregistration that queued itself after the last process_dq()
	 * is served here: there are no connections left to detach from. */
	process_dq(s);
	return 0;
}

void ms_tcp_srv_stop(struct ms_xsrv *x)
{
	struct srv *s = to_srv(x);

	ms_xsrv_request_stop(&s->stop_req, s->evfd);
}

int ms_tcp_srv_notify(struct ms_xsrv *x, struct ms_xpeer *peer, const void *msg, size_t len)
{
	struct srv *s = to_srv(x);
	struct ms_frame f = { .type = MS_F_NOTIFY, .plen = (uint32_t)len };
	struct peer *p;
	char *copy;

	if (!peer || (len && !msg) || !on_loop(s))
		return -EINVAL;
	p = ms_container_of(peer, struct peer, pub);
	if (len > MS_CTRL_MAX)
		return -EMSGSIZE;
	if (p->dead)
		return -ENOTCONN;
	copy = malloc(len ? len : 1);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, msg, len);
	if (tx_push(p, &f, copy, len, NULL, true))
		return -ENOMEM;
	/* Sent by the loop when the socket is writable. */
	peer_set_events(s, p);
	return 0;
}

int ms_tcp_listen(const char *host, const char *port, const struct ms_xsrv_cbs *cbs,
		  struct ms_xsrv **out, char *err, size_t errlen)
{
	struct epoll_event ev = { .events = EPOLLIN };
	struct srv *s;
	int rc;

	if (!err)
		errlen = 0;
	s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	s->pub.ops = &ms_tcp_ops;
	if (cbs)
		s->cbs = *cbs;
	s->epfd = s->evfd = -1;
	s->lfd = ms_sock_listen(host, port, &s->pub.port, err, errlen);
	if (s->lfd < 0) {
		rc = s->lfd;
		free(s);
		return rc;
	}
	s->epfd = epoll_create1(EPOLL_CLOEXEC);
	s->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (s->epfd < 0 || s->evfd < 0)
		goto fail;
	ev.data.ptr = &tag_listen;
	if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->lfd, &ev))
		goto fail;
	ev.data.ptr = &tag_wake;
	if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->evfd, &ev))
		goto fail;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	*out = &s->pub;
	return 0;
fail:
	rc = -errno;
	snprintf(err, errlen, "cannot set up the server loop: %s", strerror(errno));
	if (s->epfd >= 0)
		close(s->epfd);
	if (s->evfd >= 0)
		close(s->evfd);
	close(s->lfd);
	free(s);
	return rc;
}

void ms_tcp_srv_close(struct ms_xsrv *x)
{
	struct srv *s;
	struct ms_xsmr *m;

	if (!x)
		return;
	s = to_srv(x);
	if (s->lfd >= 0)
		close(s->lfd);
	close(s->epfd);
	close(s->evfd);
	/* Registrations the engine did not revoke. */
	for (size_t i = 0; i < NBUCKETS; i++) {
		while ((m = s->tab[i])) {
			s->tab[i] = m->next;
			free(m);
		}
	}
	free(s->scratch);
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->cond);
	free(s);
}
