#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# cli_basic.sh - the command-line contract of memsync and memsyncd: --help,
# --version, usage errors (exit 2), `stat` (table and --json), `cat`, and
# that `pull` to a file, to stdout and `cat` all return the bytes pushed.
#
# shellcheck source-path=SCRIPTDIR
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

version=$(sed -n 's/^AC_INIT(\[memsync\], *\[\([^]]*\)\].*/\1/p' "$TESTS_SRCDIR/../configure.ac")

# ------------------------------------------------------- help and version
ms --help
expect_status 0 "memsync --help exits 0"
cat "$OUT" "$ERR" >"$SCRATCH/help"
for cmd in pull push cat stat demo --json --client-id --transport; do
	like "$SCRATCH/help" "(^|[^a-z-])$cmd([^a-z-]|$)" "memsync --help mentions $cmd"
done

ms --version
expect_status 0 "memsync --version exits 0"
cat "$OUT" "$ERR" >"$SCRATCH/version"
isnt "$version" "" "the version is in configure.ac"
like "$SCRATCH/version" "${version//./\\.}" "memsync --version prints $version"

run "$MEMSYNCD" --help
expect_status 0 "memsyncd --help exits 0"
cat "$OUT" "$ERR" >"$SCRATCH/dhelp"
for opt in --listen --region --config --port-file --log-level memfd chunk=; do
	like "$SCRATCH/dhelp" "$opt" "memsyncd --help mentions $opt"
done

run "$MEMSYNCD" --version
expect_status 0 "memsyncd --version exits 0"
cat "$OUT" "$ERR" >"$SCRATCH/dversion"
like "$SCRATCH/dversion" "${version//./\\.}" "memsyncd --version prints $version"

# ------------------------------------------------------------- a daemon
start_daemon_or_bail --region a:8M \
	--region b:4M:memfd,chunk=4K \
	--region "c:2M:file=$SCRATCH/c.img,chunk=1M"
A=$(url a)
B=$(url b)
C=$(url c)
hp=$HOST:$PORT

# ------------------------------------------------------- transport choice
# The daemon listens with its default (auto) and memsync is asked for auto:
# both say which transport they took and why.  On a host without an RDMA
# device that is TCP; over rxe (MS_TEST_TRANSPORT=rdma) it is RDMA, and the
# daemon serves TCP on the same port as well.
run "$MEMSYNC" -v --transport auto stat "$hp"
expect_status 0 "stat with --transport auto"
if [ "$TRANSPORT" = rdma ]; then
	like "$DLOG" "transport tcp\+rdma: auto" "memsyncd (auto) listens on TCP and RDMA"
	like "$DLOG" "listening on $HOST:$PORT \(tcp\+rdma\)" "memsyncd logs both transports"
	like "$ERR" "over rdma \(rdma: auto \(" "memsync (auto) picks RDMA and says why"
	run "$MEMSYNC" --transport tcp --json pull "$A" "$SCRATCH/a.tcp"
	expect_status 0 "the same daemon serves TCP on the same port"
	is "$(json_get "$OUT" '["transport"]' 2>&1)" tcp "that pull went over TCP"
else
	like "$DLOG" "transport tcp: auto \(rdma: " "memsyncd (auto) falls back to TCP and says why"
	like "$ERR" "over tcp \(tcp: auto \(rdma: " "memsync (auto) falls back to TCP and says why"
	run "$MEMSYNC" --transport rdma stat "$hp"
	expect_status 1 "--transport rdma without a device fails (never a silent TCP)"
	like "$ERR" "^memsync: stat: .*rdma" "--transport rdma says why it failed"
fi

