#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# daemon_signals.sh - memsyncd's signals and its region set (memsyncd(8),
# SIGNALS): SIGHUP adds a region while a pull of another one is in flight
# (the pull completes, byte for byte), refuses to change or drop a region a
# client has open (WARN, it stays), re-creates a changed idle region,
# removes a dropped idle one, reopens the log file after it was moved away,
# and changes nothing on a malformed config; SIGUSR1 logs the state and the
# daemon goes on; two regions on one file are refused at start, and a start
# that fails at its 2nd region leaves no file it created behind.
#
# shellcheck source-path=SCRIPTDIR
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

if [ "$TRANSPORT" = rdma ]; then
	dtransport=auto
else
	dtransport=tcp
fi
MiB=$((1024 * 1024))
conf=$SCRATCH/memsyncd.conf
L=$SCRATCH/d.log

# write_conf REGION_LINES... - the daemon's config with these regions
write_conf() {
	{
		echo "transport $dtransport"
		printf 'region %s\n' "$@"
	} >"$conf"
}

# hup - send SIGHUP and wait until the log holds one more "reload: done" or
# "nothing changed" line
reloads=0
hup() {
	reloads=$((reloads + 1))
	kill -HUP "$DPID"
	wait_for 20 reloaded "$reloads" || diag "no end of reload $reloads in the log within 20 s"
}
# shellcheck disable=SC2317 # called through wait_for
reloaded() {
	[ "$(grep -cE 'reload: done|nothing changed' "$L" 2>/dev/null)" -ge "$1" ]
}

# holds NAME CMD [ARGS...] - pass when CMD succeeds
holds() {
	local name=$1
	shift
	if "$@"; then
		pass "$name"
	else
		fail "$name"
	fi
}

# held_pull REGION OUT - `memsync pull URL -` into a pipe that is not read
# until release_pull: the pull stays in flight with the region open.
held_pull() {
	local gate=$SCRATCH/gate
	rm -f "$gate" "$SCRATCH/held.rc" "$2"
	mkfifo "$gate" || return 1
	{
		"${MSC[@]}" -q pull "$(url "$1")" -
		echo $? >"$SCRATCH/held.rc"
	} 2>"$SCRATCH/held.err" </dev/null | {
		read -r _ <"$gate"
		cat >"$2"
	} &
	HELD=$!
	track "$HELD"
	wait_for 20 field_is "$1" clients 1
}
release_pull() {
	# shellcheck disable=SC2016 # expanded by the inner bash
	timeout 10 bash -c 'echo go >"$1"' _ "$SCRATCH/gate"
	wait_exit "$HELD" 60
}

# ------------------------------------------------------------ the daemon
write_conf big:16M "keep:4M:file=$SCRATCH/keep.img" idle:4M
start_daemon_or_bail --config "$conf" --log-file "$L"
like "$L" "listening on" "--log-file: the log goes to the file"
rand_file "$SCRATCH/big.src" $((16 * MiB))
ms -q push "$SCRATCH/big.src" "$(url big)"
expect_status 0 "push 16 MiB into big"

# ------------------------------------ SIGHUP adds a region during a pull
if held_pull big "$SCRATCH/big.out"; then
	pass "a pull of big is in flight"
else
	fail "a pull of big is in flight"
	diag_file "$SCRATCH/held.err"
fi
write_conf big:16M "keep:4M:file=$SCRATCH/keep.img" idle:4M new:8M:chunk=4K
hup
like "$L" "reload: added region new" "SIGHUP: the new region is added"
is "$(stat_field new size)" $((8 * MiB)) "the new region is served at once"
is "$(stat_field big clients)" 1 "the pull of big is still in flight"
release_pull || fail "the held pull ends" "still running after 60 s"
is "$(cat "$SCRATCH/held.rc" 2>&1)" 0 "the pull in flight during the reload completes (exit 0)"
same_file "$SCRATCH/big.src" "$SCRATCH/big.out" "the pull during the reload returns every byte pushed"
rand_file "$SCRATCH/new.src" $((8 * MiB))
ms -q push "$SCRATCH/new.src" "$(url new)"
expect_status 0 "push into the new region"
ms -q pull "$(url new)" "$SCRATCH/new.out"
expect_status 0 "pull the new region"
same_file "$SCRATCH/new.src" "$SCRATCH/new.out" "the new region holds what was pushed"

# ---------------------------------- SIGHUP refuses to change a region in use
held_pull big "$SCRATCH/big.out" || fail "a second pull of big is in flight"
write_conf big:32M idle:4M new:8M:chunk=4K
hup
like "$L" "WARN: reload: region 'big' changed \(size 16.0 MiB -> 32.0 MiB\), but it is in use \(1 client" \
	"SIGHUP: a changed region in use is refused at WARN, naming it and why"
like "$L" "INFO: reload: region 'keep' removed \(dropped from the configuration\)" \
	"SIGHUP: the dropped idle region keep is removed"
is "$(stat_field big size)" $((16 * MiB)) "the region in use keeps its size"
release_pull || fail "the held pull ends" "still running after 60 s"
is "$(cat "$SCRATCH/held.rc" 2>&1)" 0 "the pull of the region in use completes"
same_file "$SCRATCH/big.src" "$SCRATCH/big.out" "the region in use kept its bytes"
ms -q pull "$(url keep)" "$SCRATCH/keep.out"
like "$ERR" "unknown region 'keep'" "the dropped idle region is gone (unknown region)"
holds "its backing file stays" test -f "$SCRATCH/keep.img"

