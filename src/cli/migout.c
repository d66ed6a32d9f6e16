/* SPDX-License-Identifier: Apache-2.0 */
/*
 * migout.c - the progress line, summary and JSON object of `memsync
 * migrate` (see migout.h).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "jsonw.h"
#include "migout.h"
#include "units.h"

char *migout_us(uint64_t us, char *buf, size_t len)
{
	if (us < 1000)
		snprintf(buf, len, "%" PRIu64 "us", us);
	else if (us < 1000000)
		snprintf(buf, len, "%.*fms", us < 10000 ? 2 : 1, (double)us / 1e3);
	else
		snprintf(buf, len, "%.2fs", (double)us / 1e6);
	return buf;
}

uint64_t migout_bucket_lo(int i)
{
	return i <= 0 ? 0 : (uint64_t)1 << i;
}

void migout_progress(const struct ms_migrate_stat *st, char *buf, size_t len)
{
	char a[32], b[32];

	ms_format_size(st->bytes, a, sizeof(a));
	ms_format_size(st->size, b, sizeof(b));
	switch (st->phase) {
	case MS_MIGRATE_PRECOPYING:
		snprintf(buf, len, "%s: round %" PRIu32 ", %s read (region %s)",
			 ms_migrate_phase_name(st->phase), st->rounds + 1, a, b);
		break;
	case MS_MIGRATE_SWITCHING:
		snprintf(buf, len, "%s: after %" PRIu32 " rounds, %s read (region %s)",
			 ms_migrate_phase_name(st->phase), st->rounds, a, b);
		break;
	case MS_MIGRATE_POSTCOPYING:
		snprintf(buf, len, "%s: %" PRIu64 " of %" PRIu64 " chunks still at the source, "
			 "%s read, %" PRIu64 " faults", ms_migrate_phase_name(st->phase),
			 st->chunks_missing, st->chunks_total, a, st->faults);
		break;
	default:
		snprintf(buf, len, "%s: %s read (region %s)", ms_migrate_phase_name(st->phase),
			 a, b);
		break;
	}
}

static int fin(FILE *f)
{
	if (fflush(f) != 0 || ferror(f))
		return -(errno ? errno : EIO);
	return 0;
}

static void print_hist(FILE *f, const struct ms_migrate_stat *st)
{
	char lo[32], hi[32];

	fprintf(f, "  fault latency (%" PRIu64 " faults):\n", st->faults);
	for (int i = 0; i < MS_HIST_BUCKETS; i++) {
		if (!st->fault_hist[i])
			continue;
		migout_us(migout_bucket_lo(i), lo, sizeof(lo));
		if (i + 1 < MS_HIST_BUCKETS)
			fprintf(f, "    %8s .. %-8s %" PRIu64 "\n", lo,
				migout_us(migout_bucket_lo(i + 1), hi, sizeof(hi)),
				st->fault_hist[i]);
		else
			fprintf(f, "    %8s .. %-8s %" PRIu64 "\n", lo, "", st->fault_hist[i]);
	}
}

int migout_text(FILE *f, const struct ms_migrate_stat *st, const char *dst)
{
	char a[32], b[32], t[6][32];

	ms_format_size(st->bytes, a, sizeof(a));
	ms_format_size(st->size, b, sizeof(b));
	fprintf(f, "region '%s': %s -> %s, %s, %s\n", st->name, st->source, dst,
		ms_migrate_mode_name(st->mode), ms_migrate_phase_name(st->phase));
	if (st->phase == MS_MIGRATE_FAILED)
		fprintf(f, "  error: %s\n", st->error[0] ? st->error : "(no message)");
	fprintf(f, "  pre-copy: %" PRIu32 " round%s, ended: %s\n", st->rounds,
		st->rounds == 1 ? "" : "s", st->end_reason[0] ? st->end_reason : "-");
	fprintf(f, "  moved: %s for a %s region (%.2fx)\n", a, b,
		st->size ? (double)st->bytes / (double)st->size : 0.0);
	if (st->chunks_missing)
		fprintf(f, "  still at the source: %" PRIu64 " of %" PRIu64 " chunks\n",
			st->chunks_missing, st->chunks_total);
	if (st->epoch)
		fprintf(f, "  owner epoch at the destination: %" PRIu64 "\n", st->epoch);
	fprintf(f, "  total: %s\n", st->total_us ? migout_us(st->total_us, a, sizeof(a)) : "-");
	if (st->downtime_us) {
		fprintf(f, "  downtime: %s (pause %s, final collect %s, final transfer %s, "
			"commit %s, lease hand-over %s)\n",
			migout_us(st->downtime_us, a, sizeof(a)),
			migout_us(st->pause_us, t[0], sizeof(t[0])),
			migout_us(st->final_collect_us, t[1], sizeof(t[1])),
			migout_us(st->final_xfer_us, t[2], sizeof(t[2])),
			migout_us(st->commit_us, t[3], sizeof(t[3])),
			migout_us(st->handoff_us, t[4], sizeof(t[4])));
	} else {
		fprintf(f, "  downtime: -\n");
	}
	if (st->first_fault_us)
		fprintf(f, "  first post-copy fault served %s after the switch\n",
			migout_us(st->first_fault_us, t[5], sizeof(t[5])));
	if (st->faults)
		print_hist(f, st);
	return fin(f);
}

int migout_json(FILE *f, const struct ms_migrate_stat *st, const char *dst)
{
	struct jsonw w;

	jw_init(&w, f);
	jw_obj_begin(&w);
	jw_kv_str(&w, "command", "migrate");
	jw_kv_str(&w, "region", st->name);
	jw_kv_str(&w, "source", st->source);
	jw_kv_str(&w, "destination", dst);
	jw_kv_str(&w, "mode", ms_migrate_mode_name(st->mode));
	jw_kv_str(&w, "phase", ms_migrate_phase_name(st->phase));
	jw_kv_str(&w, "error", st->error);
	jw_kv_str(&w, "precopy_end", st->end_reason);
	jw_kv_uint(&w, "rounds", st->rounds);
	jw_kv_uint(&w, "size", st->size);
	jw_kv_uint(&w, "bytes", st->bytes);
	jw_kv_uint(&w, "chunks_total", st->chunks_total);
	jw_kv_uint(&w, "chunks_missing", st->chunks_missing);
	jw_kv_uint(&w, "epoch", st->epoch);
	jw_kv_uint(&w, "total_us", st->total_us);
	jw_kv_uint(&w, "downtime_us", st->downtime_us);
	jw_key(&w, "downtime_breakdown_us");
	jw_obj_begin(&w);
	jw_kv_uint(&w, "pause", st->pause_us);
	jw_kv_uint(&w, "final_collect", st->final_collect_us);
	jw_kv_uint(&w, "final_transfer", st->final_xfer_us);
	jw_kv_uint(&w, "commit", st->commit_us);
	jw_kv_uint(&w, "lease_handover", st->handoff_us);
	jw_kv_uint(&w, "first_fault", st->first_fault_us);
	jw_obj_end(&w);
	jw_kv_uint(&w, "faults", st->faults);
	/* bucket i: [2^i, 2^(i+1)) us, the first from 0, the last unbounded */
	jw_key(&w, "fault_hist_us");
	jw_arr_begin(&w);
	for (int i = 0; i < MS_HIST_BUCKETS; i++) {
		if (!st->fault_hist[i])
			continue;
		jw_obj_begin(&w);
		jw_kv_uint(&w, "from", migout_bucket_lo(i));
		if (i + 1 < MS_HIST_BUCKETS)
			jw_kv_uint(&w, "to", migout_bucket_lo(i + 1));
		else
			jw_key(&w, "to"), jw_null(&w);
		jw_kv_uint(&w, "count", st->fault_hist[i]);
		jw_obj_end(&w);
	}
	jw_arr_end(&w);
	jw_obj_end(&w);
	return jw_finish(&w);
}
