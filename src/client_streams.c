/* SPDX-License-Identifier: Apache-2.0 */
/*
 * client_streams.c - parallel streams of one client (client_streams.h).
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client_priv.h"
#include "client_streams.h"
#include "proto_stream.h"

#define CL_MAX_HANDLES 64      /* the server's handles per connection */

struct cl_stream {
	ms_client *sc;                         /* its own connection */
	bool att[CL_MAX_HANDLES];              /* attached for handle h */
	struct ms_rdesc data[CL_MAX_HANDLES];  /* its grant of it */
};

struct cl_streams {
	bool unsupported;      /* the server has no SESSION: one connection */
	bool have_session;
	struct ms_msg_session_ok sess;
	unsigned n;            /* extra connections in s[] */
	struct cl_stream s[CL_STREAMS_MAX - 1];
};

unsigned cl_streams_resolve(unsigned streams, long ncpu)
{
	if (!streams)
		streams = ncpu > 0 ? (unsigned)MS_MIN(ncpu, (long)CL_STREAMS_DEFAULT_MAX) : 1;
	return MS_MIN(streams, CL_STREAMS_MAX);
}

unsigned cl_streams_deal(size_t n, const bool *eligible, unsigned k, unsigned *owner)
{
	size_t next = 0;
	unsigned used = 0;
	bool *got = calloc(k ? k : 1, sizeof(*got));

	for (size_t i = 0; i < n; i++) {
		owner[i] = eligible[i] && k ? (unsigned)(next++ % k) : 0;
		if (got && !got[owner[i]]) {
			got[owner[i]] = true;
			used++;
		}
	}
	free(got);
	return used;
}

unsigned cl_streams_open(const struct ms_client *c)
{
	return c->streams ? c->streams->n : 0;
}

struct ms_client *cl_streams_conn(struct ms_client *c, unsigned i)
{
	return c->streams && i < c->streams->n ? c->streams->s[i].sc : NULL;
}

static void stream_drop(struct cl_streams *ss, unsigned i)
{
	/* no BYE: a stream holds nothing but its grants, which go with the
	 * connection, and a dying first connection must not wait for it */
	cl_kill(ss->s[i].sc);
	ms_disconnect(ss->s[i].sc);
	ss->s[i] = ss->s[--ss->n];
	memset(&ss->s[ss->n], 0, sizeof(ss->s[ss->n]));
}

void cl_streams_close(struct ms_client *c)
{
	struct cl_streams *ss = c->streams;

	if (!ss)
		return;
	c->streams = NULL;
	while (ss->n)
		stream_drop(ss, ss->n - 1);
	free(ss);
}

void cl_streams_forget(struct ms_client *c, uint32_t h)
{
	if (!c->streams || h >= CL_MAX_HANDLES)
		return;
	for (unsigned i = 0; i < c->streams->n; i++)
		c->streams->s[i].att[h] = false;
}

/* The first connection's session: 0, or -errno (the server has none). */
static int session_of(ms_client *c, struct cl_streams *ss)
{
	int len;

	if (ss->have_session)
		return 0;
	len = cl_call(c, "session", ms_enc_empty(c->msg, MS_CTRL_MAX, MS_MSG_SESSION),
		      MS_MSG_SESSION_OK);
	if (len < 0)
		return len;
	if (ms_dec_session_ok(c->resp, (size_t)len, &ss->sess))
		return -EPROTO;
	ss->have_session = true;
	return 0;
}

/* One more connection, authenticated like c's: 0 or -errno. */
static int stream_add(ms_client *c, struct cl_streams *ss)
{
	struct ms_client_opts o = c->opts.o;
	char err[256];
	ms_client *sc;

	o.have_client_id = false;      /* a server refuses a second live id */
	o.streams = 1;
	o.transport = strcmp(c->ops->name, "rdma") == 0 ? MS_TRANSPORT_RDMA : MS_TRANSPORT_TCP;
	sc = ms_connect(c->host, c->port, &o, err, sizeof(err));
	if (!sc)
		return -errno;
	ss->s[ss->n++] = (struct cl_stream){ .sc = sc };
	return 0;
}

/* Stream st's own grant of r: 0 or -errno. */
static int stream_attach(ms_region *r, struct cl_streams *ss, struct cl_stream *st)
{
	struct ms_msg_attach m = { .session = ss->sess.session, .handle = r->handle,
				   .mode = MS_MODE_READ };
	struct ms_msg_attach_ok ok;
	ms_client *sc = st->sc;
	int len;

	if (r->handle >= CL_MAX_HANDLES)
		return -EMFILE;
	if (st->att[r->handle])
		return 0;
	memcpy(m.secret, ss->sess.secret, sizeof(m.secret));
	len = cl_call(sc, "attach", ms_enc_attach(sc->msg, MS_CTRL_MAX, &m), MS_MSG_ATTACH_OK);
	if (len < 0)
		return len;
	if (ms_dec_attach_ok(sc->resp, (size_t)len, &ok) || ok.data.len < r->info.size)
		return -EPROTO;
	st->data[r->handle] = ok.data;
	st->att[r->handle] = true;
	return 0;
}

