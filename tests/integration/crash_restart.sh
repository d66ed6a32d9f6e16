#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# crash_restart.sh - memsyncd killed (SIGKILL, at random moments, 10 times)
# or stopped (SIGTERM) while a pusher commits whole versions of a file
# region one after the other; restarted on the same file, a verified pull
# returns exactly one version: the last one acknowledged, or the one being
# committed when the server died (its journal record was durable), never
# a mix of two and never a chunk torn by the crash.
#
# shellcheck source-path=SCRIPTDIR
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

size=$((8 * MiB))
img=$SCRATCH/c.img
nver=4
regions=(--region "c:8M:file=$img")
for v in $(seq 1 $nver); do
	rand_file "$SCRATCH/v$v" "$size"
done

# pusher LOG - push v1, v2, ... (--all: every chunk) until killed; LOG gets
# "start N" before each push and "ack N" once it returned 0
pusher() {
	local log=$1 i=0 v
	while :; do
		v=$((i % nver + 1))
		echo "start $v" >>"$log"
		"${MSC[@]}" -q push --all "$SCRATCH/v$v" "$(url c)" </dev/null >/dev/null 2>&1 &&
			echo "ack $v" >>"$log"
		i=$((i + 1))
	done
}

# which FILE - the version FILE equals, or "none"
which_version() {
	local v
	for v in $(seq 1 $nver); do
		cmp -s "$1" "$SCRATCH/v$v" && { echo "$v"; return; }
	done
	echo none
}

# trial N SIGNAL - start, push under load, signal the daemon at a random
# moment, restart, pull
trial() {
	local n=$1 sig=$2 log=$SCRATCH/push.$1.log acked inflight got delay ppid
	start_daemon_or_bail "${regions[@]}"
	# a first acknowledged version, so that "the last acknowledged" exists
	ms -q push --all "$SCRATCH/v1" "$(url c)"
	[ "$RC" = 0 ] || diag "trial $n: the first push failed"
	: >"$log"
	echo "ack 1" >>"$log"
	pusher "$log" &
	ppid=$!
	track "$ppid"
	delay=$(awk -v s="$RANDOM" 'BEGIN { srand(s); printf "%.2f", 0.3 + rand() * 1.5 }')
	sleep "$delay"
	kill "-$sig" "$DPID" 2>/dev/null
	wait_exit "$DPID" 20 || kill_wait "$DPID"
	DPID=
	kill_wait "$ppid"
	acked=$(grep '^ack' "$log" | tail -n 1 | cut -d' ' -f2)
	# every push started after the last acknowledgement may have been
	# committed with its answer lost to the signal (the pusher goes on
	# starting pushes against the dying daemon until it is stopped)
	inflight=$(awk '/^ack/ { s = "" } /^start/ { s = s (s ? "," : "") $2 } END { print s }' \
		"$log")

	start_daemon_or_bail "${regions[@]}"
	ms -q pull "$(url c)" "$SCRATCH/pulled"
	expect_status 0 "trial $n (SIG$sig after ${delay}s): a verified pull after the restart"
	got=$(which_version "$SCRATCH/pulled")
	if [ "$got" = "$acked" ] || [[ ",$inflight," == *",$got,"* ]]; then
		pass "trial $n: the region is version $got (last acknowledged $acked, in flight $inflight)"
	else
		fail "trial $n: the region is version $got" \
			"want the last acknowledged ($acked) or one started after it ($inflight)"
		grep -c '^ack' "$log" | sed 's/^/acknowledged pushes: /' | while read -r l; do diag "$l"; done
	fi
	unlike "$DLOG" "do not match their committed hash" "trial $n: no chunk was torn by the crash"
	stop_daemon TERM
}

for n in $(seq 1 10); do
	trial "$n" KILL
done
trial 11 TERM
trial 12 TERM

done_testing
