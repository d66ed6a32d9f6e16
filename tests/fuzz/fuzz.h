/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz.h - what every fuzz target (tests/fuzz/fuzz_*.c) shares: the
 * libFuzzer entry point and FUZZ_ASSERT, which aborts (a crash libFuzzer
 * records, a failed test in the standalone driver) when a parser breaks a
 * promise its header makes about what it returns.
 *
 * A target is built two ways: by clang with -fsanitize=fuzzer
 * (tests/fuzz/build), and by the project's compiler with standalone.c,
 * which runs it over its corpus and regression inputs in `make check`.
 */
#ifndef MS_FUZZ_H
#define MS_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_ASSERT(cond)                                                          \
	do {                                                                       \
		if (!(cond)) {                                                     \
			fprintf(stderr, "%s:%d: broken promise: %s\n", __FILE__,   \
				__LINE__, #cond);                                  \
			abort();                                                   \
		}                                                                  \
	} while (0)

#endif
