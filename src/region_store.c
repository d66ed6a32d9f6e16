/* SPDX-License-Identifier: Apache-2.0 */
/*
 * region_store.c - a file region's persisted metadata (FILE.msmeta) and
 * redo journal (FILE.msjournal); the formats and the protocol are in
 * region_store.h, the reasoning in docs/design.md ("Durability").
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "chunkmap.h"
#include "hash.h"
#include "region.h"
#include "region_store.h"
#include "util.h"

#define META_MAGIC "MSMETA1"  /* 8 bytes with the NUL */
#define JRNL_MAGIC "MSJRNL1"
#define FMT_VERSION 1u
#define ENT_LEN 32u
#define SUM_LEN MS_HASH_LEN

struct ms_rstore {
	int mfd, jfd;
	char *mpath, *jpath;
	uint64_t size, nchunks;
	uint32_t chunk_size;
	uint64_t jgen;          /* generation of the record in the journal, 0: none */
	uint8_t jid[MS_HASH_LEN]; /* and what it names (ents_id) */
	pthread_mutex_t hlock;  /* gen, epoch and the header write */
	uint64_t gen, epoch;
	char err[512];
};

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

static void put64(uint8_t *p, uint64_t v)
{
	v = htole64(v);
	memcpy(p, &v, 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	v = htole32(v);
	memcpy(p, &v, 4);
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return le64toh(v);
}

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return le32toh(v);
}

/* "no space left on device" in lower case wherever a message says why a
 * write failed: what an operator greps for. */
static const char *why(int e)
{
	return e == ENOSPC ? "no space left on device" : strerror(e);
}

