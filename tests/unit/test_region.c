/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_region.c - server-side regions: every backing, the metadata table,
 * commits and generations, verification, the short last chunk, option
 * checking, pinning failures and file persistence.  Commits built from
 * leaves and a writer's commit (ms_region_commit) are in test_commit.c.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "region.h"
#include "tap.h"
#include "fixture.h"
#include "region_fixture.h"
#include "util.h"

static char tmpdir[256];
static uint64_t pg;

static const char *tmp_path(const char *name)
{
	static char buf[512];

	snprintf(buf, sizeof(buf), "%s/%s", tmpdir, name);
	return buf;
}

/* Do the region's bytes [off, off+len) hash to h? */
static int verify(struct ms_rregion *r, uint64_t off, uint64_t len, const uint8_t h[MS_HASH_LEN])
{
	if (off > r->size)
		return ms_region_verify_bytes(r, off, len, r->mem, h, NULL, NULL);
	return ms_region_verify_bytes(r, off, len, (const char *)r->mem + off, h, NULL, NULL);
}

static uint64_t r_nchunks_of(uint64_t size)
{
	return ms_div_round_up(size, MS_CHUNK_DEFAULT);
}

static bool all_gens(const struct ms_rregion *r, uint64_t g)
{
	for (uint64_t i = 0; i < r->nchunks; i++)
		if (gen_of(r, i) != g)
			return false;
	return true;
}

/* Properties every freshly created region has. */
static void check_fresh(const struct ms_rregion *r, const char *what, uint64_t size,
			uint32_t cs, bool pinned)
{
	ok(r->size == size && r->chunk_size == cs && r->nchunks == (size + cs - 1) / cs,
	   "%s: size %llu, chunk %u, nchunks %llu", what, (unsigned long long)r->size,
	   r->chunk_size, (unsigned long long)r->nchunks);
	ok(r->mem && (uintptr_t)r->mem % pg == 0, "%s: memory is page aligned", what);
	ok(r->meta && (uintptr_t)r->meta % pg == 0 && r->meta_len % pg == 0 &&
		   r->meta_len >= r->nchunks * sizeof(struct ms_meta_entry),
	   "%s: metadata is its own page-aligned mapping", what);
	ok(r->generation == 1 && all_gens(r, 1), "%s: region and chunks at generation 1",
	   what);
	ok(meta_matches_memory(r), "%s: every chunk hashed at creation", what);
	is_int(r->locked, pinned, "%s: pinned as asked", what);
}

