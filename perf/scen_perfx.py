# SPDX-License-Identifier: Apache-2.0
"""perf/scen_perfx.py - issue #13's measurements of the whole region made
local by the prefetch alone (item 6), of single faults (item 7) and of the
pull at every size (perf/run imports it; standard library only).

Scenarios (perf/run --only prefetch,fault):

  prefetch  bench_map --mode prefetch: ms_map_open, then ms_map_wait until
            every chunk is local, nothing touched (as `memsync map --wait`),
            against perf/rawtcp streams of the same size into prefaulted and
            into fresh memory.
  fault     perf/bench_fault: single 4 KiB touches in chunks not local yet on
            a mapping without prefetch, each timed on its own, against
            perf/rawtcp --mode rr (4 KiB request/response, each timed), both
            with a histogram in power-of-two microsecond buckets.

Metrics (summary.json, the convention of perf/README.md):
  prefetch_vs_raw_tcp, prefetch_vs_raw_tcp_fresh, fault_latency_vs_tcp_rtt
  (with "hist_us" and "peer_hist_us": [[bucket lower bound in us, count]]),
  fault_latency_p99_vs_tcp_rtt_p99 (information), and
  pull_tcp_vs_raw_tcp_<SIZE> for every pull size from 64 MiB up (every size
  in --tiny, whose sizes are smaller) next to the headline pull_tcp_vs_raw_tcp.
"""
import os

SCENARIOS = ["prefetch", "fault"]
HEADLINE = ["prefetch_vs_raw_tcp", "fault_latency_vs_tcp_rtt"]   # report.py's headline

# fault scenario per mode: region size, faults per run, rr round trips
FAULT = {"tiny": ("8M", 64, 2000), "quick": ("64M", 512, 20000), "full": ("256M", 2048, 50000)}

R = {}   # perf/run's globals (run_client, parse_size, fmt_size, usage_has, GiB, MiB)


def install(cls, run_globals):
    """Adds the scenarios to perf/run's Harness class."""
    R.update(run_globals)
    cls.sc_prefetch = sc_prefetch
    cls.sc_fault = sc_fault


def _mode(h):
    return "tiny" if h.args.tiny else "quick" if h.args.quick else "full"


def _hist_add(acc, hist):
    for lo, n in hist or []:
        acc[lo] = acc.get(lo, 0) + n


def _rawtcp(h, sc, rawtcp, size, rep, raw, fresh):
    fs = R["fmt_size"](size)
    argv = [rawtcp, "--bytes", fs, "--runs", "1"] + (["--fresh"] if fresh else [])
    r = R["run_client"](argv, 600, raw=raw)
    js = [x for x in r.json_lines() if x.get("bench") == "rawtcp"]
    ok = r.rc == 0 and bool(js)
    if not ok:
        h.failed(sc, "rawtcp", "fresh" if fresh else "stream", r)
    variant = "fresh" if fresh else "prefaulted"
    h.add(sc, "raw_tcp", "bytes_per_second", js[0]["bytes_per_second"] if ok else None, "B/s",
          rep, size, variant=variant, res=r, ok=ok, cpu_scope="process (both ends)")
    if ok:
        h.add(sc, "raw_tcp", "seconds", js[0]["seconds"], "s", rep, size, variant=variant, res=r,
              cpu_scope="process (both ends)")


def sc_prefetch(self):
    sc = "prefetch"
    size = R["parse_size"](self.cfg["lazy_size"])
    bench_map, rawtcp = self.prog(sc, "bench_map"), self.prog(sc, "rawtcp")
    if not bench_map:
        return
    if not R["usage_has"](bench_map, "--mode"):
        self.note(sc, "bench_map has no --mode prefetch yet: the prefetch is not measured")
        return
    if not self.mem_ok(sc, 3 * size + R["GiB"], "prefetch %s" % R["fmt_size"](size)):
        return
    outj = os.path.join(self.tmp, "prefetch.json")
    with self.raw(sc) as raw:
        for rep in range(self.reps):
            jobs = ["memsync"] + (["raw", "raw_fresh"] if rawtcp else [])
            for j in self.order(jobs, rep):
                if j != "memsync":
                    _rawtcp(self, sc, rawtcp, size, rep, raw, j == "raw_fresh")
                    continue
                r = R["run_client"]([bench_map, "--size", R["fmt_size"](size), "--runs", "1",
                                     "--mode", "prefetch", "--out", outj], 900, raw=raw)
                js = [x for x in r.json_lines()
                      if x.get("bench") == "memsync_map" and x.get("mode") == "prefetch"]
                ok = (r.rc == 0 and bool(js) and bool(js[0].get("verified")) and
                      js[0].get("seconds", 0) > 0)
                if not ok:
                    self.failed(sc, "bench_map --mode prefetch", "", r)
                scope = "bench_map process (in-process server)"
                self.add(sc, "memsync", "bytes_per_second", js[0]["bytes_per_second"] if ok else None,
                         "B/s", rep, size, variant="prefetch", res=r, ok=ok, cpu_scope=scope)
                self.add(sc, "memsync", "seconds", js[0]["seconds"] if ok else None, "s", rep, size,
                         variant="prefetch", res=r, ok=ok, cpu_scope=scope)


