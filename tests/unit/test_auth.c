/* SPDX-License-Identifier: Apache-2.0 */
/* test_auth.c - key files, the key database, grants and the handshake
 * (src/auth.c): good and bad lines, file permissions, a full handshake,
 * and every way it must fail (wrong secret, unknown name, another
 * connection's bind, a replayed proof, malformed messages). */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth.h"
#include "memsync.h"
#include "tap.h"

#define HEX64A "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
#define HEX64B "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100"

static const char *server_text =
	"# memsync keys\n"
	"\n"
	"alice " HEX64A " read-write *\n"
	"  bob " HEX64B " read db,cache   \n"
	"carol " HEX64A HEX64B " read-write db\n";

static struct ms_keydb *db;

static int lookup(void *ud, const char *name, uint8_t *secret, size_t *len)
{
	return ms_keydb_secret(ud, name, secret, len);
}

static void test_parse_server(void)
{
	char err[200] = "";
	struct ms_keydb *d = NULL;
	uint8_t sec[MS_AUTH_SECRET_MAX];
	size_t slen = 0;
	struct {
		const char *text, *want;
	} bad[] = {
		{ "alice " HEX64A " read-write\n", "line 1: expected NAME SECRET GRANT REGIONS" },
		{ "alice " HEX64A " write *\n", "line 1: the grant must be" },
		{ "alice 0011 read *\n", "line 1: the secret must be 64 to 128 hex digits" },
		{ "alice " HEX64A "0 read *\n", "line 1: the secret must be" },
		{ "alice " HEX64A "zz read *\n", "line 1: the secret must be" },
		{ "al/ice " HEX64A " read *\n", "line 1: a key name is" },
		{ "\n#x\nalice " HEX64A " read *\nalice " HEX64B " read *\n",
		  "line 4: key 'alice' defined twice" },
		{ "alice " HEX64A " read db,,x\n", "line 1: regions are" },
		{ "alice " HEX64A " read db*\n", "line 1: regions are" },
		{ "alice " HEX64A " read a b\n", "line 1: expected NAME SECRET GRANT REGIONS" },
		{ "# nothing\n\n", "no key line" },
	};

	is_int(ms_keydb_parse(server_text, strlen(server_text), &db, err, sizeof(err)), 0,
	       "a server key file parses (%s)", err);
	is_int(ms_keydb_count(db), 3, "three keys");
	is_int(ms_keydb_grant(db, "alice", "anything"), MS_GRANT_RW, "alice: read-write on *");
	is_int(ms_keydb_grant(db, "bob", "db"), MS_GRANT_READ, "bob: read on db");
	is_int(ms_keydb_grant(db, "bob", "cache"), MS_GRANT_READ, "bob: read on cache");
	is_int(ms_keydb_grant(db, "bob", "other"), MS_GRANT_NONE, "bob: nothing on other");
	is_int(ms_keydb_grant(db, "bob", "d"), MS_GRANT_NONE, "bob: no prefix match");
	is_int(ms_keydb_grant(db, "carol", "db"), MS_GRANT_RW, "carol: read-write on db");
	is_int(ms_keydb_grant(db, "dave", "db"), MS_GRANT_NONE, "an unknown key: nothing");
	is_int(ms_keydb_max_grant(db, "bob"), MS_GRANT_READ, "bob's most is read");
	is_int(ms_keydb_secret(db, "carol", sec, &slen), 0, "carol's secret");
	is_int(slen, 64, "a 512-bit secret is 64 bytes");
	ok(sec[0] == 0x00 && sec[32] == 0xff && sec[63] == 0x00, "its bytes");
	is_int(ms_keydb_secret(db, "dave", sec, &slen), -ENOENT, "no secret for dave");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		d = NULL;
		is_int(ms_keydb_parse(bad[i].text, strlen(bad[i].text), &d, err, sizeof(err)),
		       -EINVAL, "bad server file %zu refused", i);
		ok(d == NULL && strstr(err, bad[i].want) != NULL, "  says \"%s\" (%s)",
		   bad[i].want, err);
	}
}

