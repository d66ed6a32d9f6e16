/* SPDX-License-Identifier: Apache-2.0 */
/*
 * region_hold.c - holds on a region's commits (region_hold.h).
 */
#include <errno.h>
#include <time.h>

#include "region.h"
#include "region_hold.h"
#include "util.h"

int ms_rhold_init(struct ms_rhold *h)
{
	pthread_condattr_t ca;
	int rc;

	h->list = NULL;
	h->waiters = 0;
	h->waited = 0;
	if ((rc = pthread_mutex_init(&h->lock, NULL)))
		return -rc;
	if ((rc = pthread_condattr_init(&ca)) == 0) {
		rc = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		if (!rc)
			rc = pthread_cond_init(&h->cv, &ca);
		pthread_condattr_destroy(&ca);
	}
	if (rc)
		pthread_mutex_destroy(&h->lock);
	return -rc;
}

void ms_rhold_fini(struct ms_rhold *h)
{
	pthread_cond_destroy(&h->cv);
	pthread_mutex_destroy(&h->lock);
}

/* The latest expiry of the holds in force at now, 0 if none (lock held). */
static uint64_t held_until(const struct ms_rhold *h, uint64_t now)
{
	uint64_t until = 0;

	for (const struct ms_hold *x = h->list; x; x = x->next)
		if (x->until_ns > now)
			until = MS_MAX(until, x->until_ns);
	return until;
}

static void unlink_hold(struct ms_rhold *h, struct ms_hold *x)
{
	for (struct ms_hold **pp = &h->list; *pp; pp = &(*pp)->next) {
		if (*pp == x) {
			*pp = x->next;
			break;
		}
	}
	x->next = NULL;
	x->linked = false;
}

void ms_region_hold(struct ms_rregion *r, struct ms_hold *x, uint32_t ms,
		    struct ms_hold_res *res)
{
	struct ms_rhold *h = &r->hold;
	uint64_t now = ms_now_ns(), cap = (uint64_t)MS_HOLD_MAX_MS * 1000000u;
	bool active;

	*res = (struct ms_hold_res){ 0 };
	pthread_mutex_lock(&h->lock);
	active = x->linked && x->until_ns > now;
	if (!active && h->waiters) {
		/* a commit waits: it goes first */
		if (x->linked)
			unlink_hold(h, x);
	} else {
		if (!active) {
			x->first_ns = now;
			if (!x->linked) {
				x->next = h->list;
				h->list = x;
				x->linked = true;
			}
		}
		x->until_ns = MS_MIN(now + (uint64_t)ms * 1000000u, x->first_ns + cap);
		res->placed = x->until_ns > now;
		res->ms = (uint32_t)((x->until_ns - MS_MIN(x->until_ns, now)) / 1000000u);
	}
	pthread_mutex_unlock(&h->lock);
	/* Settled when no commit holds r->lock now: one that takes it from
	 * here on sees the hold at the gate.  (A hot list or touch holding it
	 * for a moment makes a false "not yet", and the reader asks again.) */
	if (res->placed && pthread_mutex_trylock(&r->lock) == 0) {
		res->settled = true;
		res->generation = ms_region_generation(r);
		pthread_mutex_unlock(&r->lock);
	} else {
		res->generation = ms_region_generation(r);
	}
}

bool ms_region_release(struct ms_rregion *r, struct ms_hold *x, uint64_t *gen)
{
	struct ms_rhold *h = &r->hold;
	bool intact = false;

	pthread_mutex_lock(&h->lock);
	/* the generation while the hold is still on: a commit it kept out
	 * may publish the next one as soon as it is off */
	if (gen)
		*gen = ms_region_generation(r);
	if (x->linked) {
		intact = x->until_ns > ms_now_ns();
		unlink_hold(h, x);
		pthread_cond_broadcast(&h->cv);
	}
	pthread_mutex_unlock(&h->lock);
	return intact;
}

void ms_region_wait_hold(struct ms_rregion *r)
{
	struct ms_rhold *h = &r->hold;
	bool counted = false;
	uint64_t until;

	pthread_mutex_lock(&h->lock);
	while ((until = held_until(h, ms_now_ns()))) {
		struct timespec ts = { .tv_sec = (time_t)(until / 1000000000u),
				       .tv_nsec = (long)(until % 1000000000u) };

		if (!counted) {
			h->waiters++;
			h->waited++;
			counted = true;
		}
		pthread_mutex_unlock(&r->lock);
		pthread_cond_timedwait(&h->cv, &h->lock, &ts);
		/* lock order: r->lock first */
		pthread_mutex_unlock(&h->lock);
		pthread_mutex_lock(&r->lock);
		pthread_mutex_lock(&h->lock);
	}
	if (counted)
		h->waiters--;
	pthread_mutex_unlock(&h->lock);
}

unsigned ms_region_holds(struct ms_rregion *r)
{
	unsigned n = 0;

	pthread_mutex_lock(&r->hold.lock);
	for (const struct ms_hold *x = r->hold.list; x; x = x->next)
		n++;
	pthread_mutex_unlock(&r->hold.lock);
	return n;
}
