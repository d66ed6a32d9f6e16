/* SPDX-License-Identifier: Apache-2.0 */
/*
 * server_lease.c - write leases: grant with an epoch, renew, lapse,
 * break, hand over, release; the holder's staging areas (the timer that
 * lapses leases nobody renewed is server_ltimer.c).
 *
 * The fence lives here.  A holder's write access is the registration of
 * its staging areas (atomic mode) or of the region (direct mode); a lease
 * that lapses, is broken or handed over has that access revoked
 * (srv_dereg_mr returns only once no write can land any more, on either
 * transport) and its staged bytes discarded before anyone else can take
 * the lease; its later commits and renewals carry a stale epoch and are
 * refused with ESTALE.
 *
 * Every field of a lease is under its export's lock, held for loads and
 * stores only: registering, deregistering and unmapping run outside it.
 * Memory of a lease being committed (applying) is not touched by a
 * fence: the fence is deferred to the end of that commit.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "server_grant.h"
#include "server_int.h"

#define STAGE_MIN (1u << 20)          /* smallest staging area */

uint64_t ms_srv_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t ttl_ns(const struct ms_export *e)
{
	return (uint64_t)e->srv->lease_ttl_ms * 1000000u;
}

static void id_hex(const uint8_t id[16], char out[33])
{
	for (int i = 0; i < 16; i++)
		snprintf(out + 2 * i, 3, "%02x", id[i]);
}

/* What a fenced holder loses, taken out of the lease under e->lock and
 * freed after it. */
struct access {
	struct listener *l;
	struct ms_xsmr *write_mr;
	struct ms_xgrant *write_grant;
	struct stage_seg seg[MS_STAGE_MAX_SEGS];
	unsigned nseg;
	struct ms_commit_ent *more;
	uint64_t staged;
	bool abandoned;               /* there were staged, uncommitted writes */
};

/* e->lock held: detach the holder's access into a. */
static void detach_locked(struct ms_export *e, struct access *a)
{
	struct lease *ls = &e->lease;

	*a = (struct access){ .l = ls->l, .write_mr = ls->write_mr,
			      .write_grant = ls->write_grant, .nseg = ls->nseg,
			      .more = ls->more, .staged = ls->staged,
			      .abandoned = ls->cycle || ls->nmore };
	memcpy(a->seg, ls->seg, ls->nseg * sizeof(*a->seg));
	if (a->abandoned)
		e->abandoned++;
	/* what the registrations saw stays in the region's counters */
	for (unsigned i = 0; ls->l && i <= ls->nseg; i++) {
		struct ms_xsmr *mr = i < ls->nseg ? ls->seg[i].mr : ls->write_mr;
		uint64_t rd = 0, wr = 0;

		if (!mr)
			continue;
		ls->l->ops->srv_mr_stats(ls->l->xs, mr, &rd, &wr);
		e->revoked_read += rd;
		e->revoked_written += wr;
	}
	ls->holder = NULL;
	ls->l = NULL;
	ls->write_mr = NULL;
	ls->write_grant = NULL;
	ls->nseg = 0;
	ls->staged = 0;
	ls->cycle = false;
	ls->fence_pending = false;
	ls->more = NULL;
	ls->nmore = ls->capmore = 0;
}

/* No lock held: revoke what detach_locked took.  The staging memory
 * goes back to e's pool (registered write-only, it holds nothing the
 * next writer could read), so the next lease does not fault its pages in
 * again; what does not fit is unmapped. */
static void access_free(struct ms_export *e, struct access *a)
{
	unsigned kept = 0;

	/* the holder's grants first, then what they were granted of */
	if (a->l)
		ms_grant_dereg(a->l, a->write_mr, a->write_grant);
	for (unsigned i = 0; i < a->nseg; i++)
		ms_grant_dereg(a->l, a->seg[i].mr, a->seg[i].grant);
	pthread_mutex_lock(&e->lock);
	for (; kept < a->nseg && e->npool < MS_STAGE_MAX_SEGS; kept++)
		e->pool[e->npool++] = (struct stage_seg){ .mem = a->seg[kept].mem,
							  .len = a->seg[kept].len };
	pthread_mutex_unlock(&e->lock);
	for (unsigned i = kept; i < a->nseg; i++)
		munmap(a->seg[i].mem, a->seg[i].len);
	free(a->more);
}

