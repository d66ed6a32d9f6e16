/* SPDX-License-Identifier: Apache-2.0 */
/*
 * proto_stream.c - SESSION and ATTACH (proto_stream.h); every decoder
 * checks every length (proto_cur.h).
 */
#include <errno.h>

#include "proto_cur.h"
#include "proto_stream.h"

int ms_enc_session_ok(void *buf, size_t cap, const struct ms_msg_session_ok *m)
{
	struct cur c = enc_begin(buf, cap, MS_MSG_SESSION_OK);

	put_u64(&c, m->session);
	put_bytes(&c, m->secret, MS_SESSION_SECRET_LEN);
	return enc_end(&c);
}

int ms_dec_session_ok(const void *buf, size_t len, struct ms_msg_session_ok *m)
{
	struct cur c = dec_begin(buf, len, MS_MSG_SESSION_OK);

	m->session = get_u64(&c);
	get_bytes(&c, m->secret, MS_SESSION_SECRET_LEN);
	return dec_end(&c);
}

int ms_enc_attach(void *buf, size_t cap, const struct ms_msg_attach *m)
{
	struct cur c = enc_begin(buf, cap, MS_MSG_ATTACH);

	put_u64(&c, m->session);
	put_bytes(&c, m->secret, MS_SESSION_SECRET_LEN);
	put_u32(&c, m->handle);
	put_u32(&c, m->mode);
	return enc_end(&c);
}

int ms_dec_attach(const void *buf, size_t len, struct ms_msg_attach *m)
{
	struct cur c = dec_begin(buf, len, MS_MSG_ATTACH);

	m->session = get_u64(&c);
	get_bytes(&c, m->secret, MS_SESSION_SECRET_LEN);
	m->handle = get_u32(&c);
	m->mode = get_u32(&c);
	if (!c.err && m->mode != MS_MODE_READ && m->mode != MS_MODE_WRITE)
		return -EBADMSG;
	return dec_end(&c);
}

int ms_enc_attach_ok(void *buf, size_t cap, const struct ms_msg_attach_ok *m)
{
	struct cur c = enc_begin(buf, cap, MS_MSG_ATTACH_OK);

	put_rdesc(&c, &m->data);
	return enc_end(&c);
}

int ms_dec_attach_ok(const void *buf, size_t len, struct ms_msg_attach_ok *m)
{
	struct cur c = dec_begin(buf, len, MS_MSG_ATTACH_OK);

	get_rdesc(&c, &m->data);
	return dec_end(&c);
}
