/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmd_push.c - `memsync push FILE URL [--all]`: make the region's first
 * size(FILE) bytes equal FILE, sending only the chunks whose committed hash
 * differs (every chunk with --all), and commit before returning.
 *
 * Everything that can be checked locally (the file exists, is a non-empty
 * regular file, fits in the region) is checked before a byte is sent, so a
 * rejected push leaves the region untouched.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "log.h"
#include "progress.h"
#include "units.h"

int cmd_push(const struct cli_opts *o, int argc, char **argv)
{
	struct ms_xfer_stats st = { 0 };
	struct ms_region_info ri;
	struct progress p;
	struct ms_xfer_opts xo = { .opts_size = sizeof(xo), .progress = progress_cb,
				   .progress_ud = &p };
	struct ms_url u;
	struct stat sb;
	const char *path;
	ms_client *c = NULL;
	ms_region *r = NULL;
	void *map = MAP_FAILED;
	uint64_t size = 0, t0, ns;
	int fd = -1, rc;
	char a[32], b[32];

	if (argc != 2)
		return cli_usage_error("push", "expected FILE and URL");
	path = argv[0];
	rc = cli_parse_url("push", argv[1], false, true, &u);
	if (rc)
		return rc;

	rc = CLI_EXIT_FAIL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		cli_error("push", "cannot open '%s': %s", path, strerror(errno));
		goto out;
	}
	if (fstat(fd, &sb) < 0) {
		cli_error("push", "cannot stat '%s': %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(sb.st_mode)) {
		cli_error("push", "'%s' is not a regular file", path);
		goto out;
	}
	size = (uint64_t)sb.st_size;
	if (size == 0) {
		cli_error("push", "'%s' is empty: nothing to push", path);
		goto out;
	}

	c = cli_connect(o, "push", &u);
	if (!c)
		goto out;
	r = cli_open(c, "push", &u, MS_MODE_WRITE);
	if (!r)
		goto out;
	ms_region_info(r, &ri);
	if (size > ri.size) {
		cli_error("push", "'%s' (%llu bytes, %s) is larger than region '%s' "
			  "(%llu bytes, %s); nothing sent", path, (unsigned long long)size,
			  ms_format_size(size, a, sizeof(a)), ri.name,
			  (unsigned long long)ri.size, ms_format_size(ri.size, b, sizeof(b)));
		goto out;
	}
	map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (map == MAP_FAILED) {
		cli_error("push", "cannot map '%s': %s", path, strerror(errno));
		goto out;
	}

	progress_init(&p, "push", size, !o->quiet && !o->json);
	t0 = ms_now_ns();
	ms_region_info(r, &ri);
	if (o->all) {
		/* one commit, unless the lease's staging cannot hold it all:
		 * then one commit per staging limit (each atomic) */
		uint64_t step = ri.commit_mode == MS_COMMIT_ATOMIC && ri.stage_limit
					? ri.stage_limit : size;
		struct ms_xfer_stats s1;

		memset(&st, 0, sizeof(st));
		rc = 0;
		for (uint64_t off = 0; off < size && rc == 0; off += step) {
			uint64_t n = MS_MIN(step, size - off);

			rc = ms_write(r, off, (const uint8_t *)map + off, n, &xo, &s1);
			if (rc == 0)
				rc = ms_sync(r);
			st.bytes += s1.bytes;
			st.chunks_total += s1.chunks_total;
			st.chunks_moved += s1.chunks_moved;
			st.commits += rc == 0;
		}
	} else {
		rc = ms_push(r, 0, map, size, &xo, &st);
	}
	ns = ms_now_ns() - t0;
	progress_end(&p);
	if (rc < 0) {
		cli_lib_error(c, "push", o->all ? "write failed" : "push failed", rc);
		rc = CLI_EXIT_FAIL;
		goto out;
	}
	ms_region_info(r, &ri);

	if (o->json) {
		rc = cli_json_xfer("push", ri.name, ms_client_transport(c), &st, cli_seconds(ns),
				   ri.generation);
		goto out;
	}
	if (st.commits > 1)
		fprintf(stderr, "memsync: push: warning: %s did not fit the write lease's staging "
			"(%s): it was split into %llu commits, each atomic, not atomic as a "
			"whole\n", path, ms_format_size(ri.stage_limit, a, sizeof(a)),
			(unsigned long long)st.commits);
	if (!o->quiet)
		fprintf(stderr, "pushed %s: %llu of %llu chunks %s, %s sent in %.2f s over %s, "
			"generation %llu\n", ri.name, (unsigned long long)st.chunks_moved,
			(unsigned long long)st.chunks_total, o->all ? "written (--all)" : "changed",
			ms_format_size(st.bytes, a, sizeof(a)), cli_seconds(ns),
			ms_client_transport(c), (unsigned long long)ri.generation);
	rc = CLI_EXIT_OK;
out:
	if (map != MAP_FAILED)
		munmap(map, size);
	if (r)
		ms_close(r);
	if (c)
		ms_disconnect(c);
	if (fd >= 0)
		close(fd);
	return rc;
}
