#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# auth.sh - authentication and authorization (issue #12) through memsyncd
# and the CLI, over TCP:
#  (a) memsyncd refuses a key file others can read, a bad key line, and a
#      non-loopback listen address without keys (unless --insecure);
#  (b) with --auth-keys: no key, a wrong secret and an unknown key name are
#      refused before anything is answered (the last two alike);
#  (c) a read-only key pulls what it may (byte for byte), cannot push,
#      take a lease or break one; a key sees only its regions: stat lists
#      them alone, and a region it may not see answers exactly like one
#      that does not exist;
#  (d) a client with a key against a server without keys refuses (the
#      server cannot prove it knows the key);
#  (e) SIGHUP after the read-only key was removed closes its connection
#      (a pull held in the middle), and it cannot connect again; a key
#      added by the same reload works at once;
# each part ending with the regions compared byte for byte with their last
# commits.
#
# shellcheck source-path=SCRIPTDIR
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

command -v openssl >/dev/null || skip_all "openssl is not installed (scripts/setup-deps)"

secret() { openssl rand -hex 32; }
K=$SCRATCH/keys
RW=$SCRATCH/rw.key RO=$SCRATCH/ro.key OT=$SCRATCH/other.key
BAD=$SCRATCH/bad.key UNK=$SCRATCH/unknown.key
s_rw=$(secret) s_ro=$(secret) s_ot=$(secret)
{
	echo "# test keys"
	echo "admin $s_rw read-write *"
	echo "reader $s_ro read db"
	echo "other $s_ot read-write other"
} >"$K"
chmod 600 "$K"
echo "admin $s_rw" >"$RW"
echo "reader $s_ro read db" >"$RO"        # a server line works as a client file
echo "other $s_ot" >"$OT"
echo "reader $(secret)" >"$BAD"
echo "mallory $(secret)" >"$UNK"
chmod 600 "$RW" "$RO" "$OT" "$BAD" "$UNK"

# --- (a) what memsyncd refuses -------------------------------------------
chmod 644 "$K"
RUN_TIMEOUT=10 run "$MEMSYNCD" --listen "127.0.0.1:0" --auth-keys "$K" --region db:1M
expect_status 1 "(a) a key file others can read: memsyncd refuses to start"
like "$ERR" "may be read or written by others \(mode 0644\).*chmod 600" \
	"(a) and says why"
chmod 600 "$K"
printf 'admin 00ff read *\n' >"$SCRATCH/short"
chmod 600 "$SCRATCH/short"
RUN_TIMEOUT=10 run "$MEMSYNCD" --listen "127.0.0.1:0" --auth-keys "$SCRATCH/short" --region db:1M
expect_status 1 "(a) a key shorter than 256 bits is refused"
like "$ERR" "line 1: the secret must be 64 to 128 hex digits" "(a) naming its line"
RUN_TIMEOUT=10 run "$MEMSYNCD" --listen "0.0.0.0:0" --region db:1M
expect_status 1 "(a) no keys and a non-loopback address: refused"
like "$ERR" "refusing to listen on 0.0.0.0 without authentication.*--auth-keys.*--insecure" \
	"(a) the message names both ways out"

# --- (b) who gets in --------------------------------------------------------
start_daemon_or_bail --auth-keys "$K" --region db:4M --region other:1M
like "$DLOG" "peers authenticate with the keys in $K" "(b) memsyncd says it authenticates"
MSC+=(--key-file "$RW")
rand_file "$SCRATCH/db.bin" $((4 * MiB))
rand_file "$SCRATCH/other.bin" $((1 * MiB))
ms push --all "$SCRATCH/db.bin" "$(url db)"
expect_status 0 "(b) the read-write key pushes db"
ms push --all "$SCRATCH/other.bin" "$(url other)"
expect_status 0 "(b) and other"

run "$MEMSYNC" pull "$(url db)" "$SCRATCH/nokey.bin"
expect_status 1 "(b) no key: refused"
like "$ERR" "requires authentication.*--key-file" "(b) it says a key is needed"
[ -e "$SCRATCH/nokey.bin" ] && [ -s "$SCRATCH/nokey.bin" ] &&
	fail "(b) nothing was pulled without a key" || pass "(b) nothing was pulled without a key"
MEMSYNC_KEY_FILE=$BAD run "$MEMSYNC" stat "memsync://$HOST:$PORT"
expect_status 1 "(b) a wrong secret (from MEMSYNC_KEY_FILE): refused"
wrong=$(sed 's/reader/KEY/' "$ERR")
like "$ERR" "did not prove it knows key 'reader'" "(b) the server could not prove the key"
run "$MEMSYNC" --key-file "$UNK" stat "memsync://$HOST:$PORT"
expect_status 1 "(b) an unknown key name: refused"
is "$(sed 's/mallory/KEY/' "$ERR")" "$wrong" "(b) exactly like a wrong secret"
like "$DLOG" "refused: not authenticated \(this server requires a key\)" \
	"(b) the daemon logs the refusal of the client without a key"
