#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# admin.sh - runtime administration (issue #14, item 4), against memsyncd
# with a 4 MiB region; the clients are tests/helpers/admtool, which keeps
# the region open between two steps (a writer: write + commit, a reader:
# a verified pull), so the test looks and acts in between:
#  (a) `memsync stat` lists both clients under the region: transport,
#      mode, the writer's lease and epoch, each connection's bytes;
#      `--json stat` parses (python3 -m json.tool) and says the same;
#  (b) `memsync disconnect` of an unknown id fails (exit 1, "no client N")
#      and changes nothing;
#  (c) `memsync disconnect` of the writer while it holds the lease: the
#      daemon logs it at WARN naming who asked, the writer's next write
#      fails, the reader goes on, the region equals the writer's last
#      commit byte for byte, and the next writer gets a new epoch;
#  (d) with --auth-keys: a read key lists its own connections only and
#      may not disconnect the writer (exit 1, nothing changes); a
#      read-write key may;
#  (e) regions at runtime, through the configuration and SIGHUP: a region
#      added is pulled; a region dropped while a reader has it open stays
#      (WARN); once that reader is disconnected, the next SIGHUP removes it
#      and it is an unknown region.  (daemon_signals.sh tests reloads in
#      depth, test_unexport the library's ms_server_unexport.)
#
# shellcheck source-path=SCRIPTDIR
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

ADMTOOL=${ADMTOOL:-$TESTS_BUILDDIR/helpers/admtool}
[ -x "$ADMTOOL" ] || skip_all "no $ADMTOOL (make check builds it)"
command -v openssl >/dev/null || skip_all "openssl is not installed (scripts/setup-deps)"
size=$((4 * MiB))
want_transport=tcp
[ "$TRANSPORT" = rdma ] && want_transport=rdma

# tool TAG MODE REGION FILE [KEYFILE] - start admtool; sets TPID and TFD
# (the write end of its stdin, a fifo: a line on it starts the second
# step).  Returns 0 once it printed "ready".
TPID='' TFD=''
tool() {
	local in=$SCRATCH/$1.in
	rm -f "$in"
	mkfifo "$in" || return 1
	MS_TEST_TRANSPORT=$TRANSPORT MEMSYNC_KEY_FILE=${5:-} \
		"$ADMTOOL" "$HOST" "$PORT" "$3" "$2" "$4" <"$in" >"$SCRATCH/$1.out" \
		2>"$SCRATCH/$1.err" &
	TPID=$!
	track "$TPID"
	exec {TFD}>"$in"
	if ! wait_for 30 grep -q '^ready' "$SCRATCH/$1.out"; then
		diag_file "$SCRATCH/$1.err"
		return 1
	fi
}

# finish PID FD - let a tool take its second step; its exit status in
# WSTATUS (124 when it did not end within 60 s)
finish() {
	echo go >&"$2"
	eval "exec $2>&-"
	wait_exit "$1" 60 || { kill_wait "$1"; WSTATUS=124; }
}

# conn ID FIELD - a field of connection ID of the first region in the
# last `--json stat` ($SCRATCH/stat.json)
conn() {
	json_get "$SCRATCH/stat.json" \
		"[\"regions\"][0][\"connections\"][[c[\"id\"] for c in d[\"regions\"][0][\"connections\"]].index($1)][\"$2\"]"
}

# ids MODE - the ids of the connections in MODE in the last --json stat
ids() {
	"$PY" - "$SCRATCH/stat.json" "$1" <<'EOF2'
import json, sys
d = json.load(open(sys.argv[1]))
print(" ".join(str(c["id"]) for r in d["regions"] for c in r["connections"]
               if c["mode"] == sys.argv[2]))
EOF2
}

# jstat [MEMSYNC OPTIONS] - `memsync --json stat` of region a into stat.json
jstat() {
	ms "$@" --json stat "$(url a)"
	cp "$OUT" "$SCRATCH/stat.json"
}

