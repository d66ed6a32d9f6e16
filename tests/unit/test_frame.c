/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_frame.c - the TCP fallback's frame header: byte layout, round trips,
 * and every reason ms_frame_decode() rejects a header for.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "tap.h"
#include "transport.h"
#include "util.h"

#define SRV MS_FRAME_ACCEPT_SERVER
#define CLI MS_FRAME_ACCEPT_CLIENT
#define MAXD (1u << 20)

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* Decode from an exactly-sized heap copy, so ASan catches any overread. */
static int decode(const uint8_t *hdr, size_t len, unsigned accept, struct ms_frame *f,
		  char *why, size_t whylen)
{
	uint8_t *copy = malloc(len ? len : 1);
	int rc;

	memcpy(copy, hdr, len);
	rc = ms_frame_decode(copy, len, accept, MAXD, f, why, whylen);
	free(copy);
	return rc;
}

static void test_layout(void)
{
	struct ms_frame f = {
		.type = MS_F_WRITE_REQ, .plen = 0x1000, .status = 0,
		.id = 0x0102030405060708ull, .key = 0x1112131415161718ull,
		.addr = 0x2122232425262728ull, .len = 0x1000,
	};
	uint8_t b[MS_FRAME_HDR];

	memset(b, 0xee, sizeof(b));
	ms_frame_encode(&f, b);
	ok(memcmp(b, "MSYN", 4) == 0, "magic is \"MSYN\" on the wire");
	ok(b[4] == MS_FRAME_VERSION && b[5] == MS_F_WRITE_REQ, "version and type bytes");
	ok(b[6] == 0 && b[7] == 0 && b[44] == 0 && b[47] == 0, "reserved bytes are zero");
	ok(b[8] == 0x00 && b[9] == 0x10 && b[10] == 0 && b[11] == 0, "plen little-endian at 8");
	ok(b[16] == 0x08 && b[23] == 0x01, "id little-endian at 16");
	ok(b[24] == 0x18 && b[31] == 0x11, "key little-endian at 24");
	ok(b[32] == 0x28 && b[39] == 0x21, "addr little-endian at 32");
	ok(b[40] == 0x00 && b[41] == 0x10, "len little-endian at 40");

	f = (struct ms_frame){ .type = MS_F_READ_RESP, .status = -EACCES, .id = 9 };
	ms_frame_encode(&f, b);
	ok(b[12] == 0xf3 && b[13] == 0xff && b[14] == 0xff && b[15] == 0xff,
	   "negative status is two's complement little-endian");
}

static void roundtrip(const struct ms_frame *in, unsigned accept, const char *name)
{
	uint8_t b[MS_FRAME_HDR];
	struct ms_frame out;
	char why[128] = "";
	int rc;

	ms_frame_encode(in, b);
	memset(&out, 0x5a, sizeof(out));
	rc = decode(b, sizeof(b), accept, &out, why, sizeof(why));
	is_int(rc, 0, "round trip %s", name);
	if (rc)
		diag("why: %s", why);
	ok(out.type == in->type && out.plen == in->plen && out.status == in->status &&
	   out.id == in->id && out.key == in->key && out.addr == in->addr && out.len == in->len,
	   "%s fields survive", name);
}

static void test_roundtrips(void)
{
	struct ms_frame f;

	f = (struct ms_frame){ .type = MS_F_CTRL_REQ, .plen = 100, .id = 1 };
	roundtrip(&f, SRV, "CTRL_REQ");
	f = (struct ms_frame){ .type = MS_F_CTRL_REQ, .plen = MS_CTRL_MAX, .id = ~0ull };
	roundtrip(&f, SRV, "CTRL_REQ at MS_CTRL_MAX");
	f = (struct ms_frame){ .type = MS_F_CTRL_RESP, .plen = 0, .id = 2, .status = -ENOENT };
	roundtrip(&f, CLI, "CTRL_RESP with status");
	f = (struct ms_frame){ .type = MS_F_READ_REQ, .id = 3, .key = ~0ull, .addr = ~0ull,
			       .len = MAXD };
	roundtrip(&f, SRV, "READ_REQ at max length");
	f = (struct ms_frame){ .type = MS_F_READ_REQ, .id = 3, .key = 5, .len = 0 };
	roundtrip(&f, SRV, "READ_REQ of 0 bytes");
	f = (struct ms_frame){ .type = MS_F_READ_RESP, .id = 4, .key = 7, .addr = 4096,
			       .len = 1, .plen = 1 };
	roundtrip(&f, CLI, "READ_RESP with data");
	f = (struct ms_frame){ .type = MS_F_READ_RESP, .id = 4, .len = 100, .status = -ERANGE };
	roundtrip(&f, CLI, "READ_RESP with error");
	f = (struct ms_frame){ .type = MS_F_WRITE_REQ, .id = 5, .key = 1, .len = 77, .plen = 77 };
	roundtrip(&f, SRV, "WRITE_REQ");
	f = (struct ms_frame){ .type = MS_F_WRITE_RESP, .id = 6, .len = 77, .status = -4095 };
	roundtrip(&f, CLI, "WRITE_RESP with the lowest status");
	f = (struct ms_frame){ .type = MS_F_NOTIFY, .plen = 12 };
	roundtrip(&f, CLI, "NOTIFY");
}