void ms_lease_pool_free(struct ms_export *e)
{
	for (unsigned i = 0; i < e->npool; i++)
		munmap(e->pool[i].mem, e->pool[i].len);
	e->npool = 0;
}

int ms_lease_take(struct ms_export *e, struct peer *p, uint64_t expect_epoch, char *msg,
		  size_t msglen)
{
	struct lease *ls = &e->lease;
	struct listener *l = p->l;
	struct ms_xsmr *mr = NULL;
	struct ms_xgrant *g = NULL;
	struct ms_rdesc desc;
	uint64_t now = ms_srv_now_ns(), epoch;
	int ret;

	pthread_mutex_lock(&e->lock);
	if (ls->holder) {
		/* names no other client: not its address, not its id */
		snprintf(msg, msglen, "region '%s' is being written by another client (one "
			 "writer at a time)", e->r->name);
		pthread_mutex_unlock(&e->lock);
		return -EBUSY;
	}
	if (ls->reserved && now < ls->reserved_until_ns &&
	    memcmp(ls->reserved_for, p->client_id, 16) != 0) {
		snprintf(msg, msglen, "region '%s' is handed over to another client", e->r->name);
		pthread_mutex_unlock(&e->lock);
		return -EBUSY;
	}
	/* resuming: refused when a lease was granted after expect_epoch.  A
	 * server that restarted with a region whose epochs are not kept
	 * (anon, memfd) knows no epoch that high: the grant goes on above it,
	 * so epochs never go back for the writer */
	if (expect_epoch && expect_epoch < ls->epoch) {
		snprintf(msg, msglen, "fenced: region '%s' was written by epoch %llu since epoch %llu",
			 e->r->name, (unsigned long long)ls->epoch,
			 (unsigned long long)expect_epoch);
		pthread_mutex_unlock(&e->lock);
		return -ESTALE;
	}
	ls->epoch = MS_MAX(ls->epoch, expect_epoch);
	epoch = ++ls->epoch;
	ls->holder = p;     /* reserved: others get EBUSY from here on */
	ls->l = l;
	ls->expires_ns = now + ttl_ns(e);
	ls->reserved = false;
	ls->why = FENCE_NONE;
	snprintf(ls->holder_name, sizeof(ls->holder_name), "%s", p->xp->name);
	memcpy(ls->holder_id, p->client_id, 16);
	pthread_mutex_unlock(&e->lock);
	/* a file region's epoch is durable before the grant is answered: a
	 * restarted server never grants an epoch twice (region_store.h) */
	if (e->r->store && (ret = ms_rstore_set_epoch(e->r->store, epoch)) != 0) {
		pthread_mutex_lock(&e->lock);
		if (ls->holder == p && ls->epoch == epoch)
			ls->holder = NULL;
		pthread_mutex_unlock(&e->lock);
		snprintf(msg, msglen, "cannot grant the write lease of '%s': %s", e->r->name,
			 ms_rstore_errmsg(e->r->store));
		return ret;
	}
	if (e->mode != MS_COMMIT_DIRECT) {
		ms_smet_inc(&e->met.leases_granted);
		return 0;
	}
	/* registering may pin the whole region: no lock held; the holder's
	 * own grant of it is what it gets */
	ret = ms_grant_reg(p, e->r->mem, e->r->size, MS_XACCESS_READ | MS_XACCESS_WRITE, &mr, &g,
			   &desc);
	pthread_mutex_lock(&e->lock);
	if (ret || ls->holder != p || ls->epoch != epoch) {
		if (!ret) {
			/* fenced meanwhile (broken): give the grant back */
			pthread_mutex_unlock(&e->lock);
			ms_grant_dereg(l, mr, g);
			snprintf(msg, msglen, "fenced: the write lease of '%s' was broken",
				 e->r->name);
			return -ESTALE;
		}
		if (ls->holder == p)
			ls->holder = NULL;
		snprintf(msg, msglen, "cannot grant write access to '%s': %s", e->r->name,
			 strerror(-ret));
	} else {
		ms_smet_inc(&e->met.leases_granted);
		ls->write_mr = mr;
		ls->write_grant = g;
		ls->write_desc = desc;
	}
	pthread_mutex_unlock(&e->lock);
	return ret;
}

