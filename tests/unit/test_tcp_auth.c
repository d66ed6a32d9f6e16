/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_tcp_auth.c - the key handshake on the wire (tcp-fallback/tcp_auth.c
 * against a library server with keys): a good handshake, a replayed one
 * (M1 and M3 recorded from a good session, sent again on a new
 * connection), a control request and a data frame before the handshake,
 * a second M1, the library's ms_connect with and without keys, a reload
 * that revokes a connected key, and the region unchanged at the end.
 */
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "auth.h"
#include "frame.h"
#include "memsync.h"
#include "proto.h"
#include "tap.h"
#include "tcp_auth.h"
#include "tcp_sock.h"

#define TMO 5000
#define SECRET_A "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define SECRET_B "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"
#define RSIZE (1u << 20)

static char dir[] = "/tmp/ms-tcpauth-XXXXXX";
static char keys[300], port[8];

/* Records what the client sends (the two AUTH frames). */
struct rec {
	int fd;
	uint8_t sent[2][MS_FRAME_HDR + MS_FRAME_AUTH_MAX];
	size_t sent_len[2];
	int nsent;
};

static int rec_send(void *ud, const void *buf, size_t len, int tmo)
{
	struct rec *r = ud;
	struct iovec iov = { (void *)buf, len };

	if (r->nsent < 2 && len <= sizeof(r->sent[0])) {
		memcpy(r->sent[r->nsent], buf, len);
		r->sent_len[r->nsent++] = len;
	}
	return ms_sock_sendv_all(r->fd, &iov, 1, tmo);
}

static int rec_recv(void *ud, void *buf, size_t len, int tmo)
{
	return ms_sock_recv_all(((struct rec *)ud)->fd, buf, len, tmo, NULL);
}

static int dial(void)
{
	char err[200];

	return ms_sock_connect("127.0.0.1", port, TMO, 0, err, sizeof(err));
}

/* One frame from the server: 0 with *f, or -ECONNRESET when it closed. */
static int next_frame(int fd, struct ms_frame *f, uint8_t *payload, size_t cap)
{
	uint8_t h[MS_FRAME_HDR];
	int rc = ms_sock_recv_all(fd, h, sizeof(h), TMO, NULL);

	if (rc)
		return rc;
	rc = ms_frame_decode(h, sizeof(h), MS_FRAME_ACCEPT_CLIENT, MS_TCP_MAX_IO, f, NULL, 0);
	if (rc || f->plen > cap)
		return -EPROTO;
	return f->plen ? ms_sock_recv_all(fd, payload, f->plen, TMO, NULL) : 0;
}

static int send_raw(int fd, const void *p, size_t len)
{
	struct iovec iov = { (void *)p, len };

	return ms_sock_sendv_all(fd, &iov, 1, TMO);
}

static void write_keys(const char *text)
{
	char tmp[320];
	int fd;

	snprintf(tmp, sizeof(tmp), "%s.tmp", keys);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		abort();
	close(fd);
	rename(tmp, keys);
}

static const char *key_file(const char *name, const char *line)
{
	static char path[4][300];
	static int n;
	char *p = path[n++ % 4];
	int fd;

	snprintf(p, 300, "%s/%s", dir, name);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || write(fd, line, strlen(line)) != (ssize_t)strlen(line))
		abort();
	close(fd);
	return p;
}

