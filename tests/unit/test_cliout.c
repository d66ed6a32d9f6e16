/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_cliout.c - the CLI's output helpers: the JSON writer (nesting,
 * commas, escaping, UTF-8 repair, numbers, misuse detection) and the text
 * of the progress line.
 */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/jsonw.h"
#include "cli/progress.h"
#include "tap.h"

static char out[4096];

/* Run a writer over a memory stream; returns jw_finish()'s result. */
#define JSON(body)                                                              \
	({                                                                      \
		FILE *f_ = fmemopen(out, sizeof(out), "w");                    \
		struct jsonw w_;                                                \
		struct jsonw *w = &w_;                                          \
		int rc_;                                                        \
		if (!f_)                                                        \
			tap_bail("fmemopen: %s", strerror(errno));              \
		jw_init(w, f_);                                                 \
		body;                                                           \
		rc_ = jw_finish(w);                                             \
		fclose(f_);                                                     \
		rc_;                                                            \
	})

/* The JSON number grammar, followed by the newline jw_finish adds. */
static bool json_number(const char *s)
{
	if (*s == '-')
		s++;
	if (*s == '0')
		s++;
	else if (*s >= '1' && *s <= '9')
		while (*s >= '0' && *s <= '9')
			s++;
	else
		return false;
	if (*s == '.') {
		if (!(*++s >= '0' && *s <= '9'))
			return false;
		while (*s >= '0' && *s <= '9')
			s++;
	}
	if (*s == 'e' || *s == 'E') {
		s++;
		if (*s == '+' || *s == '-')
			s++;
		if (!(*s >= '0' && *s <= '9'))
			return false;
		while (*s >= '0' && *s <= '9')
			s++;
	}
	return strcmp(s, "\n") == 0;
}

