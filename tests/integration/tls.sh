#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# tls.sh - TLS 1.3 between memsync and memsyncd (issue 12, item 4), with
# certificates made for the test (tests/helpers/mkcerts.sh): push and pull
# over TLS byte for byte; a client without the CA, with another CA, or for
# a server whose certificate names another host is refused with a clear
# message; a plain client is told TLS is required and the server keeps
# serving; mutual TLS with a certificate whose common name is a key name
# (the server logs who the peer is), and one from another CA refused; the
# tls-* keys of the config file.  Every case ends with the region checked
# byte for byte.  TCP only (TLS does not cover RDMA).
#
# shellcheck source-path=SCRIPTDIR
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

[ "$TRANSPORT" = rdma ] && skip_all "TLS protects TCP only"
command -v openssl >/dev/null || skip_all "no openssl command"

C=$SCRATCH/certs
sh "$TESTS_SRCDIR/helpers/mkcerts.sh" "$C" || bail_out "mkcerts.sh failed"
TLS=(--tls-ca "$C/ca.pem")

# ---------------------------------------------------------------- help
run "$MEMSYNCD" --help
cat "$OUT" >"$SCRATCH/dhelp"
like "$SCRATCH/dhelp" "--tls-cert" "memsyncd --help mentions --tls-cert"
like "$SCRATCH/dhelp" "--tls-ca" "memsyncd --help mentions --tls-ca"
run "$MEMSYNC" --help
cat "$OUT" >"$SCRATCH/help"
like "$SCRATCH/help" "--tls-ca" "memsync --help mentions --tls-ca"
like "$SCRATCH/help" "MEMSYNC_TLS_CA" "memsync --help mentions MEMSYNC_TLS_CA"

start_daemon_or_bail --region a:8M --region b:4M:memfd,chunk=4K \
	--tls-cert "$C/server.pem" --tls-key "$C/server.key" --tls-ca "$C/ca.pem"
like "$DLOG" "TLS 1\.3 on TCP" "memsyncd says it speaks TLS"
A=$(url a)

head -c 8M /dev/urandom >"$SCRATCH/data"

# check_a NAME - pull region a over TLS (with the options in CHECK) and
# compare it with $SCRATCH/data
CHECK=()
check_a() {
	rm -f "$SCRATCH/a.out"
	ms -q "${TLS[@]}" "${CHECK[@]}" pull "$A" "$SCRATCH/a.out"
	if [ "$RC" = 0 ]; then
		same_file "$SCRATCH/data" "$SCRATCH/a.out" "$1"
	else
		fail "$1" "pull over TLS failed (status $RC)"
		diag_file "$ERR" 5
	fi
}

# ------------------------------------------------------- push and pull
ms -q "${TLS[@]}" push "$SCRATCH/data" "$A"
expect_status 0 "push over TLS"
ms -q --json "${TLS[@]}" pull "$A" "$SCRATCH/a.json.out"
expect_status 0 "pull over TLS"
like "$OUT" '"transport": *"tcp"' "... over TCP"
same_file "$SCRATCH/data" "$SCRATCH/a.json.out" "the pulled region is what was pushed"
MEMSYNC_TLS_CA=$C/ca.pem run "${MSC[@]}" -q pull "$A" "$SCRATCH/a.env.out"
expect_status 0 "pull with MEMSYNC_TLS_CA from the environment"
same_file "$SCRATCH/data" "$SCRATCH/a.env.out" "... byte for byte"

# ----------------------------------------------------- refused clients
ms -q pull "$A" "$SCRATCH/plain.out"
expect_status 1 "a plain client (no CA) is refused"
like "$ERR" "requires TLS" "... and told the server requires TLS"
like "$DLOG" "plain \(non-TLS\) memsync client" "memsyncd logs the plain client"
check_a "after the plain client the region is unchanged and served over TLS"

ms -q --tls-ca "$C/other-ca.pem" push "$SCRATCH/data" "$A"
expect_status 1 "a client trusting another CA is refused"
like "$ERR" "TLS: certificate verify failed" "... with the reason"
check_a "after it the region is unchanged"

ms -q --tls-ca "$C/nonexistent.pem" stat "$HOST:$PORT"
expect_status 1 "a missing CA file fails"
like "$ERR" "nonexistent\.pem" "... naming the file"

ms -q --transport rdma "${TLS[@]}" stat "$HOST:$PORT"
expect_status 1 "TLS with --transport rdma is refused"
like "$ERR" "TLS protects the TCP transport only" "... saying TLS is for TCP only"

# ------------------------------------------------------------ mutual TLS
ms -q "${TLS[@]}" --tls-cert "$C/alice.pem" --tls-key "$C/alice.key" pull "$A" \
	"$SCRATCH/alice.out"