/* pwrite all of it: 0 or -errno (a write that makes no progress: -EIO). */
static int write_full(int fd, const void *buf, size_t len, uint64_t off)
{
	const char *p = buf;

	while (len) {
		ssize_t w = pwrite(fd, p, MS_MIN(len, (size_t)1 << 30), (off_t)off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		if (w == 0)
			return -EIO;
		p += w;
		len -= (size_t)w;
		off += (uint64_t)w;
	}
	return 0;
}

/* pread exactly len bytes: 0, -ENODATA when the file is shorter, -errno. */
static int read_full(int fd, void *buf, size_t len, uint64_t off)
{
	char *p = buf;

	while (len) {
		ssize_t r = pread(fd, p, len, (off_t)off);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -ENODATA;
		p += r;
		len -= (size_t)r;
		off += (uint64_t)r;
	}
	return 0;
}

static int sync_fd(int fd)
{
	return fdatasync(fd) == 0 ? 0 : -errno;
}

/* ------------------------------------------------------------- msmeta */

static void meta_header(const struct ms_rstore *st, uint8_t h[MS_RSTORE_HDR])
{
	memset(h, 0, MS_RSTORE_HDR);
	memcpy(h, META_MAGIC, 8);
	put32(h + 8, FMT_VERSION);
	put32(h + 12, st->chunk_size);
	put64(h + 16, st->size);
	put64(h + 24, st->nchunks);
	put64(h + 32, st->gen);
	put64(h + 40, st->epoch);
	ms_hash128(h, 48, h + 48);
}

/* Write the header with the current generation and epoch; the caller
 * syncs.  Under hlock. */
static int write_header(struct ms_rstore *st)
{
	uint8_t h[MS_RSTORE_HDR];
	int rc;

	meta_header(st, h);
	rc = write_full(st->mfd, h, sizeof(h), 0);
	if (rc)
		snprintf(st->err, sizeof(st->err), "write '%s': %s", st->mpath, why(-rc));
	return rc;
}

/* What a header read from msmeta says.  Returns true when it is a valid
 * header (of any geometry). */
struct meta_hdr {
	uint32_t chunk_size;
	uint64_t size, nchunks, gen, epoch;
};

static bool parse_meta_header(const uint8_t h[MS_RSTORE_HDR], struct meta_hdr *m)
{
	uint8_t sum[MS_HASH_LEN];

	if (memcmp(h, META_MAGIC, 8) != 0 || get32(h + 8) != FMT_VERSION)
		return false;
	ms_hash128(h, 48, sum);
	if (!ms_hash_eq(sum, h + 48))
		return false;
	m->chunk_size = get32(h + 12);
	m->size = get64(h + 16);
	m->nchunks = get64(h + 24);
	m->gen = get64(h + 32);
	m->epoch = get64(h + 40);
	return true;
}

/* Entries of chunks [first, first+n) from the region's table into msmeta. */
static int write_entries(struct ms_rstore *st, const struct ms_rregion *r, uint64_t first,
			 uint64_t n)
{
	int rc = write_full(st->mfd, &r->meta[first], (size_t)(n * ENT_LEN),
			    MS_RSTORE_HDR + first * ENT_LEN);

	if (rc)
		snprintf(st->err, sizeof(st->err), "write '%s': %s", st->mpath, why(-rc));
	return rc;
}

/* ------------------------------------------------------------ journal */

struct jrec {
	uint64_t gen, epoch, total;
	uint32_t n;
	const uint8_t *ents;    /* n * ENT_LEN, in the mapping */
	const uint8_t *bytes;   /* total */
};

/* The checksum of a record: XXH3-128 over the hash of header+entries and
 * the hash of each entry's bytes. */
static int record_sum(const uint8_t *hdr_ents, size_t hlen, uint32_t n,
		      const uint64_t *lens, const void *const *srcs, uint8_t out[SUM_LEN])
{
	uint8_t (*d)[MS_HASH_LEN] = malloc(((size_t)n + 1) * MS_HASH_LEN);

	if (!d)
		return -ENOMEM;
	ms_hash128(hdr_ents, hlen, d[0]);
	for (uint32_t i = 0; i < n; i++)
		ms_hash128(srcs[i], (size_t)lens[i], d[i + 1]);
	ms_hash128(d, ((size_t)n + 1) * MS_HASH_LEN, out);
	free(d);
	return 0;
}

/* Is [p, p+len) of size flen one complete, intact record for st's
 * geometry?  Fills *rec.  -EBADMSG when not, -ENOMEM. */
static int parse_record(const struct ms_rstore *st, const uint8_t *p, uint64_t flen,
			struct jrec *rec)
{
	uint64_t hlen, sum_total = 0, *lens = NULL;
	const void **srcs = NULL;
	uint8_t sum[SUM_LEN];
	int rc = -EBADMSG;

	if (flen < MS_RSTORE_HDR || memcmp(p, JRNL_MAGIC, 8) != 0 ||
	    get32(p + 8) != FMT_VERSION || get64(p + 40) != st->size ||
	    get32(p + 48) != st->chunk_size)
		return -EBADMSG;
	rec->n = get32(p + 12);
	rec->gen = get64(p + 16);
	rec->epoch = get64(p + 24);
	rec->total = get64(p + 32);
	hlen = MS_RSTORE_HDR + (uint64_t)rec->n * ENT_LEN;
	if (rec->total > flen || hlen > flen - rec->total ||
	    SUM_LEN > flen - rec->total - hlen)
		return -EBADMSG;
	rec->ents = p + MS_RSTORE_HDR;
	rec->bytes = p + hlen;
	lens = malloc(((size_t)rec->n + 1) * sizeof(*lens));
	srcs = malloc(((size_t)rec->n + 1) * sizeof(*srcs));
	if (!lens || !srcs) {
		rc = -ENOMEM;
		goto out;
	}
	for (uint32_t i = 0; i < rec->n; i++) {
		uint64_t off = get64(rec->ents + i * ENT_LEN), len = get64(rec->ents + i * ENT_LEN + 8);

		if (!len || off > st->size || len > st->size - off || len > rec->total - sum_total)
			goto out;
		lens[i] = len;
		srcs[i] = rec->bytes + sum_total;
		sum_total += len;
	}
	if (sum_total != rec->total)
		goto out;
	rc = record_sum(p, (size_t)hlen, rec->n, lens, srcs, sum);
	if (!rc && !ms_hash_eq(sum, p + hlen + rec->total))
		rc = -EBADMSG;
out:
	free(lens);
	free(srcs);
	return rc;
}

/* What a commit names (offsets, lengths, hashes): applied() tells the
 * record of its own commit from one of a commit that failed after
 * journaling and had the same generation. */
static void ents_id(const struct ms_commit_ent *ents, uint32_t n, uint8_t out[MS_HASH_LEN])
{
	uint8_t acc[2 * MS_HASH_LEN] = { 0 };

	for (uint32_t i = 0; i < n; i++) {
		uint8_t e[8 + 8 + MS_HASH_LEN];

		put64(e, ents[i].off);
		put64(e + 8, ents[i].len);
		memcpy(e + 16, ents[i].hash, MS_HASH_LEN);
		ms_hash128(e, sizeof(e), acc + MS_HASH_LEN);
		ms_hash128(acc, sizeof(acc), acc);
	}
	memcpy(out, acc, MS_HASH_LEN);
}

static int journal_truncate(struct ms_rstore *st, bool sync)
{
	if (ftruncate(st->jfd, 0) != 0 || (sync && fdatasync(st->jfd) != 0)) {
		int e = errno;

		snprintf(st->err, sizeof(st->err), "truncate '%s': %s", st->jpath, why(e));
		return -e;
	}
	st->jgen = 0;
	return 0;
}

int ms_rstore_journal(struct ms_rstore *st, uint64_t gen, uint64_t epoch,
		      const struct ms_commit_ent *ents, uint32_t n, const void *const *srcs)
{
	uint64_t total = 0, *lens = NULL, pos;
	size_t hlen = MS_RSTORE_HDR + (size_t)n * ENT_LEN;
	uint8_t *h = NULL, sum[SUM_LEN];
	int rc, e;

	/* no limit on n: one commit may gather many COMMIT messages */
	for (uint32_t i = 0; i < n; i++) {
		if (!ents[i].len || ents[i].off > st->size || ents[i].len > st->size - ents[i].off)
			return -ERANGE;
		total += ents[i].len;
	}
	h = calloc(1, hlen);
	lens = malloc(((size_t)n + 1) * sizeof(*lens));
	if (!h || !lens) {
		rc = -ENOMEM;
		snprintf(st->err, sizeof(st->err), "journal '%s': out of memory", st->jpath);
		goto out;
	}
	memcpy(h, JRNL_MAGIC, 8);
	put32(h + 8, FMT_VERSION);
	put32(h + 12, n);
	put64(h + 16, gen);
	put64(h + 24, epoch);
	put64(h + 32, total);
	put64(h + 40, st->size);
	put32(h + 48, st->chunk_size);
	for (uint32_t i = 0; i < n; i++) {
		uint8_t *q = h + MS_RSTORE_HDR + (size_t)i * ENT_LEN;

		put64(q, ents[i].off);
		put64(q + 8, ents[i].len);
		memcpy(q + 16, ents[i].hash, MS_HASH_LEN);
		lens[i] = ents[i].len;
	}
	rc = record_sum(h, hlen, n, lens, srcs, sum);
	if (rc) {
		snprintf(st->err, sizeof(st->err), "journal '%s': out of memory", st->jpath);
		goto out;
	}
	/* an older record (a commit journaled and never applied) goes first,
	 * so that no mix of two records can be read back as one */
	if (st->jgen && (rc = journal_truncate(st, false)) != 0)
		goto out;
	/* reserve the blocks first: a full disk fails here, cleanly */
	e = posix_fallocate(st->jfd, 0, (off_t)(hlen + total + SUM_LEN));
	if (e && e != EOPNOTSUPP && e != EINVAL) {
		rc = -e;
		snprintf(st->err, sizeof(st->err), "journal '%s': %s", st->jpath, why(e));
		goto undo;
	}
	rc = write_full(st->jfd, h, hlen, 0);
	pos = hlen;
	for (uint32_t i = 0; i < n && !rc; i++) {
		rc = write_full(st->jfd, srcs[i], (size_t)ents[i].len, pos);
		pos += ents[i].len;
	}
	if (!rc)
		rc = write_full(st->jfd, sum, SUM_LEN, pos);
	if (!rc)
		rc = sync_fd(st->jfd);
	if (rc) {
		snprintf(st->err, sizeof(st->err), "journal '%s': %s", st->jpath, why(-rc));
		goto undo;
	}
	st->jgen = gen;
	ents_id(ents, n, st->jid);
	goto out;
undo:
	/* the error to report is rc's; a truncate failing too changes
	 * nothing (an incomplete record is never replayed) */
	if (ftruncate(st->jfd, 0) == 0)
		st->jgen = 0;
out:
	free(h);
	free(lens);
	return rc;
}

int ms_rstore_applied(struct ms_rstore *st, const struct ms_rregion *r, uint64_t gen,
		      const struct ms_commit_ent *ents, uint32_t n)
{
	uint8_t id[MS_HASH_LEN];
	int rc = 0;

	/* a record of another commit (journaled, then failed) must not
	 * outlive this one's msmeta: it would be replayed over it */
	if (st->jgen) {
		ents_id(ents, n, id);
		if ((st->jgen != gen || !ms_hash_eq(id, st->jid)) &&
		    (rc = journal_truncate(st, true)) != 0)
			return rc;
	}
	for (uint32_t i = 0; i < n && !rc; i++) {
		uint64_t first, cnt;

		if (!ents[i].len || ents[i].off > st->size || ents[i].len > st->size - ents[i].off)
			continue;
		ms_chunk_span(ents[i].off, ents[i].len, st->chunk_size, &first, &cnt);
		rc = write_entries(st, r, first, cnt);
	}
	if (rc)
		return rc;
	pthread_mutex_lock(&st->hlock);
	st->gen = MS_MAX(st->gen, gen);
	rc = write_header(st);
	if (!rc && (rc = sync_fd(st->mfd)) != 0)
		snprintf(st->err, sizeof(st->err), "sync '%s': %s", st->mpath, why(-rc));
	pthread_mutex_unlock(&st->hlock);
	if (rc)
		return rc;
	/* durable in msmeta: the record is done (should this fail, the
	 * record's generation equals msmeta's and replaying it is harmless) */
	if (st->jgen)
		journal_truncate(st, false);
	return 0;
}

int ms_rstore_set_epoch(struct ms_rstore *st, uint64_t epoch)
{
	int rc;

	pthread_mutex_lock(&st->hlock);
	st->epoch = epoch;
	rc = write_header(st);
	if (!rc && (rc = sync_fd(st->mfd)) != 0)
		snprintf(st->err, sizeof(st->err), "sync '%s': %s", st->mpath, why(-rc));
	pthread_mutex_unlock(&st->hlock);
	return rc;
}

uint64_t ms_rstore_epoch(struct ms_rstore *st)
{
	uint64_t e;

	pthread_mutex_lock(&st->hlock);
	e = st->epoch;
	pthread_mutex_unlock(&st->hlock);
	return e;
}

const char *ms_rstore_errmsg(const struct ms_rstore *st)
{
	return st ? st->err : "";
}

void ms_rstore_close(struct ms_rstore *st)
{
	if (!st)
		return;
	if (st->mfd >= 0)
		close(st->mfd);
	if (st->jfd >= 0)
		close(st->jfd);
	free(st->mpath);
	free(st->jpath);
	pthread_mutex_destroy(&st->hlock);
	free(st);
}

/* ---------------------------------------------------------------- open */

/* Open (creating) path; *created says whether this call made it. */
static int open_side(const char *path, bool *created)
{
	int fd;

	*created = false;
	for (int tries = 0; tries < 2; tries++) {
		fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (fd >= 0) {
			*created = true;
			return fd;
		}
		if (errno != EEXIST)
			return -errno;
		fd = open(path, O_RDWR | O_CLOEXEC);
		if (fd >= 0)
			return fd;
		if (errno != ENOENT)
			return -errno;
	}
	return -ENOENT;
}

/* Replay the journal's record into region memory if it is complete and
 * not older than msmeta (base_gen); mark the chunks it wrote in *touched.
 * A record that is incomplete, corrupt or stale is dropped. */
static int replay(struct ms_rstore *st, struct ms_rregion *r, uint64_t base_gen,
		  struct ms_chunkmap *touched, struct ms_rstore_start *out, char *err,
		  size_t errlen)
{
	struct stat sb;
	struct jrec rec;
	uint8_t *p;
	int rc;

	if (fstat(st->jfd, &sb) != 0)
		return fail(err, errlen, errno, "stat '%s': %s", st->jpath, strerror(errno));
	if (sb.st_size == 0)
		return 0;
	p = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, st->jfd, 0);
	if (p == MAP_FAILED)
		return fail(err, errlen, errno, "mmap '%s': %s", st->jpath, strerror(errno));
	rc = parse_record(st, p, (uint64_t)sb.st_size, &rec);
	if (rc == -ENOMEM) {
		munmap(p, (size_t)sb.st_size);
		return fail(err, errlen, ENOMEM, "replay '%s': out of memory", st->jpath);
	}
	if (rc || rec.gen < base_gen) {
		out->discarded = rc != 0;
		munmap(p, (size_t)sb.st_size);
		return 0;
	}
	for (uint64_t i = 0, pos = 0; i < rec.n; i++) {
		uint64_t off = get64(rec.ents + i * ENT_LEN), len = get64(rec.ents + i * ENT_LEN + 8);
		uint64_t first, cnt;

		memcpy((char *)r->mem + off, rec.bytes + pos, (size_t)len);
		pos += len;
		ms_chunk_span(off, len, r->chunk_size, &first, &cnt);
		ms_chunkmap_set_range(touched, first, cnt);
	}
	munmap(p, (size_t)sb.st_size);
	if (msync(r->mem, r->size, MS_SYNC) != 0)
		return fail(err, errlen, errno, "region '%s': write back the replay of '%s': %s",
			    r->name, st->jpath, why(errno));
	out->replayed = rec.n;
	out->replay_gen = rec.gen;
	st->jgen = rec.gen;
	return 0;
}

