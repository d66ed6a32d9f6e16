/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_config.c - memsyncd's configuration parser: --region specs,
 * --listen addresses, settings by key, and config files, including every
 * rejection and the exact message (with FILE:LINE) it produces.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/config.h"
#include "tap.h"

static char err[1024];

/* ------------------------------------------------------------ regions */

static void region_ok(void)
{
	struct msd_region r;

	is_int(msd_parse_region("vm0:1G", &r, err, sizeof(err)), 0, "vm0:1G parses");
	is_str(r.name, "vm0", "name");
	ok(r.size == 1ull << 30, "size 1 GiB");
	is_int(r.backing, MS_BACKING_ANON, "anon by default");
	is_int(r.chunk_size, 0, "default chunk size");
	ok(r.path == NULL && !r.no_mlock, "no path, pinned");
	msd_region_free(&r);

	is_int(msd_parse_region("db:256M:file=/var/lib/db.img", &r, err, sizeof(err)), 0,
	       "file region parses");
	is_int(r.backing, MS_BACKING_FILE, "file backing");
	is_str(r.path, "/var/lib/db.img", "file path");
	ok(r.size == 256ull << 20, "size 256 MiB");
	msd_region_free(&r);
	ok(r.path == NULL, "msd_region_free clears the path");

	is_int(msd_parse_region("app:64M:memfd,chunk=1M", &r, err, sizeof(err)), 0,
	       "memfd with chunk parses");
	is_int(r.backing, MS_BACKING_MEMFD, "memfd backing");
	is_int(r.chunk_size, 1 << 20, "chunk 1 MiB");
	msd_region_free(&r);

	is_int(msd_parse_region("a.b_c-d:8K:anon,chunk=4K,nolock", &r, err, sizeof(err)), 0,
	       "every option at once");
	is_str(r.name, "a.b_c-d", "name with . _ -");
	ok(r.size == 8192 && r.chunk_size == 4096 && r.no_mlock &&
	   r.backing == MS_BACKING_ANON, "8K, chunk 4K, nolock, anon");
	msd_region_free(&r);

	is_int(msd_parse_region("f:4096:nolock,file=/tmp/x:y", &r, err, sizeof(err)), 0,
	       "a file path may contain ':'");
	is_str(r.path, "/tmp/x:y", "path with a colon kept whole");
	ok(r.no_mlock, "nolock before file=");
	msd_region_free(&r);

	is_int(msd_parse_region("big:16MiB:chunk=16M", &r, err, sizeof(err)), 0,
	       "largest chunk size");
	is_int(r.chunk_size, 16 << 20, "chunk 16 MiB");
	msd_region_free(&r);

	is_int(msd_parse_region("db:1G:file=/d,commit=direct,stage=64M", &r, err, sizeof(err)), 0,
	       "commit mode and staging limit parse");
	ok(r.commit == MS_COMMIT_DIRECT && r.stage_limit == 64u << 20, "direct, 64 MiB staging");
	msd_region_free(&r);
	is_int(msd_parse_region("db:1G", &r, err, sizeof(err)), 0, "no commit option");
	ok(r.commit == MS_COMMIT_ATOMIC && r.stage_limit == 0, "atomic by default, no limit");
	msd_region_free(&r);
	is_int(msd_parse_region("db:1G:commit=fast", &r, err, sizeof(err)), -EINVAL,
	       "an unknown commit mode is refused");
	ok(strstr(err, "'fast' is not atomic or direct") != NULL, "...saying so: %s", err);
	is_int(msd_parse_region("db:1G:stage=0", &r, err, sizeof(err)), -EINVAL,
	       "a zero staging limit is refused");
}

static void region_bad(const char *spec, const char *want)
{
	struct msd_region r;

	memset(&r, 0x5a, sizeof(r));
	err[0] = '\0';
	is_int(msd_parse_region(spec, &r, err, sizeof(err)), -EINVAL, "reject '%s'", spec);
	is_str(err, want, "message for '%s'", spec);
	ok(r.name[0] == 0x5a && r.size == 0x5a5a5a5a5a5a5a5aull, "'%s' leaves *out alone",
	   spec);
}

