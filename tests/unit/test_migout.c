/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_migout.c - what `memsync migrate` prints (src/cli/migout.c): the
 * progress line per phase, the summary (downtime breakdown, bytes against
 * the region, the fault histogram) and the JSON object; and the kvstore
 * demo's table (examples/kvstore/table.c).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/migout.h"
#include "../examples/kvstore/table.h"
#include "tap.h"

static char out[8192];

static struct ms_migrate_stat sample(void)
{
	struct ms_migrate_stat st = {
		.name = "kv", .phase = MS_MIGRATE_DONE, .mode = MS_MIGRATE_HYBRID,
		.source = "10.77.0.1:7400", .end_reason = "max rounds", .rounds = 2,
		.size = 64ull << 20, .bytes = 72ull << 20, .chunks_total = 1024,
		.epoch = 3, .total_us = 1500000, .downtime_us = 4200, .pause_us = 100,
		.final_collect_us = 700, .final_xfer_us = 1900, .commit_us = 300,
		.handoff_us = 1200, .first_fault_us = 450, .faults = 7,
	};

	st.fault_hist[6] = 5;                    /* 64..128 us */
	st.fault_hist[MS_HIST_BUCKETS - 1] = 2;  /* the unbounded last one */
	return st;
}

static void text_tests(void)
{
	struct ms_migrate_stat st = sample();
	char buf[256];
	FILE *f;

	is_str(migout_us(850, buf, sizeof(buf)), "850us", "microseconds");
	is_str(migout_us(4200, buf, sizeof(buf)), "4.20ms", "milliseconds, 3 digits");
	is_str(migout_us(12345, buf, sizeof(buf)), "12.3ms", "tens of milliseconds");
	is_str(migout_us(1500000, buf, sizeof(buf)), "1.50s", "seconds");
	ok(migout_bucket_lo(0) == 0 && migout_bucket_lo(1) == 2 && migout_bucket_lo(10) == 1024,
	   "bucket i starts at 2^i us (bucket 0 at 0)");

	f = fmemopen(out, sizeof(out), "w");
	ok(f && migout_text(f, &st, "10.77.0.2:7400") == 0, "summary written");
	fclose(f);
	ok(strstr(out, "region 'kv': 10.77.0.1:7400 -> 10.77.0.2:7400, hybrid, done\n") == out,
	   "first line: region, source, destination, mode, phase");
	ok(strstr(out, "  pre-copy: 2 rounds, ended: max rounds\n") != NULL,
	   "rounds and why pre-copy ended");
	ok(strstr(out, "  moved: 72.0 MiB for a 64.0 MiB region (1.12x)\n") != NULL,
	   "bytes moved against the region");
	ok(strstr(out, "  total: 1.50s\n") != NULL, "total time");
	ok(strstr(out, "  downtime: 4.20ms (pause 100us, final collect 700us, final transfer "
		       "1.90ms, commit 300us, lease hand-over 1.20ms)\n") != NULL,
	   "downtime and its breakdown");
	ok(strstr(out, "  first post-copy fault served 450us after the switch\n") != NULL,
	   "the first post-copy fault");
	ok(strstr(out, "fault latency (7 faults):\n") != NULL, "histogram title");
	ok(strstr(out, "64us .. 128us") != NULL && strstr(out, " 5\n") != NULL,
	   "the 64..128 us bucket");
	ok(strstr(out, "8388608us .. ") == NULL && strstr(out, "8.39s ..") != NULL,
	   "the last bucket is open-ended");
	ok(strstr(out, "error:") == NULL, "no error line when done");

	st.phase = MS_MIGRATE_FAILED;
	snprintf(st.error, sizeof(st.error), "source gone: connection reset");
	st.downtime_us = 0;
	st.faults = 0;
	f = fmemopen(out, sizeof(out), "w");
	ok(f && migout_text(f, &st, "b:1") == 0, "failed summary written");
	fclose(f);
	ok(strstr(out, "  error: source gone: connection reset\n") != NULL, "the error");
	ok(strstr(out, "  downtime: -\n") != NULL, "no downtime before the switch");
	ok(strstr(out, "fault latency") == NULL, "no histogram without faults");
	ok(strstr(out, "first post-copy fault") != NULL, "a first fault is shown when measured");

	st = sample();
	st.phase = MS_MIGRATE_PRECOPYING;
	st.rounds = 1;
	st.bytes = 3ull << 20;
	migout_progress(&st, buf, sizeof(buf));
	is_str(buf, "precopy: round 2, 3.00 MiB read (region 64.0 MiB)", "progress in pre-copy");
	st.phase = MS_MIGRATE_POSTCOPYING;
	st.chunks_missing = 100;
	migout_progress(&st, buf, sizeof(buf));
	is_str(buf, "postcopy: 100 of 1024 chunks still at the source, 3.00 MiB read, 7 faults",
	       "progress in post-copy");
}

