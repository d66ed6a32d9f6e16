/* SPDX-License-Identifier: Apache-2.0 */
/*
 * delta_sync.c - the thesis' file-based delta synchronization (its
 * pkg/filetransfer), as a baseline: a SOURCE file mmapped MAP_SHARED and a
 * DESTINATION copy held by a receiver (a forked child process, so that its
 * CPU time is its own) over TCP on 127.0.0.1.
 *
 * One sync round, as the thesis' SendFile: the sender asks; the receiver
 * hashes every block of its file (pread, --threads workers) and sends the
 * hashes; the sender msyncs its mapping, hashes every block of its file the
 * same way (the thesis' semaphore-bounded workers: a worker takes the next
 * block, preads it and hashes it), compares, and sends the indices of the
 * differing blocks followed by those blocks; the receiver pwrites them and
 * acknowledges (with the CPU time the round cost it).  Hashes: zlib crc32
 * (IEEE, as the thesis) or XXH3_64bits.
 *
 * For each dirty fraction and run, one byte (XOR 0x5a) is written in that
 * fraction of the 4 KiB pages, chosen at random, in the source mapping; one
 * round is timed end to end; then the receiver's file must equal the source
 * (whole-file compare) and the blocks sent must be exactly the blocks of the
 * written pages, or the run fails (no figure, exit 1).
 *
 *   delta_sync [--size S] [--chunk C] [--dirty F,F,...] [--hash crc32|xxh3]
 *              [--threads N] [--runs N] [--seed N] [--dir D]
 *
 * One JSON line per run on stdout:
 *   {"bench":"delta_sync","hash":"crc32","size":N,"chunk":C,"dirty":0.01,
 *    "pages":P,"chunks_sent":K,"bytes_sent":B,"seconds":S,"hash_seconds":H,
 *    "sender_cpu_s":X,"receiver_cpu_s":Y,"ok":true}
 */
#include <errno.h>
#include <fcntl.h>
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
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <xxhash.h>
#include <zlib.h>

#include "peerutil.h"

#define PAGE 4096u
#define MAX_FRACTIONS 16
#define MAX_THREADS 64

/* message types; every header is 16 bytes: u32 type, u32 a, u64 b (LE) */
enum { MSG_ROUND = 1, MSG_HASHES = 2, MSG_BLOCKS = 3, MSG_ACK = 4, MSG_QUIT = 5 };
#define HDR 16

enum hash_kind { H_CRC32, H_XXH3 };

struct cfg {
	uint64_t size, chunk, nblocks;
	enum hash_kind hash;
	unsigned threads;
};

/* ---------------------------------------------------------- block hashes */

struct hash_job {
	const struct cfg *cfg;
	const char *path;
	uint64_t *out;           /* nblocks hashes */
	atomic_uint_fast64_t next;
	atomic_int err;
};

static uint64_t block_len(const struct cfg *c, uint64_t i)
{
	uint64_t off = i * c->chunk;

	return c->size - off < c->chunk ? c->size - off : c->chunk;
}

static uint64_t hash_buf(enum hash_kind k, const void *p, size_t len)
{
	return k == H_CRC32 ? (uint64_t)crc32_z(0, p, len) : (uint64_t)XXH3_64bits(p, len);
}

static int pread_full(int fd, void *buf, size_t len, uint64_t off)
{
	size_t got = 0;

	while (got < len) {
		ssize_t r = pread(fd, (char *)buf + got, len - got, (off_t)(off + got));

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -EIO;   /* the file is shorter than it should be */
		got += (size_t)r;
	}
	return 0;
}

static int pwrite_full(int fd, const void *buf, size_t len, uint64_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t w = pwrite(fd, (const char *)buf + done, len - done, (off_t)(off + done));

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		done += (size_t)w;
	}
	return 0;
}

/* A worker: its own descriptor of the file and buffer; takes the next
 * block, preads it, hashes it. */
static void *hash_worker(void *arg)
{
	struct hash_job *j = arg;
	const struct cfg *c = j->cfg;
	uint8_t *buf = malloc(c->chunk);
	int fd = open(j->path, O_RDONLY | O_CLOEXEC), rc = 0;

	if (!buf || fd < 0) {
		rc = buf ? -errno : -ENOMEM;
		goto out;
	}
	for (;;) {
		uint64_t i = atomic_fetch_add(&j->next, 1);

		if (i >= c->nblocks || atomic_load(&j->err))
			break;
		uint64_t len = block_len(c, i);

		rc = pread_full(fd, buf, len, i * c->chunk);
		if (rc)
			break;
		j->out[i] = hash_buf(c->hash, buf, len);
	}
out:
	if (rc)
		atomic_store(&j->err, rc);
	if (fd >= 0)
		close(fd);
	free(buf);
	return NULL;
}

