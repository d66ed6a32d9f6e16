/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_map.c - a scan of a lazily mapped region over TCP on 127.0.0.1.
 * One process: a server (ms_server_create on 127.0.0.1:0, a background
 * thread) exports an anonymous region of SIZE filled with random bytes;
 * each mode maps it (or pulls it) and reads it in 64 KiB steps, from start
 * to end (--pattern seq, the default) or every step once in a seeded random
 * order (--pattern random), comparing every step with the region, so a
 * wrong byte turns the figure into a failure instead of a speed.
 *
 * Modes:
 *   zero-copy          ms_map (memfd + UFFDIO_CONTINUE), faults + prefetch
 *   zero-copy-faults   the same without prefetch (every chunk by a fault)
 *   copy               ms_map MS_MAP_PATH_COPY (UFFDIO_COPY), faults + prefetch
 *   copy-faults        the same without prefetch
 *   baseline-4k        thesis style: userfaultfd MISSING, one 4 KiB page per
 *                      fault, one handler thread serving one fault at a
 *                      time, ms_pull of that 4 KiB, UFFDIO_COPY
 *   pull               ms_pull of the whole region into fresh memory, then
 *                      the same scan
 *   prefetch           ms_map (the default path) and ms_map_wait: the time
 *                      from open until every chunk is local with nothing
 *                      touched (the prefetch alone, as `memsync map --wait`);
 *                      the scan comes after, untimed.  Only with --mode.
 *
 *   bench_map [--size SIZE] [--runs N] [--out FILE] [--skip-baseline]
 *             [--pattern seq|random] [--seed N] [--mode MODE[,MODE...]]
 *             [--huge on|off]
 *
 * --mode runs only the modes listed (default: all but prefetch).
 *
 * --huge on: the zero-copy modes map on 2 MiB hugetlbfs pages
 * (MS_MAP_HUGE_ON; reported as "huge" and "huge-faults"; they fail without
 * free huge pages for the region).
 *
 * Prints one JSON line per run, a table of medians, and the ratios against
 * the baseline; writes everything to FILE (default perf/out/map.json).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "memsync.h"
#include "units.h"
#include "benchutil.h"

#define SCAN_STEP (64u << 10)
#define MAX_RUNS 32

enum mode { M_ZC, M_ZC_FAULTS, M_COPY, M_COPY_FAULTS, M_BASE, M_PULL, M_PREFETCH, M_N };
static const char *const mode_name[M_N] = {
	"zero-copy", "zero-copy-faults", "copy", "copy-faults", "baseline-4k", "pull", "prefetch",
};
/* --huge on: the zero-copy modes on 2 MiB hugetlbfs pages, named so */
static bool use_huge;
#define MODE_NAME(md) (use_huge && (md) == M_ZC ? "huge" \
		       : use_huge && (md) == M_ZC_FAULTS ? "huge-faults" : mode_name[md])

struct sample {
	double total_s;  /* open/pull start .. scan end */
	double ttfb_s;   /* open .. first byte read */
	bool verified;
};

static uint8_t *region;
static uint64_t size;
static char port[8];
/* --pattern random: the order of the 64 KiB steps (NULL: in order) */
static uint32_t *order;

/* The offset of the k-th step of the scan. */
static uint64_t step_off(uint64_t k)
{
	return (order ? order[k] : k) * (uint64_t)SCAN_STEP;
}

/* Read a[0..size) step by step in the scan's order, comparing with the region. */
static bool scan(const uint8_t *a)
{
	bool good = true;

	for (uint64_t k = 0; k < size / SCAN_STEP; k++) {
		uint64_t off = step_off(k);

		good &= memcmp(a + off, region + off, SCAN_STEP) == 0;
	}
	return good;
}

static ms_client *connect_open(ms_region **r)
{
	struct ms_client_opts co = { .opts_size = sizeof(co), .transport = MS_TRANSPORT_TCP };
	char err[256];
	ms_client *c = ms_connect("127.0.0.1", port, &co, err, sizeof(err));

	if (!c) {
		fprintf(stderr, "bench_map: connect: %s\n", err);
		return NULL;
	}
	*r = ms_open(c, "bench", MS_MODE_READ);
	if (!*r) {
		fprintf(stderr, "bench_map: open: %s\n", ms_client_errmsg(c));
		ms_disconnect(c);
		return NULL;
	}
	return c;
}

