/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fixture.h - the engine test fixture (header only): a real server on
 * 127.0.0.1 port 0 with named regions filled from a seeded xorshift,
 * clients connected to it, a count of open descriptors, and a log
 * callback that keeps the server's warnings so a test can assert them;
 * and the two seeded generators the unit tests draw from (fx_next,
 * fx_next_star).
 *
 *   static const struct fx_region regs[] = { { "r1", 8 << 20, 64 << 10 } };
 *   struct fx_server f;
 *
 *   fx_server_up(&f, regs, 1, FX_SEED);      // bails out when it cannot
 *   ms_client *c = fx_connect(&f, NULL);
 *   ...                                      // f.e[0], f.mem[0], f.port
 *   is_int(fx_warnings(&f), 0, "no server warnings");
 *   fx_server_down(&f);
 *
 * The server is TCP unless f.transport is set to something else before
 * fx_server_up_with() (the RDMA tests set MS_TRANSPORT_RDMA and their own
 * host), on a free port unless f.want_port is set (a server restarted on
 * the port an earlier one had: the listener uses SO_REUSEADDR).  Include
 * tap.h first.
 */
#ifndef MS_TEST_FIXTURE_H
#define MS_TEST_FIXTURE_H

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memsync.h"

#define FX_MAX_REGIONS 8
#define FX_SEED 0x9e3779b97f4a7c15ull

struct fx_region {
	const char *name;
	uint64_t size;
	uint32_t chunk_size; /* 0 = the default */
	bool no_mlock;
	enum ms_commit_mode commit; /* MS_COMMIT_ATOMIC (0) by default */
};

struct fx_server {
	/* set before fx_server_up_with(), or left zero for the defaults */
	enum ms_transport_kind transport; /* AUTO (0) means TCP here */
	const char *host;                 /* NULL = 127.0.0.1 */
	unsigned lease_ttl_ms;            /* 0 = 60 s: tests that hold a write
					   * lease idle on a loaded machine
					   * must not lose it; lease tests set
					   * their own */
	const char *want_port;            /* NULL = any free port (a server
					   * restarted on a port it had) */
	/* filled by fx_server_up() */
	ms_server *s;
	char port[8];
	size_t n;
	ms_export *e[FX_MAX_REGIONS];
	uint8_t *mem[FX_MAX_REGIONS];
	uint64_t rng;                     /* the fill stream, after the fill */
	/* the server's log: entries at MS_LOG_WARN or worse */
	atomic_int warnings;
	pthread_mutex_t lk;
	char last_warning[256];
};

/* xorshift64: the same seed gives the same bytes. */
__attribute__((unused)) static uint64_t fx_next(uint64_t *state)
{
	uint64_t x = *state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *state = x;
}

/* xorshift64*: another fixed sequence, for tests that draw numbers
 * rather than fill regions. */
__attribute__((unused)) static uint64_t fx_next_star(uint64_t *state)
{
	uint64_t x = *state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * 0x2545f4914f6cdd1dull;
}

/* Fill p (len bytes; a tail shorter than 8 bytes too) from *state. */
__attribute__((unused)) static void fx_fill(void *p, size_t len, uint64_t *state)
{
	uint8_t *b = p;
	size_t i;

	for (i = 0; i + 8 <= len; i += 8) {
		uint64_t v = fx_next(state);

		memcpy(b + i, &v, 8);
	}
	if (i < len) {
		uint64_t v = fx_next(state);

		memcpy(b + i, &v, len - i);
	}
}

/* Open file descriptors of this process. */
__attribute__((unused)) static int fx_count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int n = 0;

	if (!d)
		tap_bail("opendir /proc/self/fd: %s", strerror(errno));
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1; /* the directory's own descriptor */
}

__attribute__((unused)) static void fx_log_cb(void *ud, enum ms_log_level lvl, const char *msg)
{
	struct fx_server *f = ud;

	if (lvl > MS_LOG_WARN)
		return;
	atomic_fetch_add(&f->warnings, 1);
	pthread_mutex_lock(&f->lk);
	snprintf(f->last_warning, sizeof(f->last_warning), "%s", msg);
	pthread_mutex_unlock(&f->lk);
	diag("server: %s", msg);
}

/* Warnings (and errors) the server logged so far. */
__attribute__((unused)) static int fx_warnings(struct fx_server *f)
{
	return atomic_load(&f->warnings);
}

/* The last of them ("" if none), copied into buf. */
__attribute__((unused)) static const char *fx_last_warning(struct fx_server *f, char *buf,
							   size_t len)
{
	pthread_mutex_lock(&f->lk);
	snprintf(buf, len, "%s", f->last_warning);
	pthread_mutex_unlock(&f->lk);
	return buf;
}

