/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_frame.c - libFuzzer target: the TCP frame header decoder
 * (tcp-fallback/frame.c, ms_frame_decode) as a server and as a client
 * receive it.  A header it accepts obeys the rules frame.h lists and
 * encodes back to the same 48 bytes; a refusal is one of the documented
 * errors with a reason.
 */
#include <errno.h>
#include <string.h>

#include "frame.h"
#include "fuzz.h"
#include "transport.h"

static void one(const uint8_t *data, size_t size, unsigned accept, uint32_t max_data)
{
	struct ms_frame f;
	uint8_t back[MS_FRAME_HDR];
	char why[96];
	int rc;

	why[0] = '\0';
	memset(&f, 0xa5, sizeof(f));
	rc = ms_frame_decode(data, size, accept, max_data, &f, why, sizeof(why));
	if (size < MS_FRAME_HDR) {
		FUZZ_ASSERT(rc == -EAGAIN);
		return;
	}
	if (rc) {
		FUZZ_ASSERT(rc == -EPROTO || rc == -EMSGSIZE);
		FUZZ_ASSERT(why[0] && strlen(why) < sizeof(why));
		return;
	}
	FUZZ_ASSERT(f.type >= 1 && f.type <= MS_F_TYPE_MAX);
	FUZZ_ASSERT(accept & MS_FBIT(f.type));
	FUZZ_ASSERT(strcmp(ms_frame_type_name(f.type), "unknown") != 0);
	if (f.type == MS_F_AUTH) {
		FUZZ_ASSERT(f.plen <= MS_FRAME_AUTH_MAX);
		FUZZ_ASSERT(!f.id && !f.key && !f.addr && !f.len);
	} else if (f.type == MS_F_CTRL_REQ || f.type == MS_F_CTRL_RESP ||
		   f.type == MS_F_NOTIFY) {
		FUZZ_ASSERT(f.plen <= MS_CTRL_MAX);
		FUZZ_ASSERT(!f.key && !f.addr && !f.len);
	} else {
		FUZZ_ASSERT(f.len <= max_data && f.plen <= f.len);
	}
	if (f.type == MS_F_CTRL_REQ || f.type == MS_F_READ_REQ || f.type == MS_F_WRITE_REQ)
		FUZZ_ASSERT(f.status == 0);
	else
		FUZZ_ASSERT(f.status <= 0 && f.status >= MS_FRAME_STATUS_MIN);
	ms_frame_encode(&f, back);
	FUZZ_ASSERT(memcmp(back, data, MS_FRAME_HDR) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	one(data, size, MS_FRAME_ACCEPT_SERVER, MS_TCP_MAX_IO);
	one(data, size, MS_FRAME_ACCEPT_CLIENT, MS_TCP_MAX_IO);
	/* a client that asked for small reads (max_io) */
	one(data, size, MS_FRAME_ACCEPT_CLIENT, 4096);
	/* every type at once: the reserved and length rules alone */
	one(data, size, ~0u, MS_TCP_MAX_IO);
	(void)ms_frame_type_name(size ? data[0] : 0);
	return 0;
}
