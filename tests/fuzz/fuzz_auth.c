/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_auth.c - libFuzzer target: the auth module's parsers and handshake
 * (src/auth.h).  Each input is
 *  - a server key file (ms_keydb_parse) and a client key file
 *    (ms_authkey_parse): when both accept it, the client's key is in the
 *    database with the same secret (a server line can be copied);
 *  - an M1 for ms_auth_srv_hello, then an M3 for ms_auth_srv_verify: no
 *    input may pass the verification (it needs the server's fresh nonce);
 *  - an M2 for ms_auth_cli_answer: none may pass (it needs the client's);
 *  - a mask over a real handshake's M2 and M3: the handshake succeeds
 *    exactly when the mask changes nothing.
 */
#include <errno.h>
#include <string.h>

#include "auth.h"
#include "fuzz.h"
#include "util.h"

static const char fixed_name[] = "fz";
static const uint8_t fixed_secret[MS_AUTH_SECRET_MIN] = { 0x11, 0x22, 0x33 };
static const char bind[] = "tcp";

/* The database when the input parsed as one, else the fixed key. */
static int lookup(void *ud, const char *name, uint8_t *secret, size_t *len)
{
	const struct ms_keydb *db = ud;

	if (db)
		return ms_keydb_secret(db, name, secret, len);
	if (strcmp(name, fixed_name))
		return -ENOENT;
	memcpy(secret, fixed_secret, sizeof(fixed_secret));
	*len = sizeof(fixed_secret);
	return 0;
}

static void key_files(const uint8_t *data, size_t size, struct ms_keydb **dbp)
{
	struct ms_authkey key;
	struct ms_keydb *db = NULL;
	uint8_t secret[MS_AUTH_SECRET_MAX];
	size_t slen = 0;
	char err[256];
	int rdb, rkey;

	err[0] = '\0';
	rdb = ms_keydb_parse((const char *)data, size, &db, err, sizeof(err));
	FUZZ_ASSERT(rdb == 0 || (rdb < 0 && err[0]));
	FUZZ_ASSERT((rdb == 0) == (db != NULL));
	err[0] = '\0';
	rkey = ms_authkey_parse((const char *)data, size, &key, err, sizeof(err));
	FUZZ_ASSERT(rkey == 0 || (rkey < 0 && err[0]));
	if (rkey == 0) {
		FUZZ_ASSERT(ms_auth_name_ok(key.name, strlen(key.name)));
		FUZZ_ASSERT(key.secret_len >= MS_AUTH_SECRET_MIN &&
			    key.secret_len <= MS_AUTH_SECRET_MAX);
	}
	if (rdb == 0) {
		FUZZ_ASSERT(ms_keydb_count(db) > 0);
		if (rkey == 0) {
			enum ms_grant g = ms_keydb_grant(db, key.name, "r1");

			FUZZ_ASSERT(ms_keydb_secret(db, key.name, secret, &slen) == 0);
			FUZZ_ASSERT(slen == key.secret_len && !memcmp(secret, key.secret, slen));
			FUZZ_ASSERT(g == MS_GRANT_NONE || g == MS_GRANT_READ || g == MS_GRANT_RW);
			FUZZ_ASSERT(ms_keydb_max_grant(db, key.name) >= g);
			FUZZ_ASSERT(ms_keydb_max_grant(db, key.name) != MS_GRANT_NONE);
			FUZZ_ASSERT(ms_keydb_same(db, db, key.name));
		}
		FUZZ_ASSERT(ms_keydb_grant(db, "no such key name", "r1") == MS_GRANT_NONE);
		FUZZ_ASSERT(ms_keydb_secret(db, "", secret, &slen) == -ENOENT);
	}
	*dbp = db;
}

/* The input as M1, then as M3. */
static void server_side(const uint8_t *data, size_t size, struct ms_keydb *db)
{
	struct ms_auth_srv a;
	uint8_t m2[MS_AUTH_M2_LEN];
	size_t len = 0;
	char err[256];
	int rc;

	memset(&a, 0, sizeof(a));
	rc = ms_auth_srv_hello(&a, lookup, db, bind, sizeof(bind), data, size, m2, sizeof(m2),
			       &len, err, sizeof(err));
	FUZZ_ASSERT(rc == 0 || rc == -EBADMSG);
	if (rc == 0) {
		FUZZ_ASSERT(len == MS_AUTH_M2_LEN && a.hello_done);
		FUZZ_ASSERT(ms_auth_name_ok(a.name, strlen(a.name)));
		rc = ms_auth_srv_verify(&a, data + size - MS_MIN(size, MS_AUTH_M3_LEN),
					MS_MIN(size, MS_AUTH_M3_LEN));
		FUZZ_ASSERT(rc == -EACCES || rc == -EBADMSG);
	} else {
		/* M3 without M1 */
		FUZZ_ASSERT(ms_auth_srv_verify(&a, data, size) == -EPROTO);
	}
	ms_auth_srv_clear(&a);
}

/* A real handshake, M2 and M3 masked with the input. */
static void handshake(const uint8_t *data, size_t size)
{
	struct ms_authkey key = { .secret_len = sizeof(fixed_secret) };
	struct ms_auth_cli c;
	struct ms_auth_srv s;
	uint8_t m1[MS_AUTH_MSG_MAX], m2[MS_AUTH_M2_LEN], m3[MS_AUTH_M3_LEN + 1];
	size_t l1, l2, l3, n3 = 0;
	bool same2 = true, same3 = true;
	char err[256];
	int rc;

	memcpy(key.name, fixed_name, sizeof(fixed_name));
	memcpy(key.secret, fixed_secret, sizeof(fixed_secret));
	memset(&s, 0, sizeof(s));
	FUZZ_ASSERT(ms_auth_cli_start(&c, &key, m1, sizeof(m1), &l1) == 0);
	FUZZ_ASSERT(ms_auth_srv_hello(&s, lookup, NULL, bind, sizeof(bind), m1, l1, m2,
				      sizeof(m2), &l2, err, sizeof(err)) == 0);
	for (size_t i = 0; i < size && i < MS_AUTH_M2_LEN; i++) {
		m2[i] ^= data[i];
		same2 = same2 && !data[i];
	}
	/* the input as an arbitrary M2 too (a fresh client each time) */
	{
		struct ms_auth_cli c2;
		uint8_t m1b[MS_AUTH_MSG_MAX], out[MS_AUTH_M3_LEN];
		size_t lb, lo;

		FUZZ_ASSERT(ms_auth_cli_start(&c2, &key, m1b, sizeof(m1b), &lb) == 0);
		rc = ms_auth_cli_answer(&c2, bind, sizeof(bind), data, size, out, sizeof(out),
					&lo, err, sizeof(err));
		FUZZ_ASSERT(rc == -EACCES || rc == -EBADMSG);
		ms_auth_cli_clear(&c2);
	}
	rc = ms_auth_cli_answer(&c, bind, sizeof(bind), m2, l2, m3, sizeof(m3), &l3, err,
				sizeof(err));
	FUZZ_ASSERT(same2 ? rc == 0 : rc == -EACCES);
	if (rc == 0) {
		FUZZ_ASSERT(l3 == MS_AUTH_M3_LEN);
		for (size_t i = MS_AUTH_M2_LEN; i < size && n3 <= MS_AUTH_M3_LEN; i++, n3++) {
			if (n3 == MS_AUTH_M3_LEN) {
				/* one byte more: a malformed M3 */
				same3 = false;
				l3++;
				break;
			}
			m3[n3] ^= data[i];
			same3 = same3 && !data[i];
		}
		rc = ms_auth_srv_verify(&s, m3, l3);
		FUZZ_ASSERT(same3 ? rc == 0 : (rc == -EACCES || rc == -EBADMSG));
	}
	ms_auth_cli_clear(&c);
	ms_auth_srv_clear(&s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ms_keydb *db = NULL;

	key_files(data, size, &db);
	server_side(data, size, db);
	handshake(data, size);
	if (db)
		ms_keydb_put(db);
	return 0;
}
