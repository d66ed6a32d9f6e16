/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_map.c - the lazy mapper (ms_map_*): an in-process server on
 * 127.0.0.1 exporting a 64 MiB region of pseudo-random bytes, mapped
 * lazily on both paths (zero-copy memfd + UFFDIO_CONTINUE, and the
 * UFFDIO_COPY fallback).
 *
 * Covers: random and sequential reads see the server's bytes; without
 * prefetch exactly the touched chunks become local; with prefetch
 * ms_map_wait() completes and the mapping equals the region; prefetch
 * follows a caller priority (on_local sequence); 4 threads faulting on
 * overlapping chunks; a write to an absent chunk; the server going away
 * while a child process has the region mapped: touching an absent chunk
 * kills the child with SIGBUS (bounded wait, never a hang: the child
 * reconnects for 300 ms first), with UFFDIO_POISON and with the fallback;
 * in-process, the failure is reported by ms_map_wait()/ms_map_errmsg(),
 * without reconnection (MS_MAP_NO_RECONNECT: at once) and after
 * reconnecting for 300 ms; a server restarted on the same port under a
 * mapping: faults wait for it and read the right bytes, and a chunk the
 * new server changed is dropped and read again; bad arguments.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "memsync.h"
#include "tap.h"
#include "fixture.h"

#define MiB (1ull << 20)
#define CHUNK (64u << 10)
#define SIZE (64 * MiB)
#define NCHUNKS (SIZE / CHUNK)

/* r1, the region every case maps; its bytes come from this seed and the
 * rest of the stream (f.rng) picks the random offsets. */
static const struct fx_region r1 = { .name = "r1", .size = SIZE, .chunk_size = CHUNK,
				     .no_mlock = true };
static struct fx_server f;
static uint8_t *mem;          /* the server's region (f.mem[0]) */

static uint64_t next_rand(void)
{
	return fx_next(&f.rng);
}

/* A server of its own for one region of 4 MiB named name: its bytes come
 * from f's stream, as if it were one more region of f. */
static void side_server_up(struct fx_server *g, const char *name)
{
	const struct fx_region reg = { .name = name, .size = 4 * MiB, .chunk_size = CHUNK,
				       .no_mlock = true };

	fx_server_up(g, &reg, 1, f.rng);
	f.rng = g->rng;
}

static ms_map *map_at(const char *port, const char *name, const struct ms_map_opts *mo)
{
	struct ms_client_opts co = { .opts_size = sizeof(co), .transport = MS_TRANSPORT_TCP, .timeout_ms = 5000 };
	char err[512];
	ms_map *m = ms_map_open("127.0.0.1", port, name, &co, mo, err, sizeof(err));

	if (!m)
		diag("ms_map_open: %s", err);
	return m;
}

static ms_map *map_it(const char *name, const struct ms_map_opts *mo)
{
	return map_at(f.port, name, mo);
}

static uint64_t nlocal(const ms_map *m)
{
	uint64_t n, t;

	ms_map_progress(m, &n, &t);
	return n;
}

/* ------------------------------------------------ touched chunks only */

