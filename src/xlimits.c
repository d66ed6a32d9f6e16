/* SPDX-License-Identifier: Apache-2.0 */
/*
 * xlimits.c - resource limits of the shared server loop (see xlimits.h).
 *
 * Connections are counted per source address by walking the peer list at
 * accept (at most max_conns peers, a short walk next to an accept system
 * call).  A refusal opens a burst: its first refusal is logged with the
 * peer's address, the others until MS_XLIM_BURST_NS later are counted and
 * summed up in one line when the next burst starts (or by the tick).
 *
 * Idle peers: a peer must complete its first control exchange (HELLO, and
 * the authentication handshake before it) within the idle timeout of its
 * accept; later, a peer that is in the middle of a frame or has replies
 * queued that it does not read (the driver's stalled()) is closed once it
 * made no progress for the idle timeout.  An established peer at a frame
 * boundary with nothing queued is legitimately quiet (a lazy map that has
 * all it needs) and stays: the connection limits bound those, and TCP
 * keepalive finds the ones whose host went away.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "transport.h"
#include "xlimits.h"
#include "xsrvloop.h"

#define TICK_MIN_NS (10ull * 1000000ull)
#define TICK_MAX_NS (1000ull * 1000000ull)

void ms_xlimits_init(struct ms_xlimits *lim, const struct ms_xsrv_opts *o)
{
	*lim = (struct ms_xlimits){ 0 };
	lim->max_conns = o && o->max_conns ? o->max_conns : MS_XLIM_MAX_CONNS;
	lim->max_per_addr = o && o->max_conns_per_addr ? o->max_conns_per_addr
						       : MS_XLIM_MAX_PER_ADDR;
	lim->idle_ns = (uint64_t)(o && o->idle_timeout_ms ? o->idle_timeout_ms
							 : MS_XLIM_IDLE_MS) * 1000000ull;
	lim->max_peer_mem = o && o->max_peer_mem ? o->max_peer_mem : MS_XLIM_PEER_MEM;
	lim->max_mem = o && o->max_mem ? o->max_mem : MS_XLIM_MEM;
}

void ms_xlimits_addr(const char *name, char *out, size_t len)
{
	const char *end;
	size_t n;

	if (*name == '[') {
		name++;
		end = strchr(name, ']');
	} else {
		end = strrchr(name, ':');
	}
	n = end ? (size_t)(end - name) : strlen(name);
	snprintf(out, len, "%.*s", (int)n, name);
}

/* The burst before this one is over: say how many it refused. */
static void burst_summary(struct ms_xloop *l)
{
	struct ms_xlimits *lim = &l->lim;

	if (lim->burst_refused)
		ms_xloop_log(l, MS_LOG_WARN,
			     "%lu more connection(s) refused over the limits (the last from %s)",
			     lim->burst_refused, lim->burst_last);
	lim->burst_refused = 0;
}

int ms_xlimits_admit(struct ms_xloop *l, const char *name)
{
	struct ms_xlimits *lim = &l->lim;
	char addr[sizeof(((struct ms_xlpeer *)0)->addr)];
	unsigned same = 0;
	uint64_t now = ms_now_ns();
	int rc = 0;

	ms_xlimits_addr(name, addr, sizeof(addr));
	if (lim->nconns >= lim->max_conns) {
		rc = -EMFILE;
	} else {
		for (struct ms_xlpeer *p = l->peers; p && same < lim->max_per_addr; p = p->next)
			same += strcmp(p->addr, addr) == 0;
		if (same >= lim->max_per_addr)
			rc = -EAGAIN;
	}
	if (!rc)
		return 0;
	__atomic_fetch_add(&lim->refused, 1, __ATOMIC_RELAXED);
	if (now < lim->burst_end) {
		lim->burst_refused++;
		snprintf(lim->burst_last, sizeof(lim->burst_last), "%s", addr);
		return rc;
	}
	burst_summary(l);
	lim->burst_end = now + MS_XLIM_BURST_NS;
	if (rc == -EMFILE)
		ms_xloop_log(l, MS_LOG_WARN,
			     "connection from %s refused: %u connections (the limit); further "
			     "refusals in the next %llu s are counted, not logged",
			     addr, lim->nconns, MS_XLIM_BURST_NS / 1000000000ull);
	else
		ms_xloop_log(l, MS_LOG_WARN,
			     "connection from %s refused: %u connections from that address (the "
			     "limit); further refusals in the next %llu s are counted, not logged",
			     addr, same, MS_XLIM_BURST_NS / 1000000000ull);
	return rc;
}

