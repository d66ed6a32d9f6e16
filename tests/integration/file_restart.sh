#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# file_restart.sh - a file-backed region survives the daemon: after a push
# and SIGTERM (exit 0) the file on disk holds the bytes pushed; a daemon
# restarted on the same file serves them (and knows their hashes: an
# unchanged push moves nothing, a 1% change moves 1% of the chunks); the
# same after SIGINT.  An existing shorter file keeps its bytes and is
# extended with zeros to the region size.
#
# shellcheck source-path=SCRIPTDIR
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

size=$((32 * 1024 * 1024))
img=$SCRATCH/disk.img
short=$SCRATCH/short.img
src=$SCRATCH/f.src

rand_file "$short" $((1024 * 1024))
cp "$short" "$SCRATCH/short.orig"

regions=(--region "f:32M:file=$img" --region "g:4M:file=$short,chunk=4K")
start_daemon_or_bail "${regions[@]}"
F=$(url f)

is "$(stat_field f backing)" file "stat: f is file-backed"
is "$(file_size "$img")" "$size" "the daemon created the backing file with the region's size"
is "$(file_size "$short")" $((4 * 1024 * 1024)) "a shorter backing file is extended to the region size"

ms -q pull "$(url g)" "$SCRATCH/g.out"
expect_status 0 "pull the region on the shorter file"
head -c $((1024 * 1024)) "$SCRATCH/g.out" >"$SCRATCH/g.head"
same_file "$SCRATCH/short.orig" "$SCRATCH/g.head" "the file's existing bytes are served"
tail -c $((3 * 1024 * 1024)) "$SCRATCH/g.out" >"$SCRATCH/g.tail"
head -c $((3 * 1024 * 1024)) /dev/zero >"$SCRATCH/zero.3m"
same_file "$SCRATCH/zero.3m" "$SCRATCH/g.tail" "the extension reads as zeros"

rand_file "$src" "$size"
ms -q push "$src" "$F"
expect_status 0 "push 32 MiB into the file region"

# ------------------------------------------------------------ SIGTERM
stop_daemon TERM
is "$DSTATUS" 0 "memsyncd exits 0 on SIGTERM"
same_file "$src" "$img" "after SIGTERM the backing file holds the bytes pushed"
unlike "$DLOG" "AddressSanitizer|runtime error|LeakSanitizer" "memsyncd log has no sanitizer report"

# ------------------------------------------------------------ restart
start_daemon_or_bail "${regions[@]}"
F=$(url f)
ms -q pull "$F" "$SCRATCH/f.out"
expect_status 0 "pull after the restart"
same_file "$src" "$SCRATCH/f.out" "the restarted daemon serves the bytes pushed before"

ms --json push "$src" "$F"
expect_status 0 "push of the same file after the restart"
is "$(json_get "$OUT" '["chunks_moved"]' 2>&1)" 0 "the restarted daemon hashed the file: nothing moved"

# 1% of 512 chunks: 5 chunks, bytes inverted so they certainly change.
invert_bytes "$src" 65536 3:100:1000 111:0:65536 250:65535:1 389:40000:20 511:7:9
ms --json push "$src" "$F"
expect_status 0 "push after changing 1% of the chunks"
is "$(json_get "$OUT" '["chunks_moved"]' 2>&1)" 5 "the 5 changed chunks moved"

# ------------------------------------------------------------- SIGINT
stop_daemon INT
is "$DSTATUS" 0 "memsyncd exits 0 on SIGINT"
same_file "$src" "$img" "after SIGINT the backing file holds the changed bytes"
unlike "$DLOG" "AddressSanitizer|runtime error|LeakSanitizer" "memsyncd log has no sanitizer report"

# And once more: a third daemon serves the changed file.
start_daemon_or_bail "${regions[@]}"
ms -q pull "$(url f)" "$SCRATCH/f.out"
expect_status 0 "pull after the second restart"
same_file "$src" "$SCRATCH/f.out" "the third daemon serves the changed bytes"
head -c $((1024 * 1024)) "$SCRATCH/short.img" >"$SCRATCH/g.head2"
same_file "$SCRATCH/short.orig" "$SCRATCH/g.head2" "the shorter file's own bytes survived two restarts"
stop_daemon TERM
is "$DSTATUS" 0 "memsyncd exits 0 on SIGTERM (third run)"

done_testing
