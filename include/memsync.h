/* SPDX-License-Identifier: Apache-2.0 */
/*
 * memsync.h - public API of libmemsync.
 *
 * libmemsync replicates named, fixed-size memory regions between machines.
 * A server exports regions (anonymous memory, a memfd an application maps
 * too, or a file); clients pull them (one-sided READ), push changed ranges
 * (one-sided WRITE) and commit.  The transport is RDMA where a device reaches
 * the peer and TCP otherwise; the API is the same.
 *
 * Conventions:
 *  - functions returning int return 0 (or a count) on success and -errno on
 *    failure; constructors return NULL and set errno;
 *  - the library never prints: the last error of a client or server is kept
 *    as a human-readable message (ms_client_errmsg(), ms_server_errmsg()),
 *    and a server reports events through an optional log callback;
 *  - an ms_client and everything opened through it must be used by one
 *    thread at a time; ms_server_stop() may be called from any thread or a
 *    signal handler.
 *
 * Options structs (ms_client_opts, ms_xfer_opts, ms_map_opts,
 * ms_server_opts, ms_export_opts) can grow without breaking a binary built
 * against an older header.  Each begins with `size_t opts_size`, which the
 * caller sets to sizeof the struct as it was compiled:
 *
 *     struct ms_client_opts o = { .opts_size = sizeof(o), .timeout_ms = 5000 };
 *
 * New fields are only ever appended, and every field's zero means its
 * default.  The library reads the first opts_size bytes and gives every
 * field past them its default.  An opts_size of 0 or one smaller than the
 * first version of the struct is -EINVAL (EINVAL for constructors); one
 * larger than the library knows is accepted when the bytes it does not
 * know are all zero (defaults), else -EOPNOTSUPP.  A NULL options pointer
 * means every default.  Output structs (ms_region_info, ms_xfer_stats,
 * ms_region_stat, ms_map_sync_stats) carry no size: changing one breaks
 * the ABI (a new library version), which options structs avoid.
 *
 * Counts of array elements are size_t, and an array comes before its
 * count (ms_stat, ms_hot_chunks, ms_touch_chunks, ms_chunk_generations).
 *
 * Names of the three region types:
 *  - a *region* is a named, fixed-size piece of memory a server serves;
 *  - an *export* (ms_export) is the server application's handle to a
 *    region it added (ms_server_add_region);
 *  - a *region handle* (ms_region) is a client's open handle to a region
 *    on a server (ms_open).
 */
#ifndef MEMSYNC_H
#define MEMSYNC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MEMSYNC_VERSION_MAJOR 0
#define MEMSYNC_VERSION_MINOR 1
#define MEMSYNC_VERSION_PATCH 0

/* The version of the library at run time ("0.1.0"). */
const char *ms_version(void);

/* Limits. */
#define MS_NAME_MAX 63                      /* region name, bytes, no NUL */
#define MS_CHUNK_MIN (4u << 10)             /* 4 KiB */
#define MS_CHUNK_MAX (16u << 20)            /* 16 MiB */
#define MS_CHUNK_DEFAULT (64u << 10)        /* 64 KiB */
#define MS_DEFAULT_PORT "7400"

enum ms_transport_kind {
	MS_TRANSPORT_AUTO = 0, /* RDMA when a device reaches the peer, else TCP */
	MS_TRANSPORT_TCP = 1,
	MS_TRANSPORT_RDMA = 2,
};

/* Parse "auto" | "tcp" | "rdma"; returns 0 or -EINVAL. */
int ms_transport_parse(const char *s, enum ms_transport_kind *out);

/* ------------------------------------------------------------------ */
/* Addresses                                                           */
/* ------------------------------------------------------------------ */

/* memsync://HOST[:PORT][/REGION], or HOST:PORT[/REGION] when allow_bare.
 * HOST may be a name, an IPv4 address or a bracketed IPv6 address. */
struct ms_url {
	char host[256];
	char port[8];                 /* decimal, MS_DEFAULT_PORT if absent */
	char region[MS_NAME_MAX + 1]; /* "" when absent */
};

/* Returns 0, or -EINVAL for a malformed address (bad scheme, empty host,
 * port not in 1..65535, region name too long or with bad characters). */
int ms_url_parse(const char *s, bool allow_bare, struct ms_url *out);

/* A region name is 1..MS_NAME_MAX bytes of [A-Za-z0-9._-]. */
bool ms_name_valid(const char *name);

/* ------------------------------------------------------------------ */
/* Client                                                              */
/* ------------------------------------------------------------------ */

typedef struct ms_client ms_client;
typedef struct ms_region ms_region;

struct ms_client_opts {
	size_t opts_size;       /* sizeof(struct ms_client_opts); see the top */
	enum ms_transport_kind transport;
	unsigned queue_depth;   /* operations in flight; 0 = default (16) */
	uint32_t max_io;        /* largest single read/write; 0 = default (1 MiB) */
	int timeout_ms;         /* per control call and per stalled I/O; 0 = 30 s */
	bool have_client_id;    /* use client_id instead of a random one */
	uint8_t client_id[16];  /* a server refuses a second live connection
				   with the same id */
	/* Authentication (docs/security.md): a key file whose first key
	 * line is "NAME SECRET" (only its owner may read it).  NULL: none;
	 * a server that requires a key then refuses (EACCES). */
	const char *key_file;
	/* TLS over TCP: tls_ca (PEM) verifies the server and turns TLS on;
	 * tls_cert + tls_key are an optional client certificate. */
	const char *tls_ca;
	const char *tls_cert;
	const char *tls_key;
	/* Parallel streams: a pull of at least 8 MiB runs over this many
	 * connections (TCP) or queue pairs (RDMA), striped by chunk; the
	 * extra ones are opened for the first such pull and closed with
	 * the client.  0 = default (the online CPUs, at most 4); 1 = one. */
	unsigned streams;
};

/* Connect and say hello.  NULL + errno on failure (ECONNREFUSED,
 * EPROTONOSUPPORT for a transport that is not available, EPROTO for a peer
 * that does not speak memsync, EEXIST for a duplicate client id, ...).
 * When errmsg is not NULL it receives a message on failure. */
ms_client *ms_connect(const char *host, const char *port,
		      const struct ms_client_opts *opts,
		      char *errmsg, size_t errmsg_len);
/* Close every region handle still open through c (they become invalid),
 * say goodbye and free c. */
void ms_disconnect(ms_client *c);

/* The last error's message, "" if none. */
const char *ms_client_errmsg(const ms_client *c);
/* "tcp" or "rdma". */
const char *ms_client_transport(const ms_client *c);
/* Why that transport: "rdma: requested", "tcp: auto (rdma: no RDMA device
 * ...)", "rdma: auto (10.0.0.1 via mlx5_0 port 1, ACTIVE)", ... */
