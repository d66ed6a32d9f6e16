/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmd_stat.c - `memsync stat URL|HOST:PORT`: the regions of a server (or
 * the one a URL names) as a table, or as JSON with --json.
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

static int print_table(const struct ms_region_stat *s, size_t n)
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
	if (fflush(stdout) != 0 || ferror(stdout)) {
		cli_error("stat", "write to stdout: %s", strerror(errno));
		return CLI_EXIT_FAIL;
	}
	return CLI_EXIT_OK;
}

static int print_json(const struct ms_region_stat *s, size_t n)
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
	struct ms_url u;
	ms_client *c;
	size_t n = 0;
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
	ms_disconnect(c);
	rc = o->json ? print_json(s, n) : print_table(s, n);
	free(s);
	return rc;
}
