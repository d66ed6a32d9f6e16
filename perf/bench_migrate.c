/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_migrate.c - live migration of a region under a steady writer, in
 * each mode side by side: pre-copy, post-copy, hybrid, stop-and-copy and
 * the thesis-style single "track, then finalize" round (pre-copy with
 * max_rounds 1).
 *
 * Per run of a mode: two servers in child processes (fork; ms_server_create
 * on HOST:0): A exports an anonymous region "mig" of SIZE filled with
 * random bytes, B nothing.  This process then runs
 *   - a writer thread (perf/migwriter.h): holds the write lease at A and
 *     every TICK ms writes RATE x the region's pages per second (random
 *     pages, ms_write + ms_sync), following the redirect to B by itself;
 *   - a reader thread (unless --no-reader): a verified pull of one random
 *     chunk every READ ms, following the redirect too; its latency is the
 *     client's view of post-copy faults;
 *   - the migration: after WARMUP s of writing, ms_migrate_start at B, then
 *     ms_migrate_status every 2 ms until the phase is done (or failed);
 *     the writer goes on for 0.5 s at B, then everything stops and B's
 *     region is pulled (verified) and compared with what the writer
 *     committed, outside the timing.
 *
 *   bench_migrate [--size SIZE (1G)] [--rate FRACTION (0.01)] [--runs N (1)]
 *                 [--modes precopy,postcopy,hybrid,stopcopy,track]
 *                 [--downtime MS (0: the default)] [--max-rounds N (0)]
 *                 [--tick MS (10)] [--read MS (5)] [--no-reader]
 *                 [--warmup S (1)] [--timeout S (600)] [--chunk SIZE]
 *                 [--transport tcp|rdma|auto] [--host ADDR (127.0.0.1)]
 *                 [--host-b ADDR (B's address; default --host)]
 *
 * One JSON line per migration on stdout:
 *   {"bench":"memsync_migrate","mode":"hybrid","variant":"hybrid","run":1,
 *    "region_bytes":N,"rate":0.01,"transport":"tcp","ok":true,"phase":"done",
 *    "end_reason":"...","rounds":N,"downtime_ms":F,"writer_gap_ms":F,
 *    "writer_max_sync_ms":F,"total_ms":F,"bytes":N,"written_bytes":N,
 *    "written_chunk_bytes":N,"bytes_vs_region":F,"pause_ms":F,
 *    "final_collect_ms":F,"final_xfer_ms":F,"commit_ms":F,"handoff_ms":F,
 *    "first_fault_ms":F,"faults":N,"fault_hist_us":[...],
 *    "read_hist_us":[...],"reads":N,"read_max_ms":F,"writer_syncs":N,
 *    "writer_redirects":N,"writer_fenced":N,"verified":true,"error":""}
 * writer_fenced counts writes refused as fenced that the writer recovered
 * from by opening the region again with expect_epoch (a redirect should
 * have come instead).
 * Histograms: bucket i counts samples in [2^i, 2^(i+1)) us.
 * Exit status 0 when every migration completed and verified, else 1.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "memsync.h"
#include "units.h"
#include "benchutil.h"
#include "migwriter.h"

#define REGION "mig"
#define VERIFY_STEP (16u << 20)
#define MAX_MODES 8
#define POLL_MS 2
#define BU_MIN_U64(a, b) ((uint64_t)(a) < (uint64_t)(b) ? (uint64_t)(a) : (uint64_t)(b))

struct mode_spec {
	const char *name;          /* as reported ("track" is pre-copy, 1 round) */
	enum ms_migrate_mode mode;
	uint32_t max_rounds;       /* 0: the option's */
};

static const struct mode_spec all_modes[] = {
	{ "precopy", MS_MIGRATE_PRECOPY, 0 },
	{ "postcopy", MS_MIGRATE_POSTCOPY, 0 },
	{ "hybrid", MS_MIGRATE_HYBRID, 0 },
	{ "stopcopy", MS_MIGRATE_STOPCOPY, 0 },
	{ "track", MS_MIGRATE_PRECOPY, 1 },
};

struct bench {
	uint64_t size;
	double rate;
	unsigned runs, tick_ms, read_ms;
	double warmup_s, timeout_s;
	uint32_t chunk, downtime_ms, max_rounds;
	bool reader;
	enum ms_transport_kind transport;
	const char *host, *host_b; /* A's address (and the clients'), B's */
	const struct mode_spec *modes[MAX_MODES];
	unsigned nmodes;
};

/* ------------------------------------------------------------ the servers */

struct child {
	pid_t pid;
	int cmd, resp;
	char port[8];
};

static int full_io(int fd, void *buf, size_t n, bool wr)
{
	for (size_t done = 0; done < n;) {
		ssize_t k = wr ? write(fd, (char *)buf + done, n - done) :
				 read(fd, (char *)buf + done, n - done);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		done += (size_t)k;
	}
	return 0;
}

/* The child: a server on b->host:0; with a region of random bytes (seed)
 * when fill; reports its port, then serves until 'q' or the parent ends. */
static int server_child(const struct bench *b, bool fill, uint64_t seed, int cmd, int resp)
{
	struct ms_server_opts so = { .opts_size = sizeof(so), .insecure = true, .host = fill ? b->host : b->host_b,
				     .port = "0",
				     .transport = b->transport, .lease_ttl_ms = 60000 };
	char err[256] = "", c;
	ms_server *s = ms_server_create(&so, err, sizeof(err));
	uint16_t port = 0;

	if (!s) {
		fprintf(stderr, "bench_migrate: server: %s\n", err[0] ? err : strerror(errno));
		goto reply;
	}
	if (fill) {
		struct ms_export_opts eo = { .opts_size = sizeof(eo), .name = REGION,
			.size = b->size, .chunk_size = b->chunk, .backing = MS_BACKING_ANON };
		ms_export *e = ms_server_add_region(s, &eo);

		if (!e && (errno == ENOMEM || errno == EPERM)) {
			eo.no_mlock = true; /* RLIMIT_MEMLOCK: measure unpinned */
			e = ms_server_add_region(s, &eo);
		}
		if (e)
			bu_fill_random(ms_export_mem(e), b->size, seed);
		if (!e || ms_export_commit(e, 0, b->size) < 0) {
			fprintf(stderr, "bench_migrate: region: %s\n", ms_server_errmsg(s));
			goto reply;
		}
	}
	if (ms_server_start(s) < 0) {
		fprintf(stderr, "bench_migrate: start: %s\n", ms_server_errmsg(s));
		goto reply;
	}
	port = ms_server_port(s);
reply:
	if (full_io(resp, &port, sizeof(port), true) || !port)
		goto out;
	while (full_io(cmd, &c, 1, false) == 0 && c != 'q')
		;
out:
	if (s)
		ms_server_destroy(s);
	return port ? 0 : 1;
}

static int child_start(const struct bench *b, bool fill, uint64_t seed, struct child *ch)
{
	int c2s[2], s2c[2];
	uint16_t port = 0;

	if (pipe(c2s))
		return -1;
	if (pipe(s2c)) {
		close(c2s[0]);
		close(c2s[1]);
		return -1;
	}
	fflush(NULL);
	ch->pid = fork();
	if (ch->pid == 0) {
		close(c2s[1]);
		close(s2c[0]);
		_exit(server_child(b, fill, seed, c2s[0], s2c[1]));
	}
	close(c2s[0]);
	close(s2c[1]);
	ch->cmd = c2s[1];
	ch->resp = s2c[0];
	if (ch->pid < 0 || full_io(ch->resp, &port, sizeof(port), false) || !port) {
		fprintf(stderr, "bench_migrate: a server did not start\n");
		return -1;
	}
	snprintf(ch->port, sizeof(ch->port), "%u", (unsigned)port);
	return 0;
}

static void child_end(struct child *ch)
{
	if (ch->pid <= 0)
		return;
	(void)full_io(ch->cmd, "q", 1, true);
	close(ch->cmd);
	close(ch->resp);
	waitpid(ch->pid, NULL, 0);
	ch->pid = -1;
}

/* ------------------------------------------------------ writer and reader */

struct shared {
	const struct bench *b;
	const char *port_a;
	atomic_int stop, track, reset;
	/* writer */
	struct mw w;
	uint8_t *touched;           /* chunks written while track was set */
	pthread_mutex_t mx;         /* the copies below */
	uint64_t w_bytes, w_syncs;
	double w_gap, w_max_sync;
	unsigned w_redirects, w_fenced;
	int w_err;
	char w_msg[512];
	/* reader */
	uint64_t r_hist[MS_HIST_BUCKETS], reads;
	double r_max;
	int r_err;
	char r_msg[512];
};

static unsigned hist_bucket(double us)
{
	unsigned i = 0;

	while (us >= 2.0 && i < MS_HIST_BUCKETS - 1) {
		us /= 2;
		i++;
	}
	return i;
}

static void sleep_until(double t)
{
	double d = t - bu_now_s();

	if (d > 0) {
		struct timespec ts = { .tv_sec = (time_t)d, .tv_nsec = (long)((d - (double)(time_t)d) * 1e9) };

		nanosleep(&ts, NULL);
	}
}

static void *writer_main(void *arg)
{
	struct shared *sh = arg;
	struct mw *w = &sh->w;
	uint64_t rng = 0x5eed ^ (uint64_t)time(NULL);
	double next = bu_now_s();
	int rc = 0;

	while (!atomic_load(&sh->stop) && !rc) {
		if (atomic_exchange(&sh->reset, 0))
			mw_reset_gaps(w);
		rc = mw_tick(w, &rng, atomic_load(&sh->track) ? sh->touched : NULL);
		pthread_mutex_lock(&sh->mx);
		sh->w_bytes = w->bytes_written;
		sh->w_syncs = w->syncs;
		sh->w_gap = w->max_gap_s;
		sh->w_max_sync = w->max_sync_s;
		sh->w_redirects = w->redirects;
		sh->w_fenced = w->fenced;
		if (rc) {
			sh->w_err = rc;
			snprintf(sh->w_msg, sizeof(sh->w_msg), "%s", w->errmsg);
		}
		pthread_mutex_unlock(&sh->mx);
		next += w->o.tick_ms / 1000.0;
		if (next < bu_now_s())
			next = bu_now_s(); /* blocked: the ticks missed are not made up */
		sleep_until(next);
	}
	return NULL;
}

static void *reader_main(void *arg)
{
	struct shared *sh = arg;
	const struct bench *b = sh->b;
	struct ms_client_opts co = { .opts_size = sizeof(co), .transport = b->transport };
	char host[256], port[8], err[256] = "";
	uint64_t rng = 0xfeed ^ (uint64_t)time(NULL);
	ms_client *c = NULL;
	ms_region *r = NULL;
	struct ms_region_info ri;
	uint8_t *buf = NULL;
	int rc = 0;

	snprintf(host, sizeof(host), "%s", b->host);
	snprintf(port, sizeof(port), "%s", sh->port_a);
	for (unsigned hop = 0; !atomic_load(&sh->stop) && hop <= MW_MAX_REDIRECTS; hop++) {
		c = ms_connect(host, port, &co, err, sizeof(err));
		r = c ? ms_open(c, REGION, MS_MODE_READ) : NULL;
		if (!r) {
			rc = c ? (errno ? -errno : -EIO) : -ECONNREFUSED;
			snprintf(sh->r_msg, sizeof(sh->r_msg), "reader: open at %s:%s: %s", host, port,
				 c ? ms_client_errmsg(c) : err);
			break;
		}
		ms_region_info(r, &ri);
		if (!buf && !(buf = malloc(ri.chunk_size))) {
			rc = -ENOMEM;
			break;
		}
		while (!atomic_load(&sh->stop)) {
			uint64_t ci = bu_rand64(&rng) % ri.nchunks;
			uint64_t len = BU_MIN_U64(ri.chunk_size, ri.size - ci * ri.chunk_size);
			double t0 = bu_now_s(), us;

			rc = ms_pull(r, ci * ri.chunk_size, buf, len, NULL, NULL);
			if (rc)
				break;
			us = (bu_now_s() - t0) * 1e6;
			sh->r_hist[hist_bucket(us)]++;
			sh->reads++;
			if (us / 1e3 > sh->r_max)
				sh->r_max = us / 1e3;
			usleep(b->read_ms * 1000);
		}
		if (rc != -EREMCHG ||
		    !mw_parse_moved(ms_client_errmsg(c), host, sizeof(host), port, sizeof(port))) {
			if (rc)
				snprintf(sh->r_msg, sizeof(sh->r_msg), "reader: pull: %s",
					 ms_client_errmsg(c));
			break;
		}
		ms_close(r);
		ms_disconnect(c);
		r = NULL;
		c = NULL;
		rc = 0;
	}
	sh->r_err = rc;
	if (r)
		ms_close(r);
	if (c)
		ms_disconnect(c);
	free(buf);
	return NULL;
}

/* ---------------------------------------------------------- one migration */

/* B's region equals what the writer committed (pulled, verified). */
static int verify_at(const struct bench *b, const char *port, const uint8_t *want, char *msg,
		     size_t ml)
{
	struct ms_client_opts co = { .opts_size = sizeof(co), .transport = b->transport };
	char err[256] = "";
	ms_client *c = ms_connect(b->host_b, port, &co, err, sizeof(err));
	ms_region *r = c ? ms_open(c, REGION, MS_MODE_READ) : NULL;
	uint8_t *tmp = malloc(VERIFY_STEP);
	int rc = 0;

	if (!r || !tmp) {
		snprintf(msg, ml, "verify: open at B: %s", c ? ms_client_errmsg(c) : err);
		rc = -EIO;
	}
	for (uint64_t off = 0; off < b->size && !rc; off += VERIFY_STEP) {
		uint64_t n = BU_MIN_U64(VERIFY_STEP, b->size - off);

		rc = ms_pull(r, off, tmp, n, NULL, NULL);
		if (rc)
			snprintf(msg, ml, "verify: pull from B: %s", ms_client_errmsg(c));
		else if (memcmp(tmp, want + off, n)) {
			snprintf(msg, ml, "verify: B's bytes at %llu differ from what the writer "
				 "committed", (unsigned long long)off);
			rc = -EIO;
		}
	}
	if (r)
		ms_close(r);
	if (c)
		ms_disconnect(c);
	free(tmp);
	return rc;
}

static double ms_of(uint64_t us)
{
	return (double)us / 1000.0;
}

static void print_hist(const char *key, const uint64_t *h)
{
	printf(",\"%s\":[", key);
	for (unsigned i = 0; i < MS_HIST_BUCKETS; i++)
		printf("%s%llu", i ? "," : "", (unsigned long long)h[i]);
	printf("]");
}

static void json_str(const char *key, const char *s)
{
	printf(",\"%s\":\"", key);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			printf("\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			printf(" ");
		else
			putchar(*s);
	}
	putchar('"');
}

static int one(const struct bench *b, const struct mode_spec *m, unsigned run, const uint8_t *image,
	       uint64_t seed)
{
	struct child a = { .pid = -1 }, bb = { .pid = -1 };
	struct ms_client_opts co = { .opts_size = sizeof(co), .transport = b->transport };
	struct ms_migrate_opts mo = { .opts_size = sizeof(mo), .mode = m->mode,
				      .downtime_ms = b->downtime_ms, .transport = b->transport,
				      .max_rounds = m->max_rounds ? m->max_rounds : b->max_rounds };
	struct mw_opts wo = { .host = b->host, .region = REGION, .transport = b->transport,
			      .rate = b->rate, .tick_ms = b->tick_ms, .timeout_ms = 120000,
			      .retry_ms = 10000, .reopen_fenced = true };
	struct ms_migrate_stat st = { .phase = MS_MIGRATE_NONE };
	struct shared *sh = calloc(1, sizeof(*sh));
	pthread_t wt, rt;
	bool wt_on = false, rt_on = false, ok = false;
	uint64_t bytes0 = 0, bytes1 = 0, chunk_bytes = 0, nchunks = 0;
	double t0 = 0, total = 0;
	char err[640] = "", cerr[256] = "";
	ms_client *cb = NULL;
	int rc;

	if (!sh)
		return -1;
	pthread_mutex_init(&sh->mx, NULL);
	sh->b = b;
	if (child_start(b, true, seed, &a) || child_start(b, false, 0, &bb)) {
		snprintf(err, sizeof(err), "the servers did not start");
		goto report;
	}
	sh->port_a = a.port;
	wo.port = a.port;
	if (mw_open(&sh->w, &wo, image)) {
		snprintf(err, sizeof(err), "writer: %s", sh->w.errmsg);
		goto report;
	}
	nchunks = (b->size + sh->w.chunk - 1) / sh->w.chunk;
	sh->touched = calloc(nchunks, 1);
	cb = ms_connect(b->host_b, bb.port, &co, cerr, sizeof(cerr));
	if (!sh->touched || !cb) {
		snprintf(err, sizeof(err), "connect to B: %s", cerr);
		goto report;
	}
	wt_on = pthread_create(&wt, NULL, writer_main, sh) == 0;
	rt_on = b->reader && pthread_create(&rt, NULL, reader_main, sh) == 0;
	sleep_until(bu_now_s() + b->warmup_s);
	pthread_mutex_lock(&sh->mx);
	bytes0 = sh->w_bytes;
	pthread_mutex_unlock(&sh->mx);
	atomic_store(&sh->reset, 1);
	atomic_store(&sh->track, 1);
	t0 = bu_now_s();
	rc = ms_migrate_start(cb, REGION, b->host, a.port, &mo);
	if (rc) {
		snprintf(err, sizeof(err), "migrate: %s", ms_client_errmsg(cb));
		goto stop;
	}
	for (;;) {
		rc = ms_migrate_status(cb, REGION, &st);
		if (rc) {
			snprintf(err, sizeof(err), "migrate status: %s", ms_client_errmsg(cb));
			break;
		}
		if (st.phase == MS_MIGRATE_DONE || st.phase == MS_MIGRATE_FAILED ||
		    st.phase == MS_MIGRATE_ABORTED)
			break;
		if (bu_now_s() - t0 > b->timeout_s) {
			snprintf(err, sizeof(err), "not done within %.0f s (phase %s)", b->timeout_s,
				 ms_migrate_phase_name(st.phase));
			(void)ms_migrate_abort(cb, REGION);
			break;
		}
		usleep(POLL_MS * 1000);
	}
	total = bu_now_s() - t0;
	atomic_store(&sh->track, 0);
	pthread_mutex_lock(&sh->mx);
	bytes1 = sh->w_bytes;
	pthread_mutex_unlock(&sh->mx);
	if (st.phase == MS_MIGRATE_FAILED || st.phase == MS_MIGRATE_ABORTED)
		snprintf(err, sizeof(err), "migration %s: %s", ms_migrate_phase_name(st.phase),
			 st.error);
	if (!err[0])
		sleep_until(bu_now_s() + 0.5); /* the writer goes on at B */
stop:
	if (bytes1 < bytes0)
		bytes1 = bytes0; /* it never started */
	atomic_store(&sh->stop, 1);
	if (wt_on)
		pthread_join(wt, NULL);
	if (rt_on)
		pthread_join(rt, NULL);
	wt_on = rt_on = false;
	if (!err[0] && sh->w_err)
		snprintf(err, sizeof(err), "writer: %s", sh->w_msg);
	if (!err[0] && b->reader && sh->r_err)
		snprintf(err, sizeof(err), "%s", sh->r_msg);
	if (!err[0] && verify_at(b, bb.port, sh->w.shadow, err, sizeof(err)) == 0)
		ok = true;
	for (uint64_t i = 0; i < nchunks; i++)
		chunk_bytes += sh->touched[i] ? sh->w.chunk : 0;
report:
	atomic_store(&sh->stop, 1);
	if (wt_on)
		pthread_join(wt, NULL);
	if (rt_on)
		pthread_join(rt, NULL);
	printf("{\"bench\":\"memsync_migrate\",\"mode\":\"%s\",\"variant\":\"%s\",\"run\":%u,"
	       "\"region_bytes\":%llu,\"rate\":%g,\"transport\":\"%s\",\"ok\":%s",
	       ms_migrate_mode_name(m->mode), m->name, run, (unsigned long long)b->size, b->rate,
	       cb ? ms_client_transport(cb) : "-", ok ? "true" : "false");
	json_str("phase", ms_migrate_phase_name(st.phase));
	json_str("end_reason", st.end_reason);
	printf(",\"rounds\":%u,\"max_rounds\":%u,\"downtime_ms\":%.3f,\"writer_gap_ms\":%.3f,"
	       "\"writer_max_sync_ms\":%.3f,\"total_ms\":%.3f,\"migrate_total_ms\":%.3f,"
	       "\"bytes\":%llu,\"written_bytes\":%llu,\"written_chunk_bytes\":%llu,"
	       "\"bytes_vs_region\":%.4f",
	       st.rounds, mo.max_rounds, ms_of(st.downtime_us), sh->w_gap * 1e3,
	       sh->w_max_sync * 1e3, total * 1e3, ms_of(st.total_us),
	       (unsigned long long)st.bytes, (unsigned long long)(bytes1 - bytes0),
	       (unsigned long long)chunk_bytes,
	       (double)st.bytes / (double)(b->size + (bytes1 - bytes0)));
	printf(",\"pause_ms\":%.3f,\"final_collect_ms\":%.3f,\"final_xfer_ms\":%.3f,"
	       "\"commit_ms\":%.3f,\"handoff_ms\":%.3f,\"first_fault_ms\":%.3f,\"faults\":%llu",
	       ms_of(st.pause_us), ms_of(st.final_collect_us), ms_of(st.final_xfer_us),
	       ms_of(st.commit_us), ms_of(st.handoff_us), ms_of(st.first_fault_us),
	       (unsigned long long)st.faults);
	print_hist("fault_hist_us", st.fault_hist);
	print_hist("read_hist_us", sh->r_hist);
	printf(",\"reads\":%llu,\"read_max_ms\":%.3f,\"writer_syncs\":%llu,\"writer_redirects\":%u,"
	       "\"writer_fenced\":%u,\"verified\":%s",
	       (unsigned long long)sh->reads, sh->r_max, (unsigned long long)sh->w_syncs,
	       sh->w_redirects, sh->w_fenced, ok ? "true" : "false");
	json_str("error", err);
	printf("}\n");
	fflush(stdout);
	if (err[0])
		fprintf(stderr, "bench_migrate: %s run %u: %s\n", m->name, run, err);
	if (cb)
		ms_disconnect(cb);
	mw_close(&sh->w);
	child_end(&a);
	child_end(&bb);
	free(sh->touched);
	pthread_mutex_destroy(&sh->mx);
	free(sh);
	return ok ? 0 : -1;
}

/* ------------------------------------------------------------------ main */

static void usage(FILE *f)
{
	fprintf(f, "usage: bench_migrate [--size SIZE (1G)] [--rate FRACTION (0.01)] [--runs N (1)]\n"
		   "                     [--modes precopy,postcopy,hybrid,stopcopy,track]\n"
		   "                     [--downtime MS] [--max-rounds N] [--tick MS (10)]\n"
		   "                     [--read MS (5)] [--no-reader] [--warmup S (1)]\n"
		   "                     [--timeout S (600)] [--chunk SIZE]\n"
		   "                     [--transport tcp|rdma|auto (tcp)] [--host ADDR (127.0.0.1)]\n"
		   "                     [--host-b ADDR (default: --host)]\n"
		   "Migrates a region of SIZE between two servers (child processes) in each mode\n"
		   "while a writer changes FRACTION of its pages per second; one JSON line per\n"
		   "migration: downtime (the server's and the writer's), total time, bytes, fault\n"
		   "latency.\n");
}

static int parse_modes(const char *s, struct bench *b)
{
	char *dup = strdup(s), *save = NULL, *t;
	int rc = 0;

	if (!dup)
		return -ENOMEM;
	b->nmodes = 0;
	for (t = strtok_r(dup, ",", &save); t && !rc; t = strtok_r(NULL, ",", &save)) {
		const struct mode_spec *m = NULL;

		for (size_t i = 0; i < sizeof(all_modes) / sizeof(all_modes[0]); i++)
			if (!strcmp(t, all_modes[i].name))
				m = &all_modes[i];
		if (!m || b->nmodes == MAX_MODES)
			rc = -EINVAL;
		else
			b->modes[b->nmodes++] = m;
	}
	free(dup);
	return rc || !b->nmodes ? -EINVAL : 0;
}

static int parse_double(const char *s, double lo, double hi, double *out)
{
	char *end;
	double v = strtod(s, &end);

	if (end == s || *end || !(v >= lo && v <= hi))
		return -EINVAL;
	*out = v;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "size", required_argument, NULL, 's' },
		{ "rate", required_argument, NULL, 'R' },
		{ "runs", required_argument, NULL, 'r' },
		{ "modes", required_argument, NULL, 'M' },
		{ "downtime", required_argument, NULL, 'd' },
		{ "max-rounds", required_argument, NULL, 'm' },
		{ "tick", required_argument, NULL, 'T' },
		{ "read", required_argument, NULL, 'e' },
		{ "no-reader", no_argument, NULL, 'n' },
		{ "warmup", required_argument, NULL, 'w' },
		{ "timeout", required_argument, NULL, 'o' },
		{ "chunk", required_argument, NULL, 'c' },
		{ "transport", required_argument, NULL, 't' },
		{ "host", required_argument, NULL, 'H' },
		{ "host-b", required_argument, NULL, 'B' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct bench b = { .size = 1ull << 30, .rate = 0.01, .runs = 1, .tick_ms = 10,
			   .read_ms = 5, .reader = true, .warmup_s = 1, .timeout_s = 600,
			   .transport = MS_TRANSPORT_TCP, .host = "127.0.0.1" };
	long pg = sysconf(_SC_PAGESIZE);
	uint64_t v, seed = 0x6d696772ull ^ (uint64_t)time(NULL);
	uint8_t *image;
	int c, li = 0, failed = 0;

	if (parse_modes("precopy,postcopy,hybrid,stopcopy,track", &b))
		return 1;
	while ((c = getopt_long(argc, argv, "h", opts, &li)) != -1) {
		switch (c) {
		case 's':
			if (ms_parse_size(optarg, &v) || !v || v % (uint64_t)pg)
				goto bad;
			b.size = v;
			break;
		case 'R':
			if (parse_double(optarg, 0, 1, &b.rate))
				goto bad;
			break;
		case 'r': case 'd': case 'm': case 'T': case 'e':
			if (ms_parse_size(optarg, &v) || v > 1000000 ||
			    ((c == 'r' || c == 'T' || c == 'e') && !v))
				goto bad;
			if (c == 'r')
				b.runs = (unsigned)v;
			else if (c == 'd')
				b.downtime_ms = (uint32_t)v;
			else if (c == 'm')
				b.max_rounds = (uint32_t)v;
			else if (c == 'T')
				b.tick_ms = (unsigned)v;
			else
				b.read_ms = (unsigned)v;
			break;
		case 'M':
			if (parse_modes(optarg, &b))
				goto bad;
			break;
		case 'n':
			b.reader = false;
			break;
		case 'w':
			if (parse_double(optarg, 0, 3600, &b.warmup_s))
				goto bad;
			break;
		case 'o':
			if (parse_double(optarg, 1, 86400, &b.timeout_s))
				goto bad;
			break;
		case 'c':
			if (ms_parse_size(optarg, &v) || v > MS_CHUNK_MAX)
				goto bad;
			b.chunk = (uint32_t)v;
			break;
		case 't':
			if (ms_transport_parse(optarg, &b.transport))
				goto bad;
			break;
		case 'H':
			b.host = optarg;
			break;
		case 'B':
			b.host_b = optarg;
			break;
		default:
			return bu_help_or_unknown(c, usage);
		}
	}
	if (optind != argc) {
		fprintf(stderr, "bench_migrate: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	if (!b.host_b)
		b.host_b = b.host;
	signal(SIGPIPE, SIG_IGN);
	/* what server A's region starts as: the writer's first local copy */
	image = mmap(NULL, b.size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (image == MAP_FAILED) {
		perror("bench_migrate: memory");
		return 1;
	}
	for (unsigned run = 1; run <= b.runs; run++) {
		for (unsigned k = 0; k < b.nmodes; k++) {
			/* the order flips every run, so no mode always goes first */
			unsigned i = run % 2 ? k : b.nmodes - 1 - k;

			seed = bu_rand64(&seed);
			bu_fill_random(image, b.size, seed);
			if (one(&b, b.modes[i], run, image, seed))
				failed++;
		}
	}
	munmap(image, b.size);
	return failed ? 1 : 0;
bad:
	fprintf(stderr, "bench_migrate: bad value for --%s: '%s'\n", opts[li].name, optarg);
	usage(stderr);
	return 2;
}
