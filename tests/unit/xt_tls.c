/* SPDX-License-Identifier: Apache-2.0 */
/*
 * xt_tls.c - test_tls: the transport contract suite (test_transport.c)
 * over the TCP fallback with TLS 1.3 on 127.0.0.1, and what TLS adds:
 * the server's certificate verified (CA, name), client certificates that
 * name a key (mutual TLS), a plain client and a plain server told apart,
 * stalled handshakes that do not hold the loop, and the module itself
 * (tcp_tls.h) over a socket pair: the channel binding both ends compute
 * alike, and partial writes retried under a tiny socket buffer.
 * Certificates are made at start by tests/helpers/mkcerts.sh (openssl).
 * Included by test_transport.c (-DTEST_TRANSPORT).
 */
#include <poll.h>
#include <sys/socket.h>

#include "frame.h"
#include "tcp.h"
#include "tcp_sock.h"
#include "tcp_tls.h"

#define RSZ (4u << 20)

static char dir[256];
static char pca[300], pother_ca[300], pserver[300], pserver_key[300];
static char palice[300], palice_key[300], pbob[300], pbob_key[300];
static char pmallory[300], pmallory_key[300];
static struct ms_xtls cli_tls, srv_tls;
static struct ms_xsrv_opts srv_opts = { .tls = &srv_tls };

static void path(char *out, const char *name)
{
	snprintf(out, 300, "%s/%s", dir, name);
}

static void make_certs(void)
{
	const char *src = getenv("TESTS_SRCDIR");
	char cmd[700];

	snprintf(dir, sizeof(dir), "/tmp/ms-test-tls.XXXXXX");
	if (!mkdtemp(dir))
		tap_bail("mkdtemp: %s", strerror(errno));
	snprintf(cmd, sizeof(cmd), "sh '%s/helpers/mkcerts.sh' '%s'", src ? src : "tests", dir);
	if (system(cmd) != 0)
		tap_bail("%s failed (is openssl installed?)", cmd);
	path(pca, "ca.pem");
	path(pother_ca, "other-ca.pem");
	path(pserver, "server.pem");
	path(pserver_key, "server.key");
	path(palice, "alice.pem");
	path(palice_key, "alice.key");
	path(pbob, "bob.pem");
	path(pbob_key, "bob.key");
	path(pmallory, "mallory.pem");
	path(pmallory_key, "mallory.key");
	cli_tls = (struct ms_xtls){ .ca = pca };
	srv_tls = (struct ms_xtls){ .ca = pca, .cert = pserver, .key = pserver_key };
}

static void remove_certs(void)
{
	char cmd[300];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		diag("could not remove %s", dir);
}

/* The suite's clients: TLS, verifying the server with the test CA. */
static int tls_connect(const char *src, const char *host, const char *port,
		       const struct ms_xopts *o, struct ms_xconn **out, char *err, size_t errlen)
{
	struct ms_xopts oo = o ? *o : (struct ms_xopts){ 0 };

	(void)src;
	oo.tls = &cli_tls;
	return T->connect(host, port, &oo, out, err, errlen);
}

/* Connect with these TLS settings: the rc, the message in err. */
static int try_tls(struct tsrv *t, const char *host, const struct ms_xtls *tls,
		   struct ms_xconn **c, char *err, size_t errlen)
{
	struct ms_xopts o = { .timeout_ms = 5000, .tls = tls };

	*c = NULL;
	*err = '\0';
	return T->connect(host, t->port, &o, c, err, errlen);
}

/* The server's log has a line with a and b (waiting up to 2 s for it:
 * the peer may see the close before the line is written). */
static bool wait_log(struct tsrv *t, const char *a, const char *b)
{
	for (int i = 0; i < 100 && !log_has(t, a, b); i++)
		usleep(20000);
	return log_has(t, a, b);
}

/* An echo round trip: 0 when it came back whole. */
static int echo(struct ms_xconn *c, const char *msg)
{
	char resp[64];
	size_t rlen = 0;
	int rc = T->call(c, msg, strlen(msg), resp, sizeof(resp), &rlen, 5000);

	if (rc)
		return rc;
	return rlen == strlen(msg) && !memcmp(resp, msg, rlen) ? 0 : -EBADMSG;
}