static void test_no_prefetch(bool force_copy)
{
	struct ms_map_opts mo = { .opts_size = sizeof(mo), .no_prefetch = true, .path = force_copy ? MS_MAP_PATH_COPY : MS_MAP_PATH_ZERO_COPY };
	const char *path = force_copy ? "copy" : "zero-copy";
	static uint8_t touched[NCHUNKS];
	uint64_t want = 0, total;
	ms_map *m = map_it("r1", &mo);
	uint8_t *a;
	int bad = 0;

	if (!ok(m != NULL, "%s: map opened", path))
		return;
	a = ms_map_addr(m);
	if (force_copy)
		ok(!ms_map_zero_copy(m), "MS_MAP_PATH_COPY takes the copy path");
	else
		ok(ms_map_zero_copy(m), "MS_MAP_PATH_ZERO_COPY takes the zero-copy path (MINOR_SHMEM)");
	ms_map_progress(m, NULL, &total);
	ok(ms_map_size(m) == SIZE && total == NCHUNKS && ms_map_chunk_size(m) == CHUNK,
	   "%s: full size mapped at once (%llu chunks)", path, (unsigned long long)total);
	is_int(nlocal(m), 0, "%s: nothing local before the first touch", path);

	memset(touched, 0, sizeof(touched));
	/* random reads, some across a chunk boundary */
	for (int k = 0; k < 150; k++) {
		uint64_t off = next_rand() % (SIZE - 300), len = 1 + next_rand() % 300;

		if (memcmp(a + off, mem + off, len))
			bad++;
		for (uint64_t c = off / CHUNK; c <= (off + len - 1) / CHUNK; c++)
			touched[c] = 1;
	}
	for (uint64_t c = 0; c < NCHUNKS; c++)
		want += touched[c];
	is_int(bad, 0, "%s: 150 random reads see the server's bytes", path);
	is_int(nlocal(m), want, "%s: exactly the %llu touched chunks are local", path,
	       (unsigned long long)want);

	/* a sequential scan of 4 MiB */
	ok(memcmp(a + 8 * MiB, mem + 8 * MiB, 4 * MiB) == 0, "%s: sequential 4 MiB read",
	   path);
	for (uint64_t c = 8 * MiB / CHUNK; c < 12 * MiB / CHUNK; c++)
		want += !touched[c], touched[c] = 1;
	is_int(nlocal(m), want, "%s: and exactly its chunks became local", path);

	/* a write to an absent chunk lands on top of the pulled chunk */
	uint64_t c = NCHUNKS - 1;

	while (touched[c])
		c--;
	uint8_t flipped = (uint8_t)(mem[c * CHUNK + 5] ^ 0xff);

	a[c * CHUNK + 5] = flipped;
	ok(a[c * CHUNK + 5] == flipped &&
	   memcmp(a + c * CHUNK + 6, mem + c * CHUNK + 6, CHUNK - 6) == 0 &&
	   memcmp(a + c * CHUNK, mem + c * CHUNK, 5) == 0,
	   "%s: a write to an absent chunk keeps the rest of the chunk", path);
	is_int(nlocal(m), want + 1, "%s: the written chunk is local", path);
	is_int(ms_map_wait(m, 50), -ETIMEDOUT, "%s: wait without prefetch times out", path);
	is_str(ms_map_errmsg(m), "", "%s: no error", path);
	ms_map_close(m);
}

/* ---------------------------------------------------- full prefetch */

static atomic_ullong seen_count;

static void count_local(void *ud, uint64_t chunk)
{
	(void)ud;
	(void)chunk;
	atomic_fetch_add(&seen_count, 1);
}

static void test_prefetch(bool force_copy, unsigned threads)
{
	struct ms_map_opts mo = { .opts_size = sizeof(mo), .path = force_copy ? MS_MAP_PATH_COPY : MS_MAP_PATH_ZERO_COPY, .prefetch_threads = threads,
				  .on_local = count_local };
	const char *path = force_copy ? "copy" : "zero-copy";
	uint64_t t0 = 0, t1;
	ms_map *m;
	uint8_t *a;
	int ret;

	atomic_store(&seen_count, 0);
	m = map_it("r1", &mo);
	if (!ok(m != NULL, "%s: map with %u prefetch threads", path, threads))
		return;
	a = ms_map_addr(m);
	/* the application runs meanwhile */
	ok(memcmp(a + 40 * MiB, mem + 40 * MiB, 4096) == 0 &&
	   memcmp(a + 3 * CHUNK + 17, mem + 3 * CHUNK + 17, 1000) == 0,
	   "%s: reads while prefetching", path);
	ms_map_progress(m, &t0, NULL);
	ret = ms_map_wait(m, 20000);
	is_int(ret, 0, "%s: ms_map_wait completes", path);
	ms_map_progress(m, &t1, NULL);
	ok(t1 == NCHUNKS && t1 >= t0, "%s: progress grew to every chunk (%llu -> %llu)",
	   path, (unsigned long long)t0, (unsigned long long)t1);
	is_int(atomic_load(&seen_count), NCHUNKS, "%s: on_local once per chunk", path);
	ok(memcmp(a, mem, SIZE) == 0, "%s: the whole mapping equals the region", path);
	ms_map_close(m);
}

/* --------------------------------------------------- priority order */

static uint64_t seq[NCHUNKS];
static atomic_ullong nseq;

static int64_t prio_fn(void *ud, uint64_t chunk)
{
	(void)ud;
	/* a scattered order with ties: 64 groups, reverse index inside */
	return (int64_t)((chunk * 37) % 64);
}