struct ms_rdesc ms_lease_write_desc(struct ms_export *e)
{
	struct ms_rdesc d;

	pthread_mutex_lock(&e->lock);
	d = e->lease.write_desc;
	pthread_mutex_unlock(&e->lock);
	return d;
}

static void log_abandoned(struct ms_export *e, const struct access *a, const char *who,
			  const char *how)
{
	if (a->abandoned)
		ms_srv_log(e->srv, MS_LOG_WARN,
			   "'%s': %s %s with uncommitted writes: its staging area (%llu bytes) "
			   "is discarded, the region stays at generation %llu",
			   e->r->name, who, how, (unsigned long long)a->staged,
			   (unsigned long long)ms_region_generation(e->r));
}

bool ms_lease_release(struct ms_export *e, struct peer *p)
{
	struct access a;
	char who[64];

	pthread_mutex_lock(&e->lock);
	if (e->lease.holder != p) {
		pthread_mutex_unlock(&e->lock);
		return false;
	}
	/* a commit in progress postpones the holder's disconnect and its
	 * CLOSE (server_int.h): nothing is being applied here */
	snprintf(who, sizeof(who), "%s", e->lease.holder_name);
	detach_locked(e, &a);
	pthread_mutex_unlock(&e->lock);
	/* the registration is gone before anyone can use what it granted */
	access_free(e, &a);
	log_abandoned(e, &a, who, "left");
	return true;
}

static const char *why_text(enum fence_why w)
{
	switch (w) {
	case FENCE_LAPSED: return "lapsed (not renewed in time)";
	case FENCE_BROKEN: return "was broken by an operator";
	case FENCE_HANDED_OVER: return "was handed over";
	default: return "was released";
	}
}

/* e->lock held: the ESTALE message for a writer at epoch. */
static void stale_msg_locked(struct ms_export *e, uint64_t epoch, char *msg, size_t msglen)
{
	const struct lease *ls = &e->lease;

	if (ls->epoch > epoch && ls->holder)
		snprintf(msg, msglen, "fenced: region '%s' is now written by epoch %llu",
			 e->r->name, (unsigned long long)ls->epoch);
	else if (ls->epoch > epoch)
		snprintf(msg, msglen, "fenced: region '%s' was granted to epoch %llu since",
			 e->r->name, (unsigned long long)ls->epoch);
	else
		snprintf(msg, msglen, "fenced: the write lease of '%s' (epoch %llu) %s",
			 e->r->name, (unsigned long long)epoch, why_text(ls->why));
}

bool ms_lease_check(struct ms_export *e, struct peer *p, uint64_t epoch, char *msg,
		    size_t msglen)
{
	bool ok;

	pthread_mutex_lock(&e->lock);
	ok = e->lease.holder == p && e->lease.epoch == epoch;
	if (!ok)
		stale_msg_locked(e, epoch, msg, msglen);
	pthread_mutex_unlock(&e->lock);
	return ok;
}

void ms_lease_fence(struct ms_export *e, enum fence_why why, const char *by)
{
	struct lease *ls = &e->lease;
	struct access a;
	char who[64];
	uint64_t epoch;

	pthread_mutex_lock(&e->lock);
	if (!ls->holder) {
		pthread_mutex_unlock(&e->lock);
		return;
	}
	ls->why = why;
	ms_smet_fenced(&e->met, why == FENCE_LAPSED);
	if (ls->applying) {
		ls->fence_pending = true;
		pthread_mutex_unlock(&e->lock);
		return;
	}
	snprintf(who, sizeof(who), "%s", ls->holder_name);
	epoch = ls->epoch;
	detach_locked(e, &a);
	pthread_mutex_unlock(&e->lock);
	access_free(e, &a);
	ms_srv_log(e->srv, why == FENCE_HANDED_OVER ? MS_LOG_INFO : MS_LOG_WARN,
		   "'%s': write lease of %s (epoch %llu) %s%s%s: fenced", e->r->name, who,
		   (unsigned long long)epoch, why_text(why), by ? " by " : "", by ? by : "");
	log_abandoned(e, &a, who, "was fenced");
}

