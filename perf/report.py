#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""perf/report.py - plots (gnuplot, PNG and SVG) and the report (Markdown
and HTML) of a perf/run result directory, from its summary.json alone.

    python3 perf/report.py OUTDIR        # reads OUTDIR/summary.json, writes
                                         # OUTDIR/plots/*, report.md, report.html

perf/run calls generate(OUTDIR) at the end of a run; the harness's test
calls it on a small hand-made summary too.  Standard library only.
"""
import html
import json
import os
import shutil
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.realpath(__file__)))
import scen_perfx  # noqa: E402  (perf/scen_perfx.py: issue #13's fault and prefetch figures)

HEADLINE = [
    "pull_tcp_vs_raw_tcp", "ttfb_lazy_vs_tcp_rtt", "lazy_seq_vs_uffd_baseline",
    "push_1pct_vs_delta_sync", "push_1pct_vs_rsync", "push_1pct_bytes_vs_rsync",
    "push_1pct_atomic_vs_direct", "atomic_vs_direct_push", "atomic_vs_direct_push_1pct", "atomic_vs_direct_push_held_lease",
    "server_cpu_s_per_gib_atomic_vs_direct",
    "rdma_pull_vs_ib_read_bw", "rdma_push_vs_ib_write_bw", "rdma_server_cpu_vs_tcp",
    "rdma_atomic_vs_direct_push", "migration_downtime_vs_stop_and_copy",
    "migration_hybrid_downtime_ms", "migration_bytes_vs_region",
]
HEADLINE += scen_perfx.HEADLINE   # issue 13

MiB, GiB = 1 << 20, 1 << 30


# ----------------------------------------------------------------- format
def fmt_size(n):
    try:
        n = int(n)
    except (TypeError, ValueError):
        return str(n)
    for unit, v in (("GiB", GiB), ("MiB", MiB), ("KiB", 1024)):
        if n >= v and n % v == 0:
            return "%d %s" % (n // v, unit)
    return "%d B" % n


def fmt_val(v, unit):
    if v is None:
        return "-"
    if unit == "B/s":
        return "%.3g GB/s" % (v / 1e9) if v >= 1e9 else "%.3g MB/s" % (v / 1e6)
    if unit == "s":
        if v < 1e-3:
            return "%.3g µs" % (v * 1e6)
        if v < 1:
            return "%.3g ms" % (v * 1e3)
        return "%.3g s" % v
    if unit == "B":
        return "%.3g MiB" % (v / MiB) if v >= MiB else "%d B" % v
    return "%.4g %s" % (v, unit)


def fmt_ratio(r):
    return "-" if r is None else "%.2fx" % r


def spread(e, pre="value"):
    lo, hi = e.get(pre + "_min"), e.get(pre + "_max")
    if lo is None or hi is None:
        return ""
    return "%s-%s" % (fmt_val(lo, e["unit"]), fmt_val(hi, e["unit"]))


def goal_cell(e):
    if not e.get("goal_text"):
        return "-"
    if e.get("goal_met") is None:
        return e["goal_text"]
    return "%s: %s" % (e["goal_text"], "**met**" if e["goal_met"] else "not met")


# ----------------------------------------------------------- RDMA results
def rdma_metrics_from_json(path):
    """Comparison entries from perf/bench-rdma's rdma-vs-perftest.json."""
    with open(path) as f:
        d = json.load(f)
    src = "soft-RoCE in a qemu TCG guest (perf/bench-rdma, %s, commit %s; %s)" % (
        d.get("date", "?"), d.get("source_commit", "?"), os.path.basename(path))
    out = []

    def pick(section, path_name="loop"):
        best = None
        for k, v in (d.get(section) or {}).items():
            if v.get("path", k.split("/")[0]) != path_name:
                continue
            if best is None or v.get("size", 0) > best.get("size", 0):
                best = v
        return best

    def mk(name, desc, mine, peer, peer_name, unit, better, goal, goal_text, note):
        e = {"name": name, "description": desc, "unit": unit, "peer": peer_name, "better": better,
             "goal": goal, "goal_text": goal_text, "goal_met": None, "ratio": None,
             "value": None, "peer_value": None, "source": src}
        if mine:
            e["value"] = mine.get("median_bytes_per_second", mine.get("median"))
            s = mine.get("samples_bytes_per_second")
            if s:
                e["value_min"], e["value_max"], e["n"] = min(s), max(s), len(s)
        if peer:
            e["peer_value"] = peer.get("median_bytes_per_second", peer.get("median"))
            s = peer.get("samples_bytes_per_second")
            if s:
                e["peer_min"], e["peer_max"], e["peer_n"] = min(s), max(s), len(s)
        if e["value"] is not None and e["peer_value"] is not None:
            v, p = e["value"], e["peer_value"]
            if better == "higher" and p:
                e["ratio"] = v / p
            elif better == "lower" and v:
                e["ratio"] = p / v
            if goal is not None and e["ratio"] is not None:
                e["goal_met"] = e["ratio"] >= goal
            e["note"] = note + ("; " if note else "") + src
        else:
            e["value"] = None
            e["note"] = "not measured: %s has no such result" % os.path.basename(path)
        out.append(e)

    p = pick("pull")
    mk("rdma_pull_vs_ib_read_bw",
       "verified pull over RDMA (rxe0, %s I/O) vs ib_read_bw moving the same bytes" %
       fmt_size(p["size"]) if p else "verified pull over RDMA vs ib_read_bw",
       p and p.get("memsync_verify"), p and p.get("ib_read_bw"), "ib_read_bw", "B/s", "higher",
       0.9, ">= 0.9x ib_read_bw", "")
    if p and p.get("memsync_no_verify"):
        mk("rdma_pull_noverify_vs_ib_read_bw", "the same pull with --no-verify (the transport alone)",
           p.get("memsync_no_verify"), p.get("ib_read_bw"), "ib_read_bw", "B/s", "higher", None, "", "")
    q = pick("push")
    mk("rdma_push_vs_ib_write_bw",
       "push --all over RDMA (rxe0, %s I/O: WRITEs + commit) vs ib_write_bw" % fmt_size(q["size"])
       if q else "push --all over RDMA vs ib_write_bw",
       q and q.get("memsync_push_all"), q and q.get("ib_write_bw"), "ib_write_bw", "B/s", "higher",
       None, "", "")
    lat = d.get("ib_read_lat") or d.get("latency")
    if isinstance(lat, dict) and lat.get("memsync") and lat.get("ib_read_lat"):
        mk("rdma_read_lat_vs_ib_read_lat", "one small read over RDMA vs ib_read_lat",
           lat["memsync"], lat["ib_read_lat"], "ib_read_lat", "s", "lower", None, "", "")
    else:
        out.append({"name": "rdma_read_lat_vs_ib_read_lat",
                    "description": "one small read over RDMA vs ib_read_lat", "unit": "s",
                    "peer": "ib_read_lat", "better": "lower", "goal": None, "goal_text": "",
                    "goal_met": None, "ratio": None, "value": None, "peer_value": None,
                    "note": "not measured: perf/bench-rdma does not run ib_read_lat (yet)"})
    cm = (d.get("commit") or {}).get("rdma") or {}
    for dk, tag in (("all", ""), ("0.01", "_1pct")):
        mk("rdma_atomic_vs_direct_push" + tag,
           "push of %s over RDMA (rxe0) into a commit=atomic region vs a commit=direct one "
           "(perf/bench_push, %s region, opened for each push)" %
           ("every chunk" if dk == "all" else "1% of the pages",
            fmt_size((d.get("commit") or {}).get("region_bytes", 0))),
           (cm.get("atomic") or {}).get(dk), (cm.get("direct") or {}).get(dk), "commit_direct",
           "B/s", "higher", None, "", "")
    cpu = d.get("cpu") or {}
    r, t = cpu.get("rdma") or {}, cpu.get("tcp") or {}
    e = {"name": "rdma_server_cpu_vs_tcp",
         "description": "memsyncd's CPU (utime+stime) while a client pulls %s verified: over RDMA "
                        "vs over TCP, same guest" % fmt_size(d.get("cpu_region_bytes", 0)),
         "unit": "s", "peer": "memsyncd_over_tcp", "better": "lower", "goal": None,
         "goal_text": "server CPU ~ 0 (one-sided RDMA)", "goal_met": None, "ratio": None,
         "value": r.get("median_server_cpu_seconds"), "peer_value": t.get("median_server_cpu_seconds"),
         "source": src}
    if r.get("server_cpu_seconds"):
        e["value_min"], e["value_max"] = min(r["server_cpu_seconds"]), max(r["server_cpu_seconds"])
    if t.get("server_cpu_seconds"):
        e["peer_min"], e["peer_max"] = min(t["server_cpu_seconds"]), max(t["server_cpu_seconds"])
    tick = 1.0 / cpu.get("clock_ticks_per_second", 100)
    if e["value"] is not None and e["peer_value"] is not None:
        e["ratio"] = e["peer_value"] / max(e["value"], tick)
        e["note"] = ("resolution one clock tick (%g s): a value of 0 counts as one tick; client CPU "
                     "rdma %s s, tcp %s s; %s" % (tick, r.get("median_client_cpu_seconds"),
                                                  t.get("median_client_cpu_seconds"), src))
    else:
        e["value"] = None
        e["note"] = "not measured: no server CPU figures in %s" % os.path.basename(path)
    out.append(e)
    return out


