/* SPDX-License-Identifier: Apache-2.0 */
/*
 * config.c - memsyncd's configuration parser (see config.h): region
 * specs, listen addresses, settings by option name and config files.
 * Every rejection names what was wrong and what is accepted, so a typo in
 * a config file is fixed from the message alone.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "units.h"
#include "util.h"

static int fail(char *err, size_t errlen, const char *fmt, ...) MS_PRINTF(3, 4);

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

void msd_config_init(struct msd_config *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->host, sizeof(c->host), "%s", MSD_DEFAULT_HOST);
	snprintf(c->port, sizeof(c->port), "%s", MS_DEFAULT_PORT);
	c->transport = MS_TRANSPORT_AUTO;
	c->log_level = MS_LOG_INFO;
}

void msd_region_free(struct msd_region *r)
{
	free(r->path);
	r->path = NULL;
}

void msd_config_free(struct msd_config *c)
{
	for (size_t i = 0; i < c->nregions; i++)
		msd_region_free(&c->regions[i]);
	free(c->regions);
	free(c->port_file);
	free(c->log_file);
	free(c->tls_cert);
	free(c->tls_key);
	free(c->tls_ca);
	free(c->auth_keys);
	free(c->key_file);
	free(c->metrics_port_file);
	memset(c, 0, sizeof(*c));
}

/* One OPT of a region spec, [opt, opt+n). */
static int region_option(const char *spec, const char *opt, size_t n, struct msd_region *r,
			 bool *have_backing, bool *have_chunk, char *err, size_t errlen)
{
	char val[4096];
	enum ms_backing b;
	uint64_t v;

	if (n == 0)
		return fail(err, errlen, "invalid region '%s': empty option", spec);
	if ((n == 4 && memcmp(opt, "anon", 4) == 0) || (n == 5 && memcmp(opt, "memfd", 5) == 0) ||
	    (n >= 4 && memcmp(opt, "file", 4) == 0 && (n == 4 || opt[4] == '='))) {
		b = opt[0] == 'a' ? MS_BACKING_ANON :
		    opt[0] == 'm' ? MS_BACKING_MEMFD : MS_BACKING_FILE;
		if (*have_backing)
			return fail(err, errlen, "invalid region '%s': more than one backing "
				    "('%s' and '%s')", spec, ms_backing_name(r->backing),
				    ms_backing_name(b));
		if (b == MS_BACKING_FILE) {
			if (n <= 5)
				return fail(err, errlen, "invalid region '%s': 'file' needs a path "
					    "(file=PATH)", spec);
			if (n - 5 >= sizeof(val))
				return fail(err, errlen, "invalid region '%s': file path too long",
					    spec);
			r->path = strndup(opt + 5, n - 5);
			if (!r->path)
				return fail(err, errlen, "out of memory");
		}
		r->backing = b;
		*have_backing = true;
		return 0;
	}
	if (n == 6 && memcmp(opt, "nolock", 6) == 0) {
		r->no_mlock = true;
		return 0;
	}
	if (n > 7 && memcmp(opt, "commit=", 7) == 0) {
		memcpy(val, opt + 7, MS_MIN(n - 7, sizeof(val) - 1));
		val[MS_MIN(n - 7, sizeof(val) - 1)] = '\0';
		if (ms_commit_mode_parse(val, &r->commit))
			return fail(err, errlen, "invalid region '%s': commit mode '%s' is not "
				    "atomic or direct", spec, val);
		return 0;
	}
	if (n > 6 && memcmp(opt, "stage=", 6) == 0) {
		memcpy(val, opt + 6, MS_MIN(n - 6, sizeof(val) - 1));
		val[MS_MIN(n - 6, sizeof(val) - 1)] = '\0';
		if (ms_parse_size(val, &v) < 0 || v == 0)
			return fail(err, errlen, "invalid region '%s': bad staging limit '%s'",
				    spec, val);
		r->stage_limit = v;
		return 0;
	}
	if (n > 6 && memcmp(opt, "chunk=", 6) == 0) {
		if (*have_chunk)
			return fail(err, errlen, "invalid region '%s': chunk size given twice",
				    spec);
		if (n - 6 >= sizeof(val))
			return fail(err, errlen, "invalid region '%s': bad chunk size", spec);
		memcpy(val, opt + 6, n - 6);
		val[n - 6] = '\0';
		if (ms_parse_size(val, &v) < 0 || !ms_is_pow2(v) || v < MS_CHUNK_MIN ||
		    v > MS_CHUNK_MAX)
			return fail(err, errlen, "invalid region '%s': chunk size '%s' is not a "
				    "power of two between 4K and 16M", spec, val);
		r->chunk_size = (uint32_t)v;
		*have_chunk = true;
		return 0;
	}
	return fail(err, errlen, "invalid region '%s': unknown option '%.*s' (anon, memfd, "
		    "file=PATH, chunk=SIZE, nolock, commit=atomic|direct, stage=SIZE)", spec,
		    (int)MS_MIN(n, 200u), opt);
}

