/* SPDX-License-Identifier: Apache-2.0 */
/*
 * server_admin.h - runtime administration on the server side (issue 14):
 * who has which region open (CLIENTS, ms_server_clients) and closing one
 * of them at an operator's request (DISCONNECT, ms_server_disconnect).
 */
#ifndef MS_SERVER_ADMIN_H
#define MS_SERVER_ADMIN_H

#include <stddef.h>

#include "server_int.h"

/* Request handlers (as server_ctrl.c's handler_fn): the reply's length or
 * -errno. */
int ms_srv_h_clients(ms_server *s, struct peer *p, const void *req, size_t len, void *resp,
		     size_t cap);
int ms_srv_h_disconnect(ms_server *s, struct peer *p, const void *req, size_t len,
			void *resp, size_t cap);

#endif