static void test_backings(void)
{
	struct ms_export_opts o = { .name = "anon0", .size = 2 * MIB };
	struct ms_rregion *r = NULL;
	char err[256] = "";
	void *user;
	int rc;

	rc = ms_region_create(&o, &r, err, sizeof(err));
	is_int(rc, 0, "anon region created");
	if (rc)
		tap_bail("%s", err);
	check_fresh(r, "anon", 2 * MIB, MS_CHUNK_DEFAULT, true);
	ok(r->fd == -1 && r->path == NULL && r->owns_mem && r->backing == MS_BACKING_ANON,
	   "anon: no fd, no path, owns its memory");
	is_str(r->name, "anon0", "anon: name kept");
	ms_region_destroy(r);

	o = (struct ms_export_opts){ .name = "memfd0", .size = 2 * MIB, .chunk_size = 4096,
				     .backing = MS_BACKING_MEMFD };
	rc = ms_region_create(&o, &r, err, sizeof(err));
	is_int(rc, 0, "memfd region created");
	if (rc)
		tap_bail("%s", err);
	check_fresh(r, "memfd", 2 * MIB, 4096, true);
	ok(r->fd >= 0 && (fcntl(r->fd, F_GETFD) & FD_CLOEXEC), "memfd: fd is close-on-exec");
	{
		/* the application maps the memfd too: its writes are the
		 * region's bytes, and a commit picks them up */
		uint8_t *app = mmap(NULL, r->size, PROT_READ | PROT_WRITE, MAP_SHARED, r->fd, 0);
		uint64_t g;

		ok(app != MAP_FAILED, "memfd: the app can map the fd");
		if (app != MAP_FAILED) {
			memset(app + 5 * 4096 + 10, 0xab, 100);
			ok(((uint8_t *)r->mem)[5 * 4096 + 10] == 0xab,
			   "memfd: app writes show in region memory");
			rc = ms_region_commit_range(r, 5 * 4096 + 10, 100);
			g = r->generation;
			ok(rc == 0 && g == 2 && gen_of(r, 5) == 2 && gen_of(r, 4) == 1 &&
				   gen_of(r, 6) == 1 && meta_matches_memory(r),
			   "memfd: commit of the app's change rehashes chunk 5 only");
			munmap(app, r->size);
		}
	}
	ms_region_destroy(r);

	o = (struct ms_export_opts){ .name = "nopin", .size = 1 * MIB, .no_mlock = true };
	rc = ms_region_create(&o, &r, err, sizeof(err));
	is_int(rc, 0, "unpinned anon region created");
	if (!rc) {
		check_fresh(r, "no_mlock", 1 * MIB, MS_CHUNK_DEFAULT, false);
		ms_region_destroy(r);
	}

	if (posix_memalign(&user, pg, 2 * MIB))
		tap_bail("posix_memalign");
	fill(user, 2 * MIB, 7);
	o = (struct ms_export_opts){ .name = "user0", .size = 2 * MIB, .chunk_size = 128 << 10,
				     .backing = MS_BACKING_USER, .user_mem = user };
	rc = ms_region_create(&o, &r, err, sizeof(err));
	is_int(rc, 0, "user region created");
	if (rc)
		tap_bail("%s", err);
	check_fresh(r, "user", 2 * MIB, 128 << 10, true);
	ok(r->mem == user && !r->owns_mem && r->fd == -1, "user: uses the caller's memory");
	ms_region_destroy(r);
	/* the caller's memory is still mapped, still ours, unchanged */
	ok(((uint8_t *)user)[12345] == (uint8_t)((12345 * 131 + 7) ^ (12345 >> 9)),
	   "user: memory intact after destroy");
	free(user);

	ms_region_destroy(NULL);    /* a no-op: a crash here fails the test */
}

/* size not a multiple of the chunk size: the last chunk is short */
static void test_short_last_chunk(void)
{
	static const enum ms_backing kinds[] = { MS_BACKING_ANON, MS_BACKING_MEMFD,
						 MS_BACKING_USER };
	const uint64_t size = 5 * pg;
	const uint32_t cs = 4 * (uint32_t)pg;
	uint8_t zero_full[MS_HASH_LEN], zero_tail[MS_HASH_LEN], h[MS_HASH_LEN];
	uint8_t *zeros = calloc(1, cs);

	if (!zeros)
		tap_bail("out of memory");
	ms_chunk_hash(zeros, cs, zero_full);
	ms_chunk_hash(zeros, pg, zero_tail);

	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		const char *bn = ms_backing_name(kinds[k]);
		struct ms_export_opts o = { .name = "short", .size = size, .chunk_size = cs,
					    .backing = kinds[k] };
		struct ms_rregion *r;
		char err[256];
		void *user = NULL;
		uint8_t *m;
		int rc;

		if (kinds[k] == MS_BACKING_USER) {
			if (posix_memalign(&user, pg, size))
				tap_bail("posix_memalign");
			memset(user, 0, size);
			o.user_mem = user;
		}
		rc = ms_region_create(&o, &r, err, sizeof(err));
		is_int(rc, 0, "%s: %llu bytes in %u-byte chunks", bn, (unsigned long long)size,
		       cs);
		if (rc) {
			diag("%s", err);
			free(user);
			continue;
		}
		is_int(r->nchunks, 2, "%s: two chunks, the last one page long", bn);
		ok(ms_region_whole_chunk(r, 0, cs) == 0 && ms_region_whole_chunk(r, cs, pg) == 1,
		   "%s: [0, cs) is chunk 0, the short [cs, cs + page) chunk 1", bn);
		ok(ms_region_whole_chunk(r, 0, cs - 1) < 0 && ms_region_whole_chunk(r, 1, cs) < 0 &&
			   ms_region_whole_chunk(r, cs, cs) < 0 &&
			   ms_region_whole_chunk(r, 2 * (uint64_t)cs, pg) < 0,
		   "%s: short, unaligned, overlong and out-of-range pieces are no whole chunk",
		   bn);
		ok(ms_hash_eq(r->meta[0].hash, zero_full) && ms_hash_eq(r->meta[1].hash, zero_tail),
		   "%s: zero hashes of a full and of a one-page chunk", bn);

		m = r->mem;
		m[size - 1] = 0x5a;
		ms_chunk_hash(m + size - 10, 10, h);
		is_int(verify(r, size - 10, 10, h), 0,
		       "%s: verify the last 10 bytes", bn);
		is_int(verify(r, size - 10, 11, h), -ERANGE,
		       "%s: verify one byte past the end is -ERANGE", bn);
		is_int(ms_region_commit_range(r, size - 1, 1), 0, "%s: commit the last byte", bn);
		ms_chunk_hash(m + cs, pg, h);
		ok(ms_hash_eq(r->meta[1].hash, h) && gen_of(r, 1) == 2 && gen_of(r, 0) == 1,
		   "%s: short chunk rehashed over its %llu bytes only", bn,
		   (unsigned long long)pg);
		is_int(ms_region_commit_range(r, size - 1, 2), -ERANGE,
		       "%s: commit past the end is -ERANGE", bn);
		ms_region_destroy(r);
		free(user);
	}
	free(zeros);
}

