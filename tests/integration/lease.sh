#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# lease.sh - fenced write leases (issue #10), with a daemon whose leases
# lapse after 1 s (memsyncd --lease-ttl 1; times MS_TEST_SLOWDOWN in the
# emulated rxe guest), 32 MiB regions:
#  (a) a writer stopped with SIGSTOP in the middle of a slow push, past the
#      TTL: its lease lapses (memsync lease shows no holder), a second
#      writer pushes other content at the next epoch, and the first one,
#      continued, fails ("fenced"); the region holds the second writer's
#      bytes; the daemon logs the lapse at WARN;
#  (b) `memsync lease break` while a stopped writer holds the lease (a
#      second daemon with a long TTL, so only the break ends the lease):
#      it names the holder and the epoch, the writer continued fails
#      ("fenced"), the region keeps its last commit;
#  (c) `memsync lease` of an unknown region fails clearly (exit 1);
#  (d) stat: commits and commits_refused count what happened (only the
#      second writer's commit applied; a fenced writer's commit, when it
#      gets that far, refused), commits_abandoned counts both fenced
#      writers' staging areas.
# Every part ends comparing the region byte for byte with its last commit.
#
# shellcheck source-path=SCRIPTDIR
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

size=$((32 * MiB))

# slow_push FILE URL TAG - start a push --all that takes seconds (one 4 KiB
# write in flight); sets SP (its pid), its stderr in $SCRATCH/TAG.err
SP=''
slow_push() {
	"${MSC[@]}" -q --queue-depth 1 --max-io 4K push --all "$1" "$2" \
		</dev/null >/dev/null 2>"$SCRATCH/$3.err" &
	SP=$!
	track "$SP"
}

# stopped PID - the process is stopped (state T); for wait_for
# shellcheck disable=SC2317 # called through wait_for
stopped() {
	[ "$(sed 's/^.*) \(.\).*$/\1/' "/proc/$1/stat" 2>/dev/null)" = T ]
}

# lease_get REGION - `memsync --json lease` of REGION into $SCRATCH/lease.json;
# returns its exit status
lease_get() {
	timeout -k 5 $((30 * SLOW)) "${MSC[@]}" --json lease "$(url "$1")" \
		>"$SCRATCH/lease.json" 2>"$SCRATCH/lease.err" </dev/null
}

# lease_field FIELD - a field of the lease object of the last lease_get
lease_field() {
	json_get "$SCRATCH/lease.json" "[\"lease\"][\"$1\"]" 2>&1
}

# lease_is REGION STATE - for wait_for: the lease of REGION is in STATE
# shellcheck disable=SC2317 # called through wait_for
lease_is() {
	lease_get "$1" && [ "$(lease_field state)" = "$2" ]
}

# sleep_ms N
sleep_ms() {
	sleep "$(printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)))"
}

# lease_span REGION EPOCH - from the daemon's log ($DLOG): the milliseconds
# from the grant of REGION's lease at EPOCH to its release
lease_span() {
	"$PY" - "$DLOG" "$1" "$2" <<'EOF2'
import datetime, re, sys
log, region, epoch = sys.argv[1:4]
t0 = None
for line in open(log):
    m = re.match(r"(\S+Z) ", line)
    if not m:
        continue
    t = datetime.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S.%fZ")
    if t0 is None and "holds the write lease of '%s' (" % region in line \
            and line.rstrip().endswith("epoch %s)" % epoch):
        t0 = t
    elif t0 is not None and "released the write lease of '%s'" % region in line:
        print(int((t - t0).total_seconds() * 1000))
        break
else:
    sys.exit("lease_span: no grant and release of epoch %s" % epoch)
EOF2
}

# granted REGION EPOCH - for wait_for: the daemon logged the grant
# shellcheck disable=SC2317 # called through wait_for
granted() {
	grep -q "holds the write lease of '$1' (.*epoch $2)\$" "$DLOG"
}

# timed_slow_push FILE REGION WHAT - a whole slow push into REGION, in the
# foreground; sets HALF to a third of the time it held the lease (the
# daemon's log says): a later slow push of the same size is in the middle of
# its transfer HALF ms after its grant.
HALF=0
timed_slow_push() {
	local epoch
	# twice, timing the second: the first lease of a region also grows its
	# staging areas, which the server keeps for the next writer (a later
	# push is faster than the first)
	run "${MSC[@]}" -q --queue-depth 1 --max-io 4K push --all "$1" "$(url "$2")"
	expect_status 0 "$3 (first)"
	run "${MSC[@]}" -q --queue-depth 1 --max-io 4K push --all "$1" "$(url "$2")"
	expect_status 0 "$3"
	lease_get "$2"
	epoch=$(lease_field epoch)
	# the lease spans hashing the file, the transfer and the commit; the
	# grant is noticed by polling, late: an eighth of the span after it is
	# well inside the push (stopped while hashing or while writing, the
	# writer is fenced all the same)
	HALF=$(($(lease_span "$2" "$epoch") / 8))
	[ "$HALF" -gt 0 ] 2>/dev/null || HALF=0
	diag "a slow push held the lease of '$2' for $((8 * HALF)) ms"
}

