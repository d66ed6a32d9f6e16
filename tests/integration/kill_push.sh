#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# kill_push.sh - a pusher killed at any moment loses nothing committed
# (issue #10): a 32 MiB region (atomic commits, the default) takes
# `memsync push --all` of images that differ in every chunk, each push
# killed with SIGKILL after a random delay between 0 and the time a whole
# push takes (20 times).  After each kill a verified pull returns exactly
# one version: the last committed one, or the one being pushed if its
# commit got through; never a mix, never a hash mismatch.  The daemon
# counts the staging areas the killed writers left (commits_abandoned).
# One push into a commit=direct region, killed half-way, shows the
# contrast (documented in the log, not asserted: it may leave chunks
# unreadable until the next push, as that mode documents).
#
# shellcheck source-path=SCRIPTDIR
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

size=$((32 * MiB))
iters=20

start_daemon_or_bail --region d:32M --region x:32M:commit=direct
D=$(url d)
X=$(url x)

for v in A B C; do
	rand_file "$SCRATCH/$v.img" "$size"
done

now_ms() {
	echo $(($(date +%s%N) / 1000000))
}

# sleep_ms N
sleep_ms() {
	sleep "$(printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)))"
}

# which_version FILE - the name (A, B or C) of the image FILE equals, or "none"
which_version() {
	local v
	for v in A B C; do
		if cmp -s -- "$1" "$SCRATCH/$v.img"; then
			echo "$v"
			return
		fi
	done
	echo none
}

# ------------------------------------------------------------- setup
ms -q push "$SCRATCH/A.img" "$D"
expect_status 0 "setup: push A into d"
ms -q pull "$D" "$SCRATCH/out"
expect_status 0 "setup: pull d"
same_file "$SCRATCH/A.img" "$SCRATCH/out" "setup: d holds A"

# How long one whole push takes (process start included): the range of the
# random delays below.
t0=$(now_ms)
ms -q push --all "$SCRATCH/B.img" "$D"
t1=$(now_ms)
expect_status 0 "setup: an uninterrupted push --all of B"
dur=$((t1 - t0))
[ "$dur" -gt 0 ] || dur=1
diag "one push --all of 32 MiB took $dur ms"
committed=B
abandoned0=$(stat_field d commits_abandoned)
is "$abandoned0" 0 "setup: no commit abandoned yet"

# ------------------------------------------------------ killed pushes
bad_pull=0 mixed=0 kept=0 through=0 finished=0 stuck=0 lost=0
for i in $(seq 1 "$iters"); do
	if [ "$committed" = B ]; then new=C; else new=B; fi
	delay=$((RANDOM * 32768 + RANDOM))
	delay=$((delay % (dur + 1)))
	"${MSC[@]}" -q push --all "$SCRATCH/$new.img" "$D" \
		</dev/null >/dev/null 2>"$SCRATCH/push.$i.err" &
	pp=$!
	track "$pp"
	sleep_ms "$delay"
	kill -KILL "$pp" 2>/dev/null
	st=0
	wait "$pp" 2>/dev/null || st=$?
	[ "$st" -eq 0 ] && finished=$((finished + 1))

	ms pull "$D" "$SCRATCH/out"
	if [ "$RC" -ne 0 ] || grep -qi "do not match" "$ERR"; then
		bad_pull=$((bad_pull + 1))
		diag "iteration $i (pushing $new over $committed, killed after $delay ms):" \
			"pull exit status $RC" "$(cat "$ERR")"
		got=unreadable
	else
		got=$(which_version "$SCRATCH/out")
	fi
	if [ "$st" -eq 0 ] && [ "$got" != "$new" ]; then
		lost=$((lost + 1))
		diag "iteration $i: the push of $new exited 0, but the region holds $got"
	fi
	if [ "$got" = "$committed" ]; then
		kept=$((kept + 1))
	elif [ "$got" = "$new" ]; then
		through=$((through + 1))
		committed=$new
	elif [ "$got" = none ]; then
		mixed=$((mixed + 1))
		diag "iteration $i (pushing $new over $committed, killed after $delay ms," \
			"push exit status $st): the region is neither version"
	fi
	# the dead writer's lease goes with its connection
	if ! wait_for 20 field_is d write_leased false; then
		stuck=$((stuck + 1))
		diag "iteration $i: the lease of the killed writer was still held 20 s later"
	fi