def sc_fault(self):
    sc = "fault"
    fsize, nfault, rr_ops = FAULT[_mode(self)]
    size = R["parse_size"](fsize)
    bench_fault, rawtcp = self.prog(sc, "bench_fault"), self.prog(sc, "rawtcp")
    self.perfx_hist = {"memsync": {}, "tcp_rr_4k": {}}
    if not self.mem_ok(sc, 2 * size + R["GiB"], "fault %s" % fsize):
        return
    with self.raw(sc) as raw:
        for rep in range(self.reps):
            jobs = (["memsync"] if bench_fault else []) + (["rr"] if rawtcp else [])
            for j in self.order(jobs, rep):
                if j == "memsync":
                    argv = [bench_fault, "--size", fsize, "--samples", str(nfault), "--runs", "1",
                            "--seed", str(rep + 1)]
                    bench, system, what = "memsync_fault", "memsync", "bench_fault"
                    scope = "bench_fault process (in-process server)"
                else:
                    argv = [rawtcp, "--mode", "rr", "--ops", str(rr_ops)]
                    bench, system, what = "rawtcp_rr", "tcp_rr_4k", "rawtcp --mode rr"
                    scope = "process (both ends)"
                r = R["run_client"](argv, 600, raw=raw)
                js = [x for x in r.json_lines() if x.get("bench") == bench]
                ok = r.rc == 0 and bool(js) and js[0].get("ok", True) and "median_us" in js[0]
                if not ok:
                    self.failed(sc, what, "", r)
                x = js[0] if ok else {}
                for metric, key in (("latency_median", "median_us"), ("latency_p99", "p99_us"),
                                    ("latency_mean", "mean_us")):
                    self.add(sc, system, metric, x[key] / 1e6 if ok else None, "s", rep, 4096,
                             variant="4 KiB", res=r, ok=ok, cpu_scope=scope)
                if ok:
                    _hist_add(self.perfx_hist[system], x.get("hist_us"))


def metrics(self, aggs, M, entry):
    """Appends issue #13's per-size pull and items 6-7 metrics to M."""
    cfg = self.cfg
    parse_size, fmt_size, MiB = R["parse_size"], R["fmt_size"], R["MiB"]
    tiny = _mode(self) == "tiny"
    for s in cfg["pull_sizes"]:
        size = parse_size(s)
        if size < 64 * MiB and not tiny:
            continue
        entry("pull_tcp_vs_raw_tcp_%s" % fmt_size(size),
              "whole-region pull of %s over TCP on 127.0.0.1 (memsync CLI from memsyncd, verified, "
              "into /dev/null) vs one raw TCP stream (perf/rawtcp; at most 1 GiB)" % fmt_size(size),
              self.find(aggs, "pull", "memsync", "bytes_per_second", "verified", size=size),
              self.find(aggs, "pull", "raw_tcp", "bytes_per_second", size=size),
              "raw_tcp", "B/s", "higher", 0.95, ">= 0.95x raw TCP", "pull", size=size)

    ls = parse_size(cfg["lazy_size"])
    mine = self.find(aggs, "prefetch", "memsync", "bytes_per_second", "prefetch", size=ls)
    entry("prefetch_vs_raw_tcp",
          "whole region local with the application idle: bench_map --mode prefetch (ms_map_open, "
          "then ms_map_wait until every chunk is local, nothing touched; the default path over TCP) "
          "vs a raw TCP stream of the same size into prefaulted memory",
          mine, self.find(aggs, "prefetch", "raw_tcp", "bytes_per_second", "prefaulted", size=ls),
          "raw_tcp", "B/s", "higher", 0.9, ">= 0.9x raw TCP", "prefetch", size=ls)
    entry("prefetch_vs_raw_tcp_fresh",
          "the same prefetch vs a raw TCP stream into fresh memory (rawtcp --fresh: it populates "
          "pages, as a lazy mapping must)",
          mine, self.find(aggs, "prefetch", "raw_tcp", "bytes_per_second", "fresh", size=ls),
          "raw_tcp_fresh", "B/s", "higher", None, "information", "prefetch", size=ls)

    e = entry("fault_latency_vs_tcp_rtt",
              "median latency of one fault on an open lazy mapping without prefetch (4 KiB touch in "
              "a chunk not local yet: the chunk pulled, verified and mapped; perf/bench_fault) vs "
              "the median 4 KiB TCP request/response (perf/rawtcp --mode rr), same run",
              self.find(aggs, "fault", "memsync", "latency_median"),
              self.find(aggs, "fault", "tcp_rr_4k", "latency_median"),
              "tcp_rr_4k", "s", "lower", 0.5, "<= 2x the TCP round trip (ratio >= 0.5)", "fault")
    hist = getattr(self, "perfx_hist", None) or {}
    e["hist_us"] = sorted([lo, n] for lo, n in hist.get("memsync", {}).items())
    e["peer_hist_us"] = sorted([lo, n] for lo, n in hist.get("tcp_rr_4k", {}).items())
    e["hist_text"] = ("power-of-two microsecond buckets: [lower bound, count]; a bucket holds "
                      "[lo, 2*lo) us, the one at 0 [0, 1) us")
    entry("fault_latency_p99_vs_tcp_rtt_p99",
          "the 99th percentile of the same faults vs that of the same round trips",
          self.find(aggs, "fault", "memsync", "latency_p99"),
          self.find(aggs, "fault", "tcp_rr_4k", "latency_p99"),
          "tcp_rr_4k", "s", "lower", None, "information", "fault")


