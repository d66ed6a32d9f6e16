#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# daemon.sh - memsyncd itself: a --config file with several regions, errors
# in a config file (exit 2, naming FILE:LINE) and in --region specs (exit 2),
# the start-up log, SIGTERM while a client is connected (exit 0), and a memfd
# region that a local application maps through /proc/PID/fd/N and sees the
# bytes a client pushed.
#
# shellcheck source-path=SCRIPTDIR
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

# The daemon's transport: TCP alone, or (tests over RDMA) its default, TCP
# and RDMA on the same port.
if [ "$TRANSPORT" = rdma ]; then
	dtransport=auto dlisten='tcp\+rdma'
else
	dtransport=tcp dlisten=tcp
fi

conf=$SCRATCH/memsyncd.conf
cat >"$conf" <<EOF
# memsyncd test configuration

listen $HOST:0
region one:4M
   region two:8M:memfd,chunk=4K
region three:64M:nolock
# a comment between settings
log-level debug
transport $dtransport
EOF

start_daemon_or_bail --config "$conf"
pass "memsyncd starts with a --config file"

# ------------------------------------------------------------ start-up log
like "$DLOG" "listening on $HOST:$PORT \($dlisten\)" "the log says where it listens (the port of --port-file)"
for name in one two three; do
	like "$DLOG" "(^|[^a-z])$name([^a-z]|$)" "the log names region $name"
done

ms --json stat "$HOST:$PORT"
expect_status 0 "stat the configured daemon"
cp "$OUT" "$SCRATCH/stat.json"
is "$(json_get "$SCRATCH/stat.json" '["regions"].__len__()' 2>&1)" 3 "the config made 3 regions"
while read -r name backing size chunk; do
	is "$(region_field "$SCRATCH/stat.json" "$name" backing 2>&1)" "$backing" "config: $name is $backing"
	is "$(region_field "$SCRATCH/stat.json" "$name" size 2>&1)" "$size" "config: $name has $size bytes"
	is "$(region_field "$SCRATCH/stat.json" "$name" chunk_size 2>&1)" "$chunk" \
		"config: $name has $chunk-byte chunks"
done <<EOF
one anon 4194304 65536
two memfd 8388608 4096
three anon 67108864 65536
EOF

# ------------------------------------------------ memfd seen by a local app
rand_file "$SCRATCH/two.src" $((8 * 1024 * 1024))
ms -q push "$SCRATCH/two.src" "$(url two)"
expect_status 0 "push 8 MiB into the memfd region"
fdpath=$(grep -oE '/proc/[0-9]+/fd/[0-9]+' "$DLOG" | head -n 1)
if [ -n "$fdpath" ]; then
	pass "the log names the memfd as /proc/PID/fd/N ($fdpath)"
	is "$(echo "$fdpath" | cut -d/ -f3)" "$DPID" "the /proc path is the daemon's"
	dd if="$fdpath" of="$SCRATCH/two.dd" bs=1M status=none 2>"$SCRATCH/dd.err"
	same_file "$SCRATCH/two.src" "$SCRATCH/two.dd" "reading $fdpath gives the bytes pushed"
	"$PY" - "$fdpath" "$SCRATCH/two.mmap" <<'EOF' 2>"$SCRATCH/mmap.err"
import mmap, sys
with open(sys.argv[1], "rb") as f:
    m = mmap.mmap(f.fileno(), 0, flags=mmap.MAP_SHARED, prot=mmap.PROT_READ)
    with open(sys.argv[2], "wb") as out:
        out.write(m[:])
    m.close()
EOF
	same_file "$SCRATCH/two.src" "$SCRATCH/two.mmap" "mapping $fdpath shows the bytes pushed"
	diag_file "$SCRATCH/mmap.err"
else
	fail "the log names the memfd as /proc/PID/fd/N"
	diag_file "$DLOG"
fi

# ------------------------------------------- SIGTERM with a client connected
if start_holder three; then
	pass "a client is connected in the middle of a pull"
else
	fail "a client is connected in the middle of a pull"
	diag_file "$SCRATCH/holder.err"
fi
stop_daemon TERM
is "$DSTATUS" 0 "SIGTERM with a client connected: exit 0"
unlike "$DLOG" "AddressSanitizer|runtime error|LeakSanitizer" "memsyncd log has no sanitizer report"
if release_holder; then
	rc=$(cat "$SCRATCH/holder.rc" 2>&1)
	if [ "$rc" = 0 ] || [ "$rc" = 1 ]; then
		pass "the connected client then ends cleanly (exit $rc)"
	else
		fail "the connected client then ends cleanly" "exit status: $rc"
		diag_file "$SCRATCH/holder.err"
	fi
else
	fail "the connected client then ends cleanly" "still running after 60 s"
fi

# --------------------------------------------------------- -v and options
start_daemon_or_bail -v --transport "$dtransport" --region x:1M:nolock --log-level info
pass "memsyncd starts with -v --transport $dtransport --log-level"
ms -q pull "$(url x)" "$SCRATCH/x.out"
expect_status 0 "pull from it"
stop_daemon INT
is "$DSTATUS" 0 "SIGINT: exit 0"

# ------------------------------------------------------- bad config files
# bad_conf NAME LINE TEXT... - a config whose line LINE is wrong
bad_conf() {
	local name=$1 line=$2 f=$SCRATCH/bad.conf
	shift 2
	printf '%s\n' "$@" >"$f"
	RUN_TIMEOUT=10 run "$MEMSYNCD" --listen "$HOST:0" --config "$f"
	expect_status 2 "config with $name: exit 2"
	like "$ERR" "$f:$line([^0-9]|$)" "config with $name: the error names $f:$line"
}
bad_conf "an unknown key" 3 "# ok" "region a:1M" "frobnicate yes"
bad_conf "a bad region" 2 "listen $HOST:0" "region vm0:lots"
bad_conf "a bad log level" 4 "" "# comment" "region a:1M" "log-level loud"
bad_conf "a key without a value" 1 "region"
bad_conf "a bad transport" 2 "region a:1M" "transport pigeon"

RUN_TIMEOUT=10 run "$MEMSYNCD" --listen "$HOST:0" --config "$SCRATCH/no-such.conf"
expect_status 2 "a missing --config file: exit 2"
like "$ERR" "no-such\.conf" "a missing --config file: the error names it"

# ------------------------------------------------------- bad --region specs
for spec in vm0 "vm0:" "vm0:lots" "vm0:1M:bogus" "vm0:1M:chunk=3K" "vm0:1M:chunk=2K" \
	"vm0:1M:chunk=32M" "bad name!:1M" ":1M" "vm0:0" "vm0:1000" "vm0:1M:file=" \
	"$(printf 'n%.0s' {1..64}):1M"; do
	RUN_TIMEOUT=10 run "$MEMSYNCD" --listen "$HOST:0" --region "$spec"
	expect_status 2 "--region '$spec': exit 2"
	like "$ERR" "region" "--region '$spec': the error is about the region"
done
RUN_TIMEOUT=10 run "$MEMSYNCD" --listen "$HOST:0" --region a:1M --region a:1M
expect_status 2 "two regions with the same name: exit 2"

# A backing file that cannot be created is an error, not a silent fallback.
RUN_TIMEOUT=10 run "$MEMSYNCD" --listen "$HOST:0" --region "f:1M:file=$SCRATCH/no-such-dir/f.img"
isnt "$RC" 0 "a backing file in a missing directory: memsyncd fails"
like "$ERR" "no-such-dir" "a backing file in a missing directory: the error names the path"

done_testing
