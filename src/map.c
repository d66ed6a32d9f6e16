/* SPDX-License-Identifier: Apache-2.0 */
/*
 * map.c - the lazy mapper's setup and public face: ms_map_open() in phases
 * (state from the options, connect, probe the kernel and choose the path,
 * build the views, register them with the userfaultfd, prepare the tables
 * and connections, start the threads), ms_map_close(), and the accessors.
 * The fault and prefetch engine is map_fault.c, write-back map_sync.c; the
 * design is described in map_int.h.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bigbuf.h"
#include "map_huge.h"
#include "map_zero.h"
#include "map_int.h"
#include "opts.h"
#include "uffd.h"

int map_err(char *err, size_t errlen, int ret, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return ret;
}

struct prio {
	int64_t p;
	uint64_t i;
};

static int prio_cmp(const void *a, const void *b)
{
	const struct prio *x = a, *y = b;

	if (x->p != y->p)
		return x->p > y->p ? -1 : 1;
	return x->i < y->i ? -1 : x->i > y->i;
}

/* The server's hot chunks go first, hottest first, then the rest in the
 * order built so far.  Best effort: without a list the order stays. */
static void hot_to_front(ms_map *m)
{
	size_t n = 0, max = (size_t)MS_MIN(m->nchunks, (uint64_t)MAX_USE_REPORT);
	uint64_t *hot = malloc(max * sizeof(*hot));
	uint64_t *o = malloc(m->nchunks * sizeof(*o));
	uint8_t *seen = calloc(m->nchunks, 1);
	uint64_t k = 0;

	if (!hot || !o || !seen || ms_hot_chunks(m->w[0].r, hot, max, &n) || !n)
		goto out;
	for (size_t i = 0; i < n; i++)
		if (!seen[hot[i]]++)
			o[k++] = hot[i];
	for (uint64_t i = 0; i < m->nchunks; i++)
		if (!seen[m->order[i]])
			o[k++] = m->order[i];
	free(m->order);
	m->order = o;
	o = NULL;
out:
	free(hot);
	free(o);
	free(seen);
}

static int build_order(ms_map *m)
{
	struct prio *p;

	m->order = malloc(m->nchunks * sizeof(*m->order));
	if (!m->order)
		return -ENOMEM;
	if (!m->mo.priority) {
		for (uint64_t i = 0; i < m->nchunks; i++)
			m->order[i] = i;
		if (m->mo.hot_first)
			hot_to_front(m);
		return 0;
	}
	p = malloc(m->nchunks * sizeof(*p));
	if (!p)
		return -ENOMEM;
	for (uint64_t i = 0; i < m->nchunks; i++)
		p[i] = (struct prio){ m->mo.priority(m->mo.ud, i), i };
	qsort(p, m->nchunks, sizeof(*p), prio_cmp);
	for (uint64_t i = 0; i < m->nchunks; i++)
		m->order[i] = p[i].i;
	free(p);
	if (m->mo.hot_first)
		hot_to_front(m);
	return 0;
}

int map_worker_connect(ms_map *m, struct worker *w, const struct ms_client_opts *co,
		       enum ms_mode mode, char *err, size_t errlen)
{
	char cerr[384] = "";

	w->m = m;
	w->co = *co;
	w->c = ms_connect(m->host, m->port, co, cerr, sizeof(cerr));
	if (!w->c)
		return map_err(err, errlen, -errno, "lazy map of '%s': %s", m->name, cerr);
	w->r = ms_open(w->c, m->name, mode);
	if (!w->r && errno == EBUSY)
		return map_err(err, errlen, -EBUSY,
			       "lazy map of '%s': cannot map it writable: another client "
			       "holds its write lease (%s)", m->name, ms_client_errmsg(w->c));
	if (!w->r)
		return map_err(err, errlen, -errno, "lazy map: %s", ms_client_errmsg(w->c));
	return 0;
}