static void json_tests(void)
{
	int rc;

	rc = JSON(jw_obj_begin(w); jw_obj_end(w));
	is_int(rc, 0, "empty object");
	is_str(out, "{}\n", "empty object text");

	rc = JSON(jw_obj_begin(w); jw_key(w, "a"); jw_uint(w, 1); jw_key(w, "b");
		  jw_arr_begin(w); jw_int(w, -2); jw_bool(w, true); jw_bool(w, false);
		  jw_null(w); jw_obj_begin(w); jw_obj_end(w); jw_arr_begin(w); jw_arr_end(w);
		  jw_arr_end(w); jw_key(w, "c"); jw_str(w, "x"); jw_obj_end(w));
	is_int(rc, 0, "nested document");
	is_str(out, "{\"a\":1,\"b\":[-2,true,false,null,{},[]],\"c\":\"x\"}\n",
	       "commas and nesting");

	rc = JSON(jw_uint(w, UINT64_MAX));
	is_str(out, "18446744073709551615\n", "largest unsigned");
	rc = JSON(jw_int(w, INT64_MIN));
	is_str(out, "-9223372036854775808\n", "smallest signed");

	rc = JSON(jw_str(w, "q\"b\\s/\n\r\t\b\f\x01\x1f end"));
	is_int(rc, 0, "escapes");
	is_str(out, "\"q\\\"b\\\\s/\\n\\r\\t\\b\\f\\u0001\\u001f end\"\n", "escape text");

	rc = JSON(jw_str(w, "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"));
	is_str(out, "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"\n", "valid UTF-8 kept");
	rc = JSON(jw_str(w, "a\xff" "b\xc3" "c\xe2\x82" "d\xc0\xaf" "e\xed\xa0\x80" "f"));
	is_str(out, "\"a\\ufffdb\\ufffdc\\ufffd\\ufffdd\\ufffd\\ufffde\\ufffd\\ufffd\\ufffdf\"\n",
	       "invalid UTF-8 replaced (stray, truncated, overlong, surrogate)");
	rc = JSON(jw_str(w, "\xf4\x90\x80\x80"));
	is_str(out, "\"\\ufffd\\ufffd\\ufffd\\ufffd\"\n", "above U+10FFFF replaced");
	rc = JSON(jw_str(w, NULL));
	is_str(out, "\"\"\n", "NULL string is empty");

	rc = JSON(jw_double(w, 0.14));
	is_str(out, "0.14\n", "shortest double text");
	rc = JSON(jw_double(w, 1.0 / 3));
	ok(strtod(out, NULL) == 1.0 / 3, "1/3 reads back exactly (%s)", strtok(out, "\n"));
	rc = JSON(jw_double(w, 2e9));
	is_str(out, "2000000000\n", "large round double");
	rc = JSON(jw_double(w, 1.25e-5));
	is_str(out, "0.0000125\n", "small double in plain decimals");
	rc = JSON(jw_double(w, 1e-7));
	is_str(out, "1e-07\n", "tiny double in exponent form");
	rc = JSON(jw_double(w, 0));
	is_str(out, "0\n", "zero");
	rc = JSON(jw_double(w, -2.5));
	is_str(out, "-2.5\n", "negative");
	rc = JSON(jw_double(w, 123456789.123456789));
	ok(strtod(out, NULL) == 123456789.123456789 && !strchr(out, 'e'),
	   "fraction with many digits reads back (%s)", strtok(out, "\n"));
	{
		/* random bit patterns: every finite double must read back
		 * exactly and be a JSON number */
		uint64_t x = 0x9e3779b97f4a7c15ull;
		int bad = 0, n = 0;

		for (int i = 0; i < 20000; i++) {
			double v;

			x ^= x >> 12, x ^= x << 25, x ^= x >> 27;
			memcpy(&v, &(uint64_t){ x * 0x2545f4914f6cdd1dull }, sizeof(v));
			if (i % 2)
				v = (double)(x % 100000000000ull) / 1000.0; /* rate-like */
			if (!isfinite(v))
				continue;
			n++;
			JSON(jw_double(w, v));
			if (strtod(out, NULL) != v || !json_number(out)) {
				if (bad++ < 3)
					diag("bad double text '%s'", out);
			}
		}
		ok(bad == 0 && n > 10000, "%d random doubles read back as JSON numbers", n);
	}
	rc = JSON(jw_double(w, 1.5e300));
	is_str(out, "1.5e+300\n", "exponent form");
	rc = JSON(jw_arr_begin(w); jw_double(w, NAN); jw_double(w, INFINITY);
		  jw_double(w, -INFINITY); jw_arr_end(w));
	is_int(rc, 0, "non-finite doubles");
	is_str(out, "[null,null,null]\n", "non-finite doubles become null");

	rc = JSON(jw_obj_begin(w); jw_key(w, "k\"\n"); jw_uint(w, 0); jw_obj_end(w));
	is_str(out, "{\"k\\\"\\n\":0}\n", "keys escaped");

	/* misuse is reported, not written as bad JSON */
	is_int(JSON(jw_obj_begin(w)), -EINVAL, "unclosed object");
	is_int(JSON(jw_obj_begin(w); jw_uint(w, 1); jw_obj_end(w)), -EINVAL,
	       "value without key");
	is_int(JSON(jw_obj_begin(w); jw_key(w, "a"); jw_obj_end(w)), -EINVAL,
	       "key without value");
	is_int(JSON(jw_obj_begin(w); jw_key(w, "a"); jw_key(w, "b")), -EINVAL, "two keys");
	is_int(JSON(jw_arr_begin(w); jw_key(w, "a"); jw_arr_end(w)), -EINVAL, "key in array");
	is_int(JSON(jw_arr_begin(w); jw_obj_end(w)), -EINVAL, "mismatched end");
	is_int(JSON(jw_obj_end(w)), -EINVAL, "end without begin");
	is_int(JSON((void)0), -EINVAL, "no value at all");
	is_int(JSON(jw_uint(w, 1); jw_uint(w, 2)), -EINVAL, "two top-level values");
	is_int(JSON(for (int i = 0; i < JW_MAX_DEPTH + 1; i++) jw_arr_begin(w)), -EINVAL,
	       "nesting too deep");
	rc = JSON(for (int i = 0; i < JW_MAX_DEPTH; i++) jw_arr_begin(w);
		  for (int i = 0; i < JW_MAX_DEPTH; i++) jw_arr_end(w));
	is_int(rc, 0, "nesting at the limit");

	{
		char small[8];
		FILE *f = fmemopen(small, sizeof(small), "w");
		struct jsonw w;

		setvbuf(f, NULL, _IONBF, 0);
		jw_init(&w, f);
		jw_str(&w, "a string longer than the stream");
		ok(jw_finish(&w) < 0, "write errors are reported");
		fclose(f);
	}
}

static void progress_tests(void)
{
	struct progress p;
	char line[256];
	size_t n;

	progress_init(&p, "pull", 100u << 20, false);
	ok(!p.active, "not drawn when not allowed");
	p.done = 50u << 20;
	n = progress_format(&p, p.start_ns + 1000000000ull, 80, line, sizeof(line));
	diag("line: '%s'", line);
	is_int(n, strlen(line), "length returned");
	ok(n <= 80, "fits the width");
	ok(strstr(line, "pull ") == line, "label first");
	ok(strstr(line, " 50%") != NULL, "percent");
	ok(strstr(line, "50.0 MiB / 100 MiB") != NULL, "bytes");
	ok(strstr(line, "52.4 MB/s") != NULL, "rate");
	ok(strstr(line, "ETA 0:01") != NULL, "ETA");
	ok(strchr(line, '[') && strchr(line, ']'), "bar drawn at 80 columns");

	n = progress_format(&p, p.start_ns + 1000000000ull, 40, line, sizeof(line));
	ok(n <= 40 && !strchr(line, '['), "no bar when it does not fit (%zu: '%s')", n, line);

	n = progress_format(&p, p.start_ns + 1000000000ull, 200, line, 64);
	ok(n < 64 && strlen(line) == n, "bounded by the buffer");

	p.done = 0;
	progress_format(&p, p.start_ns + 1000000000ull, 80, line, sizeof(line));
	ok(strstr(line, "ETA --:--") != NULL, "unknown ETA before any progress");
	p.done = p.total;
	progress_format(&p, p.start_ns + 2000000000ull, 80, line, sizeof(line));
	ok(strstr(line, "100%") && strstr(line, "ETA 0:00"), "complete");
	p.done = 1u << 20;
	progress_format(&p, p.start_ns + 100000000000ull, 100, line, sizeof(line));
	ok(strstr(line, "ETA 2:45:00") != NULL, "hours in a long ETA ('%s')", line);
	progress_format(&p, p.start_ns + 4000000000000ull, 100, line, sizeof(line));
	ok(strstr(line, "ETA --:--") != NULL, "no ETA beyond 100 hours");
	progress_end(&p); /* inactive: nothing to erase */
}

int main(void)
{
	json_tests();
	progress_tests();
	return tap_done();
}