rand_file "$SCRATCH/a.img" "$size"
"$PY" -c 'import sys; d = open(sys.argv[1], "rb").read(); open(sys.argv[2], "wb").write(bytes(b ^ 255 for b in d))' \
	"$SCRATCH/a.img" "$SCRATCH/a.inv"

# ======================================================== (a) stat
# the tools sit idle between their steps, renewing nothing: a lease that
# lapses on its own would hide what the test looks for
ttl=3600
start_daemon_or_bail --log-level info --lease-ttl $ttl --region a:4M --region b:1M
if ! tool w write a "$SCRATCH/a.img"; then
	bail_out "the writer does not get ready"
fi
WP=$TPID WFD=$TFD
tool r read a "$SCRATCH/a.img" || bail_out "the reader does not get ready"
RP=$TPID RFD=$TFD
epoch=$(sed -n 's/^ready //p' "$SCRATCH/w.out")

ms stat "memsync://$HOST:$PORT"
expect_status 0 "(a) stat of the server"
like "$OUT" "^a: 2 clients$" "(a) the table says a has two clients"
like "$OUT" "^ +ID +ADDRESS +TRANSPORT +MODE +LEASE +EPOCH +READ +WRITTEN +IDLE +KEY$" \
	"(a) the clients' table has its header"
# over RDMA the NIC moves the bytes: the server's CPU sees none of them
wbytes="4.00 MiB" rbytes="[0-9.]+ MiB"
[ "$TRANSPORT" = rdma ] && wbytes="0 B" rbytes="0 B"
like "$OUT" "^ +[0-9]+ +$HOST:[0-9]+ +$want_transport +write +held +$epoch +0 B +$wbytes +[0-9.]+s +-$" \
	"(a) the writer: $want_transport, write, the lease held at epoch $epoch, $wbytes written"
like "$OUT" "^ +[0-9]+ +$HOST:[0-9]+ +$want_transport +read +- +- +$rbytes +0 B +[0-9.]+s +-$" \
	"(a) the reader: read, no lease"
unlike "$OUT" "^b: " "(a) b has no clients: no table"

jstat
expect_status 0 "(a) --json stat"
if "$PY" -m json.tool "$SCRATCH/stat.json" >/dev/null 2>&1; then
	pass "(a) --json stat parses (python3 -m json.tool)"
else
	fail "(a) --json stat parses (python3 -m json.tool)" "$OUT"
fi
is "$(json_get "$SCRATCH/stat.json" '["regions"][0]["clients"]')" 2 "(a) --json: clients 2"
wid=$(ids write) rid=$(ids read)
isnt "$wid" "" "(a) --json: one writer (id $wid)"
isnt "$rid" "" "(a) --json: one reader (id $rid)"
is "$(conn "$wid" lease)" true "(a) --json: the writer holds the lease"
is "$(conn "$wid" epoch)" "$epoch" "(a) --json: at epoch $epoch"
is "$(conn "$wid" transport)" "$want_transport" "(a) --json: transport $want_transport"
wire_is "$(conn "$wid" bytes_written)" "$size" "(a) --json: the writer's connection wrote 4 MiB"
is "$(conn "$rid" lease)" false "(a) --json: the reader holds no lease"
if [ "$TRANSPORT" != rdma ]; then
	check "(a) --json: the reader's connection read at least 4 MiB" \
		test "$(conn "$rid" bytes_read)" -ge "$size"
fi
conn "$rid" address >"$SCRATCH/addr"
like "$SCRATCH/addr" "^$HOST:[0-9]+$" "(a) --json: the reader's address"

# ======================================================== (b) unknown id
ms disconnect "$HOST:$PORT" 99999
expect_status 1 "(b) disconnect of an unknown id fails"
like "$ERR" "^memsync: disconnect: no client 99999" "(b) ... saying so"
ms disconnect "$HOST:$PORT" x1
expect_status 2 "(b) a client id that is not a number is a usage error"
jstat
is "$(json_get "$SCRATCH/stat.json" '["regions"][0]["clients"]')" 2 "(b) nothing changed: two clients"