/* Register where this worker's pulls land, once. */
static int worker_setup(ms_map *m, struct worker *w, char *err, size_t errlen)
{
	void *where = m->stage;
	size_t len = m->size;
	size_t n = w->prefetch ? m->batch : map_huge_fault_chunks(m);

	w->gens = calloc(n, sizeof(*w->gens));
	w->hashes = calloc(n, MS_HASH_LEN);
	if (!w->gens || !w->hashes)
		return map_err(err, errlen, -ENOMEM, "lazy map: out of memory");

	if (!m->zero_copy) {
		w->buflen = (size_t)(w->prefetch ? m->batch : 1) * m->chunk;
		w->buf = ms_bigbuf_alloc(w->buflen, 0, NULL);
		if (!w->buf) {
			return map_err(err, errlen, -errno, "lazy map: mmap: %s",
				       strerror(errno));
		}
		where = w->buf;
		len = w->buflen;
	}
	if (!ms_mem_register(w->c, where, len))
		return map_err(err, errlen, -errno, "lazy map: %s", ms_client_errmsg(w->c));
	return 0;
}

bool map_conn_lost(const ms_map *m, const struct worker *w)
{
	/* or the region migrated: reconnecting follows it (client_redirect.c) */
	return m->rc_ms >= 0 && w->c && (!ms_client_connected(w->c) || ms_client_moved(w->c));
}

/* Sleep ms on m->cv, or less when the mapping is being closed. */
static void backoff(ms_map *m, long ms)
{
	struct timespec ts;

	ms_deadline_ms(&ts, ms);
	pthread_mutex_lock(&m->lk);
	while (!atomic_load(&m->stop) && pthread_cond_timedwait(&m->cv, &m->lk, &ts) != ETIMEDOUT)
		;
	pthread_mutex_unlock(&m->lk);
}

/*
 * w's connection died (map_conn_lost): connect it again, in place, trying
 * with backoff until *deadline (ms_now_ns() time; 0: the outage starts
 * now, and *deadline is set to now + reconnect_timeout_ms, so a caller
 * that loses the connection again keeps the first deadline), then follow
 * what the server changed meanwhile (map_regen: the chunks it drops are
 * added to *dropped, which may be NULL).  The caller holds
 * sync_lk when w is the sync connection.  0 once w is usable again;
 * -ETIMEDOUT when the time ran out, -ECANCELED when the mapping is being
 * closed (or, for a handling thread, failed meanwhile), or the -errno of
 * a refusal (ms_client_reconnect's fatal ones); why says what happened.
 */
int map_reconnect(ms_map *m, struct worker *w, uint64_t *deadline, uint64_t *dropped,
		  char *why, size_t whylen)
{
	long delay = RECONNECT_FIRST_MS, left;
	bool fatal;
	int ret;

	if (!*deadline)
		*deadline = ms_now_ns() + (uint64_t)MS_MAX(m->rc_ms, 0L) * 1000000u;
	for (;;) {
		if (atomic_load(&m->stop) || (w != &m->sw && atomic_load(&m->err)))
			return map_err(why, whylen, -ECANCELED, "%s",
				       atomic_load(&m->stop) ? "the mapping is being closed" :
							       "the mapping failed meanwhile");
		left = ms_left(*deadline);
		ret = ms_client_reconnect(w->c, &w->co, (int)MS_MAX(left, 1L), &fatal, why,
					  whylen);
		if (!ret) {
			ret = map_regen(m, w, w == &m->sw, dropped);
			if (!ret)
				return 0;
			fatal = ms_client_connected(w->c);
			map_err(why, whylen, 0, "after reconnecting: %s", ms_client_errmsg(w->c));
		}
		if (fatal)
			return ret;
		left = ms_left(*deadline);
		if (left <= 0) {
			size_t n = why ? strlen(why) : 0;

			if (why && n < whylen)
				snprintf(why + n, whylen - n, " (not back within %ld ms)", m->rc_ms);
			return -ETIMEDOUT;
		}
		backoff(m, MS_MIN(delay, left));
		delay = MS_MIN(delay * 2, (long)RECONNECT_MAX_MS);
	}
}

void map_worker_free(struct worker *w)
{
	ms_disconnect(w->c);   /* frees its regions and registrations */
	w->c = NULL;
	w->r = NULL;
	if (w->buf)
		ms_bigbuf_free(w->buf, w->buflen);
	w->buf = NULL;
	free(w->gens);
	free(w->hashes);
	w->gens = NULL;
	w->hashes = NULL;
}

/* Writable: the dirty tracker on the mapper's uffd, the chunks to push and
 * the bounce buffer, registered once with the sync connection. */
