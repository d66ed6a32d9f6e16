/* SPDX-License-Identifier: Apache-2.0 */
/*
 * progress.c - the progress bar of memsync on stderr (see progress.h).
 */
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "progress.h"
#include "units.h"
#include "util.h"

#define REDRAW_NS 100000000ull /* 10 redraws per second at most */
#define LINE_MAX_COLS 200

void progress_init(struct progress *p, const char *label, uint64_t total, bool allowed)
{
	memset(p, 0, sizeof(*p));
	snprintf(p->label, sizeof(p->label), "%s", label);
	p->total = total;
	p->start_ns = ms_now_ns();
	p->last_ns = p->start_ns;
	p->active = allowed && isatty(STDERR_FILENO);
}

void progress_set_base(struct progress *p, uint64_t base)
{
	p->base = base;
}

static unsigned term_width(void)
{
	struct winsize ws;

	if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 20)
		return ws.ws_col;
	return 80;
}

static void format_eta(double secs, char *buf, size_t len)
{
	unsigned long s;

	if (secs < 0 || secs > 360000.0) {
		snprintf(buf, len, "--:--");
		return;
	}
	s = (unsigned long)(secs + 0.5);
	if (s >= 3600)
		snprintf(buf, len, "%lu:%02lu:%02lu", s / 3600, s / 60 % 60, s % 60);
	else
		snprintf(buf, len, "%lu:%02lu", s / 60, s % 60);
}

size_t progress_format(const struct progress *p, uint64_t now_ns, unsigned width, char *buf,
		       size_t len)
{
	char done_s[32], total_s[32], rate_s[32], eta_s[32], tail[160];
	uint64_t done = MS_MIN(p->done, p->total);
	double secs = (double)(now_ns - p->start_ns) / 1e9;
	double rate = secs > 0 ? (double)done / secs : 0;
	unsigned pct = p->total ? (unsigned)(done * 100 / p->total) : 100;
	int n, tn;

	if (len == 0)
		return 0;
	if (width >= len)
		width = (unsigned)len - 1;

	ms_format_size(done, done_s, sizeof(done_s));
	ms_format_size(p->total, total_s, sizeof(total_s));
	ms_format_rate(rate, rate_s, sizeof(rate_s));
	if (done >= p->total)
		snprintf(eta_s, sizeof(eta_s), "0:00");
	else if (rate > 0)
		format_eta((double)(p->total - done) / rate, eta_s, sizeof(eta_s));
	else
		format_eta(-1, eta_s, sizeof(eta_s));

	/* fixed widths, so the bar does not jitter as the numbers change */
	tn = snprintf(tail, sizeof(tail), " %3u%% %9s / %s  %10s  ETA %-5s", pct, done_s,
		      total_s, rate_s, eta_s);
	if (tn < 0)
		tn = 0;
	n = snprintf(buf, len, "%.20s ", p->label);
	if (n < 0)
		n = 0;

	/* The bar takes what the label and the numbers leave, if that is
	 * enough to be worth drawing. */
	if ((unsigned)n + 2 + 10 + (unsigned)tn <= width) {
		unsigned bw = width - (unsigned)n - 2 - (unsigned)tn;
		unsigned fill = p->total ? (unsigned)((double)bw * (double)done /
						      (double)p->total) : bw;

		if (fill > bw)
			fill = bw;
		buf[n++] = '[';
		for (unsigned i = 0; i < bw; i++)
			buf[n++] = i < fill ? '=' : (i == fill ? '>' : ' ');
		buf[n++] = ']';
		buf[n] = '\0';
	}
	if ((size_t)n + (size_t)tn < len) {
		memcpy(buf + n, tail, (size_t)tn + 1);
		n += tn;
	}
	/* never wider than the terminal: a wrapped line cannot be erased */
	if ((unsigned)n > width) {
		n = (int)width;
		buf[n] = '\0';
	}
	return (size_t)n;
}

static void draw(struct progress *p, uint64_t now)
{
	char line[LINE_MAX_COLS + 8], out[2 * LINE_MAX_COLS + 8];
	unsigned width = MS_MIN(term_width() - 1, (unsigned)LINE_MAX_COLS);
	size_t n = progress_format(p, now, width, line, sizeof(line));
	size_t o = 0;
	ssize_t w;

	out[o++] = '\r';
	memcpy(out + o, line, n);
	o += n;
	/* pad over what is left of a longer previous line */
	for (size_t i = n; i < p->drawn; i++)
		out[o++] = ' ';
	w = write(STDERR_FILENO, out, o);
	(void)w; /* a progress bar that cannot be drawn is not an error */
	p->drawn = n;
	p->last_ns = now;
}

void progress_update(struct progress *p, uint64_t done)
{
	uint64_t now;

	p->done = done;
	if (!p->active)
		return;
	now = ms_now_ns();
	if (now - p->last_ns < REDRAW_NS)
		return;
	draw(p, now);
}

void progress_cb(void *ud, uint64_t done, uint64_t total)
{
	struct progress *p = ud;

	progress_update(p, p->base + done);
}

void progress_end(struct progress *p)
{
	char out[LINE_MAX_COLS + 8];
	size_t o = 0;
	ssize_t w;

	if (!p->active || p->drawn == 0)
		return;
	out[o++] = '\r';
	for (size_t i = 0; i < p->drawn && o < sizeof(out) - 1; i++)
		out[o++] = ' ';
	out[o++] = '\r';
	w = write(STDERR_FILENO, out, o);
	(void)w;
	p->drawn = 0;
}