static void region_errors(void)
{
	char spec[128];

	region_bad("", "empty region spec (expected NAME:SIZE[:OPTIONS])");
	region_bad("vm0", "invalid region 'vm0': expected NAME:SIZE[:OPTIONS]");
	region_bad(":1G", "invalid region ':1G': the name must be 1 to 63 characters");
	memset(spec, 'a', 64);
	strcpy(spec + 64, ":1G");
	{
		char want[256];

		snprintf(want, sizeof(want),
			 "invalid region '%s': the name must be 1 to 63 characters", spec);
		region_bad(spec, want);
	}
	region_bad("bad/name:1G", "invalid region 'bad/name:1G': bad name 'bad/name' (letters, "
		   "digits, '.', '_' and '-' only)");
	region_bad("..:1G", "invalid region '..:1G': bad name '..' (letters, digits, '.', '_' "
		   "and '-' only)");
	region_bad("vm0:", "invalid region 'vm0:': missing size");
	region_bad("vm0::anon", "invalid region 'vm0::anon': missing size");
	region_bad("vm0:1X", "invalid region 'vm0:1X': bad size '1X' (e.g. 4096, 64M, 1G)");
	region_bad("vm0:-4K", "invalid region 'vm0:-4K': bad size '-4K' (e.g. 4096, 64M, 1G)");
	region_bad("vm0:99999999999999999999", "invalid region 'vm0:99999999999999999999': size "
		   "'99999999999999999999' is too large");
	region_bad("vm0:0", "invalid region 'vm0:0': the size must not be zero");
	if (sysconf(_SC_PAGESIZE) == 4096)
		region_bad("vm0:1000", "invalid region 'vm0:1000': size 1000 is not a multiple of "
			   "the page size (4096)");
	region_bad("vm0:1G:", "invalid region 'vm0:1G:': empty option");
	region_bad("vm0:1G:anon,,nolock", "invalid region 'vm0:1G:anon,,nolock': empty option");
	region_bad("vm0:1G:nolock,", "invalid region 'vm0:1G:nolock,': empty option");
	region_bad("vm0:1G:memfd,anon", "invalid region 'vm0:1G:memfd,anon': more than one "
		   "backing ('memfd' and 'anon')");
	region_bad("vm0:1G:file=/a,memfd", "invalid region 'vm0:1G:file=/a,memfd': more than "
		   "one backing ('file' and 'memfd')");
	region_bad("vm0:1G:file", "invalid region 'vm0:1G:file': 'file' needs a path "
		   "(file=PATH)");
	region_bad("vm0:1G:file=", "invalid region 'vm0:1G:file=': 'file' needs a path "
		   "(file=PATH)");
	region_bad("vm0:1G:chunk=3K", "invalid region 'vm0:1G:chunk=3K': chunk size '3K' is not "
		   "a power of two between 4K and 16M");
	region_bad("vm0:1G:chunk=2K", "invalid region 'vm0:1G:chunk=2K': chunk size '2K' is not "
		   "a power of two between 4K and 16M");
	region_bad("vm0:1G:chunk=32M", "invalid region 'vm0:1G:chunk=32M': chunk size '32M' is "
		   "not a power of two between 4K and 16M");
	region_bad("vm0:1G:chunk=", "invalid region 'vm0:1G:chunk=': unknown option 'chunk=' "
		   "(anon, memfd, file=PATH, chunk=SIZE, nolock, commit=atomic|direct, stage=SIZE)");
	region_bad("vm0:1G:chunk=64K,chunk=64K", "invalid region 'vm0:1G:chunk=64K,chunk=64K': "
		   "chunk size given twice");
	region_bad("vm0:1G:bogus", "invalid region 'vm0:1G:bogus': unknown option 'bogus' "
		   "(anon, memfd, file=PATH, chunk=SIZE, nolock, commit=atomic|direct, stage=SIZE)");
	region_bad("vm0:1G:anonx", "invalid region 'vm0:1G:anonx': unknown option 'anonx' "
		   "(anon, memfd, file=PATH, chunk=SIZE, nolock, commit=atomic|direct, stage=SIZE)");
	region_bad("vm0:1G:filex=/a", "invalid region 'vm0:1G:filex=/a': unknown option "
		   "'filex=/a' (anon, memfd, file=PATH, chunk=SIZE, nolock, commit=atomic|direct, "
		   "stage=SIZE)");
}

/* ------------------------------------------------------------- listen */

