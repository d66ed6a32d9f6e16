/* SPDX-License-Identifier: Apache-2.0 */
/*
 * jsonw.c - the JSON writer behind --json (see jsonw.h).
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "jsonw.h"

void jw_init(struct jsonw *w, FILE *f)
{
	memset(w, 0, sizeof(*w));
	w->f = f;
}

static void fail(struct jsonw *w, int err)
{
	if (!w->err)
		w->err = err;
}

static void put(struct jsonw *w, const char *s, size_t n)
{
	if (w->err)
		return;
	errno = 0;
	if (n && fwrite(s, 1, n, w->f) != n)
		fail(w, errno ? -errno : -EIO);
}

static void puts_(struct jsonw *w, const char *s)
{
	put(w, s, strlen(s));
}

/* Everything that starts a value: check it is allowed here and write the
 * comma that separates it from the previous one. */
static bool value_start(struct jsonw *w)
{
	if (w->err)
		return false;
	if (w->depth == 0) {
		if (w->done) {
			fail(w, -EINVAL); /* a second top-level value */
			return false;
		}
		return true;
	}
	if (w->in_obj[w->depth - 1]) {
		if (!w->key_pending) {
			fail(w, -EINVAL); /* value without a key */
			return false;
		}
		w->key_pending = false;
		return true;
	}
	if (w->has_items[w->depth - 1])
		put(w, ",", 1);
	w->has_items[w->depth - 1] = true;
	return true;
}

