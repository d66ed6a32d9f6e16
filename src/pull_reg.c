/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pull_reg.c - a pull's destination registered in pieces ahead of its
 * READs (pull_reg.h).
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "pull_reg.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

static uint64_t piece_bytes = CL_PREG_PIECE_DEFAULT;

void cl_preg_set_piece(uint64_t bytes)
{
	piece_bytes = bytes ? bytes : CL_PREG_PIECE_DEFAULT;
}

/* ms_mem covering [p, p+len): a borrow that registers nothing */
static bool covered(ms_client *c, const void *p, uint64_t len)
{
	const uint8_t *a = p;

	for (const struct ms_mem *m = c->mems; m; m = m->next)
		if (m->mr && a >= m->addr && len <= m->len && (size_t)(a - m->addr) <= m->len - len)
			return true;
	return false;
}

int cl_preg_init(struct cl_preg *g, ms_region *r, uint64_t off, void *dst, uint64_t len)
{
	uint64_t cs = r->info.chunk_size, pc = (piece_bytes + cs - 1) / cs * cs;

	memset(g, 0, sizeof(*g));
	g->c = r->c;
	g->dst = dst;
	g->off = off;
	g->len = len;
	if (len <= pc || covered(r->c, dst, len))
		return cl_borrow(r->c, "pull", dst, len, &g->whole);
	g->piece = pc;
	g->first = off / pc;
	g->n = (size_t)((off + len - 1) / pc - g->first + 1);
	g->l = calloc(g->n, sizeof(*g->l));
	if (!g->l)
		return cl_err(r->c, -ENOMEM, "pull: out of memory");
	return cl_connected(r->c, "pull");
}

size_t cl_preg_extra(const struct cl_preg *g)
{
	return g->piece ? g->n : 0;
}

size_t cl_preg_split(const struct cl_preg *g, struct ms_seg *segs, uint64_t *seg_first,
		     size_t k0, size_t nseg, uint64_t c0, uint32_t cs)
{
	size_t extra = 0;

	if (!g->piece)
		return nseg;
	for (size_t i = k0; i < nseg; i++) {
		const struct ms_seg *s = &segs[i];
		uint64_t a = s->roff / g->piece, b = (s->roff + s->len - 1) / g->piece;

		extra += (size_t)(b - a);
	}
	if (!extra)
		return nseg;
	/* back to front: every segment moves right by the splits before it */
	size_t w = nseg + extra;

	for (size_t i = nseg; i-- > k0;) {
		struct ms_seg s = segs[i];
		uint64_t end = s.roff + s.len, f = seg_first[i];

		for (uint64_t cut = (end - 1) / g->piece * g->piece; cut > s.roff;
		     cut -= g->piece) {
			w--;
			segs[w] = s;
			segs[w].roff = cut;
			segs[w].len = end - cut;
			segs[w].local = (uint8_t *)s.local + (cut - s.roff);
			seg_first[w] = cut / cs - c0;
			end = cut;
		}
		w--;
		segs[w] = s;
		segs[w].len = end - s.roff;
		seg_first[w] = f;
	}
	return nseg + extra;
}

/* piece k's bytes in dst */
static void piece_span(const struct cl_preg *g, size_t k, uint8_t **p, uint64_t *len)
{
	uint64_t a = (g->first + k) * g->piece, b = a + g->piece;

	a = a > g->off ? a : g->off;
	b = b < g->off + g->len ? b : g->off + g->len;
	*p = g->dst + (a - g->off);
	*len = b - a;
}

struct fault_arg {
	uint8_t *p;
	uint64_t len;
};

static void *fault_in(void *ud)
{
	struct fault_arg *a = ud;
	uintptr_t pg = (uintptr_t)sysconf(_SC_PAGESIZE);
	uintptr_t s = (uintptr_t)a->p & ~(pg - 1);

	/* errors (an old kernel, a mapping that cannot be populated) only
	 * leave the work to the registration */
	(void)madvise((void *)s, (uintptr_t)a->p + a->len - s, MADV_POPULATE_WRITE);
	free(a);
	return NULL;
}

static void helper_join(struct cl_preg *g)
{
	if (g->helper)
		pthread_join(g->tid, NULL);
	g->helper = false;
}

