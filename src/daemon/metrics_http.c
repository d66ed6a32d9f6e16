/* SPDX-License-Identifier: Apache-2.0 */
/*
 * metrics_http.c - the metrics listener (metrics_http.h): libmicrohttpd
 * for HTTP, the engine's public metrics calls for the numbers, and
 * metrics_fmt.c for the text.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "log.h"
#include "metrics_fmt.h"
#include "metrics_http.h"
#include "netaddr.h"

#if MHD_VERSION < 0x00097002
typedef int msd_mhd_result;
#else
typedef enum MHD_Result msd_mhd_result;
#endif

struct msd_metrics {
	struct MHD_Daemon *d;
	ms_server *srv;
	unsigned port;
	double start_time;            /* CLOCK_REALTIME, seconds */
	double start_mono;            /* CLOCK_MONOTONIC, seconds */
};

static double now_s(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ------------------------------------------------------------ a scrape */

/* The exposition of m's server into b: 0 or -errno. */
static int collect(struct msd_metrics *m, struct msd_mbuf *b)
{
	struct msd_metrics_snap s = {
		.version = PACKAGE_VERSION,
		.transport = ms_server_transport(m->srv),
		.start_time = m->start_time,
		.uptime = now_s(CLOCK_MONOTONIC) - m->start_mono,
	};
	struct ms_region_stat *st = NULL;
	struct msd_region_snap *rs = NULL;
	size_t n = 0, k = 0;
	int ret;

	s.srv.size = sizeof(s.srv);
	ret = ms_server_metrics(m->srv, &s.srv);
	if (ret < 0)
		return ret;
	ret = ms_server_stat(m->srv, NULL, &st, &n);
	if (ret < 0)
		return ret;
	rs = calloc(n ? n : 1, sizeof(*rs));
	if (!rs) {
		free(st);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		if (st[i].moved_to[0])
			continue;       /* migrated away: a tombstone, not served here */
		rs[k].st = st[i];
		rs[k].m.size = sizeof(rs[k].m);
		rs[k].have_m = ms_server_region_metrics(m->srv, st[i].name, &rs[k].m) == 0;
		k++;
	}
	s.regions = rs;
	s.nregions = k;
	ret = msd_metrics_format(b, &s);
	free(rs);
	free(st);
	return ret;
}

static msd_mhd_result reply(struct MHD_Connection *c, unsigned status, const char *type,
			    char *body, size_t len, bool allow_get)
{
	struct MHD_Response *r;
	msd_mhd_result ret;

	r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	if (allow_get)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static msd_mhd_result text_reply(struct MHD_Connection *c, unsigned status, const char *msg,
				 bool allow_get)
{
	char *body = strdup(msg);

	if (!body)
		return MHD_NO;
	return reply(c, status, "text/plain; charset=utf-8", body, strlen(body), allow_get);
}

static msd_mhd_result on_request(void *cls, struct MHD_Connection *c, const char *url,
				 const char *method, const char *version,
				 const char *upload_data, size_t *upload_data_size,
				 void **req_cls)
{
	struct msd_metrics *m = cls;
	struct msd_mbuf b = { 0 };
	int ret;

	(void)version;
	(void)upload_data;
	(void)upload_data_size;
	(void)req_cls;
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return text_reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET\n", true);
	if (strcmp(url, "/metrics") != 0)
		return text_reply(c, MHD_HTTP_NOT_FOUND, "not found: the metrics are at /metrics\n",
				  false);
	ret = collect(m, &b);
	if (ret < 0) {
		msd_mbuf_free(&b);
		ms_log(MS_LOG_WARN, "metrics: cannot collect them: %s", strerror(-ret));
		return text_reply(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "cannot collect the metrics\n",
				  false);
	}
	return reply(c, MHD_HTTP_OK, MSD_METRICS_CONTENT_TYPE, b.p, b.len, false);
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char buf[512];
	size_t n;

	(void)cls;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	n = strlen(buf);
	while (n && buf[n - 1] == '\n')
		buf[--n] = '\0';
	ms_log(MS_LOG_WARN, "metrics: %s", buf);
}

/* ------------------------------------------------------------ lifecycle */

struct msd_metrics *msd_metrics_start(const char *host, const char *port, bool insecure,
				      ms_server *srv, char *err, size_t errlen)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICSERV | AI_PASSIVE };
	struct addrinfo *res = NULL;
	const union MHD_DaemonInfo *info;
	struct msd_metrics *m;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG;
	int rc, e;

	if (!insecure && !msd_host_loopback(host)) {
		snprintf(err, errlen, "metrics: refusing to listen on '%s': not a loopback "
			 "address, and the metrics name every region (--insecure allows it)",
			 host && *host ? host : "(any address)");
		errno = EACCES;
		return NULL;
	}
	rc = getaddrinfo(host && *host ? host : NULL, port, &hints, &res);
	if (rc != 0) {
		snprintf(err, errlen, "metrics: cannot resolve %s:%s: %s", host, port,
			 gai_strerror(rc));
		errno = EINVAL;
		return NULL;
	}
	m = calloc(1, sizeof(*m));
	if (!m) {
		e = errno;
		freeaddrinfo(res);
		snprintf(err, errlen, "metrics: out of memory");
		errno = e;
		return NULL;
	}
	m->srv = srv;
	m->start_time = now_s(CLOCK_REALTIME);
	m->start_mono = now_s(CLOCK_MONOTONIC);
	if (res->ai_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	errno = 0;
	m->d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, m,
				MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
				MHD_OPTION_SOCK_ADDR, res->ai_addr,
				MHD_OPTION_CONNECTION_LIMIT, (unsigned)MSD_METRICS_MAX_CONNS,
				MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)MSD_METRICS_TIMEOUT_S,
				MHD_OPTION_END);
	e = errno ? errno : EADDRINUSE;
	freeaddrinfo(res);
	if (!m->d) {
		snprintf(err, errlen, "metrics: cannot listen on %s:%s: %s", host, port,
			 strerror(e));
		free(m);
		errno = e;
		return NULL;
	}
	info = MHD_get_daemon_info(m->d, MHD_DAEMON_INFO_BIND_PORT);
	m->port = info ? info->port : 0;
	return m;
}

unsigned msd_metrics_port(const struct msd_metrics *m)
{
	return m->port;
}

void msd_metrics_stop(struct msd_metrics *m)
{
	if (!m)
		return;
	MHD_stop_daemon(m->d);
	free(m);
}