static int writable_setup(ms_map *m, char *err, size_t errlen)
{
	struct ms_dirty_opts dop = { .chunk_size = m->chunk,
				     .flags = m->mo.force_hash ? MS_DIRTY_FORCE_HASH : 0 };
	char why[192] = "";
	int ret;

	ret = ms_dirty_attach(m->track_wp ? m->uffd : -1, m->addr, m->size, &dop, &m->dirty,
			      why, sizeof(why));
	if (ret)
		return map_err(err, errlen, ret, "lazy map of '%s': dirty tracking: %s",
			       m->name, why);
	/* the tracker's reason, unless the mapper already knew why not */
	if (m->track_wp || !m->dirty_why[0] || strstr(why, "MS_DIRTY_FORCE_HASH"))
		snprintf(m->dirty_why, sizeof(m->dirty_why), "%s", why);
	m->track_wp = ms_dirty_mode(m->dirty) == MS_DIRTY_UFFD;
	m->maxrun = MS_MAX(1u, BOUNCE_BYTES / m->chunk);
	m->bouncelen = (size_t)MS_MIN(m->maxrun * m->chunk, m->size);
	/* populated now, as registering it over RDMA does anyway: the first
	 * large sync would otherwise fault in its pages one by one */
	m->bounce = ms_bigbuf_alloc(m->bouncelen, MS_BIGBUF_POPULATE, NULL);
	if (!m->bounce) {
		return map_err(err, errlen, -errno, "lazy map: mmap: %s", strerror(errno));
	}
	m->ranges = calloc(256, sizeof(*m->ranges));
	m->phash = calloc(SYNC_PIECES, sizeof(*m->phash));
	if (!m->ranges || !m->phash || ms_chunkmap_init(&m->pendpg, m->size / m->page) ||
	    ms_chunkmap_init(&m->sentpg, m->size / m->page))
		return map_err(err, errlen, -ENOMEM, "lazy map: out of memory");
	if (!ms_mem_register(m->sw.c, m->bounce, m->bouncelen))
		return map_err(err, errlen, -errno, "lazy map: %s", ms_client_errmsg(m->sw.c));
	return 0;
}

/* ------------------------------------------------------------ ms_map_open */

/* The mapping's state from the arguments, nothing opened yet; NULL with
 * errno set and err written. */
static ms_map *map_new(const char *host, const char *port, const char *region,
		       const struct ms_client_opts *co, const struct ms_map_opts *mo,
		       char *err, size_t errlen)
{
	pthread_condattr_t ca;
	unsigned nprefetch;
	ms_map *m;

	if (!host || !*host || !port || !*port || strlen(host) >= 256 ||
	    strlen(port) >= 8) {
		errno = EINVAL;
		map_err(err, errlen, 0, "lazy map: invalid server address");
		return NULL;
	}
	if (!region || !ms_name_valid(region)) {
		errno = EINVAL;
		map_err(err, errlen, 0, "lazy map: invalid region name '%s'",
			region ? region : "(null)");
		return NULL;
	}
	m = calloc(1, sizeof(*m));
	if (!m) {
		errno = ENOMEM;
		map_err(err, errlen, 0, "lazy map: out of memory");
		return NULL;
	}
	m->uffd = m->memfd = m->evfd = m->sigbus_fd = -1;
	if ((errno = -ms_opts_take(&m->mo, sizeof(m->mo), MS_MAP_OPTS_V1, mo)) ||
	    (errno = -ms_opts_take(&m->co, sizeof(m->co), MS_CLIENT_OPTS_V1, co))) {
		map_err(err, errlen, 0, "lazy map: client or map options not valid (opts_size)");
		free(m);
		return NULL;
	}
	/* the mapping outlives the caller's strings (key file, TLS files) */
	if (cl_opts_copy(&m->co_own, &m->co)) {
		errno = ENOMEM;
		map_err(err, errlen, 0, "lazy map: out of memory");
		free(m);
		return NULL;
	}
	m->co = m->co_own.o;
	/* a standby mapping tracks writes from the start and takes the
	 * lease when it is handed to it (map_lease.c) */
	m->writable = m->mo.writable || m->mo.standby;
	atomic_init(&m->leased, m->writable && !m->mo.standby);
	m->rc_ms = m->mo.reconnect_timeout_ms < 0 ? -1 :
		   m->mo.reconnect_timeout_ms ? m->mo.reconnect_timeout_ms : DEFAULT_RECONNECT_MS;
	snprintf(m->host, sizeof(m->host), "%s", host);
	snprintf(m->port, sizeof(m->port), "%s", port);
	snprintf(m->name, sizeof(m->name), "%s", region);
	m->page = (size_t)sysconf(_SC_PAGESIZE);
	m->nfault = m->mo.fault_threads ? m->mo.fault_threads : DEFAULT_FAULT_THREADS;
	nprefetch = m->mo.no_prefetch ? 0 :
		    m->mo.prefetch_threads ? m->mo.prefetch_threads :
					     DEFAULT_PREFETCH_THREADS;
	m->nw = m->nfault + nprefetch;
	pthread_mutex_init(&m->lk, NULL);
	pthread_mutex_init(&m->sync_lk, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&m->cv, &ca);
	pthread_condattr_destroy(&ca);
	m->w = calloc(m->nw, sizeof(*m->w));
	if (!m->w) {
		map_err(err, errlen, 0, "lazy map: out of memory");
		ms_map_close(m);
		errno = ENOMEM;
		return NULL;
	}
	for (unsigned i = 0; i < m->nw; i++)
		m->w[i].prefetch = i >= m->nfault;
	return m;
}

