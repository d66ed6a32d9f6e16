/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rawtcp.c - the TCP ceilings memsync is compared with, on 127.0.0.1:
 *
 *   stream  one stream moving BYTES with plain send()/recv() of --msg
 *           (1 MiB), from a prefaulted source buffer into a prefaulted
 *           destination buffer of the same size (as a pull moves a region
 *           into a local copy).  No protocol, no hashing: the most a
 *           single TCP stream does on this machine.  --fresh receives
 *           into memory never touched instead (a new mapping per run), so
 *           the receive also pays for populating it, as a lazily mapped
 *           region or a pull into new memory does.
 *   rr      4 KiB request/response: the client sends an 8-byte request
 *           (a page number), the server answers with that 4 KiB page; one
 *           at a time, --ops times (what one lazy-load fault costs at least).
 *
 * The server holds BYTES of bu_fill_random(SEED) and is a thread of this
 * process, or a process of its own with --serve (prints {"port":N}, serves
 * until SIGTERM/SIGINT); --connect HOST:PORT uses one, e.g. through
 * perf/delay_proxy.  Each connection starts with a 24-byte hello (magic,
 * mode, bytes, msg; little-endian).  Every byte received is checked against
 * the seed's bytes (stream: after the timed transfer; rr: each response), so
 * a wrong byte fails the run instead of giving a figure.
 *
 *   rawtcp [--mode stream|rr] [--bytes SIZE (1G)] [--msg SIZE (1M)] [--runs N (1)]
 *          [--ops N (20000)] [--seed N] [--connect HOST:PORT]
 *   rawtcp --serve [--bytes SIZE] [--seed N]
 *
 * One JSON line per run on stdout:
 *   {"bench":"rawtcp","run":1,"bytes":N,"msg_size":N,"seconds":F,"bytes_per_second":F}
 *   {"bench":"rawtcp_rr","ops":N,"bytes":4096,"seconds":S,"us_per_op":U,"ok":true,
 *    "samples":N,"median_us":M,...,"hist_us":[[lo,count],...]}
 * (rr: every request/response is timed on its own; the latency summary and
 * its power-of-two microsecond histogram come from perf/lathist.h)
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "peerutil.h"
#include "lathist.h"

#define MAGIC 0x50435452u       /* "RTCP" */
#define HELLO 24
#define RR_PAGE 4096u
#define RR_SPAN (1u << 20)      /* rr requests cycle over the first MiB */

enum { MODE_STREAM = 1, MODE_RR = 2 };

/* ---------------------------------------------------------------- server */

/* What the server's connections serve: size bytes of the seed's. */
struct served {
	const uint8_t *src;
	uint64_t size;
};

static int serve_stream(const struct served *s, int fd, uint64_t bytes, uint64_t msg)
{
	if (!bytes || bytes > s->size || !msg || msg > (1u << 30))
		return -EINVAL;
	for (uint64_t off = 0; off < bytes; off += msg) {
		int rc = pu_write_full(fd, s->src + off, bytes - off < msg ? bytes - off : msg);

		if (rc)
			return rc;
	}
	return 0;
}

static int serve_rr(const struct served *s, int fd)
{
	uint8_t req[8];

	for (;;) {
		int rc = pu_read_full(fd, req, sizeof(req));
		uint64_t page;

		if (rc)
			return rc == -ENODATA ? 0 : rc;
		page = pu_get_le64(req);
		if (page >= s->size / RR_PAGE)
			return -EINVAL;
		rc = pu_write_full(fd, s->src + page * RR_PAGE, RR_PAGE);
		if (rc)
			return rc;
	}
}

/* One connection (a pu_server handler): the hello, then its mode. */
static void serve_conn(void *ctx, int fd)
{
	const struct served *s = ctx;
	uint8_t h[HELLO];
	int rc = pu_read_full(fd, h, sizeof(h));

	if (!rc && pu_get_le32(h) != MAGIC)
		rc = -EPROTO;
	if (!rc) {
		switch (pu_get_le32(h + 4)) {
		case MODE_STREAM:
			rc = serve_stream(s, fd, pu_get_le64(h + 8), pu_get_le64(h + 16));
			break;
		case MODE_RR:
			rc = serve_rr(s, fd);
			break;
		default:
			rc = -EPROTO;
		}
	}
	if (rc == -EINVAL)
		fprintf(stderr, "rawtcp: server: a request beyond its %llu bytes (--bytes): closing\n",
			(unsigned long long)s->size);
	else if (rc && rc != -ENODATA)
		fprintf(stderr, "rawtcp: server connection: %s\n", strerror(-rc));
}

/* ---------------------------------------------------------------- client */

/* A connection to the server, or -errno (said on stderr). */
static int dial(const struct sockaddr_in *sa)
{
	int fd = pu_connect(sa);

	if (fd < 0)
		fprintf(stderr, "rawtcp: connect: %s\n", strerror(-fd));
	return fd;
}

