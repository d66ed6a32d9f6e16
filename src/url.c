/* SPDX-License-Identifier: Apache-2.0 */
/*
 * url.c - addresses and names: memsync://HOST[:PORT][/REGION] (or the bare
 * HOST:PORT[/REGION] form the CLI accepts), region names, transport names.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "memsync.h"
#include "util.h"

static const char scheme[] = "memsync://";

static bool name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '_' || c == '-';
}

bool ms_name_valid(const char *name)
{
	size_t n;

	if (!name)
		return false;
	for (n = 0; name[n]; n++) {
		if (n >= MS_NAME_MAX || !name_char(name[n]))
			return false;
	}
	/* "." and ".." would become path components in file-backed setups */
	return n > 0 && strcmp(name, ".") != 0 && strcmp(name, "..") != 0;
}

int ms_transport_parse(const char *s, enum ms_transport_kind *out)
{
	if (!s)
		return -EINVAL;
	if (strcmp(s, "auto") == 0)
		*out = MS_TRANSPORT_AUTO;
	else if (strcmp(s, "tcp") == 0)
		*out = MS_TRANSPORT_TCP;
	else if (strcmp(s, "rdma") == 0)
		*out = MS_TRANSPORT_RDMA;
	else
		return -EINVAL;
	return 0;
}

/* A bracketed IPv6 literal's content, [p, p+n): an address inet_pton takes,
 * optionally followed by "%zone" (a link-local scope such as "eth0"). */
static bool ipv6_literal_valid(const char *p, size_t n)
{
	char buf[INET6_ADDRSTRLEN];
	struct in6_addr a;
	const char *pct = memchr(p, '%', n);
	size_t alen = pct ? (size_t)(pct - p) : n;

	if (alen == 0 || alen >= sizeof(buf))
		return false;
	memcpy(buf, p, alen);
	buf[alen] = '\0';
	if (inet_pton(AF_INET6, buf, &a) != 1)
		return false;
	if (pct) {
		size_t zlen = n - alen - 1;

		if (zlen == 0)
			return false;
		for (size_t i = 0; i < zlen; i++)
			if (!name_char(pct[1 + i]))
				return false;
	}
	return true;
}

/* Parse a decimal port in 1..65535 from [p, p+n) into out (normalized, so
 * "07400" becomes "7400"). */
static bool port_parse(const char *p, size_t n, char out[8])
{
	char rev[8];
	unsigned v = 0;
	int k = 0;

	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return false;
		v = v * 10 + (unsigned)(p[i] - '0');
		if (v > 65535)
			return false;
	}
	if (v == 0)
		return false;
	/* print it back without leading zeros */
	do {
		rev[k++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	for (int i = 0; i < k; i++)
		out[i] = rev[k - 1 - i];
	out[k] = '\0';
	return true;
}

int ms_url_parse(const char *s, bool allow_bare, struct ms_url *out)
{
	struct ms_url u;
	const char *p, *host, *hend, *end;
	bool bare;

	if (!s || !out)
		return -EINVAL;
	memset(&u, 0, sizeof(u));

	/* Scheme: ours (case-insensitive, as URI schemes are), or no scheme at
	 * all in the bare form; anything else that looks like a scheme is
	 * refused rather than read as a host name. */
	if (strncasecmp(s, scheme, sizeof(scheme) - 1) == 0) {
		p = s + sizeof(scheme) - 1;
		bare = false;
	} else if (allow_bare && !strstr(s, "://")) {
		p = s;
		bare = true;
	} else {
		return -EINVAL;
	}

	/* Host. */
	if (*p == '[') {
		host = p + 1;
		hend = strchr(host, ']');
		if (!hend || !ipv6_literal_valid(host, (size_t)(hend - host)))
			return -EINVAL;
		p = hend + 1;
	} else {
		host = p;
		while (*p && *p != ':' && *p != '/') {
			/* hostnames and IPv4 literals only; an unbracketed
			 * IPv6 address is ambiguous with the port */
			if (!name_char(*p))
				return -EINVAL;
			p++;
		}
		hend = p;
	}
	if (hend == host || (size_t)(hend - host) >= sizeof(u.host))
		return -EINVAL;
	memcpy(u.host, host, (size_t)(hend - host));

	/* Port: required in the bare form, where the colon is what tells an
	 * address from a file name (as with scp). */
	if (*p == ':') {
		const char *ps = ++p;

		while (*p && *p != '/')
			p++;
		if (!port_parse(ps, (size_t)(p - ps), u.port))
			return -EINVAL;
	} else if (bare) {
		return -EINVAL;
	} else {
		strcpy(u.port, MS_DEFAULT_PORT);
	}

	/* Region: "/" alone means none. */
	if (*p == '/') {
		p++;
		end = p + strlen(p);
		if (end != p) {
			if (!ms_name_valid(p))
				return -EINVAL;
			memcpy(u.region, p, (size_t)(end - p));
		}
	} else if (*p) {
		return -EINVAL; /* junk after the host, e.g. "[::1]x" */
	}

	*out = u;
	return 0;
}
