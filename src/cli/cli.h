/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cli.h - declarations shared by the memsync command-line tool: the parsed
 * options, the commands, and the helpers every command uses to connect,
 * open a region and report errors in the "memsync: COMMAND: MESSAGE" form.
 */
#ifndef MS_CLI_H
#define MS_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "memsync.h"
#include "util.h"

/* Exit statuses (see docs/memsync.1). */
#define CLI_EXIT_OK 0
#define CLI_EXIT_FAIL 1
#define CLI_EXIT_USAGE 2

/* Regions are streamed to stdout (pull -, cat) in windows of this size;
 * a multiple of every legal chunk size, so windows never split a chunk. */
#define CLI_WINDOW (64u << 20)

struct cli_opts {
	/* global */
	enum ms_transport_kind transport;
	bool json;
	bool quiet;
	int verbose;
	unsigned queue_depth;
	uint32_t max_io;
	int timeout_ms;
	bool have_client_id;
	uint8_t client_id[16];
	/* TLS: --tls-ca etc. or MEMSYNC_TLS_CA etc. (NULL: plain TCP) */
	const char *tls_ca, *tls_cert, *tls_key;
	const char *key_file;    /* --key-file, else $MEMSYNC_KEY_FILE */
	unsigned streams;        /* --streams (pull push cat map); 0 = default */

	/* per command */
	bool no_verify;          /* pull */
	bool all;                /* push */
	uint64_t offset;         /* cat */
	uint64_t length;         /* cat */
	bool have_offset;
	bool have_length;
	uint64_t demo_size;      /* demo */
	uint32_t demo_chunk;
	double demo_dirty;       /* percent of pages, 0..100 */
	bool map_write;          /* map */
	int map_touch;           /* 0 no, 1 sequential, 2 random */
	bool map_have_dirty;
	double map_dirty;        /* percent of pages, 0..100 */
	bool map_sync;
	bool map_refresh;
	bool map_no_prefetch;
	bool map_hot_first;
	bool map_wait;            /* map --wait */
	enum ms_map_huge map_huge;   /* --huge, MS_MAP_HUGE_AUTO by default */
	uint64_t map_seed;
	enum ms_migrate_mode mig_mode;   /* migrate */
	uint32_t mig_downtime_ms;        /* 0 = the server's default */
	uint32_t mig_max_rounds;         /* 0 = the server's default */
	const char *mig_path;
	bool mig_no_wait;
	bool mig_status;
	bool mig_abort;
	uint64_t mig_max_bw;             /* bytes/s, 0 = unlimited */
	char mig_adv_host[256];          /* "" = B's address as given */
	char mig_adv_port[8];
};

/* Each command gets its positional arguments (the command name excluded)
 * and returns an exit status. */
int cmd_pull(const struct cli_opts *o, int argc, char **argv);
int cmd_push(const struct cli_opts *o, int argc, char **argv);
int cmd_cat(const struct cli_opts *o, int argc, char **argv);
int cmd_stat(const struct cli_opts *o, int argc, char **argv);
int cmd_demo(const struct cli_opts *o, int argc, char **argv);
int cmd_map(const struct cli_opts *o, int argc, char **argv);
int cmd_lease(const struct cli_opts *o, int argc, char **argv);
int cmd_migrate(const struct cli_opts *o, int argc, char **argv);
int cmd_disconnect(const struct cli_opts *o, int argc, char **argv);

/* The "lease" object of --json output (stat, lease). */
struct jsonw;
void cli_json_lease(struct jsonw *w, const struct ms_lease_info *l);

/* "memsync: CMD: message" on stderr (errjson.c); the failure is recorded
 * for --json with the errno of the moment (EIO if none) ... */
void cli_error(const char *cmd, const char *fmt, ...) MS_PRINTF(2, 3);
/* ... or with err (positive or negative errno). */
void cli_error_errno(const char *cmd, int err, const char *fmt, ...) MS_PRINTF(3, 4);
/* A usage error: the message, then a pointer to --help; returns
 * CLI_EXIT_USAGE so callers can `return cli_usage_error(...)`. */
int cli_usage_error(const char *cmd, const char *fmt, ...) MS_PRINTF(2, 3);

/* The client options the global options describe. */
void cli_client_opts(const struct cli_opts *o, struct ms_client_opts *co);

/* Parse a URL argument; a URL that must name a region gets a usage error
 * when it does not.  0 or CLI_EXIT_USAGE (message printed). */
int cli_parse_url(const char *cmd, const char *arg, bool allow_bare, bool need_region,
		  struct ms_url *u);

/* Connect (message printed on failure). */
ms_client *cli_connect(const struct cli_opts *o, const char *cmd, const struct ms_url *u);
/* Open u->region (message printed on failure). */
ms_region *cli_open(ms_client *c, const char *cmd, const struct ms_url *u, enum ms_mode mode);

/* Report a failed library call on c: its message, else strerror(-rc). */
void cli_lib_error(ms_client *c, const char *cmd, const char *what, int rc);

/* Pull [off, off+len) of r in CLI_WINDOW pieces and write them to fd
 * (named fdname in messages), reporting progress to p (may be NULL) and
 * adding the transfer statistics to *st.  0 or CLI_EXIT_FAIL (printed). */
struct progress;
int cli_pull_to_fd(ms_client *c, ms_region *r, const char *cmd, uint64_t off, uint64_t len,
		   bool no_verify, int fd, const char *fdname, struct progress *p,
		   struct ms_xfer_stats *st);

/* The --json object of pull and push; returns an exit status. */
int cli_json_xfer(const char *command, const char *region, const char *transport,
		  const struct ms_xfer_stats *st, double seconds, uint64_t generation);

/* Write all of buf to fd, retrying short writes and EINTR.  0 or -errno. */
int cli_write_all(int fd, const void *buf, size_t len);

/* A reader closed the pipe behind fd (EPIPE): end the process quietly the
 * way cat does, by SIGPIPE (status 141 in a shell); no message. */
_Noreturn void cli_die_sigpipe(void);

/* Seconds between two ms_now_ns() readings; never zero, so rates stay
 * finite for transfers shorter than the clock's resolution. */
double cli_seconds(uint64_t ns);

#endif
