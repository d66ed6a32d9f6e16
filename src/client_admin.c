/* SPDX-License-Identifier: Apache-2.0 */
/*
 * client_admin.c - the client side of runtime administration: the
 * clients of a region (CLIENTS) and closing one of them (DISCONNECT).
 * The server decides who may (server_admin.c).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client_priv.h"

int ms_stat_clients(ms_client *c, const char *name, struct ms_client_info **out, size_t *n)
{
	int len, ret;

	if (!c || !out || !n)
		return -EINVAL;
	if (name && *name && !ms_name_valid(name))
		return cl_err(c, -EINVAL, "clients: invalid region name '%s'", name);
	if ((len = cl_connected(c, "clients")))
		return len;
	len = cl_call(c, "clients", ms_enc_clients(c->msg, MS_CTRL_MAX, name ? name : ""),
		      MS_MSG_CLIENTS_OK);
	if (len < 0)
		return len;
	ret = ms_dec_clients_ok(c->resp, (size_t)len, out, n);
	if (ret)
		return cl_err(c, ret == -ENOMEM ? ret : -EPROTO,
			      "clients: malformed reply from %s:%s", c->host, c->port);
	return 0;
}

int ms_disconnect_client(ms_client *c, uint64_t id)
{
	int len;

	if (!c)
		return -EINVAL;
	if ((len = cl_connected(c, "disconnect")))
		return len;
	len = cl_call(c, "disconnect", ms_enc_disconnect(c->msg, MS_CTRL_MAX, id),
		      MS_MSG_DISCONNECT_OK);
	if (len < 0)
		return len;
	if (ms_dec_empty(c->resp, (size_t)len, MS_MSG_DISCONNECT_OK))
		return cl_err(c, -EPROTO, "disconnect: malformed reply from %s:%s", c->host,
			      c->port);
	return 0;
}
