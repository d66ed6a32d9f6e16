/* SPDX-License-Identifier: Apache-2.0 */
/*
 * metrics_fmt.c - the Prometheus text exposition of memsyncd's metrics
 * (metrics_fmt.h).  Every family is written as a whole, HELP and TYPE
 * first, then one sample per region or transport, as the format asks.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics_fmt.h"

void msd_mbuf_free(struct msd_mbuf *b)
{
	free(b->p);
	*b = (struct msd_mbuf){ 0 };
}

static bool reserve(struct msd_mbuf *b, size_t more)
{
	size_t cap;
	char *p;

	if (b->oom)
		return false;
	if (b->len + more + 1 <= b->cap)
		return true;
	cap = b->cap ? b->cap : 4096;
	while (cap < b->len + more + 1)
		cap *= 2;
	p = realloc(b->p, cap);
	if (!p) {
		b->oom = true;
		return false;
	}
	b->p = p;
	b->cap = cap;
	return true;
}

void msd_mbuf_printf(struct msd_mbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || !reserve(b, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

static void put_escaped(struct msd_mbuf *b, const char *v, bool quote)
{
	for (; *v; v++) {
		if (*v == '\\')
			msd_mbuf_printf(b, "\\\\");
		else if (*v == '\n')
			msd_mbuf_printf(b, "\\n");
		else if (*v == '"' && quote)
			msd_mbuf_printf(b, "\\\"");
		else
			msd_mbuf_printf(b, "%c", *v);
	}
}

void msd_mbuf_label(struct msd_mbuf *b, const char *v)
{
	put_escaped(b, v, true);
}

void msd_metric_family(struct msd_mbuf *b, const char *name, const char *type,
		       const char *help)
{
	msd_mbuf_printf(b, "# HELP %s ", name);
	put_escaped(b, help, false);
	msd_mbuf_printf(b, "\n# TYPE %s %s\n", name, type);
}

/* ------------------------------------------------------------ regions */

enum rfield {
	R_READ, R_WRITTEN, R_COMMITTED, R_APPLIED, R_REFUSED, R_ABANDONED,
	R_GRANTED, R_LAPSED, R_FENCED, R_CLIENTS, R_GENERATION, R_SIZE, R_CHUNKS,
	R_ZERO, R_HELD, R_EPOCH,
};

static const struct {
	enum rfield f;
	const char *name, *type, *help;
	bool needs_m;                 /* from ms_server_region_metrics */
} rfams[] = {
	{ R_READ, "memsync_region_read_bytes_total", "counter",
	  "Bytes of the region served to readers (TCP: exact; RDMA: what the server sees).", 0 },
	{ R_WRITTEN, "memsync_region_written_bytes_total", "counter",
	  "Bytes received from writers (TCP: exact; RDMA: 0, the NIC places them).", 0 },
	{ R_COMMITTED, "memsync_region_committed_bytes_total", "counter",
	  "Bytes named by accepted commits, on any transport.", 0 },
	{ R_APPLIED, "memsync_region_commits_applied_total", "counter",
	  "Commits verified and published.", 0 },
	{ R_REFUSED, "memsync_region_commits_refused_total", "counter",
	  "Commits refused (bad hash, range, stale epoch).", 0 },
	{ R_ABANDONED, "memsync_region_commits_abandoned_total", "counter",
	  "Writers that went away, lapsed or were fenced with staged, uncommitted data.", 0 },
	{ R_GRANTED, "memsync_region_leases_granted_total", "counter",
	  "Write leases granted.", 1 },
	{ R_LAPSED, "memsync_region_leases_expired_total", "counter",
	  "Write leases whose holder was fenced because it did not renew in time.", 1 },
	{ R_FENCED, "memsync_region_leases_fenced_total", "counter",
	  "Write leases whose holder was fenced: lapsed, broken, handed over or migrated.",
	  1 },
	{ R_CLIENTS, "memsync_region_clients", "gauge",
	  "Connections that have the region open.", 0 },
	{ R_GENERATION, "memsync_region_generation", "gauge",
	  "The region's generation (one more per commit).", 0 },
	{ R_SIZE, "memsync_region_size_bytes", "gauge", "The region's size.", 0 },
	{ R_CHUNKS, "memsync_region_chunks", "gauge", "Chunks in the region.", 1 },
	{ R_ZERO, "memsync_region_zero_chunks", "gauge",
	  "Chunks whose committed content is all zero.", 1 },
	{ R_HELD, "memsync_region_lease_held", "gauge",
	  "1 while a writer holds the region's write lease, else 0.", 0 },
	{ R_EPOCH, "memsync_region_lease_epoch", "gauge",
	  "The holder's lease epoch, else the last one granted.", 0 },
};

