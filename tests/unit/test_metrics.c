/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_metrics.c - memsyncd's metrics: the text format (metrics_fmt.c:
 * escaping, HELP and TYPE before each family's samples, values, the
 * downtime histogram) and the engine's counters behind it
 * (ms_server_metrics, ms_server_region_metrics: zero chunks, connection
 * counts, lease grants and fences), on a real server on 127.0.0.1.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tap.h"
#include "fixture.h"
#include "hash.h"
#include "daemon/metrics_fmt.h"
#include "server_int.h"
#include "server_metrics.h"

static int count_of(const char *hay, const char *needle)
{
	int n = 0;

	for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++)
		n++;
	return n;
}

static void test_escape(void)
{
	struct msd_mbuf b = { 0 };

	msd_mbuf_label(&b, "a\"b\\c\nd");
	is_str(b.p, "a\\\"b\\\\c\\nd", "label value: quote, backslash, newline escaped");
	msd_mbuf_free(&b);
	msd_mbuf_label(&b, "plain-name_1.x");
	is_str(b.p, "plain-name_1.x", "a plain label value is as it was");
	msd_mbuf_free(&b);
	msd_metric_family(&b, "x_total", "counter", "one \"two\"\nthree \\ four");
	is_str(b.p, "# HELP x_total one \"two\"\\nthree \\\\ four\n# TYPE x_total counter\n",
	       "HELP escapes backslash and newline (not quotes), then TYPE");
	msd_mbuf_free(&b);
}

/* Every sample's family was announced by the TYPE line just before its
 * group, HELP comes right before TYPE, and no family appears twice. */
static bool well_formed(const char *text, char *why, size_t len)
{
	char fam[128] = "", line[512], name[128], seen[8192] = " ";
	const char *p = text, *nl;

	while (*p) {
		size_t n;

		nl = strchr(p, '\n');
		if (!nl) {
			snprintf(why, len, "no newline at the end");
			return false;
		}
		n = (size_t)(nl - p) < sizeof(line) - 1 ? (size_t)(nl - p) : sizeof(line) - 1;
		memcpy(line, p, n);
		line[n] = '\0';
		p = nl + 1;
		if (strncmp(line, "# HELP ", 7) == 0) {
			char type_line[200];

			sscanf(line + 7, "%127s", name);
			snprintf(type_line, sizeof(type_line), "# TYPE %s ", name);
			if (strncmp(p, type_line, strlen(type_line)) != 0) {
				snprintf(why, len, "HELP of %s not followed by its TYPE", name);
				return false;
			}
			continue;
		}
		if (strncmp(line, "# TYPE ", 7) == 0) {
			char key[140];

			sscanf(line + 7, "%127s", fam);
			snprintf(key, sizeof(key), " %s ", fam);
			if (strstr(seen, key)) {
				snprintf(why, len, "family %s twice", fam);
				return false;
			}
			if (strlen(seen) + strlen(key) < sizeof(seen))
				strcat(seen, key + 1);
			continue;
		}
		n = strcspn(line, "{ ");
		snprintf(name, sizeof(name), "%.*s", (int)n, line);
		if (strcmp(name, fam) != 0 &&
		    !(strncmp(name, fam, strlen(fam)) == 0 &&
		      (!strcmp(name + strlen(fam), "_bucket") || !strcmp(name + strlen(fam), "_sum") ||
		       !strcmp(name + strlen(fam), "_count")))) {
			snprintf(why, len, "sample %.60s outside its family (last TYPE %.60s)", name, fam);
			return false;
		}
	}
	return true;
}