int msd_parse_region(const char *spec, struct msd_region *out, char *err, size_t errlen)
{
	struct msd_region r = { .backing = MS_BACKING_ANON };
	bool have_backing = false, have_chunk = false;
	const char *c1, *c2, *p;
	char size_s[64];
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
	size_t n;
	int rc;

	if (!spec || !*spec)
		return fail(err, errlen, "empty region spec (expected NAME:SIZE[:OPTIONS])");
	c1 = strchr(spec, ':');
	if (!c1)
		return fail(err, errlen, "invalid region '%s': expected NAME:SIZE[:OPTIONS]",
			    spec);
	n = (size_t)(c1 - spec);
	if (n == 0 || n > MS_NAME_MAX)
		return fail(err, errlen, "invalid region '%s': the name must be 1 to %d "
			    "characters", spec, MS_NAME_MAX);
	memcpy(r.name, spec, n);
	r.name[n] = '\0';
	if (!ms_name_valid(r.name))
		return fail(err, errlen, "invalid region '%s': bad name '%s' (letters, digits, "
			    "'.', '_' and '-' only)", spec, r.name);

	c2 = strchr(c1 + 1, ':');
	n = c2 ? (size_t)(c2 - c1 - 1) : strlen(c1 + 1);
	if (n == 0)
		return fail(err, errlen, "invalid region '%s': missing size", spec);
	if (n >= sizeof(size_s))
		return fail(err, errlen, "invalid region '%s': bad size", spec);
	memcpy(size_s, c1 + 1, n);
	size_s[n] = '\0';
	rc = ms_parse_size(size_s, &r.size);
	if (rc == -ERANGE)
		return fail(err, errlen, "invalid region '%s': size '%s' is too large", spec,
			    size_s);
	if (rc < 0)
		return fail(err, errlen, "invalid region '%s': bad size '%s' (e.g. 4096, 64M, "
			    "1G)", spec, size_s);
	if (r.size == 0)
		return fail(err, errlen, "invalid region '%s': the size must not be zero", spec);
	if (r.size % page)
		return fail(err, errlen, "invalid region '%s': size %s is not a multiple of "
			    "the page size (%llu)", spec, size_s, (unsigned long long)page);

	if (c2) {
		for (p = c2 + 1;; p += n + 1) {
			const char *comma = strchr(p, ',');

			n = comma ? (size_t)(comma - p) : strlen(p);
			rc = region_option(spec, p, n, &r, &have_backing, &have_chunk, err,
					   errlen);
			if (rc < 0) {
				msd_region_free(&r);
				return rc;
			}
			if (!comma)
				break;
		}
	}
	*out = r;
	return 0;
}

int msd_region_copy(struct msd_region *dst, const struct msd_region *src)
{
	*dst = *src;
	dst->path = NULL;
	if (src->path && !(dst->path = strdup(src->path)))
		return -ENOMEM;
	return 0;
}

/* Append ", WHAT A -> B" to buf at *n (clamped at len). */
static void diff_add(char *buf, size_t len, size_t *n, const char *what, const char *a,
		     const char *b)
{
	int k;

	if (*n >= len)
		return;
	k = snprintf(buf + *n, len - *n, "%s%s %s -> %s", *n ? ", " : "", what, a, b);
	*n = k < 0 ? len : MS_MIN(*n + (size_t)k, len);
}

