#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# pull_256m.sh - whole-region replication: 256 MiB of random data pushed and
# pulled back byte for byte (verified and --no-verify, to a file and to
# stdout), and smaller regions with 4 KiB and 1 MiB chunks and a memfd
# backing, with non-default queue depth and I/O size.
#
# shellcheck source-path=SCRIPTDIR
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

big=$((256 * 1024 * 1024))
small=$((32 * 1024 * 1024))

start_daemon_or_bail --region big:256M \
	--region c4k:32M:chunk=4K \
	--region c1m:32M:chunk=1M \
	--region mfd:32M:memfd

# A region nobody wrote is zero.
ms -q pull "$(url c4k)" "$SCRATCH/zero.out"
expect_status 0 "pull a fresh 32 MiB region"
head -c "$small" /dev/zero >"$SCRATCH/zero.ref"
same_file "$SCRATCH/zero.ref" "$SCRATCH/zero.out" "a fresh region is all zero"
rm -f "$SCRATCH/zero.out"

# ------------------------------------------------------------ 256 MiB
rand_file "$SCRATCH/big.src" "$big"
ms --json push "$SCRATCH/big.src" "$(url big)"
expect_status 0 "push 256 MiB"
is "$(json_get "$OUT" '["chunks_moved"]' 2>&1)" 4096 "push 256 MiB: all 4096 chunks moved"
is "$(json_get "$OUT" '["bytes"]' 2>&1)" "$big" "push 256 MiB: 256 MiB sent"

ms --json pull "$(url big)" "$SCRATCH/big.out"
expect_status 0 "pull 256 MiB to a file"
same_file "$SCRATCH/big.src" "$SCRATCH/big.out" "the 256 MiB pulled equal the 256 MiB pushed"
is "$(json_get "$OUT" '["bytes"]' 2>&1)" "$big" "pull 256 MiB: bytes"
is "$(json_get "$OUT" '["chunks_total"]' 2>&1)" 4096 "pull 256 MiB: chunks_total"
is "$(json_get "$OUT" '["chunks_moved"]' 2>&1)" 4096 "pull 256 MiB: chunks_moved"
diag "pull 256 MiB: $(json_get "$OUT" '["bytes_per_second"]' 2>&1) B/s"
rm -f "$SCRATCH/big.out"

ms -q pull "$(url big)" "$SCRATCH/big.nv" --no-verify
expect_status 0 "pull 256 MiB --no-verify"
same_file "$SCRATCH/big.src" "$SCRATCH/big.nv" "pull --no-verify returns the same bytes"
rm -f "$SCRATCH/big.nv"

# One-sided reads: over RDMA the server's CPU takes no part in a pull.  The
# daemon serves TCP on the same port too, so the same 256 MiB pulled over
# TCP shows what the server's CPU costs when it does.
if [ "$TRANSPORT" = rdma ]; then
	hz=$(getconf CLK_TCK)
	c0=$(cpu_ticks "$DPID")
	ms -q --transport rdma pull "$(url big)" /dev/null --no-verify
	expect_status 0 "pull 256 MiB over rdma (server CPU measured)"
	c1=$(cpu_ticks "$DPID")
	ms -q --transport tcp pull "$(url big)" /dev/null --no-verify
	expect_status 0 "pull 256 MiB over tcp from the same daemon (server CPU measured)"
	c2=$(cpu_ticks "$DPID")
	rd=$((c1 - c0)) tc=$((c2 - c1))
	diag "server CPU while a client pulled 256 MiB: rdma $rd ticks, tcp $tc ticks ($hz ticks/s)"
	# what RDMA costs the server is connecting (queue pair, control
	# buffers) and a few control messages, whatever the size; the bound
	# leaves room for the noise of an emulated guest
	if [ $((rd * 4)) -lt "$tc" ]; then
		pass "server CPU over rdma ($rd ticks) is under a quarter of tcp's ($tc ticks)"
	else
		fail "server CPU over rdma ($rd ticks) is under a quarter of tcp's ($tc ticks)"
	fi
fi

ms -q pull "$(url big)" -
expect_status 0 "pull 256 MiB to stdout"
same_file "$SCRATCH/big.src" "$OUT" "pull to stdout returns the same bytes"
rm -f "$SCRATCH/big.src" "$OUT"

# ------------------------------------------ chunk sizes and a memfd
while read -r name chunks; do
	rand_file "$SCRATCH/$name.src" "$small"
	ms --json push "$SCRATCH/$name.src" "$(url "$name")"
	expect_status 0 "push 32 MiB into $name"
	is "$(json_get "$OUT" '["chunks_moved"]' 2>&1)" "$chunks" "push $name: $chunks chunks moved"
	ms --json pull "$(url "$name")" "$SCRATCH/$name.out"
	expect_status 0 "pull $name"
	is "$(json_get "$OUT" '["chunks_total"]' 2>&1)" "$chunks" "pull $name: $chunks chunks"
	same_file "$SCRATCH/$name.src" "$SCRATCH/$name.out" "pull $name returns the bytes pushed"
	rm -f "$SCRATCH/$name.out"
done <<EOF
c4k 8192
c1m 32
mfd 512
EOF

# Small I/O and one operation in flight: same bytes, many more requests.
ms -q --queue-depth 1 --max-io 64K pull "$(url c1m)" "$SCRATCH/c1m.qd1"
expect_status 0 "pull c1m with --queue-depth 1 --max-io 64K"
same_file "$SCRATCH/c1m.src" "$SCRATCH/c1m.qd1" "pull with --queue-depth 1 --max-io 64K is exact"
ms -q --queue-depth 64 --max-io 4K pull "$(url c4k)" "$SCRATCH/c4k.qd64"
expect_status 0 "pull c4k with --queue-depth 64 --max-io 4K"
same_file "$SCRATCH/c4k.src" "$SCRATCH/c4k.qd64" "pull with --queue-depth 64 --max-io 4K is exact"

stop_daemon TERM
is "$DSTATUS" 0 "memsyncd exits 0 on SIGTERM"
unlike "$DLOG" "AddressSanitizer|runtime error|LeakSanitizer" "memsyncd log has no sanitizer report"

done_testing