static int send_hello(int fd, uint32_t mode, uint64_t bytes, uint64_t msg)
{
	uint8_t h[HELLO];

	pu_put_le32(h, MAGIC);
	pu_put_le32(h + 4, mode);
	pu_put_le64(h + 8, bytes);
	pu_put_le64(h + 16, msg);
	return pu_write_full(fd, h, sizeof(h));
}

/* One transfer of bytes into dst; the seconds from the hello to the last
 * byte in *t.  0 or -errno. */
static int run_stream(const struct sockaddr_in *sa, uint8_t *dst, uint64_t bytes, uint64_t msg,
		      double *t)
{
	uint64_t off = 0;
	double t0;
	int fd = dial(sa), rc;

	if (fd < 0)
		return fd;
	t0 = bu_now_s();
	rc = send_hello(fd, MODE_STREAM, bytes, msg);
	while (!rc && off < bytes) {
		size_t n = bytes - off < msg ? (size_t)(bytes - off) : (size_t)msg;
		ssize_t r = recv(fd, dst + off, n, 0);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			rc = errno == EAGAIN ? -ETIMEDOUT : -errno;
		else if (r == 0)
			rc = -EPIPE;
		else
			off += (uint64_t)r;
	}
	*t = bu_now_s() - t0;
	if (rc)
		fprintf(stderr, "rawtcp: received %llu of %llu bytes: %s\n",
			(unsigned long long)off, (unsigned long long)bytes,
			rc == -EPIPE ? "connection closed early (the server's --bytes too small?)" :
				       strerror(-rc));
	close(fd);
	return rc;
}

/* ops request/responses of one page each, every response compared with
 * expect (the first pages of the seed's bytes); the seconds in *t. */
static int run_rr(const struct sockaddr_in *sa, const uint8_t *expect, uint64_t pages,
		  uint64_t ops, double *t, struct lathist *h)
{
	uint8_t req[8], resp[RR_PAGE];
	double t0;
	int fd = dial(sa), rc;

	if (fd < 0)
		return fd;
	t0 = bu_now_s();
	rc = send_hello(fd, MODE_RR, 0, 0);
	for (uint64_t i = 0; i < ops && !rc; i++) {
		uint64_t page = i % pages;
		double t1 = bu_now_s();

		pu_put_le64(req, page);
		rc = pu_write_full(fd, req, sizeof(req));
		if (!rc)
			rc = pu_read_full(fd, resp, sizeof(resp));
		lh_add(h, (bu_now_s() - t1) * 1e6);
		if (!rc && memcmp(resp, expect + page * RR_PAGE, RR_PAGE)) {
			fprintf(stderr, "rawtcp: response %llu differs from the expected bytes "
					"(same --seed on both sides?)\n", (unsigned long long)i);
			rc = -EBADMSG;
		}
	}
	*t = bu_now_s() - t0;
	if (rc && rc != -EBADMSG)
		fprintf(stderr, "rawtcp: request/response: %s\n",
			rc == -ENODATA || rc == -EPIPE ?
			"connection closed (the server's --bytes too small?)" : strerror(-rc));
	close(fd);
	return rc;
}

