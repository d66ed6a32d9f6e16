/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_migrate.c - a region moves from server A to server B (both in this
 * process, TCP on 127.0.0.1), the destination's engine (server_migrate.c,
 * migrate_in.c) driving it:
 *  - every mode under a writer that keeps pushing whole chunks through one
 *    handle (its commits wait at the switch, follow the redirect and go on
 *    at B): afterwards B holds exactly what the writer last committed, A
 *    redirects, and the writer's epoch at B is above every epoch of A;
 *  - post-copy under a bandwidth cap: while chunks are missing at B a
 *    reader still gets A's exact bytes (it FETCHes them), and the fault
 *    latencies are counted;
 *  - the source gone in post-copy: B never serves a missing chunk (the
 *    reader gets an error, not zeros); A restarted from its file, B
 *    finishes;
 *  - failures before the switch (no source, an abort) leave A as it was
 *    and nothing at B; bad requests get clear errors.
 * Every case ends with a byte-for-byte check.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "memsync.h"
#include "tap.h"

#define MS_MIN(a, b) ((a) < (b) ? (a) : (b))

#define SIZE (16u << 20)
#define CHUNK (64u << 10)
#define NCH (SIZE / CHUNK)
#define WAIT_MS 60000

struct srv {
	ms_server *s;
	char port[8];
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void fill(uint8_t *p, size_t n, uint32_t seed)
{
	uint64_t x = 0x9e3779b97f4a7c15ull * (seed + 1);

	for (size_t i = 0; i < n; i += 8) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		memcpy(p + i, &x, MS_MIN((size_t)8, n - i));
	}
}

static void srv_start(struct srv *v, const char *port)
{
	struct ms_server_opts so = { .opts_size = sizeof(so), .host = "127.0.0.1",
				     .port = port ? port : "0", .transport = MS_TRANSPORT_TCP,
				     .lease_ttl_ms = 5000 };
	char err[256];

	v->s = ms_server_create(&so, err, sizeof(err));
	if (!v->s)
		tap_bail("server: %s", err);
	snprintf(v->port, sizeof(v->port), "%u", ms_server_port(v->s));
	if (ms_server_start(v->s))
		tap_bail("start");
}

static ms_export *add(struct srv *v, const char *name, const char *path, uint32_t seed)
{
	struct ms_export_opts eo = { .opts_size = sizeof(eo), .name = name, .size = SIZE,
				     .chunk_size = CHUNK,
				     .backing = path ? MS_BACKING_FILE : MS_BACKING_ANON,
				     .path = path };
	ms_export *e = ms_server_add_region(v->s, &eo);

	if (!e)
		tap_bail("add %s: %s", name, ms_server_errmsg(v->s));
	if (seed) {
		fill(ms_export_mem(e), SIZE, seed);
		if (ms_export_commit(e, 0, SIZE))
			tap_bail("commit %s", name);
	}
	return e;
}

static ms_client *client(const struct srv *v, int timeout_ms)
{
	struct ms_client_opts co = { .opts_size = sizeof(co), .transport = MS_TRANSPORT_TCP,
				     .timeout_ms = timeout_ms };
	char err[256];
	ms_client *c = ms_connect("127.0.0.1", v->port, &co, err, sizeof(err));

	if (!c)
		tap_bail("connect: %s", err);
	return c;
}

/* Pull all of region name from v (following a redirect) into out. */
static int pull_all(const struct srv *v, const char *name, uint8_t *out, char *err, size_t len)
{
	ms_client *c = client(v, 3000);
	ms_region *r = ms_open(c, name, MS_MODE_READ);
	int ret = r ? ms_pull(r, 0, out, SIZE, NULL, NULL) : -errno;

	snprintf(err, len, "%s", ms_client_errmsg(c));
	ms_disconnect(c);
	return ret;
}

/* Wait for a migration to end (or reach phase stop_at); its last stat. */
static struct ms_migrate_stat wait_mig(const struct srv *b, const char *name,
				       enum ms_migrate_phase stop_at)
{
	struct ms_migrate_stat st = { 0 };
	uint64_t t0 = now_ms();