void ms_xlimits_join(struct ms_xloop *l, struct ms_xlpeer *p)
{
	ms_xlimits_addr(p->pub.name, p->addr, sizeof(p->addr));
	p->born = p->seen = ms_now_ns();
	l->lim.nconns++;
	__atomic_fetch_add(&l->lim.accepted, 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&l->lim.open, 1, __ATOMIC_RELAXED);
	if (!l->lim.next_tick)
		l->lim.next_tick = p->born + MS_MIN(MS_MAX(l->lim.idle_ns / 4, TICK_MIN_NS),
						    TICK_MAX_NS);
}

void ms_xlimits_leave(struct ms_xloop *l, struct ms_xlpeer *p)
{
	l->lim.nconns--;
	__atomic_fetch_sub(&l->lim.open, 1, __ATOMIC_RELAXED);
	l->lim.mem -= p->mem;
	p->mem = 0;
	if (l->lim.mem < l->lim.max_mem / 2)
		l->lim.mem_logged = false;
}

bool ms_xlimits_mem(struct ms_xloop *l, struct ms_xlpeer *p, size_t bytes)
{
	struct ms_xlimits *lim = &l->lim;

	lim->mem = lim->mem - p->mem + bytes;
	p->mem = bytes;
	if (lim->mem > __atomic_load_n(&lim->mem_peak, __ATOMIC_RELAXED))
		__atomic_store_n(&lim->mem_peak, lim->mem, __ATOMIC_RELAXED);
	if (lim->mem < lim->max_mem / 2)
		lim->mem_logged = false;
	if (bytes >= lim->max_peer_mem) {
		if (!p->mem_logged)
			ms_xloop_log(l, MS_LOG_WARN,
				     "peer %s: holds %zu bytes of replies and requests (limit %zu): "
				     "not read until it takes its replies", p->pub.name, bytes,
				     lim->max_peer_mem);
		p->mem_logged = true;
		return true;
	}
	if (bytes && lim->mem >= lim->max_mem) {
		if (!lim->mem_logged)
			ms_xloop_log(l, MS_LOG_WARN,
				     "peers hold %zu bytes of replies and requests (limit %zu; "
				     "%s holds %zu): peers that hold any are not read until "
				     "they drain", lim->mem, lim->max_mem, p->pub.name, bytes);
		lim->mem_logged = true;
		return true;
	}
	return false;
}

void ms_xlimits_seen(struct ms_xloop *l, struct ms_xlpeer *p)
{
	p->seen = l->now;
}

void ms_xlimits_tick(struct ms_xloop *l, uint64_t now)
{
	struct ms_xlimits *lim = &l->lim;
	unsigned long long ms = (unsigned long long)(lim->idle_ns / 1000000ull);
	struct ms_xlpeer *p, *next;

	if (!lim->next_tick || now < lim->next_tick)
		return;
	lim->next_tick = l->peers ? now + MS_MIN(MS_MAX(lim->idle_ns / 4, TICK_MIN_NS),
						 TICK_MAX_NS) : 0;
	if (now >= lim->burst_end)
		burst_summary(l);
	for (p = l->peers; p; p = next) {
		next = p->next;
		if (p->dead || p->deferred)
			continue;
		if (!p->established && now - p->born >= lim->idle_ns) {
			__atomic_fetch_add(&lim->idle_closed, 1, __ATOMIC_RELAXED);
			ms_xloop_close_peer(l, p, MS_LOG_INFO,
					    "no handshake within the idle timeout (%llu ms); "
					    "disconnected", ms);
		} else if (p->established && now - p->seen >= lim->idle_ns &&
			   l->lops->stalled && l->lops->stalled(l, p)) {
			__atomic_fetch_add(&lim->idle_closed, 1, __ATOMIC_RELAXED);
			ms_xloop_close_peer(l, p, MS_LOG_INFO,
					    "stalled for the idle timeout (%llu ms) in the middle "
					    "of a frame or with replies it does not read; "
					    "disconnected", ms);
		}
	}
}

uint64_t ms_xlimits_next(const struct ms_xloop *l)
{
	return l->peers ? l->lim.next_tick : 0;
}

void ms_xlimits_keepalive(int fd)
{
	int on = 1, idle = 60, intvl = 10, cnt = 6;

	/* best effort: a socket without keepalive still has the idle rules */
	(void)setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on));
	(void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
	(void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
	(void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
}