# ------------------------------------------------------------ usage errors
# Each of these must be refused before anything is done (exit 2), with a
# message on stderr; the daemon is running, so a wrong "success" would show.
usage_case() {
	local name=$1
	shift
	RUN_TIMEOUT=20 ms "$@"
	expect_status 2 "usage error exits 2: $name"
	if [ ! -s "$ERR" ]; then
		fail "usage error explains itself on stderr: $name"
	fi
}
usage_case "no arguments"
usage_case "unknown command" frobnicate "$A"
usage_case "unknown option" --no-such-option stat "$hp"
usage_case "pull without arguments" pull
usage_case "pull without FILE" pull "$A"
usage_case "pull with an extra argument" pull "$A" "$SCRATCH/x" extra
usage_case "push without URL" push "$SCRATCH/x"
usage_case "stat without address" stat
usage_case "bad --transport" --transport pigeon stat "$hp"
usage_case "bad --queue-depth" --queue-depth lots stat "$hp"
usage_case "bad --max-io" --max-io big stat "$hp"
usage_case "bad --timeout" --timeout soon stat "$hp"
usage_case "--client-id not hex" --client-id xyz stat "$hp"
usage_case "--client-id 31 digits" --client-id 0123456789abcdef0123456789abcde stat "$hp"
usage_case "cat with a bad --length" cat "$A" --offset 0 --length lots
usage_case "cat with a negative --offset" cat "$A" --offset -4096 --length 1
usage_case "demo with a bad --size" demo --size banana
usage_case "demo with a bad --dirty" demo --dirty many

dusage_case() {
	local name=$1
	shift
	RUN_TIMEOUT=10 run "$MEMSYNCD" --listen "$HOST:0" "$@"
	expect_status 2 "memsyncd usage error exits 2: $name"
	if [ ! -s "$ERR" ]; then
		fail "memsyncd usage error explains itself on stderr: $name"
	fi
}
dusage_case "unknown option" --no-such-option
dusage_case "bad --log-level" --log-level loud
dusage_case "bad --transport" --transport pigeon
dusage_case "stray argument" stray
dusage_case "bad --listen port" --listen "$HOST:99999"

# ------------------------------------------------------------------ stat
ms --json stat "$hp"
expect_status 0 "stat HOST:PORT --json"
cp "$OUT" "$SCRATCH/stat.json"
is "$(json_get "$SCRATCH/stat.json" '["regions"].__len__()' 2>&1)" 3 "stat lists 3 regions"
# name backing size chunk_size
while read -r name backing size chunk; do
	for f in backing size chunk_size; do
		case $f in
		backing) want=$backing ;;
		size) want=$size ;;
		chunk_size) want=$chunk ;;
		esac
		is "$(region_field "$SCRATCH/stat.json" "$name" "$f" 2>&1)" "$want" "stat: region $name $f"
	done
	is "$(region_field "$SCRATCH/stat.json" "$name" write_leased 2>&1)" false \
		"stat: region $name not write-leased"
	is "$(region_field "$SCRATCH/stat.json" "$name" clients 2>&1)" 0 \
		"stat: region $name has no clients"
done <<EOF
a anon 8388608 65536
b memfd 4194304 4096
c file 2097152 1048576
EOF

ms stat "$hp"
expect_status 0 "stat HOST:PORT (table)"
like "$OUT" "^ *REGION +BACKING +SIZE +CHUNK +GENERATION +CLIENTS +LEASE +EPOCH +EXPIRES +READ +WRITTEN +COMMITTED +COMMITS +REFUSED +ABANDONED" \
	"stat table has the header of the spec"
for name in a b c; do
	like "$OUT" "^ *$name +" "stat table lists region $name"
done

ms stat "memsync://$hp"
expect_status 0 "stat memsync://HOST:PORT"
like "$OUT" "^ *b +memfd" "stat memsync://HOST:PORT lists b as memfd"

ms --json stat "$C"
expect_status 0 "stat URL --json names one region"
is "$(json_get "$OUT" '["regions"].__len__()' 2>&1)" 1 "stat URL: exactly one region"
is "$(json_get "$OUT" '["regions"][0]["name"]' 2>&1)" c "stat URL: the region asked for"

