/* SPDX-License-Identifier: Apache-2.0 */
/*
 * migtool.c - helpers of tests/integration/migrate.sh.
 *
 *   migtool write HOST PORT REGION DIR [RATE [TICK_MS]]
 *     A steady writer (perf/migwriter.h): holds REGION's write lease, every
 *     TICK_MS (default 20) writes random pages (RATE, default 0.01, of the
 *     pages per second) and syncs, following a redirect by itself.  Every
 *     tick it rewrites DIR/progress ("SYNCS REDIRECTS EPOCH HOST PORT
 *     FENCED"; HOST:PORT where it knows it writes).  A write refused as
 *     fenced is retried after opening the region again with expect_epoch
 *     (granted only if nobody took the lease since) and counted (FENCED).
 *     It stops on SIGTERM or SIGINT, or at its first failed sync; then it
 *     writes DIR/committed (the region as of its last successful sync),
 *     DIR/pending (the same plus the pages of a failed tick; equal to
 *     committed when nothing failed), DIR/written (one byte per page: 1 if
 *     it ever wrote it) and prints one JSON line:
 *       {"syncs":N,"redirects":N,"reconnects":N,"fenced":N,"epoch":N,"host":"..","port":"..",
 *        "max_gap_ms":F,"max_sync_ms":F,"pending_pages":N,"error":".."}
 *     Exit 0 when stopped by a signal with no failure, 1 after a failure,
 *     2 on bad usage.
 *
 *   migtool watch HOST_A PORT_A HOST_B PORT_B REGION
 *     Until SIGTERM: asks B, then A, for REGION's lease (ms_stat) every
 *     5 ms.  B grants its first lease only after A fenced its last one, so
 *     a HELD at A seen after a HELD at B in the same sample means two
 *     holders at once.  A server that cannot be reached counts as holding
 *     nothing (it is reconnected).  Prints one JSON line:
 *       {"samples":N,"both_held":N,"a_held":N,"b_held":N,"a_max_epoch":N,
 *        "b_min_epoch":N,"b_max_epoch":N,"a_unreachable":N,"b_unreachable":N}
 *     and exits 0 (1 when both_held > 0).
 *
 *   migtool stop-at HOST_B PORT_B REGION PHASE PID SIGNAL [TIMEOUT_S]
 *     Asks B for the migration of REGION every millisecond (no migration
 *     yet: asks again) until its phase is PHASE ("precopy", "switching",
 *     "postcopy", ...: ms_migrate_phase_name), then sends SIGNAL (a number) to PID (0: none)
 *     and prints {"phase":"..","rounds":N,"bytes":N,"chunks_missing":N}.
 *     Exit 0 then; 1 when the migration ended (done, failed, aborted) or
 *     TIMEOUT_S (default 60) passed first, printing the phase it saw.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "memsync.h"
#include "migwriter.h"

static volatile sig_atomic_t stop_flag;

static void on_stop(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static void handle_stop(void)
{
	struct sigaction sa = { .sa_handler = on_stop };

	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

static enum ms_transport_kind env_transport(void)
{
	enum ms_transport_kind t = MS_TRANSPORT_AUTO;
	const char *s = getenv("MS_TEST_TRANSPORT");

	if (s && *s && ms_transport_parse(s, &t))
		t = MS_TRANSPORT_AUTO;
	return t;
}

/* Write len bytes of buf to DIR/name (replacing it).  0 or -1. */
static int put_file(const char *dir, const char *name, const void *buf, size_t len)
{
	char path[4096], tmp[4200];
	size_t done = 0;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return -1;
	while (done < len) {
		ssize_t k = write(fd, (const char *)buf + done, len - done);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0) {
			close(fd);
			return -1;
		}
		done += (size_t)k;
	}
	if (close(fd) || rename(tmp, path))
		return -1;
	return 0;
}

static void json_str(const char *key, const char *s, const char *sep)
{
	printf("\"%s\":\"", key);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			printf("\\%c", *s);
		else if ((unsigned char)*s >= 0x20)
			putchar(*s);
	}
	printf("\"%s", sep);
}

