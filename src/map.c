/* SPDX-License-Identifier: Apache-2.0 */
/*
 * map.c - lazy mapping of a remote region (ms_map_*): the region is mapped
 * at its full size at once, and its chunks arrive on first touch
 * (userfaultfd) or from background prefetch threads.
 *
 * Every chunk has a state (absent, fetching, local, failed) in a table of
 * atomics; whoever moves a chunk from absent to fetching (a fault thread or
 * a prefetch thread) pulls it and maps it, everyone else leaves it alone:
 * a fault on a chunk that is being fetched is woken by the resolve (both
 * UFFDIO_COPY and UFFDIO_CONTINUE wake every thread waiting on the range
 * they fill, whatever kind of fault it was).
 *
 * Zero-copy path: the mapping is a memfd mapped twice, the application's
 * view (registered MISSING | MINOR) and a staging view that no uffd
 * watches.  A pull lands in the staging view, which fills the memfd's page
 * cache; UFFDIO_CONTINUE then maps those same pages into the application's
 * view.  UFFDIO_CONTINUE only looks up the page cache and installs the
 * page table entries (mm/userfaultfd.c, mfill_atomic_pte_continue); it
 * does not care whether the fault that is waiting was a MISSING fault (no
 * page in the cache when it happened) or a MINOR one, and its wake is by
 * range.  test_map checks exactly that: untouched pages fault MISSING.
 *
 * Copy path: private anonymous memory registered MISSING; a pull lands in
 * a per-thread buffer and UFFDIO_COPY places it.
 *
 * The handling threads never touch the application's view: they write to
 * the staging view or their own buffer and only name the view in ioctls.
 *
 * Writable mappings: one more connection (sync) opens the region for
 * writing (the write lease).  Writes are tracked on the mapper's own
 * userfaultfd (a range can belong to one uffd only): it is opened with
 * UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED, the view is
 * registered with WP as well, and every chunk is installed write-protected
 * (UFFDIO_CONTINUE_MODE_WP / UFFDIO_COPY_MODE_WP), so a pull never makes a
 * page dirty and the application's first write to a page only drops the
 * protection; ms_dirty (attached to this uffd) reads the written pages back
 * with PAGEMAP_SCAN.  Without WP_ASYNC, ms_dirty hashes local chunks: each
 * chunk's baseline is the committed hash its pull was verified against.
 * `pendpg` holds the pages found written and not committed yet (a chunk is
 * pending when any of its pages is): a sync pushes the pages (the server
 * rehashes a chunk from the leaves written, docs/protocol.md), so 1% of
 * the pages costs 1% of the bytes whatever the chunk size.  Sync and
 * refresh run under sync_lk.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "chunkmap.h"
#include "client_int.h"
#include "dirty.h"
#include "hash.h"
#include "memsync.h"
#include "uffd_compat.h"
#include "util.h"

/* Kernel interfaces newer than some distribution headers (values from
 * include/uapi/linux/userfaultfd.h). */
#ifndef UFFD_FEATURE_MINOR_SHMEM
#define UFFD_FEATURE_MINOR_SHMEM (1 << 10)
#endif
#ifndef UFFD_FEATURE_POISON
#define UFFD_FEATURE_POISON (1 << 14)
#endif
#ifndef _UFFDIO_POISON
#define _UFFDIO_POISON (0x08)
struct uffdio_poison {
	struct uffdio_range range;
	__u64 mode;
	__s64 updated;
};
#define UFFDIO_POISON _IOWR(UFFDIO, _UFFDIO_POISON, struct uffdio_poison)
#endif

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

enum { CH_ABSENT = 0, CH_FETCHING, CH_LOCAL, CH_FAILED };

#define DEFAULT_FAULT_THREADS 2
#define DEFAULT_PREFETCH_THREADS 2
#define PREFETCH_BATCH_BYTES (1u << 20)  /* one pull per run of up to 1 MiB */
#define PREFETCH_CLAIM 16               /* order entries claimed at once */
#define MAX_USE_REPORT 16384            /* chunks named by the use report */
#define BOUNCE_BYTES (16u << 20)        /* sync: snapshot buffer */
#define SYNC_PIECES 8192                /* sync: runs written in one batch */
#define SYNC_DEPTH 256                  /* sync: writes in flight */

struct worker {
	ms_map *m;
	pthread_t th;
	bool started, prefetch;
	ms_client *c;
	ms_region *r;
	uint8_t *buf;        /* copy path: where pulls land */
	size_t buflen;
	uint64_t *gens;      /* per chunk of a fetch: its generation and */
	uint8_t *hashes;     /* committed hash (MS_HASH_LEN each) */
};

