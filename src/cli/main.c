/* SPDX-License-Identifier: Apache-2.0 */
/*
 * main.c - the memsync command-line tool: option parsing, dispatch to the
 * commands (cmd_*.c), usage and version, and the small helpers the
 * commands share (error reporting, connecting, opening, writing).
 *
 * Global and command options may come before or after the command
 * (getopt_long permutes); an option that belongs to another command is a
 * usage error rather than silently ignored.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "errjson.h"
#include "help.h"
#include "suggest.h"
#include "log.h"
#include "units.h"

#ifndef PACKAGE_VERSION
#define MS_STR2(x) #x
#define MS_STR(x) MS_STR2(x)
#define PACKAGE_VERSION MS_STR(MEMSYNC_VERSION_MAJOR) "." MS_STR(MEMSYNC_VERSION_MINOR) "." \
	MS_STR(MEMSYNC_VERSION_PATCH)
#endif

#define QUEUE_DEPTH_MAX 1024
#define STREAMS_MAX 16          /* client_streams.h CL_STREAMS_MAX */
#define MAX_IO_MAX (1ull << 30)
#define DEMO_SIZE_DEFAULT (256ull << 20)
#define DEMO_DIRTY_DEFAULT 3.0
#define MIG_DOWNTIME_MAX 60000u
#define MIG_ROUNDS_MAX 1000u

enum {
	OPT_TRANSPORT = 256,
	OPT_JSON,
	OPT_QUEUE_DEPTH,
	OPT_MAX_IO,
	OPT_TIMEOUT,
	OPT_CLIENT_ID,
	OPT_VERSION,
	OPT_NO_VERIFY,
	OPT_ALL,
	OPT_OFFSET,
	OPT_LENGTH,
	OPT_SIZE,
	OPT_CHUNK,
	OPT_DIRTY,
	OPT_WRITE,
	OPT_TOUCH,
	OPT_SYNC,
	OPT_REFRESH,
	OPT_SEED,
	OPT_NO_PREFETCH,
	OPT_HOT_FIRST,
	OPT_MAP_WAIT,
	OPT_HUGE,
	OPT_MODE,
	OPT_DOWNTIME,
	OPT_MAX_ROUNDS,
	OPT_PATH,
	OPT_NO_WAIT,
	OPT_STATUS,
	OPT_ABORT,
	OPT_MAX_BANDWIDTH,
	OPT_ADVERTISE,
	OPT_TLS_CA,
	OPT_TLS_CERT,
	OPT_TLS_KEY,
	OPT_KEY_FILE,
	OPT_STREAMS,
};

static const struct option long_opts[] = {
	{ "transport", required_argument, NULL, OPT_TRANSPORT },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "quiet", no_argument, NULL, 'q' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "queue-depth", required_argument, NULL, OPT_QUEUE_DEPTH },
	{ "max-io", required_argument, NULL, OPT_MAX_IO },
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
	{ "client-id", required_argument, NULL, OPT_CLIENT_ID },
	{ "tls-ca", required_argument, NULL, OPT_TLS_CA },
	{ "tls-cert", required_argument, NULL, OPT_TLS_CERT },
	{ "tls-key", required_argument, NULL, OPT_TLS_KEY },
	{ "key-file", required_argument, NULL, OPT_KEY_FILE },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ "no-verify", no_argument, NULL, OPT_NO_VERIFY },
	{ "all", no_argument, NULL, OPT_ALL },
	{ "offset", required_argument, NULL, OPT_OFFSET },
	{ "length", required_argument, NULL, OPT_LENGTH },
	{ "size", required_argument, NULL, OPT_SIZE },
	{ "chunk", required_argument, NULL, OPT_CHUNK },
	{ "dirty", required_argument, NULL, OPT_DIRTY },
	{ "write", no_argument, NULL, OPT_WRITE },
	{ "touch", required_argument, NULL, OPT_TOUCH },
	{ "sync", no_argument, NULL, OPT_SYNC },
	{ "refresh", no_argument, NULL, OPT_REFRESH },
	{ "seed", required_argument, NULL, OPT_SEED },
	{ "no-prefetch", no_argument, NULL, OPT_NO_PREFETCH },
	{ "hot-first", no_argument, NULL, OPT_HOT_FIRST },
	{ "wait", no_argument, NULL, OPT_MAP_WAIT },
	{ "huge", required_argument, NULL, OPT_HUGE },
	{ "mode", required_argument, NULL, OPT_MODE },
	{ "downtime", required_argument, NULL, OPT_DOWNTIME },
	{ "max-rounds", required_argument, NULL, OPT_MAX_ROUNDS },
	{ "path", required_argument, NULL, OPT_PATH },
	{ "no-wait", no_argument, NULL, OPT_NO_WAIT },
	{ "status", no_argument, NULL, OPT_STATUS },
	{ "abort", no_argument, NULL, OPT_ABORT },
	{ "max-bandwidth", required_argument, NULL, OPT_MAX_BANDWIDTH },
	{ "advertise", required_argument, NULL, OPT_ADVERTISE },
	{ "streams", required_argument, NULL, OPT_STREAMS },
	{ NULL, 0, NULL, 0 },
};