/* ------------------------------------------------------------------ main */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: rawtcp [--mode stream|rr] [--bytes SIZE (1G)] [--msg SIZE (1M)] [--runs N (1)] [--fresh]\n"
		"              [--ops N (20000)] [--seed N] [--connect HOST:PORT]\n"
		"       rawtcp --serve [--bytes SIZE] [--seed N]\n"
		"stream: moves SIZE bytes over one TCP stream; rr: 4 KiB request/response,\n"
		"one at a time.  One JSON line per run on stdout.\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "bytes", required_argument, NULL, 'b' },
		{ "msg", required_argument, NULL, 'm' },
		{ "runs", required_argument, NULL, 'r' },
		{ "mode", required_argument, NULL, 'M' },
		{ "ops", required_argument, NULL, 'o' },
		{ "seed", required_argument, NULL, 'e' },
		{ "connect", required_argument, NULL, 'c' },
		{ "serve", no_argument, NULL, 'S' },
		{ "fresh", no_argument, NULL, 'F' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t bytes = 1ull << 30, msg = 1u << 20, runs = 1, ops = 20000, seed = 7;
	struct served served = { 0 };
	struct pu_server srv = PU_SERVER_INIT("rawtcp", serve_conn, &served);
	struct sockaddr_in sa = { .sin_family = AF_INET };
	bool serve = false, rr = false, fresh = false;
	const char *connect_to = NULL;
	uint8_t *src = NULL, *dst = NULL, *expect = NULL;
	uint64_t src_len = 0, rr_pages = 0;
	int c, li = 0, rc = 1;

	while ((c = getopt_long(argc, argv, "h", opts, &li)) != -1) {
		switch (c) {
		case 'b':
			if (pu_parse_size(optarg, &bytes) || !bytes || bytes % 8)
				goto bad;
			break;
		case 'm':
			if (pu_parse_size(optarg, &msg) || !msg || msg > (1u << 30))
				goto bad;
			break;
		case 'r':
			if (pu_parse_u64(optarg, 1, 1000, &runs))
				goto bad;
			break;
		case 'M':
			if (!strcmp(optarg, "rr"))
				rr = true;
			else if (strcmp(optarg, "stream"))
				goto bad;
			break;
		case 'o':
			if (pu_parse_u64(optarg, 1, 100000000, &ops))
				goto bad;
			break;
		case 'e':
			if (pu_parse_u64(optarg, 0, UINT64_MAX, &seed))
				goto bad;
			break;
		case 'c':
			if (pu_parse_hostport(optarg, &sa))
				goto bad;
			connect_to = optarg;
			break;
		case 'F':
			fresh = true;
			break;
		case 'S':
			serve = true;
			break;
		default:
			return bu_help_or_unknown(c, usage);
		}
	}
	if (optind != argc || (serve && connect_to))
		return pu_usage_error("rawtcp", usage, "%s", optind != argc ? "unexpected argument" :
				      "--serve and --connect exclude each other");
	if (rr && bytes < RR_PAGE) {
		fprintf(stderr, "rawtcp: --mode rr needs --bytes of at least 4K\n");
		return 2;
	}

	/* the server's bytes (in-process: only what this mode needs) */
	if (!connect_to) {
		src_len = serve || !rr ? bytes : (bytes < RR_SPAN ? bytes : RR_SPAN);
		src = pu_prefaulted(src_len);
		if (!src) {
			perror("rawtcp: mmap");
			goto cleanup;
		}
		bu_fill_random(src, src_len, seed);
		served = (struct served){ .src = src, .size = src_len };
		if (pu_server_open(&srv, &sa, serve))
			goto cleanup;
	}
	if (serve) {   /* served until SIGTERM/SIGINT */
		rc = 0;
		goto cleanup;
	}

	if (rr) {
		rr_pages = (bytes < RR_SPAN ? bytes : RR_SPAN) / RR_PAGE;
		expect = malloc(rr_pages * RR_PAGE);
		if (!expect) {
			fprintf(stderr, "rawtcp: out of memory\n");
			goto cleanup;
		}
		bu_fill_random(expect, rr_pages * RR_PAGE, seed);
	} else if (!fresh) {
		dst = pu_prefaulted(bytes);
		if (!dst) {
			perror("rawtcp: mmap");
			goto cleanup;
		}
	}

	for (uint64_t i = 1; i <= runs; i++) {
		double t = 0;

		if (rr) {
			struct lathist h;

			if (lh_init(&h, ops)) {
				fprintf(stderr, "rawtcp: out of memory\n");
				goto cleanup;
			}
			if (run_rr(&sa, expect, rr_pages, ops, &t, &h) || t <= 0) {
				lh_free(&h);
				goto cleanup;
			}
			printf("{\"bench\":\"rawtcp_rr\",\"ops\":%llu,\"bytes\":%u,\"seconds\":%.6f,"
			       "\"us_per_op\":%.3f,\"ok\":true,",
			       (unsigned long long)ops, RR_PAGE, t, t / (double)ops * 1e6);
			lh_json(stdout, &h);
			printf("}\n");
			lh_free(&h);
			fflush(stdout);
			continue;
		}
		if (fresh) {
			/* memory never touched: the receive pays for populating
			 * it, as a lazily mapped region does */
			dst = pu_map_anon(bytes);
			if (!dst) {
				perror("rawtcp: mmap");
				goto cleanup;
			}
		}
		if (run_stream(&sa, dst, bytes, msg, &t) || t <= 0)
			goto cleanup;
		/* every byte arrived as sent (checked outside the timed transfer) */
		if (!pu_check_random(dst, 0, bytes, seed)) {
			fprintf(stderr, "rawtcp: the received bytes are wrong (same --seed on both sides?)\n");
			goto cleanup;
		}
		printf("{\"bench\":\"rawtcp\",\"run\":%llu,\"bytes\":%llu,\"msg_size\":%llu,"
		       "\"seconds\":%.6f,\"bytes_per_second\":%.0f%s}\n",
		       (unsigned long long)i, (unsigned long long)bytes,
		       (unsigned long long)msg, t, (double)bytes / t,
		       fresh ? ",\"fresh\":true" : "");
		fflush(stdout);
		if (fresh) {
			munmap(dst, bytes);
			dst = NULL;
		} else {
			memset(dst, 0, bytes);
		}
	}
	rc = 0;

cleanup:
	/* the source stays mapped while a connection thread may still read it */
	if (pu_server_close(&srv) && src)
		munmap(src, src_len);
	if (dst)
		munmap(dst, bytes);
	free(expect);
	return rc;

bad:
	return pu_usage_error("rawtcp", usage, "bad value for --%s: '%s'", opts[li].name, optarg);
}