static void value_end(struct jsonw *w)
{
	if (w->depth == 0)
		w->done = true;
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0 if invalid. */
static size_t utf8_len(const unsigned char *s)
{
	unsigned c = s[0];

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		return (s[1] & 0xc0) == 0x80 ? 2 : 0;
	if (c >= 0xe0 && c <= 0xef) {
		/* no overlong forms, no UTF-16 surrogates */
		if ((c == 0xe0 && s[1] < 0xa0) || (c == 0xed && s[1] > 0x9f))
			return 0;
		return (s[1] & 0xc0) == 0x80 && (s[2] & 0xc0) == 0x80 ? 3 : 0;
	}
	if (c >= 0xf0 && c <= 0xf4) {
		/* no overlong forms, nothing above U+10FFFF */
		if ((c == 0xf0 && s[1] < 0x90) || (c == 0xf4 && s[1] > 0x8f))
			return 0;
		return (s[1] & 0xc0) == 0x80 && (s[2] & 0xc0) == 0x80 &&
			       (s[3] & 0xc0) == 0x80 ? 4 : 0;
	}
	return 0;
}

static void put_string(struct jsonw *w, const char *str)
{
	const unsigned char *s = (const unsigned char *)(str ? str : "");
	char esc[8];

	put(w, "\"", 1);
	while (*s) {
		size_t n;

		switch (*s) {
		case '"': puts_(w, "\\\""); s++; continue;
		case '\\': puts_(w, "\\\\"); s++; continue;
		case '\b': puts_(w, "\\b"); s++; continue;
		case '\f': puts_(w, "\\f"); s++; continue;
		case '\n': puts_(w, "\\n"); s++; continue;
		case '\r': puts_(w, "\\r"); s++; continue;
		case '\t': puts_(w, "\\t"); s++; continue;
		default: break;
		}
		if (*s < 0x20) {
			snprintf(esc, sizeof(esc), "\\u%04x", *s);
			puts_(w, esc);
			s++;
			continue;
		}
		/* utf8_len stops at the NUL terminator: continuation bytes
		 * are never 0, so a truncated sequence is simply invalid */
		n = utf8_len(s);
		if (n == 0) {
			puts_(w, "\\ufffd");
			s++;
			continue;
		}
		put(w, (const char *)s, n);
		s += n;
	}
	put(w, "\"", 1);
}

static void begin(struct jsonw *w, bool obj)
{
	if (!value_start(w))
		return;
	if (w->depth >= JW_MAX_DEPTH) {
		fail(w, -EINVAL);
		return;
	}
	put(w, obj ? "{" : "[", 1);
	w->in_obj[w->depth] = obj;
	w->has_items[w->depth] = false;
	w->depth++;
}

static void end(struct jsonw *w, bool obj)
{
	if (w->err)
		return;
	if (w->depth == 0 || w->in_obj[w->depth - 1] != obj || w->key_pending) {
		fail(w, -EINVAL);
		return;
	}
	w->depth--;
	put(w, obj ? "}" : "]", 1);
	value_end(w);
}

void jw_obj_begin(struct jsonw *w)
{
	begin(w, true);
}

void jw_obj_end(struct jsonw *w)
{
	end(w, true);
}

void jw_arr_begin(struct jsonw *w)
{
	begin(w, false);
}

void jw_arr_end(struct jsonw *w)
{
	end(w, false);
}

void jw_key(struct jsonw *w, const char *key)
{
	if (w->err)
		return;
	if (w->depth == 0 || !w->in_obj[w->depth - 1] || w->key_pending) {
		fail(w, -EINVAL);
		return;
	}
	if (w->has_items[w->depth - 1])
		put(w, ",", 1);
	w->has_items[w->depth - 1] = true;
	put_string(w, key);
	put(w, ":", 1);
	w->key_pending = true;
}

void jw_str(struct jsonw *w, const char *s)
{
	if (!value_start(w))
		return;
	put_string(w, s);
	value_end(w);
}

void jw_int(struct jsonw *w, int64_t v)
{
	char buf[32];

	if (!value_start(w))
		return;
	snprintf(buf, sizeof(buf), "%" PRId64, v);
	puts_(w, buf);
	value_end(w);
}

void jw_uint(struct jsonw *w, uint64_t v)
{
	char buf[32];

	if (!value_start(w))
		return;
	snprintf(buf, sizeof(buf), "%" PRIu64, v);
	puts_(w, buf);
	value_end(w);
}

void jw_double(struct jsonw *w, double v)
{
	char buf[64];

	if (!value_start(w))
		return;
	if (!isfinite(v)) {
		puts_(w, "null");
		value_end(w);
		return;
	}
	/* The shortest text that reads back as the same double: "0.14", not
	 * "0.14000000000000001".  Plain decimals in the range where people
	 * read them ("2000000000", not "2e+09"; 22 decimals reach every
	 * significant digit from 1e-5 up), exponents outside it.  Both forms
	 * are JSON numbers for every finite value ("-0" included). */
	if (fabs(v) < 1e17 && (fabs(v) >= 1e-5 || v == 0)) {
		for (int prec = 0; prec <= 22; prec++) {
			snprintf(buf, sizeof(buf), "%.*f", prec, v);
			if (strtod(buf, NULL) == v)
				break;
		}
	} else {
		for (int prec = 1; prec <= 17; prec++) {
			snprintf(buf, sizeof(buf), "%.*g", prec, v);
			if (strtod(buf, NULL) == v)
				break;
		}
	}
	puts_(w, buf);
	value_end(w);
}

void jw_bool(struct jsonw *w, bool v)
{
	if (!value_start(w))
		return;
	puts_(w, v ? "true" : "false");
	value_end(w);
}

void jw_null(struct jsonw *w)
{
	if (!value_start(w))
		return;
	puts_(w, "null");
	value_end(w);
}

int jw_finish(struct jsonw *w)
{
	if (!w->err && (w->depth != 0 || !w->done))
		fail(w, -EINVAL);
	put(w, "\n", 1);
	errno = 0;
	if (fflush(w->f) != 0)
		fail(w, errno ? -errno : -EIO);
	return w->err;
}

void jw_kv_str(struct jsonw *w, const char *key, const char *s)
{
	jw_key(w, key);
	jw_str(w, s);
}

void jw_kv_int(struct jsonw *w, const char *key, int64_t v)
{
	jw_key(w, key);
	jw_int(w, v);
}

void jw_kv_uint(struct jsonw *w, const char *key, uint64_t v)
{
	jw_key(w, key);
	jw_uint(w, v);
}

void jw_kv_double(struct jsonw *w, const char *key, double v)
{
	jw_key(w, key);
	jw_double(w, v);
}

void jw_kv_bool(struct jsonw *w, const char *key, bool v)
{
	jw_key(w, key);
	jw_bool(w, v);
}
