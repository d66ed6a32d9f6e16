/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kvstore.c - the migration demo's application: a key-value store whose
 * table (table.c) lives in a writable lazy mapping of a memsync region
 * (pushed to memsyncd every --sync-ms by the mapping's sync thread), served
 * over TCP with a line protocol (lineio.h).  When the region migrates to
 * another memsyncd, the mapping follows the redirect and takes its lease
 * again there; the store keeps answering meanwhile.
 *
 *   kvstore --region memsync://HOST:PORT/REGION [--listen HOST:PORT]
 *           [--port-file FILE] [--sync-ms MS] [--transport auto|tcp|rdma]
 *
 * SIGTERM or SIGINT: a last sync, then exit 0 (1 if that sync failed).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "memsync.h"
#include "lineio.h"
#include "table.h"

#define MAX_CONNS 32

static volatile sig_atomic_t stop;

static void on_stop(int sig)
{
	(void)sig;
	stop = 1;
}

struct store {
	ms_map *map;
	struct kv_table t;
	uint64_t puts, gets;
};

static int listen_on(const char *hostport, unsigned *bound)
{
	struct addrinfo hints = { .ai_family = AF_INET, .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_PASSIVE }, *ai;
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	char host[256], port[8];
	int fd, one = 1;

	if (lineio_hostport(hostport, host, sizeof(host), port, sizeof(port)) ||
	    getaddrinfo(host, port, &hints, &ai))
		return -EINVAL;
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) || listen(fd, 16) ||
	    getsockname(fd, (struct sockaddr *)&sa, &sl)) {
		int err = -errno;

		if (fd >= 0)
			close(fd);
		freeaddrinfo(ai);
		return err;
	}
	freeaddrinfo(ai);
	*bound = ntohs(sa.sin_port);
	return fd;
}

/* One request line -> one reply line in out. */
static void serve_line(struct store *s, char *line, char *out, size_t len)
{
	char *cmd = strtok(line, " "), *key, *val;
	char cur[KV_VAL_MAX + 1];
	uint64_t ver;
	int rc;

	if (!cmd) {
		snprintf(out, len, "ERR empty request\n");
	} else if (strcmp(cmd, "PUT") == 0) {
		key = strtok(NULL, " ");
		val = strtok(NULL, "");
		rc = key && val ? kv_table_put(&s->t, key, val, &ver) : -EINVAL;
		s->puts += rc == 0;
		if (rc)
			snprintf(out, len, "ERR put: %s\n", strerror(-rc));
		else
			snprintf(out, len, "OK %llu\n", (unsigned long long)ver);
	} else if (strcmp(cmd, "GET") == 0) {
		key = strtok(NULL, " ");
		rc = key ? kv_table_get(&s->t, key, cur, &ver) : -EINVAL;
		s->gets++;
		if (rc == -ENOENT)
			snprintf(out, len, "NONE\n");
		else if (rc)
			snprintf(out, len, "ERR get: %s\n", strerror(-rc));
		else
			snprintf(out, len, "VAL %llu %s\n", (unsigned long long)ver, cur);
	} else if (strcmp(cmd, "SYNC") == 0) {
		rc = ms_map_sync(s->map, NULL);
		if (rc)
			snprintf(out, len, "ERR sync: %s\n", ms_map_errmsg(s->map)[0] ?
				 ms_map_errmsg(s->map) : strerror(-rc));
		else
			snprintf(out, len, "OK\n");
	} else if (strcmp(cmd, "COUNT") == 0) {
		snprintf(out, len, "OK %llu\n", (unsigned long long)kv_table_count(&s->t));
	} else {
		snprintf(out, len, "ERR unknown request '%s' (PUT, GET, SYNC, COUNT)\n", cmd);
	}
}

/* Serve what conn has sent: 0, or -1 when it is to be closed. */
static int serve_conn(struct store *s, struct lineio *l)
{
	char line[KV_LINE_MAX], out[KV_LINE_MAX + 32];
	int rc;

	while ((rc = lineio_read(l, line)) == 1) {
		serve_line(s, line, out, sizeof(out));
		if (lineio_write(l->fd, out, strlen(out)))
			return -1;
	}
	return rc == -EAGAIN ? 0 : -1;
}