void ms_lease_info_of(struct ms_export *e, struct ms_lease_info *li)
{
	const struct lease *ls = &e->lease;
	uint64_t now = ms_srv_now_ns();

	memset(li, 0, sizeof(*li));
	pthread_mutex_lock(&e->lock);
	li->epoch = ls->epoch;
	li->ttl_ms = e->srv->lease_ttl_ms;
	li->expires_ms = -1;
	if (ls->holder) {
		li->state = MS_LEASE_HELD;
		li->expires_ms = ls->expires_ns > now ? (int64_t)((ls->expires_ns - now) / 1000000u)
						      : 0;
		snprintf(li->holder, sizeof(li->holder), "%s", ls->holder_name);
		memcpy(li->client_id, ls->holder_id, 16);
	} else if (ls->reserved && ls->reserved_until_ns > now) {
		li->state = MS_LEASE_HANDOVER;
		li->expires_ms = (int64_t)((ls->reserved_until_ns - now) / 1000000u);
		memcpy(li->client_id, ls->reserved_for, 16);
	}
	pthread_mutex_unlock(&e->lock);
}

/* ------------------------------------------------------------ commits */

int ms_lease_apply_begin(struct ms_export *e, struct peer *p, uint64_t epoch,
			 const struct ms_commit_ent *ents, uint32_t n, bool more,
			 const struct ms_commit_ent **all, uint32_t *nall, char *msg,
			 size_t msglen)
{
	struct lease *ls = &e->lease;
	uint64_t cap_total = 4 * e->r->nchunks + MS_COMMIT_MAX_ENTS;
	int ret = 0;

	pthread_mutex_lock(&e->lock);
	if (ls->holder != p || ls->epoch != epoch) {
		stale_msg_locked(e, epoch, msg, msglen);
		e->refused++;
		ret = -ESTALE;
		goto out;
	}
	ls->expires_ns = ms_srv_now_ns() + ttl_ns(e);   /* a commit renews */
	if (more || ls->nmore) {
		if ((uint64_t)ls->nmore + n > cap_total) {
			snprintf(msg, msglen, "a commit of more than %llu entries to '%s'",
				 (unsigned long long)cap_total, e->r->name);
			ret = -E2BIG;
			goto out;
		}
		if (ls->nmore + n > ls->capmore) {
			uint32_t cap = ls->capmore ? ls->capmore : 1024;
			struct ms_commit_ent *v;

			while (cap < ls->nmore + n)
				cap *= 2;
			v = realloc(ls->more, cap * sizeof(*v));
			if (!v) {
				snprintf(msg, msglen, "out of memory for a commit's entries");
				ret = -ENOMEM;
				goto out;
			}
			ls->more = v;
			ls->capmore = cap;
		}
		if (n)
			memcpy(ls->more + ls->nmore, ents, n * sizeof(*ents));
		ls->nmore += n;
		ls->cycle = true;
		if (more) {
			ret = 1;                 /* stored; nothing to apply yet */
			goto out;
		}
		*all = ls->more;
		*nall = ls->nmore;
	} else {
		*all = ents;
		*nall = n;
	}
	ls->applying = true;
out:
	pthread_mutex_unlock(&e->lock);
	return ret;
}

