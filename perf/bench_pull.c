/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_pull.c - how fast libmemsync pulls a whole region over TCP on
 * 127.0.0.1, to compare with perf/rawtcp (one plain TCP stream).  One
 * process: a server (ms_server_create on 127.0.0.1:0, a background thread)
 * exports an anonymous region of SIZE filled with random bytes; a client
 * pulls it into a prefaulted buffer, RUNS times with verification (XXH3-128
 * of every chunk) and RUNS times without.  Each pulled copy is compared
 * with the region, so a wrong transfer cannot report a speed.
 *
 *   bench_pull [--size SIZE] [--runs N] [--chunk SIZE] [--queue-depth N]
 *              [--max-io SIZE] [--mode both|verify|no-verify] [--connects N]
 *              [--tls-cert FILE --tls-key FILE --tls-ca FILE]
 *              [--auth-keys FILE --key-file FILE]
 *
 * Before the pulls, --connects N (default 5) connections are made and
 * closed, each timed (ms_connect: TCP, TLS and key handshakes, HELLO):
 *   {"bench":"memsync_connect","run":1,"seconds":F,"tls":B,"auth":B}
 *
 * One JSON line per pull on stdout, e.g.
 *   {"bench":"memsync_pull","verify":true,"run":1,"bytes":N,"seconds":F,
 *    "bytes_per_second":F,"chunks":N,"chunks_retried":N,"chunk_size":N,
 *    "queue_depth":N,"max_io":N,"transport":"tcp","tls":B,"auth":B}
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "memsync.h"
#include "units.h"
#include "benchsec.h"
#include "benchutil.h"

struct bench {
	uint64_t size;
	unsigned runs;
	uint32_t chunk;
	unsigned queue_depth;
	uint32_t max_io;
	bool verify, no_verify;
	unsigned connects;
	struct bu_sec sec;
};

/* Create the server and its region; NULL after printing why. */
static ms_server *make_server(const struct bench *b, ms_export **out)
{
	struct ms_server_opts so = { .opts_size = sizeof(so),
		.host = "127.0.0.1", .port = "0", .transport = MS_TRANSPORT_TCP,
	};
	struct ms_export_opts eo = { .opts_size = sizeof(eo),
		.name = "bench", .size = b->size, .chunk_size = b->chunk,
		.backing = MS_BACKING_ANON,
	};
	char err[256] = "";
	ms_server *s;

	bu_sec_server(&b->sec, &so);
	ms_export *e;
	double t0;

	s = ms_server_create(&so, err, sizeof(err));
	if (!s) {
		fprintf(stderr, "bench_pull: server: %s\n", err[0] ? err : strerror(errno));
		return NULL;
	}
	e = ms_server_add_region(s, &eo);
	if (!e && (errno == ENOMEM || errno == EPERM)) {
		/* Not allowed to pin SIZE bytes (RLIMIT_MEMLOCK): measure unpinned. */
		fprintf(stderr, "bench_pull: cannot pin the region (%s); running with no_mlock\n",
			ms_server_errmsg(s));
		eo.no_mlock = true;
		e = ms_server_add_region(s, &eo);
	}
	if (!e) {
		fprintf(stderr, "bench_pull: region: %s\n", ms_server_errmsg(s));
		goto fail;
	}
	t0 = bu_now_s();
	bu_fill_random(ms_export_mem(e), b->size, (uint64_t)time(NULL) ^ 0x9e3779b97f4a7c15ull);
	if (ms_export_commit(e, 0, b->size) < 0) {
		fprintf(stderr, "bench_pull: commit: %s\n", ms_server_errmsg(s));
		goto fail;
	}
	fprintf(stderr, "bench_pull: region of %llu bytes filled and hashed in %.2f s\n",
		(unsigned long long)b->size, bu_now_s() - t0);
	if (ms_server_start(s) < 0) {
		fprintf(stderr, "bench_pull: start: %s\n", ms_server_errmsg(s));
		goto fail;
	}
	*out = e;
	return s;
fail:
	ms_server_destroy(s);
	return NULL;
}

