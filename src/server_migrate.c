/* SPDX-License-Identifier: Apache-2.0 */
/*
 * server_migrate.c - this server as a migration's destination: the
 * MIGRATE, MIGRATE_STATUS, MIGRATE_ABORT and FETCH requests, what OPEN and
 * COMMIT must wait for while a region migrates in, and the migrations'
 * lifecycle (migrate_in.c runs each one's thread; docs/migration.md).
 *
 * A region that migrates in is an export like any other, created once the
 * source told its size; until the handoff its OPENs are refused with
 * EAGAIN (clients that followed a redirect try again).  After it, in
 * post-copy, chunks that are not here yet are flagged ABSENT in the
 * metadata table: a reader asks with FETCH (answered once they are here,
 * through srv_reply, those chunks first in the thread's queue), a commit
 * that touches one waits for it (ms_mig_ensure), and no chunk is ever
 * served as data before its bytes arrived and matched the source's hash.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chunkmap.h"
#include "migrate_in.h"

#define ENSURE_MAX_MS 60000     /* a commit waits this long for chunks */

bool ms_mig_stopping(const struct mig_in *m)
{
	return __atomic_load_n(&m->s->stopping, __ATOMIC_ACQUIRE);
}

static struct mig_in *find_mig(ms_server *s, const char *name)
{
	struct mig_in *m;

	pthread_mutex_lock(&s->lock);
	for (m = s->migs; m && strcmp(m->name, name); m = m->next)
		;
	pthread_mutex_unlock(&s->lock);
	return m;
}

void ms_mig_fail(struct mig_in *m, int err, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&m->lock);
	if (!m->ended) {
		va_start(ap, fmt);
		vsnprintf(m->st.error, sizeof(m->st.error), fmt, ap);
		va_end(ap);
		m->err = err;
		m->st.phase = err == -ECANCELED ? MS_MIGRATE_ABORTED : MS_MIGRATE_FAILED;
		__atomic_store_n(&m->ended, true, __ATOMIC_RELEASE);
		m->st.total_us = (ms_now_ns() - m->t_start) / 1000;
		ms_mig_answer_waits(m, -EIO, m->st.error);
		pthread_cond_broadcast(&m->cv);
	}
	pthread_mutex_unlock(&m->lock);
	ms_srv_log(m->s, err == -ECANCELED ? MS_LOG_WARN : MS_LOG_ERROR,
		   "migration of '%s' from %s:%s %s: %s", m->name, m->host, m->port,
		   err == -ECANCELED ? "aborted" : "failed", m->st.error);
}

static bool chunks_here(const struct mig_in *m, const struct fetch_wait *w)
{
	for (uint32_t i = 0; i < w->n; i++)
		if (m->state[w->idx[i]] != CH_HERE)
			return false;
	return true;
}

static void hist_add(uint64_t *hist, uint64_t us)
{
	int b = 0;

	while (b < MS_HIST_BUCKETS - 1 && us >= (2ull << b))
		b++;
	hist[b]++;
}

void ms_mig_answer_waits(struct mig_in *m, int err, const char *why)
{
	char buf[MS_ERRMSG_MAX + 64];

	for (struct fetch_wait **pw = &m->waits; *pw;) {
		struct fetch_wait *w = *pw;
		int len;

		if (!err && !chunks_here(m, w)) {
			pw = &w->next;
			continue;
		}
		*pw = w->next;
		if (err) {
			len = ms_enc_error(buf, sizeof(buf), -err,
					   "region '%s': chunk %llu is not here yet and cannot be "
					   "fetched from %s:%s: %s", m->name,
					   (unsigned long long)w->idx[0], m->host, m->port, why);
		} else {
			uint64_t now = ms_now_ns(), us = (now - w->t0) / 1000;

			len = ms_enc_empty(buf, sizeof(buf), MS_MSG_FETCH_OK);
			hist_add(m->st.fault_hist, us);
			m->st.faults++;
			if (!m->st.first_fault_us && m->t_owned)
				m->st.first_fault_us = (now - m->t_owned) / 1000;
		}
		if (len < 0 || w->p->l->ops->srv_reply(w->p->l->xs, w->p->xp, buf, (size_t)len))
			ms_srv_log(m->s, MS_LOG_ERROR, "cannot queue a FETCH reply; peer dropped");
		free(w->idx);
		free(w);
	}
}

