/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_unexport.c - ms_server_unexport(): an idle region is removed while
 * the server runs (an OPEN then finds an unknown region, the name can be
 * used again), a region open by a reader or leased by a writer is refused
 * with -EBUSY and stays whole; and removals racing with a client that
 * opens, pulls and closes the region over and over: every removal either
 * removes or is refused, every open either opens (and pulls the right
 * bytes) or finds no region.  The window this guards (an OPEN between its
 * lookup and counting itself as a client, server_int.h) is too narrow to
 * hit on purpose; the sanitizer build reports it when a run does.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memsync.h"
#include "tap.h"

#define SIZE (256u << 10)
#define CHUNK (64u << 10)
#define RACE_OPENS 300
#define RACE_REMOVALS 200

static char port[8];

static void fill(uint8_t *p, size_t n, uint8_t seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(seed + i * 7 + (i >> 12));
}

static ms_export *add(ms_server *s, const char *name, uint64_t size, uint8_t seed)
{
	struct ms_export_opts eo = { .opts_size = sizeof(eo), .name = name, .size = size,
				     .chunk_size = CHUNK };
	ms_export *e = ms_server_add_region(s, &eo);

	if (!e)
		tap_bail("add %s: %s", name, ms_server_errmsg(s));
	fill(ms_export_mem(e), size, seed);
	if (ms_export_commit(e, 0, size))
		tap_bail("commit %s", name);
	return e;
}

/* A region whose bytes are in place before it is listed: a racing OPEN
 * can find it the moment ms_server_add_region lists it. */
static void *user_bufs[RACE_REMOVALS + 1];
static int nuser;

static void add_filled(ms_server *s, const char *name, uint64_t size, uint8_t seed)
{
	struct ms_export_opts eo = { .opts_size = sizeof(eo), .name = name, .size = size,
				     .chunk_size = CHUNK, .backing = MS_BACKING_USER };

	if (nuser == (int)(sizeof(user_bufs) / sizeof(user_bufs[0])) ||
	    posix_memalign(&user_bufs[nuser], 4096, size))
		tap_bail("user memory");
	eo.user_mem = user_bufs[nuser++];
	fill(eo.user_mem, size, seed);
	if (!ms_server_add_region(s, &eo))
		tap_bail("add %s: %s", name, ms_server_errmsg(s));
}

static ms_server *server(void)
{
	struct ms_server_opts so = { .opts_size = sizeof(so), .host = "127.0.0.1", .port = "0",
				     .transport = MS_TRANSPORT_TCP };
	char err[256];
	ms_server *s = ms_server_create(&so, err, sizeof(err));

	if (!s)
		tap_bail("server: %s", err);
	snprintf(port, sizeof(port), "%u", ms_server_port(s));
	return s;
}

static ms_client *client(void)
{
	char err[256];
	ms_client *c = ms_connect("127.0.0.1", port, NULL, err, sizeof(err));

	if (!c)
		tap_bail("connect: %s", err);
	return c;
}

static size_t nregions(ms_server *s)
{
	struct ms_region_stat *st;
	size_t n;

	if (ms_server_stat(s, NULL, &st, &n))
		tap_bail("ms_server_stat");
	free(st);
	return n;
}