/* One timed pull of the whole region into dst; checked against src. */
static int one_pull(ms_region *r, const struct bench *b, bool verify, unsigned run,
		    uint8_t *dst, const uint8_t *src, const char *transport)
{
	struct ms_xfer_opts xo = { .opts_size = sizeof(xo), .no_verify = !verify };
	struct ms_xfer_stats st;
	double t0, t;
	int rc;

	/* A stale copy must not pass the comparison below. */
	memset(dst, 0, b->size);
	memset(&st, 0, sizeof(st));
	t0 = bu_now_s();
	rc = ms_pull(r, 0, dst, b->size, &xo, &st);
	t = bu_now_s() - t0;
	if (rc < 0)
		return rc;
	if (memcmp(dst, src, b->size)) {
		fprintf(stderr, "bench_pull: the pulled copy differs from the region\n");
		return -EIO;
	}
	printf("{\"bench\":\"memsync_pull\",\"verify\":%s,\"run\":%u,\"bytes\":%llu,"
	       "\"seconds\":%.6f,\"bytes_per_second\":%.0f,\"chunks\":%llu,"
	       "\"chunks_retried\":%llu,\"chunk_size\":%u,\"queue_depth\":%u,\"max_io\":%u,"
	       "\"transport\":\"%s\"" BU_SEC_JSON "}\n",
	       verify ? "true" : "false", run, (unsigned long long)b->size, t,
	       (double)b->size / t, (unsigned long long)st.chunks_moved,
	       (unsigned long long)st.chunks_retried, b->chunk ? b->chunk : MS_CHUNK_DEFAULT,
	       b->queue_depth ? b->queue_depth : 16, b->max_io ? b->max_io : (1u << 20),
	       transport, BU_SEC_ARGS(&b->sec));
	fflush(stdout);
	return 0;
}

/* Connect and disconnect b->connects times, timing each ms_connect. */
static int time_connects(const struct bench *b, const struct ms_client_opts *co,
			 const char *port)
{
	char err[256] = "";
	ms_client *c;
	double t0, t;

	for (unsigned i = 1; i <= b->connects; i++) {
		t0 = bu_now_s();
		c = ms_connect("127.0.0.1", port, co, err, sizeof(err));
		t = bu_now_s() - t0;
		if (!c) {
			fprintf(stderr, "bench_pull: connect: %s\n", err[0] ? err : strerror(errno));
			return -1;
		}
		ms_disconnect(c);
		printf("{\"bench\":\"memsync_connect\",\"run\":%u,\"seconds\":%.6f" BU_SEC_JSON
		       "}\n", i, t, BU_SEC_ARGS(&b->sec));
	}
	fflush(stdout);
	return 0;
}

