/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_push.c - what an atomic commit costs a push: the same pushes into
 * a region exported with commit=atomic (writes land in a staging area of
 * the writer's lease; the commit verifies and copies them into the region)
 * and one exported with commit=direct (writes land in the region; the
 * commit verifies in place), side by side in one run.
 *
 * The server runs in a child process (fork; ms_server_create on HOST:0,
 * two anonymous regions "atomic" and "direct" of SIZE), so its CPU time
 * (getrusage of the child, asked for through a pipe before and after each
 * push) is separate from the client's.  The client (this process) pushes
 * a buffer of SIZE into each region, alternating the two (the order flips
 * every run):
 *
 *   all    every chunk written (ms_write of the whole buffer, then ms_sync:
 *          what `memsync push --all` does), after new random bytes;
 *   FRAC   a fraction of the pages changed at random, the chunks they fall
 *          in written (ms_write of each run of dirty chunks) and ms_sync:
 *          what a tracked mapping's sync sends.
 *
 * After every push the region is pulled back (verified) and compared with
 * the buffer, outside the timing: a wrong push is reported as FAILED, never
 * as a speed.  One all push into each region before the first run (not
 * reported) faults the regions' pages in.  By default every push opens the region (taking the write
 * lease) and closes it afterwards, as the CLI does, so an atomic push also
 * maps its staging area; --keep-open keeps one handle per region.
 *
 *   bench_push [--size SIZE (256M)] [--runs N (3)] [--dirty all,0.01]
 *              [--modes atomic,direct] [--chunk SIZE] [--transport tcp|rdma|auto]
 *              [--host ADDR (127.0.0.1)] [--keep-open]
 *
 * One JSON line per push on stdout:
 *   {"bench":"memsync_push","commit":"atomic","dirty":"all","dirty_fraction":1,
 *    "run":1,"region_bytes":N,"bytes":N,"seconds":F,"bytes_per_second":F,
 *    "server_cpu_s":F,"client_cpu_s":F,"server_cpu_s_per_gib":F,
 *    "chunks":N,"transport":"tcp","reopen":true,"verified":true}
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "memsync.h"
#include "units.h"
#include "benchutil.h"

#define MAX_DIRTY 8
#define VERIFY_STEP (16u << 20)
#define BP_MIN(a, b) ((a) < (b) ? (a) : (b))

struct bench {
	uint64_t size;
	unsigned runs;
	uint32_t chunk;
	enum ms_transport_kind transport;
	const char *host;
	bool keep_open;
	double dirty[MAX_DIRTY]; /* 1.0 = all */
	unsigned ndirty;
	bool mode_on[2];         /* [MS_COMMIT_ATOMIC], [MS_COMMIT_DIRECT] */
};

static const char *const rname[2] = { "atomic", "direct" };

static double tv_s(struct timeval tv)
{
	return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

static double self_cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return tv_s(ru.ru_utime) + tv_s(ru.ru_stime);
}

static int full_read(int fd, void *buf, size_t n)
{
	for (size_t got = 0; got < n;) {
		ssize_t k = read(fd, (char *)buf + got, n - got);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		got += (size_t)k;
	}
	return 0;
}

static int full_write(int fd, const void *buf, size_t n)
{
	for (size_t put = 0; put < n;) {
		ssize_t k = write(fd, (const char *)buf + put, n - put);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		put += (size_t)k;
	}
	return 0;
}

/* ------------------------------------------------------------ the server */

/* The child: serve the two regions; answer 'c' on cmd with its CPU seconds
 * (all threads), end on 'q' or when the parent goes away. */