/* Create the server (f->transport, f->host), add the n regions, fill each
 * from a xorshift stream seeded with seed (in order: region 0 first),
 * commit them and start serving.  Bails out of the test on any failure. */
__attribute__((unused)) static void fx_server_up_with(struct fx_server *f,
						     const struct fx_region *regs, size_t n,
						     uint64_t seed)
{
	struct ms_server_opts so = {
		.opts_size = sizeof(so),
		.host = f->host ? f->host : "127.0.0.1",
		.port = f->want_port ? f->want_port : "0",
		.transport = f->transport ? f->transport : MS_TRANSPORT_TCP,
		.log = fx_log_cb,
		.log_ud = f,
		.lease_ttl_ms = f->lease_ttl_ms ? f->lease_ttl_ms : 60000,
		/* tests listen on loopback, or inside the soft-RoCE guest */
		.insecure = true,
	};
	char err[256];
	int ret;

	if (n > FX_MAX_REGIONS)
		tap_bail("fixture: at most %d regions", FX_MAX_REGIONS);
	f->n = 0;
	f->rng = seed;
	atomic_init(&f->warnings, 0);
	f->last_warning[0] = '\0';
	pthread_mutex_init(&f->lk, NULL);
	f->s = ms_server_create(&so, err, sizeof(err));
	if (!f->s)
		tap_bail("fixture: server: %s", err);
	for (size_t i = 0; i < n; i++) {
		struct ms_export_opts eo = { .opts_size = sizeof(eo), .name = regs[i].name,
					     .size = regs[i].size,
					     .chunk_size = regs[i].chunk_size,
					     .no_mlock = regs[i].no_mlock,
					     .commit = regs[i].commit };

		f->e[i] = ms_server_add_region(f->s, &eo);
		if (!f->e[i])
			tap_bail("fixture: add region %s: %s", regs[i].name,
				 ms_server_errmsg(f->s));
		f->mem[i] = ms_export_mem(f->e[i]);
		fx_fill(f->mem[i], regs[i].size, &f->rng);
		ret = ms_export_commit(f->e[i], 0, regs[i].size);
		if (ret)
			tap_bail("fixture: commit of %s: %d (%s)", regs[i].name, ret,
				 ms_server_errmsg(f->s));
		f->n++;
	}
	ret = ms_server_start(f->s);
	if (ret)
		tap_bail("fixture: server start: %d (%s)", ret, ms_server_errmsg(f->s));
	snprintf(f->port, sizeof(f->port), "%u", ms_server_port(f->s));
}

/* A TCP server on 127.0.0.1, port 0. */
__attribute__((unused)) static void fx_server_up(struct fx_server *f,
						const struct fx_region *regs, size_t n,
						uint64_t seed)
{
	memset(f, 0, sizeof(*f));
	fx_server_up_with(f, regs, n, seed);
}

/* Connect a client (with a fixed client id when id is not NULL); NULL
 * with a diagnostic when the connection fails. */
__attribute__((unused)) static ms_client *fx_connect(const struct fx_server *f,
						    const uint8_t *id)
{
	struct ms_client_opts o = { .opts_size = sizeof(o),
				    .transport = f->transport ? f->transport : MS_TRANSPORT_TCP,
				    .timeout_ms = 10000 };
	char err[256];
	ms_client *c;

	if (id) {
		o.have_client_id = true;
		memcpy(o.client_id, id, 16);
	}
	c = ms_connect(f->host ? f->host : "127.0.0.1", f->port, &o, err, sizeof(err));
	if (!c) {
		int e = errno;

		diag("connect: %s", err);
		errno = e;
	}
	return c;
}

/* Stop and free the server (again: nothing). */
__attribute__((unused)) static void fx_server_down(struct fx_server *f)
{
	if (!f->s)
		return;
	ms_server_destroy(f->s);
	f->s = NULL;
	pthread_mutex_destroy(&f->lk);
}

/* What the server says of region name: commit messages accepted, its
 * generation, bytes named by accepted commits (all 0 when the stat
 * fails). */
struct fx_counts {
	uint64_t commits, generation, committed;
};

static inline struct fx_counts fx_counts(ms_server *s, const char *name)
{
	struct ms_region_stat *st = NULL;
	struct fx_counts k = { 0 };
	size_t n = 0;

	if (ms_server_stat(s, name, &st, &n) == 0 && n == 1)
		k = (struct fx_counts){ st[0].commits, st[0].generation, st[0].bytes_committed };
	free(st);
	return k;
}

#endif /* MS_TEST_FIXTURE_H */
