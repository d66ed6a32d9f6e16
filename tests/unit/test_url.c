/* SPDX-License-Identifier: Apache-2.0 */
/* test_url.c - address parsing, region names and transport names. */
#include <errno.h>
#include <stdbool.h>

#include "memsync.h"
#include "tap.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

struct good {
	const char *in;
	bool bare;
	const char *host, *port, *region;
};

static const struct good goods[] = {
	{ "memsync://host", false, "host", "7400", "" },
	{ "memsync://host/", false, "host", "7400", "" },
	{ "memsync://host:1234", false, "host", "1234", "" },
	{ "memsync://host:1234/", false, "host", "1234", "" },
	{ "memsync://host:1234/vm0", false, "host", "1234", "vm0" },
	{ "memsync://host/vm0", false, "host", "7400", "vm0" },
	{ "memsync://10.0.0.1:65535/a.b_c-d", false, "10.0.0.1", "65535", "a.b_c-d" },
	{ "memsync://[::1]:7401/r", false, "::1", "7401", "r" },
	{ "memsync://[::1]", false, "::1", "7400", "" },
	{ "memsync://[fe80::1%eth0]:9/r", false, "fe80::1%eth0", "9", "r" },
	{ "memsync://[2001:db8::10]/r", false, "2001:db8::10", "7400", "r" },
	{ "MEMSYNC://Host.Example.com:1", false, "Host.Example.com", "1", "" },
	{ "memsync://h:07400", false, "h", "7400", "" },
	{ "memsync://h:1/..a", false, "h", "1", "..a" },
	{ "host:7400", true, "host", "7400", "" },
	{ "host:7400/vm0", true, "host", "7400", "vm0" },
	{ "host:7400/", true, "host", "7400", "" },
	{ "[::1]:7400/vm0", true, "::1", "7400", "vm0" },
	{ "memsync://host:8/x", true, "host", "8", "x" },
	{ "memsync://h/"
	  "123456789012345678901234567890123456789012345678901234567890123",
	  false, "h", "7400",
	  "123456789012345678901234567890123456789012345678901234567890123" },
};

struct bad {
	const char *in;
	bool bare;
};

static const struct bad bads[] = {
	{ "", false },
	{ "", true },
	{ "http://host:7400/vm0", false },
	{ "http://host:7400/vm0", true },
	{ "memsync:/host", false },
	{ "memsync:host", false },
	{ "memsync://", false },
	{ "memsync:///vm0", false },
	{ "memsync://:7400/vm0", false },
	{ "memsync://host:", false },
	{ "memsync://host:/vm0", false },
	{ "memsync://host:0", false },
	{ "memsync://host:65536", false },
	{ "memsync://host:99999999999999999999", false },
	{ "memsync://host:-1", false },
	{ "memsync://host:+80", false },
	{ "memsync://host:80x", false },
	{ "memsync://host:80 ", false },
	{ "memsync://host/vm0/x", false },
	{ "memsync://host/vm 0", false },
	{ "memsync://host/.", false },
	{ "memsync://host/..", false },
	{ "memsync://host/vm0?x=1", false },
	{ "memsync://host/"
	  "1234567890123456789012345678901234567890123456789012345678901234",
	  false },
	{ "memsync://ho st", false },
	{ "memsync://user@host", false },
	{ "memsync://::1", false },
	{ "memsync://[::1", false },
	{ "memsync://[]:7400", false },
	{ "memsync://[::1]x", false },
	{ "memsync://[::1]7400", false },
	{ "memsync://[nothex]", false },
	{ "memsync://[fe80::1%]", false },
	{ "memsync://[1.2.3.4]", false },
	{ "host:7400", false },
	{ "host", true },
	{ "host/vm0", true },
	{ "[::1]", true },
	{ ":7400", true },
	{ "host:7400/vm0", false },
};