static int server_child(const struct bench *b, int cmd, int resp)
{
	struct ms_server_opts so = { .opts_size = sizeof(so), .insecure = true, .host = b->host, .port = "0",
				     .transport = b->transport };
	char err[256] = "";
	ms_server *s = ms_server_create(&so, err, sizeof(err));
	uint16_t port = 0;
	char c;

	if (!s) {
		fprintf(stderr, "bench_push: server: %s\n", err[0] ? err : strerror(errno));
		goto reply;
	}
	for (int m = 0; m < 2; m++) {
		struct ms_export_opts eo = { .opts_size = sizeof(eo), .name = rname[m],
			.size = b->size, .chunk_size = b->chunk, .backing = MS_BACKING_ANON,
			.commit = m == 0 ? MS_COMMIT_ATOMIC : MS_COMMIT_DIRECT };
		ms_export *e;

		if (!b->mode_on[m])
			continue;
		e = ms_server_add_region(s, &eo);
		if (!e && (errno == ENOMEM || errno == EPERM)) {
			eo.no_mlock = true; /* RLIMIT_MEMLOCK: measure unpinned */
			e = ms_server_add_region(s, &eo);
		}
		if (!e || ms_export_commit(e, 0, b->size) < 0) {
			fprintf(stderr, "bench_push: region %s: %s\n", rname[m], ms_server_errmsg(s));
			goto reply;
		}
	}
	if (ms_server_start(s) < 0) {
		fprintf(stderr, "bench_push: start: %s\n", ms_server_errmsg(s));
		goto reply;
	}
	port = ms_server_port(s);
reply:
	if (full_write(resp, &port, sizeof(port)) || !port)
		goto out;
	while (full_read(cmd, &c, 1) == 0 && c == 'c') {
		double cpu = self_cpu_s();

		if (full_write(resp, &cpu, sizeof(cpu)))
			break;
	}
out:
	if (s)
		ms_server_destroy(s);
	return port ? 0 : 1;
}

struct child {
	pid_t pid;
	int cmd, resp;
	uint16_t port;
};

static int child_start(const struct bench *b, struct child *ch)
{
	int c2s[2], s2c[2];

	if (pipe(c2s) || pipe(s2c)) {
		perror("bench_push: pipe");
		return -1;
	}
	fflush(NULL);
	ch->pid = fork();
	if (ch->pid < 0) {
		perror("bench_push: fork");
		return -1;
	}
	if (ch->pid == 0) {
		close(c2s[1]);
		close(s2c[0]);
		_exit(server_child(b, c2s[0], s2c[1]));
	}
	close(c2s[0]);
	close(s2c[1]);
	ch->cmd = c2s[1];
	ch->resp = s2c[0];
	if (full_read(ch->resp, &ch->port, sizeof(ch->port)) || !ch->port) {
		fprintf(stderr, "bench_push: the server did not start\n");
		return -1;
	}
	return 0;
}

static int child_cpu(struct child *ch, double *cpu)
{
	char c = 'c';

	return full_write(ch->cmd, &c, 1) || full_read(ch->resp, cpu, sizeof(*cpu)) ? -1 : 0;
}

static int child_end(struct child *ch)
{
	int st = 0;

	if (ch->pid <= 0)
		return 0;
	if (ch->cmd >= 0) {
		(void)full_write(ch->cmd, "q", 1);
		close(ch->cmd);
	}
	if (ch->resp >= 0)
		close(ch->resp);
	if (waitpid(ch->pid, &st, 0) < 0)
		return -1;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

/* ------------------------------------------------------------ the client */

/* Change frac of the pages of buf at random (one word each); mark their
 * chunks in dirty[].  frac 1: new random bytes everywhere. */
static void dirty_buf(const struct bench *b, uint8_t *buf, double frac, uint64_t *seed,
		      uint8_t *dirty, uint64_t nchunks, uint32_t chunk)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	uint64_t npages = b->size / pg, n;

	if (frac >= 1.0) {
		bu_fill_random(buf, b->size, bu_rand64(seed));
		memset(dirty, 1, nchunks);
		return;
	}
	memset(dirty, 0, nchunks);
	n = (uint64_t)((double)npages * frac + 0.5);
	if (!n)
		n = 1;
	for (uint64_t i = 0; i < n; i++) {
		uint64_t p = bu_rand64(seed) % npages;

		((uint64_t *)(buf + p * pg))[0] ^= bu_rand64(seed) | 1;
		dirty[p * pg / chunk] = 1;
	}
}

