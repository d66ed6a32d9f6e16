/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tcp_client.c - the client half of the TCP fallback.
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
 * Slots, the completion ring, the stall clock and the poll()/call() wait
 * loops are the shared core's (src/xconn.c).  When the connection dies
 * (EOF, error, protocol violation, timeout), conn_fail() completes
 * everything in flight in one place; afterwards post() returns -ENOTCONN
 * and call() -ECONNRESET.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "frame.h"
#include "tcp_auth.h"
#include "tcp_int.h"
#include "tcp_sock.h"
#include "util.h"
#include "xconn.h"

#define SOCKBUF (4 << 20)       /* SO_SNDBUF/SO_RCVBUF: a few MiB in flight */
#define RXBUF 4096              /* header buffer */
#define TX_IOV 512
#define BIG_READ (32u << 10)    /* see do_recv() */

struct ms_xmr {
	struct ms_xlmr head;            /* TCP needs nothing more */
};

struct creq {
	struct ms_xslot slot;           /* data requests: ctx, len, free list */
	struct creq *next;              /* FIFO */
	uint8_t hdr[MS_FRAME_HDR];
	uint64_t id;
	uint8_t type;                   /* MS_F_READ_REQ, _WRITE_REQ, _CTRL_REQ */
	char *buf;                      /* READ: destination; else what to send */
	uint32_t len;                   /* data length / control payload */
	uint32_t plen;                  /* payload bytes sent after the header */
	size_t sent;                    /* of header + payload */
};

struct conn {
	struct ms_xcore k;              /* first: the shared core */
	int fd;
	uint64_t next_id;
	struct creq *slots;
	struct creq *head, *tail;       /* in flight, oldest first */
	struct creq *unsent;            /* first with bytes left to send */
	struct creq ctrl;               /* the control call in progress */
	size_t resp_len;
	/* receive state */
	bool rx_payload;                /* receiving f's payload */
	struct ms_frame f;
	char *dst;                      /* payload destination, NULL: discard */
	size_t want, got;
	char *note;                     /* NOTIFY payload */
	size_t boff, blen;              /* unparsed bytes: buf[boff..blen) */
	uint8_t buf[RXBUF];
};

static struct conn *to_conn(struct ms_xconn *x)
{
	return ms_container_of(x, struct conn, k.pub);
}

static struct conn *core_conn(struct ms_xcore *k)
{
	return ms_container_of(k, struct conn, k);
}

static void fifo_push(struct conn *c, struct creq *r)
{
	if (!c->head)
		c->k.last_io = ms_now_ns(); /* the stall clock starts now */
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
		ms_xcore_ctrl_done(&c->k, status, c->resp_len);
		return;
	}
	ms_xcore_complete(&c->k, &r->slot, status);
}