static void listen_ok(const char *s, const char *host, const char *port)
{
	char h[256], p[8];

	is_int(msd_parse_listen(s, h, p, err, sizeof(err)), 0, "listen '%s' parses", s);
	is_str(h, host, "listen '%s' host", s);
	is_str(p, port, "listen '%s' port", s);
}

static void listen_bad(const char *s, const char *want)
{
	char h[256] = "untouched", p[8] = "x";

	is_int(msd_parse_listen(s, h, p, err, sizeof(err)), -EINVAL, "reject listen '%s'", s);
	is_str(err, want, "message for listen '%s'", s);
	ok(strcmp(h, "untouched") == 0 && strcmp(p, "x") == 0, "listen '%s' leaves outputs",
	   s);
}

static void listen_tests(void)
{
	listen_ok("127.0.0.1:7400", "127.0.0.1", "7400");
	listen_ok("localhost:0", "localhost", "0");
	listen_ok("[::1]:9000", "::1", "9000");
	listen_ok("0.0.0.0:65535", "0.0.0.0", "65535");
	listen_ok("h:07400", "h", "7400");

	listen_bad("", "empty listen address (expected HOST:PORT)");
	listen_bad("127.0.0.1", "invalid listen address '127.0.0.1' (expected HOST:PORT)");
	listen_bad(":7400", "invalid listen address ':7400': empty host");
	listen_bad("::1:7400", "invalid listen address '::1:7400' (an IPv6 address needs "
		   "brackets: [ADDR]:PORT)");
	listen_bad("[::1]7400", "invalid listen address '[::1]7400' (expected HOST:PORT or "
		   "[IPv6]:PORT)");
	listen_bad("[::1", "invalid listen address '[::1' (expected HOST:PORT or [IPv6]:PORT)");
	listen_bad("[]:1", "invalid listen address '[]:1': empty host");
	listen_bad("h:", "invalid listen address 'h:': bad port (0..65535)");
	listen_bad("h:65536", "invalid listen address 'h:65536': bad port (0..65535)");
	listen_bad("h:123456", "invalid listen address 'h:123456': bad port (0..65535)");
	listen_bad("h:12a", "invalid listen address 'h:12a': bad port (0..65535)");
	listen_bad("h:-1", "invalid listen address 'h:-1': bad port (0..65535)");
}

/* ---------------------------------------------------------- settings */

