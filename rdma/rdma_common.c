/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rdma_common.c - pieces both halves of the RDMA transport use: registered
 * control buffers and their SEND/RECV, the control message header, work
 * completion status mapping, address resolution, and the probe that tells
 * `auto` whether RDMA reaches a host.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <arpa/inet.h>

#include "rdma_int.h"
#include "util.h"

#define PROBE_TIMEOUT_MS 2000

int ms_rdma_buf_init(struct ms_rdma_buf *b, struct ibv_pd *pd, enum ms_rdma_wr_type type,
		     void *owner)
{
	int rc;

	memset(b, 0, sizeof(*b));
	b->wr.type = (uint8_t)type;
	b->owner = owner;
	/* mmap: page aligned, and untouched pages cost nothing until used */
	b->mem = mmap(NULL, MS_RDMA_BUF, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		      -1, 0);
	if (b->mem == MAP_FAILED) {
		b->mem = NULL;
		return -ENOMEM;
	}
	b->mr = ibv_reg_mr(pd, b->mem, MS_RDMA_BUF, IBV_ACCESS_LOCAL_WRITE);
	if (!b->mr) {
		rc = errno ? -errno : -ENOMEM;
		munmap(b->mem, MS_RDMA_BUF);
		b->mem = NULL;
		return rc;
	}
	return 0;
}

void ms_rdma_buf_fini(struct ms_rdma_buf *b)
{
	if (b->mr)
		ibv_dereg_mr(b->mr);
	if (b->mem)
		munmap(b->mem, MS_RDMA_BUF);
	b->mr = NULL;
	b->mem = NULL;
}

int ms_rdma_post_recv(struct ibv_qp *qp, struct ms_rdma_buf *b)
{
	struct ibv_sge sge = { .addr = (uintptr_t)b->mem, .length = MS_RDMA_BUF,
			       .lkey = b->mr->lkey };
	struct ibv_recv_wr wr = { .wr_id = (uintptr_t)&b->wr, .sg_list = &sge, .num_sge = 1 };
	struct ibv_recv_wr *bad;
	int rc = ibv_post_recv(qp, &wr, &bad);

	if (rc)
		return -rc;
	b->busy = true;
	return 0;
}

int ms_rdma_post_msg(struct ibv_qp *qp, struct ms_rdma_buf *b, uint32_t type, const void *p,
		     size_t len)
{
	struct ibv_sge sge = { .addr = (uintptr_t)b->mem,
			       .length = (uint32_t)(MS_RDMA_MSG_HDR + len), .lkey = b->mr->lkey };
	struct ibv_send_wr wr = { .wr_id = (uintptr_t)&b->wr, .sg_list = &sge, .num_sge = 1,
				  .opcode = IBV_WR_SEND, .send_flags = IBV_SEND_SIGNALED };
	struct ibv_send_wr *bad;
	uint32_t h[2] = { htole32(type), htole32((uint32_t)len) };
	int rc;

	if (len > MS_CTRL_MAX)
		return -EMSGSIZE;
	memcpy(b->mem, h, sizeof(h));
	if (len)
		memcpy(b->mem + MS_RDMA_MSG_HDR, p, len);
	rc = ibv_post_send(qp, &wr, &bad);
	if (rc)
		return -rc;
	b->busy = true;
	return 0;
}

int ms_rdma_parse_msg(const struct ms_rdma_buf *b, uint32_t byte_len, uint32_t *type,
		      const char **payload, size_t *len)
{
	uint32_t h[2];

	if (byte_len < MS_RDMA_MSG_HDR)
		return -EPROTO;
	memcpy(h, b->mem, sizeof(h));
	h[0] = le32toh(h[0]);
	h[1] = le32toh(h[1]);
	if (h[0] < MS_RMSG_REQ || h[0] > MS_RMSG_NOTIFY || h[1] > MS_CTRL_MAX ||
	    h[1] != byte_len - MS_RDMA_MSG_HDR)
		return -EPROTO;
	*type = h[0];
	*payload = b->mem + MS_RDMA_MSG_HDR;
	*len = h[1];
	return 0;
}

int ms_rdma_wc_errno(enum ibv_wc_status st)
{
	switch (st) {
	case IBV_WC_SUCCESS:
		return 0;
	case IBV_WC_REM_ACCESS_ERR:
	case IBV_WC_LOC_PROT_ERR:
		return -EACCES;
	default:
		return -ECONNRESET;
	}
}

int ms_rdma_addr(const char *host, const char *port, bool passive,
		 struct sockaddr_storage *ss, char *err, size_t errlen)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0) };
	struct addrinfo *res;
	char *end;
	long p;
	int rc;

	p = strtol(port ? port : "", &end, 10);
	if (!port || !*port || *end || p < 0 || p > 65535) {
		snprintf(err, errlen, "invalid port '%s'", port ? port : "(null)");
		return -EINVAL;
	}
	rc = getaddrinfo(host, port, &hints, &res);
	if (rc) {
		snprintf(err, errlen, "cannot resolve %s: %s", host ? host : "(null)",
			 gai_strerror(rc));
		return -EHOSTUNREACH;
	}
	memset(ss, 0, sizeof(*ss));
	memcpy(ss, res->ai_addr, MS_MIN((size_t)res->ai_addrlen, sizeof(*ss)));
	freeaddrinfo(res);
	return 0;
}

void ms_rdma_addr_str(const struct sockaddr *sa, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)sa;

		inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip));
		port = ntohs(in->sin_port);
		snprintf(buf, len, "%s:%u", ip, port);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)sa;

		inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip));
		port = ntohs(in6->sin6_port);
		snprintf(buf, len, "[%s]:%u", ip, port);
	} else {
		snprintf(buf, len, "(unknown address)");
	}
}

