#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# metrics.sh - memsyncd --metrics (docs/operations.md, "# Metrics"): the
# listener comes from the config file (metrics, metrics-port-file) on
# 127.0.0.1 port 0; GET /metrics answers the Prometheus text format
# (its Content-Type, and `promtool check metrics` passes on every
# scrape); scrapes before and after a push of M bytes and a pull of N
# bytes show the counters moved by exactly those amounts (bytes
# committed, written and read, commits, leases granted, generation,
# zero chunks, connections), and a pull held open shows one client;
# /other is 404, POST 405; with keys, clients with a wrong secret count
# as failed handshakes; a migration into a daemon shows there (started,
# completed, its downtime as migrate reported it); a non-loopback metrics
# address is refused without --insecure.
#
# shellcheck source-path=SCRIPTDIR
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

command -v curl >/dev/null || bail_out "curl is required (scripts/setup-deps installs it)"
command -v promtool >/dev/null ||
	bail_out "promtool is required (scripts/setup-deps installs prometheus)"

chunk=65536
size=$((16 * chunk))       # 16 chunks of zeros to begin with
xp=${TRANSPORT:-tcp}       # the listener clients of this run reach
conf=$SCRATCH/memsyncd.conf
mpf=$SCRATCH/metrics.port
cat >"$conf" <<EOC
# the metrics listener, as an operator would configure it
metrics 127.0.0.1:0
metrics-port-file $mpf
EOC
start_daemon_or_bail --config "$conf" --region r:1M:chunk=64K
wait_for 10 test -s "$mpf" || bail_out "no metrics port file"
MPORT=$(cat "$mpf")
MURL=http://127.0.0.1:$MPORT

# scrape NAME - GET /metrics into $SCRATCH/NAME.prom (headers in .hdr);
# checks the status and promtool's verdict
scrape() {
	local f=$SCRATCH/$1.prom code
	code=$(curl -sS --max-time $((10 * SLOW)) -D "$SCRATCH/$1.hdr" -o "$f" \
		-w '%{http_code}' "$MURL/metrics" 2>"$SCRATCH/curl.err") || code=curl-failed
	is "$code" 200 "scrape $1: 200"
	if promtool check metrics <"$f" >"$SCRATCH/promtool.out" 2>&1; then
		pass "scrape $1: promtool check metrics passes"
	else
		fail "scrape $1: promtool check metrics passes"
		diag_file "$SCRATCH/promtool.out" 20
	fi
}

# metric SCRAPE SERIES - a sample's value, e.g. metric a 'x_total{region="r"}'
metric() {
	awk -v k="$2" '$1 == k { print $2; found = 1 } END { exit !found }' \
		"$SCRATCH/$1.prom" || echo missing
}

# delta A B SERIES - how much SERIES grew from scrape A to scrape B
delta() {
	local a b
	a=$(metric "$1" "$3")
	b=$(metric "$2" "$3")
	if [ "$a" = missing ] || [ "$b" = missing ]; then
		echo missing
	else
		echo $((b - a))
	fi
}

# matches VALUE ERE NAME
matches() {
	if [[ $1 =~ $2 ]]; then
		pass "$3"
	else
		fail "$3" "got '$1', want /$2/"
	fi
}

R='{region="r"}'
X="{transport=\"$xp\"}"

# ------------------------------------------------------------- at rest
scrape a
like "$SCRATCH/a.hdr" '^Content-Type: text/plain; version=0\.0\.4; charset=utf-8' \
	"Content-Type of the text format 0.0.4"
like "$SCRATCH/a.prom" '^memsync_build_info\{version="[^"]+",transport="[a-z+]+"\} 1$' \
	"build info"
matches "$(metric a memsync_uptime_seconds)" '^[0-9]+\.[0-9]+$' "uptime in seconds"
matches "$(metric a memsync_start_time_seconds)" '^1[0-9]{9}\.[0-9]+$' \
	"start time (Unix seconds)"
is "$(metric a "memsync_region_size_bytes$R")" "$size" "size of r"
is "$(metric a "memsync_region_chunks$R")" 16 "16 chunks"
is "$(metric a "memsync_region_zero_chunks$R")" 16 "a fresh region: every chunk zero"
is "$(metric a "memsync_region_lease_held$R")" 0 "no lease held"
is "$(metric a "memsync_migrations_started_total")" 0 "no migration"

