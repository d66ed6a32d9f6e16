/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mkseeds.c - write the fuzz targets' seed corpora from the project's own
 * encoders (valid messages) plus a few edge cases:
 *
 *   tests/helpers/... mkseeds DIR        writes DIR/TARGET/NAME
 *
 * The committed corpus, tests/fuzz/corpus/, is this program's output
 * (regenerate it after a protocol change; libFuzzer adds what it finds
 * only to its temporary corpus, never here).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "auth.h"
#include "proto_stream.h"
#include "frame.h"
#include "proto.h"

static const char *root;
static uint8_t buf[1 << 16];
static int failures;

static void put(const char *target, const char *name, const void *p, int len)
{
	char path[4096];
	FILE *f;

	if (len < 0) {
		fprintf(stderr, "mkseeds: %s/%s: encoder failed (%d)\n", target, name, len);
		failures++;
		return;
	}
	snprintf(path, sizeof(path), "%s/%s", root, target);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/%s/%s", root, target, name);
	f = fopen(path, "wb");
	if (!f || fwrite(p, 1, (size_t)len, f) != (size_t)len || fclose(f)) {
		fprintf(stderr, "mkseeds: %s: %s\n", path, strerror(errno));
		failures++;
	}
}

static void puts_(const char *target, const char *name, const char *s)
{
	put(target, name, s, (int)strlen(s));
}

static void frames(void)
{
	static const struct {
		const char *name;
		struct ms_frame f;
	} fs[] = {
		{ "ctrl_req", { .type = MS_F_CTRL_REQ, .plen = 40, .id = 1 } },
		{ "ctrl_resp", { .type = MS_F_CTRL_RESP, .plen = 12, .id = 1 } },
		{ "ctrl_resp_err", { .type = MS_F_CTRL_RESP, .status = -EPROTO, .id = 9 } },
		{ "read_req", { .type = MS_F_READ_REQ, .id = 2, .key = 7, .addr = 65536,
				.len = 4096 } },
		{ "read_resp", { .type = MS_F_READ_RESP, .id = 2, .plen = 4096, .len = 4096 } },
		{ "read_resp_err", { .type = MS_F_READ_RESP, .id = 2, .status = -ERANGE,
				     .len = 4096 } },
		{ "write_req", { .type = MS_F_WRITE_REQ, .id = 3, .key = 8, .addr = 0,
				 .len = 1 << 20, .plen = 1 << 20 } },
		{ "write_resp", { .type = MS_F_WRITE_RESP, .id = 3, .len = 1 << 20 } },
		{ "notify", { .type = MS_F_NOTIFY, .plen = 16 } },
		/* edge cases: the largest lengths, and one past them */
		{ "ctrl_max", { .type = MS_F_CTRL_REQ, .plen = MS_CTRL_MAX, .id = 4 } },
		{ "ctrl_over", { .type = MS_F_CTRL_REQ, .plen = MS_CTRL_MAX + 1, .id = 4 } },
		{ "write_max", { .type = MS_F_WRITE_REQ, .id = 5, .key = 1,
				 .addr = ~0ull - 4095, .len = MS_TCP_MAX_IO,
				 .plen = MS_TCP_MAX_IO } },
		{ "write_over", { .type = MS_F_WRITE_REQ, .id = 5, .key = 1,
				  .len = MS_TCP_MAX_IO + 1, .plen = MS_TCP_MAX_IO + 1 } },
		{ "status_min", { .type = MS_F_CTRL_RESP, .status = MS_FRAME_STATUS_MIN } },
		{ "auth_m1", { .type = MS_F_AUTH, .plen = MS_AUTH_M1_MIN } },
		{ "auth_verdict", { .type = MS_F_AUTH, .status = -EACCES } },
		{ "auth_over", { .type = MS_F_AUTH, .plen = MS_FRAME_AUTH_MAX + 1 } },
		{ "bad_type", { .type = MS_F_TYPE_MAX + 1 } },
	};
	uint8_t h[MS_FRAME_HDR];

	for (size_t i = 0; i < sizeof(fs) / sizeof(fs[0]); i++) {
		ms_frame_encode(&fs[i].f, h);
		put("frame", fs[i].name, h, MS_FRAME_HDR);
	}
	ms_frame_encode(&fs[0].f, h);
	put("frame", "short", h, MS_FRAME_HDR - 1);
	h[44] = 1;  /* a reserved field */
	put("frame", "reserved", h, MS_FRAME_HDR);
}

