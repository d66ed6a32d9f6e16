/* SPDX-License-Identifier: Apache-2.0 */
/*
 * standalone.c - a main() for a fuzz target without libFuzzer: runs
 * LLVMFuzzerTestOneInput over every file in the directories (or files)
 * given, each in a buffer of exactly its size (so the sanitizers see any
 * read past it).  Without arguments it runs the target's corpus and
 * regression inputs, $TESTS_SRCDIR/fuzz/{corpus,regress}/FUZZ_NAME, as a
 * TAP test (`make check`): a crash or a broken promise aborts it.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

#ifndef FUZZ_NAME
#error "FUZZ_NAME: the target's name"
#endif

static int run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	long len;

	if (!f)
		return -errno;
	if (fseek(f, 0, SEEK_END) || (len = ftell(f)) < 0 || fseek(f, 0, SEEK_SET)) {
		fclose(f);
		return -EIO;
	}
	buf = malloc(len ? (size_t)len : 1);
	if (!buf || fread(buf, 1, (size_t)len, f) != (size_t)len) {
		free(buf);
		fclose(f);
		return -EIO;
	}
	fclose(f);
	/* an empty input gets a zero-sized allocation: any read is caught */
	if (!len) {
		free(buf);
		buf = malloc(0);
	}
	LLVMFuzzerTestOneInput(buf, (size_t)len);
	free(buf);
	return 0;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Run every regular file of dir (sorted, dot files skipped): how many, or
 * -errno. */
static long run_dir(const char *dir)
{
	struct stat st;
	struct dirent *de;
	char **names = NULL, path[4096];
	size_t n = 0, cap = 0;
	long done = 0;
	DIR *d;

	if (stat(dir, &st) == 0 && S_ISREG(st.st_mode))
		return run_file(dir) ? -EIO : 1;
	d = opendir(dir);
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		if (n == cap) {
			char **g = realloc(names, (cap = cap ? cap * 2 : 64) * sizeof(*g));

			if (!g)
				break;
			names = g;
		}
		if (!(names[n] = strdup(de->d_name)))
			break;
		n++;
	}
	closedir(d);
	if (n > 1)
		qsort(names, n, sizeof(*names), cmp_names);
	for (size_t i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
			if (run_file(path)) {
				fprintf(stderr, "%s: cannot read\n", path);
				done = -EIO;
				break;
			}
			done++;
		}
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return done;
}

int main(int argc, char **argv)
{
	const char *src = getenv("TESTS_SRCDIR");
	char dir[4096];
	long n, total = 0;
	int bad = 0;

	if (argc > 1) {
		for (int i = 1; i < argc; i++) {
			n = run_dir(argv[i]);
			if (n < 0) {
				fprintf(stderr, "%s: %s\n", argv[i], strerror((int)-n));
				return 1;
			}
			total += n;
		}
		printf("%s: %ld inputs, no crash\n", FUZZ_NAME, total);
		return 0;
	}
	if (!src) {
		printf("Bail out! TESTS_SRCDIR is not set (run from make check, or give "
		       "directories)\n");
		return 1;
	}
	printf("1..2\n");
	/* the corpus: never empty */
	snprintf(dir, sizeof(dir), "%s/fuzz/corpus/%s", src, FUZZ_NAME);
	n = run_dir(dir);
	if (n <= 0)
		bad = 1;
	printf("%sok 1 - corpus/%s: %ld inputs\n", n > 0 ? "" : "not ", FUZZ_NAME, n);
	/* the inputs that once crashed: kept forever (may be none yet) */
	snprintf(dir, sizeof(dir), "%s/fuzz/regress/%s", src, FUZZ_NAME);
	n = run_dir(dir);
	if (n < 0)
		bad = 1;
	printf("%sok 2 - regress/%s: %ld inputs\n", n >= 0 ? "" : "not ", FUZZ_NAME, n);
	return bad;
}