static void test_same(void)
{
	struct ms_keydb *d2 = NULL;
	char err[200];
	const char *t2 = "alice " HEX64A " read *\n"              /* lost write */
			 "bob " HEX64B " read db,cache,more\n"    /* gained a region */
			 "carol " HEX64B HEX64A " read-write db\n"; /* new secret */

	ms_keydb_parse(t2, strlen(t2), &d2, err, sizeof(err));
	ok(d2 != NULL, "a second database");
	ok(!ms_keydb_same(db, d2, "alice"), "alice lost read-write: not the same");
	ok(ms_keydb_same(db, d2, "bob"), "bob gained a region: still the same");
	ok(!ms_keydb_same(d2, db, "bob"), "bob losing a region is not");
	ok(!ms_keydb_same(db, d2, "carol"), "carol's secret changed: not the same");
	ok(!ms_keydb_same(db, d2, "dave"), "dave is in neither");
	ok(ms_keydb_same(db, db, "alice"), "a database is the same as itself");
	ms_keydb_put(d2);
}

static void test_parse_client(void)
{
	struct ms_authkey k;
	char err[200];
	const char *t1 = "# mine\nbob " HEX64B "\n";
	const char *t2 = "alice " HEX64A " read-write *\nbob " HEX64B "\n";

	is_int(ms_authkey_parse(t1, strlen(t1), &k, err, sizeof(err)), 0, "client line");
	is_str(k.name, "bob", "its name");
	is_int(k.secret_len, 32, "its secret");
	is_int(ms_authkey_parse(t2, strlen(t2), &k, err, sizeof(err)), 0,
	       "a server line copied into a client file");
	is_str(k.name, "alice", "the first key line is used");
	is_int(ms_authkey_parse("bob\n", 4, &k, err, sizeof(err)), -EINVAL, "no secret");
	ok(strstr(err, "expected NAME SECRET") != NULL, "  says so (%s)", err);
	is_int(ms_authkey_parse("", 0, &k, err, sizeof(err)), -EINVAL, "empty file");
}

static void write_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		abort();
	fchmod(fd, mode);
	close(fd);
}

static void test_files(void)
{
	char dir[] = "/tmp/ms-auth-XXXXXX", path[300], err[300];
	struct ms_keydb *d = NULL;
	struct ms_authkey k;

	if (!mkdtemp(dir))
		abort();
	snprintf(path, sizeof(path), "%s/keys", dir);
	write_file(path, server_text, 0600);
	is_int(ms_keydb_load(path, &d, err, sizeof(err)), 0, "a 0600 key file loads (%s)", err);
	ms_keydb_put(d);
	d = NULL;
	is_int(ms_authkey_load(path, &k, err, sizeof(err)), 0, "as a client file too");
	{
		unsigned n = 99;

		is_int(ms_check_key_file(path, true, &n, err, sizeof(err)), 0,
		       "ms_check_key_file: a server file (%s)", err);
		is_int((int)n, 3, "  counts its keys");
		is_int(ms_check_key_file(path, false, &n, err, sizeof(err)), 0,
		       "ms_check_key_file: as a client file");
		is_int((int)n, 1, "  one key");
	}
	chmod(path, 0640);
	is_int(ms_check_key_file(path, true, NULL, err, sizeof(err)), -EPERM,
	       "ms_check_key_file: 0640 refused");
	ok(strstr(err, "chmod 600") != NULL, "  says why (%s)", err);
	is_int(ms_keydb_load(path, &d, err, sizeof(err)), -EPERM, "a 0640 key file is refused");
	ok(strstr(err, "mode 0640") && strstr(err, "chmod 600"), "  says why (%s)", err);
	is_int(ms_authkey_load(path, &k, err, sizeof(err)), -EPERM,
	       "a client key file readable by others too");
	chmod(path, 0604);
	is_int(ms_keyfile_check(path, err, sizeof(err)), -EPERM, "world-readable: refused");
	chmod(path, 0400);
	is_int(ms_keyfile_check(path, err, sizeof(err)), 0, "0400 is fine");
	snprintf(path, sizeof(path), "%s/none", dir);
	is_int(ms_keydb_load(path, &d, err, sizeof(err)), -ENOENT, "a missing file");
	ok(strstr(err, path) != NULL, "  names it (%s)", err);
	is_int(ms_keyfile_check(dir, err, sizeof(err)), -EINVAL, "a directory is refused");
	snprintf(path, sizeof(path), "%s/keys", dir);
	unlink(path);
	rmdir(dir);
}

