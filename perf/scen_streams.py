# SPDX-License-Identifier: Apache-2.0
"""perf/run scenario "streams" (issue 13, item 4): parallel streams.

A whole-region pull (verified, into /dev/null) and a push of every chunk
(--all) over TCP on 127.0.0.1, each with --streams 1 (one connection,
the behaviour before streams) and with the default (the online CPUs, at
most 4), alternating, in the same run.  Reported as information metrics
(ratio = the default's throughput over --streams 1's); the goals of issue
13 are judged by pull_tcp_vs_raw_tcp.  A push stripes nothing yet (its
WRITEs and the commit use the first connection), so its ratio shows that
the option costs a push nothing.
"""

import os

MiB, GiB = 1 << 20, 1 << 30
SIZES = {"tiny": "16M", "quick": "256M", "full": "1G"}
VARIANTS = ("streams=1", "default")


def _size(h):
    mode = h.args.tiny and "tiny" or h.args.quick and "quick" or "full"
    return SIZES[mode]


def run(h, parse_size, run_client, log):
    """Measure; h is perf/run's Harness."""
    sc = "streams"
    s = _size(h)
    size = parse_size(s)
    if not h.mem_ok(sc, 3 * size + GiB, "streams %s" % s):
        return
    log("streams: pull and push %s, --streams 1 vs the default" % s)
    srv = h.daemon(["r:%s" % s])
    url = "memsync://127.0.0.1:%d/r" % srv.port
    src = None
    try:
        h.fill_region(srv, "r", size, sc)           # (it removes its own file)
        src = h.random_file(size, "streams.src")    # what the pushes send
        with h.raw(sc) as raw:
            for rep in range(h.reps):
                for v in h.order(VARIANTS, rep):
                    extra = ["--streams", "1"] if v == "streams=1" else []
                    r, js = h.ms_pull(srv.port, "r", rep, extra, raw=raw, server=srv)
                    ok = js is not None and js.get("bytes") == size
                    if not ok:
                        h.failed(sc, "memsync pull", "%s %s" % (s, v), r)
                    h.add(sc, "memsync", "bytes_per_second", js["bytes_per_second"] if ok else None,
                          "B/s", rep, size, variant="pull " + v, res=r, ok=ok,
                          cpu_scope="client: memsync CLI; server: memsyncd")
                for v in h.order(VARIANTS, rep):
                    extra = ["--streams", "1"] if v == "streams=1" else []
                    r = run_client([h.memsync, "--json", "--transport", "tcp"] + extra +
                                   ["push", "--all", src, url], max(60, size / (20 * MiB)),
                                   server=srv, raw=raw)
                    js = [j for j in r.json_lines() if j.get("command") == "push"]
                    ok = r.rc == 0 and bool(js) and js[0].get("bytes_per_second") is not None
                    if not ok:
                        h.failed(sc, "memsync push", "%s %s" % (s, v), r)
                    h.add(sc, "memsync", "bytes_per_second",
                          js[0]["bytes_per_second"] if ok else None, "B/s", rep, size,
                          variant="push " + v, res=r, ok=ok,
                          cpu_scope="client: memsync CLI; server: memsyncd")
    finally:
        if src:
            os.unlink(src)
        srv.stop()


def metrics(h, aggs, entry):
    """The two information metrics, in perf/run's metric convention."""
    size = None
    for a in aggs:
        if a["scenario"] == "streams" and a["size"] not in (None, ""):
            size = a["size"]
            break
    for what, desc in (("pull", "whole-region pull over TCP (memsync CLI, verified, into "
                                "/dev/null) with the default streams (the online CPUs, at most "
                                "4) vs --streams 1"),
                       ("push", "push --all over TCP with the default streams vs --streams 1 "
                                "(a push's WRITEs use one connection: the option must cost "
                                "nothing)")):
        entry("%s_streams_default_vs_one" % what, desc,
              h.find(aggs, "streams", "memsync", "bytes_per_second", "%s default" % what),
              h.find(aggs, "streams", "memsync", "bytes_per_second", "%s streams=1" % what),
              "memsync --streams 1", "B/s", "higher", None,
              "information: what parallel streams gain on this machine", "streams",
              size=size)