static void record_local(void *ud, uint64_t chunk)
{
	uint64_t k = atomic_fetch_add(&nseq, 1);

	(void)ud;
	if (k < NCHUNKS)
		seq[k] = chunk;
}

static void test_priority(bool force_copy, bool sequential)
{
	struct ms_map_opts mo = { .opts_size = sizeof(mo), .path = force_copy ? MS_MAP_PATH_COPY : MS_MAP_PATH_ZERO_COPY, .prefetch_threads = 1,
				  .priority = sequential ? NULL : prio_fn,
				  .on_local = record_local };
	const char *path = force_copy ? "copy" : "zero-copy";
	uint64_t k = 0, bad = 0;
	ms_map *m;

	atomic_store(&nseq, 0);
	m = map_it("r1", &mo);
	if (!ok(m != NULL, "%s: map with a %s order", path,
		sequential ? "sequential" : "priority"))
		return;
	is_int(ms_map_wait(m, 20000), 0, "%s: wait", path);
	is_int(atomic_load(&nseq), NCHUNKS, "%s: every chunk reported once", path);
	/* expected: priority descending, ties by ascending index */
	for (int64_t p = sequential ? 0 : 63; p >= 0; p--)
		for (uint64_t c = 0; c < NCHUNKS; c++)
			if (sequential || prio_fn(NULL, c) == p)
				bad += seq[k++] != c;
	is_int(bad, 0, "%s: chunks became local in the %s order", path,
	       sequential ? "sequential" : "priority");
	ok(memcmp(ms_map_addr(m), mem, SIZE) == 0, "%s: content", path);
	ms_map_close(m);
}

/* -------------------------------------------- concurrent faults */

struct toucher {
	ms_map *m;
	int id;
	int bad;
};

static void *touch_main(void *arg)
{
	struct toucher *t = arg;
	uint8_t *a = ms_map_addr(t->m);

	/* thread t reads chunks [16t, 16t+32) (overlapping its neighbour's),
	 * page by page, forwards or backwards */
	for (int k = 0; k < 32 * (int)(CHUNK / 4096); k++) {
		int kk = t->id & 1 ? 32 * (int)(CHUNK / 4096) - 1 - k : k;
		uint64_t off = (uint64_t)t->id * 16 * CHUNK + (uint64_t)kk * 4096;

		if (memcmp(a + off, mem + off, 4096))
			t->bad++;
	}
	return NULL;
}

static void test_concurrent(bool force_copy)
{
	struct ms_map_opts mo = { .opts_size = sizeof(mo), .no_prefetch = true, .path = force_copy ? MS_MAP_PATH_COPY : MS_MAP_PATH_ZERO_COPY,
				  .fault_threads = 3 };
	const char *path = force_copy ? "copy" : "zero-copy";
	struct toucher t[4];
	pthread_t th[4];
	int bad = 0;
	ms_map *m = map_it("r1", &mo);

	if (!ok(m != NULL, "%s: map for concurrent faults", path))
		return;
	for (int i = 0; i < 4; i++) {
		t[i] = (struct toucher){ m, i, 0 };
		pthread_create(&th[i], NULL, touch_main, &t[i]);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		bad += t[i].bad;
	}
	is_int(bad, 0, "%s: 4 threads on overlapping chunks read the right bytes", path);
	is_int(nlocal(m), 3 * 16 + 32, "%s: each chunk fetched once (80 local)", path);
	ms_map_close(m);
}

/* ------------------------------------------------- failure: SIGBUS */

static sigjmp_buf jb;

static void on_sigbus(int sig)
{
	(void)sig;
	siglongjmp(jb, 1);
}

/* In-process: the server goes away, an absent chunk raises SIGBUS (caught
 * here), the error is reported: at once without reconnection (rc_ms
 * MS_MAP_NO_RECONNECT, today's behaviour), or once reconnecting for rc_ms
 * found nobody. */
