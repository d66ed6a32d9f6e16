/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmd_pull.c - `memsync pull URL FILE|DIR/|-`: replicate a whole region
 * into a file (through a shared mapping, so the data lands in the page
 * cache without a copy) or onto stdout (in windows).  A regular file is
 * replaced whole or not at all (replace.h: a temporary file renamed over it
 * when complete, removed on failure or SIGINT/SIGTERM/SIGHUP); a device or
 * a pipe is written in place.  Also the windowed pull the cat command
 * shares and the JSON object of pull and push.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "bigbuf.h"
#include "cli.h"
#include "jsonw.h"
#include "log.h"
#include "progress.h"
#include "replace.h"
#include "units.h"

/* Is fd /dev/null (what lands there needs no bytes)? */
static bool cli_is_dev_null(int fd)
{
	struct stat a, b;

	return fstat(fd, &a) == 0 && S_ISCHR(a.st_mode) && stat("/dev/null", &b) == 0 &&
	       S_ISCHR(b.st_mode) && a.st_rdev == b.st_rdev;
}

static void add_stats(struct ms_xfer_stats *sum, const struct ms_xfer_stats *st)
{
	sum->bytes += st->bytes;
	sum->chunks_total += st->chunks_total;
	sum->chunks_moved += st->chunks_moved;
	sum->chunks_retried += st->chunks_retried;
	sum->ns += st->ns;
}

int cli_pull_to_fd(ms_client *c, ms_region *r, const char *cmd, uint64_t off, uint64_t len,
		   bool no_verify, int fd, const char *fdname, struct progress *p,
		   struct ms_xfer_stats *sum)
{
	size_t wlen = (size_t)MS_MIN(len, (uint64_t)CLI_WINDOW);
	struct ms_xfer_opts xo = {
		.opts_size = sizeof(xo),
		.progress = p ? progress_cb : NULL,
		.progress_ud = p,
		.no_verify = no_verify,
		.consistent = true,   /* each window as of one commit (issue 10) */
	};
	uint64_t done = 0;
	ms_mem *reg;
	char *buf;
	int rc;
	/* zero chunks (issue 13): /dev/null needs no zeros at all */
	bool to_null = cli_is_dev_null(fd);

	if (len == 0)
		return 0;
	/* one window, populated and registered once: every piece lands in
	 * the same pages (over RDMA, pinned once instead of per piece); no
	 * larger than the region, and on huge pages where the kernel has
	 * them, so a small pull is not dominated by populating it */
	buf = ms_bigbuf_alloc(wlen, MS_BIGBUF_POPULATE, NULL);
	if (!buf) {
		cli_error(cmd, "cannot allocate a %zu-byte buffer: %s", wlen, strerror(errno));
		return CLI_EXIT_FAIL;
	}
	reg = ms_mem_register(c, buf, wlen);   /* NULL: each pull registers it */
	while (done < len) {
		size_t n = (size_t)MS_MIN(len - done, (uint64_t)wlen);
		struct ms_xfer_stats st = { 0 };

		if (p)
			progress_set_base(p, done);
		/* the fresh window is zeros; a reused one holds the last piece */
		xo.dst_zeroed = done == 0 || to_null;
		rc = ms_pull(r, off + done, buf, n, &xo, &st);
		if (rc < 0) {
			if (p)
				progress_end(p);
			cli_lib_error(c, cmd, "pull failed", rc);
			goto fail;
		}
		add_stats(sum, &st);
		rc = cli_write_all(fd, buf, n);
		if (rc < 0) {
			if (p)
				progress_end(p);
			if (rc == -EPIPE)   /* the reader is gone: quietly, like cat */
				cli_die_sigpipe();
			cli_error_errno(cmd, rc, "write to %s: %s", fdname, strerror(-rc));
			goto fail;
		}
		done += n;
		if (p)
			progress_update(p, done);
	}
	ms_mem_unregister(reg);
	ms_bigbuf_free(buf, wlen);
	return 0;
fail:
	ms_mem_unregister(reg);
	ms_bigbuf_free(buf, wlen);
	return CLI_EXIT_FAIL;
}

