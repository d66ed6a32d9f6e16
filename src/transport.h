/* SPDX-License-Identifier: Apache-2.0 */
/*
 * transport.h - the one interface between the engine and a transport.
 *
 * A transport moves bytes between registered memory on two hosts with
 * one-sided semantics: the client READs a remote range into local memory or
 * WRITEs local memory into a remote range; the server side only registers
 * memory (getting a descriptor with a key it hands out) and answers small
 * control requests.  With RDMA the NIC serves the data path; the TCP
 * fallback's server loop emulates it and enforces the same grants.
 *
 * The engine includes only this header; it never sees a socket or a verb.
 *
 * Conventions: 0 or -errno; error text goes into a caller buffer (err,
 * errlen) where a call can fail for reasons worth explaining.  Nothing here
 * prints; server-side events go through ms_xsrv_cbs.log.
 */
#ifndef MS_TRANSPORT_H
#define MS_TRANSPORT_H

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

#include "auth.h"
#include "memsync.h"

/* Access a registration grants to the remote side. */
enum ms_xaccess {
	MS_XACCESS_READ = 1u << 0,  /* remote may READ */
	MS_XACCESS_WRITE = 1u << 1, /* remote may WRITE */
};

/* A registered remote range as advertised to a client.  For RDMA, addr is
 * the server's virtual address and rkey the MR/MW rkey (low 32 bits); for
 * TCP, addr is an opaque base and rkey a random 64-bit capability. */
struct ms_rdesc {
	uint64_t addr;
	uint64_t len;
	uint64_t rkey;
};

enum ms_xop { MS_XOP_READ = 1, MS_XOP_WRITE = 2 };

/* One work request.  local must lie inside lmr (client registration). */
struct ms_xwr {
	enum ms_xop op;
	void *local;
	uint32_t len;               /* <= conn->max_io */
	struct ms_xmr *lmr;         /* may be NULL for transports that need none */
	const struct ms_rdesc *remote;
	uint64_t roff;              /* offset inside remote */
	void *ctx;                  /* handed back in the completion */
};

/* One completion.  status is 0 or -errno: -EACCES (key does not grant the
 * op), -ERANGE (outside the registration), -ECONNRESET/-EPIPE (peer gone;
 * every outstanding request is flushed with this), -ETIMEDOUT. */
struct ms_xwc {
	void *ctx;
	int status;
	uint32_t len;
};

struct ms_xmr;       /* a client-side local registration */
struct ms_xsmr;      /* a server-side registration */
struct ms_xgrant;    /* a registration handed to one peer (srv_grant) */

/* Common head of every transport's client connection. */
struct ms_xconn {
	const struct ms_transport_ops *ops;
	unsigned depth;   /* at most this many work requests outstanding */
	uint32_t max_io;  /* largest work request */
};

/* How a peer proved who it is (ms_xpeer.authn). */
enum ms_xauthn {
	MS_XAUTHN_NONE = 0,     /* the server does not authenticate */
	MS_XAUTHN_KEY = 1,      /* the key handshake (auth.h) */
	MS_XAUTHN_CERT = 2,     /* a verified TLS client certificate */
};

/* Common head of every transport's server-side peer. */
struct ms_xpeer {
	void *eng;        /* engine state for this peer (set in on_connect) */
	char name[64];    /* "127.0.0.1:51234" for logs */
	/* who the peer is, set before on_connect: the key's name (or the
	 * certificate's common name, itself a key name); "" when the server
	 * does not authenticate */
	char who[MS_AUTH_NAME_MAX + 1];
	enum ms_xauthn authn;
	/* the connection's data path as the transport serves it (relaxed
	 * atomics; TCP counts every READ and WRITE, RDMA sees none: the NIC
	 * serves them), and the last request (ms_now_ns(); the engine moves
	 * it on every control request, TCP on every data frame too) */
	uint64_t bytes_read, bytes_written;
	uint64_t last_ns;
	/* set by the engine before peer_allowed refuses the peer: why, for
	 * the transport's log line (NULL: a revoked key) */
	const char *refused_why;
};

/* Common head of every transport's server. */
struct ms_xsrv {
	const struct ms_transport_ops *ops;
	uint16_t port;    /* bound port */
};

/* TLS settings (TCP only; PEM files).  Client: ca verifies the server
 * (required), cert+key are an optional client certificate, server_name
 * the name the server's certificate must carry (NULL: the host
 * connected to).  Server: cert+key (required), ca verifies client
 * certificates, which are then asked for (optional for the client). */
