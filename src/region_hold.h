/* SPDX-License-Identifier: Apache-2.0 */
/*
 * region_hold.h - holds: a reader asks that no commit of a region be
 * applied for a while (at most MS_HOLD_MAX_MS, proto.h), so that what it reads
 * meanwhile is the region as of one commit (docs/design.md, "Reads under
 * a steady writer").
 *
 * A region keeps a list of holds (struct ms_hold, owned by whoever asked:
 * the server keeps one per open handle) under its own small lock.  The
 * commit path calls ms_region_wait_hold() right after taking r->lock: while
 * a hold is in force the commit waits (without r->lock, so the region's
 * hot list and touches go on) until every hold in force is released or has
 * expired.  A hold that expired stays in the list, doing nothing, until its
 * owner releases it, so a RELEASE can tell the reader that its hold ran out.
 *
 * Fairness: a commit that waits at the gate goes next.  A new hold asked
 * for while one waits is not placed (the reader asks again); a hold renewed
 * by its owner never lasts past MS_HOLD_MAX_MS from its first grant.  So a
 * commit waits at most MS_HOLD_MAX_MS for the holds in force when it came,
 * and a reader gets its hold after at most the commits already waiting.
 *
 * Lock order: r->lock, then the hold lock (a leaf, held for a list walk).
 */
#ifndef MS_REGION_HOLD_H
#define MS_REGION_HOLD_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "proto.h"   /* MS_HOLD_MAX_MS */


struct ms_hold {
	uint64_t first_ns;          /* granted at (ms_now_ns) */
	uint64_t until_ns;          /* in force until */
	bool linked;                /* in the region's list */
	struct ms_hold *next;
};

/* A region's holds (a field of struct ms_rregion). */
struct ms_rhold {
	pthread_mutex_t lock;
	pthread_cond_t cv;          /* CLOCK_MONOTONIC; a hold went away */
	struct ms_hold *list;
	uint32_t waiters;           /* commits waiting at the gate */
	uint64_t waited;            /* commits that waited for a hold */
};

int ms_rhold_init(struct ms_rhold *h);
void ms_rhold_fini(struct ms_rhold *h);

struct ms_rregion;

/* What ms_region_hold() did. */
struct ms_hold_res {
	uint64_t generation;        /* the region's generation (published) */
	uint32_t ms;                /* the hold is in force this much longer */
	bool placed;                /* h is in force (else: ask again) */
	bool settled;               /* placed, and no commit is being applied:
				     * nothing changes the region until the
				     * hold ends */
};

/* Place (or renew) hold h on r for ms milliseconds (capped; from the first
 * grant for a renewal).  Never waits. */
void ms_region_hold(struct ms_rregion *r, struct ms_hold *h, uint32_t ms,
		    struct ms_hold_res *res);
/* Take h off r (a no-op when it is not on).  Returns true when h was on
 * and still in force (it had not expired); *gen gets the generation as it
 * was before h came off. */
bool ms_region_release(struct ms_rregion *r, struct ms_hold *h, uint64_t *gen);
/* The commit gate: with r->lock held, wait while a hold is in force
 * (dropping r->lock meanwhile); returns with r->lock held. */
void ms_region_wait_hold(struct ms_rregion *r);
/* Holds on r (in force or expired but not released), for stats and tests. */
unsigned ms_region_holds(struct ms_rregion *r);

#endif
