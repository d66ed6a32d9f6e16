/* SPDX-License-Identifier: Apache-2.0 */
/*
 * proto.h - memsync control messages (transport independent).
 *
 * A control message is a 4-byte header (u16 type, u16 zero) and a body of
 * little-endian fixed-width fields; strings are u16 length + bytes.  The
 * transport carries them as opaque payloads (a TCP frame, an RDMA SEND).
 * Every decoder checks every length and returns -EBADMSG on a malformed or
 * truncated message, never reading out of bounds.
 *
 * Requests and replies:
 *   HELLO  {version, client_id[16], agent}      -> HELLO_OK {version, server_id[16], max_io}
 *   OPEN   {name, mode, expect_epoch}            -> OPEN_OK  {handle, size, chunk, nchunks, gen,
 *                                                             data desc, meta desc, mode,
 *                                                             epoch, ttl, commit mode,
 *                                                             stage limit}
 *   CLOSE  {handle}                              -> CLOSE_OK {}
 *   STAGE  {handle, epoch, need}                 -> STAGE_OK {n, n x {base, desc}}
 *   COMMIT {handle, flags, epoch, n, n x {off, len, soff, flags, hash}}
 *                                                -> COMMIT_OK {generation}
 *   RENEW  {handle, epoch}                       -> RENEW_OK {ttl}
 *   LEASE  {name}                                -> LEASE_OK {lease info}
 *   LEASE_BREAK {name}                           -> LEASE_OK {the lease as it was}
 *   HANDOVER {handle, epoch, client id}          -> HANDOVER_OK {epoch granted to the target}
 *   STAT   {name ("" = all)}                     -> STAT_OK  {n, n x region stat}
 *   HOT    {handle, max}                         -> HOT_OK   {handle, n, n x chunk}
 *   TOUCH  {handle, n, n x chunk}                -> TOUCH_OK {}
 *   BYE    {}                                    -> BYE_OK   {}
 *   HOLD   {handle, ms}                          -> HOLD_OK  {generation, ms, flags}
 *   RELEASE {handle}                             -> RELEASE_OK {generation, ms, flags}
 * Migration (B = destination, A = source; B is A's client):
 *   MIGRATE {name, src host, src port, mode, downtime_ms, max_rounds,
 *            transport, path, self host, self port, max_bandwidth}
 *                                       (to B)  -> MIGRATE_OK {}
 *   MIGRATE_STATUS {name}                 (to B)  -> MIGRATE_STATUS_OK {ms_migrate_stat}
 *   MIGRATE_ABORT {name}                  (to B)  -> MIGRATE_ABORT_OK {}
 *   FREEZE {handle, ms}                   (B->A)  -> FREEZE_OK {generation, epoch}
 *   THAW {handle}                         (B->A)  -> THAW_OK {}
 *   HANDOFF {handle, epoch, host, port}   (B->A)  -> HANDOFF_OK {generation}
 *   MIGRATED {handle}                     (B->A)  -> MIGRATED_OK {}
 *   FETCH {handle, n, n x chunk}          (to B)  -> FETCH_OK {}
 * Administration (proto_admin.c):
 *   CLIENTS {name ("" = all)}                    -> CLIENTS_OK {n, n x client info}
 *   DISCONNECT {client}                          -> DISCONNECT_OK {}
 * Parallel streams (proto_stream.c, proto_stream.h):
 *   SESSION {}                                   -> SESSION_OK {session, secret}
 *   ATTACH {session, secret, handle, mode}       -> ATTACH_OK {data desc}
 * Any request may be answered by ERROR {errno, message}; a request about a
 * region that moved away (OPEN by name, or any request on a handle of it)
 * by MOVED {name, host, port, epoch}: the region is at host:port now,
 * owned from epoch on.
 */
#ifndef MS_PROTO_H
#define MS_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <endian.h>

#include "hash.h"
#include "memsync.h"
#include "transport.h"