static void proto(void)
{
	const size_t cap = sizeof(buf);
	struct ms_msg_hello hello = { .version = MS_PROTO_VERSION, .client_id = { 1, 2, 3 },
				      .agent = "memsync/0.1" };
	struct ms_msg_hello_ok hok = { .version = MS_PROTO_VERSION, .server_id = { 9 },
				       .max_io = 1 << 20 };
	struct ms_msg_open op = { .name = "r1", .mode = MS_MODE_WRITE, .expect_epoch = 3 };
	struct ms_msg_open_ok ook = { .handle = 1, .mode = MS_MODE_WRITE, .size = 8 << 20,
				      .chunk_size = 65536, .nchunks = 128, .generation = 5,
				      .data = { 4096, 8 << 20, 77 }, .meta = { 0, 4096, 78 },
				      .epoch = 3, .lease_ttl_ms = 10000, .stage_limit = 8 << 20 };
	struct ms_msg_handle h = { .handle = 1 };
	struct ms_commit_ent ents[3] = {
		{ .off = 0, .len = 65536, .soff = 0, .hash = { 1, 2 } },
		{ .off = 65536, .len = 100, .soff = 65536, .flags = MS_COMMIT_F_NOVERIFY },
		{ .off = ~0ull - 10, .len = 20, .soff = 0 },   /* overflowing off+len */
	};
	struct ms_msg_commit cm = { .handle = 1, .epoch = 3, .n = 3, .ents = ents };
	struct ms_msg_commit cmore = { .handle = 1, .flags = MS_COMMITMSG_MORE, .epoch = 3,
				       .n = 1, .ents = ents };
	struct ms_msg_gen g = { .generation = 42 };
	struct ms_msg_stat st = { .name = "" }, st1 = { .name = "r1" };
	struct ms_region_stat rs[2] = {
		{ .name = "r1", .backing = MS_BACKING_ANON, .size = 8 << 20, .chunk_size = 65536,
		  .generation = 2, .clients = 1, .write_leased = true,
		  .lease = { .state = MS_LEASE_HELD, .epoch = 3, .expires_ms = 9000,
			     .ttl_ms = 10000, .holder = "127.0.0.1:5555" } },
		{ .name = "moved", .backing = MS_BACKING_FILE, .size = 4096,
		  .chunk_size = 4096, .migrate_phase = MS_MIGRATE_DONE,
		  .lease = { .expires_ms = -1 }, .moved_to = "10.0.0.2:7400" },
	};
	struct ms_msg_hot hot = { .handle = 1, .max = 16 };
	uint64_t ix[4] = { 0, 5, 127, ~0ull };
	struct ms_msg_chunks ch = { .handle = 1, .n = 4, .idx = ix };
	struct ms_msg_stage sg = { .handle = 1, .epoch = 3, .need = 1 << 20 };
	struct ms_msg_stage_ok sok = { .n = 2, .seg = { { 0, { 4096, 1 << 20, 5 } },
						      { 1 << 20, { 8192, 1 << 20, 6 } } } };
	struct ms_msg_renew rn = { .handle = 1, .epoch = 3 };
	const struct ms_client_info cinfo[2] = {
		{ .id = 3, .region = "r1", .address = "127.0.0.1:40000", .transport = "tcp",
		  .key = "ops", .mode = MS_MODE_WRITE, .lease = true, .epoch = 3,
		  .bytes_written = 1 << 20, .idle_ms = 20, .client_id = { 1, 2, 3 } },
		{ .id = 4, .region = "r1", .address = "127.0.0.1:40001", .transport = "rdma",
		  .mode = MS_MODE_READ, .bytes_read = 4096 },
	};
	struct ms_lease_info li = { .state = MS_LEASE_HANDOVER, .epoch = 4, .expires_ms = 500,
				    .ttl_ms = 10000, .client_id = { 7 } };
	struct ms_msg_handover ho = { .handle = 1, .epoch = 3, .client_id = { 7 } };
	struct ms_msg_hold hd = { .handle = 1, .ms = 2000 };
	struct ms_msg_hold_ok hdok = { .generation = 9, .ms = 2000, .flags = MS_HOLD_F_SETTLED };
	struct ms_msg_migrate mg = { .name = "r1", .host = "10.0.0.1", .port = "7400",
				     .mode = MS_MIGRATE_HYBRID, .downtime_ms = 300,
				     .max_rounds = 10, .transport = MS_TRANSPORT_TCP,
				     .path = "/var/lib/r1", .self_host = "10.0.0.2",
				     .self_port = "7401", .max_bandwidth = 1 << 30 };
	struct ms_migrate_stat ms = { .name = "r1", .phase = MS_MIGRATE_POSTCOPYING,
				      .mode = MS_MIGRATE_POSTCOPY, .source = "10.0.0.1:7400",
				      .rounds = 2, .size = 8 << 20, .faults = 3,
				      .fault_hist = { 1, 2, 3 } };
	struct ms_msg_freeze fz = { .handle = 1, .ms = MS_FREEZE_MAX_MS };
	struct ms_msg_freeze_ok fzok = { .generation = 5, .epoch = 3 };
	struct ms_msg_handoff hf = { .handle = 1, .epoch = 4, .host = "10.0.0.2", .port = "7400" };
	struct ms_msg_moved mv = { .name = "r1", .host = "10.0.0.2", .port = "7400", .epoch = 4 };
	static const int empties[] = { MS_MSG_CLOSE_OK, MS_MSG_BYE, MS_MSG_BYE_OK,
				       MS_MSG_TOUCH_OK, MS_MSG_MIGRATE_OK,
				       MS_MSG_MIGRATE_ABORT_OK, MS_MSG_THAW_OK,
				       MS_MSG_MIGRATED_OK, MS_MSG_FETCH_OK,
				       MS_MSG_DISCONNECT_OK, MS_MSG_SESSION };
	struct ms_msg_session_ok sess = { .session = 7, .secret = { 1, 2, 3, 4 } };
	struct ms_msg_attach att = { .session = 7, .secret = { 1, 2, 3, 4 }, .handle = 1,
				     .mode = MS_MODE_READ };
	struct ms_msg_attach_ok attok = { .data = { .addr = 4096, .len = 8 << 20, .rkey = 9 } };
	char name[64];
	int n;

	put("proto", "hello", buf, ms_enc_hello(buf, cap, &hello));
	put("proto", "hello_ok", buf, ms_enc_hello_ok(buf, cap, &hok));
	put("proto", "open", buf, ms_enc_open(buf, cap, &op));
	put("proto", "open_ok", buf, ms_enc_open_ok(buf, cap, &ook));
	put("proto", "close", buf, ms_enc_close(buf, cap, &h));
	put("proto", "release", buf, ms_enc_release(buf, cap, &h));
	put("proto", "commit", buf, ms_enc_commit(buf, cap, &cm));
	put("proto", "commit_more", buf, ms_enc_commit(buf, cap, &cmore));
	put("proto", "commit_ok", buf, ms_enc_gen(buf, cap, MS_MSG_COMMIT_OK, &g));
	put("proto", "handoff_ok", buf, ms_enc_gen(buf, cap, MS_MSG_HANDOFF_OK, &g));
	put("proto", "handover_ok", buf, ms_enc_gen(buf, cap, MS_MSG_HANDOVER_OK, &g));
	put("proto", "stat_all", buf, ms_enc_stat(buf, cap, &st));
	put("proto", "stat", buf, ms_enc_stat(buf, cap, &st1));
	put("proto", "stat_ok", buf, ms_enc_stat_ok(buf, cap, rs, 2));
	put("proto", "stat_ok_empty", buf, ms_enc_stat_ok(buf, cap, rs, 0));
	put("proto", "hot", buf, ms_enc_hot(buf, cap, &hot));
	put("proto", "hot_ok", buf, ms_enc_chunks(buf, cap, MS_MSG_HOT_OK, &ch));
	put("proto", "touch", buf, ms_enc_chunks(buf, cap, MS_MSG_TOUCH, &ch));
	put("proto", "fetch", buf, ms_enc_chunks(buf, cap, MS_MSG_FETCH, &ch));
	for (size_t i = 0; i < sizeof(empties) / sizeof(empties[0]); i++) {
		snprintf(name, sizeof(name), "empty_%s", ms_msg_name(empties[i]));
		put("proto", name, buf, ms_enc_empty(buf, cap, empties[i]));
	}
	put("proto", "error", buf, ms_enc_error(buf, cap, EACCES, "not allowed: %s", "r1"));
	put("proto", "stage", buf, ms_enc_stage(buf, cap, &sg));
	put("proto", "stage_ok", buf, ms_enc_stage_ok(buf, cap, &sok));
	put("proto", "renew", buf, ms_enc_renew(buf, cap, &rn));
	put("proto", "renew_ok", buf, ms_enc_renew_ok(buf, cap, 10000));
	put("proto", "lease", buf, ms_enc_lease(buf, cap, MS_MSG_LEASE, "r1"));
	put("proto", "lease_break", buf, ms_enc_lease(buf, cap, MS_MSG_LEASE_BREAK, "r1"));
	put("proto", "lease_ok", buf, ms_enc_lease_ok(buf, cap, &li));
	put("proto", "clients", buf, ms_enc_clients(buf, cap, "r1"));
	put("proto", "clients_ok", buf, ms_enc_clients_ok(buf, cap, cinfo, 2));
	put("proto", "disconnect", buf, ms_enc_disconnect(buf, cap, 3));
	put("proto", "session_ok", buf, ms_enc_session_ok(buf, cap, &sess));
	put("proto", "attach", buf, ms_enc_attach(buf, cap, &att));
	put("proto", "attach_ok", buf, ms_enc_attach_ok(buf, cap, &attok));
	put("proto", "handover", buf, ms_enc_handover(buf, cap, &ho));
	put("proto", "hold", buf, ms_enc_hold(buf, cap, &hd));
	put("proto", "hold_ok", buf, ms_enc_hold_ok(buf, cap, MS_MSG_HOLD_OK, &hdok));
	hdok.flags = MS_HOLD_F_INTACT;
	put("proto", "release_ok", buf, ms_enc_hold_ok(buf, cap, MS_MSG_RELEASE_OK, &hdok));
	put("proto", "migrate", buf, ms_enc_migrate(buf, cap, &mg));
	put("proto", "migrate_status", buf,
	    ms_enc_migname(buf, cap, MS_MSG_MIGRATE_STATUS, "r1"));
	put("proto", "migrate_abort", buf, ms_enc_migname(buf, cap, MS_MSG_MIGRATE_ABORT, "r1"));
	put("proto", "migrate_status_ok", buf, ms_enc_migrate_stat(buf, cap, &ms));
	put("proto", "freeze", buf, ms_enc_freeze(buf, cap, &fz));
	put("proto", "freeze_ok", buf, ms_enc_freeze_ok(buf, cap, &fzok));
	put("proto", "thaw", buf, ms_enc_mighandle(buf, cap, MS_MSG_THAW, 1));
	put("proto", "migrated", buf, ms_enc_mighandle(buf, cap, MS_MSG_MIGRATED, 1));
	put("proto", "handoff", buf, ms_enc_handoff(buf, cap, &hf));
	put("proto", "moved", buf, ms_enc_moved(buf, cap, &mv));
	/* edge cases: a commit whose count claims more than follows, a
	 * truncated one, a string length past the end, a reserved type byte */
	n = ms_enc_commit(buf, cap, &cm);
	if (n > 0) {
		buf[20] = 0xff;
		put("proto", "commit_count_lies", buf, n);
		buf[20] = 3;
		put("proto", "commit_truncated", buf, n - 7);
	}
	n = ms_enc_open(buf, cap, &op);
	if (n > 0) {
		buf[4] = 0xff;
		put("proto", "open_strlen_lies", buf, n);
	}
	n = ms_enc_hello(buf, cap, &hello);
	if (n > 0) {
		buf[3] = 1;
		put("proto", "hello_reserved", buf, n);
	}
	put("proto", "short", "\x01", 1);
}

