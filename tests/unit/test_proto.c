/* SPDX-License-Identifier: Apache-2.0 */
/* test_proto.c - every control message type round-trips through its
 * encoder and decoder, and every malformed form (truncated, trailing
 * bytes, wrong type, bad counts, unknown flags) is rejected without
 * reading out of bounds. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"
#include "tap.h"
#include "util.h"

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

/* The valid message in buf (len bytes) with one byte more, or with the
 * type of another message, must be rejected too. */
#define CHECK_LENGTH_AND_TYPE(len, call)                                  \
	do {                                                              \
		size_t L = (size_t)(len) + 1;                             \
		const void *B = buf;                                      \
		uint8_t t0 = buf[0];                                      \
		buf[len] = 0;                                             \
		is_int(call, -EBADMSG, "%s: a trailing byte is rejected", #call); \
		L = (size_t)(len);                                        \
		buf[0] = (uint8_t)(t0 == MS_MSG_ERROR ? MS_MSG_HELLO : t0 + 1); \
		is_int(call, -EBADMSG, "%s: another type is rejected", #call); \
		buf[0] = t0;                                              \
	} while (0)

/* Field by field: the structs have padding that memcmp would compare. */
static bool ents_eq(const struct ms_commit_ent *a, const struct ms_commit_ent *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (a[i].off != b[i].off || a[i].len != b[i].len || a[i].flags != b[i].flags ||
		    a[i].soff != b[i].soff ||
		    memcmp(a[i].hash, b[i].hash, MS_HASH_LEN) != 0)
			return false;
	return true;
}

int main(void)
{
	struct ms_msg_hello h = { .version = 1, .agent = "libmemsync/0.1.0" }, h2;
	struct ms_msg_open_ok oo = {
		.handle = 3, .mode = MS_MODE_WRITE, .size = 1ull << 30,
		.chunk_size = 65536, .nchunks = 16384, .generation = 42,
		.data = { 0x1000, 1ull << 30, 0xdeadbeefcafef00dull },
		.meta = { 0x2000, 16384 * 32, 7 },
		.epoch = 9, .lease_ttl_ms = 10000, .commit_mode = MS_COMMIT_DIRECT,
		.stage_limit = 1ull << 33,
	}, oo2;
	struct ms_commit_ent ents[3] = {
		{ .off = 0, .len = 65536, .soff = 128, .hash = { 1, 2, 3 } },
		{ .off = 1 << 20, .len = 4096, .hash = { 9 }, .flags = MS_COMMIT_F_NOVERIFY },
		{ .off = 5, .len = 7, .soff = 1ull << 40, .hash = { 0xff } },
	}, dents[3];
	struct ms_msg_commit cm = { .handle = 1, .flags = MS_COMMITMSG_MORE,
				    .epoch = 0x1122334455667788ull, .n = 3, .ents = ents }, cm2;
	struct ms_region_stat st[2] = {
		{ .name = "vm0", .backing = MS_BACKING_ANON, .size = 1 << 20, .chunk_size = 4096,
		  .generation = 9, .clients = 2, .write_leased = true, .bytes_read = 11,
		  .bytes_written = 22, .bytes_committed = 33, .commits = 3,
		  .migrate_phase = MS_MIGRATE_DONE, .moved_to = "10.77.0.2:7400" },
		{ .name = "db", .backing = MS_BACKING_FILE, .size = 2 << 20,
		  .migrate_phase = MS_MIGRATE_POSTCOPYING },
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
	len = ms_enc_hello(buf, sizeof(buf), &h);
	CHECK_LENGTH_AND_TYPE(len, ms_dec_hello(B, L, &h2));

	{
		struct ms_msg_hello_ok ho = { .version = MS_PROTO_VERSION, .max_io = 16u << 20 },
				       ho2;

		memset(ho.server_id, 0x5c, 16);
		len = ms_enc_hello_ok(buf, sizeof(buf), &ho);
		is_int(len, 4 + 4 + 16 + 4, "hello_ok has its documented size");
		ok(ms_dec_hello_ok(buf, (size_t)len, &ho2) == 0 &&
		   ho2.version == MS_PROTO_VERSION && ho2.max_io == 16u << 20 &&
		   memcmp(ho2.server_id, ho.server_id, 16) == 0, "hello_ok round-trips");
		CHECK_TRUNCATIONS(len, ms_dec_hello_ok(B, L, &ho2));
		CHECK_LENGTH_AND_TYPE(len, ms_dec_hello_ok(B, L, &ho2));
	}

	{
		struct ms_msg_open op = { .name = "vm0", .mode = MS_MODE_WRITE, .expect_epoch = 77 },
				   op2;

		len = ms_enc_open(buf, sizeof(buf), &op);
		ok(len == 4 + 2 + 3 + 4 + 8 && ms_dec_open(buf, (size_t)len, &op2) == 0 &&
		   strcmp(op2.name, "vm0") == 0 && op2.mode == MS_MODE_WRITE &&
		   op2.expect_epoch == 77, "open round-trips (with the epoch to resume)");
		CHECK_TRUNCATIONS(len, ms_dec_open(B, L, &op2));
		CHECK_LENGTH_AND_TYPE(len, ms_dec_open(B, L, &op2));
	}

	{
		struct ms_msg_handle cl = { .handle = 63 }, cl2;

		len = ms_enc_close(buf, sizeof(buf), &cl);
		ok(len == 8 && ms_dec_close(buf, (size_t)len, &cl2) == 0 && cl2.handle == 63,
		   "close round-trips");
		CHECK_TRUNCATIONS(len, ms_dec_close(B, L, &cl2));
		CHECK_LENGTH_AND_TYPE(len, ms_dec_close(B, L, &cl2));
	}

	len = ms_enc_open_ok(buf, sizeof(buf), &oo);
	ok(len > 0 && ms_dec_open_ok(buf, (size_t)len, &oo2) == 0 &&
	   oo2.handle == oo.handle && oo2.mode == oo.mode && oo2.size == oo.size &&
	   oo2.chunk_size == oo.chunk_size && oo2.nchunks == oo.nchunks &&
	   oo2.generation == oo.generation &&
	   memcmp(&oo2.data, &oo.data, sizeof(oo.data)) == 0 &&
	   memcmp(&oo2.meta, &oo.meta, sizeof(oo.meta)) == 0 && oo2.epoch == 9 &&
	   oo2.lease_ttl_ms == 10000 && oo2.commit_mode == MS_COMMIT_DIRECT &&
	   oo2.stage_limit == 1ull << 33, "open_ok round-trips");
	CHECK_TRUNCATIONS(len, ms_dec_open_ok(B, L, &oo2));
	CHECK_LENGTH_AND_TYPE(len, ms_dec_open_ok(B, L, &oo2));

	len = ms_enc_commit(buf, sizeof(buf), &cm);
	is_int(len, MS_COMMIT_HDR_WIRE + 3 * MS_COMMIT_ENT_WIRE, "commit has its documented size");
	memset(dents, 0xee, sizeof(dents));
	ok(ms_dec_commit(buf, (size_t)len, &cm2, dents, 3) == 0 && cm2.handle == 1 &&
	   cm2.n == 3 && cm2.ents == dents && ents_eq(dents, ents, 3) &&
	   cm2.epoch == cm.epoch && cm2.flags == MS_COMMITMSG_MORE,
	   "commit round-trips (epoch, MORE, staging offsets and flags kept)");
	buf[8] = 0x04;
	is_int(ms_dec_commit(buf, (size_t)len, &cm2, dents, 3), -EBADMSG,
	       "commit with an unknown message flag is rejected");
	buf[8] = MS_COMMITMSG_MORE;
	ok(dents[1].flags == MS_COMMIT_F_NOVERIFY && dents[1].len == 4096 &&
	   dents[0].flags == 0 && dents[2].flags == 0,
	   "commit: NOVERIFY travels in the flags field, len is the length alone");
	/* entry 1 starts after the 24-byte head and one 48-byte entry: off,
	 * len, soff, then flags at +24 and the reserved word at +28 */
	is_int(buf[24 + 48 + 24], MS_COMMIT_F_NOVERIFY, "commit: flags are where documented");
	buf[24 + 48 + 24] = 0x04;   /* 0x02 is ZERO (issue 13) */
	is_int(ms_dec_commit(buf, (size_t)len, &cm2, dents, 3), -EBADMSG,
	       "commit with an unknown flag is rejected");
	buf[24 + 48 + 24] = MS_COMMIT_F_NOVERIFY;
	buf[24 + 48 + 28] = 1;
	is_int(ms_dec_commit(buf, (size_t)len, &cm2, dents, 3), -EBADMSG,
	       "commit with a nonzero reserved field is rejected");
	buf[24 + 48 + 28] = 0;
	is_int(ms_dec_commit(buf, (size_t)len, &cm2, dents, 3), 0, "commit decodes again once fixed");
	CHECK_LENGTH_AND_TYPE(len, ms_dec_commit(B, L, &cm2, dents, 3));
	{
		/* a whole 48-byte entry too many or too few */
		is_int(ms_dec_commit(buf, (size_t)len - MS_COMMIT_ENT_WIRE, &cm2, dents, 3),
		       -EBADMSG, "commit one entry shorter than its count is rejected");
		memset(buf + len, 0, MS_COMMIT_ENT_WIRE);
		is_int(ms_dec_commit(buf, (size_t)len + MS_COMMIT_ENT_WIRE, &cm2, dents, 4),
		       -EBADMSG, "commit one entry longer than its count is rejected");
		ents[0].flags = 0x80;
		is_int(ms_enc_commit(buf, sizeof(buf), &cm), -EINVAL,
		       "an unknown flag does not encode");
		ents[0].flags = 0;
		cm.n = MS_COMMIT_MAX_ENTS + 1;
		is_int(ms_enc_commit(buf, sizeof(buf), &cm), -E2BIG,
		       "more than MS_COMMIT_MAX_ENTS entries do not encode");
		cm.n = 3;
		struct ms_msg_commit none = { .handle = 9, .n = 0 };

		len = ms_enc_commit(buf, sizeof(buf), &none);
		ok(len == MS_COMMIT_HDR_WIRE && ms_dec_commit(buf, (size_t)len, &cm2, dents, 3) == 0 &&
		   cm2.handle == 9 && cm2.n == 0, "an empty commit round-trips");
		len = ms_enc_commit(buf, sizeof(buf), &cm);
	}
	is_int(ms_dec_commit(buf, (size_t)len, &cm2, dents, 2), -E2BIG,
	       "commit with more entries than storage is refused");
	/* lie about the count: more entries than bytes */
	buf[20] = 200;
	is_int(ms_dec_commit(buf, (size_t)len, &cm2, dents, 3), -EBADMSG,
	       "commit whose count disagrees with its length is rejected");
	buf[20] = 3;
	CHECK_TRUNCATIONS(len, ms_dec_commit(B, L, &cm2, dents, 3));

	{
		struct ms_msg_gen g = { .generation = 0x0102030405060708ull }, g2;

		len = ms_enc_gen(buf, sizeof(buf), MS_MSG_COMMIT_OK, &g);
		ok(len == 12 && ms_dec_gen(buf, (size_t)len, MS_MSG_COMMIT_OK, &g2) == 0 &&
		   g2.generation == g.generation && buf[4] == 0x08 && buf[11] == 0x01,
		   "commit_ok round-trips (generation little-endian)");
		CHECK_TRUNCATIONS(len, ms_dec_gen(B, L, MS_MSG_COMMIT_OK, &g2));
		CHECK_LENGTH_AND_TYPE(len, ms_dec_gen(B, L, MS_MSG_COMMIT_OK, &g2));
		is_int(ms_dec_gen(buf, (size_t)len, MS_MSG_OPEN_OK, &g2), -EBADMSG,
		       "commit_ok decoded as another type is rejected");
	}

	{
		struct ms_msg_stat sq = { .name = "" }, sq2;

		len = ms_enc_stat(buf, sizeof(buf), &sq);
		ok(len == 6 && ms_dec_stat(buf, (size_t)len, &sq2) == 0 && sq2.name[0] == '\0',
		   "stat of all regions round-trips");
		snprintf(sq.name, sizeof(sq.name), "db");
		len = ms_enc_stat(buf, sizeof(buf), &sq);
		ok(len == 8 && ms_dec_stat(buf, (size_t)len, &sq2) == 0 &&
		   strcmp(sq2.name, "db") == 0, "stat of one region round-trips");
		CHECK_TRUNCATIONS(len, ms_dec_stat(B, L, &sq2));
		CHECK_LENGTH_AND_TYPE(len, ms_dec_stat(B, L, &sq2));
	}

	{
		static const enum ms_msg_type empties[] = {
			MS_MSG_CLOSE_OK, MS_MSG_BYE, MS_MSG_BYE_OK, MS_MSG_TOUCH_OK,
		};

		for (size_t i = 0; i < MS_ARRAY_SIZE(empties); i++) {
			enum ms_msg_type t = empties[i];

			len = ms_enc_empty(buf, sizeof(buf), t);
			ok(len == 4 && ms_msg_type(buf, (size_t)len) == (int)t &&
			   ms_dec_empty(buf, (size_t)len, t) == 0, "%s (empty) round-trips",
			   ms_msg_name(t));
			is_int(ms_dec_empty(buf, 5, t), -EBADMSG, "%s with a body is rejected",
			       ms_msg_name(t));
			is_int(ms_dec_empty(buf, 3, t), -EBADMSG, "%s cut short is rejected",
			       ms_msg_name(t));
			is_int(ms_dec_empty(buf, (size_t)len, MS_MSG_HELLO_OK), -EBADMSG,
			       "%s decoded as another type is rejected", ms_msg_name(t));
		}
	}

	{
		struct ms_msg_hot hq = { .handle = 4, .max = 100 }, hq2;
		uint64_t idx[3] = { 7, 1ull << 40, 0 }, didx[3];
		struct ms_msg_chunks ch = { .handle = 4, .n = 3, .idx = idx }, ch2;

		len = ms_enc_hot(buf, sizeof(buf), &hq);
		ok(len == 12 && ms_dec_hot(buf, (size_t)len, &hq2) == 0 && hq2.handle == 4 &&
		   hq2.max == 100, "hot round-trips");
		CHECK_TRUNCATIONS(len, ms_dec_hot(B, L, &hq2));
		CHECK_LENGTH_AND_TYPE(len, ms_dec_hot(B, L, &hq2));
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
			CHECK_LENGTH_AND_TYPE(len, ms_dec_chunks(B, L, (enum ms_msg_type)ty, &ch2,
								 didx, 3));
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
	ok(dst && dst[0].migrate_phase == MS_MIGRATE_DONE &&
	   strcmp(dst[0].moved_to, "10.77.0.2:7400") == 0 &&
	   dst[1].migrate_phase == MS_MIGRATE_POSTCOPYING && dst[1].moved_to[0] == '\0',
	   "stat_ok carries the migration phase and where the region moved to");
	free(dst);
	dst = NULL;
	{
		/* the last entry ends with its phase (u32) and moved_to ("": u16 0) */
		uint8_t keep[4];

		memcpy(keep, buf + len - 6, 4);
		buf[len - 6] = 7;   /* no phase 7 */
		is_int(ms_dec_stat_ok(buf, (size_t)len, &dst, &n), -EBADMSG,
		       "stat_ok with an unknown migration phase is rejected");
		ok(dst == NULL, "... and hands out no array");
		memcpy(buf + len - 6, keep, 4);
	}
	{
		struct ms_region_stat big = { .name = "x" };

		memset(big.moved_to, 'h', sizeof(big.moved_to) - 1);
		ok(ms_enc_stat_ok(buf, sizeof(buf), &big, 1) > 0 &&
		   ms_dec_stat_ok(buf, (size_t)ms_enc_stat_ok(buf, sizeof(buf), &big, 1), &dst,
				  &n) == 0 && strlen(dst[0].moved_to) == sizeof(big.moved_to) - 1,
		   "a moved_to of the longest length round-trips");
		free(dst);
		dst = NULL;
		len = ms_enc_stat_ok(buf, sizeof(buf), st, 2);
	}
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
	dst = NULL;
	buf[len] = 0;
	is_int(ms_dec_stat_ok(buf, (size_t)len + 1, &dst, &n), -EBADMSG,
	       "stat_ok with a trailing byte is rejected");
	buf[4] = 3;     /* three regions claimed, two present */
	is_int(ms_dec_stat_ok(buf, (size_t)len, &dst, &n), -EBADMSG,
	       "stat_ok whose count exceeds its entries is rejected");
	ok(dst == NULL, "a rejected stat_ok hands out no array");
	len = ms_enc_stat_ok(buf, sizeof(buf), st, 0);
	ok(len == 8 && ms_dec_stat_ok(buf, (size_t)len, &dst, &n) == 0 && n == 0,
	   "stat_ok with no region round-trips");
	free(dst);
	dst = NULL;
	is_int(ms_enc_stat_ok(buf, sizeof(buf), st, MS_STAT_MAX_REGIONS + 1), -E2BIG,
	       "more than MS_STAT_MAX_REGIONS regions do not encode");

	len = ms_enc_error(buf, sizeof(buf), -ENOENT, "unknown region '%s'", "nope");
	ok(len > 0 && ms_dec_error(buf, (size_t)len, &e) == 0 && e.err == ENOENT &&
	   strcmp(e.msg, "unknown region 'nope'") == 0, "error round-trips with errno and text");
	buf[4] = 0; buf[5] = 0; buf[6] = 0; buf[7] = 0;
	is_int(ms_dec_error(buf, (size_t)len, &e), -EBADMSG, "error with errno 0 rejected");
	len = ms_enc_error(buf, sizeof(buf), EPROTONOSUPPORT, "x");
	CHECK_TRUNCATIONS(len, ms_dec_error(B, L, &e));
	CHECK_LENGTH_AND_TYPE(len, ms_dec_error(B, L, &e));
	buf[4] = 0x00; buf[5] = 0x10;  /* 4096: beyond any errno */
	is_int(ms_dec_error(buf, (size_t)len, &e), -EBADMSG, "error with errno 4096 rejected");

	{
		/* staging and lease messages */
		struct ms_msg_stage sg = { .handle = 2, .epoch = 5, .need = 3u << 20 }, sg2;
		struct ms_msg_stage_ok so = { .n = 2 }, so2;
		struct ms_msg_renew rn = { .handle = 4, .epoch = 6 }, rn2;
		struct ms_msg_handover hv = { .handle = 1, .epoch = 8, .client_id = { 1, 2, 3 } }, hv2;
		struct ms_lease_info li = { .state = MS_LEASE_HELD, .epoch = 12, .expires_ms = 9500,
					    .ttl_ms = 10000, .holder = "10.0.0.1:4444",
					    .client_id = { 0xaa } }, li2;
		char nm[MS_NAME_MAX + 1];
		uint32_t ttl;

		so.seg[0] = (struct ms_stage_seg){ 0, { 0, 1u << 20, 0x77 } };
		so.seg[1] = (struct ms_stage_seg){ 1u << 20, { 0, 2u << 20, 0x78 } };
		len = ms_enc_stage(buf, sizeof(buf), &sg);
		ok(len > 0 && ms_dec_stage(buf, (size_t)len, &sg2) == 0 && sg2.handle == 2 &&
		   sg2.epoch == 5 && sg2.need == 3u << 20, "stage round-trips");
		CHECK_TRUNCATIONS(len, ms_dec_stage(B, L, &sg2));
		CHECK_LENGTH_AND_TYPE(len, ms_dec_stage(B, L, &sg2));
		len = ms_enc_stage_ok(buf, sizeof(buf), &so);
		ok(len > 0 && ms_dec_stage_ok(buf, (size_t)len, &so2) == 0 && so2.n == 2 &&
		   so2.seg[1].base == 1u << 20 && so2.seg[1].desc.rkey == 0x78 &&
		   so2.seg[0].desc.len == 1u << 20, "stage_ok round-trips");
		CHECK_TRUNCATIONS(len, ms_dec_stage_ok(B, L, &so2));
		buf[4] = MS_STAGE_MAX_SEGS + 1;
		is_int(ms_dec_stage_ok(buf, (size_t)len, &so2), -EBADMSG,
		       "stage_ok with more areas than allowed is rejected");
		so.n = MS_STAGE_MAX_SEGS + 1;
		is_int(ms_enc_stage_ok(buf, sizeof(buf), &so), -E2BIG, "... and does not encode");
		len = ms_enc_renew(buf, sizeof(buf), &rn);
		ok(len > 0 && ms_dec_renew(buf, (size_t)len, &rn2) == 0 && rn2.handle == 4 &&
		   rn2.epoch == 6, "renew round-trips");
		CHECK_TRUNCATIONS(len, ms_dec_renew(B, L, &rn2));
		len = ms_enc_renew_ok(buf, sizeof(buf), 2500);
		ok(len > 0 && ms_dec_renew_ok(buf, (size_t)len, &ttl) == 0 && ttl == 2500,
		   "renew_ok round-trips");
		len = ms_enc_handover(buf, sizeof(buf), &hv);
		ok(len > 0 && ms_dec_handover(buf, (size_t)len, &hv2) == 0 && hv2.epoch == 8 &&
		   memcmp(hv2.client_id, hv.client_id, 16) == 0, "handover round-trips");
		CHECK_TRUNCATIONS(len, ms_dec_handover(B, L, &hv2));
		len = ms_enc_lease(buf, sizeof(buf), MS_MSG_LEASE_BREAK, "db");
		ok(len > 0 && ms_dec_lease(buf, (size_t)len, MS_MSG_LEASE_BREAK, nm) == 0 &&
		   strcmp(nm, "db") == 0, "lease break round-trips");
		is_int(ms_dec_lease(buf, (size_t)len, MS_MSG_LEASE, nm), -EBADMSG,
		       "a lease break is not a lease query");
		is_int(ms_enc_lease(buf, sizeof(buf), MS_MSG_STAT, "db"), -EINVAL,
		       "a lease request of another type does not encode");
		len = ms_enc_lease_ok(buf, sizeof(buf), &li);
		ok(len > 0 && ms_dec_lease_ok(buf, (size_t)len, &li2) == 0 &&
		   li2.state == MS_LEASE_HELD && li2.epoch == 12 && li2.expires_ms == 9500 &&
		   li2.ttl_ms == 10000 && strcmp(li2.holder, li.holder) == 0 &&
		   li2.client_id[0] == 0xaa, "lease_ok round-trips");
		CHECK_TRUNCATIONS(len, ms_dec_lease_ok(B, L, &li2));
		buf[4] = 7;                 /* an unknown state */
		is_int(ms_dec_lease_ok(buf, (size_t)len, &li2), -EBADMSG,
		       "lease_ok with an unknown state is rejected");
		li.expires_ms = -1;
		len = ms_enc_lease_ok(buf, sizeof(buf), &li);
		ok(ms_dec_lease_ok(buf, (size_t)len, &li2) == 0 && li2.expires_ms == -1,
		   "a lease that never lapses keeps -1");
	}

	/* administration: CLIENTS, CLIENTS_OK, DISCONNECT (proto_admin.c) */
	{
		struct ms_client_info ci[2] = {
			{ .id = 7, .region = "db", .address = "127.0.0.1:40000", .transport = "tcp",
			  .key = "ops", .mode = MS_MODE_WRITE, .lease = true, .epoch = 12,
			  .bytes_read = 1, .bytes_written = 1ull << 40, .idle_ms = 2500,
			  .client_id = { 0xaa, [15] = 0x55 } },
			{ .id = 8, .region = "db", .address = "[::1]:5", .transport = "rdma",
			  .mode = MS_MODE_READ },
		};
		struct ms_client_info *got = NULL;
		char nm[MS_NAME_MAX + 1];
		uint64_t id = 0;
		size_t nc = 0;

		len = ms_enc_clients(buf, sizeof(buf), "db");
		ok(len > 0 && ms_dec_clients(buf, (size_t)len, nm) == 0 && strcmp(nm, "db") == 0,
		   "clients round-trips");
		CHECK_TRUNCATIONS(len, ms_dec_clients(B, L, nm));
		CHECK_LENGTH_AND_TYPE(len, ms_dec_clients(B, L, nm));
		len = ms_enc_clients(buf, sizeof(buf), NULL);
		ok(len > 0 && ms_dec_clients(buf, (size_t)len, nm) == 0 && nm[0] == '\0',
		   "clients of every region: an empty name");
		len = ms_enc_clients_ok(buf, sizeof(buf), ci, 2);
		ok(len > 0 && ms_dec_clients_ok(buf, (size_t)len, &got, &nc) == 0 && nc == 2,
		   "clients_ok round-trips two entries");
		ok(got && got[0].id == 7 && strcmp(got[0].region, "db") == 0 &&
		   strcmp(got[0].address, "127.0.0.1:40000") == 0 &&
		   strcmp(got[0].transport, "tcp") == 0 && strcmp(got[0].key, "ops") == 0 &&
		   got[0].mode == MS_MODE_WRITE && got[0].lease && got[0].epoch == 12 &&
		   got[0].bytes_read == 1 && got[0].bytes_written == 1ull << 40 &&
		   got[0].idle_ms == 2500 && memcmp(got[0].client_id, ci[0].client_id, 16) == 0,
		   "clients_ok: every field of the first entry");
		ok(got && got[1].id == 8 && strcmp(got[1].transport, "rdma") == 0 &&
		   got[1].key[0] == '\0' && got[1].mode == MS_MODE_READ && !got[1].lease,
		   "clients_ok: the second entry");
		free(got);
		got = NULL;
		CHECK_TRUNCATIONS(len, ms_dec_clients_ok(B, L, &got, &nc));
		CHECK_LENGTH_AND_TYPE(len, ms_dec_clients_ok(B, L, &got, &nc));
		buf[4] = 0xff; buf[5] = 0xff; buf[6] = 0; buf[7] = 0;   /* 65535 entries */
		is_int(ms_dec_clients_ok(buf, (size_t)len, &got, &nc), -EBADMSG,
		       "clients_ok with more than MS_CLIENTS_MAX entries is rejected");
		ci[1].mode = (enum ms_mode)3;
		len = ms_enc_clients_ok(buf, sizeof(buf), ci, 2);
		is_int(ms_dec_clients_ok(buf, (size_t)len, &got, &nc), -EBADMSG,
		       "clients_ok with an unknown mode is rejected");
		is_int(ms_enc_clients_ok(buf, sizeof(buf), ci, MS_CLIENTS_MAX + 1), -E2BIG,
		       "more than MS_CLIENTS_MAX entries do not encode");
		len = ms_enc_clients_ok(buf, sizeof(buf), ci, 0);
		ok(len > 0 && ms_dec_clients_ok(buf, (size_t)len, &got, &nc) == 0 && nc == 0,
		   "clients_ok with no entry");
		free(got);
		len = ms_enc_disconnect(buf, sizeof(buf), 0x0102030405060708ull);
		ok(len > 0 && ms_dec_disconnect(buf, (size_t)len, &id) == 0 &&
		   id == 0x0102030405060708ull, "disconnect round-trips");
		CHECK_TRUNCATIONS(len, ms_dec_disconnect(B, L, &id));
		CHECK_LENGTH_AND_TYPE(len, ms_dec_disconnect(B, L, &id));
		is_str(ms_msg_name(MS_MSG_DISCONNECT_OK), "DISCONNECT_OK", "admin message names");
	}

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