void ms_lease_apply_end(struct ms_export *e, bool ok)
{
	struct lease *ls = &e->lease;
	bool fence;

	pthread_mutex_lock(&e->lock);
	ls->applying = false;
	/* the commit renews, counted from its end: it may have taken long */
	ls->expires_ns = ms_srv_now_ns() + ttl_ns(e);
	ls->nmore = 0;
	ls->cycle = false;  /* applied or refused: either way nothing is pending */
	if (!ok)
		e->refused++;
	fence = ls->fence_pending;
	pthread_mutex_unlock(&e->lock);
	if (fence)
		ms_lease_fence(e, ls->why, NULL);
}

/* The staged bytes [soff, soff+len) when they lie inside one area.  Runs
 * while the lease is applying: no fence or STAGE changes the areas. */
static const void *stage_at(void *ud, uint64_t soff, uint64_t len)
{
	const struct lease *ls = ud;

	for (unsigned i = 0; i < ls->nseg; i++) {
		const struct stage_seg *g = &ls->seg[i];

		if (soff >= g->base && soff - g->base < g->len && len <= g->len - (soff - g->base))
			return (const uint8_t *)g->mem + (soff - g->base);
	}
	return NULL;
}

struct ms_stage_src ms_lease_stage_src(struct ms_export *e)
{
	return (struct ms_stage_src){ .at = stage_at, .ud = &e->lease };
}

/* ----------------------------------------------------------- handlers */

/* A new staging area of at least want bytes for p's lease of e (epoch);
 * registered with p's listener outside the lock. */
static int stage_grow(struct ms_export *e, struct peer *p, uint64_t epoch, uint64_t want,
		      char *msg, size_t msglen)
{
	struct lease *ls = &e->lease;
	struct listener *l = p->l;
	struct stage_seg g = { 0 };
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	uint64_t have;
	int ret;

	pthread_mutex_lock(&e->lock);
	have = ls->staged;
	/* an area of an earlier lease first, when it holds what is wanted
	 * (a piece must fit in one area): its pages are there already */
	if (e->npool && e->pool[0].len <= e->stage_limit - have &&
	    e->pool[0].len >= want - have) {
		g = e->pool[0];
		memmove(e->pool, e->pool + 1, --e->npool * sizeof(*e->pool));
	}
	pthread_mutex_unlock(&e->lock);
	if (!g.mem) {
		/* grow geometrically: a push of n bytes makes O(log n) areas */
		g.len = (size_t)MS_MAX(MS_MAX(want - have, have), (uint64_t)STAGE_MIN);
		g.len = (size_t)MS_MIN((uint64_t)g.len, e->stage_limit - have);
		g.len = (g.len + pg - 1) / pg * pg;
		g.mem = mmap(NULL, g.len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
			     0);
		if (g.mem == MAP_FAILED) {
			ret = -errno;
			snprintf(msg, msglen, "cannot map %zu bytes of staging for '%s': %s",
				 g.len, e->r->name, strerror(errno));
			return ret;
		}
		/* faulting 4 KiB pages in as the writes land costs more than
		 * the writes (perf/README.md): huge pages where the kernel
		 * has them (a hint; THP in madvise mode honours it) */
		(void)madvise(g.mem, g.len, MADV_HUGEPAGE);
	}
	/* write-only: the writer never reads its staging back, and an area
	 * an earlier writer used holds nothing this one may see */
	ret = ms_grant_reg(p, g.mem, g.len, MS_XACCESS_WRITE, &g.mr, &g.grant, &g.desc);
	if (ret) {
		munmap(g.mem, g.len);
		snprintf(msg, msglen, "cannot register staging for '%s': %s", e->r->name,
			 strerror(-ret));
		return ret;
	}
	pthread_mutex_lock(&e->lock);
	if (ls->holder == p && ls->epoch == epoch && ls->nseg < MS_STAGE_MAX_SEGS &&
	    ls->staged == have) {
		g.base = ls->staged;
		ls->seg[ls->nseg++] = g;
		ls->staged += g.len;
		g.mr = NULL;
		g.grant = NULL;
	} else {
		stale_msg_locked(e, epoch, msg, msglen);
	}
	pthread_mutex_unlock(&e->lock);
	if (g.mr) {                       /* fenced meanwhile */
		ms_grant_dereg(l, g.mr, g.grant);
		munmap(g.mem, g.len);
		return -ESTALE;
	}
	return 0;
}

