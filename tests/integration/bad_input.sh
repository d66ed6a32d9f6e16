#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# bad_input.sh - every bad input gets a clear error (exit status and a
# message on stderr), changes nothing (the region's bytes and generation are
# the same before and after), and the daemon goes on serving: unknown
# regions, ranges outside a region, a file larger than the region, bad and
# unreachable URLs, a duplicate --client-id, malformed frames
# (tests/helpers/rawconn), a port already in use, a second writer, and
# clients killed in the middle of a pull or a push.
#
# shellcheck source-path=SCRIPTDIR
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

rsize=$((8 * 1024 * 1024))
big=$((256 * 1024 * 1024))

start_daemon_or_bail --region r:8M --region big:256M
R=$(url r)
BIG=$(url big)
hp=$HOST:$PORT
ref=$SCRATCH/r.ref

rand_file "$ref" "$rsize"
ms -q push "$ref" "$R"
expect_status 0 "setup: push 8 MiB into r"
gen0=$(stat_field r generation)
isnt "$gen0" "" "setup: stat r works"

# intact WHAT - after WHAT the daemon runs, serves r, and r is unchanged
intact() {
	if daemon_alive; then
		pass "$1: the daemon still runs"
	else
		fail "$1: the daemon still runs"
		diag_file "$DLOG"
	fi
	ms -q pull "$R" "$SCRATCH/intact.out"
	expect_status 0 "$1: a pull still works"
	same_file "$ref" "$SCRATCH/intact.out" "$1: region r unchanged"
	is "$(stat_field r generation)" "$gen0" "$1: generation of r unchanged"
}

# fails_with STATUS ERE WHAT - the last run exited STATUS with a matching
# "memsync: ..." message on stderr
fails_with() {
	expect_status "$1" "$3: exit status $1"
	like "$ERR" "$2" "$3: the error says why"
}

# ------------------------------------------------------- unknown region
printf 'precious\n' >"$SCRATCH/keep"
cp "$SCRATCH/keep" "$SCRATCH/keep.ref"
ms pull "$(url nope)" "$SCRATCH/keep"
fails_with 1 "^memsync: pull: .*unknown region 'nope'" "pull of an unknown region"
same_file "$SCRATCH/keep.ref" "$SCRATCH/keep" "a failed pull leaves the local file alone"
ms push "$ref" "$(url nope)"
fails_with 1 "^memsync: push: .*unknown region" "push to an unknown region"
ms cat "$(url nope)" --offset 0 --length 1
fails_with 1 "^memsync: cat: .*unknown region" "cat of an unknown region"
ms stat "$(url nope)"
fails_with 1 "^memsync: stat: .*unknown region" "stat of an unknown region"
intact "unknown regions"

# ------------------------------------------------ ranges outside a region
range_re='range|outside|beyond|exceed|past|too (large|long|big)|larger'
for spec in "$rsize 1" "0 $((rsize + 1))" "$((7 * 1024 * 1024)) 2M" "16M 4K"; do
	read -r off len <<<"$spec"
	ms cat "$R" --offset "$off" --length "$len"
	fails_with 1 "^memsync: cat: .*($range_re)" "cat --offset $off --length $len"
	is "$(file_size "$OUT")" 0 "cat --offset $off --length $len prints no data"
done
intact "ranges outside the region"

# ------------------------------------------- a file larger than the region
rand_file "$SCRATCH/too-big" $((rsize + 4096))
ms push "$SCRATCH/too-big" "$R"
fails_with 1 "^memsync: push: .*(larger|too (large|big|long)|exceed|bigger|size)" \
	"push of a file larger than the region"
intact "a file larger than the region"

ms push "$SCRATCH/no-such-file" "$R"
fails_with 1 "^memsync: push: .*(no-such-file|No such file)" "push of a missing file"
ms pull "$R" "$SCRATCH/no-such-dir/out"
fails_with 1 "^memsync: pull: .*(no-such-dir|No such file)" "pull into a missing directory"
intact "missing local files"

# ------------------------------------------------------------- bad URLs
# A URL that does not parse is a usage error (exit 2).
for u in "http://$hp/r" "memsync://:$PORT/r" "memsync://$HOST:99999/r" \
	"memsync://$HOST:0/r" "memsync://$hp/bad%20name" "memsync://$hp/$(printf 'x%.0s' {1..64})"; do
	ms pull "$u" "$SCRATCH/badurl.out"
	expect_status 2 "pull $u: usage error (exit 2)"
	like "$ERR" "^memsync: " "pull $u: the error says why"
done
ms pull "memsync://$hp" "$SCRATCH/badurl.out"
expect_status 2 "pull of a URL without a region: usage error (exit 2)"

# An address nobody listens on: a port that was free a moment ago.
"$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' \
	>"$SCRATCH/freeport"
ms pull "memsync://$HOST:$(cat "$SCRATCH/freeport")/r" "$SCRATCH/refused.out"
fails_with 1 "^memsync: pull: .*refused" "pull from a port nobody listens on"
intact "bad URLs"

# ------------------------------------------------------ duplicate client id
# A pull into a pipe nobody reads stops once the pipe is full, with its
# connection open; a second connection with the same id must be refused.
ID=0123456789abcdef0123456789ABCDEF
if start_holder big --client-id "$ID"; then
	pass "a pull with --client-id holds its connection open"
	ms --client-id "$ID" stat "$hp"
	fails_with 1 "^memsync: stat: .*(client.?id|$ID|duplicate|already)" \
		"a second connection with the same client id"
	ms --client-id "$ID" pull "$R" "$SCRATCH/dup.out"
	fails_with 1 "^memsync: pull: .*(client.?id|$ID|duplicate|already)" \
		"a pull with the client id of a live connection"
	ms --client-id 0123456789abcdef0123456789abcdee stat "$hp"
	expect_status 0 "another client id is served meanwhile"
	if alive "$HOLDER"; then
		pass "the first connection survived the refused duplicates"
	else
		fail "the first connection survived the refused duplicates"
	fi
