/* SPDX-License-Identifier: Apache-2.0 */
/*
 * dirty.c - dirty-page tracking: userfaultfd asynchronous write protection
 * read back with PAGEMAP_SCAN, or per-chunk XXH3-128 where the kernel cannot
 * (see dirty.h for the guarantees).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "dirty.h"
#include "hash.h"
#include "uffd.h"
#include "util.h"

/* page_region entries per PAGEMAP_SCAN call (the kernel buffers 512 itself) */
#define SCAN_VEC 1024
/* ranges per internal call of ms_dirty_collect_chunks() */
#define CHUNK_BATCH 256

#define MAX_CHUNK (1u << 30)

struct ms_dirty {
	enum ms_dirty_mode mode;
	uint8_t *base;
	uint64_t len;
	uint64_t page;
	uint32_t chunk;
	uint64_t nchunks;
	/* where the unfinished pass continues: a byte offset (uffd) or a chunk
	 * index (hash); 0 when the next call starts a new pass */
	uint64_t cursor;
	int failed; /* a -errno that left the tracker unusable, or 0 */

	/* MS_DIRTY_UFFD */
	int uffd;
	int pagemap;
	struct page_region *vec;

	/* MS_DIRTY_HASH: one XXH3-128 per chunk */
	uint8_t (*hashes)[MS_HASH_LEN];
	/* attached: uffd belongs to the caller; in hash mode, which chunks
	 * have a baseline (NULL: all of them) */
	bool attached;
	atomic_uchar *known;
};

MS_PRINTF(3, 4) static void say(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	if (!why || !whylen)
		return;
	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
}

/* ------------------------------------------------------------ userfaultfd */

/* Write-protect the range on uffd (registered with WP mode, WP_ASYNC) and
 * check that PAGEMAP_SCAN sees it so: 0, or a positive value after writing
 * the reason to hash into why.  uffd_setup() ends here, and so does
 * ms_dirty_attach() for a descriptor the caller set up. */
static int attach_setup(struct ms_dirty *d, int uffd, char *why, size_t whylen)
{
	struct uffdio_writeprotect wp = {
		.range = { .start = (uintptr_t)d->base, .len = d->len },
		.mode = UFFDIO_WRITEPROTECT_MODE_WP,
	};
	struct page_region probe;
	struct pm_scan_arg arg = {
		.size = sizeof(arg),
		.flags = PM_SCAN_CHECK_WPASYNC,
		.start = (uintptr_t)d->base,
		.end = (uintptr_t)d->base + d->page,
		.vec = (uintptr_t)&probe,
		.vec_len = 1,
		.category_mask = PAGE_IS_WRITTEN,
		.return_mask = PAGE_IS_WRITTEN,
	};

	/* Unpopulated parts (no page table yet) count as written until
	 * protected: WP_UNPOPULATED puts markers there (and protects what the
	 * caller may have installed already). */
	if (ioctl(uffd, UFFDIO_WRITEPROTECT, &wp) < 0) {
		say(why, whylen, "hashing: UFFDIO_WRITEPROTECT: %s", strerror(errno));
		return 1;
	}
	d->pagemap = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (d->pagemap < 0) {
		say(why, whylen, "hashing: /proc/self/pagemap: %s", strerror(errno));
		return 1;
	}
	if (ioctl(d->pagemap, PAGEMAP_SCAN, &arg) < 0) {
		int e = errno;

		if (e == ENOTTY || e == EINVAL || e == EOPNOTSUPP)
			say(why, whylen, "hashing: PAGEMAP_SCAN not supported by this kernel (%s)",
			    strerror(e));
		else if (e == EPERM)
			say(why, whylen, "hashing: the range is not asynchronously "
			    "write-protected (UFFD_FEATURE_WP_ASYNC and REGISTER_MODE_WP)");
		else
			say(why, whylen, "hashing: PAGEMAP_SCAN: %s", strerror(e));
		return 1;
	}
	d->vec = calloc(SCAN_VEC, sizeof(*d->vec));
	if (!d->vec)
		return -ENOMEM;
	say(why, whylen, "userfaultfd WP_ASYNC + PAGEMAP_SCAN");
	return 0;
}

/*
 * Set up MS_DIRTY_UFFD.  0 when it works; otherwise a positive value after
 * writing into why (from "hashing: ...") the reason to fall back to hashing.
 * Leaves d->uffd and d->pagemap for ms_dirty_close() to close either way.
 */