/* Every block's hash of the file at path into out, with c->threads workers. */
static int hash_file(const struct cfg *c, const char *path, uint64_t *out)
{
	struct hash_job j = { .cfg = c, .path = path, .out = out };
	pthread_t th[MAX_THREADS];
	unsigned started = 0;

	for (; started < c->threads; started++)
		if (pthread_create(&th[started], NULL, hash_worker, &j)) {
			atomic_store(&j.err, -EAGAIN);
			break;
		}
	for (unsigned i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	return atomic_load(&j.err);
}

/* ------------------------------------------------------------ messages */

static int send_hdr(int fd, uint32_t type, uint32_t a, uint64_t b)
{
	uint8_t h[HDR];

	pu_put_le32(h, type);
	pu_put_le32(h + 4, a);
	pu_put_le64(h + 8, b);
	return pu_write_full(fd, h, sizeof(h));
}

static int recv_hdr(int fd, uint32_t want, uint32_t *a, uint64_t *b)
{
	uint8_t h[HDR];
	int rc = pu_read_full(fd, h, sizeof(h));

	if (rc)
		return rc;
	if (pu_get_le32(h) != want)
		return -EPROTO;
	*a = pu_get_le32(h + 4);
	*b = pu_get_le64(h + 8);
	return 0;
}

static double cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* ------------------------------------------------------------- receiver */

/* One round: hash, send the hashes, take the blocks, write, acknowledge. */
static int receiver_round(const struct cfg *c, int sock, int fd, const char *path,
			  uint64_t *hashes, uint8_t *wire, uint8_t *buf, uint32_t *idx)
{
	double cpu0 = cpu_s();
	unsigned hsz = c->hash == H_CRC32 ? 4 : 8;
	uint64_t n;
	uint32_t count;
	int rc;

	rc = hash_file(c, path, hashes);
	if (rc)
		return rc;
	for (uint64_t i = 0; i < c->nblocks; i++) {
		if (hsz == 4)
			pu_put_le32(wire + 4 * i, (uint32_t)hashes[i]);
		else
			pu_put_le64(wire + 8 * i, hashes[i]);
	}
	rc = send_hdr(sock, MSG_HASHES, hsz, c->nblocks);
	if (!rc)
		rc = pu_write_full(sock, wire, (size_t)(hsz * c->nblocks));
	if (!rc)
		rc = recv_hdr(sock, MSG_BLOCKS, &count, &n);
	if (rc)
		return rc;
	if (count > c->nblocks)
		return -EPROTO;
	rc = pu_read_full(sock, wire, (size_t)count * 4);
	if (rc)
		return rc;
	for (uint32_t k = 0; k < count; k++) {
		idx[k] = pu_get_le32(wire + 4 * k);
		if (idx[k] >= c->nblocks || (k && idx[k] <= idx[k - 1]))
			return -EPROTO;
	}
	for (uint32_t k = 0; k < count; k++) {
		uint64_t len = block_len(c, idx[k]);

		rc = pu_read_full(sock, buf, len);
		if (!rc)
			rc = pwrite_full(fd, buf, len, idx[k] * c->chunk);
		if (rc)
			return rc;
	}
	return send_hdr(sock, MSG_ACK, 0, (uint64_t)((cpu_s() - cpu0) * 1e9));
}

/* The child: accept the sender, serve rounds until it says quit.  0 or -errno. */
static int receiver_main(const struct cfg *c, int lfd, const char *path)
{
	uint64_t *hashes = calloc(c->nblocks, sizeof(*hashes));
	uint8_t *wire = malloc(c->nblocks * 8), *buf = malloc(c->chunk);
	uint32_t *idx = calloc(c->nblocks, sizeof(*idx));
	int sock = -1, fd = -1, rc;

	if (!hashes || !wire || !buf || !idx) {
		rc = -ENOMEM;
		goto out;
	}
	sock = pu_accept(lfd, PU_CONNECT_TIMEOUT_MS);
	close(lfd);
	if (sock < 0) {
		rc = sock;
		goto out;
	}
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		goto out;
	}
	for (;;) {
		uint8_t h[HDR];

		rc = pu_read_full(sock, h, sizeof(h));
		if (rc)
			break;
		if (pu_get_le32(h) == MSG_QUIT)
			break;
		if (pu_get_le32(h) != MSG_ROUND) {
			rc = -EPROTO;
			break;
		}
		rc = receiver_round(c, sock, fd, path, hashes, wire, buf, idx);
		if (rc)
			break;
	}
out:
	if (rc)
		fprintf(stderr, "delta_sync: receiver: %s\n", strerror(-rc));
	if (fd >= 0)
		close(fd);
	if (sock >= 0)
		close(sock);
	free(hashes);
	free(wire);
	free(buf);
	free(idx);
	return rc;
}