/* Put chunk i at the end of the queue of chunks clients wait for. */
static int prio_add(struct mig_in *m, uint64_t i)
{
	if (m->nprio == m->capprio && m->prio_head) {
		/* taken ones at the front: slide the waiting ones down, once
		 * per fill of the array */
		memmove(m->prio, m->prio + m->prio_head,
			(m->nprio - m->prio_head) * sizeof(*m->prio));
		m->nprio -= m->prio_head;
		m->prio_head = 0;
	}
	if (m->nprio == m->capprio) {
		size_t cap = m->capprio ? 2 * m->capprio : 64;
		uint64_t *q = realloc(m->prio, cap * sizeof(*q));

		if (!q)
			return -ENOMEM;
		m->prio = q;
		m->capprio = cap;
	}
	m->prio[m->nprio++] = i;
	pthread_cond_broadcast(&m->cv);
	return 0;
}

/* ------------------------------------------------------------ requests */

int ms_mig_open_check(struct ms_export *e, char *msg, size_t len)
{
	struct mig_in *m = e->mig;
	int ret = 0;

	if (!m)
		return 0;
	pthread_mutex_lock(&m->lock);
	if (!m->owned) {
		snprintf(msg, len, "region '%s' is migrating in from %s:%s (%s, round %u): "
			 "try again", m->name, m->host, m->port,
			 ms_migrate_phase_name(m->st.phase), m->st.rounds);
		ret = -EAGAIN;
	}
	pthread_mutex_unlock(&m->lock);
	return ret;
}

int ms_mig_ensure(struct ms_export *e, const struct ms_commit_ent *ents, uint32_t n,
		  char *msg, size_t len)
{
	struct mig_in *m = e->mig;
	uint64_t deadline = ms_now_ns() + ENSURE_MAX_MS * 1000000ull;
	int ret = 0;

	if (!m)
		return 0;
	pthread_mutex_lock(&m->lock);
	for (;;) {
		uint64_t missing = 0, first = 0;

		for (uint32_t k = 0; m->state && k < n; k++) {
			uint64_t c0, cn;

			ms_chunk_span(ents[k].off, ents[k].len, e->r->chunk_size, &c0, &cn);
			for (uint64_t i = c0; i < c0 + cn && i < m->nchunks; i++) {
				if (m->state[i] == CH_HERE)
					continue;
				if (!missing++)
					first = i;
				if (m->state[i] == CH_ABSENT && !m->ended && prio_add(m, i))
					ret = -ENOMEM;
			}
		}
		if (!missing || ret)
			break;
		if (m->ended || ms_mig_stopping(m) || ms_now_ns() > deadline) {
			snprintf(msg, len, "commit to '%s' needs chunk %llu, which is not here yet "
				 "and cannot be fetched from %s:%s: %s", m->name,
				 (unsigned long long)first, m->host, m->port,
				 m->ended ? m->st.error : "timed out");
			ret = -EIO;
			break;
		}
		mig_cond_wait_ms(&m->cv, &m->lock, 100);
	}
	pthread_mutex_unlock(&m->lock);
	if (ret == -ENOMEM)
		snprintf(msg, len, "commit to '%s': out of memory", e->r->name);
	return ret;
}