# stop_mid_push TAG REGION EPOCH - slow_push is running: once the daemon
# granted it the lease at EPOCH, wait HALF ms more and SIGSTOP it.  Returns
# 1 (after failing a check) when it was not caught in the middle.
stop_mid_push() {
	if ! wait_for 30 granted "$2" "$3"; then
		fail "the slow push ($1) gets the lease at epoch $3"
		diag_file "$SCRATCH/$1.err"
		return 1
	fi
	sleep_ms "$HALF"
	kill -STOP "$SP" 2>/dev/null
	if ! wait_for 5 stopped "$SP"; then
		fail "the slow push ($1) is stopped in the middle" "it ended within $HALF ms"
		diag_file "$SCRATCH/$1.err"
		return 1
	fi
	if sed -n "/holds the write lease of '$2' (.*epoch $3)\$/,\$p" "$DLOG" |
		grep -q "released the write lease of '$2'"; then
		fail "the slow push ($1) is stopped in the middle" "it released the lease first"
		return 1
	fi
	pass "the slow push ($1) is stopped $HALF ms after its grant, holding the lease"
}

# expect_fenced PID TAG WHAT - continue the stopped writer PID: it must fail,
# saying it was fenced
expect_fenced() {
	kill -CONT "$1" 2>/dev/null
	if ! wait_exit "$1" 120; then
		fail "$3: the continued writer ends" "still running 120 s after SIGCONT"
		kill_wait "$1"
		return
	fi
	isnt "$WSTATUS" 0 "$3: the continued writer fails (exit $WSTATUS)"
	fenced_msg "$SCRATCH/$2.err" "$3: the continued writer says it was fenced"
}

# fenced_msg FILE NAME - FILE (a fenced writer's stderr) says "fenced"
fenced_msg() {
	if grep -qi "fenced" "$1"; then
		pass "$2"
	else
		fail "$2" "no line of ${1##*/} matches /fenced/:" "$(head -n 3 "$1")"
	fi
}

# counter REGION FIELD
counter() {
	stat_field "$1" "$2"
}

# check_region REGION FILE WHAT - a verified pull of REGION equals FILE
check_region() {
	ms pull "$(url "$1")" "$SCRATCH/out"
	expect_status 0 "$3: verified pull of $1"
	unlike "$ERR" "do not match" "$3: no hash mismatch"
	same_file "$2" "$SCRATCH/out" "$3: $1 equals its last commit byte for byte"
}

for v in A0 A1 A2 B0 B1; do
	rand_file "$SCRATCH/$v.img" "$size"
done

# ============================================ (a) a writer stopped past the TTL
# 1 s on the host; in the emulated rxe guest every bound scales (SLOW)
ttl=$((1 * SLOW))
start_daemon_or_bail --lease-ttl "$ttl" --log-level info --region a:32M
D1LOG=$DLOG
A=$(url a)

timed_slow_push "$SCRATCH/A0.img" a "(a) setup: a slow push of A0"
commits0=$(counter a commits)
refused0=$(counter a commits_refused)
abandoned0=$(counter a commits_abandoned)
lease_get a
is "$(lease_field ttl_ms)" $((ttl * 1000)) "(a) memsync lease: ttl $((ttl * 1000)) ms (--lease-ttl $ttl)"
# the next writer takes the next epoch (no one else writes here)
EPOCH=$(($(lease_field epoch) + 1))

slow_push "$SCRATCH/A1.img" "$A" w1
w1=$SP
if stop_mid_push w1 a "$EPOCH"; then
	# past the TTL: the lease lapses though its holder's connection is open
	if wait_for 10 lease_is a free; then
		pass "(a) the stopped writer's lease lapsed past the TTL"
	else
		fail "(a) the stopped writer's lease lapsed past the TTL" \
			"$(cat "$SCRATCH/lease.json" "$SCRATCH/lease.err")"
	fi
	ms lease "$A"
	expect_status 0 "(a) memsync lease after the lapse"
	like "$OUT" "no writer" "(a) memsync lease shows no holder"
	is "$(lease_field holder)" "" "(a) memsync --json lease: holder empty"
	is "$(lease_field epoch)" "$EPOCH" "(a) the lapsed lease was the stopped writer's (epoch $EPOCH)"

	ms --json push --all "$SCRATCH/A2.img" "$A"
	expect_status 0 "(a) a second writer's push succeeds while the first is stopped"
	lease_get a
	is "$(lease_field epoch)" $((EPOCH + 1)) "(a) the second writer took epoch $((EPOCH + 1))"

	expect_fenced "$w1" w1 "(a)"
	last=A2
	check_region a "$SCRATCH/$last.img" "(a) the second writer's content"
	like "$D1LOG" "WARN.*'a'.*epoch $EPOCH.*lapsed.*fenced" \
		"(a) the daemon logged the lapse and the fence at WARN"
	like "$D1LOG" "WARN.*'a'.*uncommitted writes.*discarded" \
		"(a) the daemon logged the discarded staging area at WARN"