static uint64_t rvalue(const struct msd_region_snap *r, enum rfield f)
{
	switch (f) {
	case R_READ: return r->st.bytes_read;
	case R_WRITTEN: return r->st.bytes_written;
	case R_COMMITTED: return r->st.bytes_committed;
	case R_APPLIED: return r->st.commits;
	case R_REFUSED: return r->st.commits_refused;
	case R_ABANDONED: return r->st.commits_abandoned;
	case R_GRANTED: return r->m.leases_granted;
	case R_LAPSED: return r->m.leases_lapsed;
	case R_FENCED: return r->m.leases_fenced;
	case R_CLIENTS: return r->st.clients;
	case R_GENERATION: return r->st.generation;
	case R_SIZE: return r->st.size;
	case R_CHUNKS: return r->m.chunks;
	case R_ZERO: return r->m.zero_chunks;
	case R_HELD: return r->st.lease.state == MS_LEASE_HELD;
	case R_EPOCH: return r->st.lease.epoch;
	}
	return 0;
}

static void regions(struct msd_mbuf *b, const struct msd_metrics_snap *s)
{
	for (size_t k = 0; k < sizeof(rfams) / sizeof(rfams[0]); k++) {
		msd_metric_family(b, rfams[k].name, rfams[k].type, rfams[k].help);
		for (size_t i = 0; i < s->nregions; i++) {
			const struct msd_region_snap *r = &s->regions[i];

			if (rfams[k].needs_m && !r->have_m)
				continue;
			msd_mbuf_printf(b, "%s{region=\"", rfams[k].name);
			msd_mbuf_label(b, r->st.name);
			msd_mbuf_printf(b, "\"} %llu\n", (unsigned long long)rvalue(r, rfams[k].f));
		}
	}
}

/* --------------------------------------------------------- transports */

enum tfield { T_ACCEPTED, T_OPEN, T_REFUSED, T_HANDSHAKE, T_IDLE, T_ERRORS };

static const struct {
	enum tfield f;
	const char *name, *type, *help;
} tfams[] = {
	{ T_ACCEPTED, "memsync_transport_connections_accepted_total", "counter",
	  "Connections taken in (past the connection limits)." },
	{ T_OPEN, "memsync_transport_connections_open", "gauge", "Connections open now." },
	{ T_REFUSED, "memsync_transport_connections_refused_total", "counter",
	  "Connections refused at accept by max-conns or max-conns-per-addr." },
	{ T_HANDSHAKE, "memsync_transport_handshake_failures_total", "counter",
	  "Connections closed before admission (TLS or key handshake failed or unfinished)." },
	{ T_IDLE, "memsync_transport_idle_closed_total", "counter",
	  "Connections closed by the idle timeout." },
	{ T_ERRORS, "memsync_transport_connection_errors_total", "counter",
	  "Admitted connections closed on an error (protocol violation, memory, revoked key)." },
};

static uint64_t tvalue(const struct ms_transport_metrics *t, enum tfield f)
{
	switch (f) {
	case T_ACCEPTED: return t->accepted;
	case T_OPEN: return t->open;
	case T_REFUSED: return t->refused;
	case T_HANDSHAKE: return t->handshake_failed;
	case T_IDLE: return t->idle_closed;
	case T_ERRORS: return t->errors;
	}
	return 0;
}