	while (now_ms() - t0 < WAIT_MS) {
		if (ms_server_migrate_stat(b->s, name, &st))
			tap_bail("no migration of %s", name);
		if (st.phase == stop_at || st.phase == MS_MIGRATE_DONE ||
		    st.phase == MS_MIGRATE_FAILED || st.phase == MS_MIGRATE_ABORTED)
			break;
		usleep(5000);
	}
	return st;
}

/* ------------------------------------------------------------- writer */

struct writer {
	const struct srv *a;
	const char *name;
	uint8_t *model;            /* what was last committed */
	int stop;
	uint64_t pushes, failures, epoch0, epoch_last;
	char lasterr[512];
	pthread_t t;
};

static void *writer_main(void *arg)
{
	struct writer *w = arg;
	ms_client *c = client(w->a, 20000);
	ms_region *r = ms_open(c, w->name, MS_MODE_WRITE);
	uint8_t *buf = malloc(CHUNK);
	struct ms_region_info ri;
	uint32_t seed = 1000;

	if (!r || !buf)
		tap_bail("writer open: %s", ms_client_errmsg(c));
	ms_region_info(r, &ri);
	w->epoch0 = ri.epoch;
	while (!__atomic_load_n(&w->stop, __ATOMIC_ACQUIRE)) {
		uint64_t ch = (seed * 2654435761u) % NCH;

		fill(buf, CHUNK, seed++);
		if (ms_push(r, ch * CHUNK, buf, CHUNK, NULL, NULL) == 0) {
			memcpy(w->model + ch * CHUNK, buf, CHUNK);
			__atomic_add_fetch(&w->pushes, 1, __ATOMIC_RELEASE);
		} else {
			w->failures++;
			snprintf(w->lasterr, sizeof(w->lasterr), "%s", ms_client_errmsg(c));
			usleep(20000);
		}
		usleep(2000);
	}
	ms_region_info(r, &ri);
	w->epoch_last = ri.epoch;
	free(buf);
	ms_disconnect(c);
	return NULL;
}

static void writer_start(struct writer *w, const struct srv *a, const char *name,
			 const uint8_t *start)
{
	memset(w, 0, sizeof(*w));
	w->a = a;
	w->name = name;
	w->model = malloc(SIZE);
	if (!w->model)
		tap_bail("malloc");
	memcpy(w->model, start, SIZE);
	if (pthread_create(&w->t, NULL, writer_main, w))
		tap_bail("pthread_create");
}

static void writer_stop(struct writer *w)
{
	__atomic_store_n(&w->stop, 1, __ATOMIC_RELEASE);
	pthread_join(w->t, NULL);
}

/* ------------------------------------------------------------- cases */

