/* SPDX-License-Identifier: Apache-2.0 */
/*
 * client_priv.h - what the client's three files share: client.c (the
 * connection, regions, registrations, stat), client_pull.c (verified
 * pulls, the metadata table) and client_write.c (writes and commits).
 * Not a public interface; the library's other modules use client_int.h.
 */
#ifndef MS_CLIENT_PRIV_H
#define MS_CLIENT_PRIV_H

#include <stdbool.h>
#include <stdint.h>

#include "chunkmap.h"
#include "client_int.h"
#include "memsync.h"
#include "proto.h"
#include "transport.h"
#include "util.h"
#include "xfer.h"

struct ms_client {
	const struct ms_transport_ops *ops;
	struct cl_opts opts;         /* as connected with */
	struct ms_xconn *x;          /* NULL once the connection is dead */
	char host[256];
	char port[8];
	int timeout_ms;
	uint8_t client_id[16];
	void *msg;                   /* MS_CTRL_MAX scratch for requests */
	void *resp;                  /* MS_CTRL_MAX scratch for replies */
	struct ms_region *regions;   /* open regions, freed by ms_disconnect */
	struct ms_mem *mems;         /* long-lived registrations (ms_mem_register) */
	char why[384];               /* which transport, and why */
	char errmsg[512];
	/* the last MOVED reply (cl_call): the region went to moved_host */
	bool moved;
	char moved_name[MS_NAME_MAX + 1];
	char moved_host[256];
	char moved_port[8];
	uint64_t moved_epoch;
	struct cl_streams *streams;  /* extra connections (client_streams.c) */
};

struct ms_region {
	ms_client *c;
	uint32_t handle;
	struct ms_region_info info;
	struct ms_rdesc data;
	struct ms_rdesc meta;
	struct ms_commit_ent *pending;  /* ms_write()s since the last ms_sync() */
	size_t npending, cap;
	uint64_t pend_end;              /* no pending entry reaches past this */
	uint8_t *mbuf;                  /* metadata reads land here, registered */
	size_t mbuf_cap;                /* once (NULL mr once the connection died) */
	struct ms_xmr *mbuf_mr;
	/* the write lease (client_lease.c) */
	uint64_t renewed_ns;            /* last renewal or commit */
	struct ms_stage_seg stage[MS_STAGE_MAX_SEGS]; /* atomic: staging areas */
	unsigned nstage;
	uint64_t staged;                /* their bytes */
	uint64_t scur;                  /* next free staging offset */
	struct ms_region *next;
};

/* A caller buffer registered once with the connection (ms_mem_register);
 * transfers whose local range lies inside it reuse the registration. */
struct ms_mem {
	ms_client *c;
	uint8_t *addr;
	size_t len;
	struct ms_xmr *mr;           /* NULL once the connection died */
	struct ms_mem *next;
};

/* Set c's errmsg; returns err. */
int cl_err(ms_client *c, int err, const char *fmt, ...) MS_PRINTF(3, 4);

/* Close c's connection (when it has one) and forget the registrations it
 * took with it; c->x is NULL after. */
void cl_kill(ms_client *c);

/* The one "not connected" guard: 0 while c has a connection, else
 * -ENOTCONN with errmsg "<what>: not connected to host:port". */
int cl_connected(ms_client *c, const char *what);

/* The caller's transfer options o (NULL: defaults) as this library's
 * struct in *out (opts.h); -EINVAL/-EOPNOTSUPP with errmsg "<what>:
 * transfer options not valid (opts_size N)". */
int cl_xfer_opts(ms_client *c, const char *what, const struct ms_xfer_opts *o,
		 struct ms_xfer_opts *out);

/* One control round trip of the request in c->msg (reqlen bytes, or a
 * -errno from its encoder): the reply length, or -errno with errmsg set;
 * an ERROR reply becomes its errno and message. */
int cl_call(ms_client *c, const char *what, int reqlen, int want);

/* Run segments against the connection; a failure that leaves the
 * connection in doubt closes it. */
int cl_run(ms_client *c, const char *what, const struct ms_seg *segs, size_t n,
	   const struct ms_xfer_cb *cb, uint64_t *bytes);

/* Register [p, p+len) with the connection (a connection must exist). */
int cl_reg(ms_client *c, const char *what, void *p, size_t len, struct ms_xmr **mr);

/* A local buffer lent to a transfer: an ms_mem's registration when one
 * covers the range, else one registered for the transfer (own). */
struct cl_lmr {
	struct ms_xmr *mr;
	bool own;
};

/* Borrow a registration for [p, p+len): 0, or -errno with errmsg set
 * ("<what>: cannot register memory: ..."); give it back with cl_return. */
int cl_borrow(ms_client *c, const char *what, const void *p, uint64_t len, struct cl_lmr *l);
void cl_return(ms_client *c, struct cl_lmr *l);

/* -ERANGE with errmsg unless [off, off+len) is a non-empty range of r. */
int cl_check_range(const ms_region *r, const char *what, uint64_t off, uint64_t len);

/* Byte range of chunk i clipped to [off, off+len); false if empty. */
bool cl_chunk_piece(const ms_region *r, uint64_t i, uint64_t off, uint64_t len,
		    uint64_t *poff, uint64_t *plen);

/* Does a piece of plen bytes of chunk i cover the whole chunk? */
bool cl_chunk_whole(const ms_region *r, uint64_t i, uint64_t plen);

/* Segments covering the set chunks of map (indices relative to c0), each
 * a run of at most group chunks clipped to [off, off+len); seg_first[k]
 * gets segment k's first chunk.  Returns the number of segments. */
size_t cl_build_segs(const ms_region *r, const struct ms_chunkmap *map, uint64_t c0,
		     uint64_t off, uint64_t len, uint64_t group, enum ms_xop op, uint8_t *base,
		     struct ms_xmr *mr, struct ms_seg *segs, uint64_t *seg_first);

/* client_lease.c: renew r's lease when a third of its time to live has
 * passed since the last renewal or commit (0 for a read-only handle). */
int cl_lease_tick(ms_region *r);
/* Staging of an atomic commit: len bytes at *soff, inside the staging
 * area *desc at offset *roff.  -E2BIG (errmsg set) past the lease's
 * staging limit: commit what is staged and call cl_stage_reset first. */
int cl_stage_alloc(ms_region *r, uint64_t len, uint64_t *soff, const struct ms_rdesc **desc,
		   uint64_t *roff);
/* Bytes still free for staging before the limit (what cl_stage_alloc can
 * give at most, ignoring the alignment it adds). */
uint64_t cl_stage_room(const ms_region *r);
/* The commit that used the staging areas is done: start over at 0. */
void cl_stage_reset(ms_region *r);

/* client_redirect.c: following a region that migrated (MOVED).  Point c
 * at c->moved_host:port (the connection is replaced by the caller). */
void cl_redirect_take(ms_client *c);
/* ms_open's OPEN of m: the reply length, or -errno; follows MOVED when c
 * has no other region open, asks again while the server says EAGAIN. */
int cl_open_call(ms_client *c, const struct ms_msg_open *m);
/* A request on a handle of region name got MOVED: reconnect c there with
 * every handle (0), or -errno with errmsg naming both servers. */
int cl_follow(ms_client *c, const char *what, const char *name);
/* ret, a request on r failed: -EREMCHG (c->moved set) when the server
 * says r moved away, else ret with errmsg unchanged. */
int cl_redirect_check(ms_region *r, int ret);

/* client_pull.c: read the metadata entries of chunks [c0, c0+n) into buf. */
int cl_read_meta(ms_region *r, uint64_t c0, uint64_t n, void *buf);

#endif
