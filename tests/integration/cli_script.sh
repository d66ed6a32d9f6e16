#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# cli_script.sh - the command line as scripts use it (issue 14, item 5):
# with --json every failure (runtime or usage) prints exactly one JSON
# object {"error", "errno", "errname", ...} on stdout besides the message on
# stderr, with the exit status unchanged; `pull URL -` and `cat` into a
# pipe closed early end quietly like cat (SIGPIPE, 141, no message);
# `pull URL -` refuses a terminal; `memsync help CMD`, `memsync CMD --help`
# and `-h` print the command's own help with every option it takes; an
# unknown command suggests the nearest one.
#
# shellcheck source-path=SCRIPTDIR
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

start_daemon_or_bail --region a:16M --region b:4M
A=$(url a)
hp=$HOST:$PORT

# json_error NAME STATUS ERRNO - the last run exited STATUS and its stdout
# is exactly one JSON object with a message, errno (ERRNO, or any positive
# number for "+") and its name; stderr has the message too
json_error() {
	local name=$1 want_rc=$2 want_errno=$3 got
	expect_status "$want_rc" "$name: exit status $want_rc"
	if "$PY" -m json.tool "$OUT" >/dev/null 2>"$SCRATCH/jt.err" &&
		[ "$(grep -c . "$OUT")" -eq 1 ]; then
		pass "$name: stdout is one JSON object (python3 -m json.tool)"
	else
		fail "$name: stdout is one JSON object (python3 -m json.tool)" "$(cat "$OUT" "$SCRATCH/jt.err")"
		return 0
	fi
	got=$(json_get "$OUT" '["errno"]' 2>&1)
	if [ "$want_errno" = + ]; then
		if [[ "$got" =~ ^[1-9][0-9]*$ ]]; then
			pass "$name: errno $got is positive"
		else
			fail "$name: errno is positive" "got '$got'"
		fi
	else
		is "$got" "$want_errno" "$name: errno $want_errno"
	fi
	got=$(json_get "$OUT" '["errname"]' 2>&1)
	like <(echo "$got") '^E[A-Z0-9]+$' "$name: errname $got"
	is "$(json_get "$OUT" '["status"]' 2>&1)" "$want_rc" "$name: status in the object"
	msg=$(json_get "$OUT" '["error"]' 2>&1)
	isnt "$msg" "" "$name: the object has a message"
	if grep -qF -- "$msg" "$ERR"; then
		pass "$name: stderr has the same message"
	else
		fail "$name: stderr has the same message" "json: $msg" "stderr: $(cat "$ERR")"
	fi
}

# ------------------------------------------------------------ JSON errors
# a port nothing listens on: bound, never listening (connections refused)
"$PY" -c '
import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0))
print(s.getsockname()[1], flush=True); sys.stdout.close(); time.sleep(600)' >"$SCRATCH/refport" &
track $!
wait_for 10 test -s "$SCRATCH/refport" || bail_out "no port for the refused connection"
refport=$(cat "$SCRATCH/refport")

run "$MEMSYNC" --transport tcp --json pull "memsync://127.0.0.1:$refport/a" "$SCRATCH/x"
json_error "pull, connection refused" 1 111
is "$(json_get "$OUT" '["errname"]' 2>&1)" ECONNREFUSED "pull, connection refused: ECONNREFUSED"
is "$(json_get "$OUT" '["command"]' 2>&1)" pull "pull, connection refused: command pull"
if [ -e "$SCRATCH/x" ]; then fail "a failed pull leaves no file"; else pass "a failed pull leaves no file"; fi

run "$MEMSYNC" --transport tcp stat "127.0.0.1:$refport" --json
json_error "stat, connection refused (--json after the command)" 1 111

ms --json pull "$(url nosuch)" "$SCRATCH/x"
json_error "pull, unknown region" 1 2
is "$(json_get "$OUT" '["errname"]' 2>&1)" ENOENT "pull, unknown region: ENOENT"

ms --json stat "$(url nosuch)"
json_error "stat, unknown region" 1 2