int cli_json_xfer(const char *command, const char *region, const char *transport,
		  const struct ms_xfer_stats *st, double seconds, uint64_t generation)
{
	struct jsonw w;
	int rc;

	jw_init(&w, stdout);
	jw_obj_begin(&w);
	jw_kv_str(&w, "command", command);
	jw_kv_str(&w, "region", region);
	jw_kv_str(&w, "transport", transport);
	jw_kv_uint(&w, "bytes", st->bytes);
	jw_kv_uint(&w, "chunks_total", st->chunks_total);
	jw_kv_uint(&w, "chunks_moved", st->chunks_moved);
	jw_kv_uint(&w, "chunks_retried", st->chunks_retried);
	jw_kv_double(&w, "seconds", seconds);
	jw_kv_double(&w, "bytes_per_second", (double)st->bytes / seconds);
	jw_kv_uint(&w, "generation", generation);
	jw_obj_end(&w);
	rc = jw_finish(&w);
	if (rc < 0) {
		cli_error(command, "cannot write the JSON output: %s", strerror(-rc));
		return CLI_EXIT_FAIL;
	}
	return CLI_EXIT_OK;
}

/* The file a pull writes: FILE, or DIR/REGION when FILE is an existing
 * directory or ends in '/'.  malloc'ed into *out; 0 or CLI_EXIT_FAIL
 * (printed). */
static int target_path(const char *arg, const char *region, char **out)
{
	size_t n = strlen(arg);
	struct stat sb;
	bool slash = n > 0 && arg[n - 1] == '/';

	*out = NULL;
	if (slash || (stat(arg, &sb) == 0 && S_ISDIR(sb.st_mode))) {
		int e = stat(arg, &sb) < 0 ? errno : S_ISDIR(sb.st_mode) ? 0 : ENOTDIR;

		if (e) {
			cli_error("pull", "cannot write into '%s': %s", arg, strerror(e));
			return CLI_EXIT_FAIL;
		}
		if (asprintf(out, "%s%s%s", arg, slash ? "" : "/", region) < 0)
			*out = NULL;
	} else {
		*out = strdup(arg);
	}
	if (!*out) {
		cli_error("pull", "%s", strerror(ENOMEM));
		return CLI_EXIT_FAIL;
	}
	return 0;
}

/* Catch the common local mistakes (a directory, no permission) before
 * anything is fetched; the open() later stays the final word.  *direct:
 * the target exists and is not a regular file (a device, a pipe): it is
 * written in place, it cannot be replaced by a rename. */
static int check_target(const char *path, bool *direct)
{
	struct stat sb;
	bool exists;
	char *copy;
	int rc = 0;

	*direct = false;
	exists = stat(path, &sb) == 0;
	if (exists) {
		if (S_ISDIR(sb.st_mode)) {
			cli_error("pull", "'%s' is a directory", path);
			return CLI_EXIT_FAIL;
		}
		/* a file we could not write is not replaced either */
		if (access(path, W_OK) < 0) {
			cli_error("pull", "cannot write '%s': %s", path, strerror(errno));
			return CLI_EXIT_FAIL;
		}
		*direct = !S_ISREG(sb.st_mode);
		if (*direct)
			return 0;
	} else if (errno != ENOENT) {
		cli_error("pull", "cannot write '%s': %s", path, strerror(errno));
		return CLI_EXIT_FAIL;
	} else if (lstat(path, &sb) == 0) {
		cli_error("pull", "'%s' is a symbolic link to nothing", path);
		return CLI_EXIT_FAIL;
	}
	/* a new file, or a regular file replaced: the temporary file goes
	 * into the directory (of the file a symbolic link names) */
	copy = exists ? realpath(path, NULL) : strdup(path);
	if (!copy) {
		cli_error("pull", "cannot write '%s': %s", path, strerror(errno));
		return CLI_EXIT_FAIL;
	}
	if (access(dirname(copy), W_OK | X_OK) < 0) {
		if (exists)
			cli_error("pull", "cannot replace '%s': its directory: %s", path,
				  strerror(errno));
		else
			cli_error("pull", "cannot create '%s': %s", path, strerror(errno));
		rc = CLI_EXIT_FAIL;
	}
	free(copy);
	return rc;
}

