/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_proto.c - libFuzzer target: every control message decoder of
 * src/proto.c, proto_lease.c and proto_migrate.c.  Each input is offered
 * to the decoder of every message type (so every ms_dec_* runs on every
 * input), and:
 *  - a decoder accepts only its own type (ms_msg_type of the input);
 *  - it returns 0 or one of the errors proto.h documents;
 *  - what it accepts encodes back to exactly the input (STAT_OK, which
 *    maps unknown backings and any nonzero "leased" to one value, encodes
 *    to a message that decodes to the same regions).
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "fuzz.h"
#include "proto.h"
#include "proto_stream.h"

/* the largest a decoder may be asked to store (COMMIT, chunk lists) */
static struct ms_commit_ent ents[MS_COMMIT_MAX_ENTS];
static uint64_t idx[MS_HOT_MAX];
static uint8_t out[MS_CTRL_MAX];

static const int types[] = {
	MS_MSG_HELLO, MS_MSG_HELLO_OK, MS_MSG_OPEN, MS_MSG_OPEN_OK, MS_MSG_CLOSE,
	MS_MSG_CLOSE_OK, MS_MSG_COMMIT, MS_MSG_COMMIT_OK, MS_MSG_STAT, MS_MSG_STAT_OK,
	MS_MSG_BYE, MS_MSG_BYE_OK, MS_MSG_HOT, MS_MSG_HOT_OK, MS_MSG_TOUCH, MS_MSG_TOUCH_OK,
	MS_MSG_STAGE, MS_MSG_STAGE_OK, MS_MSG_RENEW, MS_MSG_RENEW_OK, MS_MSG_LEASE,
	MS_MSG_LEASE_OK, MS_MSG_LEASE_BREAK, MS_MSG_HANDOVER, MS_MSG_HANDOVER_OK,
	MS_MSG_HOLD, MS_MSG_HOLD_OK, MS_MSG_RELEASE, MS_MSG_RELEASE_OK, MS_MSG_MIGRATE,
	MS_MSG_MIGRATE_OK, MS_MSG_MIGRATE_STATUS, MS_MSG_MIGRATE_STATUS_OK,
	MS_MSG_MIGRATE_ABORT, MS_MSG_MIGRATE_ABORT_OK, MS_MSG_FREEZE, MS_MSG_FREEZE_OK,
	MS_MSG_THAW, MS_MSG_THAW_OK, MS_MSG_HANDOFF, MS_MSG_HANDOFF_OK, MS_MSG_MIGRATED,
	MS_MSG_MIGRATED_OK, MS_MSG_FETCH, MS_MSG_FETCH_OK, MS_MSG_ERROR, MS_MSG_MOVED,
	MS_MSG_CLIENTS, MS_MSG_CLIENTS_OK, MS_MSG_DISCONNECT, MS_MSG_DISCONNECT_OK,
	MS_MSG_SESSION, MS_MSG_SESSION_OK, MS_MSG_ATTACH, MS_MSG_ATTACH_OK,
};

/* STAT_OK: decode, encode, decode again; the regions must agree. */
static int stat_ok(const uint8_t *d, size_t n)
{
	struct ms_region_stat *a = NULL, *b = NULL;
	size_t na = 0, nb = 0;
	int rc = ms_dec_stat_ok(d, n, &a, &na), len;

	if (rc)
		return rc;
	len = ms_enc_stat_ok(out, sizeof(out), a, na);
	FUZZ_ASSERT(len > 0);
	FUZZ_ASSERT(ms_dec_stat_ok(out, (size_t)len, &b, &nb) == 0);
	FUZZ_ASSERT(na == nb);
	for (size_t i = 0; i < na; i++) {
		FUZZ_ASSERT(strcmp(a[i].name, b[i].name) == 0);
		FUZZ_ASSERT(a[i].size == b[i].size && a[i].generation == b[i].generation);
		FUZZ_ASSERT(a[i].backing == b[i].backing);
		FUZZ_ASSERT(a[i].lease.state == b[i].lease.state);
		FUZZ_ASSERT(strcmp(a[i].moved_to, b[i].moved_to) == 0);
	}
	free(a);
	free(b);
	return 0;
}