/* 2: COMMIT entries carry a flags field (version 1 hid NOVERIFY in bit 63
 * of len).  3: staging areas (STAGE, entries name their staged bytes),
 * lease epochs (OPEN, COMMIT, RENEW), lease messages, multi-message
 * commits.  4: migration (MIGRATE .. FETCH, MOVED), meta entry flags.
 * A server refuses a HELLO of any other version. */
#define MS_PROTO_VERSION 4
#define MS_AGENT_MAX 63
#define MS_ERRMSG_MAX 255

enum ms_msg_type {
	MS_MSG_HELLO = 1,
	MS_MSG_HELLO_OK = 2,
	MS_MSG_OPEN = 3,
	MS_MSG_OPEN_OK = 4,
	MS_MSG_CLOSE = 5,
	MS_MSG_CLOSE_OK = 6,
	MS_MSG_COMMIT = 7,
	MS_MSG_COMMIT_OK = 8,
	MS_MSG_STAT = 9,
	MS_MSG_STAT_OK = 10,
	MS_MSG_BYE = 11,
	MS_MSG_BYE_OK = 12,
	MS_MSG_HOT = 13,
	MS_MSG_HOT_OK = 14,
	MS_MSG_TOUCH = 15,
	MS_MSG_TOUCH_OK = 16,
	MS_MSG_STAGE = 17,
	MS_MSG_STAGE_OK = 18,
	MS_MSG_RENEW = 19,
	MS_MSG_RENEW_OK = 20,
	MS_MSG_LEASE = 21,
	MS_MSG_LEASE_OK = 22,
	MS_MSG_LEASE_BREAK = 23,
	MS_MSG_HANDOVER = 25,
	MS_MSG_HANDOVER_OK = 26,
	MS_MSG_HOLD = 40,
	MS_MSG_HOLD_OK = 41,
	MS_MSG_RELEASE = 42,
	MS_MSG_RELEASE_OK = 43,
	/* migration (proto_migrate.c, docs/protocol.md) */
	MS_MSG_MIGRATE = 27,
	MS_MSG_MIGRATE_OK = 28,
	MS_MSG_MIGRATE_STATUS = 29,
	MS_MSG_MIGRATE_STATUS_OK = 30,
	MS_MSG_MIGRATE_ABORT = 31,
	MS_MSG_MIGRATE_ABORT_OK = 32,
	MS_MSG_FREEZE = 33,
	MS_MSG_FREEZE_OK = 34,
	MS_MSG_THAW = 35,
	MS_MSG_THAW_OK = 36,
	MS_MSG_HANDOFF = 37,
	MS_MSG_HANDOFF_OK = 38,
	MS_MSG_MIGRATED = 44,
	MS_MSG_MIGRATED_OK = 45,
	MS_MSG_FETCH = 46,
	MS_MSG_FETCH_OK = 47,
	/* administration (proto_admin.c) */
	MS_MSG_CLIENTS = 48,
	MS_MSG_CLIENTS_OK = 49,
	MS_MSG_DISCONNECT = 50,
	MS_MSG_DISCONNECT_OK = 51,
	/* parallel streams (proto_stream.c) */
	MS_MSG_SESSION = 52,
	MS_MSG_SESSION_OK = 53,
	MS_MSG_ATTACH = 54,
	MS_MSG_ATTACH_OK = 55,
	MS_MSG_ERROR = 100,
	MS_MSG_MOVED = 101,
};

struct ms_msg_hello {
	uint32_t version;
	uint8_t client_id[16];
	char agent[MS_AGENT_MAX + 1];
};

struct ms_msg_hello_ok {
	uint32_t version;
	uint8_t server_id[16];
	uint32_t max_io;
};

struct ms_msg_open {
	char name[MS_NAME_MAX + 1];
	uint32_t mode;  /* enum ms_mode */
	uint64_t expect_epoch; /* WRITE: 0, or grant only if no other lease
				  came after this epoch (a writer resuming) */
};

