/* SPDX-License-Identifier: Apache-2.0 */
/*
 * progress.h - a one-line progress bar on stderr for long transfers.
 *
 * Drawn only when stderr is a terminal and the caller allows it (not
 * --quiet, not --json); redrawn at most about 10 times a second; shows
 * percent, bytes, rate and ETA, and erases itself at the end so the
 * summary line that follows starts on a clean line.
 */
#ifndef MS_PROGRESS_H
#define MS_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>

struct progress {
	char label[80];
	uint64_t total;      /* bytes */
	uint64_t base;       /* added to the done value of progress_cb */
	uint64_t start_ns;
	uint64_t last_ns;    /* last redraw */
	uint64_t done;
	size_t drawn;        /* columns of the line on screen, 0 = none */
	bool active;
};

/* Start a bar for total bytes; allowed = the caller's permission (false
 * under --quiet/--json).  The bar stays inactive unless stderr is a tty. */
void progress_init(struct progress *p, const char *label, uint64_t total, bool allowed);
/* Later reports add base to their done value (transfers done in windows). */
void progress_set_base(struct progress *p, uint64_t base);
/* Record done bytes; redraws when 100 ms passed since the last redraw. */
void progress_update(struct progress *p, uint64_t done);
/* An ms_progress_fn: ud is the struct progress; done is relative to base,
 * the callback's total is ignored (the bar knows the whole total). */
void progress_cb(void *ud, uint64_t done, uint64_t total);
/* Erase the bar (if drawn). */
void progress_end(struct progress *p);

/* Format the bar line for a given width into buf (exposed for tests).
 * Returns the number of characters written (< len). */
size_t progress_format(const struct progress *p, uint64_t now_ns, unsigned width, char *buf,
		       size_t len);

#endif