struct ms_map {
	char host[256], port[8], name[MS_NAME_MAX + 1];
	struct ms_map_opts mo;
	uint64_t size, nchunks;
	uint32_t chunk;
	size_t page;
	bool zero_copy, can_poison;
	int uffd, memfd, evfd, sigbus_fd;
	uint8_t *addr;       /* the application's view */
	uint8_t *stage;      /* zero-copy: the staging view of the same memfd */
	_Atomic uint8_t *state;
	atomic_uint_fast64_t nlocal;
	uint64_t *order;     /* prefetch order (chunk indices) */
	uint64_t *faulted;   /* chunks fetched for a fault, in order (the use
			      * report at close), up to MAX_USE_REPORT */
	atomic_uint nfaulted;
	atomic_uint_fast64_t next;
	uint64_t batch;      /* chunks per prefetch pull */
	atomic_int faults_busy;
	atomic_bool stop;
	atomic_int err;      /* first failure (-errno); errmsg set before */
	char errmsg[512];
	pthread_mutex_t lk;
	pthread_cond_t cv;   /* progress, failure, faults_busy back to 0 */
	struct worker *w;
	unsigned nw, nfault;

	struct ms_client_opts co;
	uint64_t *gens;      /* per chunk: the generation it was pulled at */
	/* writable mappings and refresh */
	bool writable;
	bool track_wp;       /* dirty tracking by uffd WP: install protected */
	struct ms_dirty *dirty;
	char dirty_why[192];
	pthread_mutex_t sync_lk;
	struct worker sw;    /* the sync connection (not a thread) */
	struct ms_chunkmap pendpg; /* pages written, not committed yet */
	uint8_t *bounce;
	size_t bouncelen;
	uint64_t maxrun;     /* chunks per ms_write */
	struct ms_dirty_range *ranges;
	struct ms_wpiece *pieces; /* sync: SYNC_PIECES of them */
	uint8_t (*phash)[MS_HASH_LEN]; /* ... and their chunk hashes */
	pthread_t sync_th;
	bool sync_started;
	int sync_err;        /* last ms_map_sync() failure, 0 after a success */
	char sync_errmsg[512];
};

static int map_err(char *err, size_t errlen, int ret, const char *fmt, ...)
	MS_PRINTF(4, 5);
static int map_err(char *err, size_t errlen, int ret, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return ret;
}

static void notify_all(ms_map *m)
{
	pthread_mutex_lock(&m->lk);
	pthread_cond_broadcast(&m->cv);
	pthread_mutex_unlock(&m->lk);
}

/* Record the mapping's first failure. */
static void map_fail(ms_map *m, int ret, const char *fmt, ...) MS_PRINTF(3, 4);
static void map_fail(ms_map *m, int ret, const char *fmt, ...)
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

static void chunk_range(const ms_map *m, uint64_t first, uint64_t n, uint64_t *off,
			uint64_t *len)
{
	*off = first * m->chunk;
	*len = MS_MIN(n * m->chunk, m->size - *off);
}

static void uffd_wake(ms_map *m, uint64_t off, uint64_t len)
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

	if (!m->can_poison) {
		/* Without UFFDIO_POISON: map a piece of an empty file there; an
		 * access beyond a file's end is SIGBUS.  The new mapping is not
		 * registered, so the woken waiters fault on it and get SIGBUS. */
		(void)mmap(m->addr + off, len, PROT_READ | PROT_WRITE,
			   MAP_SHARED | MAP_FIXED, m->sigbus_fd, 0);
		uffd_wake(m, off, len);
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
	uffd_wake(m, off, len);
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
	uffd_wake(m, off, m->page);
}

/* Chunks [first, first+n) are ours (state FETCHING): pull, map, publish. */
static int fetch(struct worker *w, uint64_t first, uint64_t n)
{
	ms_map *m = w->m;
	uint64_t off, len;
	uint8_t *dst;
	int ret;

	chunk_range(m, first, n, &off, &len);
	dst = m->zero_copy ? m->stage + off : w->buf;
	/* allocate the memfd's pages for the range in one call rather than
	 * one fault per page inside the transport's receive */
	if (m->zero_copy)
		(void)madvise(dst, len, MADV_POPULATE_WRITE);
	ret = ms_pull_gens(w->r, off, dst, len, w->gens, w->hashes);
	if (ret)
		map_fail(m, ret, "lazy map of '%s': chunk %llu: %s", m->name,
			 (unsigned long long)first, ms_client_errmsg(w->c));
	else if ((ret = resolve(m, off, len, dst)))
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
	uffd_wake(m, off, len);
	for (uint64_t i = first; m->mo.on_local && i < first + n; i++)
		m->mo.on_local(m->mo.ud, i);
	notify_all(m);
	return 0;
}