static int uffd_setup(struct ms_dirty *d, char *why, size_t whylen)
{
	const uint64_t want = UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED;
	struct uffdio_register reg = {
		.range = { .start = (uintptr_t)d->base, .len = d->len },
		.mode = UFFDIO_REGISTER_MODE_WP,
	};
	uint64_t features = 0;
	const char *miss;
	int fd;

	fd = ms_uffd_probe(MS_UFFD_WP_ASYNC, &features);
	if (fd < 0) {
		say(why, whylen, "hashing: userfaultfd: %s%s", strerror(-fd), ms_uffd_hint(fd));
		return 1;
	}
	miss = ms_uffd_missing(features, want);
	if (miss) {
		say(why, whylen, "hashing: %s not supported by this kernel", miss);
		return 1;
	}
	fd = ms_uffd_new(MS_UFFD_WP_ASYNC, want, NULL);
	if (fd < 0) {
		say(why, whylen, "hashing: UFFDIO_API (WP_ASYNC|WP_UNPOPULATED): %s",
		    strerror(-fd));
		return 1;
	}
	d->uffd = fd;
	if (ioctl(fd, UFFDIO_REGISTER, &reg) < 0) {
		int e = errno;

		say(why, whylen, "hashing: UFFDIO_REGISTER (write-protect mode): %s%s",
		    strerror(e),
		    e == EBUSY ? " (the range belongs to another userfaultfd)" : "");
		return 1;
	}
	if (!(reg.ioctls & (1ull << _UFFDIO_WRITEPROTECT))) {
		say(why, whylen, "hashing: UFFDIO_WRITEPROTECT not available for this mapping");
		return 1;
	}
	return attach_setup(d, fd, why, whylen);
}

/* Back to a state without userfaultfd before falling back to hashing. */
static void uffd_teardown(struct ms_dirty *d)
{
	if (d->uffd >= 0) {
		struct uffdio_range r = { .start = (uintptr_t)d->base, .len = d->len };

		/* fails harmlessly when nothing was registered */
		(void)ioctl(d->uffd, UFFDIO_UNREGISTER, &r);
		close(d->uffd);
		d->uffd = -1;
	}
	if (d->pagemap >= 0) {
		close(d->pagemap);
		d->pagemap = -1;
	}
	free(d->vec);
	d->vec = NULL;
}

static int uffd_collect(struct ms_dirty *d, struct ms_dirty_range *out, size_t max, size_t *n,
			bool *more)
{
	uint64_t start = (uintptr_t)d->base + d->cursor, end = (uintptr_t)d->base + d->len;
	size_t cap = MS_MIN(max, (size_t)SCAN_VEC), k = 0;
	struct pm_scan_arg arg = {
		.size = sizeof(arg),
		.flags = PM_SCAN_WP_MATCHING | PM_SCAN_CHECK_WPASYNC,
		.start = start,
		.end = end,
		.vec = (uintptr_t)d->vec,
		.vec_len = cap,
		.category_mask = PAGE_IS_WRITTEN,
		.return_mask = PAGE_IS_WRITTEN,
	};
	long r;

	if (start >= end) { /* the previous call ended exactly at the end */
		d->cursor = 0;
		return 0;
	}
	r = ioctl(d->pagemap, PAGEMAP_SCAN, &arg);
	if (r < 0) {
		/* Pages before the failure may have been protected again
		 * without reaching us: from now on, everything is suspect. */
		d->failed = -errno;
		return d->failed;
	}
	if ((size_t)r > cap) {
		d->failed = -EIO;
		return d->failed;
	}
	for (long i = 0; i < r; i++) {
		const struct page_region *pr = &d->vec[i];
		uint64_t off, len;

		if (pr->start < start || pr->end > end || pr->end <= pr->start) {
			d->failed = -EIO;
			return d->failed;
		}
		off = pr->start - (uintptr_t)d->base;
		len = pr->end - pr->start;
		if (k && out[k - 1].off + out[k - 1].len == off)
			out[k - 1].len += len;
		else
			out[k++] = (struct ms_dirty_range){ .off = off, .len = len };
	}
	*n = k;
	/*
	 * Only a full vector means the walk stopped early; then walk_end says
	 * where.  Never loop on "walk_end < end": the kernel can leave
	 * walk_end at the address where its own 512-region buffer overflowed
	 * even though it finished the range (research/ceilings.md).
	 */
	if ((size_t)r == cap) {
		if (arg.walk_end <= start || arg.walk_end > end) {
			d->failed = -EIO;
			return d->failed;
		}
		d->cursor = arg.walk_end - (uintptr_t)d->base;
		*more = true;
	} else {
		d->cursor = 0;
	}
	return 0;
}

/* ---------------------------------------------------------------- hashing */

static void chunk_extent(const struct ms_dirty *d, uint64_t c, uint64_t *off, uint64_t *len)
{
	*off = c * d->chunk;
	*len = MS_MIN((uint64_t)d->chunk, d->len - *off);
}