struct ms_xtls {
	const char *ca;
	const char *cert;
	const char *key;
	const char *server_name;
};

struct ms_xopts {
	unsigned depth;
	uint32_t max_io;
	int timeout_ms;
	/* authenticate with this key before anything else (NULL: none; a
	 * server that requires a key then refuses with -EACCES) */
	const struct ms_authkey *key;
	/* TLS (NULL: plain); a transport without TLS fails with
	 * -EPROTONOSUPPORT */
	const struct ms_xtls *tls;
	/* unsolicited server messages (e.g. shutdown), delivered from inside
	 * poll() or call(); may be NULL */
	void (*on_notify)(void *ud, const void *msg, size_t len);
	void *notify_ud;
};

/* Control messages are opaque to the transport, at most this large. */
#define MS_CTRL_MAX (1u << 20)

/* A server's settings beyond its callbacks (ms_xsrv_cbs.opts; NULL:
 * every default). */
struct ms_xsrv_opts {
	const struct ms_xtls *tls;      /* NULL: plain TCP */
	/* Resource limits against misbehaving peers (src/xlimits.h; 0:
	 * the default there).  Connections over max_conns in total or over
	 * max_conns_per_addr from one source address are refused at accept;
	 * a peer that has not completed its first control exchange (and
	 * the authentication before it) within idle_timeout_ms, or that
	 * stalls that long in the middle of a frame or with replies it
	 * does not read, is closed; a peer's queued replies and control
	 * payloads are bounded by max_peer_mem and all peers' together by
	 * max_mem (reading stops until they drain: backpressure). */
	unsigned max_conns;
	unsigned max_conns_per_addr;
	unsigned idle_timeout_ms;
	size_t max_peer_mem;
	size_t max_mem;
};

/* A listener's connection counts (srv_counters), for metrics: every one
 * only grows but open.  Definitions in docs/operations.md, "# Metrics". */
struct ms_xsrv_counters {
	uint64_t accepted;         /* connections taken in (past the limits) */
	uint64_t open;             /* connections open now */
	uint64_t refused;          /* refused at accept by the limits */
	uint64_t handshake_failed; /* closed before the engine admitted them
				    * (TLS or key handshake not completed) */
	uint64_t idle_closed;      /* closed by the idle timeout */
	uint64_t errors;           /* admitted, then closed on an error
				    * (protocol violation, memory, revoked key,
				    * still open when a stop's drain ended) */
};

/* on_ctrl's "reply later" (see ms_xsrv_cbs.on_ctrl and srv_reply). */
#define MS_XCTRL_LATER 1

struct ms_xsrv_cbs {
	void *ud;
	/* a peer connected; may set peer->eng.  Non-zero refuses the peer. */
	int (*on_connect)(void *ud, struct ms_xpeer *peer);
	/* a control request; write the reply (<= cap bytes) into resp and its
	 * length into *resp_len.  Return 0 to send it; -errno closes the peer
	 * (for protocol violations only: ordinary errors are replies).
	 *
	 * Or return MS_XCTRL_LATER to answer later (long work on another
	 * thread): req is only valid during the call, so copy what is
	 * needed.  The engine then MUST call srv_reply exactly once for this
	 * request, from any thread, even if the peer has gone meanwhile.
	 * Until then the transport holds back the peer's further control
	 * requests (per-peer order is kept) but keeps serving its data path
	 * (TCP: later READs and WRITEs are carried out, their responses
	 * queued behind the owed reply, in request order) and every other
	 * peer; the peer struct stays valid and
	 * on_disconnect for it is postponed until srv_reply was called, so
	 * the engine may use peer and peer->eng until that call (and not
	 * after it). */
	int (*on_ctrl)(void *ud, struct ms_xpeer *peer, const void *req,
		       size_t len, void *resp, size_t cap, size_t *resp_len);
	/* the peer is gone (bye, close, error); called exactly once per peer
	 * that on_connect accepted */
	void (*on_disconnect)(void *ud, struct ms_xpeer *peer);
	void (*log)(void *ud, enum ms_log_level lvl, const char *fmt, va_list ap);
	/* Authentication: where the handshake finds a key's secret.  NULL:
	 * the server does not authenticate (peers are anonymous, who = "").
	 * Otherwise a peer must complete the handshake (or present a
	 * verified client certificate whose common name auth_lookup knows)
	 * before on_connect; until then nothing but the handshake is
	 * answered and no data frame is served.  Called on the loop thread. */
	ms_auth_lookup_fn auth_lookup;
	/* srv_recheck asks this of every accepted peer (loop thread): false
	 * closes the peer (a revoked key, an operator's disconnect: the
	 * engine may set peer->refused_why first).  NULL: all stay. */
	bool (*peer_allowed)(void *ud, struct ms_xpeer *peer);
	const struct ms_xsrv_opts *opts;
};