/* Command options, with the commands each belongs to (space separated). */
static const struct {
	int opt;
	const char *name;
	const char *cmd;
} cmd_opts[] = {
	{ OPT_NO_VERIFY, "--no-verify", "pull" },
	{ OPT_ALL, "--all", "push" },
	{ OPT_OFFSET, "--offset", "cat" },
	{ OPT_LENGTH, "--length", "cat" },
	{ OPT_SIZE, "--size", "demo" },
	{ OPT_CHUNK, "--chunk", "demo" },
	{ OPT_DIRTY, "--dirty", "demo map" },
	{ OPT_WRITE, "--write", "map" },
	{ OPT_TOUCH, "--touch", "map" },
	{ OPT_SYNC, "--sync", "map" },
	{ OPT_REFRESH, "--refresh", "map" },
	{ OPT_SEED, "--seed", "map" },
	{ OPT_NO_PREFETCH, "--no-prefetch", "map" },
	{ OPT_HOT_FIRST, "--hot-first", "map" },
	{ OPT_MAP_WAIT, "--wait", "map" },
	{ OPT_HUGE, "--huge", "map" },
	{ OPT_MODE, "--mode", "migrate" },
	{ OPT_DOWNTIME, "--downtime", "migrate" },
	{ OPT_MAX_ROUNDS, "--max-rounds", "migrate" },
	{ OPT_PATH, "--path", "migrate" },
	{ OPT_NO_WAIT, "--no-wait", "migrate" },
	{ OPT_STATUS, "--status", "migrate" },
	{ OPT_ABORT, "--abort", "migrate" },
	{ OPT_MAX_BANDWIDTH, "--max-bandwidth", "migrate" },
	{ OPT_ADVERTISE, "--advertise", "migrate" },
	{ OPT_STREAMS, "--streams", "pull push cat map" },
};

/* Does the space-separated list cmds name cmd? */
static bool cmd_in(const char *cmds, const char *cmd)
{
	size_t n = strlen(cmd);

	for (const char *p = cmds; *p;) {
		size_t k = strcspn(p, " ");

		if (k == n && strncmp(p, cmd, n) == 0)
			return true;
		p += k;
		p += strspn(p, " ");
	}
	return false;
}

