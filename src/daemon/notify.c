/* SPDX-License-Identifier: Apache-2.0 */
/*
 * notify.c - sd_notify(3) for memsyncd (libsystemd).  sd_notify returns
 * 0 when NOTIFY_SOCKET is not set: the daemon run by hand or by a test
 * sends nothing.
 */
#include <errno.h>
#include <stdint.h>
#include <time.h>

#include <systemd/sd-daemon.h>

#include "notify.h"

static int sent(int rc)
{
	return rc < 0 ? rc : 0;
}

int msd_notify_ready(size_t nregions, const char *host, unsigned port, const char *transport)
{
	return sent(sd_notifyf(0, "READY=1\nSTATUS=serving %zu region%s on %s:%u (%s)", nregions,
			       nregions == 1 ? "" : "s", host, port, transport));
}

int msd_notify_reloading(void)
{
	struct timespec ts;
	uint64_t usec;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) < 0)
		return -errno;
	usec = (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
	return sent(sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu\nSTATUS=reloading the "
			       "configuration", (unsigned long long)usec));
}

int msd_notify_stopping(void)
{
	return sent(sd_notify(0, "STOPPING=1\nSTATUS=shutting down"));
}