int ms_srv_h_fetch(ms_server *s, struct peer *p, const void *req, size_t len, void *resp,
		   size_t cap, bool *later)
{
	struct ms_msg_chunks c;
	struct open_slot *o;
	struct mig_in *m;
	struct fetch_wait *w;
	uint64_t *idx;
	int ret;

	(void)s;
	*later = false;
	idx = malloc(MS_HOT_MAX * sizeof(*idx));
	if (!idx)
		return ms_enc_error(resp, cap, ENOMEM, "FETCH: out of memory");
	ret = ms_dec_chunks(req, len, MS_MSG_FETCH, &c, idx, MS_HOT_MAX);
	if (ret) {
		free(idx);
		return ms_enc_error(resp, cap, -ret == E2BIG ? E2BIG : EBADMSG, "malformed FETCH");
	}
	o = ms_srv_slot(p, c.handle);
	if (!o) {
		free(idx);
		return ms_enc_error(resp, cap, EBADF, "no open region with handle %u", c.handle);
	}
	for (uint32_t i = 0; i < c.n; i++)
		if (idx[i] >= o->e->r->nchunks) {
			unsigned long long bad = idx[i];

			free(idx);
			return ms_enc_error(resp, cap, ERANGE, "FETCH: chunk %llu of '%s' (%llu "
					    "chunks)", bad, o->e->r->name,
					    (unsigned long long)o->e->r->nchunks);
		}
	m = o->e->mig;
	if (!m) {
		free(idx);
		return ms_enc_empty(resp, cap, MS_MSG_FETCH_OK);
	}
	w = calloc(1, sizeof(*w));
	if (!w) {
		free(idx);
		return ms_enc_error(resp, cap, ENOMEM, "FETCH: out of memory");
	}
	w->p = p;
	w->t0 = ms_now_ns();
	w->n = c.n;
	w->idx = idx;
	pthread_mutex_lock(&m->lock);
	if (m->state && !chunks_here(m, w)) {
		if (m->ended) {
			ret = ms_enc_error(resp, cap, EIO, "region '%s': chunk not here yet and "
					   "cannot be fetched from %s:%s: %s", m->name, m->host,
					   m->port, m->st.error);
			pthread_mutex_unlock(&m->lock);
			goto out;
		}
		if (!p->l->ops->srv_reply) {
			pthread_mutex_unlock(&m->lock);
			ret = ms_enc_error(resp, cap, EOPNOTSUPP, "FETCH cannot wait here");
			goto out;
		}
		for (uint32_t i = 0; i < c.n; i++)
			if (m->state[idx[i]] == CH_ABSENT && prio_add(m, idx[i])) {
				pthread_mutex_unlock(&m->lock);
				ret = ms_enc_error(resp, cap, ENOMEM, "FETCH: out of memory");
				goto out;
			}
		w->next = m->waits;
		m->waits = w;
		pthread_mutex_unlock(&m->lock);
		*later = true;
		return MS_XCTRL_LATER;
	}
	pthread_mutex_unlock(&m->lock);
	ret = ms_enc_empty(resp, cap, MS_MSG_FETCH_OK);
out:
	free(w->idx);
	free(w);
	return ret;
}

static bool wildcard(const char *h)
{
	return !*h || !strcmp(h, "0.0.0.0") || !strcmp(h, "::") || !strcmp(h, "*");
}

