/* SPDX-License-Identifier: Apache-2.0 */
/*
 * checkcfg.c - memsyncd --check-config: static checks of a configuration
 * (checkcfg.h).  Everything here only reads: stat, open for reading,
 * getaddrinfo and the key-file parsers of src/auth.c.
 */
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <libgen.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "checkcfg.h"
#include "netaddr.h"
#include "memsync.h"
#include "regset.h"
#include "util.h"

struct check {
	FILE *out;
	int problems;
};

static void problem(struct check *ck, const char *fmt, ...) MS_PRINTF(2, 3);

static void problem(struct check *ck, const char *fmt, ...)
{
	va_list ap;

	fputs("memsyncd: ", ck->out);
	va_start(ap, fmt);
	vfprintf(ck->out, fmt, ap);
	va_end(ap);
	fputc('\n', ck->out);
	ck->problems++;
}

int msd_config_conflicts(const struct msd_config *cfg, char *err, size_t errlen)
{
	if (cfg->syslog && cfg->log_file) {
		snprintf(err, errlen, "log-file and syslog are alternatives: give one of them");
		return -EINVAL;
	}
	return 0;
}

static void check_listen(struct check *ck, const struct msd_config *cfg)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_PASSIVE | AI_NUMERICSERV };
	struct addrinfo *res = NULL;
	bool loopback = false;
	int rc;

	if (cfg->host[0]) {
		rc = getaddrinfo(cfg->host, cfg->port, &hints, &res);
		if (rc) {
			problem(ck, "listen address '%s': %s", cfg->host, gai_strerror(rc));
			return;
		}
		loopback = msd_host_loopback(cfg->host);
		freeaddrinfo(res);
	}
	if (!cfg->auth_keys && !cfg->insecure && !loopback)
		problem(ck, "listen %s: not a loopback address and no auth-keys: the daemon "
			"would refuse to start (give auth-keys FILE, or insecure yes on a "
			"network you trust)", cfg->host[0] ? cfg->host : "(every address)");
}

static void check_keys(struct check *ck, const struct msd_config *cfg)
{
	char err[512];
	unsigned n = 0;

	if (cfg->auth_keys) {
		if (ms_check_key_file(cfg->auth_keys, true, &n, err, sizeof(err)) < 0)
			problem(ck, "auth-keys: %s", err);
		else if (n == 0)
			problem(ck, "auth-keys %s: no key in the file: nobody could connect",
				cfg->auth_keys);
	}
	if (cfg->key_file && ms_check_key_file(cfg->key_file, false, NULL, err, sizeof(err)) < 0)
		problem(ck, "key-file: %s", err);
}

static void check_readable(struct check *ck, const char *key, const char *path)
{
	int fd;

	if (!path)
		return;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		problem(ck, "%s %s: %s", key, path, strerror(errno));
		return;
	}
	close(fd);
}

static void check_tls(struct check *ck, const struct msd_config *cfg)
{
	if (!cfg->tls_cert != !cfg->tls_key)
		problem(ck, "TLS: a server needs a certificate and its key (tls-cert and "
			"tls-key)");
	else if (cfg->tls_ca && !cfg->tls_cert)
		problem(ck, "TLS: tls-ca needs tls-cert and tls-key");
	if ((cfg->tls_cert || cfg->tls_ca) && cfg->transport == MS_TRANSPORT_RDMA)
		problem(ck, "TLS protects the TCP transport only: use transport tcp or auto");
	check_readable(ck, "tls-cert", cfg->tls_cert);
	check_readable(ck, "tls-key", cfg->tls_key);
	check_readable(ck, "tls-ca", cfg->tls_ca);
}

/* The directory a file would be created in exists. */
static void check_dir_of(struct check *ck, const char *what, const char *path)
{
	char *copy = strdup(path);
	struct stat st;
	const char *dir;

	if (!copy) {
		problem(ck, "out of memory");
		return;
	}
	dir = dirname(copy);
	if (stat(dir, &st) < 0)
		problem(ck, "%s %s: directory %s: %s", what, path, dir, strerror(errno));
	else if (!S_ISDIR(st.st_mode))
		problem(ck, "%s %s: %s is not a directory", what, path, dir);
	free(copy);
}

static void check_regions(struct check *ck, const struct msd_config *cfg)
{
	for (size_t i = 0; i < cfg->nregions; i++) {
		const struct msd_region *r = &cfg->regions[i];
		char what[MS_NAME_MAX + 32];

		if (r->backing != MS_BACKING_FILE || !r->path)
			continue;
		snprintf(what, sizeof(what), "region %s: file", r->name);
		check_dir_of(ck, what, r->path);
		for (size_t j = 0; j < i; j++)
			if (cfg->regions[j].backing == MS_BACKING_FILE && cfg->regions[j].path &&
			    msd_same_file(cfg->regions[j].path, r->path))
				problem(ck, "regions %s and %s: both backed by %s",
					cfg->regions[j].name, r->name, r->path);
	}
}

/* The metrics listener (metrics HOST:PORT): its address resolves, and is
 * loopback unless insecure (the metrics name every region). */
static void check_metrics(struct check *ck, const struct msd_config *cfg)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_PASSIVE | AI_NUMERICSERV };
	struct addrinfo *res = NULL;
	bool loopback;
	int rc;

	if (!cfg->metrics)
		return;
	rc = getaddrinfo(cfg->metrics_host[0] ? cfg->metrics_host : NULL, cfg->metrics_port,
			 &hints, &res);
	if (rc) {
		problem(ck, "metrics address '%s': %s", cfg->metrics_host, gai_strerror(rc));
		return;
	}
	loopback = msd_host_loopback(cfg->metrics_host);
	freeaddrinfo(res);
	if (!cfg->insecure && !loopback)
		problem(ck, "metrics %s: not a loopback address: the daemon would refuse to "
			"start (the metrics name every region; insecure yes allows it)",
			cfg->metrics_host[0] ? cfg->metrics_host : "(every address)");
	if (cfg->metrics_port_file)
		check_dir_of(ck, "metrics-port-file", cfg->metrics_port_file);
}

int msd_check_config(const struct msd_config *cfg, FILE *out)
{
	struct check ck = { .out = out };
	char err[256];

	if (msd_config_conflicts(cfg, err, sizeof(err)) < 0)
		problem(&ck, "%s", err);
	check_listen(&ck, cfg);
	check_keys(&ck, cfg);
	check_tls(&ck, cfg);
	check_regions(&ck, cfg);
	check_metrics(&ck, cfg);
	if (cfg->log_file)
		check_dir_of(&ck, "log-file", cfg->log_file);
	if (cfg->port_file)
		check_dir_of(&ck, "port-file", cfg->port_file);
	return ck.problems ? -EINVAL : 0;
}