# ------------------------------------------------------------ report.py
def _hist_series(h):
    return {int(lo): n for lo, n in (h or [])}


def figures(summary, plotter, figs, metric, ratio_phrase, fmt_val, why):
    """The fault latency histogram and the prefetch figure (perf/report.py)."""
    m = metric(summary, "fault_latency_vs_tcp_rtt")
    t = "Single-fault latency vs 4 KiB TCP request/response (histogram)"
    hm = _hist_series(m.get("hist_us") if m else None)
    hp = _hist_series(m.get("peer_hist_us") if m else None)
    if hm or hp:
        have = set(hm) | set(hp)
        bounds = [0] + [1 << i for i in range(23)]
        los = [lo for lo in bounds if min(have) <= lo <= max(have)]
        cats = ["<1" if lo == 0 else "%dk" % (lo // 1024) if lo >= 1024 else str(lo) for lo in los]
        tm, tp = sum(hm.values()) or 1, sum(hp.values()) or 1
        series = [("memsync fault (4 KiB touch, chunk pulled + verified + mapped)",
                   [(100.0 * hm.get(lo, 0) / tm, None, None) for lo in los]),
                  ("TCP 4 KiB request/response (perf/rawtcp --mode rr)",
                   [(100.0 * hp.get(lo, 0) / tp, None, None) for lo in los])]
        plotter.bars("fault_latency", t, "share of the samples, % (linear)", cats, series,
                     xlabel="latency, microseconds: buckets [lo, 2 lo), lo shown (further left "
                            "is better)")
        if m.get("value") is not None and m.get("peer_value") is not None:
            r = ("Median fault %s against a median 4 KiB TCP round trip of %s: %s. A fault pulls the "
                 "whole chunk, verifies it with XXH3-128 and maps it; the round trip moves 4 KiB." %
                 (fmt_val(m["value"], "s"), fmt_val(m["peer_value"], "s"), ratio_phrase(m)))
        else:
            r = "Partly measured: %s" % m.get("note", "")
    else:
        plotter.empty("fault_latency", t, (m or {}).get("note") or why("fault"))
        r = "Not measured: " + ((m or {}).get("note") or why("fault"))
    figs.append(("fault_latency", t, r))

    p = metric(summary, "prefetch_vs_raw_tcp")
    pf = metric(summary, "prefetch_vs_raw_tcp_fresh")
    t = "Whole region local with the application idle (prefetch only) vs raw TCP"
    cats, vals = [], []
    for label, e, key in (("memsync prefetch (bench_map --mode prefetch)", p, "value"),
                          ("raw TCP stream, prefaulted", p, "peer_value"),
                          ("raw TCP stream, fresh memory", pf, "peer_value")):
        if e and e.get(key) is not None:
            lo, hi = ("value_min", "value_max") if key == "value" else ("peer_min", "peer_max")
            cats.append(label)
            vals.append((e[key] / 1e9, (e.get(lo) or e[key]) / 1e9, (e.get(hi) or e[key]) / 1e9))
    if cats:
        plotter.bars("prefetch", t, "throughput, GB/s (higher is better)", cats,
                     [("median, min-max", vals)])
        r = ("memsync's prefetch alone (nothing touched) made the whole region local at %s; a raw "
             "TCP stream of the same size moved %s into prefaulted memory: %s." %
             (fmt_val(p.get("value"), "B/s"), fmt_val(p.get("peer_value"), "B/s"), ratio_phrase(p)))
    else:
        plotter.empty("prefetch", t, (p or {}).get("note") or why("prefetch"))
        r = "Not measured: " + ((p or {}).get("note") or why("prefetch"))
    figs.append(("prefetch", t, r))