/* The first connection tells the region's geometry; a writer takes the
 * write lease on a second one. */
static int map_connect(ms_map *m, char *err, size_t errlen)
{
	struct ms_region_info info;
	int ret;

	ret = map_worker_connect(m, &m->w[0], &m->co, MS_MODE_READ, err, errlen);
	if (ret)
		return ret;
	ms_region_info(m->w[0].r, &info);
	m->size = info.size;
	m->chunk = info.chunk_size;
	m->nchunks = info.nchunks;
	m->batch = MS_MAX(1u, PREFETCH_BATCH_BYTES / m->chunk);
	if (m->size % m->page || m->chunk % m->page)
		return map_err(err, errlen, -EINVAL,
			       "lazy map of '%s': size %llu or chunk size %u is not a "
			       "multiple of the page size", m->name,
			       (unsigned long long)m->size, m->chunk);
	/* a writer takes the lease first: a second one fails here, at once.
	 * Its syncs send many small runs of pages: a deeper queue keeps
	 * them streaming instead of waiting for completions 16 at a time */
	if (m->writable) {
		struct ms_client_opts sco = m->co;

		if (!sco.queue_depth)
			sco.queue_depth = SYNC_DEPTH;
		/* standby: no lease yet, the same connection takes it later */
		ret = map_worker_connect(m, &m->sw, &sco,
					 m->mo.standby ? MS_MODE_READ : MS_MODE_WRITE, err, errlen);
		if (ret)
			return ret;
		ms_region_info(m->sw.r, &info);
		atomic_store(&m->lease_ttl_ms, info.lease_ttl_ms);
	}
	return 0;
}

/* Ask the kernel what it has, choose the path (zero-copy or copy, poison,
 * write tracking by WP) and open the mapper's userfaultfd with it. */