# ----------------------------------------------------------- push, pull
rand_file "$SCRATCH/a.src" $((8 * 1024 * 1024))
ms --json push "$SCRATCH/a.src" "$A"
expect_status 0 "push 8 MiB into a"
cp "$OUT" "$SCRATCH/push.json"
is "$(json_get "$SCRATCH/push.json" '["command"]' 2>&1)" push "push --json: command"
is "$(json_get "$SCRATCH/push.json" '["region"]' 2>&1)" a "push --json: region"
is "$(json_get "$SCRATCH/push.json" '["transport"]' 2>&1)" "${TRANSPORT:-tcp}" "push --json: transport"
is "$(json_get "$SCRATCH/push.json" '["chunks_total"]' 2>&1)" 128 "push --json: chunks_total"
is "$(json_get "$SCRATCH/push.json" '["chunks_moved"]' 2>&1)" 128 "push --json: every chunk moved"
is "$(json_get "$SCRATCH/push.json" '["bytes"]' 2>&1)" 8388608 "push --json: bytes"
gen=$(json_get "$SCRATCH/push.json" '["generation"]' 2>&1)

ms pull "$A" "$SCRATCH/a.out"
expect_status 0 "pull a to a file"
same_file "$SCRATCH/a.src" "$SCRATCH/a.out" "pull to a file returns the bytes pushed"
like "$ERR" "^pulled a: " "pull prints its summary line on stderr"
is "$(file_size "$OUT")" 0 "pull to a file prints nothing on stdout"

ms pull "$A" -
expect_status 0 "pull a to stdout"
same_file "$SCRATCH/a.out" "$OUT" "pull to - equals pull to a file"

ms pull "$A" "$SCRATCH/a.json.out" --json
expect_status 0 "pull --json (option after the command)"
cp "$OUT" "$SCRATCH/pull.json"
same_file "$SCRATCH/a.src" "$SCRATCH/a.json.out" "pull --json wrote the region"
is "$(json_get "$SCRATCH/pull.json" '["command"]' 2>&1)" pull "pull --json: command"
is "$(json_get "$SCRATCH/pull.json" '["bytes"]' 2>&1)" 8388608 "pull --json: bytes"
is "$(json_get "$SCRATCH/pull.json" '["chunks_total"]' 2>&1)" 128 "pull --json: chunks_total"
is "$(json_get "$SCRATCH/pull.json" '["chunks_moved"]' 2>&1)" 128 "pull --json: chunks_moved"
is "$(json_get "$SCRATCH/pull.json" '["chunks_retried"]' 2>&1)" 0 "pull --json: nothing retried"
is "$(json_get "$SCRATCH/pull.json" '["generation"]' 2>&1)" "$gen" \
	"pull --json: the generation the push reported"

ms -q --transport tcp pull "$A" "$SCRATCH/a.q.out"
expect_status 0 "pull -q --transport tcp"
same_file "$SCRATCH/a.src" "$SCRATCH/a.q.out" "pull -q wrote the region"
is "$(cat "$OUT" "$ERR")" "" "pull -q prints nothing"

# Pulling over an existing, longer file truncates it to the region size.
head -c $((9 * 1024 * 1024)) /dev/zero >"$SCRATCH/a.long"
ms -q pull "$A" "$SCRATCH/a.long"
expect_status 0 "pull over a longer file"
same_file "$SCRATCH/a.src" "$SCRATCH/a.long" "pull truncates FILE to the region size"

# ------------------------------------------------------------------- cat
ms cat "$A" --offset 0 --length 8M
expect_status 0 "cat the whole region (M suffix)"
same_file "$SCRATCH/a.src" "$OUT" "cat returns the bytes pushed"

ms cat "$A" --offset 12345 --length 100000
expect_status 0 "cat an unaligned range"
tail -c +12346 "$SCRATCH/a.src" | head -c 100000 >"$SCRATCH/a.mid"
same_file "$SCRATCH/a.mid" "$OUT" "cat of [12345, 112345) is exact"