int ms_srv_h_stage(ms_server *s, struct peer *p, const void *req, size_t len, void *resp,
		   size_t cap)
{
	struct ms_msg_stage m;
	struct ms_msg_stage_ok ok = { 0 };
	struct open_slot *o;
	struct ms_export *e;
	struct lease *ls;
	char msg[MS_ERRMSG_MAX + 1];
	int ret;

	(void)s;
	if (ms_dec_stage(req, len, &m))
		return ms_enc_error(resp, cap, EBADMSG, "malformed STAGE");
	o = ms_srv_slot(p, m.handle);
	if (!o)
		return ms_enc_error(resp, cap, EBADF, "no open region with handle %u", m.handle);
	e = o->e;
	ls = &e->lease;
	if (e->mode != MS_COMMIT_ATOMIC)
		return ms_enc_error(resp, cap, EINVAL,
				    "region '%s' commits in direct mode: it has no staging",
				    e->r->name);
	if (m.need > e->stage_limit)
		return ms_enc_error(resp, cap, E2BIG,
				    "%llu bytes of staging asked for '%s', more than its limit "
				    "of %llu: split the commit",
				    (unsigned long long)m.need, e->r->name,
				    (unsigned long long)e->stage_limit);
	for (int tries = 0;; tries++) {
		bool enough;

		if (!ms_lease_check(e, p, m.epoch, msg, sizeof(msg)))
			return ms_enc_error(resp, cap, ESTALE, "%s", msg);
		pthread_mutex_lock(&e->lock);
		enough = ls->staged >= m.need;
		ls->cycle = true;
		ls->expires_ns = ms_srv_now_ns() + ttl_ns(e);
		if (enough || tries >= MS_STAGE_MAX_SEGS) {
			for (unsigned i = 0; i < ls->nseg; i++)
				ok.seg[ok.n++] = (struct ms_stage_seg){ .base = ls->seg[i].base,
									.desc = ls->seg[i].desc };
		}
		pthread_mutex_unlock(&e->lock);
		if (enough)
			break;
		if (tries >= MS_STAGE_MAX_SEGS)
			return ms_enc_error(resp, cap, E2BIG, "staging of '%s' has too many areas",
					    e->r->name);
		ret = stage_grow(e, p, m.epoch, m.need, msg, sizeof(msg));
		if (ret)
			return ms_enc_error(resp, cap, -ret, "%s", msg);
	}
	return ms_enc_stage_ok(resp, cap, &ok);
}

int ms_srv_h_renew(ms_server *s, struct peer *p, const void *req, size_t len, void *resp,
		   size_t cap)
{
	struct ms_msg_renew m;
	struct open_slot *o;
	char msg[MS_ERRMSG_MAX + 1];

	if (ms_dec_renew(req, len, &m))
		return ms_enc_error(resp, cap, EBADMSG, "malformed RENEW");
	o = ms_srv_slot(p, m.handle);
	if (!o)
		return ms_enc_error(resp, cap, EBADF, "no open region with handle %u", m.handle);
	if (!ms_lease_check(o->e, p, m.epoch, msg, sizeof(msg)))
		return ms_enc_error(resp, cap, ESTALE, "%s", msg);
	pthread_mutex_lock(&o->e->lock);
	o->e->lease.expires_ns = ms_srv_now_ns() + ttl_ns(o->e);
	pthread_mutex_unlock(&o->e->lock);
	return ms_enc_renew_ok(resp, cap, s->lease_ttl_ms);
}

static struct ms_export *named(ms_server *s, const void *req, size_t len, enum ms_msg_type t,
			       char name[MS_NAME_MAX + 1], int *err)
{
	struct ms_export *e;

	*err = 0;
	if (ms_dec_lease(req, len, t, name)) {
		*err = EBADMSG;
		return NULL;
	}
	e = ms_srv_find(s, name);
	if (!e)
		*err = ENOENT;
	return e;
}