# ---------------------------------------------------- a push of M bytes
M=$((4 * chunk))           # whole chunks: the push reads nothing back
rand_file "$SCRATCH/src" "$M"
ms -q push "$SCRATCH/src" "$(url r)"
expect_status 0 "push of $M bytes"
scrape b
is "$(delta a b "memsync_region_committed_bytes_total$R")" "$M" "committed bytes: +$M"
wire_is "$(delta a b "memsync_region_written_bytes_total$R")" "$M" "written bytes: +$M"
wire_is "$(delta a b "memsync_region_read_bytes_total$R")" 0 "read bytes: +0"
is "$(delta a b "memsync_region_commits_applied_total$R")" 1 "commits applied: +1"
is "$(delta a b "memsync_region_commits_refused_total$R")" 0 "commits refused: +0"
is "$(delta a b "memsync_region_leases_granted_total$R")" 1 "leases granted: +1"
is "$(delta a b "memsync_region_leases_fenced_total$R")" 0 "leases fenced: +0"
is "$(delta a b "memsync_region_generation$R")" 1 "generation: +1"
is "$(metric b "memsync_region_zero_chunks$R")" 12 "zero chunks: 16 - 4"
is "$(metric b "memsync_region_lease_epoch$R")" 1 "lease epoch 1"
is "$(metric b "memsync_region_lease_held$R")" 0 "the lease is released after the push"
is "$(delta a b "memsync_transport_connections_accepted_total$X")" 1 \
	"one connection accepted ($xp)"

# ---------------------------------------------------- a pull of N bytes
N=$size
ms -q pull "$(url r)" "$SCRATCH/out"
expect_status 0 "pull of $N bytes"
head -c "$M" "$SCRATCH/out" >"$SCRATCH/out.head"
same_file "$SCRATCH/out.head" "$SCRATCH/src" "the pull has what was pushed"
scrape c
# only the M pushed bytes cross: the other chunks are zero chunks, which a
# pull does not read (issue 13)
wire_is "$(delta b c "memsync_region_read_bytes_total$R")" "$M" "read bytes: +$M of the $N pulled"
is "$(delta b c "memsync_region_committed_bytes_total$R")" 0 "committed bytes: +0"
is "$(delta b c "memsync_region_commits_applied_total$R")" 0 "commits: +0"
is "$(delta b c "memsync_region_leases_granted_total$R")" 0 "leases granted: +0"

# ----------------------------------------------- a client in mid-pull
if start_holder r; then
	scrape d
	is "$(metric d "memsync_region_clients$R")" 1 "a pull held open: 1 client"
	matches "$(metric d "memsync_transport_connections_open$X")" '^[1-9][0-9]*$' \
		"... and a connection open"
	release_holder || diag "the held pull did not end"
else
	fail "a pull held open" "start_holder failed"
	diag_file "$SCRATCH/holder.err"
fi
# stat, run by start_holder, connects too: wait until all have gone
# shellcheck disable=SC2317 # called through wait_for
open_is_0() {
	curl -s "$MURL/metrics" | grep -qx "memsync_transport_connections_open$X 0"
}
if wait_for 20 open_is_0; then
	pass "no connection open once every client has gone"
else
	fail "no connection open once every client has gone"
fi
scrape e
is "$(metric e "memsync_region_clients$R")" 0 "no client"
is "$(metric e "memsync_transport_connection_errors_total$X")" 0 "no connection error"
is "$(metric e "memsync_transport_handshake_failures_total$X")" 0 "no failed handshake"

# ---------------------------------------------- other paths, methods
code=$(curl -s -o /dev/null -w '%{http_code}' "$MURL/other")
is "$code" 404 "GET /other: 404"
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -d x=1 "$MURL/metrics")
is "$code" 405 "POST /metrics: 405"
stop_daemon TERM
is "$DSTATUS" 0 "memsyncd stops cleanly with the metrics listener"

