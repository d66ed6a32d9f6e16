#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# systemd.sh - memsyncd as a service (issue 14, items 1 and 2): the unit
# passes `systemd-analyze verify`; --check-config accepts the sample
# configuration and names each problem of a bad one (exit 1) without
# binding, pinning or creating anything; with NOTIFY_SOCKET the daemon
# sends READY=1 once its port answers, RELOADING=1 then READY=1 on SIGHUP
# and STOPPING=1 on SIGTERM; with JOURNAL_STREAM naming its standard error
# the log lines are "<N>text" without a timestamp; --syslog sends them to
# /dev/log (a socket of the test's, in a private mount namespace) and
# nothing to standard error.
#
# shellcheck source-path=SCRIPTDIR
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

DGRAMRECV=${DGRAMRECV:-$TESTS_BUILDDIR/helpers/dgramrecv}
unit_in=$TESTS_SRCDIR/../systemd/memsyncd.service.in
sample=$TESTS_SRCDIR/../etc/memsyncd.conf
[ -x "$DGRAMRECV" ] || bail_out "no $DGRAMRECV (make check builds it)"

# ---------------------------------------------------------------- the unit
# The unit as installed, but for the paths: ExecStart names this build's
# memsyncd (verify wants an executable there).
mkdir -p "$SCRATCH/unit"
sed -e "s|@sbindir@/memsyncd|$MEMSYNCD|g" -e "s|@sysconfdir@|$SCRATCH|g" "$unit_in" \
	>"$SCRATCH/unit/memsyncd.service"
if command -v systemd-analyze >/dev/null 2>&1; then
	run systemd-analyze verify --man=no "$SCRATCH/unit/memsyncd.service"
	cat "$OUT" "$ERR" >"$SCRATCH/verify.out"
	is "$RC" 0 "systemd-analyze verify: exit 0"
	unlike "$SCRATCH/verify.out" 'memsyncd\.service' "systemd-analyze verify: no complaint about the unit"
	# the check can fail: a broken setting is reported
	sed 's/^ProtectSystem=strict/ProtectSystem=bogus/' "$SCRATCH/unit/memsyncd.service" \
		>"$SCRATCH/memsyncd.service"
	run systemd-analyze verify --man=no "$SCRATCH/memsyncd.service"
	cat "$OUT" "$ERR" >"$SCRATCH/verify-bad.out"
	like "$SCRATCH/verify-bad.out" 'memsyncd\.service:[0-9]+:.*bogus' \
		"systemd-analyze verify: a bad value in the unit is reported"
else
	skip "systemd-analyze verify: exit 0" "systemd-analyze is not installed"
	skip "systemd-analyze verify: no complaint about the unit" "systemd-analyze is not installed"
	skip "systemd-analyze verify: a bad value in the unit is reported" "no systemd-analyze"
fi
for want in '^Type=notify$' '^NotifyAccess=main$' '^LimitMEMLOCK=infinity$' \
	'^ExecReload=/bin/kill -HUP \$MAINPID$' '^Restart=on-failure$' \
	'^RestrictAddressFamilies=.*AF_NETLINK.*AF_IB' '^CapabilityBoundingSet=CAP_IPC_LOCK' \
	'^ProtectSystem=strict$' '^NoNewPrivileges=yes$' '^WantedBy=multi-user.target$'; do
	like "$unit_in" "$want" "unit: $want"
done
unlike "$unit_in" '^(PrivateDevices=yes|DevicePolicy=)' "unit: RDMA devices stay reachable"

# ----------------------------------------------------------- check-config
run "$MEMSYNCD" --config "$sample" --check-config
expect_status 0 "--check-config: the sample configuration is valid"
is "$(cat "$OUT")" "memsyncd: configuration OK" "--check-config: says configuration OK"
run "$MEMSYNCD" --config "$sample" -t --log-level warning
expect_status 0 "-t: with --log-level warning"

# The configuration checked while a daemon holds its port: a check that
# bound would fail; the port file and the region's file are not created.
start_daemon_or_bail --region held:64K
held_port=$PORT
cat >"$SCRATCH/ok.conf" <<CONF
listen 127.0.0.1:$held_port
log-level NOTICE
port-file $SCRATCH/ok.port
region f:1M:file=$SCRATCH/f.img
CONF
run "$MEMSYNCD" --config "$SCRATCH/ok.conf" --check-config
expect_status 0 "--check-config: the port of a running daemon is not bound by the check"
holds() { if "$@"; then pass "$name"; else fail "$name"; fi; }
name="--check-config: no port file written" holds test ! -e "$SCRATCH/ok.port"
name="--check-config: no region file created" holds test ! -e "$SCRATCH/f.img"
stop_daemon

printf 'alice %s read-write *\n' "$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')" \
	>"$SCRATCH/keys.open"
chmod 644 "$SCRATCH/keys.open"
printf 'this is not a key line\n' >"$SCRATCH/keys.junk"
chmod 600 "$SCRATCH/keys.junk"