static void test_failure_reported(bool force_copy, int rc_ms)
{
	const char *path = force_copy ? "copy" : "zero-copy";
	struct ms_map_opts mo = { .opts_size = sizeof(mo), .no_prefetch = true, .path = force_copy ? MS_MAP_PATH_COPY : MS_MAP_PATH_ZERO_COPY,
				  .reconnect_timeout_ms = rc_ms };
	char not_back[64];
	struct sigaction sa = { .sa_handler = on_sigbus }, old;
	struct fx_server g;
	uint8_t *smem;
	volatile int got_bus = 0;
	volatile uint8_t v = 0;
	ms_map *m;
	uint8_t *a;

	side_server_up(&g, "gone");
	smem = g.mem[0];
	m = map_at(g.port, "gone", &mo);
	if (!ok(m != NULL, "%s: map a region that will go away", path)) {
		fx_server_down(&g);
		return;
	}
	a = ms_map_addr(m);
	ok(memcmp(a, smem, CHUNK) == 0, "%s: chunk 0 arrives", path);
	uint8_t b100 = smem[100];

	fx_server_down(&g);       /* unmaps smem */
	sigaction(SIGBUS, &sa, &old);
	if (sigsetjmp(jb, 1) == 0)
		v = a[10 * CHUNK];
	else
		got_bus = 1;
	sigaction(SIGBUS, &old, NULL);
	(void)v;
	ok(got_bus, "%s: touching an absent chunk after the server died: SIGBUS", path);
	ok(a[100] == b100, "%s: the local chunk is still readable", path);
	int ret = ms_map_wait(m, 1000);
	ok(ret < 0 && ret != -ETIMEDOUT, "%s: ms_map_wait reports the failure (%d)", path,
	   ret);
	ok(strstr(ms_map_errmsg(m), "chunk 10") != NULL, "%s: message: %s", path,
	   ms_map_errmsg(m));
	snprintf(not_back, sizeof(not_back), "not back within %d ms", rc_ms);
	if (rc_ms < 0)
		ok(!strstr(ms_map_errmsg(m), "reconnect"), "%s: no reconnection tried", path);
	else
		ok(strstr(ms_map_errmsg(m), not_back) != NULL,
		   "%s: it failed after trying to reconnect for %d ms", path, rc_ms);
	ms_map_close(m);
}

/* ---------------------------------------------- reconnection: restarts */

struct restart {
	struct fx_server *g;
	char port[8];
	uint64_t seed;
};

/* A server of region "back" (4 MiB) on port, its bytes from seed. */
static void back_up(struct fx_server *g, const char *port, uint64_t seed)
{
	const struct fx_region reg = { .name = "back", .size = 4 * MiB, .chunk_size = CHUNK,
				       .no_mlock = true };

	memset(g, 0, sizeof(*g));
	g->want_port = port;
	fx_server_up_with(g, &reg, 1, seed);
}

static void *restart_main(void *arg)
{
	struct restart *r = arg;

	usleep(200 * 1000);
	back_up(r->g, r->port, r->seed);
	return NULL;
}

/*
 * The server of a lazy mapping stops and comes back on the same port.
 * First serving the same bytes, 200 ms later, while the application reads
 * chunks it never touched: the reads wait and see the right bytes.  Then
 * (stopped again) with chunk 5, which the mapping holds, rewritten and
 * committed: touching an absent chunk reconnects, the mapping drops chunk
 * 5 (exactly it) and reads its new bytes.  Then a third time under
 * ms_map_refresh(), which reconnects its own connection and counts the
 * chunks dropped.
 */