def rdma_tables(path):
    try:
        with open(path) as f:
            d = json.load(f)
    except (OSError, ValueError):
        return None
    rows = []
    for sec, mine, peer in (("pull", "memsync_verify", "ib_read_bw"),
                            ("push", "memsync_push_all", "ib_write_bw")):
        for k, v in sorted((d.get(sec) or {}).items(), key=lambda kv: (kv[1].get("path", ""),
                                                                       kv[1].get("size", 0))):
            a, b = v.get(mine) or {}, v.get(peer) or {}
            rows.append((sec, v.get("path", k), v.get("size"), a.get("median_bytes_per_second"),
                         b.get("median_bytes_per_second"), a.get("median_server_cpu_seconds"),
                         a.get("median_client_cpu_seconds")))
    return d, rows


# ------------------------------------------------------------- gnuplot
class Plotter:
    def __init__(self, plotdir):
        self.dir = plotdir
        os.makedirs(plotdir, exist_ok=True)
        self.gnuplot = shutil.which("gnuplot")
        self.png_term = "png"
        if self.gnuplot:
            try:
                t = subprocess.run([self.gnuplot, "-e", "set terminal"], capture_output=True,
                                   text=True, timeout=20)
                if "pngcairo" in (t.stdout + t.stderr):
                    self.png_term = "pngcairo"
            except (OSError, subprocess.SubprocessError):
                pass
        self.errors = []

    def _run(self, name, body):
        if not self.gnuplot:
            self.errors.append("%s: gnuplot is not installed" % name)
            return False
        ok = True
        for term, ext in (("%s size 900,560 noenhanced font ',11'" % self.png_term
                           if self.png_term == "pngcairo" else "png size 900,560 noenhanced", "png"),
                          ("svg size 900,560 dynamic noenhanced font 'sans,12'", "svg")):
            gp = "set terminal %s\nset output '%s'\n" % (term, os.path.join(self.dir, name + "." + ext))
            gp += body + "\nunset output\n"
            path = os.path.join(self.dir, name + "." + ext + ".gp")
            with open(path, "w") as f:
                f.write(gp)
            r = subprocess.run([self.gnuplot, path], capture_output=True, text=True, timeout=60)
            if r.returncode != 0 or not os.path.getsize(os.path.join(self.dir, name + "." + ext)):
                self.errors.append("%s.%s: %s" % (name, ext, r.stderr.strip()[-300:]))
                ok = False
        return ok

    @staticmethod
    def _q(s):
        return "'" + str(s).replace("'", "") + "'"

    def empty(self, name, title, why):
        body = ("set title %s\nunset xtics\nunset ytics\nunset border\nset xrange [0:1]\n"
                "set yrange [0:1]\nset label 1 %s at 0.5,0.5 center\nplot -1 notitle\n" %
                (self._q(title), self._q("not measured: " + why[:120])))
        return self._run(name, body)

    def lines(self, name, title, xlabel, ylabel, series, logx=False, logy=False, xtics=None):
        """SERIES: [(label, [(x, y, ymin, ymax), ...]), ...]; y None = missing."""
        series = [(l, [p for p in pts if p[1] is not None]) for l, pts in series]
        series = [(l, pts) for l, pts in series if pts]
        if not series:
            return self.empty(name, title, "no data for this figure")
        dat = os.path.join(self.dir, name + ".dat")
        with open(dat, "w") as f:
            for label, pts in series:
                f.write("# %s\n" % label)
                for x, y, lo, hi in sorted(pts):
                    f.write("%r %r %r %r\n" % (x, y, lo if lo is not None else y,
                                               hi if hi is not None else y))
                f.write("\n\n")
        # the key below the plot, off the data; points off the frame
        body = ["set title %s" % self._q(title), "set xlabel %s" % self._q(xlabel),
                "set ylabel %s" % self._q(ylabel), "set grid", "set key below",
                "set datafile missing '?'", "set offsets graph 0.03, graph 0.03, 0, 0"]
        if logx:
            body.append("set logscale x 2" if logx == 2 else "set logscale x")
        if logy:
            body.append("set logscale y")
        else:
            body.append("set yrange [0:*]")   # a linear axis starts at zero
        if xtics:
            body.append("set xtics (%s)" % ", ".join("%s %r" % (self._q(l), x) for l, x in xtics))
        plots = []
        for i, (label, _pts) in enumerate(series):
            plots.append("%s index %d using 1:2:3:4 with yerrorlines lw 2 pt 7 title %s" %
                         (self._q(dat), i, self._q(label)))
        body.append("plot " + ", \\\n  ".join(plots))
        return self._run(name, "\n".join(body))

    def bars(self, name, title, ylabel, categories, series, logy=False, xlabel=None):
        """Clustered bars: SERIES [(label, [(y, ymin, ymax) or None per category])].
        On a log axis (logy) points with error bars instead: a bar's length
        means nothing there."""
        if not categories or not any(v for _l, vals in series for v in vals if v):
            return self.empty(name, title, "no data for this figure")
        dat = os.path.join(self.dir, name + ".dat")
        with open(dat, "w") as f:
            f.write("category " + " ".join('"%s" lo hi' % l for l, _ in series) + "\n")
            for i, c in enumerate(categories):
                row = ['"%s"' % c.replace('"', "")]
                for _l, vals in series:
                    v = vals[i]
                    if v and v[0] is not None:
                        row += ["%r" % v[0], "%r" % (v[1] if v[1] is not None else v[0]),
                                "%r" % (v[2] if v[2] is not None else v[0])]
                    else:
                        row += ["?", "?", "?"]
                f.write(" ".join(row) + "\n")
        # the key below the plot (never on the data), the rotated category
        # names inside the image (right margin for the last one)
        body = ["set title %s" % self._q(title), "set ylabel %s" % self._q(ylabel),
                "set grid ytics", "set key below", "set datafile missing '?'",
                "set xtics rotate by -12 left font ',9'", "set rmargin 14",
                "set yrange [%s:*]" % ("*" if logy else "0"), "set key autotitle columnhead"]
        if xlabel:
            body.append("set xlabel %s" % self._q(xlabel))
        plots = []
        if logy:
            n = len(series)
            body += ["set logscale y", "set xrange [-0.6:%g]" % (len(categories) - 0.4),
                     "set offsets 0, 0, graph 0.08, graph 0.08"]
            for i in range(n):
                c, dx = 2 + 3 * i, (i - (n - 1) / 2.0) * 0.8 / max(n, 1)
                plots.append("%s using ($0%+g):%d:%d:%d%s with yerrorbars lw 2 pt 7 ps 1.5 "
                             "title columnhead(%d)" % (self._q(dat) if i == 0 else "''", dx, c, c + 1,
                                                       c + 2, ":xtic(1)" if i == 0 else "", c))
        else:
            body += ["set style data histogram", "set style histogram errorbars gap 1 lw 1",
                     "set style fill solid 0.8 border -1", "set boxwidth 0.9"]
            for i in range(len(series)):
                c = 2 + 3 * i
                plots.append("%s using %d:%d:%d:xtic(1) title columnhead(%d)" %
                             (self._q(dat) if i == 0 else "''", c, c + 1, c + 2, c))
        body.append("plot " + ", ".join(plots))
        return self._run(name, "\n".join(body))


