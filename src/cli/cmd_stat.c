/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmd_stat.c - `memsync stat URL|HOST:PORT`: the regions of a server (or
 * the one a URL names) as a table, then under each region that has
 * clients a table of them (one row per connection: the id `memsync
 * disconnect` takes, address, transport, mode, lease and epoch, bytes,
 * idle time, key), or all of it as JSON with --json.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "jsonw.h"
#include "units.h"

#define NCOLS 16
/* the widest cell: "-> " and where the region moved to */
#define CELL (sizeof(((struct ms_region_stat *)0)->moved_to) + 3)

static const char *const header[NCOLS] = {
	"REGION", "BACKING", "SIZE", "CHUNK", "GENERATION", "CLIENTS", "LEASE", "EPOCH",
	"EXPIRES", "READ", "WRITTEN", "COMMITTED", "COMMITS", "REFUSED", "ABANDONED",
	"MIGRATION",
};
/* numbers are right-aligned, words left-aligned */
static const bool right[NCOLS] = {
	false, false, true, true, true, true, false, true,
	true, true, true, true, true, true, true, false,
};

/* "-" when free, the holder's address, or "handover" */
static void lease_cell(const struct ms_lease_info *l, char *out, size_t len)
{
	if (l->state == MS_LEASE_HELD)
		snprintf(out, len, "%s", l->holder);
	else if (l->state == MS_LEASE_HANDOVER)
		snprintf(out, len, "handover");
	else
		snprintf(out, len, "-");
}

/* "-" when none, "-> host:port" at a source that handed the region off,
 * else the phase (at the destination: precopy, switching, postcopy, ...) */
static void migration_cell(const struct ms_region_stat *s, char *out, size_t len)
{
	if (s->moved_to[0])
		snprintf(out, len, "-> %s", s->moved_to);
	else if (s->migrate_phase == MS_MIGRATE_NONE)
		snprintf(out, len, "-");
	else
		snprintf(out, len, "%s", ms_migrate_phase_name(s->migrate_phase));
}

static void row_cells(const struct ms_region_stat *s, char cell[NCOLS][CELL])
{
	snprintf(cell[0], CELL, "%s", s->name);
	snprintf(cell[1], CELL, "%s", ms_backing_name(s->backing));
	ms_format_size(s->size, cell[2], CELL);
	ms_format_size(s->chunk_size, cell[3], CELL);
	snprintf(cell[4], CELL, "%" PRIu64, s->generation);
	snprintf(cell[5], CELL, "%" PRIu32, s->clients);
	lease_cell(&s->lease, cell[6], CELL);
	snprintf(cell[7], CELL, "%" PRIu64, s->lease.epoch);
	if (s->lease.expires_ms >= 0)
		snprintf(cell[8], CELL, "%.1fs", (double)s->lease.expires_ms / 1000);
	else
		snprintf(cell[8], CELL, "-");
	ms_format_size(s->bytes_read, cell[9], CELL);
	ms_format_size(s->bytes_written, cell[10], CELL);
	ms_format_size(s->bytes_committed, cell[11], CELL);
	snprintf(cell[12], CELL, "%" PRIu64, s->commits);
	snprintf(cell[13], CELL, "%" PRIu64, s->commits_refused);
	snprintf(cell[14], CELL, "%" PRIu64, s->commits_abandoned);
	migration_cell(s, cell[15], CELL);
}

static void print_row(const char *const *cells, const int *width)
{
	for (int i = 0; i < NCOLS; i++) {
		const char *sep = i + 1 < NCOLS ? "  " : "\n";

		if (right[i])
			printf("%*s%s", width[i], cells[i], sep);
		else if (i + 1 < NCOLS)
			printf("%-*s%s", width[i], cells[i], sep);
		else
			printf("%s%s", cells[i], sep);
	}
}

#define CCOLS 10
static const char *const cheader[CCOLS] = {
	"ID", "ADDRESS", "TRANSPORT", "MODE", "LEASE", "EPOCH", "READ", "WRITTEN", "IDLE", "KEY",
};
static const bool cright[CCOLS] = {
	true, false, false, false, false, true, true, true, true, false,
};

/* "read", "write", or "write (fenced)" for a writer without the lease */
static const char *mode_word(const struct ms_client_info *ci)
{
	if (ci->mode != MS_MODE_WRITE)
		return "read";
	return ci->lease ? "write" : "write (fenced)";
}

