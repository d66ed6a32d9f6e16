/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_admin.c - runtime administration against an in-process server
 * (server_admin.c): the clients of a region (ms_server_clients, and
 * ms_stat_clients over the wire) with their transport, mode, lease,
 * epoch and bytes; an operator's disconnect (ms_server_disconnect, and
 * ms_disconnect_client over the wire) of a writer holding the lease: its
 * next write fails, the lease is free for the next writer, the reader
 * goes on, nothing committed is lost; an unknown id is refused with
 * nothing changed; and with keys, what a read key may list and that it
 * may not disconnect anyone.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "memsync.h"
#include "tap.h"

#define SIZE (256u << 10)
#define CHUNK (64u << 10)
#define SECRET_A "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define SECRET_B "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"

static char port[8];
static char dir[] = "/tmp/ms-admin-XXXXXX";

static void fill(uint8_t *p, size_t n, uint8_t seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(seed + i * 13 + (i >> 10));
}

static ms_server *server(const char *keys)
{
	struct ms_server_opts so = { .opts_size = sizeof(so), .host = "127.0.0.1", .port = "0",
				     .transport = MS_TRANSPORT_TCP, .auth_keys = keys };
	const char *names[] = { "a", "b" };
	char err[256];
	ms_server *s = ms_server_create(&so, err, sizeof(err));

	if (!s)
		tap_bail("server: %s", err);
	for (int i = 0; i < 2; i++) {
		struct ms_export_opts eo = { .opts_size = sizeof(eo), .name = names[i],
					     .size = SIZE, .chunk_size = CHUNK };
		ms_export *e = ms_server_add_region(s, &eo);

		if (!e)
			tap_bail("add %s: %s", names[i], ms_server_errmsg(s));
		fill(ms_export_mem(e), SIZE, (uint8_t)(i + 1));
		if (ms_export_commit(e, 0, SIZE))
			tap_bail("commit %s", names[i]);
	}
	snprintf(port, sizeof(port), "%u", ms_server_port(s));
	if (ms_server_start(s))
		tap_bail("start");
	return s;
}

static ms_client *client(const char *key_file)
{
	struct ms_client_opts o = { .opts_size = sizeof(o), .transport = MS_TRANSPORT_TCP,
				    .key_file = key_file };
	char err[256];
	ms_client *c = ms_connect("127.0.0.1", port, &o, err, sizeof(err));

	if (!c)
		tap_bail("connect: %s", err);
	return c;
}

static const char *write_file(const char *name, const char *text)
{
	static char path[6][300];
	static int n;
	char *p = path[n++ % 6];
	int fd;

	snprintf(p, 300, "%s/%s", dir, name);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		tap_bail("write %s", p);
	close(fd);
	return p;
}

/* The entry of connection id in ci[0..n), or NULL. */
static const struct ms_client_info *find(const struct ms_client_info *ci, size_t n, uint64_t id)
{
	for (size_t i = 0; i < n; i++)
		if (ci[i].id == id)
			return &ci[i];
	return NULL;
}

/* How many clients region name has (bounded wait until it is want). */
static size_t wait_clients(ms_server *s, const char *name, size_t want)
{
	struct ms_client_info *ci;
	size_t n = (size_t)-1;

	for (int i = 0; i < 5000 && n != want; i++) {
		if (i)
			nanosleep(&(struct timespec){ .tv_nsec = 1000000 }, NULL);
		if (ms_server_clients(s, name, &ci, &n))
			tap_bail("ms_server_clients");
		ms_client_info_free(ci);
	}
	return n;
}

