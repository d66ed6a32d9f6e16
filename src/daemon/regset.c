/* SPDX-License-Identifier: Apache-2.0 */
/*
 * regset.c - memsyncd's exported regions: the start (all or nothing), the
 * reload rules and the state dump; see regset.h.
 */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "regset.h"
#include "units.h"

void msd_regset_init(struct msd_regset *rs, ms_server *srv)
{
	memset(rs, 0, sizeof(*rs));
	rs->srv = srv;
}

void msd_regset_free(struct msd_regset *rs)
{
	for (size_t i = 0; i < rs->n; i++)
		msd_region_free(&rs->v[i]);
	free(rs->v);
	memset(rs, 0, sizeof(*rs));
}

/* ------------------------------------------------------------- files */

/* path resolved: realpath() when it exists, else its directory resolved
 * and its name appended, else path as given.  malloc'ed or NULL. */
static char *canon_path(const char *path)
{
	char *r = realpath(path, NULL), *d1, *d2, *dir, *out;
	size_t n;

	if (r)
		return r;
	d1 = strdup(path);
	d2 = strdup(path);
	if (!d1 || !d2) {
		free(d1);
		free(d2);
		return NULL;
	}
	dir = realpath(dirname(d1), NULL);
	if (dir) {
		n = strlen(dir) + strlen(path) + 2;
		out = malloc(n);
		if (out)
			snprintf(out, n, "%s/%s", dir, basename(d2));
		free(dir);
	} else {
		out = strdup(path);
	}
	free(d1);
	free(d2);
	return out;
}

bool msd_same_file(const char *a, const char *b)
{
	struct stat sa, sb;
	char *ca, *cb;
	bool same;

	if (strcmp(a, b) == 0)
		return true;
	if (stat(a, &sa) == 0 && stat(b, &sb) == 0)
		return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
	ca = canon_path(a);
	cb = canon_path(b);
	same = ca && cb && strcmp(ca, cb) == 0;
	free(ca);
	free(cb);
	return same;
}

/* The region of v[0..n) other than skip whose file is also r's, or NULL. */
static const struct msd_region *file_conflict(const struct msd_region *r,
					      const struct msd_region *v, size_t n,
					      const struct msd_region *skip)
{
	if (r->backing != MS_BACKING_FILE)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (&v[i] != skip && v[i].backing == MS_BACKING_FILE &&
		    msd_same_file(r->path, v[i].path))
			return &v[i];
	return NULL;
}

static void log_conflict(const char *what, const struct msd_region *r,
			 const struct msd_region *other)
{
	if (strcmp(r->path, other->path) == 0)
		ms_err("%sregions '%s' and '%s' are backed by the same file '%s'", what,
		       other->name, r->name, r->path);
	else
		ms_err("%sregions '%s' and '%s' are backed by the same file ('%s' and '%s')",
		       what, other->name, r->name, other->path, r->path);
}

/* ------------------------------------------------------------ export */

static const struct msd_region *find_region(const struct msd_region *v, size_t n,
					    const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i].name, name) == 0)
			return &v[i];
	return NULL;
}

/* Export r and remember it.  *created: r's file did not exist before
 * (and exists now).  0, or -1 after logging why. */