int msd_region_diff(const struct msd_region *a, const struct msd_region *b, char *buf,
		    size_t len)
{
	uint32_t ca = a->chunk_size ? a->chunk_size : MS_CHUNK_DEFAULT;
	uint32_t cb = b->chunk_size ? b->chunk_size : MS_CHUNK_DEFAULT;
	char x[32], y[32];
	size_t n = 0;
	int diffs = 0;

	if (len)
		buf[0] = '\0';
	if (a->size != b->size) {
		diff_add(buf, len, &n, "size", ms_format_size(a->size, x, sizeof(x)),
			 ms_format_size(b->size, y, sizeof(y)));
		diffs++;
	}
	if (ca != cb) {
		diff_add(buf, len, &n, "chunk", ms_format_size(ca, x, sizeof(x)),
			 ms_format_size(cb, y, sizeof(y)));
		diffs++;
	}
	if (a->commit != b->commit) {
		diff_add(buf, len, &n, "commit", ms_commit_mode_name(a->commit),
			 ms_commit_mode_name(b->commit));
		diffs++;
	}
	if (a->stage_limit != b->stage_limit) {
		diff_add(buf, len, &n, "stage", ms_format_size(a->stage_limit, x, sizeof(x)),
			 ms_format_size(b->stage_limit, y, sizeof(y)));
		diffs++;
	}
	if (a->backing != b->backing) {
		diff_add(buf, len, &n, "backing", ms_backing_name(a->backing),
			 ms_backing_name(b->backing));
		diffs++;
	} else if (a->backing == MS_BACKING_FILE &&
		   strcmp(a->path ? a->path : "", b->path ? b->path : "") != 0) {
		diff_add(buf, len, &n, "file", a->path ? a->path : "", b->path ? b->path : "");
		diffs++;
	}
	if (a->no_mlock != b->no_mlock) {
		diff_add(buf, len, &n, "nolock", a->no_mlock ? "on" : "off",
			 b->no_mlock ? "on" : "off");
		diffs++;
	}
	return diffs;
}

int msd_parse_listen(const char *s, char host[256], char port[8], char *err, size_t errlen)
{
	const char *hs, *he, *ps;
	unsigned long v = 0;
	size_t hn;

	if (!s || !*s)
		return fail(err, errlen, "empty listen address (expected HOST:PORT)");
	if (s[0] == '[') {
		hs = s + 1;
		he = strchr(hs, ']');
		if (!he || he[1] != ':')
			return fail(err, errlen, "invalid listen address '%s' (expected HOST:PORT "
				    "or [IPv6]:PORT)", s);
		ps = he + 2;
	} else {
		hs = s;
		he = strrchr(s, ':');
		if (!he)
			return fail(err, errlen, "invalid listen address '%s' (expected HOST:PORT)",
				    s);
		if (memchr(s, ':', (size_t)(he - s)))
			return fail(err, errlen, "invalid listen address '%s' (an IPv6 address "
				    "needs brackets: [ADDR]:PORT)", s);
		ps = he + 1;
	}
	hn = (size_t)(he - hs);
	if (hn == 0)
		return fail(err, errlen, "invalid listen address '%s': empty host", s);
	if (hn >= 256)
		return fail(err, errlen, "invalid listen address '%s': host name too long", s);
	if (!*ps || strlen(ps) > 5)
		return fail(err, errlen, "invalid listen address '%s': bad port (0..65535)", s);
	for (const char *q = ps; *q; q++) {
		if (!isdigit((unsigned char)*q))
			return fail(err, errlen, "invalid listen address '%s': bad port "
				    "(0..65535)", s);
		v = v * 10 + (unsigned long)(*q - '0');
	}
	if (v > 65535)
		return fail(err, errlen, "invalid listen address '%s': bad port (0..65535)", s);
	memcpy(host, hs, hn);
	host[hn] = '\0';
	snprintf(port, 8, "%lu", v);
	return 0;
}

static int add_region(struct msd_config *c, const char *spec, char *err, size_t errlen)
{
	struct msd_region r, *grown;
	int rc = msd_parse_region(spec, &r, err, errlen);

	if (rc < 0)
		return rc;
	for (size_t i = 0; i < c->nregions; i++) {
		if (strcmp(c->regions[i].name, r.name) == 0) {
			msd_region_free(&r);
			return fail(err, errlen, "region '%s' is defined twice",
				    c->regions[i].name);
		}
	}
	grown = realloc(c->regions, (c->nregions + 1) * sizeof(*grown));
	if (!grown) {
		msd_region_free(&r);
		return fail(err, errlen, "out of memory");
	}
	c->regions = grown;
	c->regions[c->nregions++] = r;
	return 0;
}