static void set_tests(void)
{
	struct msd_config c;

	msd_config_init(&c);
	is_str(c.host, "127.0.0.1", "default host");
	is_str(c.port, "7400", "default port");
	is_int(c.transport, MS_TRANSPORT_AUTO, "default transport");
	is_int(c.log_level, MS_LOG_INFO, "default log level");
	ok(c.port_file == NULL && c.nregions == 0, "no port file, no regions");

	is_int(msd_config_set(&c, "lease-ttl", "1.5", err, sizeof(err)), 0, "set lease-ttl");
	is_int(c.lease_ttl_ms, 1500, "lease-ttl is in seconds");
	is_int(msd_config_set(&c, "lease-ttl", "0", err, sizeof(err)), -EINVAL,
	       "a lease-ttl of 0 is refused");
	is_int(msd_config_set(&c, "lease-ttl", "10x", err, sizeof(err)), -EINVAL,
	       "a lease-ttl with junk is refused");
	is_int(c.lease_ttl_ms, 1500, "and leaves the value as it was");
	is_int(msd_config_set(&c, "listen", "0.0.0.0:0", err, sizeof(err)), 0, "set listen");
	ok(strcmp(c.host, "0.0.0.0") == 0 && strcmp(c.port, "0") == 0, "listen applied");
	is_int(msd_config_set(&c, "listen", "nope", err, sizeof(err)), -EINVAL,
	       "bad listen rejected");
	ok(strcmp(c.host, "0.0.0.0") == 0 && strcmp(c.port, "0") == 0,
	   "bad listen changes nothing");
	is_int(msd_config_set(&c, "transport", "tcp", err, sizeof(err)), 0, "set transport");
	is_int(c.transport, MS_TRANSPORT_TCP, "transport applied");
	is_int(msd_config_set(&c, "transport", "udp", err, sizeof(err)), -EINVAL,
	       "bad transport");
	is_str(err, "invalid transport 'udp' (auto, tcp or rdma)", "bad transport message");
	is_int(c.transport, MS_TRANSPORT_TCP, "bad transport changes nothing");
	is_int(msd_config_set(&c, "log-level", "debug", err, sizeof(err)), 0, "set log level");
	is_int(c.log_level, MS_LOG_DEBUG, "log level applied");
	is_int(msd_config_set(&c, "log-level", "loud", err, sizeof(err)), -EINVAL,
	       "bad log level");
	is_str(err, "invalid log level 'loud' (error, warn, info or debug)",
	       "bad log level message");
	is_int(msd_config_set(&c, "port-file", "/tmp/p1", err, sizeof(err)), 0, "set port file");
	is_int(msd_config_set(&c, "port-file", "/tmp/p2", err, sizeof(err)), 0,
	       "set port file again");
	is_str(c.port_file, "/tmp/p2", "the last port file wins");
	is_int(msd_config_set(&c, "port-file", "", err, sizeof(err)), -EINVAL,
	       "empty port file");
	is_str(err, "empty port file name", "empty port file message");
	is_int(msd_config_set(&c, "region", "a:4K", err, sizeof(err)), 0, "add region a");
	is_int(msd_config_set(&c, "region", "b:8K:memfd", err, sizeof(err)), 0, "add region b");
	is_int(msd_config_set(&c, "region", "a:16K", err, sizeof(err)), -EINVAL,
	       "duplicate region");
	is_str(err, "region 'a' is defined twice", "duplicate region message");
	is_int(c.nregions, 2, "two regions kept");
	ok(c.nregions == 2 && strcmp(c.regions[0].name, "a") == 0 &&
	   strcmp(c.regions[1].name, "b") == 0 && c.regions[1].backing == MS_BACKING_MEMFD,
	   "regions in order");
	is_int(msd_config_set(&c, "frobnicate", "1", err, sizeof(err)), -EINVAL, "unknown key");
	is_str(err, "unknown key 'frobnicate' (listen, region, transport, log-level, port-file, "
	       "log-file, lease-ttl, auth-keys, insecure, key-file, tls-cert, tls-key, tls-ca, "
	       "metrics, metrics-port-file)",
	       "unknown key message");
	/* resource limits (docs/security.md) */
	is_int(msd_config_set(&c, "max-conns", "100", err, sizeof(err)) ||
	       msd_config_set(&c, "max-conns-per-addr", "7", err, sizeof(err)) ||
	       msd_config_set(&c, "idle-timeout", "1.5", err, sizeof(err)) ||
	       msd_config_set(&c, "max-peer-mem", "2M", err, sizeof(err)) ||
	       msd_config_set(&c, "max-mem", "1G", err, sizeof(err)), 0, "limits set");
	ok(c.max_conns == 100 && c.max_conns_per_addr == 7 && c.idle_timeout_ms == 1500 &&
	   c.max_peer_mem == 2u << 20 && c.max_mem == 1u << 30, "limits parsed");
	is_int(msd_config_set(&c, "max-conns", "0", err, sizeof(err)), -EINVAL, "max-conns 0");
	is_str(err, "invalid max-conns '0' (1 to 1000000)", "max-conns 0 message");
	is_int(msd_config_set(&c, "max-peer-mem", "1K", err, sizeof(err)), -EINVAL,
	       "max-peer-mem below 64K");
	is_int(msd_config_set(&c, "idle-timeout", "x", err, sizeof(err)), -EINVAL,
	       "idle-timeout not a number");
	is_int(msd_config_set(&c, "max-frobs", "1", err, sizeof(err)), -EINVAL, "max-frobs");
	ok(c.max_conns == 100 && c.max_peer_mem == 2u << 20 && c.idle_timeout_ms == 1500,
	   "refused limits change nothing");
	ok(msd_config_set(&c, "tls-cert", "s.pem", err, sizeof(err)) == 0 &&
	   msd_config_set(&c, "tls-key", "s.key", err, sizeof(err)) == 0 &&
	   msd_config_set(&c, "tls-ca", "ca.pem", err, sizeof(err)) == 0 && c.tls_cert &&
	   c.tls_key && c.tls_ca && !strcmp(c.tls_cert, "s.pem") && !strcmp(c.tls_key, "s.key") &&
	   !strcmp(c.tls_ca, "ca.pem"), "tls-cert, tls-key, tls-ca");
	is_int(msd_config_set(&c, "tls-frob", "x", err, sizeof(err)), -EINVAL, "tls-frob: unknown");
	is_int(msd_config_set(&c, "tls-ca", "", err, sizeof(err)), -EINVAL, "tls-ca: empty");
	is_str(err, "empty tls-ca name", "tls-ca: empty: message");
	ok(!c.metrics, "metrics: off by default");
	is_int(msd_config_set(&c, "metrics", "127.0.0.1:9740", err, sizeof(err)) |
	       msd_config_set(&c, "metrics-port-file", "/run/m.port", err, sizeof(err)), 0,
	       "metrics, metrics-port-file");
	ok(c.metrics && !strcmp(c.metrics_host, "127.0.0.1") && !strcmp(c.metrics_port, "9740") &&
	   c.metrics_port_file && !strcmp(c.metrics_port_file, "/run/m.port"),
	   "metrics: address and port file taken");
	is_int(msd_config_set(&c, "metrics", "9740", err, sizeof(err)), -EINVAL,
	       "metrics without a host: refused");
	ok(!strcmp(c.metrics_port, "9740") && !strcmp(c.metrics_host, "127.0.0.1"),
	   "a refused metrics address changes nothing");
	is_int(msd_config_set(&c, "metrics-port-file", "", err, sizeof(err)), -EINVAL,
	       "metrics-port-file: empty");
	is_str(err, "empty metrics port file name", "metrics-port-file: empty: message");
	is_int(msd_config_set(&c, "config", "x.conf", err, sizeof(err)), -EINVAL,
	       "no nested config");
	is_str(err, "'config' cannot be used inside a config file", "nested config message");
	msd_config_free(&c);
	ok(c.regions == NULL && c.nregions == 0 && c.port_file == NULL, "free resets");
}