static void test_format(void)
{
	struct msd_region_snap rs[2] = { 0 };
	struct msd_metrics_snap s = {
		.version = "9.8.7",
		.transport = "tcp",
		.start_time = 1700000000.5,
		.uptime = 12.25,
		.regions = rs,
		.nregions = 2,
	};
	struct msd_mbuf b = { 0 };
	char why[200] = "";

	snprintf(rs[0].st.name, sizeof(rs[0].st.name), "vm0");
	rs[0].st.bytes_read = 123456789012ull;
	rs[0].st.bytes_committed = 65536;
	rs[0].st.commits = 3;
	rs[0].st.clients = 2;
	rs[0].st.generation = 4;
	rs[0].st.size = 1 << 20;
	rs[0].st.lease.state = MS_LEASE_HELD;
	rs[0].st.lease.epoch = 7;
	rs[0].have_m = true;
	rs[0].m.leases_granted = 5;
	rs[0].m.leases_lapsed = 1;
	rs[0].m.leases_fenced = 2;
	rs[0].m.chunks = 16;
	rs[0].m.zero_chunks = 11;
	snprintf(rs[1].st.name, sizeof(rs[1].st.name), "we\"ird");
	rs[1].st.commits_refused = 9;
	rs[1].have_m = false;
	s.srv.ntransports = 1;
	snprintf(s.srv.transport[0].name, sizeof(s.srv.transport[0].name), "tcp");
	s.srv.transport[0].accepted = 42;
	s.srv.transport[0].open = 3;
	s.srv.migrations_started = 4;
	s.srv.migrations_completed = 3;
	s.srv.migrations_failed = 1;
	s.srv.last_downtime_us = 2500;
	s.srv.downtime_count = 3;
	s.srv.downtime_sum_us = 1000000 + 2500 + 10;
	s.srv.downtime_hist[3] = 1;   /* 10 us: [8, 16) */
	s.srv.downtime_hist[11] = 1;  /* 2500 us: [2048, 4096) */
	s.srv.downtime_hist[19] = 1;  /* 1 s: [524288, 1048576) */

	is_int(msd_metrics_format(&b, &s), 0, "format: 0");
	if (!b.p)
		tap_bail("nothing formatted");
	ok(well_formed(b.p, why, sizeof(why)), "families grouped, HELP+TYPE first (%s)", why);
	ok(strstr(b.p, "memsync_build_info{version=\"9.8.7\",transport=\"tcp\"} 1\n") != NULL,
	   "build info with version and transport labels");
	ok(strstr(b.p, "memsync_start_time_seconds 1700000000.500\n") != NULL, "start time");
	ok(strstr(b.p, "memsync_uptime_seconds 12.250\n") != NULL, "uptime");
	ok(strstr(b.p, "memsync_region_read_bytes_total{region=\"vm0\"} 123456789012\n") != NULL,
	   "a 64-bit counter in full");
	ok(strstr(b.p, "memsync_region_commits_refused_total{region=\"we\\\"ird\"} 9\n") != NULL,
	   "a region name with a quote is escaped in its label");
	ok(strstr(b.p, "memsync_region_lease_held{region=\"vm0\"} 1\n") &&
	   strstr(b.p, "memsync_region_lease_held{region=\"we\\\"ird\"} 0\n"),
	   "lease held: 1 for a held lease, 0 for a free one");
	ok(strstr(b.p, "memsync_region_lease_epoch{region=\"vm0\"} 7\n") != NULL, "lease epoch");
	ok(strstr(b.p, "memsync_region_zero_chunks{region=\"vm0\"} 11\n") != NULL, "zero chunks");
	ok(strstr(b.p, "memsync_region_leases_expired_total{region=\"vm0\"} 1\n") &&
	   strstr(b.p, "memsync_region_leases_fenced_total{region=\"vm0\"} 2\n") &&
	   strstr(b.p, "memsync_region_leases_granted_total{region=\"vm0\"} 5\n"),
	   "lease counters");
	is_int(count_of(b.p, "memsync_region_leases_granted_total{"), 1,
	       "a region without its extra metrics has none of them");
	is_int(count_of(b.p, "{region=\"we\\\"ird\"}"), 11,
	       "... but every one ms_region_stat gives (11)");
	ok(strstr(b.p, "memsync_transport_connections_accepted_total{transport=\"tcp\"} 42\n") &&
	   strstr(b.p, "memsync_transport_connections_open{transport=\"tcp\"} 3\n"),
	   "transport counters by transport label");
	ok(strstr(b.p, "# TYPE memsync_transport_connections_open gauge\n") &&
	   strstr(b.p, "# TYPE memsync_region_committed_bytes_total counter\n") &&
	   strstr(b.p, "# TYPE memsync_migration_downtime_seconds histogram\n"),
	   "types: gauge, counter, histogram");
	ok(strstr(b.p, "memsync_migration_downtime_seconds_bucket{le=\"8e-06\"} 0\n") &&
	   strstr(b.p, "memsync_migration_downtime_seconds_bucket{le=\"1.6e-05\"} 1\n") &&
	   strstr(b.p, "memsync_migration_downtime_seconds_bucket{le=\"0.004096\"} 2\n") &&
	   strstr(b.p, "memsync_migration_downtime_seconds_bucket{le=\"1.04858\"} 3\n") &&
	   strstr(b.p, "memsync_migration_downtime_seconds_bucket{le=\"+Inf\"} 3\n"),
	   "downtime histogram buckets are cumulative, upper bounds 2^(i+1) us");
	ok(strstr(b.p, "memsync_migration_downtime_seconds_sum 1.002510\n") &&
	   strstr(b.p, "memsync_migration_downtime_seconds_count 3\n") &&
	   strstr(b.p, "memsync_migration_last_downtime_seconds 0.002500\n"),
	   "downtime sum, count and the last one in seconds");
	ok(strstr(b.p, "memsync_migrations_failed_total 1\n") &&
	   strstr(b.p, "memsync_migrations_started_total 4\n"), "migration counters");
	ok(b.len == strlen(b.p), "length matches the text");
	msd_mbuf_free(&b);
}