/* ------------------------------------------------ the server's identity */

static void test_verify(struct tsrv *t)
{
	struct ms_xtls wrong_ca = { .ca = pother_ca }, no_ca = { 0 };
	struct ms_xtls other_name = { .ca = pca, .server_name = "elsewhere.example" };
	struct ms_xconn *c;
	char err[256];
	int rc;

	rc = try_tls(t, "localhost", &cli_tls, &c, err, sizeof(err));
	ok(rc == 0 && c && echo(c, "by name") == 0,
	   "tls: a client connecting to localhost verifies the certificate (SAN DNS)");
	T->close(c);
	rc = try_tls(t, X.srv_addr, &wrong_ca, &c, err, sizeof(err));
	ok(rc < 0 && strstr(err, "TLS: certificate verify failed: ") != NULL,
	   "tls: a server signed by another CA is refused: %s", err);
	rc = try_tls(t, X.srv_addr, &other_name, &c, err, sizeof(err));
	ok(rc < 0 && strstr(err, "certificate verify failed") && strstr(err, "ostname mismatch"),
	   "tls: a certificate for another name is refused: %s", err);
	rc = try_tls(t, X.srv_addr, &no_ca, &c, err, sizeof(err));
	is_int(rc, -EINVAL, "tls: a client without a CA is refused before connecting");
	ok(strstr(err, "needs the CA") != NULL, "tls: message: %s", err);
	struct ms_xtls missing = { .ca = "/nonexistent/ca.pem" };
	rc = try_tls(t, X.srv_addr, &missing, &c, err, sizeof(err));
	ok(rc == -EINVAL && strstr(err, "/nonexistent/ca.pem"),
	   "tls: an unreadable CA file is named: %s", err);
	settle(t);
}

/* ------------------------------------------- plain against TLS and back */

static void test_plain(struct tsrv *t)
{
	struct ms_xopts o = { .timeout_ms = 5000 };
	struct ms_xconn *c = NULL, *c2;
	struct tsrv *plain;
	char err[256] = "";
	int rc;

	rc = T->connect(X.srv_addr, t->port, &o, &c, err, sizeof(err));
	ok(rc == 0, "tls: a plain client reaches the TLS server's port");
	is_int(c ? echo(c, "plain hello") : -1, -EPROTONOSUPPORT,
	       "tls: its first request is answered -EPROTONOSUPPORT (TLS required)");
	T->close(c);
	ok(wait_log(t, "plain (non-TLS)", "requires TLS"), "tls: the server logs why");
	rc = try_tls(t, X.srv_addr, &cli_tls, &c2, err, sizeof(err));
	ok(rc == 0 && echo(c2, "still serving") == 0, "tls: and keeps serving TLS clients");
	T->close(c2);

	X.srv_opts = NULL;
	plain = srv_start();
	X.srv_opts = &srv_opts;
	rc = try_tls(plain, X.srv_addr, &cli_tls, &c2, err, sizeof(err));
	ok(rc < 0 && strstr(err, "TLS handshake failed"),
	   "tls: a TLS client against a plain server fails: %s", err);
	rc = T->connect(X.srv_addr, plain->port, &o, &c2, err, sizeof(err));
	ok(rc == 0 && echo(c2, "plain") == 0, "tls: the plain server serves plain clients on");
	T->close(c2);
	settle(plain);
	srv_stop_join(plain);
	srv_free(plain);
	settle(t);
}

/* -------------------------------------------- client certificates (mTLS) */

static int lookup(void *ud, const char *name, uint8_t *secret, size_t *len)
{
	(void)ud;
	if (strcmp(name, "alice"))
		return -ENOENT;
	memset(secret, 0xa5, 32);
	*len = 32;
	return 0;
}