static const struct {
	const char *name;
	int (*fn)(const struct cli_opts *o, int argc, char **argv);
} commands[] = {
	{ "pull", cmd_pull },
	{ "push", cmd_push },
	{ "cat", cmd_cat },
	{ "stat", cmd_stat },
	{ "demo", cmd_demo },
	{ "map", cmd_map },
	{ "lease", cmd_lease },
	{ "migrate", cmd_migrate },
	{ "disconnect", cmd_disconnect },
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: memsync [OPTIONS] COMMAND [ARGS]\n"
		"\n"
		"Replicate memory regions exported by memsyncd.\n"
		"\n"
		"Commands:\n"
		"  pull URL FILE|DIR/|-  copy a whole region into FILE, DIR/REGION or\n"
		"                        stdout (\"-\"); FILE is replaced only when complete\n"
		"      --no-verify         skip the per-chunk XXH3-128 check\n"
		"  push FILE URL         make the region's first size(FILE) bytes equal FILE,\n"
		"                        sending only changed chunks, then commit\n"
		"      --all               send every chunk\n"
		"  cat URL --offset N --length N\n"
		"                        write bytes [N, N+length) of a region to stdout\n"
		"  stat URL|HOST:PORT    show the regions of a server (or one region) and\n"
		"                        the clients of each (id, address, lease, bytes)\n"
		"  disconnect URL|HOST:PORT CLIENT\n"
		"                        close a client's connection (operator action;\n"
		"                        CLIENT is the ID `stat` shows); its lease is fenced\n"
		"  lease URL             show who holds the region's write lease (epoch, expiry)\n"
		"  lease break URL       fence the lease's holder at once (operator action)\n"
		"  demo [--size SIZE] [--chunk SIZE] [--dirty PERCENT]\n"
		"                        pull, change and push a generated region through an\n"
		"                        in-process server and verify the result\n"
		"                        (defaults: 256M, 64K, 3)\n"
		"  map URL               map a region lazily (pages arrive on first touch and\n"
		"                        from background prefetch) and report\n"
		"      --touch seq|random  read all of it in that chunk order; print the\n"
		"                          XXH3-128 of the mapping and the progress\n"
		"      --write             map it writable (takes the region's write lease)\n"
		"      --dirty PERCENT     with --write: change PERCENT of the pages at\n"
		"                          pseudo-random offsets\n"
		"      --seed N            seed of --dirty and --touch random (default 1)\n"
		"      --sync              with --write: push the written chunks and commit\n"
		"      --refresh           drop local chunks that changed on the server\n"
		"      --no-prefetch       only pull what is touched\n"
		"      --hot-first         prefetch the server's hot chunks first\n"
		"      --wait              wait until all of it is local (prefetch only,\n"
		"                          nothing touched) and report the time\n"
		"      --huge auto|on|off  2 MiB hugetlbfs pages (default auto: when free)\n"
		"  migrate URL HOST:PORT move the region from its server (A) to memsyncd at\n"
		"                        HOST:PORT (B) while clients keep using it; waits,\n"
		"                        showing the phase, then prints downtime and bytes\n"
		"      --mode hybrid|precopy|postcopy|stopcopy  (default hybrid)\n"
		"      --downtime MS       pre-copy's downtime target (default 10)\n"
		"      --max-rounds N      pre-copy rounds at most (default 8, hybrid 2)\n"
		"      --path FILE         B keeps the region in FILE (default: memory)\n"
		"      --max-bandwidth SIZE  B copies at most SIZE bytes a second\n"
		"      --advertise HOST:PORT where A's redirects send clients (default:\n"
		"                          B's address as given)\n"
		"      --no-wait           return once B started\n"
		"  migrate --status URL  B's view of the migration of URL's region\n"
		"  migrate --abort URL   stop it before the switch (A keeps the region)\n"
		"  help [COMMAND]        the help of COMMAND (or: memsync COMMAND --help)\n"
		"\n"
		"URL: memsync://HOST[:PORT]/REGION (port %s by default)\n"
		"\n"
		"Options:\n"
		"      --transport auto|tcp|rdma  transport (default auto)\n"
		"      --json                     one JSON object on stdout, no progress bar\n"
		"  -q, --quiet                    no progress bar, no summary line\n"
		"  -v, --verbose                  debug logging on stderr\n"
		"      --queue-depth N            operations in flight (default 16)\n"
		"      --max-io SIZE              largest single read or write (default 1M)\n"
		"      --timeout SECONDS          timeout of calls and stalled I/O (default 30)\n"
		"      --client-id HEX32          client identity, 32 hex digits (default random)\n"
		"      --tls-ca FILE              TLS 1.3 over TCP, verifying the server's\n"
		"                                 certificate against this CA (PEM)\n"
		"      --tls-cert FILE --tls-key FILE  a client certificate (mutual TLS)\n"
		"                                 (or MEMSYNC_TLS_CA, _CERT, _KEY)\n"
		"      --key-file FILE            authenticate with the key in FILE (a line\n"
		"                                 \"NAME SECRET\", mode 600; default\n"
		"                                 $MEMSYNC_KEY_FILE)\n"
		"  -h, --help                     show this help (with a COMMAND: its help)\n"
		"      --version                  show the version and exit\n"
		"\n"
		"Sizes take K, M, G, T suffixes (powers of 1024).\n"
		"Exit status: 0 success, 1 failure, 2 usage error; with --json a failure\n"
		"also prints {\"error\", \"errno\", \"errname\"} on stdout.\n",
		MS_DEFAULT_PORT);
}