static void test_parse(void)
{
	char big[400];

	for (size_t i = 0; i < ARRAY_LEN(goods); i++) {
		const struct good *g = &goods[i];
		struct ms_url u;
		int rc;

		memset(&u, 'x', sizeof(u));
		rc = ms_url_parse(g->in, g->bare, &u);
		is_int(rc, 0, "parse \"%s\"%s", g->in, g->bare ? " (bare allowed)" : "");
		if (rc == 0) {
			is_str(u.host, g->host, "  host of \"%s\"", g->in);
			is_str(u.port, g->port, "  port of \"%s\"", g->in);
			is_str(u.region, g->region, "  region of \"%s\"", g->in);
		}
	}
	for (size_t i = 0; i < ARRAY_LEN(bads); i++) {
		struct ms_url u, before;

		memset(&u, 'x', sizeof(u));
		before = u;
		is_int(ms_url_parse(bads[i].in, bads[i].bare, &u), -EINVAL,
		       "reject \"%s\"%s", bads[i].in, bads[i].bare ? " (bare allowed)" : "");
		ok(memcmp(&u, &before, sizeof(u)) == 0, "  output untouched");
	}

	/* host too long for struct ms_url (255 bytes max) */
	strcpy(big, "memsync://");
	memset(big + 10, 'a', 256);
	strcpy(big + 266, ":1");
	{
		struct ms_url u;

		is_int(ms_url_parse(big, false, &u), -EINVAL, "reject a 256-byte host");
		big[265] = '\0';
		strcat(big, ":1");
		is_int(ms_url_parse(big, false, &u), 0, "accept a 255-byte host");
		is_int(strlen(u.host), 255, "  whole host kept");
	}
	is_int(ms_url_parse(NULL, true, &(struct ms_url){ 0 }), -EINVAL, "NULL string");
}

static void test_names(void)
{
	char n63[64], n64[65];

	memset(n63, 'a', 63);
	n63[63] = '\0';
	memset(n64, 'a', 64);
	n64[64] = '\0';
	ok(ms_name_valid("vm0"), "vm0 is a name");
	ok(ms_name_valid("A.b_c-9"), "all allowed characters");
	ok(ms_name_valid("..."), "... is a name");
	ok(ms_name_valid(".hidden"), ".hidden is a name");
	ok(ms_name_valid(n63), "63 bytes is a name");
	ok(!ms_name_valid(n64), "64 bytes is not");
	ok(!ms_name_valid(""), "empty is not");
	ok(!ms_name_valid(NULL), "NULL is not");
	ok(!ms_name_valid("."), ". is not");
	ok(!ms_name_valid(".."), ".. is not");
	ok(!ms_name_valid("a/b"), "slash is not allowed");
	ok(!ms_name_valid("a b"), "space is not allowed");
	ok(!ms_name_valid("a:b"), "colon is not allowed");
	ok(!ms_name_valid("caf\xc3\xa9"), "non-ASCII is not allowed");
}

static void test_transport(void)
{
	enum ms_transport_kind k = MS_TRANSPORT_RDMA;

	is_int(ms_transport_parse("auto", &k), 0, "auto");
	is_int(k, MS_TRANSPORT_AUTO, "  is AUTO");
	is_int(ms_transport_parse("tcp", &k), 0, "tcp");
	is_int(k, MS_TRANSPORT_TCP, "  is TCP");
	is_int(ms_transport_parse("rdma", &k), 0, "rdma");
	is_int(k, MS_TRANSPORT_RDMA, "  is RDMA");
	is_int(ms_transport_parse("udp", &k), -EINVAL, "udp rejected");
	is_int(ms_transport_parse("", &k), -EINVAL, "empty rejected");
	is_int(ms_transport_parse("tcp ", &k), -EINVAL, "trailing blank rejected");
	is_int(ms_transport_parse(NULL, &k), -EINVAL, "NULL rejected");
	is_int(k, MS_TRANSPORT_RDMA, "  rejections leave the output alone");
}

int main(void)
{
	test_parse();
	test_names();
	test_transport();
	return tap_done();
}