/* One handshake: the client's key k against the server's db; bind_c and
 * bind_s are what each side sees as the connection's identity. */
static int handshake(const struct ms_authkey *k, const char *bind_c, const char *bind_s,
		     struct ms_auth_srv *sv, uint8_t m3out[MS_AUTH_M3_LEN], char *err,
		     size_t errlen)
{
	struct ms_auth_cli c;
	uint8_t m1[MS_AUTH_MSG_MAX], m2[MS_AUTH_M2_LEN], m3[MS_AUTH_M3_LEN];
	size_t l1, l2, l3;
	int rc;

	rc = ms_auth_cli_start(&c, k, m1, sizeof(m1), &l1);
	if (rc)
		return rc;
	rc = ms_auth_srv_hello(sv, lookup, db, bind_s, strlen(bind_s), m1, l1, m2, sizeof(m2),
			       &l2, err, errlen);
	if (rc)
		return rc;
	rc = ms_auth_cli_answer(&c, bind_c, strlen(bind_c), m2, l2, m3, sizeof(m3), &l3, err,
				errlen);
	ms_auth_cli_clear(&c);
	if (rc)
		return rc;
	if (m3out)
		memcpy(m3out, m3, sizeof(m3));
	return ms_auth_srv_verify(sv, m3, l3);
}