/* Pull the region back (verified) and compare it with buf. */
static int check(ms_client *c, const char *name, const uint8_t *buf, uint64_t size,
		 uint8_t *tmp)
{
	ms_region *r = ms_open(c, name, MS_MODE_READ);
	int rc = 0;

	if (!r)
		return -1;
	for (uint64_t off = 0; off < size && !rc; off += VERIFY_STEP) {
		uint64_t n = BP_MIN((uint64_t)VERIFY_STEP, size - off);

		rc = ms_pull(r, off, tmp, n, NULL, NULL);
		if (!rc && memcmp(tmp, buf + off, n))
			rc = -EIO;
	}
	ms_close(r);
	return rc;
}

struct pushres {
	double seconds, server_cpu, client_cpu;
	uint64_t bytes, chunks;
};

/* One timed push of the dirty chunks of buf into r (opened here unless
 * *hold is open already). */
static int one_push(ms_client *c, ms_region **hold, const char *name, const uint8_t *buf,
		    const uint8_t *dirty, uint64_t nchunks, uint32_t chunk, uint64_t size,
		    struct child *ch, struct pushres *pr)
{
	struct ms_xfer_stats st;
	double s0, s1, c0, t0;
	ms_region *r = *hold;
	int rc = 0;

	memset(pr, 0, sizeof(*pr));
	if (child_cpu(ch, &s0))
		return -EPIPE;
	c0 = self_cpu_s();
	t0 = bu_now_s();
	if (!r) {
		r = ms_open(c, name, MS_MODE_WRITE);
		if (!r)
			return errno ? -errno : -EIO;
	}
	for (uint64_t i = 0; i < nchunks && !rc;) {
		uint64_t j = i, off, len;

		if (!dirty[i]) {
			i++;
			continue;
		}
		while (j < nchunks && dirty[j])
			j++;
		off = i * chunk;
		len = BP_MIN(j * chunk, size) - off;
		memset(&st, 0, sizeof(st));
		rc = ms_write(r, off, buf + off, len, NULL, &st);
		pr->bytes += st.bytes;
		pr->chunks += j - i;
		i = j;
	}
	if (!rc)
		rc = ms_sync(r);
	if (*hold == NULL)
		ms_close(r);
	pr->seconds = bu_now_s() - t0;
	pr->client_cpu = self_cpu_s() - c0;
	if (child_cpu(ch, &s1))
		return -EPIPE;
	pr->server_cpu = s1 - s0;
	return rc;
}

