/* SPDX-License-Identifier: Apache-2.0 */
/*
 * client_int.h - client functions used inside the library only (by the
 * lazy mapper, src/map*.c), not part of the public API.
 */
#ifndef MS_CLIENT_INT_H
#define MS_CLIENT_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "memsync.h"
#include "transport.h"

/* A client (or a lazy map)'s options as given, with copies of the strings they point to:
 * reconnecting (and following MOVED) uses them again. */
struct cl_opts {
	struct ms_client_opts o;
	char *key_file, *tls_ca, *tls_cert, *tls_key;
};

/* Copy src (already checked by ms_opts_take) into dst: 0 or -ENOMEM. */
int cl_opts_copy(struct cl_opts *dst, const struct ms_client_opts *src);
void cl_opts_free(struct cl_opts *o);


/* ms_pull() of [off, off+len), verified, that also reports, for each chunk
 * of the range (from off / chunk size on), the generation and the
 * committed XXH3-128 the bytes it placed were verified against (gens and
 * hashes may be NULL; hashes holds 16 bytes per chunk).  Chunks read only
 * in part get the table's values too. */
int ms_pull_gens(ms_region *r, uint64_t off, void *dst, uint64_t len,
		 uint64_t *gens, uint8_t *hashes);

/* One range of a batched write: src holds the bytes for [off, off+len).
 * hash, when not NULL, holds ms_chunk_hash() of each chunk piece of the
 * range in order (MS_HASH_LEN bytes each: one for a range inside one
 * chunk), taken by the caller; NULL: computed after the write. */
struct ms_wpiece {
	uint64_t off;
	const void *src;
	uint64_t len;
	const uint8_t *hash;
	bool zero;      /* one whole chunk of zeros: committed as a ZERO entry,
			 * no bytes written (src unused; client_zero.h) */
};

/* What ms_region_commit_stream() / ms_region_commit_pieces() did. */
struct ms_commit_res {
	uint64_t bytes;      /* written to the server, also when the call
			      * failed after some batches */
	uint64_t gen_first;  /* the generation of the first commit */
	uint64_t gen_last;   /* ... and of the last: equal unless the stream
			      * was split (commits > 1), so that every piece's
			      * chunk now has gen_last */
	bool sent;           /* every batch was written: a failure came from
			      * the commit (the server refused it) */
	unsigned commits;    /* commits it took: 1, or more when an atomic
			      * stream outgrew the lease's staging limit
			      * (then it was not atomic as a whole) */
	uint64_t commit_ns;  /* the commit messages' time, after the writes */
};

/* The source of a streamed commit: put the next batch in p[0..cap) and
 * return how many pieces (not overlapping each other or any earlier
 * batch's, inside the region), 0 at the end, or -errno to give up.  The
 * batch's sources and hashes must stay valid until fill is called again
 * (its writes have completed by then: a buffer may be reused). */
typedef int (*ms_fill_fn)(void *ud, struct ms_wpiece *p, size_t cap);

/* Pieces a fill is offered at once (its cap). */
#define MS_STREAM_PIECES 8192

/*
 * Write the batches fill produces, each as one transfer as it comes, then
 * commit every chunk piece of every batch at the end: one commit for the
 * whole stream, so the server publishes all of it or none of it.  (A
 * commit of more than MS_COMMIT_MAX_ENTS chunk pieces takes several COMMIT
 * messages, each published on its own: res->gen_first != res->gen_last
 * says so; a failure after the first would leave the first published.)
 * The server checks each chunk piece against its hash.  Sources inside an
 * ms_mem registration use it; others are registered for the call.
 *
 * The caller keeps the record of what is written and not committed: on
 * any failure (a fill's, a write's, the commit's) nothing of the stream
 * is recorded anywhere and nothing is committed (but for the messages
 * before a failed one, above; the caller sends the same pieces again, or
 * drops them); on success all of it is committed.
 * Writes of ms_write() not synced yet stay pending for ms_sync() (minus
 * what the pieces overwrite).  res (may be NULL) is filled either way; a
 * stream of no pieces commits nothing.
 */
