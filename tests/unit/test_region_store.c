/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_region_store.c - a file region's persisted metadata and redo
 * journal (region_store.h): generations and hashes survive a reopen, a
 * journaled commit that was never applied is replayed, a journal cut at
 * any byte is never replayed, a file changed behind memsync's back gets a
 * new generation, the epoch persists, one file backs one region, and full
 * filesystems (a small tmpfs and a small loop-mounted ext4, in a private
 * mount namespace) fail with "no space left on device" and leave nothing.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "region.h"
#include "region_store.h"
#include "tap.h"
#include "fixture.h"
#include "region_fixture.h"
#include "util.h"

#define RSIZE (64u << 10)
#define CS (4u << 10)

static char tmpdir[256];

static const char *tpath(const char *dir, const char *name, const char *suffix)
{
	static char buf[4][600];
	static int k;

	k = (k + 1) % 4;
	snprintf(buf[k], sizeof(buf[k]), "%s/%s%s", dir, name, suffix);
	return buf[k];
}

static int create(const char *path, uint64_t size, uint32_t cs, struct ms_rregion **r,
		  char *err, size_t errlen)
{
	struct ms_export_opts o = { .name = "st", .size = size, .chunk_size = cs,
				    .backing = MS_BACKING_FILE, .path = path,
				    .no_mlock = true };

	return ms_region_create(&o, r, err, errlen);
}

static struct ms_rregion *open_ok(const char *path, uint64_t size, uint32_t cs)
{
	struct ms_rregion *r = NULL;
	char err[512] = "";

	if (create(path, size, cs, &r, err, sizeof(err)))
		tap_bail("create %s: %s", path, err);
	return r;
}

static off_t fsize(const char *path)
{
	struct stat sb;

	return stat(path, &sb) == 0 ? sb.st_size : -1;
}

/* A writer's commit the way the server does it: journal, apply into
 * memory (unless crash_before_apply), stamp, msync, persist (unless
 * crash_before_applied).  Returns the journal's result. */
static int commit(struct ms_rregion *r, const struct ms_commit_ent *e, uint32_t n,
		  const void *const *src, bool apply, bool persist)
{
	uint64_t gen = ms_region_commit_begin(r);
	int rc = ms_rstore_journal(r->store, gen, 3, e, n, src);

	if (rc || !apply) {
		ms_region_commit_abort(r);
		return rc;
	}
	for (uint32_t i = 0; i < n; i++) {
		memcpy((char *)r->mem + e[i].off, src[i], e[i].len);
		ms_region_commit_piece(r, e[i].off, e[i].len, gen, false);
	}
	if (ms_region_msync(r, 0, r->size))
		tap_bail("msync");
	if (persist && ms_rstore_applied(r->store, r, gen, e, n))
		tap_bail("applied: %s", ms_rstore_errmsg(r->store));
	ms_region_commit_end(r, gen);
	return 0;
}

static bool file_bytes(const char *path, void *buf, size_t len)
{
	int fd = open(path, O_RDONLY);
	bool okay = fd >= 0 && pread(fd, buf, len, 0) == (ssize_t)len;

	if (fd >= 0)
		close(fd);
	return okay;
}

static void test_fresh_and_persist(void)
{
	const char *img = tpath(tmpdir, "p.img", "");
	uint8_t a[6000], b[100];
	struct ms_commit_ent e[2] = { { .off = 1000, .len = sizeof(a) },
				      { .off = 10 * CS, .len = sizeof(b) } };
	const void *src[2] = { a, b };
	struct ms_rregion *r = open_ok(img, RSIZE, CS);
	uint8_t want[RSIZE];

	ok(r->start.fresh && !r->start.replayed && !r->start.changed && !r->start.discarded,
	   "a new file: a fresh store, nothing replayed or changed");
	is_int(fsize(tpath(tmpdir, "p.img", ".msmeta")), MS_RSTORE_HDR + 16 * 32,
	       "msmeta is created: header and 16 entries");
	is_int(fsize(tpath(tmpdir, "p.img", ".msjournal")), 0, "an empty journal is created");
	is_int(r->generation, 1, "generation 1");

	fill(a, sizeof(a), 1);
	fill(b, sizeof(b), 2);
	is_int(commit(r, e, 2, src, true, true), 0, "a commit journaled and applied");
	is_int(r->generation, 2, "  at generation 2");
	is_int(fsize(tpath(tmpdir, "p.img", ".msjournal")), 0, "  and the journal retired");
	memcpy(want, r->mem, RSIZE);
	ms_region_destroy(r);

	r = open_ok(img, RSIZE, CS);
	ok(!r->start.fresh && !r->start.replayed && !r->start.changed && !r->start.discarded,
	   "reopened: the store is loaded, nothing to replay, nothing changed");
	is_int(r->generation, 2, "the region generation survives");
	ok(gen_of(r, 0) == 2 && gen_of(r, 1) == 2 && gen_of(r, 2) == 1 && gen_of(r, 9) == 1 &&
		   gen_of(r, 10) == 2 && gen_of(r, 15) == 1,
	   "every chunk keeps its generation (0, 1, 10 at 2; the others at 1)");
	ok(meta_matches_memory(r) && memcmp(r->mem, want, RSIZE) == 0,
	   "hashes and bytes as committed");
	ms_region_destroy(r);
}

