/* SPDX-License-Identifier: Apache-2.0 */
/*
 * region.c - server-side regions: map the backing (anonymous memory, a
 * memfd, a file or the caller's memory), pin it, and keep the per-chunk
 * metadata table (generation + XXH3-128) that readers check against.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memfd_create */
#endif
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "chunkmap.h"
#include "region.h"
#include "region_store.h"
#include "region_zero.h"
#include "util.h"

static const char *const backing_names[] = {
	[MS_BACKING_ANON] = "anon",
	[MS_BACKING_MEMFD] = "memfd",
	[MS_BACKING_FILE] = "file",
	[MS_BACKING_USER] = "user",
};

const char *ms_backing_name(enum ms_backing b)
{
	if ((unsigned)b >= MS_ARRAY_SIZE(backing_names))
		return "unknown";
	return backing_names[b];
}

int ms_backing_parse(const char *s, enum ms_backing *out)
{
	for (unsigned i = 0; s && i < MS_ARRAY_SIZE(backing_names); i++) {
		if (strcmp(s, backing_names[i]) == 0) {
			*out = (enum ms_backing)i;
			return 0;
		}
	}
	return -EINVAL;
}

/* Returns -e after putting a message into err (which may be NULL). */
MS_PRINTF(4, 5) static int fail(char *err, size_t errlen, int e, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -e;
}

