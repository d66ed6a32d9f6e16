/* SPDX-License-Identifier: Apache-2.0 */
/*
 * regset.h - the regions memsyncd exports, as the configuration defined
 * them: created at start (all or nothing), changed by a reload (SIGHUP),
 * described on SIGUSR1.  Every outcome is logged; nothing here exits.
 *
 * Rules (docs/memsyncd.8, SIGNALS):
 *  - two regions backed by one file (the same path, or the same device and
 *    inode) are refused, at start and on reload;
 *  - a start that fails removes the backing files it created for earlier
 *    regions (files that existed before are left alone);
 *  - a reload adds the new regions, removes the dropped ones and re-creates
 *    the changed ones, but only when idle: a region that a client has open
 *    stays as it was, with a WARN line saying which and why.
 */
#ifndef MSD_REGSET_H
#define MSD_REGSET_H

#include <stddef.h>

#include "config.h"
#include "memsync.h"

struct msd_regset {
	ms_server *srv;
	struct msd_region *v;    /* exported, in the order they were added */
	size_t n;
};

void msd_regset_init(struct msd_regset *rs, ms_server *srv);
void msd_regset_free(struct msd_regset *rs);

/* Export every region of cfg.  0, or -1 after logging which region failed
 * and why, with the files this call created removed again (the caller
 * destroys the server). */
int msd_regset_start(struct msd_regset *rs, const struct msd_config *cfg);

/* Bring the exports in line with cfg as far as the rules allow. */
void msd_regset_reload(struct msd_regset *rs, const struct msd_config *cfg);

/* One INFO line per region: name, size, backing, clients, generation,
 * lease, commits. */
void msd_regset_log_state(struct msd_regset *rs);

/* Do a and b name the same file (the same path once resolved, or the same
 * device and inode)?  For paths that do not exist yet, the resolved
 * directory and the name are compared. */
bool msd_same_file(const char *a, const char *b);

#endif