static int serve(struct store *s, int lfd)
{
	static struct lineio conn[MAX_CONNS];
	struct pollfd pfd[MAX_CONNS + 1];
	int n = 0;
	bool failed_said = false;

	while (!stop) {
		pfd[0] = (struct pollfd){ .fd = lfd, .events = POLLIN };
		for (int i = 0; i < n; i++)
			pfd[i + 1] = (struct pollfd){ .fd = conn[i].fd, .events = POLLIN };
		if (poll(pfd, (nfds_t)n + 1, 500) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (!failed_said && ms_map_errmsg(s->map)[0]) {
			fprintf(stderr, "kvstore: mapping: %s\n", ms_map_errmsg(s->map));
			failed_said = true;
		}
		for (int i = n - 1; i >= 0; i--) {
			if (!pfd[i + 1].revents || serve_conn(s, &conn[i]) == 0)
				continue;
			close(conn[i].fd);
			conn[i] = conn[--n];
		}
		if (pfd[0].revents & POLLIN) {
			int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

			if (fd >= 0 && n < MAX_CONNS)
				lineio_init(&conn[n++], fd);
			else if (fd >= 0)
				close(fd);
		}
	}
	for (int i = 0; i < n; i++)
		close(conn[i].fd);
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f, "Usage: kvstore --region memsync://HOST:PORT/REGION [--listen HOST:PORT]\n"
		   "               [--port-file FILE] [--sync-ms MS] [--transport auto|tcp|rdma]\n"
		   "               [--key-file FILE]   (default $MEMSYNC_KEY_FILE)\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "region", required_argument, NULL, 'r' },
		{ "listen", required_argument, NULL, 'l' },
		{ "port-file", required_argument, NULL, 'p' },
		{ "sync-ms", required_argument, NULL, 's' },
		{ "transport", required_argument, NULL, 't' },
		{ "key-file", required_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *region = NULL, *listen_at = "127.0.0.1:0", *port_file = NULL;
	struct ms_client_opts co = { .opts_size = sizeof(co) };
	struct ms_map_opts mo = { .opts_size = sizeof(mo), .writable = true,
				  .sync_interval_ms = 20, .reconnect_timeout_ms = 30000 };
	struct sigaction sa = { .sa_handler = on_stop };
	struct store s = { 0 };
	struct ms_url u;
	char err[512] = "";
	unsigned port = 0;
	int c, lfd, rc;

	co.key_file = getenv("MEMSYNC_KEY_FILE");
	if (co.key_file && !*co.key_file)
		co.key_file = NULL;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'r': region = optarg; break;
		case 'l': listen_at = optarg; break;
		case 'p': port_file = optarg; break;
		case 's': mo.sync_interval_ms = (unsigned)atoi(optarg); break;
		case 'k': co.key_file = optarg; break;
		case 't':
			if (ms_transport_parse(optarg, &co.transport) < 0) {
				fprintf(stderr, "kvstore: bad --transport '%s'\n", optarg);
				return 2;
			}
			break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (!region || optind != argc || ms_url_parse(region, false, &u) || !u.region[0] ||
	    mo.sync_interval_ms == 0) {
		usage(stderr);
		return 2;
	}
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	s.map = ms_map_open(u.host, u.port, u.region, &co, &mo, err, sizeof(err));
	if (!s.map) {
		fprintf(stderr, "kvstore: cannot map %s: %s\n", region, err[0] ? err : strerror(errno));
		return 1;
	}
	rc = kv_table_init(&s.t, ms_map_addr(s.map), ms_map_size(s.map));
	lfd = rc ? rc : listen_on(listen_at, &port);
	if (lfd < 0) {
		fprintf(stderr, "kvstore: cannot listen on %s: %s\n", listen_at, strerror(-lfd));
		ms_map_close(s.map);
		return 1;
	}
	if (port_file) {
		FILE *f = fopen(port_file, "w");

		if (!f || fprintf(f, "%u\n", port) < 0 || fclose(f)) {
			fprintf(stderr, "kvstore: cannot write %s\n", port_file);
			close(lfd);
			ms_map_close(s.map);
			return 1;
		}
	}
	fprintf(stderr, "kvstore: %s mapped writable (%llu slots, sync every %u ms, %s); "
		"serving on port %u\n", region, (unsigned long long)s.t.nslots,
		mo.sync_interval_ms, ms_map_dirty_mode(s.map), port);
	rc = serve(&s, lfd);
	close(lfd);
	if (rc)
		fprintf(stderr, "kvstore: %s\n", strerror(-rc));
	c = ms_map_sync(s.map, NULL);
	if (c)
		fprintf(stderr, "kvstore: last sync failed: %s\n",
			ms_map_errmsg(s.map)[0] ? ms_map_errmsg(s.map) : strerror(-c));
	else
		fprintf(stderr, "kvstore: stopped after %llu puts and %llu gets; last sync done\n",
			(unsigned long long)s.puts, (unsigned long long)s.gets);
	ms_map_close(s.map);
	return rc || c ? 1 : 0;
}
