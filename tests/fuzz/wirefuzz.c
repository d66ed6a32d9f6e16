/* SPDX-License-Identifier: Apache-2.0 */
/*
 * wirefuzz.c - fuzz a live server over the wire (TCP fallback).
 *
 *   wirefuzz [--seed N] [--rounds N] [--seconds S] [--no-auth] [-v]
 *
 * Starts a server in this process on 127.0.0.1 (port 0), with keys
 * (unless --no-auth: a key file of mode 0600 in a temporary directory),
 * and two regions:
 * "good", whose write lease a well-behaved client holds for the whole run,
 * and "free", which the fuzzer may lease, stage into and commit to.  Then,
 * round after round, it opens a raw TCP connection, authenticates (most
 * rounds: some skip it, use a wrong secret or send a mangled AUTH frame),
 * says a valid HELLO
 * (most rounds), learns a handle, keys and a staging area from valid
 * requests, and sends a seeded sequence of requests (OPEN, READ, WRITE,
 * STAGE, COMMIT, RENEW, HOT, TOUCH, HOLD, LEASE, FREEZE, ...) in random
 * order, some mutated: bit flips, wrong and huge payload and data lengths,
 * truncation (the connection closed mid-frame), out-of-range and
 * overflowing offset+length, unknown frame and message types, commits
 * naming chunks out of range, and whole frames of garbage.  Rounds that
 * name "good" never send the requests an operator may use to take a lease
 * away (LEASE_BREAK, HANDOVER, FREEZE): those go to "free" only.
 *
 * After every round: another client's STAT must be answered, the good
 * client commits fresh bytes to "good" (that must succeed), and its
 * verified pull of the whole region must equal, byte for byte, what it
 * committed last.  Replies must be well-formed frames answering our
 * requests in order.  TAP output; the seed is printed, and --seed with
 * --rounds replays the same choices.  Stops after --rounds or --seconds
 * (default: 3 seconds).
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "frame.h"
#include "hash.h"
#include "memsync.h"
#include "proto.h"
#include "tcp_auth.h"
#include "tcp_sock.h"
#include "util.h"
#include "wirefuzz.h"

#define REGION_SIZE (256u << 10)
#define CHUNK (4u << 10)
#define REPLY_MS 3000

struct wf wf;

uint64_t wf_rnd(void)
{
	uint64_t x = wf.rng;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	wf.rng = x;
	return x * 0x2545f4914f6cdd1dull;
}

uint64_t wf_below(uint64_t n)
{
	return n ? wf_rnd() % n : 0;
}

bool wf_chance(unsigned pct)
{
	return wf_below(100) < pct;
}

void wf_fill(void *p, size_t len)
{
	uint8_t *b = p;

	for (size_t i = 0; i < len; i++)
		b[i] = (uint8_t)wf_rnd();
}

/* A broken promise: say what, where and how to replay it, stop. */
void wf_fail(const char *fmt, ...)
{
	va_list ap;

	printf("not ok %d - round %lu: ", ++wf.tap_n, wf.rounds);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n# replay: wirefuzz --seed %llu --rounds %lu\n", (unsigned long long)wf.seed,
	       wf.rounds + 1);
	fflush(stdout);
	wf.failed = true;
}

static void log_cb(void *ud, enum ms_log_level lvl, const char *msg)
{
	(void)ud;
	if (lvl <= MS_LOG_WARN)
		__atomic_fetch_add(&wf.server_warnings, 1, __ATOMIC_RELAXED);
	if (wf.verbose)
		fprintf(stderr, "server: %s\n", msg);
}

/* ------------------------------------------------------- raw frames */

/* Read one frame (header and payload: at most cap bytes of it kept in
 * pay, the rest read and dropped), skipping NOTIFYs.  0; -ETIMEDOUT;
 * -EPIPE when the server closed the connection; -EPROTO for a frame a
 * client must not accept (a server bug). */
