#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# push_delta.sh - push sends only the chunks that changed: a 64 MiB region
# with 64 KiB chunks (1024 chunks); change 10 scattered chunks (1%) and the
# push moves exactly those 10 chunks (the server counts exactly 10 * 64 KiB
# more bytes written); an unchanged push moves nothing and keeps the
# generation; --all moves everything; a file shorter than the region
# changes only its first bytes.
#
# shellcheck source-path=SCRIPTDIR
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

size=$((64 * 1024 * 1024))
chunk=65536

start_daemon_or_bail --region d:64M:chunk=64K
D=$(url d)
src=$SCRATCH/d.src

# check_pull NAME - pull d and compare with $src
check_pull() {
	ms -q pull "$D" "$SCRATCH/d.out"
	expect_status 0 "pull after $1"
	same_file "$src" "$SCRATCH/d.out" "the region equals the file after $1"
}

# json_int FIELD - a field of the last --json output ($OUT)
json_int() {
	json_get "$OUT" "[\"$1\"]" 2>&1
}

# ---------------------------------------------------------- first push
rand_file "$src" "$size"
ms --json push "$src" "$D"
expect_status 0 "first push of 64 MiB"
is "$(json_int chunks_total)" 1024 "first push: 1024 chunks considered"
is "$(json_int chunks_moved)" 1024 "first push: every chunk moved"
is "$(json_int bytes)" "$size" "first push: 64 MiB sent"
gen1=$(json_int generation)
bc0=$(stat_field d bytes_committed)
is "$bc0" "$size" "server: 64 MiB committed after the first push"
expect_wire d bytes_written "$size" "server: 64 MiB written after the first push"
is "$(stat_field d generation)" "$gen1" "server: generation as the push reported"
check_pull "the first push"

# ------------------------------------------------ change 10 chunks (1%)
# chunk index:offset in the chunk:bytes changed (inside the chunk).  The
# bytes are inverted, so they certainly differ.
invert_bytes "$src" "$chunk" 0:0:1 97:4095:2 203:65535:1 311:30000:100 \
	420:12345:5000 512:0:65536 640:65000:536 777:1:1 901:32768:4096 1023:65535:1
ms --json push "$src" "$D"
expect_status 0 "push after changing 10 chunks"
is "$(json_int chunks_total)" 1024 "delta push: 1024 chunks considered"
is "$(json_int chunks_moved)" 10 "delta push: exactly the 10 changed chunks moved"
is "$(json_int bytes)" $((10 * chunk)) "delta push: 10 x 64 KiB sent"
gen2=$(json_int generation)
if [[ $gen2 =~ ^[0-9]+$ ]] && [[ $gen1 =~ ^[0-9]+$ ]] && [ "$gen2" -gt "$gen1" ]; then
	pass "delta push: the generation went up ($gen1 -> $gen2)"
else
	fail "delta push: the generation went up" "before: $gen1, after: $gen2"
fi
bc1=$(stat_field d bytes_committed)
is "$bc1" $((bc0 + 10 * chunk)) "server: bytes_committed grew by exactly 10 x 64 KiB"
expect_wire d bytes_written $((size + 10 * chunk)) \
	"server: bytes_written grew by exactly 10 x 64 KiB"
check_pull "the delta push"

# ---------------------------------------------------- nothing changed
ms --json push "$src" "$D"
expect_status 0 "push of an unchanged file"
is "$(json_int chunks_moved)" 0 "unchanged push: no chunk moved"
is "$(json_int bytes)" 0 "unchanged push: no byte sent"
is "$(json_int generation)" "$gen2" "unchanged push: generation unchanged"
is "$(stat_field d generation)" "$gen2" "server: generation unchanged"
is "$(stat_field d bytes_committed)" "$bc1" "server: bytes_committed unchanged"
expect_wire d bytes_written $((size + 10 * chunk)) "server: bytes_written unchanged"
check_pull "an unchanged push"

# ------------------------------------------------------------- --all
ms --json push "$src" "$D" --all
expect_status 0 "push --all"
is "$(json_int chunks_moved)" 1024 "push --all: every chunk moved"
is "$(json_int bytes)" "$size" "push --all: 64 MiB sent"
is "$(stat_field d bytes_committed)" $((bc1 + size)) "server: bytes_committed grew by 64 MiB"
expect_wire d bytes_written $((2 * size + 10 * chunk)) "server: bytes_written grew by 64 MiB"
check_pull "push --all"

# ------------------------------------------- a file shorter than the region
rand_file "$SCRATCH/head.src" $((1024 * 1024))
ms --json push "$SCRATCH/head.src" "$D"
expect_status 0 "push of a 1 MiB file"
is "$(json_int chunks_moved)" 16 "1 MiB push: 16 chunks moved"
is "$(json_int bytes)" $((1024 * 1024)) "1 MiB push: 1 MiB sent"
dd if="$SCRATCH/head.src" of="$src" conv=notrunc status=none
check_pull "a 1 MiB push"

# Not a multiple of the chunk size: the partial chunk is handled too.
rand_file "$SCRATCH/odd.src" 100001
ms -q push "$SCRATCH/odd.src" "$D"
expect_status 0 "push of a 100001-byte file"
dd if="$SCRATCH/odd.src" of="$src" conv=notrunc status=none
check_pull "a 100001-byte push"

# An empty file changes nothing (whether memsync calls that success or refuses
# it as pointless).
: >"$SCRATCH/empty"
gen3=$(stat_field d generation)
ms --json push "$SCRATCH/empty" "$D"
case $RC in
0) is "$(json_int bytes)" 0 "push of an empty file: succeeds, no byte sent" ;;
1) like "$ERR" "^memsync: push: .*empty" "push of an empty file: refused, saying why" ;;
*) fail "push of an empty file: exit 0 or 1" "exit status $RC" ;;
esac
is "$(stat_field d generation)" "$gen3" "empty push: generation unchanged"
check_pull "an empty push"

stop_daemon TERM
is "$DSTATUS" 0 "memsyncd exits 0 on SIGTERM"
unlike "$DLOG" "AddressSanitizer|runtime error|LeakSanitizer" "memsyncd log has no sanitizer report"

done_testing