else
	fail "a pull with --client-id holds its connection open"
	diag_file "$SCRATCH/holder.err"
fi
if release_holder; then
	is "$(cat "$SCRATCH/holder.rc" 2>&1)" 0 "the first pull then completes"
	is "$(tr -d ' ' <"$SCRATCH/holder.count" 2>&1)" "$big" "the first pull wrote the whole region"
else
	fail "the first pull then completes" "still running after 60 s"
fi
# The id is free again once its connection is gone (the server may notice
# the close a little later).
if wait_for 10 timeout $((20 * SLOW)) "${MSC[@]}" --client-id "$ID" stat "$hp"; then
	pass "the client id can be used again after its connection closed"
else
	fail "the client id can be used again after its connection closed"
fi
intact "duplicate client ids"

# ------------------------------------------------------ malformed frames
for c in bad-magic bad-version bad-type huge-length truncated-header truncated-write garbage; do
	if [ ! -x "$RAWCONN" ]; then
		skip "rawconn $c" "$RAWCONN is not built"
		continue
	fi
	RUN_TIMEOUT=30 run "$RAWCONN" "$HOST" "$PORT" "$c"
	got=$(cat "$OUT")
	if [[ $got =~ ^(closed|status\ -?[1-9][0-9]*)$ ]]; then
		pass "rawconn $c: the server refuses ($got)"
	else
		fail "rawconn $c: the server refuses" "rawconn printed '$got' (exit $RC)"
		diag_file "$ERR" 10
	fi
	intact "rawconn $c"
done

# ------------------------------------------------------- port in use
RUN_TIMEOUT=10 run "$MEMSYNCD" --listen "$hp" --region x:1M
expect_status 1 "a second memsyncd on the same port exits 1"
like "$ERR" "cannot listen on $HOST:$PORT: Address already in use" \
	"a second memsyncd on the same port says so"
intact "a port in use"

# --------------------------------------------------- killed in a pull
# Deterministic: the pull is blocked on a full pipe, so its connection is
# open in the middle of the region when it is killed.
if start_holder big; then
	kill -KILL "$HOLDER"
	pass "a pull blocked in the middle of the region is killed"
else
	fail "a pull blocked in the middle of the region is killed"
fi
release_holder
intact "a pull killed mid-region"

# And one killed while the data flows (small I/O makes the pull long).
# big holds data: a region of zeros is pulled without moving its bytes.
rand_file "$SCRATCH/big.data" "$big"
ms -q push --all "$SCRATCH/big.data" "$BIG"
expect_status 0 "setup: push 256 MiB of data into big"
rm -f "$SCRATCH/big.data"
"${MSC[@]}" -q --queue-depth 1 --max-io 4K pull "$BIG" "$SCRATCH/killed.out" \
	</dev/null >/dev/null 2>"$SCRATCH/killed.err" &
kp=$!
track "$kp"
if wait_for 20 field_is big clients 1 && sleep 0.2 && alive "$kp"; then
	kill -KILL "$kp"
	pass "a pull is killed while data flows"
else
	skip "a pull is killed while data flows" "the pull ended before it could be killed"
fi
kill_wait "$kp"
intact "a pull killed while data flows"

# --------------------------------------- second writer, push killed mid-way
rand_file "$SCRATCH/big.src" "$big"
"${MSC[@]}" -q --queue-depth 1 --max-io 4K push "$SCRATCH/big.src" "$BIG" \
	</dev/null >/dev/null 2>"$SCRATCH/slowpush.err" &
pp=$!
track "$pp"
if wait_for 20 field_is big write_leased true; then
	pass "a slow push holds the write lease"
	rand_file "$SCRATCH/small" 4096
	ms push "$SCRATCH/small" "$BIG"
	if alive "$pp"; then
		fails_with 1 "^memsync: push: .*(lease|busy|held|locked|being written|one writer)" "a second writer"
	else
		skip "a second writer" "the first push ended too soon"
	fi
	if alive "$pp"; then
		kill -KILL "$pp"
		pass "a push is killed while it holds the lease"
	else
		skip "a push is killed while it holds the lease" "the push ended too soon"
	fi
else
	fail "a slow push holds the write lease"
	diag_file "$SCRATCH/slowpush.err"
fi
kill_wait "$pp"
if wait_for 10 field_is big write_leased false; then
	pass "the write lease is free again after the writer died"
else
	fail "the write lease is free again after the writer died"
fi
ms -q push "$SCRATCH/big.src" "$BIG"
expect_status 0 "a new push succeeds after the killed one"
ms -q pull "$BIG" "$SCRATCH/big.out"
expect_status 0 "pull after the new push"
same_file "$SCRATCH/big.src" "$SCRATCH/big.out" "the region holds the new push"
rm -f "$SCRATCH/big.src" "$SCRATCH/big.out"
intact "a push killed mid-way"

stop_daemon TERM
is "$DSTATUS" 0 "memsyncd exits 0 on SIGTERM after all that"
unlike "$DLOG" "AddressSanitizer|runtime error|LeakSanitizer" "memsyncd log has no sanitizer report"

done_testing
