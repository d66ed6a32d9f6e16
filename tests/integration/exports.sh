#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# exports.sh - libmemsync exports exactly the functions declared in
# include/memsync.h: src/libmemsync.map lists them, and the built shared
# library's dynamic symbol table holds them and nothing else (the engine's
# own ms_* functions stay local).
#
# shellcheck source-path=SCRIPTDIR
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

lib=$TESTS_BUILDDIR/../.libs/libmemsync.so
header=$TESTS_SRCDIR/../include/memsync.h
map=$TESTS_SRCDIR/../src/libmemsync.map
[ -f "$lib" ] || skip_all "no shared libmemsync (configured with --disable-shared)"
command -v nm >/dev/null || skip_all "nm is not installed"

# a function declaration's first line: "TYPE *?ms_name(" at column 0
want=$(sed -n 's/^[a-z].*[ *]\(ms_[a-z0-9_]*\)(.*/\1/p' "$header" | sort -u)
listed=$(sed -n 's/^[[:space:]]*\(ms_[a-z0-9_]*\);$/\1/p' "$map" | sort -u)
got=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TWDBR]$/ { sub(/@.*/, "", $3); print $3 }' |
	sort -u)

isnt "$want" "" "memsync.h declares functions ($(wc -w <<<"$want") of them)"
is "$listed" "$want" "src/libmemsync.map lists exactly the functions of memsync.h"
is "$got" "$want" "libmemsync.so exports exactly the functions of memsync.h"
is "$(nm -D --defined-only "$lib" | grep -c ' ms_region_create')" 0 \
	"an engine function (ms_region_create) is not exported"
done_testing