/* --------------------------------------------------------------- sender */

struct round {
	double seconds, hash_seconds, sender_cpu_s, receiver_cpu_s;
	uint64_t bytes_sent;
	uint32_t count;          /* blocks sent; their indices in idx */
};

static int sender_round(const struct cfg *c, int sock, uint8_t *map, const char *path,
			uint64_t *local, uint64_t *remote, uint8_t *wire, uint32_t *idx,
			struct round *r)
{
	double cpu0 = cpu_s(), t0 = bu_now_s(), th;
	uint32_t hsz, count = 0;
	uint64_t n, cpu_ns;
	int rc;

	*r = (struct round){ 0 };
	rc = send_hdr(sock, MSG_ROUND, 0, 0);
	r->bytes_sent += HDR;
	if (!rc)
		rc = recv_hdr(sock, MSG_HASHES, &hsz, &n);
	if (rc)
		return rc;
	if ((hsz != 4 && hsz != 8) || n != c->nblocks)
		return -EPROTO;
	rc = pu_read_full(sock, wire, (size_t)(hsz * n));
	if (rc)
		return rc;
	for (uint64_t i = 0; i < n; i++)
		remote[i] = hsz == 4 ? pu_get_le32(wire + 4 * i) : pu_get_le64(wire + 8 * i);

	if (msync(map, c->size, MS_SYNC))
		return -errno;
	th = bu_now_s();
	rc = hash_file(c, path, local);
	r->hash_seconds = bu_now_s() - th;
	if (rc)
		return rc;
	for (uint64_t i = 0; i < n; i++)
		if (local[i] != remote[i])
			idx[count++] = (uint32_t)i;

	for (uint32_t k = 0; k < count; k++)
		pu_put_le32(wire + 4 * k, idx[k]);
	rc = send_hdr(sock, MSG_BLOCKS, count, 0);
	if (!rc)
		rc = pu_write_full(sock, wire, (size_t)count * 4);
	r->bytes_sent += HDR + (uint64_t)count * 4;
	for (uint32_t k = 0; k < count && !rc; k++) {
		uint64_t len = block_len(c, idx[k]);

		rc = pu_write_full(sock, map + idx[k] * c->chunk, len);
		r->bytes_sent += len;
	}
	if (!rc)
		rc = recv_hdr(sock, MSG_ACK, &hsz, &cpu_ns);
	if (rc)
		return rc;
	r->seconds = bu_now_s() - t0;
	r->sender_cpu_s = cpu_s() - cpu0;
	r->receiver_cpu_s = (double)cpu_ns / 1e9;
	r->count = count;
	return 0;
}

/* Whether the file at fd equals map (whole file).  0, -EBADMSG or -errno. */
static int compare_file(int fd, const uint8_t *map, uint64_t size, uint8_t *buf, size_t bufsz)
{
	for (uint64_t off = 0; off < size; off += bufsz) {
		size_t len = size - off < bufsz ? (size_t)(size - off) : bufsz;
		int rc = pread_full(fd, buf, len, off);

		if (rc)
			return rc;
		if (memcmp(buf, map + off, len)) {
			fprintf(stderr, "delta_sync: the receiver's file differs from the source "
					"in [%llu, %llu)\n", (unsigned long long)off,
				(unsigned long long)(off + len));
			return -EBADMSG;
		}
	}
	return 0;
}

/* ----------------------------------------------------- files and cleanup */

static char dir_path[4096], src_path[4200], dst_path[4200];
static volatile pid_t child_pid;