/* fault in piece k's pages on a helper thread (nothing when k is out of
 * range or registered already) */
static void helper_start(struct cl_preg *g, size_t k)
{
	struct fault_arg *a;

	helper_join(g);
	if (k >= g->n || g->l[k].mr || !(a = malloc(sizeof(*a))))
		return;
	piece_span(g, k, &a->p, &a->len);
	/* the helper takes no signals (they are the application's) */
	sigset_t all, old;
	int err;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = pthread_create(&g->tid, NULL, fault_in, a);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err) {
		free(a);
		return;
	}
	g->helper = true;
}

static int piece_reg(struct cl_preg *g, size_t k)
{
	uint8_t *p;
	uint64_t len;

	if (g->l[k].mr)
		return 0;
	if (g->helper)
		helper_join(g);      /* it may be faulting in this very piece */
	piece_span(g, k, &p, &len);
	return cl_borrow(g->c, "pull", p, len, &g->l[k]);
}

struct batch_cb {
	const struct ms_xfer_cb *cb;
	size_t base;
	uint64_t done, total;
};

static void batch_done(void *ud, size_t idx)
{
	struct batch_cb *b = ud;

	if (b->cb->seg_done)
		b->cb->seg_done(b->cb->ud, b->base + idx);
}

static void batch_progress(void *ud, uint64_t done, uint64_t total)
{
	struct batch_cb *b = ud;

	(void)total;
	if (b->cb->progress)
		b->cb->progress(b->cb->ud, b->done + done, b->total);
}

int cl_preg_run(struct cl_preg *g, const char *what, struct ms_seg *segs, size_t k0, size_t n,
		const struct ms_xfer_cb *cb, uint64_t *bytes)
{
	static const struct ms_xfer_cb none;
	struct batch_cb b = { .cb = cb ? cb : &none };
	struct ms_xfer_cb bcb = { batch_done, batch_progress, &b };
	size_t i = 0;
	int ret = 0;

	if (bytes)
		*bytes = 0;
	if (!g->piece) {
		for (size_t j = k0; j < n; j++)
			segs[j].lmr = g->whole.mr;
		return cl_run(g->c, what, segs, n, cb, bytes);
	}
	for (size_t j = 0; j < n; j++)
		b.total += segs[j].len;
	while (i < n && !ret) {
		/* one batch: the leading segments that need no piece, then
		 * every segment of the next piece */
		size_t j = i, k = SIZE_MAX;
		uint64_t got = 0;

		while (j < k0)
			j++;
		if (j < n)
			k = (size_t)(segs[j].roff / g->piece - g->first);
		while (j < n && (size_t)(segs[j].roff / g->piece - g->first) == k)
			segs[j++].lmr = NULL;
		if (k != SIZE_MAX && (ret = piece_reg(g, k)))
			break;
		for (size_t m = (i > k0 ? i : k0); m < j; m++)
			segs[m].lmr = g->l[k].mr;
		/* the next piece's pages fault in while these READs fly */
		if (j < n)
			helper_start(g, (size_t)(segs[j].roff / g->piece - g->first));
		b.base = i;
		ret = cl_run(g->c, what, segs + i, j - i, &bcb, &got);
		b.done += got;
		if (bytes)
			*bytes += got;
		i = j;
	}
	helper_join(g);
	return ret;
}

int cl_preg_all(struct cl_preg *g, struct ms_seg *segs, size_t k0, size_t n)
{
	int ret;

	for (size_t j = k0; j < n; j++) {
		size_t k;

		if (!g->piece) {
			segs[j].lmr = g->whole.mr;
			continue;
		}
		k = (size_t)(segs[j].roff / g->piece - g->first);
		if ((ret = piece_reg(g, k)))
			return ret;
		segs[j].lmr = g->l[k].mr;
	}
	return 0;
}

void cl_preg_fini(struct cl_preg *g)
{
	helper_join(g);
	if (!g->c)
		return;
	cl_return(g->c, &g->whole);
	for (size_t k = 0; g->l && k < g->n; k++)
		cl_return(g->c, &g->l[k]);
	free(g->l);
	g->l = NULL;
}
