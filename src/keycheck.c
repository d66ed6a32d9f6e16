/* SPDX-License-Identifier: Apache-2.0 */
/*
 * keycheck.c - ms_check_key_file(): a key file checked with the loaders
 * the server and the client use (auth.h), for a configuration check that
 * must not start anything.
 */
#include <errno.h>
#include <string.h>

#include "auth.h"
#include "memsync.h"

int ms_check_key_file(const char *path, bool server_file, unsigned *nkeys, char *err,
		      size_t errlen)
{
	int rc;

	if (!path || !err || !errlen)
		return -EINVAL;
	err[0] = '\0';
	if (server_file) {
		struct ms_keydb *db = NULL;

		rc = ms_keydb_load(path, &db, err, errlen);
		if (rc < 0)
			return rc;
		if (nkeys)
			*nkeys = (unsigned)ms_keydb_count(db);
		ms_keydb_put(db);
	} else {
		struct ms_authkey k;

		rc = ms_authkey_load(path, &k, err, errlen);
		explicit_bzero(&k, sizeof(k));
		if (rc < 0)
			return rc;
		if (nkeys)
			*nkeys = 1;
	}
	return 0;
}