/* ------------------------------------------------------------ helpers */

static const char *env_or_null(const char *name)
{
	const char *v = getenv(name);

	return v && *v ? v : NULL;
}

void cli_client_opts(const struct cli_opts *o, struct ms_client_opts *co)
{
	memset(co, 0, sizeof(*co));
	co->opts_size = sizeof(*co);
	co->transport = o->transport;
	co->queue_depth = o->queue_depth;
	co->max_io = o->max_io;
	co->timeout_ms = o->timeout_ms;
	co->have_client_id = o->have_client_id;
	memcpy(co->client_id, o->client_id, sizeof(co->client_id));
	co->tls_ca = o->tls_ca;
	co->tls_cert = o->tls_cert;
	co->tls_key = o->tls_key;
	co->key_file = o->key_file;
	co->streams = o->streams;
	if (!co->key_file && getenv("MEMSYNC_KEY_FILE") && *getenv("MEMSYNC_KEY_FILE"))
		co->key_file = getenv("MEMSYNC_KEY_FILE");
}

int cli_parse_url(const char *cmd, const char *arg, bool allow_bare, bool need_region,
		  struct ms_url *u)
{
	if (ms_url_parse(arg, allow_bare, u) < 0)
		return cli_usage_error(cmd, "invalid address '%s' (expected %s)", arg,
				       allow_bare ? "memsync://HOST[:PORT][/REGION] or HOST:PORT"
						  : "memsync://HOST[:PORT]/REGION");
	if (need_region && !u->region[0])
		return cli_usage_error(cmd, "'%s' names no region (expected "
				       "memsync://HOST[:PORT]/REGION)", arg);
	return 0;
}

ms_client *cli_connect(const struct cli_opts *o, const char *cmd, const struct ms_url *u)
{
	struct ms_client_opts co;
	char msg[512] = "";
	ms_client *c;

	cli_client_opts(o, &co);
	ms_dbg("connecting to %s:%s", u->host, u->port);
	c = ms_connect(u->host, u->port, &co, msg, sizeof(msg));
	if (!c) {
		int err = errno;

		if (err == EACCES && !co.key_file)
			cli_error_errno(cmd, err, "%s (--key-file FILE or MEMSYNC_KEY_FILE)", msg);
		else if (msg[0])
			cli_error_errno(cmd, err, "%s", msg);
		else
			cli_error_errno(cmd, err, "cannot connect to %s:%s: %s", u->host, u->port,
					strerror(err));
		return NULL;
	}
	ms_dbg("connected to %s:%s over %s (%s)", u->host, u->port, ms_client_transport(c),
	       ms_client_transport_why(c));
	return c;
}

