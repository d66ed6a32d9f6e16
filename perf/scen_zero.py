# SPDX-License-Identifier: Apache-2.0
"""perf/scen_zero.py - the "zero" scenario of perf/run (issue 13, item 1).

Two regions of the same size on one memsyncd: "zero90", where 9 chunks in
10 are zero (the data chunks, 1 in 10, spread at random with a fixed seed),
and "full", random bytes throughout.  Each repetition pulls both with
`memsync --json pull ... /dev/null` over TCP, alternating (the order flips
every repetition).  Metrics:

  pull_zero90_vs_full     seconds of the zero90 pull vs the full one (ratio =
                          full / zero90, memsync's advantage; goal >= 5)
  pull_zero90_bytes_sent  the fraction of zero90's bytes that crossed (the
                          CLI's JSON "bytes" / region size) vs the goal
                          itself, 0.12 (ratio = 0.12 / fraction; goal >= 1)

perf/run hooks it in with Harness.sc_zero = scen_zero.sc_zero and calls
scen_zero.metrics() from Harness.metrics().
"""
import os
import random

NAME = "zero"
CHUNK = 64 << 10         # the regions' chunk size (the default, explicit)
GOAL_SPEEDUP = 5.0
GOAL_FRACTION = 0.12


def _size(h):
    """1 GiB (issue 13), or the largest pull size of the mode when smaller."""
    sizes = [h_parse(s) for s in h.cfg["pull_sizes"]]
    return min(max(sizes), 1 << 30)


def h_parse(s):
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    return int(s[:-1]) * units[s[-1]] if s[-1] in units else int(s)


def _zero90_file(h, size):
    """SIZE bytes in the harness's scratch dir: 1 chunk in 10 random, at
    random places (seed 13), the others zero."""
    path = os.path.join(h.tmp, "zero90.%d" % size)
    n = size // CHUNK
    rng = random.Random(13)
    data = set(rng.sample(range(n), max(1, n // 10)))
    blk = os.urandom(CHUNK)
    zero = bytes(CHUNK)
    with open(path, "wb") as f:
        for i in range(n):
            if i in data:
                b = bytearray(blk)
                b[0:8] = i.to_bytes(8, "little")   # every data chunk differs
                f.write(b)
            else:
                f.write(zero)
    return path, len(data)


def sc_zero(h):
    sc = NAME
    size = _size(h)
    # two regions + one transient source file + slack
    if not h.mem_ok(sc, 3 * size + (1 << 30), "zero-chunk pull of %d MiB" % (size >> 20)):
        return
    srv = h.daemon(["zero90:%d:chunk=%d" % (size, CHUNK), "full:%d:chunk=%d" % (size, CHUNK)])
    try:
        h.fill_region(srv, "full", size, sc)
        src, ndata = _zero90_file(h, size)
        with h.raw(sc) as raw:
            from_run = __import__("__main__")
            r = from_run.run_client([h.memsync, "--json", "--transport", "tcp", "push", src,
                                     "memsync://127.0.0.1:%d/zero90" % srv.port],
                                    max(60, size / (50 << 20)), raw=raw)
        os.unlink(src)
        if r.rc != 0:
            raise RuntimeError("filling zero90: %s" % r.why())
        h.note(sc, "zero90: %d of %d chunks (%d KiB) hold data, at random places" %
               (ndata, size // CHUNK, CHUNK >> 10))
        with h.raw(sc) as raw:
            for rep in range(h.reps):
                for region in h.order(["zero90", "full"], rep):
                    r, js = h.ms_pull(srv.port, region, rep, raw=raw, server=srv)
                    ok = js is not None and isinstance(js.get("bytes"), int)
                    if not ok:
                        h.failed(sc, "memsync pull", region, r)
                    h.add(sc, "memsync", "seconds", js["seconds"] if ok else None, "s", rep,
                          size, variant=region, res=r, ok=ok,
                          cpu_scope="client: memsync CLI; server: memsyncd")
                    if ok:
                        h.add(sc, "memsync", "bytes_fraction", js["bytes"] / size, "fraction",
                              rep, size, variant=region, res=r,
                              cpu_scope="client: memsync CLI; server: memsyncd")
    finally:
        srv.stop()


def metrics(h, aggs, entry):
    """The scenario's entries in summary.json (perf/README.md)."""
    size = _size(h)
    z = h.find(aggs, NAME, "memsync", "seconds", variant="zero90", size=size)
    full = h.find(aggs, NAME, "memsync", "seconds", variant="full", size=size)
    entry("pull_zero90_vs_full",
          "whole-region pull over TCP on 127.0.0.1 (memsync --json pull into /dev/null, verified) "
          "of a %d MiB region that is 90%% zero chunks (1 chunk in 10 random, spread out) vs the "
          "same size of random bytes, alternating in one run (ratio = full / zero90 seconds)"
          % (size >> 20),
          z, full, "full_region", "s", "lower", GOAL_SPEEDUP,
          ">= 5x faster than the full region (issue #13)", NAME, size=size)
    frac = h.find(aggs, NAME, "memsync", "bytes_fraction", variant="zero90", size=size)
    goal = {"median": GOAL_FRACTION, "min": GOAL_FRACTION, "max": GOAL_FRACTION, "n": 1}
    entry("pull_zero90_bytes_sent",
          "fraction of the 90%%-zero region's bytes that crossed in its pull (the CLI's JSON "
          "bytes / region size) vs the goal itself, 0.12 (ratio = 0.12 / fraction)",
          frac, goal if frac else None, "goal_0.12", "fraction", "lower", 1.0,
          "<= 0.12 of the region's bytes (ratio >= 1, issue #13)", NAME, size=size)
