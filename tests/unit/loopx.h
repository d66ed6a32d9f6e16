/* SPDX-License-Identifier: Apache-2.0 */
/*
 * loopx.h - an in-memory loopback transport for tests: a struct
 * ms_transport_ops whose client and server live in one process.  Servers
 * listen on host LOOPX_HOST in a port table of their own; the data path is
 * one-sided like a NIC's (the client copies to and from the server's
 * registrations, after checking key, access and range, and the server's
 * CPU only counts bytes); control requests, notifications, connects and
 * disconnects go through the server's loop thread (srv_run) as with the
 * real transports.  A refused key fails the request (-EACCES), not the
 * connection.
 */
#ifndef MS_TEST_LOOPX_H
#define MS_TEST_LOOPX_H

#include "transport.h"

#define LOOPX_HOST "loop"

extern const struct ms_transport_ops ms_loopx_ops;

#endif /* MS_TEST_LOOPX_H */
