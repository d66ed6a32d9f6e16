#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# cli_migrate.sh - the command line of `memsync migrate`: its help, usage
# errors (exit 2), --status and --abort of a migration that does not exist
# (a clear error, exit 1), the MIGRATION column and object of `stat`, and
# one small migration between two daemons on this host: the JSON summary,
# the source's stat pointing at the destination, the bytes at the
# destination.  (Migration under load and its failure cases are
# tests/integration/migrate.sh.)
#
# shellcheck source-path=SCRIPTDIR
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

# ------------------------------------------------------------------ help
ms --help
expect_status 0 "memsync --help exits 0"
for w in "migrate URL HOST:PORT" "--mode hybrid\|precopy\|postcopy\|stopcopy" --downtime \
	--max-rounds --path --no-wait "migrate --status URL" "migrate --abort URL"; do
	like "$OUT" "$w" "memsync --help mentions $w"
done

# ---------------------------------------------------------- usage errors
usage_case() {
	local what=$1
	shift
	ms "$@"
	expect_status 2 "usage error: $what"
	like "$ERR" "^memsync: " "usage error: $what: says memsync: ..."
}
usage_case "no arguments" migrate
usage_case "one URL" migrate memsync://127.0.0.1:1/r
usage_case "three arguments" migrate memsync://127.0.0.1:1/r 127.0.0.1:2 x
usage_case "source names no region" migrate memsync://127.0.0.1:1 127.0.0.1:2
usage_case "renaming the region" migrate memsync://127.0.0.1:1/r memsync://127.0.0.1:2/s
usage_case "bad --mode" migrate --mode fast memsync://127.0.0.1:1/r 127.0.0.1:2
usage_case "--downtime 0" migrate --downtime 0 memsync://127.0.0.1:1/r 127.0.0.1:2
usage_case "--downtime not a number" migrate --downtime soon memsync://127.0.0.1:1/r 127.0.0.1:2
usage_case "--max-rounds 0" migrate --max-rounds 0 memsync://127.0.0.1:1/r 127.0.0.1:2
usage_case "--max-rounds 2.5" migrate --max-rounds 2.5 memsync://127.0.0.1:1/r 127.0.0.1:2
usage_case "--status and --abort" migrate --status --abort memsync://127.0.0.1:1/r
usage_case "--status without a region" migrate --status memsync://127.0.0.1:1
usage_case "--status with two URLs" migrate --status memsync://127.0.0.1:1/r 127.0.0.1:2
usage_case "--status with --mode" migrate --status --mode precopy memsync://127.0.0.1:1/r
usage_case "--mode is migrate's" stat --mode precopy 127.0.0.1:1
usage_case "--no-wait is migrate's" pull --no-wait memsync://127.0.0.1:1/r -
ms migrate --downtime 5ms --max-rounds 3 --mode stopcopy --status memsync://127.0.0.1:1/r
expect_status 2 "--status refuses the options of a start"

# -------------------------------------------------------------- two daemons
start_daemon_or_bail --region kv:4M:chunk=64K --region other:1M
PA=$PORT
start_daemon_or_bail --region busy:1M
PB=$PORT LOGB=$DLOG

ms migrate --status "memsync://$HOST:$PB/kv"
expect_status 1 "--status of a migration that does not exist fails"
like "$ERR" "^memsync: migrate: no migration of region 'kv' at $HOST:$PB" \
	"--status says there is no migration of kv at B"
ms migrate --abort "memsync://$HOST:$PB/kv"
expect_status 1 "--abort of a migration that does not exist fails"
like "$ERR" "^memsync: migrate: no migration of region 'kv' at $HOST:$PB" \
	"--abort says there is no migration of kv at B"

ms migrate "memsync://$HOST:$PA/nope" "$HOST:$PB"
expect_status 1 "migrating a region the source does not have fails"
like "$ERR" "^memsync: migrate: .*nope" "... naming the region"
ms migrate "memsync://$HOST:$PB/busy" "$HOST:$PB"
expect_status 1 "migrating a region onto a server that has one of its name fails"
like "$ERR" "^memsync: migrate: .*busy" "... naming the region"

