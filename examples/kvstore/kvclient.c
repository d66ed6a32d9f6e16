/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kvclient.c - the migration demo's client: it keeps writing known values
 * to kvstore (PUT) and reading every value it wrote back (GET) before it
 * writes that key again, so each write is verified once; at the end it
 * reads every key again.  --state FILE keeps the last value of each key,
 * and --check verifies a store (e.g. a new kvstore on the destination)
 * against such a file.
 *
 *   kvclient --connect HOST:PORT [--keys N] [--seconds S] [--interval-us US]
 *            [--seed N] [--state FILE]
 *   kvclient --connect HOST:PORT --check --state FILE
 *
 * Exit 0 only when every write was read back as written.
 */
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "lineio.h"
#include "table.h"

static volatile sig_atomic_t stop;

static void on_stop(int sig)
{
	(void)sig;
	stop = 1;
}

struct client {
	struct lineio io;
	uint64_t max_ns;            /* longest request */
	uint64_t writes, verified, reads_bad;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int connect_to(const char *hostport)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *ai;
	char host[256], port[8];
	int fd;

	if (lineio_hostport(hostport, host, sizeof(host), port, sizeof(port)) ||
	    getaddrinfo(host, port, &hints, &ai))
		return -EINVAL;
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen)) {
		close(fd);
		fd = -1;
	}
	freeaddrinfo(ai);
	return fd < 0 ? -ECONNREFUSED : fd;
}

/* Send req (with its newline), the reply line into out: 0 or -errno. */
static int call(struct client *c, const char *req, char *out)
{
	uint64_t t0 = now_ns(), dt;
	int rc = lineio_write(c->io.fd, req, strlen(req));

	if (!rc)
		rc = lineio_read(&c->io, out);
	if (rc == 0)
		return -ECONNRESET;
	if (rc < 0)
		return rc;
	dt = now_ns() - t0;
	if (dt > c->max_ns)
		c->max_ns = dt;
	return 0;
}

/* GET key and compare with want: 1 equal, 0 not (said why), -errno. */
static int verify(struct client *c, const char *key, const char *want)
{
	char req[KV_LINE_MAX], out[KV_LINE_MAX];
	unsigned long long ver;
	int off = 0, rc;

	snprintf(req, sizeof(req), "GET %s\n", key);
	rc = call(c, req, out);
	if (rc)
		return rc;
	if (sscanf(out, "VAL %llu %n", &ver, &off) == 1 && off > 0 && strcmp(out + off, want) == 0)
		return 1;
	fprintf(stderr, "kvclient: %s: wrote '%s', read back '%s'\n", key, want, out);
	return 0;
}

static int put(struct client *c, const char *key, const char *val)
{
	char req[KV_LINE_MAX], out[KV_LINE_MAX];
	int rc;

	snprintf(req, sizeof(req), "PUT %s %s\n", key, val);
	rc = call(c, req, out);
	if (rc)
		return rc;
	if (strncmp(out, "OK ", 3) != 0) {
		fprintf(stderr, "kvclient: PUT %s: %s\n", key, out);
		return -EIO;
	}
	c->writes++;
	return 0;
}

struct opts {
	const char *connect, *state;
	unsigned keys, interval_us;
	double seconds;
	unsigned long seed;
	bool check;
};

static int save_state(const char *path, char (*val)[KV_VAL_MAX + 1], unsigned keys)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return -errno;
	for (unsigned i = 0; i < keys; i++)
		if (val[i][0])
			fprintf(f, "k%u %s\n", i, val[i]);
	return fclose(f) ? -errno : 0;
}

