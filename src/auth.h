/* SPDX-License-Identifier: Apache-2.0 */
/*
 * auth.h - named keys, key files, grants and the challenge-response
 * handshake both transports run before anything else (docs/security.md).
 *
 * Key files.  A server's key file holds one key per line:
 *
 *     NAME SECRET GRANT REGIONS
 *
 * NAME is 1..MS_AUTH_NAME_MAX characters of [A-Za-z0-9._@-]; SECRET is
 * 64..128 hex digits (256..512 bits); GRANT is "read" or "read-write";
 * REGIONS is "*" or a comma-separated list of region names.  Blank lines
 * and lines starting with '#' are ignored.  A client's key file holds the
 * line "NAME SECRET" (the rest of a server line may follow and is
 * ignored); its first key line is used.  Both are refused unless they are
 * regular files that only their owner can read or write (mode & 077 == 0)
 * and owned by the caller's effective uid.
 *
 * The handshake (three messages and a verdict; the transport carries
 * them: TCP frames of type MS_F_AUTH, RDMA's rdma_cm private data and
 * first control messages):
 *
 *   M1 client -> server   {version, name, Nc}            ms_auth_cli_start
 *   M2 server -> client   {Ns, Ps}                       ms_auth_srv_hello
 *   M3 client -> server   {Pc}  after checking Ps        ms_auth_cli_answer
 *   M4 server -> client   accepted or refused            ms_auth_srv_verify
 *
 *   Ps = HMAC-SHA-256(secret, "memsync-auth-v1 server" | name | Nc | Ns | bind)
 *   Pc = HMAC-SHA-256(secret, "memsync-auth-v1 client" | name | Nc | Ns | bind)
 *
 * (each part length-prefixed).  Nc and Ns are fresh random nonces from
 * both sides; bind is the connection's identity both ends compute alike
 * (the transport's name, RDMA queue pair numbers, a TLS exporter value),
 * so a proof made for one connection is worthless on another.  A server
 * that does not know NAME answers with a random Ps (computed from a
 * random secret) and refuses M3: a client cannot tell an unknown name
 * from a wrong secret.  MACs are compared in constant time.
 *
 * Nothing here prints or touches the network; every decoder checks every
 * length (fuzzed: tests/fuzz/).
 */
#ifndef MS_AUTH_H
#define MS_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MS_AUTH_VERSION 1
#define MS_AUTH_NAME_MAX 32
#define MS_AUTH_SECRET_MIN 32           /* bytes (256 bits) */
#define MS_AUTH_SECRET_MAX 64
#define MS_AUTH_NONCE_C 16              /* client nonce: fits RDMA's REQ private data */
#define MS_AUTH_NONCE_S 32
#define MS_AUTH_MAC 32
#define MS_AUTH_BIND_MAX 128
/* Largest handshake message (M1). */
#define MS_AUTH_MSG_MAX (2 + MS_AUTH_NAME_MAX + MS_AUTH_NONCE_C)
#define MS_AUTH_M1_MIN (2 + 1 + MS_AUTH_NONCE_C)
#define MS_AUTH_M2_LEN (MS_AUTH_NONCE_S + MS_AUTH_MAC)
#define MS_AUTH_M3_LEN MS_AUTH_MAC

/* What a key grants on a region (ordered: more is larger). */
enum ms_grant {
	MS_GRANT_NONE = 0,
	MS_GRANT_READ = 1,
	MS_GRANT_RW = 2,
};

/* A client's key. */
struct ms_authkey {
	char name[MS_AUTH_NAME_MAX + 1];
	uint8_t secret[MS_AUTH_SECRET_MAX];
	size_t secret_len;
};

/* A key name is valid (1..MS_AUTH_NAME_MAX of [A-Za-z0-9._@-]). */
bool ms_auth_name_ok(const char *name, size_t len);

/* Is path a file only its owner (the effective uid) may read and write?
 * 0, or -EPERM / -errno with the reason in err. */
int ms_keyfile_check(const char *path, char *err, size_t errlen);

/* A client's key: the first key line of the file at path. */
int ms_authkey_load(const char *path, struct ms_authkey *out, char *err, size_t errlen);
/* The same from text (len bytes; for tests and the fuzzer). */
int ms_authkey_parse(const char *text, size_t len, struct ms_authkey *out, char *err,
		     size_t errlen);

