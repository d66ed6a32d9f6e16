/* SPDX-License-Identifier: Apache-2.0 */
/*
 * help.h - the help of each memsync command (`memsync help CMD`,
 * `memsync CMD --help`, `memsync CMD -h`): its usage line, what it does
 * and each of its options on one line.  The general help (all commands,
 * the global options) stays with main.c's usage().
 */
#ifndef MS_CLI_HELP_H
#define MS_CLI_HELP_H

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>

/* Print cmd's help to f.  0, or -ENOENT when cmd has no help (no such
 * command). */
int help_command(const char *cmd, FILE *f);

/* The commands that have help, in order, NULL-terminated. */
extern const char *const help_topics[];

/*
 * Look at the command line before it is parsed for real: is help asked
 * for (-h/--help anywhere, or the command "help"), and is --json given?
 * shortopts and longopts are the parser's own, so option arguments are
 * told from the command name.  When help is asked for, it is printed
 * (usage() for the general help) and the exit status is returned: 0, or
 * 2 for help on an unknown command.  Otherwise -1.  *json is set either
 * way.  Leaves getopt ready for a fresh parse (optind = 0).
 */
int help_prescan(int argc, char **argv, const char *shortopts, const struct option *longopts,
		 void (*usage)(FILE *f), bool *json);

#endif
