# SPDX-License-Identifier: Apache-2.0
"""scen_huge.py - perf/run's "huge" scenario and its metrics (issue 13,
items 2 and 5): huge pages and small transfers.

- Reserves 2 MiB huge pages for the run (/proc/sys/vm/nr_hugepages, when
  root), puts the old value back at exit and on SIGINT/SIGTERM/SIGHUP, and
  notes it when it cannot (then the huge-page figure is not measured).
- lazy_seq_vs_raw_tcp: bench_map --huge on (a lazy mapping on hugetlbfs
  pages, faults + prefetch, sequential scan, every byte compared) against a
  raw TCP stream of the same size into prefaulted memory (perf/rawtcp), in
  the same run; lazy_seq_vs_raw_tcp_nohuge: the same with 4 KiB pages
  (bench_map copy, the default path over TCP).
- pull_fixed_cost: the wall time of `memsync pull` of a 64 KiB region
  (process start, connect, handshake, open, table read, one chunk),
  against the wall time of a 64 MiB pull from the same daemon (information:
  the 64 MiB pull is ratio times the fixed cost).

perf/run calls run(h) as scenario "huge" and metrics(h, aggs, entry).
Benchmarks never fail on a number; what could not be measured is null
with a note.
"""
import atexit
import os
import signal
import sys

NR_PATH = "/proc/sys/vm/nr_hugepages"
HP_DIR = "/sys/kernel/mm/hugepages/hugepages-2048kB"
HUGE = 2 << 20
MiB, GiB = 1 << 20, 1 << 30
SC = "huge"
TINY = 64 << 10          # the fixed-cost pull's region
SMALL = 64 << 20         # the small pull it is compared with


def _read_int(path):
    try:
        with open(path) as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def huge_free():
    """2 MiB huge pages free and not promised to a mapping (None: unknown)."""
    fr = _read_int(os.path.join(HP_DIR, "free_hugepages"))
    rs = _read_int(os.path.join(HP_DIR, "resv_hugepages")) or 0
    return None if fr is None else fr - rs


class Reservation:
    """nr_hugepages raised for the run, put back at exit and on signals."""

    def __init__(self):
        self.old = None
        self.hooked = False

    def restore(self):
        if self.old is None:
            return
        try:
            with open(NR_PATH, "w") as f:
                f.write("%d\n" % self.old)
        except OSError:
            pass
        self.old = None

    def _hook(self):
        if self.hooked:
            return
        self.hooked = True
        atexit.register(self.restore)
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            prev = signal.getsignal(sig)

            def handler(s, frm, prev=prev):
                self.restore()
                if callable(prev):
                    prev(s, frm)
                else:
                    sys.exit(128 + s)
            signal.signal(sig, handler)

    def reserve(self, pages):
        """At least PAGES free huge pages: (True, "") or (False, why)."""
        have = huge_free()
        if have is not None and have >= pages:
            return True, ""
        cur = _read_int(NR_PATH)
        if cur is None:
            return False, "no %s (a kernel without hugetlbfs)" % NR_PATH
        if os.geteuid() != 0:
            return False, "not root: cannot raise %s (%d free, %d needed)" % (
                NR_PATH, have or 0, pages)
        self._hook()
        if self.old is None:
            self.old = cur
        try:
            with open(NR_PATH, "w") as f:
                f.write("%d\n" % (cur + pages - max(have or 0, 0)))
        except OSError as e:
            self.restore()
            return False, "writing %s: %s" % (NR_PATH, e)
        have = huge_free() or 0
        if have < pages:
            self.restore()
            return False, "the kernel gave %d of the %d huge pages needed" % (have, pages)
        return True, ""


_res = Reservation()


def _bench_map(h, raw, bench_map, size, rep, huge):
    import importlib
    run = importlib.import_module("__main__")
    outj = os.path.join(h.tmp, "map_huge.json")
    argv = [bench_map, "--size", run.fmt_size(size), "--runs", "1", "--out", outj,
            "--skip-baseline", "--pattern", "seq"] + (["--huge", "on"] if huge else [])
    r = run.run_client(argv, 900, raw=raw)
    js = [x for x in r.json_lines() if x.get("bench") == "memsync_map"]
    if r.rc != 0 or not js:
        h.failed(SC, "bench_map", "--huge on" if huge else "(4 KiB pages)", r)
    want = ("huge",) if huge else ("copy", "zero-copy")
    for x in js:
        if x.get("mode") not in want:
            continue
        ok = bool(x.get("verified")) and x.get("seconds", 0) > 0
        h.add(SC, "memsync", "bytes_per_second", x.get("bytes_per_second"), "B/s", rep, size,
              variant=x["mode"], param="pattern", param_value="seq", res=r, ok=ok,
              cpu_scope="bench_map process (all modes, in-process server)")
    # a mode that did not report at all (its map failed) is a null sample
    for mname in want:
        if not any(x.get("mode") == mname for x in js):
            h.add(SC, "memsync", "bytes_per_second", None, "B/s", rep, size, variant=mname,
                  param="pattern", param_value="seq", res=r, ok=False)


