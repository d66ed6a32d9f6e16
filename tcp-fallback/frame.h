/* SPDX-License-Identifier: Apache-2.0 */
/*
 * frame.h - the TCP fallback's wire frame: a fixed 48-byte little-endian
 * header, optionally followed by a payload.  Encoding, decoding and the
 * validation every receiver applies before trusting a header.
 *
 * Layout (docs/protocol.md, "TCP frames"):
 *
 *   off size field
 *     0    4 magic       MS_FRAME_MAGIC
 *     4    1 version     MS_FRAME_VERSION
 *     5    1 type        enum ms_ftype
 *     6    2 reserved    0
 *     8    4 plen        payload bytes that follow the header
 *    12    4 status      int32: 0 on requests, 0 or -errno on responses
 *    16    8 id          request id, echoed by the response
 *    24    8 key         registration key (data frames)
 *    32    8 addr        remote address (data frames)
 *    40    4 len         data length (data frames)
 *    44    4 reserved    0
 */
#ifndef MS_FRAME_H
#define MS_FRAME_H

#include <stddef.h>
#include <stdint.h>

#define MS_FRAME_MAGIC 0x4e59534du      /* "MSYN" as little-endian bytes */
#define MS_FRAME_VERSION 1
#define MS_FRAME_HDR 48                 /* header bytes on the wire */
#define MS_FRAME_STATUS_MIN (-4095)     /* responses carry 0 or -errno */
#define MS_TCP_MAX_IO (16u << 20)       /* largest data length a server accepts */

enum ms_ftype {
	MS_F_CTRL_REQ = 1,
	MS_F_CTRL_RESP = 2,
	MS_F_READ_REQ = 3,
	MS_F_READ_RESP = 4,
	MS_F_WRITE_REQ = 5,
	MS_F_WRITE_RESP = 6,
	MS_F_NOTIFY = 7,
	/* the key handshake (src/auth.h), both ways, before anything else:
	 * only a payload (at most MS_FRAME_AUTH_MAX bytes); a server's status
	 * is 0 or why it refuses */
	MS_F_AUTH = 8,
};
#define MS_F_TYPE_MAX MS_F_AUTH
#define MS_FRAME_AUTH_MAX 256

/* Masks for ms_frame_decode()'s `accept`: what each side may receive. */
#define MS_FBIT(t) (1u << (t))
#define MS_FRAME_ACCEPT_SERVER                                                    \
	(MS_FBIT(MS_F_CTRL_REQ) | MS_FBIT(MS_F_READ_REQ) | MS_FBIT(MS_F_WRITE_REQ) |  \
	 MS_FBIT(MS_F_AUTH))
#define MS_FRAME_ACCEPT_CLIENT                                                    \
	(MS_FBIT(MS_F_CTRL_RESP) | MS_FBIT(MS_F_READ_RESP) |                      \
	 MS_FBIT(MS_F_WRITE_RESP) | MS_FBIT(MS_F_NOTIFY) | MS_FBIT(MS_F_AUTH))

/* A decoded header (host byte order). */
struct ms_frame {
	uint8_t type;
	uint32_t plen;
	int32_t status;
	uint64_t id;
	uint64_t key;
	uint64_t addr;
	uint32_t len;
};

/* Write the header for f into buf (MS_FRAME_HDR bytes). */
void ms_frame_encode(const struct ms_frame *f, void *buf);

/* Decode the header at the start of buf (len bytes available) and validate
 * it: magic, version, type (known and in the `accept` mask), reserved
 * fields, status, unused fields and lengths.  Control payloads (CTRL_*,
 * NOTIFY) may be at most MS_CTRL_MAX bytes; data lengths at most max_data.
 * Reads at most MS_FRAME_HDR bytes.  Returns 0; -EAGAIN when len <
 * MS_FRAME_HDR (nothing decoded); -EPROTO for a malformed header and
 * -EMSGSIZE for a length over its limit, with the reason in why (may be
 * NULL).  *f is written only on success. */
int ms_frame_decode(const void *buf, size_t len, unsigned accept, uint32_t max_data,
		    struct ms_frame *f, char *why, size_t whylen);

/* "READ_REQ", ...; "unknown" for other values. */
const char *ms_frame_type_name(unsigned type);

#endif /* MS_FRAME_H */