static void test_restart(bool force_copy)
{
	struct ms_map_opts mo = { .opts_size = sizeof(mo), .no_prefetch = true, .path = force_copy ? MS_MAP_PATH_COPY : MS_MAP_PATH_ZERO_COPY,
				  .reconnect_timeout_ms = 20000 };
	const char *path = force_copy ? "copy" : "zero-copy";
	uint64_t half = 2 * MiB, seed = f.rng, changed = 99;
	uint8_t *want = malloc(4 * MiB);
	struct fx_server g;
	struct restart rs = { .g = &g, .seed = seed };
	volatile uint8_t v;
	pthread_t th;
	ms_map *m;
	uint8_t *a;

	side_server_up(&g, "back");
	memcpy(want, g.mem[0], 4 * MiB);
	snprintf(rs.port, sizeof(rs.port), "%s", g.port);
	m = map_at(g.port, "back", &mo);
	if (!ok(m != NULL, "%s, restart: map opened", path)) {
		fx_server_down(&g);
		free(want);
		return;
	}
	a = ms_map_addr(m);
	ok(memcmp(a, want, CHUNK) == 0 && memcmp(a + 5 * CHUNK, want + 5 * CHUNK, CHUNK) == 0,
	   "%s, restart: chunks 0 and 5 local before the server stops", path);
	fx_server_down(&g);
	pthread_create(&th, NULL, restart_main, &rs);
	ok(memcmp(a + CHUNK, want + CHUNK, half - CHUNK) == 0,
	   "%s, restart: chunks faulted while the server was away and after it came back "
	   "equal the region byte for byte", path);
	pthread_join(th, NULL);
	is_int(nlocal(m), half / CHUNK, "%s, restart: the first half is local", path);
	is_str(ms_map_errmsg(m), "", "%s, restart: no failure", path);

	fx_server_down(&g);
	back_up(&g, rs.port, seed);
	memset(g.mem[0] + 5 * CHUNK, 0xa5, CHUNK);
	ok(ms_export_commit(g.e[0], 5 * CHUNK, CHUNK) == 0,
	   "%s, restart: the new server changes chunk 5 (a new generation)", path);
	v = a[half + 3 * CHUNK];
	ok(v == want[half + 3 * CHUNK] && nlocal(m) == half / CHUNK,
	   "%s, restart: touching an absent chunk reconnected and dropped exactly chunk 5 "
	   "(%llu local)", path, (unsigned long long)nlocal(m));
	ok(a[5 * CHUNK] == 0xa5 && a[6 * CHUNK - 1] == 0xa5,
	   "%s, restart: chunk 5 reads its new bytes", path);
	ok(memcmp(a, g.mem[0], 4 * MiB) == 0, "%s, restart: the mapping equals the new server",
	   path);

	/* a refresh reconnects its own connection: opened here, before a
	 * third server, whose chunk 5 is the first bytes again and chunk 6
	 * new */
	ok(ms_map_refresh(m, &changed) == 0 && changed == 0,
	   "%s, restart: a refresh (its connection opened) finds nothing changed", path);
	fx_server_down(&g);
	back_up(&g, rs.port, seed);
	memset(g.mem[0] + 6 * CHUNK, 0x5a, CHUNK);
	ok(ms_export_commit(g.e[0], 6 * CHUNK, CHUNK) == 0,
	   "%s, restart: a third server, chunk 6 changed", path);
	is_int(ms_map_refresh(m, &changed), 0, "%s, restart: the next refresh reconnects%s%s",
	       path, ms_map_errmsg(m)[0] ? ": " : "", ms_map_errmsg(m));
	is_int(changed, 2, "%s, restart: and drops exactly chunks 5 and 6", path);
	ok(memcmp(a, g.mem[0], 4 * MiB) == 0, "%s, restart: the mapping equals the third server",
	   path);
	ms_map_close(m);
	fx_server_down(&g);
	free(want);
}

/* Before any thread exists: a server in one child, a mapper in another;
 * the server is killed; the mapper touches an absent chunk and must die of
 * SIGBUS within a bounded time. */
