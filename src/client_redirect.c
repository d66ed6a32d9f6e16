/* SPDX-License-Identifier: Apache-2.0 */
/*
 * client_redirect.c - a client follows a region that migrated to another
 * server.  The old server answers a request about it with MOVED {name,
 * host, port, epoch} (cl_call keeps it in c->moved_*, -EREMCHG):
 *
 *  - ms_open on a client with no other open region connects the client
 *    to host:port instead (the same client id and transport) and asks
 *    again, at most MS_REDIRECT_HOPS times; a destination still taking
 *    the region in answers EAGAIN ("migrating in"), asked again until the
 *    client's timeout;
 *  - a request on a handle that got MOVED (push, sync, pull, a lazy
 *    mapping's reads and syncs): the client reconnects to host:port and
 *    reopens every handle there (ms_client_reconnect, which follows MOVED
 *    itself), a writer with expect_epoch = its epoch, so the destination
 *    grants the next one; the caller then redoes what it was doing.
 *
 * A request that failed without a MOVED (a read of memory the old server
 * released, a write into staging it revoked) is told apart by asking the
 * old server about the handle (HOT, harmless): MOVED then.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "client_priv.h"

#define OPEN_RETRY_MS 20         /* a destination answering "migrating in" */

bool ms_client_moved(const ms_client *c)
{
	return c && c->moved;
}

void cl_redirect_take(ms_client *c)
{
	snprintf(c->host, sizeof(c->host), "%s", c->moved_host);
	snprintf(c->port, sizeof(c->port), "%s", c->moved_port);
	c->moved = false;
}

/* Connect c (holding no region) to where the MOVED reply pointed. */
static int move_connection(ms_client *c, const char *name, const char *from)
{
	char err[512];
	bool fatal;
	int ret;

	cl_redirect_take(c);
	ret = ms_client_reconnect(c, NULL, c->timeout_ms, &fatal, err, sizeof(err));
	if (ret)
		return cl_err(c, ret, "open: region '%s' moved from %s to %s:%s, which cannot "
			      "be reached: %s", name, from, c->host, c->port, err);
	return 0;
}

int cl_open_call(ms_client *c, const struct ms_msg_open *m)
{
	uint64_t deadline = ms_now_ns() + (uint64_t)(c->timeout_ms > 0 ? c->timeout_ms : 10000) *
							1000000u;
	struct timespec ts = { 0, OPEN_RETRY_MS * 1000000L };
	char first[272] = "";
	int hops = 0, len;

	for (;;) {
		c->moved = false;
		len = cl_call(c, "open", ms_enc_open(c->msg, MS_CTRL_MAX, m), MS_MSG_OPEN_OK);
		if (len == -EAGAIN && ms_now_ns() < deadline) {
			nanosleep(&ts, NULL);          /* "migrating in" */
			continue;
		}
		if (len != -EREMCHG || !c->moved)
			return len;
		if (c->regions) {
			char msg[sizeof(c->errmsg)];

			snprintf(msg, sizeof(msg), "%s", c->errmsg);
			return cl_err(c, -EREMCHG, "%s (this client has other regions open at "
				      "%s:%s: open it with a client of its own)", msg, c->host,
				      c->port);
		}
		if (!*first)
			snprintf(first, sizeof(first), "%s:%s", c->host, c->port);
		if (hops++ == MS_REDIRECT_HOPS)
			return cl_err(c, -ELOOP, "open: region '%s' moved more than %d times "
				      "(from %s, last to %s:%s)", m->name, MS_REDIRECT_HOPS,
				      first, c->moved_host, c->moved_port);
		if ((len = move_connection(c, m->name, first)) != 0)
			return len;
	}
}

int cl_follow(ms_client *c, const char *what, const char *name)
{
	char from[272], err[512];
	bool fatal;
	int ret;

	if (!c->moved)
		return -EREMCHG;
	snprintf(from, sizeof(from), "%s:%s", c->host, c->port);
	/* ms_client_reconnect starts where c->moved points */
	ret = ms_client_reconnect(c, NULL, c->timeout_ms, &fatal, err, sizeof(err));
	if (ret)
		return cl_err(c, ret, "%s: region '%s' moved from %s to %s:%s; following it "
			      "failed: %s", what, name, from, c->host, c->port, err);
	return 0;
}

int cl_redirect_check(ms_region *r, int ret)
{
	ms_client *c = r->c;
	struct ms_msg_hot m = { .handle = r->handle, .max = 1 };
	char saved[sizeof(c->errmsg)];
	int len;

	if (!ret || ret == -EREMCHG || !c->x)
		return ret;
	snprintf(saved, sizeof(saved), "%s", c->errmsg);
	c->moved = false;
	len = cl_call(c, "hot", ms_enc_hot(c->msg, MS_CTRL_MAX, &m), MS_MSG_HOT_OK);
	if (len == -EREMCHG && c->moved)
		return -EREMCHG;       /* errmsg: where it went */
	snprintf(c->errmsg, sizeof(c->errmsg), "%s", saved);
	return ret;
}