/* ------------------------------------------------------- config files */

static int read_text(struct msd_config *c, const char *text)
{
	FILE *f = fmemopen((void *)text, strlen(text), "r");
	int rc;

	if (!f)
		tap_bail("fmemopen: %s", strerror(errno));
	err[0] = '\0';
	rc = msd_config_read(c, f, "t.conf", err, sizeof(err));
	fclose(f);
	return rc;
}

static void file_bad(const char *text, const char *want, const char *what)
{
	struct msd_config c;

	msd_config_init(&c);
	is_int(read_text(&c, text), -EINVAL, "file: %s rejected", what);
	is_str(err, want, "file: %s message", what);
	msd_config_free(&c);
}

static void file_tests(void)
{
	struct msd_config c;
	static const char good[] =
		"# memsyncd test configuration\n"
		"\n"
		"listen [::1]:7500\n"
		"   region vm0:1G   \n"
		"region\tdb:256M:file=/var/lib/db.img  # the database\n"
		"region app:64M:memfd,chunk=1M\r\n"
		"transport tcp\n"
		"log-level warn\n"
		"port-file /run/memsyncd#1.port\n"
		"  # indented comment\n"
		"\t\n"
		"region last:4K";  /* no final newline */

	msd_config_init(&c);
	is_int(read_text(&c, good), 0, "file: a good file loads");
	is_str(err, "", "file: no message");
	is_str(c.host, "::1", "file: listen host");
	is_str(c.port, "7500", "file: listen port");
	is_int(c.transport, MS_TRANSPORT_TCP, "file: transport");
	is_int(c.log_level, MS_LOG_WARN, "file: log level");
	is_str(c.port_file, "/run/memsyncd#1.port", "file: '#' inside a word is not a comment");
	is_int(c.nregions, 4, "file: four regions");
	if (c.nregions == 4) {
		is_str(c.regions[0].name, "vm0", "file: region 1 (surrounding blanks)");
		is_str(c.regions[1].path, "/var/lib/db.img", "file: trailing comment dropped");
		is_int(c.regions[2].chunk_size, 1 << 20, "file: CRLF line");
		is_str(c.regions[3].name, "last", "file: last line without newline");
	}
	msd_config_free(&c);

	msd_config_init(&c);
	is_int(read_text(&c, ""), 0, "file: an empty file is fine");
	is_int(c.nregions, 0, "file: empty file, no regions");
	msd_config_free(&c);

	file_bad("listen 127.0.0.1:7400\nbogus 1\n",
		 "t.conf:2: unknown key 'bogus' (listen, region, transport, log-level, "
		 "port-file, log-file, lease-ttl, auth-keys, insecure, key-file, tls-cert, tls-key, "
		 "tls-ca, metrics, metrics-port-file)", "unknown key");
	file_bad("\n\nregion\n", "t.conf:3: 'region' needs a value (KEY VALUE)",
		 "missing value");
	file_bad("# c\nregion   # just a comment\n",
		 "t.conf:2: 'region' needs a value (KEY VALUE)", "value that is a comment");
	file_bad("region vm0:1X\n",
		 "t.conf:1: invalid region 'vm0:1X': bad size '1X' (e.g. 4096, 64M, 1G)",
		 "bad region");
	file_bad("region vm0:1G:bogus\n",
		 "t.conf:1: invalid region 'vm0:1G:bogus': unknown option 'bogus' (anon, memfd, "
		 "file=PATH, chunk=SIZE, nolock, commit=atomic|direct, stage=SIZE)", "bad region option");
	file_bad("region a:4K\n\n# x\nregion a:8K\n", "t.conf:4: region 'a' is defined twice",
		 "duplicate region");
	file_bad("log-level info\ntransport udp\n",
		 "t.conf:2: invalid transport 'udp' (auto, tcp or rdma)", "bad transport");
	file_bad("log-level loud\n",
		 "t.conf:1: invalid log level 'loud' (error, warn, info or debug)",
		 "bad log level");
	file_bad("listen nowhere\n",
		 "t.conf:1: invalid listen address 'nowhere' (expected HOST:PORT)", "bad listen");
	file_bad("listen 127.0.0.1:99999\n",
		 "t.conf:1: invalid listen address '127.0.0.1:99999': bad port (0..65535)",
		 "bad port");
	file_bad("config other.conf\n", "t.conf:1: 'config' cannot be used inside a config file",
		 "nested config");
	file_bad("--listen 127.0.0.1:1\n",
		 "t.conf:1: unknown key '--listen' (listen, region, transport, log-level, "
		 "port-file, log-file, lease-ttl, auth-keys, insecure, key-file, tls-cert, tls-key, "
		 "tls-ca, metrics, metrics-port-file)", "key with dashes");
	file_bad("listen=127.0.0.1:1\n", "t.conf:1: 'listen=127.0.0.1:1' needs a value "
		 "(KEY VALUE)", "KEY=VALUE form");

	{
		static const char nul[] = "region a:4K\nregion b\0:4K\n";
		FILE *f = fmemopen((void *)nul, sizeof(nul) - 1, "r");

		msd_config_init(&c);
		is_int(msd_config_read(&c, f, "t.conf", err, sizeof(err)), -EINVAL,
		       "file: NUL byte rejected");
		is_str(err, "t.conf:2: NUL byte in line", "file: NUL byte message");
		fclose(f);
		msd_config_free(&c);
	}
}