static void remove_files(void)
{
	if (*src_path)
		unlink(src_path);
	if (*dst_path)
		unlink(dst_path);
	if (*dir_path)
		rmdir(dir_path);
}

static void on_signal(int sig)
{
	/* async-signal-safe: unlink, rmdir, kill, _exit */
	if (child_pid > 0)
		kill(child_pid, SIGKILL);
	remove_files();
	_exit(128 + sig);
}

/* A file of size bytes at path, written from src (or, for src == NULL,
 * only created and sized).  fd or -errno. */
static int make_file(const char *path, uint64_t size, const uint8_t *src)
{
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600), rc = 0;

	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)size)) {
		rc = -errno;
		goto fail;
	}
	for (uint64_t off = 0; src && off < size && !rc; off += 1u << 20)
		rc = pwrite_full(fd, src + off, size - off < (1u << 20) ? size - off : 1u << 20, off);
	if (!rc && src && fsync(fd))
		rc = -errno;
	if (rc)
		goto fail;
	return fd;
fail:
	close(fd);
	return rc;
}

/* --------------------------------------------------------------- main */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: delta_sync [--size S (1G)] [--chunk C (64K)] [--dirty F,F,... (0.001,0.01,0.1)]\n"
		"                  [--hash crc32|xxh3] [--threads N (2)] [--runs N (3)] [--seed N]\n"
		"                  [--dir D (/tmp)]\n"
		"Thesis-style file delta sync (hash every block on both sides, send the\n"
		"differing blocks) to a forked receiver over TCP on 127.0.0.1.\n"
		"One JSON line per run on stdout.\n");
}