static void test_list_and_disconnect(void)
{
	ms_server *s = server(NULL);
	uint8_t *want = malloc(SIZE), *got = malloc(SIZE), *mine = malloc(SIZE);
	struct ms_region_info wi;
	struct ms_client_info *ci = NULL;
	const struct ms_client_info *we, *re;
	struct ms_region_stat *st;
	ms_client *cw = client(NULL), *cr = client(NULL), *adm = client(NULL), *c2;
	ms_region *w, *r, *w2;
	uint64_t wid, rid, wepoch;
	size_t n = 0;

	if (!want || !got || !mine)
		tap_bail("malloc");
	w = ms_open(cw, "a", MS_MODE_WRITE);
	r = ms_open(cr, "a", MS_MODE_READ);
	if (!w || !r)
		tap_bail("open");
	ms_region_info(w, &wi);
	fill(mine, SIZE, 9);
	if (ms_write(w, 0, mine, SIZE, NULL, NULL) || ms_sync(w))
		tap_bail("write: %s", ms_client_errmsg(cw));
	if (ms_pull(r, 0, got, SIZE, NULL, NULL))
		tap_bail("pull: %s", ms_client_errmsg(cr));

	is_int(ms_server_clients(s, "a", &ci, &n), 0, "ms_server_clients of a");
	is_int((int)n, 2, "a has two clients (the admin connection has nothing open)");
	we = ci && n == 2 ? (ci[0].mode == MS_MODE_WRITE ? &ci[0] : &ci[1]) : NULL;
	re = we ? (we == &ci[0] ? &ci[1] : &ci[0]) : NULL;
	if (!we || !re)
		tap_bail("no entries");
	wid = we->id;
	rid = re->id;
	wepoch = we->epoch;
	ok(wid && rid && wid != rid, "each connection has its own id (%llu, %llu)",
	   (unsigned long long)wid, (unsigned long long)rid);
	ok(we->mode == MS_MODE_WRITE && we->lease && we->epoch == wi.epoch,
	   "the writer: mode write, holds the lease at its epoch %llu",
	   (unsigned long long)wi.epoch);
	ok(re->mode == MS_MODE_READ && !re->lease && re->epoch == 0,
	   "the reader: mode read, no lease");
	ok(strcmp(we->transport, "tcp") == 0 && strcmp(re->transport, "tcp") == 0,
	   "both over tcp");
	ok(strncmp(we->address, "127.0.0.1:", 10) == 0 && strcmp(we->region, "a") == 0 &&
	   we->key[0] == '\0', "address, region, no key (%s)", we->address);
	is_int(we->bytes_written, SIZE, "the writer's connection wrote the region once");
	ok(re->bytes_read >= SIZE && re->bytes_written == 0,
	   "the reader's connection read at least the region (%llu bytes)",
	   (unsigned long long)re->bytes_read);
	ms_client_info_free(ci);

	is_int(ms_server_clients(s, "b", &ci, &n), 0, "ms_server_clients of b");
	is_int((int)n, 0, "b has none");
	ms_client_info_free(ci);
	is_int(ms_server_clients(s, "nope", &ci, &n), -ENOENT, "an unknown region: -ENOENT");

	/* over the wire */
	is_int(ms_stat_clients(adm, NULL, &ci, &n), 0, "ms_stat_clients of every region");
	ok(n == 2 && find(ci, n, wid) && find(ci, n, rid) && find(ci, n, wid)->lease,
	   "the same two, the writer with the lease");
	ms_client_info_free(ci);
	ok(ms_stat_clients(adm, "nope", &ci, &n) == -ENOENT &&
	   strstr(ms_client_errmsg(adm), "unknown region 'nope'"),
	   "over the wire, an unknown region: -ENOENT (%s)", ms_client_errmsg(adm));

	/* an unknown id: refused, nothing changes */
	ok(ms_disconnect_client(adm, 987654) == -ENOENT &&
	   strstr(ms_client_errmsg(adm), "no client 987654"),
	   "disconnect of an unknown id: -ENOENT (%s)", ms_client_errmsg(adm));
	is_int(ms_server_disconnect(s, 987655), -ENOENT, "ms_server_disconnect too");
	is_int((int)wait_clients(s, "a", 2), 2, "both clients are still there");

	/* the application disconnects the writer */
	is_int(ms_server_disconnect(s, wid), 0, "ms_server_disconnect of the writer");
	is_int(ms_server_clients(s, "a", &ci, &n), 0, "clients after it");
	ok(n == 1 && ci[0].id == rid, "only the reader is left");
	ms_client_info_free(ci);
	if (ms_server_stat(s, "a", &st, &n))
		tap_bail("stat");
	ok(st[0].lease.state == MS_LEASE_FREE && st[0].lease.epoch == wi.epoch,
	   "the lease is free (the last epoch %llu)", (unsigned long long)st[0].lease.epoch);
	free(st);
	fill(want, SIZE, 17);
	ok(ms_write(w, 0, want, SIZE, NULL, NULL) != 0 || ms_sync(w) != 0,
	   "the disconnected writer's next write fails (%s)", ms_client_errmsg(cw));
	ok(ms_pull(r, 0, got, SIZE, NULL, NULL) == 0 && memcmp(got, mine, SIZE) == 0,
	   "the reader goes on: the region is the writer's last commit, byte for byte");
	c2 = client(NULL);
	w2 = ms_open(c2, "a", MS_MODE_WRITE);
	ok(w2 != NULL, "another writer takes the lease (%s)", ms_client_errmsg(c2));
	if (w2) {
		ms_region_info(w2, &wi);
		ok(wi.epoch > wepoch, "at a new epoch %llu",
		   (unsigned long long)wi.epoch);
	}

	/* an admin connection disconnects the reader over the wire */
	is_int(ms_disconnect_client(adm, rid), 0, "ms_disconnect_client of the reader");
	is_int((int)wait_clients(s, "a", 1), 1, "the reader's connection is closed (the writer stays)");
	ok(ms_pull(r, 0, got, SIZE, NULL, NULL) != 0, "the reader's next pull fails (%s)",
	   ms_client_errmsg(cr));
	is_int(ms_stat_clients(adm, "a", &ci, &n), 0, "the admin connection still works");
	ms_client_info_free(ci);

	ms_disconnect(c2);
	ms_disconnect(cw);
	ms_disconnect(cr);
	ms_disconnect(adm);
	ms_server_destroy(s);
	free(want);
	free(got);
	free(mine);
}