static void test_replay(void)
{
	const char *img = tpath(tmpdir, "p.img", "");
	struct ms_rregion *r = open_ok(img, RSIZE, CS);
	uint8_t a[3 * CS], want[RSIZE];
	struct ms_commit_ent e = { .off = 5 * CS + 7, .len = sizeof(a) };
	const void *src[1] = { a };

	fill(a, sizeof(a), 3);
	memcpy(want, r->mem, RSIZE);
	memcpy(want + e.off, a, sizeof(a));
	/* crash after the journal, before memory was touched */
	is_int(commit(r, &e, 1, src, false, false), 0, "journal a commit, crash before applying");
	ok(fsize(tpath(tmpdir, "p.img", ".msjournal")) > (off_t)sizeof(a),
	   "  the record is in the journal");
	ms_region_destroy(r);
	r = open_ok(img, RSIZE, CS);
	is_int(r->start.replayed, 1, "reopened: the record is replayed");
	is_int(r->start.replay_gen, 3, "  at its generation");
	ok(memcmp(r->mem, want, RSIZE) == 0 && meta_matches_memory(r), "  bytes and hashes");
	ok(r->generation == 3 && gen_of(r, 5) == 3 && gen_of(r, 8) == 3 && gen_of(r, 4) == 1 &&
		   gen_of(r, 9) == 1 && gen_of(r, 0) == 2,
	   "  its chunks (5..8) at generation 3, the others as before");
	is_int(r->start.changed, 0, "  no chunk counted as changed outside");
	is_int(fsize(tpath(tmpdir, "p.img", ".msjournal")), 0, "  the journal is retired");

	/* crash half way through applying: a torn chunk is repaired */
	fill(a, sizeof(a), 4);
	memcpy(want + e.off, a, sizeof(a));
	is_int(commit(r, &e, 1, src, false, false), 0, "journal another commit");
	memcpy((char *)r->mem + e.off, a, CS / 2); /* torn: a part of the bytes */
	ms_region_destroy(r);
	r = open_ok(img, RSIZE, CS);
	is_int(r->start.replayed, 1, "a torn apply: replayed at start");
	ok(memcmp(r->mem, want, RSIZE) == 0 && meta_matches_memory(r),
	   "  the region holds the whole commit");
	ok(r->generation == 4 && gen_of(r, 6) == 4, "  at generation 4");
	ms_region_destroy(r);

	/* replay is idempotent: a crash after msmeta, before the journal is
	 * truncated, replays the same record again with the same result */
	r = open_ok(img, RSIZE, CS);
	is_int(commit(r, &e, 1, src, true, false), 0, "a commit applied, msmeta not updated");
	ms_region_destroy(r);
	r = open_ok(img, RSIZE, CS);
	ok(r->start.replayed == 1 && r->generation == 5 && memcmp(r->mem, want, RSIZE) == 0 &&
		   meta_matches_memory(r) && r->start.changed == 0,
	   "replaying over bytes already applied: the same region, generation 5");
	ms_region_destroy(r);

	/* a commit journaled and then refused (no applied) at generation 6;
	 * the next commit, local and not journaled, gets generation 6 too:
	 * the old record must never be replayed over it */
	r = open_ok(img, RSIZE, CS);
	fill(a, sizeof(a), 8);
	is_int(commit(r, &e, 1, src, false, false), 0, "a commit journaled, then refused");
	memset((char *)r->mem + 5 * CS, 0x11, CS);
	is_int(ms_region_commit_range(r, 5 * CS, CS), 0, "a local commit of chunk 5 follows");
	ok(r->generation == 6 && fsize(tpath(tmpdir, "p.img", ".msjournal")) == 0,
	   "  at the same generation (6): the refused commit's record is gone");
	memcpy(want, r->mem, RSIZE);
	ms_region_destroy(r);
	r = open_ok(img, RSIZE, CS);
	ok(!r->start.replayed && !r->start.changed && r->generation == 6 &&
		   memcmp(r->mem, want, RSIZE) == 0 && gen_of(r, 5) == 6,
	   "reopened: the local commit stands, nothing replayed");
	ms_region_destroy(r);
}