ms_region *cli_open(ms_client *c, const char *cmd, const struct ms_url *u, enum ms_mode mode)
{
	ms_region *r = ms_open(c, u->region, mode);
	const char *msg;
	int err = errno;

	if (r) {
		struct ms_region_info ri;

		ms_region_info(r, &ri);
		ms_dbg("opened %s (%s): size %llu, chunk %u, %llu chunks, generation %llu",
		       ri.name, mode == MS_MODE_WRITE ? "write" : "read",
		       (unsigned long long)ri.size, ri.chunk_size, (unsigned long long)ri.nchunks,
		       (unsigned long long)ri.generation);
		return r;
	}
	msg = ms_client_errmsg(c);
	if (msg && msg[0])
		cli_error_errno(cmd, err, "%s", msg);
	else if (err == ENOENT)
		cli_error_errno(cmd, err, "unknown region '%s' on %s:%s", u->region, u->host,
				u->port);
	else if (err == EBUSY)
		cli_error_errno(cmd, err, "region '%s' is being written by another client",
				u->region);
	else
		cli_error_errno(cmd, err, "cannot open region '%s': %s", u->region,
				strerror(err));
	return NULL;
}

void cli_lib_error(ms_client *c, const char *cmd, const char *what, int rc)
{
	const char *msg = c ? ms_client_errmsg(c) : NULL;
	size_t n = strlen(cmd);

	/* "memsync: pull: pull: ..." says the same thing twice */
	if (msg && strncmp(msg, cmd, n) == 0 && strncmp(msg + n, ": ", 2) == 0)
		msg += n + 2;
	if (msg && msg[0])
		cli_error_errno(cmd, rc, "%s", msg);
	else
		cli_error_errno(cmd, rc, "%s: %s", what, strerror(rc < 0 ? -rc : rc));
}

int cli_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, MS_MIN(len, (size_t)1 << 30));

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

_Noreturn void cli_die_sigpipe(void)
{
	signal(SIGPIPE, SIG_DFL);
	raise(SIGPIPE);
	_exit(128 + SIGPIPE);   /* not reached: SIGPIPE's default ends us */
}

double cli_seconds(uint64_t ns)
{
	return ns ? (double)ns / 1e9 : 1e-9;
}

/* ------------------------------------------------------ option values */

static int parse_hex_id(const char *s, uint8_t id[16])
{
	if (strlen(s) != 32)
		return -EINVAL;
	for (int i = 0; i < 32; i++) {
		char c = s[i];
		int v;

		if (c >= '0' && c <= '9')
			v = c - '0';
		else if (c >= 'a' && c <= 'f')
			v = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v = c - 'A' + 10;
		else
			return -EINVAL;
		if (i % 2 == 0)
			id[i / 2] = (uint8_t)(v << 4);
		else
			id[i / 2] |= (uint8_t)v;
	}
	return 0;
}

/* A finite decimal number, nothing after it but an optional suffix. */
static int parse_number(const char *s, const char *suffix, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (end == s || errno || !isfinite(v))
		return -EINVAL;
	if (*end && !(suffix && strcmp(end, suffix) == 0))
		return -EINVAL;
	*out = v;
	return 0;
}

