#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# migrate-demo.sh - live migration, end to end: a key-value store keeps its
# table in a region of memsyncd A while a client writes and reads through
# it; the region moves to memsyncd B (another network namespace, across a
# veth pair) with `memsync migrate`; the client keeps going, then every
# write it made is checked, last against a fresh store on B.
#
#   sudo examples/migrate-demo.sh [BUILDDIR]      (default: . or ./build)
#
# Environment: MODE (hybrid; precopy, postcopy, stopcopy), SIZE (region,
# default 64M), BEFORE and AFTER (seconds of client traffic before and
# after the migration, default 3 and 3), KEEP=1 keeps the work directory.
# Needs root (ip netns).  Prints the client's verified writes, the
# downtime and the bytes moved; exits 0 only when every write verified.
#
#   netns A (10.77.0.1)                     netns B (10.77.0.2)
#   memsyncd A  <-- region kv -->           memsyncd B
#   kvstore (writable lazy mapping of kv, follows the region to B)
#   kvclient -> kvstore (127.0.0.1)
#   memsync migrate memsync://10.77.0.1/kv memsync://10.77.0.2
set -u

MODE=${MODE:-hybrid}
SIZE=${SIZE:-64M}
BEFORE=${BEFORE:-3}
AFTER=${AFTER:-3}
IPA=10.77.0.1 IPB=10.77.0.2 PORT=7400

say() { printf 'migrate-demo: %s\n' "$*"; }
die() { printf 'migrate-demo: %s\n' "$*" >&2; exit 1; }

BUILD=${1:-}
if [ -z "$BUILD" ]; then
	if [ -x ./memsync ]; then BUILD=.; else BUILD=./build; fi
fi
BUILD=$(cd "$BUILD" 2>/dev/null && pwd) || die "no build directory '$1'"
MEMSYNC=$BUILD/memsync MEMSYNCD=$BUILD/memsyncd
KVSTORE=$BUILD/examples/kvstore/kvstore KVCLIENT=$BUILD/examples/kvstore/kvclient
for p in "$MEMSYNC" "$MEMSYNCD" "$KVSTORE" "$KVCLIENT"; do
	[ -x "$p" ] || die "$p not found: build first (make), then pass the build directory"
done
[ "$(id -u)" = 0 ] || die "needs root (network namespaces): sudo $0 $*"
command -v ip >/dev/null || die "needs ip (iproute2)"
command -v python3 >/dev/null || die "needs python3 (reads memsync's JSON)"

NSA=msdemo-a-$$ NSB=msdemo-b-$$ VA=msda$$ VB=msdb$$
WORK=$(mktemp -d /tmp/migrate-demo.XXXXXX)
PIDS=()