static int hash_setup(struct ms_dirty *d)
{
	if (d->nchunks > SIZE_MAX / MS_HASH_LEN)
		return -ENOMEM;
	d->hashes = malloc((size_t)d->nchunks * MS_HASH_LEN);
	if (!d->hashes)
		return -ENOMEM;
	for (uint64_t c = 0; c < d->nchunks; c++) {
		uint64_t off, len;

		chunk_extent(d, c, &off, &len);
		ms_chunk_hash(d->base + off, len, d->hashes[c]);
	}
	return 0;
}

static int hash_collect(struct ms_dirty *d, struct ms_dirty_range *out, size_t max, size_t *n,
			bool *more)
{
	uint64_t c = d->cursor;
	size_t k = 0;

	for (; c < d->nchunks; c++) {
		uint8_t h[MS_HASH_LEN];
		uint64_t off, len;

		if (d->known && !atomic_load_explicit(&d->known[c], memory_order_acquire))
			continue;
		chunk_extent(d, c, &off, &len);
		ms_chunk_hash(d->base + off, len, h);
		if (ms_hash_eq(h, d->hashes[c]))
			continue;
		if (k && out[k - 1].off + out[k - 1].len == off) {
			out[k - 1].len += len;
		} else if (k == max) {
			break; /* hashed again by the next call */
		} else {
			out[k++] = (struct ms_dirty_range){ .off = off, .len = len };
		}
		memcpy(d->hashes[c], h, MS_HASH_LEN);
	}
	*n = k;
	if (c < d->nchunks) {
		d->cursor = c;
		*more = true;
	} else {
		d->cursor = 0;
	}
	return 0;
}

/* ------------------------------------------------------------------ API */

static bool env_force_hash(void)
{
	const char *e = getenv("MS_DIRTY_FORCE_HASH");

	return e && *e && strcmp(e, "0") != 0;
}

/* What both constructors do first: check the arguments (-EINVAL with
 * why), then allocate the tracker (-ENOMEM) with its geometry set. */
static int dirty_new(void *addr, size_t len, const struct ms_dirty_opts *opts,
		     struct ms_dirty **out, struct ms_dirty **dp, unsigned *flagsp, char *why,
		     size_t whylen)
{
	struct ms_dirty *d;
	long pg = sysconf(_SC_PAGESIZE);
	uint32_t chunk = opts && opts->chunk_size ? opts->chunk_size : MS_DIRTY_DEFAULT_CHUNK;
	unsigned flags = opts ? opts->flags : 0;

	if (why && whylen)
		why[0] = '\0';
	if (!out)
		return -EINVAL;
	*out = NULL;
	if (pg <= 0)
		pg = 4096;
	if (!addr || len == 0 || (uintptr_t)addr % (uint64_t)pg || len % (uint64_t)pg ||
	    (uintptr_t)addr > UINTPTR_MAX - len) {
		say(why, whylen, "the range must be page-aligned and not empty");
		return -EINVAL;
	}
	if (!ms_is_pow2(chunk) || chunk < (uint64_t)pg || chunk > MAX_CHUNK ||
	    (flags & ~MS_DIRTY_FORCE_HASH)) {
		say(why, whylen, "bad chunk size or flags");
		return -EINVAL;
	}
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->base = addr;
	d->len = len;
	d->page = (uint64_t)pg;
	d->chunk = chunk;
	d->nchunks = ms_div_round_up(len, chunk);
	d->uffd = -1;
	d->pagemap = -1;
	*dp = d;
	*flagsp = flags;
	return 0;
}

/* Hashing was asked for (flags or environment): 1 with why, else 0. */
static int forced_hash(unsigned flags, char *why, size_t whylen)
{
	if (flags & MS_DIRTY_FORCE_HASH) {
		say(why, whylen, "hashing: forced (MS_DIRTY_FORCE_HASH)");
		return 1;
	}
	if (env_force_hash()) {
		say(why, whylen, "hashing: forced by MS_DIRTY_FORCE_HASH in the environment");
		return 1;
	}
	return 0;
}

int ms_dirty_open_opts(void *addr, size_t len, const struct ms_dirty_opts *opts,
		       struct ms_dirty **out, char *why, size_t whylen)
{
	unsigned flags;
	struct ms_dirty *d = NULL;
	int ret;

	ret = dirty_new(addr, len, opts, out, &d, &flags, why, whylen);
	if (ret)
		return ret;
	/* the whole range must be mapped: hashing would fault on a hole */
	if (msync(addr, len, MS_ASYNC) < 0) {
		ret = errno == ENOMEM ? -EFAULT : -errno;
		say(why, whylen, "the range is not mapped: %s", strerror(-ret));
		free(d);
		return ret;
	}
	ret = forced_hash(flags, why, whylen);
	if (!ret)
		ret = uffd_setup(d, why, whylen);
	if (ret == 0) {
		d->mode = MS_DIRTY_UFFD;
	} else if (ret > 0) {
		uffd_teardown(d);
		d->mode = MS_DIRTY_HASH;
		ret = hash_setup(d);
	}
	if (ret < 0) {
		say(why, whylen, "out of memory");
		ms_dirty_close(d);
		return ret;
	}
	*out = d;
	return 0;
}