static int bench(const struct bench *b)
{
	struct ms_client_opts co = { .opts_size = sizeof(co), .transport = b->transport };
	struct child ch = { .pid = -1, .cmd = -1, .resp = -1 };
	uint32_t chunk = b->chunk ? b->chunk : MS_CHUNK_DEFAULT;
	uint64_t nchunks = (b->size + chunk - 1) / chunk, seed = (uint64_t)time(NULL) * 2654435761u;
	ms_region *hold[2] = { NULL, NULL };
	uint8_t *buf = MAP_FAILED, *dirty = NULL, *tmp = NULL;
	char port[8], err[256] = "";
	ms_client *c = NULL;
	bool want_all = false;
	int rc = -1;

	for (unsigned i = 0; i < b->ndirty; i++)
		want_all |= b->dirty[i] >= 1.0;
	if (child_start(b, &ch))
		goto out;
	snprintf(port, sizeof(port), "%u", (unsigned)ch.port);
	c = ms_connect(b->host, port, &co, err, sizeof(err));
	if (!c) {
		fprintf(stderr, "bench_push: connect: %s\n", err[0] ? err : strerror(errno));
		goto out;
	}
	buf = mmap(NULL, b->size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	dirty = malloc(nchunks);
	tmp = malloc(VERIFY_STEP);
	if (buf == MAP_FAILED || !dirty || !tmp) {
		perror("bench_push: memory");
		goto out;
	}
	for (int m = 0; m < 2 && b->keep_open; m++) {
		if (b->mode_on[m] && !(hold[m] = ms_open(c, rname[m], MS_MODE_WRITE))) {
			fprintf(stderr, "bench_push: open %s: %s\n", rname[m], ms_client_errmsg(c));
			goto out;
		}
	}
	/* warm-up, not reported: the first write into a region faults its
	 * pages in, which no later push pays */
	for (int m = 0; m < 2; m++) {
		struct pushres pr;

		if (!b->mode_on[m])
			continue;
		dirty_buf(b, buf, 1.0, &seed, dirty, nchunks, chunk);
		if (one_push(c, &hold[m], rname[m], buf, dirty, nchunks, chunk, b->size, &ch, &pr)) {
			fprintf(stderr, "bench_push: warm-up push into %s: %s\n", rname[m],
				ms_client_errmsg(c));
			goto out;
		}
	}
	for (unsigned run = 1; run <= b->runs; run++) {
		for (int k = 0; k < 2; k++) {
			int m = (run % 2) ? k : 1 - k;

			if (!b->mode_on[m])
				continue;
			/* every region starts a run equal to buf: an all push first */
			for (int d = -1; d < (int)b->ndirty; d++) {
				double frac = d < 0 ? 1.0 : b->dirty[d];
				struct pushres pr;
				bool ok;
				int e;

				if (d >= 0 && frac >= 1.0)
					continue;
				dirty_buf(b, buf, frac, &seed, dirty, nchunks, chunk);
				e = one_push(c, &hold[m], rname[m], buf, dirty, nchunks, chunk, b->size,
					     &ch, &pr);
				if (e < 0) {
					fprintf(stderr, "bench_push: push into %s: %s\n", rname[m],
						ms_client_errmsg(c));
					goto out;
				}
				ok = check(c, rname[m], buf, b->size, tmp) == 0;
				if (!ok)
					fprintf(stderr, "bench_push: FAILED: region %s differs from "
						"what was pushed\n", rname[m]);
				if (d < 0 && !want_all && ok)
					continue; /* the all push was only the setup */
				printf("{\"bench\":\"memsync_push\",\"commit\":\"%s\",\"dirty\":",
				       rname[m]);
				if (frac >= 1.0)
					printf("\"all\"");
				else
					printf("%g", frac);
				printf(",\"dirty_fraction\":%g,\"run\":%u,\"region_bytes\":%llu,"
				       "\"bytes\":%llu,\"seconds\":%.6f,\"bytes_per_second\":%.0f,"
				       "\"server_cpu_s\":%.4f,\"client_cpu_s\":%.4f,"
				       "\"server_cpu_s_per_gib\":%.4f,\"chunks\":%llu,"
				       "\"transport\":\"%s\",\"reopen\":%s,\"verified\":%s}\n",
				       frac, run, (unsigned long long)b->size,
				       (unsigned long long)pr.bytes, pr.seconds,
				       (double)pr.bytes / pr.seconds, pr.server_cpu, pr.client_cpu,
				       pr.bytes ? pr.server_cpu / ((double)pr.bytes / (1 << 30)) : 0.0,
				       (unsigned long long)pr.chunks, ms_client_transport(c),
				       b->keep_open ? "false" : "true", ok ? "true" : "false");
				fflush(stdout);
				if (!ok)
					goto out;
			}
		}
	}
	rc = 0;
out:
	for (int m = 0; m < 2; m++)
		if (hold[m])
			ms_close(hold[m]);
	if (c)
		ms_disconnect(c);
	if (child_end(&ch) && !rc) {
		fprintf(stderr, "bench_push: the server ended with an error\n");
		rc = -1;
	}
	if (buf != MAP_FAILED)
		munmap(buf, b->size);
	free(dirty);
	free(tmp);
	return rc;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: bench_push [--size SIZE (256M)] [--runs N (3)] [--dirty all,0.01]\n"
		   "                  [--modes atomic,direct] [--chunk SIZE (64K)]\n"
		   "                  [--transport tcp|rdma|auto (tcp)] [--host ADDR (127.0.0.1)]\n"
		   "                  [--keep-open]\n"
		   "Pushes SIZE bytes (all of them, or the chunks of a fraction of changed pages)\n"
		   "into a commit=atomic and a commit=direct region of a server in a child process;\n"
		   "one JSON line per push with throughput and the server's CPU time.\n");
}

