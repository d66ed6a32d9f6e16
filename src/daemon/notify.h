/* SPDX-License-Identifier: Apache-2.0 */
/*
 * notify.h - memsyncd's messages to systemd (sd_notify(3)) when it runs
 * as a Type=notify unit: READY=1 once it serves, RELOADING=1 on SIGHUP,
 * STOPPING=1 at shutdown, STATUS=... for `systemctl status`.  Without
 * NOTIFY_SOCKET in the environment every call does nothing.
 */
#ifndef MSD_NOTIFY_H
#define MSD_NOTIFY_H

#include <stddef.h>

/* READY=1 with "STATUS=serving N regions on HOST:PORT (TRANSPORT)".
 * 0 (sent, or no NOTIFY_SOCKET) or -errno. */
int msd_notify_ready(size_t nregions, const char *host, unsigned port, const char *transport);
/* RELOADING=1 with MONOTONIC_USEC=now and a STATUS line: a reload starts
 * (a READY=1 ends it). */
int msd_notify_reloading(void);
/* STOPPING=1 with a STATUS line. */
int msd_notify_stopping(void);

#endif
