/* SPDX-License-Identifier: Apache-2.0 */
/*
 * checkcfg.h - `memsyncd --check-config` (-t): what can be checked about a
 * parsed configuration without starting the daemon.  It binds no socket,
 * pins no memory and creates no file.
 */
#ifndef MSD_CHECKCFG_H
#define MSD_CHECKCFG_H

#include <stdio.h>

#include "config.h"

/* Check cfg: the listen address resolves (and is a loopback one unless
 * keys or insecure are given); the key files are owner-only and parse; the
 * TLS files are readable and come in pairs; the directories of file-backed
 * regions, the log file and the port file exist; two regions do not share
 * a file; log-file and syslog are not both given.  Each problem is one
 * line "memsyncd: PROBLEM" on out.  0 when there is none, else -EINVAL. */
int msd_check_config(const struct msd_config *cfg, FILE *out);

/* The settings that cannot go together (checked at every start too): a
 * message into err and -EINVAL, or 0. */
int msd_config_conflicts(const struct msd_config *cfg, char *err, size_t errlen);

#endif