const char *ms_client_transport_why(const ms_client *c);

enum ms_mode {
	MS_MODE_READ = 1,  /* read-only grant */
	MS_MODE_WRITE = 2, /* read + write; takes the region's write lease */
};

/* How a region takes a writer's bytes (ms_export_opts.commit). */
enum ms_commit_mode {
	/* writes land in a staging area of the writer's lease; the commit
	 * verifies and applies them all or nothing: an interrupted writer
	 * leaves the region at its last commit (the default) */
	MS_COMMIT_ATOMIC = 0,
	/* writes land in the region itself: fastest; an interrupted writer
	 * leaves chunks unreadable until the next push */
	MS_COMMIT_DIRECT = 1,
};
/* "atomic" | "direct"; ms_commit_mode_parse: 0 or -EINVAL */
const char *ms_commit_mode_name(enum ms_commit_mode m);
int ms_commit_mode_parse(const char *s, enum ms_commit_mode *out);

/* How a region moves from server A (the source) to server B (the
 * destination).  B drives it: it pulls the region from A as a client. */
enum ms_migrate_mode {
	/* a few pre-copy rounds, then post-copy (the default) */
	MS_MIGRATE_HYBRID = 0,
	/* rounds while A serves, until what is left fits the downtime target
	 * (or stops shrinking, or max_rounds); writers wait for the rest */
	MS_MIGRATE_PRECOPY = 1,
	/* B owns the region at once and fetches what it lacks from A, the
	 * chunks clients ask for first */
	MS_MIGRATE_POSTCOPY = 2,
	/* writers wait while B copies all of it (the baseline) */
	MS_MIGRATE_STOPCOPY = 3,
};
/* "hybrid" | "precopy" | "postcopy" | "stopcopy"; parse: 0 or -EINVAL */
const char *ms_migrate_mode_name(enum ms_migrate_mode m);
int ms_migrate_mode_parse(const char *s, enum ms_migrate_mode *out);

enum ms_migrate_phase {
	MS_MIGRATE_NONE = 0,       /* no migration of that region here */
	MS_MIGRATE_PRECOPYING = 1, /* B copies while A owns and serves */
	MS_MIGRATE_SWITCHING = 2,  /* A holds commits back; B takes the rest */
	MS_MIGRATE_POSTCOPYING = 3,/* B owns it and fetches what it lacks */
	MS_MIGRATE_DONE = 4,       /* B has every chunk; A redirects */
	MS_MIGRATE_FAILED = 5,     /* see error; before the switch A still owns
				      the region, untouched */
	MS_MIGRATE_ABORTED = 6,    /* stopped on request, before the switch */
};
const char *ms_migrate_phase_name(enum ms_migrate_phase p);

/* A region's write lease (ms_lease_get, ms_lease_break). */
enum ms_lease_state {
	MS_LEASE_FREE = 0,      /* nobody holds it */
	MS_LEASE_HELD = 1,      /* holder has it at epoch */
	MS_LEASE_HANDOVER = 2,  /* handed over: only client_id may take it,
				   at epoch + 1, until expires_ms */
};
struct ms_lease_info {
	enum ms_lease_state state;
	uint64_t epoch;          /* the holder's, else the last one granted */
	int64_t expires_ms;      /* ms until it lapses, -1 when free */
	uint32_t ttl_ms;         /* the server's lease time to live */
	char holder[64];         /* the holder's address, "" unless held */
	uint8_t client_id[16];   /* the holder's client id, or the handover's
				    target; zero when free */
};

/* Open a region by name: returns a region handle.  NULL + errno: ENOENT
 * unknown region, EBUSY the write lease is held by another client (or
 * handed over to another), EINVAL bad name.
 *
 * MS_MODE_WRITE takes the region's write lease: a new epoch (a fencing
 * token that grows with every grant).  The server refuses the writes,
 * commits and renewals of an epoch that is no longer the lease's with
 * ESTALE ("fenced: ...").  A lease lapses unless renewed within its
 * time to live (ms_region_info.lease_ttl_ms): the library renews it on
 * its own while the handle is used (writes, syncs, pushes); a writer idle
 * longer than that calls ms_lease_renew(). */
ms_region *ms_open(ms_client *c, const char *name, enum ms_mode mode);

struct ms_open_opts {
	size_t opts_size;       /* sizeof(struct ms_open_opts); see the top */
	/* MS_MODE_WRITE: resume a lease: grant it only if no lease was
	 * granted after this epoch (else ESTALE, "fenced"); 0 = any */
	uint64_t expect_epoch;
};
/* ms_open with options (NULL: ms_open). */
ms_region *ms_open_with(ms_client *c, const char *name, enum ms_mode mode,
			const struct ms_open_opts *o);
/* Close a region handle: releases the lease.  Pending (uncommitted) writes
 * are dropped from the commit list; call ms_sync() first to keep them. */
int ms_close(ms_region *r);

struct ms_region_info {
	char name[MS_NAME_MAX + 1];
	uint64_t size;
	uint32_t chunk_size;
	uint64_t nchunks;
	uint64_t generation; /* the region's generation when opened or last synced */
	enum ms_mode mode;
	/* MS_MODE_WRITE: */
	uint64_t epoch;          /* the lease's epoch */
	uint32_t lease_ttl_ms;   /* it lapses unless renewed within this */
	enum ms_commit_mode commit_mode;
	uint64_t stage_limit;    /* atomic: bytes one commit can stage; a push
				    of more is split into several commits */
};
void ms_region_info(const ms_region *r, struct ms_region_info *out);

/* Progress reports during long transfers (done and total in bytes). */
typedef void (*ms_progress_fn)(void *ud, uint64_t done, uint64_t total);

struct ms_xfer_opts {
	size_t opts_size;        /* sizeof(struct ms_xfer_opts); see the top */
	ms_progress_fn progress; /* may be NULL */
	void *progress_ud;
	bool no_verify;          /* pull: skip the per-chunk XXH3-128 check */
	/* pull: return the range as of ONE commit, never chunks of two (a
	 * pull that meets a commit asks the server to hold commits for a
	 * moment and re-reads what changed).  Without it each chunk is
	 * verified on its own and chunks may come from different commits.
	 * Ignored with no_verify. */
	bool consistent;
	/* pull: dst is already all zeros, e.g. fresh mmap memory or a new
	 * file mapping: zero chunks (the server's table flags them; their
	 * bytes never cross) are left untouched, never written.  Without it
	 * the pull writes zeros there. */
	bool dst_zeroed;
};