static void test_rules(void)
{
	ms_server *s = server();
	uint8_t *want = malloc(SIZE), *got = malloc(SIZE);
	struct ms_region_info info;
	struct ms_region_stat *st;
	ms_region *r, *w;
	ms_client *c;
	size_t n;

	if (!want || !got)
		tap_bail("malloc");
	add(s, "a", SIZE, 1);
	add(s, "b", SIZE, 2);
	add(s, "c", SIZE, 3);
	if (ms_server_start(s))
		tap_bail("start");
	is_int(ms_server_unexport(s, "nope"), -ENOENT, "an unknown region: -ENOENT");
	is_int(ms_server_unexport(s, NULL), -EINVAL, "no name: -EINVAL");

	c = client();
	r = ms_open(c, "a", MS_MODE_READ);
	w = ms_open(c, "b", MS_MODE_WRITE);
	if (!r || !w)
		tap_bail("open: %s", ms_client_errmsg(c));
	is_int(ms_server_unexport(s, "a"), -EBUSY, "a region open by a reader: -EBUSY");
	is_int(ms_server_unexport(s, "b"), -EBUSY, "a region leased by a writer: -EBUSY");
	is_int((int)nregions(s), 3, "both stay listed");
	fill(want, SIZE, 1);
	ok(ms_pull(r, 0, got, SIZE, NULL, NULL) == 0 && memcmp(got, want, SIZE) == 0,
	   "the refused region still serves its bytes");

	is_int(ms_server_unexport(s, "c"), 0, "an idle region is removed while running");
	ok(ms_server_stat(s, "c", &st, &n) == -ENOENT, "stat no longer knows it");
	is_int((int)nregions(s), 2, "two regions left");
	ok(ms_open(c, "c", MS_MODE_READ) == NULL && errno == ENOENT &&
	   strstr(ms_client_errmsg(c), "unknown region 'c'") != NULL,
	   "an OPEN of the removed region: unknown region (%s)", ms_client_errmsg(c));
	is_int(ms_server_unexport(s, "c"), -ENOENT, "removing it twice: -ENOENT");

	ms_close(r);
	ms_close(w);
	is_int(ms_server_unexport(s, "a"), 0, "once closed, the reader's region is removed");
	is_int(ms_server_unexport(s, "b"), 0, "once closed, the writer's region is removed");
	is_int((int)nregions(s), 0, "no region left");

	add(s, "a", 2 * SIZE, 9);
	r = ms_open(c, "a", MS_MODE_READ);
	ok(r != NULL, "the name can be exported again");
	if (r) {
		ms_region_info(r, &info);
		ok(info.size == 2 * SIZE, "the new export is the one served");
		fill(want, SIZE, 9);
		ok(ms_pull(r, 0, got, SIZE, NULL, NULL) == 0 && memcmp(got, want, SIZE) == 0,
		   "with its own bytes");
		ms_close(r);
	}
	ms_disconnect(c);
	ms_server_destroy(s);
	free(want);
	free(got);
}

/* ------------------------------------------------------------- the race */

struct racer {
	ms_client *c;
	int opened, unknown, bad_open, bad_bytes;
};

static void *race_opens(void *arg)
{
	struct racer *t = arg;
	uint8_t *want = malloc(CHUNK), *got = malloc(CHUNK);

	if (!want || !got)
		tap_bail("malloc");
	fill(want, CHUNK, 5);
	for (int i = 0; i < RACE_OPENS; i++) {
		ms_region *r = ms_open(t->c, "r", MS_MODE_READ);

		if (!r) {
			if (errno == ENOENT)
				t->unknown++;
			else
				t->bad_open++;
			continue;
		}
		t->opened++;
		/* open: it cannot be removed under us, and holds its bytes */
		if (ms_pull(r, 0, got, CHUNK, NULL, NULL) || memcmp(got, want, CHUNK))
			t->bad_bytes++;
		ms_close(r);
	}
	free(want);
	free(got);
	return NULL;
}

static void test_race(void)
{
	ms_server *s = server();
	struct racer t = { 0 };
	int removed = 0, busy = 0, other = 0, ret;
	pthread_t th;

	add(s, "r", SIZE, 5);
	if (ms_server_start(s))
		tap_bail("start");
	t.c = client();
	if (pthread_create(&th, NULL, race_opens, &t))
		tap_bail("pthread_create");
	for (int i = 0; i < RACE_REMOVALS; i++) {
		ret = ms_server_unexport(s, "r");
		if (ret == 0) {
			removed++;
			add_filled(s, "r", SIZE, 5);
		} else if (ret == -EBUSY) {
			busy++;
		} else {
			other++;
		}
	}
	pthread_join(th, NULL);
	is_int(other, 0, "racing removals: each one either removes (%d) or is refused (%d)",
	       removed, busy);
	is_int(t.bad_open, 0, "racing opens: each one opens (%d) or finds no region (%d)",
	       t.opened, t.unknown);
	is_int(t.bad_bytes, 0, "every open that succeeded pulled the region's bytes");
	is_int(t.opened + t.unknown, RACE_OPENS, "every open was answered");
	is_int(ms_server_unexport(s, "r"), 0, "once the client is done, the region is removed");
	ms_disconnect(t.c);
	ms_server_destroy(s);
}

int main(void)
{
	test_rules();
	test_race();
	for (int i = 0; i < nuser; i++)
		free(user_bufs[i]);
	return tap_done();
}