static void load_tests(void)
{
	char dir[] = "/tmp/test_config.XXXXXX", path[64], want[256];
	struct msd_config c;
	FILE *f;

	if (!mkdtemp(dir))
		tap_bail("mkdtemp: %s", strerror(errno));
	snprintf(path, sizeof(path), "%s/none.conf", dir);
	msd_config_init(&c);
	is_int(msd_config_load(&c, path, err, sizeof(err)), -ENOENT, "load: missing file");
	snprintf(want, sizeof(want), "%s: No such file or directory", path);
	is_str(err, want, "load: missing file message");

	is_int(msd_config_load(&c, dir, err, sizeof(err)), -EISDIR, "load: a directory");
	snprintf(want, sizeof(want), "%s: Is a directory", dir);
	is_str(err, want, "load: directory message");

	snprintf(path, sizeof(path), "%s/ok.conf", dir);
	f = fopen(path, "w");
	if (!f)
		tap_bail("fopen: %s", strerror(errno));
	fputs("region vm0:64M:memfd\nlisten 127.0.0.1:0\nregion vm1:1M:nolock,x\n", f);
	fclose(f);
	is_int(msd_config_load(&c, path, err, sizeof(err)), -EINVAL, "load: bad line");
	snprintf(want, sizeof(want), "%s:3: invalid region 'vm1:1M:nolock,x': unknown option "
		 "'x' (anon, memfd, file=PATH, chunk=SIZE, nolock, commit=atomic|direct, "
		 "stage=SIZE)", path);
	is_str(err, want, "load: message names the path and line");
	msd_config_free(&c);

	f = fopen(path, "w");
	if (!f)
		tap_bail("fopen: %s", strerror(errno));
	fputs("region vm0:64M:memfd\nlisten 127.0.0.1:0\n", f);
	fclose(f);
	msd_config_init(&c);
	is_int(msd_config_load(&c, path, err, sizeof(err)), 0, "load: good file");
	ok(c.nregions == 1 && strcmp(c.port, "0") == 0, "load: applied");
	msd_config_free(&c);

	unlink(path);
	rmdir(dir);
}

