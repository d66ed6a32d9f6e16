/* SPDX-License-Identifier: Apache-2.0 */
/*
 * region.h - a server-side region: named, fixed-size, page-aligned, pinned
 * memory cut into chunks, plus its metadata table.
 *
 * The metadata table has one 32-byte entry per chunk: the generation at
 * which the chunk last changed and the XXH3-128 of its committed content.
 * It lives in its own page-aligned mapping so that a transport can register
 * it read-only and clients can refresh it one-sided.  Its layout is part of
 * the wire protocol (little-endian, see struct ms_meta_entry).
 *
 * Generations: a region starts at generation 1 with every chunk at 1; each
 * commit increments the region generation and sets every chunk it touched
 * to the new value, so "chunk.gen > G" means "changed since G".
 *
 * Locking: r->lock guards meta, leaves, heat and generation; commit paths
 * take it for their whole duration (verification included), so commits of
 * one region are serialized.  Right after taking it a commit passes the
 * hold gate (region_hold.h), which lets r->lock go while it waits.  Nothing else is taken while it is held, and
 * readers that only need the generation read it without the lock
 * (ms_region_generation), so a long commit delays nobody but the next
 * commit, hot list or touch of the same region.
 */
#ifndef MS_REGION_H
#define MS_REGION_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "hash.h"
#include "memsync.h"
#include "proto.h"
#include "region_hold.h"
#include "region_store.h"

struct ms_meta_entry {
	uint64_t gen_le;             /* little-endian */
	uint8_t hash[MS_HASH_LEN];   /* canonical XXH3-128 */
	uint32_t flags_le;           /* MS_META_F_* (proto.h), little-endian */
	uint32_t reserved;           /* zero */
};
_Static_assert(sizeof(struct ms_meta_entry) == 32, "meta entry is 32 bytes");

struct ms_rregion {
	char name[MS_NAME_MAX + 1];
	enum ms_backing backing;
	uint64_t size;
	uint32_t chunk_size;
	uint64_t nchunks;
	void *mem;                   /* page aligned, size bytes */
	int fd;                      /* memfd or file, else -1 */
	char *path;                  /* file backing, else NULL */
	bool owns_mem;               /* false for MS_BACKING_USER */
	bool locked;                 /* mlock succeeded */
	struct ms_meta_entry *meta;  /* nchunks entries */
	uint8_t (*leaves)[MS_HASH_LEN]; /* the leaf hashes of every MS_LEAF
				      * block (hash.h), server-private */
	uint64_t nleaves;
	uint32_t *heat;              /* per chunk: commits and reported uses
				      * (saturating), for the hot-chunk list */
	size_t meta_len;             /* mapping length (page multiple) */
	uint64_t generation;         /* written under lock, atomically */
	pthread_mutex_t lock;
	struct ms_rhold hold;        /* readers' holds on commits (region_hold.h) */
	struct ms_rstore *store;     /* file backing: FILE.msmeta and
				      * FILE.msjournal (region_store.h) */
	struct ms_rstore_start start; /* what opening the store found: the
				      * caller logs it (replay, changed chunks) */
	uint8_t zhash_full[MS_HASH_LEN]; /* the chunk hash of zero bytes: a */
	uint8_t zhash_last[MS_HASH_LEN]; /* full chunk, the last one (region_zero.h) */
};

/* Validate options, map the backing (creating/extending a file to size
 * and reserving its blocks), pin it (mlock; on failure the message names
 * RLIMIT_MEMLOCK and its current value) and hash every chunk.  A file
 * region then opens its store (region_store.h): generations, hashes and
 * epoch come back from FILE.msmeta, a journaled commit is replayed, and
 * r->start says what was found.  0 or -errno with a message in err.
 * -EINVAL bad name/size/chunk size/backing options, -ENOMEM/-EPERM pinning,
 * -EBUSY a file already backing another region (or process), -ENOSPC a
 * file that does not fit on its filesystem ("no space left on device"),
 * file errors as open/ftruncate/mmap report them.  A failed create leaves
 * nothing behind: files it created are removed, a file it extended is
 * cut back. */
