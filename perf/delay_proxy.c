/* SPDX-License-Identifier: Apache-2.0 */
/*
 * delay_proxy.c - adds round-trip time on loopback, where this kernel has
 * no netem: a TCP proxy that forwards every connection it accepts to a
 * target and holds each chunk of bytes it reads for RTT/2 ms in each
 * direction before writing it on.
 *
 * Each direction of a connection is one thread: it reads what arrives
 * (up to 64 KiB at a time), stamps it with the time it is due, appends it to
 * a queue bounded by --queue bytes (when full it stops reading: TCP
 * back-pressure), and writes the head of the queue once it is due, without
 * blocking the reads.  Order is kept.  When one side closes, what is queued
 * towards the other is still delivered after its delay, then that
 * direction is shut down (half-close passed on); an error on either side
 * closes both.  TCP_NODELAY on both sides.  --rtt-ms 0: a plain forwarder.
 * Timed sleeps in this VM wake 100-150 us late, so a direction with little
 * queued (at most 256 KiB) sleeps until --spin-us before a chunk is due and
 * polls without sleeping from there (CPU spent for accuracy; --spin-us 0
 * turns it off).
 *
 *   delay_proxy --listen 127.0.0.1:PORT --to HOST:PORT --rtt-ms X
 *               [--queue SIZE (16M)] [--max-conns N (256)] [--spin-us N (200)]
 *
 * Prints {"port":N} on stdout (flushed) and runs until SIGTERM or SIGINT.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "peerutil.h"

#define READ_MAX (64u << 10)
#define IDLE_NS 200000000ll    /* wake at least this often to see a stop */

static atomic_int stopping;
static atomic_int conns;         /* connections whose threads are alive */
static uint64_t max_conns = 256; /* --max-conns */
/* --to */
static struct sockaddr_in target = { .sin_family = AF_INET };

struct chunk {
	struct chunk *next;
	int64_t due_ns;
	size_t len, off;
	uint8_t data[];
};

struct conn {
	int fd[2];               /* 0: the accepted client, 1: the target */
	atomic_int refs;         /* directions still running */
	atomic_int failed;       /* an error: both sides are shut down */
};

struct dir {
	struct conn *c;
	int from, to;
};

static int64_t delay_ns;
static size_t queue_max = 16u << 20;
/* a timed sleep here wakes ~100-150 us late (VM timers): sleep until this
 * long before a chunk is due, then poll without sleeping */
static int64_t spin_ns = 200000;
#define SPIN_MAX_QUEUED (256u << 10)

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000ll + ts.tv_nsec;
}

static void conn_put(struct conn *c)
{
	if (atomic_fetch_sub(&c->refs, 1) == 1) {
		close(c->fd[0]);
		close(c->fd[1]);
		free(c);
		atomic_fetch_sub(&conns, 1);
	}
}

/* Shut both sockets down: the other direction sees it at once. */
static void conn_fail(struct conn *c)
{
	atomic_store(&c->failed, 1);
	shutdown(c->fd[0], SHUT_RDWR);
	shutdown(c->fd[1], SHUT_RDWR);
}

