/* SPDX-License-Identifier: Apache-2.0 */
/*
 * metrics_fmt.h - memsyncd's metrics in the Prometheus text exposition
 * format 0.0.4: pure functions that write a snapshot of the server's
 * counters into a growing buffer (no I/O, no engine calls: unit-tested
 * with made-up snapshots).  The metrics and their meaning:
 * docs/operations.md, "# Metrics".  The HTTP side: metrics_http.h.
 */
#ifndef MSD_METRICS_FMT_H
#define MSD_METRICS_FMT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "memsync.h"

#define MSD_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* A growing text buffer; after an allocation failure it stays as it was
 * and oom is set (every later write is dropped). */
struct msd_mbuf {
	char *p;            /* NUL-terminated once anything was written */
	size_t len, cap;
	bool oom;
};

void msd_mbuf_free(struct msd_mbuf *b);
void msd_mbuf_printf(struct msd_mbuf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* v as a label value: backslash, double quote and newline escaped. */
void msd_mbuf_label(struct msd_mbuf *b, const char *v);
/* "# HELP name help" (backslash and newline escaped) and "# TYPE name type". */
void msd_metric_family(struct msd_mbuf *b, const char *name, const char *type,
		       const char *help);

/* One region: what ms_server_stat gave, and ms_server_region_metrics
 * (have_m false when that failed: those metrics are left out). */
struct msd_region_snap {
	struct ms_region_stat st;
	struct ms_region_metrics m;
	bool have_m;
};

struct msd_metrics_snap {
	const char *version;          /* memsync_build_info's labels */
	const char *transport;        /* "tcp", "rdma", "tcp+rdma" */
	double start_time;            /* Unix time, seconds */
	double uptime;                /* seconds */
	struct ms_server_metrics srv;
	const struct msd_region_snap *regions;
	size_t nregions;
};

/* The whole exposition of s, appended to b: 0 or -ENOMEM. */
int msd_metrics_format(struct msd_mbuf *b, const struct msd_metrics_snap *s);

#endif
