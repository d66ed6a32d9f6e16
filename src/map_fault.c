/* SPDX-License-Identifier: Apache-2.0 */
/*
 * map_fault.c - the lazy mapper's engine: the fault threads (a fault on an
 * absent chunk pulls it and maps it in), the prefetch threads (the rest in
 * order, yielding to faults), and what both do to a chunk: fetch, resolve
 * (UFFDIO_CONTINUE or UFFDIO_COPY), poison on failure, map again after the
 * kernel dropped a page.  See map_int.h for the design.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "map_huge.h"
#include "map_int.h"
#include "map_zero.h"
#include "region_zero.h"
#include "uffd.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

void map_notify(ms_map *m)
{
	pthread_mutex_lock(&m->lk);
	pthread_cond_broadcast(&m->cv);
	pthread_mutex_unlock(&m->lk);
}

/* Record the mapping's first failure. */
void map_fail(ms_map *m, int ret, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&m->lk);
	if (!atomic_load(&m->err)) {
		va_start(ap, fmt);
		vsnprintf(m->errmsg, sizeof(m->errmsg), fmt, ap);
		va_end(ap);
		atomic_store(&m->err, ret ? ret : -EIO);
	}
	pthread_cond_broadcast(&m->cv);
	pthread_mutex_unlock(&m->lk);
}

void map_uffd_wake(ms_map *m, uint64_t off, uint64_t len)
{
	struct uffdio_range r = { .start = (uintptr_t)(m->addr + off), .len = len };

	(void)ioctl(m->uffd, UFFDIO_WAKE, &r);
}

/* Fill [off, off+len) of the application's view: UFFDIO_CONTINUE of the
 * page cache (zero-copy) or UFFDIO_COPY from src, without waking anyone
 * (the caller publishes the chunks first, then wakes).  Pages that are
 * already mapped are skipped. */
static int resolve(ms_map *m, uint64_t off, uint64_t len, const uint8_t *src)
{
	uint64_t done = 0;

	while (done < len) {
		int64_t got;
		int rc;

		if (m->zero_copy) {
			struct uffdio_continue uc = {
				.range = { .start = (uintptr_t)(m->addr + off + done),
					   .len = len - done },
				.mode = UFFDIO_CONTINUE_MODE_DONTWAKE |
					(m->track_wp ? UFFDIO_CONTINUE_MODE_WP : 0),
			};
			rc = ioctl(m->uffd, UFFDIO_CONTINUE, &uc);
			got = uc.mapped;
		} else {
			struct uffdio_copy cp = {
				.dst = (uintptr_t)(m->addr + off + done),
				.src = (uintptr_t)(src + done),
				.len = len - done,
				.mode = UFFDIO_COPY_MODE_DONTWAKE |
					(m->track_wp ? UFFDIO_COPY_MODE_WP : 0),
			};
			rc = ioctl(m->uffd, UFFDIO_COPY, &cp);
			got = cp.copy;
		}
		if (rc == 0)
			break;
		int e = errno;

		if (got > 0)
			done += (uint64_t)got;
		if (e == EAGAIN)
			continue;
		if (e == EEXIST) {       /* already mapped: leave it */
			done += m->page;
			continue;
		}
		return -e;
	}
	return 0;
}

/* Make every access to [off, off+len) that is not mapped yet raise SIGBUS,
 * and wake whoever waits there. */
static void poison(ms_map *m, uint64_t off, uint64_t len)
{
	uint64_t done = 0;

	map_huge_round(m, &off, &len);   /* hugetlbfs: whole huge pages */
	if (!m->can_poison) {
		/* Without UFFDIO_POISON: map a piece of an empty file there; an
		 * access beyond a file's end is SIGBUS.  The new mapping is not
		 * registered, so the woken waiters fault on it and get SIGBUS. */
		(void)mmap(m->addr + off, len, PROT_READ | PROT_WRITE,
			   MAP_SHARED | MAP_FIXED, m->sigbus_fd, 0);
		map_uffd_wake(m, off, len);
		return;
	}
	while (done < len) {
		struct uffdio_poison p = {
			.range = { .start = (uintptr_t)(m->addr + off + done),
				   .len = len - done },
		};

		if (ioctl(m->uffd, UFFDIO_POISON, &p) == 0)
			break;
		int e = errno;

		if (p.updated > 0)
			done += (uint64_t)p.updated;
		if (e == EAGAIN)
			continue;
		if (e == EEXIST) {
			done += m->page;
			continue;
		}
		break;
	}
	map_uffd_wake(m, off, len);
}

