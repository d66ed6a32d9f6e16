/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_migrate_app.c - application hand-over (ms_migrate_app_*): one
 * in-process server on 127.0.0.1 (lease time to live 3 s) with 8 MiB
 * regions of 64 KiB chunks, one per hand-over case and one for the
 * failure cases; the source is a writable mapping without
 * prefetch that a writer thread keeps writing counters into (the last
 * quarter of the region), recording every write in `exp`, the bytes the
 * region must hold; the destination is a standby mapping in the same
 * process; a monitor thread polls the region's lease every millisecond
 * and checks that each epoch belongs to one client and epochs never go
 * back (never two holders).
 *
 * Cases: the hand-over itself (with userfaultfd tracking and with hashing
 * forced): the writer is paused once and never resumed by the source, the
 * destination holds the lease at epoch N+1, the server and then the
 * destination's mapping equal everything the writer wrote before the
 * pause, the destination prefetches the source's hot chunks first (its
 * prefetch thread is held on its first batch until the hand-over is
 * done), writes through the destination reach the server and the source
 * can no longer sync, the measurements add up.  A destination that died
 * before the hand-over: -EHOSTDOWN, nothing paused, the source keeps its
 * lease and its writer.  A destination that never takes the lease: the
 * reservation lapses, the source takes the lease back at epoch N+1 and
 * resumes (-ETIMEDOUT), its writes go on reaching the server, and the
 * destination then finds nothing handed to it.  The pause helpers: a
 * child process stopped and continued by pid, the cgroup v2 freeze
 * protocol on a directory standing in for a cgroup.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "memsync.h"
#include "tap.h"
#include "fixture.h"

#define MiB (1ull << 20)
#define CHUNK (64u << 10)
#define SIZE (8 * MiB)
#define NCHUNKS (SIZE / CHUNK)
#define HOT_FIRST (NCHUNKS * 3 / 4)   /* the writer writes chunks from here */
#define COLD (NCHUNKS / 2)          /* a chunk nobody writes */
#define TTL_MS 3000

/* a region per hand-over case: the server's hot list of each starts
 * from the fixture's commit alone */
static const struct fx_region regs[] = {
	{ .name = "h0", .size = SIZE, .chunk_size = CHUNK, .no_mlock = true },
	{ .name = "h1", .size = SIZE, .chunk_size = CHUNK, .no_mlock = true },
	{ .name = "r", .size = SIZE, .chunk_size = CHUNK, .no_mlock = true },
};
static struct fx_server f;
static const char *R;         /* the case's region */
static uint8_t *mem;          /* the server's copy of it */
static uint8_t *exp_;         /* what it must hold */

/* The case works on region i; exp_ starts as the server's bytes. */
static void use_region(size_t i)
{
	R = regs[i].name;
	mem = f.mem[i];
	memcpy(exp_, mem, SIZE);
}