/* The connection is gone: fail everything in flight, in one place. */
static void conn_fail(struct conn *c, int status)
{
	if (!ms_xcore_fail(&c->k, status))
		return;
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

	while (c->unsent && !c->k.dead) {
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
		if (c->k.on_notify)
			c->k.on_notify(c->k.notify_ud, note, c->f.plen);
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
			    c->k.pub.max_io, f, NULL, 0)) {
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
	} else if (f->type == MS_F_CTRL_RESP && f->plen <= c->k.cap) {
		c->dst = c->k.resp;
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

	while (!c->k.dead) {
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

static void progress(struct ms_xcore *k)
{
	struct conn *c = core_conn(k);
	int moved;

	if (c->k.dead)
		return;
	moved = do_send(c);
	moved |= do_recv(c);
	/* Reading may have let the server read again: send what is left. */
	if (c->unsent)
		moved |= do_send(c);
	if (moved)
		c->k.last_io = ms_now_ns();
}

/* Wait for the socket (or until tmo ms); then move bytes. */
static void wait_and_progress(struct ms_xcore *k, int tmo)
{
	struct conn *c = core_conn(k);
	struct pollfd pfd = { .fd = c->fd, .events = POLLIN };

	if (c->unsent)
		pfd.events |= POLLOUT;
	if (poll(&pfd, 1, tmo) != 0)    /* EINTR: just look again */
		progress(k);
}

static void fail_op(struct ms_xcore *k, int status)
{
	conn_fail(core_conn(k), status);
}

static void send_ctrl(struct ms_xcore *k, const void *req, size_t len, uint64_t deadline)
{
	struct conn *c = core_conn(k);
	struct ms_frame f = { .type = MS_F_CTRL_REQ, .plen = (uint32_t)len };

	(void)deadline;
	f.id = c->next_id++;
	c->ctrl = (struct creq){ .id = f.id, .type = MS_F_CTRL_REQ, .buf = (char *)req,
				 .len = (uint32_t)len, .plen = (uint32_t)len };
	ms_frame_encode(&f, c->ctrl.hdr);
	fifo_push(c, &c->ctrl);
	progress(k);
}

static const struct ms_xcore_ops tcp_core_ops = {
	.progress = progress,
	.wait = wait_and_progress,
	.fail = fail_op,
	.send_ctrl = send_ctrl,
	.dead_call_rc = -ECONNRESET,
};

int ms_tcp_post(struct ms_xconn *x, const struct ms_xwr *wrs, size_t n)
{
	struct conn *c = to_conn(x);
	const struct ms_xwr *w;
	struct creq *r;
	struct ms_frame f;
	int rc = ms_xcore_check_post(&c->k, wrs, n, false);

	if (rc)
		return rc;
	for (size_t i = 0; i < n; i++) {
		w = &wrs[i];
		r = ms_container_of(ms_xcore_slot_get(&c->k, w->ctx, w->len), struct creq, slot);
		r->id = c->next_id++;
		r->type = w->op == MS_XOP_READ ? MS_F_READ_REQ : MS_F_WRITE_REQ;
		r->buf = w->local;
		r->len = w->len;
		r->plen = w->op == MS_XOP_WRITE ? w->len : 0;
		r->sent = 0;
		f = (struct ms_frame){
			.type = r->type, .plen = r->plen, .id = r->id,
			.key = w->remote->rkey, .addr = w->remote->addr + w->roff, .len = w->len,
		};
		ms_frame_encode(&f, r->hdr);
		fifo_push(c, r);
	}
	return 0;
}

int ms_tcp_connect(const char *host, const char *port, const struct ms_xopts *o,
		   struct ms_xconn **out, char *err, size_t errlen)
{
	struct conn *c;
	int rc;

	c = ms_xcore_new(sizeof(*c), &ms_tcp_ops, &tcp_core_ops, o, out != NULL, MS_TCP_MAX_IO,
			 err, errlen, &rc);
	if (!c)
		return rc;
	if (!err)
		errlen = 0;
	c->fd = -1;
	c->next_id = 1;
	c->slots = calloc(c->k.pub.depth, sizeof(*c->slots));
	if (!c->slots || ms_xcore_init_ring(&c->k, c->k.pub.depth)) {
		rc = -ENOMEM;
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	for (unsigned i = c->k.pub.depth; i-- > 0;)
		ms_xcore_slot_put(&c->k, &c->slots[i].slot);
	c->fd = ms_sock_connect(host, port, c->k.timeout_ms, SOCKBUF, err, errlen);
	if (c->fd < 0) {
		rc = c->fd;
		c->fd = -1;
		goto fail;
	}
	if (o && o->key) {
		struct tcp_auth_io io = tcp_auth_fd_io;

		io.ud = (void *)(intptr_t)c->fd;
		rc = tcp_auth_client(&io, o->key, "tcp", 3, c->k.timeout_ms, err, errlen);
		if (rc)
			goto fail;
	}
	*out = &c->k.pub;
	return 0;
fail:
	ms_tcp_close(&c->k.pub);
	return rc;
}

void ms_tcp_close(struct ms_xconn *x)
{
	struct conn *c;

	if (!x)
		return;
	c = to_conn(x);
	if (c->fd >= 0)
		close(c->fd);
	ms_xcore_fini(&c->k, NULL);
	free(c->note);
	free(c->slots);
	free(c);
}

/* TCP needs no registration, but keeping one lets post() catch a buffer
 * outside the registration it names, as RDMA would. */
int ms_tcp_reg_mr(struct ms_xconn *x, void *addr, size_t len, struct ms_xmr **out)
{
	struct ms_xlmr *h;
	int rc = ms_xcore_mr_alloc(addr, len, out, sizeof(struct ms_xmr), &h);

	if (rc)
		return rc;
	ms_xcore_add_mr(ms_xcore_of(x), h, addr, len);
	*out = ms_container_of(h, struct ms_xmr, head);
	return 0;
}

void ms_tcp_dereg_mr(struct ms_xconn *x, struct ms_xmr *mr)
{
	if (mr && ms_xcore_del_mr(ms_xcore_of(x), &mr->head))
		free(mr);
}