static int map_choose_path(ms_map *m, char *err, size_t errlen)
{
	uint64_t features = 0, want;
	int ret;

	ret = ms_uffd_probe(MS_UFFD_FAULTS, &features);
	if (ret)
		return map_err(err, errlen, ret, "lazy map: userfaultfd: %s%s", strerror(-ret),
			       ms_uffd_hint(ret));
	/* zero-copy where the RNIC writes into the memfd; over TCP the
	 * receive copies anyway and anonymous pages are cheaper to fill */
	m->zero_copy = m->mo.path != MS_MAP_PATH_COPY && (features & UFFD_FEATURE_MINOR_SHMEM) &&
		       (m->mo.path == MS_MAP_PATH_ZERO_COPY ||
			(ms_client_caps(m->w[0].c) & MS_XCAP_DIRECT_PLACEMENT));
	if ((unsigned)m->mo.path > MS_MAP_PATH_ZERO_COPY)
		return map_err(err, errlen, -EINVAL, "lazy map: unknown map path %d",
			       (int)m->mo.path);
	if (m->mo.path == MS_MAP_PATH_ZERO_COPY && !m->zero_copy)
		return map_err(err, errlen, -EOPNOTSUPP, "lazy map: zero-copy needs "
			       "UFFD_FEATURE_MINOR_SHMEM, which this kernel lacks");
	if ((ret = map_huge_choose(m, features, err, errlen)))   /* may set zero_copy */
		return ret;
	m->can_poison = (features & UFFD_FEATURE_POISON) &&
			!secure_getenv("MEMSYNC_MAP_NO_POISON");  /* tests the fallback */
	want = (m->huge ? UFFD_FEATURE_MINOR_HUGETLBFS :
		m->zero_copy ? UFFD_FEATURE_MINOR_SHMEM : 0) |
	       (m->can_poison ? UFFD_FEATURE_POISON : 0);
	if (m->writable) {
		uint64_t wp = UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED |
			      (m->zero_copy ? UFFD_FEATURE_WP_HUGETLBFS_SHMEM : 0);
		const char *miss = ms_uffd_missing(features, wp);

		if (miss)
			snprintf(m->dirty_why, sizeof(m->dirty_why),
				 "hashing: %s not supported by this kernel", miss);
		else if (m->mo.force_hash)
			snprintf(m->dirty_why, sizeof(m->dirty_why),
				 "hashing: forced (force_hash)");
		else
			m->track_wp = true;   /* unless register or attach says no */
		if (m->track_wp)
			want |= wp;
	}
	m->uffd = ms_uffd_new(MS_UFFD_FAULTS, want, NULL);
	if (m->uffd < 0)
		return map_err(err, errlen, m->uffd, "lazy map: userfaultfd: %s",
			       strerror(-m->uffd));
	return 0;
}

/* The application's view: a memfd mapped twice (it and the staging view)
 * on the zero-copy path, private anonymous memory on the copy path. */