done
diag "$iters killed pushes: $kept left the previous version, $through committed the new one" \
	"($finished of them had finished before the kill)"
is "$bad_pull" 0 "every verified pull after a kill succeeded, no hash mismatch"
is "$mixed" 0 "every pull after a kill returned exactly one committed version"
is "$lost" 0 "every push that exited 0 before its kill had committed its version"
is "$stuck" 0 "every killed writer's lease was free again"

abandoned=$(stat_field d commits_abandoned)
if [[ $abandoned =~ ^[0-9]+$ ]] && [ "$abandoned" -gt 0 ]; then
	pass "stat: commits_abandoned counts the killed writers' staging ($abandoned)"
else
	fail "stat: commits_abandoned counts the killed writers' staging" \
		"commits_abandoned: '$abandoned' after $kept interrupted pushes"
fi
is "$(stat_field d commit_mode)" atomic "stat: d commits atomically"
like "$DLOG" "WARN.*'d'.*uncommitted writes" "the daemon logged an abandoned staging area"

# A push still works, and the region ends at its last committed content.
if [ "$committed" = B ]; then new=C; else new=B; fi
ms -q push --all "$SCRATCH/$new.img" "$D"
expect_status 0 "a push after the killed ones succeeds"
committed=$new

# --------------------------------------------- the contrast: commit=direct
# slow pushes (one 4 KiB write in flight): the first, timed, writes every
# chunk of the empty region; the second is killed half-way through
t0=$(now_ms)
ms -q --queue-depth 1 --max-io 4K push "$SCRATCH/A.img" "$X"
t1=$(now_ms)
expect_status 0 "direct: push A into x"
is "$(stat_field x commit_mode)" direct "stat: x commits in place (commit=direct)"
"${MSC[@]}" -q --queue-depth 1 --max-io 4K push --all "$SCRATCH/B.img" "$X" \
	</dev/null >/dev/null 2>/dev/null &
pp=$!
track "$pp"
sleep_ms $(((t1 - t0) / 2))
kill -KILL "$pp" 2>/dev/null
st=0
wait "$pp" 2>/dev/null || st=$?
wait_for 20 field_is x write_leased false
ms pull "$X" "$SCRATCH/out"
if [ "$RC" -eq 0 ]; then
	diag "direct: a push --all killed in the middle (exit status $st): the pull" \
		"succeeded and returned version $(which_version "$SCRATCH/out")"
else
	diag "direct: a push --all killed in the middle (exit status $st): the pull" \
		"failed (exit status $RC), as commit=direct documents:" "$(head -n 3 "$ERR")"
fi
ms -q push --all "$SCRATCH/C.img" "$X"
expect_status 0 "direct: a whole push repairs x"
ms -q pull "$X" "$SCRATCH/out"
expect_status 0 "direct: pull x"
same_file "$SCRATCH/C.img" "$SCRATCH/out" "direct: x equals its last commit (C)"

# ------------------------------------------------------------- the end
ms pull "$D" "$SCRATCH/out"
expect_status 0 "final verified pull of d"
unlike "$ERR" "do not match" "final pull: no hash mismatch"
same_file "$SCRATCH/$committed.img" "$SCRATCH/out" \
	"d equals its last committed content ($committed) byte for byte"

stop_daemon TERM
is "$DSTATUS" 0 "memsyncd exits 0 on SIGTERM"
unlike "$DLOG" "AddressSanitizer|runtime error|LeakSanitizer" "memsyncd log has no sanitizer report"

done_testing