# ------------------------------------------------------------ the figures
def agg_index(summary):
    return summary.get("aggregates") or []


def sel(aggs, **kw):
    res = []
    for a in aggs:
        ok = True
        for k, v in kw.items():
            if k == "variant_prefix":
                ok = ok and str(a.get("variant", "")).startswith(v)
            elif str(a.get(k)) != str(v):
                ok = False
        if ok and a.get("median") is not None:
            res.append(a)
    return res


def one(aggs, **kw):
    r = sel(aggs, **kw)
    return r[0] if r else None


def pts(aggs, xkey, scale=1.0, xscale=1.0, **kw):
    return [(float(a[xkey]) * xscale, a["median"] * scale,
             a["min"] * scale if a["min"] is not None else None,
             a["max"] * scale if a["max"] is not None else None) for a in sel(aggs, **kw)]


def triple(a, scale=1.0):
    return (a["median"] * scale, a["min"] * scale, a["max"] * scale) if a else None


def metric(summary, name):
    for m in summary.get("metrics", []):
        if m.get("name") == name:
            return m
    return None


def ratio_phrase(m):
    if not m or m.get("ratio") is None:
        return "not measured (%s)" % (m.get("note", "no result") if m else "no entry")
    s = "%.2fx" % m["ratio"]
    if m.get("goal_text"):
        s += " (goal %s: %s)" % (m["goal_text"], "met" if m.get("goal_met") else "not met")
    return s