head -c 4096 /dev/zero >"$SCRATCH/small"
ms --json push "$SCRATCH/small" "$(url nosuch)"
json_error "push, unknown region" 1 2
ms --json push "$SCRATCH/does-not-exist" "$A"
json_error "push, no such file" 1 2
ms --json lease "$(url nosuch)"
json_error "lease, unknown region" 1 +
ms --json map "$(url nosuch)"
json_error "map, unknown region" 1 +
ms --json migrate --status "$(url nosuch)"
json_error "migrate --status, unknown region" 1 +

ms --json disconnect "$hp" 999999
json_error "disconnect, unknown client" 1 2

# usage errors are failures too: EINVAL, exit 2
ms --json pull "$A"
json_error "usage error (pull without FILE)" 2 22
is "$(json_get "$OUT" '["errname"]' 2>&1)" EINVAL "usage error: EINVAL"
ms --queue-depth lots stat "$hp" --json
json_error "usage error in an option before --json" 2 22
ms --json cat "$A" --offset 0 --length 1
json_error "cat --json (stdout carries the bytes)" 2 22
ms --json
json_error "--json and no command" 2 22
ms --json demo --size banana
json_error "demo, bad --size" 2 22

# a success prints its own object, never an error object
ms --json stat "$hp"
expect_status 0 "stat --json succeeds"
unlike "$OUT" '"errno"' "a success prints no error object"
# without --json a failure prints nothing on stdout
ms pull "$(url nosuch)" "$SCRATCH/x"
expect_status 1 "pull, unknown region, no --json: exit 1"
is "$(wc -c <"$OUT")" 0 "without --json nothing goes to stdout"

# ---------------------------------------------------- a pipe closed early
# The region (16M) is far more than a pipe holds: memsync is still
# writing when head is gone.
for how in "pull $A -" "cat $A --offset 0 --length 16M"; do
	# shellcheck disable=SC2086  # $how is split on purpose
	timeout -k 5 $((60 * SLOW)) "${MSC[@]}" $how 2>"$SCRATCH/pipe.err" | head -c 10 >"$SCRATCH/pipe.out"
	st=${PIPESTATUS[0]}
	is "$st" 141 "${how%% *} into a pipe closed early: dies by SIGPIPE like cat (141)"
	is "$(wc -c <"$SCRATCH/pipe.err")" 0 "${how%% *} into a pipe closed early: nothing on stderr"
	is "$(wc -c <"$SCRATCH/pipe.out")" 10 "${how%% *}: the reader got its 10 bytes"
done
# the bytes are right when the reader reads it all
ms pull "$A" "$SCRATCH/a.file"
expect_status 0 "pull to a file"
timeout -k 5 $((60 * SLOW)) "${MSC[@]}" pull "$A" - 2>"$SCRATCH/pipe.err" | cat >"$SCRATCH/a.pipe"
is "${PIPESTATUS[0]}" 0 "pull - into a pipe read to the end exits 0"
same_file "$SCRATCH/a.file" "$SCRATCH/a.pipe" "pull - into a pipe carries the region"

# ------------------------------------------------------------ a terminal
if command -v script >/dev/null 2>&1; then
	RC=0
	timeout -k 5 $((60 * SLOW)) script -qec "$(printf '%q ' "${MSC[@]}" pull "$A" -)" /dev/null \
		>"$SCRATCH/tty.out" 2>&1 </dev/null || RC=$?
	expect_status 2 "pull - with stdout a terminal: usage error (exit 2)"
	like "$SCRATCH/tty.out" "refusing to write binary data to a terminal; redirect stdout or give a file" \
		"pull - with stdout a terminal says why"
	if [ "$(wc -c <"$SCRATCH/tty.out")" -lt 4096 ]; then
		pass "pull - with stdout a terminal writes no region bytes to it"
	else
		fail "pull - with stdout a terminal writes no region bytes to it"
	fi
	RC=0
	timeout -k 5 $((60 * SLOW)) script -qec "$(printf '%q ' "${MSC[@]}" pull "$A" "$SCRATCH/tty.file")" \
		/dev/null >"$SCRATCH/tty2.out" 2>&1 </dev/null || RC=$?
	expect_status 0 "pull to a FILE from a terminal is fine"
	same_file "$SCRATCH/a.file" "$SCRATCH/tty.file" "pull to a FILE from a terminal wrote the region"