int ms_server_migrate(ms_server *s, const char *name, const char *src_host,
		      const char *src_port, const struct ms_migrate_opts *o)
{
	struct ms_migrate_opts def = { .opts_size = sizeof(def) };
	struct mig_in *m;
	int ret;

	if (!o)
		o = &def;
	if (!name || !ms_name_valid(name)) {
		ms_srv_errmsg(s, "migrate: '%s' is not a region name", name ? name : "(null)");
		return -EINVAL;
	}
	if (!src_host || !*src_host || !src_port || !*src_port ||
	    strlen(src_host) > MS_HOST_MAX || strlen(src_port) > MS_PORT_MAX ||
	    (unsigned)o->mode > MS_MIGRATE_STOPCOPY ||
	    (o->path && strlen(o->path) > MS_PATH_MAX)) {
		ms_srv_errmsg(s, "migrate '%s': bad source address, mode or path", name);
		return -EINVAL;
	}
	if (ms_srv_find(s, name)) {
		ms_srv_errmsg(s, "migrate: region '%s' already exists here", name);
		return -EEXIST;
	}
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->s = s;
	snprintf(m->name, sizeof(m->name), "%s", name);
	snprintf(m->host, sizeof(m->host), "%s", src_host);
	snprintf(m->port, sizeof(m->port), "%s", src_port);
	snprintf(m->path, sizeof(m->path), "%s", o->path ? o->path : "");
	if (o->advertise_host && o->advertise_port) {
		snprintf(m->adv_host, sizeof(m->adv_host), "%s", o->advertise_host);
		snprintf(m->adv_port, sizeof(m->adv_port), "%s", o->advertise_port);
	} else if (!wildcard(s->listen_host)) {
		snprintf(m->adv_host, sizeof(m->adv_host), "%s", s->listen_host);
		snprintf(m->adv_port, sizeof(m->adv_port), "%u", ms_server_port(s));
	} else {
		ms_srv_errmsg(s, "migrate '%s': this server listens on %s: say how clients "
			      "reach it (advertise_host, advertise_port)", name, s->listen_host);
		free(m);
		return -EINVAL;
	}
	m->mode = o->mode;
	m->downtime_ms = o->downtime_ms ? o->downtime_ms : 10;
	m->max_rounds = o->max_rounds ? o->max_rounds : (o->mode == MS_MIGRATE_HYBRID ? 2 : 8);
	m->transport = o->transport;
	m->max_bw = o->max_bandwidth;
	m->t_start = ms_now_ns();
	snprintf(m->st.name, sizeof(m->st.name), "%s", name);
	snprintf(m->st.source, sizeof(m->st.source), "%s:%s", src_host, src_port);
	m->st.mode = o->mode;
	m->st.phase = MS_MIGRATE_PRECOPYING;
	{
		/* our id at the source names the region and this server's
		 * address, so that this server restarted (same address) is the
		 * destination the source recorded, and may resume */
		char idsrc[MS_NAME_MAX + MS_HOST_MAX + MS_PORT_MAX + 32];
		uint8_t h[MS_HASH_LEN];
		int n = snprintf(idsrc, sizeof(idsrc), "memsync-migrate:%s@%s:%s", name,
				 m->adv_host, m->adv_port);

		ms_hash128(idsrc, (size_t)n, h);
		memcpy(m->client_id, h, sizeof(m->client_id));
	}
	pthread_mutex_init(&m->lock, NULL);
	mig_cond_init(&m->cv);
	pthread_mutex_lock(&s->lock);
	for (struct mig_in *q = s->migs; q; q = q->next)
		if (strcmp(q->name, name) == 0 && !__atomic_load_n(&q->ended, __ATOMIC_ACQUIRE)) {
			pthread_mutex_unlock(&s->lock);
			ms_srv_errmsg(s, "migrate: region '%s' is migrating in already", name);
			ret = -EALREADY;
			goto fail;
		}
	/* an ended one of the same name stays listed behind this one (an
	 * export may still point to it) */
	m->next = s->migs;
	s->migs = m;
	pthread_mutex_unlock(&s->lock);
	ret = -pthread_create(&m->thread, NULL, ms_mig_main, m);
	if (ret) {
		ms_mig_fail(m, ret, "cannot start its thread: %s", strerror(-ret));
		return ret;
	}
	m->thread_started = true;
	ms_srv_log(s, MS_LOG_INFO, "migrating '%s' in from %s:%s (%s)", name, src_host, src_port,
		   ms_migrate_mode_name(o->mode));
	return 0;
fail:
	pthread_cond_destroy(&m->cv);
	pthread_mutex_destroy(&m->lock);
	free(m);
	return ret;
}

int ms_server_migrate_stat(ms_server *s, const char *name, struct ms_migrate_stat *out)
{
	struct mig_in *m = name ? find_mig(s, name) : NULL;

	if (!m)
		return -ENOENT;
	pthread_mutex_lock(&m->lock);
	*out = m->st;
	if (!m->ended)
		out->total_us = (ms_now_ns() - m->t_start) / 1000;
	pthread_mutex_unlock(&m->lock);
	return 0;
}

