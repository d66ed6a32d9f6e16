/* SPDX-License-Identifier: Apache-2.0 */
/*
 * uffd_lazy.c - the thesis' userfaultfd lazy loading, as a baseline: an
 * anonymous region registered with UFFDIO_REGISTER_MODE_MISSING and ONE
 * handler thread that serves one fault at a time: poll -> read one uffd_msg
 * -> fetch that 4 KiB page over TCP (request: 8-byte offset + 4-byte length,
 * little-endian; response: the bytes) -> UFFDIO_COPY of that page.  No
 * concurrency, no prefetch.  The application thread reads the region (in
 * order, or every page once in a seeded random order) and compares each
 * page with the expected bytes, so a wrong byte fails the run.
 *
 * The server holds SIZE bytes of bu_fill_random(SEED): a thread in this
 * process by default, or a process of its own with --serve (prints
 * {"port":N} and serves until SIGTERM/SIGINT); --connect HOST:PORT uses
 * such a server (e.g. through perf/delay_proxy), the client then generates
 * the expected bytes itself from the same --size and --seed.
 *
 *   uffd_lazy [--size S] [--runs N] [--pattern seq|random] [--seed N]
 *             [--connect HOST:PORT]
 *   uffd_lazy --serve [--size S] [--seed N]
 *
 * One JSON line per run on stdout:
 *   {"bench":"uffd_lazy","pattern":"seq","size":N,"page":4096,"seconds":S,
 *    "bytes_per_second":B,"ttfb_s":T,"faults":F,"ok":true}
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "peerutil.h"

#define PAGE 4096u
#define REQ_LEN 12
#define MAX_REQ (1u << 20)      /* the server refuses longer requests */
#define POLL_MS 200             /* the fault handler looks for a stop this often */

/* ---------------------------------------------------------------- server */

/* What the server's connections serve: size bytes of the seed's. */
struct served {
	const uint8_t *data;
	uint64_t size;
};

/* One connection (a pu_server handler): answer requests until the client
 * closes (or an error). */
static void serve_conn(void *ctx, int fd)
{
	const struct served *s = ctx;
	uint8_t req[REQ_LEN];
	int rc;

	for (;;) {
		rc = pu_read_full(fd, req, sizeof(req));
		if (rc)
			break;
		uint64_t off = pu_get_le64(req);
		uint32_t len = pu_get_le32(req + 8);

		if (!len || len > MAX_REQ || off > s->size || len > s->size - off) {
			fprintf(stderr, "uffd_lazy: server: bad request %llu+%u (size %llu): closing\n",
				(unsigned long long)off, len, (unsigned long long)s->size);
			rc = -EINVAL;
			break;
		}
		rc = pu_write_full(fd, s->data + off, len);
		if (rc)
			break;
	}
	if (rc && rc != -ENODATA)
		fprintf(stderr, "uffd_lazy: server connection: %s\n", strerror(-rc));
}

/* ---------------------------------------------------------------- client */

struct handler {
	int uffd, evfd, sock;
	uintptr_t base;
	uint8_t *buf;            /* one page, the UFFDIO_COPY source */
	uint64_t faults;
	atomic_int err;          /* -errno of the first failure */
};

/* Fetch one page at off into h->buf. */
static int fetch_page(struct handler *h, uint64_t off)
{
	uint8_t req[REQ_LEN];
	int rc;

	pu_put_le64(req, off);
	pu_put_le32(req + 8, PAGE);
	rc = pu_write_full(h->sock, req, sizeof(req));
	if (!rc)
		rc = pu_read_full(h->sock, h->buf, PAGE);
	return rc;
}

/* The thesis' handler: one message, one page, one copy, strictly in turn. */
static void *handler_main(void *arg)
{
	struct handler *h = arg;
	struct pollfd pf[2] = { { .fd = h->uffd, .events = POLLIN },
				{ .fd = h->evfd, .events = POLLIN } };
	struct uffd_msg msg;

	for (;;) {
		int n = poll(pf, 2, POLL_MS);

		if (n < 0 && errno != EINTR) {
			atomic_store(&h->err, -errno);
			break;
		}
		if (n <= 0)
			continue;
		if (pf[1].revents)
			break;
		if (read(h->uffd, &msg, sizeof(msg)) != (ssize_t)sizeof(msg)) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			atomic_store(&h->err, -errno);
			break;
		}
		if (msg.event != UFFD_EVENT_PAGEFAULT)
			continue;
		h->faults++;

		uint64_t page = msg.arg.pagefault.address & ~(uint64_t)(PAGE - 1);
		int rc = atomic_load(&h->err) ? -ECANCELED : fetch_page(h, page - h->base);

		if (rc) {
			if (!atomic_load(&h->err))
				atomic_store(&h->err, rc);
			/* unblock the reader with a page it will reject */
			memset(h->buf, 0xee, PAGE);
		}
		struct uffdio_copy cp = { .dst = page, .src = (uintptr_t)h->buf, .len = PAGE };
		int tries = 0;

		while (ioctl(h->uffd, UFFDIO_COPY, &cp)) {
			if (errno == EEXIST)
				break;
			if (errno != EAGAIN || ++tries > 1000) {
				atomic_store(&h->err, -errno);
				/* the reader stays blocked unless woken: wake it */
				struct uffdio_range wr = { .start = page, .len = PAGE };

				ioctl(h->uffd, UFFDIO_WAKE, &wr);
				break;
			}
		}
	}
	return NULL;
}