int ms_region_create(const struct ms_export_opts *o, struct ms_rregion **out,
		     char *err, size_t errlen);
/* msync (file backing), munlock, unmap, close, free.  NULL is a no-op. */
void ms_region_destroy(struct ms_rregion *r);

/* Write back a file region's pages (MS_SYNC).  0 for other backings. */
int ms_region_msync(struct ms_rregion *r, uint64_t off, uint64_t len);

/* Leaf and chunk hashing shared by region.c and region_commit.c. */
uint64_t ms_region_chunk_len(const struct ms_rregion *r, uint64_t i);
/* Rehash the leaves of every MS_LEAF block [off, off+len) touches. */
void ms_region_rehash_leaves(struct ms_rregion *r, uint64_t off, uint64_t len);
/* Chunk i's hash from its leaves (which must be current). */
void ms_region_chunk_root(struct ms_rregion *r, uint64_t i, uint8_t out[MS_HASH_LEN]);
void ms_region_heat_add(struct ms_rregion *r, uint64_t i);

/* ---- commits (region_commit.c) ---- */

/* Do the n_leaves(len) leaves of a range at off stand for it exactly (it
 * starts on a leaf and ends on one or at the region's end)? */
bool ms_region_leaf_aligned(const struct ms_rregion *r, uint64_t off, uint64_t len);

/* Do bytes p[0..len), meant for [off, off+len) of r, hash to hash?  0,
 * -EIO on mismatch, -ERANGE outside the region.  When the range is leaf
 * aligned and leaves is not NULL, its leaves are stored there (room for
 * ms_div_round_up(len, MS_LEAF)) and *fresh is set.  Changes nothing in
 * r: a refused commit leaves even the leaf hashes as they were. */
int ms_region_verify_bytes(const struct ms_rregion *r, uint64_t off, uint64_t len,
			   const void *p, const uint8_t hash[MS_HASH_LEN],
			   uint8_t (*leaves)[MS_HASH_LEN], bool *fresh);

/* Start a commit: returns the new generation (region generation + 1) and
 * takes r->lock; the calls below may follow, then ms_region_commit_end()
 * publishes the generation and unlocks (ms_region_commit_abort() unlocks
 * without a new generation). */
uint64_t ms_region_commit_begin(struct ms_rregion *r);
/* [off, off+len) was written: install its leaves (leaves, when not NULL:
 * they describe the bytes now there) or rehash them, then every chunk it
 * touches from its leaves, and set their generation to gen.  Costs the
 * bytes written, not the chunks. */
void ms_region_commit_piece(struct ms_rregion *r, uint64_t off, uint64_t len, uint64_t gen,
			    const uint8_t (*leaves)[MS_HASH_LEN]);
/* If [off, off+len) is exactly chunk i (the last one may be short), return
 * i; else -1. */
int64_t ms_region_whole_chunk(const struct ms_rregion *r, uint64_t off, uint64_t len);
void ms_region_commit_end(struct ms_rregion *r, uint64_t gen);
void ms_region_commit_abort(struct ms_rregion *r);

/* The outcome of ms_region_commit(). */
struct ms_rcommit_res {
	uint64_t generation; /* published (0 when refused) */
	uint64_t bytes;      /* bytes the entries name */
	uint32_t bad;        /* on -ERANGE, -EIO or -EFAULT: the entry refused */
	int sync_err;        /* 0, or the -errno of a failed write-back (file
				backing): published in memory, not durable;
				the server answers the commit with an error */
	bool journal_err;    /* refused because its journal record could
				not be written (ms_rstore_errmsg(r->store)
				says why: "no space left on device"...) */
};

