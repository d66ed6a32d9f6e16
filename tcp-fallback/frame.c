/* SPDX-License-Identifier: Apache-2.0 */
/*
 * frame.c - encode, decode and validate TCP fallback frame headers.
 *
 * Every byte that arrives from a peer goes through ms_frame_decode() before
 * anything acts on it, so the rules here are the whole of what a receiver
 * trusts: a header that breaks any of them ends the connection.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "frame.h"
#include "transport.h"
#include "util.h"

static void put_le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put_le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint16_t get_le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

static uint32_t get_le32(const uint8_t *p)
{
	uint32_t v = 0;

	for (int i = 3; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static uint64_t get_le64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

void ms_frame_encode(const struct ms_frame *f, void *buf)
{
	uint8_t *p = buf;

	put_le32(p + 0, MS_FRAME_MAGIC);
	p[4] = MS_FRAME_VERSION;
	p[5] = f->type;
	put_le16(p + 6, 0);
	put_le32(p + 8, f->plen);
	put_le32(p + 12, (uint32_t)f->status);
	put_le64(p + 16, f->id);
	put_le64(p + 24, f->key);
	put_le64(p + 32, f->addr);
	put_le32(p + 40, f->len);
	put_le32(p + 44, 0);
}

const char *ms_frame_type_name(unsigned type)
{
	static const char *const names[] = {
		[MS_F_CTRL_REQ] = "CTRL_REQ",   [MS_F_CTRL_RESP] = "CTRL_RESP",
		[MS_F_READ_REQ] = "READ_REQ",   [MS_F_READ_RESP] = "READ_RESP",
		[MS_F_WRITE_REQ] = "WRITE_REQ", [MS_F_WRITE_RESP] = "WRITE_RESP",
		[MS_F_NOTIFY] = "NOTIFY",       [MS_F_AUTH] = "AUTH",
	};

	if (type == 0 || type > MS_F_TYPE_MAX)
		return "unknown";
	return names[type];
}

static int reject(int err, char *why, size_t whylen, const char *fmt, ...) MS_PRINTF(4, 5);

static int reject(int err, char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	if (why && whylen) {
		va_start(ap, fmt);
		vsnprintf(why, whylen, fmt, ap);
		va_end(ap);
	}
	return err;
}

static int is_request(unsigned type)
{
	return type == MS_F_CTRL_REQ || type == MS_F_READ_REQ || type == MS_F_WRITE_REQ;
}

int ms_frame_decode(const void *buf, size_t len, unsigned accept, uint32_t max_data,
		    struct ms_frame *out, char *why, size_t whylen)
{
	const uint8_t *p = buf;
	struct ms_frame f;
	uint32_t magic, limit;

	if (len < MS_FRAME_HDR)
		return reject(-EAGAIN, why, whylen, "short header (%zu of %d bytes)", len,
			      MS_FRAME_HDR);
	magic = get_le32(p);
	if (magic != MS_FRAME_MAGIC)
		return reject(-EPROTO, why, whylen, "bad magic 0x%08x", magic);
	if (p[4] != MS_FRAME_VERSION)
		return reject(-EPROTO, why, whylen, "unsupported frame version %u", p[4]);
	f.type = p[5];
	if (f.type == 0 || f.type > MS_F_TYPE_MAX)
		return reject(-EPROTO, why, whylen, "unknown frame type %u", f.type);
	if (!(accept & MS_FBIT(f.type)))
		return reject(-EPROTO, why, whylen, "unexpected frame type %s",
			      ms_frame_type_name(f.type));
	if (get_le16(p + 6) || get_le32(p + 44))
		return reject(-EPROTO, why, whylen, "%s with a nonzero reserved field",
			      ms_frame_type_name(f.type));
	f.plen = get_le32(p + 8);
	f.status = (int32_t)get_le32(p + 12);
	f.id = get_le64(p + 16);
	f.key = get_le64(p + 24);
	f.addr = get_le64(p + 32);
	f.len = get_le32(p + 40);

	if (is_request(f.type) ? f.status != 0
			       : (f.status > 0 || f.status < MS_FRAME_STATUS_MIN))
		return reject(-EPROTO, why, whylen, "%s with bad status %d",
			      ms_frame_type_name(f.type), (int)f.status);

	switch (f.type) {
	case MS_F_AUTH:
		if (f.key || f.addr || f.len || f.id)
			return reject(-EPROTO, why, whylen, "AUTH with data fields set");
		if (f.plen > MS_FRAME_AUTH_MAX)
			return reject(-EMSGSIZE, why, whylen,
				      "AUTH payload of %u bytes over the limit of %u", f.plen,
				      MS_FRAME_AUTH_MAX);
		break;
	case MS_F_CTRL_REQ:
	case MS_F_CTRL_RESP:
	case MS_F_NOTIFY:
		/* Control frames carry only their payload (and an id). */
		if (f.key || f.addr || f.len || (f.type == MS_F_NOTIFY && f.id))
			return reject(-EPROTO, why, whylen, "%s with data fields set",
				      ms_frame_type_name(f.type));
		if (f.plen > MS_CTRL_MAX)
			return reject(-EMSGSIZE, why, whylen,
				      "%s payload of %u bytes over the limit of %u",
				      ms_frame_type_name(f.type), f.plen, MS_CTRL_MAX);
		break;
	default:
		if (f.len > max_data)
			return reject(-EMSGSIZE, why, whylen,
				      "%s length %u over the limit of %u",
				      ms_frame_type_name(f.type), f.len, max_data);
		/* Only a WRITE_REQ and a successful READ_RESP carry data. */
		limit = 0;
		if (f.type == MS_F_WRITE_REQ || (f.type == MS_F_READ_RESP && f.status == 0))
			limit = f.len;
		if (f.plen != limit)
			return reject(f.plen > max_data ? -EMSGSIZE : -EPROTO, why, whylen,
				      "%s payload of %u bytes, expected %u",
				      ms_frame_type_name(f.type), f.plen, limit);
		break;
	}
	*out = f;
	return 0;
}