ms stat "$HOST:$PA"
expect_status 0 "stat before a migration"
like "$OUT" "^REGION .* ABANDONED +MIGRATION$" "stat's table has a MIGRATION column, last"
like "$OUT" "^kv .* -$" "kv is not migrating: -"
ms --json stat "memsync://$HOST:$PA/kv"
expect_status 0 "stat --json before a migration"
is "$(json_get "$OUT" '["regions"][0]["migration"]["phase"]' 2>&1)" none "stat --json: phase none"
is "$(json_get "$OUT" '["regions"][0]["migration"]["moved_to"]' 2>&1)" "" \
	"stat --json: moved_to empty"

# ------------------------------------------------------------ a migration
rand_file "$SCRATCH/kv.src" $((4 * MiB))
ms push "$SCRATCH/kv.src" "memsync://$HOST:$PA/kv"
expect_status 0 "push 4 MiB into kv at A"

# --------------------------------------------- SIGINT before the switch
# B copies at 1 MiB/s, so the 4 MiB pre-copy takes seconds: an interrupt
# lands before the switch, and asks B to abort.
MIGERR=$SCRATCH/int.err
"${MSC[@]}" migrate --max-bandwidth 1M --mode precopy "memsync://$HOST:$PA/kv" \
	"memsync://$HOST:$PB" >"$SCRATCH/int.out" 2>"$MIGERR" </dev/null &
MPID=$!
track "$MPID"
if wait_for 20 grep -q "^precopy: round" "$MIGERR"; then
	pass "migrate shows its phase while it waits (not a terminal: one line per round)"
else
	fail "migrate shows its phase while it waits" "$(cat "$MIGERR")"
fi
kill -INT "$MPID"
if wait_exit "$MPID" 30; then
	is "$WSTATUS" 1 "migrate interrupted before the switch exits 1"
else
	fail "migrate interrupted before the switch exits" "still running 30 s after SIGINT"
	kill_wait "$MPID"
fi
like "$MIGERR" "^memsync: migrate: interrupted: asked $HOST:$PB to abort the migration of 'kv' \(the source keeps the region\)" \
	"SIGINT: says it asked B to abort"
like "$MIGERR" "was aborted; $HOST:$PA still has the region" "SIGINT: says the migration was aborted"
ms migrate --status "memsync://$HOST:$PB/kv"
expect_status 1 "--status of the aborted migration exits 1"
like "$OUT" "^region 'kv': $HOST:$PA -> $HOST:$PB, precopy, aborted" "--status: aborted"
ms stat "$HOST:$PB"
unlike "$OUT" "^kv " "B keeps no copy of kv after the abort"
ms pull "memsync://$HOST:$PA/kv" "$SCRATCH/kv.after-abort"
expect_status 0 "A still serves kv after the abort"
same_file "$SCRATCH/kv.after-abort" "$SCRATCH/kv.src" "... with its bytes untouched"

# ---------------------------------------------------------- to the end
ms --json migrate --mode precopy "memsync://$HOST:$PA/kv" "memsync://$HOST:$PB"
if [ "$RC" != 0 ] && grep -q "unknown control message type 33" "$ERR"; then
	# The source's side (FREEZE, HANDOFF: tests/unit/test_migrate covers
	# it) is not in this build: the switch fails, which must leave A as it
	# was.
	expect_status 1 "a migration whose source refuses FREEZE fails (exit 1)"
	like "$ERR" "^memsync: migrate: migration of 'kv' from $HOST:$PA to $HOST:$PB failed: " \
		"... saying so"
	is "$(json_get "$OUT" '["phase"]' 2>&1)" failed "... and its --json says failed"
	ms pull "memsync://$HOST:$PA/kv" "$SCRATCH/kv.after-fail"
	same_file "$SCRATCH/kv.after-fail" "$SCRATCH/kv.src" "A's kv is untouched"
	skip "a whole migration" "this build's source does not answer FREEZE yet"
	stop_daemon TERM
	done_testing