# ------------------------------------------- dropping a region in use
held_pull new "$SCRATCH/new.out" || fail "a pull of new is in flight"
write_conf big:32M idle:4M
hup
like "$L" "WARN: reload: region 'new' was dropped from the configuration, but it is in use \(1 client" \
	"SIGHUP: a dropped region in use is refused at WARN"
release_pull || fail "the held pull ends" "still running after 60 s"
same_file "$SCRATCH/new.src" "$SCRATCH/new.out" "the dropped region in use still serves its bytes"
is "$(stat_field new size)" $((8 * MiB)) "the dropped region in use is still there"

# --------------------------------- idle now: changed re-created, dropped gone
ms -q pull "$(url idle)" "$SCRATCH/idle.out"
expect_status 0 "the idle region is pullable before it is dropped"
write_conf big:32M
hup
like "$L" "reload: region 'big' removed \(to be re-created\)" "SIGHUP: the changed idle region is re-created"
is "$(stat_field big size)" $((32 * MiB)) "big has its new size"
ms -q pull "$(url idle)" "$SCRATCH/idle.out"
is "$RC" 1 "a pull of the removed region fails"
like "$ERR" "unknown region 'idle'" "the removed idle region is an unknown region"
ms -q pull "$(url new)" "$SCRATCH/new.out"
like "$ERR" "unknown region 'new'" "the region dropped earlier is removed once idle"

# ------------------------------------------------ a malformed config
printf 'frobnicate yes\n' >>"$conf"
echo "region extra:4M" >>"$conf"
hup
like "$L" "ERROR: reload: $conf:3: unknown key 'frobnicate'.*nothing changed" \
	"a malformed config: the parse error is logged"
ms --json stat "$HOST:$PORT"
cp "$OUT" "$SCRATCH/stat.json"
is "$(json_get "$SCRATCH/stat.json" '["regions"].__len__()' 2>&1)" 1 \
	"a malformed config changes nothing (one region)"

# --------------------------------------------------- the log is reopened
write_conf big:32M
mv "$L" "$L.1"
before=$reloads
reloads=0
hup
if wait_for 10 test -s "$L"; then
	pass "after SIGHUP the log file is created again"
else
	fail "after SIGHUP the log file is created again"
fi
like "$L" "SIGHUP received" "the new log file gets the new lines"
is "$(grep -c 'SIGHUP received' "$L.1")" "$before" "the moved file gets none of them"

# ---------------------------------------------------------------- SIGUSR1
rand_file "$SCRATCH/big2.src" $((32 * MiB))
ms -q push "$SCRATCH/big2.src" "$(url big)"
expect_status 0 "push 32 MiB into the re-created big"
kill -USR1 "$DPID"
if wait_for 10 grep -q "state: region big: 32.0 MiB, anon, 0 client(s), generation" "$L"; then
	pass "SIGUSR1 logs each region's state"
else
	fail "SIGUSR1 logs each region's state"
	diag_file "$L" 20
fi
like "$L" "INFO: state: 1 region" "SIGUSR1: the state is logged at INFO"
holds "SIGUSR1 leaves the daemon running" daemon_alive
ms -q pull "$(url big)" "$SCRATCH/big2.out"
expect_status 0 "pull after SIGUSR1"
same_file "$SCRATCH/big2.src" "$SCRATCH/big2.out" "the daemon serves the bytes pushed after SIGUSR1"

stop_daemon TERM
is "$DSTATUS" 0 "SIGTERM after the reloads: exit 0"
unlike "$L" "AddressSanitizer|runtime error|LeakSanitizer" "the log has no sanitizer report"

# ---------------------------------------------- start-time region checks
RUN_TIMEOUT=10 run "$MEMSYNCD" --listen "$HOST:0" --region "a:1M:file=$SCRATCH/same.img" \
	--region "b:1M:file=$SCRATCH/./same.img"
is "$RC" 1 "two regions on one file: memsyncd does not start (exit 1)"
like "$ERR" "regions 'a' and 'b' are backed by the same file" "the error names both regions"
holds "two regions on one file: no file left behind" test ! -e "$SCRATCH/same.img"

ln -s "$SCRATCH/link-target.img" "$SCRATCH/link.img"
rand_file "$SCRATCH/link-target.img" $MiB
RUN_TIMEOUT=10 run "$MEMSYNCD" --listen "$HOST:0" --region "a:1M:file=$SCRATCH/link.img" \
	--region "b:1M:file=$SCRATCH/link-target.img"
is "$RC" 1 "two regions on one file through a symlink: refused"
like "$ERR" "regions 'a' and 'b' are backed by the same file" "the symlink case names both regions"

rand_file "$SCRATCH/pre.img" $MiB
cp "$SCRATCH/pre.img" "$SCRATCH/pre.orig"
RUN_TIMEOUT=10 run "$MEMSYNCD" --listen "$HOST:0" --region "pre:1M:file=$SCRATCH/pre.img" \
	--region "first:1M:file=$SCRATCH/first.img" \
	--region "second:1M:file=$SCRATCH/no-such-dir/second.img"
is "$RC" 1 "a region that cannot be created: memsyncd does not start (exit 1)"
like "$ERR" "region 'second'.*no-such-dir" "the error names the region that failed and why"
like "$ERR" "not started: region 'second' \(3 of 3\)" "the error says the start failed at that region"
holds "the file created for the 1st region is removed" test ! -e "$SCRATCH/first.img"
same_file "$SCRATCH/pre.orig" "$SCRATCH/pre.img" "a file that existed before is left as it was"

done_testing
