/* SPDX-License-Identifier: Apache-2.0 */
/*
 * auth.c - key files, the key database and the handshake (auth.h).
 *
 * The MACs are HMAC-SHA-256 from OpenSSL's libcrypto, compared with
 * CRYPTO_memcmp; secrets are wiped with OPENSSL_cleanse when a handshake
 * or a database is done with them.  Nonces come from getrandom().
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "auth.h"
#include "memsync.h"
#include "util.h"

#define KEYFILE_MAX (1u << 20)          /* a key file larger than this is refused */
#define LABEL_SERVER "memsync-auth-v1 server"
#define LABEL_CLIENT "memsync-auth-v1 client"

struct keyent {
	char name[MS_AUTH_NAME_MAX + 1];
	uint8_t secret[MS_AUTH_SECRET_MAX];
	size_t secret_len;
	enum ms_grant grant;
	bool all;                       /* REGIONS is "*" */
	char **regions;                 /* else these */
	size_t nregions;
};

struct ms_keydb {
	int refs;                       /* __atomic */
	struct keyent *ents;
	size_t n;
};

static int fail(int rc, char *err, size_t errlen, const char *fmt, ...) MS_PRINTF(4, 5);

static int fail(int rc, char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return rc;
}

int ms_auth_random(void *buf, size_t len)
{
	uint8_t *p = buf;
	ssize_t r;

	while (len) {
		r = getrandom(p, len, 0);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += r;
		len -= (size_t)r;
	}
	return 0;
}

bool ms_auth_name_ok(const char *name, size_t len)
{
	if (!name || len == 0 || len > MS_AUTH_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];

		if (!isalnum(c) && c != '.' && c != '_' && c != '@' && c != '-')
			return false;
	}
	return true;
}

/* ------------------------------------------------------------ key files */

/* Open path and check it is a regular file only its owner (us) can
 * read: the fd, or -errno with the reason in err. */
static int open_private(const char *path, char *err, size_t errlen)
{
	struct stat st;
	int fd, rc;

	if (!path || !*path)
		return fail(-EINVAL, err, errlen, "no key file given");
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		rc = -errno;
		return fail(rc, err, errlen, "key file %s: %s", path, strerror(-rc));
	}
	if (fstat(fd, &st)) {
		rc = -errno;
		close(fd);
		return fail(rc, err, errlen, "key file %s: %s", path, strerror(-rc));
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return fail(-EINVAL, err, errlen, "key file %s is not a regular file", path);
	}
	if (st.st_uid != geteuid()) {
		close(fd);
		return fail(-EPERM, err, errlen,
			    "key file %s belongs to uid %u, not to this user (uid %u): refused",
			    path, (unsigned)st.st_uid, (unsigned)geteuid());
	}
	if (st.st_mode & 077) {
		close(fd);
		return fail(-EPERM, err, errlen,
			    "key file %s may be read or written by others (mode %04o): refused; "
			    "chmod 600 %s",
			    path, (unsigned)(st.st_mode & 07777), path);
	}
	if (st.st_size > (off_t)KEYFILE_MAX) {
		close(fd);
		return fail(-EFBIG, err, errlen, "key file %s is larger than %u bytes", path,
			    KEYFILE_MAX);
	}
	return fd;
}

int ms_keyfile_check(const char *path, char *err, size_t errlen)
{
	int fd = open_private(path, err, errlen);

	if (fd < 0)
		return fd;
	close(fd);
	return 0;
}