static void test_mtls(struct tsrv *t)
{
	struct ms_xtls alice = { .ca = pca, .cert = palice, .key = palice_key };
	struct ms_xtls bob = { .ca = pca, .cert = pbob, .key = pbob_key };
	struct ms_xtls mallory = { .ca = pca, .cert = pmallory, .key = pmallory_key };
	struct ms_xtls half = { .ca = pca, .cert = palice };
	struct ms_xconn *c;
	struct tsrv *a;
	char err[256];
	int rc, con;

	rc = try_tls(t, X.srv_addr, &alice, &c, err, sizeof(err));
	ok(rc == 0 && echo(c, "anon") == 0, "mtls: without auth_lookup a client certificate is fine");
	T->close(c);
	ok(wait_log(t, "CN=alice", "does not authenticate: anonymous"),
	   "mtls: the server logs the certificate's name, the peer stays anonymous");
	rc = try_tls(t, X.srv_addr, &half, &c, err, sizeof(err));
	ok(rc == -EINVAL && strstr(err, "needs its key"), "mtls: a certificate without its key: %s",
	   err);

	X.auth_lookup = lookup;
	a = srv_start();
	X.auth_lookup = NULL;
	rc = try_tls(a, X.srv_addr, &alice, &c, err, sizeof(err));
	ok(rc == 0 && echo(c, "alice") == 0, "mtls: a certificate whose CN is a key is served");
	T->close(c);
	ok(wait_log(a, "CN=alice", "key alice"), "mtls: ... as that key (who = alice, authn CERT)");
	con = __atomic_load_n(&a->connects, __ATOMIC_RELAXED);
	rc = try_tls(a, X.srv_addr, &bob, &c, err, sizeof(err));
	/* TLS 1.3: the client is done before the server judged its certificate */
	ok(rc != 0 || echo(c, "bob") != 0, "mtls: a certificate naming no key is refused");
	T->close(c);
	ok(wait_log(a, "CN=bob", "names no key; refused"), "mtls: the server says why");
	rc = try_tls(a, X.srv_addr, &mallory, &c, err, sizeof(err));
	ok(rc != 0 || echo(c, "mallory") != 0,
	   "mtls: a certificate from another CA is refused (even with CN=alice)");
	T->close(c);
	ok(wait_log(a, "TLS: certificate verify failed", ""), "mtls: the server says why");
	is_int(__atomic_load_n(&a->connects, __ATOMIC_RELAXED), con,
	       "mtls: on_connect saw neither refused peer");
	/* the key handshake inside TLS, bound to the session (ms_tls_bind) */
	struct ms_authkey key = { .name = "alice", .secret_len = 32 };
	struct ms_xopts ko = { .timeout_ms = 5000, .tls = &cli_tls, .key = &key };

	memset(key.secret, 0xa5, 32);
	rc = T->connect(X.srv_addr, a->port, &ko, &c, err, sizeof(err));
	ok(rc == 0 && echo(c, "key over tls") == 0,
	   "keys: the key handshake over TLS (bound to its exporter value) succeeds");
	T->close(c);
	key.secret[0] ^= 1;
	rc = T->connect(X.srv_addr, a->port, &ko, &c, err, sizeof(err));
	is_int(rc, -EACCES, "keys: a wrong secret over TLS is refused");
	if (!rc)
		T->close(c);
	settle(a);
	srv_stop_join(a);
	srv_free(a);
}

/* ----------------------------------------------------- stalled peers */

static void test_stall(struct tsrv *t)
{
	static const uint8_t half_hello[] = { 0x16, 0x03, 0x01, 0x00, 0x80, 0x01 };
	char err[256];
	struct ms_xconn *c;
	int fd1, fd2, rc;

	fd1 = ms_sock_connect(X.srv_addr, t->port, 5000, 0, err, sizeof(err));
	fd2 = ms_sock_connect(X.srv_addr, t->port, 5000, 0, err, sizeof(err));
	if (fd1 < 0 || fd2 < 0)
		tap_bail("raw connect: %s", err);
	if (send(fd2, half_hello, sizeof(half_hello), MSG_NOSIGNAL) != sizeof(half_hello))
		tap_bail("send: %s", strerror(errno));
	rc = try_tls(t, X.srv_addr, &cli_tls, &c, err, sizeof(err));
	ok(rc == 0 && echo(c, "past the stalled") == 0,
	   "tls: a silent peer and a half ClientHello do not hold the loop");
	T->close(c);
	close(fd1);
	close(fd2);
	settle(t);
}

