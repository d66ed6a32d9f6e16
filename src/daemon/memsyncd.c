/* SPDX-License-Identifier: Apache-2.0 */
/*
 * memsyncd.c - the memsync daemon: exports the configured regions and
 * serves them until SIGTERM/SIGINT.
 *
 * Settings come from a config file (--config) and the command line; the
 * command line wins for single values, and regions from both are served.
 * Nothing a client does makes the daemon exit: only a signal, or a failure
 * while starting up.
 *
 * Signals: HUP, USR1, TERM and INT are blocked in every thread from the
 * start and read from a signalfd by the main thread, which does all the
 * work (reload, state, shutdown) while the server's loops run on a thread
 * of their own; no code runs in a signal handler.  SIGPIPE is ignored.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "checkcfg.h"
#include "config.h"
#include "log.h"
#include "metrics_http.h"
#include "notify.h"
#include "regset.h"
#include "units.h"

#ifndef PACKAGE_VERSION
#define MS_STR2(x) #x
#define MS_STR(x) MS_STR2(x)
#define PACKAGE_VERSION MS_STR(MEMSYNC_VERSION_MAJOR) "." MS_STR(MEMSYNC_VERSION_MINOR) "." \
	MS_STR(MEMSYNC_VERSION_PATCH)
#endif

#define EXIT_USAGE 2

/* A setting from the command line, applied over the config file's. */
struct setting {
	const char *key;
	const char *val;
};

struct daemon {
	const char *config;          /* --config FILE, or NULL */
	const struct setting *set;   /* the command line's settings */
	size_t nset;
	struct msd_config cfg;       /* in effect */
	ms_server *srv;
	struct msd_metrics *metrics; /* --metrics, or NULL */
	struct msd_regset rs;
	int sfd;                     /* signalfd of the signals below */
	int evfd;                    /* the server's loop has returned */
	int run_rc;
};

enum {
	OPT_LISTEN = 256,
	OPT_REGION,
	OPT_CONFIG,
	OPT_TRANSPORT,
	OPT_LOG_LEVEL,
	OPT_PORT_FILE,
	OPT_LEASE_TTL,
	OPT_LOG_FILE,
	OPT_TLS_CERT,
	OPT_TLS_KEY,
	OPT_TLS_CA,
	OPT_VERSION,
	OPT_AUTH_KEYS,
	OPT_INSECURE,
	OPT_KEY_FILE,
	OPT_LIMIT,              /* a resource limit: the key is the option's name */
	OPT_METRICS,            /* metrics, metrics-port-file: the same */
	OPT_SYSLOG,
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
	{ "log-file", required_argument, NULL, OPT_LOG_FILE },
	{ "tls-cert", required_argument, NULL, OPT_TLS_CERT },
	{ "tls-key", required_argument, NULL, OPT_TLS_KEY },
	{ "tls-ca", required_argument, NULL, OPT_TLS_CA },
	{ "auth-keys", required_argument, NULL, OPT_AUTH_KEYS },
	{ "insecure", no_argument, NULL, OPT_INSECURE },
	{ "key-file", required_argument, NULL, OPT_KEY_FILE },
	{ "max-conns", required_argument, NULL, OPT_LIMIT },
	{ "max-conns-per-addr", required_argument, NULL, OPT_LIMIT },
	{ "idle-timeout", required_argument, NULL, OPT_LIMIT },
	{ "max-peer-mem", required_argument, NULL, OPT_LIMIT },
	{ "max-mem", required_argument, NULL, OPT_LIMIT },
	{ "metrics", required_argument, NULL, OPT_METRICS },
	{ "metrics-port-file", required_argument, NULL, OPT_METRICS },
	{ "syslog", no_argument, NULL, OPT_SYSLOG },
	{ "check-config", no_argument, NULL, 't' },
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
		"      --auth-keys FILE           authenticate peers with the keys in FILE\n"
		"                                 (\"NAME SECRET read|read-write REGIONS\" lines,\n"
		"                                 mode 600); SIGHUP re-reads it\n"
		"      --insecure                 allow a non-loopback listen address without\n"
		"                                 --auth-keys (anyone who reaches it can read\n"
		"                                 and write every region)\n"
		"      --key-file FILE            the key (\"NAME SECRET\") this server presents\n"
		"                                 to other servers (a migration's source)\n"
		"      --max-conns N              connections at once (default 1024)\n"
		"      --max-conns-per-addr N     of them from one address (default 128)\n"
		"      --idle-timeout SECONDS     to finish the handshake, or stalled in half a\n"
		"                                 frame or not reading replies (default 30)\n"
		"      --max-peer-mem SIZE        replies and requests held for one peer\n"
		"                                 (default 8M)\n"
		"      --max-mem SIZE             the same for all peers together (default 256M)\n"
		"      --config FILE              read \"KEY VALUE\" lines (KEY = an option name)\n"
		"      --transport auto|tcp|rdma  transport (default auto)\n"
		"      --log-level LEVEL          error, warn(ing), notice/info (default) or\n"
		"                                 debug\n"
		"  -v, --verbose                  same as --log-level debug\n"
		"      --port-file FILE           write the bound port there once listening\n"
		"      --log-file FILE            log to FILE (appending) instead of stderr\n"
		"      --syslog                   log through syslog (LOG_DAEMON) instead\n"
		"      --tls-cert FILE --tls-key FILE\n"
		"                                 TLS 1.3 on TCP with this certificate (PEM)\n"
		"      --tls-ca FILE              verify client certificates against this CA;\n"
		"                                 a certificate's common name is a key name\n"
		"      --metrics HOST:PORT        serve Prometheus metrics at /metrics there\n"
		"                                 (loopback only unless --insecure; off by default)\n"
		"      --metrics-port-file FILE   write the metrics port there once listening\n"
		"  -t, --check-config             check the configuration and the options,\n"
		"                                 print \"configuration OK\" or the problems,\n"
		"                                 exit 0 or 1 (nothing is started)\n"
		"  -h, --help                     show this help and exit\n"
		"      --version                  show the version and exit\n"
		"\n"
		"Example: memsyncd --region vm0:1G --region app:64M:memfd,chunk=1M\n"
		"SIGTERM or SIGINT stops the daemon cleanly (exit status 0); SIGHUP re-reads\n"
		"the config file and reopens the log; SIGUSR1 logs the state.  Under systemd\n"
		"(NOTIFY_SOCKET) it reports READY, RELOADING and STOPPING (Type=notify).\n",
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

/* The signals the main loop reads (blocked everywhere). */
static void loop_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGHUP);
	sigaddset(set, SIGUSR1);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
}