struct ms_msg_open_ok {
	uint32_t handle;
	uint32_t mode;
	uint64_t size;
	uint32_t chunk_size;
	uint64_t nchunks;
	uint64_t generation;
	struct ms_rdesc data;         /* read-only; writable in direct mode */
	struct ms_rdesc meta;
	uint64_t epoch;               /* WRITE: the lease's epoch */
	uint32_t lease_ttl_ms;        /* WRITE: renew within this */
	uint32_t commit_mode;         /* enum ms_commit_mode */
	uint64_t stage_limit;         /* WRITE, atomic: staging bytes per commit */
};

struct ms_msg_handle {          /* CLOSE */
	uint32_t handle;
};

/* A committed range [off, off+len) of the region.  In atomic mode its
 * bytes are in the writer's staging area at soff (the staging areas'
 * offsets, STAGE); in direct mode they are in the region already and soff
 * is 0.  The writer states the XXH3-128 of those bytes; the server checks
 * it before publishing, unless flags has MS_COMMIT_F_NOVERIFY (direct
 * mode: a later write overlapped this one, so the writer no longer knows
 * the range's content as a whole).  On the wire: u64 off, u64 len, u64
 * soff, u32 flags, u32 reserved (0), 16 B hash. */
#define MS_COMMIT_F_NOVERIFY (1u << 0)
/* ZERO: the range becomes zeros and no byte of it was sent (issue 13).  It
 * must be exactly one whole chunk (the last one may be short), soff 0,
 * without NOVERIFY, and hash must be the chunk hash of as many zero bytes;
 * the server zeroes the chunk when it applies the commit (both commit
 * modes, with the other entries, all or nothing).  A malformed entry is
 * refused with EINVAL, a wrong hash with EIO; either changes nothing. */
#define MS_COMMIT_F_ZERO (1u << 1)
#define MS_COMMIT_F_ALL (MS_COMMIT_F_NOVERIFY | MS_COMMIT_F_ZERO) /* every flag a decoder accepts */
struct ms_commit_ent {
	uint64_t off;
	uint64_t len;       /* bytes */
	uint64_t soff;      /* atomic mode: where the bytes are staged */
	uint8_t hash[MS_HASH_LEN];
	uint32_t flags;     /* MS_COMMIT_F_* */
};
#define MS_COMMIT_ENT_WIRE 48
#define MS_COMMIT_HDR_WIRE 24    /* type, handle, flags, epoch, n */
/* Entries per COMMIT message: header + n * 48 <= MS_CTRL_MAX. */
#define MS_COMMIT_MAX_ENTS 16384
_Static_assert(MS_COMMIT_HDR_WIRE + (size_t)MS_COMMIT_MAX_ENTS * MS_COMMIT_ENT_WIRE <=
		       MS_CTRL_MAX,
	       "a full COMMIT fits in one control message");

/* COMMIT message flags: MORE = more entries of the same commit follow in
 * further COMMIT messages; the commit is applied (all of it, or nothing)
 * with the last one.  A message with MORE is answered with generation 0. */
#define MS_COMMITMSG_MORE (1u << 0)
#define MS_COMMITMSG_ALL MS_COMMITMSG_MORE

struct ms_msg_commit {
	uint32_t handle;
	uint32_t flags;              /* MS_COMMITMSG_* */
	uint64_t epoch;              /* the writer's lease epoch */
	uint32_t n;
	struct ms_commit_ent *ents;  /* encode: caller's; decode: points into caller storage */
};

/* STAGE: the writer needs staging areas of at least need bytes in all
 * (its offsets 0..need); STAGE_OK lists every area it has, each with the
 * staging offset it starts at (base).  Areas never move. */
#define MS_STAGE_MAX_SEGS 64
struct ms_msg_stage {
	uint32_t handle;
	uint64_t epoch;
	uint64_t need;
};

struct ms_stage_seg {
	uint64_t base;
	struct ms_rdesc desc;
};