# ======================================================== (c) disconnect the writer
ms disconnect "$HOST:$PORT" "$wid"
expect_status 0 "(c) disconnect of the writer"
like "$OUT" "^disconnected client $wid" "(c) ... says so"
like "$DLOG" "WARN: disconnecting client $wid \\($HOST:[0-9]+\\) at the request of $HOST:[0-9]+" \
	"(c) the daemon logs it at WARN, with who asked"
like "$DLOG" "WARN: peer $HOST:[0-9]+: disconnected at an operator's request" \
	"(c) ... and the connection's close"
ms --json lease "$(url a)"
cp "$OUT" "$SCRATCH/lease.json"
is "$(json_get "$SCRATCH/lease.json" '["lease"]["state"]')" free "(c) the lease is free at once"
finish "$WP" "$WFD"
isnt "$WSTATUS" 0 "(c) the disconnected writer's next write fails (exit $WSTATUS)"
like "$SCRATCH/w.out" "^failed: " "(c) ... $(tail -n 1 "$SCRATCH/w.out")"
finish "$RP" "$RFD"
is "$WSTATUS" 0 "(c) the reader goes on: its second pull works"
ms pull "$(url a)" "$SCRATCH/a.out"
expect_status 0 "(c) a verified pull of a"
same_file "$SCRATCH/a.img" "$SCRATCH/a.out" "(c) a is the writer's last commit, byte for byte"
tool w2 write a "$SCRATCH/a.inv" || fail "(c) a new writer takes the lease"
W2P=$TPID W2FD=$TFD
is "$(sed -n 's/^ready //p' "$SCRATCH/w2.out")" $((epoch + 1)) "(c) at the next epoch"
finish "$W2P" "$W2FD"
is "$WSTATUS" 0 "(c) the new writer commits"
ms pull "$(url a)" "$SCRATCH/a.out"
same_file "$SCRATCH/a.img" "$SCRATCH/a.out" "(c) its two commits: a holds its last one"
stop_daemon TERM

# ======================================================== (d) keys
# With --auth-keys memsyncd serves no RDMA (the key handshake exists on TCP
# only, docs/security.md): over the RDMA stage this part runs on TCP.
saved_transport=$TRANSPORT saved_want=$want_transport saved_msc=("${MSC[@]}")
if [ "$TRANSPORT" = rdma ]; then
	diag "(d) runs over TCP: with keys memsyncd does not listen on RDMA"
	TRANSPORT=tcp want_transport=tcp
	for i in "${!MSC[@]}"; do [ "${MSC[$i]}" = rdma ] && MSC[i]=tcp; done
fi
secret() { openssl rand -hex 32; }
K=$SCRATCH/keys RW=$SCRATCH/rw.key RO=$SCRATCH/ro.key
s_rw=$(secret) s_ro=$(secret)
printf 'ops %s read-write *\nreader %s read a\n' "$s_rw" "$s_ro" >"$K"
echo "ops $s_rw" >"$RW"
echo "reader $s_ro" >"$RO"
chmod 600 "$K" "$RW" "$RO"
start_daemon_or_bail --log-level info --lease-ttl $ttl --auth-keys "$K" --region a:4M
tool kw write a "$SCRATCH/a.img" "$RW" || bail_out "(d) the writer does not get ready"
WP=$TPID WFD=$TFD
tool kr read a "$SCRATCH/a.img" "$RO" || bail_out "(d) the reader does not get ready"
RP=$TPID RFD=$TFD

jstat --key-file "$RW"
expect_status 0 "(d) stat with the read-write key"
is "$(json_get "$SCRATCH/stat.json" '["regions"][0]["connections"].__len__()')" 2 \
	"(d) the read-write key sees both connections"
