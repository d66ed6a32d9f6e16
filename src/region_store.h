/* SPDX-License-Identifier: Apache-2.0 */
/*
 * region_store.h - what makes a file region durable across a crash of the
 * server: its metadata persisted beside the file, and a redo journal of the
 * commit being applied.
 *
 * FILE.msmeta: a 64-byte header, then one 32-byte struct ms_meta_entry per
 * chunk (the layout of the metadata table, region.h), all little-endian:
 *
 *   0  magic "MSMETA1\0"    8  u32 version (1)      12 u32 chunk size
 *  16  u64 region size     24  u64 chunk count      32 u64 region generation
 *  40  u64 lease epoch     48  XXH3-128 of bytes 0..47
 *
 * FILE.msjournal: empty, or one record, the commit being applied:
 *
 *   0  magic "MSJRNL1\0"    8  u32 version (1)      12 u32 entry count n
 *  16  u64 generation      24  u64 lease epoch      32 u64 staged bytes total
 *  40  u64 region size     48  u32 chunk size       52 u32 zero
 *  56  u64 zero
 *  64  n entries of 32 bytes: u64 offset, u64 length, the entry's hash[16]
 *      then the staged bytes of every entry, in entry order
 *      then 16 bytes: XXH3-128 over [XXH3-128(header and entries),
 *      XXH3-128(bytes of entry 0), ..., XXH3-128(bytes of entry n-1)]
 *
 * A commit: ms_rstore_journal() writes the record and fdatasyncs it BEFORE
 * anything touches region memory; the caller applies the bytes, updates
 * the metadata table and msyncs the pages; ms_rstore_applied() writes the
 * changed msmeta entries and the header, fdatasyncs, and truncates the
 * journal.  At start (ms_rstore_open) a complete record whose generation
 * is not older than msmeta's is replayed (copying the same bytes again is
 * harmless, so replay is idempotent); an incomplete or corrupt one is
 * discarded: its commit was never acknowledged and never touched memory.
 *
 * Every function returns 0 or -errno; a failure leaves a message naming
 * the file in ms_rstore_errmsg().  The caller serializes journal/applied
 * (the region's commit lock); set_epoch may run concurrently with them.
 */
#ifndef MS_REGION_STORE_H
#define MS_REGION_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto.h"

#define MS_RSTORE_META_SUFFIX ".msmeta"
#define MS_RSTORE_JOURNAL_SUFFIX ".msjournal"
#define MS_RSTORE_HDR 64u

struct ms_rstore;
struct ms_rregion;

/* What ms_rstore_open() found (kept in the region: r->start). */
struct ms_rstore_start {
	uint64_t replayed;   /* entries of a journaled commit replayed (0: none) */
	uint64_t replay_gen; /* its generation */
	uint64_t changed;    /* chunks whose bytes matched no persisted hash: new
				generation (modified outside memsync, or torn) */
	uint64_t first_changed; /* the first such chunk */
	bool discarded;      /* an incomplete/corrupt journal record was dropped */
	bool fresh;          /* no usable msmeta: everything at its first
				generation */
};

/* For the file region r, whose memory is mapped and whose metadata table
 * holds the hash of every chunk at generation 1: take FILE's lock (a
 * second region or process on the same file: -EBUSY), load FILE.msmeta,
 * replay FILE.msjournal, then give every chunk its persisted generation
 * (or a new one when its bytes changed), set r->generation and rewrite
 * msmeta.  Creates both files when missing (and removes them again when
 * it fails).  On failure nothing is left open; err holds a message. */
int ms_rstore_open(struct ms_rregion *r, struct ms_rstore **out, struct ms_rstore_start *st,
		   char *err, size_t errlen);

/* Make the commit at generation gen durable before it is applied: srcs[i]
 * holds the ents[i].len bytes to be written at ents[i].off.  Durable on
 * return.  -ENOSPC/-EIO/...: nothing was journaled (the journal is
 * truncated again), the region must stay as it is. */
int ms_rstore_journal(struct ms_rstore *st, uint64_t gen, uint64_t epoch,
		      const struct ms_commit_ent *ents, uint32_t n, const void *const *srcs);

/* The commit at generation gen is in region memory, its chunks in r->meta
 * have their new hashes and generation, and the pages were msynced: persist
 * the entries of every chunk ents[] touch and the generation, then retire
 * the journal.  Also for commits that were not journaled (n may be 0). */
int ms_rstore_applied(struct ms_rstore *st, const struct ms_rregion *r, uint64_t gen,
		      const struct ms_commit_ent *ents, uint32_t n);

/* Persist the epoch of a lease grant (durable on return). */
int ms_rstore_set_epoch(struct ms_rstore *st, uint64_t epoch);
/* The persisted epoch (0 for a new region). */
uint64_t ms_rstore_epoch(struct ms_rstore *st);

/* The message of the last failure. */
const char *ms_rstore_errmsg(const struct ms_rstore *st);

/* FILE.msmoved: where a migrated region went, one line of text
 * "MSMOVED1 HOST PORT EPOCH RELEASED DEST_ID_HEX"; written (durably,
 * through a rename) by the source at the hand-off and again once the
 * destination has it all, read at start.  0 or -errno (-ENOENT: none). */
#define MS_RSTORE_MOVED_SUFFIX ".msmoved"
struct ms_rstore_moved {
	char host[MS_HOST_MAX + 1];
	char port[MS_PORT_MAX + 1];
	uint64_t epoch;              /* the destination's first */
	bool released;               /* MIGRATED: redirects only */
	uint8_t dest_id[16];         /* the destination's client id */
};
int ms_rstore_moved_save(const char *path, const struct ms_rstore_moved *m);
int ms_rstore_moved_load(const char *path, struct ms_rstore_moved *m);
/* Remove FILE.msmoved (a handoff that did not happen after all). */
void ms_rstore_moved_drop(const char *path);

/* Close (releasing FILE's lock).  NULL is a no-op. */
void ms_rstore_close(struct ms_rstore *st);

#endif