# ------------------------------------- failed handshakes (with keys)
if [ "$xp" = tcp ] && command -v openssl >/dev/null; then
	K=$SCRATCH/keys
	echo "admin $(openssl rand -hex 32) read-write *" >"$K"
	echo "admin $(openssl rand -hex 32)" >"$SCRATCH/wrong.key"
	chmod 600 "$K" "$SCRATCH/wrong.key"
	rm -f "$mpf"
	start_daemon_or_bail --auth-keys "$K" --region r:64K --metrics 127.0.0.1:0 \
		--metrics-port-file "$mpf"
	wait_for 10 test -s "$mpf" || bail_out "no metrics port file (keys)"
	MURL=http://127.0.0.1:$(cat "$mpf")
	scrape k0
	ms --key-file "$SCRATCH/wrong.key" stat "$(url r)"
	isnt "$RC" 0 "keys: a wrong secret is refused"
	ms --key-file "$SCRATCH/wrong.key" stat "$(url r)"
	ms --key-file "$K" stat "$(url r)"
	expect_status 0 "keys: the right one is taken"
	wait_for 20 open_is_0 || diag "connections still open"
	scrape k1
	is "$(delta k0 k1 "memsync_transport_handshake_failures_total$X")" 2 \
		"keys: two failed handshakes counted"
	is "$(delta k0 k1 "memsync_transport_connections_accepted_total$X")" 3 \
		"keys: three connections accepted"
	is "$(delta k0 k1 "memsync_transport_connection_errors_total$X")" 0 \
		"keys: no connection error"
	stop_daemon TERM
	is "$DSTATUS" 0 "keys: memsyncd stops cleanly"
else
	skip "failed handshakes" "TCP with openssl only"
fi

# ------------------------------------------- a migration into B
if [ "$xp" = tcp ]; then
	start_daemon_or_bail --region mv:1M:chunk=64K
	PA=$PORT DA=$DPID
	rm -f "$mpf"
	start_daemon_or_bail --metrics 127.0.0.1:0 --metrics-port-file "$mpf"
	PB=$PORT
	wait_for 10 test -s "$mpf" || bail_out "no metrics port file (migration)"
	MURL=http://127.0.0.1:$(cat "$mpf")
	scrape m0
	is "$(metric m0 memsync_migration_downtime_seconds_count)" 0 "B: no downtime yet"
	ms --json migrate --mode precopy "memsync://$HOST:$PA/mv" "memsync://$HOST:$PB"
	expect_status 0 "migrate mv from A to B"
	down_us=$(json_get "$OUT" '["downtime_us"]' 2>&1)
	scrape m1
	is "$(metric m1 memsync_migrations_started_total)" 1 "B: one migration started"
	is "$(metric m1 memsync_migrations_completed_total)" 1 "B: ... completed"
	is "$(metric m1 memsync_migrations_failed_total)" 0 "B: none failed"
	is "$(metric m1 memsync_migration_downtime_seconds_count)" 1 "B: one downtime"
	is "$(metric m1 memsync_migration_last_downtime_seconds)" \
		"$(printf '%d.%06d' $((down_us / 1000000)) $((down_us % 1000000)))" \
		"B: the last downtime is the one migrate reported (${down_us} us)"
	is "$(metric m1 memsync_migration_downtime_seconds_sum)" \
		"$(metric m1 memsync_migration_last_downtime_seconds)" "B: the sum is that one"
	is "$(metric m1 'memsync_migration_downtime_seconds_bucket{le="+Inf"}')" 1 \
		"B: histogram +Inf bucket"
	is "$(metric m1 "memsync_region_size_bytes{region=\"mv\"}")" $((16 * chunk)) \
		"B: mv is listed with its size"
	stop_daemon TERM
	is "$DSTATUS" 0 "B stops cleanly"
	DPID=$DA
	stop_daemon TERM
	is "$DSTATUS" 0 "A stops cleanly"
else
	skip "a migration" "TCP only"
fi

# ------------------------------------------------ non-loopback address
run "$MEMSYNCD" --listen 127.0.0.1:0 --region x:64K --metrics 0.0.0.0:0
isnt "$RC" 0 "--metrics 0.0.0.0:0 without --insecure: refused"
like "$ERR" "not a loopback address" "... saying why"

done_testing
