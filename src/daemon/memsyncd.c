/* SPDX-License-Identifier: Apache-2.0 */
/*
 * memsyncd.c - the memsync daemon: exports the configured regions and
 * serves them until SIGTERM/SIGINT.
 *
 * Settings come from a config file (--config) and the command line; the
 * command line wins for single values, and regions from both are served.
 * Nothing a client does makes the daemon exit: only a signal, or a failure
 * while starting up.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "units.h"

#ifndef PACKAGE_VERSION
#define MS_STR2(x) #x
#define MS_STR(x) MS_STR2(x)
#define PACKAGE_VERSION MS_STR(MEMSYNC_VERSION_MAJOR) "." MS_STR(MEMSYNC_VERSION_MINOR) "." \
	MS_STR(MEMSYNC_VERSION_PATCH)
#endif

#define EXIT_USAGE 2

/* Read by the signal handler: set once before the handlers go in. */
static ms_server *volatile g_server;
static volatile sig_atomic_t g_signal;

enum {
	OPT_LISTEN = 256,
	OPT_REGION,
	OPT_CONFIG,
	OPT_TRANSPORT,
	OPT_LOG_LEVEL,
	OPT_PORT_FILE,
	OPT_VERSION,
	OPT_LEASE_TTL,
};

static const struct option long_opts[] = {
	{ "listen", required_argument, NULL, OPT_LISTEN },
	{ "region", required_argument, NULL, OPT_REGION },
	{ "config", required_argument, NULL, OPT_CONFIG },
	{ "transport", required_argument, NULL, OPT_TRANSPORT },
	{ "log-level", required_argument, NULL, OPT_LOG_LEVEL },
	{ "verbose", no_argument, NULL, 'v' },
	{ "port-file", required_argument, NULL, OPT_PORT_FILE },
	{ "lease-ttl", required_argument, NULL, OPT_LEASE_TTL },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ NULL, 0, NULL, 0 },
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: memsyncd [OPTIONS]\n"
		"\n"
		"Export memory regions to memsync clients.\n"
		"\n"
		"Options:\n"
		"      --listen HOST:PORT         listen address (default %s:%s;\n"
		"                                 port 0 picks a free one)\n"
		"      --region NAME:SIZE[:OPT[,OPT]...]\n"
		"                                 export a region (repeatable); OPT is anon\n"
		"                                 (default), memfd, file=PATH, chunk=SIZE, nolock,\n"
		"                                 commit=atomic|direct, stage=SIZE\n"
		"      --lease-ttl SECONDS        a write lease lapses unless renewed within\n"
		"                                 this (default 10)\n"
		"      --config FILE              read \"KEY VALUE\" lines (KEY = an option name)\n"
		"      --transport auto|tcp|rdma  transport (default auto)\n"
		"      --log-level LEVEL          error, warn, info (default) or debug\n"
		"  -v, --verbose                  same as --log-level debug\n"
		"      --port-file FILE           write the bound port there once listening\n"
		"  -h, --help                     show this help and exit\n"
		"      --version                  show the version and exit\n"
		"\n"
		"Example: memsyncd --region vm0:1G --region app:64M:memfd,chunk=1M\n"
		"SIGTERM or SIGINT stops the daemon cleanly (exit status 0).\n",
		MSD_DEFAULT_HOST, MS_DEFAULT_PORT);
}

static int usage_error(const char *fmt, ...) MS_PRINTF(1, 2);

static int usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "memsyncd: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'memsyncd --help' for more information.\n");
	return EXIT_USAGE;
}

static void on_signal(int sig)
{
	ms_server *s = g_server;

	g_signal = sig;
	if (s)
		ms_server_stop(s);
}