static void test_mode(enum ms_migrate_mode mode)
{
	const char *mn = ms_migrate_mode_name(mode);
	struct srv a, b;
	struct ms_migrate_opts o = { .opts_size = sizeof(o), .mode = mode, .downtime_ms = 10 };
	struct ms_migrate_stat st;
	struct ms_region_stat *rs;
	struct writer w;
	uint8_t *start = malloc(SIZE), *got = malloc(SIZE);
	char err[512];
	uint64_t pushes_at_switch;
	size_t n;

	if (!start || !got)
		tap_bail("malloc");
	srv_start(&a, NULL);
	srv_start(&b, NULL);
	fill(start, SIZE, 7);
	add(&a, "db", NULL, 7);
	writer_start(&w, &a, "db", start);
	/* the writer holds A's lease and has committed there */
	for (int i = 0; i < 1000 && !__atomic_load_n(&w.pushes, __ATOMIC_ACQUIRE); i++)
		usleep(10000);
	is_int(ms_server_migrate(b.s, "db", "127.0.0.1", a.port, &o), 0, "%s: migration starts",
	       mn);
	st = wait_mig(&b, "db", MS_MIGRATE_DONE);
	ok(st.phase == MS_MIGRATE_DONE, "%s: done (%s%s%s)", mn, ms_migrate_phase_name(st.phase),
	   st.error[0] ? ": " : "", st.error);
	ok(st.bytes >= SIZE && st.chunks_missing == 0 && st.epoch > w.epoch0,
	   "%s: %llu bytes moved in %u round(s) (%s), epoch %llu at B > %llu at A", mn,
	   (unsigned long long)st.bytes, st.rounds, st.end_reason,
	   (unsigned long long)st.epoch, (unsigned long long)w.epoch0);
	ok(st.downtime_us > 0 && st.total_us >= st.downtime_us,
	   "%s: downtime %.3f ms (pause %.3f, collect %.3f, transfer %.3f, commit %.3f, "
	   "handoff %.3f), total %.1f ms", mn, st.downtime_us / 1e3, st.pause_us / 1e3,
	   st.final_collect_us / 1e3, st.final_xfer_us / 1e3, st.commit_us / 1e3,
	   st.handoff_us / 1e3, st.total_us / 1e3);
	/* the writer goes on at B */
	pushes_at_switch = w.pushes;
	for (int i = 0; i < 200 && w.pushes < pushes_at_switch + 5; i++)
		usleep(10000);
	writer_stop(&w);
	ok(w.pushes >= pushes_at_switch + 5, "%s: the writer goes on after the switch (%llu "
	   "pushes, %llu failed%s%s)", mn, (unsigned long long)w.pushes,
	   (unsigned long long)w.failures, w.failures ? ": " : "", w.lasterr);
	ok(w.epoch_last >= st.epoch, "%s: its handle followed to B at epoch %llu", mn,
	   (unsigned long long)w.epoch_last);
	ok(pull_all(&b, "db", got, err, sizeof(err)) == 0 && memcmp(got, w.model, SIZE) == 0,
	   "%s: B holds exactly what the writer last committed %s", mn, err);
	memset(got, 0, SIZE);
	ok(pull_all(&a, "db", got, err, sizeof(err)) == 0 && memcmp(got, w.model, SIZE) == 0,
	   "%s: a pull from A follows the redirect to the same bytes %s", mn, err);
	ok(ms_server_stat(a.s, "db", &rs, &n) == 0 && n == 1 && strstr(rs[0].moved_to, b.port),
	   "%s: A's stat says where it went", mn);
	if (n == 1)
		free(rs);
	ms_server_destroy(a.s);
	ms_server_destroy(b.s);
	free(w.model);
	free(start);
	free(got);
}

/* Post-copy at 4 MiB/s: 4 s of missing chunks, a reader meanwhile. */
static void test_postcopy_reader(void)
{
	struct srv a, b;
	struct ms_migrate_opts o = { .opts_size = sizeof(o), .mode = MS_MIGRATE_POSTCOPY,
				     .max_bandwidth = 4u << 20 };
	struct ms_migrate_stat st;
	uint8_t *want = malloc(SIZE), *got = malloc(SIZE);
	uint64_t faults = 0;
	char err[512];

	if (!want || !got)
		tap_bail("malloc");
	srv_start(&a, NULL);
	srv_start(&b, NULL);
	fill(want, SIZE, 11);
	add(&a, "pc", NULL, 11);
	is_int(ms_server_migrate(b.s, "pc", "127.0.0.1", a.port, &o), 0, "post-copy starts");
	st = wait_mig(&b, "pc", MS_MIGRATE_POSTCOPYING);
	ok(st.phase == MS_MIGRATE_POSTCOPYING && st.chunks_missing > NCH / 2,
	   "post-copy: B owns it with %llu of %u chunks missing (%s)",
	   (unsigned long long)st.chunks_missing, NCH, st.error);
	ok(pull_all(&b, "pc", got, err, sizeof(err)) == 0 && memcmp(got, want, SIZE) == 0,
	   "post-copy: a reader at B gets every byte of A meanwhile %s", err);
	st = wait_mig(&b, "pc", MS_MIGRATE_DONE);
	for (int i = 0; i < MS_HIST_BUCKETS; i++)
		faults += st.fault_hist[i];
	ok(st.phase == MS_MIGRATE_DONE && st.faults > 0 && faults == st.faults &&
	   st.first_fault_us > 0,
	   "post-copy: done; %llu fetches waited for, all in the histogram, first after %.3f ms",
	   (unsigned long long)st.faults, st.first_fault_us / 1e3);
	ok(st.bytes <= SIZE + SIZE / 8, "post-copy: %llu bytes for a %u-byte region",
	   (unsigned long long)st.bytes, SIZE);
	ok(pull_all(&b, "pc", got, err, sizeof(err)) == 0 && memcmp(got, want, SIZE) == 0,
	   "post-copy: B's region = A's, byte for byte %s", err);
	ms_server_destroy(a.s);
	ms_server_destroy(b.s);
	free(want);
	free(got);
}

