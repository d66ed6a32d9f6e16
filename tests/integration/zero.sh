#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# zero.sh - zero chunks (issue 13, item 1) end to end: a region of 65
# chunks (64 KiB, the last one 8 KiB) where one chunk in four holds data.
# A pull moves only the data chunks (the JSON stats count their bytes) and
# leaves the zero chunks as holes in the file it writes; to stdout it
# writes the zeros; into /dev/null nothing fails.  A push that turns a data
# chunk into zeros, and data into a zero chunk and the short last chunk,
# pulls back byte for byte; a lazy mapping reads zero and data chunks with
# the source's XXH3-128 (with and without prefetch).  A push sends no byte
# for a chunk that became zero (a ZERO commit entry).
#
# shellcheck source-path=SCRIPTDIR
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

chunk=65536
nfull=64
tail=8192
size=$((nfull * chunk + tail))

start_daemon_or_bail --region z:$((size / 1024))K:chunk=64K
Z=$(url z)
src=$SCRATCH/z.src

jf() {
	json_get "$OUT" "[\"$1\"]" 2>&1
}

# make_src - chunks 1, 5, 9, ... random, every other chunk (the short last
# one too) zero
"$PY" - "$src" "$size" "$chunk" <<'PYEOF'
import os, sys
path, size, cs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
b = bytearray(size)
for i in range(1, size // cs, 4):
    b[i * cs:(i + 1) * cs] = os.urandom(cs)
open(path, "wb").write(b)
PYEOF
ndata=16

# data_bytes FILE - bytes of FILE in data extents (SEEK_DATA/SEEK_HOLE)
data_bytes() {
	"$PY" - "$1" <<'PYEOF'
import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
end = os.fstat(fd).st_size
pos = total = 0
while pos < end:
    try:
        d = os.lseek(fd, pos, os.SEEK_DATA)
    except OSError:
        break
    h = os.lseek(fd, d, os.SEEK_HOLE)
    total += h - d
    pos = h
print(total)
PYEOF
}

ms --json push "$src" "$Z"
expect_status 0 "push a region with $ndata data chunks of 65"

# ----------------------------------------------------------------- pull
# The file lands on a tmpfs (/dev/shm, also in the rxe guest, whose
# scratch directory may be a 9p share that reports no holes), where
# SEEK_DATA/SEEK_HOLE see holes; the probe says whether they do.
HOLEDIR=$(mktemp -d /dev/shm/memsync-zero.XXXXXX 2>/dev/null) || HOLEDIR=$SCRATCH
truncate -s 1M "$HOLEDIR/probe"
ms --json pull "$Z" "$HOLEDIR/z.out"
expect_status 0 "pull to a file"
cp "$HOLEDIR/z.out" "$SCRATCH/z.out"
is "$(jf bytes)" $((ndata * chunk)) "pull: only the $ndata data chunks' bytes crossed"
is "$(jf chunks_moved)" "$ndata" "pull: $ndata chunks read"
is "$(jf chunks_total)" 65 "pull: 65 chunks considered"
same_file "$src" "$SCRATCH/z.out" "pull: the file equals the source byte for byte"
db=$(data_bytes "$HOLEDIR/z.out")
if [ "$TRANSPORT" = rdma ]; then
	# registering the destination mapping for RDMA pins (allocates) every
	# page of it: the holes are a TCP property; the bytes are checked above
	diag "rdma: the destination's registration allocates every page; holes not checked"
elif [ "$(data_bytes "$HOLEDIR/probe")" != 0 ]; then
	skip "pull: the zero chunks are holes" "$HOLEDIR reports no holes (SEEK_HOLE)"
elif [[ $db =~ ^[0-9]+$ ]] && [ "$db" -le $((ndata * chunk)) ]; then
	pass "pull: the zero chunks are holes ($db bytes of data extents)"
else
	fail "pull: the zero chunks are holes" "data extents: $db bytes, want <= $((ndata * chunk))"
fi
[ "$HOLEDIR" = "$SCRATCH" ] || rm -rf "$HOLEDIR"

ms -q pull "$Z" -
expect_status 0 "pull to stdout"
same_file "$src" "$OUT" "pull to stdout: zeros written, equal to the source"
ms -q pull "$Z" /dev/null
expect_status 0 "pull into /dev/null"

# ----------------------------------------------------------------- push
# chunk 1 (data) becomes zeros; chunk 2 (zeros) and the last (8 KiB of
# zeros) get data
"$PY" - "$src" "$chunk" "$nfull" "$tail" <<'PYEOF'
import os, sys
path, cs, nfull, tail = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
with open(path, "r+b") as f:
    f.seek(1 * cs); f.write(bytes(cs))
    f.seek(2 * cs); f.write(os.urandom(cs))
    f.seek(nfull * cs); f.write(os.urandom(tail))
PYEOF
ms --json push "$src" "$Z"
expect_status 0 "push: a data chunk to zeros, data into a zero chunk and the last chunk"
is "$(jf chunks_moved)" 3 "push: 3 chunks changed"
is "$(jf bytes)" $((chunk + tail)) "push: no byte sent for the chunk that became zero"
ms --json pull "$Z" "$SCRATCH/z.out2"
expect_status 0 "pull after the push"
is "$(jf bytes)" $((ndata * chunk + tail)) "pull after the push: the data chunks' bytes only"
same_file "$src" "$SCRATCH/z.out2" "pull after the push equals the source byte for byte"
ms -q pull "$Z" -
same_file "$src" "$OUT" "pull to stdout after the push equals the source"

# ------------------------------------------------------------ lazy maps
want=$(xxh128sum "$src" | cut -d' ' -f1)
ms --json map "$Z" --touch seq --no-prefetch
expect_status 0 "lazy map, sequential read without prefetch"
is "$(jf checksum)" "$want" "lazy map: zero and data chunks read as the source's bytes"
ms --json map "$Z" --touch random --seed 3
expect_status 0 "lazy map with prefetch, random read"
is "$(jf checksum)" "$want" "lazy map with prefetch: the source's bytes"

done_testing