static void test_wire(void)
{
	struct ms_authkey k;
	struct rec r = { 0 };
	struct tcp_auth_io io = { rec_send, rec_recv, &r };
	struct ms_frame f, rf;
	uint8_t buf[MS_FRAME_HDR + 64], pl[256];
	char err[300] = "";
	int fd, rc;

	ms_authkey_parse("alice " SECRET_A "\n", strlen("alice " SECRET_A "\n"), &k, err,
			 sizeof(err));
	r.fd = dial();
	rc = tcp_auth_client(&io, &k, "tcp", 3, TMO, err, sizeof(err));
	is_int(rc, 0, "a good handshake (%s)", err);
	is_int(r.nsent, 2, "the client sent M1 and M3");
	close(r.fd);

	/* the recorded M1 and M3 on a new connection: the server's nonce
	 * differs, so the old proof is refused and the connection closed */
	fd = dial();
	send_raw(fd, r.sent[0], r.sent_len[0]);
	rc = next_frame(fd, &rf, pl, sizeof(pl));
	ok(rc == 0 && rf.type == MS_F_AUTH && rf.status == 0 && rf.plen == MS_AUTH_M2_LEN,
	   "a replayed M1 is answered (a new challenge)");
	send_raw(fd, r.sent[1], r.sent_len[1]);
	rc = next_frame(fd, &rf, pl, sizeof(pl));
	ok(rc == 0 && rf.type == MS_F_AUTH && rf.status == -EACCES,
	   "the replayed proof is refused (status %d)", rf.status);
	is_int(next_frame(fd, &rf, pl, sizeof(pl)), -ECONNRESET, "and the connection closed");
	close(fd);

	/* a control request first: -EACCES, then closed */
	fd = dial();
	f = (struct ms_frame){ .type = MS_F_CTRL_REQ, .id = 1, .plen = 4 };
	ms_frame_encode(&f, buf);
	memset(buf + MS_FRAME_HDR, 0, 4);
	buf[MS_FRAME_HDR] = 9;         /* STAT */
	send_raw(fd, buf, MS_FRAME_HDR + 4);
	rc = next_frame(fd, &rf, pl, sizeof(pl));
	ok(rc == 0 && rf.type == MS_F_CTRL_RESP && rf.status == -EACCES && rf.plen == 0,
	   "a control request before the handshake: -EACCES and nothing else");
	is_int(next_frame(fd, &rf, pl, sizeof(pl)), -ECONNRESET, "then the connection closes");
	close(fd);

	/* a data frame first: closed without a byte */
	fd = dial();
	f = (struct ms_frame){ .type = MS_F_READ_REQ, .id = 1, .key = 1, .addr = 0, .len = 64 };
	ms_frame_encode(&f, buf);
	send_raw(fd, buf, MS_FRAME_HDR);
	is_int(next_frame(fd, &rf, pl, sizeof(pl)), -ECONNRESET,
	       "a READ before the handshake: closed, no data");
	close(fd);

	/* an M1 twice */
	fd = dial();
	send_raw(fd, r.sent[0], r.sent_len[0]);
	next_frame(fd, &rf, pl, sizeof(pl));
	send_raw(fd, r.sent[0], r.sent_len[0]);
	rc = next_frame(fd, &rf, pl, sizeof(pl));
	ok(rc == -ECONNRESET || (rc == 0 && rf.status != 0), "a second M1 is refused");
	close(fd);

	/* an oversized AUTH payload */
	fd = dial();
	f = (struct ms_frame){ .type = MS_F_AUTH, .plen = 4096 };
	ms_frame_encode(&f, buf);
	send_raw(fd, buf, MS_FRAME_HDR);
	is_int(next_frame(fd, &rf, pl, sizeof(pl)), -ECONNRESET, "a 4 KiB AUTH frame: closed");
	close(fd);
	explicit_bzero(&k, sizeof(k));
}

/* One control request on an authenticated raw connection: the reply's
 * message type, and its errno when it is an ERROR (else 0). */
static size_t rlen;     /* the last reply's length */

static int rcall(int fd, const void *req, int len, int *err, void *resp, size_t cap)
{
	static uint64_t id = 1;
	uint8_t hdr[MS_FRAME_HDR];
	struct ms_frame f = { .type = MS_F_CTRL_REQ, .id = id++, .plen = (uint32_t)len };
	struct ms_msg_error e;
	int rc;

	ms_frame_encode(&f, hdr);
	if (send_raw(fd, hdr, sizeof(hdr)) || send_raw(fd, req, (size_t)len))
		return -EPIPE;
	rc = next_frame(fd, &f, resp, cap);
	if (rc || f.type != MS_F_CTRL_RESP)
		return rc ? rc : -EPROTO;
	*err = 0;
	rlen = f.plen;
	if (ms_msg_type(resp, f.plen) == MS_MSG_ERROR && ms_dec_error(resp, f.plen, &e) == 0)
		*err = e.err;
	return ms_msg_type(resp, f.plen);
}

/* bob's read-only key, by hand on the wire: no write lease, no staging,
 * no commit, no WRITE with his read descriptor, no lease break. */