/* The source dies in post-copy: never a zero chunk; back, B finishes. */
static void test_source_dies(void)
{
	char path[] = "/tmp/test_migrate_XXXXXX", file[64], mpath[80], err[512];
	struct srv a, b;
	struct ms_migrate_opts o = { .opts_size = sizeof(o), .mode = MS_MIGRATE_POSTCOPY,
				     .max_bandwidth = 2u << 20 };
	struct ms_migrate_stat st;
	uint8_t *want = malloc(SIZE), *got = malloc(SIZE);
	char aport[8];
	int ret;

	if (!want || !got || !mkdtemp(path))
		tap_bail("setup");
	snprintf(file, sizeof(file), "%s/a.img", path);
	srv_start(&a, NULL);
	snprintf(aport, sizeof(aport), "%s", a.port);
	srv_start(&b, NULL);
	fill(want, SIZE, 13);
	add(&a, "sd", file, 13);
	is_int(ms_server_migrate(b.s, "sd", "127.0.0.1", a.port, &o), 0, "source dies: starts");
	st = wait_mig(&b, "sd", MS_MIGRATE_POSTCOPYING);
	ok(st.phase == MS_MIGRATE_POSTCOPYING, "source dies: B owns it, %llu chunk(s) missing",
	   (unsigned long long)st.chunks_missing);
	ms_server_destroy(a.s);
	memset(got, 0, SIZE);
	ret = pull_all(&b, "sd", got, err, sizeof(err));
	ok(ret != 0 && strlen(err) > 0, "source dies: a pull at B fails (%d: %s), no zeros "
	   "served as data", ret, err);
	srv_start(&a, aport);
	if (!ms_server_add_region(a.s, &(struct ms_export_opts){ .opts_size =
		sizeof(struct ms_export_opts), .name = "sd", .size = SIZE, .chunk_size = CHUNK,
		.backing = MS_BACKING_FILE, .path = file }))
		diag("restarting A's region: %s", ms_server_errmsg(a.s));
	st = wait_mig(&b, "sd", MS_MIGRATE_DONE);
	ok(st.phase == MS_MIGRATE_DONE, "source dies: A back from its file, B finishes (%s)",
	   st.error);
	ok(pull_all(&b, "sd", got, err, sizeof(err)) == 0 && memcmp(got, want, SIZE) == 0,
	   "source dies: B's region = what A had committed %s", err);
	ms_server_destroy(a.s);
	ms_server_destroy(b.s);
	unlink(file);
	snprintf(mpath, sizeof(mpath), "%s.msmeta", file);
	unlink(mpath);
	snprintf(mpath, sizeof(mpath), "%s.msjournal", file);
	unlink(mpath);
	snprintf(mpath, sizeof(mpath), "%s.msmoved", file);
	unlink(mpath);
	rmdir(path);
	free(want);
	free(got);
}

static void rm_file(const char *file)
{
	char p[128];

	unlink(file);
	snprintf(p, sizeof(p), "%s.msmeta", file);
	unlink(p);
	snprintf(p, sizeof(p), "%s.msjournal", file);
	unlink(p);
}