static int parse_option(struct cli_opts *o, int c, const char *arg)
{
	uint64_t v;
	double d;

	switch (c) {
	case OPT_TRANSPORT:
		if (ms_transport_parse(arg, &o->transport) < 0)
			return cli_usage_error(NULL, "invalid transport '%s' (auto, tcp or rdma)",
					       arg);
		return 0;
	case OPT_JSON:
		o->json = true;
		return 0;
	case 'q':
		o->quiet = true;
		return 0;
	case 'v':
		o->verbose++;
		return 0;
	case OPT_QUEUE_DEPTH:
		if (ms_parse_size(arg, &v) < 0 || v < 1 || v > QUEUE_DEPTH_MAX)
			return cli_usage_error(NULL, "invalid queue depth '%s' (1..%d)", arg,
					       QUEUE_DEPTH_MAX);
		o->queue_depth = (unsigned)v;
		return 0;
	case OPT_MAX_IO:
		if (ms_parse_size(arg, &v) < 0 || v < MS_CHUNK_MIN || v > MAX_IO_MAX)
			return cli_usage_error(NULL, "invalid --max-io '%s' (4K..1G)", arg);
		o->max_io = (uint32_t)v;
		return 0;
	case OPT_TIMEOUT:
		if (parse_number(arg, NULL, &d) < 0 || d <= 0 || d * 1000 > INT_MAX)
			return cli_usage_error(NULL, "invalid timeout '%s' (seconds, > 0)", arg);
		/* round up, so that 0.0001 s is 1 ms and not "no timeout" */
		o->timeout_ms = (int)(d * 1000);
		if (o->timeout_ms < d * 1000 || o->timeout_ms == 0)
			o->timeout_ms++;
		return 0;
	case OPT_KEY_FILE:
		if (!*arg)
			return cli_usage_error(NULL, "empty --key-file");
		o->key_file = arg;
		return 0;
	case OPT_CLIENT_ID:
		if (parse_hex_id(arg, o->client_id) < 0)
			return cli_usage_error(NULL, "invalid client id '%s' (32 hex digits)",
					       arg);
		o->have_client_id = true;
		return 0;
	case OPT_TLS_CA:
	case OPT_TLS_CERT:
	case OPT_TLS_KEY:
		if (!arg[0])
			return cli_usage_error(NULL, "--tls-%s needs a file name",
					       c == OPT_TLS_CA ? "ca" : c == OPT_TLS_CERT ? "cert" : "key");
		*(c == OPT_TLS_CA ? &o->tls_ca : c == OPT_TLS_CERT ? &o->tls_cert : &o->tls_key) = arg;
		return 0;
	case OPT_STREAMS:
		if (ms_parse_size(arg, &v) < 0 || v < 1 || v > STREAMS_MAX)
			return cli_usage_error(NULL, "invalid --streams '%s' (1..%d)", arg,
					       STREAMS_MAX);
		o->streams = (unsigned)v;
		return 0;
	case OPT_NO_VERIFY:
		o->no_verify = true;
		return 0;
	case OPT_ALL:
		o->all = true;
		return 0;
	case OPT_OFFSET:
		if (ms_parse_size(arg, &o->offset) < 0)
			return cli_usage_error("cat", "invalid offset '%s'", arg);
		o->have_offset = true;
		return 0;
	case OPT_LENGTH:
		if (ms_parse_size(arg, &o->length) < 0)
			return cli_usage_error("cat", "invalid length '%s'", arg);
		o->have_length = true;
		return 0;
	case OPT_SIZE:
		if (ms_parse_size(arg, &v) < 0 || v == 0 || v % (uint64_t)sysconf(_SC_PAGESIZE))
			return cli_usage_error("demo", "invalid size '%s' (a positive "
					       "multiple of the page size, %ld)", arg,
					       sysconf(_SC_PAGESIZE));
		o->demo_size = v;
		return 0;
	case OPT_CHUNK:
		if (ms_parse_size(arg, &v) < 0 || !ms_is_pow2(v) || v < MS_CHUNK_MIN ||
		    v > MS_CHUNK_MAX)
			return cli_usage_error("demo", "invalid chunk size '%s' (a power of two, "
					       "4K..16M)", arg);
		o->demo_chunk = (uint32_t)v;
		return 0;
	case OPT_DIRTY:
		if (parse_number(arg, "%", &d) < 0 || d < 0 || d > 100)
			return cli_usage_error(NULL, "invalid dirty percentage '%s' (0..100)",
					       arg);
		o->demo_dirty = d;
		o->map_dirty = d;
		o->map_have_dirty = true;
		return 0;
	case OPT_WRITE:
		o->map_write = true;
		return 0;
	case OPT_TOUCH:
		if (strcmp(arg, "seq") == 0 || strcmp(arg, "sequential") == 0)
			o->map_touch = 1;
		else if (strcmp(arg, "random") == 0)
			o->map_touch = 2;
		else
			return cli_usage_error("map", "invalid --touch '%s' (seq or random)", arg);
		return 0;
	case OPT_SYNC:
		o->map_sync = true;
		return 0;
	case OPT_REFRESH:
		o->map_refresh = true;
		return 0;
	case OPT_NO_PREFETCH:
		o->map_no_prefetch = true;
		return 0;
	case OPT_HOT_FIRST:
		o->map_hot_first = true;
		return 0;
	case OPT_MAP_WAIT:
		o->map_wait = true;
		return 0;
	case OPT_HUGE:
		if (!strcmp(arg, "auto") || !strcmp(arg, "on") || !strcmp(arg, "off")) {
			o->map_huge = arg[1] == 'u' ? MS_MAP_HUGE_AUTO :
				      arg[1] == 'n' ? MS_MAP_HUGE_ON : MS_MAP_HUGE_OFF;
			return 0;
		}
		return cli_usage_error("map", "invalid --huge '%s' (auto, on or off)", arg);
	case OPT_MODE:
		if (ms_migrate_mode_parse(arg, &o->mig_mode) < 0)
			return cli_usage_error("migrate", "invalid --mode '%s' (hybrid, precopy, "
					       "postcopy or stopcopy)", arg);
		return 0;
	case OPT_DOWNTIME:
		if (parse_number(arg, "ms", &d) < 0 || d < 1 || d > MIG_DOWNTIME_MAX ||
		    d != (double)(uint32_t)d)
			return cli_usage_error("migrate", "invalid --downtime '%s' (milliseconds, "
					       "1..%u)", arg, MIG_DOWNTIME_MAX);
		o->mig_downtime_ms = (uint32_t)d;
		return 0;
	case OPT_MAX_ROUNDS:
		if (parse_number(arg, NULL, &d) < 0 || d < 1 || d > MIG_ROUNDS_MAX ||
		    d != (double)(uint32_t)d)
			return cli_usage_error("migrate", "invalid --max-rounds '%s' (1..%u)", arg,
					       MIG_ROUNDS_MAX);
		o->mig_max_rounds = (uint32_t)d;
		return 0;
	case OPT_PATH:
		if (!arg[0])
			return cli_usage_error("migrate", "--path needs a file name");
		o->mig_path = arg;
		return 0;
	case OPT_NO_WAIT:
		o->mig_no_wait = true;
		return 0;
	case OPT_MAX_BANDWIDTH:
		if (ms_parse_size(arg, &o->mig_max_bw) < 0 || o->mig_max_bw == 0)
			return cli_usage_error("migrate", "invalid --max-bandwidth '%s' (bytes a "
					       "second, > 0; K, M, G suffixes)", arg);
		return 0;
	case OPT_ADVERTISE: {
		struct ms_url au;

		if (ms_url_parse(arg, true, &au) < 0 || au.region[0])
			return cli_usage_error("migrate", "invalid --advertise '%s' (HOST:PORT)",
					       arg);
		snprintf(o->mig_adv_host, sizeof(o->mig_adv_host), "%s", au.host);
		snprintf(o->mig_adv_port, sizeof(o->mig_adv_port), "%s", au.port);
		return 0;
	}
	case OPT_STATUS:
		o->mig_status = true;
		return 0;
	case OPT_ABORT:
		o->mig_abort = true;
		return 0;
	case OPT_SEED: {
		char *end;

		errno = 0;
		o->map_seed = strtoull(arg, &end, 0);
		if (errno || end == arg || *end || !o->map_seed)
			return cli_usage_error("map", "invalid seed '%s' (a positive integer)",
					       arg);
		return 0;
	}
	}
	return cli_usage_error(NULL, "internal error: unhandled option %d", c);
}

