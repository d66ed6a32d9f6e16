/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmd_cat.c - `memsync cat URL --offset N --length N`: the raw bytes of a
 * range of a region on stdout, checked against the region's size before a
 * byte is read.
 */
#include <errno.h>
#include <stdio.h>
#include <unistd.h>

#include "cli.h"
#include "progress.h"
#include "units.h"

int cmd_cat(const struct cli_opts *o, int argc, char **argv)
{
	struct ms_xfer_stats st = { 0 };
	struct ms_region_info ri;
	struct progress p;
	struct ms_url u;
	ms_client *c = NULL;
	ms_region *r = NULL;
	char sz[32];
	int rc;

	if (argc != 1)
		return cli_usage_error("cat", "expected one URL");
	if (!o->have_offset || !o->have_length)
		return cli_usage_error("cat", "--offset and --length are required");
	if (o->json)
		return cli_usage_error("cat", "--json is not available: stdout carries the bytes");
	rc = cli_parse_url("cat", argv[0], false, true, &u);
	if (rc)
		return rc;

	rc = CLI_EXIT_FAIL;
	c = cli_connect(o, "cat", &u);
	if (!c)
		goto out;
	r = cli_open(c, "cat", &u, MS_MODE_READ);
	if (!r)
		goto out;
	ms_region_info(r, &ri);
	ms_format_size(ri.size, sz, sizeof(sz));
	if (o->offset > ri.size) {
		cli_error_errno("cat", ERANGE, "offset %llu is beyond the end of region '%s' "
				"(size %llu bytes, %s)", (unsigned long long)o->offset, ri.name,
				(unsigned long long)ri.size, sz);
		goto out;
	}
	if (o->length > ri.size - o->offset) {
		cli_error_errno("cat", ERANGE, "offset %llu + length %llu is beyond the end of "
				"region '%s' (size %llu bytes, %s)", (unsigned long long)o->offset,
				(unsigned long long)o->length, ri.name, (unsigned long long)ri.size,
				sz);
		goto out;
	}
	/* no bar over bytes that go to the same terminal */
	progress_init(&p, "cat", o->length, !o->quiet && !isatty(STDOUT_FILENO));
	rc = cli_pull_to_fd(c, r, "cat", o->offset, o->length, false, STDOUT_FILENO, "stdout",
			    &p, &st);
	progress_end(&p);
out:
	if (r)
		ms_close(r);
	if (c)
		ms_disconnect(c);
	return rc;
}