int ms_region_commit_stream(ms_region *r, ms_fill_fn fill, void *ud,
			    struct ms_commit_res *res);

/* ms_region_commit_stream() of the pieces p[0..n) (any n: written
 * MS_STREAM_PIECES at a time, committed at once). */
int ms_region_commit_pieces(ms_region *r, const struct ms_wpiece *p, size_t n,
			    struct ms_commit_res *res);

/* Renew r's write lease when a third of its time to live has passed
 * since the last renewal or commit (a writable mapping's keeper); 0 for
 * a read-only handle or a dead connection. */
int ms_region_lease_tick(ms_region *r);

/* What c's transport can do: enum ms_xcap flags (transport.h). */
unsigned ms_client_caps(const ms_client *c);

/* client_reconnect.c */

/* Does c have a connection?  false once a transport failure (or a timeout)
 * closed it: every call then fails with ENOTCONN until a reconnect. */
bool ms_client_connected(const ms_client *c);

/*
 * One attempt to connect c again, in place, after its connection died:
 * connect with the options co (NULL: defaults; the client's own id and
 * the transport it had), HELLO, register every ms_mem_register() buffer
 * again and open every region handle of c again in its mode, so the
 * client and its ms_region handles are usable as before.  timeout_ms > 0
 * bounds the connect (the client keeps its own timeout for later calls).
 * Uncommitted ms_write()s of the old connection are forgotten.
 *
 * 0, or -errno with c's errmsg (and err) set and *fatal true when trying
 * again cannot help: the server answered the open with a refusal (the
 * region is gone: ENOENT; another writer holds the lease: EBUSY) or the
 * region's size or chunk size changed (ESTALE); otherwise (nobody
 * listening, the connection died again) a later attempt may succeed.
 * Either way c is left without a connection (ms_client_connected false).
 */
int ms_client_reconnect(ms_client *c, const struct ms_client_opts *co, int timeout_ms,
			bool *fatal, char *err, size_t errlen);

/* client_redirect.c: a region that migrated is followed (MOVED) at most
 * this many times in a row; has a request of c been answered MOVED (and
 * not followed yet)?  ms_client_reconnect then connects to the new place. */
#define MS_REDIRECT_HOPS 4
bool ms_client_moved(const ms_client *c);

/* client_migrate.c: what a migration's destination asks of the source
 * (docs/protocol.md, "Migration"); 0 or -errno (-EREMCHG: moved). */

/* FREEZE: the source holds r's commits back for up to ms (1..60000) or
 * until thaw/handoff/this connection ends; *gen (final meanwhile) and the
 * last lease epoch it granted. */
int ms_region_freeze(ms_region *r, uint32_t ms, uint64_t *gen, uint64_t *epoch);
/* THAW: let the held commits go on (the migration stopped). */
int ms_region_thaw(ms_region *r);
/* HANDOFF: r is owned by host:port from epoch on; *gen the source's last. */
int ms_region_handoff(ms_region *r, uint64_t epoch, const char *host, const char *port,
		      uint64_t *gen);
/* MIGRATED: the destination has every chunk; the source may let go. */
int ms_region_migrated(ms_region *r);
/* The metadata entries of chunks [first, first+n) as r's server has them
 * (MS_META_ENTRY_SIZE bytes each: ms_meta_gen, ms_meta_hash, ms_meta_flags). */
int ms_chunk_meta(ms_region *r, uint64_t first, uint64_t n, void *buf);
/* The last MOVED reply c got: where the region went and from which epoch
 * (false: none). */
bool ms_client_moved_to(const ms_client *c, const char **host, const char **port,
			uint64_t *epoch);
/* FETCH: returns once chunks idx[0..n) (n 1..16384) are at this server
 * (their ABSENT flag is gone from its table). */
int ms_region_fetch(ms_region *r, const uint64_t *idx, size_t n);

#endif
