#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# starve.sh - readers under a steady writer for 30 s (issue 10, item 6):
# tests/unit/test_hold's starve case, run long.  A writer commits
# full-region versions without pause while two consistent readers and one
# default reader pull the whole region again and again: every pull
# succeeds (no EIO) and every consistent pull equals exactly one version.
# Its checks are reported here one by one.
#
#   MS_STARVE_SECONDS   duration (default 30)
#   MS_STARVE_WRITER    "push": the writer is a remote client that
#                       ms_push()es each version (needs atomic remote
#                       commits; see test_hold.c)
#
# shellcheck source-path=SCRIPTDIR
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

bin=$TESTS_BUILDDIR/unit/test_hold
[ -x "$bin" ] || skip_all "tests/unit/test_hold is not built"
[ "$TRANSPORT" = rdma ] && skip_all "test_hold speaks TCP on 127.0.0.1 only"

secs=${MS_STARVE_SECONDS:-30}
MS_STARVE_SECONDS=$secs timeout $((secs * 4 + 120)) "$bin" >"$SCRATCH/hold.tap" 2>&1
rc=$?
n=0
while IFS= read -r line; do
	case $line in
	"ok "*) pass "test_hold: ${line#* - }"; n=$((n + 1)) ;;
	"not ok "*) fail "test_hold: ${line#* - }"; n=$((n + 1)) ;;
	"#"*) printf '%s\n' "$line" ;;
	esac
done <"$SCRATCH/hold.tap"
if [ "$rc" -eq 0 ] && [ "$n" -gt 0 ]; then
	pass "test_hold ran ${secs} s of starve and exited 0 ($n checks)"
else
	fail "test_hold exited $rc after $n checks" "$(tail -n 20 "$SCRATCH/hold.tap")"
fi
done_testing