static int cmd_write(int argc, char **argv)
{
	struct mw_opts o = { .host = argv[0], .port = argv[1], .region = argv[2],
			     .transport = env_transport(), .rate = 0.01, .tick_ms = 20,
			     .retry_ms = 60000, .reopen_fenced = true };
	const char *dir = argv[3];
	uint64_t rng = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
	uint8_t *written = NULL;
	struct mw w;
	char line[400];
	double next;
	int rc;

	if (argc > 4)
		o.rate = strtod(argv[4], NULL);
	if (argc > 5)
		o.tick_ms = (unsigned)strtoul(argv[5], NULL, 10);
	if (!(o.rate > 0 && o.rate <= 1) || !o.tick_ms) {
		fprintf(stderr, "migtool write: bad RATE or TICK_MS\n");
		return 2;
	}
	handle_stop();
	rc = mw_open(&w, &o, NULL);
	if (!rc && !(written = calloc(w.npages, 1)))
		rc = -ENOMEM;
	next = bu_now_s();
	while (!rc && !stop_flag) {
		rc = mw_tick(&w, &rng, NULL);
		for (size_t i = 0; !rc && i < w.last_n; i++)
			written[w.pending[i]] = 1;
		snprintf(line, sizeof(line), "%llu %u %llu %s %s %u\n", (unsigned long long)w.syncs,
			 w.redirects, (unsigned long long)w.epoch, w.host, w.port, w.fenced);
		(void)put_file(dir, "progress", line, strlen(line));
		next += o.tick_ms / 1000.0;
		while (!stop_flag && bu_now_s() < next)
			usleep(1000);
		if (bu_now_s() > next)
			next = bu_now_s();
	}
	if (w.shadow) {
		size_t npend = w.npending;

		for (size_t i = 0; i < w.npending; i++)
			written[w.pending[i]] = 1;
		put_file(dir, "pending", w.shadow, w.size);
		mw_drop_pending(&w);
		put_file(dir, "committed", w.shadow, w.size);
		w.npending = npend;
	}
	printf("{\"syncs\":%llu,\"redirects\":%u,\"reconnects\":%u,\"fenced\":%u,\"epoch\":%llu,",
	       (unsigned long long)w.syncs, w.redirects, w.reconnects, w.fenced,
	       (unsigned long long)w.epoch);
	json_str("host", w.host, ",");
	json_str("port", w.port, ",");
	printf("\"max_gap_ms\":%.3f,\"max_sync_ms\":%.3f,\"pending_pages\":%zu,", w.max_gap_s * 1e3,
	       w.max_sync_s * 1e3, w.npending);
	json_str("error", rc ? w.errmsg : "", "}\n");
	if (written)
		put_file(dir, "written", written, w.npages);
	free(written);
	mw_close(&w);
	return rc ? 1 : 0;
}

/* ------------------------------------------------------------------ watch */

struct side {
	const char *host, *port;
	ms_client *c;
	uint64_t unreachable;
};

/* The lease of region at s: 1 held (epoch in *epoch), 0 not, -1 unknown. */
static int lease_held(struct side *s, const char *region, uint64_t *epoch)
{
	struct ms_client_opts co = { .opts_size = sizeof(co), .transport = env_transport(),
				     .timeout_ms = 2000 };
	struct ms_region_stat *st = NULL;
	size_t n = 0;
	int rc, held = 0;

	if (!s->c)
		s->c = ms_connect(s->host, s->port, &co, NULL, 0);
	if (!s->c) {
		s->unreachable++;
		return -1;
	}
	rc = ms_stat(s->c, region, &st, &n);
	if (rc == -ENOENT || rc == -EREMCHG)
		return 0; /* nothing here, or moved away (fenced) */
	if (rc < 0) {
		ms_disconnect(s->c);
		s->c = NULL;
		s->unreachable++;
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		if (!strcmp(st[i].name, region) && st[i].lease.state == MS_LEASE_HELD) {
			held = 1;
			*epoch = st[i].lease.epoch;
		}
	}
	free(st);
	return held;
}

