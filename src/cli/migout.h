/* SPDX-License-Identifier: Apache-2.0 */
/*
 * migout.h - the text of `memsync migrate`: the progress line, the summary
 * (mode, why pre-copy ended, rounds, bytes moved against the region's size,
 * total time, downtime and its breakdown, post-copy fault latencies) and
 * the same as one JSON object.  Separate from cmd_migrate.c so the unit
 * tests can check the text.
 */
#ifndef MS_CLI_MIGOUT_H
#define MS_CLI_MIGOUT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "memsync.h"

/* "850us", "12.3ms", "4.20s" */
char *migout_us(uint64_t us, char *buf, size_t len);

/* One line, no newline: "precopying: round 2, 12.0 MiB of 256 MiB read"
 * (post-copy: chunks still missing; the final phases: their name). */
void migout_progress(const struct ms_migrate_stat *st, char *buf, size_t len);

/* The lower bound of histogram bucket i in microseconds (0 for bucket 0). */
uint64_t migout_bucket_lo(int i);

/* The summary, several lines; dst is "host:port" of B.  0 or -errno of a
 * failed write. */
int migout_text(FILE *f, const struct ms_migrate_stat *st, const char *dst);

/* One JSON object (and a newline): what migout_text says, in fields
 * (docs/migration.md lists them).  0 or -errno. */
int migout_json(FILE *f, const struct ms_migrate_stat *st, const char *dst);

#endif