/* Give every chunk its generation: replayed ones the record's, unchanged
 * ones (hash equal to the persisted one) their persisted generation, all
 * others one past everything persisted. */
static void reconcile(struct ms_rstore *st, struct ms_rregion *r, const uint8_t *pm,
		      uint64_t base_gen, const struct ms_chunkmap *touched,
		      struct ms_rstore_start *out)
{
	uint64_t top = MS_MAX(base_gen, out->replay_gen), newgen, g;

	for (uint64_t i = 0; pm && i < r->nchunks; i++)
		top = MS_MAX(top, get64(pm + i * ENT_LEN));
	newgen = top + 1;
	for (uint64_t i = 0; i < r->nchunks; i++) {
		struct ms_meta_entry *m = &r->meta[i];

		if (out->replayed && ms_chunkmap_test(touched, i)) {
			uint64_t len = MS_MIN((uint64_t)r->chunk_size, r->size - i * r->chunk_size);

			/* its bytes changed after hashing: rehash it */
			ms_chunk_hash_leaves((const char *)r->mem + i * r->chunk_size, (size_t)len,
					     r->leaves + i * (r->chunk_size / MS_LEAF), m->hash);
			g = out->replay_gen;
		} else if (pm && ms_hash_eq(m->hash, pm + i * ENT_LEN + 8) &&
			   get64(pm + i * ENT_LEN) != 0) {
			g = get64(pm + i * ENT_LEN);
		} else {
			if (pm && !out->changed++)
				out->first_changed = i;
			g = newgen;
		}
		m->gen_le = htole64(g);
		r->generation = MS_MAX(r->generation, g);
	}
	r->generation = MS_MAX(r->generation, top);
	st->gen = r->generation;
}