static int install_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	sigemptyset(&sa.sa_mask);
	/* a client that goes away mid-reply must not kill the daemon */
	if (sigaction(SIGPIPE, &sa, NULL) < 0)
		return -errno;
	sa.sa_handler = on_signal;
	/* SA_RESETHAND: a second signal while shutting down hangs stops
	 * the process the default way */
	sa.sa_flags = SA_RESTART | SA_RESETHAND;
	sigaddset(&sa.sa_mask, SIGTERM);
	sigaddset(&sa.sa_mask, SIGINT);
	if (sigaction(SIGTERM, &sa, NULL) < 0 || sigaction(SIGINT, &sa, NULL) < 0)
		return -errno;
	return 0;
}

/* Write the port atomically (temporary file + rename) so that a reader
 * polling for the file never sees it half-written. */
static int write_port_file(const char *path, unsigned port)
{
	char tmp[4096], buf[16];
	int fd, n, rc = 0;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	n = snprintf(buf, sizeof(buf), "%u\n", port);
	if (write(fd, buf, (size_t)n) != n)
		rc = errno ? -errno : -EIO;
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && rename(tmp, path) < 0)
		rc = -errno;
	if (rc < 0)
		unlink(tmp);
	return rc;
}

/* "[::1]" for an IPv6 literal, the host as is otherwise. */
static const char *host_label(const char *host, char *buf, size_t len)
{
	if (strchr(host, ':')) {
		snprintf(buf, len, "[%s]", host);
		return buf;
	}
	return host;
}

static int add_regions(ms_server *s, const struct msd_config *cfg)
{
	for (size_t i = 0; i < cfg->nregions; i++) {
		const struct msd_region *r = &cfg->regions[i];
		struct ms_export_opts eo = {
			.opts_size = sizeof(eo),
			.name = r->name,
			.size = r->size,
			.chunk_size = r->chunk_size,
			.backing = r->backing,
			.path = r->path,
			.no_mlock = r->no_mlock,
			.commit = r->commit,
			.stage_limit = r->stage_limit,
		};
		char size_s[32], chunk_s[32], where[4200] = "";
		ms_export *e = ms_server_add_region(s, &eo);

		if (!e) {
			const char *msg = ms_server_errmsg(s);

			int err = errno;

			/* the library's messages usually name the region */
			if (msg && msg[0] && strstr(msg, r->name))
				ms_err("%s", msg);
			else
				ms_err("cannot export region '%s': %s", r->name,
				       msg && msg[0] ? msg : strerror(err));
			return -1;
		}
		if (r->backing == MS_BACKING_MEMFD)
			snprintf(where, sizeof(where), " /proc/%ld/fd/%d", (long)getpid(),
				 ms_export_fd(e));
		else if (r->backing == MS_BACKING_FILE)
			snprintf(where, sizeof(where), " %s", r->path);
		ms_info("region %s: %s, %s%s, chunk %s, %s commits%s", r->name,
			ms_format_size(ms_export_size(e), size_s, sizeof(size_s)),
			ms_backing_name(r->backing), where,
			ms_format_size(r->chunk_size ? r->chunk_size : MS_CHUNK_DEFAULT, chunk_s,
				       sizeof(chunk_s)),
			ms_commit_mode_name(r->commit), r->no_mlock ? ", not pinned" : "");
	}
	return 0;
}