struct ms_xfer_stats {
	uint64_t bytes;          /* payload bytes moved over the wire */
	uint64_t chunks_total;   /* chunks considered */
	uint64_t chunks_moved;   /* chunks read or written */
	uint64_t chunks_retried; /* pull: chunks re-read after a concurrent commit */
	uint64_t ns;             /* wall time */
	uint64_t commits;        /* push: commits it took; more than 1 when it
				    outgrew the lease's staging limit, and
				    then it was not atomic as a whole */
};

/* Pull [off, off+len) of the region into dst.  off and len need not be
 * chunk aligned; every chunk that is read whole is verified against the
 * server's committed XXH3-128 (unless no_verify), and chunks that changed
 * during the read are read again; when commits keep coming, the pull asks
 * the server to hold them for a moment (at most 2 s) and reads what is
 * left meanwhile, so it completes under a steady writer.  With
 * o->consistent the whole range is as of one commit.  -ERANGE when the
 * range is outside the region, -EIO on a verification failure that
 * persists while commits are held (bytes changed without a commit). */
int ms_pull(ms_region *r, uint64_t off, void *dst, uint64_t len,
	    const struct ms_xfer_opts *o, struct ms_xfer_stats *st);

/* Write [off, off+len) from src (no comparison) and remember it for the
 * next ms_sync().  Needs MS_MODE_WRITE (-EACCES otherwise). */
int ms_write(ms_region *r, uint64_t off, const void *src, uint64_t len,
	     const struct ms_xfer_opts *o, struct ms_xfer_stats *st);

/* Commit every write since the last sync: returns when the server has
 * verified the written bytes (XXH3-128 of each range), bumped the
 * generations of the chunks and, for file regions, msync'ed them. */
int ms_sync(ms_region *r);

/* Make [off, off+len) of the region equal to src, sending only the chunks
 * whose committed hash differs from src's, then ms_sync(). */
int ms_push(ms_region *r, uint64_t off, const void *src, uint64_t len,
	    const struct ms_xfer_opts *o, struct ms_xfer_stats *st);

/* The generations of chunks [first, first+n) of r as the server's metadata
 * table has them now (one one-sided read of the table, like the one a
 * verified pull makes): a chunk's generation changes with every commit
 * that names it.  -ERANGE when the chunks are outside the region. */
int ms_chunk_generations(ms_region *r, uint64_t first, uint64_t *gens, size_t n);

/* The server's hot-chunk list for r: up to max (1..16384) chunk indices,
 * hottest first.  A chunk gains heat with every commit that names it and
 * every use reported with ms_touch_chunks() (lazy mappings report the
 * chunks they faulted, in order, when they close) or ms_export_touch().
 * *n gets how many were stored. */
int ms_hot_chunks(ms_region *r, uint64_t *out, size_t max, size_t *n);
/* Report that chunks idx[0..n) (n <= 16384) were used.  -ERANGE if one is
 * outside the region (nothing is counted). */
int ms_touch_chunks(ms_region *r, const uint64_t *idx, size_t n);

/* Register a buffer with c's transport once (over RDMA: one ibv_reg_mr,
 * pinning it).  ms_pull() into (or ms_write() from) a range that lies inside a
 * live registration uses it instead of registering the buffer for the
 * call, so repeated transfers through one buffer cost no registration each.
 * NULL + errno on failure.  A registration dies with its connection (later
 * pulls register per call again); ms_disconnect() frees what is left. */
typedef struct ms_mem ms_mem;
ms_mem *ms_mem_register(ms_client *c, void *addr, size_t len);
void ms_mem_unregister(ms_mem *m);

enum ms_backing {
	MS_BACKING_ANON = 0,  /* private anonymous memory */
	MS_BACKING_MEMFD = 1, /* a memfd; ms_export_fd() gives it to the app */
	MS_BACKING_FILE = 2,  /* MAP_SHARED on path; created/extended to size */
	MS_BACKING_USER = 3,  /* memory the caller owns (user_mem) */
};
/* ms_stat(): a backing this library does not know (a newer server's). */
#define MS_BACKING_UNKNOWN ((enum ms_backing)255)

/* "anon", "memfd", "file", "user" (what `memsync stat` prints), or "unknown". */
const char *ms_backing_name(enum ms_backing b);

/* Per-region statistics as served by `memsync stat`. */
struct ms_region_stat {
	char name[MS_NAME_MAX + 1];
	enum ms_backing backing;
	uint64_t size;
	uint32_t chunk_size;
	uint64_t generation;
	uint32_t clients;        /* connections that have it open */
	bool write_leased;
	uint64_t bytes_read;     /* served to readers (TCP: exact; RDMA: what
				    the server can observe) */
	uint64_t bytes_written;  /* received from writers (TCP: exact; RDMA:
				    0, the NIC places them) */
	uint64_t bytes_committed; /* named by accepted commits, on any
				     transport: what writers changed */
	uint64_t commits;        /* commits applied */
	uint64_t commits_refused;   /* refused (bad hash, range, stale epoch) */
	uint64_t commits_abandoned; /* writers that vanished, lapsed or were
				       fenced with staged, uncommitted data */
	struct ms_lease_info lease;
	enum ms_commit_mode commit_mode;
	/* migration (this server's part in it): the source shows where the
	 * region went once it handed it off, the destination its phase */
	enum ms_migrate_phase migrate_phase; /* MS_MIGRATE_NONE if none */
	char moved_to[272];      /* "host:port" once handed off, else "" */
};

/* The write lease of region name as the server sees it: 0 or -errno
 * (ENOENT unknown region). */
int ms_lease_get(ms_client *c, const char *name, struct ms_lease_info *out);
/* Break the write lease of region name (an operator's action, logged by
 * the server): its holder is fenced at once (its staging area discarded,
 * its writes and commits refused) and the next writer gets a new epoch.
 * *was (may be NULL) gets the lease as it was. */
int ms_lease_break(ms_client *c, const char *name, struct ms_lease_info *was);
/* Renew r's lease now (the library renews on its own while r is used):
 * 0, or -ESTALE when it was fenced (lapsed, broken or handed over). */
int ms_lease_renew(ms_region *r);
/* Hand r's lease to the client with client_id (ms_client_opts): from now
 * on only that client may take it, at epoch + 1 (*new_epoch), until the
 * lease's time to live passes; r can no longer write (uncommitted writes
 * are dropped: sync first).  No moment exists in which nobody or two
 * clients may write. */
int ms_lease_handover(ms_region *r, const uint8_t client_id[16], uint64_t *new_epoch);
/* This connection's client id (what a handover names). */
void ms_client_id(const ms_client *c, uint8_t out[16]);

/* Stat all regions of the server (name NULL) or one.  On success *out is a
 * malloc'ed array of *n entries, to be freed with free(). */
int ms_stat(ms_client *c, const char *name, struct ms_region_stat **out,
	    size_t *n);

