/* SPDX-License-Identifier: Apache-2.0 */
/*
 * migrate_app.h - application hand-over (migrate_app.c): a writable lazy
 * mapping's application hands its region's write lease to a copy of
 * itself that maps the same region of the same server (the public calls
 * are ms_migrate_app_* in memsync.h, "Application hand-over"), and the
 * pause helpers for processes that do not link the library
 * (migrate_pause.c).
 *
 * The hand-over goes through the server only: the source's syncs publish
 * its bytes, its use report and commits order the server's hot list that
 * the destination prefetches, and the lease handover (server_lease.c:
 * reserved for one client id, epoch N+1, lapsing after the lease's time
 * to live) moves the right to write.  The mapping's side of it is
 * map_lease.c.
 */
#ifndef MS_MIGRATE_APP_H
#define MS_MIGRATE_APP_H

#include "memsync.h"
#include "opts.h"

#define MIG_APP_ROUNDS 8              /* max_rounds 0 */
#define MIG_APP_PAUSE_BYTES (1u << 20) /* pause_bytes 0 */
#define MIG_APP_DEST_WAIT_MS 60000    /* destination timeout_ms 0 */
#define MIG_APP_TAKE_SLACK_MS 5000    /* source timeout_ms 0 */
#define MIG_APP_HOT_EVERY_MS 50       /* destination: hot list re-read */
#define MIG_PAUSE_WAIT_MS 5000        /* pause helpers' timeout_ms 0 */

/* The first version of struct ms_migrate_app_opts (opts.h). */
#define MS_MIGRATE_APP_OPTS_V1 MS_OPTS_UPTO(struct ms_migrate_app_opts, poll_ms)

#endif