static void msleep(unsigned ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static struct ms_client_opts copts(void)
{
	return (struct ms_client_opts){ .opts_size = sizeof(struct ms_client_opts),
					.transport = MS_TRANSPORT_TCP, .timeout_ms = 10000 };
}

/* ------------------------------------------------------------ writer */

struct writer {
	uint8_t *a;                  /* the source's mapping */
	pthread_t th;
	uint64_t rng, counter;
	atomic_bool pause_req, paused, stop;
	atomic_uint_fast64_t writes;
	atomic_int pauses, resumes;  /* hook calls */
};

static void *writer_main(void *arg)
{
	struct writer *w = arg;
	uint64_t first = (uint64_t)HOT_FIRST * CHUNK / 8, nwords = SIZE / 8 - first;

	while (!atomic_load(&w->stop)) {
		if (atomic_load(&w->pause_req)) {
			atomic_store(&w->paused, true);
			while (atomic_load(&w->pause_req) && !atomic_load(&w->stop))
				msleep(1);
			atomic_store(&w->paused, false);
			continue;
		}
		uint64_t word = first + fx_next(&w->rng) % nwords, v = ++w->counter;

		memcpy(w->a + word * 8, &v, 8);
		memcpy(exp_ + word * 8, &v, 8);
		if (atomic_fetch_add(&w->writes, 1) % 32 == 31)
			msleep(1);
	}
	return NULL;
}

static void writer_start(struct writer *w, uint8_t *a, uint64_t seed)
{
	memset(w, 0, sizeof(*w));
	w->a = a;
	w->rng = seed;
	if (pthread_create(&w->th, NULL, writer_main, w))
		tap_bail("pthread_create");
}

/* Wait until the writer made n more writes (at most 20 s). */
static bool writer_more(struct writer *w, uint64_t n)
{
	uint64_t to = atomic_load(&w->writes) + n;

	for (int i = 0; i < 20000 && atomic_load(&w->writes) < to; i++)
		msleep(1);
	return atomic_load(&w->writes) >= to;
}

static int pause_hook(void *ud)
{
	struct writer *w = ud;

	atomic_fetch_add(&w->pauses, 1);
	atomic_store(&w->pause_req, true);
	for (int i = 0; i < 5000 && !atomic_load(&w->paused); i++)
		msleep(1);
	return atomic_load(&w->paused) ? 0 : -ETIMEDOUT;
}

static void resume_hook(void *ud)
{
	struct writer *w = ud;

	atomic_fetch_add(&w->resumes, 1);
	atomic_store(&w->pause_req, false);
}

static void writer_stop(struct writer *w)
{
	atomic_store(&w->stop, true);
	pthread_join(w->th, NULL);
}

/* ----------------------------------------------------------- monitor */

#define MAX_SEEN 64

struct monitor {
	pthread_t th;
	ms_client *c;
	atomic_bool stop;
	int violations;
	atomic_int polls;
	char why[256];
	uint64_t epochs[MAX_SEEN];   /* held epochs seen, in order */
	uint8_t ids[MAX_SEEN][16];
	int nseen;
	bool saw_handover;
	uint8_t handover_to[16];
};

static void *monitor_main(void *arg)
{
	struct monitor *mo = arg;
	struct ms_lease_info li;

	while (!atomic_load(&mo->stop)) {
		if (ms_lease_get(mo->c, R, &li) == 0) {
			if (li.state == MS_LEASE_HANDOVER) {
				mo->saw_handover = true;
				memcpy(mo->handover_to, li.client_id, 16);
			} else if (li.state == MS_LEASE_HELD) {
				int k = mo->nseen - 1;

				if (k >= 0 && li.epoch < mo->epochs[k]) {
					mo->violations++;
					snprintf(mo->why, sizeof(mo->why), "epoch %llu after %llu",
						 (unsigned long long)li.epoch,
						 (unsigned long long)mo->epochs[k]);
				} else if (k >= 0 && li.epoch == mo->epochs[k] &&
					   memcmp(li.client_id, mo->ids[k], 16)) {
					mo->violations++;
					snprintf(mo->why, sizeof(mo->why),
						 "epoch %llu held by two clients",
						 (unsigned long long)li.epoch);
				} else if ((k < 0 || li.epoch > mo->epochs[k]) &&
					   mo->nseen < MAX_SEEN) {
					mo->epochs[mo->nseen] = li.epoch;
					memcpy(mo->ids[mo->nseen++], li.client_id, 16);
				}
			}
			atomic_fetch_add(&mo->polls, 1);
		}
		msleep(1);
	}
	return NULL;
}

static void monitor_start(struct monitor *mo)
{
	memset(mo, 0, sizeof(*mo));
	mo->c = fx_connect(&f, NULL);
	if (!mo->c || pthread_create(&mo->th, NULL, monitor_main, mo))
		tap_bail("monitor");
	/* it has seen the lease as it is before the case goes on */
	for (int i = 0; i < 10000 && !atomic_load(&mo->polls); i++)
		msleep(1);
	if (!atomic_load(&mo->polls))
		tap_bail("monitor: no lease_get answered");
}

static void monitor_stop(struct monitor *mo, const char *what)
{
	atomic_store(&mo->stop, true);
	pthread_join(mo->th, NULL);
	ms_disconnect(mo->c);
	ok(mo->polls > 0 && mo->violations == 0,
	   "%s: never two lease holders (%d polls, %d epochs seen)%s%s", what,
	   atomic_load(&mo->polls),
	   mo->nseen, mo->violations ? ": " : "", mo->why);
}

/* The lease as the server has it now. */
static struct ms_lease_info lease_now(void)
{
	struct ms_lease_info li = { 0 };
	ms_client *c = fx_connect(&f, NULL);

	if (!c || ms_lease_get(c, R, &li))
		tap_bail("lease_get");
	ms_disconnect(c);
	return li;
}

/* ------------------------------------------------------------- maps */

static ms_map *open_src(bool force_hash)
{
	struct ms_client_opts co = copts();
	struct ms_map_opts mo = { .opts_size = sizeof(mo), .writable = true,
				  .no_prefetch = true, .force_hash = force_hash };
	char err[512];
	ms_map *m = ms_map_open("127.0.0.1", f.port, R, &co, &mo, err, sizeof(err));

	if (!m)
		tap_bail("source map: %s", err);
	return m;
}

/* The destination's prefetch order: the chunks its prefetch thread made
 * local, held at the first one until the gate opens. */
struct order {
	pthread_mutex_t lk;
	pthread_cond_t cv;
	bool open;
	uint64_t seq[4 * NCHUNKS];
	atomic_uint n;
};

static void on_local(void *ud, uint64_t chunk)
{
	struct order *o = ud;
	unsigned k = atomic_fetch_add(&o->n, 1);

	if (k < 4 * NCHUNKS)
		o->seq[k] = chunk;
	pthread_mutex_lock(&o->lk);
	while (!o->open)
		pthread_cond_wait(&o->cv, &o->lk);
	pthread_mutex_unlock(&o->lk);
}

static void gate_open(struct order *o)
{
	pthread_mutex_lock(&o->lk);
	o->open = true;
	pthread_cond_broadcast(&o->cv);
	pthread_mutex_unlock(&o->lk);
}

static ms_map *open_dst(bool force_hash, struct order *o)
{
	struct ms_client_opts co = copts();
	struct ms_map_opts mo = { .opts_size = sizeof(mo), .standby = true, .hot_first = true,
				  .force_hash = force_hash, .fault_threads = 1,
				  .prefetch_threads = 1, .on_local = o ? on_local : NULL,
				  .ud = o };
	char err[512];
	ms_map *m = ms_map_open("127.0.0.1", f.port, R, &co, &mo, err, sizeof(err));

	if (!m)
		tap_bail("destination map: %s", err);
	return m;
}

/* ------------------------------------------------------------ cases */

struct dest_run {
	ms_map *m;
	pthread_t th;
	struct ms_migrate_stat st;
	atomic_int resumed;
	int ret;
};

static void dst_resumed(void *ud)
{
	struct dest_run *d = ud;

	atomic_fetch_add(&d->resumed, 1);
}

static void *dest_main(void *arg)
{
	struct dest_run *d = arg;
	struct ms_migrate_app_opts o = { .opts_size = sizeof(o), .on_after_resume = dst_resumed,
					 .ud = d, .timeout_ms = 30000 };

	d->ret = ms_migrate_app_dest(d->m, &o, &d->st);
	return NULL;
}

static int nprogress;

static void progress(void *ud, const struct ms_migrate_stat *st)
{
	(void)ud;
	(void)st;
	nprogress++;
}

static void test_handover(bool force_hash)
{
	const char *what = force_hash ? "hand-over (hashing)" : "hand-over";
	struct ms_migrate_stat st;
	struct ms_map_fault_stat fs;
	struct ms_lease_info l0, l1;
	struct monitor mon;
	struct writer w;
	struct dest_run d = { 0 };
	struct order *o = calloc(1, sizeof(*o));
	uint8_t id[16], sid[16];
	uint64_t sum = 0, hot_ok = 0, after, first_new;
	ms_map *src, *dst;
	uint8_t *b;
	int ret;

	if (!o)
		tap_bail("calloc");
	use_region(force_hash);
	pthread_mutex_init(&o->lk, NULL);
	pthread_cond_init(&o->cv, NULL);
	src = open_src(force_hash);
	writer_start(&w, ms_map_addr(src), 0x1234 + force_hash);
	if (!writer_more(&w, 2000))
		tap_bail("%s: the writer does not write", what);
	dst = open_dst(force_hash, o);
	is_int(ms_map_client_id(dst, id), 0, "%s: the destination's client id", what);
	is_int(ms_map_client_id(src, sid), 0, "%s: the source's client id", what);
	ok(ms_map_writable(dst), "%s: a standby mapping tracks writes", what);
	is_int(ms_map_sync(dst, NULL), -EACCES, "%s: a standby mapping cannot sync", what);
	l0 = lease_now();
	ok(l0.state == MS_LEASE_HELD && !memcmp(l0.client_id, sid, 16),
	   "%s: the source holds the lease (epoch %llu)", what, (unsigned long long)l0.epoch);
	monitor_start(&mon);
	d.m = dst;
	if (pthread_create(&d.th, NULL, dest_main, &d))
		tap_bail("pthread_create");

	struct ms_migrate_app_opts so = { .opts_size = sizeof(so), .on_before_pause = pause_hook,
					  .on_after_resume = resume_hook, .progress = progress,
					  .ud = &w, .pause_bytes = 64 << 10 };
	nprogress = 0;
	ret = ms_migrate_app_source(src, id, &so, &st);
	is_int(ret, 0, "%s: the source hands over%s%s", what, ret ? ": " : "", st.error);
	pthread_join(d.th, NULL);
	is_int(d.ret, 0, "%s: the destination takes over%s%s", what, d.ret ? ": " : "",
	       d.st.error);
	is_int(atomic_load(&w.pauses), 1, "%s: the writer was paused once", what);
	is_int(atomic_load(&w.resumes), 0, "%s: ... and the source never resumed it", what);
	ok(atomic_load(&w.paused), "%s: the writer is still paused", what);
	is_int(atomic_load(&d.resumed), 1, "%s: the destination resumed once", what);
	l1 = lease_now();
	ok(l1.state == MS_LEASE_HELD && !memcmp(l1.client_id, id, 16) &&
	   l1.epoch == l0.epoch + 1,
	   "%s: the destination holds the lease at epoch N+1 (%llu -> %llu)", what,
	   (unsigned long long)l0.epoch, (unsigned long long)l1.epoch);
	ok(st.epoch == l1.epoch && d.st.epoch == l1.epoch, "%s: both stats name epoch %llu",
	   what, (unsigned long long)l1.epoch);
	ok(st.phase == MS_MIGRATE_DONE && d.st.phase == MS_MIGRATE_DONE, "%s: phases done", what);
	ok(st.rounds >= 1 && *st.end_reason, "%s: %u pre-copy rounds, ended: %s", what,
	   st.rounds, st.end_reason);
	ok(st.downtime_us > 0 && st.downtime_us <= st.total_us &&
	   st.pause_us + st.final_collect_us + st.final_xfer_us + st.commit_us + st.handoff_us <=
		   st.downtime_us,
	   "%s: downtime %llu us of %llu us covers its breakdown (pause %llu, collect %llu, "
	   "xfer %llu, commit %llu, hand-off %llu)", what, (unsigned long long)st.downtime_us,
	   (unsigned long long)st.total_us, (unsigned long long)st.pause_us,
	   (unsigned long long)st.final_collect_us, (unsigned long long)st.final_xfer_us,
	   (unsigned long long)st.commit_us, (unsigned long long)st.handoff_us);
	ok(st.bytes > 0 && nprogress >= (int)st.rounds + 2,
	   "%s: %llu bytes pushed, %d progress reports", what, (unsigned long long)st.bytes,
	   nprogress);
	ok(!memcmp(mem, exp_, SIZE), "%s: the server holds every write made before the pause",
	   what);

	/* a fault on the destination (its prefetch thread is held at the
	 * gate: chunk COLD is not local) */
	b = ms_map_addr(dst);
	ok(b[COLD * CHUNK + 5] == exp_[COLD * CHUNK + 5], "%s: a fault after the resume", what);
	ms_migrate_app_dest_stat(dst, &d.st);
	ok(d.st.faults >= 1 && d.st.first_fault_us > 0,
	   "%s: %llu faults, the first after the resume %llu us", what,
	   (unsigned long long)d.st.faults, (unsigned long long)d.st.first_fault_us);

	/* the destination's prefetch: the source's hot chunks first */
	gate_open(o);
	is_int(ms_map_wait(dst, 20000), 0, "%s: the destination prefetched everything", what);
	after = atomic_load(&o->n);
	first_new = 0;
	/* after its first batch (chunks 0..15: the fixture's commit heats
	 * every chunk alike; held at the gate at the first of them), the
	 * prefetch thread took the hot list: the written quarter */
	for (unsigned k = 0; k < after && first_new < NCHUNKS / 4; k++) {
		if (o->seq[k] == COLD || o->seq[k] < 16)
			continue;       /* the fault's, the first batch */
		first_new++;
		hot_ok += o->seq[k] >= HOT_FIRST;
	}
	ok(first_new == NCHUNKS / 4 && hot_ok == first_new,
	   "%s: the destination prefetched the source's %u hot chunks first (%llu of %llu)",
	   what, (unsigned)(NCHUNKS / 4), (unsigned long long)hot_ok, (unsigned long long)first_new);

	ok(!memcmp(b, exp_, SIZE), "%s: the destination maps every write made before the pause",
	   what);
	ms_migrate_app_dest_stat(dst, &d.st);
	ms_map_fault_stat(dst, &fs);
	for (unsigned i = 0; i < MS_HIST_BUCKETS; i++)
		sum += d.st.fault_hist[i];
	ok(sum == d.st.faults && fs.faults == d.st.faults,
	   "%s: the fault histogram counts every fault (%llu)", what,
	   (unsigned long long)d.st.faults);
	{
		uint64_t down = st.downtime_us;

		ms_migrate_app_merge(&st, &d.st);
		ok(st.downtime_us >= down && st.faults == d.st.faults,
		   "%s: merged downtime %llu us (source %llu)", what,
		   (unsigned long long)st.downtime_us, (unsigned long long)down);
	}

	/* writes after the resume land through the destination */
	for (uint64_t k = 0; k < 512; k++) {
		uint64_t word = (uint64_t)HOT_FIRST * CHUNK / 8 + (k * 4099) % (SIZE / 32),
			 v = ~k;

		memcpy(b + word * 8, &v, 8);
		memcpy(exp_ + word * 8, &v, 8);
	}
	is_int(ms_map_sync(dst, NULL), 0, "%s: the destination syncs", what);
	ok(!memcmp(mem, exp_, SIZE), "%s: the server equals the destination's writes", what);
	is_int(ms_map_sync(src, NULL), -EACCES, "%s: the source can no longer sync", what);
	monitor_stop(&mon, what);
	ok(mon.nseen >= 2 && mon.epochs[mon.nseen - 1] == l1.epoch &&
	   !memcmp(mon.ids[mon.nseen - 1], id, 16),
	   "%s: the monitor saw the lease move to the destination at epoch %llu", what,
	   (unsigned long long)l1.epoch);
	ms_map_fault_stat(src, &fs);
	sum = 0;
	for (unsigned i = 0; i < MS_HIST_BUCKETS; i++)
		sum += fs.hist[i];
	ok(fs.faults > 0 && sum == fs.faults && fs.first_after_resume_us == 0,
	   "%s: the source's faults were counted (%llu) in its histogram", what,
	   (unsigned long long)fs.faults);
	writer_stop(&w);
	ms_map_close(src);
	ms_map_close(dst);
	pthread_cond_destroy(&o->cv);
	pthread_mutex_destroy(&o->lk);
	free(o);
}

static void test_dest_dead(void)
{
	const char *what = "dead destination";
	struct ms_migrate_app_opts so = { .opts_size = sizeof(so), .on_before_pause = pause_hook,
					  .on_after_resume = resume_hook };
	struct ms_migrate_stat st;
	struct ms_lease_info l0, l1;
	struct monitor mon;
	struct writer w;
	uint8_t id[16];
	ms_map *src, *dst;
	int ret;

	use_region(2);
	src = open_src(false);
	writer_start(&w, ms_map_addr(src), 77);
	so.ud = &w;
	dst = open_dst(false, NULL);
	is_int(ms_map_client_id(dst, id), 0, "%s: the destination's client id", what);
	ms_map_close(dst);         /* it dies before the hand-over */
	l0 = lease_now();
	monitor_start(&mon);
	ret = ms_migrate_app_source(src, id, &so, &st);
	is_int(ret, -EHOSTDOWN, "%s: the hand-over fails", what);
	ok(strstr(st.error, "not connected") != NULL && st.phase == MS_MIGRATE_FAILED,
	   "%s: ... saying why: %s", what, st.error);
	is_int(atomic_load(&w.pauses), 0, "%s: nothing was paused", what);
	ok(writer_more(&w, 500), "%s: the writer keeps writing", what);
	l1 = lease_now();
	ok(l1.state == MS_LEASE_HELD && l1.epoch == l0.epoch &&
	   !memcmp(l1.client_id, l0.client_id, 16), "%s: the source keeps its lease (epoch %llu)",
	   what, (unsigned long long)l1.epoch);
	if (pause_hook(&w))
		tap_bail("%s: the writer does not pause", what);
	is_int(ms_map_sync(src, NULL), 0, "%s: the source syncs", what);
	ok(!memcmp(mem, exp_, SIZE), "%s: the server holds every write", what);
	monitor_stop(&mon, what);
	writer_stop(&w);
	ms_map_close(src);
}

static void test_never_taken(void)
{
	const char *what = "destination never takes";
	struct ms_migrate_app_opts so = { .opts_size = sizeof(so), .on_before_pause = pause_hook,
					  .on_after_resume = resume_hook, .timeout_ms = 3000 };
	struct ms_migrate_app_opts dopt = { .opts_size = sizeof(dopt), .timeout_ms = 300 };
	struct ms_migrate_stat st, dst_st;
	struct ms_lease_info l0, l1;
	struct monitor mon;
	struct writer w;
	uint8_t id[16];
	ms_map *src, *dst;
	int ret;

	use_region(2);
	src = open_src(false);
	writer_start(&w, ms_map_addr(src), 99);
	so.ud = &w;
	if (!writer_more(&w, 500))
		tap_bail("%s: the writer does not write", what);
	dst = open_dst(false, NULL);   /* alive, but it never waits for the lease */
	is_int(ms_map_client_id(dst, id), 0, "%s: the destination's client id", what);
	l0 = lease_now();
	monitor_start(&mon);
	ret = ms_migrate_app_source(src, id, &so, &st);
	is_int(ret, -ETIMEDOUT, "%s: the hand-over fails", what);
	ok(strstr(st.error, "took it back") != NULL, "%s: ... saying why: %s", what, st.error);
	is_int(atomic_load(&w.pauses), 1, "%s: the writer was paused", what);
	is_int(atomic_load(&w.resumes), 1, "%s: ... and resumed", what);
	ok(mon.saw_handover && !memcmp(mon.handover_to, id, 16),
	   "%s: the lease was handed over to the destination meanwhile", what);
	l1 = lease_now();
	ok(l1.state == MS_LEASE_HELD && l1.epoch == l0.epoch + 1 &&
	   !memcmp(l1.client_id, l0.client_id, 16) && st.epoch == l1.epoch,
	   "%s: the source took the lease back at epoch N+1 (%llu -> %llu)", what,
	   (unsigned long long)l0.epoch, (unsigned long long)l1.epoch);
	ok(writer_more(&w, 500), "%s: the writer writes again", what);
	is_int(ms_map_sync(src, NULL), 0, "%s: the source syncs again", what);
	if (pause_hook(&w))
		tap_bail("%s: the writer does not pause", what);
	is_int(ms_map_sync(src, NULL), 0, "%s: the source's last sync", what);
	ok(!memcmp(mem, exp_, SIZE), "%s: the server holds every write", what);
	ret = ms_migrate_app_dest(dst, &dopt, &dst_st);
	is_int(ret, -ETIMEDOUT, "%s: the destination finds no lease handed to it", what);
	is_int(ms_map_sync(dst, NULL), -EACCES, "%s: ... and cannot sync", what);
	monitor_stop(&mon, what);
	writer_stop(&w);
	ms_map_close(src);
	ms_map_close(dst);
}

/* ------------------------------------------------------ pause helpers */

static char state_of(pid_t pid)
{
	char path[64], buf[512], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	p = strrchr(buf, ')');
	return p ? p[2] : 0;
}

static void put(const char *dir, const char *name, const char *v)
{
	char path[512];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fp = fopen(path, "w");
	if (!fp)
		tap_bail("cannot write %s", path);
	fputs(v, fp);
	fclose(fp);
}

static void get(const char *dir, const char *name, char *out, size_t len)
{
	char path[512];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	out[0] = '\0';
	fp = fopen(path, "r");
	if (fp) {
		if (!fgets(out, (int)len, fp))
			out[0] = '\0';
		fclose(fp);
	}
}

static void test_pause_helpers(void)
{
	char dir[] = "/tmp/ms-cgroup-XXXXXX", v[32], path[600];
	struct ms_pause_target t = { .timeout_ms = 2000 };
	pid_t pid = fork();
	int status;

	if (pid < 0)
		tap_bail("fork");
	if (pid == 0) {
		for (int i = 0; i < 600; i++)
			msleep(100);
		_exit(0);
	}
	t.pid = pid;
	is_int(ms_pause_hook(&t), 0, "pause: SIGSTOP of a pid");
	ok(state_of(pid) == 'T', "pause: ... the process is stopped (%c)", state_of(pid));
	ms_resume_hook(&t);
	ok(state_of(pid) != 'T' && state_of(pid) != 0, "pause: SIGCONT: it runs again (%c)",
	   state_of(pid));
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	is_int(ms_pause_pid(pid, true, 100), -ESRCH, "pause: a pid that is gone");

	if (!mkdtemp(dir))
		tap_bail("mkdtemp");
	put(dir, "cgroup.freeze", "0\n");
	put(dir, "cgroup.events", "populated 1\nfrozen 1\n");
	t = (struct ms_pause_target){ .cgroup = dir, .timeout_ms = 2000 };
	is_int(ms_pause_hook(&t), 0, "pause: cgroup freeze once cgroup.events says frozen 1");
	get(dir, "cgroup.freeze", v, sizeof(v));
	is_str(v, "1", "pause: ... it wrote 1 to cgroup.freeze");
	put(dir, "cgroup.events", "populated 1\nfrozen 1\n");
	is_int(ms_pause_cgroup(dir, false, 100), -ETIMEDOUT,
	       "pause: a thaw waits for frozen 0 (times out)");
	get(dir, "cgroup.freeze", v, sizeof(v));
	is_str(v, "0", "pause: ... it wrote 0 to cgroup.freeze");
	put(dir, "cgroup.events", "populated 1\nfrozen 0\n");
	is_int(ms_pause_cgroup(dir, true, 100), -ETIMEDOUT,
	       "pause: a freeze that does not happen times out");
	put(dir, "cgroup.events", "populated 1\n");
	is_int(ms_pause_cgroup(dir, true, 100), -EPROTO,
	       "pause: a directory that is not a cgroup v2 one");
	snprintf(path, sizeof(path), "%s/cgroup.freeze", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/cgroup.events", dir);
	unlink(path);
	rmdir(dir);
	is_int(ms_pause_cgroup(dir, true, 100), -ENOENT, "pause: a cgroup that is not there");
}

int main(void)
{
	alarm(600);     /* a hang fails the test instead */
	memset(&f, 0, sizeof(f));
	f.lease_ttl_ms = TTL_MS;
	fx_server_up_with(&f, regs, 3, FX_SEED);
	exp_ = malloc(SIZE);
	if (!exp_)
		tap_bail("malloc");

	test_handover(false);
	test_handover(true);
	test_dest_dead();
	test_never_taken();
	test_pause_helpers();

	free(exp_);
	fx_server_down(&f);
	return tap_done();
}