static void test_readonly_wire(void)
{
	static uint8_t req[4096], resp[1 << 16];
	struct ms_authkey k;
	struct tcp_auth_io io = tcp_auth_fd_io;
	struct ms_msg_hello h = { .version = MS_PROTO_VERSION };
	struct ms_msg_open o = { .mode = MS_MODE_WRITE };
	struct ms_msg_open_ok ok_;
	struct ms_commit_ent ent = { .off = 0, .len = 65536, .soff = 0 };
	struct ms_msg_commit cm = { .n = 1, .ents = &ent };
	struct ms_msg_stage st = { .need = 65536 };
	struct ms_frame f;
	uint8_t data[MS_FRAME_HDR + 64];
	char err[300];
	int fd, e = 0, t;

	ms_authkey_parse("bob " SECRET_B "\n", strlen("bob " SECRET_B "\n"), &k, err, sizeof(err));
	fd = dial();
	io.ud = (void *)(intptr_t)fd;
	is_int(tcp_auth_client(&io, &k, "tcp", 3, TMO, err, sizeof(err)), 0, "bob on a raw socket");
	explicit_bzero(&k, sizeof(k));
	t = rcall(fd, req, ms_enc_hello(req, sizeof(req), &h), &e, resp, sizeof(resp));
	is_int(t, MS_MSG_HELLO_OK, "HELLO");
	snprintf(o.name, sizeof(o.name), "db");
	t = rcall(fd, req, ms_enc_open(req, sizeof(req), &o), &e, resp, sizeof(resp));
	ok(t == MS_MSG_ERROR && e == EACCES, "OPEN for writing: EACCES (%d, %d)", t, e);
	o.mode = MS_MODE_READ;
	t = rcall(fd, req, ms_enc_open(req, sizeof(req), &o), &e, resp, sizeof(resp));
	is_int(t, MS_MSG_OPEN_OK, "OPEN for reading");
	memset(&ok_, 0, sizeof(ok_));
	is_int(ms_dec_open_ok(resp, rlen, &ok_), 0, "its reply decodes");
	st.handle = cm.handle = ok_.handle;
	t = rcall(fd, req, ms_enc_stage(req, sizeof(req), &st), &e, resp, sizeof(resp));
	ok(t == MS_MSG_ERROR && e != 0, "STAGE on a read handle: refused (errno %d)", e);
	t = rcall(fd, req, ms_enc_commit(req, sizeof(req), &cm), &e, resp, sizeof(resp));
	ok(t == MS_MSG_ERROR && e != 0, "COMMIT on a read handle: refused (errno %d)", e);
	t = rcall(fd, req, ms_enc_lease(req, sizeof(req), MS_MSG_LEASE_BREAK, "db"), &e, resp,
		  sizeof(resp));
	ok(t == MS_MSG_ERROR && e == EACCES, "LEASE_BREAK: EACCES (errno %d)", e);
	/* a WRITE with the read descriptor of the region */
	f = (struct ms_frame){ .type = MS_F_WRITE_REQ, .id = 999, .key = ok_.data.rkey,
			       .addr = ok_.data.addr, .len = 64, .plen = 64 };
	ms_frame_encode(&f, data);
	memset(data + MS_FRAME_HDR, 0xee, 64);
	send_raw(fd, data, sizeof(data));
	t = next_frame(fd, &f, resp, sizeof(resp));
	ok(t == 0 && f.type == MS_F_WRITE_RESP && f.status == -EACCES,
	   "WRITE with the read descriptor: -EACCES (status %d)", f.status);
	close(fd);
}

