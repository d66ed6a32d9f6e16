/* SPDX-License-Identifier: Apache-2.0 */
/*
 * client_streams.h - parallel streams (issue 13, item 4): a large pull
 * runs over several connections (TCP) or queue pairs (RDMA) at once.
 *
 * The extra connections are opened lazily, for the first transfer of at
 * least CL_STREAMS_MIN_BYTES, each authenticated exactly like the first
 * (ms_connect with the client's own options: key, TLS, transport) and
 * then attached to the first connection's session (SESSION / ATTACH,
 * proto_stream.h), which gives each its own read grant of the region.
 * The transfer's segments (runs of chunks of at most max_io bytes) are
 * dealt round-robin to the streams; each stream's thread runs ms_xfer_run
 * on its own connection; the caller's callbacks are called under one lock.
 * A stream that fails is closed and its segments are moved again on the
 * first connection, so an extra stream never makes a transfer fail.  A
 * server without SESSION (older) leaves the client at one connection.
 * The extra connections close with the client (cl_kill, ms_disconnect).
 */
#ifndef MS_CLIENT_STREAMS_H
#define MS_CLIENT_STREAMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "xfer.h"

struct ms_client;
struct ms_region;

/* Transfers smaller than this use the first connection alone. */
#define CL_STREAMS_MIN_BYTES (8ull << 20)
/* The default (ms_client_opts.streams 0): online CPUs, at most this. */
#define CL_STREAMS_DEFAULT_MAX 4u
/* The most streams a client uses (the server's MS_ATTACH_MAX_STREAMS
 * extra ones, plus the first). */
#define CL_STREAMS_MAX 16u

/* How many streams a client asks for with streams (0: the default). */
unsigned cl_streams_resolve(unsigned streams, long ncpu);

/* Deal n segments of the bytes in lens[] to k streams: owner[i] gets the
 * stream of segment i (round-robin over the segments whose eligible[i] is
 * true, stream 0 for the others).  Returns how many streams got work. */
unsigned cl_streams_deal(size_t n, const bool *eligible, unsigned k, unsigned *owner);

/* Would cl_streams_run stripe these segments (the client asks for more
 * than one stream and they read at least CL_STREAMS_MIN_BYTES)? */
bool cl_streams_wanted(struct ms_region *r, const struct ms_seg *segs, size_t n);

/* Run segs like cl_run, striped over the client's streams when the
 * transfer is large enough and the client asks for more than one. */
int cl_streams_run(struct ms_region *r, const char *what, const struct ms_seg *segs, size_t n,
		   const struct ms_xfer_cb *cb, uint64_t *bytes);

/* Handle h of the client was closed: the streams forget their grants. */
void cl_streams_forget(struct ms_client *c, uint32_t h);
/* Close every extra connection (the first one is closing or dead). */
void cl_streams_close(struct ms_client *c);
/* Extra connections open now. */
unsigned cl_streams_open(const struct ms_client *c);
/* The i-th extra connection (tests), or NULL. */
struct ms_client *cl_streams_conn(struct ms_client *c, unsigned i);

#endif