/* log-file: a setting like port-file, kept by msd_config_free's care */
static void log_file_tests(void)
{
	struct msd_config c;

	msd_config_init(&c);
	ok(c.log_file == NULL, "no log file by default (standard error)");
	is_int(msd_config_set(&c, "log-file", "/var/log/a.log", err, sizeof(err)), 0,
	       "set the log file");
	is_int(msd_config_set(&c, "log-file", "/var/log/b.log", err, sizeof(err)), 0,
	       "set it again");
	is_str(c.log_file, "/var/log/b.log", "the last log file wins");
	is_int(msd_config_set(&c, "log-file", "", err, sizeof(err)), -EINVAL,
	       "an empty log file name is refused");
	is_str(err, "empty log file name", "empty log file message");
	is_str(c.log_file, "/var/log/b.log", "a refused log file changes nothing");
	msd_config_free(&c);
	ok(c.log_file == NULL, "free resets the log file");
}

/* region_pair A B WANT DIFF - msd_region_diff of two specs */
static void region_pair(const char *a, const char *b, int want, const char *diff)
{
	struct msd_region ra, rb;
	char buf[512];

	if (msd_parse_region(a, &ra, err, sizeof(err)) || msd_parse_region(b, &rb, err, sizeof(err)))
		tap_bail("region_pair: %s", err);
	is_int(msd_region_diff(&ra, &rb, buf, sizeof(buf)), want, "%s vs %s: %d difference(s)", a,
	       b, want);
	is_str(buf, diff, "%s vs %s: described", a, b);
	msd_region_free(&ra);
	msd_region_free(&rb);
}

static void diff_tests(void)
{
	struct msd_region r, c;
	char small[16];

	region_pair("a:4M", "a:4M", 0, "");
	region_pair("a:4M", "b:4M:anon,chunk=64K", 0, "");   /* names and defaults aside */
	region_pair("a:4M", "a:8M", 1, "size 4.00 MiB -> 8.00 MiB");
	region_pair("a:4M", "a:4M:chunk=4K", 1, "chunk 64.0 KiB -> 4.00 KiB");
	region_pair("a:4M", "a:4M:memfd", 1, "backing anon -> memfd");
	region_pair("a:4M:file=/x", "a:4M:file=/y", 1, "file /x -> /y");
	region_pair("a:4M", "a:4M:nolock", 1, "nolock off -> on");
	region_pair("a:4M:file=/x", "a:8M:memfd,chunk=1M,nolock", 4,
		    "size 4.00 MiB -> 8.00 MiB, chunk 64.0 KiB -> 1.00 MiB, backing file -> memfd, "
		    "nolock off -> on");

	/* a short buffer is cut, the count stays right */
	if (msd_parse_region("a:4M:file=/x", &r, err, sizeof(err)) ||
	    msd_parse_region("a:8M:nolock", &c, err, sizeof(err)))
		tap_bail("diff_tests: %s", err);
	is_int(msd_region_diff(&r, &c, small, sizeof(small)), 3, "short buffer: 3 differences");
	is_int((int)strlen(small), (int)sizeof(small) - 1, "short buffer: cut, terminated");
	msd_region_free(&c);

	is_int(msd_region_copy(&c, &r), 0, "copy a file region");
	ok(c.path != r.path && strcmp(c.path, r.path) == 0, "the copy has its own path");
	is_int(msd_region_diff(&r, &c, small, sizeof(small)), 0, "the copy defines the same region");
	msd_region_free(&r);
	is_str(c.path, "/x", "the copy outlives the original");
	msd_region_free(&c);
}

int main(void)
{
	region_ok();
	region_errors();
	listen_tests();
	set_tests();
	file_tests();
	load_tests();
	log_file_tests();
	diff_tests();
	is_str(ms_backing_name(MS_BACKING_MEMFD), "memfd", "backing names");
	return tap_done();
}