/* The resource limits (docs/security.md, "Resource limits"). */
static int set_limit(struct msd_config *c, const char *key, const char *value, char *err,
		     size_t errlen)
{
	unsigned *n = strcmp(key, "max-conns") == 0 ? &c->max_conns
		      : strcmp(key, "max-conns-per-addr") == 0 ? &c->max_conns_per_addr : NULL;
	uint64_t *sz = strcmp(key, "max-peer-mem") == 0 ? &c->max_peer_mem
		       : strcmp(key, "max-mem") == 0 ? &c->max_mem : NULL;
	char *end;

	if (n) {
		unsigned long v = strtoul(value, &end, 10);

		if (!isdigit((unsigned char)*value) || *end || v < 1 || v > 1000000)
			return fail(err, errlen, "invalid %s '%s' (1 to 1000000)", key, value);
		*n = (unsigned)v;
		return 0;
	}
	if (sz) {
		uint64_t v;

		if (ms_parse_size(value, &v) < 0 || v < 65536 || v > (1ull << 40))
			return fail(err, errlen, "invalid %s '%s' (a size, 64K to 1T)", key, value);
		*sz = v;
		return 0;
	}
	if (strcmp(key, "idle-timeout") == 0) {
		double secs = strtod(value, &end);

		if (!*value || *end || !(secs >= 0.05 && secs <= 86400))
			return fail(err, errlen, "invalid idle timeout '%s' (seconds, 0.05 to "
				    "86400)", value);
		c->idle_timeout_ms = (unsigned)(secs * 1000 + 0.5);
		return 0;
	}
	return fail(err, errlen, "unknown key '%s'", key);
}

int msd_config_set(struct msd_config *c, const char *key, const char *value, char *err,
		   size_t errlen)
{
	char host[256], port[8];
	int rc;

	if (strcmp(key, "region") == 0)
		return add_region(c, value, err, errlen);
	if (strcmp(key, "listen") == 0) {
		rc = msd_parse_listen(value, host, port, err, errlen);
		if (rc < 0)
			return rc;
		memcpy(c->host, host, sizeof(host));
		memcpy(c->port, port, sizeof(port));
		return 0;
	}
	if (strcmp(key, "transport") == 0) {
		if (ms_transport_parse(value, &c->transport) < 0)
			return fail(err, errlen, "invalid transport '%s' (auto, tcp or rdma)",
				    value);
		return 0;
	}
	if (strcmp(key, "log-level") == 0) {
		if (ms_log_parse_level(value, &c->log_level) < 0)
			return fail(err, errlen, "invalid log level '%s' (error, warn, info or "
				    "debug)", value);
		return 0;
	}
	if (strcmp(key, "lease-ttl") == 0) {
		char *end;
		double secs = strtod(value, &end);

		if (!*value || *end || !(secs >= 0.05 && secs <= 86400))
			return fail(err, errlen, "invalid lease time to live '%s' (seconds, "
				    "0.05 to 86400)", value);
		c->lease_ttl_ms = (unsigned)(secs * 1000 + 0.5);
		return 0;
	}
	if (strcmp(key, "insecure") == 0 || strcmp(key, "syslog") == 0) {
		bool *b = key[0] == 'i' ? &c->insecure : &c->syslog;

		if (!strcmp(value, "yes") || !strcmp(value, "true") || !strcmp(value, "1"))
			*b = true;
		else if (!strcmp(value, "no") || !strcmp(value, "false") || !strcmp(value, "0"))
			*b = false;
		else
			return fail(err, errlen, "invalid value '%s' for %s (yes or no)", value,
				    key);
		return 0;
	}
	if (strcmp(key, "metrics") == 0) {
		if (msd_parse_listen(value, c->metrics_host, c->metrics_port, err, errlen) < 0)
			return -EINVAL;
		c->metrics = true;
		return 0;
	}
	if (strcmp(key, "metrics-port-file") == 0) {
		char *dup = *value ? strdup(value) : NULL;

		if (!dup)
			return fail(err, errlen, *value ? "out of memory" : "empty metrics port "
				    "file name");
		free(c->metrics_port_file);
		c->metrics_port_file = dup;
		return 0;
	}
	if (strncmp(key, "max-", 4) == 0 || strcmp(key, "idle-timeout") == 0)
		return set_limit(c, key, value, err, errlen);
	if (strcmp(key, "port-file") == 0 || strcmp(key, "log-file") == 0 ||
	    strcmp(key, "auth-keys") == 0 || strcmp(key, "key-file") == 0 ||
	    strncmp(key, "tls-", 4) == 0) {
		char **dst = key[0] == 'p'		  ? &c->port_file
			     : key[0] == 'l'		  ? &c->log_file
			     : key[0] == 'a'		  ? &c->auth_keys
			     : key[0] == 'k'		  ? &c->key_file
			     : strcmp(key, "tls-cert") == 0 ? &c->tls_cert
			     : strcmp(key, "tls-key") == 0  ? &c->tls_key
			     : strcmp(key, "tls-ca") == 0   ? &c->tls_ca
							    : NULL;
		char *dup;

		if (!dst)
			return fail(err, errlen, "unknown key '%s' (tls-cert, tls-key, tls-ca)",
				    key);
		if (!*value)
			return fail(err, errlen, "empty %s name", key[0] == 'p' ? "port file" :
				    key[0] == 'l'		       ? "log file"
				    : key[0] == 'a' || key[0] == 'k' ? "key file"
								     : key);
		dup = strdup(value);
		if (!dup)
			return fail(err, errlen, "out of memory");
		free(*dst);
		*dst = dup;
		return 0;
	}
	if (strcmp(key, "config") == 0)
		return fail(err, errlen, "'config' cannot be used inside a config file");
	return fail(err, errlen, "unknown key '%s' (listen, region, transport, log-level, "
		    "port-file, log-file, lease-ttl, auth-keys, insecure, key-file, tls-cert, "
		    "tls-key, tls-ca, metrics, metrics-port-file)", key);
}

