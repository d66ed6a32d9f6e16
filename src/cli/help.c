/* SPDX-License-Identifier: Apache-2.0 */
/*
 * help.c - per-command help and the help dispatch (see help.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "errjson.h"
#include "help.h"
#include "suggest.h"

struct cmd_help {
	const char *name;
	const char *usage;    /* after "memsync " */
	const char *about;
	const char *options;  /* one line each, "" for none */
};

static const struct cmd_help helps[] = {
	{ "pull", "pull [OPTIONS] URL FILE|DIR/|-",
	  "Copy a whole region into FILE, into DIR/REGION, or onto stdout (\"-\").\n"
	  "A regular FILE is replaced only when the pull completed; a device or a\n"
	  "pipe is written in place.  Stdout must not be a terminal; a reader that\n"
	  "closes the pipe early ends memsync quietly, like cat.\n",
	  "      --no-verify     skip the per-chunk XXH3-128 check\n"
	  "      --streams N     connections (or RDMA queue pairs) a large transfer\n"
	  "                      is striped over (default: CPUs, at most 4)\n"
	  "      --json          a JSON object with the transfer statistics (not with -)\n" },
	{ "push", "push [OPTIONS] FILE URL",
	  "Make the region's first size(FILE) bytes equal FILE, sending only the\n"
	  "chunks that differ, then commit them as one new generation.\n",
	  "      --all           send every chunk, changed or not\n"
	  "      --streams N     accepted; a push writes over one connection\n"
	  "      --json          a JSON object with the transfer statistics\n" },
	{ "cat", "cat [OPTIONS] URL --offset N --length N",
	  "Write bytes [N, N+length) of a region to stdout.  A reader that closes\n"
	  "the pipe early ends memsync quietly, like cat.\n",
	  "      --offset N      first byte (K, M, G, T suffixes)\n"
	  "      --length N      number of bytes (K, M, G, T suffixes)\n"
	  "      --streams N     connections (or RDMA queue pairs) a large transfer\n"
	  "                      is striped over (default: CPUs, at most 4)\n" },
	{ "stat", "stat [OPTIONS] URL|HOST:PORT",
	  "Show the regions of a server, or the one region a URL names: size,\n"
	  "chunk size, generation, clients and the write lease.\n",
	  "      --json          one JSON object instead of the table\n" },
	{ "disconnect", "disconnect [OPTIONS] URL|HOST:PORT CLIENT",
	  "Close one client's connection (an operator action, logged by the server\n"
	  "with who asked).  CLIENT is the ID column of 'memsync stat'; a write\n"
	  "lease it holds is fenced first, so nothing it has not committed lands.\n",
	  "      --json          one JSON object {\"disconnected\": CLIENT}\n" },
	{ "lease", "lease [OPTIONS] URL | lease break URL",
	  "Show who holds the region's write lease (holder, epoch, expiry); with\n"
	  "\"break\", fence the lease's holder at once (an operator action).\n",
	  "      --json          one JSON object instead of the text\n" },
	{ "demo", "demo [--size SIZE] [--chunk SIZE] [--dirty PERCENT]",
	  "Pull, change and push a generated region through an in-process server\n"
	  "on 127.0.0.1 and verify the result byte for byte.\n",
	  "      --size SIZE     size of the region (default 256M)\n"
	  "      --chunk SIZE    chunk size, a power of two 4K..16M (default 64K)\n"
	  "      --dirty PERCENT percentage of the pages changed (default 3)\n"
	  "      --json          one JSON object with the figures\n" },
	{ "map", "map [OPTIONS] URL",
	  "Map a region lazily: pages arrive on first touch and from background\n"
	  "prefetch; report how it went.\n",
	  "      --touch seq|random  read all of it in that chunk order; print the\n"
	  "                      XXH3-128 of the mapping and the progress\n"
	  "      --write         map it writable (takes the region's write lease)\n"
	  "      --dirty PERCENT with --write: change PERCENT of the pages\n"
	  "      --seed N        seed of --dirty and --touch random (default 1)\n"
	  "      --sync          with --write: push the written chunks and commit\n"
	  "      --refresh       drop local chunks that changed on the server\n"
	  "      --no-prefetch   only pull what is touched\n"
	  "      --hot-first     prefetch the server's hot chunks first\n"
	  "      --streams N     prefetch over N connections (threads; default 2)\n"
	  "      --wait          wait until all of it is local (prefetch only, nothing\n"
	  "                      touched) and report the time from open\n"
	  "      --huge auto|on|off  2 MiB hugetlbfs pages: auto (when enough are\n"
	  "                      free), on (or fail saying why), off\n"
	  "      --json          one JSON object with the figures\n" },
	{ "migrate", "migrate [OPTIONS] URL HOST:PORT | migrate --status|--abort URL",
	  "Move the region from its server (A) to memsyncd at HOST:PORT (B) while\n"
	  "clients keep using it; wait, showing the phase, then print the downtime\n"
	  "and the bytes moved.  --status shows B's view of a migration of URL's\n"
	  "region, --abort stops it before the switch (A keeps the region).\n",
	  "      --mode hybrid|precopy|postcopy|stopcopy  the method (default hybrid)\n"
	  "      --downtime MS   pre-copy's downtime target (default 10)\n"
	  "      --max-rounds N  pre-copy rounds at most (default 8, hybrid 2)\n"
	  "      --path FILE     B keeps the region in FILE (default: memory)\n"
	  "      --max-bandwidth SIZE  B copies at most SIZE bytes a second\n"
	  "      --advertise HOST:PORT  where A's redirects send clients\n"
	  "      --no-wait       return once B started\n"
	  "      --status        B's view of the migration of URL's region\n"
	  "      --abort         stop the migration before the switch\n"
	  "      --json          JSON objects instead of the text\n" },
	{ "help", "help [COMMAND]",
	  "Show the help of COMMAND (the same as 'memsync COMMAND --help'), or the\n"
	  "general help.\n",
	  "" },
};