/* What a transport can do (ms_transport_ops.caps): the engine asks these
 * instead of comparing names. */
enum ms_xcap {
	/* the device places data directly in registered memory (no receive
	 * copy by the CPU): zero-copy mappings pay off */
	MS_XCAP_DIRECT_PLACEMENT = 1u << 0,
	/* needs a device that AUTO probed for: when AUTO picked it and the
	 * connection fails, the client falls back to TCP */
	MS_XCAP_DEVICE = 1u << 1,
	/* runs the key handshake (ms_xsrv_cbs.auth_lookup, ms_xopts.key):
	 * a server with keys listens only on transports that do */
	MS_XCAP_AUTH = 1u << 2,
};

struct ms_transport_ops {
	const char *name;
	unsigned caps;                  /* enum ms_xcap flags */

	/* ---- client ---- */
	int (*connect)(const char *host, const char *port,
		       const struct ms_xopts *o, struct ms_xconn **out,
		       char *err, size_t errlen);
	int (*reg_mr)(struct ms_xconn *c, void *addr, size_t len,
		      struct ms_xmr **out);
	void (*dereg_mr)(struct ms_xconn *c, struct ms_xmr *mr);
	/* post n work requests, all or nothing: -EAGAIN (nothing posted) if
	 * they do not fit in depth minus outstanding; -ENOTCONN after the
	 * peer went away; -EINVAL for a malformed batch */
	int (*post)(struct ms_xconn *c, const struct ms_xwr *wrs, size_t n);
	/* wait up to timeout_ms (-1 forever, 0 no wait) for completions;
	 * returns how many were stored in wcs (<= max) or -errno.  After the
	 * connection died every request still outstanding completes (flushed,
	 * with its error status) and those completions are handed out first:
	 * -ENOTCONN comes only once the connection is dead and nothing is
	 * outstanding any more.  One implementation for both transports:
	 * ms_xcore_poll() (src/xconn.c). */
	int (*poll)(struct ms_xconn *c, struct ms_xwc *wcs, int max,
		    int timeout_ms);
	/* number of work requests outstanding */
	unsigned (*outstanding)(struct ms_xconn *c);
	/* control round trip; keeps data moving while it waits.  -EMSGSIZE if
	 * the reply does not fit in cap. */
	int (*call)(struct ms_xconn *c, const void *req, size_t len, void *resp,
		    size_t cap, size_t *resp_len, int timeout_ms);
	void (*close)(struct ms_xconn *c);