static void test_commit_and_verify(void)
{
	struct ms_export_opts o = { .name = "c", .size = 4 * MIB, .chunk_size = 64 << 10 };
	struct ms_rregion *r;
	uint8_t h[MS_HASH_LEN], old3[MS_HASH_LEN];
	char err[256];
	uint64_t g, cs = 64 << 10;
	uint8_t *m;
	bool others;

	if (ms_region_create(&o, &r, err, sizeof(err)))
		tap_bail("create: %s", err);
	m = r->mem;

	/* bytes written into chunks 3 and 4, as a writer's WRITE would */
	memcpy(old3, r->meta[3].hash, MS_HASH_LEN);
	fill(m + 3 * cs + 100, cs, 1);
	is_int(ms_region_commit_range(r, 3 * cs + 100, cs), 0, "commit a range over chunks 3-4");
	is_int(r->generation, 2, "region generation is 2");
	others = true;
	for (uint64_t i = 0; i < r->nchunks; i++)
		if (i != 3 && i != 4)
			others = others && gen_of(r, i) == 1;
	ok(gen_of(r, 3) == 2 && gen_of(r, 4) == 2 && others,
	   "only chunks 3 and 4 moved to generation 2");
	ok(!ms_hash_eq(old3, r->meta[3].hash) && meta_matches_memory(r),
	   "chunks 3 and 4 rehashed from memory");

	/* the explicit begin/chunks/end protocol, two batches in one commit */
	fill(m + 10 * cs, 2 * cs, 2);
	fill(m + 20 * cs, cs, 3);
	g = ms_region_commit_begin(r);
	is_int(g, 3, "commit_begin returns generation + 1");
	ms_region_commit_piece(r, 10 * cs, 2 * cs, g, NULL);
	ms_region_commit_piece(r, 20 * cs, cs, g, NULL);
	ms_region_commit_piece(r, r->size, 5, g, NULL);          /* outside: ignored */
	ms_region_commit_piece(r, r->size - cs, 5 * cs, g, NULL); /* too long: ignored */
	ms_region_commit_piece(r, r->size - cs, cs, g, NULL);
	ms_region_commit_end(r, g);
	is_int(r->generation, 3, "commit_end publishes generation 3");
	ok(gen_of(r, 10) == 3 && gen_of(r, 11) == 3 && gen_of(r, 20) == 3 &&
		   gen_of(r, r->nchunks - 1) == 3 && gen_of(r, 3) == 2 && gen_of(r, 12) == 1 &&
		   gen_of(r, 9) == 1,
	   "generations: touched chunks 3, earlier commit 2, the rest 1");
	ok(meta_matches_memory(r), "metadata matches memory after the batches");
	ok(r->meta[10].gen_le == htole64(3), "generation stored little-endian");
	is_int(pthread_mutex_trylock(&r->lock), 0, "commit_end released the lock");
	pthread_mutex_unlock(&r->lock);

	/* range errors change nothing */
	g = r->generation;
	is_int(ms_region_commit_range(r, 0, 0), -ERANGE, "commit of 0 bytes is -ERANGE");
	is_int(ms_region_commit_range(r, r->size, 1), -ERANGE, "commit at the end is -ERANGE");
	is_int(ms_region_commit_range(r, 1, UINT64_MAX), -ERANGE,
	       "commit whose end wraps is -ERANGE");
	is_int(ms_region_commit_range(r, UINT64_MAX, 2), -ERANGE,
	       "commit at offset 2^64-1 is -ERANGE");
	is_int(r->generation, g, "failed commits leave the generation alone");
	is_int(ms_region_commit_range(r, 0, r->size), 0, "commit the whole region");
	ok(all_gens(r, g + 1), "every chunk at the new generation");

	/* verify */
	ms_chunk_hash(m + 5000, 300000, h);
	is_int(verify(r, 5000, 300000, h), 0, "verify an unaligned range");
	m[5000 + 299999] ^= 1;
	is_int(verify(r, 5000, 300000, h), -EIO,
	       "a changed last byte fails verification");
	m[5000 + 299999] ^= 1;
	m[5000 + 300000] ^= 1;
	is_int(verify(r, 5000, 300000, h), 0,
	       "a changed byte just past the range does not");
	m[4999] ^= 1;
	is_int(verify(r, 5000, 300000, h), 0,
	       "nor one just before it");
	m[5000] ^= 0x80;
	is_int(verify(r, 5000, 300000, h), -EIO, "a changed first byte fails");
	is_int(verify(r, 0, 0, h), -ERANGE, "verify of 0 bytes is -ERANGE");
	is_int(verify(r, r->size - 1, 2, h), -ERANGE,
	       "verify past the end is -ERANGE");
	is_int(verify(r, 2, UINT64_MAX - 1, h), -ERANGE,
	       "verify whose end wraps is -ERANGE");
	is_int(ms_region_msync(r, 0, r->size), 0, "msync of a non-file region is 0");
	is_int(ms_region_msync(r, r->size, 1), -ERANGE, "msync outside is -ERANGE");
	ms_region_destroy(r);
}

