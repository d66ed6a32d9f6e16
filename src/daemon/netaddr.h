/* SPDX-License-Identifier: Apache-2.0 */
/*
 * netaddr.h - the daemon's one loopback test for the addresses it listens
 * on without keys (the main listener, the metrics listener) and for
 * --check-config: true when host resolves and every address it resolves
 * to is loopback (127/8, ::1, ::ffff:127/104); false for "" (every
 * address) or a name that does not resolve.
 */
#ifndef MSD_NETADDR_H
#define MSD_NETADDR_H

#include <stdbool.h>

bool msd_host_loopback(const char *host);

#endif