def figures(summary, plotter):
    """Draws every figure; returns [(name, title, reading)]."""
    aggs = agg_index(summary)
    notes = summary.get("notes") or {}
    figs = []

    def why(sc):
        return "; ".join(notes.get(sc, [])) or "no data"

    # 1. pull vs size
    ms = pts(aggs, "size", 1e-9, 1.0 / MiB, scenario="pull", system="memsync", variant="verified",
             metric="bytes_per_second")
    nv = pts(aggs, "size", 1e-9, 1.0 / MiB, scenario="pull", system="memsync", variant="no-verify",
             metric="bytes_per_second")
    raw = pts(aggs, "size", 1e-9, 1.0 / MiB, scenario="pull", system="raw_tcp",
              metric="bytes_per_second")
    t = "Whole-region pull over TCP (127.0.0.1) vs one raw TCP stream"
    plotter.lines("pull_rate", t, "region size, MiB (log scale)",
                  "throughput, GB/s (median, min-max; higher is better)",
                  [("memsync pull, verified", ms), ("memsync pull, --no-verify", nv),
                   ("raw TCP stream (perf/rawtcp)", raw)], logx=2)
    mt = pts(aggs, "size", 1.0, 1.0 / MiB, scenario="pull", system="memsync", variant="verified",
             metric="seconds")
    rt = pts(aggs, "size", 1.0, 1.0 / MiB, scenario="pull", system="raw_tcp", metric="seconds")
    plotter.lines("pull_time", "Pull time vs region size (log-log: slope 1 = linear cost)",
                  "region size, MiB (log scale)", "seconds (log scale; lower is better)",
                  [("memsync pull, verified", mt),
                                                   ("raw TCP stream", rt)], logx=2, logy=True)
    m = metric(summary, "pull_tcp_vs_raw_tcp")
    if ms:
        big, small = max(mt) if mt else None, min(mt) if mt else None
        r = ("memsync's verified pull moved %.2f GB/s at the largest size (%s), against %s for one raw "
             "TCP stream: %s. " % (max(ms)[1], fmt_size(max(ms)[0] * MiB),
                                   "%.2f GB/s" % max(raw)[1] if raw else "no figure",
                                   ratio_phrase(m)))
        if big and small and big[0] > small[0]:
            r += ("From %s to %s the pull time grew %.1fx for %.0fx the size (linear cost = the same "
                  "factor). " % (fmt_size(small[0] * MiB), fmt_size(big[0] * MiB),
                                 big[1] / small[1], big[0] / small[0]))
        if nv:
            r += "Without verification: %.2f GB/s (XXH3-128 of every chunk is the difference)." % max(nv)[1]
    else:
        r = "Not measured: " + why("pull")
    figs.append(("pull_rate", t, r))
    figs.append(("pull_time", "Pull time vs region size",
                 "The same runs as seconds: a straight line of slope 1 on the log-log axes means the "
                 "cost grows linearly with the size." if mt else "Not measured: " + why("pull")))

    # 2. time to first byte
    cats, vals = [], []
    for label, a in (("memsync lazy map (zero-copy)", one(aggs, scenario="lazy", system="memsync",
                                                          variant="zero-copy", param_value="seq",
                                                          metric="ttfb_seconds")),
                     ("memsync lazy map (copy)", one(aggs, scenario="lazy", system="memsync",
                                                     variant="copy", param_value="seq",
                                                     metric="ttfb_seconds")),
                     ("uffd baseline", one(aggs, scenario="lazy", system="uffd_baseline",
                                           param_value="seq", metric="ttfb_seconds")),
                     ("memsync pull (whole region)", one(aggs, scenario="lazy", system="memsync",
                                                         variant="pull", param_value="seq",
                                                         metric="ttfb_seconds")),
                     ("TCP 4 KiB request/response", one(aggs, scenario="ceilings", system="tcp_rr_4k",
                                                        metric="seconds_per_op"))):
        if a:
            cats.append(label)
            vals.append(triple(a, 1e6))
    t = "Time to first byte (µs, log scale)"
    plotter.bars("ttfb", t, "microseconds (median, min-max, log scale; lower is better)", cats,
                 [("time to first byte", vals)], logy=True)
    m = metric(summary, "ttfb_lazy_vs_tcp_rtt")
    if m and m.get("value") is not None and m.get("peer_value"):
        r = ("The first byte of a lazily mapped region is readable %s after the call starts (connect, "
             "open, mapping, first fault): %.0f 4 KiB TCP round trips of %s each." %
             (fmt_val(m["value"], "s"), m["value"] / m["peer_value"], fmt_val(m["peer_value"], "s")))
    elif cats:
        r = "Partly measured: %s" % (m.get("note") if m else why("lazy"))
    else:
        r = "Not measured: " + why("lazy")
    figs.append(("ttfb", t, r))

    # 3. lazy access
    cats = ["seq", "random"]
    series = []
    for label, kw in (("memsync zero-copy", dict(system="memsync", variant="zero-copy")),
                      ("memsync copy", dict(system="memsync", variant="copy")),
                      ("memsync zero-copy, faults only", dict(system="memsync",
                                                              variant="zero-copy-faults")),
                      ("memsync pull then scan", dict(system="memsync", variant="pull")),
                      ("uffd baseline (4 KiB/fault)", dict(system="uffd_baseline"))):
        vals = [triple(one(aggs, scenario="lazy", metric="bytes_per_second", param_value=p, **kw), 1e-9)
                for p in cats]
        if any(vals):
            series.append((label, vals))
    t = "Lazy access: scan of a lazily mapped region"
    plotter.bars("lazy", t, "throughput, GB/s (median, min-max; higher is better)",
                 ["sequential", "random"], series)
    if series:
        r = "Sequential: %s. Random: %s." % (ratio_phrase(metric(summary, "lazy_seq_vs_uffd_baseline")),
                                             ratio_phrase(metric(summary, "lazy_random_vs_uffd_baseline")))
        r += (" The baseline serves one 4 KiB page per fault, one fault at a time, so it pays a round "
              "trip per page; memsync moves whole chunks and prefetches in the background.")
    else:
        r = "Not measured: " + why("lazy")
    figs.append(("lazy", t, r))

    # 4. push
    systems = [("memsync tracked sync", "memsync"), ("memsync untracked push (ms_push)",
                                                     "memsync_delta_push"),
               ("delta sync CRC32 (thesis)", "delta_sync_crc32"), ("delta sync XXH3", "delta_sync_xxh3"),
               ("rsync (daemon, 127.0.0.1)", "rsync")]
    t = "Push of randomly written pages: time"
    plotter.lines("push_time", t, "pages written, % (log scale)",
                  "milliseconds (median, min-max, log scale; lower is better)",
                  [(l, pts(aggs, "param_value", 1e3, 100.0, scenario="push", system=s, metric="seconds"))
                   for l, s in systems], logx=True, logy=True)
    t2 = "Push of randomly written pages: bytes sent"
    plotter.lines("push_bytes", t2, "pages written, % (log scale)",
                  "MiB sent (log scale; lower is better)",
                  [(l, pts(aggs, "param_value", 1.0 / MiB, 100.0, scenario="push", system=s,
                           metric="bytes_sent")) for l, s in systems], logx=True, logy=True)
    if sel(aggs, scenario="push"):
        r = ("At 1%% of the pages: memsync vs delta sync (CRC32) %s; vs rsync %s; vs memsync's own "
             "untracked push %s." % (ratio_phrase(metric(summary, "push_1pct_vs_delta_sync")),
                                     ratio_phrase(metric(summary, "push_1pct_vs_rsync")),
                                     ratio_phrase(metric(summary, "push_1pct_vs_memsync_delta_push"))))
        r2 = "Bytes sent at 1%%: %s." % ratio_phrase(metric(summary, "push_1pct_bytes_vs_rsync"))
        b = metric(summary, "push_1pct_bytes_vs_rsync")
        if b and b.get("value") and b.get("peer_value"):
            r2 += (" memsync sends the written pages (%s: the payload, without frame headers), rsync "
                   "literal blocks of its own size plus checksums (%s)." %
                   (fmt_val(b["value"], "B"), fmt_val(b["peer_value"], "B")))
    else:
        r = r2 = "Not measured: " + why("push")
    figs.append(("push_time", t, r))
    figs.append(("push_bytes", t2, r2))

    # 5. sweeps
    cp = pts(aggs, "param_value", 1e-9, 1.0 / 1024, scenario="sweep_chunk", system="memsync",
             metric="bytes_per_second")
    t = "Pull rate vs chunk size"
    plotter.lines("sweep_chunk", t, "chunk size, KiB (log scale)",
                  "throughput, GB/s (higher is better)", [("memsync pull, verified", cp)], logx=2)
    if cp:
        best, worst = max(cp, key=lambda p: p[1]), min(cp, key=lambda p: p[1])
        r = ("Fastest with %g KiB chunks (%.2f GB/s), slowest with %g KiB (%.2f GB/s): smaller chunks "
             "mean more requests and hashes per byte." % (best[0], best[1], worst[0], worst[1]))
    else:
        r = "Not measured: " + why("sweep_chunk")
    figs.append(("sweep_chunk", t, r))

    pc = []
    for label, s in (("memsync tracked sync", "memsync"), ("delta sync CRC32", "delta_sync_crc32")):
        series = []
        for a in sel(aggs, scenario="sweep_chunk_push", system=s, metric="seconds"):
            if abs(float(a["param_value"]) - 0.01) < 1e-9:
                c = a["variant"].split("chunk ")[-1].split(",")[0].strip()
                try:
                    kib = _size_kib(c)
                except ValueError:
                    continue
                series.append((kib, a["median"] * 1e3, a["min"] * 1e3, a["max"] * 1e3))
        pc.append((label, series))
    t3 = "1% push time vs chunk size"
    plotter.lines("sweep_chunk_push", t3, "chunk size, KiB (log scale)",
                  "milliseconds (lower is better)", pc, logx=2)
    if any(s for _l, s in pc):
        m0 = dict(pc[0][1] and [(p[0], p[1]) for p in pc[0][1]] or [])
        r3 = ("memsync's 1%% push: %s. Smaller chunks send fewer bytes per written page." %
              ", ".join("%g KiB %.1f ms" % (k, v) for k, v in sorted(m0.items())))
    else:
        r3 = "Not measured: " + why("sweep_chunk_push")
    figs.append(("sweep_chunk_push", t3, r3))

    qd = pts(aggs, "param_value", 1e-9, scenario="sweep_qd", system="memsync", metric="bytes_per_second")
    t = "Pull rate vs queue depth (operations in flight)"
    plotter.lines("sweep_qd", t, "queue depth (log scale)", "throughput, GB/s (higher is better)",
                  [("memsync pull, verified", qd)], logx=2)
    if qd:
        qd_s = sorted(qd)
        r = ("Queue depth %g: %.2f GB/s; %g: %.2f GB/s. On loopback a round trip is a few µs, so depth "
             "matters little once a few operations overlap; it matters with real RTT (next figure)." %
             (qd_s[0][0], qd_s[0][1], qd_s[-1][0], qd_s[-1][1]))
    else:
        r = "Not measured: " + why("sweep_qd")
    figs.append(("sweep_qd", t, r))

    th = pts(aggs, "param_value", 1e3, scenario="sweep_threads", system="delta_sync_crc32",
             metric="seconds")
    if th:
        plotter.lines("sweep_threads", "Delta sync (CRC32) 1% push vs hashing threads", "threads",
                      "milliseconds (lower is better)", [("delta_sync crc32", th)])

    series = []
    for label, kw in (("memsync pull", dict(system="memsync", variant="pull")),
                      ("memsync lazy map, seq", dict(system="memsync", variant="lazy map, seq")),
                      ("uffd baseline, seq", dict(system="uffd_baseline"))):
        series.append((label, [(x if x > 0 else 0.0, y, lo, hi) for x, y, lo, hi in
                               pts(aggs, "param_value", 1e-6, scenario="sweep_rtt",
                                   metric="bytes_per_second", **kw)]))
    t = "Throughput vs added round-trip time (user-space delay proxy, no netem)"
    plotter.lines("sweep_rtt", t, "added round-trip time, ms",
                  "throughput, MB/s (log scale; higher is better)", series, logy=True)
    if any(s for _l, s in series):
        parts = []
        for label, s in series:
            if s:
                s = sorted(s)
                parts.append("%s %.0f MB/s at %g ms, %.1f MB/s at %g ms" % (label, s[0][1], s[0][0],
                                                                             s[-1][1], s[-1][0]))
        r = "; ".join(parts) + (". The delay is added by a user-space proxy on 127.0.0.1 (this kernel "
                                "has no netem): requests in flight overlap their delay, a one-page-per-"
                                "round-trip handler cannot.")
    else:
        r = "Not measured: " + why("sweep_rtt")
    figs.append(("sweep_rtt", t, r))

    # 6. migration: downtime per mode, the server's and the writer's
    modes = ["precopy", "postcopy", "hybrid", "stopcopy", "track"]
    cats, dsrv, dwr = [], [], []
    for mode in modes:
        a = one(aggs, scenario="migration", system="memsync", metric="downtime_s", variant=mode)
        w = one(aggs, scenario="migration", system="writer", metric="downtime_s", variant=mode)
        if not a and not w:
            continue
        cats.append(mode + (" (1 round)" if mode == "track" else ""))
        dsrv.append(triple(a, 1e3) if a and a["median"] is not None else None)
        dwr.append(triple(w, 1e3) if w and w["median"] is not None else None)
    t = "Live migration under a writer (1% of the pages per second): downtime per mode"
    plotter.bars("migration", t, "downtime, ms (median, min-max, log scale; lower is better)", cats,
                 [("downtime (destination's stat)", dsrv), ("writer's longest gap between syncs", dwr)],
                 logy=True)
    mv = metric(summary, "migration_downtime_vs_stop_and_copy")
    if cats:
        r = ("Downtime as the destination measures it (commits held at the source until the "
             "destination accepts them) and as the writer sees it (its longest gap between two "
             "successful syncs, which includes its own 10 ms tick and following the redirect). "
             "Hybrid vs stop-and-copy: %s." % ratio_phrase(mv))
    else:
        r = "Not measured: " + why("migration")
    figs.append(("migration", t, r))

    # 7. CPU
    cats, cl, sv = [], [], []
    hs = summary.get("params", {}).get("config", {}).get("pull_headline")
    for label, kw in (("memsync pull (TCP)", dict(scenario="pull", system="memsync", variant="verified",
                                                  metric="bytes_per_second")),
                      ("raw TCP stream (both ends)", dict(scenario="pull", system="raw_tcp",
                                                          metric="bytes_per_second")),
                      ("rsync 1% push", dict(scenario="push", system="rsync", metric="seconds",
                                             param_value=0.01)),
                      ("delta sync CRC32 1% push", dict(scenario="push", system="delta_sync_crc32",
                                                        metric="seconds", param_value=0.01))):
        cand = sel(aggs, **kw)
        if not cand:
            continue
        a = max(cand, key=lambda x: float(x["size"] or 0))
        if a.get("client_cpu_s") is None and a.get("server_cpu_s") is None:
            continue
        cats.append("%s, %s" % (label, fmt_size(a["size"])))
        cl.append((a["client_cpu_s"], None, None) if a.get("client_cpu_s") is not None else None)
        sv.append((a["server_cpu_s"], None, None) if a.get("server_cpu_s") is not None else None)
    rd = metric(summary, "rdma_server_cpu_vs_tcp")
    if rd and rd.get("value") is not None:
        cats += ["memsyncd, pull over RDMA (guest)", "memsyncd, pull over TCP (guest)"]
        cl += [None, None]
        sv += [(rd["value"], None, None), (rd["peer_value"], None, None)]
    t = "CPU time per run: client and server"
    plotter.bars("cpu", t, "CPU seconds (median; lower is better)", cats,
                 [("client", cl), ("server", sv)])
    r = ("Client CPU from os.wait4 of the client process, server CPU from /proc/PID/stat of the "
         "server process before and after each run (rsync: the daemon and the children it reaped; "
         "delta_sync: its own sender/receiver figures). ")
    if rd and rd.get("value") is not None:
        r += ("Over RDMA memsyncd used %s for a whole pull against %s over TCP (ratio %s): one-sided "
              "READs leave the server's CPU out of the data path." %
              (fmt_val(rd["value"], "s"), fmt_val(rd["peer_value"], "s"), fmt_ratio(rd.get("ratio"))))
    else:
        r += "RDMA server CPU: " + (rd.get("note", "not measured") if rd else "not measured") + "."
    figs.append(("cpu", t, r))
    scen_perfx.figures(summary, plotter, figs, metric, ratio_phrase, fmt_val, why)
    return figs