/* One client's use of one region, as the server sees it (ms_stat_clients,
 * ms_server_clients; `memsync stat`).  A connection with several regions
 * open has one entry per region, all with the same id and counters. */
struct ms_client_info {
	uint64_t id;             /* the connection's id on this server: what
				    ms_disconnect_client() names */
	char region[MS_NAME_MAX + 1];
	char address[64];        /* the peer's "address:port" */
	char transport[16];      /* "tcp" or "rdma" */
	char key[64];            /* the key it authenticated with ("" when
				    the server has no keys) */
	enum ms_mode mode;       /* how it opened the region */
	bool lease;              /* holds the region's write lease ... */
	uint64_t epoch;          /* ... at this epoch (0 when it does not) */
	uint64_t bytes_read;     /* the connection's data path (TCP: what the */
	uint64_t bytes_written;  /* server moved; RDMA: 0, the NIC moves it) */
	uint64_t idle_ms;        /* since its last request */
	uint8_t client_id[16];   /* its client id (ms_client_opts) */
};

/* The clients of region name (NULL or "": of every region) on the server:
 * *out is a malloc'ed array of *n entries (free it with
 * ms_client_info_free() or free()).  With keys, a key needs a read-write
 * grant on a region to see all its clients; with a read grant it sees its
 * own key's connections only.  0 or -errno (ENOENT unknown region). */
int ms_stat_clients(ms_client *c, const char *name, struct ms_client_info **out, size_t *n);
void ms_client_info_free(struct ms_client_info *info);
/* Close the server's connection id (ms_client_info.id), an operator's
 * action the server logs at WARN: the write lease it holds is fenced,
 * its grants are revoked, its regions closed, as for a client that
 * vanished.  0, -ENOENT (no such client: nothing changes), -EACCES (with
 * keys: a read-write grant is needed on every region the client has open,
 * on every region when it has none open). */
int ms_disconnect_client(ms_client *c, uint64_t id);

/* ------------------------------------------------------------------ */
/* Region migration between servers (docs/migration.md)                */
/* ------------------------------------------------------------------ */

struct ms_migrate_opts {
	size_t opts_size;           /* sizeof(struct ms_migrate_opts) */
	enum ms_migrate_mode mode;  /* MS_MIGRATE_HYBRID by default */
	uint32_t downtime_ms;       /* pre-copy target: switch once what is
				       left moves in this; 0 = 10 ms */
	uint32_t max_rounds;        /* pre-copy rounds at most; 0 = 8
				       (hybrid: 2) */
	enum ms_transport_kind transport; /* B's connection to A */
	const char *path;           /* B's backing: a file (created), or NULL
				       for anonymous memory */
	/* how clients reach B (what A's redirects name); NULL: the address
	 * the MIGRATE request was sent to (ms_migrate_start), or B's listen
	 * address (ms_server_migrate; a wildcard one needs these) */
	const char *advertise_host;
	const char *advertise_port;
	uint64_t max_bandwidth;     /* bytes per second B's copying may take
				       (pre-copy rounds and post-copy's
				       background); 0 = as fast as it goes */
};

/* Latency histogram buckets: bucket i counts samples in [2^i, 2^(i+1)) us
 * (bucket 0 also takes < 1 us), the last one everything above. */
#define MS_HIST_BUCKETS 24

struct ms_migrate_stat {
	char name[MS_NAME_MAX + 1];
	enum ms_migrate_phase phase;
	enum ms_migrate_mode mode;
	char source[272];           /* "host:port" of A */
	char end_reason[64];        /* why pre-copy ended: "converged",
				       "stopped shrinking", "max rounds",
				       "post-copy" (none), "" while running */
	char error[256];            /* FAILED: what happened */
	uint32_t rounds;            /* pre-copy rounds done */
	uint64_t size;              /* region bytes */
	uint64_t bytes;             /* bytes B read from A, all rounds */
	uint64_t chunks_total;
	uint64_t chunks_missing;    /* not yet at B (post-copy) */
	uint64_t epoch;             /* B's first epoch (A's last + 1) */
	/* times in microseconds; 0 = not reached (yet) */
	uint64_t total_us;          /* start -> done */
	uint64_t downtime_us;       /* commits held at A -> B accepts them */
	uint64_t pause_us;          /* waiting for A's commit in flight */
	uint64_t final_collect_us;  /* reading what changed last */
	uint64_t final_xfer_us;     /* moving it */
	uint64_t commit_us;         /* publishing it at B */
	uint64_t handoff_us;        /* A fences and redirects */
	uint64_t first_fault_us;    /* post-copy: B owns -> first fetch done */
	uint64_t faults;            /* post-copy fetches clients waited for */
	uint64_t fault_hist[MS_HIST_BUCKETS]; /* their latency */
};

/* Ask server dst (B) to take region name from src_host:src_port (A):
 * returns once B started (the move goes on in B); 0 or -errno (EEXIST a
 * region of that name at B, ENOENT none at A, ...; ms_client_errmsg). */
int ms_migrate_start(ms_client *dst, const char *name, const char *src_host,
		     const char *src_port, const struct ms_migrate_opts *o);
/* B's view of the migration of region name (-ENOENT: none). */
int ms_migrate_status(ms_client *dst, const char *name, struct ms_migrate_stat *out);
/* Stop it before the switch (A keeps the region as it was): 0, -EALREADY
 * when past the switch (it then completes), -ENOENT. */
int ms_migrate_abort(ms_client *dst, const char *name);

/* ------------------------------------------------------------------ */
/* Lazy mapping                                                        */
/* ------------------------------------------------------------------ */