/* The destination dies in post-copy: its file is refused at a restart
 * (its missing chunks are not data); migrating again to the same address
 * resumes from the source's copy. */
static void test_dest_restart(void)
{
	char path[] = "/tmp/test_migrate_XXXXXX", file[64], err[512], bport[8];
	struct srv a, b;
	struct ms_migrate_opts o = { .opts_size = sizeof(o), .mode = MS_MIGRATE_POSTCOPY,
				     .max_bandwidth = 2u << 20, .path = file };
	struct ms_export_opts eo = { .opts_size = sizeof(eo), .name = "dr", .size = SIZE,
				     .chunk_size = CHUNK, .backing = MS_BACKING_FILE,
				     .path = file };
	struct ms_migrate_stat st;
	struct ms_region_stat *rs;
	uint8_t *want = malloc(SIZE), *got = malloc(SIZE);
	uint64_t epoch1;
	size_t n;

	if (!want || !got || !mkdtemp(path))
		tap_bail("setup");
	snprintf(file, sizeof(file), "%s/b.img", path);
	srv_start(&a, NULL);
	srv_start(&b, NULL);
	snprintf(bport, sizeof(bport), "%s", b.port);
	fill(want, SIZE, 19);
	add(&a, "dr", NULL, 19);
	is_int(ms_server_migrate(b.s, "dr", "127.0.0.1", a.port, &o), 0,
	       "destination dies: starts");
	st = wait_mig(&b, "dr", MS_MIGRATE_POSTCOPYING);
	epoch1 = st.epoch;
	ok(st.phase == MS_MIGRATE_POSTCOPYING, "destination dies: B owns it at epoch %llu, "
	   "%llu chunk(s) missing", (unsigned long long)epoch1,
	   (unsigned long long)st.chunks_missing);
	ms_server_destroy(b.s);
	srv_start(&b, bport);
	errno = 0;
	ok(ms_server_add_region(b.s, &eo) == NULL && errno == EUCLEAN &&
	   strstr(ms_server_errmsg(b.s), "migrated in"),
	   "destination restarted: its file is refused: %s", ms_server_errmsg(b.s));
	rm_file(file);
	o.max_bandwidth = 0;
	is_int(ms_server_migrate(b.s, "dr", "127.0.0.1", a.port, &o), 0,
	       "destination restarted: migrating again starts");
	st = wait_mig(&b, "dr", MS_MIGRATE_DONE);
	ok(st.phase == MS_MIGRATE_DONE && st.epoch > epoch1,
	   "destination restarted: resumed and done (%s), epoch %llu > %llu", st.error,
	   (unsigned long long)st.epoch, (unsigned long long)epoch1);
	ok(pull_all(&b, "dr", got, err, sizeof(err)) == 0 && memcmp(got, want, SIZE) == 0,
	   "destination restarted: B's region = A's, byte for byte %s", err);
	ok(ms_server_stat(a.s, "dr", &rs, &n) == 0 && n == 1 && strstr(rs[0].moved_to, bport),
	   "destination restarted: A redirects to it");
	if (n == 1)
		free(rs);
	ms_server_destroy(a.s);
	ms_server_destroy(b.s);
	rm_file(file);
	rmdir(path);
	free(want);
	free(got);
}