static int run(struct client *c, const struct opts *o)
{
	char (*val)[KV_VAL_MAX + 1] = calloc(o->keys, sizeof(*val));
	bool *seen = calloc(o->keys, sizeof(*seen));
	uint64_t end = now_ns() + (uint64_t)(o->seconds * 1e9), n = 0, keys_ok = 0, keys = 0;
	struct timespec pause = { 0, (long)o->interval_us * 1000 };
	char key[32];
	int rc = 0;

	if (!val || !seen)
		return -ENOMEM;
	srandom((unsigned)o->seed);
	while (!stop && (o->seconds <= 0 || now_ns() < end)) {
		unsigned i = (unsigned)random() % o->keys;

		snprintf(key, sizeof(key), "k%u", i);
		if (val[i][0] && !seen[i]) {
			rc = verify(c, key, val[i]);
			if (rc < 0)
				break;
			seen[i] = true;
			c->verified += (uint64_t)rc;
			c->reads_bad += (uint64_t)!rc;
		} else {
			snprintf(val[i], sizeof(val[i]), "v%lu-%u-%llu", o->seed, i,
				 (unsigned long long)n++);
			rc = put(c, key, val[i]);
			if (rc < 0)
				break;
			seen[i] = false;
		}
		rc = 0;
		if (o->interval_us)
			nanosleep(&pause, NULL);
	}
	for (unsigned i = 0; rc >= 0 && i < o->keys; i++) {
		if (!val[i][0])
			continue;
		snprintf(key, sizeof(key), "k%u", i);
		rc = verify(c, key, val[i]);
		if (rc < 0)
			break;
		keys++;
		keys_ok += (uint64_t)rc;
		if (!seen[i]) {
			c->verified += (uint64_t)rc;
			c->reads_bad += (uint64_t)!rc;
		}
		rc = 0;
	}
	if (rc < 0)
		fprintf(stderr, "kvclient: the store: %s\n", strerror(-rc));
	if (rc >= 0 && o->state && (rc = save_state(o->state, val, o->keys)) < 0)
		fprintf(stderr, "kvclient: %s: %s\n", o->state, strerror(-rc));
	printf("kvclient: writes verified: %llu of %llu; final check: %llu of %llu keys; "
	       "longest request %.1f ms\n", (unsigned long long)c->verified,
	       (unsigned long long)c->writes, (unsigned long long)keys_ok,
	       (unsigned long long)keys, (double)c->max_ns / 1e6);
	free(val);
	free(seen);
	if (rc < 0)
		return rc;
	return c->verified == c->writes && keys_ok == keys ? 0 : -EIO;
}

static int check(struct client *c, const char *path)
{
	char line[KV_LINE_MAX], key[KV_KEY_MAX + 1], v[KV_VAL_MAX + 1];
	uint64_t n = 0, good = 0;
	FILE *f = fopen(path, "r");
	int rc = 0;

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%31s %79s", key, v) != 2)
			continue;
		rc = verify(c, key, v);
		if (rc < 0)
			break;
		n++;
		good += (uint64_t)rc;
		rc = 0;
	}
	fclose(f);
	if (rc < 0) {
		fprintf(stderr, "kvclient: the store: %s\n", strerror(-rc));
		return rc;
	}
	printf("kvclient: check: %llu of %llu keys hold their last write\n",
	       (unsigned long long)good, (unsigned long long)n);
	return good == n && n > 0 ? 0 : -EIO;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "connect", required_argument, NULL, 'c' },
		{ "keys", required_argument, NULL, 'k' },
		{ "seconds", required_argument, NULL, 's' },
		{ "interval-us", required_argument, NULL, 'i' },
		{ "seed", required_argument, NULL, 'r' },
		{ "state", required_argument, NULL, 'f' },
		{ "check", no_argument, NULL, 'C' },
		{ NULL, 0, NULL, 0 },
	};
	struct opts o = { .keys = 500, .seconds = 10, .interval_us = 1000, .seed = 1 };
	struct sigaction sa = { .sa_handler = on_stop };
	struct client c = { 0 };
	int ch, fd, rc;

	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (ch) {
		case 'c': o.connect = optarg; break;
		case 'k': o.keys = (unsigned)strtoul(optarg, NULL, 10); break;
		case 's': o.seconds = strtod(optarg, NULL); break;
		case 'i': o.interval_us = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'r': o.seed = strtoul(optarg, NULL, 10); break;
		case 'f': o.state = optarg; break;
		case 'C': o.check = true; break;
		default: return 2;
		}
	}
	if (!o.connect || optind != argc || o.keys == 0 || o.keys > 1000000 ||
	    o.interval_us > 1000000 || (o.check && !o.state)) {
		fprintf(stderr, "Usage: kvclient --connect HOST:PORT [--keys N] [--seconds S] "
				"[--interval-us US] [--seed N] [--state FILE]\n"
				"       kvclient --connect HOST:PORT --check --state FILE\n");
		return 2;
	}
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	fd = connect_to(o.connect);
	if (fd < 0) {
		fprintf(stderr, "kvclient: cannot connect to %s: %s\n", o.connect, strerror(-fd));
		return 1;
	}
	lineio_init(&c.io, fd);
	rc = o.check ? check(&c, o.state) : run(&c, &o);
	close(fd);
	return rc ? 1 : 0;
}
