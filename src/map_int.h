/* SPDX-License-Identifier: Apache-2.0 */
/*
 * map_int.h - the lazy mapper's shared state (ms_map_*, in three files:
 * map.c opens and closes, map_fault.c serves faults and prefetches,
 * map_sync.c writes back and refreshes).
 *
 * Lazy mapping of a remote region: the region is mapped
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
 * the pages costs 1% of the bytes whatever the chunk size.  pendpg is
 * the one record of "written, not committed".  One ms_map_sync is one
 * commit however many batches it needs: ms_region_commit_stream() asks
 * map_sync.c for batch after batch (pages snapshot-copied into the 16 MiB
 * bounce buffer and hashed), writes each as it comes and commits them all
 * at the end; it keeps nothing on the connection.  The pages a sync has
 * written are noted in sentpg; only once the commit is in do exactly those
 * leave pendpg (their chunks take the commit's generation); after a
 * failure pendpg is unchanged and the next sync pushes them all again.
 * Sync and refresh run under sync_lk.
 *
 * Reconnection (reconnect_timeout_ms): every connection belongs to one
 * thread, so the thread whose pull, sync or refresh finds its connection
 * dead (ms_client_connected) connects it again itself (map_reconnect:
 * ms_client_reconnect, client_reconnect.c, with backoff from 50 ms
 * doubling to 1 s, until the deadline the outage started), while the
 * chunks it claimed stay FETCHING: faults on them wait in the kernel, and
 * the other threads meet their own dead connections and do the same.
 * Each successful reconnect then reads the generation table again and
 * drops the local chunks the server changed meanwhile, unless pages of
 * them are pending (map_regen, under sync_lk), before the pull or sync is
 * repeated.  Past the deadline, or when the server refuses the region
 * (gone, resized, the lease someone else's), the failure is today's.
 */
#ifndef MS_MAP_INT_H
#define MS_MAP_INT_H

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "chunkmap.h"
#include "client_int.h"
#include "dirty.h"
#include "hash.h"
#include "memsync.h"
#include "util.h"

enum { CH_ABSENT = 0, CH_FETCHING, CH_LOCAL, CH_FAILED };

#define DEFAULT_FAULT_THREADS 2
#define DEFAULT_PREFETCH_THREADS 2
#define PREFETCH_BATCH_BYTES (1u << 20)  /* one pull per run of up to 1 MiB */
#define PREFETCH_CLAIM 16               /* order entries claimed at once */
#define MAX_USE_REPORT 16384            /* chunks named by the use report */
#define BOUNCE_BYTES (16u << 20)        /* sync: snapshot buffer */
#define SYNC_PIECES 8192                /* sync: runs written in one batch
					 * (at most MS_STREAM_PIECES) */
#define SYNC_DEPTH 256                  /* sync: writes in flight */
#define DEFAULT_RECONNECT_MS 5000       /* reconnect_timeout_ms 0 */
#define RECONNECT_FIRST_MS 50           /* backoff between attempts: */
#define RECONNECT_MAX_MS 1000           /* doubling up to this */

struct worker {
	ms_map *m;
	pthread_t th;
	bool started, prefetch;
	ms_client *c;
	ms_region *r;
	struct ms_client_opts co; /* what c connected with (reconnects too) */
	uint8_t *buf;        /* copy path: where pulls land */
	size_t buflen;
	uint64_t *gens;      /* per chunk of a fetch: its generation and */
	uint8_t *hashes;     /* committed hash (MS_HASH_LEN each) */
};

struct ms_map {
	char host[256], port[8], name[MS_NAME_MAX + 1];
	struct ms_map_opts mo;
	long rc_ms;          /* reconnect for this long; < 0: never */
	uint64_t size, nchunks;
	uint32_t chunk;
	size_t page;
	bool zero_copy, can_poison;
	bool huge;           /* zero-copy on 2 MiB hugetlbfs pages (map_huge.h) */
	char page_why[192];  /* ms_map_page_mode() */
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

	struct ms_client_opts co;       /* its strings are co_own's */
	struct cl_opts co_own;
	uint64_t *gens;      /* per chunk: the generation it was pulled at */
	/* writable mappings and refresh */
	bool writable;
	bool track_wp;       /* dirty tracking by uffd WP: install protected */
	struct ms_dirty *dirty;
	char dirty_why[192];
	pthread_mutex_t sync_lk;
	struct worker sw;    /* the sync connection (not a thread) */
	struct ms_chunkmap pendpg; /* pages written, not committed yet */
	struct ms_chunkmap sentpg; /* the running sync: pages of pendpg it has
				    * written (not committed yet); empty
				    * outside ms_map_sync */
	uint8_t *bounce;
	size_t bouncelen;
	uint64_t maxrun;     /* chunks per ms_write */
	struct ms_dirty_range *ranges;
	uint8_t (*phash)[MS_HASH_LEN]; /* sync: the chunk hashes of a batch's
					* pieces, SYNC_PIECES of them */
	pthread_t sync_th;
	bool sync_started;
	int sync_err;        /* last ms_map_sync() failure, 0 after a success */
	char sync_errmsg[512];

