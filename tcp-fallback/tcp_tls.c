/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tcp_tls.c - TLS 1.3 for the TCP fallback (see tcp_tls.h).
 *
 * Writes.  SSL_MODE_ENABLE_PARTIAL_WRITE makes SSL_write return after
 * each record, so a count is what really left; SSL_MODE_ACCEPT_MOVING_
 * WRITE_BUFFER lets a retry after WANT_WRITE come from another buffer
 * holding the same bytes.  Small pieces (frame headers, control payloads)
 * are gathered into one record of at most 16 KiB instead of a record and
 * a send(2) each; a retry gathers the same prefix again (the callers'
 * queues keep it), at least as long as before, which is what OpenSSL
 * asks of a retried write.  Large pieces are written in place.
 *
 * Reads.  Without read-ahead OpenSSL holds at most the rest of one
 * record; ms_tls_pending() tells the loops about it, for poll(2) would
 * not.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "frame.h"
#include "tcp_tls.h"
#include "util.h"
#include "xsrvloop.h"

#define GATHER_MAX 16384                /* one TLS record's plaintext */
#define SMALL_PIECE 4096                /* gathered below this */
#define TLS_RECORD_HANDSHAKE 0x16

struct ms_tls_ctx {
	SSL_CTX *ctx;
	bool server;
};

struct ms_tls {
	SSL *ssl;
	int fd;
	bool server;
	bool sniffed;                   /* server: the first bytes were looked at */
	uint32_t hs_want, rd_want, wr_want; /* POLLIN / POLLOUT */
	char errstr[160];
};

/* ------------------------------------------------- a MSG_NOSIGNAL BIO */

static BIO_METHOD *bio_meth;
static pthread_once_t bio_once = PTHREAD_ONCE_INIT;

static int bio_fd(BIO *b)
{
	return (int)(intptr_t)BIO_get_data(b);
}

