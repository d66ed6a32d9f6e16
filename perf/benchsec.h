/* SPDX-License-Identifier: Apache-2.0 */
/*
 * benchsec.h - the security options bench_pull and bench_push share
 * (docs/security.md): TLS on the server (--tls-cert, --tls-key) and the
 * client (--tls-ca), and keys (--auth-keys on the server, --key-file on
 * the client), so perf/run measures what each costs.
 */
#ifndef MS_PERF_BENCHSEC_H
#define MS_PERF_BENCHSEC_H

#include <getopt.h>
#include <stdbool.h>

#include "memsync.h"

struct bu_sec {
	const char *tls_ca, *tls_cert, *tls_key;        /* PEM files */
	const char *auth_keys, *key_file;               /* key files */
};

enum { BU_SEC_TLS_CA = 0x1000, BU_SEC_TLS_CERT, BU_SEC_TLS_KEY, BU_SEC_AUTH_KEYS,
       BU_SEC_KEY_FILE };

#define BU_SEC_OPTIONS                                                    \
	{ "tls-ca", required_argument, NULL, BU_SEC_TLS_CA },             \
	{ "tls-cert", required_argument, NULL, BU_SEC_TLS_CERT },         \
	{ "tls-key", required_argument, NULL, BU_SEC_TLS_KEY },           \
	{ "auth-keys", required_argument, NULL, BU_SEC_AUTH_KEYS },       \
	{ "key-file", required_argument, NULL, BU_SEC_KEY_FILE }

#define BU_SEC_USAGE                                                                  \
	"  --tls-cert FILE --tls-key FILE   the server speaks TLS (PEM)\n"            \
	"  --tls-ca FILE                    the client verifies it against this CA\n"  \
	"  --auth-keys FILE                 the server's key file\n"                   \
	"  --key-file FILE                  the client's key\n"

/* One of the options above: true when c was one (arg taken). */
static inline bool bu_sec_opt(struct bu_sec *s, int c, const char *arg)
{
	switch (c) {
	case BU_SEC_TLS_CA: s->tls_ca = arg; return true;
	case BU_SEC_TLS_CERT: s->tls_cert = arg; return true;
	case BU_SEC_TLS_KEY: s->tls_key = arg; return true;
	case BU_SEC_AUTH_KEYS: s->auth_keys = arg; return true;
	case BU_SEC_KEY_FILE: s->key_file = arg; return true;
	default: return false;
	}
}

static inline void bu_sec_server(const struct bu_sec *s, struct ms_server_opts *so)
{
	so->tls_cert = s->tls_cert;
	so->tls_key = s->tls_key;
	so->auth_keys = s->auth_keys;
}

static inline void bu_sec_client(const struct bu_sec *s, struct ms_client_opts *co)
{
	co->tls_ca = s->tls_ca;
	co->key_file = s->key_file;
}

/* ,"tls":BOOL,"auth":BOOL for the JSON lines */
#define BU_SEC_JSON ",\"tls\":%s,\"auth\":%s"
#define BU_SEC_ARGS(s) ((s)->tls_ca ? "true" : "false"), ((s)->key_file ? "true" : "false")

#endif /* MS_PERF_BENCHSEC_H */