/* Encode a valid frame, let `mut` damage it, expect rejection. */
struct bad {
	const char *name;
	struct ms_frame f;
	unsigned accept;
	int off;        /* byte offset to overwrite, -1: none */
	int width;      /* 1, 2, 4 or 8 */
	uint64_t val;
	int err;
	const char *why;
};

static void test_rejections(void)
{
	static const struct bad cases[] = {
		{ "bad magic", { .type = MS_F_READ_REQ },
		  SRV, 0, 4, 0x4e59534e, -EPROTO, "bad magic" },
		{ "magic byte-swapped", { .type = MS_F_READ_REQ },
		  SRV, 0, 4, 0x4d53594e, -EPROTO, "bad magic" },
		{ "version 0", { .type = MS_F_READ_REQ }, SRV, 4, 1, 0, -EPROTO, "version 0" },
		{ "version 2", { .type = MS_F_READ_REQ }, SRV, 4, 1, 2, -EPROTO, "version 2" },
		{ "type 0", { .type = MS_F_READ_REQ },
		  SRV, 5, 1, 0, -EPROTO, "unknown frame type 0" },
		{ "type 9", { .type = MS_F_READ_REQ },
		  SRV, 5, 1, 9, -EPROTO, "unknown frame type 9" },
		{ "type 255", { .type = MS_F_READ_REQ },
		  SRV, 5, 1, 255, -EPROTO, "unknown frame type 255" },
		{ "response sent to a server", { .type = MS_F_READ_RESP },
		  SRV, -1, 0, 0, -EPROTO, "unexpected frame type READ_RESP" },
		{ "NOTIFY sent to a server", { .type = MS_F_NOTIFY },
		  SRV, -1, 0, 0, -EPROTO, "unexpected" },
		{ "request sent to a client", { .type = MS_F_WRITE_REQ },
		  CLI, -1, 0, 0, -EPROTO, "unexpected frame type WRITE_REQ" },
		{ "reserved field at 6", { .type = MS_F_READ_REQ },
		  SRV, 6, 2, 1, -EPROTO, "reserved" },
		{ "reserved field at 44", { .type = MS_F_READ_REQ },
		  SRV, 44, 4, 0x80000000u, -EPROTO, "reserved" },
		{ "status in a request", { .type = MS_F_READ_REQ },
		  SRV, 12, 4, (uint32_t)-EIO, -EPROTO, "bad status" },
		{ "positive status", { .type = MS_F_WRITE_RESP },
		  CLI, 12, 4, 1, -EPROTO, "bad status" },
		{ "status below -4095", { .type = MS_F_WRITE_RESP },
		  CLI, 12, 4, (uint32_t)-4096, -EPROTO, "bad status" },
		{ "control frame with a key", { .type = MS_F_CTRL_REQ },
		  SRV, 24, 8, 1, -EPROTO, "data fields" },
		{ "control frame with an address", { .type = MS_F_CTRL_RESP },
		  CLI, 32, 8, 1, -EPROTO, "data fields" },
		{ "control frame with a length", { .type = MS_F_CTRL_REQ },
		  SRV, 40, 4, 1, -EPROTO, "data fields" },
		{ "NOTIFY with an id", { .type = MS_F_NOTIFY },
		  CLI, 16, 8, 1, -EPROTO, "data fields" },
		{ "control payload over MS_CTRL_MAX", { .type = MS_F_CTRL_REQ },
		  SRV, 8, 4, MS_CTRL_MAX + 1, -EMSGSIZE, "over the limit" },
		{ "NOTIFY payload of 4 GiB-1", { .type = MS_F_NOTIFY },
		  CLI, 8, 4, 0xffffffffu, -EMSGSIZE, "over the limit" },
		{ "READ length over max", { .type = MS_F_READ_REQ },
		  SRV, 40, 4, MAXD + 1, -EMSGSIZE, "length 1048577 over the limit of 1048576" },
		{ "WRITE length over max", { .type = MS_F_WRITE_REQ, .len = 10, .plen = 10 },
		  SRV, 40, 4, 0xffffffffu, -EMSGSIZE, "over the limit" },
		{ "WRITE payload over max", { .type = MS_F_WRITE_REQ, .len = 10, .plen = 10 },
		  SRV, 8, 4, MAXD + 1, -EMSGSIZE, "payload" },
		{ "READ_REQ with a payload", { .type = MS_F_READ_REQ, .len = 8 },
		  SRV, 8, 4, 8, -EPROTO, "expected 0" },
		{ "WRITE_REQ payload != length", { .type = MS_F_WRITE_REQ, .len = 10, .plen = 10 },
		  SRV, 8, 4, 9, -EPROTO, "expected 10" },
		{ "READ_RESP payload != length", { .type = MS_F_READ_RESP, .len = 10, .plen = 10 },
		  CLI, 8, 4, 11, -EPROTO, "expected 10" },
		{ "failed READ_RESP with a payload",
		  { .type = MS_F_READ_RESP, .len = 10, .status = -EACCES },
		  CLI, 8, 4, 10, -EPROTO, "expected 0" },
		{ "WRITE_RESP with a payload", { .type = MS_F_WRITE_RESP, .len = 10 },
		  CLI, 8, 4, 10, -EPROTO, "expected 0" },
	};
	uint8_t b[MS_FRAME_HDR];
	struct ms_frame out, canary;
	char why[160];
	int rc;

	for (size_t i = 0; i < MS_ARRAY_SIZE(cases); i++) {
		const struct bad *c = &cases[i];

		ms_frame_encode(&c->f, b);
		if (c->off >= 0) {
			for (int k = 0; k < c->width; k++)
				b[c->off + k] = (uint8_t)(c->val >> (8 * k));
		}
		memset(&out, 0x5a, sizeof(out));
		canary = out;
		why[0] = 0;
		rc = decode(b, sizeof(b), c->accept, &out, why, sizeof(why));
		is_int(rc, c->err, "rejects %s", c->name);
		ok(strstr(why, c->why) != NULL, "%s: reason \"%s\" names \"%s\"", c->name, why,
		   c->why);
		ok(memcmp(&out, &canary, sizeof(out)) == 0, "%s: output untouched", c->name);
	}
}