static void test_sigbus_child(bool force_copy, bool no_poison)
{
	const char *what = no_poison ? "no UFFDIO_POISON" : force_copy ? "copy" : "zero-copy";
	int p_port[2], p_ready[2], p_go[2], st = 0;
	char pbuf[8] = "";
	pid_t srv, cli;
	struct pollfd pf;

	if (pipe(p_port) || pipe(p_ready) || pipe(p_go))
		tap_bail("pipe");
	fflush(stdout);
	srv = fork();
	if (srv == 0) {
		struct fx_server g;

		side_server_up(&g, "doomed");
		snprintf(pbuf, sizeof(pbuf), "%s", g.port);
		if (write(p_port[1], pbuf, sizeof(pbuf)) != sizeof(pbuf))
			_exit(2);
		pause();
		_exit(0);
	}
	pf = (struct pollfd){ .fd = p_port[0], .events = POLLIN };
	if (poll(&pf, 1, 10000) != 1 || read(p_port[0], pbuf, sizeof(pbuf)) != sizeof(pbuf))
		tap_bail("server child did not start");
	cli = fork();
	if (cli == 0) {
		struct ms_client_opts co = { .opts_size = sizeof(co), .transport = MS_TRANSPORT_TCP, .timeout_ms = 5000 };
		struct ms_map_opts mo = { .opts_size = sizeof(mo), .no_prefetch = true, .path = force_copy ? MS_MAP_PATH_COPY : MS_MAP_PATH_ZERO_COPY,
					  .reconnect_timeout_ms = 300 };
		struct sigaction dfl = { .sa_handler = SIG_DFL };
		char err[256], c = 0;
		ms_map *m;
		volatile uint8_t *a;

		sigaction(SIGBUS, &dfl, NULL);
		alarm(20);    /* a hang dies of SIGALRM, not SIGBUS */
		if (no_poison)
			setenv("MEMSYNC_MAP_NO_POISON", "1", 1);
		m = ms_map_open("127.0.0.1", pbuf, "doomed", &co, &mo, err, sizeof(err));
		if (!m)
			_exit(3);
		a = ms_map_addr(m);
		(void)a[0];
		if (write(p_ready[1], "r", 1) != 1 || read(p_go[0], &c, 1) != 1)
			_exit(4);
		(void)a[20 * CHUNK + 8];
		_exit(5);     /* must not get here */
	}
	pf = (struct pollfd){ .fd = p_ready[0], .events = POLLIN };
	char c;
	bool ready = poll(&pf, 1, 10000) == 1 && read(p_ready[0], &c, 1) == 1;

	ok(ready, "%s: child mapped the region and read chunk 0", what);
	kill(srv, SIGKILL);
	waitpid(srv, NULL, 0);
	if (write(p_go[1], "g", 1) != 1)
		diag("write to the child failed");
	pid_t got = 0;

	for (int i = 0; i < 300 && got == 0; i++) {
		got = waitpid(cli, &st, WNOHANG);
		if (!got)
			usleep(50000);
	}
	if (!got) {
		kill(cli, SIGKILL);
		waitpid(cli, &st, 0);
	}
	ok(got == cli && WIFSIGNALED(st) && WTERMSIG(st) == SIGBUS,
	   "%s: the child died of SIGBUS after the server was killed (status %#x%s)",
	   what, st, got ? "" : ", hung");
	for (int i = 0; i < 2; i++) {
		close(p_port[i]);
		close(p_ready[i]);
		close(p_go[i]);
	}
}

/* ------------------------------- pulls into a buffer registered once */

static void test_mem_register(void)
{
	struct ms_client_opts co = { .opts_size = sizeof(co), .transport = MS_TRANSPORT_TCP };
	char err[256];
	ms_client *c = ms_connect("127.0.0.1", f.port, &co, err, sizeof(err));
	ms_region *r = c ? ms_open(c, "r1", MS_MODE_READ) : NULL;
	uint8_t *buf = malloc(4 * CHUNK), *other = malloc(CHUNK);
	ms_mem *reg;

	if (!ok(r != NULL, "ms_mem: connect and open")) {
		ms_disconnect(c);
		free(buf);
		free(other);
		return;
	}
	ok(ms_mem_register(c, NULL, 10) == NULL && errno == EINVAL, "ms_mem: NULL: EINVAL");
	reg = ms_mem_register(c, buf, 4 * CHUNK);
	ok(reg != NULL, "ms_mem: register a 256 KiB buffer");
	ok(ms_pull(r, 7 * CHUNK, buf + CHUNK, 2 * CHUNK, NULL, NULL) == 0 &&
	   memcmp(buf + CHUNK, mem + 7 * CHUNK, 2 * CHUNK) == 0,
	   "ms_mem: pull into the middle of the registration");
	ok(ms_pull(r, 0, buf, 4 * CHUNK, NULL, NULL) == 0 &&
	   memcmp(buf, mem, 4 * CHUNK) == 0, "ms_mem: pull into all of it");
	ok(ms_pull(r, 3 * CHUNK, other, CHUNK, NULL, NULL) == 0 &&
	   memcmp(other, mem + 3 * CHUNK, CHUNK) == 0,
	   "ms_mem: a pull outside it registers per call as before");
	ms_mem_unregister(reg);
	ok(ms_pull(r, 9 * CHUNK, buf, CHUNK, NULL, NULL) == 0 &&
	   memcmp(buf, mem + 9 * CHUNK, CHUNK) == 0, "ms_mem: pull after unregister");
	ok(ms_mem_register(c, buf, CHUNK) != NULL, "ms_mem: a registration left to ms_disconnect");
	ms_disconnect(c);   /* frees it (ASan checks for the leak) */
	free(buf);
	free(other);
}

/* ------------------------------------------------------- bad input */