static int run_lazy(enum mode md, struct sample *s)
{
	struct ms_client_opts co = { .opts_size = sizeof(co), .transport = MS_TRANSPORT_TCP };
	struct ms_map_opts mo = { .opts_size = sizeof(mo),
		.path = md == M_COPY || md == M_COPY_FAULTS ? MS_MAP_PATH_COPY
			: (md == M_ZC || md == M_ZC_FAULTS) && !use_huge ? MS_MAP_PATH_ZERO_COPY
									 : MS_MAP_PATH_AUTO,
		.no_prefetch = md == M_ZC_FAULTS || md == M_COPY_FAULTS,
		.huge = (md == M_ZC || md == M_ZC_FAULTS) && use_huge ? MS_MAP_HUGE_ON
								      : MS_MAP_HUGE_AUTO,
	};
	char err[512];
	double t0 = bu_now_s();
	ms_map *m = ms_map_open("127.0.0.1", port, "bench", &co, &mo, err, sizeof(err));
	volatile uint8_t first;
	const uint8_t *a;

	if (!m) {
		fprintf(stderr, "bench_map: %s: %s\n", MODE_NAME(md), err);
		return -1;
	}
	a = ms_map_addr(m);
	first = a[step_off(0)];
	s->ttfb_s = bu_now_s() - t0;
	s->verified = first == region[step_off(0)] && scan(a);
	s->total_s = bu_now_s() - t0;
	if (*ms_map_errmsg(m)) {
		fprintf(stderr, "bench_map: %s: %s\n", MODE_NAME(md), ms_map_errmsg(m));
		s->verified = false;
	}
	ms_map_close(m);
	return 0;
}

/* prefetch only: open .. every chunk local, nothing touched (ttfb: the
 * open); the check of every byte comes after the timing */
static int run_prefetch(struct sample *s)
{
	struct ms_client_opts co = { .opts_size = sizeof(co), .transport = MS_TRANSPORT_TCP };
	struct ms_map_opts mo = { .opts_size = sizeof(mo), .no_use_report = true };
	uint64_t local = 0, total = 0;
	char err[512];
	double t0 = bu_now_s();
	ms_map *m = ms_map_open("127.0.0.1", port, "bench", &co, &mo, err, sizeof(err));
	int rc;

	if (!m) {
		fprintf(stderr, "bench_map: prefetch: %s\n", err);
		return -1;
	}
	s->ttfb_s = bu_now_s() - t0;
	rc = ms_map_wait(m, -1);
	s->total_s = bu_now_s() - t0;
	ms_map_progress(m, &local, &total);
	s->verified = rc == 0 && local == total && scan(ms_map_addr(m));
	if (rc || *ms_map_errmsg(m))
		fprintf(stderr, "bench_map: prefetch: %s\n",
			*ms_map_errmsg(m) ? ms_map_errmsg(m) : strerror(-rc));
	ms_map_close(m);
	return 0;
}

/* ---- the thesis-style baseline: one page per fault, one at a time */

struct base {
	int uffd, evfd;
	uint8_t *addr, *buf;
	ms_region *r;
	atomic_int err;
};

static void *base_handler(void *arg)
{
	struct base *b = arg;
	struct pollfd pf[2] = { { .fd = b->uffd, .events = POLLIN },
				{ .fd = b->evfd, .events = POLLIN } };
	struct uffd_msg msg;

	for (;;) {
		if (poll(pf, 2, -1) < 0 && errno != EINTR)
			break;
		if (pf[1].revents)
			break;
		if (read(b->uffd, &msg, sizeof(msg)) != sizeof(msg))
			continue;
		if (msg.event != UFFD_EVENT_PAGEFAULT)
			continue;
		uint64_t page = msg.arg.pagefault.address & ~4095ull;
		uint64_t off = page - (uintptr_t)b->addr;
		struct uffdio_copy cp = { .dst = page, .src = (uintptr_t)b->buf, .len = 4096 };
		int rc = ms_pull(b->r, off, b->buf, 4096, NULL, NULL);

		if (rc) {
			atomic_store(&b->err, rc);
			memset(b->buf, 0, 4096);   /* unblock; the scan then fails */
		}
		while (ioctl(b->uffd, UFFDIO_COPY, &cp) && errno == EAGAIN)
			;
	}
	return NULL;
}