static void transports(struct msd_mbuf *b, const struct ms_server_metrics *m)
{
	unsigned n = m->ntransports < MS_METRICS_TRANSPORTS ? m->ntransports
							  : MS_METRICS_TRANSPORTS;

	for (size_t k = 0; k < sizeof(tfams) / sizeof(tfams[0]); k++) {
		msd_metric_family(b, tfams[k].name, tfams[k].type, tfams[k].help);
		for (unsigned i = 0; i < n; i++) {
			msd_mbuf_printf(b, "%s{transport=\"", tfams[k].name);
			msd_mbuf_label(b, m->transport[i].name);
			msd_mbuf_printf(b, "\"} %llu\n",
					(unsigned long long)tvalue(&m->transport[i], tfams[k].f));
		}
	}
}

/* --------------------------------------------------------- migrations */

static void counter(struct msd_mbuf *b, const char *name, const char *help, uint64_t v)
{
	msd_metric_family(b, name, "counter", help);
	msd_mbuf_printf(b, "%s %llu\n", name, (unsigned long long)v);
}

static void migrations(struct msd_mbuf *b, const struct ms_server_metrics *m)
{
	const char *h = "memsync_migration_downtime_seconds";
	uint64_t cum = 0;

	counter(b, "memsync_migrations_started_total",
		"Migrations into this server started.", m->migrations_started);
	counter(b, "memsync_migrations_completed_total",
		"Migrations into this server completed (every chunk here).",
		m->migrations_completed);
	counter(b, "memsync_migrations_failed_total", "Migrations into this server failed.",
		m->migrations_failed);
	counter(b, "memsync_migrations_aborted_total",
		"Migrations into this server aborted on request.", m->migrations_aborted);
	msd_metric_family(b, "memsync_migration_last_downtime_seconds", "gauge",
			  "Downtime of the newest migration that switched over (0: none).");
	msd_mbuf_printf(b, "memsync_migration_last_downtime_seconds %.6f\n",
			(double)m->last_downtime_us / 1e6);
	msd_metric_family(b, h, "histogram",
			  "Downtimes of migrations into this server (commits held at the "
			  "source until this server accepts them).");
	/* bucket i holds [2^i, 2^(i+1)) us; the last one everything above */
	for (int i = 0; i < MS_HIST_BUCKETS - 1; i++) {
		cum += m->downtime_hist[i];
		msd_mbuf_printf(b, "%s_bucket{le=\"%.6g\"} %llu\n", h,
				(double)(2ull << i) / 1e6, (unsigned long long)cum);
	}
	msd_mbuf_printf(b, "%s_bucket{le=\"+Inf\"} %llu\n", h,
			(unsigned long long)m->downtime_count);
	msd_mbuf_printf(b, "%s_sum %.6f\n", h, (double)m->downtime_sum_us / 1e6);
	msd_mbuf_printf(b, "%s_count %llu\n", h, (unsigned long long)m->downtime_count);
}

int msd_metrics_format(struct msd_mbuf *b, const struct msd_metrics_snap *s)
{
	msd_metric_family(b, "memsync_build_info", "gauge",
			  "Always 1: the version and the transports listened on as labels.");
	msd_mbuf_printf(b, "memsync_build_info{version=\"");
	msd_mbuf_label(b, s->version ? s->version : "");
	msd_mbuf_printf(b, "\",transport=\"");
	msd_mbuf_label(b, s->transport ? s->transport : "");
	msd_mbuf_printf(b, "\"} 1\n");
	msd_metric_family(b, "memsync_start_time_seconds", "gauge",
			  "When memsyncd started, in seconds since the Unix epoch.");
	msd_mbuf_printf(b, "memsync_start_time_seconds %.3f\n", s->start_time);
	msd_metric_family(b, "memsync_uptime_seconds", "gauge",
			  "Seconds since memsyncd started.");
	msd_mbuf_printf(b, "memsync_uptime_seconds %.3f\n", s->uptime);
	regions(b, s);
	transports(b, &s->srv);
	migrations(b, &s->srv);
	return b->oom ? -ENOMEM : 0;
}
