/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmd_migrate.c - `memsync migrate memsync://A/REGION B:PORT`: ask memsyncd
 * B to take the region from memsyncd A (B drives the move: it pulls from A
 * as a client), then follow it every 50 ms until it is done, failed or
 * aborted, and print what it cost (migout.c).  `migrate --status URL` and
 * `migrate --abort URL` talk to B about a migration already started.
 *
 * SIGINT or SIGTERM while waiting, before the switch, asks B to abort (A
 * keeps the region as it was); past the switch the move cannot be undone
 * and we leave it to finish at B.  docs/migration.md.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "jsonw.h"
#include "migout.h"

#define POLL_MS 50
/* after asking B to abort, how long we wait to see it stop */
#define ABORT_WAIT_MS 30000

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	(void)sig;
	interrupted++;
}

struct waitsig {
	struct sigaction old_int, old_term;
};

static void sig_install(struct waitsig *ws)
{
	/* SA_RESTART keeps the library's calls going; nanosleep is cut short
	 * all the same */
	struct sigaction sa = { .sa_handler = on_signal, .sa_flags = SA_RESTART };

	sigemptyset(&sa.sa_mask);
	interrupted = 0;
	sigaction(SIGINT, &sa, &ws->old_int);
	sigaction(SIGTERM, &sa, &ws->old_term);
}

static void sig_restore(const struct waitsig *ws)
{
	sigaction(SIGINT, &ws->old_int, NULL);
	sigaction(SIGTERM, &ws->old_term, NULL);
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL); /* EINTR: a signal to look at */
}

/* The progress line: redrawn in place on a terminal, else one line per
 * phase or round, so that a log shows how the move went. */
struct line {
	bool tty, on;
	size_t drawn;
	enum ms_migrate_phase phase;
	uint32_t rounds;
};

static void line_show(struct line *l, const struct ms_migrate_stat *st)
{
	char buf[256];

	if (!l->on)
		return;
	migout_progress(st, buf, sizeof(buf));
	if (l->tty) {
		size_t n = strlen(buf);

		fprintf(stderr, "\r%s%*s", buf, l->drawn > n ? (int)(l->drawn - n) : 0, "");
		l->drawn = n;
	} else if (st->phase != l->phase || st->rounds != l->rounds) {
		fprintf(stderr, "%s\n", buf);
	}
	fflush(stderr);
	l->phase = st->phase;
	l->rounds = st->rounds;
}

static void line_end(struct line *l)
{
	if (l->tty && l->drawn) {
		fprintf(stderr, "\r%*s\r", (int)l->drawn, "");
		fflush(stderr);
	}
	l->drawn = 0;
}

static bool final_phase(enum ms_migrate_phase p)
{
	return p == MS_MIGRATE_DONE || p == MS_MIGRATE_FAILED || p == MS_MIGRATE_ABORTED;
}

/* Print st (text or JSON) and say how it ended: an exit status. */
static int report(const struct cli_opts *o, const struct ms_migrate_stat *st, const char *dst,
		  bool status_only)
{
	int rc = 0;

	if (o->json)
		rc = migout_json(stdout, st, dst);
	else if (!o->quiet)
		rc = migout_text(stdout, st, dst);
	if (rc < 0) {
		cli_error("migrate", "write to stdout: %s", strerror(-rc));
		return CLI_EXIT_FAIL;
	}
	if (st->phase == MS_MIGRATE_FAILED) {
		cli_error("migrate", "migration of '%s' from %s to %s failed: %s", st->name,
			  st->source, dst, st->error[0] ? st->error : "no reason given");
		return CLI_EXIT_FAIL;
	}
	if (st->phase == MS_MIGRATE_ABORTED) {
		cli_error("migrate", "migration of '%s' from %s to %s was aborted; %s still has "
			  "the region", st->name, st->source, dst, st->source);
		return CLI_EXIT_FAIL;
	}
	if (!status_only && st->phase != MS_MIGRATE_DONE) {
		cli_error("migrate", "migration of '%s' ended in phase %s", st->name,
			  ms_migrate_phase_name(st->phase));
		return CLI_EXIT_FAIL;
	}
	return CLI_EXIT_OK;
}