static void client_cells(const struct ms_client_info *ci, char cell[CCOLS][96])
{
	snprintf(cell[0], 96, "%" PRIu64, ci->id);
	snprintf(cell[1], 96, "%s", ci->address);
	snprintf(cell[2], 96, "%s", ci->transport);
	snprintf(cell[3], 96, "%s", mode_word(ci));
	snprintf(cell[4], 96, "%s", ci->lease ? "held" : "-");
	if (ci->lease)
		snprintf(cell[5], 96, "%" PRIu64, ci->epoch);
	else
		snprintf(cell[5], 96, "-");
	ms_format_size(ci->bytes_read, cell[6], 96);
	ms_format_size(ci->bytes_written, cell[7], 96);
	snprintf(cell[8], 96, "%.1fs", (double)ci->idle_ms / 1000);
	snprintf(cell[9], 96, "%s", ci->key[0] ? ci->key : "-");
}

/* The clients of region name (of all n in ci), as a table indented by
 * two spaces under a "NAME: N clients" line; nothing when it has none. */
static void print_clients(const char *name, const struct ms_client_info *ci, size_t n)
{
	char cell[CCOLS][96];
	int width[CCOLS];
	size_t cnt = 0;

	for (int i = 0; i < CCOLS; i++)
		width[i] = (int)strlen(cheader[i]);
	for (size_t k = 0; k < n; k++) {
		if (strcmp(ci[k].region, name) != 0)
			continue;
		cnt++;
		client_cells(&ci[k], cell);
		for (int i = 0; i < CCOLS; i++)
			width[i] = MS_MAX(width[i], (int)strlen(cell[i]));
	}
	if (!cnt)
		return;
	printf("\n%s: %zu client%s\n", name, cnt, cnt == 1 ? "" : "s");
	for (size_t k = 0; k <= n; k++) {
		const char *row[CCOLS];

		if (k > 0 && strcmp(ci[k - 1].region, name) != 0)
			continue;
		if (k > 0)
			client_cells(&ci[k - 1], cell);
		for (int i = 0; i < CCOLS; i++)
			row[i] = k ? cell[i] : cheader[i];
		printf(" ");
		for (int i = 0; i < CCOLS; i++) {
			if (i + 1 == CCOLS)
				printf(" %s\n", row[i]);
			else if (cright[i])
				printf(" %*s ", width[i], row[i]);
			else
				printf(" %-*s ", width[i], row[i]);
		}
	}
}

static int print_table(const struct ms_region_stat *s, size_t n,
		       const struct ms_client_info *ci, size_t nci)
{
	char (*cells)[NCOLS][CELL] = calloc(n ? n : 1, sizeof(*cells));
	int width[NCOLS];

	if (!cells) {
		cli_error("stat", "%s", strerror(errno));
		return CLI_EXIT_FAIL;
	}
	for (int i = 0; i < NCOLS; i++)
		width[i] = (int)strlen(header[i]);
	for (size_t k = 0; k < n; k++) {
		row_cells(&s[k], cells[k]);
		for (int i = 0; i < NCOLS; i++)
			width[i] = MS_MAX(width[i], (int)strlen(cells[k][i]));
	}
	print_row(header, width);
	for (size_t k = 0; k < n; k++) {
		const char *row[NCOLS];

		for (int i = 0; i < NCOLS; i++)
			row[i] = cells[k][i];
		print_row(row, width);
	}
	free(cells);
	for (size_t k = 0; k < n; k++)
		print_clients(s[k].name, ci, nci);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		cli_error("stat", "write to stdout: %s", strerror(errno));
		return CLI_EXIT_FAIL;
	}
	return CLI_EXIT_OK;
}

static void json_clients(struct jsonw *w, const char *name, const struct ms_client_info *ci,
			 size_t n)
{
	char hex[33];

	jw_key(w, "connections");
	jw_arr_begin(w);
	for (size_t k = 0; k < n; k++) {
		if (strcmp(ci[k].region, name) != 0)
			continue;
		for (int i = 0; i < 16; i++)
			snprintf(hex + 2 * i, 3, "%02x", ci[k].client_id[i]);
		jw_obj_begin(w);
		jw_kv_uint(w, "id", ci[k].id);
		jw_kv_str(w, "address", ci[k].address);
		jw_kv_str(w, "transport", ci[k].transport);
		jw_kv_str(w, "mode", ci[k].mode == MS_MODE_WRITE ? "write" : "read");
		jw_kv_bool(w, "lease", ci[k].lease);
		jw_kv_uint(w, "epoch", ci[k].epoch);
		jw_kv_uint(w, "bytes_read", ci[k].bytes_read);
		jw_kv_uint(w, "bytes_written", ci[k].bytes_written);
		jw_kv_uint(w, "idle_ms", ci[k].idle_ms);
		jw_kv_str(w, "key", ci[k].key);
		jw_kv_str(w, "client_id", hex);
		jw_obj_end(w);
	}
	jw_arr_end(w);
}