wid=$(ids write) rid=$(ids read)
is "$(conn "$wid" key)" ops "(d) the writer's key is named"
is "$(conn "$rid" key)" reader "(d) the reader's key is named"
jstat --key-file "$RO"
expect_status 0 "(d) stat with the read key"
is "$(json_get "$SCRATCH/stat.json" '["regions"][0]["connections"].__len__()')" 1 \
	"(d) the read key sees one connection"
is "$(json_get "$SCRATCH/stat.json" '["regions"][0]["connections"][0]["key"]')" reader \
	"(d) ... its own"
ms --key-file "$RO" disconnect "$HOST:$PORT" "$wid"
expect_status 1 "(d) the read key may not disconnect the writer"
like "$ERR" "key 'reader' may not disconnect client $wid .*read-write grant on region 'a'" \
	"(d) ... and is told why"
jstat --key-file "$RW"
is "$(conn "$wid" lease)" true "(d) nothing changed: the writer still holds the lease"
ms --key-file "$RW" disconnect "$HOST:$PORT" "$wid"
expect_status 0 "(d) the read-write key may"
like "$DLOG" "WARN: disconnecting client $wid \\($HOST:[0-9]+, key 'ops'\\) at the request of $HOST:[0-9]+ \\(key 'ops'\\)" \
	"(d) the log names both keys"
finish "$WP" "$WFD"
isnt "$WSTATUS" 0 "(d) the disconnected writer's next write fails"
finish "$RP" "$RFD"
is "$WSTATUS" 0 "(d) the reader goes on"
stop_daemon TERM

TRANSPORT=$saved_transport want_transport=$saved_want MSC=("${saved_msc[@]}")

# ======================================================== (e) SIGHUP
conf=$SCRATCH/memsyncd.conf
# the daemon's transport: TCP, or TCP and RDMA in the RDMA stage
xport=tcp
[ "$TRANSPORT" = rdma ] && xport=auto
printf 'log-level info\nlease-ttl %s\ntransport %s\nregion a:4M\n' "$ttl" "$xport" >"$conf"
start_daemon_or_bail --config "$conf"
# reloaded N - the log has N ends of reloads
# shellcheck disable=SC2317 # called through wait_for
reloaded() {
	[ "$(grep -cE 'reload: done|nothing changed' "$DLOG" 2>/dev/null)" -ge "$1" ]
}
tool er read a "$SCRATCH/a.img" || bail_out "(e) the reader does not get ready"
RP=$TPID RFD=$TFD
printf 'log-level info\nlease-ttl %s\ntransport %s\nregion c:1M\n' "$ttl" "$xport" >"$conf"
kill -HUP "$DPID"
check "(e) SIGHUP: the reload ends" wait_for 20 reloaded 1
like "$DLOG" "reload: added region c" "(e) the region added to the file is added"
ms pull "$(url c)" "$SCRATCH/c.out"
expect_status 0 "(e) ... and pulled"
like "$DLOG" "WARN: reload: region 'a' was dropped from the configuration, but it is in use \(1 client" \
	"(e) the dropped region a reader has open stays (WARN)"
jstat
rid=$(ids read)
isnt "$rid" "" "(e) stat names the reader that keeps it (id $rid)"
ms disconnect "$HOST:$PORT" "$rid"
expect_status 0 "(e) the operator disconnects it"
finish "$RP" "$RFD"
isnt "$WSTATUS" 0 "(e) the disconnected reader's next pull fails"
kill -HUP "$DPID"
check "(e) SIGHUP again: the reload ends" wait_for 20 reloaded 2
like "$DLOG" "reload: region 'a' removed" "(e) now the idle region is removed"
ms pull "$(url a)" "$SCRATCH/a.out"
like "$ERR" "unknown region 'a'" "(e) ... and is an unknown region"
stop_daemon TERM

done_testing