else
	skip "terminal refusal" "util-linux 'script' is not installed"
fi

# ------------------------------------------------------------------ help
ms --help
cp "$OUT" "$SCRATCH/general"
ms help
expect_status 0 "memsync help exits 0"
same_file "$SCRATCH/general" "$OUT" "memsync help prints the general help (as --help)"

# the commands the general help lists, and the options main.c gives each
cmds=$(sed -n '/^Commands:/,/^$/s/^  \([a-z][a-z]*\) .*/\1/p' "$SCRATCH/general" | sort -u)
isnt "$cmds" "" "the general help lists commands"
optsrc=$TESTS_SRCDIR/../src/cli/main.c
for cmd in $cmds; do
	ms help "$cmd"
	expect_status 0 "memsync help $cmd exits 0"
	cp "$OUT" "$SCRATCH/help.$cmd"
	like "$SCRATCH/help.$cmd" "^Usage: memsync $cmd( |$)" "help $cmd: its usage line"
	if [ "$(grep -c . "$SCRATCH/help.$cmd")" -ge 4 ]; then
		pass "help $cmd: says what it does"
	else
		fail "help $cmd: says what it does"
	fi
	unlike "$SCRATCH/help.$cmd" "^  (pull|push|stat) (URL|FILE)" "help $cmd: not the general help"
	# every option that belongs to the command (main.c's cmd_opts table)
	for opt in $(sed -n 's/^	{ OPT_[A-Z_]*, "\(--[a-z-]*\)", "\([a-z ]*\)" },$/\1 \2/p' "$optsrc" |
		awk -v c="$cmd" '{ for (i = 2; i <= NF; i++) if ($i == c) print $1 }'); do
		like "$SCRATCH/help.$cmd" "^ +$opt( |$)" "help $cmd: lists $opt, one line"
	done
	for form in --help -h; do
		ms "$cmd" "$form"
		expect_status 0 "memsync $cmd $form exits 0"
		same_file "$SCRATCH/help.$cmd" "$OUT" "memsync $cmd $form is memsync help $cmd"
	done
done
ms pull "$A" --help "$SCRATCH/never"
expect_status 0 "--help anywhere on a command line shows the command's help"
same_file "$SCRATCH/help.pull" "$OUT" "... and does nothing else"
if [ -e "$SCRATCH/never" ]; then fail "--help pulls nothing"; else pass "--help pulls nothing"; fi
ms --size 16M help demo
same_file "$SCRATCH/help.demo" "$OUT" "an option with its argument before 'help demo'"

ms help nosuch
expect_status 2 "memsync help nosuch: usage error"
like "$ERR" "unknown command 'nosuch'" "memsync help nosuch says so"
is "$(wc -c <"$OUT")" 0 "memsync help nosuch prints no help on stdout"
ms help pusj
expect_status 2 "memsync help pusj: usage error"
like "$ERR" "unknown command 'pusj'\. Did you mean 'push'\?" "memsync help pusj suggests push"

# ------------------------------------------------------------ suggestions
ms pul "$A" -
expect_status 2 "unknown command: exit 2"
like "$ERR" "^memsync: unknown command 'pul'\. Did you mean 'pull'\?$" "pul: did you mean pull"
for pair in stats:stat mgirate:migrate leas:lease mig:migrate catt:cat hlep:help; do
	ms "${pair%%:*}"
	like "$ERR" "unknown command '${pair%%:*}'\. Did you mean '${pair#*:}'\?" \
		"${pair%%:*}: did you mean ${pair#*:}"
done
ms frobnicate
expect_status 2 "an unknown command far from every other: exit 2"
unlike "$ERR" "Did you mean" "frobnicate: no suggestion"
ms --json stauts "$hp"
json_error "unknown command with --json" 2 22
like "$OUT" "Did you mean 'stat'" "the JSON message carries the suggestion"

done_testing