static int cmd_watch(char **argv)
{
	struct side a = { .host = argv[0], .port = argv[1] }, b = { .host = argv[2], .port = argv[3] };
	const char *region = argv[4];
	uint64_t samples = 0, both = 0, ah = 0, bh = 0, amax = 0, bmin = 0, bmax = 0;

	handle_stop();
	while (!stop_flag) {
		uint64_t ea = 0, eb = 0;
		int hb = lease_held(&b, region, &eb);
		int ha = lease_held(&a, region, &ea);

		samples++;
		if (hb == 1) {
			bh++;
			bmin = bmin && bmin < eb ? bmin : eb;
			bmax = bmax > eb ? bmax : eb;
		}
		if (ha == 1) {
			ah++;
			amax = amax > ea ? amax : ea;
		}
		if (ha == 1 && hb == 1) {
			both++;
			fprintf(stderr, "migtool watch: two holders: B at epoch %llu, then A at %llu\n",
				(unsigned long long)eb, (unsigned long long)ea);
		}
		usleep(5000);
	}
	printf("{\"samples\":%llu,\"both_held\":%llu,\"a_held\":%llu,\"b_held\":%llu,"
	       "\"a_max_epoch\":%llu,\"b_min_epoch\":%llu,\"b_max_epoch\":%llu,"
	       "\"a_unreachable\":%llu,\"b_unreachable\":%llu}\n",
	       (unsigned long long)samples, (unsigned long long)both, (unsigned long long)ah,
	       (unsigned long long)bh, (unsigned long long)amax, (unsigned long long)bmin,
	       (unsigned long long)bmax, (unsigned long long)a.unreachable,
	       (unsigned long long)b.unreachable);
	if (a.c)
		ms_disconnect(a.c);
	if (b.c)
		ms_disconnect(b.c);
	return both ? 1 : 0;
}

/* ---------------------------------------------------------------- stop-at */

static int cmd_stop_at(int argc, char **argv)
{
	struct ms_client_opts co = { .opts_size = sizeof(co), .transport = env_transport(),
				     .timeout_ms = 5000 };
	const char *region = argv[2], *want = argv[3];
	long pid = strtol(argv[4], NULL, 10), sig = strtol(argv[5], NULL, 10);
	double limit = bu_now_s() + (argc > 6 ? strtod(argv[6], NULL) : 60.0);
	struct ms_migrate_stat st = { .phase = MS_MIGRATE_NONE };
	char err[256] = "";
	ms_client *c = ms_connect(argv[0], argv[1], &co, err, sizeof(err));
	int rc = 1;

	if (!c) {
		fprintf(stderr, "migtool stop-at: connect: %s\n", err);
		return 1;
	}
	while (bu_now_s() < limit) {
		int e = ms_migrate_status(c, region, &st);

		if (e && e != -ENOENT) {
			fprintf(stderr, "migtool stop-at: status: %s\n", ms_client_errmsg(c));
			break;
		}
		if (!e && !strcmp(ms_migrate_phase_name(st.phase), want)) {
			if (pid > 0 && kill((pid_t)pid, (int)sig))
				perror("migtool stop-at: kill");
			else
				rc = 0;
			break;
		}
		if (!e && (st.phase == MS_MIGRATE_DONE || st.phase == MS_MIGRATE_FAILED ||
			   st.phase == MS_MIGRATE_ABORTED))
			break;
		usleep(1000);
	}
	printf("{\"phase\":\"%s\",\"rounds\":%u,\"bytes\":%llu,\"chunks_missing\":%llu}\n",
	       ms_migrate_phase_name(st.phase), st.rounds, (unsigned long long)st.bytes,
	       (unsigned long long)st.chunks_missing);
	ms_disconnect(c);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc >= 6 && argc <= 8 && !strcmp(argv[1], "write"))
		return cmd_write(argc - 2, argv + 2);
	if (argc == 7 && !strcmp(argv[1], "watch"))
		return cmd_watch(argv + 2);
	if ((argc == 8 || argc == 9) && !strcmp(argv[1], "stop-at"))
		return cmd_stop_at(argc - 2, argv + 2);
	fprintf(stderr, "usage: migtool write HOST PORT REGION DIR [RATE [TICK_MS]]\n"
			"       migtool watch HOST_A PORT_A HOST_B PORT_B REGION\n"
			"       migtool stop-at HOST_B PORT_B REGION PHASE PID SIGNAL [TIMEOUT_S]\n");
	return 2;
}
