/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmd_disconnect.c - `memsync disconnect URL|HOST:PORT CLIENT`: an
 * operator closes one client's connection, CLIENT being the id `memsync
 * stat` shows (the server fences the write lease it holds, revokes its
 * grants and logs who asked).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "jsonw.h"

int cmd_disconnect(const struct cli_opts *o, int argc, char **argv)
{
	struct ms_url u;
	ms_client *c;
	uint64_t id;
	char *end;
	int rc;

	if (argc != 2)
		return cli_usage_error("disconnect", "expected URL|HOST:PORT and a client id "
				       "(as `memsync stat` shows it)");
	rc = cli_parse_url("disconnect", argv[0], true, false, &u);
	if (rc)
		return rc;
	errno = 0;
	id = strtoull(argv[1], &end, 10);
	if (errno || end == argv[1] || *end || argv[1][0] == '-' || id == 0)
		return cli_usage_error("disconnect", "client id '%s' is not a positive number "
				       "(the ID column of `memsync stat`)", argv[1]);
	c = cli_connect(o, "disconnect", &u);
	if (!c)
		return CLI_EXIT_FAIL;
	rc = ms_disconnect_client(c, id);
	if (rc) {
		cli_lib_error(c, "disconnect", "disconnect", rc);
		ms_disconnect(c);
		return CLI_EXIT_FAIL;
	}
	ms_disconnect(c);
	if (o->json) {
		struct jsonw w;

		jw_init(&w, stdout);
		jw_obj_begin(&w);
		jw_kv_uint(&w, "disconnected", id);
		jw_obj_end(&w);
		if (jw_finish(&w) < 0) {
			cli_error("disconnect", "cannot write the JSON output");
			return CLI_EXIT_FAIL;
		}
		return CLI_EXIT_OK;
	}
	if (!o->quiet)
		printf("disconnected client %" PRIu64 " from %s:%s\n", id, u.host, u.port);
	return fflush(stdout) == 0 ? CLI_EXIT_OK : CLI_EXIT_FAIL;
}