/* Pull the whole region into the regular file behind fd through a shared
 * mapping.  0 or CLI_EXIT_FAIL (printed); *ns gets the transfer time. */
static int pull_mapped(ms_client *c, ms_region *r, const struct cli_opts *o, int fd,
		       const char *path, uint64_t size, struct ms_xfer_stats *st, uint64_t *ns)
{
	struct progress p;
	/* a new file's mapping reads as zeros: zero chunks stay holes */
	struct ms_xfer_opts xo = { .opts_size = sizeof(xo), .progress = progress_cb,
				   .progress_ud = &p, .no_verify = o->no_verify, .consistent = true,
				   .dst_zeroed = true };
	struct statvfs vs;
	uint64_t t0;
	void *map;
	int rc;

	if (ftruncate(fd, (off_t)size) < 0) {
		cli_error("pull", "cannot resize '%s' to %llu bytes: %s", path,
			  (unsigned long long)size, strerror(errno));
		return CLI_EXIT_FAIL;
	}
	/* A full disk must be an error here, not a SIGBUS when the pull
	 * stores into the mapping: with room for all of it on the filesystem
	 * the file stays sparse (zero chunks are never written, issue 13),
	 * else the blocks are reserved now, which fails cleanly. */
	if (!(fstatvfs(fd, &vs) == 0 && (uint64_t)vs.f_bavail * vs.f_frsize / 2 > size) &&
	    fallocate(fd, 0, 0, (off_t)size) < 0 && errno != EOPNOTSUPP && errno != ENOSYS) {
		cli_error("pull", "cannot allocate %llu bytes for '%s': %s",
			  (unsigned long long)size, path, strerror(errno));
		return CLI_EXIT_FAIL;
	}
	map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED) {
		cli_error("pull", "cannot map '%s': %s", path, strerror(errno));
		return CLI_EXIT_FAIL;
	}
	progress_init(&p, "pull", size, !o->quiet && !o->json);
	t0 = ms_now_ns();
	rc = ms_pull(r, 0, map, size, &xo, st);
	*ns = ms_now_ns() - t0;
	progress_end(&p);
	if (munmap(map, size) < 0 && rc == 0)
		rc = -errno;
	if (rc < 0) {
		cli_lib_error(c, "pull", "pull failed", rc);
		return CLI_EXIT_FAIL;
	}
	return 0;
}

/* The summary line or the JSON object of a completed pull. */
static int pull_report(const struct cli_opts *o, ms_client *c, ms_region *r,
		       const struct ms_xfer_stats *st, uint64_t ns)
{
	struct ms_region_info ri;
	char sz[32], rate[32];
	double secs = cli_seconds(ns);

	ms_region_info(r, &ri);
	if (o->json)
		return cli_json_xfer("pull", ri.name, ms_client_transport(c), st, secs,
				     ri.generation);
	if (o->quiet)
		return CLI_EXIT_OK;
	fprintf(stderr, "pulled %s: %s in %.2f s (%s) over %s, %llu chunks %s", ri.name,
		ms_format_size(ri.size, sz, sizeof(sz)), secs,
		ms_format_rate((double)st->bytes / secs, rate, sizeof(rate)),
		ms_client_transport(c), (unsigned long long)st->chunks_total,
		o->no_verify ? "(not verified)" : "verified");
	if (st->chunks_retried)
		fprintf(stderr, ", %llu re-read after concurrent commits",
			(unsigned long long)st->chunks_retried);
	fputc('\n', stderr);
	return CLI_EXIT_OK;
}

/* Stream the region to fd (stdout, a device, a pipe).  0 or CLI_EXIT_FAIL
 * (printed). */
static int pull_stream(const struct cli_opts *o, ms_client *c, ms_region *r, uint64_t size,
		       int fd, const char *name, struct ms_xfer_stats *st, uint64_t *ns)
{
	struct progress p;
	uint64_t t0 = ms_now_ns();

	progress_init(&p, "pull", size, !o->quiet && !o->json &&
		      !(fd == STDOUT_FILENO && isatty(STDOUT_FILENO)));
	if (cli_pull_to_fd(c, r, "pull", 0, size, o->no_verify, fd, name, &p, st))
		return CLI_EXIT_FAIL;
	progress_end(&p);
	*ns = ms_now_ns() - t0;
	return 0;
}