/* Up to want - 1 extra streams attached for r; how many are. */
static unsigned streams_ready(ms_region *r, unsigned want)
{
	ms_client *c = r->c;
	struct cl_streams *ss = c->streams;

	if (!ss && !(ss = c->streams = calloc(1, sizeof(*ss))))
		return 0;
	if (ss->unsupported)
		return 0;
	if (session_of(c, ss)) {
		/* an older server, or a key without the right: one connection */
		ss->unsupported = true;
		c->errmsg[0] = '\0';
		return 0;
	}
	while (ss->n + 1 < want && !stream_add(c, ss))
		;
	for (unsigned i = 0; i < ss->n;) {
		if (stream_attach(r, ss, &ss->s[i]))
			stream_drop(ss, i);     /* gone or refused: without it */
		else
			i++;
	}
	return ss->n;
}

struct srun {
	pthread_mutex_t *lock;
	const struct ms_xfer_cb *cb;
	struct ms_xconn *x;
	int timeout_ms;
	struct ms_seg *segs;           /* this stream's */
	size_t *gidx;                  /* their indices in the caller's */
	size_t n;
	uint64_t *done;                /* per stream bytes done (under lock) */
	unsigned me, k;
	uint64_t total;
	uint64_t bytes;
	int ret;
	struct ms_xmr *mr;             /* its registration of the local span */
};

static void s_seg_done(void *ud, size_t idx)
{
	struct srun *s = ud;

	pthread_mutex_lock(s->lock);
	s->cb->seg_done(s->cb->ud, s->gidx[idx]);
	pthread_mutex_unlock(s->lock);
}

static void s_progress(void *ud, uint64_t done, uint64_t total)
{
	struct srun *s = ud;
	uint64_t sum = 0;

	(void)total;
	pthread_mutex_lock(s->lock);
	s->done[s->me] = done;
	for (unsigned i = 0; i < s->k; i++)
		sum += s->done[i];
	s->cb->progress(s->cb->ud, sum, s->total);
	pthread_mutex_unlock(s->lock);
}

static void *srun_main(void *arg)
{
	struct srun *s = arg;
	struct ms_xfer_cb cb = {
		.seg_done = s->cb && s->cb->seg_done ? s_seg_done : NULL,
		.progress = s->cb && s->cb->progress ? s_progress : NULL,
		.ud = s,
	};

	s->ret = ms_xfer_run(s->x, s->segs, s->n, s->timeout_ms, &cb, &s->bytes);
	return NULL;
}

/* Give stream k's segments a registration of its own of the span they
 * cover, and its grant of the region. */
static int srun_prepare(struct srun *s, struct cl_stream *st, const ms_region *r)
{
	ms_client *sc = st->sc;
	uint8_t *lo = NULL, *hi = NULL;

	if (!sc->x)
		return -ENOTCONN;       /* it died since the last transfer */

	for (size_t i = 0; i < s->n; i++) {
		uint8_t *a = s->segs[i].local, *b = a + s->segs[i].len;

		lo = !lo || a < lo ? a : lo;
		hi = !hi || b > hi ? b : hi;
	}
	if (!s->n)
		return 0;
	int ret = sc->ops->reg_mr(sc->x, lo, (size_t)(hi - lo), &s->mr);

	if (ret)
		return ret;
	for (size_t i = 0; i < s->n; i++) {
		s->segs[i].lmr = s->mr;
		s->segs[i].remote = &st->data[r->handle];
	}
	return 0;
}