/* The journal cut at every byte of a record (and one byte flipped) is
 * never replayed; region, generations and msmeta stay as they were. */
static void test_torn_journal(void)
{
	const char *img = tpath(tmpdir, "t.img", "");
	const char *jpath = tpath(tmpdir, "t.img", ".msjournal");
	const char *mpath = tpath(tmpdir, "t.img", ".msmeta");
	uint8_t a[300], mem0[RSIZE], meta0[MS_RSTORE_HDR + 16 * 32], meta1[sizeof(meta0)];
	struct ms_commit_ent e = { .off = 2 * CS - 50, .len = sizeof(a) };
	const void *src[1] = { a };
	struct ms_rregion *r = open_ok(img, RSIZE, CS);
	uint8_t *rec;
	off_t len;
	int bad = 0, fd;

	fill(a, sizeof(a), 5);
	memcpy(mem0, r->mem, RSIZE);
	if (commit(r, &e, 1, src, false, false))
		tap_bail("journal: %s", ms_rstore_errmsg(r->store));
	ms_region_destroy(r);
	len = fsize(jpath);
	is_int(len, MS_RSTORE_HDR + 32 + sizeof(a) + 16, "a record: header, entry, bytes, sum");
	rec = malloc((size_t)len);
	if (!rec || !file_bytes(jpath, rec, (size_t)len) || !file_bytes(mpath, meta0, sizeof(meta0)))
		tap_bail("read the record");
	for (off_t cut = 0; cut <= len; cut++) {
		bool flip = cut == len;

		fd = open(jpath, O_WRONLY | O_TRUNC);
		if (flip)
			rec[MS_RSTORE_HDR + 32 + 100] ^= 1;
		if (fd < 0 || write(fd, rec, (size_t)(flip ? len : cut)) != (flip ? len : cut))
			tap_bail("write %s", jpath);
		close(fd);
		r = open_ok(img, RSIZE, CS);
		if (r->start.replayed || r->start.discarded != (cut > 0) || r->generation != 1 ||
		    memcmp(r->mem, mem0, RSIZE) != 0 || !file_bytes(mpath, meta1, sizeof(meta1)) ||
		    memcmp(meta0, meta1, sizeof(meta0)) != 0 || fsize(jpath) != 0) {
			diag("cut at %lld%s: replayed %llu discarded %d gen %llu", (long long)cut,
			     flip ? " (flipped byte)" : "", (unsigned long long)r->start.replayed,
			     r->start.discarded, (unsigned long long)r->generation);
			bad++;
		}
		ms_region_destroy(r);
	}
	is_int(bad, 0, "the record cut at each of its %lld bytes, or with a byte flipped: never "
		       "replayed, region and msmeta unchanged, the record discarded", (long long)len);
	free(rec);
}

static void test_outside_change(void)
{
	const char *img = tpath(tmpdir, "p.img", "");
	struct ms_rregion *r;
	uint8_t junk[10];
	int fd = open(img, O_WRONLY);

	fill(junk, sizeof(junk), 77);
	if (fd < 0 || pwrite(fd, junk, sizeof(junk), 3 * CS + 5) != (ssize_t)sizeof(junk))
		tap_bail("modify %s", img);
	close(fd);
	r = open_ok(img, RSIZE, CS);
	ok(r->start.changed == 1 && r->start.first_changed == 3,
	   "a chunk modified outside memsync is counted (chunk 3)");
	ok(gen_of(r, 3) == 7 && r->generation == 7, "  it gets a new generation (7)");
	ok(gen_of(r, 5) == 6 && gen_of(r, 6) == 5 && gen_of(r, 0) == 2 && gen_of(r, 4) == 1 &&
		   meta_matches_memory(r),
	   "  the others keep theirs");
	ms_region_destroy(r);
	r = open_ok(img, RSIZE, CS);
	ok(r->start.changed == 0 && r->generation == 7 && gen_of(r, 3) == 7,
	   "the next start finds nothing changed");
	ms_region_destroy(r);
}

