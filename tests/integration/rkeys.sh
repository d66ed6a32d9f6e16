#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# rkeys.sh - keys are bound to the client they were granted to (issue #12,
# item 3): over TCP here, over RDMA in the soft-RoCE stage (tests/rxe),
# a raw client (tests/helpers/rkeyprobe) opens a region for reading and
#  - reads it with its own key (works), then WRITEs with that read-only
#    key: refused (EACCES; over RDMA a remote access error);
#  - disconnects, and from a new connection READs with the old key:
#    refused;
# and then the region equals what was pushed, byte for byte (the probe's
# own check, and a verified pull).
#
# shellcheck source-path=SCRIPTDIR
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

PROBE=${RKEYPROBE:-$TESTS_BUILDDIR/helpers/rkeyprobe}
[ -x "$PROBE" ] || skip_all "$PROBE is not built"

start_daemon_or_bail --region r:4M
src=$SCRATCH/r.src
rand_file "$src" $((4 * MiB))
ms -q push "$src" "$(url r)"
expect_status 0 "push 4 MiB of random bytes"

RUN_TIMEOUT=60 run "$PROBE" "${TRANSPORT:-tcp}" "$HOST" "$PORT" r $((10000 * SLOW))
expect_status 0 "rkeyprobe ran every step"
diag_file "$OUT"
probe() {
	sed -n "s/^$1 //p" "$OUT"
}
is "$(probe read-own)" 0 "the client's own key reads"
is "$(probe write-read-key)" -13 "a read-only client's key cannot write (EACCES)"
is "$(probe read-old-key)" -13 "a disconnected client's old key no longer reads (EACCES)"
is "$(probe unchanged)" 1 "the region's first MiB is unchanged, as the probe read it"

ms -q pull "$(url r)" "$SCRATCH/r.out"
expect_status 0 "pull after the probe"
same_file "$src" "$SCRATCH/r.out" "the region equals the pushed bytes, byte for byte"
if [ "$TRANSPORT" = rdma ]; then
	# which per-client keys the device allows, said once at listen; the
	# soft-RoCE guest's rxe has type 2 memory windows
	diag "$(grep -m1 'per-client keys' "$DLOG")"
	like "$DLOG" "per-client keys: type 2 memory windows" \
		"memsyncd binds a type 2 memory window per client"
fi
stop_daemon
is "$DSTATUS" 0 "memsyncd exits 0 on SIGTERM"
unlike "$DLOG" "AddressSanitizer|runtime error|LeakSanitizer" "memsyncd log has no sanitizer report"
done_testing