/* CLIENTS_OK: decode, encode, decode again; the entries must agree. */
static int clients_ok(const uint8_t *d, size_t n)
{
	struct ms_client_info *a = NULL, *b = NULL;
	size_t na = 0, nb = 0;
	int rc = ms_dec_clients_ok(d, n, &a, &na), len;

	if (rc)
		return rc;
	len = ms_enc_clients_ok(out, sizeof(out), a, na);
	FUZZ_ASSERT(len > 0 && (size_t)len == n && memcmp(out, d, n) == 0);
	FUZZ_ASSERT(ms_dec_clients_ok(out, (size_t)len, &b, &nb) == 0);
	FUZZ_ASSERT(na == nb);
	for (size_t i = 0; i < na; i++) {
		FUZZ_ASSERT(a[i].id == b[i].id && a[i].mode == b[i].mode);
		FUZZ_ASSERT(a[i].mode == MS_MODE_READ || a[i].mode == MS_MODE_WRITE);
		FUZZ_ASSERT(strcmp(a[i].region, b[i].region) == 0);
		FUZZ_ASSERT(strcmp(a[i].address, b[i].address) == 0);
		FUZZ_ASSERT(strcmp(a[i].key, b[i].key) == 0);
	}
	free(a);
	free(b);
	return 0;
}

/* Decode d as type t and encode what came out into out: its length, or
 * the decoder's error (-1 - INT_MAX never: errors are -errno). */
