#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# limits.sh - memsyncd's resource limits against misbehaving peers
# (memsyncd(8) --max-conns, --max-conns-per-addr, --idle-timeout,
# --max-peer-mem; docs/security.md, "Resource limits"): a peer that sends
# nothing, or HELLO and half a frame header and then silence, is closed after the idle
# timeout; a flood of connections from one address over the per-address
# limit is refused at accept, logged once, while a client from another
# address pulls; a client that pipelines HOT requests (128 KiB replies)
# without reading does not grow the daemon's memory (VmRSS) past its bound
# while another client pulls.  Every case ends with a verified pull that
# equals the pushed bytes.  TCP over 127.0.0.x only (it binds 127.0.0.2).
#
# shellcheck source-path=SCRIPTDIR
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

if [ "$TRANSPORT" = rdma ]; then
	skip_all "TCP limits (the RDMA side is tested in the soft-RoCE stage)"
fi
if [ ! -x "$RAWCONN" ]; then
	skip_all "$RAWCONN is not built"
fi

# A sanitizer build keeps freed memory in quarantine, which VmRSS would
# count: measure what is live.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=1"
start_daemon_or_bail --transport tcp --region r:8M --region hr:64M:chunk=4K \
	--max-conns 64 --max-conns-per-addr 4 --idle-timeout 1 --max-peer-mem 1M
R=$(url r)
ref=$SCRATCH/r.ref
rand_file "$ref" $((8 * MiB))
ms -q push "$ref" "$R"
expect_status 0 "setup: push 8 MiB into r"
rand_file "$SCRATCH/hr.ref" $((64 * MiB))
ms -q push "$SCRATCH/hr.ref" "$(url hr)"
expect_status 0 "setup: push 64 MiB into hr (every chunk is hot)"

# intact WHAT - the daemon runs and a verified pull of r equals what was pushed
intact() {
	if daemon_alive; then
		pass "$1: the daemon still runs"
	else
		fail "$1: the daemon still runs"
		diag_file "$DLOG"
	fi
	ms -q pull "$R" "$SCRATCH/intact.out"
	expect_status 0 "$1: a verified pull still works"
	same_file "$ref" "$SCRATCH/intact.out" "$1: r equals the pushed bytes"
}

rss_kib() {
	awk '/^VmRSS:/ { print $2 }' "/proc/$DPID/status"
}

# ------------------------------------------------------------ idle peers
for c in "hold 5" stall; do
	t0=$(date +%s%N)
	# shellcheck disable=SC2086 # the case and its argument
	RUN_TIMEOUT=30 run "$RAWCONN" "$HOST" "$PORT" $c
	ms_taken=$((($(date +%s%N) - t0) / 1000000))
	is "$(cat "$OUT")" closed "rawconn $c: the daemon closes the idle peer"
	check "rawconn $c: after the idle timeout of 1 s (${ms_taken} ms)" \
		test "$ms_taken" -ge 900 -a "$ms_taken" -lt 5000
	intact "rawconn $c"
done
like "$DLOG" "peer $HOST:[0-9]+: no handshake within the idle timeout" \
	"the log names the idle peer that never said HELLO"
like "$DLOG" "peer $HOST:[0-9]+: stalled for the idle timeout" \
	"the log names the peer stalled in half a frame after its HELLO"

# ------------------------------------------------------------ a flood
refusals() {
	grep -cE "connection from .* refused|connection\(s\) refused" "$DLOG"
}
n0=$(refusals)
"$RAWCONN" "$HOST" "$PORT" flood 40 127.0.0.2 6 >"$SCRATCH/flood.out" 2>&1 &
FLOOD=$!
track "$FLOOD"
wait_for 20 grep -q admitted "$SCRATCH/flood.out"
is "$(cat "$SCRATCH/flood.out")" "admitted 4 refused 36" \
	"flood: 4 of 40 connections from 127.0.0.2 admitted, the rest refused at accept"
ms -q pull "$R" "$SCRATCH/flood.pull"
expect_status 0 "flood: a client from $HOST pulls meanwhile"
same_file "$ref" "$SCRATCH/flood.pull" "flood: ... the bytes it pushed"
is "$(($(refusals) - n0))" 1 "flood: the refusals are logged once for the burst"
like "$DLOG" "connection from 127\\.0\\.0\\.2 refused" "flood: ... with the address"
wait_exit "$FLOOD" 30
intact "flood"

# ------------------------------------------------- a client that does not read
sleep 1
rss0=$(rss_kib)
"$RAWCONN" "$HOST" "$PORT" nonreader hr 5 >"$SCRATCH/nonreader.out" 2>&1 &
NR=$!
track "$NR"
sleep 3
ms -q pull "$R" "$SCRATCH/nr.pull"
expect_status 0 "non-reader: another client pulls meanwhile"
same_file "$ref" "$SCRATCH/nr.pull" "non-reader: ... the bytes it pushed"
rss1=$(rss_kib)
wait_exit "$NR" 30
diag "non-reader: $(cat "$SCRATCH/nonreader.out"); VmRSS $rss0 KiB before, $rss1 KiB during"
check "non-reader: the daemon's memory grew by less than 16 MiB ($((rss1 - rss0)) KiB; bound 1 MiB)" \
	test $((rss1 - rss0)) -lt $((16 * 1024))
like "$DLOG" "peer $HOST:[0-9]+: holds [0-9]+ bytes of replies and requests \\(limit 1048576\\)" \
	"non-reader: hitting the bound is logged, with the peer"
intact "non-reader"

stop_daemon
is "$DSTATUS" 0 "memsyncd stops cleanly"
done_testing