static void test_short(void)
{
	struct ms_frame f = { .type = MS_F_READ_REQ, .len = 1 }, out;
	uint8_t b[MS_FRAME_HDR];
	int bad = 0;

	ms_frame_encode(&f, b);
	for (size_t len = 0; len < MS_FRAME_HDR; len++)
		if (decode(b, len, SRV, &out, NULL, 0) != -EAGAIN)
			bad++;
	is_int(bad, 0, "every short header (0..47 bytes) gives -EAGAIN");
	is_int(ms_frame_decode(b, MS_FRAME_HDR + 100, SRV, MAXD, &out, NULL, 0), 0,
	       "bytes after the header are not looked at");
}

/* Random headers never crash decode, and whatever it accepts re-encodes
 * to the same bytes (a header has one encoding). */
static void test_fuzz(void)
{
	uint8_t b[MS_FRAME_HDR], again[MS_FRAME_HDR];
	struct ms_frame out;
	int accepted = 0, noncanon = 0;
	unsigned seed = 12345;

	for (int i = 0; i < 200000; i++) {
		for (size_t k = 0; k < sizeof(b); k++)
			b[k] = (uint8_t)(rand_r(&seed) >> 7);
		/* Mostly valid prefixes, or nothing would get past the magic. */
		if (i % 4) {
			put32(b, MS_FRAME_MAGIC);
			b[4] = MS_FRAME_VERSION;
			b[5] = (uint8_t)(1 + (unsigned)(rand_r(&seed) % 8));
			b[6] = b[7] = 0;
			put32(b + 44, 0);
			if (i % 3)
				put64(b + 24, 0), put64(b + 32, 0), put32(b + 40, 0);
			if (i % 2)
				put32(b + 12, 0);
			put32(b + 8, (uint32_t)rand_r(&seed) % 64);
			if (i % 5 == 0)
				put32(b + 40, b[8]);
		}
		if (decode(b, sizeof(b), SRV | CLI, &out, NULL, 0) == 0) {
			accepted++;
			ms_frame_encode(&out, again);
			if (memcmp(b, again, sizeof(b)))
				noncanon++;
		}
	}
	ok(accepted > 1000, "fuzz: %d random headers accepted", accepted);
	is_int(noncanon, 0, "fuzz: accepted headers re-encode identically");
}

static void test_names(void)
{
	is_str(ms_frame_type_name(MS_F_CTRL_REQ), "CTRL_REQ", "name of CTRL_REQ");
	is_str(ms_frame_type_name(MS_F_NOTIFY), "NOTIFY", "name of NOTIFY");
	is_str(ms_frame_type_name(0), "unknown", "name of 0");
	is_str(ms_frame_type_name(99), "unknown", "name of 99");
}

int main(void)
{
	test_layout();
	test_roundtrips();
	test_rejections();
	test_short();
	test_fuzz();
	test_names();
	return tap_done();
}
