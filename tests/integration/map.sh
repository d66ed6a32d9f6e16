#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# map.sh - `memsync map` against a real memsyncd: a lazy mapping read in
# order and at random has the XXH3-128 of a pulled copy; a writable mapping
# that changes 1% of its pages and syncs pushes exactly the chunks it
# changed (the server's bytes_committed grows by exactly those), and a pull
# afterwards equals the writer's mapping; a sync with nothing written
# pushes nothing; usage errors.
#
# shellcheck source-path=SCRIPTDIR
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

size=$((64 * 1024 * 1024))
chunk=65536

start_daemon_or_bail --region m:64M:chunk=64K
M=$(url m)
src=$SCRATCH/m.src

# xxh FILE - XXH3-128 of FILE in hex, or nothing without a tool
xxh() {
	if command -v xxh128sum >/dev/null 2>&1; then
		xxh128sum "$1" | cut -d' ' -f1
	elif command -v xxhsum >/dev/null 2>&1; then
		xxhsum -H2 "$1" | cut -d' ' -f1
	fi
}

# pulled_sum_is FILE SUM NAME - FILE's XXH3-128 is SUM (a skip without a
# tool)
pulled_sum_is() {
	if [ -n "$want" ]; then
		is "$(xxh "$1")" "$2" "$3"
	else
		skip "checksum of the pulled file" "no xxh128sum/xxhsum"
	fi
}

jf() {
	json_get "$OUT" "[\"$1\"]" 2>&1
}

rand_file "$src" "$size"
ms -q push --all "$src" "$M"
expect_status 0 "push 64 MiB of random bytes"
want=$(xxh "$src")

# --------------------------------------------------------- lazy reads
ms --json map "$M" --touch seq
expect_status 0 "map, sequential read"
is "$(jf chunks_total)" 1024 "map: 1024 chunks"
is "$(jf chunks_local_after_touch)" 1024 "sequential read: every chunk local"
sum_seq=$(jf checksum)
ms --json map "$M" --touch random --no-prefetch --seed 7
expect_status 0 "map without prefetch, random read"
is "$(jf chunks_local_at_open)" 0 "nothing local at open"
is "$(jf chunks_local_after_touch)" 1024 "random read: every chunk local"
sum_rand=$(jf checksum)
is "$sum_rand" "$sum_seq" "random and sequential reads see the same bytes"
# the random read's faults reached the server's hot list when it closed
ms --json map "$M" --hot-first --touch seq
expect_status 0 "map --hot-first (prefetch the server's hot chunks first)"
is "$(jf checksum)" "$sum_seq" "a hot-first mapping reads the same bytes"
if [ -n "$want" ]; then
	is "$sum_seq" "$want" "the mapping's XXH3-128 is the pushed file's"
else
	skip "the mapping's XXH3-128 is the pushed file's" "no xxh128sum/xxhsum"
fi
ms -q pull "$M" "$SCRATCH/m.pull0"
expect_status 0 "pull"
pulled_sum_is "$SCRATCH/m.pull0" "$sum_seq" "the lazy read's checksum equals a pulled file's"
ms --json map "$M" --no-prefetch
expect_status 0 "map without touching"
is "$(jf chunks_local)" 0 "untouched, without prefetch: nothing pulled"
# huge pages (issue 13): the 64 MiB region needs 32 free 2 MiB pages
hp=/sys/kernel/mm/hugepages/hugepages-2048kB
hfree=$(( $(cat $hp/free_hugepages 2>/dev/null || echo 0) - $(cat $hp/resv_hugepages 2>/dev/null || echo 0) ))
ms --json map "$M" --huge on --touch seq
if [ "$hfree" -lt 32 ]; then
	expect_status 1 "map --huge on with $hfree free huge pages: failure"
	like "$ERR" "huge pages asked for, but .*(nr_hugepages|MINOR_HUGETLBFS|no 2 MiB huge pages)" \
		"and it says why"
else
	expect_status 0 "map --huge on with $hfree free huge pages"
	is "$(jf huge_pages)" true "on huge pages"
	is "$(jf checksum)" "$sum_seq" "a mapping on huge pages reads the same bytes"