	/* ---- server ---- */
	int (*listen)(const char *host, const char *port,
		      const struct ms_xsrv_cbs *cbs, struct ms_xsrv **out,
		      char *err, size_t errlen);
	/* thread-safe; the returned desc is what clients get */
	int (*srv_reg_mr)(struct ms_xsrv *s, void *addr, size_t len,
			  unsigned access, struct ms_xsmr **out,
			  struct ms_rdesc *desc);
	/* revoke: later requests with this key fail with -EACCES */
	void (*srv_dereg_mr)(struct ms_xsrv *s, struct ms_xsmr *mr);
	/* bytes the server saw read/written through this registration */
	void (*srv_mr_stats)(struct ms_xsrv *s, struct ms_xsmr *mr,
			     uint64_t *bytes_read, uint64_t *bytes_written);
	/* event loop: serves until srv_stop, then finishes what is in flight,
	 * disconnects every peer (on_disconnect for each) and returns 0 */
	int (*srv_run)(struct ms_xsrv *s);
	/* async-signal-safe, thread-safe */
	void (*srv_stop)(struct ms_xsrv *s);
	/* the deferred reply to the control request whose on_ctrl returned
	 * MS_XCTRL_LATER; thread-safe.  The reply is copied and sent by the
	 * loop (dropped if the peer is gone: its postponed on_disconnect
	 * runs then).  The call ends the engine's hold on peer even when it
	 * fails (-ENOMEM, -EMSGSIZE: the peer is then disconnected).
	 * srv_run does not return while a reply is owed. */
	int (*srv_reply)(struct ms_xsrv *s, struct ms_xpeer *peer, const void *resp,
			 size_t len);
	/* thread-safe, asynchronous: the loop asks cbs.peer_allowed of every
	 * accepted peer and closes those it refuses (on_disconnect follows as
	 * for any close) */
	void (*srv_recheck)(struct ms_xsrv *s);
	/* Give peer its own descriptor for (a part of) registration mr:
	 * access is a subset of mr's; *desc is valid only on that peer's
	 * connection, until srv_revoke(*out) or the peer's disconnect,
	 * whichever comes first (RDMA: a type 2 memory window bound to the
	 * peer's queue pair, or a registration of its own; TCP: a key only
	 * that connection's frames may use).  Loop thread (on_ctrl) only. */
	int (*srv_grant)(struct ms_xsrv *s, struct ms_xpeer *peer, struct ms_xsmr *mr,
			 unsigned access, struct ms_xgrant **out, struct ms_rdesc *desc);
	/* Invalidate and free a grant (thread-safe).  Every grant is given
	 * back exactly once, also after its peer is gone (the transport
	 * stopped honouring it at the disconnect already, but the engine
	 * owns the struct).  Returns once no later request can use it. */
	void (*srv_revoke)(struct ms_xsrv *s, struct ms_xgrant *g);
	/* unsolicited message to one peer (from the loop thread) */
	int (*srv_notify)(struct ms_xsrv *s, struct ms_xpeer *peer,
			  const void *msg, size_t len);
	void (*srv_close)(struct ms_xsrv *s);
	/* the listener's connection counts; thread-safe (may be NULL) */
	void (*srv_counters)(struct ms_xsrv *s, struct ms_xsrv_counters *out);
};

/* ---- helpers both transports use (and src/xconn.h, src/xsrvloop.h) ---- */

/* The completions a client connection holds until poll() hands them out:
 * a ring of cap (the queue depth) entries.  A work request counts as
 * outstanding until its completion was popped, so the ring never
 * overflows. */
struct ms_xring {
	struct ms_xwc *wc;
	unsigned cap, head, n;
};

static inline void ms_xring_push(struct ms_xring *r, void *ctx, int status, uint32_t len)
{
	r->wc[(r->head + r->n++) % r->cap] =
		(struct ms_xwc){ .ctx = ctx, .status = status, .len = status ? 0 : len };
}

/* Move up to max completions into out; returns how many. */
static inline int ms_xring_pop(struct ms_xring *r, struct ms_xwc *out, int max)
{
	int n = (int)(r->n < (unsigned)max ? r->n : (unsigned)max);

	for (int i = 0; i < n; i++) {
		out[i] = r->wc[r->head];
		r->head = (r->head + 1) % r->cap;
	}
	r->n -= (unsigned)n;
	return n;
}

/* A server-side message through cbs->log (nothing when it is NULL). */
static inline void ms_xsrv_log(const struct ms_xsrv_cbs *cbs, enum ms_log_level lvl,
			       const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static inline void ms_xsrv_log(const struct ms_xsrv_cbs *cbs, enum ms_log_level lvl,
			       const char *fmt, ...)
{
	va_list ap;

	if (!cbs->log)
		return;
	va_start(ap, fmt);
	cbs->log(cbs->ud, lvl, fmt, ap);
	va_end(ap);
}

/* srv_stop() of both servers: raise *flag and wake the loop through its
 * eventfd.  Async-signal-safe; errno is kept. */
static inline void ms_xsrv_request_stop(int *flag, int evfd)
{
	int saved = errno;

	__atomic_store_n(flag, 1, __ATOMIC_RELEASE);
	if (write(evfd, &(uint64_t){ 1 }, 8) < 0) {
		/* only EAGAIN at a counter near 2^64: a wakeup is pending */
	}
	errno = saved;
}

/* Registry (transport.c).  ms_transport_get() returns NULL + errno
 * EPROTONOSUPPORT when the kind is not built in; for AUTO it picks RDMA
 * when a device with an active port can reach host, else TCP, and writes
 * the reason into why. */
const struct ms_transport_ops *ms_transport_get(enum ms_transport_kind kind,
						const char *host, char *why,
						size_t whylen);

#endif /* MS_TRANSPORT_H */
