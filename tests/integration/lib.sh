# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash disable=SC2034 # variables here are used by the tests
#
# lib.sh - sourced by every integration test: TAP output, a scratch directory,
# starting and stopping memsyncd on an ephemeral port, reading JSON, and a
# cleanup trap that ends every process the test started.
#
# Environment (exported by `make check`, see Makefile.am):
#   MEMSYNC, MEMSYNCD   the programs under test
#   TESTS_SRCDIR        $(abs_top_srcdir)/tests
#   TESTS_BUILDDIR      $(abs_top_builddir)/tests
# When run by hand from a build directory the defaults below find them.
#
# The transport under test (tests/rxe runs every test a second time over
# RDMA on a soft-RoCE device):
#   MS_TEST_TRANSPORT   "" (default): memsync picks (auto: TCP on a host
#                       without RDMA); "rdma": every memsync call asks for
#                       --transport rdma, and memsyncd keeps its default
#                       (TCP and RDMA on the same port)
#   MS_TEST_HOST        the address servers listen on (default 127.0.0.1;
#                       over RDMA an rxe device's address)
#   MS_TEST_SLOWDOWN    multiplies every time bound below (default 1; the
#                       emulated rxe guest runs about 17x slower)

set -u

TESTS_BUILDDIR=${TESTS_BUILDDIR:-$PWD/tests}
TESTS_SRCDIR=${TESTS_SRCDIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
MEMSYNC=${MEMSYNC:-$TESTS_BUILDDIR/../memsync}
MEMSYNCD=${MEMSYNCD:-$TESTS_BUILDDIR/../memsyncd}
RAWCONN=${RAWCONN:-$TESTS_BUILDDIR/helpers/rawconn}
export MEMSYNC MEMSYNCD TESTS_SRCDIR TESTS_BUILDDIR

MiB=$((1024 * 1024))

# ------------------------------------------------------------------ TAP
_tap_n=0
_tap_failed=0

# diag TEXT... - TAP comments, one or more lines per argument (they end up in
# the test's .log)
diag() {
	local arg line
	for arg in "$@"; do
		while IFS= read -r line; do
			printf '# %s\n' "$line"
		done <<<"$arg"
	done
}

# diag_file FILE [MAXLINES] - show (the tail of) a file as TAP comments
diag_file() {
	[ -s "$1" ] || return 0
	diag "--- ${1##*/} (last ${2:-30} lines):" "$(tail -n "${2:-30}" -- "$1")"
}

pass() {
	_tap_n=$((_tap_n + 1))
	printf 'ok %d - %s\n' "$_tap_n" "$1"
}

fail() {
	_tap_n=$((_tap_n + 1))
	_tap_failed=$((_tap_failed + 1))
	printf 'not ok %d - %s\n' "$_tap_n" "$1"
	shift
	[ $# -gt 0 ] && diag "$@"
	return 0
}

# check NAME CMD [ARGS...] - ok when CMD exits 0; its output goes to the log
check() {
	local name=$1
	shift
	if "$@" >"$SCRATCH/check.out" 2>&1; then
		pass "$name"
	else
		fail "$name" "command failed (exit $?): $*"
		diag_file "$SCRATCH/check.out" 20
	fi
}

# is GOT WANT NAME - string equality
is() {
	if [ "$1" = "$2" ]; then
		pass "$3"
	else
		fail "$3" "got:  '$1'" "want: '$2'"
	fi
}

# isnt GOT UNWANTED NAME
isnt() {
	if [ "$1" != "$2" ]; then
		pass "$3"
	else
		fail "$3" "got '$1', wanted anything else"
	fi
}

# like FILE ERE NAME - FILE has a line matching the extended regex (case-insensitive)
like() {
	if grep -qiE -- "$2" "$1"; then
		pass "$3"
	else
		fail "$3" "no line of $1 matches /$2/"
		diag_file "$1" 10
	fi
}

# unlike FILE ERE NAME
unlike() {
	if ! grep -qiE -- "$2" "$1"; then
		pass "$3"
	else
		fail "$3" "a line of $1 matches /$2/:"
		diag "$(grep -iE -- "$2" "$1" | head -n 5)"
	fi
}

# same_file A B NAME - byte-for-byte equal
same_file() {
	if cmp -- "$1" "$2" >"$SCRATCH/cmp.out" 2>&1; then
		pass "$3"
	else
		fail "$3" "$(cat "$SCRATCH/cmp.out")"
	fi
}

# skip NAME REASON - a check that could not be made this time
skip() {
	_tap_n=$((_tap_n + 1))
	printf 'ok %d - %s # SKIP %s\n' "$_tap_n" "$1" "$2"
}

skip_all() {
	printf '1..0 # SKIP %s\n' "$*"
	exit 0
}

bail_out() {
	printf 'Bail out! %s\n' "$*"
	exit 99
}

# done_testing - print the plan.  Failed checks are reported by their
# "not ok" lines alone: the exit status stays 0 so that the TAP driver does
# not count a failing check twice; a non-zero exit means the script itself
# broke (and then the plan is missing too).
done_testing() {
	printf '1..%d\n' "$_tap_n"
	if [ "$_tap_failed" -gt 0 ]; then
		diag "$_tap_failed of $_tap_n checks failed"
	fi
	exit 0
}

TRANSPORT=${MS_TEST_TRANSPORT:-}
SLOW=${MS_TEST_SLOWDOWN:-1}
HOST=${MS_TEST_HOST:-127.0.0.1}
# memsync as every test runs it: with the transport under test
MSC=("$MEMSYNC")
[ -n "$TRANSPORT" ] && MSC+=(--transport "$TRANSPORT")

# ------------------------------------------------------------ commands
# run CMD [ARGS...] - run with a bound (RUN_TIMEOUT seconds, default 60);
# stdout in $OUT, stderr in $ERR (files), exit status in $RC.
OUT='' ERR='' RC=0
run() {
	OUT=$SCRATCH/run.out
	ERR=$SCRATCH/run.err
	RC=0
	timeout -k 5 $((${RUN_TIMEOUT:-60} * SLOW)) "$@" >"$OUT" 2>"$ERR" </dev/null || RC=$?
	if [ "$RC" -eq 124 ] || [ "$RC" -eq 137 ]; then
		diag "timed out after $((${RUN_TIMEOUT:-60} * SLOW)) s: $*"
	fi
	return 0
}

# expect_status WANT NAME - checks $RC of the last run, shows stderr if wrong
expect_status() {
	if [ "$RC" = "$1" ]; then
		pass "$2"
	else
		fail "$2" "exit status $RC, want $1"
		diag_file "$ERR" 10
	fi
}

# ms ARGS... - memsync with bounds, see run()
ms() {
	run "${MSC[@]}" "$@"
}

# ----------------------------------------------------------- processes
_pids=()

# track PID - killed (-9) by the cleanup trap if still alive
track() {
	_pids+=("$1")
}

# alive PID - the process exists and is not a zombie
alive() {
	local state
	[ -r "/proc/$1/stat" ] || return 1
	state=$(sed 's/^.*) \(.\).*$/\1/' "/proc/$1/stat" 2>/dev/null) || return 1
	[ -n "$state" ] && [ "$state" != Z ] && [ "$state" != X ]
}

# wait_exit PID SECONDS - wait (bounded) for a child to exit; status in $WSTATUS,
# returns 1 on timeout (the process is left running)
WSTATUS=0
wait_exit() {
	local pid=$1 i=0 lim=$(($2 * 20 * SLOW))
	while alive "$pid"; do
		i=$((i + 1))
		[ "$i" -gt "$lim" ] && return 1
		sleep 0.05
	done
	WSTATUS=0
	wait "$pid" 2>/dev/null || WSTATUS=$?
	return 0
}

# kill_wait PID - SIGKILL and reap
kill_wait() {
	kill -KILL "$1" 2>/dev/null
	wait "$1" 2>/dev/null
	return 0
}

# wait_for SECONDS CMD [ARGS...] - poll CMD every 0.1 s until it succeeds
wait_for() {
	local lim=$(($1 * 10 * SLOW)) i=0
	shift
	until "$@" >/dev/null 2>&1; do
		i=$((i + 1))
		[ "$i" -gt "$lim" ] && return 1
		sleep 0.1
	done
}

# ------------------------------------------------------------- daemon
PORT='' DPID='' DLOG=''
_dn=0

# start_daemon ARGS... - memsyncd on 127.0.0.1, ephemeral port; sets PORT, DPID,
# DLOG (its stderr).  Returns 1 (after explaining why) if it does not come up.
start_daemon() {
	_dn=$((_dn + 1))
	local pf=$SCRATCH/port.$_dn i=0
	DLOG=$SCRATCH/memsyncd.$_dn.log
	PORT=
	"$MEMSYNCD" --listen "$HOST:0" --port-file "$pf" "$@" </dev/null >"$DLOG" 2>&1 &
	DPID=$!
	track "$DPID"
	while :; do
		if [ -s "$pf" ] && grep -qE '^[0-9]+$' "$pf"; then
			PORT=$(cat "$pf")
			[ "$PORT" -gt 0 ] && return 0
		fi
		if ! alive "$DPID"; then
			wait "$DPID" 2>/dev/null
			diag "memsyncd $* exited with status $? before listening"
			diag_file "$DLOG"
			return 1
		fi
		i=$((i + 1))
		if [ "$i" -gt $((200 * SLOW)) ]; then
			diag "memsyncd $* did not write its port file within $((20 * SLOW)) s"
			diag_file "$DLOG"
			kill_wait "$DPID"
			return 1
		fi
		sleep 0.1
	done
}

# start_daemon_or_bail ARGS... - a test that cannot run without its daemon
start_daemon_or_bail() {
	start_daemon "$@" || bail_out "memsyncd did not start: $*"
}

# stop_daemon [SIGNAL] - signal (default TERM) the daemon, wait up to 20 s
# (SIGKILL after that); its exit status in $DSTATUS (137 after the fallback).
# Returns 0 when it exited by itself.
DSTATUS=
stop_daemon() {
	local sig=${1:-TERM}
	DSTATUS=
	[ -n "$DPID" ] || return 1
	kill "-$sig" "$DPID" 2>/dev/null
	if wait_exit "$DPID" 20; then
		DSTATUS=$WSTATUS
		DPID=
		return 0
	fi
	diag "memsyncd (pid $DPID) still running 20 s after SIG$sig; killing it"
	kill_wait "$DPID"
	DSTATUS=137
	DPID=
	return 1
}

# cpu_ticks PID - user + system CPU time the process used so far, in clock
# ticks (/proc/PID/stat fields 14 and 15)
cpu_ticks() {
	sed 's/^.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'
}

# daemon_alive - the current daemon still runs
daemon_alive() {
	[ -n "$DPID" ] && alive "$DPID"
}

# url REGION - memsync://127.0.0.1:$PORT/REGION
url() {
	printf 'memsync://%s:%s/%s' "$HOST" "$PORT" "$1"
}

# ------------------------------------------------ a client held mid-pull
# A pull to stdout into a pipe nobody reads stops once the pipe is full, with
# its connection open and the region open: a deterministic "client in the
# middle of a transfer".
HOLDER='' HOLDER_PIPE=''

# start_holder REGION [MEMSYNC OPTIONS...] - start `memsync -q OPTIONS pull
# URL -` into such a pipe; sets HOLDER (the memsync pid).  Returns 0 once the
# daemon reports the region open by one client.  $SCRATCH/holder.rc gets the
# exit status of memsync, $SCRATCH/holder.count the bytes it wrote.
start_holder() {
	local region=$1 gate=$SCRATCH/holder.gate
	shift
	rm -f "$SCRATCH/holder.pid" "$SCRATCH/holder.rc" "$SCRATCH/holder.count" "$gate"
	mkfifo "$gate" || return 1
	HOLDER=''
	{
		# shellcheck disable=SC2016 # expanded by the inner bash
		bash -c 'echo $$ >"$0"; exec "$@"' "$SCRATCH/holder.pid" \
			"${MSC[@]}" -q "$@" pull "$(url "$region")" -
		echo $? >"$SCRATCH/holder.rc"
	} 2>"$SCRATCH/holder.err" </dev/null |
		{
			read -r _ <"$gate"
			wc -c >"$SCRATCH/holder.count"
		} >/dev/null 2>&1 &
	HOLDER_PIPE=$!
	track "$HOLDER_PIPE"
	wait_for 10 test -s "$SCRATCH/holder.pid" || return 1
	HOLDER=$(cat "$SCRATCH/holder.pid")
	track "$HOLDER"
	wait_for 20 field_is "$region" clients 1
}

# release_holder - let the pipe drain; wait (bounded, 60 s) for the pipeline
# to end.  Returns 1 if it did not.
release_holder() {
	# shellcheck disable=SC2016 # expanded by the inner bash
	timeout 10 bash -c 'echo go >"$1"' _ "$SCRATCH/holder.gate"
	wait_exit "$HOLDER_PIPE" 60
}

# ---------------------------------------------------------------- JSON
# json_get FILE EXPR - print d EXPR of the JSON object in FILE, e.g.
#   json_get out.json '["regions"][0]["bytes_written"]'
# true/false/null print as in JSON; strings print raw.
json_get() {
	"$PY" - "$1" "$2" <<'EOF'
import json, sys
try:
    with open(sys.argv[1]) as f:
        d = json.load(f)
    v = eval("d" + sys.argv[2], {"__builtins__": {}}, {"d": d})
except Exception as e:
    sys.exit("json_get %s: %s: %s" % (sys.argv[2], type(e).__name__, e))
print(v if isinstance(v, str) else json.dumps(v))
EOF
}

# region_field FILE NAME FIELD - a field of the region called NAME in a
# `memsync --json stat` output
region_field() {
	"$PY" - "$1" "$2" "$3" <<'EOF'
import json, sys
try:
    with open(sys.argv[1]) as f:
        d = json.load(f)
    regions = d["regions"]
except Exception as e:
    sys.exit("region_field: %s: %s" % (type(e).__name__, e))
for r in regions:
    if r["name"] == sys.argv[2]:
        v = r[sys.argv[3]]
        print(v if isinstance(v, str) else json.dumps(v))
        break
else:
    sys.exit("no region " + sys.argv[2])
EOF
}

# stat_field REGION FIELD - query the running daemon; prints the field or
# nothing (and returns 1) when stat fails
stat_field() {
	local f=$SCRATCH/stat.$$.json
	timeout -k 5 $((30 * SLOW)) "${MSC[@]}" --json stat "$(url "$1")" >"$f" 2>/dev/null </dev/null || return 1
	region_field "$f" "$1" "$2" 2>/dev/null
}

# wire_is GOT WANT_TCP NAME - a byte counter of the server's data path:
# over TCP the server moves the bytes itself and counts them (GOT must be
# WANT_TCP); over RDMA the NIC moves them without the server's CPU, which
# sees none of them (GOT must be 0)
wire_is() {
	if [ "$TRANSPORT" = rdma ]; then
		is "$1" 0 "$3 (rdma: 0, one-sided: the server's CPU saw none)"
	else
		is "$1" "$2" "$3"
	fi
}

# expect_wire REGION FIELD WANT_TCP NAME - wire_is on the running daemon
expect_wire() {
	wire_is "$(stat_field "$1" "$2")" "$3" "$4"
}

# field_is REGION FIELD WANT - for wait_for: the running daemon reports WANT
field_is() {
	[ "$(stat_field "$1" "$2")" = "$3" ]
}

# -------------------------------------------------------------- files
# rand_file FILE BYTES - BYTES random bytes
rand_file() {
	head -c "$2" /dev/urandom >"$1"
}

# file_size FILE
file_size() {
	stat -c %s -- "$1"
}

# invert_bytes FILE CHUNK IDX:OFF:N... - invert N bytes at offset OFF of
# chunk IDX (chunks of CHUNK bytes) of FILE, in place, so they certainly
# change; each piece stays inside its chunk.
invert_bytes() {
	"$PY" - "$@" <<'EOF'
import sys
path, chunk = sys.argv[1], int(sys.argv[2])
with open(path, "r+b") as f:
    for piece in sys.argv[3:]:
        idx, off, n = (int(x) for x in piece.split(":"))
        assert off + n <= chunk
        f.seek(idx * chunk + off)
        b = f.read(n)
        f.seek(idx * chunk + off)
        f.write(bytes(x ^ 0xFF for x in b))
EOF
}

# --------------------------------------------------------------- setup
_cleanup() {
	local p
	for p in "${_pids[@]}"; do
		if alive "$p"; then
			kill -KILL "$p" 2>/dev/null
		fi
	done
	# Reap what we killed so nothing outlives the test holding its stdout.
	for p in "${_pids[@]}"; do
		wait "$p" 2>/dev/null
	done
	[ -n "${SCRATCH:-}" ] && rm -rf -- "$SCRATCH"
}

SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/memsync-test.XXXXXX") || bail_out "mktemp -d failed"
trap _cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

for _prog in "$MEMSYNC" "$MEMSYNCD"; do
	[ -x "$_prog" ] || bail_out "$_prog is not built"
done
# Off loopback (the soft-RoCE guest's private network) memsyncd refuses to
# listen without keys: the tests that do not test keys say --insecure.
case $HOST in
127.*|::1|localhost) ;;
*)	MEMSYNCD_REAL=$MEMSYNCD
	MEMSYNCD=$SCRATCH/memsyncd-insecure
	printf '#!/bin/sh\nexec "%s" --insecure "$@"\n' "$MEMSYNCD_REAL" >"$MEMSYNCD"
	chmod +x "$MEMSYNCD" ;;
esac
# Debian's python3 itself, not a version manager's shim (a shim starts
# several processes per call, which costs seconds in the emulated guest)
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3) || bail_out "python3 is required (scripts/setup-deps installs it)"
unset _prog
