/* SPDX-License-Identifier: Apache-2.0 */
/*
 * jsonw.h - a tiny streaming JSON writer for the --json output of memsync.
 *
 * Objects, arrays, strings (escaped; invalid UTF-8 becomes U+FFFD),
 * integers, doubles (shortest text that reads back exactly; NaN and
 * infinities, which JSON cannot express, become null) and booleans.
 * Commas and nesting are tracked for the caller; misuse (a value where a
 * key is due, unbalanced ends, nesting deeper than JW_MAX_DEPTH) is
 * recorded and reported by jw_finish() instead of producing bad JSON.
 *
 *	struct jsonw w;
 *	jw_init(&w, stdout);
 *	jw_obj_begin(&w);
 *	jw_key(&w, "bytes"); jw_uint(&w, 4096);
 *	jw_obj_end(&w);
 *	if (jw_finish(&w) < 0) ...
 */
#ifndef MS_JSONW_H
#define MS_JSONW_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define JW_MAX_DEPTH 32

struct jsonw {
	FILE *f;
	int depth;
	int err;                          /* first error, -errno */
	bool in_obj[JW_MAX_DEPTH];        /* container kind per level */
	bool has_items[JW_MAX_DEPTH];     /* needs a comma before the next */
	bool key_pending;                 /* a key was written, value due */
	bool done;                        /* a complete top-level value */
};

void jw_init(struct jsonw *w, FILE *f);
void jw_obj_begin(struct jsonw *w);
void jw_obj_end(struct jsonw *w);
void jw_arr_begin(struct jsonw *w);
void jw_arr_end(struct jsonw *w);
void jw_key(struct jsonw *w, const char *key);
void jw_str(struct jsonw *w, const char *s);
void jw_int(struct jsonw *w, int64_t v);
void jw_uint(struct jsonw *w, uint64_t v);
void jw_double(struct jsonw *w, double v);
void jw_bool(struct jsonw *w, bool v);
void jw_null(struct jsonw *w);
/* A key and its value in one call. */
void jw_kv_str(struct jsonw *w, const char *key, const char *s);
void jw_kv_int(struct jsonw *w, const char *key, int64_t v);
void jw_kv_uint(struct jsonw *w, const char *key, uint64_t v);
void jw_kv_double(struct jsonw *w, const char *key, double v);
void jw_kv_bool(struct jsonw *w, const char *key, bool v);
/* Terminate the document with a newline and flush.  0, or -EINVAL for an
 * incomplete/misused document, or the -errno of a failed write. */
int jw_finish(struct jsonw *w);

#endif