ms cat "$A" --offset 1M --length 64K
expect_status 0 "cat with K/M suffixes"
tail -c +$((1024 * 1024 + 1)) "$SCRATCH/a.src" | head -c 65536 >"$SCRATCH/a.k"
same_file "$SCRATCH/a.k" "$OUT" "cat --offset 1M --length 64K is exact"

ms cat "$A" --offset $((8 * 1024 * 1024 - 1)) --length 1
expect_status 0 "cat of the last byte"
tail -c 1 "$SCRATCH/a.src" >"$SCRATCH/a.last"
same_file "$SCRATCH/a.last" "$OUT" "cat of the last byte is exact"

# -------------------------------------------------- other backings, chunks
rand_file "$SCRATCH/b.src" $((4 * 1024 * 1024))
ms --json push "$SCRATCH/b.src" "$B"
expect_status 0 "push 4 MiB into memfd region b (4K chunks)"
is "$(json_get "$OUT" '["chunks_moved"]' 2>&1)" 1024 "push b: 1024 chunks of 4K moved"
ms -q pull "$B" "$SCRATCH/b.out"
expect_status 0 "pull b"
same_file "$SCRATCH/b.src" "$SCRATCH/b.out" "b returns the bytes pushed"

# A file shorter than the region sets only its first bytes.
rand_file "$SCRATCH/c.src" $((1536 * 1024))
ms -q push "$SCRATCH/c.src" "$C"
expect_status 0 "push 1.5 MiB into file region c (1M chunks)"
ms -q pull "$C" "$SCRATCH/c.out"
expect_status 0 "pull c"
is "$(file_size "$SCRATCH/c.out")" 2097152 "pull c: the file has the region's size"
head -c $((1536 * 1024)) "$SCRATCH/c.out" >"$SCRATCH/c.head"
same_file "$SCRATCH/c.src" "$SCRATCH/c.head" "c starts with the bytes pushed"
tail -c $((512 * 1024)) "$SCRATCH/c.out" >"$SCRATCH/c.tail"
head -c $((512 * 1024)) /dev/zero >"$SCRATCH/zero.512k"
same_file "$SCRATCH/zero.512k" "$SCRATCH/c.tail" "the rest of c is still zero"
same_file "$SCRATCH/c.out" "$SCRATCH/c.img" "the backing file of c holds the region after the push"

# ------------------------------------------------------- stat after use
ms --json stat "$A"
expect_status 0 "stat a after the transfers"
cp "$OUT" "$SCRATCH/stat2.json"
is "$(region_field "$SCRATCH/stat2.json" a bytes_committed 2>&1)" 8388608 \
	"stat: writers committed 8 MiB of a"
wire_is "$(region_field "$SCRATCH/stat2.json" a bytes_written 2>&1)" 8388608 \
	"stat: a received 8 MiB from writers"
is "$(region_field "$SCRATCH/stat2.json" a generation 2>&1)" "$gen" \
	"stat: a's generation is the one push reported"
is "$(region_field "$SCRATCH/stat2.json" a commits 2>&1)" 1 "stat: a has one commit"
br=$(region_field "$SCRATCH/stat2.json" a bytes_read 2>&1)
if [ "$TRANSPORT" = rdma ]; then
	# two of the pulls of a asked for TCP; the RDMA ones never reach the
	# server's CPU, and the first TCP one, before the push, found a region
	# of zero chunks and moved none of its bytes
	is "$br" 8388608 "stat: the server saw only the pull of a made over TCP after the push (rdma)"
elif [[ $br =~ ^[0-9]+$ ]] && [ "$br" -ge $((4 * 8388608)) ]; then
	pass "stat: a served at least the four whole-region pulls ($br bytes)"
else
	fail "stat: a served at least the four whole-region pulls" "bytes_read: $br"
fi

stop_daemon TERM
is "$DSTATUS" 0 "memsyncd exits 0 on SIGTERM"
unlike "$DLOG" "AddressSanitizer|runtime error|LeakSanitizer" "memsyncd log has no sanitizer report"

done_testing