def _size_kib(s):
    s = s.strip().upper()
    mult = {"K": 1, "M": 1024, "G": 1024 * 1024}
    if s and s[-1] in mult:
        return float(s[:-1]) * mult[s[-1]]
    return float(s) / 1024


# ---------------------------------------------------------------- thesis
def thesis_rows(summary):
    """(quantity, thesis figure, this run, remark)."""
    aggs = agg_index(summary)

    def med(**kw):
        a = one(aggs, **kw)
        return a["median"] if a else None

    def rtt_at(system, variant, want):
        best = None
        for a in sel(aggs, scenario="sweep_rtt", system=system, metric="bytes_per_second"):
            if variant and a["variant"] != variant:
                continue
            x = float(a["param_value"])
            if best is None or abs(x - want) < abs(float(best["param_value"]) - want):
                best = a
        return best

    rows = []
    u = med(scenario="lazy", system="uffd_baseline", param_value="seq", metric="bytes_per_second")
    rows.append(("userfaultfd read throughput, 0 ms", "450 MB/s (= MiB/s: 472 MB/s; 40 MiB)",
                 fmt_val(u, "B/s") + " (our uffd baseline)" if u else "not measured",
                 "same mechanism: 4 KiB per fault, one at a time"))
    v = med(scenario="lazy", system="memsync", variant="copy", param_value="seq",
            metric="bytes_per_second")
    rows.append(("managed mount read throughput, 0 ms", "2.4 GB/s (400 MiB)",
                 fmt_val(v, "B/s") + " (memsync lazy map, seq)" if v else "not measured",
                 "nearest quantity: lazily pulled region read in order"))
    p = None
    for a in sel(aggs, scenario="pull", system="memsync", variant="verified", metric="bytes_per_second"):
        p = a["median"]
    rows.append(("direct mount read throughput, 0 ms", "2.8 GB/s",
                 fmt_val(p, "B/s") + " (memsync whole pull, verified)" if p else "not measured",
                 "nearest quantity; the thesis' backends did not move data"))
    t = med(scenario="lazy", system="uffd_baseline", param_value="seq", metric="ttfb_seconds")
    rows.append(("userfaultfd first-chunk latency, 0 ms", "≈58 µs",
                 fmt_val(t, "s") + " (uffd baseline ttfb)" if t else "not measured",
                 "ours includes connecting and registering"))
    t = med(scenario="lazy", system="memsync", variant="copy", param_value="seq",
            metric="ttfb_seconds")
    rows.append(("managed mount first-chunk latency, 0 ms", "≈160 µs",
                 fmt_val(t, "s") + " (memsync lazy map ttfb)" if t else "not measured",
                 "ours: connect + open + map + first fault"))
    m = med(scenario="ceilings", system="memcpy", metric="bytes_per_second")
    rows.append(("memory read throughput", "20 GB/s (4 GiB)",
                 fmt_val(m, "B/s") + " (memcpy)" if m else "not measured", "machine ceiling"))
    a = rtt_at("memsync", "lazy map, seq", 4)
    rows.append(("managed mount throughput at 4 ms RTT", "≈1.25 GB/s (fig.)",
                 "%s at %g ms (memsync lazy map)" % (fmt_val(a["median"], "B/s"), float(a["param_value"]))
                 if a else "not measured", "thesis: sleep in the backend; here: a TCP delay proxy"))
    a = rtt_at("uffd_baseline", None, 6)
    rows.append(("userfaultfd throughput at 6 ms RTT", "< 1 MB/s",
                 "%s at %g ms (uffd baseline)" % (fmt_val(a["median"], "B/s"), float(a["param_value"]))
                 if a else "not measured", "one round trip per 4 KiB page"))
    rows.append(("file-based delta sync (CRC32)", "no published figure",
                 fmt_val(med(scenario="push", system="delta_sync_crc32", param_value=0.01,
                             metric="seconds"), "s") + " at 1%", "the thesis describes it, measures nothing"))
    d = {m: med(scenario="migration", system="memsync", metric="downtime_s", variant=m)
         for m in ("hybrid", "track", "stopcopy")}
    rows.append(("migration downtime", "not benchmarked (r3map migrates: track, then finalize)",
                 "hybrid %s, track-then-finalize %s, stop-and-copy %s" % tuple(
                     fmt_val(d[m], "s") if d[m] is not None else "not measured"
                     for m in ("hybrid", "track", "stopcopy")),
                 "the thesis' one round is our 'track' (pre-copy, max_rounds 1)"))
    return rows


