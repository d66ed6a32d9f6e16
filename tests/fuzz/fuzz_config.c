/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_config.c - libFuzzer target: memsyncd's config file parser
 * (src/daemon/config.c, msd_config_read) and through it every setting's
 * parser (region specs, listen addresses, sizes, transports, log levels).
 * An accepted file yields regions with valid names, nonzero page-multiple
 * sizes and legal chunk sizes, no name twice; a refusal is -EINVAL with a
 * "FILE:LINE: " message.  The first line is also given to the region spec
 * and listen address parsers directly.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "daemon/config.h"
#include "fuzz.h"
#include "units.h"

static void region_ok(const struct msd_region *r)
{
	FUZZ_ASSERT(ms_name_valid(r->name));
	FUZZ_ASSERT(r->size && r->size % (uint64_t)sysconf(_SC_PAGESIZE) == 0);
	FUZZ_ASSERT(r->chunk_size == 0 ||
		    (r->chunk_size >= MS_CHUNK_MIN && r->chunk_size <= MS_CHUNK_MAX &&
		     !(r->chunk_size & (r->chunk_size - 1))));
	FUZZ_ASSERT((r->backing == MS_BACKING_FILE) == (r->path != NULL));
}

static void first_line(const uint8_t *data, size_t size)
{
	char line[512], host[256], port[8], err[256];
	struct msd_region r;
	size_t n = 0;

	while (n < size && n < sizeof(line) - 1 && data[n] != '\n')
		n++;
	memcpy(line, data, n);
	line[n] = '\0';
	if (msd_parse_region(line, &r, err, sizeof(err)) == 0) {
		region_ok(&r);
		msd_region_free(&r);
	}
	if (msd_parse_listen(line, host, port, err, sizeof(err)) == 0) {
		FUZZ_ASSERT(host[0] && strlen(host) < sizeof(host));
		FUZZ_ASSERT(port[0] && strlen(port) <= 5);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct msd_config c;
	char err[512], diff[256];
	FILE *f;
	int rc;

	first_line(data, size);
	if (size == 0)
		return 0;
	f = fmemopen((void *)data, size, "r");
	if (!f)
		return 0;
	msd_config_init(&c);
	err[0] = '\0';
	rc = msd_config_read(&c, f, "fuzz.conf", err, sizeof(err));
	fclose(f);
	if (rc) {
		FUZZ_ASSERT(rc == -EINVAL);
		FUZZ_ASSERT(strncmp(err, "fuzz.conf:", 10) == 0);
	} else {
		FUZZ_ASSERT(c.host[0] && c.port[0]);
		for (size_t i = 0; i < c.nregions; i++) {
			region_ok(&c.regions[i]);
			for (size_t j = 0; j < i; j++) {
				FUZZ_ASSERT(strcmp(c.regions[i].name, c.regions[j].name) != 0);
				(void)msd_region_diff(&c.regions[j], &c.regions[i], diff,
						      sizeof(diff));
			}
		}
	}
	msd_config_free(&c);
	return 0;
}
