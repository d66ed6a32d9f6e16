#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# scripts.sh - the helper scripts respect a user's tree (issue 14, item 7).
# A copy of the sources is configured in place, as README's "Building by
# hand" does; scripts/demo then uses that build (make there, its memsync)
# instead of `make distclean` + an out-of-tree build, and leaves the tree's
# config.status, Makefile and the user's own files alone; perf/run on the
# same tree uses that build too, with no traceback.  Small fake trees check
# the failure paths: a build that fails, a configure that refuses, a
# --build that is no build directory: a message naming --build, never a
# Python traceback.
#
# shellcheck source-path=SCRIPTDIR
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

srcdir=$(cd "$TESTS_SRCDIR/.." && pwd)

# ------------------------------------------------- failure paths (fast)
# perf/run with fake trees: REPO is the directory above perf/
fake=$SCRATCH/fake
mkdir -p "$fake/perf"
cp "$srcdir/perf/run" "$srcdir"/perf/*.py "$fake/perf/"

# perf_run NAME ARGS... - run the fake tree's perf/run; no traceback
perf_run() {
	local name=$1
	shift
	RUN_TIMEOUT=60 run env -u BUILD "$PY" "$fake/perf/run" "$@"
	unlike "$ERR" "Traceback|CalledProcessError" "$name: no Python traceback"
}

# a tree configured in place whose build fails
touch "$fake/config.status"
printf 'all:\n\t@echo "make: the user build fails" >&2; false\n' >"$fake/Makefile"
perf_run "in-place tree, failing make" --dry-run
isnt "$RC" 0 "in-place tree, failing make: perf/run fails"
like "$ERR" "configured in place: using that build \($fake\)" \
	"in-place tree: perf/run says it uses the in-place build"
like "$ERR" "perf/run --build DIR" "in-place tree, failing make: the message names --build DIR"

# a tree configured in place whose make works: that is the build
printf 'all:\n\t@true\n' >"$fake/Makefile"
perf_run "in-place tree" --dry-run
expect_status 0 "in-place tree: perf/run --dry-run exits 0"
like "$OUT" "^build directory: $fake$" "in-place tree: the build directory is the tree itself"

# not configured in place, and configure refuses (as it does when a
# source tree is configured but config.status was hidden from us)
rm -f "$fake/config.status" "$fake/Makefile"
printf '#!/bin/sh\necho "configure: error: source directory already configured; run \\"make distclean\\" there first" >&2\nexit 1\n' \
	>"$fake/configure"
chmod +x "$fake/configure"
perf_run "configure refuses" --dry-run
isnt "$RC" 0 "configure refuses: perf/run fails"
like "$ERR" "configuring build-perf/ failed" "configure refuses: perf/run says what failed"
like "$ERR" "perf/run --build DIR \(or BUILD=DIR" "configure refuses: the message names --build DIR"

perf_run "--build that is no build" --dry-run --build "$SCRATCH/nothing-here"
isnt "$RC" 0 "--build that is no build directory: perf/run fails"
like "$ERR" "not a configured build directory" "--build that is no build directory: says so"

# scripts/demo in a fake tree configured in place: make there, its memsync
mkdir -p "$fake/scripts"
cp "$srcdir/scripts/demo" "$fake/scripts/"
printf '#!/bin/sh\nexit 0\n' >"$fake/scripts/setup-deps"   # nothing to install here
touch "$fake/config.status"
# shellcheck disable=SC2016  # $$@ is for make, then the shell
printf 'all:\n\t@printf "#!/bin/sh\\necho fake-memsync \\"\\$$@\\"\\n" >memsync; chmod +x memsync\ndistclean:\n\trm -f config.status\n' \
	>"$fake/Makefile"
echo "mine" >"$fake/notes.txt"
RUN_TIMEOUT=60 run bash "$fake/scripts/demo" --size 16M
expect_status 0 "demo in a fake in-place tree exits 0"
like "$OUT" "configured in place: using that build" "demo says it uses the in-place build"
like "$OUT" "^fake-memsync demo --size 16M$" "demo ran the in-place build's memsync with its arguments"
check "demo left config.status alone (no make distclean)" test -f "$fake/config.status"
check "demo made no out-of-tree build beside the in-place one" test ! -e "$fake/build"

# a fake in-place tree whose build fails: demo says so and stops
printf 'all:\n\t@echo "the user build fails" >&2; false\n' >"$fake/Makefile"
rm -f "$fake/memsync"
RUN_TIMEOUT=60 run bash "$fake/scripts/demo"
expect_status 1 "demo with a failing in-place build exits 1"
like "$ERR" "the user build fails" "demo shows the end of the failed build's log"

# --------------------------------------------- a real tree, configured in place
# Copy the sources (what git tracks plus new files, never build outputs).
tree=$SCRATCH/tree
mkdir -p "$tree"
# (a git work tree of its own: make distcheck's sources may lie inside
# another repository's work tree, untracked there)
if [ "$(git -C "$srcdir" rev-parse --show-toplevel 2>/dev/null)" = "$(cd "$srcdir" && pwd -P)" ]; then
	(cd "$srcdir" && git ls-files -co --exclude-standard -z |
		while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
		tar --null -T - -cf -) | tar -C "$tree" -xf - ||
		bail_out "cannot copy the sources"
elif [ ! -f "$srcdir/config.status" ]; then
	# not the build directories (this one may be inside the sources)
	builddir=$(cd "$TESTS_BUILDDIR/.." && pwd)
	tar -C "$srcdir" --exclude='./build*' --exclude=./_build --exclude=./autom4te.cache \
		--exclude="./${builddir#"$srcdir"/}" -cf - . |
		tar -C "$tree" -xf - || bail_out "cannot copy the sources"
else
	skip_all "the sources are neither a git work tree nor unconfigured: nothing clean to copy"
fi
# make distcheck's sources are read-only; a user's tree is not
chmod -R u+w "$tree"

# README's "Building by hand", minus make (demo makes it)
RC=0
(cd "$tree" && timeout $((600 * SLOW)) autoreconf -fi && timeout $((600 * SLOW)) ./configure -q) \
	>"$SCRATCH/configure.log" 2>&1 || RC=$?
if [ "$RC" -ne 0 ]; then
	diag_file "$SCRATCH/configure.log"
	bail_out "configuring the copy in place failed"
fi
cp "$tree/config.status" "$SCRATCH/config.status.before"
echo "the user's own file" >"$tree/my-notes.txt"

RUN_TIMEOUT=1200 run bash "$tree/scripts/demo" --size 16M
expect_status 0 "scripts/demo --size 16M on a tree configured in place exits 0"
if [ "$RC" -ne 0 ]; then diag_file "$OUT"; diag_file "$ERR"; fi
like "$OUT" "configured in place: using that build \(make -C $tree" "demo says it uses the in-place build"
like "$OUT" "result: OK" "the demo ran and verified its region"
unlike "$OUT" "distclean" "demo ran no make distclean"
same_file "$SCRATCH/config.status.before" "$tree/config.status" "the tree's config.status is untouched"
check "the tree's Makefile is still there" test -f "$tree/Makefile"
check "the memsync demo ran is the in-place build's" test -x "$tree/memsync"
is "$(cat "$tree/my-notes.txt" 2>&1)" "the user's own file" "the user's own file is untouched"
check "no out-of-tree build/ beside the in-place one" test ! -e "$tree/build"

RUN_TIMEOUT=600 run env -u BUILD "$PY" "$tree/perf/run" --dry-run
expect_status 0 "perf/run --dry-run on a tree configured in place exits 0"
unlike "$ERR" "Traceback|already configured" "perf/run: no traceback, no refusing configure"
like "$OUT" "^build directory: $tree$" "perf/run uses the in-place build"
like "$OUT" "^memsync: $tree/memsync$" "perf/run found its memsync"
like "$OUT" "^bench_sync: $tree/perf/bench_sync$" "perf/run found its benchmark programs"
check "perf/run configured no build-perf/ beside it" test ! -e "$tree/build-perf"

done_testing