/* Before any thread exists, so that every thread inherits the mask. */
static int block_signals(void)
{
	struct sigaction sa;
	sigset_t set;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	sigemptyset(&sa.sa_mask);
	/* a client that goes away mid-reply must not kill the daemon */
	if (sigaction(SIGPIPE, &sa, NULL) < 0)
		return -errno;
	loop_signals(&set);
	return -pthread_sigmask(SIG_BLOCK, &set, NULL);
}

/* Shutting down: a second SIGTERM or SIGINT ends the process the default
 * way (it would otherwise wait in the signalfd). */
static void unblock_stop_signals(void)
{
	sigset_t set;

	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
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

/* The configuration: the config file's settings, then the command line's
 * over them.  0, or -1 with a message in err. */
static int build_config(struct msd_config *cfg, const char *config, const struct setting *set,
			size_t nset, char *err, size_t errlen)
{
	msd_config_init(cfg);
	if (config && msd_config_load(cfg, config, err, errlen) < 0)
		goto fail;
	for (size_t i = 0; i < nset; i++)
		if (msd_config_set(cfg, set[i].key, set[i].val, err, errlen) < 0)
			goto fail;
	return 0;
fail:
	msd_config_free(cfg);
	return -1;
}

static bool str_differs(const char *a, const char *b)
{
	return strcmp(a ? a : "", b ? b : "") != 0;
}

/* SIGHUP: reopen the log, re-read the configuration, apply what can
 * change while running (log level and file, regions). */
static void reload(struct daemon *d)
{
	struct msd_config nc;
	char err[1024];
	int rc;

	if (d->cfg.log_file) {
		rc = ms_log_open(d->cfg.log_file);
		if (rc < 0)
			ms_err("reload: cannot reopen the log file '%s': %s", d->cfg.log_file,
			       strerror(-rc));
	}
	ms_info("SIGHUP received: reloading %s", d->config ? d->config :
		"(no config file: the command line only)");
	if (build_config(&nc, d->config, d->set, d->nset, err, sizeof(err)) < 0) {
		ms_err("reload: %s; nothing changed", err);
		return;
	}
	if (nc.log_file && str_differs(nc.log_file, d->cfg.log_file)) {
		rc = ms_log_open(nc.log_file);
		if (rc < 0)
			ms_err("reload: cannot open the log file '%s': %s", nc.log_file,
			       strerror(-rc));
		else
			ms_info("reload: logging to '%s'", nc.log_file);
	}
	if (strcmp(nc.host, d->cfg.host) || strcmp(nc.port, d->cfg.port) ||
	    nc.transport != d->cfg.transport || str_differs(nc.port_file, d->cfg.port_file))
		ms_warn("reload: listen, transport and port-file take effect at the next "
			"start only");
	if (nc.metrics != d->cfg.metrics || strcmp(nc.metrics_host, d->cfg.metrics_host) ||
	    strcmp(nc.metrics_port, d->cfg.metrics_port) ||
	    str_differs(nc.metrics_port_file, d->cfg.metrics_port_file))
		ms_warn("reload: metrics and metrics-port-file take effect at the next start "
			"only");
	if (str_differs(nc.tls_cert, d->cfg.tls_cert) || str_differs(nc.tls_key, d->cfg.tls_key) ||
	    str_differs(nc.tls_ca, d->cfg.tls_ca))
		ms_warn("reload: tls-cert, tls-key and tls-ca take effect at the next start only");
	ms_log_set_level(nc.log_level);
	if (nc.syslog != d->cfg.syslog)
		ms_warn("reload: syslog takes effect at the next start only");
	nc.syslog = d->cfg.syslog;
	if (str_differs(nc.auth_keys, d->cfg.auth_keys) || nc.insecure != d->cfg.insecure ||
	    str_differs(nc.key_file, d->cfg.key_file))
		ms_warn("reload: auth-keys, insecure and key-file take effect at the next start "
			"only (the key file itself is re-read now)");
	if (d->cfg.auth_keys && ms_server_reload_keys(d->srv) < 0)
		ms_err("reload: %s", ms_server_errmsg(d->srv));
	msd_regset_reload(&d->rs, &nc);
	/* what was asked for is in effect now, but for the address and the
	 * port file, which stay as they were */
	memcpy(nc.host, d->cfg.host, sizeof(nc.host));
	memcpy(nc.port, d->cfg.port, sizeof(nc.port));
	nc.transport = d->cfg.transport;
	free(nc.port_file);
	nc.port_file = d->cfg.port_file;
	d->cfg.port_file = NULL;
	nc.metrics = d->cfg.metrics;
	memcpy(nc.metrics_host, d->cfg.metrics_host, sizeof(nc.metrics_host));
	memcpy(nc.metrics_port, d->cfg.metrics_port, sizeof(nc.metrics_port));
	free(nc.metrics_port_file);
	nc.metrics_port_file = d->cfg.metrics_port_file;
	d->cfg.metrics_port_file = NULL;
	free(nc.auth_keys);
	nc.auth_keys = d->cfg.auth_keys;
	d->cfg.auth_keys = NULL;
	free(nc.key_file);
	nc.key_file = d->cfg.key_file;
	d->cfg.key_file = NULL;
	nc.insecure = d->cfg.insecure;
	/* a log file dropped from the configuration stays in use (standard
	 * error is that file now) and is reopened by the next SIGHUP */
	if (!nc.log_file) {
		nc.log_file = d->cfg.log_file;
		d->cfg.log_file = NULL;
	}
	msd_config_free(&d->cfg);
	d->cfg = nc;
}

/* READY=1 for systemd (Type=notify), with what is served. */
static void notify_ready(struct daemon *d)
{
	char hb[300];
	int rc = msd_notify_ready(d->rs.n, d->cfg.host[0] ? host_label(d->cfg.host, hb, sizeof(hb))
							 : "*",
				  ms_server_port(d->srv), ms_server_transport(d->srv));

	if (rc < 0)
		ms_warn("sd_notify: %s", strerror(-rc));
}

static void *run_thread(void *arg)
{
	struct daemon *d = arg;

	d->run_rc = ms_server_run(d->srv);
	if (write(d->evfd, &(uint64_t){ 1 }, 8) < 0) {
		/* cannot happen on a fresh eventfd; the main loop would wait
		 * for a signal then */
	}
	return NULL;
}

/* Serve until a stop signal or the server's end; 0, or -1 when the server
 * failed. */
static int main_loop(struct daemon *d)
{
	struct pollfd pf[2] = { { .fd = d->sfd, .events = POLLIN },
				{ .fd = d->evfd, .events = POLLIN } };
	struct signalfd_siginfo si;
	pthread_t thread;
	int err;

	err = pthread_create(&thread, NULL, run_thread, d);
	if (err) {
		ms_err("cannot start the server thread: %s", strerror(err));
		return -1;
	}
	for (;;) {
		if (poll(pf, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			ms_err("poll: %s", strerror(errno));
			ms_server_stop(d->srv);
			break;
		}
		if (pf[1].revents)
			break;          /* the server's loop returned by itself */
		if (!pf[0].revents)
			continue;
		if (read(d->sfd, &si, sizeof(si)) != (ssize_t)sizeof(si))
			continue;
		if (si.ssi_signo == SIGHUP) {
			msd_notify_reloading();
			reload(d);
			notify_ready(d);
		} else if (si.ssi_signo == SIGUSR1) {
			ms_info("SIGUSR1 received: state follows");
			msd_regset_log_state(&d->rs);
		} else {
			ms_info("%s received, shutting down", strsignal((int)si.ssi_signo));
			msd_notify_stopping();
			unblock_stop_signals();
			ms_server_stop(d->srv);
			break;
		}
	}
	pthread_join(thread, NULL);
	if (d->run_rc < 0) {
		const char *m = ms_server_errmsg(d->srv);

		ms_err("server failed: %s", m && m[0] ? m : strerror(-d->run_rc));
		return -1;
	}
	return 0;
}

/* The metrics listener (--metrics): 0, or -1 when it cannot start. */
static int start_metrics(struct daemon *d)
{
	const struct msd_config *cfg = &d->cfg;
	char msg[512] = "", hb[300];
	int err;

	d->metrics = msd_metrics_start(cfg->metrics_host, cfg->metrics_port, cfg->insecure,
				       d->srv, msg, sizeof(msg));
	if (!d->metrics) {
		ms_err("%s", msg);
		return -1;
	}
	ms_info("metrics at http://%s:%u/metrics",
		host_label(cfg->metrics_host, hb, sizeof(hb)), msd_metrics_port(d->metrics));
	if (cfg->metrics_port_file) {
		err = write_port_file(cfg->metrics_port_file, msd_metrics_port(d->metrics));
		if (err < 0) {
			ms_err("cannot write the metrics port file '%s': %s",
			       cfg->metrics_port_file, strerror(-err));
			return -1;
		}
	}
	return 0;
}

static int serve(struct daemon *d)
{
	const struct msd_config *cfg = &d->cfg;
	struct ms_server_opts so = {
		.opts_size = sizeof(so),
		.host = cfg->host,
		.port = cfg->port,
		.transport = cfg->transport,
		.log = ms_log_sink,
		.lease_ttl_ms = cfg->lease_ttl_ms,
		.tls_cert = cfg->tls_cert,
		.tls_key = cfg->tls_key,
		.tls_ca = cfg->tls_ca,
		.auth_keys = cfg->auth_keys,
		.insecure = cfg->insecure,
		.key_file = cfg->key_file,
		.max_conns = cfg->max_conns,
		.max_conns_per_addr = cfg->max_conns_per_addr,
		.idle_timeout_ms = cfg->idle_timeout_ms,
		.max_peer_mem = (size_t)cfg->max_peer_mem,
		.max_mem = (size_t)cfg->max_mem,
	};
	char msg[512] = "", hb[300];
	const char *host = host_label(cfg->host, hb, sizeof(hb));
	sigset_t set;
	unsigned port;
	int rc = 1, err;

	loop_signals(&set);
	d->sfd = signalfd(-1, &set, SFD_CLOEXEC);
	d->evfd = eventfd(0, EFD_CLOEXEC);
	if (d->sfd < 0 || d->evfd < 0) {
		ms_err("cannot set up the signal handling: %s", strerror(errno));
		goto out_fds;
	}
	d->srv = ms_server_create(&so, msg, sizeof(msg));
	if (!d->srv) {
		err = errno;
		if (err == EADDRINUSE || err == EADDRNOTAVAIL || !msg[0])
			ms_err("cannot listen on %s:%s: %s", host, cfg->port, strerror(err));
		else
			ms_err("%s", msg);
		goto out_fds;
	}
	msd_regset_init(&d->rs, d->srv);
	if (msd_regset_start(&d->rs, cfg) < 0)
		goto out;
	if (cfg->nregions == 0)
		ms_warn("no regions configured (see --region)");

	port = ms_server_port(d->srv);
	ms_info("listening on %s:%u (%s)", host, port, ms_server_transport(d->srv));
	if (cfg->auth_keys)
		ms_info("peers authenticate with the keys in %s", cfg->auth_keys);
	else if (cfg->insecure)
		ms_warn("insecure: no authentication; anyone who reaches %s:%u can read and "
			"write every region", host, port);
	if (cfg->port_file) {
		err = write_port_file(cfg->port_file, port);
		if (err < 0) {
			ms_err("cannot write the port file '%s': %s", cfg->port_file,
			       strerror(-err));
			goto out;
		}
	}
	if (cfg->metrics && start_metrics(d) < 0)
		goto out;
	notify_ready(d);
	/* a signal that came before the loop started waits in the signalfd */
	if (main_loop(d) == 0)
		rc = 0;
out:
	msd_metrics_stop(d->metrics);
	d->metrics = NULL;
	ms_server_destroy(d->srv);
	msd_regset_free(&d->rs);
	if (rc == 0)
		ms_info("stopped");
out_fds:
	if (d->sfd >= 0)
		close(d->sfd);
	if (d->evfd >= 0)
		close(d->evfd);
	return rc;
}
int main(int argc, char **argv)
{
	struct daemon d = { .sfd = -1, .evfd = -1 };
	struct setting *set;
	size_t nset = 0;
	const char *config = NULL;
	bool check_only = false;
	char err[1024];
	int c, rc, li;

	ms_log_init("memsyncd", MS_LOG_INFO);
	rc = block_signals();
	if (rc < 0) {
		fprintf(stderr, "memsyncd: cannot block signals: %s\n", strerror(-rc));
		return 1;
	}
	set = calloc((size_t)argc + 1, sizeof(*set));
	if (!set) {
		perror("memsyncd");
		return 1;
	}

	/* Collect the settings first and apply them after the config file,
	 * so the command line wins wherever it is placed. */
	opterr = 0;
	li = 0;
	while ((c = getopt_long(argc, argv, ":htv", long_opts, &li)) != -1) {
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
		case 't':
			check_only = true;
			continue;
		case OPT_SYSLOG:
			set[nset].key = "syslog";
			set[nset++].val = "yes";
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
		case OPT_LOG_FILE: key = "log-file"; break;
		case OPT_TLS_CERT: key = "tls-cert"; break;
		case OPT_TLS_KEY: key = "tls-key"; break;
		case OPT_TLS_CA: key = "tls-ca"; break;
		case OPT_AUTH_KEYS: key = "auth-keys"; break;
		case OPT_KEY_FILE: key = "key-file"; break;
		case OPT_INSECURE:
			set[nset].key = "insecure";
			set[nset++].val = "yes";
			continue;
		case OPT_LIMIT: key = long_opts[li].name; break;
		case OPT_METRICS: key = long_opts[li].name; break;
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

	rc = 0;
	if (build_config(&d.cfg, config, set, nset, err, sizeof(err)) < 0) {
		free(set);
		if (check_only) {
			fprintf(stderr, "memsyncd: %s\n", err);
			return 1;
		}
		return usage_error("%s", err);
	}
	if (check_only) {
		rc = msd_check_config(&d.cfg, stderr) < 0 ? 1 : 0;
		if (rc == 0)
			printf("memsyncd: configuration OK\n");
		msd_config_free(&d.cfg);
		free(set);
		return rc;
	}
	if (msd_config_conflicts(&d.cfg, err, sizeof(err)) < 0) {
		msd_config_free(&d.cfg);
		free(set);
		return usage_error("%s", err);
	}
	d.config = config;
	d.set = set;
	d.nset = nset;
	ms_log_set_level(d.cfg.log_level);
	if (d.cfg.syslog)
		ms_log_use_syslog(true);
	if (d.cfg.log_file) {
		rc = ms_log_open(d.cfg.log_file);
		if (rc < 0) {
			fprintf(stderr, "memsyncd: cannot open the log file '%s': %s\n",
				d.cfg.log_file, strerror(-rc));
			rc = 1;
		}
	}
	if (rc == 0)
		rc = serve(&d);
	msd_config_free(&d.cfg);
	free(set);
	return rc;
}