static int map_build_views(ms_map *m, char *err, size_t errlen)
{
	int ret;

	if (m->zero_copy) {
		char nm[96];

		snprintf(nm, sizeof(nm), "memsync-map:%s", m->name);
		m->memfd = memfd_create(nm, MFD_CLOEXEC | map_huge_mfd_flags(m));
		if (m->memfd < 0 || ftruncate(m->memfd, (off_t)m->size))
			return map_err(err, errlen, -errno, "lazy map: memfd: %s",
				       strerror(errno));
		m->addr = mmap(NULL, m->size, PROT_READ | PROT_WRITE, MAP_SHARED,
			       m->memfd, 0);
		m->stage = mmap(NULL, m->size, PROT_READ | PROT_WRITE, MAP_SHARED,
				m->memfd, 0);
	} else {
		m->addr = mmap(NULL, m->size, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	}
	if (m->addr == MAP_FAILED || m->stage == MAP_FAILED) {
		ret = map_err(err, errlen, -errno, "lazy map: mmap of %llu bytes: %s",
			      (unsigned long long)m->size, strerror(errno));
		if (m->addr == MAP_FAILED)
			m->addr = NULL;
		if (m->stage == MAP_FAILED)
			m->stage = NULL;
		return ret;
	}
	return 0;
}

/* Register the view with the userfaultfd: with write protection when the
 * tracker is to use it (and without, saying why, when the kernel refuses
 * it for this mapping), then check the ioctls the engine needs. */
static int map_register(ms_map *m, char *err, size_t errlen)
{
	struct uffdio_register reg = {
		.range = { .start = (uintptr_t)m->addr, .len = m->size },
		.mode = UFFDIO_REGISTER_MODE_MISSING |
			(m->zero_copy ? UFFDIO_REGISTER_MODE_MINOR : 0),
	};
	bool registered = false;

	if (m->track_wp) {
		struct uffdio_register wreg = reg;

		wreg.mode |= UFFDIO_REGISTER_MODE_WP;
		if (ioctl(m->uffd, UFFDIO_REGISTER, &wreg) == 0 &&
		    (wreg.ioctls & (1ull << _UFFDIO_WRITEPROTECT))) {
			reg = wreg;
			registered = true;
		} else {
			snprintf(m->dirty_why, sizeof(m->dirty_why),
				 "hashing: UFFDIO_REGISTER with write protection: %s",
				 strerror(errno));
			m->track_wp = false;
			/* registered without the ioctl: back to a plain register */
			(void)ioctl(m->uffd, UFFDIO_UNREGISTER, &reg.range);
		}
	}
	if (!registered && ioctl(m->uffd, UFFDIO_REGISTER, &reg))
		return map_err(err, errlen, -errno, "lazy map: UFFDIO_REGISTER: %s",
			       strerror(errno));
	if (!(reg.ioctls & (1ull << (m->zero_copy ? _UFFDIO_CONTINUE : _UFFDIO_COPY))))
		return map_err(err, errlen, -EOPNOTSUPP,
			       "lazy map: the kernel offers no %s on this mapping",
			       m->zero_copy ? "UFFDIO_CONTINUE" : "UFFDIO_COPY");
	if (!(reg.ioctls & (1ull << _UFFDIO_POISON)))
		m->can_poison = false;
	if (!m->can_poison) {
		m->sigbus_fd = memfd_create("memsync-sigbus", MFD_CLOEXEC);
		if (m->sigbus_fd < 0)
			return map_err(err, errlen, -errno, "lazy map: memfd: %s",
				       strerror(errno));
	}
	return 0;
}

/* The chunk tables, the prefetch order, write-back, and every worker's
 * connection and landing area. */
static int map_prepare(ms_map *m, char *err, size_t errlen)
{
	int ret;

	m->state = calloc(m->nchunks, sizeof(*m->state));
	m->gens = calloc(m->nchunks, sizeof(*m->gens));
	if (!m->mo.no_use_report && !(m->faulted = malloc(MAX_USE_REPORT * sizeof(*m->faulted))))
		return map_err(err, errlen, -ENOMEM, "lazy map: out of memory");
	m->evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (!m->state || !m->gens || m->evfd < 0 || (m->nw > m->nfault && build_order(m)))
		return map_err(err, errlen, -ENOMEM, "lazy map: out of memory");
	if (m->writable && (ret = writable_setup(m, err, errlen)))
		return ret;
	for (unsigned i = 0; i < m->nw; i++) {
		if (i && (ret = map_worker_connect(m, &m->w[i], &m->co, MS_MODE_READ, err, errlen)))
			return ret;
		if ((ret = worker_setup(m, &m->w[i], err, errlen)))
			return ret;
	}
	(void)map_zero_load(m, m->w[0].r);      /* hints only: none is fine */
	return 0;
}

/* The fault and prefetch threads, and the background push. */
static int map_start(ms_map *m, char *err, size_t errlen)
{
	int ret;

	for (unsigned i = 0; i < m->nw; i++) {
		struct worker *w = &m->w[i];

		ret = -pthread_create(&w->th, NULL,
				      w->prefetch ? map_prefetch_main : map_fault_main, w);
		if (ret)
			return map_err(err, errlen, ret, "lazy map: pthread_create: %s",
				       strerror(-ret));
		w->started = true;
	}
	/* writable: syncs every sync_interval_ms, and keeps the lease (a
	 * standby mapping starts it when it takes the lease) */
	if (atomic_load(&m->leased)) {
		ret = -pthread_create(&m->sync_th, NULL, map_sync_main, m);
		if (ret)
			return map_err(err, errlen, ret, "lazy map: pthread_create: %s",
				       strerror(-ret));
		m->sync_started = true;
	}
	return 0;
}

ms_map *ms_map_open(const char *host, const char *port, const char *region,
			      const struct ms_client_opts *co,
			      const struct ms_map_opts *mo, char *err, size_t errlen)
{
	ms_map *m;
	int ret;

	if (err && errlen)
		*err = '\0';
	m = map_new(host, port, region, co, mo, err, errlen);
	if (!m)
		return NULL;
	/* each phase leaves what it built in m: ms_map_close() takes down a
	 * mapping built in part as well as a whole one */
	if ((ret = map_connect(m, err, errlen)))
		goto fail;
	if ((ret = map_choose_path(m, err, errlen)))
		goto fail;
	if ((ret = map_build_views(m, err, errlen)))
		goto fail;
	if ((ret = map_register(m, err, errlen)))
		goto fail;
	if ((ret = map_prepare(m, err, errlen)))
		goto fail;
	if ((ret = map_start(m, err, errlen)))
		goto fail;
	return m;

fail:
	ms_map_close(m);
	errno = -ret;
	return NULL;
}

void *ms_map_addr(const ms_map *m)
{
	return m->addr;
}

uint64_t ms_map_size(const ms_map *m)
{
	return m->size;
}

uint32_t ms_map_chunk_size(const ms_map *m)
{
	return m->chunk;
}

bool ms_map_zero_copy(const ms_map *m)
{
	return m->zero_copy;
}

void ms_map_progress(const ms_map *m, uint64_t *chunks_local,
			       uint64_t *chunks_total)
{
	if (chunks_local)
		*chunks_local = atomic_load(&((ms_map *)m)->nlocal);
	if (chunks_total)
		*chunks_total = m->nchunks;
}

const char *ms_map_errmsg(const ms_map *m)
{
	if (atomic_load(&((ms_map *)m)->err))
		return m->errmsg;
	return m->sync_err ? m->sync_errmsg : "";
}

int ms_map_wait(ms_map *m, int timeout_ms)
{
	struct timespec dl;
	int ret = 0;

	ms_deadline_ms(&dl, timeout_ms > 0 ? timeout_ms : 0);
	pthread_mutex_lock(&m->lk);
	for (;;) {
		if ((ret = atomic_load(&m->err)) || (ret = m->sync_err))
			break;
		if (atomic_load(&m->nlocal) == m->nchunks)
			break;
		if (timeout_ms < 0)
			pthread_cond_wait(&m->cv, &m->lk);
		else if (pthread_cond_timedwait(&m->cv, &m->lk, &dl) == ETIMEDOUT) {
			ret = atomic_load(&m->err);
			if (!ret && atomic_load(&m->nlocal) != m->nchunks)
				ret = -ETIMEDOUT;
			break;
		}
	}
	pthread_mutex_unlock(&m->lk);
	return ret;
}

bool ms_map_huge(const ms_map *m)
{
	return m->huge;
}

const char *ms_map_page_mode(const ms_map *m)
{
	return m->page_why;
}

bool ms_map_writable(const ms_map *m)
{
	return m->writable;
}

const char *ms_map_dirty_mode(const ms_map *m)
{
	return m->writable ? m->dirty_why : "";
}

void ms_map_close(ms_map *m)
{
	uint64_t one = 1;

	if (!m)
		return;
	atomic_store(&m->stop, true);
	if (m->evfd >= 0)
		(void)!write(m->evfd, &one, sizeof(one));
	map_notify(m);
	if (m->sync_started)
		pthread_join(m->sync_th, NULL);
	for (unsigned i = 0; m->w && i < m->nw; i++)
		if (m->w[i].started)
			pthread_join(m->w[i].th, NULL);
	/* the use report: which chunks the application needed first */
	if (m->faulted && m->w && m->w[0].r && !atomic_load(&m->err)) {
		unsigned n = MS_MIN(atomic_load(&m->nfaulted), (unsigned)MAX_USE_REPORT);

		if (n)
			(void)ms_touch_chunks(m->w[0].r, m->faulted, n);
	}
	for (unsigned i = 0; m->w && i < m->nw; i++)
		map_worker_free(&m->w[i]);
	map_worker_free(&m->sw);
	ms_dirty_close(m->dirty);
	ms_chunkmap_free(&m->pendpg);
	ms_chunkmap_free(&m->sentpg);
	free(m->ranges);
	free(m->phash);
	ms_bigbuf_free(m->bounce, m->bouncelen);
	if (m->addr)
		munmap(m->addr, m->size);   /* unregisters it from the uffd */
	if (m->stage)
		munmap(m->stage, m->size);
	if (m->uffd >= 0)
		close(m->uffd);
	if (m->memfd >= 0)
		close(m->memfd);
	if (m->sigbus_fd >= 0)
		close(m->sigbus_fd);
	if (m->evfd >= 0)
		close(m->evfd);
	pthread_cond_destroy(&m->cv);
	pthread_mutex_destroy(&m->lk);
	pthread_mutex_destroy(&m->sync_lk);
	free(m->gens);
	map_zero_free(m);
	free((void *)m->state);
	free(m->order);
	map_hot_free(m);
	free(m->faulted);
	free(m->w);
	cl_opts_free(&m->co_own);
	free(m);
}