THESIS_MACHINE = ("Dell XPS 9320, Intel i7-1280P (20 threads), 31 GiB LPDDR5, Fedora 38, kernel 6.3; "
                  "everything on one host, RTT simulated by sleeping in the backend")


# ---------------------------------------------------------------- output
def headline_text(summary):
    lines = ["%-38s %14s %16s %9s  %s" % ("comparison", "memsync", "peer", "ratio", "goal / note")]
    for m in summary.get("metrics", []):
        if m["name"] not in HEADLINE:
            continue
        if m.get("value") is None or m.get("peer_value") is None:
            lines.append("%-38s %14s %16s %9s  %s" % (m["name"], fmt_val(m.get("value"), m["unit"]),
                                                      fmt_val(m.get("peer_value"), m["unit"]), "-",
                                                      m.get("note", "")[:90]))
            continue
        lines.append("%-38s %14s %16s %9s  %s" % (
            m["name"], fmt_val(m["value"], m["unit"]), "%s %s" % (fmt_val(m["peer_value"], m["unit"]),
                                                                  ""),
            fmt_ratio(m.get("ratio")), goal_cell(m).replace("**", "")))
    return "\n".join(lines)


def _md_table(header, rows):
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in rows:
        out.append("| " + " | ".join(str(c).replace("|", "\\|") for c in r) + " |")
    return "\n".join(out)