static int run(int argc, char **argv)
{
	struct cli_opts o = {
		.transport = MS_TRANSPORT_AUTO,
		.demo_size = DEMO_SIZE_DEFAULT,
		.demo_chunk = MS_CHUNK_DEFAULT,
		.demo_dirty = DEMO_DIRTY_DEFAULT,
		.map_seed = 1,
	};
	bool seen[MS_ARRAY_SIZE(cmd_opts)] = { false };
	const char *names[MS_ARRAY_SIZE(commands) + 1];
	const char *cmd, *near;
	bool json;
	int c, rc;

	/* A dead peer must be an error we report (EPIPE), not a silent death
	 * by signal; a reader that closed our stdout early ends us quietly
	 * all the same (cli_write_out: the death by SIGPIPE cat dies). */
	signal(SIGPIPE, SIG_IGN);
	ms_log_init("memsync", MS_LOG_WARN);

	/* TLS from the environment; the options override it */
	o.tls_ca = env_or_null("MEMSYNC_TLS_CA");
	o.tls_cert = env_or_null("MEMSYNC_TLS_CERT");
	o.tls_key = env_or_null("MEMSYNC_TLS_KEY");
	/* help (-h, --help, "help") for the command it is asked with, and
	 * --json known before any error can happen (errjson.h) */
	rc = help_prescan(argc, argv, ":hqv", long_opts, usage, &json);
	if (rc >= 0)
		return rc;
	errjson_enable(json);
	opterr = 0; /* our own messages, in the "memsync: ..." form */
	while ((c = getopt_long(argc, argv, ":hqv", long_opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			usage(stdout);
			return fflush(stdout) == 0 ? CLI_EXIT_OK : CLI_EXIT_FAIL;
		case OPT_VERSION:
			printf("memsync %s (libmemsync %s)\n", PACKAGE_VERSION, ms_version());
			return fflush(stdout) == 0 ? CLI_EXIT_OK : CLI_EXIT_FAIL;
		case ':':
			return cli_usage_error(NULL, "option '%s' requires an argument",
					       argv[optind - 1]);
		case '?':
			if (optopt && optopt < 256)
				return cli_usage_error(NULL, "invalid option -- '%c'", optopt);
			return cli_usage_error(NULL, "unrecognized option '%s'", argv[optind - 1]);
		default:
			for (size_t i = 0; i < MS_ARRAY_SIZE(cmd_opts); i++)
				if (cmd_opts[i].opt == c)
					seen[i] = true;
			rc = parse_option(&o, c, optarg);
			if (rc)
				return rc;
		}
	}
	if (o.verbose)
		ms_log_set_level(MS_LOG_DEBUG);

	if (optind >= argc) {
		cli_error_errno(NULL, EINVAL, "no command given");
		usage(stderr);
		return CLI_EXIT_USAGE;
	}
	cmd = argv[optind];
	for (size_t i = 0; i < MS_ARRAY_SIZE(commands); i++) {
		if (strcmp(commands[i].name, cmd) != 0)
			continue;
		for (size_t j = 0; j < MS_ARRAY_SIZE(cmd_opts); j++)
			if (seen[j] && !cmd_in(cmd_opts[j].cmd, cmd))
				return cli_usage_error(cmd, "%s is an option of '%s'",
						       cmd_opts[j].name, cmd_opts[j].cmd);
		return commands[i].fn(&o, argc - optind - 1, argv + optind + 1);
	}
	for (size_t i = 0; i < MS_ARRAY_SIZE(commands); i++)
		names[i] = commands[i].name;
	names[MS_ARRAY_SIZE(commands)] = "help";
	near = suggest_nearest(cmd, names, MS_ARRAY_SIZE(names));
	if (near)
		return cli_usage_error(NULL, "unknown command '%s'. Did you mean '%s'?", cmd, near);
	return cli_usage_error(NULL, "unknown command '%s'", cmd);
}

int main(int argc, char **argv)
{
	/* every exit status passes here: a failure under --json also prints
	 * its JSON object on stdout */
	return errjson_finish(run(argc, argv));
}
