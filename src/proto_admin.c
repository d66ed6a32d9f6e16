/* SPDX-License-Identifier: Apache-2.0 */
/*
 * proto_admin.c - the control messages of runtime administration: CLIENTS
 * (who has which region open) and DISCONNECT (close one of them).  Layout
 * in proto.h; every decoder checks every length (proto_cur.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"
#include "proto_cur.h"

int ms_enc_clients(void *buf, size_t cap, const char *name)
{
	struct cur c = enc_begin(buf, cap, MS_MSG_CLIENTS);

	put_str(&c, name ? name : "", MS_NAME_MAX);
	return enc_end(&c);
}

int ms_dec_clients(const void *buf, size_t len, char name[MS_NAME_MAX + 1])
{
	struct cur c = dec_begin(buf, len, MS_MSG_CLIENTS);

	get_str(&c, name, MS_NAME_MAX);
	return dec_end(&c);
}

/* The widths of the string fields of struct ms_client_info, NUL excluded. */
#define ADDR_MAX (sizeof(((struct ms_client_info *)0)->address) - 1)
#define XPORT_MAX (sizeof(((struct ms_client_info *)0)->transport) - 1)
#define KEY_MAX (sizeof(((struct ms_client_info *)0)->key) - 1)

int ms_enc_clients_ok(void *buf, size_t cap, const struct ms_client_info *ci, size_t n)
{
	struct cur c = enc_begin(buf, cap, MS_MSG_CLIENTS_OK);

	if (n > MS_CLIENTS_MAX)
		return -E2BIG;
	put_u32(&c, (uint32_t)n);
	for (size_t i = 0; i < n && !c.err; i++) {
		put_u64(&c, ci[i].id);
		put_str(&c, ci[i].region, MS_NAME_MAX);
		put_str(&c, ci[i].address, ADDR_MAX);
		put_str(&c, ci[i].transport, XPORT_MAX);
		put_str(&c, ci[i].key, KEY_MAX);
		put_u32(&c, (uint32_t)ci[i].mode);
		put_u32(&c, ci[i].lease ? 1 : 0);
		put_u64(&c, ci[i].epoch);
		put_u64(&c, ci[i].bytes_read);
		put_u64(&c, ci[i].bytes_written);
		put_u64(&c, ci[i].idle_ms);
		put_bytes(&c, ci[i].client_id, 16);
	}
	return enc_end(&c);
}

int ms_dec_clients_ok(const void *buf, size_t len, struct ms_client_info **out, size_t *n)
{
	struct cur c = dec_begin(buf, len, MS_MSG_CLIENTS_OK);
	struct ms_client_info *ci;
	uint32_t cnt = get_u32(&c);

	if (c.err || cnt > MS_CLIENTS_MAX)
		return -EBADMSG;
	ci = calloc(cnt ? cnt : 1, sizeof(*ci));
	if (!ci)
		return -ENOMEM;
	for (uint32_t i = 0; i < cnt && !c.err; i++) {
		uint32_t mode, lease;

		ci[i].id = get_u64(&c);
		get_str(&c, ci[i].region, MS_NAME_MAX);
		get_str(&c, ci[i].address, ADDR_MAX);
		get_str(&c, ci[i].transport, XPORT_MAX);
		get_str(&c, ci[i].key, KEY_MAX);
		mode = get_u32(&c);
		lease = get_u32(&c);
		if (!c.err && ((mode != MS_MODE_READ && mode != MS_MODE_WRITE) || lease > 1))
			c.err = -EBADMSG;
		ci[i].mode = (enum ms_mode)mode;
		ci[i].lease = lease != 0;
		ci[i].epoch = get_u64(&c);
		ci[i].bytes_read = get_u64(&c);
		ci[i].bytes_written = get_u64(&c);
		ci[i].idle_ms = get_u64(&c);
		get_bytes(&c, ci[i].client_id, 16);
	}
	if (dec_end(&c)) {
		free(ci);
		return -EBADMSG;
	}
	*out = ci;
	*n = cnt;
	return 0;
}

int ms_enc_disconnect(void *buf, size_t cap, uint64_t id)
{
	struct cur c = enc_begin(buf, cap, MS_MSG_DISCONNECT);

	put_u64(&c, id);
	return enc_end(&c);
}

int ms_dec_disconnect(const void *buf, size_t len, uint64_t *id)
{
	struct cur c = dec_begin(buf, len, MS_MSG_DISCONNECT);

	*id = get_u64(&c);
	return dec_end(&c);
}