# bad_conf NAME ERE LINES... - a config with LINES: --check-config exits 1
# and its message matches ERE
n_bad=0
bad_conf() {
	local name=$1 ere=$2
	shift 2
	n_bad=$((n_bad + 1))
	printf '%s\n' "$@" >"$SCRATCH/bad$n_bad.conf"
	run "$MEMSYNCD" --config "$SCRATCH/bad$n_bad.conf" --check-config
	expect_status 1 "--check-config, $name: exit 1"
	like "$ERR" "$ere" "--check-config, $name: the problem is named"
	unlike "$OUT" "configuration OK" "--check-config, $name: not OK"
}
bad_conf "an unknown key" "bad$((n_bad + 1))\.conf:2: unknown key 'frobnicate'" \
	"region a:1M" "frobnicate yes"
bad_conf "a bad region size" "invalid region 'a:1Q'" "region a:1Q"
bad_conf "a bad log level" "invalid log level 'loud'" "log-level loud"
bad_conf "a key file others may read" "auth-keys: key file .*keys.open may be read or written by others" \
	"auth-keys $SCRATCH/keys.open" "region a:1M"
bad_conf "a key file that does not parse" "auth-keys: .*keys.junk" \
	"auth-keys $SCRATCH/keys.junk" "region a:1M"
bad_conf "a missing TLS certificate" "tls-cert $SCRATCH/nocert.pem: No such file" \
	"tls-cert $SCRATCH/nocert.pem" "tls-key $SCRATCH/keys.junk"
bad_conf "a TLS key without its certificate" "needs a certificate and its key" \
	"tls-key $SCRATCH/keys.junk"
bad_conf "a region file in a missing directory" "region b: file $SCRATCH/nodir/b: directory $SCRATCH/nodir: No such file" \
	"region a:1M" "region b:1M:file=$SCRATCH/nodir/b"
bad_conf "two regions on one file" "regions a and b: both backed by" \
	"region a:1M:file=$SCRATCH/same" "region b:1M:file=$SCRATCH/same"
bad_conf "a network address without keys" "listen 0\.0\.0\.0: not a loopback address and no auth-keys" \
	"listen 0.0.0.0:7400" "region a:1M"
bad_conf "a metrics listener on the network" "metrics 0\.0\.0\.0: not a loopback address" \
	"metrics 0.0.0.0:9740" "region a:1M"
bad_conf "a metrics port file in a missing directory" "metrics-port-file.*nodir" \
	"metrics 127.0.0.1:0" "metrics-port-file $SCRATCH/nodir/m.port" "region a:1M"
bad_conf "log-file and syslog together" "log-file and syslog are alternatives" \
	"log-file $SCRATCH/x.log" "syslog yes"
name="--check-config: no file created by the bad configurations" \
	holds test ! -e "$SCRATCH/same" -a ! -e "$SCRATCH/x.log"
# several problems: all of them are named
bad_conf "three problems" "tls-ca needs tls-cert" "region a:1M:file=$SCRATCH/nodir/a" \
	"tls-ca $SCRATCH/keys.junk" "listen 0.0.0.0:0"
like "$ERR" "region a: file" "--check-config, three problems: the region's too"
like "$ERR" "not a loopback address" "--check-config, three problems: the address's too"