static void config(void)
{
	puts_("config", "full",
	      "# memsyncd.conf\n"
	      "listen 127.0.0.1:7400\n"
	      "transport tcp\n"
	      "log-level debug\n"
	      "lease-ttl 2.5\n"
	      "port-file /run/memsyncd.port\n"
	      "log-file /var/log/memsyncd.log\n"
	      "region vm0:64M:memfd,chunk=1M\n"
	      "region vm1:4G:file=/var/lib/vm1.img,nolock,commit=direct   # a comment\n"
	      "region vm2:8M:anon,commit=atomic,stage=2M\n");
	puts_("config", "ipv6", "listen [::1]:0\nregion a:4096\n");
	puts_("config", "twice", "region a:4096\nregion a:8192\n");
	puts_("config", "bad_chunk", "region a:4M:chunk=3K\n");
	puts_("config", "no_value", "listen\n");
	puts_("config", "unknown_key", "frobnicate yes\n");
	puts_("config", "huge_size", "region a:99999999999999999999T\n");
	puts_("config", "crlf", "listen 0.0.0.0:7400\r\nregion b:1M:file=\r\n");
	put("config", "nul", "region a:4096\0\n", 15);
	puts_("config", "empty_lines", "\n\n   \n#\n");
}

static void url(void)
{
	puts_("url", "full", "memsync://host.example:7400/vm0");
	puts_("url", "ipv6", "memsync://[fe80::1%eth0]:7400/r.1");
	puts_("url", "bare", "10.0.0.1:7400/r_1");
	puts_("url", "noport", "memsync://localhost");
	puts_("url", "port0", "memsync://h:0/r");
	puts_("url", "port_over", "memsync://h:65536/r");
	puts_("url", "dotdot", "memsync://h/..");
	puts_("url", "size", "64MiB");
	puts_("url", "size_over", "18446744073709551616");
	puts_("url", "transport", "rdma");
}