/* ------------------------------------------ the module over a socket pair */

struct pair {
	struct ms_tls_ctx *cctx, *sctx;
	struct ms_tls *c, *s;
	int fd[2];
	int crc;
	char cerr[256];
};

static void *pair_connect(void *arg)
{
	struct pair *p = arg;

	p->crc = ms_tls_connect(p->c, 5000, p->cerr, sizeof(p->cerr));
	return NULL;
}

static int pair_open(struct pair *p, const char *name)
{
	struct ms_xtls ct = { .ca = pca, .server_name = name };
	struct pollfd pfd;
	pthread_t th;
	char err[256];
	int rc = -EAGAIN;

	memset(p, 0, sizeof(*p));
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, p->fd) ||
	    ms_tls_ctx_new(&ct, false, &p->cctx, err, sizeof(err)) ||
	    ms_tls_ctx_new(&srv_tls, true, &p->sctx, err, sizeof(err)))
		tap_bail("pair: %s", err);
	p->c = ms_tls_new(p->cctx, p->fd[0], name);
	p->s = ms_tls_new(p->sctx, p->fd[1], NULL);
	pthread_create(&th, NULL, pair_connect, p);
	for (int i = 0; i < 500 && rc == -EAGAIN; i++) {
		pfd = (struct pollfd){ .fd = p->fd[1], .events = (short)ms_tls_events(p->s, 0) };
		poll(&pfd, 1, 10);
		rc = ms_tls_accept_step(p->s, err, sizeof(err));
	}
	pthread_join(th, NULL);
	return rc ? rc : p->crc;
}

static void pair_close(struct pair *p)
{
	ms_tls_free(p->c);
	ms_tls_free(p->s);
	ms_tls_ctx_free(p->cctx);
	ms_tls_ctx_free(p->sctx);
	close(p->fd[0]);
	close(p->fd[1]);
}

struct stream {
	struct ms_tls *t;
	int fd;
	char *buf;
	size_t len;
	int rc;
};

static void *reader(void *arg)
{
	struct stream *st = arg;
	struct pollfd pfd = { .fd = st->fd, .events = POLLIN };
	size_t got = 0;
	ssize_t n;

	while (got < st->len) {
		n = ms_tls_recv(st->t, st->buf + got, st->len - got);
		if (n == -EAGAIN) {
			if (poll(&pfd, 1, 5000) <= 0) {
				st->rc = -ETIMEDOUT;
				return NULL;
			}
			continue;
		}
		if (n <= 0) {
			st->rc = n ? (int)n : -ECONNRESET;
			return NULL;
		}
		got += (size_t)n;
	}
	return NULL;
}

/* Pieces of mixed sizes through a tiny socket buffer, sent the way the
 * transport's queues send them (a retry starts with the same bytes). */
