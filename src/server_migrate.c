/* SPDX-License-Identifier: Apache-2.0 */
/*
 * server_migrate.c - the destination's side of a region migration.
 * (Being written: see docs/protocol.md, "Migration".)
 */
#include <errno.h>

#include "server_int.h"

int ms_server_migrate(ms_server *s, const char *name, const char *src_host,
		      const char *src_port, const struct ms_migrate_opts *o)
{
	(void)s; (void)name; (void)src_host; (void)src_port; (void)o;
	return -ENOSYS;
}

int ms_server_migrate_stat(ms_server *s, const char *name, struct ms_migrate_stat *out)
{
	(void)s; (void)name; (void)out;
	return -ENOENT;
}

int ms_server_migrate_abort(ms_server *s, const char *name)
{
	(void)s; (void)name;
	return -ENOENT;
}
