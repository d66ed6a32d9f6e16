/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_url.c - libFuzzer target: the address parser (src/url.c,
 * ms_url_parse, bare and with the scheme), region names and the size
 * parser (src/units.c) the CLI and daemon read their arguments with.  An
 * accepted URL has a host, a port in 1..65535 and a valid region name or
 * none; an accepted size formats without overflow.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "memsync.h"
#include "units.h"

static void url(const char *s, bool bare)
{
	struct ms_url u;
	char *end;
	long port;

	if (ms_url_parse(s, bare, &u) != 0)
		return;
	FUZZ_ASSERT(u.host[0] && strlen(u.host) < sizeof(u.host));
	port = strtol(u.port, &end, 10);
	FUZZ_ASSERT(u.port[0] && !*end && port >= 1 && port <= 65535);
	FUZZ_ASSERT(!u.region[0] || ms_name_valid(u.region));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1), buf[64];
	enum ms_transport_kind tk;
	uint64_t v;

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	url(s, false);
	url(s, true);
	if (ms_name_valid(s))
		FUZZ_ASSERT(strlen(s) >= 1 && strlen(s) <= MS_NAME_MAX);
	if (ms_parse_size(s, &v) == 0)
		FUZZ_ASSERT(strlen(ms_format_size(v, buf, sizeof(buf))) < sizeof(buf));
	(void)ms_transport_parse(s, &tk);
	free(s);
	return 0;
}
