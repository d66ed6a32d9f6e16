/* SPDX-License-Identifier: Apache-2.0 */
/*
 * admtool.c - a client of tests/integration/admin.sh that keeps a region
 * open between two steps, so the test can look at it (memsync stat) and
 * act on it (memsync disconnect) in between:
 *
 *   admtool HOST PORT REGION read|write FILE
 *     Connects (MEMSYNC_KEY_FILE: the key to present; MS_TEST_TRANSPORT:
 *     tcp, the default, rdma or auto), opens REGION.
 *     write: writes FILE (the region's size) and commits it; read: pulls
 *     the region (verified).  Prints "ready EPOCH" (0 for a reader) and
 *     waits for a line on stdin (or its end).  Then does it again (a
 *     writer writes FILE with every byte inverted) and prints "ok", or
 *     "failed: MESSAGE".  Exit 0 when the second step worked, 1 when it
 *     failed, 2 on bad usage or a failed first step.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memsync.h"

static int step(ms_region *r, bool write, unsigned char *buf, uint64_t size)
{
	int rc;

	if (!write)
		return ms_pull(r, 0, buf, size, NULL, NULL);
	rc = ms_write(r, 0, buf, size, NULL, NULL);
	return rc ? rc : ms_sync(r);
}

int main(int argc, char **argv)
{
	struct ms_client_opts o = { .opts_size = sizeof(o), .transport = MS_TRANSPORT_TCP };
	struct ms_region_info ri;
	char err[512] = "", line[64];
	unsigned char *buf;
	ms_client *c;
	ms_region *r;
	bool write;
	FILE *f;
	int rc;

	if (argc != 6 || (strcmp(argv[4], "read") && strcmp(argv[4], "write"))) {
		fprintf(stderr, "usage: admtool HOST PORT REGION read|write FILE\n");
		return 2;
	}
	write = strcmp(argv[4], "write") == 0;
	o.key_file = getenv("MEMSYNC_KEY_FILE");
	if (o.key_file && !*o.key_file)
		o.key_file = NULL;
	if (getenv("MS_TEST_TRANSPORT") && *getenv("MS_TEST_TRANSPORT") &&
	    ms_transport_parse(getenv("MS_TEST_TRANSPORT"), &o.transport)) {
		fprintf(stderr, "admtool: bad MS_TEST_TRANSPORT\n");
		return 2;
	}
	c = ms_connect(argv[1], argv[2], &o, err, sizeof(err));
	if (!c) {
		fprintf(stderr, "admtool: connect: %s\n", err);
		return 2;
	}
	r = ms_open(c, argv[3], write ? MS_MODE_WRITE : MS_MODE_READ);
	if (!r) {
		fprintf(stderr, "admtool: open: %s\n", ms_client_errmsg(c));
		ms_disconnect(c);
		return 2;
	}
	ms_region_info(r, &ri);
	buf = calloc(1, ri.size);
	f = fopen(argv[5], "rb");
	if (!buf || !f || (write && fread(buf, 1, ri.size, f) != ri.size)) {
		fprintf(stderr, "admtool: %s: cannot read %llu bytes\n", argv[5],
			(unsigned long long)ri.size);
		return 2;
	}
	fclose(f);
	rc = step(r, write, buf, ri.size);
	if (rc) {
		fprintf(stderr, "admtool: first step: %s\n", ms_client_errmsg(c));
		return 2;
	}
	printf("ready %llu\n", (unsigned long long)ri.epoch);
	fflush(stdout);
	if (!fgets(line, sizeof(line), stdin))
		line[0] = '\0';
	for (uint64_t i = 0; write && i < ri.size; i++)
		buf[i] ^= 0xff;
	rc = step(r, write, buf, ri.size);
	if (rc)
		printf("failed: %s\n", ms_client_errmsg(c));
	else
		printf("ok\n");
	fflush(stdout);
	ms_disconnect(c);
	free(buf);
	return rc ? 1 : 0;
}