/* "1.00 GiB", "64.0 KiB", "512 B" (units.c is not part of the library). */
static const char *fmt_size(uint64_t v, char *buf, size_t len)
{
	static const char *const units[] = { "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
	double d;
	int i;

	if (v < 1024) {
		snprintf(buf, len, "%u B", (unsigned)v);
		return buf;
	}
	d = (double)v / 1024;
	for (i = 0; d >= 1023.5 && i < 5; i++)
		d /= 1024;
	snprintf(buf, len, d < 9.995 ? "%.2f %s" : d < 99.95 ? "%.1f %s" : "%.0f %s", d,
		 units[i]);
	return buf;
}

static uint64_t page_size(void)
{
	return (uint64_t)sysconf(_SC_PAGESIZE);
}

uint64_t ms_region_chunk_len(const struct ms_rregion *r, uint64_t i)
{
	uint64_t off = i * r->chunk_size;

	return MS_MIN((uint64_t)r->chunk_size, r->size - off);
}

/* Rehash the leaves of every MS_LEAF block [off, off+len) touches. */
void ms_region_rehash_leaves(struct ms_rregion *r, uint64_t off, uint64_t len)
{
	uint64_t lo = off / MS_LEAF, hi = ms_div_round_up(off + len, MS_LEAF);

	for (uint64_t i = lo; i < hi; i++)
		ms_hash128((const char *)r->mem + i * MS_LEAF,
			   MS_MIN((uint64_t)MS_LEAF, r->size - i * MS_LEAF), r->leaves[i]);
}

/* Chunk i's hash from its leaves (which must be current). */
void ms_region_chunk_root(struct ms_rregion *r, uint64_t i, uint8_t out[MS_HASH_LEN])
{
	ms_hash_from_leaves(r->leaves + i * (r->chunk_size / MS_LEAF),
			    ms_div_round_up(ms_region_chunk_len(r, i), MS_LEAF), out);
}

/* Pin [p, p+len).  On failure the message names RLIMIT_MEMLOCK, the usual
 * cause, and how to raise it. */
static int pin(const struct ms_rregion *r, void *p, uint64_t len, const char *what, char *err,
	       size_t errlen)
{
	char a[32], b[32];
	struct rlimit rl;
	int e;

	if (mlock(p, len) == 0)
		return 0;
	e = errno;
	/* EAGAIN ("some pages could not be locked") is a lack of lockable
	 * memory too; the API promises ENOMEM or EPERM */
	if (e == EAGAIN)
		e = ENOMEM;
	if (getrlimit(RLIMIT_MEMLOCK, &rl) != 0)
		snprintf(b, sizeof(b), "unknown");
	else if (rl.rlim_cur == RLIM_INFINITY)
		snprintf(b, sizeof(b), "unlimited");
	else
		fmt_size(rl.rlim_cur, b, sizeof(b));
	return fail(err, errlen, e,
		    "mlock of %s%s for region '%s' failed: %s; RLIMIT_MEMLOCK is %s "
		    "(raise it with ulimit -l or LimitMEMLOCK=, or run with CAP_IPC_LOCK)",
		    fmt_size(len, a, sizeof(a)), what, r->name, strerror(e), b);
}

static int validate(const struct ms_export_opts *o, uint32_t *cs, char *err, size_t errlen)
{
	uint64_t pg = page_size();

	if (!o)
		return fail(err, errlen, EINVAL, "no region options");
	if (!ms_name_valid(o->name))
		return fail(err, errlen, EINVAL,
			    "invalid region name '%s': use 1..%d characters of "
			    "[A-Za-z0-9._-], not '.' or '..'",
			    o->name ? o->name : "(null)", MS_NAME_MAX);
	if ((unsigned)o->backing >= MS_ARRAY_SIZE(backing_names))
		return fail(err, errlen, EINVAL, "region '%s': unknown backing %d", o->name,
			    (int)o->backing);
	if (o->size == 0 || o->size % pg != 0 || o->size > SIZE_MAX)
		return fail(err, errlen, EINVAL,
			    "region '%s': size %llu is not a positive multiple of the page "
			    "size (%llu)",
			    o->name, (unsigned long long)o->size, (unsigned long long)pg);
	*cs = o->chunk_size ? o->chunk_size : MS_CHUNK_DEFAULT;
	if (!ms_is_pow2(*cs) || *cs < MS_CHUNK_MIN || *cs > MS_CHUNK_MAX)
		return fail(err, errlen, EINVAL,
			    "region '%s': chunk size %u is not a power of two in [%u, %u]",
			    o->name, *cs, MS_CHUNK_MIN, MS_CHUNK_MAX);
	if (o->backing == MS_BACKING_FILE && (!o->path || !o->path[0]))
		return fail(err, errlen, EINVAL, "region '%s': file backing needs a path",
			    o->name);
	if (o->backing != MS_BACKING_FILE && o->path)
		return fail(err, errlen, EINVAL,
			    "region '%s': a path is only meaningful with file backing", o->name);
	if (o->backing == MS_BACKING_USER &&
	    (!o->user_mem || (uintptr_t)o->user_mem % pg != 0))
		return fail(err, errlen, EINVAL,
			    "region '%s': user backing needs page-aligned memory", o->name);
	if (o->backing != MS_BACKING_USER && o->user_mem)
		return fail(err, errlen, EINVAL,
			    "region '%s': user_mem is only meaningful with user backing",
			    o->name);
	return 0;
}

/* How map_file() changed the file, so that a failed create can undo it
 * ("bad input changes nothing"). */
struct file_undo {
	bool created;
	bool extended;
	off_t old_size;
};

/* Reserve the file's blocks before mapping it: a store into a mapped page
 * that has no block behind it is a SIGBUS, not an error. */
static int reserve_file(struct ms_rregion *r, const char *path, char *err, size_t errlen)
{
	char a[32], b[32] = "unknown";
	struct statvfs vfs;
	int e;

	/* what was free before: a reservation that fails may take some */
	if (fstatvfs(r->fd, &vfs) == 0)
		fmt_size((uint64_t)vfs.f_bavail * vfs.f_frsize, b, sizeof(b));
	e = posix_fallocate(r->fd, 0, (off_t)r->size);
	/* EINVAL/EOPNOTSUPP: a filesystem that cannot reserve; go on */
	if (e == 0 || e == EINVAL || e == EOPNOTSUPP)
		return 0;
	if (e != ENOSPC && e != EDQUOT)
		return fail(err, errlen, e, "region '%s': reserve %s for '%s': %s", r->name,
			    fmt_size(r->size, a, sizeof(a)), path, strerror(e));
	return fail(err, errlen, ENOSPC,
		    "region '%s': '%s' does not fit on its filesystem: %s (the region needs "
		    "%s, %s free)",
		    r->name, path, e == ENOSPC ? "no space left on device" : "disk quota exceeded",
		    fmt_size(r->size, a, sizeof(a)), b);
}

static int map_file(struct ms_rregion *r, const char *path, struct file_undo *u, char *err,
		    size_t errlen)
{
	struct stat st;
	char a[32], b[32];
	int e;

	/* O_EXCL first, to know whether the file is ours to remove */
	for (int tries = 0; tries < 2 && r->fd < 0; tries++) {
		r->fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (r->fd >= 0) {
			u->created = true;
			break;
		}
		if (errno != EEXIST)
			break;
		r->fd = open(path, O_RDWR | O_CLOEXEC);
		if (r->fd < 0 && errno != ENOENT)
			break;
	}
	if (r->fd < 0)
		return fail(err, errlen, errno, "region '%s': open '%s': %s", r->name, path,
			    strerror(errno));
	/* one region per file, in this process or any other: two would
	 * overwrite each other's bytes and FILE.msmeta */
	if (flock(r->fd, LOCK_EX | LOCK_NB) != 0) {
		e = errno == EWOULDBLOCK ? EBUSY : errno;
		u->created = false; /* someone else's, whatever open said */
		return fail(err, errlen, e,
			    "region '%s': '%s' already backs another region (of this or another "
			    "process)%s%s",
			    r->name, path, e == EBUSY ? "" : ": ", e == EBUSY ? "" : strerror(e));
	}
	if (fstat(r->fd, &st) != 0)
		return fail(err, errlen, errno, "region '%s': stat '%s': %s", r->name, path,
			    strerror(errno));
	if (!S_ISREG(st.st_mode))
		return fail(err, errlen, EINVAL, "region '%s': '%s' is not a regular file",
			    r->name, path);
	/* A larger file would be silently cut: the region could neither
	 * serve nor preserve its tail. */
	if ((uint64_t)st.st_size > r->size)
		return fail(err, errlen, EINVAL,
			    "region '%s': file '%s' is %s, larger than the region (%s)", r->name,
			    path, fmt_size((uint64_t)st.st_size, a, sizeof(a)),
			    fmt_size(r->size, b, sizeof(b)));
	if ((uint64_t)st.st_size < r->size) {
		/* noted before the change: a reservation that fails half
		 * way may already have made the file longer */
		u->extended = true;
		u->old_size = st.st_size;
	}
	e = reserve_file(r, path, err, errlen);
	if (e)
		return e;
	if ((uint64_t)st.st_size < r->size && ftruncate(r->fd, (off_t)r->size) != 0)
		return fail(err, errlen, errno, "region '%s': extend '%s' to %s: %s", r->name,
			    path, fmt_size(r->size, a, sizeof(a)), strerror(errno));
	r->mem = mmap(NULL, r->size, PROT_READ | PROT_WRITE, MAP_SHARED, r->fd, 0);
	if (r->mem == MAP_FAILED) {
		e = errno;
		r->mem = NULL;
		return fail(err, errlen, e, "region '%s': mmap '%s': %s", r->name, path,
			    strerror(e));
	}
	return 0;
}

static int map_backing(struct ms_rregion *r, const struct ms_export_opts *o,
		       struct file_undo *u, char *err, size_t errlen)
{
	char a[32];
	void *m;
	int e;

	switch (o->backing) {
	case MS_BACKING_ANON:
		m = mmap(NULL, r->size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
			 0);
		if (m == MAP_FAILED) {
			e = errno;
			return fail(err, errlen, e, "region '%s': mmap of %s: %s", r->name,
				    fmt_size(r->size, a, sizeof(a)), strerror(e));
		}
		r->mem = m;
		return 0;
	case MS_BACKING_MEMFD:
		r->fd = memfd_create(r->name, MFD_CLOEXEC);
		if (r->fd < 0)
			return fail(err, errlen, errno, "region '%s': memfd_create: %s", r->name,
				    strerror(errno));
		if (ftruncate(r->fd, (off_t)r->size) != 0)
			return fail(err, errlen, errno, "region '%s': size memfd to %s: %s",
				    r->name, fmt_size(r->size, a, sizeof(a)), strerror(errno));
		m = mmap(NULL, r->size, PROT_READ | PROT_WRITE, MAP_SHARED, r->fd, 0);
		if (m == MAP_FAILED) {
			e = errno;
			return fail(err, errlen, e, "region '%s': mmap memfd of %s: %s",
				    r->name, fmt_size(r->size, a, sizeof(a)), strerror(e));
		}
		r->mem = m;
		return 0;
	case MS_BACKING_FILE:
		r->path = strdup(o->path);
		if (!r->path)
			return fail(err, errlen, ENOMEM, "out of memory");
		return map_file(r, o->path, u, err, errlen);
	case MS_BACKING_USER:
		r->mem = o->user_mem;
		r->owns_mem = false;
		return 0;
	}
	return fail(err, errlen, EINVAL, "unknown backing");
}

/* Fill the leaves and the metadata table: generation 1 and the hash of
 * every chunk. */
static void hash_all(struct ms_rregion *r, bool zero)
{
	uint64_t last = r->nleaves - 1;

	if (zero) {
		/* fresh anonymous memory and memfds are all zeros: hash one
		 * leaf (and a short last one) instead of every byte */
		uint8_t full[MS_HASH_LEN], tail[MS_HASH_LEN];

		ms_hash128(r->mem, MS_MIN((uint64_t)MS_LEAF, r->size), full);
		ms_hash128(r->mem, r->size - last * MS_LEAF, tail);
		for (uint64_t i = 0; i < r->nleaves; i++)
			memcpy(r->leaves[i], i == last ? tail : full, MS_HASH_LEN);
	} else {
		ms_region_rehash_leaves(r, 0, r->size);
	}
	for (uint64_t i = 0; i < r->nchunks; i++) {
		struct ms_meta_entry *m = &r->meta[i];

		m->gen_le = htole64(1);
		m->reserved = 0;
		if (zero && i && i != r->nchunks - 1)
			memcpy(m->hash, r->meta[i - 1].hash, MS_HASH_LEN);
		else
			ms_region_chunk_root(r, i, m->hash);
	}
}

/* Undo a partly built region.  On the failure path only. */
static void teardown(struct ms_rregion *r, const struct file_undo *u)
{
	if (r->meta) {
		if (r->locked)
			munlock(r->meta, r->meta_len);
		munmap(r->meta, r->meta_len);
	}
	if (r->mem) {
		if (r->locked)
			munlock(r->mem, r->size);
		if (r->owns_mem)
			munmap(r->mem, r->size);
	}
	if (u->created)
		unlink(r->path);
	else if (u->extended && r->fd >= 0 && ftruncate(r->fd, u->old_size) != 0) {
		/* best effort: the file stays longer, its content unchanged */
	}
	if (r->fd >= 0)
		close(r->fd);
	free(r->leaves);
	free(r->heat);
	free(r->path);
	free(r);
}

int ms_region_create(const struct ms_export_opts *o, struct ms_rregion **out, char *err,
		     size_t errlen)
{
	struct file_undo u = { 0 };
	struct ms_rregion *r;
	uint64_t pg = page_size();
	uint32_t cs = 0;
	char a[32];
	int rc;

	if (err && errlen)
		err[0] = '\0';
	rc = validate(o, &cs, err, errlen);
	if (rc)
		return rc;
	if (!cs)        /* validate() sets it; a guard for what follows */
		return fail(err, errlen, EINVAL, "region '%s': no chunk size", o->name);

	r = calloc(1, sizeof(*r));
	if (!r)
		return fail(err, errlen, ENOMEM, "out of memory");
	snprintf(r->name, sizeof(r->name), "%s", o->name);
	r->backing = o->backing;
	r->size = o->size;
	r->chunk_size = cs;
	r->nchunks = ms_div_round_up(o->size, cs);
	r->fd = -1;
	r->owns_mem = true;
	r->generation = 1;

	rc = map_backing(r, o, &u, err, errlen);
	if (rc)
		goto fail;

	r->nleaves = ms_div_round_up(o->size, MS_LEAF);
	r->leaves = malloc(r->nleaves * sizeof(*r->leaves));
	r->heat = calloc(r->nchunks, sizeof(*r->heat));
	if (!r->leaves || !r->heat) {
		rc = fail(err, errlen, ENOMEM, "region '%s': out of memory for %s of leaf hashes",
			  r->name, fmt_size(r->nleaves * sizeof(*r->leaves), a, sizeof(a)));
		goto fail;
	}
	r->meta_len = (size_t)ms_div_round_up(r->nchunks * sizeof(struct ms_meta_entry), pg) * pg;
	r->meta = mmap(NULL, r->meta_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		       -1, 0);
	if (r->meta == MAP_FAILED) {
		r->meta = NULL;
		rc = fail(err, errlen, errno, "region '%s': mmap of %s of metadata: %s", r->name,
			  fmt_size(r->meta_len, a, sizeof(a)), strerror(errno));
		goto fail;
	}

	if (!o->no_mlock) {
		rc = pin(r, r->mem, r->size, "", err, errlen);
		if (rc)
			goto fail;
		rc = pin(r, r->meta, r->meta_len, " of metadata", err, errlen);
		if (rc) {
			munlock(r->mem, r->size);
			goto fail;
		}
		r->locked = true;
	}

	rc = pthread_mutex_init(&r->lock, NULL);
	if (rc) {
		rc = fail(err, errlen, rc, "region '%s': pthread_mutex_init: %s", r->name,
			  strerror(rc));
		goto fail;
	}
	if ((rc = ms_rhold_init(&r->hold))) {
		pthread_mutex_destroy(&r->lock);
		rc = fail(err, errlen, -rc, "region '%s': hold lock: %s", r->name, strerror(-rc));
		goto fail;
	}
	ms_region_zero_init(r);
	hash_all(r, o->backing == MS_BACKING_ANON || o->backing == MS_BACKING_MEMFD);
	if (o->backing == MS_BACKING_FILE) {
		/* last: it removes what it created when it fails, and nothing
		 * after it can fail */
		rc = ms_rstore_open(r, &r->store, &r->start, err, errlen);
		if (rc) {
			pthread_mutex_destroy(&r->lock);
			goto fail;
		}
	}
	/* the hashes as init (and a store's replay) left them */
	ms_region_zero_stamp_range(r, 0, r->nchunks);
	*out = r;
	return 0;

fail:
	teardown(r, &u);
	return rc;
}

int ms_region_msync(struct ms_rregion *r, uint64_t off, uint64_t len)
{
	uint64_t pg = page_size(), start, end;

	if (off > r->size || len > r->size - off)
		return -ERANGE;
	if (r->backing != MS_BACKING_FILE || len == 0)
		return 0;
	/* msync wants a page-aligned start; cover every page of the range */
	start = off & ~(pg - 1);
	end = MS_MIN(ms_div_round_up(off + len, pg) * pg, r->size);
	if (msync((char *)r->mem + start, end - start, MS_SYNC) != 0)
		return -errno;
	return 0;
}

void ms_region_heat_add(struct ms_rregion *r, uint64_t i)
{
	if (r->heat[i] != UINT32_MAX)
		r->heat[i]++;
}

int ms_region_touch(struct ms_rregion *r, const uint64_t *idx, size_t n)
{
	for (size_t k = 0; k < n; k++)
		if (idx[k] >= r->nchunks)
			return -ERANGE;
	pthread_mutex_lock(&r->lock);
	for (size_t k = 0; k < n; k++)
		ms_region_heat_add(r, idx[k]);
	pthread_mutex_unlock(&r->lock);
	return 0;
}

struct hot_ent {
	uint32_t heat;
	uint64_t i;
};

static int hot_cmp(const void *a, const void *b)
{
	const struct hot_ent *x = a, *y = b;

	if (x->heat != y->heat)
		return x->heat > y->heat ? -1 : 1;
	return (x->i > y->i) - (x->i < y->i);
}

size_t ms_region_hot(struct ms_rregion *r, uint64_t *out, size_t max)
{
	struct hot_ent *e;
	size_t n = 0;

	pthread_mutex_lock(&r->lock);
	for (uint64_t i = 0; i < r->nchunks; i++)
		n += r->heat[i] != 0;
	e = n ? malloc(n * sizeof(*e)) : NULL;
	if (e) {
		n = 0;
		for (uint64_t i = 0; i < r->nchunks; i++)
			if (r->heat[i])
				e[n++] = (struct hot_ent){ r->heat[i], i };
	} else {
		n = 0;          /* nothing hot, or no memory for the list */
	}
	pthread_mutex_unlock(&r->lock);
	if (n)
		qsort(e, n, sizeof(*e), hot_cmp);
	n = MS_MIN(n, max);
	for (size_t k = 0; k < n; k++)
		out[k] = e[k].i;
	free(e);
	return n;
}

void ms_region_destroy(struct ms_rregion *r)
{
	if (!r)
		return;
	if (r->backing == MS_BACKING_FILE)
		msync(r->mem, r->size, MS_SYNC);
	/* user memory too: we pinned it, and locks do not nest, so a caller
	 * that had pinned it itself must pin it again */
	if (r->locked) {
		munlock(r->mem, r->size);
		munlock(r->meta, r->meta_len);
	}
	if (r->owns_mem)
		munmap(r->mem, r->size);
	munmap(r->meta, r->meta_len);
	ms_rstore_close(r->store);
	if (r->fd >= 0)
		close(r->fd);
	free(r->leaves);
	free(r->heat);
	free(r->path);
	pthread_mutex_destroy(&r->lock);
	ms_rhold_fini(&r->hold);
	free(r);
}