def build(summary, figs, plot_errors):
    """The report as a list of blocks: ("h", level, text), ("p", text),
    ("table", header, rows), ("fig", name, title, reading)."""
    B = []
    mach = summary.get("machine", {})
    params = summary.get("params", {})
    B.append(("h", 1, "memsync performance report"))
    B.append(("p", "Mode **%s**, %s repetition(s), %s. Machine: %s, %s CPUs (%s), %.1f GiB, kernel %s, "
                   "commit %s, %s. Compiler: %s." % (
                       params.get("mode", "?"), params.get("config", {}).get("reps", "?"),
                       mach.get("date", "?"), mach.get("hostname", "?"), mach.get("cpus", "?"),
                       mach.get("cpu_model", "?"), (mach.get("memory_bytes") or 0) / GiB,
                       mach.get("kernel", "?"), mach.get("git_commit", "?"),
                       "SANITIZER BUILD: numbers mean little" if mach.get("sanitizer_build")
                       else "non-sanitizer build", mach.get("compiler", "?"))))
    la0, la1 = mach.get("loadavg_start"), mach.get("loadavg_end")
    if la0 and la1:
        busy = la0[0] > 0.5 * (mach.get("cpus") or 1)
        B.append(("p", "Load average (1 min) before the first scenario %.2f, after the last %.2f "
                       "(this run's own load included)%s." % (
            la0[0], la1[0], ": **other work was running on this machine; the figures are "
            "disturbed, compare ratios within this run only**" if busy else "")))
    vers = mach.get("versions") or {}
    if vers:
        B.append(("p", "Versions: " + ", ".join("%s %s" % (k, v) for k, v in sorted(vers.items()))))
    B.append(("p", "**ratio = memsync's advantage**: value / peer when higher is better, peer / value "
                   "when lower is better; above 1 memsync is better. Medians of the repetitions, spread "
                   "= min-max. Everything runs on this one machine over TCP on 127.0.0.1 unless it says "
                   "otherwise (RDMA: soft-RoCE in a qemu guest). Added round-trip time comes from a "
                   "user-space delay proxy on 127.0.0.1, because this kernel has no netem."))
    B.append(("h", 2, "Headline comparisons"))
    rows = []
    for m in summary.get("metrics", []):
        if m.get("value") is None or m.get("peer_value") is None:
            rows.append((m["name"], fmt_val(m.get("value"), m["unit"]), spread(m, "value") or "-",
                         fmt_val(m.get("peer_value"), m["unit"]), m.get("peer", ""),
                         spread(m, "peer") or "-", "-", m.get("note") or "not measured"))
            continue
        rows.append((m["name"], fmt_val(m["value"], m["unit"]), spread(m, "value") or "-",
                     fmt_val(m["peer_value"], m["unit"]), m.get("peer", ""),
                     spread(m, "peer") or "-", fmt_ratio(m.get("ratio")), goal_cell(m) +
                     (" — " + m["note"] if m.get("note") else "")))
    B.append(("table", ["comparison", "memsync (median)", "memsync min-max", "peer (median)", "peer",
                        "peer min-max", "ratio", "goal / note"], rows))
    B.append(("h", 2, "Figures"))
    for name, title, reading in figs:
        B.append(("fig", name, title, reading))
    if plot_errors:
        B.append(("p", "Plot problems: " + "; ".join(plot_errors)))
    # scenario tables
    B.append(("h", 2, "All medians, spread, CPU and memory"))
    B.append(("p", "CPU: client = the client process (os.wait4 rusage, its reaped children included), "
                   "server = a separate server process (/proc/PID/stat before/after). Where client and "
                   "server run in one process (bench_map, bench_sync, rawtcp, uffd_lazy without "
                   "--connect) the client column holds that whole process and the scope says so. Peak "
                   "memory: ru_maxrss of the client, VmHWM of the server (since it started)."))
    rows = []
    for a in sorted(agg_index(summary), key=lambda a: (a["scenario"], a["metric"], a["system"],
                                                       a["variant"], str(a["param_value"]),
                                                       float(a["size"] or 0))):
        rows.append((a["scenario"], a["system"], a["variant"] or "-",
                     ("%s=%s" % (a["param"], a["param_value"])) if a["param"] else "-",
                     fmt_size(a["size"]) if a["size"] not in ("", None) else "-", a["metric"],
                     fmt_val(a["median"], a["unit"]),
                     "%s-%s" % (fmt_val(a["min"], a["unit"]), fmt_val(a["max"], a["unit"]))
                     if a["min"] is not None else "-",
                     "%d%s" % (a["n"], " (+%d failed)" % a["failed"] if a.get("failed") else ""),
                     "%.3f" % a["client_cpu_s"] if a.get("client_cpu_s") is not None else "-",
                     "%.3f" % a["server_cpu_s"] if a.get("server_cpu_s") is not None else "-",
                     "%.0f" % (a["client_maxrss_kib"] / 1024) if a.get("client_maxrss_kib") else "-",
                     "%.0f" % (a["server_hwm_kib"] / 1024) if a.get("server_hwm_kib") else "-",
                     a.get("cpu_scope") or ""))
    B.append(("table", ["scenario", "system", "variant", "param", "size", "metric", "median", "min-max",
                        "n", "client CPU s", "server CPU s", "client peak MiB", "server peak MiB",
                        "CPU scope"], rows))
    src = summary.get("rdma_source")
    if src:
        t = rdma_tables(src)
        if t:
            d, rrows = t
            B.append(("h", 2, "RDMA (soft-RoCE in a qemu TCG guest)"))
            B.append(("p", "From %s (%s, commit %s): %s" % (os.path.basename(src), d.get("date"),
                                                            d.get("source_commit"), d.get("note", ""))))
            B.append(("table", ["op", "path", "I/O size", "memsync", "perftest", "ratio",
                                "memsyncd CPU s", "client CPU s"],
                      [(op, path, fmt_size(sz), fmt_val(a, "B/s"), fmt_val(b, "B/s"),
                        fmt_ratio(a / b if a and b else None),
                        "%.2f" % sc if sc is not None else "-", "%.2f" % cc if cc is not None else "-") for op, path, sz, a, b, sc, cc in rrows]))
    B.append(("h", 2, "Thesis figures (another machine)"))
    B.append(("p", "Published by Pojtinger (2023) on **another machine**: %s. Its \"MB/s\" are MiB/s. "
                   "Same quantity where one exists, the nearest one otherwise; compare orders of "
                   "magnitude, not digits." % THESIS_MACHINE))
    B.append(("table", ["quantity", "thesis (another machine)", "this run", "remark"],
              thesis_rows(summary)))
    notes = summary.get("notes") or {}
    if notes:
        B.append(("h", 2, "What did not run, and caveats"))
        rows = [(k, "; ".join(v)) for k, v in notes.items()]
        B.append(("table", ["scenario", "note"], rows))
    B.append(("h", 2, "Parameters"))
    B.append(("p", "```\n" + json.dumps(params, indent=1, default=str) + "\n```"))
    return B