/* ms_map_open() maps a region of a server into this process at once, at
 * its full size, and returns; the bytes arrive later.  The first access to a
 * chunk that is not local yet blocks the accessing thread (userfaultfd)
 * while a fault-handling thread pulls that whole chunk (verified with
 * XXH3-128, like ms_pull) and maps it; meanwhile prefetch threads pull the
 * remaining chunks in the background, in order or by a caller priority.
 * A fault always goes first: prefetching pauses while faults are served.
 *
 * Zero-copy path (the default over RDMA when the kernel has
 * UFFD_FEATURE_MINOR_SHMEM): the mapping is a memfd; the RNIC writes the
 * data into a second, private view of the same memfd and it is mapped into
 * the application's view with UFFDIO_CONTINUE, never copied.  Copy path
 * (the default over TCP, MS_MAP_PATH_COPY, or older kernels): anonymous
 * memory filled with UFFDIO_COPY.  Over TCP the receive copies either way,
 * and filling fresh shmem pages costs more than UFFDIO_COPY into anonymous
 * ones (measurements: docs/lazy-map.md); MS_MAP_PATH_ZERO_COPY picks the
 * memfd path anyway.
 *
 * Failures: when a pull fails (server gone and not back within
 * reconnect_timeout_ms, verification failure) the mapping is marked
 * failed.  Chunks already local stay readable; an access to any chunk that
 * is not local raises SIGBUS in the accessing thread (never a hang),
 * ms_map_wait() returns the error and ms_map_errmsg() explains it.
 * Prefetching stops.
 *
 * Each handling thread has its own connection (the client is not thread
 * safe): a mapping holds fault_threads + prefetch_threads connections,
 * plus one "sync" connection when writable (opened at once) or after the
 * first ms_map_refresh().  By default the region is opened read-only:
 * local writes to the mapping stay local (a write to a chunk that is not
 * local first pulls it).
 *
 * Writable mappings (writable): the sync connection opens the region
 * MS_MODE_WRITE and so holds the server's write lease for the mapping's
 * life (a second writer gets EBUSY from ms_map_open; readers are not
 * affected).  The mapper tracks what the application writes: with
 * userfaultfd asynchronous write protection (Linux 6.7+: chunks are
 * installed write-protected, a write only drops the protection, and
 * PAGEMAP_SCAN reads the written pages back and protects them again), or,
 * where the kernel cannot, by hashing the local chunks (ms_map_dirty_mode()
 * says which and why).  ms_map_sync() pushes the written chunks and
 * commits them.
 *
 * A connection that dies (the server restarted, a timeout) is connected
 * again by the thread that found it dead, retrying until
 * reconnect_timeout_ms has passed; faults wait meanwhile.  Back, the
 * mapping opens the region again in its mode (a writable one takes the
 * write lease again), reads the server's generation table and drops the
 * local chunks the server changed meanwhile (as ms_map_refresh() does),
 * except chunks written locally and not synced: they are pushed by the
 * next sync.  The region gone or resized, the lease taken by another
 * writer, or no connection within the timeout: the mapping fails as
 * above (faults on absent chunks get SIGBUS). */

typedef struct ms_map ms_map;

/* Which way chunks are mapped (see above). */
enum ms_map_path {
	MS_MAP_PATH_AUTO = 0,      /* zero-copy over RDMA (with MINOR_SHMEM),
				      else copy */
	MS_MAP_PATH_COPY = 1,      /* the copy path even over RDMA */
	MS_MAP_PATH_ZERO_COPY = 2, /* the zero-copy path even over TCP
				      (EOPNOTSUPP without MINOR_SHMEM) */
};

/* Whether a read-only mapping is backed by 2 MiB hugetlbfs pages (a memfd
 * with MFD_HUGETLB, UFFD_FEATURE_MINOR_HUGETLBFS): a fault then maps 2 MiB
 * at once.  It needs free 2 MiB huge pages for the whole region
 * (/proc/sys/vm/nr_hugepages), a size that is a multiple of 2 MiB, and
 * not the copy path; ms_map_page_mode() says which and why. */
enum ms_map_huge {
	MS_MAP_HUGE_AUTO = 0,      /* when all of the above hold, the path is
				      AUTO and prefetch is on (a fault pulls
				      every chunk of its 2 MiB) */
	MS_MAP_HUGE_ON = 1,        /* or fail with the reason (ENOMEM: too few
				      free huge pages, EOPNOTSUPP: kernel,
				      EINVAL: size, writable, copy path) */
	MS_MAP_HUGE_OFF = 2,       /* 4 KiB pages */
};

struct ms_map_opts {
	size_t opts_size;          /* sizeof(struct ms_map_opts); see the top */
	unsigned fault_threads;    /* threads serving faults; 0 = 2 */
	bool no_prefetch;          /* only pull what is touched */
	unsigned prefetch_threads; /* 0 = 2 (populating pages is the cost;
				      docs/lazy-map.md) */
	/* prefetch order: NULL = sequential; else highest priority first
	 * (ties by chunk index), computed once per chunk at open */
	int64_t (*priority)(void *ud, uint64_t chunk);
	/* a chunk became local (called from a handling thread, once per
	 * chunk; keep it short and never touch the mapping from it) */
	void (*on_local)(void *ud, uint64_t chunk);
	void *ud;
	enum ms_map_path path;     /* MS_MAP_PATH_AUTO by default */
	bool writable;             /* take the write lease, track writes, allow
				      ms_map_sync() */
	bool force_hash;           /* writable: track by hashing local chunks even
				      if the kernel could do better (so does
				      MS_DIRTY_FORCE_HASH=1 in the environment) */
	unsigned sync_interval_ms; /* writable: ms_map_sync() from a background
				      thread this often; 0 = never */
	bool hot_first;            /* prefetch the server's hot chunks first
				      (ms_hot_chunks, hottest first), then the
				      rest in the order above; without a list
				      (an older server) the order above */
	bool no_use_report;        /* do not tell the server, at close, which
				      chunks were faulted (in fault order): by
				      default they gain heat in its hot list */
	/* a connection that dies is connected again (attempts 50 ms apart,
	 * doubling to 1 s) for up to this long, faults waiting meanwhile;
	 * only then does the mapping fail (see above).  0 = the default
	 * (5000 ms); MS_MAP_NO_RECONNECT (any negative value) = never: the
	 * first dead connection fails the mapping */
	int reconnect_timeout_ms;
	/* writable: open without the write lease (the sync connection opens
	 * the region read-only) but track writes from the start: a hand-over's
	 * destination (ms_migrate_app_dest), which takes the lease when it is
	 * handed to it; ms_map_sync() is -EACCES until then */
	bool standby;
	enum ms_map_huge huge;     /* MS_MAP_HUGE_AUTO by default (0.3) */
};

#define MS_MAP_NO_RECONNECT (-1)

/* Connect to host:port, open the region read-only and map it.  NULL + errno
 * on failure and a message in err: ENOENT unknown region, EINVAL bad
 * arguments, ENOSYS/EPERM userfaultfd not available, ... */
ms_map *ms_map_open(const char *host, const char *port, const char *region,
		    const struct ms_client_opts *co, const struct ms_map_opts *mo,
		    char *err, size_t errlen);
void *ms_map_addr(const ms_map *m);
uint64_t ms_map_size(const ms_map *m);
uint32_t ms_map_chunk_size(const ms_map *m);
/* true on the zero-copy (memfd + UFFDIO_CONTINUE) path */
bool ms_map_zero_copy(const ms_map *m);
/* Chunks local so far, and the region's number of chunks. */
void ms_map_progress(const ms_map *m, uint64_t *chunks_local,
		     uint64_t *chunks_total);
/* Wait until every chunk is local (0), the mapping failed (its -errno),
 * or timeout_ms passed (-ETIMEDOUT; -1 waits forever).  Without prefetch
 * only the application's accesses make chunks local. */
