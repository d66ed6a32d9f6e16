/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fnic_cm.c - the rdma_cm half of the fake NIC (see fnic.h): event
 * channels (a pipe whose bytes count queued events), ids bound to the fake
 * devices' addresses, a listener table, and the connection handshake
 * between two ids of this process.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fnic_int.h"

struct fev {
	struct rdma_cm_event ev;        /* first */
	struct fev *next;
	uint8_t pdata[64];
};

struct fechan {
	struct rdma_event_channel ch;   /* first */
	int wfd;
	struct fev *q, **tail;
};

enum fstate { FS_IDLE, FS_CONNECTING, FS_CONNECTED, FS_DONE };

struct fid {
	struct rdma_cm_id id;           /* first */
	struct fid *next;               /* every live id */
	struct fid *peer;               /* the other end of the connection */
	enum fstate st;
	bool listening;
	uint16_t port;                  /* bound (or source) port */
	int dev;
};

static struct fid *ids;
static uint16_t next_port = 20000;

int fnic_dev_of(const struct sockaddr *sa)
{
	const struct sockaddr_in *in = (const void *)sa;
	char ip[INET_ADDRSTRLEN];

	if (!sa || sa->sa_family != AF_INET || !inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip)))
		return -1;
	return !strcmp(ip, FNIC_ADDR) ? 0 : !strcmp(ip, FNIC_ADDR2) ? 1 : -1;
}

void fnic_cm_each_qp(void (*fn)(struct fqp *))
{
	for (struct fid *f = ids; f; f = f->next)
		if (f->id.qp)
			fn((struct fqp *)f->id.qp);
}

/* ------------------------------------------------------------ events */

struct rdma_event_channel *rdma_create_event_channel(void)
{
	struct fechan *c = calloc(1, sizeof(*c));
	int fds[2];

	if (!c || pipe2(fds, O_CLOEXEC)) {
		free(c);
		errno = ENOMEM;
		return NULL;
	}
	c->ch.fd = fds[0];
	c->wfd = fds[1];
	c->tail = &c->q;
	return &c->ch;
}

void rdma_destroy_event_channel(struct rdma_event_channel *ch)
{
	struct fechan *c = (struct fechan *)ch;
	struct fev *e;

	pthread_mutex_lock(&fnic_lock);
	while ((e = c->q)) {
		c->q = e->next;
		free(e);
	}
	pthread_mutex_unlock(&fnic_lock);
	close(c->ch.fd);
	close(c->wfd);
	free(c);
}

static void post_event(struct fid *f, enum rdma_cm_event_type t, int status,
		       const struct rdma_conn_param *cp, struct fid *listener)
{
	struct fechan *c = (struct fechan *)f->id.channel;
	struct fev *e = calloc(1, sizeof(*e));

	if (!e)
		abort();
	e->ev.id = &f->id;
	e->ev.listen_id = listener ? &listener->id : NULL;
	e->ev.event = t;
	e->ev.status = status;
	if (cp) {
		e->ev.param.conn = *cp;
		e->ev.param.conn.private_data = NULL;
		if (cp->private_data && cp->private_data_len) {
			e->ev.param.conn.private_data_len =
				(uint8_t)(cp->private_data_len < 56 ? cp->private_data_len : 56);
			memcpy(e->pdata, cp->private_data, e->ev.param.conn.private_data_len);
			e->ev.param.conn.private_data = e->pdata;
		}
	}
	*c->tail = e;
	c->tail = &e->next;
	if (write(c->wfd, "e", 1) != 1)
		abort();
}

/* Blocking or not as the channel's fd is: a byte per event queued (bytes
 * of events dropped with their id are skipped). */