fi
ms --json map "$M" --huge off --touch seq
expect_status 0 "map --huge off"
is "$(jf page_mode)" "4 KiB pages: huge pages off" "--huge off: 4 KiB pages, and it says so"
is "$(jf checksum)" "$sum_seq" "and reads the same bytes"

# ------------------------------------------------------ write and sync
bc0=$(stat_field m bytes_committed)
ms --json map "$M" --write --dirty 1 --sync --touch seq --seed 3
expect_status 0 "map --write --dirty 1 --sync"
jf dirty_mode >"$SCRATCH/mode.txt"
like "$SCRATCH/mode.txt" '^(userfaultfd|hashing)' "says how it tracks: $(jf dirty_mode)"
pages=$(jf dirty_pages)
dchunks=$(jf dirty_chunks)
is "$pages" 164 "1% of 16384 pages changed"
check "in $dchunks chunks" test "$dchunks" -ge 100 -a "$dchunks" -le 164
is "$(jf sync_chunks)" "$dchunks" "the sync pushed exactly the changed chunks"
# pages tracked: the written pages go out; hashing knows chunks only
case $(jf dirty_mode) in
userfaultfd*) want_bytes=$((pages * 4096)) ;;
*) want_bytes=$((dchunks * chunk)) ;;
esac
is "$(jf sync_bytes)" "$want_bytes" "and their bytes only ($(jf dirty_mode | cut -d' ' -f1))"
case $(jf dirty_mode) in
userfaultfd*) is "$(jf sync_pages_dirty)" "$pages" "userfaultfd: the written pages were found" ;;
*) is "$(jf sync_pages_dirty)" $((dchunks * 16)) "hashing: the pages of the written chunks" ;;
esac
sum_w=$(jf checksum)
isnt "$sum_w" "$sum_seq" "the writer's mapping changed"
bc1=$(stat_field m bytes_committed)
is "$((bc1 - bc0))" "$want_bytes" "server: bytes_committed grew by exactly what was pushed"
ms -q pull "$M" "$SCRATCH/m.pull1"
expect_status 0 "pull after the sync"
pulled_sum_is "$SCRATCH/m.pull1" "$sum_w" "the pulled region equals the writer's mapping"
diffrc=0
"$PY" - "$SCRATCH/m.pull0" "$SCRATCH/m.pull1" "$chunk" "$dchunks" <<'EOF' >"$SCRATCH/diff.out" 2>&1 || diffrc=$?
import sys
a = open(sys.argv[1], "rb").read()
b = open(sys.argv[2], "rb").read()
cs = int(sys.argv[3])
n = sum(1 for i in range(0, len(a), cs) if a[i:i + cs] != b[i:i + cs])
print(n)
sys.exit(0 if n == int(sys.argv[4]) and len(a) == len(b) else 1)
EOF
is "$diffrc" 0 "exactly $dchunks chunks differ from before ($(cat "$SCRATCH/diff.out"))"
ms --json map "$M" --touch seq
is "$(jf checksum)" "$sum_w" "a new lazy mapping reads the new bytes"

ms --json map "$M" --write --sync --refresh
expect_status 0 "map --write --sync with nothing written"
is "$(jf sync_chunks)" 0 "nothing written: nothing pushed"
is "$(jf refresh_changed)" 0 "and a refresh drops nothing"
is "$(stat_field m bytes_committed)" "$bc1" "server: nothing committed"
is "$(stat_field m write_leased)" false "the lease went with the mapping"

# --------------------------------------------------------------- usage
ms map "$M" --dirty 1
expect_status 2 "--dirty without --write: usage error"
ms map "$M" --touch sideways
expect_status 2 "bad --touch: usage error"
ms map "$M" --all
expect_status 2 "an option of another command: usage error"
ms map "$M" --huge sometimes
expect_status 2 "bad --huge: usage error"
ms map memsync://"$HOST":"$PORT"/nope
expect_status 1 "unknown region: failure"

done_testing