int ms_map_wait(ms_map *m, int timeout_ms);
/* Why the mapping failed, "" while it has not. */
const char *ms_map_errmsg(const ms_map *m);
/* Stop the threads, close the connections and unmap.  No thread may
 * access the mapping any more.  Writes not synced yet are dropped (call
 * ms_map_sync() first). */
void ms_map_close(ms_map *m);

/* true when opened writable (or standby: writes are tracked) */
bool ms_map_writable(const ms_map *m);
/* How writes are tracked: "" for a read-only mapping, else a sentence,
 * "userfaultfd WP_ASYNC + PAGEMAP_SCAN" or "hashing: ..." with the reason
 * (e.g. "hashing: UFFD_FEATURE_WP_ASYNC not supported by this kernel"). */
const char *ms_map_dirty_mode(const ms_map *m);
/* true when the mapping is on 2 MiB hugetlbfs pages (0.3) */
bool ms_map_huge(const ms_map *m);
/* The page size chosen and why, a sentence: "hugetlbfs: 2 MiB pages ..."
 * or "4 KiB pages: <the reason huge pages were not used>" (0.3). */
const char *ms_map_page_mode(const ms_map *m);

struct ms_map_sync_stats {
	uint64_t pages_dirty;   /* pages found written (hashing: the pages of
				   the written chunks) */
	uint64_t chunks_pushed; /* chunks with pages written to the server and
				   committed */
	uint64_t runs;          /* pieces sent: runs of adjacent written pages,
				   split where a chunk begins */
	uint64_t bytes;         /* payload bytes written */
	uint64_t ns;            /* wall time */
};

/* Push what the application wrote since the last sync: collect the written
 * pages (protecting them again in the same step), copy each run of written
 * pages into a bounce buffer (a snapshot: the application may keep
 * writing; a write after the collect is found by the next sync, never
 * lost), write the snapshots as one batch and commit them (the server
 * rehashes the chunks from the pages written); returns when the
 * server holds them.  Concurrent calls (and the background thread) are
 * serialised.  -EACCES for a read-only mapping; when the server refuses
 * the commit (its verification fails) or the connection fails and does
 * not come back within reconnect_timeout_ms (when it does, the sync is
 * repeated on the new connection), the error (message in ms_map_errmsg()
 * while no fault failed the mapping) and the chunks stay dirty for the
 * next sync.  st may be NULL. */
int ms_map_sync(ms_map *m, struct ms_map_sync_stats *st);

/* Follow the server: read its per-chunk generation table and drop every
 * local chunk whose generation differs from the one it was pulled at (it
 * becomes absent: the next touch pulls the new bytes).  *changed (may be
 * NULL) gets the number of chunks dropped.  On a writable mapping a chunk
 * written locally and not synced is never dropped: if any changed chunk is
 * dirty, nothing is dropped and the result is -EBUSY (ms_map_sync() first).
 * On a read-only mapping local writes to changed chunks are lost.  Not
 * for use while the application writes to chunks that may change.  A
 * dead connection is connected again first (reconnect_timeout_ms). */
int ms_map_refresh(ms_map *m, uint64_t *changed);

/* ------------------------------------------------------------------ */
/* Application hand-over (docs/migration.md)                           */
/* ------------------------------------------------------------------ */

/*
 * An application whose state lives in a writable lazy mapping of region R
 * on server S hands it to a copy of itself on another host; both use the
 * same S, and the region does not move.  The destination opens R with
 * ms_map_opts.writable and .standby (and .hot_first), tells the source its
 * ms_map_client_id() out of band and calls ms_migrate_app_dest(), which
 * waits.  The source calls ms_migrate_app_source() with that id:
 *
 *  1. it reports the chunks it faulted, in fault order (ms_touch_chunks):
 *     they lead S's hot list, which the waiting destination prefetches
 *     first (its commits add heat to the chunks it writes, too);
 *  2. pre-copy: ms_map_sync() rounds while its writers go on, until a
 *     round pushed at most pause_bytes, stopped shrinking or max_rounds;
 *  3. on_before_pause() stops its writers; a final ms_map_sync();
 *  4. the write lease goes to the destination (ms_lease_handover: epoch
 *     N+1, only that client may take it, until the lease's time to live
 *     passes), and the source waits until S shows the destination holding
 *     it.  The destination takes it, drops the local chunks the final
 *     syncs changed (as ms_map_refresh does) and calls on_after_resume().
 *
 * Failures: a destination that is not connected to S (it died) before the
 * pause is an error before anything is paused (-EHOSTDOWN); one that never
 * takes the lease leaves the reservation to lapse at S, after which the
 * source takes the lease back (epoch N+1, refused if anyone was granted it
 * meanwhile), calls on_after_resume() and returns -ETIMEDOUT.  Any failure
 * after the pause resumes the source through on_after_resume().  At no
 * moment do two clients hold the lease: S grants it to one client id.
 *
 * Measurements (struct ms_migrate_stat, mode MS_MIGRATE_PRECOPY): the
 * source's downtime_us runs from its pause to S showing the destination
 * holding the lease, broken down into pause_us (the hook), final_collect_us
 * (finding the last written pages), final_xfer_us (writing them),
 * commit_us (S publishing them) and handoff_us (the handover and waiting
 * for the take); bytes are what it pushed, rounds its pre-copy rounds.
 * The destination's own stat: downtime_us from seeing the handover to
 * resumed, handoff_us its take, bytes what it pulled so far, and, later
 * (ms_migrate_app_dest_stat), first_fault_us (resume -> its first fault
 * served), faults and fault_hist.  ms_migrate_app_merge() adds the
 * destination's part to the source's.  st->error says what failed.
 */
struct ms_migrate_app_opts {
	size_t opts_size;           /* sizeof(struct ms_migrate_app_opts) */
	/* source: stop every writer of the mapping (return once they are
	 * stopped; non-zero aborts the hand-over, the source resumes) */
	int (*on_before_pause)(void *ud);
	/* destination: start writing (it holds the lease); source: after a
	 * failure past the pause, writers may go on */
	void (*on_after_resume)(void *ud);
	/* after each step (round, pause, hand-over, ...): st so far */
	void (*progress)(void *ud, const struct ms_migrate_stat *st);
	void *ud;
	uint32_t max_rounds;        /* pre-copy rounds at most; 0 = 8 */
	uint64_t pause_bytes;       /* pause once a round pushed at most this
				       many bytes; 0 = 1 MiB */
	int timeout_ms;             /* destination: wait this long for the
				       handover (0 = 60 s, < 0 forever); source:
				       for the take beyond the reservation's
				       lapse (0 = 5 s) */
	unsigned poll_ms;           /* lease polls this far apart; 0 = 1 ms */
};