static void test_pair_stream(void)
{
	enum { NP = 300 };
	struct iovec piece[NP], iov[64];
	size_t total = 0, sent = 0, skip, off;
	struct stream st = { 0 };
	struct pollfd pfd;
	struct pair p;
	pthread_t th;
	char *src, *pos;
	int cnt, retries = 0, bad = 0;
	ssize_t n;

	if (pair_open(&p, "localhost"))
		tap_bail("pair handshake failed: %s", p.cerr);
	ms_sock_set_bufs(p.fd[0], 4096, 0);
	ms_sock_set_bufs(p.fd[1], 0, 4096);
	for (int i = 0; i < NP; i++)
		total += i % 3 == 0 ? 48 : i % 3 == 1 ? (size_t)(i * 997 % 3000) : (size_t)(i * 7919 % 200000);
	src = malloc(total);
	fill(src, total, 42);
	pos = src;
	for (int i = 0; i < NP; i++) {
		size_t l = i % 3 == 0 ? 48 : i % 3 == 1 ? (size_t)(i * 997 % 3000) : (size_t)(i * 7919 % 200000);

		piece[i] = (struct iovec){ pos, l };
		pos += l;
	}
	st = (struct stream){ .t = p.s, .fd = p.fd[1], .buf = malloc(total), .len = total };
	pthread_create(&th, NULL, reader, &st);
	while (sent < total && bad < 1000) {
		/* the iov from the cursor, as a queue would build it */
		cnt = 0;
		skip = sent;
		for (int i = 0; i < NP && cnt < 64; i++) {
			if (skip >= piece[i].iov_len) {
				skip -= piece[i].iov_len;
				continue;
			}
			off = skip;
			skip = 0;
			iov[cnt++] = (struct iovec){ (char *)piece[i].iov_base + off,
						     piece[i].iov_len - off };
		}
		n = ms_tls_sendv(p.c, iov, cnt);
		if (n == -EAGAIN) {
			retries++;
			pfd = (struct pollfd){ .fd = p.fd[0],
					       .events = (short)ms_tls_events(p.c, POLLOUT) };
			if (poll(&pfd, 1, 5000) <= 0)
				bad = 1000;
			continue;
		}
		if (n <= 0)
			bad = 1000;
		else
			sent += (size_t)n;
	}
	pthread_join(th, NULL);
	ok(sent == total && st.rc == 0 && !memcmp(src, st.buf, total),
	   "pair: %zu bytes in %d pieces of 0..200 KiB arrive whole through a 4 KiB socket buffer",
	   total, NP);
	ok(retries > 0, "pair: ... with sends that had to wait and be retried (%d)", retries);
	free(src);
	free(st.buf);
	pair_close(&p);
}

static void test_pair_bind(void)
{
	uint8_t b1[MS_AUTH_BIND_MAX], b2[MS_AUTH_BIND_MAX], b3[MS_AUTH_BIND_MAX];
	size_t l1 = 0, l2 = 0, l3 = 0;
	struct pair p, q;
	char err[256];

	is_int(pair_open(&p, "127.0.0.1"), 0, "pair: handshake (name 127.0.0.1)");
	ok(!ms_tls_bind(p.c, b1, sizeof(b1), &l1) && !ms_tls_bind(p.s, b2, sizeof(b2), &l2) &&
	   l1 == MS_TLS_BIND_LEN && l1 == l2 && !memcmp(b1, b2, l1) && !memcmp(b1, "tcp+tls:", 8),
	   "bind: both ends compute the same \"tcp+tls:\" + 32 bytes");
	is_int(ms_tls_bind(p.c, b1, 16, &l1), -ENOSPC, "bind: too small a buffer: -ENOSPC");
	is_int(pair_open(&q, "localhost"), 0, "pair: a second connection");
	ok(!ms_tls_bind(q.c, b3, sizeof(b3), &l3) && memcmp(b2, b3, MS_TLS_BIND_LEN),
	   "bind: another connection has another binding");
	ok(!ms_tls_bind(NULL, b3, sizeof(b3), &l3) && l3 == 3 && !memcmp(b3, "tcp", 3),
	   "bind: without TLS it is \"tcp\"");
	ok(ms_tls_peer_cn(p.s, err, sizeof(err)) == -ENOENT,
	   "peer_cn: no client certificate: -ENOENT");
	pair_close(&p);
	pair_close(&q);
}

static void tls_extra(struct tsrv *t, const char *what)
{
	(void)what;
	test_verify(t);
	test_plain(t);
	test_mtls(t);
	test_stall(t);
}

int main(void)
{
	make_certs();
	X = (struct xcfg){
		.ops = &ms_tcp_ops, .srv_addr = "127.0.0.1",
		.caps = XC_SRV_COUNTS | XC_STOP_FINISHES | XC_KEYS_NONZERO,
		.rsz = RSZ, .nregs = 64, .nreads = 600, .extra = tls_extra,
		.connect = tls_connect, .srv_opts = &srv_opts,
	};
	test_pair_bind();
	test_pair_stream();
	xs_pass("tls");
	xs_lifecycle();
	remove_certs();
	return tap_done();
}