static off_t file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? st.st_size : -1;
}

static bool file_equals(const char *path, const void *want, size_t len)
{
	uint8_t *buf = malloc(len);
	int fd = open(path, O_RDONLY);
	bool same = false;

	if (buf && fd >= 0 && read(fd, buf, len) == (ssize_t)len)
		same = memcmp(buf, want, len) == 0;
	if (fd >= 0)
		close(fd);
	free(buf);
	return same;
}

static void test_file(void)
{
	const uint64_t size = 2 * MIB;
	char path[512], err[256] = "";
	struct ms_export_opts o = { .name = "f", .size = size, .backing = MS_BACKING_FILE };
	struct ms_rregion *r;
	uint8_t *want = malloc(size);
	int rc, fd;

	if (!want)
		tap_bail("out of memory");
	snprintf(path, sizeof(path), "%s", tmp_path("region.img"));
	o.path = path;

	rc = ms_region_create(&o, &r, err, sizeof(err));
	is_int(rc, 0, "file region created on a new file");
	if (rc)
		tap_bail("%s", err);
	check_fresh(r, "file", size, MS_CHUNK_DEFAULT, true);
	is_int(file_size(path), size, "new file sized to the region");
	is_str(r->path, path, "path kept");
	ok(r->fd >= 0, "file: has an fd");

	/* write, commit, destroy: the bytes are in the file */
	fill(want, size, 9);
	memcpy(r->mem, want, size / 2);
	is_int(ms_region_commit_range(r, 0, size / 2), 0, "commit the first half");
	memcpy((uint8_t *)r->mem + size / 2, want + size / 2, size / 2);
	is_int(ms_region_msync(r, size / 2 + 1, 10), 0, "msync an unaligned small range");
	ms_region_destroy(r);
	ok(file_equals(path, want, size), "data written to the region is in the file");

	rc = ms_region_create(&o, &r, err, sizeof(err));
	is_int(rc, 0, "re-created from the same file");
	if (rc)
		tap_bail("%s", err);
	ok(memcmp(r->mem, want, size) == 0, "region memory holds the file's content");
	ok(meta_matches_memory(r), "and the file's content is hashed");
	/* the committed half keeps its generation (FILE.msmeta); the half
	 * written without a commit is new to the region: one generation on */
	ok(!r->start.fresh && gen_of(r, 0) == 2 && gen_of(r, r->nchunks / 2 - 1) == 2 &&
		   gen_of(r, r->nchunks / 2) == 3 && gen_of(r, r->nchunks - 1) == 3 &&
		   r->generation == 3,
	   "the committed half keeps generation 2, the uncommitted half gets 3");
	is_int(r->start.changed, r->nchunks / 2, "the uncommitted chunks are counted as changed");
	is_int(r->start.first_changed, r->nchunks / 2, "  from the first of them on");
	ms_region_destroy(r);
	is_int(file_size(tmp_path("region.img.msmeta")), 64 + r_nchunks_of(size) * 32,
	       "FILE.msmeta holds a header and an entry per chunk");
	is_int(file_size(tmp_path("region.img.msjournal")), 0, "FILE.msjournal is empty");

	/* a smaller file is extended, keeping its bytes */
	snprintf(path, sizeof(path), "%s", tmp_path("small.img"));
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, want, 3 * pg) != (ssize_t)(3 * pg))
		tap_bail("write %s", path);
	close(fd);
	rc = ms_region_create(&o, &r, err, sizeof(err));
	is_int(rc, 0, "file region on a smaller existing file");
	if (!rc) {
		uint8_t *z = calloc(1, size - 3 * pg);

		is_int(file_size(path), size, "file extended to the region size");
		ok(memcmp(r->mem, want, 3 * pg) == 0 && z &&
			   memcmp((uint8_t *)r->mem + 3 * pg, z, size - 3 * pg) == 0,
		   "old bytes kept, the extension reads as zeros");
		ok(meta_matches_memory(r), "extended file hashed");
		free(z);
		ms_region_destroy(r);
	}

	/* a larger file is refused and left alone */
	snprintf(path, sizeof(path), "%s", tmp_path("large.img"));
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || ftruncate(fd, (off_t)(size + pg)) != 0)
		tap_bail("create %s", path);
	close(fd);
	err[0] = '\0';
	r = (struct ms_rregion *)&o; /* sentinel */
	is_int(ms_region_create(&o, &r, err, sizeof(err)), -EINVAL, "a larger file is refused");
	ok(strstr(err, "larger than the region") != NULL, "with a message: %s", err);
	ok(r == (struct ms_rregion *)&o, "output untouched");
	is_int(file_size(path), size + pg, "the larger file is not truncated");

	/* not a regular file; a missing directory */
	o.path = tmpdir;
	is_int(ms_region_create(&o, &r, err, sizeof(err)), -EISDIR,
	       "a directory is refused by open: -EISDIR");
	o.path = "/dev/null";
	is_int(ms_region_create(&o, &r, err, sizeof(err)), -EINVAL,
	       "a character device is refused: -EINVAL");
	ok(strstr(err, "not a regular file") != NULL, "with a message: %s", err);
	snprintf(path, sizeof(path), "%s", tmp_path("nodir/x.img"));
	o.path = path;
	is_int(ms_region_create(&o, &r, err, sizeof(err)), -ENOENT,
	       "a path in a missing directory gives -ENOENT");
	ok(strstr(err, path) != NULL, "the message names the path: %s", err);
	free(want);
}