/* A fault on a page of a local chunk.  Usually a message that arrived
 * after the fetch mapped the page (EEXIST: nothing to do).  But the page
 * may have lost its page table entry since: zero-copy, the memfd still
 * holds the bytes and UFFDIO_CONTINUE maps them again; copy, anonymous
 * memory whose entry is gone reads as zeros (MADV_DONTNEED), as without
 * userfaultfd.  Either way the page is mapped writable and unprotected,
 * so the dirty tracker counts it as written: a write made before the
 * entry was lost is pushed, never dropped.  Waking alone would let the
 * access fault again, forever. */
static void refault(ms_map *m, uint64_t addr)
{
	uint64_t off = (addr - (uintptr_t)m->addr) & ~((uint64_t)m->page - 1);
	int rc;

	if (m->zero_copy) {
		struct uffdio_continue uc = {
			.range = { .start = (uintptr_t)m->addr + off, .len = m->page },
			.mode = UFFDIO_CONTINUE_MODE_DONTWAKE,
		};
		rc = ioctl(m->uffd, UFFDIO_CONTINUE, &uc);
	} else {
		struct uffdio_zeropage z = {
			.range = { .start = (uintptr_t)m->addr + off, .len = m->page },
			.mode = UFFDIO_ZEROPAGE_MODE_DONTWAKE,
		};
		rc = ioctl(m->uffd, UFFDIO_ZEROPAGE, &z);
	}
	if (rc && errno != EEXIST && errno != EAGAIN) {
		map_fail(m, -errno, "lazy map of '%s': cannot map page at offset %llu again: %s",
			 m->name, (unsigned long long)off, strerror(errno));
		poison(m, off, m->page);        /* SIGBUS, not a fault loop */
		return;
	}
	map_uffd_wake(m, off, m->page);
}

/* Pull [off, off+len) (from chunk first on) into dst.  A connection found
 * dead is connected again and the pull repeated (the chunks stay FETCHING:
 * faults on them wait) until the reconnect timeout; a failure then, or
 * any other, fails the mapping. */
static int pull(struct worker *w, uint64_t first, uint64_t off, uint8_t *dst, uint64_t len)
{
	ms_map *m = w->m;
	uint64_t deadline = 0;
	char lost[512], why[512];
	int ret, rc;

	while ((ret = ms_pull_gens(w->r, off, dst, len, w->gens, w->hashes)) &&
	       map_conn_lost(m, w)) {
		snprintf(lost, sizeof(lost), "%s", ms_client_errmsg(w->c));
		rc = map_reconnect(m, w, &deadline, NULL, why, sizeof(why));
		if (rc) {
			map_fail(m, rc == -ETIMEDOUT || rc == -ECANCELED ? ret : rc,
				 "lazy map of '%s': chunk %llu: %s; reconnecting: %s", m->name,
				 (unsigned long long)first, lost, why);
			return ret;
		}
	}
	if (ret)
		map_fail(m, ret, "lazy map of '%s': chunk %llu: %s", m->name,
			 (unsigned long long)first, ms_client_errmsg(w->c));
	return ret;
}

/* Zero chunks [off, off+len) without reading them: the memfd's pages (the
 * staging view) or the copy buffer are zeroed and mapped as a pull's
 * would be; on the copy path without write tracking the kernel's zero
 * page is mapped (UFFDIO_ZEROPAGE: a protected install needs UFFDIO_COPY).
 * w->gens and w->hashes get the chunks' generations and zero hashes.  1:
 * mapped already, 0: the caller maps them (resolve), or -errno. */
static int zero_fill(struct worker *w, uint64_t first, uint64_t n, uint64_t off, uint64_t len,
		     const uint64_t *zgens)
{
	ms_map *m = w->m;
	uint64_t done = 0;

	for (uint64_t i = 0; i < n; i++) {
		uint64_t coff, clen;

		chunk_range(m, first + i, 1, &coff, &clen);
		w->gens[i] = zgens[i];
		ms_zero_chunk_hash(clen, w->hashes + i * MS_HASH_LEN);
	}
	if (m->zero_copy) {
		memset(m->stage + off, 0, len);
		return 0;
	}
	if (m->track_wp) {
		memset(w->buf, 0, len);
		return 0;
	}
	while (done < len) {
		struct uffdio_zeropage z = {
			.range = { .start = (uintptr_t)(m->addr + off + done), .len = len - done },
			.mode = UFFDIO_ZEROPAGE_MODE_DONTWAKE,
		};

		if (ioctl(m->uffd, UFFDIO_ZEROPAGE, &z) == 0)
			return 1;
		int e = errno;

		if (z.zeropage > 0)
			done += (uint64_t)z.zeropage;
		if (e == EAGAIN)
			continue;
		if (e == EEXIST) {
			done += m->page;
			continue;
		}
		map_fail(m, -e, "lazy map of '%s': cannot map zero chunk %llu: %s", m->name,
			 (unsigned long long)first, strerror(e));
		return -e;
	}
	return 1;
}