struct sample {
	double seconds, ttfb_s;
	uint64_t faults;
	bool ok;
};

/* One lazy load of size bytes over sa, read in order (or in perm's
 * order), compared with expect.  0 (the sample says whether it verified)
 * or -errno for a setup failure. */
static int run_once(const struct sockaddr_in *sa, uint64_t size, const uint32_t *perm,
		    const uint8_t *expect, struct sample *out)
{
	struct handler h = { .uffd = -1, .evfd = -1, .sock = -1 };
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg = { .mode = UFFDIO_REGISTER_MODE_MISSING };
	uint64_t npages = size / PAGE, one = 1, bad_page = UINT64_MAX;
	uint8_t *addr = MAP_FAILED;
	bool th_started = false;
	volatile uint8_t first;
	pthread_t th;
	double t0;
	int rc = 0;

	h.sock = pu_connect(sa);
	if (h.sock < 0) {
		rc = h.sock;
		fprintf(stderr, "uffd_lazy: connect: %s\n", strerror(-rc));
		goto out;
	}
	h.buf = aligned_alloc(PAGE, PAGE);
	if (!h.buf) {
		rc = -ENOMEM;
		fprintf(stderr, "uffd_lazy: out of memory\n");
		goto out;
	}
	/* only user-space faults are ours; without the flag on older kernels */
	h.uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);
	if (h.uffd < 0 && errno == EINVAL)
		h.uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (h.uffd < 0 || ioctl(h.uffd, UFFDIO_API, &api)) {
		rc = -errno;
		fprintf(stderr, "uffd_lazy: userfaultfd: %s%s\n", strerror(-rc),
			rc == -EPERM ? " (root, or vm.unprivileged_userfaultfd=1)" : "");
		goto out;
	}
	h.evfd = eventfd(0, EFD_CLOEXEC);
	if (h.evfd < 0) {
		rc = -errno;
		fprintf(stderr, "uffd_lazy: eventfd: %s\n", strerror(-rc));
		goto out;
	}

	t0 = bu_now_s();
	addr = mmap(NULL, size, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (addr == MAP_FAILED) {
		rc = -errno;
		fprintf(stderr, "uffd_lazy: mmap: %s\n", strerror(-rc));
		goto out;
	}
	h.base = (uintptr_t)addr;
	reg.range.start = (uintptr_t)addr;
	reg.range.len = size;
	if (ioctl(h.uffd, UFFDIO_REGISTER, &reg)) {
		rc = -errno;
		fprintf(stderr, "uffd_lazy: UFFDIO_REGISTER: %s\n", strerror(-rc));
		goto out;
	}
	if (pthread_create(&th, NULL, handler_main, &h)) {
		rc = -EAGAIN;
		fprintf(stderr, "uffd_lazy: pthread_create failed\n");
		goto out;
	}
	th_started = true;

	for (uint64_t k = 0; k < npages; k++) {
		uint64_t off = (perm ? perm[k] : k) * (uint64_t)PAGE;

		if (k == 0) {
			first = addr[off];
			out->ttfb_s = bu_now_s() - t0;
			(void)first;
		}
		if (memcmp(addr + off, expect + off, PAGE) || atomic_load(&h.err)) {
			bad_page = off / PAGE;
			break;
		}
	}
	out->seconds = bu_now_s() - t0;

out:
	if (th_started) {
		(void)!write(h.evfd, &one, sizeof(one));
		pthread_join(th, NULL);
	}
	out->faults = h.faults;
	out->ok = !rc && th_started && bad_page == UINT64_MAX && !atomic_load(&h.err);
	if (th_started && !out->ok) {
		int e = atomic_load(&h.err);

		if (e)
			fprintf(stderr, "uffd_lazy: fault handler: %s%s\n", strerror(-e),
				e == -ENODATA || e == -EPIPE ?
				" (the server closed the connection: a request beyond its --size?)" : "");
		if (bad_page != UINT64_MAX)
			fprintf(stderr, "uffd_lazy: page %llu differs from the expected bytes%s\n",
				(unsigned long long)bad_page,
				e ? "" : " (same --size and --seed on both sides?)");
	}
	if (addr != MAP_FAILED)
		munmap(addr, size);
	if (h.uffd >= 0)
		close(h.uffd);
	if (h.evfd >= 0)
		close(h.evfd);
	if (h.sock >= 0)
		close(h.sock);
	free(h.buf);
	return rc;
}