static void test_invalid(void)
{
	struct ms_export_opts base = { .name = "ok", .size = 1 * MIB };
	struct {
		const char *what;
		struct ms_export_opts o;
	} cases[32];
	int n = 0;
	char n64[65];
	uint8_t *mem;
	int fds = fx_count_fds();

	memset(n64, 'a', 64);
	n64[64] = '\0';
	if (posix_memalign((void **)&mem, pg, 2 * MIB))
		tap_bail("posix_memalign");

#define CASE(w, ...)                                                              \
	do {                                                                      \
		cases[n].what = (w);                                              \
		cases[n].o = base;                                                \
		struct ms_export_opts *c = &cases[n].o;                           \
		__VA_ARGS__;                                                      \
		n++;                                                              \
	} while (0)
	CASE("NULL name", c->name = NULL);
	CASE("empty name", c->name = "");
	CASE("name '.'", c->name = ".");
	CASE("name '..'", c->name = "..");
	CASE("name with '/'", c->name = "a/b");
	CASE("64-byte name", c->name = n64);
	CASE("size 0", c->size = 0);
	CASE("size not a page multiple", c->size = pg + 1);
	CASE("size of half a page", c->size = pg / 2);
	CASE("chunk size not a power of two", c->chunk_size = 3 * 4096);
	CASE("chunk size 1000", c->chunk_size = 1000);
	CASE("chunk size below the minimum", c->chunk_size = MS_CHUNK_MIN / 2);
	CASE("chunk size above the maximum", c->chunk_size = MS_CHUNK_MAX * 2);
	CASE("unknown backing", c->backing = (enum ms_backing)7);
	CASE("file without a path", c->backing = MS_BACKING_FILE);
	CASE("file with an empty path", c->backing = MS_BACKING_FILE; c->path = "");
	CASE("anon with a path", c->path = "/tmp/x");
	CASE("memfd with a path", c->backing = MS_BACKING_MEMFD; c->path = "/tmp/x");
	CASE("user without memory", c->backing = MS_BACKING_USER);
	CASE("user with unaligned memory", c->backing = MS_BACKING_USER; c->user_mem = mem + 8);
	CASE("anon with user memory", c->user_mem = mem);
#undef CASE

	for (int i = 0; i < n; i++) {
		struct ms_rregion *r = (struct ms_rregion *)&base; /* sentinel */
		char err[256] = "";

		is_int(ms_region_create(&cases[i].o, &r, err, sizeof(err)), -EINVAL, "%s: -EINVAL",
		       cases[i].what);
		ok(err[0] != '\0' && r == (struct ms_rregion *)&base,
		   "  message \"%s\", output untouched", err);
	}
	is_int(ms_region_create(NULL, &(struct ms_rregion *){ NULL }, NULL, 0), -EINVAL,
	       "NULL options, NULL error buffer: -EINVAL");
	{
		struct ms_export_opts o = base;
		struct ms_rregion *r;
		char small[8];

		o.size = 123;
		is_int(ms_region_create(&o, &r, small, sizeof(small)), -EINVAL,
		       "a small error buffer is fine");
		is_int(strlen(small), sizeof(small) - 1, "  message truncated to it");
	}
	is_int(fx_count_fds(), fds, "no descriptor left behind by refused options");
	free(mem);
}