static void test_keys(void)
{
	const char *keys = write_file("keys", "ops " SECRET_A " read-write *\n"
					      "ro " SECRET_B " read a\n");
	const char *kops = write_file("ops.key", "ops " SECRET_A "\n");
	const char *kro = write_file("ro.key", "ro " SECRET_B "\n");
	ms_server *s = server(keys);
	ms_client *cw = client(kops), *cr = client(kro), *cr2 = client(kro), *ops = client(kops);
	struct ms_client_info *ci = NULL;
	const struct ms_client_info *re;
	ms_region *w, *r, *r2;
	uint64_t wid = 0;
	size_t n = 0;

	w = ms_open(cw, "a", MS_MODE_WRITE);
	r = ms_open(cr, "a", MS_MODE_READ);
	r2 = ms_open(cr2, "a", MS_MODE_READ);
	if (!w || !r || !r2)
		tap_bail("open with keys");
	is_int(ms_stat_clients(ops, "a", &ci, &n), 0, "a read-write key lists a's clients");
	is_int((int)n, 3, "all three");
	for (size_t i = 0; i < n; i++)
		if (ci[i].mode == MS_MODE_WRITE)
			wid = ci[i].id;
	re = n ? find(ci, n, ci[0].id) : NULL;
	ok(re && (strcmp(re->key, "ops") == 0 || strcmp(re->key, "ro") == 0),
	   "entries name their key");
	ms_client_info_free(ci);

	is_int(ms_stat_clients(cr, "a", &ci, &n), 0, "a read key lists a's clients");
	is_int((int)n, 2, "only its own key's connections");
	ok(n == 2 && strcmp(ci[0].key, "ro") == 0 && strcmp(ci[1].key, "ro") == 0 &&
	   !find(ci, n, wid), "not the writer's");
	ms_client_info_free(ci);
	ok(ms_stat_clients(cr, "b", &ci, &n) == -ENOENT,
	   "a region the read key has no grant on is unknown to it");
	is_int(ms_stat_clients(cr, NULL, &ci, &n), 0, "a read key lists every region");
	is_int((int)n, 2, "... its own connections only");
	ms_client_info_free(ci);

	ok(ms_disconnect_client(cr, wid) == -EACCES &&
	   strstr(ms_client_errmsg(cr), "read-write grant on region 'a'"),
	   "a read key may not disconnect the writer (%s)", ms_client_errmsg(cr));
	is_int(ms_server_clients(s, "a", &ci, &n), 0, "clients after the refusal");
	ok(n == 3 && find(ci, n, wid) && find(ci, n, wid)->lease,
	   "nothing changed: the writer still holds the lease");
	ms_client_info_free(ci);
	is_int(ms_disconnect_client(ops, wid), 0, "a read-write key may");
	is_int((int)wait_clients(s, "a", 2), 2, "the writer is gone");

	ms_disconnect(cw);
	ms_disconnect(cr);
	ms_disconnect(cr2);
	ms_disconnect(ops);
	ms_server_destroy(s);
}

int main(void)
{
	if (!mkdtemp(dir))
		tap_bail("mkdtemp");
	test_list_and_disconnect();
	test_keys();
	{
		char cmd[400];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			fprintf(stderr, "cannot remove %s\n", dir);
	}
	return tap_done();
}