static void handle_fault(struct worker *w, uint64_t addr)
{
	ms_map *m = w->m;
	uint64_t i, off, len;

	if (addr < (uintptr_t)m->addr || addr - (uintptr_t)m->addr >= m->size)
		return;
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
			(void)fetch(w, i, 1);
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

static void *fault_main(void *arg)
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
		for (size_t k = 0; k < (size_t)got / sizeof(msgs[0]); k++) {
			if (msgs[k].event == UFFD_EVENT_PAGEFAULT)
				handle_fault(w, msgs[k].arg.pagefault.address);
		}
		if (atomic_fetch_sub(&m->faults_busy, 1) == 1)
			notify_all(m);
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

		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += 1000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&m->cv, &m->lk, &ts);
	}
	pthread_mutex_unlock(&m->lk);
}

static void *prefetch_main(void *arg)
{
	struct worker *w = arg;
	ms_map *m = w->m;

	while (!atomic_load(&m->stop) && !atomic_load(&m->err)) {
		uint64_t k = atomic_fetch_add(&m->next, PREFETCH_CLAIM);
		uint64_t end = MS_MIN(k + PREFETCH_CLAIM, m->nchunks);
		uint64_t first = 0, n = 0;

		if (k >= m->nchunks)
			break;
		/* runs of consecutive chunks that are still absent, in order */
		for (; k <= end; k++) {
			uint64_t c = k < end ? m->order[k] : UINT64_MAX;
			uint8_t st = CH_ABSENT;
			bool extend = k < end && n && c == first + n && n < m->batch;

			if (extend && atomic_compare_exchange_strong(&m->state[c], &st,
								    CH_FETCHING)) {
				n++;
				continue;
			}
			if (n) {
				yield_to_faults(m);
				if (atomic_load(&m->stop) || fetch(w, first, n))
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
	/* chunks claimed but not fetched (stop) are given back */
	return NULL;
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
	uint32_t n = 0, max = (uint32_t)MS_MIN(m->nchunks, (uint64_t)MAX_USE_REPORT);
	uint64_t *hot = malloc(max * sizeof(*hot));
	uint64_t *o = malloc(m->nchunks * sizeof(*o));
	uint8_t *seen = calloc(m->nchunks, 1);
	uint64_t k = 0;

	if (!hot || !o || !seen || ms_hot_chunks(m->w[0].r, hot, max, &n) || !n)
		goto out;
	for (uint32_t i = 0; i < n; i++)
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

/* A userfaultfd with the wanted features (0 probes: *features gets what
 * the kernel offers).  Returns the fd or -errno. */
static int uffd_new(uint64_t want, uint64_t *features)
{
	struct uffdio_api api = { .api = UFFD_API, .features = want };
	int fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);

	if (fd < 0 && errno == EPERM) {
		int dev = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);

		if (dev < 0) {
			errno = EPERM;
			return -EPERM;
		}
		fd = ioctl(dev, USERFAULTFD_IOC_NEW, O_CLOEXEC | O_NONBLOCK);
		close(dev);
	}
	if (fd < 0)
		return -errno;
	if (ioctl(fd, UFFDIO_API, &api)) {
		int e = errno;

		close(fd);
		return -e;
	}
	if (features)
		*features = api.features;
	return fd;
}

static int worker_connect(ms_map *m, struct worker *w, const struct ms_client_opts *co,
			  enum ms_mode mode, char *err, size_t errlen)
{
	char cerr[384] = "";

	w->m = m;
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
	size_t n = w->prefetch ? m->batch : 1;

	w->gens = calloc(n, sizeof(*w->gens));
	w->hashes = calloc(n, MS_HASH_LEN);
	if (!w->gens || !w->hashes)
		return map_err(err, errlen, -ENOMEM, "lazy map: out of memory");

	if (!m->zero_copy) {
		w->buflen = (size_t)(w->prefetch ? m->batch : 1) * m->chunk;
		w->buf = mmap(NULL, w->buflen, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (w->buf == MAP_FAILED) {
			w->buf = NULL;
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


static void worker_free(struct worker *w)
{
	ms_disconnect(w->c);   /* frees its regions and registrations */
	w->c = NULL;
	w->r = NULL;
	if (w->buf)
		munmap(w->buf, w->buflen);
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
	m->bounce = mmap(NULL, m->bouncelen, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (m->bounce == MAP_FAILED) {
		m->bounce = NULL;
		return map_err(err, errlen, -errno, "lazy map: mmap: %s", strerror(errno));
	}
	m->ranges = calloc(256, sizeof(*m->ranges));
	m->pieces = calloc(SYNC_PIECES, sizeof(*m->pieces));
	m->phash = calloc(SYNC_PIECES, sizeof(*m->phash));
	if (!m->ranges || !m->pieces || !m->phash ||
	    ms_chunkmap_init(&m->pendpg, m->size / m->page))
		return map_err(err, errlen, -ENOMEM, "lazy map: out of memory");
	if (!ms_mem_register(m->sw.c, m->bounce, m->bouncelen))
		return map_err(err, errlen, -errno, "lazy map: %s", ms_client_errmsg(m->sw.c));
	return 0;
}

/* The background push (sync_interval_ms). */
static void *sync_main(void *arg)
{
	ms_map *m = arg;

	pthread_mutex_lock(&m->lk);
	while (!atomic_load(&m->stop)) {
		struct timespec ts;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += m->mo.sync_interval_ms / 1000;
		ts.tv_nsec += (long)(m->mo.sync_interval_ms % 1000) * 1000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		while (!atomic_load(&m->stop) &&
		       pthread_cond_timedwait(&m->cv, &m->lk, &ts) != ETIMEDOUT)
			;
		if (atomic_load(&m->stop))
			break;
		pthread_mutex_unlock(&m->lk);
		(void)ms_map_sync(m, NULL);   /* failures: ms_map_errmsg/wait */
		pthread_mutex_lock(&m->lk);
	}
	pthread_mutex_unlock(&m->lk);
	return NULL;
}

MS_EXPORT ms_map *ms_map_open(const char *host, const char *port, const char *region,
			      const struct ms_client_opts *co,
			      const struct ms_map_opts *mo, char *err, size_t errlen)
{
	static const struct ms_map_opts defmo;
	struct uffdio_register reg = { 0 };
	struct ms_region_info info;
	pthread_condattr_t ca;
	uint64_t features = 0, want = 0;
	unsigned nprefetch;
	ms_map *m;
	int ret, fd;

	if (err && errlen)
		*err = '\0';
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
	m->mo = mo ? *mo : defmo;
	m->writable = m->mo.writable;
	if (co)
		m->co = *co;
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
		ret = map_err(err, errlen, -ENOMEM, "lazy map: out of memory");
		goto fail;
	}
	for (unsigned i = 0; i < m->nw; i++)
		m->w[i].prefetch = i >= m->nfault;

	/* the first connection tells the region's geometry */
	ret = worker_connect(m, &m->w[0], co, MS_MODE_READ, err, errlen);
	if (ret)
		goto fail;
	ms_region_info(m->w[0].r, &info);
	m->size = info.size;
	m->chunk = info.chunk_size;
	m->nchunks = info.nchunks;
	m->batch = MS_MAX(1u, PREFETCH_BATCH_BYTES / m->chunk);
	if (m->size % m->page || m->chunk % m->page) {
		ret = map_err(err, errlen, -EINVAL,
			      "lazy map of '%s': size %llu or chunk size %u is not a "
			      "multiple of the page size", m->name,
			      (unsigned long long)m->size, m->chunk);
		goto fail;
	}
	/* a writer takes the lease first: a second one fails here, at once.
	 * Its syncs send many small runs of pages: a deeper queue keeps
	 * them streaming instead of waiting for completions 16 at a time */
	if (m->writable) {
		struct ms_client_opts sco = co ? *co : (struct ms_client_opts){ 0 };

		if (!sco.queue_depth)
			sco.queue_depth = SYNC_DEPTH;
		if ((ret = worker_connect(m, &m->sw, &sco, MS_MODE_WRITE, err, errlen)))
			goto fail;
	}

	/* which features the kernel has */
	fd = uffd_new(0, &features);
	if (fd < 0) {
		ret = map_err(err, errlen, fd, "lazy map: userfaultfd: %s%s", strerror(-fd),
			      fd == -EPERM ? " (needs CAP_SYS_PTRACE, access to "
					     "/dev/userfaultfd or "
					     "vm.unprivileged_userfaultfd=1)" : "");
		goto fail;
	}
	close(fd);
	/* zero-copy where the RNIC writes into the memfd; over TCP the
	 * receive copies anyway and anonymous pages are cheaper to fill */
	m->zero_copy = !m->mo.force_copy && (features & UFFD_FEATURE_MINOR_SHMEM) &&
		       (m->mo.force_zero_copy ||
			(ms_client_caps(m->w[0].c) & MS_XCAP_DIRECT_PLACEMENT));
	if (m->mo.force_zero_copy && !m->zero_copy) {
		ret = map_err(err, errlen, m->mo.force_copy ? -EINVAL : -EOPNOTSUPP,
			      m->mo.force_copy ? "lazy map: force_copy and force_zero_copy exclude "
						 "each other"
					       : "lazy map: zero-copy needs UFFD_FEATURE_MINOR_SHMEM, "
						 "which this kernel lacks");
		goto fail;
	}
	m->can_poison = (features & UFFD_FEATURE_POISON) &&
			!secure_getenv("MEMSYNC_MAP_NO_POISON");  /* tests the fallback */
	want = (m->zero_copy ? UFFD_FEATURE_MINOR_SHMEM : 0) |
	       (m->can_poison ? UFFD_FEATURE_POISON : 0);
	if (m->writable) {
		uint64_t wp = UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED |
			      (m->zero_copy ? UFFD_FEATURE_WP_HUGETLBFS_SHMEM : 0);
		const char *miss = !(features & UFFD_FEATURE_WP_ASYNC) ?
					   "UFFD_FEATURE_WP_ASYNC" :
				   !(features & UFFD_FEATURE_WP_UNPOPULATED) ?
					   "UFFD_FEATURE_WP_UNPOPULATED" :
				   (features & wp) != wp ?
					   "UFFD_FEATURE_WP_HUGETLBFS_SHMEM" : NULL;

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
	m->uffd = uffd_new(want, NULL);
	if (m->uffd < 0) {
		ret = map_err(err, errlen, m->uffd, "lazy map: userfaultfd: %s",
			      strerror(-m->uffd));
		goto fail;
	}

	if (m->zero_copy) {
		char nm[96];

		snprintf(nm, sizeof(nm), "memsync-map:%s", m->name);
		m->memfd = memfd_create(nm, MFD_CLOEXEC);
		if (m->memfd < 0 || ftruncate(m->memfd, (off_t)m->size)) {
			ret = map_err(err, errlen, -errno, "lazy map: memfd: %s",
				      strerror(errno));
			goto fail;
		}
		m->addr = mmap(NULL, m->size, PROT_READ | PROT_WRITE, MAP_SHARED,
			       m->memfd, 0);
		m->stage = mmap(NULL, m->size, PROT_READ | PROT_WRITE, MAP_SHARED,
				m->memfd, 0);
		reg.mode = UFFDIO_REGISTER_MODE_MISSING | UFFDIO_REGISTER_MODE_MINOR;
	} else {
		m->addr = mmap(NULL, m->size, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		reg.mode = UFFDIO_REGISTER_MODE_MISSING;
	}
	if (m->addr == MAP_FAILED || m->stage == MAP_FAILED) {
		ret = map_err(err, errlen, -errno, "lazy map: mmap of %llu bytes: %s",
			      (unsigned long long)m->size, strerror(errno));
		if (m->addr == MAP_FAILED)
			m->addr = NULL;
		if (m->stage == MAP_FAILED)
			m->stage = NULL;
		goto fail;
	}
	reg.range.start = (uintptr_t)m->addr;
	reg.range.len = m->size;
	if (m->track_wp) {
		struct uffdio_register wreg = reg;

		wreg.mode |= UFFDIO_REGISTER_MODE_WP;
		if (ioctl(m->uffd, UFFDIO_REGISTER, &wreg) == 0 &&
		    (wreg.ioctls & (1ull << _UFFDIO_WRITEPROTECT))) {
			reg = wreg;
			goto registered;
		}
		snprintf(m->dirty_why, sizeof(m->dirty_why),
			 "hashing: UFFDIO_REGISTER with write protection: %s",
			 strerror(errno));
		m->track_wp = false;
		/* registered without the ioctl: back to a plain register */
		(void)ioctl(m->uffd, UFFDIO_UNREGISTER, &reg.range);
	}
	if (ioctl(m->uffd, UFFDIO_REGISTER, &reg)) {
		ret = map_err(err, errlen, -errno, "lazy map: UFFDIO_REGISTER: %s",
			      strerror(errno));
		goto fail;
	}
registered:
	if (!(reg.ioctls & (1ull << (m->zero_copy ? _UFFDIO_CONTINUE : _UFFDIO_COPY)))) {
		ret = map_err(err, errlen, -EOPNOTSUPP,
			      "lazy map: the kernel offers no %s on this mapping",
			      m->zero_copy ? "UFFDIO_CONTINUE" : "UFFDIO_COPY");
		goto fail;
	}
	if (!(reg.ioctls & (1ull << _UFFDIO_POISON)))
		m->can_poison = false;
	if (!m->can_poison) {
		m->sigbus_fd = memfd_create("memsync-sigbus", MFD_CLOEXEC);
		if (m->sigbus_fd < 0) {
			ret = map_err(err, errlen, -errno, "lazy map: memfd: %s",
				      strerror(errno));
			goto fail;
		}
	}

	m->state = calloc(m->nchunks, sizeof(*m->state));
	m->gens = calloc(m->nchunks, sizeof(*m->gens));
	if (!m->mo.no_use_report && !(m->faulted = malloc(MAX_USE_REPORT * sizeof(*m->faulted)))) {
		ret = map_err(err, errlen, -ENOMEM, "lazy map: out of memory");
		goto fail;
	}
	m->evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (!m->state || !m->gens || m->evfd < 0 || (nprefetch && build_order(m))) {
		ret = map_err(err, errlen, -ENOMEM, "lazy map: out of memory");
		goto fail;
	}
	if (m->writable && (ret = writable_setup(m, err, errlen)))
		goto fail;
	for (unsigned i = 0; i < m->nw; i++) {
		if ((i && (ret = worker_connect(m, &m->w[i], co, MS_MODE_READ, err, errlen))) ||
		    (ret = worker_setup(m, &m->w[i], err, errlen)))
			goto fail;
	}
	for (unsigned i = 0; i < m->nw; i++) {
		struct worker *w = &m->w[i];

		ret = -pthread_create(&w->th, NULL, w->prefetch ? prefetch_main : fault_main,
				      w);
		if (ret) {
			map_err(err, errlen, ret, "lazy map: pthread_create: %s",
				strerror(-ret));
			goto fail;
		}
		w->started = true;
	}
	if (m->writable && m->mo.sync_interval_ms) {
		ret = -pthread_create(&m->sync_th, NULL, sync_main, m);
		if (ret) {
			map_err(err, errlen, ret, "lazy map: pthread_create: %s",
				strerror(-ret));
			goto fail;
		}
		m->sync_started = true;
	}
	return m;

fail:
	ms_map_close(m);
	errno = -ret;
	return NULL;
}

MS_EXPORT void *ms_map_addr(const ms_map *m)
{
	return m->addr;
}

MS_EXPORT uint64_t ms_map_size(const ms_map *m)
{
	return m->size;
}

MS_EXPORT uint32_t ms_map_chunk_size(const ms_map *m)
{
	return m->chunk;
}

MS_EXPORT bool ms_map_zero_copy(const ms_map *m)
{
	return m->zero_copy;
}

MS_EXPORT void ms_map_progress(const ms_map *m, uint64_t *chunks_local,
			       uint64_t *chunks_total)
{
	if (chunks_local)
		*chunks_local = atomic_load(&((ms_map *)m)->nlocal);
	if (chunks_total)
		*chunks_total = m->nchunks;
}

MS_EXPORT const char *ms_map_errmsg(const ms_map *m)
{
	if (atomic_load(&((ms_map *)m)->err))
		return m->errmsg;
	return m->sync_err ? m->sync_errmsg : "";
}

MS_EXPORT int ms_map_wait(ms_map *m, int timeout_ms)
{
	struct timespec dl;
	int ret = 0;

	clock_gettime(CLOCK_MONOTONIC, &dl);
	if (timeout_ms > 0) {
		dl.tv_sec += timeout_ms / 1000;
		dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
		if (dl.tv_nsec >= 1000000000) {
			dl.tv_sec++;
			dl.tv_nsec -= 1000000000;
		}
	}
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


MS_EXPORT bool ms_map_writable(const ms_map *m)
{
	return m->writable;
}

MS_EXPORT const char *ms_map_dirty_mode(const ms_map *m)
{
	return m->writable ? m->dirty_why : "";
}

static void sync_fail(ms_map *m, int ret, const char *fmt, ...) MS_PRINTF(3, 4);
static void sync_fail(ms_map *m, int ret, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&m->lk);
	va_start(ap, fmt);
	vsnprintf(m->sync_errmsg, sizeof(m->sync_errmsg), fmt, ap);
	va_end(ap);
	m->sync_err = ret ? ret : -EIO;
	pthread_cond_broadcast(&m->cv);
	pthread_mutex_unlock(&m->lk);
}

/* Everything local counts as written: after the tracker failed, the kernel
 * may have cleaned pages it did not report. */
static void pend_all_local(ms_map *m)
{
	uint64_t ppc = m->chunk / m->page;

	for (uint64_t i = 0; i < m->nchunks; i++)
		if (atomic_load(&m->state[i]) == CH_LOCAL)
			ms_chunkmap_set_range(&m->pendpg, i * ppc, ppc);
}

/* Move what the tracker saw written into pendpg; *pages gets the pages.
 * Called with sync_lk held. */
static int collect(ms_map *m, uint64_t *pages)
{
	bool more;
	int ret;

	*pages = 0;
	do {
		size_t n = 0;

		ret = ms_dirty_collect(m->dirty, m->ranges, 256, &n, &more);
		if (ret) {
			pend_all_local(m);
			return ret;
		}
		for (size_t i = 0; i < n; i++) {
			uint64_t p0 = m->ranges[i].off / m->page;
			uint64_t np = ms_div_round_up(m->ranges[i].off + m->ranges[i].len,
						      m->page) - p0;

			*pages += np;
			ms_chunkmap_set_range(&m->pendpg, p0, np);
		}
	} while (more);
	return 0;
}

/* Has chunk c pages written and not committed yet? */
static bool chunk_pending(const ms_map *m, uint64_t c)
{
	uint64_t ppc = m->chunk / m->page;

	return ms_chunkmap_any(&m->pendpg, c * ppc, ppc);
}

/* After a commit of the pending chunks in [lo, hi]: their generations are
 * ours.  A commit stamps every chunk it names with its generation, so one
 * commit message tells them all; a sync that needed several messages reads
 * the server's table instead. */
static void learn_gens(ms_map *m, uint64_t lo, uint64_t hi)
{
	uint64_t g0, g1, *g = NULL;

	ms_region_sync_gens(m->sw.r, &g0, &g1);
	if (g0 != g1) {
		g = malloc((hi - lo + 1) * sizeof(*g));
		if (!g || ms_chunk_generations(m->sw.r, lo, hi - lo + 1, g)) {
			free(g);
			return;  /* a later refresh drops and pulls them again */
		}
	}
	for (uint64_t i = lo; i <= hi; i++)
		if (chunk_pending(m, i))
			m->gens[i] = g ? g[i - lo] : g1;
	free(g);
}

/* Write the snapshots in pieces[0..n) (in the bounce buffer) as one batch;
 * on failure the mapping's sync error is set and nothing stays pending. */
static int sync_flush(ms_map *m, const struct ms_wpiece *pieces, size_t n, uint64_t *bytes)
{
	uint64_t b = 0;
	int ret;

	if (!n)
		return 0;
	ret = ms_write_pieces(m->sw.r, pieces, n, &b);
	*bytes += b;
	if (ret) {
		sync_fail(m, ret, "sync of '%s': %s", m->name, ms_client_errmsg(m->sw.c));
		ms_region_drop_pending(m->sw.r);
	}
	return ret;
}

MS_EXPORT int ms_map_sync(ms_map *m, struct ms_map_sync_stats *st)
{
	struct ms_wpiece *pieces = m->pieces;
	size_t np = 0, used = 0;
	struct ms_map_sync_stats s = { 0 };
	uint64_t t0 = ms_now_ns(), pos = 0, first, n, lo = UINT64_MAX, hi = 0;
	uint64_t ppc = m->chunk / m->page, maxpg = m->bouncelen / m->page, last_c = UINT64_MAX;
	const uint8_t *src = m->zero_copy ? m->stage : m->addr;
	int ret;

	if (st)
		memset(st, 0, sizeof(*st));
	if (!m->writable)
		return -EACCES;
	pthread_mutex_lock(&m->sync_lk);
	ret = collect(m, &s.pages_dirty);
	if (ret) {
		sync_fail(m, ret, "sync of '%s': collecting written pages failed: %s; every "
			  "local chunk will be pushed", m->name, strerror(-ret));
		goto out;
	}
	while (ms_chunkmap_next_run(&m->pendpg, &pos, &first, &n, maxpg)) {
		/* one piece per chunk: its hash is taken here, while the bytes
		 * are in cache, and is the one the commit names */
		uint64_t k = MS_MIN(n, ppc - first % ppc), c = first / ppc, off, len;

		pos = first + k;
		/* only local chunks hold bytes to push (refresh never drops a
		 * dirty one; this is a guard) */
		if (atomic_load(&m->state[c]) != CH_LOCAL) {
			for (uint64_t i = first; i < first + k; i++)
				ms_chunkmap_clear(&m->pendpg, i);
			continue;
		}
		off = first * m->page;
		len = k * m->page;
		/* a full bounce buffer (or piece list) goes out as one batch */
		if (used + len > m->bouncelen || np == SYNC_PIECES) {
			if ((ret = sync_flush(m, pieces, np, &s.bytes)))
				goto out;
			used = np = 0;
		}
		/* the snapshot: later writes are found by the next collect */
		memcpy(m->bounce + used, src + off, len);
		ms_chunk_hash(m->bounce + used, len, m->phash[np]);
		pieces[np] = (struct ms_wpiece){ .off = off, .src = m->bounce + used, .len = len,
						 .hash = m->phash[np] };
		np++;
		used += len;
		s.runs++;
		s.chunks_pushed += c != last_c;
		last_c = c;
		lo = MS_MIN(lo, c);
		hi = MS_MAX(hi, c);
	}
	if ((ret = sync_flush(m, pieces, np, &s.bytes)))
		goto out;
	if (!s.chunks_pushed)
		goto ok;
	ret = ms_sync(m->sw.r);
	if (ret) {
		sync_fail(m, ret, "sync of '%s': commit failed, the chunks stay dirty: %s",
			  m->name, ms_client_errmsg(m->sw.c));
		ms_region_drop_pending(m->sw.r);
		s.chunks_pushed = 0;
		goto out;
	}
	learn_gens(m, lo, hi);
	ms_chunkmap_clear_all(&m->pendpg);
ok:
	pthread_mutex_lock(&m->lk);
	m->sync_err = 0;
	pthread_mutex_unlock(&m->lk);
out:
	pthread_mutex_unlock(&m->sync_lk);
	s.ns = ms_now_ns() - t0;
	if (st)
		*st = s;
	return ret;
}

/* Chunk c (ours: FETCHING) goes away locally. */
static void drop_chunk(ms_map *m, uint64_t c)
{
	uint64_t off, len;

	chunk_range(m, c, 1, &off, &len);
	if (m->dirty)
		ms_dirty_hash_forget(m->dirty, c);
	if (m->zero_copy) {
		(void)fallocate(m->memfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				(off_t)off, (off_t)len);
		(void)madvise(m->stage + off, len, MADV_DONTNEED);
	}
	(void)madvise(m->addr + off, len, MADV_DONTNEED);
	atomic_fetch_sub(&m->nlocal, 1);
	atomic_store(&m->state[c], CH_ABSENT);
	/* a fault that came while it was ours was left waiting: it faults
	 * again, finds it absent and pulls it */
	uffd_wake(m, off, len);
}

MS_EXPORT int ms_map_refresh(ms_map *m, uint64_t *changed)
{
	uint64_t *now = NULL, pages, dropped = 0;
	char cerr[512] = "";
	bool busy = false;
	int ret = 0;

	if (changed)
		*changed = 0;
	pthread_mutex_lock(&m->sync_lk);
	if (!m->sw.c) {
		ret = worker_connect(m, &m->sw, &m->co, MS_MODE_READ, cerr, sizeof(cerr));
		if (ret) {
			worker_free(&m->sw);
			sync_fail(m, ret, "refresh of '%s': %s", m->name, cerr);
			goto out;
		}
	}
	now = malloc(m->nchunks * sizeof(*now));
	if (!now) {
		ret = -ENOMEM;
		goto out;
	}
	ret = ms_chunk_generations(m->sw.r, 0, m->nchunks, now);
	if (ret) {
		sync_fail(m, ret, "refresh of '%s': %s", m->name, ms_client_errmsg(m->sw.c));
		goto out;
	}
	if (m->writable && (ret = collect(m, &pages))) {
		sync_fail(m, ret, "refresh of '%s': collecting written pages failed: %s",
			  m->name, strerror(-ret));
		goto out;
	}
	for (uint64_t i = 0; m->writable && i < m->nchunks; i++)
		if (atomic_load(&m->state[i]) == CH_LOCAL && now[i] != m->gens[i] &&
		    chunk_pending(m, i))
			busy = true;
	if (busy) {
		ret = -EBUSY;
		goto out;
	}
	for (uint64_t i = 0; i < m->nchunks; i++) {
		uint8_t st = CH_LOCAL;

		if (atomic_load(&m->state[i]) != CH_LOCAL || now[i] == m->gens[i])
			continue;
		if (!atomic_compare_exchange_strong(&m->state[i], &st, CH_FETCHING))
			continue;
		drop_chunk(m, i);
		dropped++;
	}
	if (dropped)
		notify_all(m);
out:
	pthread_mutex_unlock(&m->sync_lk);
	free(now);
	if (changed)
		*changed = dropped;
	return ret;
}

MS_EXPORT void ms_map_close(ms_map *m)
{
	uint64_t one = 1;

	if (!m)
		return;
	atomic_store(&m->stop, true);
	if (m->evfd >= 0)
		(void)!write(m->evfd, &one, sizeof(one));
	notify_all(m);
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
		worker_free(&m->w[i]);
	worker_free(&m->sw);
	ms_dirty_close(m->dirty);
	ms_chunkmap_free(&m->pendpg);
	free(m->ranges);
	free(m->pieces);
	free(m->phash);
	if (m->bounce)
		munmap(m->bounce, m->bouncelen);
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
	free((void *)m->state);
	free(m->order);
	free(m->faulted);
	free(m->w);
	free(m);
}
