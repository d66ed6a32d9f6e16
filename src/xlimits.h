/* SPDX-License-Identifier: Apache-2.0 */
/*
 * xlimits.h - resource limits of the shared server loop (xsrvloop.h)
 * against misbehaving peers: connections (in total and per source
 * address, refused at accept and logged once per burst), an idle timeout
 * (a peer that has not finished its first control exchange, or that
 * stalls in the middle of a frame or with replies it does not read), and
 * the memory peers make the server hold (queued replies and control
 * payloads, per peer and in total: reading stops while over, which is
 * backpressure, not growth).
 *
 * The loop owns the counts; a driver reports what one peer holds with
 * ms_xlimits_mem() (which also says whether to stop reading it), marks
 * progress with ms_xlimits_seen() and says whether a peer is stalled
 * through ms_xloop_ops.stalled.  Docs: docs/security.md, "Resource limits".
 */
#ifndef MS_XLIMITS_H
#define MS_XLIMITS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Defaults of struct ms_xsrv_opts' limits (transport.h). */
#define MS_XLIM_MAX_CONNS 1024u
#define MS_XLIM_MAX_PER_ADDR 128u
#define MS_XLIM_IDLE_MS 30000u
#define MS_XLIM_PEER_MEM (8u << 20)
#define MS_XLIM_MEM (256u << 20)
/* How long refusals of one burst are counted instead of logged. */
#define MS_XLIM_BURST_NS (10ull * 1000000000ull)

struct ms_xloop;
struct ms_xlpeer;
struct ms_xsrv_opts;

struct ms_xlimits {
	/* settings (from ms_xsrv_opts, defaults filled in) */
	unsigned max_conns, max_per_addr;
	uint64_t idle_ns;
	size_t max_peer_mem, max_mem;
	/* loop thread: */
	unsigned nconns;
	size_t mem;                     /* what all peers hold (ms_xlimits_mem) */
	bool mem_logged;                /* the total bound was hit (logged once) */
	uint64_t next_tick;             /* the idle check */
	uint64_t burst_end;             /* refusals until then are counted */
	unsigned long burst_refused;
	char burst_last[64];
	/* for tests and stats (any thread, __atomic) */
	size_t mem_peak;
	unsigned long refused, idle_closed;
	/* metrics (struct ms_xsrv_counters; any thread, __atomic) */
	uint64_t accepted, open, handshake_failed, errors;
};

/* Settings from o (NULL: defaults); a 0 field means its default. */
void ms_xlimits_init(struct ms_xlimits *lim, const struct ms_xsrv_opts *o);

/* "1.2.3.4" of "1.2.3.4:567", "::1" of "[::1]:567" (the source address
 * connections are counted by). */
void ms_xlimits_addr(const char *name, char *out, size_t len);

/* May a peer named name (its "host:port") be accepted?  0, or -EMFILE
 * (too many in total) or -EAGAIN (too many from its address), logged once
 * per burst.  The count itself goes up in ms_xloop_add_peer. */
int ms_xlimits_admit(struct ms_xloop *l, const char *name);

/* Bookkeeping of ms_xloop_add_peer and ms_xloop_close_peer. */
void ms_xlimits_join(struct ms_xloop *l, struct ms_xlpeer *p);
void ms_xlimits_leave(struct ms_xloop *l, struct ms_xlpeer *p);

/* The driver's peer p now holds bytes of server memory (queued replies,
 * control payloads being received or held).  True when p must not be
 * read now: it is over its own bound, or the total is over its bound and
 * p holds something (a peer that holds nothing may always send one
 * request, so the total can exceed max_mem by at most one request and
 * its reply per such peer).  Logged once per peer and once per episode
 * of the total. */
bool ms_xlimits_mem(struct ms_xloop *l, struct ms_xlpeer *p, size_t bytes);

/* p made progress (received or sent bytes): its idle clock restarts. */
void ms_xlimits_seen(struct ms_xloop *l, struct ms_xlpeer *p);

/* Loop thread, after a batch: close the peers that overstayed (every
 * tick, a quarter of the idle timeout). */
void ms_xlimits_tick(struct ms_xloop *l, uint64_t now);

/* When ms_xlimits_tick wants to run next (0: never). */
uint64_t ms_xlimits_next(const struct ms_xloop *l);

/* TCP keepalive on an accepted socket: a peer that vanished without a
 * FIN (power loss, a cut link) is found after about 2 minutes of silence. */
void ms_xlimits_keepalive(int fd);

#endif /* MS_XLIMITS_H */