static int bio_write(BIO *b, const char *buf, int len)
{
	ssize_t n;

	BIO_clear_retry_flags(b);
	do
		n = send(bio_fd(b), buf, (size_t)len, MSG_NOSIGNAL | MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		BIO_set_retry_write(b);
	return (int)n;
}

static int bio_read(BIO *b, char *buf, int len)
{
	ssize_t n;

	BIO_clear_retry_flags(b);
	do
		n = recv(bio_fd(b), buf, (size_t)len, MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		BIO_set_retry_read(b);
	return (int)n;
}

static long bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	(void)b;
	(void)num;
	(void)ptr;
	return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

static int bio_create(BIO *b)
{
	BIO_set_init(b, 1);
	return 1;
}

static void bio_meth_init(void)
{
	BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK,
				     "memsync socket");

	if (m && BIO_meth_set_write(m, bio_write) && BIO_meth_set_read(m, bio_read) &&
	    BIO_meth_set_ctrl(m, bio_ctrl) && BIO_meth_set_create(m, bio_create))
		bio_meth = m;
	else
		BIO_meth_free(m);
}

/* ------------------------------------------------------------ errors */

/* The reason OpenSSL gives for its last failure (and clear the queue). */
static void last_ssl_error(char *buf, size_t len)
{
	unsigned long e, last = 0;

	while ((e = ERR_get_error()))
		last = e;
	if (!last) {
		snprintf(buf, len, "%s", "unknown error");
		return;
	}
	ERR_error_string_n(last, buf, len);
	/* "error:0A000086:SSL routines::certificate verify failed": keep
	 * the words after the last colon */
	char *c = strrchr(buf, ':');
	if (c && c[1])
		memmove(buf, c + 1, strlen(c + 1) + 1);
}

/* Why a handshake failed, in words, into t->errstr. */
static void hs_failure(struct ms_tls *t, int sslerr, int sys)
{
	long vr = SSL_get_verify_result(t->ssl);
	char why[120];

	if (sslerr == SSL_ERROR_SSL)
		last_ssl_error(why, sizeof(why));
	if (vr != X509_V_OK) {
		ERR_clear_error();
		snprintf(t->errstr, sizeof(t->errstr), "TLS: certificate verify failed: %s",
			 X509_verify_cert_error_string(vr));
	} else if (sslerr == SSL_ERROR_SSL) {
		snprintf(t->errstr, sizeof(t->errstr), "TLS handshake failed: %s", why);
	} else if (sslerr == SSL_ERROR_ZERO_RETURN || (sslerr == SSL_ERROR_SYSCALL && !sys)) {
		snprintf(t->errstr, sizeof(t->errstr),
			 "TLS handshake failed: the %s closed the connection%s",
			 t->server ? "client" : "server",
			 t->server ? "" : " (does it speak TLS?)");
	} else {
		snprintf(t->errstr, sizeof(t->errstr), "TLS handshake failed: %s",
			 strerror(sys ? sys : EPROTO));
	}
}

/* An SSL_read/SSL_write that returned r <= 0: -EAGAIN with *want set, 0
 * at a clean end, or -errno (t->errstr says why). */
static ssize_t io_err(struct ms_tls *t, int r, uint32_t *want)
{
	int sys = errno;
	int e = SSL_get_error(t->ssl, r);

	switch (e) {
	case SSL_ERROR_WANT_READ:
		*want = POLLIN;
		return -EAGAIN;
	case SSL_ERROR_WANT_WRITE:
		*want = POLLOUT;
		return -EAGAIN;
	case SSL_ERROR_ZERO_RETURN:
		return 0;
	case SSL_ERROR_SYSCALL:
		ERR_clear_error();
		if (!sys)
			return 0;       /* end of stream */
		snprintf(t->errstr, sizeof(t->errstr), "%s", strerror(sys));
		return -sys;
	default:
		last_ssl_error(t->errstr, sizeof(t->errstr));
		return -EPROTO;
	}
}

const char *ms_tls_errstr(const struct ms_tls *t)
{
	return t ? t->errstr : "";
}

/* ------------------------------------------------------------ contexts */

int ms_tls_ctx_new(const struct ms_xtls *t, bool server, struct ms_tls_ctx **out,
		   char *err, size_t errlen)
{
	struct ms_tls_ctx *c;
	const char *what = NULL, *file = NULL;
	char why[120];

	if (!err)
		errlen = 0;
	if (!t || (server ? (!t->cert || !t->key) : !t->ca) || (!t->cert != !t->key)) {
		snprintf(err, errlen, "TLS: %s", server ? "a server needs a certificate and its key"
					: !t || !t->ca ? "a client needs the CA that signed the server's certificate"
						       : "a client certificate needs its key (and the key its certificate)");
		return -EINVAL;
	}
	pthread_once(&bio_once, bio_meth_init);
	c = calloc(1, sizeof(*c));
	if (!c || !bio_meth) {
		free(c);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	c->server = server;
	ERR_clear_error();
	c->ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
	if (!c->ctx) {
		what = "cannot create a context";
		goto fail;
	}
	if (!SSL_CTX_set_min_proto_version(c->ctx, TLS1_3_VERSION) ||
	    !SSL_CTX_set_max_proto_version(c->ctx, TLS1_3_VERSION)) {
		what = "cannot require TLS 1.3";
		goto fail;
	}
	SSL_CTX_set_mode(c->ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
				 SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	/* our frames detect a cut stream; a peer that just closes is gone */
	SSL_CTX_set_options(c->ctx, SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_NO_TICKET);
	if (server)
		SSL_CTX_set_num_tickets(c->ctx, 0);     /* no resumption */
	if (t->cert) {
		file = t->cert;
		if (SSL_CTX_use_certificate_chain_file(c->ctx, t->cert) != 1) {
			what = "cannot load certificate";
			goto fail;
		}
		file = t->key;
		if (SSL_CTX_use_PrivateKey_file(c->ctx, t->key, SSL_FILETYPE_PEM) != 1) {
			what = "cannot load private key";
			goto fail;
		}
		if (SSL_CTX_check_private_key(c->ctx) != 1) {
			what = "the private key does not match the certificate";
			goto fail;
		}
	}
	if (t->ca) {
		file = t->ca;
		if (SSL_CTX_load_verify_locations(c->ctx, t->ca, NULL) != 1) {
			what = "cannot load CA";
			goto fail;
		}
		if (server) {
			STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(t->ca);

			if (names)
				SSL_CTX_set_client_CA_list(c->ctx, names);
		}
		/* a server asks for a client certificate; sending one stays
		 * optional (keys authenticate too) */
		SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, NULL);
	}
	*out = c;
	return 0;
fail:
	last_ssl_error(why, sizeof(why));
	if (file && !strstr(what, "match"))
		snprintf(err, errlen, "TLS: %s %s: %s", what, file, why);
	else
		snprintf(err, errlen, "TLS: %s: %s", what, why);
	ms_tls_ctx_free(c);
	return -EINVAL;
}

void ms_tls_ctx_free(struct ms_tls_ctx *c)
{
	if (!c)
		return;
	SSL_CTX_free(c->ctx);
	free(c);
}

/* ----------------------------------------------------------- connections */

struct ms_tls *ms_tls_new(struct ms_tls_ctx *ctx, int fd, const char *name)
{
	struct ms_tls *t = calloc(1, sizeof(*t));
	BIO *b = NULL;

	if (!t)
		return NULL;
	t->fd = fd;
	t->server = ctx->server;
	t->hs_want = POLLIN;
	ERR_clear_error();
	t->ssl = SSL_new(ctx->ctx);
	b = BIO_new(bio_meth);
	if (!t->ssl || !b)
		goto fail;
	BIO_set_data(b, (void *)(intptr_t)fd);
	SSL_set_bio(t->ssl, b, b);      /* the SSL owns b now */
	b = NULL;
	if (ctx->server) {
		SSL_set_accept_state(t->ssl);
	} else {
		SSL_set_connect_state(t->ssl);
		/* SNI for DNS names only; the name check takes addresses too */
		if (name && *name && !strchr(name, ':') && strspn(name, "0123456789.") != strlen(name))
			SSL_set_tlsext_host_name(t->ssl, name);
		if (name && *name && SSL_set1_host(t->ssl, name) != 1)
			goto fail;
	}
	return t;
fail:
	ERR_clear_error();
	BIO_free(b);
	SSL_free(t->ssl);
	free(t);
	errno = ENOMEM;
	return NULL;
}

void ms_tls_free(struct ms_tls *t)
{
	if (!t)
		return;
	ERR_clear_error();
	if (SSL_is_init_finished(t->ssl))
		(void)SSL_shutdown(t->ssl);     /* close_notify if it fits */
	ERR_clear_error();
	SSL_free(t->ssl);
	free(t);
}

int ms_tls_connect(struct ms_tls *t, int timeout_ms, char *err, size_t errlen)
{
	uint64_t deadline = timeout_ms > 0 ? ms_now_ns() + (uint64_t)timeout_ms * 1000000ull : 0;
	struct pollfd pfd = { .fd = t->fd };
	int r, e, sys, left;

	if (!err)
		errlen = 0;
	for (;;) {
		ERR_clear_error();
		errno = 0;
		r = SSL_connect(t->ssl);
		if (r == 1)
			return 0;
		sys = errno;
		e = SSL_get_error(t->ssl, r);
		if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
			hs_failure(t, e, sys);
			snprintf(err, errlen, "%s", t->errstr);
			return e == SSL_ERROR_SYSCALL && sys ? -sys
			       : e == SSL_ERROR_SSL	     ? -EPROTO
							     : -ECONNRESET;
		}
		pfd.events = e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
		left = ms_left(deadline);
		if (left == 0 || (r = poll(&pfd, 1, left)) == 0) {
			snprintf(err, errlen, "TLS handshake failed: the server did not answer "
				 "within %d ms", timeout_ms);
			return -ETIMEDOUT;
		}
		if (r < 0 && errno != EINTR) {
			snprintf(err, errlen, "TLS handshake failed: poll: %s", strerror(errno));
			return -errno;
		}
	}
}

/* The first bytes of a server's peer: a TLS handshake record, or a plain
 * memsync client (answered in plain) or something else (refused). */
static int sniff(struct ms_tls *t)
{
	uint8_t b[MS_FRAME_HDR];
	struct ms_frame f;
	ssize_t n;

	do
		n = recv(t->fd, b, sizeof(b), MSG_PEEK | MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return -EAGAIN;
	if (n < 0) {
		snprintf(t->errstr, sizeof(t->errstr), "TLS handshake failed: %s", strerror(errno));
		return -errno;
	}
	if (n == 0) {
		snprintf(t->errstr, sizeof(t->errstr),
			 "TLS handshake failed: the client closed the connection");
		return -ECONNRESET;
	}
	t->sniffed = true;
	if (b[0] == TLS_RECORD_HANDSHAKE)
		return 0;
	if ((size_t)n == sizeof(b) &&
	    !ms_frame_decode(b, sizeof(b), MS_FRAME_ACCEPT_SERVER, MS_TCP_MAX_IO, &f, NULL, 0)) {
		struct ms_frame r = { .type = MS_F_CTRL_RESP, .id = f.id,
				      .status = -EPROTONOSUPPORT };

		if (f.type == MS_F_CTRL_REQ) {
			ms_frame_encode(&r, b);
			/* best effort: the client then says TLS is required */
			if (send(t->fd, b, sizeof(b), MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
				/* it is gone already */
			}
		}
		snprintf(t->errstr, sizeof(t->errstr),
			 "a plain (non-TLS) memsync client; this server requires TLS");
		return -EPROTONOSUPPORT;
	}
	snprintf(t->errstr, sizeof(t->errstr), "not a TLS client (first byte 0x%02x)", b[0]);
	return -EPROTO;
}

int ms_tls_accept_step(struct ms_tls *t, char *err, size_t errlen)
{
	int r, e, sys;

	if (!err)
		errlen = 0;
	if (!t->sniffed) {
		r = sniff(t);
		if (r == -EAGAIN)
			t->hs_want = POLLIN;
		else if (r)
			snprintf(err, errlen, "%s", t->errstr);
		if (r)
			return r;
	}
	ERR_clear_error();
	errno = 0;
	r = SSL_accept(t->ssl);
	if (r == 1) {
		t->hs_want = 0;
		return 0;
	}
	sys = errno;
	e = SSL_get_error(t->ssl, r);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
		t->hs_want = e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
		return -EAGAIN;
	}
	hs_failure(t, e, sys);
	snprintf(err, errlen, "%s", t->errstr);
	return e == SSL_ERROR_SYSCALL && sys ? -sys : e == SSL_ERROR_SSL ? -EPROTO : -ECONNRESET;
}

uint32_t ms_tls_events(const struct ms_tls *t, uint32_t ev)
{
	if (!SSL_is_init_finished(t->ssl))
		return t->hs_want;
	return ev | (t->rd_want & POLLOUT) | (t->wr_want & POLLIN);
}

bool ms_tls_pending(const struct ms_tls *t)
{
	return SSL_pending(t->ssl) > 0;
}

/* ------------------------------------------------------------------ I/O */

ssize_t ms_tls_sendv(struct ms_tls *t, const struct iovec *iov, int cnt)
{
	uint8_t gather[GATHER_MAX];
	size_t total = 0, len, off;
	const char *src;
	ssize_t rc;
	int i = 0, r;

	t->wr_want = 0;
	while (i < cnt) {
		if (iov[i].iov_len == 0) {
			i++;
			continue;
		}
		if (iov[i].iov_len < SMALL_PIECE) {
			/* gather the small pieces that follow, whole */
			len = 0;
			while (i < cnt && iov[i].iov_len < SMALL_PIECE &&
			       len + iov[i].iov_len <= sizeof(gather)) {
				memcpy(gather + len, iov[i].iov_base, iov[i].iov_len);
				len += iov[i].iov_len;
				i++;
			}
			src = (const char *)gather;
			off = 0;
		} else {
			src = iov[i].iov_base;
			len = MS_MIN(iov[i].iov_len, (size_t)INT_MAX);
			off = 0;
			i++;
		}
		while (off < len) {
			ERR_clear_error();
			errno = 0;
			r = SSL_write(t->ssl, src + off, (int)(len - off));
			if (r <= 0) {
				rc = io_err(t, r, &t->wr_want);
				if (total)
					return (ssize_t)total;
				return rc == 0 ? -EPIPE : rc;
			}
			off += (size_t)r;
			total += (size_t)r;
		}
	}
	return (ssize_t)total;
}

ssize_t ms_tls_recv(struct ms_tls *t, void *buf, size_t len)
{
	int r;

	t->rd_want = 0;
	if (len == 0)
		return 0;
	ERR_clear_error();
	errno = 0;
	r = SSL_read(t->ssl, buf, (int)MS_MIN(len, (size_t)INT_MAX));
	if (r > 0)
		return r;
	return io_err(t, r, &t->rd_want);
}

ssize_t ms_tls_discard(struct ms_tls *t, size_t len)
{
	char sink[GATHER_MAX];

	return ms_tls_recv(t, sink, MS_MIN(len, sizeof(sink)));
}

/* Wait for what t's last call wants (rd: a read) until deadline: 0 or
 * -ETIMEDOUT / -errno. */
static int wait_io(struct ms_tls *t, bool rd, uint64_t deadline)
{
	uint32_t want = rd ? t->rd_want : t->wr_want;
	struct pollfd pfd = { .fd = t->fd, .events = (short)(want ? want : rd ? POLLIN : POLLOUT) };
	int r = poll(&pfd, 1, ms_left(deadline));

	if (r == 0)
		return -ETIMEDOUT;
	return r < 0 && errno != EINTR ? -errno : 0;
}

int ms_tls_send_all(void *ud, const void *buf, size_t len, int tmo)
{
	uint64_t deadline = tmo >= 0 ? ms_now_ns() + (uint64_t)tmo * 1000000ull : 0;
	struct ms_tls *t = ud;
	struct iovec iov;
	size_t done = 0;
	ssize_t n;
	int rc;

	while (done < len) {
		iov = (struct iovec){ (char *)buf + done, len - done };
		n = ms_tls_sendv(t, &iov, 1);
		if (n == -EAGAIN) {
			if ((rc = wait_io(t, false, deadline)))
				return rc;
			continue;
		}
		if (n < 0)
			return (int)n;
		done += (size_t)n;
	}
	return 0;
}

int ms_tls_recv_all(void *ud, void *buf, size_t len, int tmo)
{
	uint64_t deadline = tmo >= 0 ? ms_now_ns() + (uint64_t)tmo * 1000000ull : 0;
	struct ms_tls *t = ud;
	size_t done = 0;
	ssize_t n;
	int rc;

	while (done < len) {
		n = ms_tls_recv(t, (char *)buf + done, len - done);
		if (n == -EAGAIN) {
			if ((rc = wait_io(t, true, deadline)))
				return rc;
			continue;
		}
		if (n <= 0)
			return n ? (int)n : -ECONNRESET;
		done += (size_t)n;
	}
	return 0;
}

bool ms_tls_done(const struct ms_tls *t)
{
	return SSL_is_init_finished(t->ssl);
}

/* ------------------------------------------------------------ identity */

/* A key name as auth.h defines it: 1..MS_AUTH_NAME_MAX of [A-Za-z0-9._@-]. */
static bool key_name_ok(const char *s)
{
	size_t n = strlen(s);

	return n && n <= MS_AUTH_NAME_MAX &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._@-") == n;
}

/* Who the peer of a finished handshake is: 0, or -1 when lp was closed. */
static int identify(struct ms_xloop *l, struct ms_xlpeer *lp, struct ms_tls *t)
{
	uint8_t secret[MS_AUTH_SECRET_MAX];
	size_t slen = sizeof(secret);
	char cn[256];
	int rc = ms_tls_peer_cn(t, cn, sizeof(cn));

	if (rc == -ENOENT)
		return 0;       /* no certificate: a key (or nothing) says who */
	if (rc) {
		ms_xloop_close_peer(l, lp, MS_LOG_WARN, "TLS: the client certificate has "
				    "no usable common name; refused");
		return -1;
	}
	if (!l->cbs.auth_lookup) {
		ms_xloop_log(l, MS_LOG_INFO, "peer %s: TLS client certificate CN=%s (the server "
			     "does not authenticate: anonymous)", lp->pub.name, cn);
		return 0;
	}
	rc = key_name_ok(cn) ? l->cbs.auth_lookup(l->cbs.ud, cn, secret, &slen) : -ENOENT;
	explicit_bzero(secret, sizeof(secret));
	if (rc) {
		ms_xloop_close_peer(l, lp, MS_LOG_WARN, "TLS client certificate CN=%s names "
				    "no key; refused", cn);
		return -1;
	}
	snprintf(lp->pub.who, sizeof(lp->pub.who), "%s", cn);
	lp->pub.authn = MS_XAUTHN_CERT;
	ms_xloop_log(l, MS_LOG_INFO, "peer %s: TLS client certificate CN=%s: key %s",
		     lp->pub.name, cn, cn);
	return 0;
}

bool ms_tls_srv_handshake(struct ms_xloop *l, struct ms_xlpeer *lp, struct ms_tls *t)
{
	char why[200];
	int rc;

	if (!t)
		return false;
	if (!SSL_is_init_finished(t->ssl)) {
		rc = ms_tls_accept_step(t, why, sizeof(why));
		if (rc == -EAGAIN)
			return true;
		if (rc) {
			ms_xloop_close_peer(l, lp, MS_LOG_WARN, "%s; disconnected", why);
			return true;
		}
		if (identify(l, lp, t))
			return true;
	}
	return false;
}

int ms_tls_peer_cn(struct ms_tls *t, char *cn, size_t len)
{
	X509 *crt = SSL_get0_peer_certificate(t->ssl);
	X509_NAME *subj;
	X509_NAME_ENTRY *ent;
	ASN1_STRING *s;
	int i, n;

	if (!crt)
		return -ENOENT;
	if (SSL_get_verify_result(t->ssl) != X509_V_OK)
		return -EACCES;
	subj = X509_get_subject_name(crt);
	i = X509_NAME_get_index_by_NID(subj, NID_commonName, -1);
	/* exactly one common name, or the name is ambiguous */
	if (i < 0 || X509_NAME_get_index_by_NID(subj, NID_commonName, i) >= 0)
		return -EINVAL;
	ent = X509_NAME_get_entry(subj, i);
	s = ent ? X509_NAME_ENTRY_get_data(ent) : NULL;
	n = s ? ASN1_STRING_length(s) : 0;
	if (n <= 0 || (size_t)n >= len || memchr(ASN1_STRING_get0_data(s), 0, (size_t)n))
		return -EINVAL;
	memcpy(cn, ASN1_STRING_get0_data(s), (size_t)n);
	cn[n] = '\0';
	return 0;
}

int ms_tls_bind(struct ms_tls *t, uint8_t *buf, size_t cap, size_t *len)
{
	static const char plain[] = "tcp", pre[] = "tcp+tls:";

	if (!t) {
		if (cap < sizeof(plain) - 1)
			return -ENOSPC;
		memcpy(buf, plain, sizeof(plain) - 1);
		*len = sizeof(plain) - 1;
		return 0;
	}
	if (cap < MS_TLS_BIND_LEN)
		return -ENOSPC;
	memcpy(buf, pre, sizeof(pre) - 1);
	ERR_clear_error();
	if (SSL_export_keying_material(t->ssl, buf + sizeof(pre) - 1, 32, MS_TLS_BIND_LABEL,
				       strlen(MS_TLS_BIND_LABEL), NULL, 0, 0) != 1) {
		ERR_clear_error();
		return -EPROTO;
	}
	*len = MS_TLS_BIND_LEN;
	return 0;
}