run "$MEMSYNC" --key-file "$SCRATCH/keys.missing" stat "memsync://$HOST:$PORT"
expect_status 1 "(b) a missing key file fails"
like "$ERR" "keys.missing" "(b) naming it"

# --- (c) what a key may do -------------------------------------------------
run "$MEMSYNC" --key-file "$RO" pull "$(url db)" "$SCRATCH/ro.bin"
expect_status 0 "(c) the read-only key pulls db"
same_file "$SCRATCH/ro.bin" "$SCRATCH/db.bin" "(c) byte for byte"
cp "$SCRATCH/db.bin" "$SCRATCH/db.inv"
invert_bytes "$SCRATCH/db.inv" 65536 0:0:4096
run "$MEMSYNC" --key-file "$RO" push --all "$SCRATCH/db.inv" "$(url db)"
expect_status 1 "(c) the read-only key cannot push"
like "$ERR" "key 'reader' may only read region 'db'" "(c) it is told why"
run "$MEMSYNC" --key-file "$RO" lease break "$(url db)"
expect_status 1 "(c) nor break a lease"
run "$MEMSYNC" --key-file "$RO" --json stat "memsync://$HOST:$PORT"
expect_status 0 "(c) stat with the read-only key"
is "$(json_get "$OUT" '["regions"].__len__()' 2>&1)" 1 "(c) lists one region"
is "$(json_get "$OUT" '["regions"][0]["name"]' 2>&1)" db "(c) db, the one it may see"
run "$MEMSYNC" --key-file "$RO" pull "$(url other)" "$SCRATCH/x.bin"
hidden=$(sed 's/other/NAME/' "$ERR")
expect_status 1 "(c) other, not granted: refused"
run "$MEMSYNC" --key-file "$RO" pull "$(url nosuch)" "$SCRATCH/x.bin"
is "$(sed 's/nosuch/NAME/' "$ERR")" "$hidden" "(c) exactly like a region that does not exist"
run "$MEMSYNC" --key-file "$RO" stat "$(url other)"
expect_status 1 "(c) stat of a hidden region fails too"
run "$MEMSYNC" --key-file "$OT" pull "$(url db)" "$SCRATCH/x.bin"
expect_status 1 "(c) the key of other cannot read db"
ms pull "$(url db)" "$SCRATCH/db.now"
same_file "$SCRATCH/db.now" "$SCRATCH/db.bin" "(c) db is its last commit"
ms pull "$(url other)" "$SCRATCH/other.now"
same_file "$SCRATCH/other.now" "$SCRATCH/other.bin" "(c) other is its last commit"

# --- (e) revoking a key -----------------------------------------------------
start_holder db --key-file "$RO" || bail_out "the read-only pull did not start"
{
	echo "admin $s_rw read-write *"
	echo "other $s_ot read-write other"
	echo "late $s_ro read other"
} >"$K.new"
chmod 600 "$K.new"
mv "$K.new" "$K"
kill -HUP "$DPID"
check "(e) SIGHUP: the daemon closes the removed key's connection" \
	wait_for 20 grep -q "key 'reader' was revoked or lost a grant; disconnected" "$DLOG"
check "(e) the region has no client left" wait_for 20 field_is db clients 0
release_holder || fail "(e) the held pull ended"
run "$MEMSYNC" --key-file "$RO" pull "$(url db)" "$SCRATCH/x.bin"
expect_status 1 "(e) the removed key cannot connect again"
echo "late $s_ro" >"$SCRATCH/late.key"
chmod 600 "$SCRATCH/late.key"
run "$MEMSYNC" --key-file "$SCRATCH/late.key" pull "$(url other)" "$SCRATCH/late.bin"
expect_status 0 "(e) a key added by the reload works at once"
same_file "$SCRATCH/late.bin" "$SCRATCH/other.bin" "(e) byte for byte"
ms pull "$(url db)" "$SCRATCH/db.now"
same_file "$SCRATCH/db.now" "$SCRATCH/db.bin" "(e) db is still its last commit"
stop_daemon
is "$DSTATUS" 0 "memsyncd stops cleanly"

# --- (d) a key against a server without keys ------------------------------
start_daemon_or_bail --region db:1M
run "$MEMSYNC" --key-file "$RW" stat "memsync://$HOST:$PORT"
expect_status 1 "(d) a client with a key refuses a server without keys"
like "$ERR" "does not authenticate" "(d) and says why"
run "$MEMSYNC" stat "memsync://$HOST:$PORT"
expect_status 0 "(d) without a key it works"
stop_daemon

done_testing