static void test_library(ms_server *s, const uint8_t *want)
{
	struct ms_client_opts co = { .opts_size = sizeof(co), .transport = MS_TRANSPORT_TCP,
				     .timeout_ms = TMO };
	char err[400];
	ms_client *c, *c2;
	ms_region *r;
	uint8_t *got = malloc(RSIZE);

	c = ms_connect("127.0.0.1", port, &co, err, sizeof(err));
	ok(!c && errno == EACCES, "ms_connect without a key: EACCES");
	ok(strstr(err, "requires authentication") != NULL, "  (%s)", err);
	co.key_file = key_file("bob.key", "bob " SECRET_B "\n");
	c = ms_connect("127.0.0.1", port, &co, err, sizeof(err));
	ok(c != NULL, "ms_connect with bob's key (%s)", c ? "" : err);
	if (!c)
		goto out;
	r = ms_open(c, "db", MS_MODE_READ);
	ok(r != NULL, "bob opens db for reading");
	ok(r && ms_pull(r, 0, got, RSIZE, NULL, NULL) == 0 && memcmp(got, want, RSIZE) == 0,
	   "and pulls it byte for byte");
	ok(ms_open(c, "db", MS_MODE_WRITE) == NULL && errno == EACCES,
	   "bob's read-only key takes no write lease");
	ok(ms_open(c, "hidden", MS_MODE_READ) == NULL && errno == ENOENT,
	   "a region bob may not see: ENOENT");
	ok(strstr(ms_client_errmsg(c), "unknown region 'hidden'") != NULL, "  (%s)",
	   ms_client_errmsg(c));
	{
		/* alice writes db: only a key that may write it learns who */
		struct ms_client_opts ao = co;
		struct ms_lease_info li;
		ms_client *a;
		ms_region *w;

		ao.key_file = key_file("alice.key", "alice " SECRET_A "\n");
		a = ms_connect("127.0.0.1", port, &ao, err, sizeof(err));
		w = a ? ms_open(a, "db", MS_MODE_WRITE) : NULL;
		ok(w != NULL, "alice holds db's write lease");
		ok(ms_lease_get(c, "db", &li) == 0 && li.state == MS_LEASE_HELD && !li.holder[0],
		   "bob sees the lease held, but not by whom");
		ok(a && ms_lease_get(a, "db", &li) == 0 && li.holder[0] != '\0',
		   "alice (read-write) sees the holder (%s)", li.holder);
		ms_disconnect(a);
	}

	/* the reload drops bob: his connection closes, alice's stays */
	co.key_file = key_file("alice.key", "alice " SECRET_A "\n");
	c2 = ms_connect("127.0.0.1", port, &co, err, sizeof(err));
	ok(c2 != NULL, "alice connects (%s)", c2 ? "" : err);
	write_keys("alice " SECRET_A " read-write *\n");
	is_int(ms_server_reload_keys(s), 0, "keys reloaded without bob");
	{
		int rc = -1;

		for (int i = 0; i < 100 && (rc = ms_pull(r, 0, got, 4096, NULL, NULL)) == 0; i++)
			usleep(20000);
		ok(rc < 0, "bob's connection was closed (%d)", rc);
	}
	ok(c2 && ms_open(c2, "db", MS_MODE_READ) != NULL, "alice's still works");
	co.key_file = key_file("bob.key", "bob " SECRET_B "\n");
	ok(ms_connect("127.0.0.1", port, &co, err, sizeof(err)) == NULL && errno == EACCES,
	   "bob cannot connect again");
	ms_disconnect(c2);
	ms_disconnect(c);
out:
	free(got);
}

int main(void)
{
	struct ms_server_opts so = { .opts_size = sizeof(so), .host = "127.0.0.1", .port = "0",
				     .transport = MS_TRANSPORT_TCP };
	struct ms_export_opts eo = { .opts_size = sizeof(eo), .name = "db", .size = RSIZE };
	char err[400];
	ms_server *s;
	ms_export *e;
	uint8_t *want;

	if (!mkdtemp(dir))
		abort();
	snprintf(keys, sizeof(keys), "%s/keys", dir);
	write_keys("alice " SECRET_A " read-write *\nbob " SECRET_B " read db\n");
	so.auth_keys = keys;
	s = ms_server_create(&so, err, sizeof(err));
	if (!s) {
		printf("Bail out! server: %s\n", err);
		return 1;
	}
	e = ms_server_add_region(s, &eo);
	eo.name = "hidden";
	ms_server_add_region(s, &eo);
	want = ms_export_mem(e);
	for (size_t i = 0; i < RSIZE; i++)
		want[i] = (uint8_t)(i * 7 + 3);
	ms_export_commit(e, 0, RSIZE);
	snprintf(port, sizeof(port), "%u", ms_server_port(s));
	ms_server_start(s);
	test_wire();
	test_readonly_wire();
	test_library(s, want);
	{
		bool same = true;

		for (size_t i = 0; i < RSIZE; i++)
			same &= want[i] == (uint8_t)(i * 7 + 3);
		ok(same, "db is unchanged after all of it");
	}
	ms_server_stop(s);
	ms_server_destroy(s);
	unlink(keys);
	unlink(key_file("alice.key", ""));
	unlink(key_file("bob.key", ""));
	rmdir(dir);
	return tap_done();
}