/* The whole file, NUL-terminated (malloc'ed), after the checks. */
static int read_private(const char *path, char **out, size_t *len, char *err, size_t errlen)
{
	size_t cap = 4096, n = 0;
	char *buf = NULL, *nb;
	ssize_t r;
	int fd, rc = 0;

	fd = open_private(path, err, errlen);
	if (fd < 0)
		return fd;
	buf = malloc(cap);
	if (!buf) {
		close(fd);
		return fail(-ENOMEM, err, errlen, "out of memory");
	}
	for (;;) {
		if (n + 1 >= cap) {
			cap *= 2;
			if (cap > KEYFILE_MAX + 1) {
				rc = fail(-EFBIG, err, errlen, "key file %s is too large", path);
				break;
			}
			nb = realloc(buf, cap);
			if (!nb) {
				rc = fail(-ENOMEM, err, errlen, "out of memory");
				break;
			}
			buf = nb;
		}
		r = read(fd, buf + n, cap - n - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = -errno;
			fail(rc, err, errlen, "key file %s: %s", path, strerror(-rc));
			break;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	if (rc) {
		OPENSSL_cleanse(buf, n);
		free(buf);
		return rc;
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return 0;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int parse_secret(const char *tok, size_t len, uint8_t *out, size_t *outlen)
{
	if (len % 2 || len < 2 * MS_AUTH_SECRET_MIN || len > 2 * MS_AUTH_SECRET_MAX)
		return -EINVAL;
	for (size_t i = 0; i < len; i += 2) {
		int hi = hexval((unsigned char)tok[i]), lo = hexval((unsigned char)tok[i + 1]);

		if (hi < 0 || lo < 0)
			return -EINVAL;
		out[i / 2] = (uint8_t)(hi << 4 | lo);
	}
	*outlen = len / 2;
	return 0;
}

/* Split one line into at most max whitespace-separated tokens. */
static size_t tokenize(const char *line, size_t len, const char **tok, size_t *tlen, size_t max)
{
	size_t n = 0, i = 0;

	while (i < len) {
		while (i < len && isspace((unsigned char)line[i]))
			i++;
		if (i >= len)
			break;
		if (n == max)
			return max + 1;
		tok[n] = line + i;
		while (i < len && !isspace((unsigned char)line[i]))
			i++;
		tlen[n] = (size_t)(line + i - tok[n]);
		n++;
	}
	return n;
}

/* Calls fn for each key line (comments and blank lines skipped) with its
 * number; stops at fn's first non-zero return. */
static int each_line(const char *text, size_t len,
		     int (*fn)(void *ud, unsigned lineno, const char *line, size_t llen),
		     void *ud)
{
	size_t i = 0;
	unsigned lineno = 0;
	int rc;

	while (i < len) {
		const char *line = text + i;
		const char *nl = memchr(line, '\n', len - i);
		size_t llen = nl ? (size_t)(nl - line) : len - i;
		size_t j = 0;

		i += llen + (nl ? 1 : 0);
		lineno++;
		while (j < llen && isspace((unsigned char)line[j]))
			j++;
		if (j == llen || line[j] == '#')
			continue;
		rc = fn(ud, lineno, line, llen);
		if (rc)
			return rc;
	}
	return 0;
}

struct cli_parse {
	struct ms_authkey *key;
	char *err;
	size_t errlen;
	bool found;
};

static int cli_line(void *ud, unsigned lineno, const char *line, size_t llen)
{
	struct cli_parse *cp = ud;
	const char *tok[5];
	size_t tlen[5], n;

	n = tokenize(line, llen, tok, tlen, 4);
	if (n < 2 || n > 4)
		return fail(-EINVAL, cp->err, cp->errlen,
			    "line %u: expected NAME SECRET (the rest of a server line may follow)",
			    lineno);
	if (!ms_auth_name_ok(tok[0], tlen[0]))
		return fail(-EINVAL, cp->err, cp->errlen,
			    "line %u: a key name is 1 to %d characters of A-Z a-z 0-9 . _ @ -",
			    lineno, MS_AUTH_NAME_MAX);
	if (parse_secret(tok[1], tlen[1], cp->key->secret, &cp->key->secret_len))
		return fail(-EINVAL, cp->err, cp->errlen,
			    "line %u: the secret must be %d to %d hex digits (%d to %d bits)",
			    lineno, 2 * MS_AUTH_SECRET_MIN, 2 * MS_AUTH_SECRET_MAX,
			    8 * MS_AUTH_SECRET_MIN, 8 * MS_AUTH_SECRET_MAX);
	memcpy(cp->key->name, tok[0], tlen[0]);
	cp->key->name[tlen[0]] = '\0';
	cp->found = true;
	return 1;       /* the first key line is the one */
}

int ms_authkey_parse(const char *text, size_t len, struct ms_authkey *out, char *err,
		     size_t errlen)
{
	struct cli_parse cp = { .key = out, .err = err, .errlen = errlen };
	int rc;

	memset(out, 0, sizeof(*out));
	rc = each_line(text, len, cli_line, &cp);
	if (rc < 0) {
		OPENSSL_cleanse(out, sizeof(*out));
		return rc;
	}
	if (!cp.found)
		return fail(-EINVAL, err, errlen, "no key line (NAME SECRET) in the key file");
	return 0;
}

/* Read the key file at path (owner-only) and hand its text to parse,
 * which writes into out; the text is wiped after. */
static int load_private(const char *path, int (*parse)(const char *text, size_t len, void *out,
						 char *err, size_t errlen),
			void *out, char *err, size_t errlen)
{
	char msg[200], *text = NULL;
	size_t len = 0;
	int rc;

	rc = read_private(path, &text, &len, err, errlen);
	if (rc)
		return rc;
	rc = parse(text, len, out, msg, sizeof(msg));
	if (rc)
		fail(rc, err, errlen, "key file %s: %s", path, msg);
	OPENSSL_cleanse(text, len);
	free(text);
	return rc;
}

static int parse_authkey(const char *text, size_t len, void *out, char *err, size_t errlen)
{
	return ms_authkey_parse(text, len, out, err, errlen);
}

int ms_authkey_load(const char *path, struct ms_authkey *out, char *err, size_t errlen)
{
	return load_private(path, parse_authkey, out, err, errlen);
}

/* --------------------------------------------------------- the database */

static void keyent_fini(struct keyent *k)
{
	for (size_t i = 0; i < k->nregions; i++)
		free(k->regions[i]);
	free(k->regions);
	OPENSSL_cleanse(k->secret, sizeof(k->secret));
}

static void keydb_free(struct ms_keydb *db)
{
	for (size_t i = 0; i < db->n; i++)
		keyent_fini(&db->ents[i]);
	free(db->ents);
	free(db);
}

static struct keyent *find(const struct ms_keydb *db, const char *name)
{
	if (!db || !name)
		return NULL;
	for (size_t i = 0; i < db->n; i++)
		if (strcmp(db->ents[i].name, name) == 0)
			return &db->ents[i];
	return NULL;
}

struct srv_parse {
	struct ms_keydb *db;
	size_t cap;
	char *err;
	size_t errlen;
};

static int parse_regions(struct keyent *k, const char *tok, size_t len)
{
	size_t i = 0;

	if (len == 1 && tok[0] == '*') {
		k->all = true;
		return 0;
	}
	while (i <= len) {
		const char *start = tok + i;
		const char *comma = memchr(start, ',', len - i);
		size_t n = comma ? (size_t)(comma - start) : len - i;
		char **nr;

		if (n == 0 || n > MS_NAME_MAX)
			return -EINVAL;
		for (size_t j = 0; j < n; j++)
			if (start[j] == '*')
				return -EINVAL;
		nr = realloc(k->regions, (k->nregions + 1) * sizeof(*nr));
		if (!nr)
			return -ENOMEM;
		k->regions = nr;
		k->regions[k->nregions] = strndup(start, n);
		if (!k->regions[k->nregions])
			return -ENOMEM;
		k->nregions++;
		i += n + 1;
		if (!comma)
			break;
	}
	return 0;
}

static int srv_line(void *ud, unsigned lineno, const char *line, size_t llen)
{
	struct srv_parse *sp = ud;
	struct keyent k = { 0 };
	const char *tok[5];
	size_t tlen[5], n;
	int rc;

	n = tokenize(line, llen, tok, tlen, 4);
	if (n != 4)
		return fail(-EINVAL, sp->err, sp->errlen,
			    "line %u: expected NAME SECRET GRANT REGIONS", lineno);
	if (!ms_auth_name_ok(tok[0], tlen[0]))
		return fail(-EINVAL, sp->err, sp->errlen,
			    "line %u: a key name is 1 to %d characters of A-Z a-z 0-9 . _ @ -",
			    lineno, MS_AUTH_NAME_MAX);
	memcpy(k.name, tok[0], tlen[0]);
	if (find(sp->db, k.name))
		return fail(-EINVAL, sp->err, sp->errlen, "line %u: key '%s' defined twice",
			    lineno, k.name);
	if (parse_secret(tok[1], tlen[1], k.secret, &k.secret_len))
		return fail(-EINVAL, sp->err, sp->errlen,
			    "line %u: the secret must be %d to %d hex digits (%d to %d bits)",
			    lineno, 2 * MS_AUTH_SECRET_MIN, 2 * MS_AUTH_SECRET_MAX,
			    8 * MS_AUTH_SECRET_MIN, 8 * MS_AUTH_SECRET_MAX);
	if (tlen[2] == 4 && memcmp(tok[2], "read", 4) == 0) {
		k.grant = MS_GRANT_READ;
	} else if (tlen[2] == 10 && memcmp(tok[2], "read-write", 10) == 0) {
		k.grant = MS_GRANT_RW;
	} else {
		OPENSSL_cleanse(k.secret, sizeof(k.secret));
		return fail(-EINVAL, sp->err, sp->errlen,
			    "line %u: the grant must be 'read' or 'read-write'", lineno);
	}
	rc = parse_regions(&k, tok[3], tlen[3]);
	if (rc) {
		keyent_fini(&k);
		return fail(rc, sp->err, sp->errlen,
			    rc == -ENOMEM ? "out of memory"
					  : "line %u: regions are '*' or a comma-separated list "
					    "of region names",
			    lineno);
	}
	if (sp->db->n == sp->cap) {
		size_t nc = sp->cap ? 2 * sp->cap : 8;
		struct keyent *ne = realloc(sp->db->ents, nc * sizeof(*ne));

		if (!ne) {
			keyent_fini(&k);
			return fail(-ENOMEM, sp->err, sp->errlen, "out of memory");
		}
		sp->db->ents = ne;
		sp->cap = nc;
	}
	sp->db->ents[sp->db->n++] = k;
	return 0;
}

int ms_keydb_parse(const char *text, size_t len, struct ms_keydb **out, char *err,
		   size_t errlen)
{
	struct srv_parse sp = { .err = err, .errlen = errlen };
	int rc;

	sp.db = calloc(1, sizeof(*sp.db));
	if (!sp.db)
		return fail(-ENOMEM, err, errlen, "out of memory");
	sp.db->refs = 1;
	rc = each_line(text, len, srv_line, &sp);
	if (!rc && sp.db->n == 0)
		rc = fail(-EINVAL, err, errlen, "no key line (NAME SECRET GRANT REGIONS)");
	if (rc) {
		keydb_free(sp.db);
		return rc;
	}
	*out = sp.db;
	return 0;
}

static int parse_keydb(const char *text, size_t len, void *out, char *err, size_t errlen)
{
	return ms_keydb_parse(text, len, out, err, errlen);
}

int ms_keydb_load(const char *path, struct ms_keydb **out, char *err, size_t errlen)
{
	return load_private(path, parse_keydb, out, err, errlen);
}

struct ms_keydb *ms_keydb_get(struct ms_keydb *db)
{
	if (db)
		__atomic_add_fetch(&db->refs, 1, __ATOMIC_RELAXED);
	return db;
}

void ms_keydb_put(struct ms_keydb *db)
{
	if (db && __atomic_sub_fetch(&db->refs, 1, __ATOMIC_ACQ_REL) == 0)
		keydb_free(db);
}

size_t ms_keydb_count(const struct ms_keydb *db)
{
	return db ? db->n : 0;
}

int ms_keydb_secret(const struct ms_keydb *db, const char *name, uint8_t *secret, size_t *len)
{
	const struct keyent *k = find(db, name);

	if (!k)
		return -ENOENT;
	memcpy(secret, k->secret, k->secret_len);
	*len = k->secret_len;
	return 0;
}

static bool covers(const struct keyent *k, const char *region)
{
	if (k->all)
		return true;
	for (size_t i = 0; i < k->nregions; i++)
		if (strcmp(k->regions[i], region) == 0)
			return true;
	return false;
}

enum ms_grant ms_keydb_grant(const struct ms_keydb *db, const char *name, const char *region)
{
	const struct keyent *k = find(db, name);

	if (!k || !region || !covers(k, region))
		return MS_GRANT_NONE;
	return k->grant;
}

enum ms_grant ms_keydb_max_grant(const struct ms_keydb *db, const char *name)
{
	const struct keyent *k = find(db, name);

	return k ? k->grant : MS_GRANT_NONE;
}

bool ms_keydb_same(const struct ms_keydb *old, const struct ms_keydb *db, const char *name)
{
	const struct keyent *a = find(old, name), *b = find(db, name);

	if (!a || !b || a->secret_len != b->secret_len ||
	    CRYPTO_memcmp(a->secret, b->secret, a->secret_len) || b->grant < a->grant)
		return false;
	if (b->all)
		return true;
	if (a->all)
		return false;
	for (size_t i = 0; i < a->nregions; i++)
		if (!covers(b, a->regions[i]))
			return false;
	return true;
}

/* -------------------------------------------------------- the handshake */

/* HMAC-SHA-256(secret, label | name | nc | ns | bind), each part
 * length-prefixed (one byte, two for bind). */
static int mac(const uint8_t *secret, size_t slen, const char *label, const char *name,
	       const uint8_t *nc, const uint8_t *ns, const uint8_t *bind, size_t bindlen,
	       uint8_t out[MS_AUTH_MAC])
{
	uint8_t msg[1 + 32 + 1 + MS_AUTH_NAME_MAX + MS_AUTH_NONCE_C + MS_AUTH_NONCE_S + 2 +
		    MS_AUTH_BIND_MAX];
	size_t llen = strlen(label), nlen = strlen(name), n = 0;
	unsigned olen = 0;

	if (llen > 32 || nlen > MS_AUTH_NAME_MAX || bindlen > MS_AUTH_BIND_MAX)
		return -EINVAL;
	msg[n++] = (uint8_t)llen;
	memcpy(msg + n, label, llen);
	n += llen;
	msg[n++] = (uint8_t)nlen;
	memcpy(msg + n, name, nlen);
	n += nlen;
	memcpy(msg + n, nc, MS_AUTH_NONCE_C);
	n += MS_AUTH_NONCE_C;
	memcpy(msg + n, ns, MS_AUTH_NONCE_S);
	n += MS_AUTH_NONCE_S;
	msg[n++] = (uint8_t)(bindlen & 0xff);
	msg[n++] = (uint8_t)(bindlen >> 8);
	if (bindlen)
		memcpy(msg + n, bind, bindlen);
	n += bindlen;
	if (!HMAC(EVP_sha256(), secret, (int)slen, msg, n, out, &olen) || olen != MS_AUTH_MAC)
		return -EIO;
	return 0;
}

int ms_auth_cli_start(struct ms_auth_cli *a, const struct ms_authkey *key, void *buf,
		      size_t cap, size_t *len)
{
	size_t nlen;
	uint8_t *p = buf;
	int rc;

	if (!a || !key || !buf || !len)
		return -EINVAL;
	nlen = strnlen(key->name, sizeof(key->name));
	if (!ms_auth_name_ok(key->name, nlen) || key->secret_len < MS_AUTH_SECRET_MIN ||
	    key->secret_len > MS_AUTH_SECRET_MAX)
		return -EINVAL;
	if (cap < 2 + nlen + MS_AUTH_NONCE_C)
		return -ENOSPC;
	memset(a, 0, sizeof(*a));
	a->key = *key;
	rc = ms_auth_random(a->nc, sizeof(a->nc));
	if (rc)
		return rc;
	p[0] = MS_AUTH_VERSION;
	p[1] = (uint8_t)nlen;
	memcpy(p + 2, key->name, nlen);
	memcpy(p + 2 + nlen, a->nc, MS_AUTH_NONCE_C);
	*len = 2 + nlen + MS_AUTH_NONCE_C;
	return 0;
}

int ms_auth_cli_answer(struct ms_auth_cli *a, const void *bind, size_t bindlen,
		       const void *m2, size_t m2len, void *buf, size_t cap, size_t *len,
		       char *err, size_t errlen)
{
	uint8_t want[MS_AUTH_MAC];
	const uint8_t *p = m2;
	int rc;

	if (!a || !buf || !len || bindlen > MS_AUTH_BIND_MAX || (bindlen && !bind))
		return -EINVAL;
	if (!m2 || m2len != MS_AUTH_M2_LEN)
		return fail(-EBADMSG, err, errlen,
			    "malformed authentication challenge (%zu bytes, expected %d)", m2len,
			    MS_AUTH_M2_LEN);
	if (cap < MS_AUTH_M3_LEN)
		return -ENOSPC;
	memcpy(a->ns, p, MS_AUTH_NONCE_S);
	rc = mac(a->key.secret, a->key.secret_len, LABEL_SERVER, a->key.name, a->nc, a->ns,
		 bind, bindlen, want);
	if (rc)
		return fail(rc, err, errlen, "cannot compute HMAC-SHA-256");
	if (CRYPTO_memcmp(want, p + MS_AUTH_NONCE_S, MS_AUTH_MAC))
		return fail(-EACCES, err, errlen,
			    "authentication failed: the server did not prove it knows key '%s' "
			    "(unknown key, a different secret, or not the server meant)",
			    a->key.name);
	rc = mac(a->key.secret, a->key.secret_len, LABEL_CLIENT, a->key.name, a->nc, a->ns,
		 bind, bindlen, buf);
	if (rc)
		return fail(rc, err, errlen, "cannot compute HMAC-SHA-256");
	*len = MS_AUTH_M3_LEN;
	return 0;
}

void ms_auth_cli_clear(struct ms_auth_cli *a)
{
	if (a)
		OPENSSL_cleanse(a, sizeof(*a));
}

int ms_auth_srv_hello(struct ms_auth_srv *a, ms_auth_lookup_fn lookup, void *ud,
		      const void *bind, size_t bindlen, const void *m1, size_t m1len,
		      void *buf, size_t cap, size_t *len, char *err, size_t errlen)
{
	const uint8_t *p = m1;
	uint8_t *out = buf;
	size_t nlen;
	int rc;

	if (!a || !lookup || !buf || !len || bindlen > MS_AUTH_BIND_MAX || (bindlen && !bind))
		return -EINVAL;
	if (cap < MS_AUTH_M2_LEN)
		return -ENOSPC;
	if (a->hello_done)
		return fail(-EPROTO, err, errlen, "authentication started twice");
	if (!m1 || m1len < MS_AUTH_M1_MIN)
		return fail(-EBADMSG, err, errlen, "malformed authentication request (%zu bytes)",
			    m1len);
	if (p[0] != MS_AUTH_VERSION)
		return fail(-EBADMSG, err, errlen,
			    "authentication version %u not supported (this server speaks %d)",
			    p[0], MS_AUTH_VERSION);
	nlen = p[1];
	if (m1len != 2 + nlen + MS_AUTH_NONCE_C || !ms_auth_name_ok((const char *)p + 2, nlen))
		return fail(-EBADMSG, err, errlen, "malformed authentication request");
	memset(a, 0, sizeof(*a));
	memcpy(a->name, p + 2, nlen);
	a->name[nlen] = '\0';
	memcpy(a->nc, p + 2 + nlen, MS_AUTH_NONCE_C);
	if (bindlen)
		memcpy(a->bind, bind, bindlen);
	a->bindlen = bindlen;
	a->known = lookup(ud, a->name, a->secret, &a->secret_len) == 0 &&
		   a->secret_len >= MS_AUTH_SECRET_MIN && a->secret_len <= MS_AUTH_SECRET_MAX;
	if (!a->known) {
		/* answer as if it existed: a proof under a random secret */
		a->secret_len = MS_AUTH_SECRET_MIN;
		rc = ms_auth_random(a->secret, a->secret_len);
		if (rc)
			goto fail;
	}
	rc = ms_auth_random(a->ns, sizeof(a->ns));
	if (rc)
		goto fail;
	rc = mac(a->secret, a->secret_len, LABEL_SERVER, a->name, a->nc, a->ns, a->bind,
		 a->bindlen, out + MS_AUTH_NONCE_S);
	if (rc)
		goto fail;
	memcpy(out, a->ns, MS_AUTH_NONCE_S);
	*len = MS_AUTH_M2_LEN;
	a->hello_done = true;
	return 0;
fail:
	ms_auth_srv_clear(a);
	return fail(rc, err, errlen, "authentication: %s", strerror(-rc));
}

int ms_auth_srv_verify(struct ms_auth_srv *a, const void *m3, size_t m3len)
{
	uint8_t want[MS_AUTH_MAC];
	int rc;

	if (!a)
		return -EINVAL;
	if (!a->hello_done) {
		ms_auth_srv_clear(a);
		return -EPROTO;
	}
	if (!m3 || m3len != MS_AUTH_M3_LEN) {
		ms_auth_srv_clear(a);
		return -EBADMSG;
	}
	rc = mac(a->secret, a->secret_len, LABEL_CLIENT, a->name, a->nc, a->ns, a->bind,
		 a->bindlen, want);
	if (!rc && (CRYPTO_memcmp(want, m3, MS_AUTH_MAC) != 0 || !a->known))
		rc = -EACCES;
	OPENSSL_cleanse(want, sizeof(want));
	OPENSSL_cleanse(a->secret, sizeof(a->secret));
	a->hello_done = false;
	return rc;
}

void ms_auth_srv_clear(struct ms_auth_srv *a)
{
	if (a)
		OPENSSL_cleanse(a, sizeof(*a));
}
