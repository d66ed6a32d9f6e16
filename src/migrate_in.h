/* SPDX-License-Identifier: Apache-2.0 */
/*
 * migrate_in.h - a migration into this server (the destination), shared
 * by server_migrate.c (requests, clients waiting for chunks, lifecycle)
 * and migrate_in.c (the thread that copies the region from the source).
 *
 * Locking: m->lock guards everything below it in struct mig_in; it is
 * taken on its own (never with s->lock, e->lock or r->lock held, and none
 * of those is taken under it) and held for a few loads and stores.
 */
#ifndef MS_MIGRATE_IN_H
#define MS_MIGRATE_IN_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "server_int.h"

/* A client's FETCH waiting for chunks (answered through srv_reply). */
struct fetch_wait {
	struct peer *p;
	uint64_t t0;                  /* ms_now_ns() when it came */
	uint32_t n;
	uint64_t *idx;
	struct fetch_wait *next;
};

/* Per-chunk state at the destination. */
enum { CH_HERE = 0, CH_ABSENT = 1, CH_FETCHING = 2 };

struct mig_in {
	ms_server *s;
	/* immutable once started */
	char name[MS_NAME_MAX + 1];
	char host[MS_HOST_MAX + 1], port[MS_PORT_MAX + 1];     /* the source */
	char adv_host[MS_HOST_MAX + 1], adv_port[MS_PORT_MAX + 1]; /* us */
	char path[MS_PATH_MAX + 1];
	enum ms_migrate_mode mode;
	uint32_t downtime_ms, max_rounds;
	enum ms_transport_kind transport;
	uint64_t max_bw;              /* bytes/s of copying, 0 = unlimited */
	uint8_t client_id[16];        /* ours at the source */
	pthread_t thread;
	bool thread_started;
	uint64_t t_start;

	pthread_mutex_t lock;
	pthread_cond_t cv;            /* a chunk arrived, or the state moved */
	struct ms_migrate_stat st;
	struct ms_export *e;          /* once created */
	bool abort;                   /* asked to stop before the switch */
	bool owned;                   /* past the handoff: opens allowed */
	bool ended;                   /* done, failed or aborted */
	int err;                      /* FAILED: -errno */
	uint8_t *state;               /* CH_* per chunk (post-copy) */
	uint64_t nchunks;
	uint64_t *prio;               /* chunks clients asked for, FIFO: */
	size_t prio_head, nprio, capprio; /* prio[prio_head..nprio) waits */
	struct fetch_wait *waits;
	uint64_t t_owned;
	struct mig_in *next;          /* s->lock */
};

static inline void mig_cond_init(pthread_cond_t *cv)
{
	pthread_condattr_t ca;

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(cv, &ca);
	pthread_condattr_destroy(&ca);
}

/* Wait on cv for at most ms milliseconds (mu held). */
static inline void mig_cond_wait_ms(pthread_cond_t *cv, pthread_mutex_t *mu, unsigned ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	ts.tv_sec += ms / 1000 + ts.tv_nsec / 1000000000L;
	ts.tv_nsec %= 1000000000L;
	pthread_cond_timedwait(cv, mu, &ts);
}

/* migrate_in.c: the migration's thread */
void *ms_mig_main(void *arg);

/* server_migrate.c, for the thread */
/* Answer every FETCH whose chunks are all here (and record its latency);
 * with err, answer all of them with that error. m->lock held. */
void ms_mig_answer_waits(struct mig_in *m, int err, const char *why);
/* Set FAILED (or ABORTED for -ECANCELED) with a message. */
void ms_mig_fail(struct mig_in *m, int err, const char *fmt, ...) MS_PRINTF(3, 4);
bool ms_mig_stopping(const struct mig_in *m);

#endif
