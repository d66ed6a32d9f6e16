/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tcp_client.c - the client half of the TCP fallback, and ms_tcp_ops.
 *
 * post() only queues; one progress engine (used by poll() and call())
 * sends queued requests and receives responses on a nonblocking socket,
 * waiting with poll(2) for POLLIN|POLLOUT.  A client therefore never blocks
 * in send() while the server blocks on it with responses we do not read.
 *
 * Every request in flight sits in one FIFO in id order (the server answers
 * a connection's requests in order), so a response must match the head.
 * A READ's payload is received straight into the work request's buffer; a
 * WRITE's payload is sent straight from it (writev of header + data).
 *
 * Completions are stored in a ring of `depth` entries: a work request
 * counts as outstanding until poll() has returned its completion, so the
 * ring cannot overflow.  When the connection dies (EOF, error, protocol
 * violation, timeout), conn_fail() completes everything in flight in one
 * place; afterwards post() returns -ENOTCONN and call() -ECONNRESET.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#define MS_TCP_INTERNAL
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "frame.h"
#include "tcp.h"
#include "tcp_sock.h"
#include "util.h"

#define DEPTH_DEFAULT 16
#define DEPTH_MAX 4096
#define MAX_IO_DEFAULT (1u << 20)
#define TIMEOUT_DEFAULT_MS 30000
#define SOCKBUF (4 << 20)       /* SO_SNDBUF/SO_RCVBUF: a few MiB in flight */
#define RXBUF 4096              /* header buffer */
#define TX_IOV 512
#define BIG_READ (32u << 10)    /* see do_recv() */

struct ms_xmr {
	struct ms_xmr *next;
	char *addr;
	size_t len;
};

struct creq {
	struct creq *next;              /* FIFO, or free list */
	uint8_t hdr[MS_FRAME_HDR];
	uint64_t id;
	uint8_t type;                   /* MS_F_READ_REQ, _WRITE_REQ, _CTRL_REQ */
	char *buf;                      /* READ: destination; else what to send */
	uint32_t len;                   /* data length / control payload */
	uint32_t plen;                  /* payload bytes sent after the header */
	size_t sent;                    /* of header + payload */
	void *ctx;
};

struct conn {
	struct ms_xconn pub;
	int fd;
	int dead;                       /* 0, or the status everything failed with */
	int timeout_ms;                 /* stall limit; <= 0: none */
	void (*on_notify)(void *ud, const void *msg, size_t len);
	void *notify_ud;
	uint64_t next_id;
	struct creq *slots, *free;
	struct creq *head, *tail;       /* in flight, oldest first */
	struct creq *unsent;            /* first with bytes left to send */
	unsigned inflight;              /* data requests in the FIFO */
	struct ms_xring cq;             /* completions not yet polled */
	/* the control call in progress */
	struct creq ctrl;
	bool in_call, ctrl_done;
	int ctrl_status;
	char *resp;
	size_t cap, resp_len;
	/* receive state */
	bool rx_payload;                /* receiving f's payload */
	struct ms_frame f;
	char *dst;                      /* payload destination, NULL: discard */
	size_t want, got;
	char *note;                     /* NOTIFY payload */
	uint64_t last_io;               /* ns of the last byte moved */
	struct ms_xmr *mrs;
	size_t boff, blen;              /* unparsed bytes: buf[boff..blen) */
	uint8_t buf[RXBUF];
};

static struct conn *to_conn(struct ms_xconn *x)
{
	return ms_container_of(x, struct conn, pub);
}

static void fifo_push(struct conn *c, struct creq *r)
{
	if (!c->head)
		c->last_io = ms_now_ns(); /* the stall clock starts now */
	r->next = NULL;
	if (c->tail)
		c->tail->next = r;
	else
		c->head = r;
	c->tail = r;
	if (!c->unsent)
		c->unsent = r;
}

/* The head request is answered (or failed): complete it. */
static void complete_head(struct conn *c, int status)
{
	struct creq *r = c->head;

	c->head = r->next;
	if (!c->head)
		c->tail = NULL;
	if (c->unsent == r)
		c->unsent = r->next;
	if (r == &c->ctrl) {
		c->ctrl_done = true;
		c->ctrl_status = status;
		return;
	}
	ms_xring_push(&c->cq, r->ctx, status, r->len);
	c->inflight--;
	r->next = c->free;
	c->free = r;
}

/* The connection is gone: fail everything in flight, in one place. */
static void conn_fail(struct conn *c, int status)
{
	if (c->dead)
		return;
	c->dead = status;
	close(c->fd);
	c->fd = -1;
	while (c->head)
		complete_head(c, status);
	free(c->note);
	c->note = NULL;
	c->rx_payload = false;
	c->boff = c->blen = 0;
}

static int do_send(struct conn *c)
{
	struct iovec iov[TX_IOV];
	struct creq *r;
	size_t rem, start;
	ssize_t n;
	int cnt, moved = 0;

	while (c->unsent && !c->dead) {
		cnt = 0;
		for (r = c->unsent; r && cnt + 2 <= TX_IOV; r = r->next) {
			if (r->sent < MS_FRAME_HDR)
				iov[cnt++] = (struct iovec){ r->hdr + r->sent,
							     MS_FRAME_HDR - r->sent };
			start = r->sent > MS_FRAME_HDR ? r->sent - MS_FRAME_HDR : 0;
			if (r->plen > start)
				iov[cnt++] = (struct iovec){ r->buf + start, r->plen - start };
		}
		n = ms_sock_sendv(c->fd, iov, cnt);
		if (n == -EAGAIN)
			break;
		if (n < 0) {
			conn_fail(c, -ECONNRESET);
			break;
		}
		moved = 1;
		while ((r = c->unsent) && n > 0) {
			rem = MS_FRAME_HDR + r->plen - r->sent;
			if ((size_t)n < rem) {
				r->sent += (size_t)n;
				break;
			}
			r->sent += rem;
			n -= (ssize_t)rem;
			c->unsent = r->next;
		}
	}
	return moved;
}

/* The current frame, payload included, has arrived. */
static void frame_done(struct conn *c)
{
	char *note;

	c->rx_payload = false;
	switch (c->f.type) {
	case MS_F_READ_RESP:
	case MS_F_WRITE_RESP:
		complete_head(c, c->f.status);
		break;
	case MS_F_CTRL_RESP:
		c->resp_len = c->f.plen;
		complete_head(c, (!c->dst && c->f.plen) ? -EMSGSIZE : c->f.status);
		break;
	default:
		note = c->note;
		c->note = NULL;
		if (c->on_notify)
			c->on_notify(c->notify_ud, note, c->f.plen);
		free(note);
		break;
	}
}

static bool matches(const struct creq *r, const struct ms_frame *f)
{
	uint8_t want = r->type == MS_F_READ_REQ    ? MS_F_READ_RESP
		       : r->type == MS_F_WRITE_REQ ? MS_F_WRITE_RESP
						   : MS_F_CTRL_RESP;

	return f->type == want && f->id == r->id && r->sent == MS_FRAME_HDR + r->plen &&
	       (f->type == MS_F_CTRL_RESP || f->len == r->len);
}

static void handle_hdr(struct conn *c)
{
	struct creq *r = c->head;
	struct ms_frame *f = &c->f;

	if (ms_frame_decode(c->buf + c->boff, c->blen - c->boff, MS_FRAME_ACCEPT_CLIENT,
			    c->pub.max_io, f, NULL, 0)) {
		conn_fail(c, -ECONNRESET);
		return;
	}
	c->boff += MS_FRAME_HDR;
	c->dst = NULL;
	if (f->type == MS_F_NOTIFY) {
		c->dst = c->note = malloc(f->plen ? f->plen : 1);
		if (!c->note) {
			conn_fail(c, -ECONNRESET);
			return;
		}
	} else if (!r || !matches(r, f)) {
		/* An answer to nothing we asked: the stream is not memsync's. */
		conn_fail(c, -ECONNRESET);
		return;
	} else if (f->type == MS_F_READ_RESP) {
		c->dst = r->buf;
	} else if (f->type == MS_F_CTRL_RESP && f->plen <= c->cap) {
		c->dst = c->resp;
	}
	c->want = f->plen;
	c->got = 0;
	c->rx_payload = true;
	if (!c->want)
		frame_done(c);
}

/* Receive what has arrived.  Buffered bytes are always processed (poll(2)
 * would not report them); the budget bounds recv calls only, and when it
 * runs out the socket still has data, so the next poll(2) returns at once. */
static int do_recv(struct conn *c)
{
	int budget = 32, moved = 0;
	size_t avail, n, room;
	ssize_t r;

	while (!c->dead) {
		avail = c->blen - c->boff;
		if (!c->rx_payload && avail >= MS_FRAME_HDR) {
			handle_hdr(c);
			continue;
		}
		if (c->rx_payload && avail) {
			n = MS_MIN(avail, c->want - c->got);
			if (c->dst)
				memcpy(c->dst + c->got, c->buf + c->boff, n);
			c->boff += n;
			c->got += n;
			if (c->got == c->want)
				frame_done(c);
			continue;
		}
		if (budget-- == 0)
			break;
		if (!c->rx_payload) {
			memmove(c->buf, c->buf + c->boff, avail);
			c->boff = 0;
			c->blen = avail;
			/* Before a large READ response take just the header,
			 * so that its payload lands in place, not in buf. */
			room = RXBUF - avail;
			if (c->head && c->head->type == MS_F_READ_REQ && c->head->len >= BIG_READ)
				room = MS_FRAME_HDR - avail;
			r = ms_sock_recv(c->fd, c->buf + avail, room);
		} else if (c->dst) {
			r = ms_sock_recv(c->fd, c->dst + c->got, c->want - c->got);
		} else {
			r = recv(c->fd, NULL, c->want - c->got, MSG_TRUNC | MSG_DONTWAIT);
			if (r < 0)
				r = errno == EINTR ? -EAGAIN : -errno;
		}
		if (r == -EAGAIN)
			break;
		if (r <= 0) {
			conn_fail(c, -ECONNRESET);
			break;
		}
		moved = 1;
		if (!c->rx_payload) {
			c->blen += (size_t)r;
		} else {
			c->got += (size_t)r;
			if (c->got == c->want)
				frame_done(c);
		}
	}
	return moved;
}

static void progress(struct conn *c)
{
	int moved;

	if (c->dead)
		return;
	moved = do_send(c);
	moved |= do_recv(c);
	/* Reading may have let the server read again: send what is left. */
	if (c->unsent)
		moved |= do_send(c);
	if (moved)
		c->last_io = ms_now_ns();
}

/* Milliseconds until the stall limit, -1 when nothing is in flight or
 * there is no limit, 0 when it has passed. */
static int stall_left(struct conn *c)
{
	uint64_t now = ms_now_ns(), lim;

	if (!c->head || c->timeout_ms <= 0)
		return -1;
	lim = c->last_io + (uint64_t)c->timeout_ms * 1000000;
	return now >= lim ? 0 : (int)((lim - now) / 1000000 + 1);
}

/* Wait for the socket (or until tmo ms); then move bytes. */
static void wait_and_progress(struct conn *c, int tmo)
{
	struct pollfd pfd = { .fd = c->fd, .events = POLLIN };

	if (c->unsent)
		pfd.events |= POLLOUT;
	if (poll(&pfd, 1, tmo) != 0)    /* EINTR: just look again */
		progress(c);
}

static int tcp_post(struct ms_xconn *x, const struct ms_xwr *wrs, size_t n)
{
	struct conn *c = to_conn(x);
	const struct ms_xwr *w;
	struct ms_xmr *m;
	struct creq *r;
	struct ms_frame f;

	if (c->dead)
		return -ENOTCONN;
	/* More than depth can never fit: an error, not "try again". */
	if ((n && !wrs) || n > c->pub.depth)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		w = &wrs[i];
		if ((w->op != MS_XOP_READ && w->op != MS_XOP_WRITE) || !w->remote ||
		    w->len > c->pub.max_io || (w->len && !w->local))
			return -EINVAL;
		if (!w->lmr)
			continue;
		for (m = c->mrs; m && m != w->lmr; m = m->next)
			;
		if (!m || (uintptr_t)w->local < (uintptr_t)m->addr ||
		    w->len > m->len - ((uintptr_t)w->local - (uintptr_t)m->addr))
			return -EINVAL;
	}
	if (n > c->pub.depth - c->inflight - c->cq.n)
		return -EAGAIN;
	for (size_t i = 0; i < n; i++) {
		w = &wrs[i];
		r = c->free;
		c->free = r->next;
		r->id = c->next_id++;
		r->type = w->op == MS_XOP_READ ? MS_F_READ_REQ : MS_F_WRITE_REQ;
		r->buf = w->local;
		r->len = w->len;
		r->plen = w->op == MS_XOP_WRITE ? w->len : 0;
		r->sent = 0;
		r->ctx = w->ctx;
		f = (struct ms_frame){
			.type = r->type, .plen = r->plen, .id = r->id,
			.key = w->remote->rkey, .addr = w->remote->addr + w->roff, .len = w->len,
		};
		ms_frame_encode(&f, r->hdr);
		fifo_push(c, r);
		c->inflight++;
	}
	return 0;
}

