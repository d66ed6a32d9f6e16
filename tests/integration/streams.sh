#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# streams.sh - parallel streams (issue 13, item 4): pulls of a region of
# many chunk groups with --streams 1, 2 and 4 (and cat, and --no-verify)
# return the pushed bytes exactly, and the daemon saw exactly that many
# connections for each; a small pull opens one connection whatever
# --streams says; a read-only key stripes its pulls too (its streams get
# read grants), and the extra connections close with the client.  Over
# RDMA (MS_TEST_TRANSPORT=rdma) every stream is a queue pair of its own;
# the keyed part runs on TCP (memsyncd serves no RDMA with --auth-keys).
#
# shellcheck source-path=SCRIPTDIR
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

command -v openssl >/dev/null || skip_all "openssl is not installed (scripts/setup-deps)"

secret() { openssl rand -hex 32; }
K=$SCRATCH/keys RW=$SCRATCH/rw.key RO=$SCRATCH/ro.key
s_rw=$(secret) s_ro=$(secret)
{
	echo "admin $s_rw read-write *"
	echo "reader $s_ro read big"
} >"$K"
echo "admin $s_rw" >"$RW"
echo "reader $s_ro" >"$RO"
chmod 600 "$K" "$RW" "$RO"

size=$((48 * 1024 * 1024))      # 48 chunk groups of 1 MiB (64 KiB chunks)
start_daemon_or_bail -v --region big:48M --region small:4M

# connections the daemon took in so far
conns() { grep -c ' connected (' "$DLOG"; }

rand_file "$SCRATCH/big.src" "$size"
ms -q push "$SCRATCH/big.src" "$(url big)"
expect_status 0 "push 48 MiB"

for n in 1 2 4; do
	c0=$(conns)
	ms -q --streams "$n" pull "$(url big)" "$SCRATCH/big.$n"
	expect_status 0 "pull 48 MiB with --streams $n"
	same_file "$SCRATCH/big.src" "$SCRATCH/big.$n" "--streams $n: the bytes pushed, exactly"
	wait_for 5 test "$(conns)" -ge $((c0 + n))
	is "$(($(conns) - c0))" "$n" "--streams $n: the daemon saw $n connection(s)"
	rm -f "$SCRATCH/big.$n"
done

c0=$(conns)
ms -q --streams 4 pull "$(url big)" "$SCRATCH/big.nv" --no-verify
expect_status 0 "pull --no-verify --streams 4"
same_file "$SCRATCH/big.src" "$SCRATCH/big.nv" "--no-verify --streams 4: the same bytes"
is "$(($(conns) - c0))" 4 "--no-verify --streams 4: four connections"

dd if="$SCRATCH/big.src" of="$SCRATCH/cat.ref" bs=1M skip=5 count=20 status=none
ms --streams 3 cat "$(url big)" --offset 5M --length 20M
expect_status 0 "cat 20 MiB with --streams 3"
same_file "$SCRATCH/cat.ref" "$OUT" "cat --streams 3: bytes [5M, 25M) exactly"

# a small transfer stays on one connection
c0=$(conns)
ms -q --streams 4 pull "$(url small)" "$SCRATCH/small.out"
expect_status 0 "pull 4 MiB with --streams 4"
is "$(($(conns) - c0))" 1 "a 4 MiB pull opens one connection, whatever --streams says"

# every connection closed with its client
gone() { grep -cE 'DEBUG: [^ ]+ disconnected$' "$DLOG"; }
wait_for 10 test "$(gone)" -ge "$(conns)"
is "$(gone)" "$(conns)" "every stream closed with its client"

# a read-only key: its streams attach with read grants (keys: TCP only)
[ "$TRANSPORT" = rdma ] && MSC=("$MEMSYNC" --transport tcp)
start_daemon_or_bail -v --auth-keys "$K" --region big:48M
ms -q --key-file "$RW" push "$SCRATCH/big.src" "$(url big)"
expect_status 0 "push 48 MiB with the read-write key"
c0=$(conns)
ms -q --key-file "$RO" --streams 4 pull "$(url big)" "$SCRATCH/big.ro"
expect_status 0 "pull with a read-only key and --streams 4"
same_file "$SCRATCH/big.src" "$SCRATCH/big.ro" "read-only key, 4 streams: the same bytes"
is "$(($(conns) - c0))" 4 "read-only key: four connections"

wait_for 10 test "$(gone)" -ge "$(conns)"
is "$(gone)" "$(conns)" "with keys too, every stream closed with its client"

done_testing
