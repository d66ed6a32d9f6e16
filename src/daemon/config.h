/* SPDX-License-Identifier: Apache-2.0 */
/*
 * config.h - memsyncd's configuration: --region specs, --listen addresses
 * and config files ("KEY VALUE" lines, KEY a long option name).  Pure
 * parsing, no side effects beyond memory, so it is unit-testable; errors
 * come back as messages (config file errors start with "FILE:LINE: ").
 */
#ifndef MSD_CONFIG_H
#define MSD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "memsync.h"

#define MSD_DEFAULT_HOST "127.0.0.1"

struct msd_region {
	char name[MS_NAME_MAX + 1];
	uint64_t size;
	uint32_t chunk_size;     /* 0 = library default */
	enum ms_backing backing; /* anon, memfd or file */
	char *path;              /* file backing: malloc'ed; else NULL */
	bool no_mlock;
	enum ms_commit_mode commit; /* commit=atomic (default) | direct */
	uint64_t stage_limit;    /* stage=SIZE; 0 = the region's size */
};

struct msd_config {
	char host[256];
	char port[8];
	enum ms_transport_kind transport;
	enum ms_log_level log_level;
	char *port_file;         /* malloc'ed or NULL */
	unsigned lease_ttl_ms;   /* lease-ttl SECONDS; 0 = the library's 10 s */
	char *log_file;          /* malloc'ed or NULL (standard error) */
	bool syslog;             /* syslog yes|no: log through syslog(3) */
	/* tls-cert, tls-key, tls-ca: PEM files (malloc'ed or NULL) */
	char *tls_cert, *tls_key, *tls_ca;
	char *auth_keys;         /* auth-keys FILE: malloc'ed or NULL */
	bool insecure;           /* insecure yes|no: no keys, any address */
	char *key_file;          /* key-file FILE: the key presented to others */
	/* resource limits (0 = the library's default; docs/security.md) */
	unsigned max_conns, max_conns_per_addr; /* max-conns N, max-conns-per-addr N */
	unsigned idle_timeout_ms;               /* idle-timeout SECONDS */
	uint64_t max_peer_mem, max_mem;         /* max-peer-mem SIZE, max-mem SIZE */
	/* metrics HOST:PORT: the Prometheus listener (off by default) */
	bool metrics;
	char metrics_host[256];
	char metrics_port[8];
	char *metrics_port_file; /* metrics-port-file FILE: malloc'ed or NULL */
	struct msd_region *regions;
	size_t nregions;
};

/* Defaults: 127.0.0.1:7400, transport auto, log level info, no regions. */
void msd_config_init(struct msd_config *c);
void msd_config_free(struct msd_config *c);

/* "NAME:SIZE[:OPT[,OPT]...]", OPT = anon | memfd | file=PATH | chunk=SIZE |
 * nolock.  0 or -EINVAL with a message; *out is only written on success
 * (free out->path later, or use msd_region_free). */
int msd_parse_region(const char *spec, struct msd_region *out, char *err, size_t errlen);
void msd_region_free(struct msd_region *r);
/* A deep copy (the path too): 0 or -ENOMEM. */
int msd_region_copy(struct msd_region *dst, const struct msd_region *src);
/* How b's definition differs from a's, e.g. "size 4M -> 8M, chunk 64K ->
 * 1M", into buf (names are not compared; chunk 0 is the default size).
 * Returns the number of differences, 0 when they define the same region. */
int msd_region_diff(const struct msd_region *a, const struct msd_region *b, char *buf,
		    size_t len);

/* "HOST:PORT" with PORT 0..65535 (0 = ephemeral); HOST may be a bracketed
 * IPv6 address ("[::1]:7400"), which is stored without the brackets. */
int msd_parse_listen(const char *s, char host[256], char port[8], char *err, size_t errlen);

/* Apply one setting by its long option name ("listen", "region",
 * "transport", "log-level", "port-file", "log-file"); regions are appended and a name
 * used twice is an error.  0 or -EINVAL with a message. */
int msd_config_set(struct msd_config *c, const char *key, const char *value, char *err,
		   size_t errlen);

/* Read a config file from f (named fname in messages): "KEY VALUE" lines,
 * blank lines and '#' comments (a '#' at the start of a word starts one).
 * Stops at the first error: -EINVAL with "FNAME:LINE: message". */
int msd_config_read(struct msd_config *c, FILE *f, const char *fname, char *err,
		    size_t errlen);
/* The same from a path; -errno with "PATH: strerror" when it cannot be
 * opened or read. */
int msd_config_load(struct msd_config *c, const char *path, char *err, size_t errlen);

#endif