/* Where an atomic commit's bytes are: the writer's staging areas.  at()
 * returns the staged bytes [soff, soff+len), or NULL unless they lie
 * inside one staging area. */
struct ms_stage_src {
	const void *(*at)(void *ud, uint64_t soff, uint64_t len);
	void *ud;
};

/*
 * A writer's commit, all or nothing.  Every entry must lie inside the
 * region (-ERANGE), its staged bytes inside a staging area (src, atomic
 * mode; -EFAULT) and, unless it has MS_COMMIT_F_NOVERIFY, hash to its
 * hash (-EIO); res->bad names the first that does not, and nothing
 * changes (region bytes, leaves, hashes, generations).
 *
 * Atomic (src != NULL): each entry's staged bytes are hashed once
 * (verification, which also yields their leaves), then copied into the
 * region in entry order (a later entry wins where two overlap).  Direct
 * (src == NULL): the bytes are in the region already and are verified
 * there.  Then every touched chunk gets the new generation, a file region
 * is written back over the commit's span (a failure is left in
 * res->sync_err), and the generation is published.  Holds
 * r->lock throughout; costs what the entries name.  -ENOMEM for the
 * scratch of the leaves.
 */
int ms_region_commit(struct ms_rregion *r, const struct ms_commit_ent *ents, uint32_t n,
		     const struct ms_stage_src *src, struct ms_rcommit_res *res);

/* The region's generation, without waiting for a commit in progress. */
static inline uint64_t ms_region_generation(const struct ms_rregion *r)
{
	return __atomic_load_n(&r->generation, __ATOMIC_ACQUIRE);
}

/* Convenience: begin, commit the chunks touched by [off, off+len), msync
 * them for file backing, end.  0 or -ERANGE. */
int ms_region_commit_range(struct ms_rregion *r, uint64_t off, uint64_t len);

/* Clients (or the local application) used chunks idx[0..n): each gains
 * heat.  -ERANGE (nothing changes) if any index is outside the region. */
int ms_region_touch(struct ms_rregion *r, const uint64_t *idx, size_t n);
/* The hot-chunk list: up to max chunks with any heat, hottest first (ties
 * by lower index); commits count one per chunk they touch, reported uses
 * one per report.  Returns how many were stored in out. */
size_t ms_region_hot(struct ms_rregion *r, uint64_t *out, size_t max);

/* ---- migration (region_migrate.c) ---- */

/* Is chunk i absent (a post-copy migration has not brought its bytes)? */
static inline bool ms_region_absent(const struct ms_rregion *r, uint64_t i)
{
	return le32toh(__atomic_load_n(&r->meta[i].flags_le, __ATOMIC_ACQUIRE)) &
	       MS_META_F_ABSENT;
}
/* Chunks [c0, c0+n) take the source's generations and hashes from its
 * metadata entries src (MS_META_ENTRY_SIZE each, for those chunks) and
 * become absent: their bytes come later.  One lock for the whole run. */
void ms_region_mark_absent(struct ms_rregion *r, uint64_t c0, uint64_t n, const uint8_t *src);
/* The bytes of chunks [c0, c0+n) were copied into r->mem from the source
 * whose table gives them generations gens and hashes: rehash their
 * leaves, check each chunk against its hash and take the source's
 * generation and hash (clearing ABSENT); a file region persists them.
 * 0, or -EIO with *bad the first chunk that did not match (the chunks
 * before it are installed, it and those after are as they were). */
int ms_region_install(struct ms_rregion *r, uint64_t c0, uint64_t n, const uint64_t *gens,
		      const uint8_t *hashes, uint64_t *bad);
/* Set the region's generation (the source's, at the switch). */
void ms_region_set_generation(struct ms_rregion *r, uint64_t gen);

const char *ms_backing_name(enum ms_backing b);
/* "anon" | "memfd" | "file" | "user"; 0 or -EINVAL */
int ms_backing_parse(const char *s, enum ms_backing *out);

#endif
