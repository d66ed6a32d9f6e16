/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rdma_int.h - what the halves of the RDMA transport share: the connection
 * private data, control messages carried by SEND/RECV, type-tagged work
 * request ids, registered control buffers, NUMA placement.  Only the rdma/
 * sources include this.
 *
 * Control messages: an 8-byte header {type, len} (little endian) and up to
 * MS_CTRL_MAX bytes of payload, sent from and received into registered
 * buffers of MS_RDMA_BUF bytes.  Every peer has at most one request
 * outstanding (the client's call() is synchronous), so two receive buffers
 * per side are always enough: one for the reply, one for a notification.
 */
#ifndef MS_RDMA_INT_H
#define MS_RDMA_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include <infiniband/verbs.h>
#include <rdma/rdma_cma.h>

#include "rdma.h"

#define MS_RDMA_MAGIC 0x524e594du       /* "MYNR" as little-endian bytes */
#define MS_RDMA_VERSION 1
#define MS_RDMA_MAX_IO (16u << 20)
#define MS_RDMA_MSG_HDR 8
#define MS_RDMA_BUF (MS_CTRL_MAX + MS_RDMA_MSG_HDR)
#define MS_RDMA_NRECV 2                 /* receive buffers per side */

/* rdma_connect private data: checked by the server before it accepts. */
struct ms_rdma_priv {
	uint32_t magic;                 /* MS_RDMA_MAGIC, little endian */
	uint32_t version;               /* MS_RDMA_VERSION */
};

enum ms_rdma_msg_type { MS_RMSG_REQ = 1, MS_RMSG_RESP = 2, MS_RMSG_NOTIFY = 3 };

/* Every work request's wr_id points at one of these, embedded first in its
 * context; the type says which container to recover (SPDK's pattern). */
enum ms_rdma_wr_type { MS_RWR_DATA = 1, MS_RWR_RECV = 2, MS_RWR_SEND = 3 };
struct ms_rdma_wr {
	uint8_t type;
};

/* A registered control buffer (one RECV or SEND at a time). */
struct ms_rdma_buf {
	struct ms_rdma_wr wr;
	bool busy;                      /* posted, completion not yet seen */
	char *mem;                      /* MS_RDMA_BUF bytes */
	struct ibv_mr *mr;
	void *owner;
};

int ms_rdma_buf_init(struct ms_rdma_buf *b, struct ibv_pd *pd, enum ms_rdma_wr_type type,
		     void *owner);
void ms_rdma_buf_fini(struct ms_rdma_buf *b);
int ms_rdma_post_recv(struct ibv_qp *qp, struct ms_rdma_buf *b);
/* Copy a message into b and SEND it (signaled). */
int ms_rdma_post_msg(struct ibv_qp *qp, struct ms_rdma_buf *b, uint32_t type, const void *p,
		     size_t len);
/* Check a received message: 0 with *type, *payload and *len, or -EPROTO. */
int ms_rdma_parse_msg(const struct ms_rdma_buf *b, uint32_t byte_len, uint32_t *type,
		      const char **payload, size_t *len);
/* An unsuccessful work completion as -errno: remote access errors are
 * -EACCES, everything else -ECONNRESET. */
int ms_rdma_wc_errno(enum ibv_wc_status st);
/* getaddrinfo for rdma_cm (numeric port; passive for listen). */
int ms_rdma_addr(const char *host, const char *port, bool passive,
		 struct sockaddr_storage *ss, char *err, size_t errlen);
/* "10.10.0.1:7400" */
void ms_rdma_addr_str(const struct sockaddr *sa, char *buf, size_t len);
/* A new rdma_cm id on ch (context ctx) with dst resolved from src (may be
 * NULL), within tmo_ms (0: 30 s): 0 and *idp, or -errno with the reason in
 * why.  Retries short attempts (see rdma_common.c). */
int ms_rdma_resolve_addr(struct rdma_event_channel *ch, void *ctx, struct sockaddr *src,
			 struct sockaddr *dst, int tmo_ms, struct rdma_cm_id **idp, char *why,
			 size_t whylen);
/* Wait (bounded) for the next event on a blocking-mode channel. */
int ms_rdma_next_event(struct rdma_event_channel *ch, int tmo_ms, struct rdma_cm_event **ev);
int ms_rdma_set_nonblock(int fd);

/* NUMA placement near a device (rdma_place.c). */
struct ms_rdma_place {
	int node;                       /* NUMA node chosen */
	int nnodes;
	char cpus[128];                 /* that node's CPUs, "0-1" */
	char how[200];                  /* how the node was found */
	void *topo;                     /* hwloc_topology_t, or NULL */
	void *cpuset;                   /* hwloc_bitmap_t, or NULL */
};
void ms_rdma_place_init(struct ms_rdma_place *pl, struct ibv_context *ctx);
void ms_rdma_place_fini(struct ms_rdma_place *pl);
/* Bind the calling thread's CPUs and memory policy; say what was done. */
void ms_rdma_place_thread(const struct ms_rdma_place *pl, char *msg, size_t len);
/* Prefer pl's node for [addr, addr+len) and move its pages there (before
 * registration pins them); say what was done. */
void ms_rdma_place_mem(const struct ms_rdma_place *pl, void *addr, size_t len, char *msg,
		       size_t mlen);

/* The client half (rdma_client.c); rdma_ops.c joins both into ms_rdma_ops. */
int ms_rdma_connect(const char *host, const char *port, const struct ms_xopts *o,
		    struct ms_xconn **out, char *err, size_t errlen);
int ms_rdma_reg_mr(struct ms_xconn *x, void *addr, size_t len, struct ms_xmr **out);
void ms_rdma_dereg_mr(struct ms_xconn *x, struct ms_xmr *mr);
int ms_rdma_post(struct ms_xconn *x, const struct ms_xwr *wrs, size_t n);
void ms_rdma_close(struct ms_xconn *x);

/* The server half (rdma_server.c). */
int ms_rdma_listen(const char *host, const char *port, const struct ms_xsrv_cbs *cbs,
		   struct ms_xsrv **out, char *err, size_t errlen);
int ms_rdma_srv_reg_mr(struct ms_xsrv *s, void *addr, size_t len, unsigned access,
		       struct ms_xsmr **out, struct ms_rdesc *desc);
void ms_rdma_srv_dereg_mr(struct ms_xsrv *s, struct ms_xsmr *mr);
void ms_rdma_srv_mr_stats(struct ms_xsrv *s, struct ms_xsmr *mr, uint64_t *bytes_read,
			  uint64_t *bytes_written);
int ms_rdma_srv_notify(struct ms_xsrv *s, struct ms_xpeer *peer, const void *msg, size_t len);
void ms_rdma_srv_close(struct ms_xsrv *s);

#endif /* MS_RDMA_INT_H */
