/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_cli_help.c - the CLI's "Did you mean ...?" (edit distance, nearest
 * command) and the JSON object of a failure (errno names, the object's
 * text).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli/errjson.h"
#include "cli/suggest.h"
#include "tap.h"

static const char *const cmds[] = { "pull", "push", "cat", "stat", "demo", "map", "lease",
				    "migrate", "help" };
#define NCMDS (sizeof(cmds) / sizeof(cmds[0]))

static const char *nearest(const char *w)
{
	const char *s = suggest_nearest(w, cmds, NCMDS);

	return s ? s : "(none)";
}

static void test_distance(void)
{
	is_int(suggest_distance("pull", "pull"), 0, "distance to itself is 0");
	is_int(suggest_distance("", "pull"), 4, "from the empty word: its length");
	is_int(suggest_distance("pull", ""), 4, "to the empty word: its length");
	is_int(suggest_distance("pul", "pull"), 1, "a deletion costs 1");
	is_int(suggest_distance("pulll", "pull"), 1, "an insertion costs 1");
	is_int(suggest_distance("pell", "pull"), 1, "a substitution costs 1");
	is_int(suggest_distance("plul", "pull"), 1, "a transposition costs 1 (Damerau)");
	is_int(suggest_distance("tsat", "stat"), 1, "a transposition at the start costs 1");
	is_int(suggest_distance("ca", "abc"), 3, "optimal string alignment: 'ca' -> 'abc' is 3");
	is_int(suggest_distance("kitten", "sitting"), 3, "kitten/sitting: 3");
	is_int(suggest_distance("stat", "push"), 4, "unrelated words: 4");
	is_int(suggest_distance("migrate", "pull"), suggest_distance("pull", "migrate"),
	       "the distance is symmetric");
}

static void test_nearest(void)
{
	is_str(nearest("pul"), "pull", "pul -> pull");
	is_str(nearest("pusj"), "push", "pusj -> push");
	is_str(nearest("stats"), "stat", "stats -> stat");
	is_str(nearest("mpa"), "map", "mpa -> map (transposition)");
	is_str(nearest("migrat"), "migrate", "migrat -> migrate");
	is_str(nearest("mig"), "migrate", "mig -> migrate (the only command it begins)");
	is_str(nearest("leas"), "lease", "leas -> lease");
	is_str(nearest("frobnicate"), "(none)", "frobnicate: nothing near");
	is_str(nearest(""), "(none)", "the empty word: nothing");
	is_str(nearest("p"), "map", "p: 'map' is within 2 (and pull/push are not)");
	is_str(nearest("pxll"), "pull", "pxll: pull (1) beats push (2)");
	is_str(nearest("pu"), "pull", "pu: the first of pull and push, both at 2");
	ok(suggest_nearest("xyzzyq", cmds, NCMDS) == NULL, "a long unrelated word: NULL");
	is_str(suggest_nearest("cat", cmds, NCMDS), "cat", "an exact match is itself");
	ok(suggest_nearest("pull", cmds, 0) == NULL, "no candidates: NULL");
}

static void test_errname(void)
{
	is_str(errjson_errname(ENOENT), "ENOENT", "ENOENT's name");
	is_str(errjson_errname(ECONNREFUSED), "ECONNREFUSED", "ECONNREFUSED's name");
	is_str(errjson_errname(EINVAL), "EINVAL", "EINVAL's name");
	is_str(errjson_errname(EPIPE), "EPIPE", "EPIPE's name");
	ok(errjson_errname(0) == NULL, "0 names no error");
	ok(errjson_errname(-ENOENT) == NULL, "a negative number names no error");
	ok(errjson_errname(100000) == NULL, "an unknown number names no error");
}

static char buf[1024];

static int write_obj(const char *cmd, const char *msg, int err, int status)
{
	FILE *f = fmemopen(buf, sizeof(buf), "w");
	int rc;

	if (!f)
		tap_bail("fmemopen: %s", strerror(errno));
	rc = errjson_write(f, cmd, msg, err, status);
	fclose(f);
	return rc;
}

static void test_object(void)
{
	is_int(write_obj("pull", "unknown region 'x'", ENOENT, 1), 0, "errjson_write succeeds");
	is_str(buf, "{\"error\":\"unknown region 'x'\",\"errno\":2,\"errname\":\"ENOENT\","
	       "\"command\":\"pull\",\"status\":1}\n", "the object: error, errno, errname, "
	       "command, status, one line");
	is_int(write_obj(NULL, "say \"hi\"\n", EINVAL, 2), 0, "no command");
	is_str(buf, "{\"error\":\"say \\\"hi\\\"\\n\",\"errno\":22,\"errname\":\"EINVAL\","
	       "\"status\":2}\n", "no command key; the message is escaped");
	is_int(write_obj("x", "m", 0, 1), 0, "errno 0");
	ok(strstr(buf, "\"errno\":5,\"errname\":\"EIO\"") != NULL, "errno 0 becomes EIO: %s", buf);
	is_int(write_obj("x", "m", 100000, 1), 0, "an errno without a name");
	ok(strstr(buf, "\"errno\":100000,\"errname\":null") != NULL,
	   "an errno without a name: errname null: %s", buf);
}

int main(void)
{
	test_distance();
	test_nearest();
	test_errname();
	test_object();
	return tap_done();
}