fi
expect_status 0 "migrate kv from A to B (precopy) exits 0"
cp "$OUT" "$SCRATCH/mig.json"
is "$(json_get "$SCRATCH/mig.json" '["command"]' 2>&1)" migrate "migrate --json: command"
is "$(json_get "$SCRATCH/mig.json" '["region"]' 2>&1)" kv "migrate --json: region"
is "$(json_get "$SCRATCH/mig.json" '["phase"]' 2>&1)" "done" "migrate --json: phase done"
is "$(json_get "$SCRATCH/mig.json" '["mode"]' 2>&1)" precopy "migrate --json: mode"
is "$(json_get "$SCRATCH/mig.json" '["source"]' 2>&1)" "$HOST:$PA" "migrate --json: source"
is "$(json_get "$SCRATCH/mig.json" '["destination"]' 2>&1)" "$HOST:$PB" \
	"migrate --json: destination"
is "$(json_get "$SCRATCH/mig.json" '["size"]' 2>&1)" $((4 * MiB)) "migrate --json: size"
bytes=$(json_get "$SCRATCH/mig.json" '["bytes"]' 2>&1)
if [ "$bytes" -ge $((4 * MiB)) ] 2>/dev/null; then
	pass "migrate --json: at least the region's bytes moved ($bytes)"
else
	fail "migrate --json: at least the region's bytes moved" "bytes: $bytes"
fi
rounds=$(json_get "$SCRATCH/mig.json" '["rounds"]' 2>&1)
if [ "$rounds" -ge 1 ] 2>/dev/null; then
	pass "migrate --json: pre-copy made rounds ($rounds)"
else
	fail "migrate --json: pre-copy made rounds" "rounds: $rounds"
fi
isnt "$(json_get "$SCRATCH/mig.json" '["precopy_end"]' 2>&1)" "" \
	"migrate --json: says why pre-copy ended"
for f in total_us downtime_us; do
	v=$(json_get "$SCRATCH/mig.json" "[\"$f\"]" 2>&1)
	if [ "$v" -gt 0 ] 2>/dev/null; then
		pass "migrate --json: $f measured ($v)"
	else
		fail "migrate --json: $f measured" "$f: $v"
	fi
done
for f in pause final_collect final_transfer commit lease_handover first_fault; do
	if json_get "$SCRATCH/mig.json" "[\"downtime_breakdown_us\"][\"$f\"]" >/dev/null 2>&1; then
		pass "migrate --json: downtime breakdown has $f"
	else
		fail "migrate --json: downtime breakdown has $f"
	fi
done

ms pull "memsync://$HOST:$PB/kv" "$SCRATCH/kv.atb"
expect_status 0 "pull kv from B"
same_file "$SCRATCH/kv.atb" "$SCRATCH/kv.src" "B has the bytes pushed to A"

ms stat "$HOST:$PA"
expect_status 0 "stat of A after the migration"
like "$OUT" "^kv .* -> $HOST:$PB$" "A's stat: kv -> B"
ms --json stat "$HOST:$PA"
is "$(json_get "$OUT" '["regions"][[r["name"] for r in d["regions"]].index("kv")]["migration"]["moved_to"]' 2>&1)" \
	"$HOST:$PB" "A's stat --json: kv moved to B"
ms stat "$HOST:$PB"
like "$OUT" "^kv .* done$" "B's stat: kv done"

ms migrate --status "memsync://$HOST:$PB/kv"
expect_status 0 "--status of the finished migration exits 0"
like "$OUT" "^region 'kv': $HOST:$PA -> $HOST:$PB, precopy, done" "--status: the summary line"
like "$OUT" "^  downtime: [0-9.]+(us|ms|s) \(pause " "--status: the downtime and its breakdown"
ms migrate --abort "memsync://$HOST:$PB/kv"
expect_status 1 "--abort of a finished migration fails"
like "$ERR" "past the switch" "... saying it is past the switch"

# a client of A follows the redirect to B by itself
ms pull "memsync://$HOST:$PA/kv" "$SCRATCH/kv.ata"
expect_status 0 "pull kv from A after the migration (redirected to B)"
same_file "$SCRATCH/kv.ata" "$SCRATCH/kv.src" "... gets B's bytes"

ms migrate "memsync://$HOST:$PA/other" "$HOST:$PB" --mode hybrid
expect_status 0 "migrate other (hybrid, text)"
like "$OUT" "^region 'other': $HOST:$PA -> $HOST:$PB, hybrid, done" "text summary: first line"
like "$OUT" "^  moved: " "text summary: bytes moved"
like "$OUT" "^  total: " "text summary: total time"
like "$LOGB" "other" "B's daemon logs the migration of other"

stop_daemon TERM
done_testing