static void test_zero_hash(void)
{
	static const uint64_t lens[] = { 4096, 8192, 12288, 65536, 4096 * 3 + 4096, 1 << 20 };
	uint8_t want[MS_HASH_LEN], got[MS_HASH_LEN];

	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		uint8_t *z = calloc(1, lens[i]);

		if (!z)
			tap_bail("calloc");
		ms_chunk_hash(z, lens[i], want);
		ms_smet_zero_hash(lens[i], got);
		ok(ms_hash_eq(want, got), "zero hash without a buffer, %llu bytes",
		   (unsigned long long)lens[i]);
		free(z);
	}
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static void test_engine(void)
{
	static const struct fx_region regs[] = { { "z", 1 << 20, 64 << 10, false, 0 } };
	struct ms_region_metrics rm = { .size = sizeof(rm) };
	struct ms_server_metrics sm = { .size = sizeof(sm) };
	struct fx_server f = { 0 };
	struct ms_region_stat *st = NULL;
	size_t n = 0;
	uint8_t *mem;
	ms_client *c;
	int i;

	fx_server_up(&f, regs, 1, FX_SEED);
	mem = ms_export_mem(f.e[0]);
	is_int(ms_server_region_metrics(f.s, "z", &rm), 0, "region metrics: 0");
	is_int(rm.chunks, 16, "16 chunks");
	is_int(rm.zero_chunks, 0, "random content: no zero chunk");
	memset(mem, 0, 1 << 20);
	is_int(ms_export_commit(f.e[0], 0, 1 << 20), 0, "zero the region and commit");
	is_int(ms_server_region_metrics(f.s, "z", &rm), 0, "region metrics again");
	is_int(rm.zero_chunks, 16, "every chunk zero now");
	mem[3 * 65536 + 17] = 1;
	mem[15 * 65536] = 2;
	is_int(ms_export_commit(f.e[0], 0, 1 << 20), 0, "two chunks changed");
	is_int(ms_server_region_metrics(f.s, "z", &rm), 0, "region metrics after");
	is_int(rm.zero_chunks, 14, "14 zero chunks");
	is_int(ms_server_stat(f.s, "z", &st, &n), 0, "stat");
	is_int(rm.zero_generation, n == 1 ? st[0].generation : 0,
	       "counted at the region's generation");
	free(st);
	is_int(ms_server_region_metrics(f.s, "nope", &rm), -ENOENT, "unknown region: -ENOENT");
	rm.size = 4;
	is_int(ms_server_region_metrics(f.s, "z", &rm), -EINVAL, "size too small: -EINVAL");

	is_int(ms_server_metrics(f.s, &sm), 0, "server metrics: 0");
	is_int(sm.ntransports, 1, "one listener");
	is_str(sm.transport[0].name, "tcp", "... tcp");
	is_int(sm.transport[0].open, 0, "no connection open");
	is_int(sm.migrations_started, 0, "no migration");
	c = fx_connect(&f, NULL);
	is_int(ms_server_metrics(f.s, &sm), 0, "server metrics with a client");
	is_int(sm.transport[0].accepted, 1, "one connection accepted");
	is_int(sm.transport[0].open, 1, "one open");
	is_int(sm.transport[0].errors + sm.transport[0].handshake_failed, 0, "no error");
	ms_disconnect(c);
	for (i = 0; i < 200; i++) {
		ms_server_metrics(f.s, &sm);
		if (sm.transport[0].open == 0)
			break;
		sleep_ms(10);
	}
	is_int(sm.transport[0].open, 0, "closed after the disconnect");
	is_int(sm.transport[0].accepted, 1, "accepted stays 1");
	fx_server_down(&f);
}