int ms_srv_h_lease(ms_server *s, struct peer *p, const void *req, size_t len, void *resp,
		   size_t cap)
{
	char name[MS_NAME_MAX + 1];
	struct ms_lease_info li;
	struct ms_export *e;
	int err;

	e = named(s, req, len, MS_MSG_LEASE, name, &err);
	if (err == EBADMSG)
		return ms_enc_error(resp, cap, EBADMSG, "malformed LEASE");
	if (!e)
		return ms_enc_error(resp, cap, ENOENT, "unknown region '%s'", name);
	ms_lease_info_of(e, &li);
	if (ms_srv_grant(s, p, name) < MS_GRANT_RW) {
		/* who holds it is for those who may write it (or break it) */
		memset(li.holder, 0, sizeof(li.holder));
		memset(li.client_id, 0, sizeof(li.client_id));
	}
	return ms_enc_lease_ok(resp, cap, &li);
}

int ms_srv_h_lease_break(ms_server *s, struct peer *p, const void *req, size_t len,
			 void *resp, size_t cap)
{
	char name[MS_NAME_MAX + 1];
	struct ms_lease_info li;
	struct ms_export *e;
	int err;

	e = named(s, req, len, MS_MSG_LEASE_BREAK, name, &err);
	if (err == EBADMSG)
		return ms_enc_error(resp, cap, EBADMSG, "malformed LEASE_BREAK");
	if (!e)
		return ms_enc_error(resp, cap, ENOENT, "unknown region '%s'", name);
	ms_lease_info_of(e, &li);
	ms_srv_log(s, MS_LOG_WARN, "'%s': %s breaks the write lease (%s, epoch %llu)", name,
		   p->xp->name, li.state == MS_LEASE_HELD ? li.holder : "not held",
		   (unsigned long long)li.epoch);
	ms_lease_fence(e, FENCE_BROKEN, p->xp->name);
	pthread_mutex_lock(&e->lock);
	e->lease.reserved = false;
	pthread_mutex_unlock(&e->lock);
	return ms_enc_lease_ok(resp, cap, &li);
}

int ms_srv_h_handover(ms_server *s, struct peer *p, const void *req, size_t len, void *resp,
		      size_t cap)
{
	static const uint8_t zero[16];
	struct ms_msg_handover m;
	struct ms_msg_gen g;
	struct open_slot *o;
	struct ms_export *e;
	char msg[MS_ERRMSG_MAX + 1], hex[33];

	if (ms_dec_handover(req, len, &m))
		return ms_enc_error(resp, cap, EBADMSG, "malformed HANDOVER");
	o = ms_srv_slot(p, m.handle);
	if (!o)
		return ms_enc_error(resp, cap, EBADF, "no open region with handle %u", m.handle);
	e = o->e;
	if (!memcmp(m.client_id, zero, 16) || !memcmp(m.client_id, p->client_id, 16))
		return ms_enc_error(resp, cap, EINVAL,
				    "a handover names another client's id (not zero, not the "
				    "holder's own)");
	pthread_mutex_lock(&e->lock);
	if (e->lease.holder != p || e->lease.epoch != m.epoch) {
		stale_msg_locked(e, m.epoch, msg, sizeof(msg));
		pthread_mutex_unlock(&e->lock);
		return ms_enc_error(resp, cap, ESTALE, "%s", msg);
	}
	/* reserved before the holder is fenced: at no moment may a third
	 * client take the lease */
	e->lease.reserved = true;
	memcpy(e->lease.reserved_for, m.client_id, 16);
	e->lease.reserved_until_ns = ms_srv_now_ns() + ttl_ns(e);
	g.generation = e->lease.epoch + 1;
	pthread_mutex_unlock(&e->lock);
	ms_lease_fence(e, FENCE_HANDED_OVER, NULL);
	id_hex(m.client_id, hex);
	ms_srv_log(s, MS_LOG_INFO, "'%s': %s hands the write lease over to client %s (epoch %llu)",
		   e->r->name, p->xp->name, hex, (unsigned long long)g.generation);
	return ms_enc_gen(resp, cap, MS_MSG_HANDOVER_OK, &g);
}