static void test_epoch_and_geometry(void)
{
	const char *img = tpath(tmpdir, "p.img", "");
	struct ms_rregion *r = open_ok(img, RSIZE, CS), *r2 = NULL;
	char err[512] = "";

	is_int(ms_rstore_epoch(r->store), 0, "a region that never granted a lease: epoch 0");
	is_int(ms_rstore_set_epoch(r->store, 41), 0, "persist epoch 41");
	is_int(ms_rstore_set_epoch(r->store, 42), 0, "persist epoch 42");

	/* one file, one region: a second one (or a second process) is refused */
	is_int(create(img, RSIZE, CS, &r2, err, sizeof(err)), -EBUSY,
	       "a second region on the same file: -EBUSY");
	ok(strstr(err, "already backs another region") != NULL, "  says why: %s", err);
	ok(r->generation == 7 && meta_matches_memory(r), "  the first region is untouched");
	ms_region_destroy(r);

	r = open_ok(img, RSIZE, CS);
	is_int(ms_rstore_epoch(r->store), 42, "the epoch survives a reopen");
	ms_region_destroy(r);
	r = open_ok(img, RSIZE, 2 * CS);
	ok(r->start.fresh && ms_rstore_epoch(r->store) == 42,
	   "another chunk size: the table starts again, the epoch is kept");
	ok(r->generation == 8 && gen_of(r, 0) == 8 && gen_of(r, 7) == 8 && meta_matches_memory(r),
	   "  every chunk one generation past the old table (8)");
	ms_region_destroy(r);
	is_int(fsize(tpath(tmpdir, "p.img", ".msmeta")), MS_RSTORE_HDR + 8 * 32,
	       "  msmeta rewritten for 8 chunks");
}

/* ------------------------------------------------------- full disks */

static bool dir_empty(const char *dir)
{
	char cmd[700];

	snprintf(cmd, sizeof(cmd), "test -z \"$(ls -A '%s')\"", dir);
	return system(cmd) == 0;
}

/* Fill the filesystem of dir until a write fails. */
static void fill_fs(const char *dir)
{
	static char block[64 << 10];
	int fd = open(tpath(dir, "filler", ""), O_WRONLY | O_CREAT | O_TRUNC, 0644);

	if (fd < 0)
		tap_bail("create filler: %s", strerror(errno));
	while (write(fd, block, sizeof(block)) > 0)
		;
	while (write(fd, block, 512) > 0)
		;
	close(fd);
}

static void full_disk_checks(const char *what, const char *dir, uint64_t big)
{
	const char *img = tpath(dir, "r.img", "");
	struct ms_rregion *r = NULL;
	char err[512] = "";
	uint8_t *a;
	int rc;

	rc = create(img, big, 64 << 10, &r, err, sizeof(err));
	is_int(rc, -ENOSPC, "%s: a region larger than the filesystem: -ENOSPC", what);
	ok(strstr(err, "no space left on device") && strstr(err, img),
	   "  the message says so and names the file: %s", err);
	ok(dir_empty(dir), "  no file is left behind");

	r = open_ok(img, 1 << 20, 64 << 10);
	fill_fs(dir);
	a = malloc(1 << 20);
	if (!a)
		tap_bail("malloc");
	fill(a, 1 << 20, 9);
	{
		struct ms_commit_ent e = { .off = 0, .len = 1 << 20 };
		const void *src[1] = { a };
		uint8_t before[64 << 10];

		memcpy(before, r->mem, sizeof(before));
		rc = commit(r, &e, 1, src, true, true);
		is_int(rc, -ENOSPC, "%s: a journal write into a full filesystem: -ENOSPC", what);
		ok(strstr(ms_rstore_errmsg(r->store), "no space left on device") &&
			   strstr(ms_rstore_errmsg(r->store), ".msjournal"),
		   "  the message names the journal: %s", ms_rstore_errmsg(r->store));
		ok(r->generation == 1 && memcmp(before, r->mem, sizeof(before)) == 0 &&
			   meta_matches_memory(r),
		   "  the region is unchanged");
		is_int(fsize(tpath(dir, "r.img", ".msjournal")), 0, "  the journal is empty");
		unlink(tpath(dir, "filler", ""));
		is_int(commit(r, &e, 1, src, true, true), 0, "%s: with space again, it commits",
		       what);
	}
	free(a);
	ms_region_destroy(r);
}