int ms_rdma_set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	return 0;
}

int ms_rdma_next_event(struct rdma_event_channel *ch, int tmo_ms, struct rdma_cm_event **ev)
{
	struct pollfd pfd = { .fd = ch->fd, .events = POLLIN };
	int rc;

	do
		rc = poll(&pfd, 1, tmo_ms);
	while (rc < 0 && errno == EINTR);
	if (rc < 0)
		return -errno;
	if (rc == 0)
		return -ETIMEDOUT;
	if (rdma_get_cm_event(ch, ev))
		return -errno;
	return 0;
}

/* Address resolution in attempts of at most RESOLVE_STEP_MS: Linux (seen
 * with 6.1 on a veth pair) can miss the neighbour update that should wake a
 * pending resolution when the ARP reply is handled before the request is
 * queued; that request then sleeps for its whole timeout although the
 * neighbour is known, and only a short attempt gets past it. */
#define RESOLVE_STEP_MS 1000

int ms_rdma_resolve_addr(struct rdma_event_channel *ch, void *ctx, struct sockaddr *src,
			 struct sockaddr *dst, int tmo_ms, struct rdma_cm_id **idp, char *why,
			 size_t whylen)
{
	uint64_t end = ms_now_ns() + (uint64_t)(tmo_ms > 0 ? tmo_ms : 30000) * 1000000;
	enum rdma_cm_event_type t;
	struct rdma_cm_event *ev = NULL;
	struct rdma_cm_id *id;
	uint64_t now;
	int rc, st, step;

	*idp = NULL;
	for (;;) {
		if (rdma_create_id(ch, &id, ctx, RDMA_PS_TCP)) {
			rc = -errno;
			snprintf(why, whylen, "rdma_create_id: %s", strerror(errno));
			return rc;
		}
		now = ms_now_ns();
		step = now >= end ? 1
				  : (int)MS_MIN((end - now) / 1000000 + 1, (uint64_t)RESOLVE_STEP_MS);
		if (rdma_resolve_addr(id, src, dst, step)) {
			rc = -errno;
			snprintf(why, whylen, "%s", strerror(errno));
			rdma_destroy_id(id);
			return rc;
		}
		/* the kernel reports its own timeout as ADDR_ERROR: wait longer */
		rc = ms_rdma_next_event(ch, step + 1000, &ev);
		if (!rc && ev) {
			t = ev->event;
			st = ev->status;
			rdma_ack_cm_event(ev);
			if (t == RDMA_CM_EVENT_ADDR_RESOLVED) {
				*idp = id;
				return 0;
			}
			rc = st < 0 ? st : -EHOSTUNREACH;
			snprintf(why, whylen, "%s (%s)", strerror(-rc), rdma_event_str(t));
		} else {
			snprintf(why, whylen, "%s waiting for RDMA_CM_EVENT_ADDR_RESOLVED",
				 rc == -ETIMEDOUT ? "timed out" : strerror(-rc));
		}
		rdma_destroy_id(id);
		/* no route, no device: final; a timed-out attempt: again */
		if ((rc != -ETIMEDOUT && rc != -ENODATA) || ms_now_ns() >= end)
			return rc;
	}
}

int ms_rdma_usable(const char *host, char *why, size_t len)
{
	struct rdma_event_channel *ch;
	struct rdma_cm_id *id = NULL;
	struct sockaddr_storage ss;
	struct ibv_port_attr pa;
	char err[200];
	int rc, ok = 0;

	if (!why)
		len = 0;
	if (!host) {
		snprintf(why, len, "no peer address to probe");
		return 0;
	}
	ch = rdma_create_event_channel();
	if (!ch) {
		snprintf(why, len, "no RDMA device (rdma_cm: %s)", strerror(errno));
		return 0;
	}
	if (rdma_create_id(ch, &id, NULL, RDMA_PS_TCP)) {
		snprintf(why, len, "no RDMA device (rdma_create_id: %s)", strerror(errno));
		goto out;
	}
	rc = ms_rdma_addr(host, "0", false, &ss, err, sizeof(err));
	if (rc) {
		snprintf(why, len, "%s", err);
		goto out;
	}
	/* rdma_cm binds a loopback address to whichever device comes first:
	 * that says nothing about where the peer listens. */
	if ((ss.ss_family == AF_INET &&
	     (ntohl(((struct sockaddr_in *)&ss)->sin_addr.s_addr) >> 24) == 127) ||
	    (ss.ss_family == AF_INET6 &&
	     IN6_IS_ADDR_LOOPBACK(&((struct sockaddr_in6 *)&ss)->sin6_addr))) {
		snprintf(why, len, "%s is a loopback address", host);
		goto out;
	}
	rdma_destroy_id(id);    /* it showed that a device exists */
	rc = ms_rdma_resolve_addr(ch, NULL, NULL, (struct sockaddr *)&ss, PROBE_TIMEOUT_MS, &id,
				  err, sizeof(err));
	if (rc) {
		snprintf(why, len, "no RDMA route to %s (%s)", host, err);
		goto out;
	}
	if (!id || !id->verbs || ibv_query_port(id->verbs, id->port_num, &pa)) {
		snprintf(why, len, "%s resolves to no RDMA device", host);
		goto out;
	}
	if (pa.state != IBV_PORT_ACTIVE) {
		snprintf(why, len, "%s port %u reaches %s but is %s",
			 ibv_get_device_name(id->verbs->device), id->port_num, host,
			 ibv_port_state_str(pa.state));
		goto out;
	}
	snprintf(why, len, "%s port %u (ACTIVE) reaches %s",
		 ibv_get_device_name(id->verbs->device), id->port_num, host);
	ok = 1;
out:
	if (id)
		rdma_destroy_id(id);
	rdma_destroy_event_channel(ch);
	return ok;
}
