/* SPDX-License-Identifier: Apache-2.0 */
/*
 * map_huge.h - lazy mappings on 2 MiB hugetlbfs pages (map_huge.c).
 *
 * The zero-copy path with a hugetlbfs memfd: chunks are pulled into the
 * staging view as usual, but a huge page of the application's view is
 * mapped (UFFDIO_CONTINUE of its 2 MiB) only once every chunk in it is
 * local, so a page never shows half its bytes.  A fault claims every
 * absent chunk of its huge page (a chunk of 2 MiB or more is one claim
 * for all its huge pages); whoever publishes the last chunk of a huge page
 * maps it and wakes everyone waiting anywhere in it.
 */
#ifndef MS_MAP_HUGE_H
#define MS_MAP_HUGE_H

#include <stdint.h>

#include "map_int.h"

#define MAP_HUGE_PAGE ((uint64_t)2 << 20)

/* Decide whether m goes on hugetlbfs (sets m->huge, m->page_why; ON that
 * cannot be honoured is the error with the reason).  features: what the
 * kernel's userfaultfd offers. */
int map_huge_choose(ms_map *m, uint64_t features, char *err, size_t errlen);
/* memfd_create flags for the mapping's memfd (0 unless huge) */
unsigned map_huge_mfd_flags(const ms_map *m);
/* chunks one fault fetches at most (the chunks of a huge page), else 1 */
uint64_t map_huge_fault_chunks(const ms_map *m);
/* A fault at addr on a huge mapping (t0: when it was read). */
void map_huge_fault(struct worker *w, uint64_t addr, uint64_t t0);
/* Chunks [first, first+n) were just published local: map the huge pages
 * they completed and wake their waiters. */
void map_huge_done(ms_map *m, uint64_t first, uint64_t n);
/* Round [*off, *off+*len) out to whole huge pages. */
void map_huge_round(const ms_map *m, uint64_t *off, uint64_t *len);

#endif