int wf_recv(struct wf_conn *c, int timeout_ms, struct ms_frame *f, uint8_t *pay, size_t cap)
{
	static uint8_t sink[64 << 10];
	uint8_t h[MS_FRAME_HDR];
	char why[160];
	size_t got;
	int rc;

	for (;;) {
		got = 0;
		rc = ms_sock_recv_all(c->fd, h, sizeof(h), timeout_ms, &got);
		if (rc == -ETIMEDOUT && got == 0)
			return -ETIMEDOUT;
		if (rc)
			return -EPIPE;
		if (ms_frame_decode(h, sizeof(h), MS_FRAME_ACCEPT_CLIENT, MS_TCP_MAX_IO, f, why,
				    sizeof(why))) {
			wf_fail("the server sent a malformed frame: %s", why);
			return -EPROTO;
		}
		for (size_t left = f->plen; left;) {
			size_t n = left < sizeof(sink) ? left : sizeof(sink);
			uint8_t *dst = sink;

			if (f->plen - left < cap) {
				n = MS_MIN(n, cap - (f->plen - left));
				dst = pay + (f->plen - left);
			}
			if (ms_sock_recv_all(c->fd, dst, n, REPLY_MS, &got))
				return -EPIPE;
			left -= n;
		}
		if (f->type != MS_F_NOTIFY)
			return 0;
	}
}

