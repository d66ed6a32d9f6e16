/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmd_lease.c - `memsync lease URL` (who holds a region's write lease, at
 * which epoch, until when) and `memsync lease break URL` (fence the holder
 * at once: an operator's action, which the server logs).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "jsonw.h"

static void hex(const uint8_t id[16], char out[33])
{
	for (int i = 0; i < 16; i++)
		snprintf(out + 2 * i, 3, "%02x", id[i]);
}

static const char *state_name(enum ms_lease_state s)
{
	return s == MS_LEASE_HELD ? "held" : s == MS_LEASE_HANDOVER ? "handover" : "free";
}

void cli_json_lease(struct jsonw *w, const struct ms_lease_info *l)
{
	char id[33];

	hex(l->client_id, id);
	jw_key(w, "lease");
	jw_obj_begin(w);
	jw_kv_str(w, "state", state_name(l->state));
	jw_kv_uint(w, "epoch", l->epoch);
	jw_kv_int(w, "expires_ms", l->expires_ms);
	jw_kv_uint(w, "ttl_ms", l->ttl_ms);
	jw_kv_str(w, "holder", l->holder);
	jw_kv_str(w, "client_id", l->state == MS_LEASE_FREE ? "" : id);
	jw_obj_end(w);
}

static void print_text(const char *region, const struct ms_lease_info *l)
{
	char id[33];

	hex(l->client_id, id);
	switch (l->state) {
	case MS_LEASE_HELD:
		printf("region '%s': written by %s (client id %s), epoch %" PRIu64
		       ", lapses in %.1f s unless renewed (ttl %.1f s)\n",
		       region, l->holder, id, l->epoch, (double)l->expires_ms / 1000,
		       (double)l->ttl_ms / 1000);
		break;
	case MS_LEASE_HANDOVER:
		printf("region '%s': handed over to client id %s, who takes it at epoch %" PRIu64
		       " (the handover lapses in %.1f s)\n",
		       region, id, l->epoch + 1, (double)l->expires_ms / 1000);
		break;
	default:
		printf("region '%s': no writer (last epoch %" PRIu64 ")\n", region, l->epoch);
		break;
	}
}

int cmd_lease(const struct cli_opts *o, int argc, char **argv)
{
	struct ms_lease_info li;
	bool brk = false;
	struct ms_url u;
	ms_client *c;
	int rc;

	if (argc == 2 && strcmp(argv[0], "break") == 0) {
		brk = true;
		argv++;
		argc--;
	}
	if (argc != 1)
		return cli_usage_error("lease", "expected URL or 'break URL'");
	rc = cli_parse_url("lease", argv[0], false, true, &u);
	if (rc)
		return rc;
	c = cli_connect(o, "lease", &u);
	if (!c)
		return CLI_EXIT_FAIL;
	rc = brk ? ms_lease_break(c, u.region, &li) : ms_lease_get(c, u.region, &li);
	if (rc) {
		cli_lib_error(c, "lease", brk ? "break" : "query", rc);
		ms_disconnect(c);
		return CLI_EXIT_FAIL;
	}
	ms_disconnect(c);
	if (o->json) {
		struct jsonw w;

		jw_init(&w, stdout);
		jw_obj_begin(&w);
		jw_kv_str(&w, "region", u.region);
		jw_kv_bool(&w, "broken", brk);
		cli_json_lease(&w, &li);
		jw_obj_end(&w);
		if (jw_finish(&w) < 0) {
			cli_error("lease", "cannot write the JSON output");
			return CLI_EXIT_FAIL;
		}
		return CLI_EXIT_OK;
	}
	if (!brk) {
		print_text(u.region, &li);
	} else if (li.state == MS_LEASE_HELD) {
		printf("broke the write lease of '%s' held by %s at epoch %" PRIu64
		       ": that writer is fenced; the next one gets epoch %" PRIu64 "\n",
		       u.region, li.holder, li.epoch, li.epoch + 1);
	} else {
		printf("region '%s' had no writer (epoch %" PRIu64 ")%s\n", u.region, li.epoch,
		       li.state == MS_LEASE_HANDOVER ? "; its handover is cancelled" : "");
	}
	return fflush(stdout) == 0 ? CLI_EXIT_OK : CLI_EXIT_FAIL;
}
