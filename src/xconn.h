/* SPDX-License-Identifier: Apache-2.0 */
/*
 * xconn.h - the client connection machinery both transports share: the
 * request slots, the completion ring, the stall clock, the poll() and
 * call() wait loops, local-registration checks and the failure state.
 *
 * A driver embeds struct ms_xcore first in its connection and supplies
 * what differs (struct ms_xcore_ops): how to move bytes or reap
 * completions without waiting, how to sleep on its device, how to fail
 * (and, for a device that flushes, how to give up on missing flushes) and
 * how to send a control request.  Its post() checks the batch with
 * ms_xcore_check_post(), takes slots with ms_xcore_slot_get() and finishes
 * each request once with ms_xcore_complete().
 *
 * Used by tcp-fallback/ and rdma/ only; the engine sees transport.h.
 */
#ifndef MS_XCONN_H
#define MS_XCONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "transport.h"

/* A request slot, embedded in each driver's request. */
struct ms_xslot {
	struct ms_xslot *next;          /* free list (drivers may reuse it) */
	void *ctx;
	uint32_t len;
};

/* A local registration's common head: the first member of every driver's
 * struct ms_xmr (post() checks a work request's buffer against it). */
struct ms_xlmr {
	struct ms_xlmr *next;
	char *addr;
	size_t len;
};

struct ms_xcore;

struct ms_xcore_ops {
	/* move what can move without waiting */
	void (*progress)(struct ms_xcore *k);
	/* sleep up to tmo ms (-1 for ever) for the device, then progress */
	void (*wait)(struct ms_xcore *k, int tmo);
	/* the connection is unusable: ms_xcore_fail() and the driver's part */
	void (*fail)(struct ms_xcore *k, int status);
	/* dead, and flushes did not come within the grace: complete what is
	 * left (NULL when failing completes everything at once) */
	void (*flush_rest)(struct ms_xcore *k);
	/* send the control request of ms_xcore_call(); on failure call
	 * fail() (the call then returns its status) */
	void (*send_ctrl)(struct ms_xcore *k, const void *req, size_t len, uint64_t deadline);
	/* what call() returns once the connection is dead; 0: the status it
	 * failed with */
	int dead_call_rc;
	/* how long a dead connection waits for the device's flushes (ms) */
	int flush_grace_ms;
};

struct ms_xcore {
	struct ms_xconn pub;
	const struct ms_xcore_ops *dops;
	int dead;                       /* 0, or the status everything failed with */
	uint64_t dead_ns;               /* when it died */
	uint64_t last_io;               /* ns of the last progress (stall clock) */
	int timeout_ms;                 /* stall limit; <= 0: none */
	void (*on_notify)(void *ud, const void *msg, size_t len);
	void *notify_ud;
	struct ms_xslot *free;          /* request slots */
	unsigned inflight;              /* data requests posted, not completed */
	struct ms_xring ring;           /* completions not yet polled */
	struct ms_xlmr *mrs;            /* local registrations */
	/* the control call in progress */
	bool in_call, resp_done;
	int ctrl_status;
	void *resp;
	size_t cap, resp_len;
};

static inline struct ms_xcore *ms_xcore_of(struct ms_xconn *x)
{
	return (struct ms_xcore *)x;    /* pub is the first member */
}

/* The limits and defaults both drivers apply to struct ms_xopts. */
#define MS_XCORE_DEPTH_DEFAULT 16
#define MS_XCORE_DEPTH_MAX 4096
#define MS_XCORE_MAX_IO_DEFAULT (1u << 20)
#define MS_XCORE_TIMEOUT_DEFAULT_MS 30000

/* connect()'s common start: a zeroed connection of size bytes (its
 * struct ms_xcore first) with the options o (NULL: defaults) checked
 * against max_io_limit and applied.  NULL with *rc and err set when
 * args_ok is false (a missing argument), an option is out of range or
 * memory is short. */
void *ms_xcore_new(size_t size, const struct ms_transport_ops *ops,
		   const struct ms_xcore_ops *dops, const struct ms_xopts *o, bool args_ok,
		   uint32_t max_io_limit, char *err, size_t errlen, int *rc);
/* The ring for depth completions; 0 or -ENOMEM. */
int ms_xcore_init_ring(struct ms_xcore *k, unsigned depth);
/* Frees the ring and every registration still on k->mrs through release
 * (NULL: free()). */
void ms_xcore_fini(struct ms_xcore *k, void (*release)(struct ms_xlmr *m));

static inline void ms_xcore_slot_put(struct ms_xcore *k, struct ms_xslot *s)
{
	s->next = k->free;
	k->free = s;
}

/* Only after ms_xcore_check_post() said there is room. */
static inline struct ms_xslot *ms_xcore_slot_get(struct ms_xcore *k, void *ctx, uint32_t len)
{
	struct ms_xslot *s = k->free;

	k->free = s->next;
	s->ctx = ctx;
	s->len = len;
	k->inflight++;
	return s;
}

/* The request of slot s finished with status: its completion waits for
 * poll(), the slot is free again. */
static inline void ms_xcore_complete(struct ms_xcore *k, struct ms_xslot *s, int status)
{
	ms_xring_push(&k->ring, s->ctx, status, s->len);
	k->inflight--;
	ms_xcore_slot_put(k, s);
}

/* The first failure: record it (and fail the control call waiting);
 * false when k was dead already. */
bool ms_xcore_fail(struct ms_xcore *k, int status);

/* A control reply (or its failure) arrived. */
static inline void ms_xcore_ctrl_done(struct ms_xcore *k, int status, size_t len)
{
	k->resp_done = true;
	k->ctrl_status = status;
	k->resp_len = len;
}

/* post()'s checks: -ENOTCONN when dead, -EINVAL for a malformed batch or
 * a buffer outside its registration (need_lmr: a registration is
 * required), -EAGAIN when it does not fit.  Starts the stall clock when
 * nothing was in flight. */
int ms_xcore_check_post(struct ms_xcore *k, const struct ms_xwr *wrs, size_t n, bool need_lmr);

/* reg_mr()'s common part: check the arguments and allocate a zeroed
 * registration of size bytes (its struct ms_xlmr first); 0 with *mp, or
 * -EINVAL / -ENOMEM.  The driver completes it, then ms_xcore_add_mr(). */
int ms_xcore_mr_alloc(const void *addr, size_t len, const void *out, size_t size,
		      struct ms_xlmr **mp);
/* Registrations: remember m for post()'s checks / forget it (false when
 * it is not k's). */
void ms_xcore_add_mr(struct ms_xcore *k, struct ms_xlmr *m, void *addr, size_t len);
bool ms_xcore_del_mr(struct ms_xcore *k, struct ms_xlmr *m);

/* Milliseconds until the stall limit (or, when dead, the flush grace);
 * -1 when nothing is in flight or there is no limit; 0 when passed. */
int ms_xcore_stall_left(const struct ms_xcore *k);

/* ops->poll and ops->outstanding of both drivers.  Contract: completions
 * (flushed ones too) are handed out first; -ENOTCONN only once the
 * connection is dead and nothing is outstanding. */
int ms_xcore_poll(struct ms_xconn *x, struct ms_xwc *wcs, int max, int timeout_ms);
unsigned ms_xcore_outstanding(struct ms_xconn *x);

/* ops->call's wait loop (timeout_ms: > 0 limit, 0 the connection's
 * default, < 0 none). */
int ms_xcore_call(struct ms_xconn *x, const void *req, size_t len, void *resp, size_t cap,
		  size_t *resp_len, int timeout_ms);

#endif /* MS_XCONN_H */