/* The client id the lease is handed to (the sync connection's): 0, or
 * -EINVAL for a mapping that is neither writable nor standby. */
int ms_map_client_id(const ms_map *m, uint8_t out[16]);

/* Fault latency of a lazy mapping: each fault a fault thread served by
 * fetching its chunk, from reading the fault to the chunk mapped. */
struct ms_map_fault_stat {
	uint64_t faults;
	uint64_t hist[MS_HIST_BUCKETS]; /* bucket i: [2^i, 2^(i+1)) us */
	uint64_t first_after_resume_us; /* ms_migrate_app_dest's resume ->
					   the first such fault served; 0 = none */
};
void ms_map_fault_stat(const ms_map *m, struct ms_map_fault_stat *out);

/* Source: hand m (writable, holding the lease) to the client dst_id; see
 * above.  0 once the destination holds the lease (m can no longer sync:
 * close it), else -errno with st->error set: -EHOSTDOWN the destination is
 * not connected to S (nothing paused), -ETIMEDOUT it never took the lease
 * (the source took it back and resumed), -ECANCELED on_before_pause
 * refused, or a sync's or the handover's error.  st may be NULL. */
int ms_migrate_app_source(ms_map *m, const uint8_t dst_id[16],
			  const struct ms_migrate_app_opts *o, struct ms_migrate_stat *st);
/* Destination: m a writable standby mapping; prefetch S's hot chunks
 * first while waiting for the lease to be handed to m, take it, drop what
 * changed, resume.  0, -ETIMEDOUT (no handover for m in time), or the
 * take's error (-ESTALE/-EBUSY: the reservation lapsed, the source took
 * the lease back).  st may be NULL. */
int ms_migrate_app_dest(ms_map *m, const struct ms_migrate_app_opts *o,
			struct ms_migrate_stat *st);
/* The destination's fault figures so far into st (first_fault_us, faults,
 * fault_hist). */
void ms_migrate_app_dest_stat(const ms_map *m, struct ms_migrate_stat *st);
/* The destination's part (its downtime after the take, first fault, fault
 * latency) added to the source's stat src. */
void ms_migrate_app_merge(struct ms_migrate_stat *src, const struct ms_migrate_stat *dst);

/* Pause helpers for a process that does not link libmemsync.  A pid:
 * SIGSTOP, then wait until /proc says it stopped; SIGCONT.  A cgroup v2
 * directory: write 1 to cgroup.freeze, then wait until cgroup.events says
 * "frozen 1"; write 0.  0 or -errno (-ETIMEDOUT after timeout_ms, 0 = 5 s). */
int ms_pause_pid(int pid, bool stop, int timeout_ms);
int ms_pause_cgroup(const char *dir, bool freeze, int timeout_ms);

/* As hooks (ms_migrate_app_opts.on_before_pause / on_after_resume) with ud
 * pointing to a struct ms_pause_target: pid when > 0, else cgroup. */
struct ms_pause_target {
	int pid;
	const char *cgroup;
	int timeout_ms;
};
int ms_pause_hook(void *ud);
void ms_resume_hook(void *ud);

/* ------------------------------------------------------------------ */
/* Server                                                              */
/* ------------------------------------------------------------------ */

typedef struct ms_server ms_server;
typedef struct ms_export ms_export;

enum ms_log_level { MS_LOG_ERROR = 0, MS_LOG_WARN, MS_LOG_INFO, MS_LOG_DEBUG };
typedef void (*ms_log_fn)(void *ud, enum ms_log_level level, const char *msg);

struct ms_server_opts {
	size_t opts_size;            /* sizeof(struct ms_server_opts); see the top */
	const char *host;            /* listen address, e.g. "127.0.0.1" */
	const char *port;            /* "0" picks a free port */
	enum ms_transport_kind transport;
	ms_log_fn log;               /* may be NULL */
	void *log_ud;
	unsigned lease_ttl_ms;       /* write leases lapse unless renewed within
					this; 0 = 10 s */
	/* Authentication: the key file ("NAME SECRET GRANT REGIONS" lines,
	 * only its owner may read it); NULL: peers are not authenticated,
	 * and then the server refuses a listen address that is not loopback
	 * unless insecure is set. */
	const char *auth_keys;
	bool insecure;
	/* The key this server presents when it connects to others (the
	 * source of a migration): a client key file, NULL: none. */
	const char *key_file;
	/* TLS over TCP (PEM files): cert + key turn it on; ca verifies
	 * client certificates (whose common name is a key name). */
	const char *tls_cert;
	const char *tls_key;
	const char *tls_ca;
	/* Resource limits against misbehaving peers (docs/security.md,
	 * "Resource limits"); 0 = the default in brackets. */
	unsigned max_conns;          /* connections in total, per listener [1024] */
	unsigned max_conns_per_addr; /* of them from one source address [128] */
	unsigned idle_timeout_ms;    /* to finish the handshake; stalled in half a
					frame or not reading replies [30 s] */
	size_t max_peer_mem;         /* replies and requests one peer makes the
					server hold [8 MiB] */
	size_t max_mem;              /* all peers of a listener together [256 MiB] */
};

/* Create a server and bind its listener.  NULL + errno on failure
 * (EADDRINUSE when the port is taken); errmsg gets a message. */
ms_server *ms_server_create(const struct ms_server_opts *o, char *errmsg,
			    size_t errmsg_len);
/* The port actually bound (useful with port "0"). */
uint16_t ms_server_port(const ms_server *s);
/* "tcp", "rdma" or "tcp+rdma": the transports the server listens on.
 * MS_TRANSPORT_AUTO listens on TCP, and with RDMA on the same port too when
 * the listen address is on an RDMA device. */
const char *ms_server_transport(const ms_server *s);
const char *ms_server_errmsg(const ms_server *s);

struct ms_export_opts {
	size_t opts_size;    /* sizeof(struct ms_export_opts); see the top */
	const char *name;
	uint64_t size;       /* multiple of the page size */
	uint32_t chunk_size; /* power of two in [MS_CHUNK_MIN, MS_CHUNK_MAX]; 0 = default */
	enum ms_backing backing;
	const char *path;    /* MS_BACKING_FILE */
	void *user_mem;      /* MS_BACKING_USER: page aligned, size bytes */
	bool no_mlock;       /* do not pin (tests of huge regions only) */
	enum ms_commit_mode commit; /* MS_COMMIT_ATOMIC by default */
	uint64_t stage_limit; /* atomic: staging bytes per lease; 0 = size */
};

/* Add a region and return its export (thread-safe, also while the server
 * runs).  NULL + errno:
 * EEXIST name taken, EINVAL bad options, ENOMEM/EPERM when pinning fails
 * (the message names RLIMIT_MEMLOCK). */
