/* SPDX-License-Identifier: Apache-2.0 */
/*
 * uffd.h - the one place that opens a userfaultfd, asks the kernel which
 * features it has, and says why one is missing.  Used by the lazy mapper
 * (map.c) and the dirty tracker (dirty.c).  The definitions that older
 * kernel headers lack are in uffd_compat.h, included from here.
 */
#ifndef MS_UFFD_H
#define MS_UFFD_H

#include <stdbool.h>
#include <stdint.h>

#include "uffd_compat.h"

/* How the descriptor will be used, which decides the fallbacks allowed
 * (see ms_uffd_new). */
enum ms_uffd_use {
	MS_UFFD_FAULTS,    /* faults are delivered and resolved (MISSING, MINOR) */
	MS_UFFD_WP_ASYNC,  /* asynchronous write protection only: no fault is
			    * ever delivered */
};

/*
 * A new userfaultfd (O_CLOEXEC | O_NONBLOCK) with UFFDIO_API done for the
 * features in want; *features (may be NULL) gets what the kernel offers.
 * Returns the fd or -errno: the errno of userfaultfd(2) when every way to
 * open one failed, of UFFDIO_API when it refused want (EINVAL: a feature
 * is missing, ms_uffd_missing says which).
 *
 * The fallback policy, in order: userfaultfd(2); when that is refused
 * (EPERM: vm.unprivileged_userfaultfd=0 and no CAP_SYS_PTRACE),
 * /dev/userfaultfd if its permissions allow; then, for MS_UFFD_WP_ASYNC
 * only, userfaultfd(2) with UFFD_USER_MODE_ONLY, which an unprivileged
 * process may always open.  A user-mode-only descriptor is not told about
 * faults the kernel takes on the process's behalf (a read(2) into the
 * range, the transport's recv, a copy_to_user): such a fault fails with
 * EFAULT instead.  That is harmless for WP_ASYNC, which never delivers a
 * fault (the kernel resolves the write itself and the page is reported
 * written all the same), but it would break the lazy mapper, whose view
 * must fill in on any access, so a mapper gets no such fallback.
 */
int ms_uffd_new(enum ms_uffd_use use, uint64_t want, uint64_t *features);

/* The features this kernel offers, asked on a descriptor opened for the
 * probe only (one UFFDIO_API per descriptor).  0 or -errno as ms_uffd_new. */
int ms_uffd_probe(enum ms_uffd_use use, uint64_t *features);

/* The name of the first feature of want that have lacks
 * ("UFFD_FEATURE_WP_ASYNC"), or NULL when have holds them all. */
const char *ms_uffd_missing(uint64_t have, uint64_t want);

/* What to add to strerror(-err) after ms_uffd_new failed with err: a hint
 * on how to get a userfaultfd ("" when there is none). */
const char *ms_uffd_hint(int err);

#endif
