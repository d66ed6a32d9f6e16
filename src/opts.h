/* SPDX-License-Identifier: Apache-2.0 */
/*
 * opts.h - how the library takes a caller's options struct.
 *
 * Every options struct of memsync.h begins with `size_t opts_size`, the
 * sizeof the struct had where the caller was compiled (the convention is
 * written at the top of memsync.h).  ms_opts_take() copies the caller's
 * struct into one of the library's own size, with defaults (zeros) for the
 * fields the caller's version did not have, so the code behind an entry
 * point reads a whole struct whatever header its caller was built with.
 *
 * The smallest accepted size is that of the first version of a struct:
 * the end of its last field in that version.  When a field is appended,
 * these minimums stay as they are.
 */
#ifndef MS_OPTS_H
#define MS_OPTS_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "memsync.h"

/* The size of a struct up to and including its field `last`. */
#define MS_OPTS_UPTO(type, last) (offsetof(type, last) + sizeof(((type *)0)->last))

/* The first versions (memsync 0.1). */
#define MS_CLIENT_OPTS_V1 MS_OPTS_UPTO(struct ms_client_opts, client_id)
#define MS_XFER_OPTS_V1 MS_OPTS_UPTO(struct ms_xfer_opts, no_verify)
#define MS_MAP_OPTS_V1 MS_OPTS_UPTO(struct ms_map_opts, no_use_report)
#define MS_SERVER_OPTS_V1 MS_OPTS_UPTO(struct ms_server_opts, log_ud)
#define MS_EXPORT_OPTS_V1 MS_OPTS_UPTO(struct ms_export_opts, no_mlock)
#define MS_OPEN_OPTS_V1 MS_OPTS_UPTO(struct ms_open_opts, expect_epoch)

/* Fill dst (dst_size bytes, an options struct of this library) from the
 * caller's src: every default for a NULL src; -EINVAL for an opts_size
 * below min_size (0 included); -EOPNOTSUPP when src is larger than dst and
 * a byte past dst_size is not zero (an option this library does not know
 * was asked for).  On success dst->opts_size is dst_size. */
static inline int ms_opts_take(void *dst, size_t dst_size, size_t min_size, const void *src)
{
	size_t n;

	memset(dst, 0, dst_size);
	if (src) {
		memcpy(&n, src, sizeof(n));
		if (n < min_size)
			return -EINVAL;
		for (size_t i = dst_size; i < n; i++)
			if (((const uint8_t *)src)[i])
				return -EOPNOTSUPP;
		memcpy(dst, src, n < dst_size ? n : dst_size);
	}
	memcpy(dst, &dst_size, sizeof(dst_size));
	return 0;
}

#endif /* MS_OPTS_H */
