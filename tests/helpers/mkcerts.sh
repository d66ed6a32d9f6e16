#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# mkcerts.sh DIR - the certificates the TLS tests use, made fresh with the
# openssl CLI (EC P-256, valid for a day) into DIR:
#   ca.pem ca.key                 the test CA
#   server.pem server.key         CA-signed, for localhost and 127.0.0.1
#   elsewhere.pem elsewhere.key   CA-signed, for elsewhere.example only
#   alice.pem alice.key           CA-signed client certificate, CN=alice
#   bob.pem bob.key               CA-signed client certificate, CN=bob
#   other-ca.pem other-ca.key     a second CA
#   other.pem other.key           other-CA-signed, for localhost and 127.0.0.1
#   mallory.pem mallory.key       other-CA-signed client certificate, CN=alice
set -eu
d=$1
mkdir -p "$d"
cd "$d"
umask 077
key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1.key" 2>/dev/null; }
ca() {
	key "$1"
	openssl req -x509 -new -key "$1.key" -out "$1.pem" -days 1 -subj "/CN=$2" \
		-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign 2>/dev/null
}
# cert NAME CA CN [SAN]
cert() {
	key "$1"
	openssl req -new -key "$1.key" -out "$1.csr" -subj "/CN=$3" 2>/dev/null
	if [ -n "${4:-}" ]; then
		printf 'subjectAltName=%s\n' "$4" >"$1.ext"
	else
		: >"$1.ext"
	fi
	openssl x509 -req -in "$1.csr" -CA "$2.pem" -CAkey "$2.key" -CAcreateserial \
		-out "$1.pem" -days 1 -extfile "$1.ext" 2>/dev/null
	rm -f "$1.csr" "$1.ext"
}
ca ca memsync-test-ca
ca other-ca memsync-other-ca
cert server ca localhost "DNS:localhost,IP:127.0.0.1"
cert elsewhere ca elsewhere.example "DNS:elsewhere.example"
cert alice ca alice
cert bob ca bob
cert other other-ca localhost "DNS:localhost,IP:127.0.0.1"
cert mallory other-ca alice
chmod 644 ./*.pem