def _raw(h, raw, rawtcp, size, rep):
    import importlib
    run = importlib.import_module("__main__")
    r = run.run_client([rawtcp, "--bytes", run.fmt_size(size), "--runs", "1"], 600, raw=raw)
    js = [x for x in r.json_lines() if x.get("bench") == "rawtcp"]
    ok = r.rc == 0 and bool(js)
    if not ok:
        h.failed(SC, "rawtcp", "stream", r)
    h.add(SC, "raw_tcp", "bytes_per_second", js[0]["bytes_per_second"] if ok else None, "B/s",
          rep, size, variant="prefaulted", param="pattern", param_value="seq", res=r, ok=ok,
          cpu_scope="process (both ends)")


def _fixed_cost(h, raw):
    """Pulls of a 64 KiB and a 64 MiB region from one memsyncd: wall times."""
    srv = h.daemon(["tiny:64K:chunk=64K", "small:64M"])
    try:
        h.fill_region(srv, "tiny", TINY, SC)
        h.fill_region(srv, "small", SMALL, SC)
        for rep in range(max(3, h.reps)):
            for region, size, var in h.order((("tiny", TINY, "fixed_cost"),
                                              ("small", SMALL, "pull_64m")), rep):
                r, js = h.ms_pull(srv.port, region, rep, raw=raw, server=srv)
                ok = js is not None and js.get("bytes") == size
                if not ok:
                    h.failed(SC, "memsync pull", region, r)
                h.add(SC, "memsync", "wall_seconds", r.wall if ok else None, "s", rep, size,
                      variant=var, res=r, ok=ok,
                      cpu_scope="client: memsync CLI (whole process); server: memsyncd")
                if ok:
                    h.add(SC, "memsync", "seconds", js.get("seconds"), "s", rep, size,
                          variant=var, res=r, cpu_scope="client: memsync CLI; server: memsyncd")
    finally:
        srv.stop()


def run(h):
    import importlib
    runmod = importlib.import_module("__main__")
    size = runmod.parse_size(h.cfg["lazy_size"])
    bench_map, rawtcp = h.prog(SC, "bench_map"), h.prog(SC, "rawtcp")
    with h.raw(SC) as raw:
        _fixed_cost(h, raw)
        if not bench_map or not rawtcp:
            return
        huge_ok = runmod.usage_has(bench_map, "--huge")
        if not huge_ok:
            h.note(SC, "bench_map has no --huge: the huge-page scan is not measured")
        # the region in the server, the hugetlbfs mapping, slack
        if not h.mem_ok(SC, 4 * size + GiB, "huge %s" % runmod.fmt_size(size)):
            return
        if huge_ok:
            ok, why = _res.reserve(size // HUGE + 4)
            if not ok:
                huge_ok = False
                h.note(SC, "huge pages not reserved: %s; bench_map --huge on is not run" % why)
        try:
            for rep in range(h.reps):
                jobs = (["huge"] if huge_ok else []) + ["nohuge", "raw"]
                for j in h.order(jobs, rep):
                    if j == "raw":
                        _raw(h, raw, rawtcp, size, rep)
                    else:
                        _bench_map(h, raw, bench_map, size, rep, j == "huge")
        finally:
            _res.restore()


def metrics(h, aggs, entry):
    import importlib
    runmod = importlib.import_module("__main__")
    ls = runmod.parse_size(h.cfg["lazy_size"])
    raw = h.find(aggs, SC, "raw_tcp", "bytes_per_second", "prefaulted", "seq")
    entry("lazy_seq_vs_raw_tcp",
          "sequential scan of a lazily mapped region on 2 MiB hugetlbfs pages (bench_map --huge on: "
          "faults and prefetch map 2 MiB at once) vs one raw TCP stream of the same size into "
          "prefaulted memory (perf/rawtcp), same run",
          h.find(aggs, SC, "memsync", "bytes_per_second", "huge", "seq"), raw,
          "raw_tcp", "B/s", "higher", 0.9, ">= 0.9x a raw TCP stream (issue #13)", SC, size=ls)
    entry("lazy_seq_vs_raw_tcp_nohuge",
          "the same scan on 4 KiB pages (bench_map copy, the default path over TCP)",
          h.find(aggs, SC, "memsync", "bytes_per_second", "copy", "seq"), raw,
          "raw_tcp", "B/s", "higher", 0.7, ">= 0.7x a raw TCP stream (issue #4)", SC, size=ls)
    entry("pull_fixed_cost",
          "wall time of `memsync pull` of a 64 KiB region into /dev/null (process start, "
          "connect, handshake, open, table read, one chunk) vs the same for a 64 MiB region "
          "from the same memsyncd (ratio: the 64 MiB pull takes ratio times the fixed cost)",
          h.find(aggs, SC, "memsync", "wall_seconds", "fixed_cost"),
          h.find(aggs, SC, "memsync", "wall_seconds", "pull_64m"),
          "pull_64m", "s", "lower", None, "information: watch it stay small", SC, size=TINY)