/* One direction: read, stamp, queue; write what is due. */
static void *dir_main(void *arg)
{
	struct dir *d = arg;
	struct chunk *head = NULL, *tail = NULL;
	uint8_t *buf = malloc(READ_MAX);
	size_t queued = 0;
	bool eof = false, blocked = false, fail = !buf;

	while (!fail && !atomic_load(&stopping) && !atomic_load(&d->c->failed)) {
		int64_t now = now_ns();

		/* write what is due, as far as the socket takes it */
		blocked = false;
		while (head && head->due_ns <= now) {
			ssize_t w = send(d->to, head->data + head->off, head->len - head->off,
					 MSG_DONTWAIT | MSG_NOSIGNAL);

			if (w < 0) {
				if (errno == EINTR)
					continue;
				if (errno == EAGAIN || errno == EWOULDBLOCK)
					blocked = true;
				else
					fail = true;
				break;
			}
			head->off += (size_t)w;
			if (head->off == head->len) {
				struct chunk *n = head->next;

				queued -= head->len;
				free(head);
				head = n;
				if (!head)
					tail = NULL;
			}
		}
		if (fail)
			break;
		if (eof && !head) {
			shutdown(d->to, SHUT_WR);   /* pass the close on */
			break;
		}

		struct pollfd pf[2];
		nfds_t n = 0;
		int64_t wait = IDLE_NS;
		bool want_read = !eof && queued < queue_max;
		/* spin only for a short queue (requests and responses): a stream
		 * has many chunks queued, and a late wake sends them all at once */
		int64_t spin = queued <= SPIN_MAX_QUEUED ? spin_ns : 0;

		if (want_read)
			pf[n++] = (struct pollfd){ .fd = d->from, .events = POLLIN };
		if (blocked)
			pf[n++] = (struct pollfd){ .fd = d->to, .events = POLLOUT };
		else if (head && head->due_ns - now - spin < wait)
			wait = head->due_ns - now - spin;
		if (wait < 0)
			wait = 0;   /* the last spin_ns before a chunk is due: poll busily */

		struct timespec ts = { .tv_sec = wait / 1000000000ll, .tv_nsec = wait % 1000000000ll };
		int r = ppoll(pf, n, &ts, NULL);

		if (r < 0 && errno != EINTR) {
			fail = true;
			break;
		}
		if (r <= 0 || !want_read || !(pf[0].revents & (POLLIN | POLLHUP | POLLERR)))
			continue;

		ssize_t got = recv(d->from, buf, READ_MAX, MSG_DONTWAIT);

		if (got < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				fail = true;
			continue;
		}
		if (got == 0) {
			eof = true;
			continue;
		}
		struct chunk *ch = malloc(sizeof(*ch) + (size_t)got);

		if (!ch) {
			fail = true;
			break;
		}
		ch->next = NULL;
		ch->due_ns = now_ns() + delay_ns;
		ch->len = (size_t)got;
		ch->off = 0;
		memcpy(ch->data, buf, (size_t)got);
		if (tail)
			tail->next = ch;
		else
			head = ch;
		tail = ch;
		queued += (size_t)got;
	}
	if (fail || atomic_load(&stopping))
		conn_fail(d->c);
	while (head) {
		struct chunk *n = head->next;

		free(head);
		head = n;
	}
	free(buf);
	conn_put(d->c);
	free(d);
	return NULL;
}

/* The two direction threads; when one cannot start, the connection is
 * shut down and the references of those not started are dropped. */
static int start_dirs(struct conn *c)
{
	int started = 0;

	for (int i = 0; i < 2; i++) {
		struct dir *d = malloc(sizeof(*d));
		pthread_t th;

		if (!d)
			break;
		*d = (struct dir){ .c = c, .from = c->fd[i], .to = c->fd[1 - i] };
		if (pthread_create(&th, NULL, dir_main, d)) {
			free(d);
			break;
		}
		pthread_detach(th);
		started++;
	}
	if (started == 2)
		return 0;
	conn_fail(c);
	for (int i = started; i < 2; i++)
		conn_put(c);
	return -EAGAIN;
}

/* A connection accepted (pu_accept_loop's on_conn): connect to the target
 * and start the two directions, or close it. */