static int status_error(ms_client *c, const struct ms_url *u, int rc)
{
	if (rc == -ENOENT)
		cli_error("migrate", "no migration of region '%s' at %s:%s", u->region, u->host,
			  u->port);
	else
		cli_lib_error(c, "migrate", "status", rc);
	return CLI_EXIT_FAIL;
}

/* A signal came while waiting: abort if B is still before the switch. */
static int on_interrupt(ms_client *c, const struct ms_url *b, const char *name, bool *asked)
{
	int rc = ms_migrate_abort(c, name);

	if (rc == 0) {
		cli_error("migrate", "interrupted: asked %s:%s to abort the migration of '%s' "
			  "(the source keeps the region)", b->host, b->port, name);
		*asked = true;
		return 0;
	}
	if (rc == -EALREADY) {
		cli_error("migrate", "interrupted past the switch: the migration of '%s' completes "
			  "at %s:%s; follow it with 'memsync migrate --status memsync://%s:%s/%s'",
			  name, b->host, b->port, b->host, b->port, name);
		return CLI_EXIT_FAIL;
	}
	cli_lib_error(c, "migrate", "abort", rc);
	return CLI_EXIT_FAIL;
}

/* Follow the migration of name at B until it ends (or we are told to
 * stop); the last status in *st.  An exit status, or -1 when *st is final. */
static int wait_done(const struct cli_opts *o, ms_client *c, const struct ms_url *b,
		     const char *name, struct ms_migrate_stat *st)
{
	struct line l = { .tty = isatty(STDERR_FILENO), .on = !o->quiet && !o->json,
			  .phase = MS_MIGRATE_NONE, .rounds = UINT32_MAX };
	unsigned waited_after_abort = 0;
	bool asked = false;
	struct waitsig ws;
	int rc, ret = -1;

	sig_install(&ws);
	for (;;) {
		rc = ms_migrate_status(c, name, st);
		if (rc) {
			line_end(&l);
			ret = status_error(c, b, rc);
			break;
		}
		line_show(&l, st);
		if (final_phase(st->phase))
			break;
		if (interrupted && !asked) {
			line_end(&l);
			ret = on_interrupt(c, b, name, &asked);
			if (ret)
				break;
			ret = -1;
		} else if (asked && (interrupted > 1 || waited_after_abort >= ABORT_WAIT_MS)) {
			line_end(&l);
			cli_error("migrate", "not waiting for '%s' to stop at %s:%s", name, b->host,
				  b->port);
			ret = CLI_EXIT_FAIL;
			break;
		}
		sleep_ms(POLL_MS);
		if (asked)
			waited_after_abort += POLL_MS;
	}
	line_end(&l);
	sig_restore(&ws);
	return ret;
}

static void fill_opts(const struct cli_opts *o, struct ms_migrate_opts *mo)
{
	memset(mo, 0, sizeof(*mo));
	mo->opts_size = sizeof(*mo);
	mo->mode = o->mig_mode;
	mo->downtime_ms = o->mig_downtime_ms;
	mo->max_rounds = o->mig_max_rounds;
	mo->transport = o->transport;
	mo->path = o->mig_path;
	mo->max_bandwidth = o->mig_max_bw;
	if (o->mig_adv_host[0]) {
		mo->advertise_host = o->mig_adv_host;
		mo->advertise_port = o->mig_adv_port;
	}
}