static int tcp_poll(struct ms_xconn *x, struct ms_xwc *wcs, int max, int timeout_ms)
{
	struct conn *c = to_conn(x);
	uint64_t deadline = timeout_ms > 0 ? ms_now_ns() + (uint64_t)timeout_ms * 1000000 : 0;
	int left;

	if (!wcs || max <= 0)
		return -EINVAL;
	progress(c);
	while (!c->cq.n && !c->dead && timeout_ms != 0) {
		left = ms_left(deadline);
		if (left == 0)
			break;
		if (stall_left(c) == 0) {
			conn_fail(c, -ETIMEDOUT);
			break;
		}
		wait_and_progress(c, ms_min_tmo(left, stall_left(c)));
	}
	if (!c->cq.n)
		return c->dead ? -ENOTCONN : 0;
	return ms_xring_pop(&c->cq, wcs, max);
}

static unsigned tcp_outstanding(struct ms_xconn *x)
{
	struct conn *c = to_conn(x);

	return c->inflight + c->cq.n;
}

/* timeout_ms: > 0 limit, 0 the connection's default, < 0 none. */
static int tcp_call(struct ms_xconn *x, const void *req, size_t len, void *resp, size_t cap,
		    size_t *resp_len, int timeout_ms)
{
	struct conn *c = to_conn(x);
	struct ms_frame f = { .type = MS_F_CTRL_REQ, .plen = (uint32_t)len };
	uint64_t deadline = 0;
	int tmo = timeout_ms ? timeout_ms : c->timeout_ms;

	if (c->dead)
		return -ECONNRESET;
	if (c->in_call)
		return -EBUSY;          /* e.g. from inside on_notify */
	if ((len && !req) || (cap && !resp))
		return -EINVAL;
	if (len > MS_CTRL_MAX)
		return -EMSGSIZE;
	f.id = c->next_id++;
	c->ctrl = (struct creq){ .id = f.id, .type = MS_F_CTRL_REQ, .buf = (char *)req,
				 .len = (uint32_t)len, .plen = (uint32_t)len };
	ms_frame_encode(&f, c->ctrl.hdr);
	c->in_call = true;
	c->ctrl_done = false;
	c->resp = resp;
	c->cap = cap;
	if (tmo > 0)
		deadline = ms_now_ns() + (uint64_t)tmo * 1000000;
	fifo_push(c, &c->ctrl);
	progress(c);
	/* Only the call's own limit applies: the server answers in order, so
	 * data behind a slow control request is not stalled, just waiting. */
	while (!c->ctrl_done) {
		if (ms_left(deadline) == 0) {
			/* The server's state after a lost call is unknown:
			 * drop the connection so that it releases ours. */
			conn_fail(c, -ETIMEDOUT);
			break;
		}
		wait_and_progress(c, ms_left(deadline));
	}
	c->in_call = false;
	if (!c->ctrl_status && resp_len)
		*resp_len = c->resp_len;
	return c->ctrl_status;
}