static int striped(ms_region *r, const char *what, const struct ms_seg *segs, size_t n,
		   const bool *elig, unsigned k, const struct ms_xfer_cb *cb, uint64_t *bytes)
{
	ms_client *c = r->c;
	struct cl_streams *ss = c->streams;
	pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	unsigned *owner = calloc(n, sizeof(*owner));
	struct ms_seg *mine = malloc(n * sizeof(*mine));
	size_t *gidx = malloc(n * sizeof(*gidx));
	struct srun *sr = calloc(k + 1, sizeof(*sr));
	pthread_t *th = calloc(k, sizeof(*th));
	bool *started = calloc(k, sizeof(*started));
	uint64_t *done = calloc(k, sizeof(*done)), total = 0;
	size_t pos = 0;
	int ret = 0;

	*bytes = 0;
	if (!owner || !mine || !gidx || !sr || !th || !started || !done) {
		ret = cl_err(c, -ENOMEM, "%s: out of memory", what);
		goto out;
	}
	cl_streams_deal(n, elig, k, owner);
	for (size_t i = 0; i < n; i++)
		total += segs[i].len;
	/* sr[k]: what only the first connection may move (the metadata
	 * table a pull reads ahead of the data), moved first: the other
	 * streams' segments are checked against it as they land */
	for (unsigned j = 0; j <= k; j++) {
		sr[j] = (struct srun){ .lock = &lock, .cb = cb, .timeout_ms = c->timeout_ms,
				       .segs = mine + pos, .gidx = gidx + pos, .done = done,
				       .me = j < k ? j : 0, .k = k, .total = total,
				       .x = j && j < k ? ss->s[j - 1].sc->x : c->x };
		/* (a stream without a connection fails in srun_prepare) */
		for (size_t i = 0; i < n; i++)
			if (j < k ? owner[i] == j && elig[i] : !elig[i]) {
				mine[pos] = segs[i];
				gidx[pos++] = i;
			}
		sr[j].n = (size_t)(mine + pos - sr[j].segs);
	}
	if (sr[k].n) {
		srun_main(&sr[k]);
		*bytes = sr[k].bytes;
		if ((ret = sr[k].ret))
			goto done;
		done[0] = 0;
	}
	for (unsigned j = 1; j < k; j++) {
		if (srun_prepare(&sr[j], &ss->s[j - 1], r) ||
		    pthread_create(&th[j], NULL, srun_main, &sr[j]))
			sr[j].ret = -EAGAIN;     /* moved on the first connection below */
		else
			started[j] = true;
	}
	srun_main(&sr[0]);
	*bytes += sr[0].bytes;
	ret = sr[0].ret;
	for (unsigned j = 1; j < k; j++) {
		if (started[j])
			pthread_join(th[j], NULL);
		if (!sr[j].ret)          /* a failed stream's share is counted */
			*bytes += sr[j].bytes;   /* when it moves again below */
	}
	/* a stream that failed: its segments again, on the first connection
	 * (what landed of them lands once more, the same bytes) */
	for (unsigned j = k; j-- > 1;) {
		struct cl_stream *st = &ss->s[j - 1];

		if (sr[j].mr && st->sc->x)
			st->sc->ops->dereg_mr(st->sc->x, sr[j].mr);
		if (!sr[j].ret)
			continue;
		stream_drop(ss, j - 1);
		if (ret)
			continue;
		for (size_t i = 0; i < sr[j].n; i++)
			sr[j].segs[i] = segs[sr[j].gidx[i]];
		sr[j].x = c->x;
		sr[j].bytes = 0;
		srun_main(&sr[j]);
		ret = sr[j].ret;
		*bytes += sr[j].bytes;
	}
done:
	if (ret == -EACCES || ret == -ERANGE)
		ret = cl_err(c, ret, "%s: %s:%s refused access (%s)", what, c->host, c->port,
			     strerror(-ret));
	else if (ret) {
		cl_kill(c);
		ret = cl_err(c, ret, "%s: transfer with %s:%s failed: %s", what, c->host, c->port,
			     strerror(-ret));
	}
out:
	free(owner);
	free(mine);
	free(gidx);
	free(sr);
	free(th);
	free(started);
	free(done);
	return ret;
}

/* The streams c asks for: its option, else the default from the CPU
 * count; over RDMA the default is one stream (a server that dies under a
 * pull striped over several QPs was seen to crash the client in the
 * soft-RoCE stage, not yet understood): more only when asked for. */
static unsigned streams_want(ms_client *c)
{
	if (!c->opts.o.streams && !strcmp(ms_client_transport(c), "rdma"))
		return 1;
	return cl_streams_resolve(c->opts.o.streams, sysconf(_SC_NPROCESSORS_ONLN));
}

bool cl_streams_wanted(ms_region *r, const struct ms_seg *segs, size_t n)
{
	ms_client *c = r->c;
	uint64_t big = 0;

	if (!c->x || n < 2)
		return false;
	for (size_t i = 0; i < n; i++)
		if (segs[i].op == MS_XOP_READ && segs[i].remote == &r->data)
			big += segs[i].len;
	/* the CPU count (a sysfs read) only for a pull big enough */
	return big >= CL_STREAMS_MIN_BYTES && streams_want(c) > 1;
}

int cl_streams_run(ms_region *r, const char *what, const struct ms_seg *segs, size_t n,
		   const struct ms_xfer_cb *cb, uint64_t *bytes)
{
	ms_client *c = r->c;
	unsigned want = streams_want(c);
	unsigned k;
	bool *elig;
	int ret;

	if (!cl_streams_wanted(r, segs, n))
		return cl_run(c, what, segs, n, cb, bytes);
	k = 1 + streams_ready(r, want);
	if (k <= 1)
		return cl_run(c, what, segs, n, cb, bytes);
	elig = malloc(n * sizeof(*elig));
	if (!elig)
		return cl_run(c, what, segs, n, cb, bytes);
	for (size_t i = 0; i < n; i++)
		elig[i] = segs[i].op == MS_XOP_READ && segs[i].remote == &r->data;
	if (bytes == NULL) {
		uint64_t b;

		ret = striped(r, what, segs, n, elig, k, cb, &b);
	} else {
		ret = striped(r, what, segs, n, elig, k, cb, bytes);
	}
	free(elig);
	return ret;
}