static int decode_as(int t, const uint8_t *d, size_t n, size_t max)
{
	const size_t cap = sizeof(out);
	union {
		struct ms_msg_hello hello;
		struct ms_msg_hello_ok hello_ok;
		struct ms_msg_open open;
		struct ms_msg_open_ok open_ok;
		struct ms_msg_handle h;
		struct ms_msg_commit commit;
		struct ms_msg_gen gen;
		struct ms_msg_stat stat;
		struct ms_msg_hot hot;
		struct ms_msg_chunks chunks;
		struct ms_msg_error error;
		struct ms_msg_stage stage;
		struct ms_msg_stage_ok stage_ok;
		struct ms_msg_renew renew;
		struct ms_lease_info lease;
		struct ms_msg_handover handover;
		struct ms_msg_hold hold;
		struct ms_msg_hold_ok hold_ok;
		struct ms_msg_migrate migrate;
		struct ms_migrate_stat mstat;
		struct ms_msg_freeze freeze;
		struct ms_msg_freeze_ok freeze_ok;
		struct ms_msg_handoff handoff;
		struct ms_msg_moved moved;
		struct ms_msg_session_ok session_ok;
		struct ms_msg_attach attach;
		struct ms_msg_attach_ok attach_ok;
		char name[MS_NAME_MAX + 1];
		uint32_t u32;
		uint64_t u64;
	} m;
	int rc;

	memset(&m, 0, sizeof(m));
#define DEC(call, enc)                                                             \
	do {                                                                       \
		rc = (call);                                                       \
		return rc ? rc : (enc);                                            \
	} while (0)
	switch (t) {
	case MS_MSG_HELLO:
		DEC(ms_dec_hello(d, n, &m.hello), ms_enc_hello(out, cap, &m.hello));
	case MS_MSG_HELLO_OK:
		DEC(ms_dec_hello_ok(d, n, &m.hello_ok), ms_enc_hello_ok(out, cap, &m.hello_ok));
	case MS_MSG_OPEN:
		DEC(ms_dec_open(d, n, &m.open), ms_enc_open(out, cap, &m.open));
	case MS_MSG_OPEN_OK:
		DEC(ms_dec_open_ok(d, n, &m.open_ok), ms_enc_open_ok(out, cap, &m.open_ok));
	case MS_MSG_CLOSE:
		DEC(ms_dec_close(d, n, &m.h), ms_enc_close(out, cap, &m.h));
	case MS_MSG_RELEASE:
		DEC(ms_dec_release(d, n, &m.h), ms_enc_release(out, cap, &m.h));
	case MS_MSG_COMMIT:
		rc = ms_dec_commit(d, n, &m.commit, ents, max);
		FUZZ_ASSERT(rc != -E2BIG || m.commit.n > max);
		if (rc == 0)
			FUZZ_ASSERT(m.commit.n <= max && m.commit.ents == ents);
		return rc ? rc : ms_enc_commit(out, cap, &m.commit);
	case MS_MSG_COMMIT_OK:
	case MS_MSG_HANDOFF_OK:
	case MS_MSG_HANDOVER_OK:
		DEC(ms_dec_gen(d, n, t, &m.gen), ms_enc_gen(out, cap, t, &m.gen));
	case MS_MSG_STAT:
		DEC(ms_dec_stat(d, n, &m.stat), ms_enc_stat(out, cap, &m.stat));
	case MS_MSG_HOT:
		rc = ms_dec_hot(d, n, &m.hot);
		if (rc == 0)
			FUZZ_ASSERT(m.hot.max >= 1 && m.hot.max <= MS_HOT_MAX);
		return rc ? rc : ms_enc_hot(out, cap, &m.hot);
	case MS_MSG_HOT_OK:
	case MS_MSG_TOUCH:
	case MS_MSG_FETCH:
		rc = ms_dec_chunks(d, n, t, &m.chunks, idx, max);
		FUZZ_ASSERT(rc != -E2BIG || m.chunks.n > max);
		return rc ? rc : ms_enc_chunks(out, cap, t, &m.chunks);
	case MS_MSG_CLOSE_OK:
	case MS_MSG_BYE:
	case MS_MSG_BYE_OK:
	case MS_MSG_TOUCH_OK:
	case MS_MSG_MIGRATE_OK:
	case MS_MSG_MIGRATE_ABORT_OK:
	case MS_MSG_THAW_OK:
	case MS_MSG_MIGRATED_OK:
	case MS_MSG_FETCH_OK:
	case MS_MSG_DISCONNECT_OK:
	case MS_MSG_SESSION:
		DEC(ms_dec_empty(d, n, t), ms_enc_empty(out, cap, t));
	case MS_MSG_SESSION_OK:
		DEC(ms_dec_session_ok(d, n, &m.session_ok), ms_enc_session_ok(out, cap, &m.session_ok));
	case MS_MSG_ATTACH:
		rc = ms_dec_attach(d, n, &m.attach);
		if (rc == 0)
			FUZZ_ASSERT(m.attach.mode == MS_MODE_READ || m.attach.mode == MS_MODE_WRITE);
		return rc ? rc : ms_enc_attach(out, cap, &m.attach);
	case MS_MSG_ATTACH_OK:
		DEC(ms_dec_attach_ok(d, n, &m.attach_ok), ms_enc_attach_ok(out, cap, &m.attach_ok));
	case MS_MSG_CLIENTS:
		DEC(ms_dec_clients(d, n, m.name), ms_enc_clients(out, cap, m.name));
	case MS_MSG_DISCONNECT:
		DEC(ms_dec_disconnect(d, n, &m.u64), ms_enc_disconnect(out, cap, m.u64));
	case MS_MSG_ERROR:
		rc = ms_dec_error(d, n, &m.error);
		if (rc == 0)
			FUZZ_ASSERT(m.error.err > 0 && m.error.err <= 4095);
		return rc ? rc : ms_enc_error(out, cap, m.error.err, "%s", m.error.msg);
	case MS_MSG_STAGE:
		DEC(ms_dec_stage(d, n, &m.stage), ms_enc_stage(out, cap, &m.stage));
	case MS_MSG_STAGE_OK:
		rc = ms_dec_stage_ok(d, n, &m.stage_ok);
		if (rc == 0)
			FUZZ_ASSERT(m.stage_ok.n <= MS_STAGE_MAX_SEGS);
		return rc ? rc : ms_enc_stage_ok(out, cap, &m.stage_ok);
	case MS_MSG_RENEW:
		DEC(ms_dec_renew(d, n, &m.renew), ms_enc_renew(out, cap, &m.renew));
	case MS_MSG_RENEW_OK:
		DEC(ms_dec_renew_ok(d, n, &m.u32), ms_enc_renew_ok(out, cap, m.u32));
	case MS_MSG_LEASE:
	case MS_MSG_LEASE_BREAK:
		rc = ms_dec_lease(d, n, t, m.name);
		if (rc == 0)
			FUZZ_ASSERT(strlen(m.name) <= MS_NAME_MAX);
		return rc ? rc : ms_enc_lease(out, cap, t, m.name);
	case MS_MSG_LEASE_OK:
		DEC(ms_dec_lease_ok(d, n, &m.lease), ms_enc_lease_ok(out, cap, &m.lease));
	case MS_MSG_HANDOVER:
		DEC(ms_dec_handover(d, n, &m.handover), ms_enc_handover(out, cap, &m.handover));
	case MS_MSG_HOLD:
		DEC(ms_dec_hold(d, n, &m.hold), ms_enc_hold(out, cap, &m.hold));
	case MS_MSG_HOLD_OK:
	case MS_MSG_RELEASE_OK:
		DEC(ms_dec_hold_ok(d, n, t, &m.hold_ok), ms_enc_hold_ok(out, cap, t, &m.hold_ok));
	case MS_MSG_MIGRATE:
		DEC(ms_dec_migrate(d, n, &m.migrate), ms_enc_migrate(out, cap, &m.migrate));
	case MS_MSG_MIGRATE_STATUS:
	case MS_MSG_MIGRATE_ABORT:
		DEC(ms_dec_migname(d, n, t, m.name), ms_enc_migname(out, cap, t, m.name));
	case MS_MSG_MIGRATE_STATUS_OK:
		DEC(ms_dec_migrate_stat(d, n, &m.mstat), ms_enc_migrate_stat(out, cap, &m.mstat));
	case MS_MSG_FREEZE:
		rc = ms_dec_freeze(d, n, &m.freeze);
		if (rc == 0)
			FUZZ_ASSERT(m.freeze.ms >= 1 && m.freeze.ms <= MS_FREEZE_MAX_MS);
		return rc ? rc : ms_enc_freeze(out, cap, &m.freeze);
	case MS_MSG_FREEZE_OK:
		DEC(ms_dec_freeze_ok(d, n, &m.freeze_ok), ms_enc_freeze_ok(out, cap, &m.freeze_ok));
	case MS_MSG_THAW:
	case MS_MSG_MIGRATED:
		DEC(ms_dec_mighandle(d, n, t, &m.u32), ms_enc_mighandle(out, cap, t, m.u32));
	case MS_MSG_HANDOFF:
		DEC(ms_dec_handoff(d, n, &m.handoff), ms_enc_handoff(out, cap, &m.handoff));
	case MS_MSG_MOVED:
		DEC(ms_dec_moved(d, n, &m.moved), ms_enc_moved(out, cap, &m.moved));
	default:
		abort();
	}
#undef DEC
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int type = ms_msg_type(data, size);

	FUZZ_ASSERT(type == -EBADMSG || (type >= 0 && type <= 0xffff));
	(void)ms_msg_name(type);
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		int t = types[i], rc;

		if (t == MS_MSG_STAT_OK) {
			rc = stat_ok(data, size);
			FUZZ_ASSERT(rc == 0 || rc == -EBADMSG || rc == -ENOMEM);
		} else if (t == MS_MSG_CLIENTS_OK) {
			rc = clients_ok(data, size);
			FUZZ_ASSERT(rc == 0 || rc == -EBADMSG || rc == -ENOMEM);
		} else {
			/* a receiver's full storage, then a small one (-E2BIG) */
			for (int pass = 0; pass < 2; pass++) {
				size_t max = pass ? 3 : MS_COMMIT_MAX_ENTS;

				rc = decode_as(t, data, size, max);
				if (rc >= 0) {
					FUZZ_ASSERT((size_t)rc == size);
					FUZZ_ASSERT(memcmp(out, data, size) == 0);
				} else {
					FUZZ_ASSERT(rc == -EBADMSG || rc == -E2BIG);
				}
				if (t != MS_MSG_COMMIT && t != MS_MSG_HOT_OK &&
				    t != MS_MSG_TOUCH && t != MS_MSG_FETCH)
					break;
			}
		}
		if (t != type)
			FUZZ_ASSERT(rc < 0);
	}
	return 0;
}