static int export_one(struct msd_regset *rs, const struct msd_region *r, const char *what,
		      bool *created)
{
	struct ms_export_opts eo = {
		.opts_size = sizeof(eo),
		.name = r->name,
		.size = r->size,
		.chunk_size = r->chunk_size,
		.backing = r->backing,
		.path = r->path,
		.no_mlock = r->no_mlock,
		.commit = r->commit,
		.stage_limit = r->stage_limit,
	};
	char size_s[32], chunk_s[32], where[4200] = "";
	struct msd_region *grown;
	struct stat st;
	ms_export *e;

	*created = r->backing == MS_BACKING_FILE && stat(r->path, &st) != 0 && errno == ENOENT;
	grown = realloc(rs->v, (rs->n + 1) * sizeof(*grown));
	if (!grown || msd_region_copy(&grown[rs->n], r) < 0) {
		if (grown)
			rs->v = grown;
		ms_err("%scannot export region '%s': out of memory", what, r->name);
		*created = false;
		return -1;
	}
	rs->v = grown;
	e = ms_server_add_region(rs->srv, &eo);
	if (!e) {
		const char *msg = ms_server_errmsg(rs->srv);
		int err = errno;

		msd_region_free(&rs->v[rs->n]);
		/* the library's messages usually name the region */
		if (msg && msg[0] && strstr(msg, r->name))
			ms_err("%s%s", what, msg);
		else
			ms_err("%scannot export region '%s': %s", what, r->name,
			       msg && msg[0] ? msg : strerror(err));
		/* the library removes a file it created for a region it
		 * could not make */
		*created = false;
		return -1;
	}
	rs->n++;
	if (r->backing == MS_BACKING_MEMFD)
		snprintf(where, sizeof(where), " /proc/%ld/fd/%d", (long)getpid(),
			 ms_export_fd(e));
	else if (r->backing == MS_BACKING_FILE)
		snprintf(where, sizeof(where), " %s", r->path);
	ms_info("%sregion %s: %s, %s%s, chunk %s, %s commits%s", what, r->name,
		ms_format_size(ms_export_size(e), size_s, sizeof(size_s)),
		ms_backing_name(r->backing), where,
		ms_format_size(r->chunk_size ? r->chunk_size : MS_CHUNK_DEFAULT, chunk_s,
			       sizeof(chunk_s)),
		ms_commit_mode_name(r->commit), r->no_mlock ? ", not pinned" : "");
	return 0;
}

int msd_regset_start(struct msd_regset *rs, const struct msd_config *cfg)
{
	const struct msd_region *other;
	bool *created;
	size_t i;
	int rc = 0;

	/* every pair first: a refused configuration creates nothing */
	for (i = 0; i < cfg->nregions; i++) {
		other = file_conflict(&cfg->regions[i], cfg->regions, i, NULL);
		if (other) {
			log_conflict("", &cfg->regions[i], other);
			return -1;
		}
	}
	created = calloc(cfg->nregions + 1, sizeof(*created));
	if (!created) {
		ms_err("out of memory");
		return -1;
	}
	for (i = 0; i < cfg->nregions && rc == 0; i++)
		rc = export_one(rs, &cfg->regions[i], "", &created[i]);
	if (rc < 0) {
		ms_err("not started: region '%s' (%zu of %zu) could not be created",
		       cfg->regions[i - 1].name, i, cfg->nregions);
		for (size_t j = 0; j + 1 < i; j++) {
			if (!created[j])
				continue;
			if (unlink(cfg->regions[j].path) == 0)
				ms_info("removed '%s', created for region '%s' by this start",
					cfg->regions[j].path, cfg->regions[j].name);
			else
				ms_warn("cannot remove '%s' (region '%s'): %s",
					cfg->regions[j].path, cfg->regions[j].name,
					strerror(errno));
		}
	}
	free(created);
	return rc;
}

/* ------------------------------------------------------------ reload */

/* Unexport v[i], which is idle, or say why it stays: 0 when removed. */
static int drop_one(struct msd_regset *rs, size_t i, const char *why)
{
	struct ms_region_stat *st = NULL;
	const char *name = rs->v[i].name;
	size_t n = 0;
	int ret = ms_server_unexport(rs->srv, name);

	if (ret == -EBUSY) {
		if (ms_server_stat(rs->srv, name, &st, &n) == 0 && n == 1)
			ms_warn("reload: region '%s' %s, but it is in use (%u client(s)%s): "
				"it stays as it was", name, why, st->clients,
				st->write_leased ? ", write lease held" : "");
		else
			ms_warn("reload: region '%s' %s, but it is in use: it stays as it was",
				name, why);
		free(st);
		return ret;
	}
	if (ret) {
		ms_err("reload: cannot remove region '%s': %s", name, strerror(-ret));
		return ret;
	}
	return 0;
}

static void forget(struct msd_regset *rs, size_t i)
{
	msd_region_free(&rs->v[i]);
	memmove(&rs->v[i], &rs->v[i + 1], (rs->n - i - 1) * sizeof(rs->v[0]));
	rs->n--;
}

/* Re-create a changed region; when its new definition cannot be made,
 * the old one comes back (an anon region's content is lost either way). */
static void recreate(struct msd_regset *rs, const struct msd_region *b,
		     const struct msd_region *old)
{
	bool created;

	if (export_one(rs, b, "reload: ", &created) == 0)
		return;
	if (export_one(rs, old, "reload: restored ", &created) == 0)
		ms_warn("reload: region '%s' keeps its old definition", old->name);
	else
		ms_err("reload: region '%s' is gone: neither definition could be created",
		       old->name);
}