int ms_server_migrate_abort(ms_server *s, const char *name)
{
	struct mig_in *m = name ? find_mig(s, name) : NULL;
	int ret = 0;

	if (!m)
		return -ENOENT;
	pthread_mutex_lock(&m->lock);
	if (m->owned || m->ended)
		ret = -EALREADY;
	else
		m->abort = true;
	pthread_cond_broadcast(&m->cv);
	pthread_mutex_unlock(&m->lock);
	return ret;
}

void ms_mig_stat(struct ms_export *e, struct ms_region_stat *st)
{
	struct mig_in *m = e->mig;

	if (!m)
		return;
	pthread_mutex_lock(&m->lock);
	st->migrate_phase = m->st.phase;
	pthread_mutex_unlock(&m->lock);
}

void ms_srv_mig_fini(ms_server *s)
{
	__atomic_store_n(&s->stopping, true, __ATOMIC_RELEASE);
	while (s->migs) {
		struct mig_in *m = s->migs;

		s->migs = m->next;
		if (m->thread_started)
			pthread_join(m->thread, NULL);
		pthread_mutex_lock(&m->lock);
		ms_mig_answer_waits(m, -ESHUTDOWN, "the server is stopping");
		pthread_mutex_unlock(&m->lock);
		pthread_cond_destroy(&m->cv);
		pthread_mutex_destroy(&m->lock);
		free(m->state);
		free(m->prio);
		free(m);
	}
}

/* ------------------------------------------------- the protocol handlers */

int ms_srv_h_migrate(ms_server *s, struct peer *p, const void *req, size_t len, void *resp,
		     size_t cap)
{
	struct ms_msg_migrate mm;
	struct ms_migrate_opts o = { .opts_size = sizeof(o) };
	int ret;

	(void)p;
	if (ms_dec_migrate(req, len, &mm))
		return ms_enc_error(resp, cap, EBADMSG, "malformed MIGRATE");
	o.mode = (enum ms_migrate_mode)mm.mode;
	o.downtime_ms = mm.downtime_ms;
	o.max_rounds = mm.max_rounds;
	o.transport = (enum ms_transport_kind)mm.transport;
	o.path = mm.path[0] ? mm.path : NULL;
	o.advertise_host = mm.self_host[0] ? mm.self_host : NULL;
	o.advertise_port = mm.self_port[0] ? mm.self_port : NULL;
	o.max_bandwidth = mm.max_bandwidth;
	ret = ms_server_migrate(s, mm.name, mm.host, mm.port, &o);
	if (ret)
		return ms_enc_error(resp, cap, -ret, "%s", ms_server_errmsg(s));
	return ms_enc_empty(resp, cap, MS_MSG_MIGRATE_OK);
}

int ms_srv_h_migrate_status(ms_server *s, struct peer *p, const void *req, size_t len,
			    void *resp, size_t cap)
{
	char name[MS_NAME_MAX + 1];
	struct ms_migrate_stat st;

	(void)p;
	if (ms_dec_migname(req, len, MS_MSG_MIGRATE_STATUS, name))
		return ms_enc_error(resp, cap, EBADMSG, "malformed MIGRATE_STATUS");
	if (ms_server_migrate_stat(s, name, &st))
		return ms_enc_error(resp, cap, ENOENT, "no migration of region '%s' here", name);
	return ms_enc_migrate_stat(resp, cap, &st);
}

int ms_srv_h_migrate_abort(ms_server *s, struct peer *p, const void *req, size_t len,
			   void *resp, size_t cap)
{
	char name[MS_NAME_MAX + 1];
	int ret;

	(void)p;
	if (ms_dec_migname(req, len, MS_MSG_MIGRATE_ABORT, name))
		return ms_enc_error(resp, cap, EBADMSG, "malformed MIGRATE_ABORT");
	ret = ms_server_migrate_abort(s, name);
	if (ret == -ENOENT)
		return ms_enc_error(resp, cap, ENOENT, "no migration of region '%s' here", name);
	if (ret)
		return ms_enc_error(resp, cap, EALREADY, "the migration of '%s' is past its "
				    "switch (or over): it cannot be aborted", name);
	return ms_enc_empty(resp, cap, MS_MSG_MIGRATE_ABORT_OK);
}