static int bench(const struct bench *b)
{
	struct ms_client_opts co = { .opts_size = sizeof(co),
		.transport = MS_TRANSPORT_TCP, .queue_depth = b->queue_depth, .max_io = b->max_io,
	};
	char port[8], err[256] = "";
	ms_export *e = NULL;
	ms_server *s;
	ms_client *c = NULL;
	ms_region *r = NULL;
	uint8_t *dst = MAP_FAILED;
	int rc = -1;

	s = make_server(b, &e);
	if (!s)
		return -1;
	snprintf(port, sizeof(port), "%u", (unsigned)ms_server_port(s));
	bu_sec_client(&b->sec, &co);
	if (time_connects(b, &co, port))
		goto out;
	c = ms_connect("127.0.0.1", port, &co, err, sizeof(err));
	if (!c) {
		fprintf(stderr, "bench_pull: connect: %s\n", err[0] ? err : strerror(errno));
		goto out;
	}
	r = ms_open(c, "bench", MS_MODE_READ);
	if (!r) {
		fprintf(stderr, "bench_pull: open: %s\n", ms_client_errmsg(c));
		goto out;
	}
	dst = mmap(NULL, b->size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (dst == MAP_FAILED) {
		perror("bench_pull: mmap");
		goto out;
	}
	memset(dst, 0xa5, b->size); /* prefault: no page fault is timed */
	for (unsigned i = 1; i <= b->runs; i++) {
		int e1 = 0, e2 = 0;

		if (b->verify)
			e1 = one_pull(r, b, true, i, dst, ms_export_mem(e), ms_client_transport(c));
		if (!e1 && b->no_verify)
			e2 = one_pull(r, b, false, i, dst, ms_export_mem(e), ms_client_transport(c));
		if (e1 < 0 || e2 < 0) {
			fprintf(stderr, "bench_pull: pull: %s\n", ms_client_errmsg(c));
			goto out;
		}
	}
	rc = 0;
out:
	if (dst != MAP_FAILED)
		munmap(dst, b->size);
	if (r)
		ms_close(r);
	if (c)
		ms_disconnect(c);
	ms_server_destroy(s);
	return rc;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: bench_pull [--size SIZE (1G)] [--runs N (3)] [--chunk SIZE (64K)]\n"
		   "                  [--queue-depth N (16)] [--max-io SIZE (1M)]\n"
		   "                  [--mode both|verify|no-verify] [--connects N (5)]\n"
		   BU_SEC_USAGE
		   "Pulls a random region of SIZE from an in-process server on 127.0.0.1 over TCP;\n"
		   "one JSON line per pull.\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "size", required_argument, NULL, 's' },
		{ "runs", required_argument, NULL, 'r' },
		{ "chunk", required_argument, NULL, 'c' },
		{ "queue-depth", required_argument, NULL, 'q' },
		{ "max-io", required_argument, NULL, 'm' },
		{ "mode", required_argument, NULL, 'M' },
		{ "connects", required_argument, NULL, 'C' },
		{ "help", no_argument, NULL, 'h' },
		BU_SEC_OPTIONS,
		{ NULL, 0, NULL, 0 },
	};
	struct bench b = { .size = 1ull << 30, .runs = 3, .verify = true, .no_verify = true,
			   .connects = 5 };
	uint64_t v;
	int c, li = 0;

	while ((c = getopt_long(argc, argv, "h", opts, &li)) != -1) {
		switch (c) {
		case 's':
			if (ms_parse_size(optarg, &v) || !v)
				goto bad;
			b.size = v;
			break;
		case 'r':
			if (ms_parse_size(optarg, &v) || !v || v > 1000)
				goto bad;
			b.runs = (unsigned)v;
			break;
		case 'c':
			if (ms_parse_size(optarg, &v) || v > MS_CHUNK_MAX)
				goto bad;
			b.chunk = (uint32_t)v;
			break;
		case 'q':
			if (ms_parse_size(optarg, &v) || !v || v > 4096)
				goto bad;
			b.queue_depth = (unsigned)v;
			break;
		case 'm':
			if (ms_parse_size(optarg, &v) || !v || v > (1u << 30))
				goto bad;
			b.max_io = (uint32_t)v;
			break;
		case 'M':
			if (!strcmp(optarg, "both"))
				b.verify = b.no_verify = true;
			else if (!strcmp(optarg, "verify"))
				b.verify = true, b.no_verify = false;
			else if (!strcmp(optarg, "no-verify"))
				b.verify = false, b.no_verify = true;
			else
				goto bad;
			break;
		case 'C':
			if (ms_parse_size(optarg, &v) || v > 10000)
				goto bad;
			b.connects = (unsigned)v;
			break;
		default:
			if (bu_sec_opt(&b.sec, c, optarg))
				break;
			return bu_help_or_unknown(c, usage);
		}
	}
	if (optind != argc) {
		fprintf(stderr, "bench_pull: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	return bench(&b) ? 1 : 0;
bad:
	fprintf(stderr, "bench_pull: bad value for --%s: '%s'\n", opts[li].name, optarg);
	usage(stderr);
	return 2;
}