/* --status or --abort URL (B's address and the region) */
static int status_or_abort(const struct cli_opts *o, int argc, char **argv)
{
	struct ms_migrate_stat st;
	char dst[300];
	struct ms_url u;
	ms_client *c;
	int rc;

	if (o->mig_status && o->mig_abort)
		return cli_usage_error("migrate", "--status and --abort exclude each other");
	if (o->mig_no_wait || o->mig_path || o->mig_downtime_ms || o->mig_max_rounds ||
	    o->mig_mode != MS_MIGRATE_HYBRID || o->mig_max_bw || o->mig_adv_host[0])
		return cli_usage_error("migrate", "--%s takes no migration options",
				       o->mig_status ? "status" : "abort");
	if (argc != 1)
		return cli_usage_error("migrate", "--%s expects one URL (the destination and "
				       "the region: memsync://HOST[:PORT]/REGION)",
				       o->mig_status ? "status" : "abort");
	rc = cli_parse_url("migrate", argv[0], false, true, &u);
	if (rc)
		return rc;
	snprintf(dst, sizeof(dst), "%s:%s", u.host, u.port);
	c = cli_connect(o, "migrate", &u);
	if (!c)
		return CLI_EXIT_FAIL;
	if (o->mig_status) {
		rc = ms_migrate_status(c, u.region, &st);
		rc = rc ? status_error(c, &u, rc) : report(o, &st, dst, true);
	} else {
		rc = ms_migrate_abort(c, u.region);
		if (rc == 0) {
			if (!o->quiet)
				printf("asked %s to abort the migration of '%s'; the source keeps "
				       "the region\n", dst, u.region);
			rc = fflush(stdout) == 0 ? CLI_EXIT_OK : CLI_EXIT_FAIL;
		} else if (rc == -EALREADY) {
			cli_error("migrate", "the migration of '%s' at %s is past the switch and "
				  "cannot be aborted; it completes there", u.region, dst);
			rc = CLI_EXIT_FAIL;
		} else if (rc == -ENOENT) {
			rc = status_error(c, &u, rc);
		} else {
			cli_lib_error(c, "migrate", "abort", rc);
			rc = CLI_EXIT_FAIL;
		}
	}
	ms_disconnect(c);
	return rc;
}

int cmd_migrate(const struct cli_opts *o, int argc, char **argv)
{
	struct ms_migrate_opts mo;
	struct ms_migrate_stat st;
	struct ms_url a, b;
	char dst[300];
	ms_client *c;
	int rc;

	if (o->mig_status || o->mig_abort)
		return status_or_abort(o, argc, argv);
	if (argc != 2)
		return cli_usage_error("migrate", "expected the region's URL and the destination "
				       "(memsync migrate memsync://A[:PORT]/REGION memsync://B[:PORT])");
	rc = cli_parse_url("migrate", argv[0], false, true, &a);
	if (!rc)
		rc = cli_parse_url("migrate", argv[1], true, false, &b);
	if (rc)
		return rc;
	if (b.region[0] && strcmp(a.region, b.region) != 0)
		return cli_usage_error("migrate", "the region keeps its name: '%s' cannot "
				       "become '%s'", a.region, b.region);
	snprintf(b.region, sizeof(b.region), "%s", a.region);
	snprintf(dst, sizeof(dst), "%s:%s", b.host, b.port);
	fill_opts(o, &mo);
	c = cli_connect(o, "migrate", &b);
	if (!c)
		return CLI_EXIT_FAIL;
	rc = ms_migrate_start(c, a.region, a.host, a.port, &mo);
	if (rc) {
		cli_lib_error(c, "migrate", "start", rc);
		ms_disconnect(c);
		return CLI_EXIT_FAIL;
	}
	if (o->mig_no_wait) {
		if (o->json) {
			struct jsonw w;

			jw_init(&w, stdout);
			jw_obj_begin(&w);
			jw_kv_str(&w, "command", "migrate");
			jw_kv_str(&w, "region", a.region);
			jw_kv_str(&w, "destination", dst);
			jw_kv_str(&w, "mode", ms_migrate_mode_name(mo.mode));
			jw_kv_str(&w, "phase", "started");
			jw_obj_end(&w);
			ms_disconnect(c);
			return jw_finish(&w) < 0 ? CLI_EXIT_FAIL : CLI_EXIT_OK;
		}
		if (!o->quiet)
			printf("%s started moving '%s' from %s:%s (%s); follow it with "
			       "'memsync migrate --status memsync://%s/%s'\n", dst, a.region,
			       a.host, a.port, ms_migrate_mode_name(mo.mode), dst, a.region);
		ms_disconnect(c);
		return fflush(stdout) == 0 ? CLI_EXIT_OK : CLI_EXIT_FAIL;
	}
	rc = wait_done(o, c, &b, a.region, &st);
	ms_disconnect(c);
	if (rc >= 0)
		return rc;
	return report(o, &st, dst, false);
}