	/* hand-over (map_lease.c, migrate_app.c) */
	atomic_bool leased;  /* writable and holding the lease: false while
			      * standby and once handed over */
	atomic_uint lease_ttl_ms; /* the sync thread's pace */
	_Atomic(struct map_hot *) hot; /* prefetched before order */
	/* fault latency (map_fault.c) */
	atomic_uint_fast64_t nfaults;
	atomic_uint_fast64_t fault_hist[MS_HIST_BUCKETS];
	atomic_uint_fast64_t resume_ns;      /* the destination resumed */
	atomic_uint_fast64_t first_fault_ns; /* first fault served after it */
	/* zero chunks (map_zero.h) */
	_Atomic uint8_t *zhint;  /* per chunk: the table flagged it ZERO */
	atomic_uint_fast64_t nzero; /* chunks installed as zeros, unread */
};

/* A list of chunks prefetched before the order (the server's hot list,
 * adopted while the mapping runs); earlier lists are kept until close. */
struct map_hot {
	struct map_hot *older;
	uint64_t n;
	atomic_uint_fast64_t next;
	uint64_t idx[];
};

/* [off, off+len) of chunks [first, first+n), clipped to the region. */
static inline void chunk_range(const ms_map *m, uint64_t first, uint64_t n, uint64_t *off,
			       uint64_t *len)
{
	*off = first * m->chunk;
	*len = MS_MIN(n * m->chunk, m->size - *off);
}

/* *ts = CLOCK_MONOTONIC now + ms (the clock of m->cv). */
static inline void ms_deadline_ms(struct timespec *ts, long ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (ms % 1000) * 1000000;
	if (ts->tv_nsec >= 1000000000) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000;
	}
}

/* map.c */
int map_err(char *err, size_t errlen, int ret, const char *fmt, ...) MS_PRINTF(4, 5);
int map_worker_connect(ms_map *m, struct worker *w, const struct ms_client_opts *co,
		       enum ms_mode mode, char *err, size_t errlen);
void map_worker_free(struct worker *w);
bool map_conn_lost(const ms_map *m, const struct worker *w);
int map_reconnect(ms_map *m, struct worker *w, uint64_t *deadline, uint64_t *dropped,
		  char *why, size_t whylen);

/* map_fault.c: the fault and prefetch threads, and what they share */
void *map_fault_main(void *arg);
void *map_prefetch_main(void *arg);
void map_notify(ms_map *m);
void map_uffd_wake(ms_map *m, uint64_t off, uint64_t len);
void map_fail(ms_map *m, int ret, const char *fmt, ...) MS_PRINTF(3, 4);
int map_fetch(struct worker *w, uint64_t first, uint64_t n, uint64_t fault_t0);
void map_poison(ms_map *m, uint64_t off, uint64_t len);

/* map_sync.c: the background push (sync_interval_ms), and what a
 * reconnect does to the local chunks (locked: the caller holds sync_lk) */
void *map_sync_main(void *arg);
int map_regen(ms_map *m, struct worker *w, bool locked, uint64_t *dropped);
/* ms_map_sync() with its phases timed (ns): collect, write, commit */
struct map_sync_times {
	uint64_t collect_ns, xfer_ns, commit_ns;
};
int map_sync_timed(ms_map *m, struct ms_map_sync_stats *st, struct map_sync_times *t);

/* map_lease.c: the lease of a writable or standby mapping's sync
 * connection, the use report and the hot list (each under sync_lk) */
void map_report_use(ms_map *m);
int map_adopt_hot(ms_map *m, uint64_t *n);
int map_lease_get(ms_map *m, struct ms_lease_info *li);
uint64_t map_epoch(ms_map *m);
int map_handover(ms_map *m, const uint8_t id[16], uint64_t *new_epoch, char *why,
		 size_t whylen);
int map_take(ms_map *m, uint64_t expect_epoch, uint64_t *epoch, char *why, size_t whylen);
int map_probe_client(ms_map *m, const uint8_t id[16]);
void map_fault_note(ms_map *m, uint64_t ns);
void map_hot_free(ms_map *m);

#endif