static int run_base(struct sample *s)
{
	struct base b = { .uffd = -1, .evfd = -1 };
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg = { .mode = UFFDIO_REGISTER_MODE_MISSING };
	double t0 = bu_now_s();
	ms_client *c = connect_open(&b.r);
	volatile uint8_t first;
	pthread_t th;
	uint64_t one = 1;

	if (!c)
		return -1;
	b.uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	b.evfd = eventfd(0, EFD_CLOEXEC);
	b.addr = mmap(NULL, size, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	b.buf = aligned_alloc(4096, 4096);
	if (b.uffd < 0 || b.evfd < 0 || b.addr == MAP_FAILED || !b.buf ||
	    ioctl(b.uffd, UFFDIO_API, &api)) {
		perror("bench_map: baseline setup");
		return -1;
	}
	reg.range.start = (uintptr_t)b.addr;
	reg.range.len = size;
	if (ioctl(b.uffd, UFFDIO_REGISTER, &reg) || !ms_mem_register(c, b.buf, 4096)) {
		perror("bench_map: baseline register");
		return -1;
	}
	pthread_create(&th, NULL, base_handler, &b);
	first = b.addr[step_off(0)];
	s->ttfb_s = bu_now_s() - t0;
	s->verified = first == region[step_off(0)] && scan(b.addr);
	s->total_s = bu_now_s() - t0;
	if (atomic_load(&b.err))
		s->verified = false;
	(void)!write(b.evfd, &one, sizeof(one));
	pthread_join(th, NULL);
	munmap(b.addr, size);
	close(b.uffd);
	close(b.evfd);
	free(b.buf);
	ms_disconnect(c);
	return 0;
}

static int run_pull(struct sample *s)
{
	ms_region *r;
	double t0 = bu_now_s();
	ms_client *c = connect_open(&r);
	uint8_t *a;
	int rc;

	if (!c)
		return -1;
	a = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (a == MAP_FAILED)
		return -1;
	rc = ms_pull(r, 0, a, size, NULL, NULL);
	s->ttfb_s = bu_now_s() - t0;   /* the first byte is usable when it returns */
	s->verified = rc == 0 && scan(a);
	s->total_s = bu_now_s() - t0;
	if (rc)
		fprintf(stderr, "bench_map: pull: %s\n", ms_client_errmsg(c));
	munmap(a, size);
	ms_disconnect(c);
	return 0;
}

static double median(const struct sample *s, unsigned n, bool ttfb)
{
	double v[MAX_RUNS];

	for (unsigned i = 0; i < n; i++)
		v[i] = ttfb ? s[i].ttfb_s : s[i].total_s;
	return bu_median(v, n);
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "size", required_argument, NULL, 's' },
		{ "runs", required_argument, NULL, 'r' },
		{ "out", required_argument, NULL, 'o' },
		{ "skip-baseline", no_argument, NULL, 'b' },
		{ "pattern", required_argument, NULL, 'p' },
		{ "seed", required_argument, NULL, 'e' },
		{ "mode", required_argument, NULL, 'm' },
		{ "huge", required_argument, NULL, 'h' },
		{ 0 },
	};
	struct sample smp[M_N][MAX_RUNS];
	bool ok_mode[M_N], skip_base = false, random_order = false, want[M_N];
	const char *pattern = "seq";
	uint64_t seed = 0x5eedull;
	const char *out = "perf/out/map.json";
	unsigned runs = 3;
	struct utsname un;
	char err[256];
	int opt, failures = 0, write_err = 0;

	size = 256ull << 20;
	for (int md = 0; md < M_N; md++)
		want[md] = md != M_PREFETCH;
	while ((opt = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (opt) {
		case 's':
			if (ms_parse_size(optarg, &size) || !size || size % SCAN_STEP) {
				fprintf(stderr, "bench_map: bad --size\n");
				return 2;
			}
			break;
		case 'r':
			runs = (unsigned)atoi(optarg);
			if (runs < 1 || runs > MAX_RUNS) {
				fprintf(stderr, "bench_map: --runs 1..%d\n", MAX_RUNS);
				return 2;
			}
			break;
		case 'o':
			out = optarg;
			break;
		case 'b':
			skip_base = true;
			break;
		case 'p':
			if (strcmp(optarg, "seq") && strcmp(optarg, "random")) {
				fprintf(stderr, "bench_map: --pattern seq|random\n");
				return 2;
			}
			random_order = !strcmp(optarg, "random");
			pattern = random_order ? "random" : "seq";
			break;
		case 'e': {
			char *end;

			errno = 0;
			seed = strtoull(optarg, &end, 0);
			if (errno || *end || end == optarg) {
				fprintf(stderr, "bench_map: bad --seed\n");
				return 2;
			}
			break;
		}
		case 'm':
			for (int md = 0; md < M_N; md++)
				want[md] = false;
			for (char *save = NULL, *t = strtok_r(optarg, ",", &save); t;
			     t = strtok_r(NULL, ",", &save)) {
				int md = 0;

				while (md < M_N && strcmp(t, mode_name[md]))
					md++;
				if (md == M_N) {
					fprintf(stderr, "bench_map: unknown --mode '%s'\n", t);
					return 2;
				}
				want[md] = true;
			}
			break;
		case 'h':
			if (strcmp(optarg, "on") && strcmp(optarg, "off")) {
				fprintf(stderr, "bench_map: --huge on|off\n");
				return 2;
			}
			use_huge = !strcmp(optarg, "on");
			break;
		default:
			fprintf(stderr, "usage: bench_map [--size SIZE] [--runs N] [--out FILE] "
					"[--skip-baseline] [--pattern seq|random] [--seed N] "
					"[--mode MODE[,MODE...]] [--huge on|off]\n");
			return 2;
		}
	}

	if (skip_base)
		want[M_BASE] = false;

	if (random_order) {
		uint64_t n = size / SCAN_STEP, st = seed;

		order = malloc(n * sizeof(*order));
		if (!order) {
			fprintf(stderr, "bench_map: out of memory\n");
			return 1;
		}
		for (uint64_t i = 0; i < n; i++)
			order[i] = (uint32_t)i;
		for (uint64_t i = n; i > 1; i--) {   /* Fisher-Yates */
			uint64_t j = bu_rand64(&st) % i;
			uint32_t t = order[i - 1];

			order[i - 1] = order[j];
			order[j] = t;
		}
	}

	struct ms_server_opts so = { .opts_size = sizeof(so), .host = "127.0.0.1", .port = "0",
				     .transport = MS_TRANSPORT_TCP };
	ms_server *srv = ms_server_create(&so, err, sizeof(err));
	struct ms_export_opts eo = { .opts_size = sizeof(eo), .name = "bench", .size = size, .no_mlock = true };
	ms_export *e = srv ? ms_server_add_region(srv, &eo) : NULL;

	if (!e) {
		fprintf(stderr, "bench_map: server: %s\n", srv ? ms_server_errmsg(srv) : err);
		return 1;
	}
	region = ms_export_mem(e);
	bu_fill_random(region, size, 0x9e3779b97f4a7c15ull ^ (uint64_t)time(NULL));
	if (ms_export_commit(e, 0, size) || ms_server_start(srv)) {
		fprintf(stderr, "bench_map: %s\n", ms_server_errmsg(srv));
		return 1;
	}
	snprintf(port, sizeof(port), "%u", ms_server_port(srv));

	/* modes alternate within each round so that all see the same machine */
	for (unsigned k = 0; k < runs; k++) {
		for (int md = 0; md < M_N; md++) {
			struct sample *s = &smp[md][k];
			int rc;

			if (!want[md]) {
				*s = (struct sample){ 0 };
				continue;
			}
			rc = md == M_BASE ? run_base(s) : md == M_PULL ? run_pull(s) :
			     md == M_PREFETCH ? run_prefetch(s) : run_lazy(md, s);
			if (rc)
				*s = (struct sample){ .verified = false };
			printf("{\"bench\":\"memsync_map\",\"mode\":\"%s\",\"pattern\":\"%s\","
			       "\"run\":%u,\"bytes\":%llu,\"seconds\":%.6f,\"ttfb_seconds\":%.6f,"
			       "\"bytes_per_second\":%.0f,\"verified\":%s}\n",
			       MODE_NAME(md), pattern, k + 1, (unsigned long long)size, s->total_s,
			       s->ttfb_s, s->total_s > 0 ? (double)size / s->total_s : 0,
			       s->verified ? "true" : "false");
			fflush(stdout);
		}
	}

	double med[M_N], ttfb[M_N];

	for (int md = 0; md < M_N; md++) {
		ok_mode[md] = want[md];
		for (unsigned k = 0; k < runs && ok_mode[md]; k++)
			ok_mode[md] = smp[md][k].verified;
		med[md] = median(smp[md], runs, false);
		ttfb[md] = median(smp[md], runs, true);
		if (!ok_mode[md] && want[md])
			failures++;
	}
	printf("\n%s scan of %llu MiB over TCP loopback, median of %u run(s)\n",
	       random_order ? "random-order" : "sequential", (unsigned long long)(size >> 20), runs);
	printf("%-18s %10s %10s %14s %12s\n", "mode", "seconds", "GB/s", "first byte",
	       "x baseline");
	for (int md = 0; md < M_N; md++) {
		if (!want[md])
			continue;
		if (!ok_mode[md]) {
			printf("%-18s FAILED (bytes differ from the region or an error)\n",
			       MODE_NAME(md));
			continue;
		}
		char ratio[32] = "-";

		if (ok_mode[M_BASE] && md != M_BASE)
			snprintf(ratio, sizeof(ratio), "%.1f", med[M_BASE] / med[md]);
		printf("%-18s %10.3f %10.2f %11.3f ms %12s\n", MODE_NAME(md), med[md],
		       (double)size / med[md] / 1e9, ttfb[md] * 1e3, ratio);
	}
	if (ok_mode[M_ZC] && ok_mode[M_COPY])
		printf("zero-copy / copy: %.2fx   zero-copy / pull: %.2fx\n",
		       med[M_COPY] / med[M_ZC], med[M_PULL] / med[M_ZC]);

	FILE *f = fopen(out, "w");

	if (!f) {
		fprintf(stderr, "bench_map: cannot write %s: %s\n", out, strerror(errno));
		write_err = 1;
	} else {
		uname(&un);
		fprintf(f, "{\n  \"bench\": \"memsync_map\",\n  \"pattern\": \"%s\",\n"
			   "  \"bytes\": %llu,\n"
			   "  \"runs\": %u,\n  \"kernel\": \"%s\",\n  \"cpus\": %ld,\n"
			   "  \"date\": %lld,\n  \"modes\": {\n",
			pattern, (unsigned long long)size, runs, un.release, sysconf(_SC_NPROCESSORS_ONLN),
			(long long)time(NULL));
		for (int md = 0, first = 1; md < M_N; md++) {
			if (!want[md])
				continue;
			fprintf(f, "%s    \"%s\": {\"verified\": %s, \"median_seconds\": %.6f, "
				   "\"median_ttfb_seconds\": %.6f, \"bytes_per_second\": %.0f, "
				   "\"samples\": [",
				first ? "" : ",\n", MODE_NAME(md), ok_mode[md] ? "true" : "false",
				med[md], ttfb[md], med[md] > 0 ? (double)size / med[md] : 0);
			for (unsigned k = 0; k < runs; k++)
				fprintf(f, "%s%.6f", k ? ", " : "", smp[md][k].total_s);
			fprintf(f, "]");
			if (md != M_BASE && ok_mode[md] && ok_mode[M_BASE])
				fprintf(f, ", \"x_baseline\": %.3f", med[M_BASE] / med[md]);
			fprintf(f, "}");
			first = 0;
		}
		fprintf(f, "\n  }\n}\n");
		fclose(f);
		printf("wrote %s\n", out);
	}
	ms_server_destroy(srv);
	free(order);
	if (failures)
		fprintf(stderr, "bench_map: %d mode(s) FAILED verification\n", failures);
	return failures || write_err ? 1 : 0;
}