static void test_bad_args(void)
{
	char err[256];
	ms_map *m;

	m = ms_map_open("127.0.0.1", f.port, "nope", NULL, NULL, err, sizeof(err));
	ok(!m && errno == ENOENT, "unknown region: NULL, ENOENT");
	ok(strstr(err, "unknown region 'nope'") != NULL, "message: %s", err);
	m = ms_map_open("127.0.0.1", f.port, NULL, NULL, NULL, err, sizeof(err));
	ok(!m && errno == EINVAL && strstr(err, "invalid region name"), "NULL region: %s",
	   err);
	m = ms_map_open(NULL, f.port, "r1", NULL, NULL, err, sizeof(err));
	ok(!m && errno == EINVAL && strstr(err, "invalid server address"),
	   "NULL host: %s", err);
	m = ms_map_open("127.0.0.1", f.port, "../x", NULL, NULL, err, sizeof(err));
	ok(!m && errno == EINVAL, "bad region name: %s", err);
	m = ms_map_open("127.0.0.1", "1", "r1", NULL, NULL, err, sizeof(err));
	ok(!m && errno == ECONNREFUSED && *err, "nobody listening: %s", err);
	{
		struct ms_map_opts bad = { .opts_size = sizeof(bad), .path = (enum ms_map_path)7 };

		m = ms_map_open("127.0.0.1", f.port, "r1", NULL, &bad, err, sizeof(err));
		ok(!m && errno == EINVAL && strstr(err, "unknown map path"),
		   "a map path that is none of the three: %s", err);
	}
	/* over TCP the receive copies anyway: anonymous pages by default */
	m = ms_map_open("127.0.0.1", f.port, "r1", NULL, NULL, err, sizeof(err));
	ok(m && !ms_map_zero_copy(m), "over TCP the default is the copy path");
	ms_map_close(m);
	ms_map_close(NULL);
}

/* ---------------------------------------------------- hot-chunk list */

/* The server's hot list: chunks gain heat from the application's uses
 * (ms_export_touch), clients' reports (ms_touch_chunks, and a lazy
 * mapping's use report at close) and commits; a mapping with hot_first
 * prefetches them first. */