static int parse_dirty(const char *s, struct bench *b)
{
	char *dup = strdup(s), *save = NULL, *t;
	int rc = 0;

	if (!dup)
		return -ENOMEM;
	b->ndirty = 0;
	for (t = strtok_r(dup, ",", &save); t && !rc; t = strtok_r(NULL, ",", &save)) {
		char *end;
		double v = !strcmp(t, "all") ? 1.0 : strtod(t, &end);

		if (strcmp(t, "all") && (*end || !(v > 0 && v <= 1.0)))
			rc = -EINVAL;
		else if (b->ndirty == MAX_DIRTY)
			rc = -E2BIG;
		else
			b->dirty[b->ndirty++] = v;
	}
	free(dup);
	return rc || !b->ndirty ? -EINVAL : 0;
}

static int parse_modes(const char *s, struct bench *b)
{
	b->mode_on[0] = strstr(s, "atomic") != NULL;
	b->mode_on[1] = strstr(s, "direct") != NULL;
	return b->mode_on[0] || b->mode_on[1] ? 0 : -EINVAL;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "size", required_argument, NULL, 's' },
		{ "runs", required_argument, NULL, 'r' },
		{ "dirty", required_argument, NULL, 'd' },
		{ "modes", required_argument, NULL, 'M' },
		{ "chunk", required_argument, NULL, 'c' },
		{ "transport", required_argument, NULL, 't' },
		{ "host", required_argument, NULL, 'H' },
		{ "keep-open", no_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct bench b = { .size = 256ull << 20, .runs = 3, .transport = MS_TRANSPORT_TCP,
			   .host = "127.0.0.1", .dirty = { 1.0, 0.01 }, .ndirty = 2,
			   .mode_on = { true, true } };
	long pg = sysconf(_SC_PAGESIZE);
	uint64_t v;
	int c, li = 0;

	while ((c = getopt_long(argc, argv, "h", opts, &li)) != -1) {
		switch (c) {
		case 's':
			if (ms_parse_size(optarg, &v) || !v || v % (uint64_t)pg)
				goto bad;
			b.size = v;
			break;
		case 'r':
			if (ms_parse_size(optarg, &v) || !v || v > 1000)
				goto bad;
			b.runs = (unsigned)v;
			break;
		case 'd':
			if (parse_dirty(optarg, &b))
				goto bad;
			break;
		case 'M':
			if (parse_modes(optarg, &b))
				goto bad;
			break;
		case 'c':
			if (ms_parse_size(optarg, &v) || v > MS_CHUNK_MAX)
				goto bad;
			b.chunk = (uint32_t)v;
			break;
		case 't':
			if (!strcmp(optarg, "tcp"))
				b.transport = MS_TRANSPORT_TCP;
			else if (!strcmp(optarg, "rdma"))
				b.transport = MS_TRANSPORT_RDMA;
			else if (!strcmp(optarg, "auto"))
				b.transport = MS_TRANSPORT_AUTO;
			else
				goto bad;
			break;
		case 'H':
			b.host = optarg;
			break;
		case 'k':
			b.keep_open = true;
			break;
		default:
			return bu_help_or_unknown(c, usage);
		}
	}
	if (optind != argc) {
		fprintf(stderr, "bench_push: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	return bench(&b) ? 1 : 0;
bad:
	fprintf(stderr, "bench_push: bad value for --%s: '%s'\n", opts[li].name, optarg);
	usage(stderr);
	return 2;
}