static void json_tests(void)
{
	struct ms_migrate_stat st = sample();
	FILE *f = fmemopen(out, sizeof(out), "w");

	ok(f && migout_json(f, &st, "10.77.0.2:7400") == 0, "JSON written");
	fclose(f);
	ok(out[0] == '{' && strstr(out, "}\n") == out + strlen(out) - 2, "one object and a newline");
	ok(strstr(out, "\"command\":\"migrate\"") && strstr(out, "\"region\":\"kv\"") &&
	   strstr(out, "\"source\":\"10.77.0.1:7400\"") &&
	   strstr(out, "\"destination\":\"10.77.0.2:7400\""), "names");
	ok(strstr(out, "\"mode\":\"hybrid\"") && strstr(out, "\"phase\":\"done\"") &&
	   strstr(out, "\"precopy_end\":\"max rounds\"") && strstr(out, "\"rounds\":2"),
	   "mode, phase, pre-copy");
	ok(strstr(out, "\"size\":67108864") && strstr(out, "\"bytes\":75497472"), "bytes");
	ok(strstr(out, "\"total_us\":1500000") && strstr(out, "\"downtime_us\":4200"), "times");
	ok(strstr(out, "\"downtime_breakdown_us\":{\"pause\":100,\"final_collect\":700,"
		       "\"final_transfer\":1900,\"commit\":300,\"lease_handover\":1200,"
		       "\"first_fault\":450}") != NULL, "the breakdown");
	ok(strstr(out, "\"fault_hist_us\":[{\"from\":64,\"to\":128,\"count\":5},"
		       "{\"from\":8388608,\"to\":null,\"count\":2}]") != NULL,
	   "the histogram: non-empty buckets only, the last open");
}

static void table_tests(void)
{
	static struct kv_slot mem[8];
	char v[KV_VAL_MAX + 1], key[16], longv[KV_VAL_MAX + 2];
	struct kv_table t;
	uint64_t ver = 0;
	int full = 0;

	is_int(kv_table_init(&t, mem, sizeof(mem[0]) - 1), -EINVAL, "a table needs a slot");
	is_int(kv_table_init(&t, mem, sizeof(mem)), 0, "table over 8 slots");
	is_int(kv_table_get(&t, "a", v, &ver), -ENOENT, "empty table: no key");
	ok(kv_table_put(&t, "a", "one", &ver) == 0 && ver == 1, "put a: version 1");
	ok(kv_table_put(&t, "a", "two words", &ver) == 0 && ver == 2, "put a again: version 2");
	ok(kv_table_get(&t, "a", v, &ver) == 0 && strcmp(v, "two words") == 0 && ver == 2,
	   "get a: the last value and version");
	is_int(kv_table_put(&t, "a b", "x", NULL), -EINVAL, "a key with a blank is refused");
	is_int(kv_table_put(&t, "", "x", NULL), -EINVAL, "an empty key is refused");
	memset(longv, 'x', sizeof(longv) - 1);
	longv[sizeof(longv) - 1] = '\0';
	is_int(kv_table_put(&t, "b", longv, NULL), -EINVAL, "a value too long is refused");
	for (int i = 0; i < 10; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		full += kv_table_put(&t, key, key, NULL) == -ENOSPC;
	}
	is_int(full, 3, "8 slots: a and 7 more keys, then ENOSPC");
	ok(kv_table_count(&t) == 8, "8 keys stored");
	ok(kv_table_get(&t, "k6", v, NULL) == 0 && strcmp(v, "k6") == 0 &&
	   kv_table_get(&t, "a", v, NULL) == 0 && strcmp(v, "two words") == 0,
	   "every key keeps its value in a full table");
	is_int(kv_table_get(&t, "k9", v, NULL), -ENOENT, "a key that did not fit is absent");
}

int main(void)
{
	text_tests();
	json_tests();
	table_tests();
	return tap_done();
}