static void proxy_conn(void *ctx, int fd)
{
	struct conn *cn;
	int tfd;

	(void)ctx;
	if ((uint64_t)atomic_load(&conns) >= max_conns) {
		fprintf(stderr, "delay_proxy: %llu connections open: refusing one\n",
			(unsigned long long)max_conns);
		close(fd);
		return;
	}
	tfd = pu_connect(&target);
	if (tfd < 0) {
		fprintf(stderr, "delay_proxy: connect to the target: %s\n", strerror(-tfd));
		close(fd);
		return;
	}
	cn = malloc(sizeof(*cn));
	if (!cn) {
		close(fd);
		close(tfd);
		return;
	}
	cn->fd[0] = fd;
	cn->fd[1] = tfd;
	atomic_init(&cn->refs, 2);
	atomic_init(&cn->failed, 0);
	atomic_fetch_add(&conns, 1);
	if (start_dirs(cn))
		fprintf(stderr, "delay_proxy: cannot start a connection's threads\n");
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: delay_proxy --listen 127.0.0.1:PORT --to HOST:PORT --rtt-ms X\n"
		"                   [--queue SIZE (16M per direction)] [--max-conns N (256)]\n"
		"                   [--spin-us N (200)]\n"
		"Forwards TCP connections to HOST:PORT, holding every chunk X/2 ms in each\n"
		"direction.  Prints {\"port\":N} and runs until SIGTERM/SIGINT.\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "to", required_argument, NULL, 't' },
		{ "rtt-ms", required_argument, NULL, 'r' },
		{ "queue", required_argument, NULL, 'q' },
		{ "max-conns", required_argument, NULL, 'm' },
		{ "spin-us", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct sockaddr_in la = { .sin_family = AF_INET };
	bool have_listen = false, have_to = false, have_rtt = false;
	uint64_t q;
	double rtt_ms = 0;
	int c, li = 0, lfd, rc = 0, err;
	uint16_t port = 0;

	while ((c = getopt_long(argc, argv, "h", opts, &li)) != -1) {
		switch (c) {
		case 'l':
			if (pu_parse_hostport(optarg, &la) || !pu_is_loopback(&la))
				goto bad;
			have_listen = true;
			break;
		case 't':
			if (pu_parse_hostport(optarg, &target) || !target.sin_port)
				goto bad;
			have_to = true;
			break;
		case 'r': {
			char *end;

			errno = 0;
			rtt_ms = strtod(optarg, &end);
			if (errno || *end || end == optarg || !(rtt_ms >= 0) || rtt_ms > 60000)
				goto bad;
			have_rtt = true;
			break;
		}
		case 'q':
			if (pu_parse_size(optarg, &q) || q < READ_MAX || q > (1ull << 32))
				goto bad;
			queue_max = (size_t)q;
			break;
		case 'm':
			if (pu_parse_u64(optarg, 1, 10000, &max_conns))
				goto bad;
			break;
		case 'S':
			if (pu_parse_u64(optarg, 0, 100000, &q))
				goto bad;
			spin_ns = (int64_t)q * 1000;
			break;
		default:
			return bu_help_or_unknown(c, usage);
		}
	}
	if (optind != argc || !have_listen || !have_to || !have_rtt)
		return pu_usage_error("delay_proxy", usage,
				      "--listen, --to and --rtt-ms are required");
	delay_ns = (int64_t)(rtt_ms * 1e6 / 2);

	pu_handle_stop_signals(pu_on_stop_signal);
	signal(SIGPIPE, SIG_IGN);
	/* wake when a chunk is due, not up to 50 us later (threads inherit it) */
	prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
	lfd = pu_listen(&la, &port);
	if (lfd < 0) {
		fprintf(stderr, "delay_proxy: listen: %s\n", strerror(-lfd));
		return 1;
	}
	pu_print_port(port);

	/* until SIGTERM/SIGINT */
	err = pu_accept_loop(lfd, (int)(IDLE_NS / 1000000), NULL, proxy_conn, NULL);
	if (err) {
		fprintf(stderr, "delay_proxy: accept: %s\n", strerror(-err));
		rc = 1;
	}
	close(lfd);
	/* the directions see the stop within IDLE_NS; wait for them, bounded */
	atomic_store(&stopping, 1);
	pu_wait_zero(&conns, 50);
	return rc;

bad:
	return pu_usage_error("delay_proxy", usage, "bad value for --%s: '%s'", opts[li].name,
			      optarg);
}