/* Make a new file's directory entry durable. */
static void sync_dir(const char *path)
{
	char *dup = strdup(path);
	int fd;

	if (!dup)
		return;
	fd = open(dirname(dup), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		if (fsync(fd) != 0) {
			/* best effort: the files are written and synced */
		}
		close(fd);
	}
	free(dup);
}

int ms_rstore_open(struct ms_rregion *r, struct ms_rstore **out, struct ms_rstore_start *so,
		   char *err, size_t errlen)
{
	struct ms_chunkmap touched = { 0 };
	bool mcreated = false, jcreated = false, valid = false;
	uint8_t h[MS_RSTORE_HDR], *pm = NULL;
	struct meta_hdr mh = { 0 };
	struct ms_rstore *st;
	int rc;

	*so = (struct ms_rstore_start){ 0 };
	st = calloc(1, sizeof(*st));
	if (!st)
		return fail(err, errlen, ENOMEM, "out of memory");
	st->mfd = st->jfd = -1;
	st->size = r->size;
	st->chunk_size = r->chunk_size;
	st->nchunks = r->nchunks;
	rc = pthread_mutex_init(&st->hlock, NULL);
	if (rc) {
		free(st);
		return fail(err, errlen, rc, "pthread_mutex_init: %s", strerror(rc));
	}
	if (asprintf(&st->mpath, "%s" MS_RSTORE_META_SUFFIX, r->path) < 0 ||
	    asprintf(&st->jpath, "%s" MS_RSTORE_JOURNAL_SUFFIX, r->path) < 0) {
		st->mpath = st->jpath = NULL;
		rc = fail(err, errlen, ENOMEM, "out of memory");
		goto fail;
	}
	st->mfd = open_side(st->mpath, &mcreated);
	if (st->mfd < 0) {
		rc = fail(err, errlen, -st->mfd, "region '%s': open '%s': %s", r->name,
			  st->mpath, strerror(-st->mfd));
		goto fail;
	}
	st->jfd = open_side(st->jpath, &jcreated);
	if (st->jfd < 0) {
		rc = fail(err, errlen, -st->jfd, "region '%s': open '%s': %s", r->name,
			  st->jpath, strerror(-st->jfd));
		goto fail;
	}
	if (ms_chunkmap_init(&touched, r->nchunks)) {
		rc = fail(err, errlen, ENOMEM, "out of memory");
		goto fail;
	}

	/* the persisted table, when it is one of this geometry */
	if (read_full(st->mfd, h, sizeof(h), 0) == 0 && parse_meta_header(h, &mh)) {
		st->epoch = mh.epoch;  /* a fencing token never goes back */
		if (mh.size == r->size && mh.chunk_size == r->chunk_size &&
		    mh.nchunks == r->nchunks) {
			pm = malloc((size_t)r->nchunks * ENT_LEN);
			if (!pm) {
				rc = fail(err, errlen, ENOMEM, "out of memory");
				goto fail;
			}
			valid = read_full(st->mfd, pm, (size_t)r->nchunks * ENT_LEN,
					  MS_RSTORE_HDR) == 0;
		}
	}
	if (!valid) {
		free(pm);
		pm = NULL;
		so->fresh = true;
	}
	/* a chunk still ABSENT: this file was a migration's destination that
	 * stopped in post-copy; its bytes there are not data, and hashing
	 * them as such would publish them.  Refused, never guessed. */
	for (uint64_t i = 0; pm && i < r->nchunks; i++) {
		uint32_t fl;

		memcpy(&fl, pm + i * ENT_LEN + 24, 4);
		if (le32toh(fl) & MS_META_F_ABSENT) {
			rc = fail(err, errlen, EUCLEAN,
				  "region '%s': '%s' was being migrated in (post-copy) and chunk "
				  "%llu never arrived: migrate the region again from its source "
				  "(or remove the file and its .msmeta)", r->name, r->path,
				  (unsigned long long)i);
			goto fail;
		}
	}
	/* a journal only means something next to its table */
	if (valid) {
		rc = replay(st, r, mh.gen, &touched, so, err, errlen);
		if (rc)
			goto fail;
	} else if (!jcreated) {
		struct stat sb;

		so->discarded = fstat(st->jfd, &sb) == 0 && sb.st_size > 0;
	}
	reconcile(st, r, pm, mh.gen, &touched, so);

	/* the whole table as it now stands, then the journal is done */
	rc = write_full(st->mfd, r->meta, (size_t)r->nchunks * ENT_LEN, MS_RSTORE_HDR);
	if (!rc)
		rc = write_header(st);
	if (!rc && ftruncate(st->mfd, (off_t)(MS_RSTORE_HDR + r->nchunks * ENT_LEN)) != 0)
		rc = -errno;
	if (!rc)
		rc = sync_fd(st->mfd);
	if (rc) {
		rc = fail(err, errlen, -rc, "region '%s': write '%s': %s", r->name, st->mpath,
			  why(-rc));
		goto fail;
	}
	if (journal_truncate(st, true) != 0) {
		rc = fail(err, errlen, EIO, "region '%s': %s", r->name, st->err);
		goto fail;
	}
	if (mcreated || jcreated)
		sync_dir(st->mpath);
	free(pm);
	ms_chunkmap_free(&touched);
	*out = st;
	return 0;

fail:
	free(pm);
	ms_chunkmap_free(&touched);
	if (mcreated)
		unlink(st->mpath);
	if (jcreated)
		unlink(st->jpath);
	ms_rstore_close(st);
	return rc;
}