else
	wait_exit "$w1" 60 || kill_wait "$w1"
	last=A0
	[ "$WSTATUS" -eq 0 ] && last=A1
	check_region a "$SCRATCH/$last.img" "(a) not run"
fi

# ============================================== (d) the counters of (a)
# Exactly one commit applied (the second writer's).  The fenced writer's
# commit is refused if it got as far as committing (its stderr then says
# "commit"); a WRITE refused earlier never makes a commit.
is "$(counter a commits)" $((commits0 + 1)) "(d) stat: one more commit applied (the second writer's)"
want_refused=$refused0
grep -qi "commit" "$SCRATCH/w1.err" && want_refused=$((refused0 + 1))
is "$(counter a commits_refused)" "$want_refused" \
	"(d) stat: commits_refused counts the fenced writer's commit ($(head -c 200 "$SCRATCH/w1.err"))"
is "$(counter a commits_abandoned)" $((abandoned0 + 1)) \
	"(d) stat: commits_abandoned counts the fenced writer's staging area"

# ========================================================= (c) unknown region
ms lease "$(url nope)"
expect_status 1 "(c) memsync lease of an unknown region: exit 1"
like "$ERR" "^memsync: lease: .*unknown region 'nope'" "(c) memsync lease: the error says why"
ms lease break "$(url nope)"
expect_status 1 "(c) memsync lease break of an unknown region: exit 1"
like "$ERR" "^memsync: lease: .*unknown region 'nope'" "(c) memsync lease break: the error says why"
ms lease "$A"
expect_status 0 "(c) memsync lease of a free region: exit 0"
check_region a "$SCRATCH/$last.img" "(c)"

stop_daemon TERM
is "$DSTATUS" 0 "(a) memsyncd exits 0 on SIGTERM"
unlike "$D1LOG" "AddressSanitizer|runtime error|LeakSanitizer" "(a) memsyncd log has no sanitizer report"

# ====================================== (b) lease break of a stopped writer
# A TTL far longer than the test: only the break can end this lease.
start_daemon_or_bail --lease-ttl $((600 * SLOW)) --log-level info --region b:32M
B=$(url b)
timed_slow_push "$SCRATCH/B0.img" b "(b) setup: a slow push of B0"
EPOCH=$(($(lease_field epoch) + 1))
commits0=$(counter b commits)
abandoned0=$(counter b commits_abandoned)

slow_push "$SCRATCH/B1.img" "$B" w2
w2=$SP
if stop_mid_push w2 b "$EPOCH"; then
	lease_get b
	is "$(lease_field state)" held "(b) the stopped writer holds the lease"
	is "$(lease_field epoch)" "$EPOCH" "(b) at epoch $EPOCH"
	HOLDER_NAME=$(lease_field holder)
	ms lease "$B"
	expect_status 0 "(b) memsync lease while the writer is stopped"
	like "$OUT" "written by $HOLDER_NAME .*epoch $EPOCH" "(b) memsync lease names the holder and epoch"

	ms lease break "$B"
	expect_status 0 "(b) memsync lease break: exit 0"
	like "$OUT" "held by $HOLDER_NAME at epoch $EPOCH" "(b) memsync lease break names the holder and epoch"
	lease_get b
	is "$(lease_field state)" free "(b) the lease is free after the break"
	ms --json lease break "$B"
	expect_status 0 "(b) memsync --json lease break of a free lease: exit 0"
	is "$(json_get "$OUT" '["lease"]["state"]')" free "(b) a second break finds no holder"

	expect_fenced "$w2" w2 "(b)"
	like "$DLOG" "WARN.*'b'.*epoch $EPOCH.*broken by an operator.*fenced" \
		"(b) the daemon logged the break at WARN"
	is "$(counter b commits)" "$commits0" "(b) stat: no commit applied"
	is "$(counter b commits_abandoned)" $((abandoned0 + 1)) \
		"(b) stat: commits_abandoned counts the broken writer's staging area"
	last=B0
else
	wait_exit "$w2" 60 || kill_wait "$w2"
	last=B0
	[ "$WSTATUS" -eq 0 ] && last=B1
	lease_get b
	EPOCH=$(lease_field epoch)
fi
check_region b "$SCRATCH/$last.img" "(b) unchanged from its last commit"

# a writer after the break gets the next epoch and commits
ms -q push "$SCRATCH/B1.img" "$B"
expect_status 0 "(b) a push after the break succeeds"
lease_get b
is "$(lease_field epoch)" $((EPOCH + 1)) "(b) it took epoch $((EPOCH + 1))"
check_region b "$SCRATCH/B1.img" "(b) the new writer's content"

stop_daemon TERM
is "$DSTATUS" 0 "(b) memsyncd exits 0 on SIGTERM"
unlike "$DLOG" "AddressSanitizer|runtime error|LeakSanitizer" "(b) memsyncd log has no sanitizer report"

done_testing