int ms_dirty_open(void *addr, size_t len, struct ms_dirty **out, char *why, size_t whylen)
{
	return ms_dirty_open_opts(addr, len, NULL, out, why, whylen);
}

int ms_dirty_attach(int uffd, void *addr, size_t len, const struct ms_dirty_opts *opts,
		    struct ms_dirty **out, char *why, size_t whylen)
{
	unsigned flags;
	struct ms_dirty *d = NULL;
	int ret;

	ret = dirty_new(addr, len, opts, out, &d, &flags, why, whylen);
	if (ret)
		return ret;
	d->attached = true;
	if ((ret = forced_hash(flags, why, whylen))) {
		/* hashing */
	} else if (uffd < 0) {
		say(why, whylen, "hashing: no userfaultfd with asynchronous write protection");
		ret = 1;
	} else {
		ret = attach_setup(d, uffd, why, whylen);
	}
	if (ret == 0) {
		d->mode = MS_DIRTY_UFFD;
	} else if (ret > 0) {
		if (d->pagemap >= 0)
			close(d->pagemap);
		d->pagemap = -1;
		free(d->vec);
		d->vec = NULL;
		d->mode = MS_DIRTY_HASH;
		ret = 0;
		if (d->nchunks > SIZE_MAX / MS_HASH_LEN)
			ret = -ENOMEM;
		else {
			d->hashes = malloc((size_t)d->nchunks * MS_HASH_LEN);
			d->known = calloc((size_t)d->nchunks, sizeof(*d->known));
			if (!d->hashes || !d->known)
				ret = -ENOMEM;
		}
	}
	if (ret < 0) {
		say(why, whylen, "out of memory");
		ms_dirty_close(d);
		return ret;
	}
	*out = d;
	return 0;
}

void ms_dirty_hash_set(struct ms_dirty *d, uint64_t c, const uint8_t hash[16])
{
	if (!d || !d->known || c >= d->nchunks)
		return;
	memcpy(d->hashes[c], hash, MS_HASH_LEN);
	atomic_store_explicit(&d->known[c], 1, memory_order_release);
}

void ms_dirty_hash_forget(struct ms_dirty *d, uint64_t c)
{
	if (!d || !d->known || c >= d->nchunks)
		return;
	atomic_store_explicit(&d->known[c], 0, memory_order_release);
}

void ms_dirty_close(struct ms_dirty *d)
{
	if (!d)
		return;
	if (d->attached) {
		if (d->pagemap >= 0)
			close(d->pagemap);
		free(d->vec);
	} else {
		uffd_teardown(d);
	}
	free((void *)d->known);
	free(d->hashes);
	free(d);
}

enum ms_dirty_mode ms_dirty_mode(const struct ms_dirty *d)
{
	return d->mode;
}

uint32_t ms_dirty_chunk_size(const struct ms_dirty *d)
{
	return d->chunk;
}

uint64_t ms_dirty_nchunks(const struct ms_dirty *d)
{
	return d->nchunks;
}

int ms_dirty_collect(struct ms_dirty *d, struct ms_dirty_range *out, size_t max, size_t *n,
		     bool *more)
{
	if (!d || !out || !max || !n || !more)
		return -EINVAL;
	*n = 0;
	*more = false;
	if (d->failed)
		return d->failed;
	if (d->mode == MS_DIRTY_UFFD)
		return uffd_collect(d, out, max, n, more);
	return hash_collect(d, out, max, n, more);
}

void ms_dirty_ranges_to_chunks(const struct ms_dirty_range *r, size_t n, uint32_t chunk_size,
			       struct ms_chunkmap *m)
{
	if (!chunk_size)
		return;
	for (size_t i = 0; i < n; i++) {
		uint64_t first, cnt;

		if (!r[i].len)
			continue;
		ms_chunk_span(r[i].off, r[i].len, chunk_size, &first, &cnt);
		ms_chunkmap_set_range(m, first, cnt);
	}
}

int ms_dirty_collect_chunks(struct ms_dirty *d, struct ms_chunkmap *m, uint64_t *nranges)
{
	struct ms_dirty_range r[CHUNK_BATCH];
	uint64_t total = 0;
	bool more;

	if (nranges)
		*nranges = 0;
	if (!d || !m || m->nbits != d->nchunks)
		return -EINVAL;
	do {
		size_t n;
		int ret = ms_dirty_collect(d, r, MS_ARRAY_SIZE(r), &n, &more);

		if (ret)
			return ret;
		ms_dirty_ranges_to_chunks(r, n, d->chunk, m);
		total += n;
	} while (more);
	if (nranges)
		*nranges = total;
	return 0;
}
