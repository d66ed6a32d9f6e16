/* SPDX-License-Identifier: Apache-2.0 */
/*
 * metrics_http.h - memsyncd's metrics listener (--metrics HOST:PORT): a
 * libmicrohttpd daemon with one internal polling thread and a bounded
 * number of connections that answers GET /metrics with a snapshot of the
 * server's counters in the Prometheus text format (metrics_fmt.h), 404
 * for any other path and 405 for any other method.  Metrics name
 * regions, so a non-loopback address is refused unless insecure is set,
 * as for the main listener.  Docs: docs/operations.md, "# Metrics".
 */
#ifndef MSD_METRICS_HTTP_H
#define MSD_METRICS_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include "memsync.h"

/* At most this many scrapes at once; each may take this long. */
#define MSD_METRICS_MAX_CONNS 16u
#define MSD_METRICS_TIMEOUT_S 10u

struct msd_metrics;

/* Listen on host:port (port "0": a free one) and serve srv's metrics
 * from a thread of its own.  NULL + errno with a message in err:
 * EACCES a non-loopback address without insecure, EADDRINUSE, or what
 * resolving or libmicrohttpd reported. */
struct msd_metrics *msd_metrics_start(const char *host, const char *port, bool insecure,
				      ms_server *srv, char *err, size_t errlen);
/* The port bound. */
unsigned msd_metrics_port(const struct msd_metrics *m);
/* Stop listening (scrapes in progress are cut), free m (NULL is fine). */
void msd_metrics_stop(struct msd_metrics *m);

#endif