static int fetch(struct worker *w, uint64_t first, uint64_t n, uint64_t fault_t0)
{
	if (map_zero_any(w->m, first, n))
		return map_zero_fetch(w, first, n, fault_t0);
	return map_fetch_run(w, first, n, fault_t0, NULL);
}

/* Chunks [first, first+n) are ours (state FETCHING): pull, map, publish.
 * fault_t0: for a fault, when it was read (its latency is noted when the
 * chunk is mapped and published, just before its waiters are woken),
 * else 0.  zgens: the chunks are zero at these generations (map_zero.h):
 * installed as zeros, not pulled. */
int map_fetch_run(struct worker *w, uint64_t first, uint64_t n, uint64_t fault_t0,
		  const uint64_t *zgens)
{
	ms_map *m = w->m;
	uint64_t off, len;
	uint8_t *dst;
	bool zmapped = false;
	int ret;

	chunk_range(m, first, n, &off, &len);
	dst = m->zero_copy ? m->stage + off : w->buf;
	/* allocate the memfd's pages for the range in one call rather than
	 * one fault per page inside the transport's receive */
	if (m->zero_copy)
		(void)madvise(dst, len, MADV_POPULATE_WRITE);
	if (zgens) {
		ret = zero_fill(w, first, n, off, len, zgens);
		zmapped = ret > 0;      /* UFFDIO_ZEROPAGE mapped them */
		ret = MS_MIN(ret, 0);
		if (!ret)
			atomic_fetch_add(&m->nzero, n);
	} else {
		ret = pull(w, first, off, dst, len);
	}
	/* hugetlbfs: mapped below, once its huge pages are complete */
	if (!ret && !m->huge && !zmapped && (ret = resolve(m, off, len, dst)))
		map_fail(m, ret, "lazy map of '%s': cannot map chunk %llu: %s", m->name,
			 (unsigned long long)first, strerror(-ret));
	if (ret) {
		poison(m, off, len);
		for (uint64_t i = first; i < first + n; i++)
			atomic_store(&m->state[i], CH_FAILED);
		return ret;
	}
	/* the baseline of hash tracking is what was pulled: a write that
	 * lands between the resolve and here is still a change */
	for (uint64_t i = 0; i < n; i++) {
		m->gens[first + i] = w->gens[i];
		if (m->dirty)
			ms_dirty_hash_set(m->dirty, first + i, w->hashes + i * MS_HASH_LEN);
	}
	/* published before the waiters run: an access that returns has its
	 * chunk counted */
	for (uint64_t i = first; i < first + n; i++) {
		atomic_store(&m->state[i], CH_LOCAL);
		atomic_fetch_add(&m->nlocal, 1);
	}
	/* noted before the wake: the faulting thread may look right after */
	if (fault_t0)
		map_fault_note(m, ms_now_ns() - fault_t0);
	if (m->huge)
		map_huge_done(m, first, n);
	else
		map_uffd_wake(m, off, len);
	for (uint64_t i = first; m->mo.on_local && i < first + n; i++)
		m->mo.on_local(m->mo.ud, i);
	map_notify(m);
	return 0;
}

/* t0: when the fault was read (its latency is noted) */
static void handle_fault(struct worker *w, uint64_t addr, uint64_t t0)
{
	ms_map *m = w->m;
	uint64_t i, off, len;

	if (addr < (uintptr_t)m->addr || addr - (uintptr_t)m->addr >= m->size)
		return;
	if (m->huge) {
		map_huge_fault(w, addr, t0);
		return;
	}
	i = (addr - (uintptr_t)m->addr) / m->chunk;
	chunk_range(m, i, 1, &off, &len);
	for (;;) {
		uint8_t st = atomic_load(&m->state[i]);

		switch (st) {
		case CH_ABSENT:
			if (!atomic_compare_exchange_strong(&m->state[i], &st,
							    CH_FETCHING))
				continue;
			if (atomic_load(&m->err)) {
				/* the mapping failed: nothing new arrives */
				poison(m, off, len);
				atomic_store(&m->state[i], CH_FAILED);
				return;
			}
			if (m->faulted) {
				unsigned k = atomic_fetch_add(&m->nfaulted, 1);

				if (k < MAX_USE_REPORT)
					m->faulted[k] = i;
			}
			(void)fetch(w, i, 1, t0);
			return;
		case CH_FETCHING:
			return;         /* the fetcher's resolve wakes us */
		case CH_FAILED:
			poison(m, off, len);
			return;
		default:
			/* local: a late message, or the kernel dropped the
			 * page's entry since (reclaim, migration, the
			 * application's MADV_DONTNEED): map it again */
			refault(m, addr);
			return;
		}
	}
}