/* Cut a comment off: a '#' that starts a word. */
static void strip_comment(char *s)
{
	for (char *p = s; *p; p++) {
		if (*p == '#' && (p == s || isspace((unsigned char)p[-1]))) {
			*p = '\0';
			return;
		}
	}
}

int msd_config_read(struct msd_config *c, FILE *f, const char *fname, char *err,
		    size_t errlen)
{
	char *line = NULL, *key, *val, *end, msg[1024];
	size_t cap = 0;
	unsigned long lineno = 0;
	ssize_t len;
	int rc = 0;

	errno = 0;
	while ((len = getline(&line, &cap, f)) >= 0) {
		lineno++;
		if (memchr(line, '\0', (size_t)len)) {
			rc = fail(err, errlen, "%s:%lu: NUL byte in line", fname, lineno);
			break;
		}
		strip_comment(line);
		key = line;
		while (isspace((unsigned char)*key))
			key++;
		if (!*key)
			continue;
		val = key;
		while (*val && !isspace((unsigned char)*val))
			val++;
		if (*val)
			*val++ = '\0';
		while (isspace((unsigned char)*val))
			val++;
		end = val + strlen(val);
		while (end > val && isspace((unsigned char)end[-1]))
			*--end = '\0';
		if (!*val) {
			rc = fail(err, errlen, "%s:%lu: '%s' needs a value (KEY VALUE)", fname,
				  lineno, key);
			break;
		}
		rc = msd_config_set(c, key, val, msg, sizeof(msg));
		if (rc < 0) {
			fail(err, errlen, "%s:%lu: %s", fname, lineno, msg);
			break;
		}
	}
	if (rc == 0 && ferror(f)) {
		rc = errno ? -errno : -EIO;
		fail(err, errlen, "%s: %s", fname, strerror(-rc));
	}
	free(line);
	return rc;
}

int msd_config_load(struct msd_config *c, const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "re");
	int rc;

	if (!f) {
		rc = -errno;
		if (err && errlen)
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return rc;
	}
	rc = msd_config_read(c, f, path, err, errlen);
	fclose(f);
	return rc;
}
