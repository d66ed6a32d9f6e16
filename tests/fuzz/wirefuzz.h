/* SPDX-License-Identifier: Apache-2.0 */
/*
 * wirefuzz.h - the wire fuzzer's shared state (wirefuzz.c: the server,
 * the checks, raw frames; wirefuzz_round.c: what one round sends).
 */
#ifndef MS_WIREFUZZ_H
#define MS_WIREFUZZ_H

#include <stdbool.h>
#include <stdint.h>

#include "auth.h"
#include "frame.h"
#include "memsync.h"
#include "proto.h"

#define WF_MAX_PAYLOAD (64u << 10)
#define WF_REGION_MAX (256u << 10)

/* One raw connection and what its replies taught it. */
struct wf_conn {
	int fd;
	uint64_t next_id;
	bool free_round;               /* names "free" (else "good") */
	bool have_data;                /* an OPEN_OK: handle, keys */
	uint32_t handle;
	struct ms_rdesc data, meta;
	uint64_t nchunks;
	bool have_lease;               /* an OPEN_OK for writing */
	uint64_t epoch;
	bool have_stage;               /* a STAGE_OK: its first area */
	struct ms_stage_seg seg;
	uint8_t staged[WF_REGION_MAX]; /* what we wrote at staging offsets */
	uint8_t reply[64u << 10];
};

struct wf {
	uint64_t seed, rng;
	bool verbose, failed;
	int tap_n;
	unsigned long rounds, frames, mutated, replies, closed;
	int server_warnings;
	unsigned long answered[128];    /* successful replies by message type */
	unsigned long data_ok[8];       /* successful READ/WRITE replies by frame type */
	ms_server *s;
	char port[8];
	ms_client *good, *statc;
	ms_region *gr;
	uint8_t *mirror, *mirror_next, *pulled;
	/* authentication (unless --no-auth): the fuzzer's keys, read on
	 * both regions and read-write on "free" */
	bool auth, no_auth;
	struct ms_authkey key_read, key_write;
	char dir[64];                  /* the key files */
	unsigned long auth_ok, auth_refused;
};
extern struct wf wf;

uint64_t wf_rnd(void);
uint64_t wf_below(uint64_t n);
bool wf_chance(unsigned pct);
void wf_fill(void *p, size_t len);
void wf_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

int wf_recv(struct wf_conn *c, int timeout_ms, struct ms_frame *f, uint8_t *pay, size_t cap);
void wf_hangup(struct wf_conn *c);
int wf_send(struct wf_conn *c, struct ms_frame *hdr, const void *pay, uint32_t plen,
	    bool mut, struct ms_frame *f);
int wf_ctrl(struct wf_conn *c, const void *msg, int mlen, bool mut, size_t *rlen);

/* The key handshake on c (wirefuzz.c): 0, or the round is over. */
int wf_auth(struct wf_conn *c, const struct ms_authkey *key);

/* One round: connect, speak, hang up. */
void wf_round(const char *port, uint64_t size, uint32_t chunk);

#endif