def render_md(blocks):
    out = []
    for b in blocks:
        if b[0] == "h":
            out.append("#" * b[1] + " " + b[2])
        elif b[0] == "p":
            out.append(b[1])
        elif b[0] == "table":
            out.append(_md_table(b[1], b[2]))
        elif b[0] == "fig":
            _, name, title, reading = b
            out.append("### %s\n\n![%s](plots/%s.png)\n\n[SVG](plots/%s.svg)\n\n%s" %
                       (title, title, name, name, reading))
        out.append("")
    return "\n".join(out)


def _inline_md(s):
    s = html.escape(s)
    parts = s.split("**")
    return "".join(("<b>%s</b>" % p) if i % 2 else p for i, p in enumerate(parts))


def render_html(blocks, plotdir):
    out = ["<!DOCTYPE html>", "<html lang=\"en\"><head><meta charset=\"utf-8\">",
           "<title>memsync performance report</title>",
           "<style>body{font-family:sans-serif;max-width:1200px;margin:2em auto;padding:0 1em}"
           "table{border-collapse:collapse;font-size:0.85em;margin:1em 0}"
           "td,th{border:1px solid #bbb;padding:3px 6px;text-align:left;vertical-align:top}"
           "th{background:#eee}figure{margin:1.5em 0}figcaption{max-width:900px}"
           "pre{background:#f6f6f6;padding:0.5em;overflow:auto;font-size:0.8em}</style>",
           "</head><body>"]
    for b in blocks:
        if b[0] == "h":
            out.append("<h%d>%s</h%d>" % (b[1], html.escape(b[2]), b[1]))
        elif b[0] == "p":
            if b[1].startswith("```"):
                out.append("<pre>%s</pre>" % html.escape(b[1].strip("`\n")))
            else:
                out.append("<p>%s</p>" % _inline_md(b[1]))
        elif b[0] == "table":
            out.append("<table><tr>%s</tr>" % "".join("<th>%s</th>" % html.escape(h) for h in b[1]))
            for r in b[2]:
                out.append("<tr>%s</tr>" % "".join("<td>%s</td>" % _inline_md(str(c)) for c in r))
            out.append("</table>")
        elif b[0] == "fig":
            _, name, title, reading = b
            out.append("<figure><h3>%s</h3>" % html.escape(title))
            svg = os.path.join(plotdir, name + ".svg")
            if os.path.exists(svg):
                out.append("<img src=\"plots/%s.svg\" alt=\"%s\" width=\"900\">" %
                           (name, html.escape(title)))
            out.append("<div><a href=\"plots/%s.png\">PNG</a> · <a href=\"plots/%s.svg\">SVG</a></div>"
                       % (name, name))
            out.append("<figcaption>%s</figcaption></figure>" % _inline_md(reading))
    out.append("</body></html>")
    return "\n".join(out)


def generate(outdir):
    with open(os.path.join(outdir, "summary.json")) as f:
        summary = json.load(f)
    plotdir = os.path.join(outdir, "plots")
    shutil.rmtree(plotdir, ignore_errors=True)
    p = Plotter(plotdir)
    figs = figures(summary, p)
    blocks = build(summary, figs, p.errors)
    with open(os.path.join(outdir, "report.md"), "w") as f:
        f.write(render_md(blocks))
    with open(os.path.join(outdir, "report.html"), "w") as f:
        f.write(render_html(blocks, plotdir))
    return p.errors


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: report.py OUTDIR   (OUTDIR/summary.json -> plots/, report.md, report.html)")
    errs = generate(sys.argv[1])
    for e in errs:
        print("report.py: plot problem:", e, file=sys.stderr)
    print("wrote %s/report.md, report.html and plots/" % sys.argv[1])