# --------------------------------------------------------------- sd_notify
# notify_has N ERE - the Nth datagram ... simply: the messages file has a
# line matching ERE
nsock=$SCRATCH/notify.sock
nmsg=$SCRATCH/notify.msgs
"$DGRAMRECV" "$nsock" "$nmsg" 120 &
track $!
wait_for 10 test -S "$nsock" || bail_out "dgramrecv did not bind $nsock"
# line_of ERE - the first line number of the messages matching ERE (0: none)
line_of() {
	local n
	n=$(grep -nE -- "$1" "$nmsg" | head -n1 | cut -d: -f1)
	echo "${n:-0}"
}
count_of() {
	grep -cE -- "$1" "$nmsg"
}
# port_answers - the daemon's port takes a TCP connection
port_answers() {
	(exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null
}
NOTIFY_SOCKET=$nsock start_daemon_or_bail --region one:1M
if wait_for 20 grep -q '^READY=1$' "$nmsg"; then
	pass "NOTIFY_SOCKET: READY=1"
else
	fail "NOTIFY_SOCKET: READY=1" "$(cat "$nmsg")"
fi
name="NOTIFY_SOCKET: the port answers once READY=1 came" holds port_answers
like "$nmsg" "^STATUS=serving 1 region on 127\.0\.0\.1:$PORT \(tcp\)$" \
	"NOTIFY_SOCKET: STATUS says what is served"
is "$(count_of '^READY=1$')" 1 "NOTIFY_SOCKET: one READY=1 at start"
kill -HUP "$DPID"
wait_for 20 test "$(count_of '^READY=1$')" -ge 2 || diag "no second READY=1 within 20 s"
r1=$(line_of '^RELOADING=1$')
isnt "$r1" 0 "SIGHUP: RELOADING=1"
like "$nmsg" '^MONOTONIC_USEC=[0-9]+$' "SIGHUP: MONOTONIC_USEC with RELOADING=1"
last_ready=$(grep -nE '^READY=1$' "$nmsg" | tail -n1 | cut -d: -f1)
name="SIGHUP: READY=1 after RELOADING=1 (lines $r1, $last_ready)" \
	holds test "$r1" -gt 0 -a "${last_ready:-0}" -gt "$r1"
unlike "$nmsg" '^STOPPING=1$' "no STOPPING=1 before the stop"
stop_daemon TERM
is "$DSTATUS" 0 "SIGTERM: exit status 0"
like "$nmsg" '^STOPPING=1$' "SIGTERM: STOPPING=1"
# without NOTIFY_SOCKET nothing is sent (and nothing fails)
before=$(wc -l <"$nmsg")
start_daemon_or_bail --region one:1M
stop_daemon TERM
is "$DSTATUS" 0 "no NOTIFY_SOCKET: runs and stops as before"
is "$(wc -l <"$nmsg")" "$before" "no NOTIFY_SOCKET: nothing sent"

# ---------------------------------------------------------- JOURNAL_STREAM
# start_with_stderr FILE [ENV...] - memsyncd with standard error FILE
start_with_stderr() {
	local log=$1 pf=$SCRATCH/jport.$RANDOM
	shift
	env "$@" "$MEMSYNCD" --listen 127.0.0.1:0 --port-file "$pf" --region j:1M \
		</dev/null >>"$log" 2>&1 &
	DPID=$!
	track "$DPID"
	wait_for 20 test -s "$pf" || diag "memsyncd did not write its port file"
	PORT=$(cat "$pf" 2>/dev/null)
}
jl=$SCRATCH/journal.log
: >"$jl"
start_with_stderr "$jl" "JOURNAL_STREAM=$(stat -L -c '%d:%i' "$jl")"
stop_daemon TERM
like "$jl" '^<6>listening on 127\.0\.0\.1:[0-9]+ \(tcp\)$' "JOURNAL_STREAM: '<6>listening on ...'"
like "$jl" '^<6>stopped$' "JOURNAL_STREAM: '<6>stopped'"
unlike "$jl" '^[^<]|^<[0-9]>[0-9]{4}-[0-9]{2}-|memsyncd\[' \
	"JOURNAL_STREAM: every line '<N>text', no timestamp or pid"
ol=$SCRATCH/other.log
: >"$ol"
start_with_stderr "$ol" "JOURNAL_STREAM=$(stat -L -c '%d:%i' "$jl")"
stop_daemon TERM
like "$ol" '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z memsyncd\[[0-9]+\] INFO: listening on' \
	"JOURNAL_STREAM of another file: timestamped lines"

# ------------------------------------------------------------------ syslog
# In a private mount namespace /dev is a tmpfs holding /dev/null and, as
# /dev/log, a socket the test reads.
slog=$SCRATCH/syslog.msgs
ssock=$SCRATCH/log.sock
if [ "$(id -u)" -ne 0 ] || ! unshare -m true 2>/dev/null; then
	for c in "--syslog: nothing on standard error" "--syslog: the lines reach /dev/log" \
		"--syslog: LOG_DAEMON, info, with the pid" "--syslog: exit status 0"; do
		skip "$c" "needs root for a private mount namespace (unshare -m)"
	done
else
	"$DGRAMRECV" "$ssock" "$slog" 120 &
	track $!
	wait_for 10 test -S "$ssock" || bail_out "dgramrecv did not bind $ssock"
	mkdir -p "$SCRATCH/olddev"
	sl=$SCRATCH/syslog.stderr
	spf=$SCRATCH/sport
	# shellcheck disable=SC2016 # expanded by the inner shell
	unshare -m bash -c '
		set -e
		mount --make-rprivate /
		mount --rbind /dev "$1/olddev"
		mount -t tmpfs none /dev
		for f in null zero urandom; do
			touch "/dev/$f"; mount --bind "$1/olddev/$f" "/dev/$f"
		done
		touch /dev/log
		mount --bind "$2" /dev/log
		shift 2
		exec "$@"' unshare-syslog "$SCRATCH" "$ssock" \
		"$MEMSYNCD" --syslog --listen 127.0.0.1:0 --port-file "$spf" --region s:1M \
		</dev/null >"$sl" 2>&1 &
	DPID=$!
	track "$DPID"
	wait_for 20 test -s "$spf" || diag "memsyncd --syslog did not write its port file"
	wait_for 10 grep -q 'listening on' "$slog"
	spid=$DPID
	stop_daemon TERM
	is "$DSTATUS" 0 "--syslog: exit status 0"
	if [ -s "$sl" ]; then
		fail "--syslog: nothing on standard error" "$(cat "$sl")"
	else
		pass "--syslog: nothing on standard error"
	fi
	like "$slog" 'listening on 127\.0\.0\.1:[0-9]+ \(tcp\)' "--syslog: the lines reach /dev/log"
	like "$slog" "^<30>.*memsyncd\[$spid\]: listening on" "--syslog: LOG_DAEMON, info, with the pid"
fi

done_testing