expect_status 0 "a client certificate (CN=alice) is accepted"
same_file "$SCRATCH/data" "$SCRATCH/alice.out" "... and pulls the region byte for byte"
# The server logs the peer's identity: the key alice when keys are on, the
# name alone (anonymous) without them.
like "$DLOG" "TLS client certificate CN=alice" "memsyncd logs who the peer is (CN=alice)"

ms -q "${TLS[@]}" --tls-cert "$C/mallory.pem" --tls-key "$C/mallory.key" \
	pull "$A" "$SCRATCH/mallory.out"
expect_status 1 "a client certificate from another CA (CN=alice too) is refused"
like "$DLOG" "TLS: certificate verify failed" "memsyncd logs why"
check_a "after it the region is unchanged and served"

ms -q "${TLS[@]}" --tls-cert "$C/alice.pem" stat "$HOST:$PORT"
expect_status 1 "a client certificate without its key is refused"
like "$ERR" "needs its key" "... with the reason"

stop_daemon
is "$DSTATUS" 0 "memsyncd stops cleanly"

# ------------------------------------------- keys and certificates together
s_al=$(openssl rand -hex 32)
s_wr=$(openssl rand -hex 32)
K=$SCRATCH/keys
{
	echo "alice $s_al read a"
	echo "writer $s_wr read-write *"
} >"$K"
echo "writer $s_wr" >"$SCRATCH/writer.key"
chmod 600 "$K" "$SCRATCH/writer.key"
WRITER=(--key-file "$SCRATCH/writer.key")
ALICE=(--tls-cert "$C/alice.pem" --tls-key "$C/alice.key")
start_daemon_or_bail --region a:8M --region b:1M --auth-keys "$K" \
	--tls-cert "$C/server.pem" --tls-key "$C/server.key" --tls-ca "$C/ca.pem"
A=$(url a)
CHECK=("${WRITER[@]}")
ms -q "${TLS[@]}" "${WRITER[@]}" push "$SCRATCH/data" "$A"
expect_status 0 "keys: a key over TLS (its handshake bound to the TLS session) pushes"
check_a "keys: ... and the region is what it pushed"

ms -q "${TLS[@]}" "${ALICE[@]}" pull "$A" "$SCRATCH/alice2.out"
expect_status 0 "keys: a certificate with CN=alice pulls with the key alice's grant"
same_file "$SCRATCH/data" "$SCRATCH/alice2.out" "keys: ... byte for byte"
like "$DLOG" "CN=alice: key alice" "keys: memsyncd logs the peer as the key alice"
ms -q --json "${TLS[@]}" "${ALICE[@]}" stat "$HOST:$PORT"
expect_status 0 "keys: stat as alice"
unlike "$OUT" '"name": *"b"' "keys: ... lists only what alice may see (not b)"
head -c 8M /dev/urandom >"$SCRATCH/other"
ms -q "${TLS[@]}" "${ALICE[@]}" push "$SCRATCH/other" "$A"
expect_status 1 "keys: alice's grant is read: her push is refused"
check_a "keys: after it the region is unchanged"

ms -q "${TLS[@]}" pull "$A" "$SCRATCH/nokey.out"
expect_status 1 "keys: TLS without a key or a certificate is refused"
like "$ERR" "requires authentication" "keys: ... as unauthenticated"
ms -q "${TLS[@]}" --tls-cert "$C/bob.pem" --tls-key "$C/bob.key" pull "$A" "$SCRATCH/bob.out"
expect_status 1 "keys: a certificate whose CN is no key (bob) is refused"
like "$DLOG" "CN=bob names no key; refused" "keys: memsyncd logs why"
ms -q "${TLS[@]}" "${ALICE[@]}" "${WRITER[@]}" push "$SCRATCH/data" "$A"
expect_status 0 "keys: a certificate and a key: the key handshake runs and counts (writer)"
check_a "keys: after all that the region is what writer pushed"
stop_daemon
CHECK=()

# ------------------------------- config file; a certificate for another name
cat >"$SCRATCH/tls.conf" <<EOF
region a:8M
tls-cert $C/elsewhere.pem
tls-key $C/elsewhere.key
EOF
start_daemon_or_bail --config "$SCRATCH/tls.conf"
like "$DLOG" "TLS 1\.3 on TCP \(certificate .*elsewhere\.pem; client certificates not asked" \
	"memsyncd takes tls-cert and tls-key from the config file"
A=$(url a)
ms -q "${TLS[@]}" stat "$HOST:$PORT"
expect_status 1 "a certificate for another host name is refused"
like "$ERR" "certificate verify failed: (hostname|IP address) mismatch" "... as a name mismatch"
ms -q "${TLS[@]}" push "$SCRATCH/data" "$A"
expect_status 1 "... for a push too"
stop_daemon

done_testing
