/* SPDX-License-Identifier: Apache-2.0 */
/* test_proto.c - control messages round-trip, and every malformed form is
 * rejected without reading out of bounds. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"
#include "tap.h"

static uint8_t buf[MS_CTRL_MAX];

/* Every strict prefix of a valid message must be rejected by its decoder. */
#define CHECK_TRUNCATIONS(len, call)                                      \
	do {                                                              \
		int bad = 0;                                              \
		for (size_t cut = 0; cut < (size_t)(len); cut++) {        \
			uint8_t *t = malloc(cut ? cut : 1);               \
			memcpy(t, buf, cut);                              \
			size_t L = cut;                                   \
			const void *B = t;                                \
			if (call == 0)                                    \
				bad++;                                    \
			free(t);                                          \
		}                                                         \
		ok(bad == 0, "%s: every truncation rejected", #call);     \
	} while (0)

int main(void)
{
	struct ms_msg_hello h = { .version = 1, .agent = "libmemsync/0.1.0" }, h2;
	struct ms_msg_open_ok oo = {
		.handle = 3, .mode = MS_MODE_WRITE, .size = 1ull << 30,
		.chunk_size = 65536, .nchunks = 16384, .generation = 42,
		.data = { 0x1000, 1ull << 30, 0xdeadbeefcafef00dull },
		.meta = { 0x2000, 16384 * 32, 7 },
	}, oo2;
	struct ms_commit_ent ents[3] = {
		{ 0, 65536, { 1, 2, 3 } },
		{ 1 << 20, 4096 | MS_COMMIT_NOVERIFY, { 9 } },
		{ 5, 7, { 0xff } },
	}, dents[3];
	struct ms_msg_commit cm = { .handle = 1, .n = 3, .ents = ents }, cm2;
	struct ms_region_stat st[2] = {
		{ .name = "vm0", .backing = MS_BACKING_ANON, .size = 1 << 20, .chunk_size = 4096,
		  .generation = 9, .clients = 2, .write_leased = true, .bytes_read = 11,
		  .bytes_written = 22, .bytes_committed = 33, .commits = 3 },
		{ .name = "db", .backing = MS_BACKING_FILE, .size = 2 << 20 },
	}, *dst = NULL;
	struct ms_msg_error e;
	size_t n = 0;
	int len;

	memset(h.client_id, 0xab, 16);
	len = ms_enc_hello(buf, sizeof(buf), &h);
	ok(len > 0, "hello encodes (%d bytes)", len);
	is_int(ms_msg_type(buf, (size_t)len), MS_MSG_HELLO, "type is HELLO");
	ok(ms_dec_hello(buf, (size_t)len, &h2) == 0 && h2.version == 1 &&
	   memcmp(h2.client_id, h.client_id, 16) == 0 && strcmp(h2.agent, h.agent) == 0,
	   "hello round-trips");
	CHECK_TRUNCATIONS(len, ms_dec_hello(B, L, &h2));
	is_int(ms_dec_hello(buf, (size_t)len + 1, &h2), -EBADMSG, "trailing byte rejected");
	is_int(ms_dec_open_ok(buf, (size_t)len, &oo2), -EBADMSG, "wrong type rejected");
	is_int(ms_enc_hello(buf, 10, &h), -EMSGSIZE, "encode into a short buffer fails");

	len = ms_enc_open_ok(buf, sizeof(buf), &oo);
	ok(len > 0 && ms_dec_open_ok(buf, (size_t)len, &oo2) == 0 &&
	   oo2.handle == oo.handle && oo2.mode == oo.mode && oo2.size == oo.size &&
	   oo2.chunk_size == oo.chunk_size && oo2.nchunks == oo.nchunks &&
	   oo2.generation == oo.generation &&
	   memcmp(&oo2.data, &oo.data, sizeof(oo.data)) == 0 &&
	   memcmp(&oo2.meta, &oo.meta, sizeof(oo.meta)) == 0, "open_ok round-trips");
	CHECK_TRUNCATIONS(len, ms_dec_open_ok(B, L, &oo2));

	len = ms_enc_commit(buf, sizeof(buf), &cm);
	is_int(len, 4 + 8 + 3 * MS_COMMIT_ENT_WIRE, "commit has its documented size");
	ok(ms_dec_commit(buf, (size_t)len, &cm2, dents, 3) == 0 && cm2.n == 3 &&
	   memcmp(dents, ents, sizeof(ents)) == 0, "commit round-trips (NOVERIFY bit kept)");
	is_int(ms_dec_commit(buf, (size_t)len, &cm2, dents, 2), -E2BIG,
	       "commit with more entries than storage is refused");
	/* lie about the count: more entries than bytes */
	buf[8] = 200;
	is_int(ms_dec_commit(buf, (size_t)len, &cm2, dents, 3), -EBADMSG,
	       "commit whose count disagrees with its length is rejected");
	buf[8] = 3;
	CHECK_TRUNCATIONS(len, ms_dec_commit(B, L, &cm2, dents, 3));

	{
		struct ms_msg_hot hq = { .handle = 4, .max = 100 }, hq2;
		uint64_t idx[3] = { 7, 1ull << 40, 0 }, didx[3];
		struct ms_msg_chunks ch = { .handle = 4, .n = 3, .idx = idx }, ch2;

		len = ms_enc_hot(buf, sizeof(buf), &hq);
		ok(len == 12 && ms_dec_hot(buf, (size_t)len, &hq2) == 0 && hq2.handle == 4 &&
		   hq2.max == 100, "hot round-trips");
		CHECK_TRUNCATIONS(len, ms_dec_hot(B, L, &hq2));
		hq.max = 0;
		len = ms_enc_hot(buf, sizeof(buf), &hq);
		is_int(ms_dec_hot(buf, (size_t)len, &hq2), -EBADMSG, "hot with max 0 is rejected");
		hq.max = MS_HOT_MAX + 1;
		len = ms_enc_hot(buf, sizeof(buf), &hq);
		is_int(ms_dec_hot(buf, (size_t)len, &hq2), -EBADMSG,
		       "hot with max above MS_HOT_MAX is rejected");
		for (int ty = MS_MSG_HOT_OK; ty <= MS_MSG_TOUCH; ty += MS_MSG_TOUCH - MS_MSG_HOT_OK) {
			len = ms_enc_chunks(buf, sizeof(buf), (enum ms_msg_type)ty, &ch);
			ok(len == 12 + 24 &&
			   ms_dec_chunks(buf, (size_t)len, (enum ms_msg_type)ty, &ch2, didx, 3) == 0 &&
			   ch2.handle == 4 && ch2.n == 3 && memcmp(didx, idx, sizeof(idx)) == 0,
			   "%s round-trips", ms_msg_name(ty));
			is_int(ms_dec_chunks(buf, (size_t)len, (enum ms_msg_type)ty, &ch2, didx, 2),
			       -E2BIG, "%s with more chunks than storage is refused", ms_msg_name(ty));
			buf[8] = 200;   /* the count disagrees with the length */
			is_int(ms_dec_chunks(buf, (size_t)len, (enum ms_msg_type)ty, &ch2, didx, 3),
			       -EBADMSG, "%s whose count disagrees with its length is rejected",
			       ms_msg_name(ty));
			buf[8] = 3;
			CHECK_TRUNCATIONS(len, ms_dec_chunks(B, L, (enum ms_msg_type)ty, &ch2, didx, 3));
		}
		ch.n = MS_HOT_MAX + 1;
		is_int(ms_enc_chunks(buf, sizeof(buf), MS_MSG_TOUCH, &ch), -E2BIG,
		       "more than MS_HOT_MAX chunks do not encode");
	}

	len = ms_enc_stat_ok(buf, sizeof(buf), st, 2);
	ok(len > 0 && ms_dec_stat_ok(buf, (size_t)len, &dst, &n) == 0 && n == 2 &&
	   strcmp(dst[0].name, "vm0") == 0 && dst[0].backing == MS_BACKING_ANON &&
	   dst[0].size == st[0].size && dst[0].chunk_size == 4096 &&
	   dst[0].generation == 9 && dst[0].clients == 2 && dst[0].write_leased &&
	   dst[0].bytes_read == 11 && dst[0].bytes_written == 22 && dst[0].bytes_committed == 33 &&
	   dst[0].commits == 3 &&
	   strcmp(dst[1].name, "db") == 0 && dst[1].backing == MS_BACKING_FILE,
	   "stat_ok round-trips");
	free(dst);
	dst = NULL;
	{
		int bad = 0;
		for (size_t cut = 0; cut < (size_t)len; cut++) {
			if (ms_dec_stat_ok(buf, cut, &dst, &n) == 0) {
				bad++;
				free(dst);
			}
		}
		ok(bad == 0, "stat_ok: every truncation rejected");
	}

	len = ms_enc_error(buf, sizeof(buf), -ENOENT, "unknown region '%s'", "nope");
	ok(len > 0 && ms_dec_error(buf, (size_t)len, &e) == 0 && e.err == ENOENT &&
	   strcmp(e.msg, "unknown region 'nope'") == 0, "error round-trips with errno and text");
	buf[4] = 0; buf[5] = 0; buf[6] = 0; buf[7] = 0;
	is_int(ms_dec_error(buf, (size_t)len, &e), -EBADMSG, "error with errno 0 rejected");

	/* a string with an embedded NUL is malformed */
	struct ms_msg_open om = { .name = "abc", .mode = 1 }, om2;
	len = ms_enc_open(buf, sizeof(buf), &om);
	buf[7] = '\0';
	is_int(ms_dec_open(buf, (size_t)len, &om2), -EBADMSG, "string with NUL rejected");
	/* a string length over the field's maximum is malformed */
	buf[4] = 0xff; buf[5] = 0x00;
	is_int(ms_dec_open(buf, (size_t)len, &om2), -EBADMSG, "overlong string rejected");
	/* reserved header bits must be zero */
	len = ms_enc_empty(buf, sizeof(buf), MS_MSG_BYE);
	buf[3] = 1;
	is_int(ms_msg_type(buf, (size_t)len), -EBADMSG, "non-zero reserved header rejected");
	is_int(ms_msg_type(buf, 3), -EBADMSG, "3-byte message rejected");
	is_str(ms_msg_name(MS_MSG_COMMIT_OK), "COMMIT_OK", "message names");
	return tap_done();
}