/* A regular file, new or replaced whole (replace.h): FILE keeps its old
 * content unless the pull completed.  0 or CLI_EXIT_FAIL (printed). */
static int pull_replace(const struct cli_opts *o, ms_client *c, ms_region *r, uint64_t size,
			const char *path, struct ms_xfer_stats *st, uint64_t *ns)
{
	struct replace rp;
	const char *what;
	int ret;

	ret = replace_begin(&rp, path, "pull", &what);
	if (ret) {
		cli_error("pull", "cannot %s '%s': %s", what, path, strerror(-ret));
		return CLI_EXIT_FAIL;
	}
	if (size > 0 && pull_mapped(c, r, o, rp.fd, path, size, st, ns)) {
		replace_abort(&rp);
		return CLI_EXIT_FAIL;
	}
	ret = replace_commit(&rp, &what);
	if (ret) {
		cli_error("pull", "cannot %s '%s': %s", what, path, strerror(-ret));
		replace_abort(&rp);
		return CLI_EXIT_FAIL;
	}
	return 0;
}

/* A device or a pipe named as FILE: written in place, as it cannot be
 * replaced.  0 or CLI_EXIT_FAIL (printed). */
static int pull_direct(const struct cli_opts *o, ms_client *c, ms_region *r, uint64_t size,
		       const char *path, struct ms_xfer_stats *st, uint64_t *ns)
{
	int fd = open(path, O_RDWR | O_CLOEXEC), rc;   /* as before: a FIFO opens at once */

	if (fd < 0) {
		cli_error("pull", "cannot open '%s': %s", path, strerror(errno));
		return CLI_EXIT_FAIL;
	}
	rc = pull_stream(o, c, r, size, fd, path, st, ns);
	if (close(fd) < 0 && rc == 0) {
		cli_error("pull", "cannot write '%s': %s", path, strerror(errno));
		rc = CLI_EXIT_FAIL;
	}
	return rc;
}

int cmd_pull(const struct cli_opts *o, int argc, char **argv)
{
	struct ms_xfer_stats st = { 0 };
	struct ms_region_info ri;
	struct ms_url u;
	char *path = NULL;
	bool to_stdout, direct = false;
	ms_client *c = NULL;
	ms_region *r = NULL;
	uint64_t ns = 0;
	int rc;

	if (argc != 2)
		return cli_usage_error("pull", "expected URL and FILE, DIR/ or - (stdout)");
	rc = cli_parse_url("pull", argv[0], false, true, &u);
	if (rc)
		return rc;
	if (!argv[1][0])
		return cli_usage_error("pull", "FILE is empty");
	to_stdout = strcmp(argv[1], "-") == 0;
	if (to_stdout && o->json)
		return cli_usage_error("pull", "--json needs a FILE: stdout carries the region");
	if (to_stdout && isatty(STDOUT_FILENO))
		return cli_usage_error("pull", "refusing to write binary data to a terminal; "
				       "redirect stdout or give a file");
	if (!to_stdout && (target_path(argv[1], u.region, &path) || check_target(path, &direct))) {
		free(path);
		return CLI_EXIT_FAIL;
	}

	rc = CLI_EXIT_FAIL;
	c = cli_connect(o, "pull", &u);
	if (!c)
		goto out;
	r = cli_open(c, "pull", &u, MS_MODE_READ);
	if (!r)
		goto out;
	ms_region_info(r, &ri);

	if (to_stdout)
		rc = pull_stream(o, c, r, ri.size, STDOUT_FILENO, "stdout", &st, &ns);
	else if (direct)
		rc = pull_direct(o, c, r, ri.size, path, &st, &ns);
	else
		rc = pull_replace(o, c, r, ri.size, path, &st, &ns);
	if (rc == 0)
		rc = pull_report(o, c, r, &st, ns);
out:
	free(path);
	if (r)
		ms_close(r);
	if (c)
		ms_disconnect(c);
	return rc;
}
