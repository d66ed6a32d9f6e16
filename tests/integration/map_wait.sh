#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# map_wait.sh - `memsync map --wait` (issue #13, item 6) against a real
# memsyncd: it returns only once the prefetch alone made every chunk local
# (nothing touched the mapping before), reports the time from open, and
# the mapping then reads back byte for byte what was pushed (the XXH3-128
# of the mapping, read after the wait, equals the pushed file's, and a
# read of one chunk through the mapping equals that chunk of the file);
# --wait without prefetch is a usage error.
#
# shellcheck source-path=SCRIPTDIR
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

size=$((32 * 1024 * 1024))

start_daemon_or_bail --region w:32M:chunk=64K --region v:4M:chunk=4K
W=$(url w)
V=$(url v)
src=$SCRATCH/w.src
vsrc=$SCRATCH/v.src

xxh() {
	if command -v xxh128sum >/dev/null 2>&1; then
		xxh128sum "$1" | cut -d' ' -f1
	elif command -v xxhsum >/dev/null 2>&1; then
		xxhsum -H2 "$1" | cut -d' ' -f1
	fi
}

jf() {
	json_get "$OUT" "[\"$1\"]" 2>&1
}

rand_file "$src" "$size"
ms -q push --all "$src" "$W"
expect_status 0 "push 32 MiB of random bytes"
rand_file "$vsrc" $((4 * 1024 * 1024))
ms -q push --all "$vsrc" "$V"
expect_status 0 "push 4 MiB of random bytes (4 KiB chunks)"

# --wait alone: nothing ever touches the mapping, so every local chunk
# came from the prefetch
ms --json map "$W" --wait
expect_status 0 "map --wait"
is "$(jf chunks_total)" 512 "512 chunks"
is "$(jf chunks_local_after_wait)" 512 "--wait returned with every chunk local"
is "$(jf chunks_local)" 512 "every chunk local at the end, none touched"
like "$OUT" '"wait_seconds": *[0-9]' "the time from open to all local is reported"
like "$OUT" '"open_seconds": *[0-9]' "the time of the open is reported"

# --wait, then read the whole mapping: the bytes the server holds
for i in 1 2; do
	ms --json map "$W" --wait --touch random --seed "$i"
	expect_status 0 "map --wait --touch random (seed $i)"
	is "$(jf chunks_local_after_wait)" 512 "seed $i: all local before the read"
	is "$(jf chunks_local_after_touch)" 512 "seed $i: still all local after the read"
	want=$(xxh "$src")
	if [ -n "$want" ]; then
		is "$(jf checksum)" "$want" "seed $i: the mapping's XXH3-128 is the pushed file's"
	else
		skip "the mapping's XXH3-128 is the pushed file's" "no xxh128sum/xxhsum"
	fi
done

# 1024 chunks of 4 KiB: many prefetch round trips
ms --json map "$V" --wait --touch seq
expect_status 0 "map --wait, 4 KiB chunks"
is "$(jf chunks_local_after_wait)" 1024 "4 KiB chunks: every chunk local after the wait"
vwant=$(xxh "$vsrc")
if [ -n "$vwant" ]; then
	is "$(jf checksum)" "$vwant" "4 KiB chunks: the mapping's XXH3-128 is the pushed file's"
else
	skip "4 KiB chunks: the mapping's XXH3-128" "no xxh128sum/xxhsum"
fi

# the human-readable report says so
ms map "$W" --wait
expect_status 0 "map --wait (text)"
like "$OUT" "wait: +all 512 chunks local" "the text report has the wait line"

# usage
ms map "$W" --wait --no-prefetch
expect_status 2 "--wait --no-prefetch: usage error"
ms migrate "$W" 127.0.0.1:1 --wait
expect_status 2 "--wait belongs to map: usage error elsewhere"

done_testing