/* ------------------------------------------------------------------ main */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: uffd_lazy [--size S (256M)] [--runs N (3)] [--pattern seq|random]\n"
		"                 [--seed N] [--connect HOST:PORT]\n"
		"       uffd_lazy --serve [--size S] [--seed N]\n"
		"Thesis-style userfaultfd lazy loading: one 4 KiB page per fault over TCP,\n"
		"one fault at a time.  One JSON line per run on stdout.\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "size", required_argument, NULL, 's' },
		{ "runs", required_argument, NULL, 'r' },
		{ "pattern", required_argument, NULL, 'p' },
		{ "connect", required_argument, NULL, 'c' },
		{ "serve", no_argument, NULL, 'S' },
		{ "seed", required_argument, NULL, 'e' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t size = 256ull << 20, runs = 3, seed = 42;
	struct served served = { 0 };
	struct pu_server srv = PU_SERVER_INIT("uffd_lazy", serve_conn, &served);
	struct sockaddr_in sa = { .sin_family = AF_INET };
	const char *connect_to = NULL;
	bool serve = false, random_order = false;
	uint8_t *data = NULL;
	uint32_t *perm = NULL;
	int c, li = 0, rc = 1;

	while ((c = getopt_long(argc, argv, "h", opts, &li)) != -1) {
		switch (c) {
		case 's':
			if (pu_parse_size(optarg, &size) || !size || size % PAGE ||
			    size / PAGE > UINT32_MAX)
				goto bad;
			break;
		case 'r':
			if (pu_parse_u64(optarg, 1, 1000, &runs))
				goto bad;
			break;
		case 'p':
			if (!strcmp(optarg, "random"))
				random_order = true;
			else if (strcmp(optarg, "seq"))
				goto bad;
			break;
		case 'c':
			if (pu_parse_hostport(optarg, &sa))
				goto bad;
			connect_to = optarg;
			break;
		case 'S':
			serve = true;
			break;
		case 'e':
			if (pu_parse_u64(optarg, 0, UINT64_MAX, &seed))
				goto bad;
			break;
		default:
			return bu_help_or_unknown(c, usage);
		}
	}
	if (optind != argc || (serve && connect_to))
		return pu_usage_error("uffd_lazy", usage, "%s", optind != argc ?
				      "unexpected argument" :
				      "--serve and --connect exclude each other");

	/* the seed's bytes: what the server serves (--serve, or in-process),
	 * and what the pages must equal (in-process, or --connect) */
	data = pu_map_anon(size);
	if (!data) {
		perror("uffd_lazy: mmap");
		goto cleanup;
	}
	bu_fill_random(data, size, seed);
	if (!connect_to) {
		served = (struct served){ .data = data, .size = size };
		if (pu_server_open(&srv, &sa, serve))
			goto cleanup;
	}
	if (serve) {   /* served until SIGTERM/SIGINT */
		rc = 0;
		goto cleanup;
	}
	if (random_order) {
		perm = pu_permutation((uint32_t)(size / PAGE), seed ^ 0x5eed5eedull);
		if (!perm) {
			fprintf(stderr, "uffd_lazy: out of memory\n");
			goto cleanup;
		}
	}

	for (uint64_t i = 0; i < runs; i++) {
		struct sample s = { 0 };

		if (run_once(&sa, size, perm, data, &s) || !s.ok) {
			fprintf(stderr, "uffd_lazy: run %llu FAILED\n", (unsigned long long)i + 1);
			goto cleanup;
		}
		printf("{\"bench\":\"uffd_lazy\",\"pattern\":\"%s\",\"size\":%llu,\"page\":%u,"
		       "\"seconds\":%.6f,\"bytes_per_second\":%.0f,\"ttfb_s\":%.6f,"
		       "\"faults\":%llu,\"ok\":true}\n",
		       random_order ? "random" : "seq", (unsigned long long)size, PAGE, s.seconds,
		       (double)size / s.seconds, s.ttfb_s, (unsigned long long)s.faults);
		fflush(stdout);
	}
	rc = 0;

cleanup:
	/* the bytes stay mapped while a connection thread may still read them */
	if (pu_server_close(&srv) && data)
		munmap(data, size);
	free(perm);
	return rc;

bad:
	return pu_usage_error("uffd_lazy", usage, "bad value for --%s: '%s'", opts[li].name,
			      optarg);
}
