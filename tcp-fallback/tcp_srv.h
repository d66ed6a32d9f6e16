/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tcp_srv.h - the TCP server's connection and server state (tcp_server.c;
 * see the top of that file for how a connection is served).  Only
 * tcp_server.c includes this.
 */
#ifndef MS_TCP_SRV_H
#define MS_TCP_SRV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "auth.h"
#include "frame.h"
#include "tcp_int.h"
#include "xsrvloop.h"

#define RXBUF (64u << 10)               /* per-connection receive buffer: headers
					 * and the payloads of small WRITEs */
#define TX_MAX_ENTRIES 1024             /* stop reading a connection above this... */
#define TX_MAX_BYTES (64u << 20)        /* ...or this much queued */
#define TX_IOV 64                       /* iovecs per sendmsg */
#define BIG_WRITE (32u << 10)           /* see peer_recv_hdr() */
#define TURN_UNITS 64                   /* a peer's turn: frames (+1 per MiB)... */
#define TURN_NS (2u * 1000000u)         /* ...or time once it ran a control request */

struct tx_ent {
	struct tx_ent *next;
	uint8_t hdr[MS_FRAME_HDR];
	char *data;                     /* payload: region memory or owned */
	size_t dlen;
	struct ms_xsmr *mr;             /* data lies in mr's memory */
	bool owned;                     /* data is malloc'ed */
	bool pending;                   /* the place of a deferred control reply:
					 * not sent (nor anything after it) until
					 * send_reply fills it */
	size_t done;                    /* bytes of header + data sent */
};

enum rx_state { RX_HDR, RX_CTRL, RX_WRITE, RX_DROP };

struct peer {
	struct ms_xlpeer lp;            /* first: name, list, dead, accepted */
	int fd;
	struct ms_tls *tls;             /* TLS (tcp_tls.h; handshaking until accepted) */
	uint32_t ev;                    /* epoll interest now registered */
	bool broken, big_writes;
	enum rx_state rx;
	uint64_t cid;                   /* connection id (grants), never reused */
	struct ms_frame req;            /* the request being received */
	char *dst;                      /* payload destination */
	size_t want, got;
	struct ms_xsmr *rx_mr;          /* RX_WRITE: the target registration */
	int rx_status;                  /* RX_DROP: status of the reply */
	char *ctrl;                     /* RX_CTRL: the payload */
	uint64_t ctrl_id;               /* the request a deferred reply answers */
	struct tx_ent *dslot;           /* its place in the response queue */
	char *held;                     /* a control request waiting for it */
	size_t held_len;
	uint64_t held_id;
	struct ms_auth_srv *auth;       /* not authenticated yet (tcp_auth.h) */
	bool closing;                   /* refused: close once the reply is out */
	struct tx_ent *txh, *txt;
	unsigned txn, turn;             /* turn: units used; yielded: over, on l->ready */
	size_t txbytes, txown;          /* txown: owned bytes (xlimits) */
	uint64_t turn_end; bool yielded, turn_ctrl;
	size_t boff, blen;              /* unparsed bytes: buf[boff..blen) */
	uint8_t buf[RXBUF];
};

struct srv {
	struct ms_xloop l;              /* first: the shared loop */
	int lfd;
	struct tcp_mrtab mrs;
	struct ms_tls_ctx *tls;         /* NULL: plain TCP */
	uint64_t last_cid;              /* loop thread */
};

MS_XLOOP_ACCESSORS(struct srv, struct peer)

static inline void tcp_srv_tx_free(struct tx_ent *e)
{
	if (e->owned)
		free(e->data);
	free(e);
}

/* tcp_server.c: queue a frame (data owned or in mr's memory) / a control
 * reply for p; 0 or -ENOMEM. */
int tcp_srv_tx_push(struct peer *p, const struct ms_frame *f, char *data, size_t dlen,
		    struct ms_xsmr *mr, bool owned);
void tcp_srv_ctrl_reply(struct srv *s, struct peer *p, uint64_t id, int status, char *data,
			size_t dlen);

/* tcp_srv_mr.c: serve the deregistrations and revocations other threads
 * queued (the loop's on_queue). */
void tcp_srv_process_dq(struct ms_xloop *l);

/* tcp_srv_auth.c: the key handshake.  The engine meets p (on_connect);
 * non-zero: it refused.  A header while the handshake is owed, or an AUTH
 * frame: true when it was dealt with (refused).  An AUTH payload arrived
 * (p->ctrl, p->req.plen). */
int tcp_srv_engine_accept(struct srv *s, struct peer *p);
/* A TLS peer's handshake step: true while it goes on or when the peer is
 * gone (tcp_server.c: set p's epoll interest). */
bool tcp_srv_tls_step(struct srv *s, struct peer *p);
void tcp_srv_set_events(struct srv *s, struct peer *p);
bool tcp_srv_auth_gate(struct srv *s, struct peer *p);
void tcp_srv_auth_done(struct srv *s, struct peer *p);

#endif /* MS_TCP_SRV_H */