void msd_regset_reload(struct msd_regset *rs, const struct msd_config *cfg)
{
	struct msd_region *old = calloc(rs->n + 1, sizeof(*old));
	const struct msd_region *b, *other;
	size_t nold = 0, added = 0, removed = 0;
	char diff[1024], why[1100];
	bool created;

	if (!old) {
		ms_err("reload: out of memory; nothing changed");
		return;
	}
	/* dropped and changed regions first: their names and files are free
	 * for the new definitions */
	for (size_t i = 0; i < rs->n; i++) {
		b = find_region(cfg->regions, cfg->nregions, rs->v[i].name);
		if (b && !msd_region_diff(&rs->v[i], b, diff, sizeof(diff)))
			continue;
		if (b && (other = file_conflict(b, rs->v, rs->n, &rs->v[i]))) {
			log_conflict("reload: not changed: ", b, other);
			continue;
		}
		if (b)
			snprintf(why, sizeof(why), "changed (%s)", diff);
		else
			snprintf(why, sizeof(why), "was dropped from the configuration");
		if (drop_one(rs, i, why))
			continue;
		ms_info("reload: region '%s' removed (%s)", rs->v[i].name,
			b ? "to be re-created" : "dropped from the configuration");
		if (b) {
			old[nold++] = rs->v[i];          /* takes the path */
			rs->v[i].path = NULL;
		} else {
			removed++;
		}
		forget(rs, i--);
	}
	for (size_t i = 0; i < cfg->nregions; i++) {
		b = &cfg->regions[i];
		if (find_region(rs->v, rs->n, b->name))
			continue;
		other = find_region(old, nold, b->name);
		if (other) {
			recreate(rs, b, other);
			continue;
		}
		if ((other = file_conflict(b, rs->v, rs->n, NULL))) {
			log_conflict("reload: not added: ", b, other);
			continue;
		}
		if (export_one(rs, b, "reload: added ", &created) == 0)
			added++;
	}
	ms_info("reload: done: %zu region(s) exported, %zu added, %zu removed, %zu re-created",
		rs->n, added, removed, nold);
	for (size_t i = 0; i < nold; i++)
		msd_region_free(&old[i]);
	free(old);
}

/* The region's part in a migration, if any: where it went (the source),
 * or the migration into this server as it stands (the destination). */
static void log_migration(struct msd_regset *rs, const struct ms_region_stat *r)
{
	struct ms_migrate_stat m;
	char a[32], b[32];

	if (r->moved_to[0])
		ms_info("state: region %s: moved to %s (requests are redirected there)", r->name,
			r->moved_to);
	if (r->migrate_phase == MS_MIGRATE_NONE || ms_server_migrate_stat(rs->srv, r->name, &m))
		return;
	ms_info("state: region %s: migration from %s (%s): %s, %u round(s)%s%s, %s of %s read, "
		"%llu chunk(s) missing, downtime %.3f ms, total %.3f ms, %llu fault(s)%s%s",
		r->name, m.source, ms_migrate_mode_name(m.mode), ms_migrate_phase_name(m.phase),
		m.rounds, m.end_reason[0] ? " ended by " : "", m.end_reason,
		ms_format_size(m.bytes, a, sizeof(a)), ms_format_size(m.size, b, sizeof(b)),
		(unsigned long long)m.chunks_missing, (double)m.downtime_us / 1e3,
		(double)m.total_us / 1e3, (unsigned long long)m.faults,
		m.error[0] ? ": " : "", m.error);
}

void msd_regset_log_state(struct msd_regset *rs)
{
	struct ms_region_stat *st;
	char size_s[32];
	size_t n;
	int ret = ms_server_stat(rs->srv, NULL, &st, &n);

	if (ret) {
		ms_err("state: stat failed: %s", strerror(-ret));
		return;
	}
	ms_info("state: %zu region(s)", n);
	for (size_t i = 0; i < n; i++) {
		ms_info("state: region %s: %s, %s, %u client(s), generation %llu, %s, "
			"%llu commit(s)", st[i].name,
			ms_format_size(st[i].size, size_s, sizeof(size_s)),
			ms_backing_name(st[i].backing), st[i].clients,
			(unsigned long long)st[i].generation,
			st[i].write_leased ? "write lease held" : "no writer",
			(unsigned long long)st[i].commits);
		log_migration(rs, &st[i]);
	}
	free(st);
}