/* A server's key database (immutable once loaded; replaced whole on a
 * reload, so readers hold a reference: ms_keydb_get / ms_keydb_put). */
struct ms_keydb;

int ms_keydb_load(const char *path, struct ms_keydb **out, char *err, size_t errlen);
/* Parse text (no permission check): line numbers in errors. */
int ms_keydb_parse(const char *text, size_t len, struct ms_keydb **out, char *err,
		   size_t errlen);
struct ms_keydb *ms_keydb_get(struct ms_keydb *db);
void ms_keydb_put(struct ms_keydb *db);
size_t ms_keydb_count(const struct ms_keydb *db);
/* The secret of key name: 0, or -ENOENT. */
int ms_keydb_secret(const struct ms_keydb *db, const char *name, uint8_t *secret,
		    size_t *len);
/* What key name may do on region (MS_GRANT_NONE for an unknown key). */
enum ms_grant ms_keydb_grant(const struct ms_keydb *db, const char *name,
			     const char *region);
/* The most key name may do on any region (MS_GRANT_NONE: unknown key). */
enum ms_grant ms_keydb_max_grant(const struct ms_keydb *db, const char *name);
/* Does key name exist in db with the same secret as in old, and is every
 * grant it had in old still there?  (A reload keeps such connections.) */
bool ms_keydb_same(const struct ms_keydb *old, const struct ms_keydb *db, const char *name);

/* ---- the handshake ---- */

/* Where the server finds a key's secret: 0, or -ENOENT. */
typedef int (*ms_auth_lookup_fn)(void *ud, const char *name, uint8_t *secret, size_t *len);

struct ms_auth_cli {
	struct ms_authkey key;
	uint8_t nc[MS_AUTH_NONCE_C];
	uint8_t ns[MS_AUTH_NONCE_S];
};

struct ms_auth_srv {
	char name[MS_AUTH_NAME_MAX + 1];
	uint8_t secret[MS_AUTH_SECRET_MAX];
	size_t secret_len;
	bool known;                     /* the name is in the database */
	bool hello_done;                /* M1 was answered */
	uint8_t nc[MS_AUTH_NONCE_C];
	uint8_t ns[MS_AUTH_NONCE_S];
	uint8_t bind[MS_AUTH_BIND_MAX];
	size_t bindlen;
};

/* Client: M1 into buf (cap >= MS_AUTH_MSG_MAX); 0 with *len, or -errno. */
int ms_auth_cli_start(struct ms_auth_cli *a, const struct ms_authkey *key, void *buf,
		      size_t cap, size_t *len);
/* Client: check M2 (the server's proof) and write M3 into buf (cap >=
 * MS_AUTH_M3_LEN).  -EBADMSG for a malformed M2, -EACCES when the server
 * does not prove it knows the key (err says so). */
int ms_auth_cli_answer(struct ms_auth_cli *a, const void *bind, size_t bindlen,
		       const void *m2, size_t m2len, void *buf, size_t cap, size_t *len,
		       char *err, size_t errlen);
/* Wipe a's secret. */
void ms_auth_cli_clear(struct ms_auth_cli *a);

/* Server: take M1, write M2 into buf (cap >= MS_AUTH_M2_LEN).  -EBADMSG
 * for a malformed M1 or a version it does not speak (err says which); an
 * unknown name is not an error here (see above). */
int ms_auth_srv_hello(struct ms_auth_srv *a, ms_auth_lookup_fn lookup, void *ud,
		      const void *bind, size_t bindlen, const void *m1, size_t m1len,
		      void *buf, size_t cap, size_t *len, char *err, size_t errlen);
/* Server: check M3.  0: the peer is a->name; -EACCES (unknown key or
 * wrong proof, the same answer), -EBADMSG (malformed), -EPROTO (no M1
 * before).  Wipes the secret either way. */
int ms_auth_srv_verify(struct ms_auth_srv *a, const void *m3, size_t m3len);
void ms_auth_srv_clear(struct ms_auth_srv *a);

/* Random bytes from the kernel (getrandom); 0 or -errno. */
int ms_auth_random(void *buf, size_t len);

#endif /* MS_AUTH_H */