/* In a child with its own mount namespace (nothing is visible outside it
 * and the kernel unmounts everything when it exits).  Returns a reason
 * to skip, or NULL after running the checks. */
static const char *full_disks_child(void)
{
	const char *t = tpath(tmpdir, "tmpfs", ""), *x = tpath(tmpdir, "ext4", "");
	char tdir[600], xdir[600], img[600], cmd[4000];

	snprintf(tdir, sizeof(tdir), "%s", t);
	snprintf(xdir, sizeof(xdir), "%s", x);
	snprintf(img, sizeof(img), "%s/ext4.img", tmpdir);
	if (geteuid() != 0)
		return "not root: cannot mount a small filesystem";
	if (unshare(CLONE_NEWNS) != 0)
		return "unshare(CLONE_NEWNS) failed";
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
		return "cannot make / private in the new mount namespace";
	if (mkdir(tdir, 0755) != 0 || mount("tmpfs", tdir, "tmpfs", 0, "size=8m") != 0)
		return "cannot mount a tmpfs";
	full_disk_checks("tmpfs of 8 MiB", tdir, 16 << 20);
	umount(tdir);
	rmdir(tdir);

	snprintf(cmd, sizeof(cmd),
		 "truncate -s 16M '%s' && mkfs.ext4 -q -F '%s' >/dev/null 2>&1 && "
		 "mkdir '%s' && mount -o loop '%s' '%s' 2>/dev/null && rmdir '%s/lost+found'",
		 img, img, xdir, img, xdir, xdir);
	if (system(cmd) != 0) {
		unlink(img);
		rmdir(xdir);
		return "cannot make and loop-mount an ext4 image (mkfs.ext4, loop devices)";
	}
	full_disk_checks("ext4 of 16 MiB", xdir, 32 << 20);
	umount(xdir);
	rmdir(xdir);
	unlink(img);
	return NULL;
}

static void test_full_disks(void)
{
	int p[2], status, counts[2] = { 0, 0 };
	char why[200] = "";
	pid_t pid;

	if (pipe(p))
		tap_bail("pipe");
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		tap_bail("fork");
	if (pid == 0) {
		const char *skip = full_disks_child();

		if (skip)
			tap_skip("full disks: %s", skip);
		fflush(stdout);
		counts[0] = tap_n;
		counts[1] = tap_failed;
		if (write(p[1], counts, sizeof(counts)) != sizeof(counts))
			_exit(3);
		_exit(0);
	}
	close(p[1]);
	if (read(p[0], counts, sizeof(counts)) != sizeof(counts))
		snprintf(why, sizeof(why), "no report");
	close(p[0]);
	waitpid(pid, &status, 0);
	if (why[0] || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		ok(0, "full disk child ran (%s, status %d)", why, status);
		return;
	}
	tap_n = counts[0];
	tap_failed = counts[1];
}

int main(void)
{
	const char *t = getenv("TMPDIR");
	int fds;

	snprintf(tmpdir, sizeof(tmpdir), "%s/ms-rstore.XXXXXX", t && *t ? t : "/tmp");
	if (!mkdtemp(tmpdir))
		tap_bail("mkdtemp %s: %s", tmpdir, strerror(errno));
	fds = fx_count_fds();

	test_fresh_and_persist();
	test_replay();
	test_torn_journal();
	test_outside_change();
	test_epoch_and_geometry();
	test_full_disks();

	is_int(fx_count_fds(), fds, "no descriptor leaked");
	{
		char cmd[400];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
		if (system(cmd) != 0)
			diag("could not remove %s", tmpdir);
	}
	return tap_done();
}