/* Close the connection (the round ends). */
void wf_hangup(struct wf_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

/* Apply one mutation to the frame in buf (hdr + payload, *len bytes).
 * Returns how many bytes to send (fewer than *len: truncated). */
static size_t mutate(uint8_t *buf, size_t *len, size_t cap)
{
	uint32_t v;

	switch (wf_below(8)) {
	case 0: /* bit flips anywhere */
		for (uint64_t i = 0, n = 1 + wf_below(4); i < n; i++) {
			size_t at = wf_below(*len);

			buf[at] ^= (uint8_t)(1u << wf_below(8));
		}
		break;
	case 1: { /* a wrong or huge payload length */
		static const uint32_t odd[] = { 0, 1, 3, 47, 0xffffffffu, MS_CTRL_MAX,
						MS_CTRL_MAX + 1, MS_TCP_MAX_IO, MS_TCP_MAX_IO + 1 };
		uint32_t plen;

		memcpy(&plen, buf + 8, 4);
		plen = le32toh(plen);
		v = wf_chance(50) ? odd[wf_below(MS_ARRAY_SIZE(odd))]
				  : plen + (uint32_t)wf_below(33) - 16;
		v = htole32(v);
		memcpy(buf + 8, &v, 4);
		break;
	}
	case 2: { /* a wrong or huge data length */
		static const uint32_t odd[] = { 0, 1, 4095, MS_TCP_MAX_IO, MS_TCP_MAX_IO + 1,
						0x80000000u, 0xffffffffu };

		v = htole32(wf_chance(50) ? odd[wf_below(MS_ARRAY_SIZE(odd))]
					  : (uint32_t)wf_rnd());
		memcpy(buf + 40, &v, 4);
		break;
	}
	case 3: /* an unknown (or another) frame type */
		buf[5] = wf_chance(50) ? (uint8_t)(MS_F_TYPE_MAX + 1 + wf_below(248))
				       : (uint8_t)wf_below(MS_F_TYPE_MAX + 1);
		break;
	case 4: /* an unknown (or another) message type */
		if (*len >= MS_FRAME_HDR + 2) {
			uint16_t t = wf_chance(50) ? (uint16_t)wf_rnd()
						   : (uint16_t)wf_below(110);

			buf[MS_FRAME_HDR] = (uint8_t)t;
			buf[MS_FRAME_HDR + 1] = (uint8_t)(t >> 8);
		}
		break;
	case 5: /* truncated: the connection ends mid-frame */
		return wf_below(*len);
	case 6: { /* the message grows or shrinks, the frame says so */
		size_t pl = *len - MS_FRAME_HDR, npl;

		if (wf_chance(50) || pl == 0) {
			npl = pl + 1 + wf_below(64);
			if (MS_FRAME_HDR + npl > cap)
				npl = pl;
			wf_fill(buf + *len, npl - pl);
		} else {
			npl = wf_below(pl);
		}
		*len = MS_FRAME_HDR + npl;
		v = htole32((uint32_t)npl);
		memcpy(buf + 8, &v, 4);
		if (buf[5] == MS_F_WRITE_REQ)
			memcpy(buf + 40, &v, 4);
		break;
	}
	default: /* a reserved field, the status, the version or the magic */
		buf[(size_t[]){ 0, 4, 6, 7, 12, 15, 44, 47 }[wf_below(8)]] ^=
			(uint8_t)(1 + wf_below(255));
		break;
	}
	return *len;
}

/* Send one frame (payload pay, plen bytes), mutated when asked; then wait
 * for its reply into f (payload into c->reply).  Returns 0 with a reply;
 * 1 when the round is over (the server closed the connection, or the
 * frame left it waiting for bytes that will not come). */
int wf_send(struct wf_conn *c, struct ms_frame *hdr, const void *pay, uint32_t plen,
	    bool mut, struct ms_frame *f)
{
	static uint8_t buf[MS_FRAME_HDR + WF_MAX_PAYLOAD + 64];
	struct ms_frame sent;
	struct iovec iov;
	size_t len = MS_FRAME_HDR + plen, n;
	int rc;

	if (c->fd < 0 || plen > WF_MAX_PAYLOAD)
		return 1;
	hdr->id = ++c->next_id;
	hdr->plen = plen;
	ms_frame_encode(hdr, buf);
	if (plen)
		memcpy(buf + MS_FRAME_HDR, pay, plen);
	n = len;
	if (mut) {
		n = mutate(buf, &len, sizeof(buf));
		wf.mutated++;
	}
	wf.frames++;
	iov = (struct iovec){ buf, n };
	if (ms_sock_sendv_all(c->fd, &iov, 1, REPLY_MS)) {
		wf_hangup(c);
		return 1;
	}
	if (n < len) {
		wf_hangup(c);
		return 1;
	}
	rc = ms_frame_decode(buf, MS_FRAME_HDR, MS_FRAME_ACCEPT_SERVER, MS_TCP_MAX_IO, &sent,
			     NULL, 0);
	if (rc == 0 && sent.plen > len - MS_FRAME_HDR) {
		/* the server waits for the rest: give it up */
		wf_hangup(c);
		return 1;
	}
	rc = wf_recv(c, REPLY_MS, f, c->reply, sizeof(c->reply));
	if (rc == -ETIMEDOUT || rc == -EPIPE) {
		if (rc == -EPIPE)
			wf.closed++;
		wf_hangup(c);
		return 1;
	}
	if (rc)
		return 1;
	wf.replies++;
	if (f->status == 0 && f->type < MS_ARRAY_SIZE(wf.data_ok))
		wf.data_ok[f->type]++;
	/* an intact request is answered in order, by the matching type */
	if (!mut && (f->id != hdr->id || f->type != hdr->type + 1)) {
		wf_fail("request %llu (%s) answered by %s %llu", (unsigned long long)hdr->id,
		     ms_frame_type_name(hdr->type), ms_frame_type_name(f->type),
		     (unsigned long long)f->id);
		return 1;
	}
	return 0;
}

/* A control request; 0 with the reply's message in c->reply (rlen), 1 as
 * above, or 2 when the server answered with an error status. */
int wf_ctrl(struct wf_conn *c, const void *msg, int mlen, bool mut, size_t *rlen)
{
	struct ms_frame h = { .type = MS_F_CTRL_REQ }, f;
	int t;

	if (mlen < 0)
		return 1;
	if (wf_send(c, &h, msg, (uint32_t)mlen, mut, &f))
		return 1;
	*rlen = MS_MIN(f.plen, sizeof(c->reply));
	if (f.type != MS_F_CTRL_RESP || f.status != 0)
		return 2;
	t = ms_msg_type(c->reply, *rlen);
	if (t >= 0 && t < (int)MS_ARRAY_SIZE(wf.answered))
		wf.answered[t]++;
	return 0;
}

int wf_auth(struct wf_conn *c, const struct ms_authkey *key)
{
	struct tcp_auth_io io = tcp_auth_fd_io;
	char err[256];
	int rc;

	io.ud = (void *)(intptr_t)c->fd;
	rc = tcp_auth_client(&io, key, "tcp", 3, REPLY_MS, err, sizeof(err));
	if (rc == 0) {
		wf.auth_ok++;
		return 0;
	}
	wf.auth_refused++;
	if (wf.verbose)
		fprintf(stderr, "auth as %s: %s\n", key->name, err);
	wf_hangup(c);
	return 1;
}

/* -------------------------------------------------------- the keys */

static void hex(const uint8_t *p, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", p[i]);
}

/* Write text to DIR/name, mode 0600. */
static int write_private(const char *name, const char *text, char *path, size_t plen)
{
	FILE *f;
	int fd;

	snprintf(path, plen, "%s/%s", wf.dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || !(f = fdopen(fd, "w"))) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	fputs(text, f);
	return fclose(f) ? -1 : 0;
}

/* keys: good (read-write good), stat (read *), fuzzr (read good,free),
 * fuzzw (read-write free); the good and stat clients' key files. */
static int make_keys(char *srv, char *goodf, char *statf, size_t plen)
{
	static const char *const names[] = { "good", "stat", "fuzzr", "fuzzw" };
	static const char *const grants[] = { "read-write good", "read *", "read good,free",
					      "read-write free" };
	char sec[4][2 * MS_AUTH_SECRET_MIN + 1], text[1024], line[256], err[256];
	uint8_t raw[MS_AUTH_SECRET_MIN];
	size_t n = 0;

	snprintf(wf.dir, sizeof(wf.dir), "/tmp/wirefuzz.XXXXXX");
	if (!mkdtemp(wf.dir))
		return -1;
	for (int i = 0; i < 4; i++) {
		wf_fill(raw, sizeof(raw));
		hex(raw, sizeof(raw), sec[i]);
		n += (size_t)snprintf(text + n, sizeof(text) - n, "%s %s %s\n", names[i], sec[i],
				      grants[i]);
	}
	if (write_private("server.keys", text, srv, plen))
		return -1;
	snprintf(line, sizeof(line), "good %s\n", sec[0]);
	if (write_private("good.key", line, goodf, plen))
		return -1;
	snprintf(line, sizeof(line), "stat %s\n", sec[1]);
	if (write_private("stat.key", line, statf, plen))
		return -1;
	snprintf(line, sizeof(line), "fuzzr %s\n", sec[2]);
	if (ms_authkey_parse(line, strlen(line), &wf.key_read, err, sizeof(err)))
		return -1;
	snprintf(line, sizeof(line), "fuzzw %s\n", sec[3]);
	return ms_authkey_parse(line, strlen(line), &wf.key_write, err, sizeof(err)) ? -1 : 0;
}

static void remove_keys(void)
{
	static const char *const files[] = { "server.keys", "good.key", "stat.key" };
	char path[128];

	if (!wf.dir[0])
		return;
	for (size_t i = 0; i < MS_ARRAY_SIZE(files); i++) {
		snprintf(path, sizeof(path), "%s/%s", wf.dir, files[i]);
		unlink(path);
	}
	rmdir(wf.dir);
}

/* -------------------------------------------------------- the checks */

static int good_setup(const char *goodf, const char *statf)
{
	struct ms_client_opts co = { .opts_size = sizeof(co), .transport = MS_TRANSPORT_TCP,
				     .timeout_ms = 20000 };
	char err[256];

	co.key_file = wf.auth ? goodf : NULL;
	wf.good = ms_connect("127.0.0.1", wf.port, &co, err, sizeof(err));
	co.key_file = wf.auth ? statf : NULL;
	if (wf.good)
		wf.statc = ms_connect("127.0.0.1", wf.port, &co, err, sizeof(err));
	if (!wf.good || !wf.statc) {
		printf("Bail out! connect: %s\n", err);
		return -1;
	}
	wf.gr = ms_open(wf.good, "good", MS_MODE_WRITE);
	if (!wf.gr) {
		printf("Bail out! open good: %s\n", ms_client_errmsg(wf.good));
		return -1;
	}
	return 0;
}

/* After a round: the server answers STAT; the good client commits and
 * its verified pull equals what it committed. */
static void check_round(void)
{
	struct ms_region_stat *st = NULL;
	uint64_t off = wf_below(REGION_SIZE), len = 1 + wf_below(REGION_SIZE - off);
	size_t n = 0;
	int rc;

	rc = ms_stat(wf.statc, "", &st, &n);
	if (rc || n != 2) {
		wf_fail("STAT: %d (%s), %zu regions", rc, ms_client_errmsg(wf.statc), n);
		free(st);
		return;
	}
	free(st);
	wf_fill(wf.mirror_next + off, len);
	rc = ms_write(wf.gr, off, wf.mirror_next + off, len, NULL, NULL);
	if (!rc)
		rc = ms_sync(wf.gr);
	if (rc) {
		wf_fail("the good client's commit: %d (%s)", rc, ms_client_errmsg(wf.good));
		return;
	}
	memcpy(wf.mirror + off, wf.mirror_next + off, len);
	memset(wf.pulled, 0, REGION_SIZE);
	rc = ms_pull(wf.gr, 0, wf.pulled, REGION_SIZE, NULL, NULL);
	if (rc) {
		wf_fail("the good client's verified pull: %d (%s)", rc, ms_client_errmsg(wf.good));
		return;
	}
	for (size_t i = 0; i < REGION_SIZE; i++) {
		if (wf.pulled[i] != wf.mirror[i]) {
			wf_fail("pulled byte %zu is 0x%02x, committed 0x%02x", i, wf.pulled[i],
			     wf.mirror[i]);
			return;
		}
	}
}

static int server_up(const char *keys)
{
	struct ms_server_opts so = { .opts_size = sizeof(so), .host = "127.0.0.1", .port = "0",
				     .transport = MS_TRANSPORT_TCP, .log = log_cb,
				     .lease_ttl_ms = 3600 * 1000, .auth_keys = keys };
	static const char *const names[] = { "good", "free" };
	char err[256];

	wf.s = ms_server_create(&so, err, sizeof(err));
	if (!wf.s) {
		printf("Bail out! server: %s\n", err);
		return -1;
	}
	for (int i = 0; i < 2; i++) {
		struct ms_export_opts eo = { .opts_size = sizeof(eo), .name = names[i],
					     .size = REGION_SIZE, .chunk_size = CHUNK,
					     .no_mlock = true };
		ms_export *e = ms_server_add_region(wf.s, &eo);

		if (!e) {
			printf("Bail out! region %s: %s\n", names[i], ms_server_errmsg(wf.s));
			return -1;
		}
		wf_fill(ms_export_mem(e), REGION_SIZE);
		if (i == 0)
			memcpy(wf.mirror, ms_export_mem(e), REGION_SIZE);
		if (ms_export_commit(e, 0, REGION_SIZE)) {
			printf("Bail out! commit %s\n", names[i]);
			return -1;
		}
	}
	if (ms_server_start(wf.s)) {
		printf("Bail out! start: %s\n", ms_server_errmsg(wf.s));
		return -1;
	}
	snprintf(wf.port, sizeof(wf.port), "%u", ms_server_port(wf.s));
	memcpy(wf.mirror_next, wf.mirror, REGION_SIZE);
	return 0;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int usage(void)
{
	fprintf(stderr, "usage: wirefuzz [--seed N] [--rounds N] [--seconds S] [--no-auth] "
			"[-v]\n");
	return 2;
}

int main(int argc, char **argv)
{
	unsigned long max_rounds = 0;
	double secs = 0, t0;
	char srvf[128], goodf[128], statf[128];
	int rc = 0;

	if (getrandom(&wf.seed, sizeof(wf.seed), 0) != sizeof(wf.seed))
		wf.seed = (uint64_t)time(NULL);
	for (int i = 1; i < argc; i++) {
		char *end = NULL;

		if (!strcmp(argv[i], "-v")) {
			wf.verbose = true;
		} else if (!strcmp(argv[i], "--no-auth")) {
			wf.no_auth = true;
		} else if (i + 1 < argc && !strcmp(argv[i], "--seed")) {
			wf.seed = strtoull(argv[++i], &end, 0);
		} else if (i + 1 < argc && !strcmp(argv[i], "--rounds")) {
			max_rounds = strtoul(argv[++i], &end, 0);
		} else if (i + 1 < argc && !strcmp(argv[i], "--seconds")) {
			secs = strtod(argv[++i], &end);
		} else {
			return usage();
		}
		if (end && *end)
			return usage();
	}
	if (!max_rounds && secs <= 0)
		secs = 3;
	signal(SIGPIPE, SIG_IGN);
	wf.rng = wf.seed ? wf.seed : 1;
	printf("# seed %llu\n", (unsigned long long)wf.seed);
	wf.mirror = malloc(REGION_SIZE);
	wf.mirror_next = malloc(REGION_SIZE);
	wf.pulled = malloc(REGION_SIZE);
	if (!wf.mirror || !wf.mirror_next || !wf.pulled)
		return 1;
	wf.auth = !wf.no_auth;
	if (wf.auth && make_keys(srvf, goodf, statf, sizeof(srvf))) {
		printf("Bail out! key files in %s: %s\n", wf.dir, strerror(errno));
		rc = 1;
		goto out;
	}
	if (server_up(wf.auth ? srvf : NULL) || good_setup(goodf, statf)) {
		rc = 1;
		goto out;
	}
	t0 = now_s();
	while (!wf.failed && (!max_rounds || wf.rounds < max_rounds) &&
	       (secs <= 0 || now_s() - t0 < secs)) {
		wf_round(wf.port, REGION_SIZE, CHUNK);
		if (!wf.failed)
			check_round();
		wf.rounds++;
	}
	if (!wf.failed) {
		printf("ok %d - %lu rounds, %lu frames (%lu mutated), %lu replies, %lu "
		       "connections closed by the server, %d server warnings\n",
		       ++wf.tap_n, wf.rounds, wf.frames, wf.mutated, wf.replies, wf.closed,
		       __atomic_load_n(&wf.server_warnings, __ATOMIC_RELAXED));
		if (wf.auth)
			printf("# handshakes: %lu accepted, %lu refused\n", wf.auth_ok,
			       wf.auth_refused);
		printf("# successful replies: READ %lu, WRITE %lu", wf.data_ok[MS_F_READ_RESP],
		       wf.data_ok[MS_F_WRITE_RESP]);
		for (int t = 0; t < (int)MS_ARRAY_SIZE(wf.answered); t++)
			if (wf.answered[t])
				printf(", %s %lu", ms_msg_name(t), wf.answered[t]);
		printf("\n");
		printf("ok %d - after every round the server answered STAT and the good "
		       "client's verified pull equalled its last commit\n", ++wf.tap_n);
	}
	printf("1..%d\n", wf.tap_n);
	rc = wf.failed;
out:
	if (wf.gr)
		ms_close(wf.gr);
	if (wf.good)
		ms_disconnect(wf.good);
	if (wf.statc)
		ms_disconnect(wf.statc);
	if (wf.s)
		ms_server_destroy(wf.s);
	free(wf.mirror);
	free(wf.mirror_next);
	free(wf.pulled);
	remove_keys();
	return rc;
}