static void test_hot(ms_server *s)
{
	struct ms_export_opts eo = { .opts_size = sizeof(eo), .name = "hot", .size = SIZE, .chunk_size = CHUNK,
				     .no_mlock = true };
	struct ms_client_opts co = { .opts_size = sizeof(co), .transport = MS_TRANSPORT_TCP, .timeout_ms = 5000 };
	struct ms_map_opts mo = { .opts_size = sizeof(mo), .prefetch_threads = 1, .hot_first = true,
				  .on_local = record_local };
	struct ms_map_opts lazy = { .opts_size = sizeof(lazy), .no_prefetch = true };
	uint64_t hot[16], three[3] = { 3, 3, 3 }, bad[2] = { 1, NCHUNKS };
	static uint8_t zero[CHUNK];
	uint8_t one = 1;
	size_t n = 99;
	char err[256];
	ms_export *e = ms_server_add_region(s, &eo);
	ms_client *c = ms_connect("127.0.0.1", f.port, &co, err, sizeof(err));
	ms_region *r = c ? ms_open(c, "hot", MS_MODE_WRITE) : NULL;
	uint64_t k = 0, misplaced = 0;
	int rc;
	ms_map *m;

	if (!ok(e && r, "hot: region and a writer%s%s", c ? "" : ": ", c ? "" : err))
		goto out;
	ok(ms_hot_chunks(r, hot, 16, &n) == 0 && n == 0, "hot: a fresh region has no hot chunk");
	is_int(ms_hot_chunks(r, hot, 0, &n), -EINVAL, "hot: max 0 is EINVAL");
	ok(ms_export_touch(e, 9 * (uint64_t)CHUNK + 5, 1) == 0 &&
		   ms_export_touch(e, 9 * (uint64_t)CHUNK, CHUNK) == 0 &&
		   ms_export_touch(e, 5 * (uint64_t)CHUNK, CHUNK) == 0,
	   "hot: the application reports its uses");
	is_int(ms_export_touch(e, SIZE, 1), -ERANGE, "hot: a use outside the region is ERANGE");
	is_int(ms_touch_chunks(r, three, 3), 0, "hot: a client reports chunk 3 three times");
	is_int(ms_touch_chunks(r, bad, 2), -ERANGE, "hot: a report naming chunk %llu is ERANGE",
	       (unsigned long long)NCHUNKS);
	/* a commit counts too: chunk 7 */
	ok(ms_write(r, 7 * (uint64_t)CHUNK + 100, &one, 1, NULL, NULL) == 0 && ms_sync(r) == 0,
	   "hot: a writer commits a byte of chunk 7");
	rc = ms_hot_chunks(r, hot, 16, &n);
	ok(rc == 0 && n == 4 && hot[0] == 3 && hot[1] == 9 && hot[2] == 5 && hot[3] == 7,
	   "hot: the list is 3 (3 uses), 9 (2), 5 and 7 (1 each, by index): %zu entries, "
	   "%llu %llu %llu %llu", n, (unsigned long long)hot[0], (unsigned long long)hot[1],
	   (unsigned long long)hot[2], (unsigned long long)hot[3]);
	ok(ms_hot_chunks(r, hot, 2, &n) == 0 && n == 2 && hot[0] == 3 && hot[1] == 9,
	   "hot: max caps the list at the hottest");
	ms_close(r);    /* the lease goes: a writable mapping below takes it */
	r = NULL;
	{
		struct ms_map_opts wo = { .opts_size = sizeof(wo), .writable = true, .no_prefetch = true };

		m = ms_map_open("127.0.0.1", f.port, "hot", NULL, &wo, err, sizeof(err));
		ok(m != NULL, "hot: a writable mapping with default client options%s%s",
		   m ? "" : ": ", m ? "" : err);
		ms_map_close(m);
	}
	r = ms_open(c, "hot", MS_MODE_READ);
	if (!ok(r != NULL, "hot: reopened for reading"))
		goto out;

	/* a mapping that prefetches the hot chunks first */
	atomic_store(&nseq, 0);
	m = map_it("hot", &mo);
	if (ok(m != NULL, "hot: map with hot_first")) {
		is_int(ms_map_wait(m, 20000), 0, "hot: wait");
		ok(atomic_load(&nseq) == NCHUNKS && seq[0] == 3 && seq[1] == 9 && seq[2] == 5 &&
			   seq[3] == 7,
		   "hot: the hot chunks became local first, hottest first (%llu %llu %llu %llu)",
		   (unsigned long long)seq[0], (unsigned long long)seq[1],
		   (unsigned long long)seq[2], (unsigned long long)seq[3]);
		for (uint64_t c2 = 0, i = 4; c2 < NCHUNKS; c2++) {
			if (c2 == 3 || c2 == 9 || c2 == 5 || c2 == 7)
				continue;
			misplaced += seq[i++] != c2;
		}
		is_int(misplaced, 0, "hot: then the rest in index order");
		ms_map_close(m);
	}

	/* a lazy mapping reports what it faulted when it closes */
	m = map_it("hot", &lazy);
	if (ok(m != NULL, "hot: a lazy mapping without prefetch")) {
		const volatile uint8_t *a = ms_map_addr(m);

		k = a[12 * (uint64_t)CHUNK] + a[11 * (uint64_t)CHUNK + 7];
		ok(k == 0 && memcmp((const uint8_t *)a + 12 * (uint64_t)CHUNK, zero, CHUNK) == 0,
		   "hot: it touched chunks 12 and 11");
		ms_map_close(m);
	}
	rc = ms_hot_chunks(r, hot, 16, &n);
	ok(rc == 0 && n == 6 && hot[4] == 11 && hot[5] == 12,
	   "hot: after its close the list also holds 11 and 12 (%zu entries)", n);
out:
	ms_disconnect(c);
}

int main(void)
{
	/* the fork tests first, while this process has no thread */
	test_sigbus_child(false, false);
	test_sigbus_child(true, false);
	test_sigbus_child(false, true);

	fx_server_up(&f, &r1, 1, 0x2545f4914f6cdd1dull);
	mem = f.mem[0];

	test_bad_args();
	test_mem_register();
	for (int fc = 0; fc < 2; fc++) {
		test_no_prefetch(fc);
		test_concurrent(fc);
		test_prefetch(fc, 1);
		test_priority(fc, false);
		test_failure_reported(fc, MS_MAP_NO_RECONNECT);
		test_failure_reported(fc, 300);
		test_restart(fc);
	}
	test_prefetch(false, 3);
	test_priority(false, true);
	test_hot(f.s);

	fx_server_down(&f);
	return tap_done();
}