int rdma_get_cm_event(struct rdma_event_channel *ch, struct rdma_cm_event **ev)
{
	struct fechan *c = (struct fechan *)ch;
	struct fev *e = NULL;
	char b;

	while (!e) {
		if (read(c->ch.fd, &b, 1) != 1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		pthread_mutex_lock(&fnic_lock);
		if ((e = c->q)) {
			c->q = e->next;
			if (!c->q)
				c->tail = &c->q;
		}
		pthread_mutex_unlock(&fnic_lock);
	}
	*ev = &e->ev;
	return 0;
}

int rdma_ack_cm_event(struct rdma_cm_event *ev)
{
	free(ev);
	return 0;
}

const char *rdma_event_str(enum rdma_cm_event_type t)
{
	static const char *const names[] = {
		"RDMA_CM_EVENT_ADDR_RESOLVED", "RDMA_CM_EVENT_ADDR_ERROR",
		"RDMA_CM_EVENT_ROUTE_RESOLVED", "RDMA_CM_EVENT_ROUTE_ERROR",
		"RDMA_CM_EVENT_CONNECT_REQUEST", "RDMA_CM_EVENT_CONNECT_RESPONSE",
		"RDMA_CM_EVENT_CONNECT_ERROR", "RDMA_CM_EVENT_UNREACHABLE",
		"RDMA_CM_EVENT_REJECTED", "RDMA_CM_EVENT_ESTABLISHED",
		"RDMA_CM_EVENT_DISCONNECTED", "RDMA_CM_EVENT_DEVICE_REMOVAL",
	};

	return (unsigned)t < sizeof(names) / sizeof(names[0]) ? names[t] : "UNKNOWN EVENT";
}

/* ------------------------------------------------------------ ids */

int rdma_create_id(struct rdma_event_channel *ch, struct rdma_cm_id **idp, void *ctx,
		   enum rdma_port_space ps)
{
	struct fid *f = calloc(1, sizeof(*f));

	if (!f || !ch) {
		free(f);
		errno = f ? EINVAL : ENOMEM;
		return -1;
	}
	f->id.channel = ch;
	f->id.context = ctx;
	f->id.ps = ps;
	f->dev = -1;
	pthread_mutex_lock(&fnic_lock);
	f->next = ids;
	ids = f;
	pthread_mutex_unlock(&fnic_lock);
	*idp = &f->id;
	return 0;
}

/* The connection of f ends: its peer hears of it, both QPs fail. */
static void cut(struct fid *f)
{
	struct fid *p = f->peer;

	if (f->id.qp)
		fnic_qp_error((struct fqp *)f->id.qp);
	if (p) {
		if (p->id.qp)
			fnic_qp_error((struct fqp *)p->id.qp);
		if (p->st == FS_CONNECTED || p->st == FS_CONNECTING)
			post_event(p, p->st == FS_CONNECTED ? RDMA_CM_EVENT_DISCONNECTED
							    : RDMA_CM_EVENT_REJECTED,
				   p->st == FS_CONNECTED ? 0 : 28, NULL, NULL);
		p->st = FS_DONE;
		p->peer = NULL;
	}
	f->peer = NULL;
	f->st = FS_DONE;
}

int rdma_destroy_id(struct rdma_cm_id *id)
{
	struct fid *f = (struct fid *)id, **pp;
	struct fechan *c = (struct fechan *)id->channel;

	pthread_mutex_lock(&fnic_lock);
	if (f->peer)
		cut(f);
	for (pp = &ids; *pp && *pp != f; pp = &(*pp)->next)
		;
	if (*pp)
		*pp = f->next;
	/* events still queued for it are dropped */
	for (struct fev **ep = &c->q; *ep;) {
		if ((*ep)->ev.id == id || (*ep)->ev.listen_id == id) {
			struct fev *e = *ep;

			*ep = e->next;
			free(e);
		} else {
			ep = &(*ep)->next;
		}
	}
	c->tail = &c->q;
	while (*c->tail)
		c->tail = &(*c->tail)->next;
	pthread_mutex_unlock(&fnic_lock);
	free(f);
	return 0;
}

static bool port_taken(int dev, uint16_t port)
{
	for (struct fid *f = ids; f; f = f->next)
		if (f->dev == dev && f->port == port && f->listening)
			return true;
	return false;
}

int rdma_bind_addr(struct rdma_cm_id *id, struct sockaddr *addr)
{
	struct fid *f = (struct fid *)id;
	struct sockaddr_in *in = (struct sockaddr_in *)&id->route.addr.src_addr;
	uint16_t port;
	int rc = 0;

	if (!addr || addr->sa_family != AF_INET) {
		errno = EAFNOSUPPORT;
		return -1;
	}
	pthread_mutex_lock(&fnic_lock);
	f->dev = fnic_dev_of(addr);
	port = be16toh(((struct sockaddr_in *)addr)->sin_port);
	if (f->dev >= 0 && port && port_taken(f->dev, port)) {
		rc = EADDRINUSE;
	} else {
		if (!port)
			port = next_port++;
		f->port = port;
		/* an address that is not a device's binds, with no device */
		id->verbs = f->dev >= 0 ? &fnic_ctx[f->dev] : NULL;
		id->port_num = 1;
		memcpy(in, addr, sizeof(*in));
		in->sin_port = htobe16(port);
	}
	pthread_mutex_unlock(&fnic_lock);
	if (rc) {
		errno = rc;
		return -1;
	}
	return 0;
}

int rdma_listen(struct rdma_cm_id *id, int backlog)
{
	struct fid *f = (struct fid *)id;
	int rc = 0;

	(void)backlog;
	pthread_mutex_lock(&fnic_lock);
	if (f->dev < 0)
		rc = ENODEV;
	else if (port_taken(f->dev, f->port))
		rc = EADDRINUSE;
	else
		f->listening = true;
	pthread_mutex_unlock(&fnic_lock);
	if (rc) {
		errno = rc;
		return -1;
	}
	return 0;
}

__be16 rdma_get_src_port(struct rdma_cm_id *id)
{
	return htobe16(((struct fid *)id)->port);
}

int rdma_resolve_addr(struct rdma_cm_id *id, struct sockaddr *src, struct sockaddr *dst,
		      int timeout_ms)
{
	struct fid *f = (struct fid *)id;
	int ddev = fnic_dev_of(dst), sdev = src ? fnic_dev_of(src) : ddev;

	(void)timeout_ms;
	if (!dst) {
		errno = EINVAL;
		return -1;
	}
	pthread_mutex_lock(&fnic_lock);
	if (ddev < 0 || sdev < 0) {
		post_event(f, RDMA_CM_EVENT_ADDR_ERROR, -EHOSTUNREACH, NULL, NULL);
	} else {
		struct sockaddr_in *s = &id->route.addr.src_sin;

		f->dev = sdev;
		f->port = next_port++;
		id->verbs = &fnic_ctx[sdev];
		id->port_num = 1;
		memcpy(&id->route.addr.dst_sin, dst, sizeof(struct sockaddr_in));
		s->sin_family = AF_INET;
		inet_pton(AF_INET, sdev ? FNIC_ADDR2 : FNIC_ADDR, &s->sin_addr);
		s->sin_port = htobe16(f->port);
		post_event(f, RDMA_CM_EVENT_ADDR_RESOLVED, 0, NULL, NULL);
	}
	pthread_mutex_unlock(&fnic_lock);
	return 0;
}

int rdma_resolve_route(struct rdma_cm_id *id, int timeout_ms)
{
	(void)timeout_ms;
	pthread_mutex_lock(&fnic_lock);
	post_event((struct fid *)id, RDMA_CM_EVENT_ROUTE_RESOLVED, 0, NULL, NULL);
	pthread_mutex_unlock(&fnic_lock);
	return 0;
}

int rdma_create_qp(struct rdma_cm_id *id, struct ibv_pd *pd, struct ibv_qp_init_attr *qa)
{
	static uint32_t qpn = 100;
	struct fqp *q;

	if (!id->verbs || !pd || !qa->send_cq || !qa->recv_cq || qa->qp_type != IBV_QPT_RC ||
	    !(q = calloc(1, sizeof(*q)))) {
		errno = EINVAL;
		return -1;
	}
	q->qp = (struct ibv_qp){ .context = id->verbs, .qp_context = qa->qp_context, .pd = pd,
				 .send_cq = qa->send_cq, .recv_cq = qa->recv_cq,
				 .state = IBV_QPS_INIT, .qp_type = IBV_QPT_RC };
	q->sq_tail = &q->sq;
	q->rq_tail = &q->rq;
	q->max_send_wr = qa->cap.max_send_wr;
	pthread_mutex_lock(&fnic_lock);
	q->qp.qp_num = qpn++;
	id->qp = &q->qp;
	pthread_mutex_unlock(&fnic_lock);
	return 0;
}

void rdma_destroy_qp(struct rdma_cm_id *id)
{
	struct fqp *q = (struct fqp *)id->qp;
	struct fwr *w;

	if (!q)
		return;
	pthread_mutex_lock(&fnic_lock);
	if (q->peer)
		q->peer->peer = NULL;
	while ((w = q->sq)) {
		q->sq = w->next;
		free(w);
	}
	while ((w = q->rq)) {
		q->rq = w->next;
		free(w);
	}
	id->qp = NULL;
	pthread_mutex_unlock(&fnic_lock);
	free(q);
}

/* ------------------------------------------------------------ connect */

int rdma_connect(struct rdma_cm_id *id, struct rdma_conn_param *cp)
{
	struct fid *f = (struct fid *)id, *l, *s;
	struct rdma_conn_param req;
	int ddev = fnic_dev_of(&id->route.addr.dst_addr);
	uint16_t port = be16toh(id->route.addr.dst_sin.sin_port);

	pthread_mutex_lock(&fnic_lock);
	for (l = ids; l && !(l->listening && l->dev == ddev && l->port == port); l = l->next)
		;
	f->st = FS_CONNECTING;
	if (!l) {
		/* nobody listens: the peer's CM rejects (status 28) */
		f->st = FS_DONE;
		post_event(f, RDMA_CM_EVENT_REJECTED, 28, NULL, NULL);
		pthread_mutex_unlock(&fnic_lock);
		return 0;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		abort();
	s->id.channel = l->id.channel;
	s->id.context = l->id.context;
	s->id.ps = l->id.ps;
	s->id.verbs = l->id.verbs;
	s->id.port_num = 1;
	s->id.route.addr.src_sin = id->route.addr.dst_sin;
	s->id.route.addr.dst_sin = id->route.addr.src_sin;
	s->dev = l->dev;
	s->port = port;
	s->st = FS_CONNECTING;
	s->peer = f;
	f->peer = s;
	s->next = ids;
	ids = s;
	/* the request as the passive side sees it */
	req = *cp;
	req.responder_resources = cp->initiator_depth;
	req.initiator_depth = cp->responder_resources;
	post_event(s, RDMA_CM_EVENT_CONNECT_REQUEST, 0, &req, l);
	pthread_mutex_unlock(&fnic_lock);
	return 0;
}

int rdma_accept(struct rdma_cm_id *id, struct rdma_conn_param *cp)
{
	struct fid *s = (struct fid *)id, *c;
	struct fqp *sq = (struct fqp *)id->qp, *cq;
	int rc = 0;

	(void)cp;
	pthread_mutex_lock(&fnic_lock);
	c = s->peer;
	if (!sq) {
		rc = EINVAL;
	} else if (!c || c->st != FS_CONNECTING || !c->id.qp) {
		/* the client went away meanwhile (or never had a QP) */
		s->st = FS_CONNECTED;
		if (c)
			cut(s);
		else
			post_event(s, RDMA_CM_EVENT_DISCONNECTED, 0, NULL, NULL);
	} else {
		cq = (struct fqp *)c->id.qp;
		sq->peer = cq;
		cq->peer = sq;
		sq->qp.state = cq->qp.state = IBV_QPS_RTS;
		s->st = c->st = FS_CONNECTED;
		post_event(c, RDMA_CM_EVENT_ESTABLISHED, 0, NULL, NULL);
		post_event(s, RDMA_CM_EVENT_ESTABLISHED, 0, NULL, NULL);
	}
	pthread_mutex_unlock(&fnic_lock);
	if (rc) {
		errno = rc;
		return -1;
	}
	return 0;
}

int rdma_reject(struct rdma_cm_id *id, const void *pdata, uint8_t len)
{
	struct fid *s = (struct fid *)id;

	(void)pdata;
	(void)len;
	pthread_mutex_lock(&fnic_lock);
	if (s->peer) {
		s->peer->st = FS_CONNECTING;
		cut(s);
	}
	pthread_mutex_unlock(&fnic_lock);
	return 0;
}

int rdma_disconnect(struct rdma_cm_id *id)
{
	struct fid *f = (struct fid *)id;

	pthread_mutex_lock(&fnic_lock);
	if (f->peer || f->st == FS_CONNECTED)
		cut(f);
	pthread_mutex_unlock(&fnic_lock);
	return 0;
}

void fnic_drop_links(void)
{
	pthread_mutex_lock(&fnic_lock);
	for (struct fid *f = ids; f; f = f->next) {
		if (f->st == FS_CONNECTED && f->peer) {
			post_event(f, RDMA_CM_EVENT_DISCONNECTED, 0, NULL, NULL);
			cut(f);
		}
	}
	pthread_mutex_unlock(&fnic_lock);
}