static int print_json(const struct ms_region_stat *s, size_t n,
		      const struct ms_client_info *ci, size_t nci)
{
	struct jsonw w;
	int rc;

	jw_init(&w, stdout);
	jw_obj_begin(&w);
	jw_key(&w, "regions");
	jw_arr_begin(&w);
	for (size_t k = 0; k < n; k++) {
		jw_obj_begin(&w);
		jw_kv_str(&w, "name", s[k].name);
		jw_kv_str(&w, "backing", ms_backing_name(s[k].backing));
		jw_kv_uint(&w, "size", s[k].size);
		jw_kv_uint(&w, "chunk_size", s[k].chunk_size);
		jw_kv_uint(&w, "generation", s[k].generation);
		jw_kv_uint(&w, "clients", s[k].clients);
		jw_kv_bool(&w, "write_leased", s[k].write_leased);
		jw_kv_uint(&w, "bytes_read", s[k].bytes_read);
		jw_kv_uint(&w, "bytes_written", s[k].bytes_written);
		jw_kv_uint(&w, "bytes_committed", s[k].bytes_committed);
		jw_kv_uint(&w, "commits", s[k].commits);
		jw_kv_uint(&w, "commits_refused", s[k].commits_refused);
		jw_kv_uint(&w, "commits_abandoned", s[k].commits_abandoned);
		jw_kv_str(&w, "commit_mode", ms_commit_mode_name(s[k].commit_mode));
		cli_json_lease(&w, &s[k].lease);
		jw_key(&w, "migration");
		jw_obj_begin(&w);
		jw_kv_str(&w, "phase", ms_migrate_phase_name(s[k].migrate_phase));
		jw_kv_str(&w, "moved_to", s[k].moved_to);
		jw_obj_end(&w);
		json_clients(&w, s[k].name, ci, nci);
		jw_obj_end(&w);
	}
	jw_arr_end(&w);
	jw_obj_end(&w);
	rc = jw_finish(&w);
	if (rc < 0) {
		cli_error("stat", "cannot write the JSON output: %s", strerror(-rc));
		return CLI_EXIT_FAIL;
	}
	return CLI_EXIT_OK;
}

int cmd_stat(const struct cli_opts *o, int argc, char **argv)
{
	struct ms_region_stat *s = NULL;
	struct ms_client_info *ci = NULL;
	struct ms_url u;
	ms_client *c;
	size_t n = 0, nci = 0;
	int rc;

	if (argc != 1)
		return cli_usage_error("stat", "expected one URL or HOST:PORT");
	rc = cli_parse_url("stat", argv[0], true, false, &u);
	if (rc)
		return rc;
	c = cli_connect(o, "stat", &u);
	if (!c)
		return CLI_EXIT_FAIL;
	rc = ms_stat(c, u.region[0] ? u.region : NULL, &s, &n);
	if (rc < 0) {
		const char *msg = ms_client_errmsg(c);

		if (msg && msg[0])
			cli_error_errno("stat", rc, "%s", msg);
		else if (rc == -ENOENT)
			cli_error_errno("stat", rc, "unknown region '%s' on %s:%s", u.region, u.host,
					u.port);
		else
			cli_error_errno("stat", rc, "stat failed: %s", strerror(-rc));
		ms_disconnect(c);
		return CLI_EXIT_FAIL;
	}
	/* of every region: a region that moved away is in the STAT reply
	 * (its moved_to) but no longer one CLIENTS can name */
	rc = ms_stat_clients(c, NULL, &ci, &nci);
	if (rc == -EBADMSG) {
		/* a server from before CLIENTS ("unknown control message
		 * type"): its regions, without their clients */
		ci = NULL;
		nci = 0;
	} else if (rc < 0) {
		cli_lib_error(c, "stat", "listing the clients", rc);
		ms_disconnect(c);
		free(s);
		return CLI_EXIT_FAIL;
	}
	ms_disconnect(c);
	rc = o->json ? print_json(s, n, ci, nci) : print_table(s, n, ci, nci);
	ms_client_info_free(ci);
	free(s);
	return rc;
}