/* Leases: a grant, a break (fenced, not lapsed), a lapse (both). */
static void test_leases(void)
{
	static const struct fx_region regs[] = { { "w", 256 << 10, 64 << 10, false, 0 } };
	struct ms_region_metrics rm = { .size = sizeof(rm) };
	struct fx_server f = { 0 };
	ms_client *c, *op;
	ms_region *r;

	fx_server_up(&f, regs, 1, FX_SEED);
	c = fx_connect(&f, NULL);
	op = fx_connect(&f, NULL);
	r = ms_open(c, "w", MS_MODE_WRITE);
	ok(r != NULL, "open for writing");
	ms_server_region_metrics(f.s, "w", &rm);
	is_int(rm.leases_granted, 1, "one lease granted");
	is_int(rm.leases_fenced + rm.leases_lapsed, 0, "none fenced yet");
	is_int(ms_lease_break(op, "w", NULL), 0, "an operator breaks it");
	ms_server_region_metrics(f.s, "w", &rm);
	is_int(rm.leases_fenced, 1, "fenced: 1");
	is_int(rm.leases_lapsed, 0, "lapsed: 0 (it was broken)");
	if (r)
		ms_close(r);
	r = ms_open(c, "w", MS_MODE_WRITE);
	ok(r != NULL, "open for writing again");
	ms_server_region_metrics(f.s, "w", &rm);
	is_int(rm.leases_granted, 2, "two leases granted");
	/* the library renews the lease while the client lives: lapse it the
	 * way the lease timer does when a holder falls silent */
	ms_lease_fence(f.e[0], FENCE_LAPSED, NULL);
	ms_server_region_metrics(f.s, "w", &rm);
	is_int(rm.leases_lapsed, 1, "lapsed: 1");
	is_int(rm.leases_fenced, 2, "fenced: 2 (a lapse fences too)");
	if (r)
		ms_close(r);
	ms_disconnect(op);
	ms_disconnect(c);
	fx_server_down(&f);
}

int main(void)
{
	test_escape();
	test_format();
	test_zero_hash();
	test_engine();
	test_leases();
	return tap_done();
}