ms_export *ms_server_add_region(ms_server *s, const struct ms_export_opts *o);
void *ms_export_mem(const ms_export *e);
uint64_t ms_export_size(const ms_export *e);
/* The memfd or file descriptor behind the export's region, -1 for anon/user. */
int ms_export_fd(const ms_export *e);
/* The application changed [off, off+len) directly: rehash those chunks and
 * bump their generations so readers see the change.  Waits while a reader
 * holds the region's commits (a pull under a steady writer; 2 s at most),
 * and while a migration froze it; -EREMCHG once it moved to another server. */
int ms_export_commit(ms_export *e, uint64_t off, uint64_t len);
/* The application uses [off, off+len): its chunks gain heat in the
 * region's hot-chunk list (ms_hot_chunks), which lazy mappings can
 * prefetch first (ms_map_opts.hot_first).  0 or -ERANGE. */
int ms_export_touch(ms_export *e, uint64_t off, uint64_t len);

/* Serve until ms_server_stop(); then finish in-flight requests, msync file
 * regions and return 0. */
int ms_server_run(ms_server *s);
/* Serve from a background thread. */
int ms_server_start(ms_server *s);
/* Ask run() to return; async-signal-safe and thread-safe. */
void ms_server_stop(ms_server *s);
/* Stop (joining a background thread), msync file regions, free. */
void ms_server_destroy(ms_server *s);

/* Local statistics, like ms_stat() but without a connection. */
int ms_server_stat(ms_server *s, const char *name, struct ms_region_stat **out,
		   size_t *n);

/* Migrate region name from src_host:src_port into this server (what a
 * MIGRATE request does; ms_migrate_start): 0 once started, or -errno with
 * the message in ms_server_errmsg(). */
int ms_server_migrate(ms_server *s, const char *name, const char *src_host,
		      const char *src_port, const struct ms_migrate_opts *o);
/* The migration of region name into this server: 0 or -ENOENT. */
int ms_server_migrate_stat(ms_server *s, const char *name, struct ms_migrate_stat *out);
/* Stop it before the switch: 0, -EALREADY past it, -ENOENT. */
int ms_server_migrate_abort(ms_server *s, const char *name);

/* ---- Metrics (what memsyncd --metrics serves; docs/operations.md) ----
 * Both structs start with their size, set by the caller to sizeof(the
 * struct it was built with): later versions append fields, and a call
 * fills only the first size bytes. */

#define MS_METRICS_TRANSPORTS 2

/* One listener's connections since the server was created. */
struct ms_transport_metrics {
	char name[16];             /* "tcp", "rdma" */
	uint64_t accepted;         /* connections taken in (past the limits) */
	uint64_t open;             /* open now (gauge) */
	uint64_t refused;          /* refused at accept by max-conns limits */
	uint64_t handshake_failed; /* closed before admission: TLS or key
				      handshake failed or never finished */
	uint64_t idle_closed;      /* closed by the idle timeout */
	uint64_t errors;           /* admitted, then closed on an error */
};

struct ms_server_metrics {
	size_t size;               /* sizeof(struct ms_server_metrics) */
	unsigned ntransports;
	struct ms_transport_metrics transport[MS_METRICS_TRANSPORTS];
	/* migrations into this server (it is their destination) */
	uint64_t migrations_started;
	uint64_t migrations_completed; /* MS_MIGRATE_DONE */
	uint64_t migrations_failed;    /* MS_MIGRATE_FAILED */
	uint64_t migrations_aborted;   /* MS_MIGRATE_ABORTED */
	uint64_t last_downtime_us;     /* of the newest switched one, 0: none */
	uint64_t downtime_count;       /* migrations whose switch completed */
	uint64_t downtime_sum_us;
	/* their downtimes: bucket i counts [2^i, 2^(i+1)) us (bucket 0 also
	 * < 1 us), the last one everything above */
	uint64_t downtime_hist[MS_HIST_BUCKETS];
};

/* The server's metrics: 0, or -EINVAL (out NULL or out->size too small). */
int ms_server_metrics(ms_server *s, struct ms_server_metrics *out);

/* A region's counters beyond struct ms_region_stat. */
struct ms_region_metrics {
	size_t size;               /* sizeof(struct ms_region_metrics) */
	uint64_t leases_granted;   /* write leases granted */
	uint64_t leases_lapsed;    /* holders fenced because they did not renew */
	uint64_t leases_fenced;    /* holders fenced for any reason: lapsed,
				      broken, handed over, migrated away */
	uint64_t chunks;
	uint64_t zero_chunks;      /* chunks whose committed content is all
				      zero (by their hashes) */
	uint64_t zero_generation;  /* the generation zero_chunks was counted
				      at (it lags while a commit runs) */
};

/* Region name's metrics: 0, -ENOENT (no such region here), -EINVAL. */
int ms_server_region_metrics(ms_server *s, const char *name, struct ms_region_metrics *out);

/* Remove an idle region (thread-safe, also while the server runs; do not
 * add a region of the same name at the same time): 0, -ENOENT when there
 * is none, -EBUSY when a client has it open or holds its write lease (it
 * then stays as it was).  Waits for the control requests in flight; an
 * OPEN after it sees an unknown region.  Its ms_export is invalid once
 * this returns 0; a file region's file stays. */
int ms_server_unexport(ms_server *s, const char *name);

/* The clients of region name (NULL or "": every region), like
 * ms_stat_clients() (thread-safe; free *out with ms_client_info_free()). */
int ms_server_clients(ms_server *s, const char *name, struct ms_client_info **out,
		      size_t *n);
/* Close connection id like ms_disconnect_client() (thread-safe, logged at
 * WARN; not from a callback of the server's own threads): returns once
 * the connection is closed, or after a few seconds.  0 or -ENOENT. */
int ms_server_disconnect(ms_server *s, uint64_t id);

/* Read the server's key file (ms_server_opts.auth_keys) again
 * (thread-safe): keys added take effect at once; the connections of a
 * key that was removed, whose secret changed or that lost a grant are
 * closed (their registrations revoked).  0; -EINVAL (a server started
 * without keys) or the file's error (the old keys then stay), with the
 * message in ms_server_errmsg(). */
int ms_server_reload_keys(ms_server *s);

/* Check a key file without using it (memsyncd --check-config): a
 * server's key file ("NAME SECRET GRANT REGIONS" lines, owner-only) when
 * server_file, else a client's.  0 with *nkeys (may be NULL) the number of
 * keys, or -errno with the reason (the line, the permissions) in err.
 * Nothing of the file is kept. */
int ms_check_key_file(const char *path, bool server_file, unsigned *nkeys, char *err,
		      size_t errlen);

#ifdef __cplusplus
}
#endif
#endif /* MEMSYNC_H */