void *map_fault_main(void *arg)
{
	struct worker *w = arg;
	ms_map *m = w->m;
	struct pollfd pf[2] = { { .fd = m->uffd, .events = POLLIN },
				{ .fd = m->evfd, .events = POLLIN } };
	struct uffd_msg msgs[16];

	while (!atomic_load(&m->stop)) {
		ssize_t got;

		if (poll(pf, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			map_fail(m, -errno, "lazy map of '%s': poll: %s", m->name,
				 strerror(errno));
			break;
		}
		if (pf[1].revents)
			break;
		got = read(m->uffd, msgs, sizeof(msgs));
		if (got < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			map_fail(m, -errno, "lazy map of '%s': reading faults: %s",
				 m->name, strerror(errno));
			break;
		}
		atomic_fetch_add(&m->faults_busy, 1);
		uint64_t t0 = ms_now_ns();

		for (size_t k = 0; k < (size_t)got / sizeof(msgs[0]); k++) {
			if (msgs[k].event == UFFD_EVENT_PAGEFAULT)
				handle_fault(w, msgs[k].arg.pagefault.address, t0);
		}
		if (atomic_fetch_sub(&m->faults_busy, 1) == 1)
			map_notify(m);
	}
	return NULL;
}

/* Prefetching yields to faults: wait while any are being served. */
static void yield_to_faults(ms_map *m)
{
	if (!atomic_load(&m->faults_busy))
		return;
	pthread_mutex_lock(&m->lk);
	while (atomic_load(&m->faults_busy) && !atomic_load(&m->stop)) {
		struct timespec ts;

		ms_deadline_ms(&ts, 1);
		pthread_cond_timedwait(&m->cv, &m->lk, &ts);
	}
	pthread_mutex_unlock(&m->lk);
}

/* The next entries to prefetch: [*k, *end) of *order: the hot list
 * adopted meanwhile (map_adopt_hot) first, then the order; false when
 * the order is through. */
static bool claim(ms_map *m, const uint64_t **order, uint64_t *k, uint64_t *end)
{
	struct map_hot *h = atomic_load(&m->hot);

	if (h && atomic_load(&h->next) < h->n) {
		uint64_t at = atomic_fetch_add(&h->next, PREFETCH_CLAIM);

		if (at < h->n) {
			*order = h->idx;
			*k = at;
			*end = MS_MIN(at + PREFETCH_CLAIM, h->n);
			return true;
		}
	}
	*k = atomic_fetch_add(&m->next, PREFETCH_CLAIM);
	if (*k >= m->nchunks)
		return false;
	*order = m->order;
	*end = MS_MIN(*k + PREFETCH_CLAIM, m->nchunks);
	return true;
}

void *map_prefetch_main(void *arg)
{
	struct worker *w = arg;
	ms_map *m = w->m;

	while (!atomic_load(&m->stop) && !atomic_load(&m->err)) {
		const uint64_t *order;
		uint64_t k, end, first = 0, n = 0;

		if (!claim(m, &order, &k, &end))
			break;
		/* runs of consecutive chunks that are still absent, in order */
		for (; k <= end; k++) {
			uint64_t c = k < end ? order[k] : UINT64_MAX;
			uint8_t st = CH_ABSENT;
			bool extend = k < end && n && c == first + n && n < m->batch;

			if (extend && atomic_compare_exchange_strong(&m->state[c], &st,
								    CH_FETCHING)) {
				n++;
				continue;
			}
			if (n) {
				yield_to_faults(m);
				if (atomic_load(&m->stop) || fetch(w, first, n, 0))
					goto out;
				n = 0;
			}
			st = CH_ABSENT;
			if (k < end &&
			    atomic_compare_exchange_strong(&m->state[c], &st, CH_FETCHING)) {
				first = c;
				n = 1;
			}
		}
	}
out:
	/* Chunks claimed but not fetched stay FETCHING: after a stop the
	 * mapping is being closed, and after a failed fetch they are FAILED
	 * (fetch marks them), so nobody is left waiting for them. */
	return NULL;
}

/* for map_huge.c */
int map_fetch(struct worker *w, uint64_t first, uint64_t n, uint64_t fault_t0)
{
	return fetch(w, first, n, fault_t0);
}

void map_poison(ms_map *m, uint64_t off, uint64_t len)
{
	poison(m, off, len);
}