#define SECRET "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

static void auth(void)
{
	struct ms_authkey key = { .name = "fz", .secret_len = MS_AUTH_SECRET_MIN };
	struct ms_auth_cli c;
	uint8_t m[MS_AUTH_M2_LEN + MS_AUTH_M3_LEN + 1] = { 0 };
	size_t len;

	puts_("auth", "server_keys",
	      "# memsyncd keys\n"
	      "alice " SECRET " read-write vm0,vm1\n"
	      "bob " SECRET SECRET " read *\n"
	      "\n"
	      "carol.x@y-1 " SECRET " read r1\n");
	puts_("auth", "client_key", "alice " SECRET "\n");
	puts_("auth", "client_from_server_line", "alice " SECRET " read-write vm0\n");
	puts_("auth", "short_secret", "alice 0011 read *\n");
	puts_("auth", "bad_hex", "alice " SECRET "zz read *\n");
	puts_("auth", "twice", "a " SECRET " read *\na " SECRET " read *\n");
	puts_("auth", "bad_grant", "a " SECRET " write *\n");
	puts_("auth", "bad_regions", "a " SECRET " read vm0,,vm1\n");
	puts_("auth", "long_name", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa " SECRET "\n");
	puts_("auth", "crlf", "a " SECRET " read *\r\n");
	/* handshake messages: a real M1 (its nonce is random), M2- and
	 * M3-sized blobs, and masks that change nothing (the handshake
	 * succeeds) or one bit */
	if (ms_auth_cli_start(&c, &key, buf, sizeof(buf), &len) == 0)
		put("auth", "m1", buf, (int)len);
	ms_auth_cli_clear(&c);
	put("auth", "mask_zero", m, MS_AUTH_M2_LEN + MS_AUTH_M3_LEN);
	m[MS_AUTH_M2_LEN + 3] = 0x10;
	put("auth", "mask_m3_bit", m, MS_AUTH_M2_LEN + MS_AUTH_M3_LEN);
	m[MS_AUTH_M2_LEN + 3] = 0;
	m[40] = 1;
	put("auth", "mask_m2_bit", m, MS_AUTH_M2_LEN);
	put("auth", "m3_long", m, MS_AUTH_M2_LEN + MS_AUTH_M3_LEN + 1);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: mkseeds DIR (tests/fuzz/corpus)\n");
		return 2;
	}
	root = argv[1];
	mkdir(root, 0755);
	frames();
	proto();
	config();
	url();
	auth();
	return failures ? 1 : 0;
}
