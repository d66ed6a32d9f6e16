#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# durable.sh - a file region's generations and hashes survive a restart
# (FILE.msmeta); a chunk changed behind memsyncd's back gets a new
# generation and a WARN line; two regions on one file are refused; a
# region that does not fit on its filesystem (a small tmpfs, a small
# loop-mounted ext4) is refused at start with "no space left on device",
# not a SIGBUS, and leaves no file behind.
#
# The small filesystems are mounted in a private mount namespace (the
# script re-runs itself under `unshare -m`), so nothing is visible outside
# the test and the kernel unmounts them when it ends.
#
# shellcheck source-path=SCRIPTDIR
# shellcheck source=lib.sh
if [ -z "${MS_DURABLE_NS:-}" ] && [ "$(id -u)" = 0 ] &&
	unshare -m --propagation private true 2>/dev/null; then
	MS_DURABLE_NS=1 exec unshare -m --propagation private "$BASH" "$0" "$@"
fi
. "$(dirname "$0")/lib.sh"

img=$SCRATCH/f.img
src=$SCRATCH/f.src
regions=(--region "f:8M:file=$img")

# ------------------------------------------- generations survive a restart
start_daemon_or_bail "${regions[@]}"
F=$(url f)
is "$(stat_field f generation)" 1 "a new file region starts at generation 1"
check "FILE.msmeta and FILE.msjournal are created beside the file" \
	test -f "$img.msmeta" -a -f "$img.msjournal"
rand_file "$src" $((8 * MiB))
ms -q push "$src" "$F"
expect_status 0 "push 8 MiB"
invert_bytes "$src" 65536 7:0:10
ms -q push "$src" "$F"
expect_status 0 "push a change to chunk 7"
gen=$(stat_field f generation)
check "the region's generation moved ($gen)" test "$gen" -gt 1
ms lease "$F"
like "$OUT" "no writer \(last epoch 2\)" "two pushes, two lease epochs"
stop_daemon TERM
is "$DSTATUS" 0 "memsyncd exits 0 on SIGTERM"

start_daemon_or_bail "${regions[@]}"
F=$(url f)
is "$(stat_field f generation)" "$gen" "after a restart the region is at the same generation"
unlike "$DLOG" "WARN" "no warning: every chunk matches its persisted hash"
ms lease "$F"
like "$OUT" "no writer \(last epoch 2\)" "the lease epoch survives a restart"
ms --json push "$src" "$F"
is "$(json_get "$OUT" '["chunks_moved"]' 2>&1)" 0 "an unchanged push moves nothing"
ms lease "$F"
like "$OUT" "no writer \(last epoch 3\)" "the next writer gets the next epoch, never one granted before"
stop_daemon TERM

# ---------------------------------------------- changed behind its back
invert_bytes "$img" 65536 5:100:4 9:0:1
start_daemon_or_bail "${regions[@]}"
F=$(url f)
like "$DLOG" "WARN: region 'f': 2 chunk\(s\) of '$img' \(first: chunk 5\) do not match" \
	"chunks changed outside memsync are logged at WARN"
is "$(stat_field f generation)" $((gen + 1)) "they make a new generation ($((gen + 1)))"
ms -q pull "$F" "$SCRATCH/f.out"
expect_status 0 "a verified pull of the changed file"
same_file "$img" "$SCRATCH/f.out" "it returns the file's bytes"
stop_daemon TERM

# ------------------------------------------------ two regions, one file
run "$MEMSYNCD" --listen "$HOST:0" --region "a:8M:file=$img" --region "b:8M:file=$img"
isnt "$RC" 0 "two regions on one file: memsyncd refuses to start"
like "$ERR" "same file|already backs another region" "and says why"
# a second daemon on the file of a running one (the file's lock)
start_daemon_or_bail "${regions[@]}"
first=$DPID
ln "$img" "$SCRATCH/hard.img"
run "$MEMSYNCD" --listen "$HOST:0" --region "g:8M:file=$SCRATCH/hard.img"
isnt "$RC" 0 "a second memsyncd on the same file (a hard link) is refused"
like "$ERR" "region 'g': '$SCRATCH/hard.img' already backs another region" "and says why"
check "the first daemon runs on" alive "$first"
stop_daemon TERM
rm -f "$SCRATCH/hard.img"

# ------------------------------------------------------------ full disks
# refused DIR SIZE WHAT - a nolock region of SIZE on DIR's filesystem
refused() {
	run "$MEMSYNCD" --listen "$HOST:0" --region "big:$2:file=$1/big.img,nolock"
	is "$RC" 1 "$3: a region larger than the filesystem: exit 1 (no SIGBUS)"
	like "$ERR" "region 'big': '$1/big.img' does not fit on its filesystem: no space left on device" \
		"$3: the message says why"
	is "$(ls -A "$1")" "" "$3: no file is left behind"
}

# full_push DIR - a push whose journal does not fit fails, says why, and
# leaves the region as it was
full_push() {
	local t=$1/s.img
	start_daemon_or_bail --region "s:2M:file=$t"
	rand_file "$SCRATCH/s1" $((2 * MiB))
	rand_file "$SCRATCH/s2" $((2 * MiB))
	ms -q push "$SCRATCH/s1" "$(url s)"
	expect_status 0 "a push into a region on a small filesystem"
	head -c $((16 * MiB)) /dev/zero >"$1/filler" 2>/dev/null
	ms push "$SCRATCH/s2" "$(url s)"
	isnt "$RC" 0 "a push into a full filesystem fails"
	like "$ERR" "no space left on device" "  and says why: $(head -c 300 "$ERR")"
	like "$DLOG" "s.img.msjournal': no space left on device" "  the daemon logs it, naming the journal"
	ms -q pull "$(url s)" "$SCRATCH/s.out"
	expect_status 0 "  a verified pull after it"
	same_file "$SCRATCH/s1" "$SCRATCH/s.out" "  returns the region as it was"
	rm -f "$1/filler"
	ms -q push "$SCRATCH/s2" "$(url s)"
	expect_status 0 "with space again, the push goes through"
	stop_daemon TERM
	rm -f "$t" "$t.msmeta" "$t.msjournal"
}

if [ -z "${MS_DURABLE_NS:-}" ]; then
	skip "full disks" "not root, or no mount namespace (unshare -m)"
else
	mkdir -p "$SCRATCH/tmpfs"
	if mount -t tmpfs -o size=8m tmpfs "$SCRATCH/tmpfs" 2>/dev/null; then
		refused "$SCRATCH/tmpfs" 16M "tmpfs of 8 MiB"
		full_push "$SCRATCH/tmpfs"
		umount "$SCRATCH/tmpfs"
	else
		skip "tmpfs of 8 MiB" "mount -t tmpfs failed"
	fi
	mkdir -p "$SCRATCH/ext4"
	if truncate -s 16M "$SCRATCH/ext4.img" && mkfs.ext4 -q -F "$SCRATCH/ext4.img" >/dev/null 2>&1 &&
		mount -o loop "$SCRATCH/ext4.img" "$SCRATCH/ext4" 2>/dev/null; then
		rmdir "$SCRATCH/ext4/lost+found"
		refused "$SCRATCH/ext4" 32M "ext4 of 16 MiB"
		umount "$SCRATCH/ext4"
	else
		skip "ext4 of 16 MiB" "cannot make or loop-mount an image"
	fi
fi

done_testing