/* ------------------------------------------------ FILE.msmoved (migration) */

int ms_rstore_moved_save(const char *path, const struct ms_rstore_moved *m)
{
	char tmp[MS_PATH_MAX + 32], dst[MS_PATH_MAX + 32], line[512], hex[33];
	int fd, n, ret = 0;

	for (int i = 0; i < 16; i++)
		snprintf(hex + 2 * i, 3, "%02x", m->dest_id[i]);
	snprintf(dst, sizeof(dst), "%s" MS_RSTORE_MOVED_SUFFIX, path);
	snprintf(tmp, sizeof(tmp), "%s" MS_RSTORE_MOVED_SUFFIX ".tmp", path);
	n = snprintf(line, sizeof(line), "MSMOVED1 %s %s %llu %d %s\n", m->host, m->port,
		     (unsigned long long)m->epoch, m->released ? 1 : 0, hex);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	ret = write_full(fd, line, (size_t)n, 0);
	if (!ret)
		ret = sync_fd(fd);
	close(fd);
	if (!ret && rename(tmp, dst) != 0)
		ret = -errno;
	if (ret)
		unlink(tmp);
	else
		sync_dir(dst);
	return ret;
}

void ms_rstore_moved_drop(const char *path)
{
	char file[MS_PATH_MAX + 32];

	snprintf(file, sizeof(file), "%s" MS_RSTORE_MOVED_SUFFIX, path);
	unlink(file);
}

int ms_rstore_moved_load(const char *path, struct ms_rstore_moved *m)
{
	char file[MS_PATH_MAX + 32], hex[33] = "";
	unsigned long long epoch;
	int released, ret = 0;
	FILE *f;

	memset(m, 0, sizeof(*m));
	snprintf(file, sizeof(file), "%s" MS_RSTORE_MOVED_SUFFIX, path);
	f = fopen(file, "re");
	if (!f)
		return -errno;
	if (fscanf(f, "MSMOVED1 %255s %7s %llu %d %32s", m->host, m->port, &epoch, &released,
		   hex) != 5 || strlen(hex) != 32)
		ret = -EBADMSG;
	fclose(f);
	for (int i = 0; !ret && i < 16; i++) {
		unsigned v;

		if (sscanf(hex + 2 * i, "%2x", &v) != 1)
			ret = -EBADMSG;
		m->dest_id[i] = (uint8_t)v;
	}
	if (ret)
		return ret;
	m->epoch = epoch;
	m->released = released != 0;
	return 0;
}