/* Make mlock fail for real: drop CAP_IPC_LOCK (when we have it), lower
 * RLIMIT_MEMLOCK to 64 KiB and pin 1 MiB.  Done in a child so the test
 * process keeps its privileges; the child reports "rc|message" lines. */
static void pin_child(int wfd)
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[2];
	struct rlimit rl = { 64 << 10, 64 << 10 };
	const char *path = tmp_path("pin.img");
	struct ms_export_opts o[3] = {
		{ .name = "pin", .size = 1 * MIB },
		{ .name = "pinf", .size = 1 * MIB, .backing = MS_BACKING_FILE, .path = path },
		{ .name = "nopin", .size = 1 * MIB, .no_mlock = true },
	};
	FILE *f = fdopen(wfd, "w");

	if (!f)
		_exit(2);
	if (syscall(SYS_capget, &hdr, data) != 0)
		_exit(3);
	data[0].effective &= ~(1u << CAP_IPC_LOCK);
	data[0].permitted &= ~(1u << CAP_IPC_LOCK);
	if (syscall(SYS_capset, &hdr, data) != 0 || setrlimit(RLIMIT_MEMLOCK, &rl) != 0)
		_exit(4);
	/* ASan intercepts mlock() and makes it a no-op: then nothing here can
	 * fail, and the parent skips these checks */
	{
		void *probe = mmap(NULL, 1 * MIB, PROT_READ | PROT_WRITE,
				   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (probe == MAP_FAILED)
			_exit(5);
		if (mlock(probe, 1 * MIB) == 0) {
			fprintf(f, "skip\n");
			fclose(f);
			_exit(0);
		}
		munmap(probe, 1 * MIB);
	}
	for (int i = 0; i < 3; i++) {
		struct ms_rregion *r = NULL;
		char err[512] = "";
		int rc = ms_region_create(&o[i], &r, err, sizeof(err));

		fprintf(f, "%d|%s\n", rc, err);
		ms_region_destroy(r);
	}
	fprintf(f, "%d|exists\n", access(path, F_OK) == 0);
	fclose(f);
	_exit(0);
}