cleanup() {
	local p
	for p in "${PIDS[@]}"; do
		kill -KILL "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	ip netns del "$NSA" 2>/dev/null
	ip netns del "$NSB" 2>/dev/null
	if [ "${KEEP:-0}" = 1 ]; then say "logs kept in $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# (processes started in the background run `ip netns exec` themselves, which
# execs them: a shell function there would be a subshell, and SIGTERM would
# end it instead of them)
ina() { ip netns exec "$NSA" "$@"; }

# wait_file FILE SECONDS PID - until FILE holds a number (PID must live)
wait_file() {
	local i=0
	until [ -s "$1" ] && grep -qE '^[0-9]+$' "$1"; do
		kill -0 "$3" 2>/dev/null || return 1
		i=$((i + 1))
		[ "$i" -gt $(($2 * 10)) ] && return 1
		sleep 0.1
	done
}

# stop PID SECONDS - SIGTERM, wait (bounded); its exit status in $STATUS
stop() {
	local i=0
	STATUS=
	kill -TERM "$1" 2>/dev/null
	while kill -0 "$1" 2>/dev/null && [ "$(ps -o stat= -p "$1" | cut -c1)" != Z ]; do
		i=$((i + 1))
		[ "$i" -gt $(($2 * 10)) ] && { kill -KILL "$1"; break; }
		sleep 0.1
	done
	wait "$1" 2>/dev/null
	STATUS=$?
}


# ------------------------------------------------------------ the network
say "network namespaces $NSA ($IPA) and $NSB ($IPB), joined by a veth pair"
ip netns add "$NSA" && ip netns add "$NSB" || die "cannot create network namespaces"
ip link add "$VA" type veth peer name "$VB" || die "cannot create a veth pair"
ip link set "$VA" netns "$NSA" && ip link set "$VB" netns "$NSB" || die "cannot move the veth ends"
ip -n "$NSA" addr add "$IPA/24" dev "$VA" && ip -n "$NSB" addr add "$IPB/24" dev "$VB" ||
	die "cannot address the veth ends"
for ns in "$NSA" "$NSB"; do
	ip -n "$ns" link set lo up
done
ip -n "$NSA" link set "$VA" up && ip -n "$NSB" link set "$VB" up || die "cannot bring the veth up"

# ------------------------------------------------------------ the keys
# One key for everyone here: A and B authenticate peers with it, B
# presents it to A when it pulls the region, and the clients (kvstore,
# memsync) use it through MEMSYNC_KEY_FILE.  In a cluster each would have
# its own line with only the grants it needs (docs/security.md).
KEYS=$WORK/keys
( umask 077 && printf 'demo %s read-write *\n' "$(openssl rand -hex 32)" >"$KEYS" ) ||
	die "cannot make a key (openssl rand)"
export MEMSYNC_KEY_FILE=$KEYS
say "a 256-bit key in $KEYS (both daemons require it)"

# ------------------------------------------------------------ the daemons
ip netns exec "$NSA" "$MEMSYNCD" --listen "$IPA:$PORT" --port-file "$WORK/a.port" --region "kv:$SIZE" \
	--auth-keys "$KEYS" >"$WORK/memsyncd-a.log" 2>&1 &
PIDA=$!
PIDS+=("$PIDA")
ip netns exec "$NSB" "$MEMSYNCD" --listen "$IPB:$PORT" --port-file "$WORK/b.port" \
	--auth-keys "$KEYS" --key-file "$KEYS" >"$WORK/memsyncd-b.log" 2>&1 &
PIDB=$!
PIDS+=("$PIDB")
wait_file "$WORK/a.port" 20 "$PIDA" || { cat "$WORK/memsyncd-a.log" >&2; die "memsyncd A did not start"; }
wait_file "$WORK/b.port" 20 "$PIDB" || { cat "$WORK/memsyncd-b.log" >&2; die "memsyncd B did not start"; }
say "memsyncd A on $IPA:$PORT exports kv ($SIZE); memsyncd B on $IPB:$PORT has no regions"

# ------------------------------------------------------ store and client
ip netns exec "$NSA" "$KVSTORE" --region "memsync://$IPA:$PORT/kv" --port-file "$WORK/kv.port" \
	2>"$WORK/kvstore.log" &
KVPID=$!
PIDS+=("$KVPID")
wait_file "$WORK/kv.port" 30 "$KVPID" || { cat "$WORK/kvstore.log" >&2; die "kvstore did not start"; }
KVPORT=$(cat "$WORK/kv.port")
ip netns exec "$NSA" "$KVCLIENT" --connect "127.0.0.1:$KVPORT" --seconds 0 --state "$WORK/state" \
	>"$WORK/kvclient.out" 2>"$WORK/kvclient.log" &
CLPID=$!
PIDS+=("$CLPID")
say "kvstore (table in a writable mapping of kv at A) and kvclient running; ${BEFORE}s of traffic"
sleep "$BEFORE"

# -------------------------------------------------------------- migrate
say "memsync migrate --mode $MODE memsync://$IPA:$PORT/kv memsync://$IPB:$PORT"
MIGRC=0
ina timeout 600 "$MEMSYNC" --json migrate --mode "$MODE" "memsync://$IPA:$PORT/kv" \
	"memsync://$IPB:$PORT" >"$WORK/migrate.json" 2>"$WORK/migrate.err" || MIGRC=$?
[ "$MIGRC" = 0 ] || { cat "$WORK/migrate.err" >&2; say "memsync migrate failed (exit $MIGRC)"; }
say "migrated; ${AFTER}s more traffic (now to B)"
sleep "$AFTER"

stop "$CLPID" 30
CLRC=$STATUS
stop "$KVPID" 30
KVRC=$STATUS
[ "$KVRC" = 0 ] || { say "kvstore exited with $KVRC:"; tail -n 5 "$WORK/kvstore.log" >&2; }
echo "--- memsync stat at A and B"
ina "$MEMSYNC" stat "$IPA:$PORT" 2>&1
ina "$MEMSYNC" stat "$IPB:$PORT" 2>&1

# -------------------------------------- every write, against B's region
ip netns exec "$NSA" "$KVSTORE" --region "memsync://$IPB:$PORT/kv" --port-file "$WORK/kv2.port" \
	2>"$WORK/kvstore2.log" &
KV2PID=$!
PIDS+=("$KV2PID")
CHKRC=1
if wait_file "$WORK/kv2.port" 30 "$KV2PID"; then
	CHKRC=0
	ina "$KVCLIENT" --connect "127.0.0.1:$(cat "$WORK/kv2.port")" --check \
		--state "$WORK/state" >"$WORK/check.out" 2>"$WORK/check.log" || CHKRC=$?
	stop "$KV2PID" 30
else
	cat "$WORK/kvstore2.log" >&2
fi

# --------------------------------------------------------------- report
echo "--- results"
echo "client (through the migration): $(sed 's/^kvclient: //' "$WORK/kvclient.out")"
[ -s "$WORK/check.out" ] && echo "fresh store on B: $(sed 's/^kvclient: check: //' "$WORK/check.out")"
[ -s "$WORK/kvclient.log" ] && tail -n 5 "$WORK/kvclient.log"
[ -s "$WORK/check.log" ] && tail -n 5 "$WORK/check.log"
if [ -s "$WORK/migrate.json" ]; then
	python3 - "$WORK/migrate.json" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
b = d["downtime_breakdown_us"]
ms = lambda us: "%.2f ms" % (us / 1000.0)
print("migration: %s, %s; pre-copy %d round%s (%s); total %s" % (
    d["mode"], d["phase"], d["rounds"], "" if d["rounds"] == 1 else "s",
    d["precopy_end"] or "-", ms(d["total_us"])))
print("downtime: %s (pause %s, final collect %s, final transfer %s, commit %s, "
      "lease hand-over %s)" % (ms(d["downtime_us"]), ms(b["pause"]),
      ms(b["final_collect"]), ms(b["final_transfer"]), ms(b["commit"]),
      ms(b["lease_handover"])))
if b["first_fault"]:
    print("first post-copy fault served %s after the switch" % ms(b["first_fault"]))
print("bytes moved: %d for a %d-byte region (%.2fx)" % (
    d["bytes"], d["size"], d["bytes"] / float(d["size"] or 1)))
if d["faults"]:
    print("post-copy faults: %d" % d["faults"])
EOF
fi
if [ "$MIGRC" = 0 ] && [ "$CLRC" = 0 ] && [ "$KVRC" = 0 ] && [ "$CHKRC" = 0 ]; then
	say "PASS: every write verified"
	exit 0
fi
say "FAIL: migrate $MIGRC, client $CLRC, kvstore $KVRC, check on B $CHKRC (KEEP=1 keeps the logs)"
exit 1