static int serve(const struct msd_config *cfg)
{
	struct ms_server_opts so = {
		.opts_size = sizeof(so),
		.host = cfg->host,
		.port = cfg->port,
		.transport = cfg->transport,
		.log = ms_log_sink,
		.lease_ttl_ms = cfg->lease_ttl_ms,
	};
	char msg[512] = "", hb[300];
	const char *host = host_label(cfg->host, hb, sizeof(hb));
	ms_server *s;
	unsigned port;
	int rc, err;

	s = ms_server_create(&so, msg, sizeof(msg));
	if (!s) {
		err = errno;
		if (err == EADDRINUSE || err == EADDRNOTAVAIL || err == EACCES || !msg[0])
			ms_err("cannot listen on %s:%s: %s", host, cfg->port, strerror(err));
		else
			ms_err("%s", msg);
		return 1;
	}
	g_server = s;
	rc = install_signals();
	if (rc < 0) {
		ms_err("cannot install signal handlers: %s", strerror(-rc));
		goto fail;
	}
	if (add_regions(s, cfg) < 0)
		goto fail;
	if (cfg->nregions == 0)
		ms_warn("no regions configured (see --region)");

	port = ms_server_port(s);
	ms_info("listening on %s:%u (%s)", host, port, ms_server_transport(s));
	if (cfg->port_file) {
		rc = write_port_file(cfg->port_file, port);
		if (rc < 0) {
			ms_err("cannot write the port file '%s': %s", cfg->port_file,
			       strerror(-rc));
			goto fail;
		}
	}

	/* a signal that came before run() started must still stop it */
	rc = g_signal ? 0 : ms_server_run(s);
	if (g_signal)
		ms_info("%s received, shutting down", strsignal(g_signal));
	if (rc < 0) {
		const char *m = ms_server_errmsg(s);

		ms_err("server failed: %s", m && m[0] ? m : strerror(-rc));
		goto fail;
	}
	g_server = NULL;
	ms_server_destroy(s);
	ms_info("stopped");
	return 0;
fail:
	g_server = NULL;
	ms_server_destroy(s);
	return 1;
}

int main(int argc, char **argv)
{
	struct msd_config cfg;
	struct {
		const char *key;
		const char *val;
	} *set;
	size_t nset = 0;
	const char *config = NULL;
	char err[1024];
	int c, rc;

	ms_log_init("memsyncd", MS_LOG_INFO);
	set = calloc((size_t)argc + 1, sizeof(*set));
	if (!set) {
		perror("memsyncd");
		return 1;
	}

	/* Collect the settings first and apply them after the config file,
	 * so the command line wins wherever it is placed. */
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":hv", long_opts, NULL)) != -1) {
		const char *key = NULL;

		switch (c) {
		case 'h':
			usage(stdout);
			free(set);
			return 0;
		case OPT_VERSION:
			printf("memsyncd %s (libmemsync %s)\n", PACKAGE_VERSION, ms_version());
			free(set);
			return 0;
		case OPT_CONFIG:
			if (config) {
				free(set);
				return usage_error("--config given twice");
			}
			config = optarg;
			continue;
		case 'v':
			set[nset].key = "log-level";
			set[nset++].val = "debug";
			continue;
		case OPT_LISTEN: key = "listen"; break;
		case OPT_REGION: key = "region"; break;
		case OPT_TRANSPORT: key = "transport"; break;
		case OPT_LOG_LEVEL: key = "log-level"; break;
		case OPT_PORT_FILE: key = "port-file"; break;
		case OPT_LEASE_TTL: key = "lease-ttl"; break;
		case ':':
			free(set);
			return usage_error("option '%s' requires an argument", argv[optind - 1]);
		default:
			free(set);
			if (optopt && optopt < 256)
				return usage_error("invalid option -- '%c'", optopt);
			return usage_error("unrecognized option '%s'", argv[optind - 1]);
		}
		set[nset].key = key;
		set[nset++].val = optarg;
	}
	if (optind < argc) {
		rc = usage_error("unexpected argument '%s'", argv[optind]);
		free(set);
		return rc;
	}

	msd_config_init(&cfg);
	rc = 0;
	if (config && msd_config_load(&cfg, config, err, sizeof(err)) < 0)
		rc = usage_error("%s", err);
	for (size_t i = 0; rc == 0 && i < nset; i++) {
		if (msd_config_set(&cfg, set[i].key, set[i].val, err, sizeof(err)) < 0) {
			rc = usage_error("%s", err);
		}
	}
	free(set);
	if (rc == 0) {
		ms_log_set_level(cfg.log_level);
		rc = serve(&cfg);
	}
	msd_config_free(&cfg);
	return rc;
}