struct ms_msg_stage_ok {
	uint32_t n;
	struct ms_stage_seg seg[MS_STAGE_MAX_SEGS];
};

struct ms_msg_renew {           /* RENEW */
	uint32_t handle;
	uint64_t epoch;
};

struct ms_msg_handover {        /* HANDOVER */
	uint32_t handle;
	uint64_t epoch;
	uint8_t client_id[16];      /* the client that gets the lease */
};

struct ms_msg_gen {             /* COMMIT_OK */
	uint64_t generation;
};

struct ms_msg_stat {
	char name[MS_NAME_MAX + 1]; /* "" = all regions */
};

/* STAT_OK: at most this many regions in one reply. */
#define MS_STAT_MAX_REGIONS 4096

/* HOT_OK and TOUCH: at most this many chunk indices in one message. */
#define MS_HOT_MAX 16384

struct ms_msg_hot {             /* HOT */
	uint32_t handle;
	uint32_t max;               /* 1..MS_HOT_MAX */
};

struct ms_msg_chunks {          /* HOT_OK, TOUCH */
	uint32_t handle;
	uint32_t n;
	uint64_t *idx;              /* encode: caller's; decode: caller storage */
};

struct ms_msg_error {
	int32_t err;                /* positive errno */
	char msg[MS_ERRMSG_MAX + 1];
};

/* Encoders: write into buf (cap bytes); return the length or -EMSGSIZE
 * (ms_enc_commit also -E2BIG over MS_COMMIT_MAX_ENTS entries, -EINVAL for
 * a flag outside MS_COMMIT_F_ALL). */