static int parse_fractions(const char *s, double *v, unsigned *n)
{
	char tmp[512], *save = NULL, *tok;

	if (strlen(s) >= sizeof(tmp))
		return -EINVAL;
	strcpy(tmp, s);
	*n = 0;
	for (tok = strtok_r(tmp, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *end;
		double f;

		errno = 0;
		f = strtod(tok, &end);
		if (errno || *end || !(f > 0) || f > 1 || *n >= MAX_FRACTIONS)
			return -EINVAL;
		v[(*n)++] = f;
	}
	return *n ? 0 : -EINVAL;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "size", required_argument, NULL, 's' },
		{ "chunk", required_argument, NULL, 'c' },
		{ "dirty", required_argument, NULL, 'd' },
		{ "hash", required_argument, NULL, 'H' },
		{ "threads", required_argument, NULL, 't' },
		{ "runs", required_argument, NULL, 'r' },
		{ "seed", required_argument, NULL, 'e' },
		{ "dir", required_argument, NULL, 'D' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct cfg cfg = { .size = 1ull << 30, .chunk = 64u << 10, .hash = H_CRC32, .threads = 2 };
	double fractions[MAX_FRACTIONS] = { 0.001, 0.01, 0.1 };
	unsigned nfrac = 3;
	uint64_t runs = 3, seed = 42, v;
	const char *base_dir = "/tmp";
	uint8_t *map = MAP_FAILED, *wire = NULL, *cmpbuf = NULL, *expect = NULL;
	uint64_t *local = NULL, *remote = NULL;
	uint32_t *idx = NULL, *pages = NULL;
	int c, li = 0, rc = 1, src_fd = -1, dst_fd = -1, lfd = -1, sock = -1, err;
	uint16_t port = 0;

	while ((c = getopt_long(argc, argv, "h", opts, &li)) != -1) {
		switch (c) {
		case 's':
			if (pu_parse_size(optarg, &cfg.size) || !cfg.size || cfg.size % PAGE)
				goto bad;
			break;
		case 'c':
			if (pu_parse_size(optarg, &cfg.chunk) || !cfg.chunk || cfg.chunk % PAGE ||
			    cfg.chunk > (64u << 20))
				goto bad;
			break;
		case 'd':
			if (parse_fractions(optarg, fractions, &nfrac))
				goto bad;
			break;
		case 'H':
			if (!strcmp(optarg, "crc32"))
				cfg.hash = H_CRC32;
			else if (!strcmp(optarg, "xxh3"))
				cfg.hash = H_XXH3;
			else
				goto bad;
			break;
		case 't':
			if (pu_parse_u64(optarg, 1, MAX_THREADS, &v))
				goto bad;
			cfg.threads = (unsigned)v;
			break;
		case 'r':
			if (pu_parse_u64(optarg, 1, 1000, &runs))
				goto bad;
			break;
		case 'e':
			if (pu_parse_u64(optarg, 0, UINT64_MAX, &seed))
				goto bad;
			break;
		case 'D':
			base_dir = optarg;
			break;
		default:
			return bu_help_or_unknown(c, usage);
		}
	}
	if (optind != argc)
		return pu_usage_error("delta_sync", usage, "unexpected argument '%s'", argv[optind]);
	cfg.nblocks = (cfg.size + cfg.chunk - 1) / cfg.chunk;
	if (cfg.nblocks > UINT32_MAX || cfg.size / PAGE > UINT32_MAX) {
		fprintf(stderr, "delta_sync: --size too large for --chunk\n");
		return 2;
	}

	pu_handle_stop_signals(on_signal);
	if ((size_t)snprintf(dir_path, sizeof(dir_path), "%s/delta_sync.XXXXXX", base_dir) >=
	    sizeof(dir_path) || !mkdtemp(dir_path)) {
		fprintf(stderr, "delta_sync: mkdtemp under %s: %s\n", base_dir, strerror(errno));
		*dir_path = '\0';
		goto cleanup;
	}
	snprintf(src_path, sizeof(src_path), "%s/source", dir_path);
	snprintf(dst_path, sizeof(dst_path), "%s/destination", dir_path);

	/* the source: SIZE random bytes in a shared mapping of the file */
	src_fd = make_file(src_path, cfg.size, NULL);
	if (src_fd < 0) {
		fprintf(stderr, "delta_sync: %s: %s\n", src_path, strerror(-src_fd));
		goto cleanup;
	}
	map = mmap(NULL, cfg.size, PROT_READ | PROT_WRITE, MAP_SHARED, src_fd, 0);
	if (map == MAP_FAILED) {
		perror("delta_sync: mmap");
		goto cleanup;
	}
	bu_fill_random(map, cfg.size, seed);
	if (msync(map, cfg.size, MS_SYNC)) {
		perror("delta_sync: msync");
		goto cleanup;
	}
	/* the destination: a copy, in the same state before the first round */
	dst_fd = make_file(dst_path, cfg.size, map);
	if (dst_fd < 0) {
		fprintf(stderr, "delta_sync: %s: %s\n", dst_path, strerror(-dst_fd));
		goto cleanup;
	}

	lfd = pu_listen(NULL, &port);
	if (lfd < 0) {
		fprintf(stderr, "delta_sync: listen on 127.0.0.1: %s\n", strerror(-lfd));
		goto cleanup;
	}
	fflush(stdout);
	fflush(stderr);
	child_pid = fork();
	if (child_pid < 0) {
		perror("delta_sync: fork");
		goto cleanup;
	}
	if (child_pid == 0) {
		pu_handle_stop_signals(SIG_DFL);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() == 1)
			_exit(1);
		munmap(map, cfg.size);
		close(src_fd);
		close(dst_fd);
		_exit(receiver_main(&cfg, lfd, dst_path) ? 1 : 0);
	}
	close(lfd);
	lfd = -1;
	{
		struct sockaddr_in sa = pu_loopback(port);

		sock = pu_connect(&sa);
	}
	if (sock < 0) {
		fprintf(stderr, "delta_sync: connect to the receiver: %s\n", strerror(-sock));
		goto cleanup;
	}

	uint64_t npages = cfg.size / PAGE;

	local = calloc(cfg.nblocks, sizeof(*local));
	remote = calloc(cfg.nblocks, sizeof(*remote));
	wire = malloc(cfg.nblocks * 8);
	idx = calloc(cfg.nblocks, sizeof(*idx));
	expect = calloc(cfg.nblocks, 1);
	pages = malloc(npages * sizeof(*pages));
	cmpbuf = malloc(4u << 20);
	if (!local || !remote || !wire || !idx || !expect || !pages || !cmpbuf) {
		fprintf(stderr, "delta_sync: out of memory\n");
		goto cleanup;
	}
	for (uint64_t i = 0; i < npages; i++)
		pages[i] = (uint32_t)i;

	uint64_t rng = seed ^ 0xd1f7d1f7d1f7ull;

	for (unsigned f = 0; f < nfrac; f++) {
		uint64_t want = (uint64_t)(fractions[f] * (double)npages + 0.5);

		if (!want)
			want = 1;
		for (uint64_t run = 0; run < runs; run++) {
			struct round r;
			uint64_t nexp = 0;

			/* the pages: a fresh random choice (partial Fisher-Yates) */
			memset(expect, 0, cfg.nblocks);
			for (uint64_t k = 0; k < want; k++) {
				uint64_t j = k + bu_rand64(&rng) % (npages - k);
				uint32_t t = pages[k];
				uint64_t off;

				pages[k] = pages[j];
				pages[j] = t;
				off = (uint64_t)pages[k] * PAGE + bu_rand64(&rng) % PAGE;
				map[off] ^= 0x5a;
				if (!expect[off / cfg.chunk]) {
					expect[off / cfg.chunk] = 1;
					nexp++;
				}
			}

			err = sender_round(&cfg, sock, map, src_path, local, remote, wire, idx, &r);
			if (err) {
				fprintf(stderr, "delta_sync: sync round: %s\n", strerror(-err));
				goto cleanup;
			}
			/* exactly the blocks of the written pages, and the same bytes */
			bool blocks_ok = r.count == nexp;

			for (uint32_t k = 0; k < r.count && blocks_ok; k++)
				blocks_ok = expect[idx[k]];
			if (!blocks_ok) {
				fprintf(stderr, "delta_sync: sent %u blocks, the written pages are in %llu"
						" (or another set)\n", r.count, (unsigned long long)nexp);
				goto cleanup;
			}
			err = compare_file(dst_fd, map, cfg.size, cmpbuf, 4u << 20);
			if (err) {
				if (err != -EBADMSG)
					fprintf(stderr, "delta_sync: reading %s: %s\n", dst_path,
						strerror(-err));
				goto cleanup;
			}
			printf("{\"bench\":\"delta_sync\",\"hash\":\"%s\",\"size\":%llu,\"chunk\":%llu,"
			       "\"dirty\":%g,\"pages\":%llu,\"chunks_sent\":%u,\"bytes_sent\":%llu,"
			       "\"seconds\":%.6f,\"hash_seconds\":%.6f,\"sender_cpu_s\":%.6f,"
			       "\"receiver_cpu_s\":%.6f,\"ok\":true}\n",
			       cfg.hash == H_CRC32 ? "crc32" : "xxh3", (unsigned long long)cfg.size,
			       (unsigned long long)cfg.chunk, fractions[f], (unsigned long long)want,
			       r.count, (unsigned long long)r.bytes_sent, r.seconds, r.hash_seconds,
			       r.sender_cpu_s, r.receiver_cpu_s);
			fflush(stdout);
		}
	}
	rc = 0;

cleanup:
	if (sock >= 0) {
		if (!rc && send_hdr(sock, MSG_QUIT, 0, 0))
			rc = 1;
		close(sock);
	}
	if (child_pid > 0) {
		struct rusage ru = { 0 };
		int status = 0;
		pid_t w = 0;

		if (rc)
			kill(child_pid, SIGKILL);
		/* bounded: the receiver leaves on QUIT or on the closed socket */
		for (int i = 0; i < 100 && (w = wait4(child_pid, &status, WNOHANG, &ru)) == 0; i++)
			usleep(50 * 1000);
		if (w == 0) {
			kill(child_pid, SIGKILL);
			w = wait4(child_pid, &status, 0, &ru);
		}
		if (!rc && (w != child_pid || !WIFEXITED(status) || WEXITSTATUS(status))) {
			fprintf(stderr, "delta_sync: the receiver failed\n");
			rc = 1;
		} else if (!rc) {
			fprintf(stderr, "delta_sync: receiver CPU in all: %.3f s user, %.3f s system\n",
				(double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6,
				(double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6);
		}
	}
	if (lfd >= 0)
		close(lfd);
	if (map != MAP_FAILED)
		munmap(map, cfg.size);
	if (src_fd >= 0)
		close(src_fd);
	if (dst_fd >= 0)
		close(dst_fd);
	remove_files();
	free(local);
	free(remote);
	free(wire);
	free(idx);
	free(expect);
	free(pages);
	free(cmpbuf);
	return rc;

bad:
	return pu_usage_error("delta_sync", usage, "bad value for --%s: '%s'", opts[li].name,
			      optarg);
}