static void test_pin_failure(void)
{
	char line[3][600], exists[64];
	int p[2], status;
	pid_t pid;
	FILE *f;

	if (pipe(p))
		tap_bail("pipe");
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		tap_bail("fork");
	if (pid == 0) {
		close(p[0]);
		pin_child(p[1]);
	}
	close(p[1]);
	f = fdopen(p[0], "r");
	for (int i = 0; i < 3; i++)
		if (!f || !fgets(line[i], sizeof(line[i]), f))
			line[i][0] = '\0';
	if (!f || !fgets(exists, sizeof(exists), f))
		exists[0] = '\0';
	if (f)
		fclose(f);
	waitpid(pid, &status, 0);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		ok(0, "pinning child ran (status %d)", status);
		return;
	}
	if (strcmp(line[0], "skip\n") == 0) {
		tap_skip("pinning failure: mlock cannot fail in this build (ASan "
			 "intercepts it)");
		return;
	}
	ok(strncmp(line[0], "-12|", 4) == 0 || strncmp(line[0], "-1|", 3) == 0,
	   "mlock beyond RLIMIT_MEMLOCK gives -ENOMEM or -EPERM");
	diag("message: %s", line[0]);
	ok(strstr(line[0], "mlock of 1.00 MiB for region 'pin' failed: ") != NULL,
	   "message names the size and the region");
	ok(strstr(line[0], "RLIMIT_MEMLOCK is 64.0 KiB (raise it with ulimit -l") != NULL,
	   "message names RLIMIT_MEMLOCK and its value");
	ok(strncmp(line[1], "-12|", 4) == 0 || strncmp(line[1], "-1|", 3) == 0,
	   "file region also fails to pin");
	ok(strncmp(exists, "0|", 2) == 0, "the file it created is removed again");
	ok(strncmp(line[2], "0|", 2) == 0, "no_mlock works under the same limit");
}

static void test_names(void)
{
	static const enum ms_backing all[] = { MS_BACKING_ANON, MS_BACKING_MEMFD,
					       MS_BACKING_FILE, MS_BACKING_USER };
	static const char *const names[] = { "anon", "memfd", "file", "user" };
	enum ms_backing b = MS_BACKING_FILE;

	for (int i = 0; i < 4; i++) {
		is_str(ms_backing_name(all[i]), names[i], "backing name %s", names[i]);
		ok(ms_backing_parse(names[i], &b) == 0 && b == all[i], "parse %s", names[i]);
	}
	is_str(ms_backing_name((enum ms_backing)42), "unknown", "unknown backing name");
	b = MS_BACKING_USER;
	is_int(ms_backing_parse("shm", &b), -EINVAL, "parse rejects shm");
	is_int(ms_backing_parse("", &b), -EINVAL, "parse rejects empty");
	is_int(ms_backing_parse(NULL, &b), -EINVAL, "parse rejects NULL");
	is_int(b, MS_BACKING_USER, "rejections leave the output alone");
}

static void cleanup(void)
{
	static const char *const files[] = { "region.img", "small.img", "large.img",
					     "pin.img" };

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		char side[64];

		unlink(tmp_path(files[i]));
		snprintf(side, sizeof(side), "%s.msmeta", files[i]);
		unlink(tmp_path(side));
		snprintf(side, sizeof(side), "%s.msjournal", files[i]);
		unlink(tmp_path(side));
	}
	if (rmdir(tmpdir) != 0)
		diag("rmdir %s: %s", tmpdir, strerror(errno));
}

int main(void)
{
	const char *t = getenv("TMPDIR");
	int fds;

	pg = (uint64_t)sysconf(_SC_PAGESIZE);
	snprintf(tmpdir, sizeof(tmpdir), "%s/ms-region.XXXXXX", t && *t ? t : "/tmp");
	if (!mkdtemp(tmpdir))
		tap_bail("mkdtemp %s: %s", tmpdir, strerror(errno));
	fds = fx_count_fds();

	test_backings();
	test_short_last_chunk();
	test_commit_and_verify();
	test_file();
	test_invalid();
	test_pin_failure();
	test_names();

	is_int(fx_count_fds(), fds, "no descriptor leaked over the whole test");
	cleanup();
	ok(access(tmpdir, F_OK) != 0, "temporary directory removed");
	return tap_done();
}