static void test_before_switch(void)
{
	struct srv a, b;
	struct ms_migrate_opts o = { .opts_size = sizeof(o), .mode = MS_MIGRATE_PRECOPY,
				     .max_bandwidth = 4u << 20 };
	struct ms_migrate_stat st;
	struct ms_region_stat *rs;
	uint8_t *want = malloc(SIZE), *got = malloc(SIZE);
	char err[512];
	size_t n;

	if (!want || !got)
		tap_bail("malloc");
	srv_start(&a, NULL);
	srv_start(&b, NULL);
	fill(want, SIZE, 17);
	add(&a, "ab", NULL, 17);
	/* nobody at the source */
	is_int(ms_server_migrate(b.s, "zz", "127.0.0.1", "1", NULL), 0, "no source: starts");
	st = wait_mig(&b, "zz", MS_MIGRATE_DONE);
	ok(st.phase == MS_MIGRATE_FAILED && strlen(st.error) > 0, "no source: failed: %s",
	   st.error);
	ok(ms_server_stat(b.s, "zz", &rs, &n) == -ENOENT, "no source: nothing left at B");
	/* an abort in pre-copy */
	is_int(ms_server_migrate(b.s, "ab", "127.0.0.1", a.port, &o), 0, "abort: starts");
	usleep(300000);
	is_int(ms_server_migrate_abort(b.s, "ab"), 0, "abort: asked in pre-copy");
	st = wait_mig(&b, "ab", MS_MIGRATE_DONE);
	ok(st.phase == MS_MIGRATE_ABORTED, "abort: %s (%s)", ms_migrate_phase_name(st.phase),
	   st.error);
	ok(ms_server_stat(b.s, "ab", &rs, &n) == -ENOENT, "abort: nothing left at B");
	is_int(ms_server_migrate_abort(b.s, "ab"), -EALREADY, "abort: again: -EALREADY");
	ok(ms_server_stat(a.s, "ab", &rs, &n) == 0 && n == 1 && rs[0].moved_to[0] == 0,
	   "abort: A still owns it");
	if (n == 1)
		free(rs);
	ok(pull_all(&a, "ab", got, err, sizeof(err)) == 0 && memcmp(got, want, SIZE) == 0,
	   "abort: A's bytes as they were %s", err);
	/* bad requests */
	add(&b, "taken", NULL, 1);
	is_int(ms_server_migrate(b.s, "taken", "127.0.0.1", a.port, NULL), -EEXIST,
	       "a name B has already: -EEXIST (%s)", ms_server_errmsg(b.s));
	is_int(ms_server_migrate(b.s, "bad name", "127.0.0.1", a.port, NULL), -EINVAL,
	       "a bad name: -EINVAL");
	is_int(ms_server_migrate(b.s, "x", "", a.port, NULL), -EINVAL, "no source host: -EINVAL");
	is_int(ms_server_migrate_stat(b.s, "never", &st), -ENOENT, "status of none: -ENOENT");
	is_int(ms_server_migrate_abort(b.s, "never"), -ENOENT, "abort of none: -ENOENT");
	{
		ms_client *c = client(&b, 3000);
		ms_region *r = ms_open(c, "taken", MS_MODE_READ);
		uint64_t idx = NCH;

		is_int(ms_migrate_start(c, "taken", "127.0.0.1", a.port, NULL), -EEXIST,
		       "MIGRATE over the wire: -EEXIST: %s", ms_client_errmsg(c));
		is_int(ms_migrate_status(c, "never", &st), -ENOENT, "MIGRATE_STATUS: -ENOENT: %s",
		       ms_client_errmsg(c));
		is_int(ms_migrate_abort(c, "never"), -ENOENT, "MIGRATE_ABORT: -ENOENT");
		is_int(ms_migrate_status(c, "zz", &st), 0, "MIGRATE_STATUS of the failed one");
		ok(st.phase == MS_MIGRATE_FAILED && strlen(st.error) > 0,
		   "... says failed, with its error");
		ok(r && ms_pull(r, 0, got, SIZE, NULL, NULL) == 0, "a region that is not "
		   "migrating reads as ever");
		(void)idx;
		ms_disconnect(c);
	}
	ms_server_destroy(a.s);
	ms_server_destroy(b.s);
	free(want);
	free(got);
}

int main(void)
{
	test_before_switch();
	test_mode(MS_MIGRATE_PRECOPY);
	test_mode(MS_MIGRATE_STOPCOPY);
	test_mode(MS_MIGRATE_HYBRID);
	test_mode(MS_MIGRATE_POSTCOPY);
	test_postcopy_reader();
	test_source_dies();
	test_dest_restart();
	return tap_done();
}
