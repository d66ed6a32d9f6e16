/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tcp_auth.c - the key handshake over TCP (tcp_auth.h).  The crypto and
 * the message formats are src/auth.c's; this moves them in MS_F_AUTH
 * frames.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>

#include "tcp_auth.h"
#include "tcp_sock.h"

static int fd_send_all(void *ud, const void *buf, size_t len, int tmo)
{
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };

	return ms_sock_sendv_all((int)(intptr_t)ud, &iov, 1, tmo);
}

static int fd_recv_all(void *ud, void *buf, size_t len, int tmo)
{
	return ms_sock_recv_all((int)(intptr_t)ud, buf, len, tmo, NULL);
}

const struct tcp_auth_io tcp_auth_fd_io = { .send_all = fd_send_all, .recv_all = fd_recv_all };

static int send_auth(const struct tcp_auth_io *io, const void *p, size_t len, int tmo)
{
	uint8_t buf[MS_FRAME_HDR + MS_FRAME_AUTH_MAX];
	struct ms_frame f = { .type = MS_F_AUTH, .plen = (uint32_t)len };

	ms_frame_encode(&f, buf);
	memcpy(buf + MS_FRAME_HDR, p, len);
	return io->send_all(io->ud, buf, MS_FRAME_HDR + len, tmo);
}

/* One AUTH frame from the server: its status and payload (<= cap). */
static int recv_auth(const struct tcp_auth_io *io, void *p, size_t cap, size_t *len,
		     int *status, int tmo, char *err, size_t errlen)
{
	uint8_t hdr[MS_FRAME_HDR];
	struct ms_frame f;
	char why[120];
	int rc;

	rc = io->recv_all(io->ud, hdr, sizeof(hdr), tmo);
	if (rc) {
		snprintf(err, errlen, "authentication: %s",
			 rc == -ECONNRESET ? "the server closed the connection"
					   : strerror(-rc));
		return rc;
	}
	rc = ms_frame_decode(hdr, sizeof(hdr), MS_FRAME_ACCEPT_CLIENT, 0, &f, why, sizeof(why));
	if (!rc && f.type == MS_F_CTRL_RESP && f.status == -EACCES) {
		snprintf(err, errlen, "the server refused before authenticating");
		return -EACCES;
	}
	if (rc || f.type != MS_F_AUTH || f.plen > cap) {
		snprintf(err, errlen, "authentication: the server does not answer as memsync (%s)",
			 rc ? why : ms_frame_type_name(f.type));
		return -EPROTO;
	}
	if (f.plen) {
		rc = io->recv_all(io->ud, p, f.plen, tmo);
		if (rc) {
			snprintf(err, errlen, "authentication: %s", strerror(-rc));
			return rc;
		}
	}
	*len = f.plen;
	*status = f.status;
	return 0;
}

int tcp_auth_client(const struct tcp_auth_io *io, const struct ms_authkey *key,
		    const void *bind, size_t bindlen, int timeout_ms, char *err, size_t errlen)
{
	uint8_t m[MS_FRAME_AUTH_MAX], out[MS_FRAME_AUTH_MAX];
	struct ms_auth_cli a;
	size_t len, olen;
	int rc, status;

	rc = ms_auth_cli_start(&a, key, out, sizeof(out), &olen);
	if (rc) {
		snprintf(err, errlen, "authentication: invalid key '%s'", key->name);
		goto out;
	}
	rc = send_auth(io, out, olen, timeout_ms);
	if (rc) {
		snprintf(err, errlen, "authentication: %s", strerror(-rc));
		goto out;
	}
	rc = recv_auth(io, m, sizeof(m), &len, &status, timeout_ms, err, errlen);
	if (rc)
		goto out;
	if (status == -EPROTONOSUPPORT) {
		rc = -EPROTONOSUPPORT;
		snprintf(err, errlen,
			 "the server does not authenticate (it has no keys), so it cannot prove "
			 "it knows key '%s': connect without a key to use it anyway",
			 key->name);
		goto out;
	}
	if (status) {
		rc = status;
		snprintf(err, errlen, "the server refused the authentication request: %s",
			 strerror(-status));
		goto out;
	}
	rc = ms_auth_cli_answer(&a, bind, bindlen, m, len, out, sizeof(out), &olen, err, errlen);
	if (rc)
		goto out;
	rc = send_auth(io, out, olen, timeout_ms);
	if (rc) {
		snprintf(err, errlen, "authentication: %s", strerror(-rc));
		goto out;
	}
	rc = recv_auth(io, m, sizeof(m), &len, &status, timeout_ms, err, errlen);
	if (rc)
		goto out;
	if (status) {
		rc = status == -EACCES ? -EACCES : -EPROTO;
		snprintf(err, errlen, "authentication failed: the server refused key '%s'",
			 key->name);
	}
out:
	ms_auth_cli_clear(&a);
	return rc;
}

int tcp_auth_server_step(struct ms_auth_srv *a, const struct ms_xsrv_cbs *cbs,
			 const void *bind, size_t bindlen, const void *req, size_t len,
			 void *out, size_t cap, size_t *outlen, int *status, char *why,
			 size_t whylen)
{
	bool known;
	int rc;

	*outlen = 0;
	*status = 0;
	if (!cbs->auth_lookup) {
		*status = -EPROTONOSUPPORT;
		snprintf(why, whylen, "asked to authenticate, but this server has no keys");
		return -EPROTONOSUPPORT;
	}
	if (!a->hello_done) {
		rc = ms_auth_srv_hello(a, cbs->auth_lookup, cbs->ud, bind, bindlen, req, len, out,
				       cap, outlen, why, whylen);
		if (rc) {
			*status = rc == -EBADMSG ? -EBADMSG : -EPROTO;
			return rc;
		}
		return 0;
	}
	known = a->known;
	rc = ms_auth_srv_verify(a, req, len);
	if (rc) {
		*status = -EACCES;
		snprintf(why, whylen, "authentication failed for key '%s' (%s)", a->name,
			 rc == -EACCES ? (known ? "wrong proof" : "no such key")
				       : "malformed proof");
		return -EACCES;
	}
	return 1;
}
