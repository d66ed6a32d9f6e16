#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# pkgconfig.sh - memsync.pc (issue 14, item 6): Requires.private names the
# pkg-config modules libmemsync links, exactly those configure found
# (config.h says which), Libs.private what has no .pc, and
# `pkg-config --static --libs memsync` resolves them all.
#
# shellcheck source-path=SCRIPTDIR
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

top=$TESTS_BUILDDIR/..
pc=$top/memsync.pc
[ -f "$pc" ] || bail_out "no $pc"
command -v pkg-config >/dev/null 2>&1 || bail_out "pkg-config is not installed"

# has_define NAME - config.h defines NAME to 1
has_define() {
	grep -qE "^#define $1 1$" "$top/config.h"
}

want="libssl libcrypto"
pkg-config --exists libxxhash && want="$want libxxhash"
has_define HAVE_RDMA && want="$want libibverbs librdmacm"
has_define HAVE_HWLOC && want="$want hwloc"
has_define HAVE_NUMA && pkg-config --exists numa && want="$want numa"
got=$(sed -n 's/^Requires.private:[[:space:]]*//p' "$pc")
is "$(tr ' ' '\n' <<<"$got" | grep . | sort | tr '\n' ' ')" \
	"$(tr ' ' '\n' <<<"$want" | grep . | sort | tr '\n' ' ')" \
	"Requires.private lists the modules configure found"
like "$pc" '^Libs\.private:.*-lpthread' "Libs.private keeps -lpthread"
unlike "$pc" '^Libs\.private:.*-l(ssl|crypto|ibverbs|rdmacm|hwloc)( |$)' \
	"Libs.private does not repeat what Requires.private brings"

run env PKG_CONFIG_PATH="$top" pkg-config --static --libs memsync
expect_status 0 "pkg-config --static --libs memsync resolves"
for l in -lmemsync -lssl -lcrypto -lpthread; do
	like "$OUT" "(^| )$l( |$)" "--static --libs has $l"
done
if has_define HAVE_RDMA; then
	like "$OUT" "(^| )-libverbs( |$)" "--static --libs has -libverbs"
	like "$OUT" "(^| )-lrdmacm( |$)" "--static --libs has -lrdmacm"
else
	skip "--static --libs has -libverbs" "built without RDMA"
	skip "--static --libs has -lrdmacm" "built without RDMA"
fi
run env PKG_CONFIG_PATH="$top" pkg-config --libs memsync
is "$(tr -d ' \n' <"$OUT")" "-L$(PKG_CONFIG_PATH="$top" pkg-config --variable=libdir memsync)-lmemsync" \
	"a shared link needs -lmemsync only"

done_testing