static int tcp_connect(const char *host, const char *port, const struct ms_xopts *o,
		       struct ms_xconn **out, char *err, size_t errlen)
{
	struct ms_xopts def = { 0 };
	struct conn *c;
	int fd;

	if (!err)
		errlen = 0;
	if (!o)
		o = &def;
	if (!out) {
		snprintf(err, errlen, "no result pointer");
		return -EINVAL;
	}
	if (o->depth > DEPTH_MAX) {
		snprintf(err, errlen, "queue depth %u over the limit of %u", o->depth,
			 DEPTH_MAX);
		return -EINVAL;
	}
	if (o->max_io > MS_TCP_MAX_IO) {
		snprintf(err, errlen, "max_io %u over the limit of %u", o->max_io,
			 MS_TCP_MAX_IO);
		return -EINVAL;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		goto nomem;
	c->pub.ops = &ms_tcp_ops;
	c->pub.depth = o->depth ? o->depth : DEPTH_DEFAULT;
	c->pub.max_io = o->max_io ? o->max_io : MAX_IO_DEFAULT;
	c->timeout_ms = o->timeout_ms ? o->timeout_ms : TIMEOUT_DEFAULT_MS;
	c->on_notify = o->on_notify;
	c->notify_ud = o->notify_ud;
	c->next_id = 1;
	c->slots = calloc(c->pub.depth, sizeof(*c->slots));
	c->cq = (struct ms_xring){ .wc = calloc(c->pub.depth, sizeof(struct ms_xwc)),
				   .cap = c->pub.depth };
	if (!c->slots || !c->cq.wc)
		goto nomem;
	for (unsigned i = 0; i < c->pub.depth; i++) {
		c->slots[i].next = c->free;
		c->free = &c->slots[i];
	}
	fd = ms_sock_connect(host, port, c->timeout_ms, SOCKBUF, err, errlen);
	if (fd < 0) {
		free(c->slots);
		free(c->cq.wc);
		free(c);
		return fd;
	}
	c->fd = fd;
	*out = &c->pub;
	return 0;
nomem:
	if (c) {
		free(c->slots);
		free(c->cq.wc);
		free(c);
	}
	snprintf(err, errlen, "out of memory");
	return -ENOMEM;
}

static void tcp_close(struct ms_xconn *x)
{
	struct conn *c;
	struct ms_xmr *m;

	if (!x)
		return;
	c = to_conn(x);
	if (c->fd >= 0)
		close(c->fd);
	while ((m = c->mrs)) {
		c->mrs = m->next;
		free(m);
	}
	free(c->note);
	free(c->slots);
	free(c->cq.wc);
	free(c);
}

/* TCP needs no registration, but keeping one lets post() catch a buffer
 * outside the registration it names, as RDMA would. */
static int tcp_reg_mr(struct ms_xconn *x, void *addr, size_t len, struct ms_xmr **out)
{
	struct conn *c = to_conn(x);
	struct ms_xmr *m;

	if (!addr || !len || !out)
		return -EINVAL;
	m = malloc(sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->addr = addr;
	m->len = len;
	m->next = c->mrs;
	c->mrs = m;
	*out = m;
	return 0;
}

static void tcp_dereg_mr(struct ms_xconn *x, struct ms_xmr *mr)
{
	struct conn *c = to_conn(x);
	struct ms_xmr **pp;

	for (pp = &c->mrs; *pp; pp = &(*pp)->next) {
		if (*pp == mr) {
			*pp = mr->next;
			free(mr);
			return;
		}
	}
}

const struct ms_transport_ops ms_tcp_ops = {
	.name = "tcp",
	.connect = tcp_connect,
	.reg_mr = tcp_reg_mr,
	.dereg_mr = tcp_dereg_mr,
	.post = tcp_post,
	.poll = tcp_poll,
	.outstanding = tcp_outstanding,
	.call = tcp_call,
	.close = tcp_close,
	.listen = ms_tcp_listen,
	.srv_reg_mr = ms_tcp_srv_reg_mr,
	.srv_dereg_mr = ms_tcp_srv_dereg_mr,
	.srv_mr_stats = ms_tcp_srv_mr_stats,
	.srv_run = ms_tcp_srv_run,
	.srv_stop = ms_tcp_srv_stop,
	.srv_notify = ms_tcp_srv_notify,
	.srv_close = ms_tcp_srv_close,
};