int ms_enc_hello(void *buf, size_t cap, const struct ms_msg_hello *m);
int ms_enc_hello_ok(void *buf, size_t cap, const struct ms_msg_hello_ok *m);
int ms_enc_open(void *buf, size_t cap, const struct ms_msg_open *m);
int ms_enc_open_ok(void *buf, size_t cap, const struct ms_msg_open_ok *m);
int ms_enc_close(void *buf, size_t cap, const struct ms_msg_handle *m);
int ms_enc_commit(void *buf, size_t cap, const struct ms_msg_commit *m);
int ms_enc_gen(void *buf, size_t cap, enum ms_msg_type t, const struct ms_msg_gen *m);
int ms_enc_stat(void *buf, size_t cap, const struct ms_msg_stat *m);
int ms_enc_stat_ok(void *buf, size_t cap, const struct ms_region_stat *st, size_t n);
int ms_enc_hot(void *buf, size_t cap, const struct ms_msg_hot *m);
int ms_enc_chunks(void *buf, size_t cap, enum ms_msg_type t, const struct ms_msg_chunks *m);
int ms_enc_empty(void *buf, size_t cap, enum ms_msg_type t);
int ms_enc_error(void *buf, size_t cap, int err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* The message type; -EBADMSG if shorter than a header or reserved != 0. */
int ms_msg_type(const void *buf, size_t len);

/* Decoders: 0 or -EBADMSG (wrong type, short, trailing bytes, bad string). */
int ms_dec_hello(const void *buf, size_t len, struct ms_msg_hello *m);
int ms_dec_hello_ok(const void *buf, size_t len, struct ms_msg_hello_ok *m);
int ms_dec_open(const void *buf, size_t len, struct ms_msg_open *m);
int ms_dec_open_ok(const void *buf, size_t len, struct ms_msg_open_ok *m);
int ms_dec_close(const void *buf, size_t len, struct ms_msg_handle *m);
/* ents: storage for up to max entries; -E2BIG if the message has more;
 * an unknown flag or a nonzero reserved field: -EBADMSG */
int ms_dec_commit(const void *buf, size_t len, struct ms_msg_commit *m,
		  struct ms_commit_ent *ents, size_t max);
int ms_dec_gen(const void *buf, size_t len, enum ms_msg_type t, struct ms_msg_gen *m);
int ms_dec_stat(const void *buf, size_t len, struct ms_msg_stat *m);
/* *out is malloc'ed (n entries) on success.  Each entry ends (since
 * protocol 4) with the region's migration phase (u32) and where it moved
 * to ("host:port", "" unless handed off); an unknown phase: -EBADMSG */
int ms_dec_stat_ok(const void *buf, size_t len, struct ms_region_stat **out, size_t *n);
/* max outside 1..MS_HOT_MAX: -EBADMSG */
int ms_dec_hot(const void *buf, size_t len, struct ms_msg_hot *m);
/* idx: storage for up to max entries; n > max: -E2BIG */
int ms_dec_chunks(const void *buf, size_t len, enum ms_msg_type t, struct ms_msg_chunks *m,
		  uint64_t *idx, size_t max);
int ms_dec_empty(const void *buf, size_t len, enum ms_msg_type t);
int ms_dec_error(const void *buf, size_t len, struct ms_msg_error *m);

/* Staging and leases (proto_lease.c). */
int ms_enc_stage(void *buf, size_t cap, const struct ms_msg_stage *m);
int ms_dec_stage(const void *buf, size_t len, struct ms_msg_stage *m);
int ms_enc_stage_ok(void *buf, size_t cap, const struct ms_msg_stage_ok *m);
/* n > MS_STAGE_MAX_SEGS: -EBADMSG */
int ms_dec_stage_ok(const void *buf, size_t len, struct ms_msg_stage_ok *m);
int ms_enc_renew(void *buf, size_t cap, const struct ms_msg_renew *m);
int ms_dec_renew(const void *buf, size_t len, struct ms_msg_renew *m);
int ms_enc_renew_ok(void *buf, size_t cap, uint32_t ttl_ms);
int ms_dec_renew_ok(const void *buf, size_t len, uint32_t *ttl_ms);
/* LEASE and LEASE_BREAK carry a region name (t says which) */
int ms_enc_lease(void *buf, size_t cap, enum ms_msg_type t, const char *name);
int ms_dec_lease(const void *buf, size_t len, enum ms_msg_type t, char name[MS_NAME_MAX + 1]);
int ms_enc_lease_ok(void *buf, size_t cap, const struct ms_lease_info *li);
/* an unknown state: -EBADMSG */
int ms_dec_lease_ok(const void *buf, size_t len, struct ms_lease_info *li);
int ms_enc_handover(void *buf, size_t cap, const struct ms_msg_handover *m);
int ms_dec_handover(const void *buf, size_t len, struct ms_msg_handover *m);

/* Administration (proto_admin.c).  CLIENTS carries a region name ("":
 * all) like STAT; CLIENTS_OK at most MS_CLIENTS_MAX entries. */
#define MS_CLIENTS_MAX 2048
int ms_enc_clients(void *buf, size_t cap, const char *name);
int ms_dec_clients(const void *buf, size_t len, char name[MS_NAME_MAX + 1]);
/* n > MS_CLIENTS_MAX: -E2BIG */
int ms_enc_clients_ok(void *buf, size_t cap, const struct ms_client_info *ci, size_t n);
/* *out malloc'ed (free()); -EBADMSG, -ENOMEM */
int ms_dec_clients_ok(const void *buf, size_t len, struct ms_client_info **out, size_t *n);
int ms_enc_disconnect(void *buf, size_t cap, uint64_t id);
int ms_dec_disconnect(const void *buf, size_t len, uint64_t *id);

const char *ms_msg_name(int type);

/* HOLD: the sender asks that no commit of the region behind handle be
 * applied for ms milliseconds (1..UINT32_MAX; the server caps it), so that
 * what it reads meanwhile is as of one commit (docs/protocol.md). */
/* The longest a server keeps a hold, from its first grant, renewals
 * included (a longer HOLD is granted this much). */
#define MS_HOLD_MAX_MS 2000u
struct ms_msg_hold {
	uint32_t handle;
	uint32_t ms;                /* nonzero */
};

/* HOLD_OK and RELEASE_OK: the region's generation, and
 *  - HOLD_OK: how long the hold is in force (0: not placed), flags
 *    MS_HOLD_F_SETTLED when it is placed and no commit is being applied;
 *  - RELEASE_OK: how long it was held, flags MS_HOLD_F_INTACT when it had
 *    not expired (so no commit was applied while it was on). */
#define MS_HOLD_F_SETTLED (1u << 0)
#define MS_HOLD_F_INTACT (1u << 1)
#define MS_HOLD_F_ALL (MS_HOLD_F_SETTLED | MS_HOLD_F_INTACT)
struct ms_msg_hold_ok {
	uint64_t generation;
	uint32_t ms;
	uint32_t flags;             /* MS_HOLD_F_* */
};

int ms_enc_hold(void *buf, size_t cap, const struct ms_msg_hold *m);
/* ms == 0: -EBADMSG */
int ms_dec_hold(const void *buf, size_t len, struct ms_msg_hold *m);
/* t: MS_MSG_HOLD_OK or MS_MSG_RELEASE_OK; a flag outside MS_HOLD_F_ALL:
 * -EINVAL (encode), -EBADMSG (decode) */
int ms_enc_hold_ok(void *buf, size_t cap, enum ms_msg_type t, const struct ms_msg_hold_ok *m);
int ms_dec_hold_ok(const void *buf, size_t len, enum ms_msg_type t, struct ms_msg_hold_ok *m);
/* RELEASE {handle} */
int ms_enc_release(void *buf, size_t cap, const struct ms_msg_handle *m);
int ms_dec_release(const void *buf, size_t len, struct ms_msg_handle *m);

/* ------------------------------------------------------------ migration */

#define MS_HOST_MAX 255
#define MS_PORT_MAX 7
#define MS_PATH_MAX 1023

struct ms_msg_migrate {         /* MIGRATE */
	char name[MS_NAME_MAX + 1];
	char host[MS_HOST_MAX + 1];  /* the source A */
	char port[MS_PORT_MAX + 1];
	uint32_t mode;               /* enum ms_migrate_mode */
	uint32_t downtime_ms;
	uint32_t max_rounds;
	uint32_t transport;          /* enum ms_transport_kind, B -> A */
	char path[MS_PATH_MAX + 1];  /* "" = anonymous memory at B */
	char self_host[MS_HOST_MAX + 1]; /* how clients reach B ("": B's */
	char self_port[MS_PORT_MAX + 1]; /* listen address) */
	uint64_t max_bandwidth;      /* bytes/s, 0 = unlimited */
};

/* FREEZE: hold every commit of the region back (they wait, they are not
 * refused) for up to ms milliseconds, or until THAW, HANDOFF or the
 * sender's connection ends; answered once no commit is being applied. */
#define MS_FREEZE_MAX_MS 60000u
struct ms_msg_freeze {
	uint32_t handle;
	uint32_t ms;                 /* 1..MS_FREEZE_MAX_MS */
};
struct ms_msg_freeze_ok {
	uint64_t generation;         /* the region's, final while frozen */
	uint64_t epoch;              /* the last lease epoch granted */
};

/* HANDOFF: the region is owned by host:port from epoch on (greater than
 * every epoch A granted): A fences its writer, answers the commits it held
 * back and every later request about the region with MOVED, and keeps
 * serving reads of the sender's handle until MIGRATED. */
struct ms_msg_handoff {
	uint32_t handle;
	uint64_t epoch;
	char host[MS_HOST_MAX + 1];
	char port[MS_PORT_MAX + 1];
};

/* MOVED: a reply, like ERROR. */
struct ms_msg_moved {
	char name[MS_NAME_MAX + 1];
	char host[MS_HOST_MAX + 1];
	char port[MS_PORT_MAX + 1];
	uint64_t epoch;
};

int ms_enc_migrate(void *buf, size_t cap, const struct ms_msg_migrate *m);
/* a mode or transport out of range: -EBADMSG */
int ms_dec_migrate(const void *buf, size_t len, struct ms_msg_migrate *m);
/* MIGRATE_STATUS and MIGRATE_ABORT carry a name (t says which) */
int ms_enc_migname(void *buf, size_t cap, enum ms_msg_type t, const char *name);
int ms_dec_migname(const void *buf, size_t len, enum ms_msg_type t, char name[MS_NAME_MAX + 1]);
int ms_enc_migrate_stat(void *buf, size_t cap, const struct ms_migrate_stat *st);
/* an unknown phase or mode: -EBADMSG */
int ms_dec_migrate_stat(const void *buf, size_t len, struct ms_migrate_stat *st);
int ms_enc_freeze(void *buf, size_t cap, const struct ms_msg_freeze *m);
/* ms outside 1..MS_FREEZE_MAX_MS: -EBADMSG */
int ms_dec_freeze(const void *buf, size_t len, struct ms_msg_freeze *m);
int ms_enc_freeze_ok(void *buf, size_t cap, const struct ms_msg_freeze_ok *m);
int ms_dec_freeze_ok(const void *buf, size_t len, struct ms_msg_freeze_ok *m);
/* THAW and MIGRATED carry a handle (t says which) */
int ms_enc_mighandle(void *buf, size_t cap, enum ms_msg_type t, uint32_t handle);
int ms_dec_mighandle(const void *buf, size_t len, enum ms_msg_type t, uint32_t *handle);
int ms_enc_handoff(void *buf, size_t cap, const struct ms_msg_handoff *m);
/* an empty host or port: -EBADMSG */
int ms_dec_handoff(const void *buf, size_t len, struct ms_msg_handoff *m);
int ms_enc_moved(void *buf, size_t cap, const struct ms_msg_moved *m);
int ms_dec_moved(const void *buf, size_t len, struct ms_msg_moved *m);
/* FETCH is ms_enc_chunks / ms_dec_chunks with MS_MSG_FETCH; FETCH_OK,
 * MIGRATE_OK, THAW_OK, MIGRATED_OK, MIGRATE_ABORT_OK are ms_enc_empty;
 * HANDOFF_OK is ms_enc_gen. */

/* Meta entry flags (the u32 after the hash, little-endian; the last 4
 * bytes stay zero):
 * ABSENT: the chunk is not at this server yet (a post-copy migration
 * fetches it); its hash is the committed one, its bytes are not there:
 * a reader asks with FETCH and reads once the flag is gone. */
#define MS_META_F_ABSENT (1u << 0)
/* ZERO: the chunk's committed bytes are all zero (its hash is the chunk
 * hash of as many zero bytes).  Set and cleared with the hash, before the
 * generation is stamped: a reader that sees the flag with a generation
 * that did not move knows the chunk's bytes without reading them. */
#define MS_META_F_ZERO (1u << 1)

/* The metadata table a server registers read-only for each region: one
 * entry per chunk, u64 generation (little-endian), XXH3-128 (canonical),
 * 8 reserved bytes.  struct ms_meta_entry (region.h) is its server-side
 * view. */
#define MS_META_ENTRY_SIZE 32

static inline uint64_t ms_meta_gen(const void *table, uint64_t i)
{
	uint64_t v;

	memcpy(&v, (const uint8_t *)table + i * MS_META_ENTRY_SIZE, 8);
	return le64toh(v);
}

static inline const uint8_t *ms_meta_hash(const void *table, uint64_t i)
{
	return (const uint8_t *)table + i * MS_META_ENTRY_SIZE + 8;
}

/* MS_META_F_* of entry i */
static inline uint32_t ms_meta_flags(const void *table, uint64_t i)
{
	uint32_t v;

	memcpy(&v, (const uint8_t *)table + i * MS_META_ENTRY_SIZE + 24, 4);
	return le32toh(v);
}

#endif