static void test_handshake(void)
{
	struct ms_authkey k;
	struct ms_auth_srv sv, sv2;
	uint8_t m1[MS_AUTH_MSG_MAX], m2[MS_AUTH_M2_LEN], m3[MS_AUTH_M3_LEN], junk[80];
	char err[300] = "";
	const char *t = "bob " HEX64B "\n";
	struct ms_auth_cli c;
	size_t l1, l2, l3;

	ms_authkey_parse(t, strlen(t), &k, err, sizeof(err));
	memset(&sv, 0, sizeof(sv));
	is_int(handshake(&k, "tcp", "tcp", &sv, m3, err, sizeof(err)), 0,
	       "bob authenticates (%s)", err);
	is_str(sv.name, "bob", "the server knows it is bob");
	ok(sv.known, "a known key");

	/* a replayed proof on a new connection (fresh server nonce) */
	ms_auth_cli_start(&c, &k, m1, sizeof(m1), &l1);
	memset(&sv2, 0, sizeof(sv2));
	ms_auth_srv_hello(&sv2, lookup, db, "tcp", 3, m1, l1, m2, sizeof(m2), &l2, err,
			  sizeof(err));
	is_int(ms_auth_srv_verify(&sv2, m3, sizeof(m3)), -EACCES,
	       "a proof replayed on another connection is refused");
	ms_auth_cli_clear(&c);

	/* a wrong secret: the client sees the server's proof fail first */
	k.secret[0] ^= 1;
	memset(&sv, 0, sizeof(sv));
	err[0] = '\0';
	is_int(handshake(&k, "tcp", "tcp", &sv, NULL, err, sizeof(err)), -EACCES,
	       "a wrong secret fails");
	ok(strstr(err, "did not prove it knows key 'bob'") != NULL, "  the client says (%s)",
	   err);
	k.secret[0] ^= 1;

	/* an unknown name: same answer as a wrong secret */
	snprintf(k.name, sizeof(k.name), "mallory");
	memset(&sv, 0, sizeof(sv));
	err[0] = '\0';
	is_int(handshake(&k, "tcp", "tcp", &sv, NULL, err, sizeof(err)), -EACCES,
	       "an unknown key fails the same way");
	ok(strstr(err, "did not prove it knows key 'mallory'") != NULL, "  (%s)", err);
	ok(!sv.known, "  the server answered without a key of that name");

	/* a client that forges the server-side check still cannot get in:
	 * the server refuses M3 of an unknown name whatever it says */
	memset(&sv, 0, sizeof(sv));
	ms_auth_cli_start(&c, &k, m1, sizeof(m1), &l1);
	ms_auth_srv_hello(&sv, lookup, db, "tcp", 3, m1, l1, m2, sizeof(m2), &l2, err,
			  sizeof(err));
	memset(junk, 0, sizeof(junk));
	is_int(ms_auth_srv_verify(&sv, junk, MS_AUTH_M3_LEN), -EACCES,
	       "an unknown key's proof is refused");
	ms_auth_cli_clear(&c);

	/* another connection's identity */
	snprintf(k.name, sizeof(k.name), "bob");
	memset(&sv, 0, sizeof(sv));
	is_int(handshake(&k, "rdma:1:2", "rdma:1:3", &sv, NULL, err, sizeof(err)), -EACCES,
	       "a proof bound to another connection fails");

	/* malformed messages */
	memset(&sv, 0, sizeof(sv));
	is_int(ms_auth_srv_verify(&sv, junk, MS_AUTH_M3_LEN), -EPROTO, "M3 before M1");
	is_int(ms_auth_srv_hello(&sv, lookup, db, "tcp", 3, junk, 3, m2, sizeof(m2), &l2, err,
				 sizeof(err)),
	       -EBADMSG, "a short M1");
	ms_auth_cli_start(&c, &k, m1, sizeof(m1), &l1);
	m1[0] = 9;
	is_int(ms_auth_srv_hello(&sv, lookup, db, "tcp", 3, m1, l1, m2, sizeof(m2), &l2, err,
				 sizeof(err)),
	       -EBADMSG, "an M1 of another version");
	ok(strstr(err, "version 9") != NULL, "  says so (%s)", err);
	m1[0] = MS_AUTH_VERSION;
	m1[1] = 40;
	is_int(ms_auth_srv_hello(&sv, lookup, db, "tcp", 3, m1, l1, m2, sizeof(m2), &l2, err,
				 sizeof(err)),
	       -EBADMSG, "an M1 whose name length does not fit");
	m1[1] = 3;
	m1[3] = '/';
	is_int(ms_auth_srv_hello(&sv, lookup, db, "tcp", 3, m1, l1, m2, sizeof(m2), &l2, err,
				 sizeof(err)),
	       -EBADMSG, "an M1 with a bad name");
	m1[3] = 'o';
	is_int(ms_auth_srv_hello(&sv, lookup, db, "tcp", 3, m1, l1, m2, sizeof(m2), &l2, err,
				 sizeof(err)),
	       0, "the repaired M1 is answered");
	is_int(ms_auth_srv_hello(&sv, lookup, db, "tcp", 3, m1, l1, m2, sizeof(m2), &l2, err,
				 sizeof(err)),
	       -EPROTO, "a second M1 on one connection is refused");
	is_int(ms_auth_cli_answer(&c, "tcp", 3, m2, l2 - 1, m3, sizeof(m3), &l3, err,
				  sizeof(err)),
	       -EBADMSG, "a short M2");
	is_int(ms_auth_srv_verify(&sv, m3, MS_AUTH_M3_LEN - 1), -EBADMSG, "a short M3");
	ms_auth_cli_clear(&c);
	ok(ms_auth_name_ok("a.b_c@d-e", 9) && !ms_auth_name_ok("", 0) &&
		   !ms_auth_name_ok("a b", 3) &&
		   !ms_auth_name_ok("123456789012345678901234567890123", 33),
	   "key names");
}

int main(void)
{
	test_parse_server();
	test_same();
	test_parse_client();
	test_files();
	test_handshake();
	ms_keydb_put(db);
	return tap_done();
}