const char *const help_topics[] = {
	"pull", "push", "cat", "stat", "disconnect", "lease", "demo", "map", "migrate", "help", NULL,
};

int help_command(const char *cmd, FILE *f)
{
	for (size_t i = 0; i < MS_ARRAY_SIZE(helps); i++) {
		const struct cmd_help *h = &helps[i];

		if (strcmp(h->name, cmd) != 0)
			continue;
		fprintf(f, "Usage: memsync %s\n\n%s", h->usage, h->about);
		if (h->options[0])
			fprintf(f, "\nOptions:\n%s", h->options);
		fprintf(f, "\nGlobal options (--transport, --timeout, --key-file, --tls-ca, -q,\n"
			"-v, ...) and URLs: see 'memsync --help'.\n");
		return 0;
	}
	return -ENOENT;
}

static int help_unknown(const char *cmd)
{
	const char *near = suggest_nearest(cmd, help_topics, MS_ARRAY_SIZE(help_topics) - 1);

	if (near && strcmp(near, "help") != 0)
		return cli_usage_error("help", "unknown command '%s'. Did you mean '%s'?", cmd,
				       near);
	return cli_usage_error("help", "unknown command '%s'", cmd);
}

int help_prescan(int argc, char **argv, const char *shortopts, const struct option *longopts,
		 void (*usage)(FILE *f), bool *json)
{
	char **v = malloc(((size_t)argc + 1) * sizeof(*v));
	const char *topic = NULL;
	bool help = false;
	int c, li, first;

	*json = false;
	if (!v)
		return -1;   /* the real parse reports what goes wrong */
	memcpy(v, argv, ((size_t)argc + 1) * sizeof(*v));
	opterr = 0;
	optind = 0;
	for (;;) {
		li = -1;
		c = getopt_long(argc, v, shortopts, longopts, &li);
		if (c == -1)
			break;
		if (c == 'h')
			help = true;
		else if (li >= 0 && strcmp(longopts[li].name, "json") == 0)
			*json = true;
	}
	/* getopt moved the non-options to the end: v[optind] is the command */
	first = optind;
	if (first < argc && strcmp(v[first], "help") == 0) {
		/* "help --help" is the help of help */
		topic = first + 1 < argc ? v[first + 1] : help ? "help" : NULL;
		help = true;
	} else if (first < argc) {
		topic = v[first];
	}
	optind = 0;
	if (!help) {
		free(v);
		return -1;
	}
	errjson_enable(*json);
	if (topic) {
		int rc = help_command(topic, stdout) == 0 ? CLI_EXIT_OK : help_unknown(topic);

		free(v);
		if (rc)
			return rc;
	} else {
		free(v);
		usage(stdout);
	}
	return fflush(stdout) == 0 ? CLI_EXIT_OK : CLI_EXIT_FAIL;
}
