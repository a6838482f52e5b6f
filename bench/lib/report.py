#!/usr/bin/env python3
# Report of bench/run.sh: medians over rounds (summary.tsv), the Markdown report with ratio
# tables (report.md) and gnuplot PNGs of req/s, p99 and CPU/request across connections and sizes.
import csv
import os
import statistics
import subprocess
import sys
from collections import defaultdict

PEERS = ["nginx", "haproxy", "h2o"]
SUBJECT = "ringway"
FLOOR = "relay"
NUMERIC = ["rps", "p50_ms", "p99_ms", "p999_ms", "cpu_us_req", "cpu_us_mb", "user_pct",
           "syscalls_req", "rss_kib", "proxy_cpu_pct", "load_cpu_pct", "other_pct", "errors",
           "backend_us_req"]


def num(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def read_tsv(path):
    if not os.path.exists(path):
        return []
    with open(path, newline="") as f:
        first = f.readline()
        if first.startswith("skipped"):
            return first.strip()
        f.seek(0)
        return list(csv.DictReader(f, delimiter="\t"))


def size_label(s):
    s = int(s)
    if s >= 1 << 20 and s % (1 << 20) == 0:
        return f"{s >> 20} MiB"
    if s >= 1024 and s % 1024 == 0:
        return f"{s >> 10} KiB"
    return f"{s} B"


def fmt(v, digits=2):
    if v is None:
        return "-"
    if abs(v) >= 1000:
        return f"{v:.0f}"
    return f"{v:.{digits}f}"


def ratio(a, b):
    if a is None or b is None or b == 0:
        return "-"
    return f"{a / b:.2f}"


def medians(rows):
    """Groups rows by cell and proxy; each metric is the median over the rounds."""
    groups = defaultdict(list)
    for r in rows:
        key = (r["mode"], int(r["workers"]), int(r["conns"]), int(r["size"]), r["proxy"])
        groups[key].append(r)
    out = {}
    for key, rs in groups.items():
        m = {"rounds": len(rs)}
        for k in NUMERIC:
            vals = [num(r[k]) for r in rs if num(r[k]) is not None]
            m[k] = statistics.median(vals) if vals else None
        rps = [num(r["rps"]) for r in rs if num(r["rps"]) is not None]
        m["rps_range"] = f"{min(rps):.0f}-{max(rps):.0f}" if rps else "-"
        out[key] = m
    return out


def write_summary(path, med):
    with open(path, "w") as f:
        f.write("\t".join(["mode", "workers", "conns", "size", "proxy", "rounds"] + NUMERIC +
                          ["rps_range"]) + "\n")
        for key in sorted(med):
            m = med[key]
            f.write("\t".join([str(k) for k in key] + [str(m["rounds"])] +
                              ["-" if m[k] is None else f"{m[k]:g}" for k in NUMERIC] +
                              [m["rps_range"]]) + "\n")


def headline(med, groups, lines):
    """Ringway against the floor and the peers, one table per mode and worker count."""
    for mode, workers in groups:
        cells = sorted({(c, s) for (m, w, c, s, _p) in med if m == mode and w == workers})
        if not any((mode, workers, c, s, SUBJECT) in med for c, s in cells):
            continue
        lines.append(f"#### {mode}, {workers} worker(s): ringway (io_uring) against the others")
        lines.append("")
        lines.append("| conns | size | ringway req/s | p99 ms | CPU µs/req | CPU ÷ relay | "
                     "req/s ÷ nginx | ÷ HAProxy | ÷ h2o | p99 ÷ nginx | CPU/MB ÷ nginx | "
                     "syscalls/req | RSS MiB |")
        lines.append("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for c, s in cells:
            r = med.get((mode, workers, c, s, SUBJECT))
            if not r:
                continue
            g = lambda p, k: (med.get((mode, workers, c, s, p)) or {}).get(k)  # noqa: E731
            rss = r["rss_kib"] / 1024 if r["rss_kib"] is not None else None
            lines.append(
                f"| {c} | {size_label(s)} | {fmt(r['rps'])} | {fmt(r['p99_ms'])} | "
                f"{fmt(r['cpu_us_req'])} | {ratio(r['cpu_us_req'], g(FLOOR, 'cpu_us_req'))} | "
                f"{ratio(r['rps'], g('nginx', 'rps'))} | {ratio(r['rps'], g('haproxy', 'rps'))} | "
                f"{ratio(r['rps'], g('h2o', 'rps'))} | {ratio(r['p99_ms'], g('nginx', 'p99_ms'))} | "
                f"{ratio(r['cpu_us_mb'], g('nginx', 'cpu_us_mb'))} | {fmt(r['syscalls_req'])} | "
                f"{fmt(rss, 1)} |")
        lines.append("")


def targets(med, groups, lines):
    """Issue 13's targets, counted over this run's cells: how many are met, and the misses."""
    rows = []
    for mode, workers in groups:
        cells = sorted({(c, s) for (m, w, c, s, p) in med
                        if m == mode and w == workers and p == SUBJECT})
        if not cells:
            continue
        get = lambda c, s, p, k: (med.get((mode, workers, c, s, p)) or {}).get(k)  # noqa: E731

        def rate(c, s, p, k):
            a, b = get(c, s, SUBJECT, k), get(c, s, p, k)
            return None if a is None or not b else a / b

        at64 = [(s, rate(64, s, FLOOR, "cpu_us_req")) for c, s in cells if c == 64]
        at64 = [(s, r) for s, r in at64 if r is not None]
        if at64:
            met = sum(r <= 1.10 for _s, r in at64)
            rows.append((mode, workers, "CPU/request ≤ 1.10× relay, 64 conns",
                         ", ".join(f"{size_label(s)} {r:.2f}" for s, r in at64),
                         f"{met}/{len(at64)}"))
        lead, lead_miss = [], []
        run_peers = [p for p in PEERS if any(k[:2] == (mode, workers) and k[4] == p for k in med)]
        for c, s in cells:
            peers = [(p, rate(c, s, p, "rps")) for p in run_peers]
            if not peers:
                continue
            if any(r is None for _p, r in peers):  # a peer of this run has no figure here
                lead.append(False)
                lead_miss.append(f"{c}×{size_label(s)} n/a (a peer has no req/s)")
                continue
            worst = min(peers, key=lambda x: x[1])
            lead.append(worst[1] >= 1.2)
            if worst[1] < 1.2:
                load = get(c, s, SUBJECT, "load_cpu_pct")
                lead_miss.append(f"{c}×{size_label(s)} {worst[1]:.2f} ({worst[0]}, load "
                                 f"{fmt(load, 0)}%)")
        if lead:
            rows.append((mode, workers, "req/s ≥ 1.2× every peer",
                         f"{sum(lead)} of {len(lead)} cells; short: " + ("; ".join(lead_miss) or "none"),
                         f"{sum(lead)}/{len(lead)}"))
        tail, tail_miss = [], []
        for c, s in cells:
            r = rate(c, s, "nginx", "p99_ms")
            if r is None:
                continue
            tail.append(r <= 0.7)
            if r > 0.7:
                tail_miss.append(f"{c}×{size_label(s)} {r:.2f}")
        if tail:
            rows.append((mode, workers, "p99 ≤ 0.7× nginx",
                         f"{sum(tail)} of {len(tail)} cells; over: " + ("; ".join(tail_miss) or "none"),
                         f"{sum(tail)}/{len(tail)}"))
        per_mb = [(c, s, rate(c, s, "nginx", "cpu_us_mb")) for c, s in cells if s >= 65536]
        per_mb = [(c, s, r) for c, s, r in per_mb if r is not None]
        if per_mb:
            lo, hi = min(r for *_x, r in per_mb), max(r for *_x, r in per_mb)
            met = sum(r <= 0.7 for *_x, r in per_mb)
            rows.append((mode, workers, "CPU/MB ≤ 0.7× nginx, bodies of 64 KiB and more",
                         f"{lo:.2f}–{hi:.2f}×", f"{met}/{len(per_mb)}"))
    scale = []
    for mode in sorted({m for m, _w in groups}):
        for (m, w, c, s, p) in sorted(med):
            if m != mode or w != 2 or c != 1024 or p != SUBJECT:
                continue
            one, two = med.get((mode, 1, c, s, p)), med.get((mode, 2, c, s, p))
            relay1, relay2 = med.get((mode, 1, c, s, FLOOR)), med.get((mode, 2, c, s, FLOOR))
            if one and two and one.get("rps") and two.get("rps"):
                floor = (f", relay {relay2['rps'] / relay1['rps']:.2f}×"
                         if relay1 and relay2 and relay1.get("rps") and relay2.get("rps") else "")
                scale.append((mode, s, two["rps"] / one["rps"], floor,
                              two.get("load_cpu_pct")))
    for mode, s, r, floor, load in scale:
        rows.append((mode, "2 vs 1", f"req/s 2 workers ÷ 1 worker, 1024 conns, {size_label(s)}",
                     f"{r:.2f}×{floor}, load CPU {fmt(load, 0)}%", "yes" if r >= 1.7 else "no"))
    if not rows:
        return
    lines.append("#### Targets (issue 13), counted over this run")
    lines.append("")
    rows_table(lines, rows, [(h, i, False) for i, h in
                             enumerate(["mode", "workers", "target", "measured", "met"])])


def full_tables(med, groups, lines):
    lines.append("<details><summary>Every cell and proxy (medians over rounds)</summary>")
    lines.append("")
    for mode, workers in groups:
        lines.append(f"#### {mode}, {workers} worker(s)")
        lines.append("")
        lines.append("| conns | size | proxy | req/s | p50 ms | p99 ms | p99.9 ms | CPU µs/req | "
                     "CPU µs/MB | user % | syscalls/req | RSS MiB | proxy CPU % | load CPU % | "
                     "other load % | errors | rounds | req/s range |")
        lines.append("|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
                     "---:|---:|---:|---|")
        for key in sorted(k for k in med if k[0] == mode and k[1] == workers):
            m = med[key]
            rss = m["rss_kib"] / 1024 if m["rss_kib"] is not None else None
            lines.append(
                f"| {key[2]} | {size_label(key[3])} | {key[4]} | {fmt(m['rps'])} | "
                f"{fmt(m['p50_ms'])} | {fmt(m['p99_ms'])} | {fmt(m['p999_ms'])} | "
                f"{fmt(m['cpu_us_req'])} | {fmt(m['cpu_us_mb'], 1)} | {fmt(m['user_pct'], 0)} | "
                f"{fmt(m['syscalls_req'])} | {fmt(rss, 1)} | {fmt(m['proxy_cpu_pct'], 0)} | "
                f"{fmt(m['load_cpu_pct'], 0)} | {fmt(m['other_pct'], 0)} | {fmt(m['errors'], 0)} | "
                f"{m['rounds']} | {m['rps_range']} |")
        lines.append("")
    lines.append("</details>")
    lines.append("")


def plots(out_dir, med, groups):
    """One PNG per mode/workers and metric: a panel per size, connections on x, a line per proxy."""
    made = []
    metrics = [("rps", "requests/s"), ("p99_ms", "p99 latency (ms)"), ("cpu_us_req", "proxy CPU µs per request")]
    for mode, workers in groups:
        keys = [k for k in med if k[0] == mode and k[1] == workers]
        sizes = sorted({k[3] for k in keys})
        proxies = [p for p in ["relay", "relay-epoll", "relay-zc", "ringway", "ringway-base", "ringway-bigread", "ringway-copy", "ringway-epoll", "nginx", "haproxy",
                               "h2o", "direct"] if any(k[4] == p for k in keys)]
        if not sizes or not proxies:
            continue
        data = os.path.join(out_dir, f"plot-{mode}-w{workers}.dat")
        with open(data, "w") as f:
            # One gnuplot data block per (size, proxy), separated by two blank lines.
            for s in sizes:
                for p in proxies:
                    f.write(f"# size {s} proxy {p}\n")
                    for c in sorted({k[2] for k in keys if k[3] == s and k[4] == p}):
                        m = med[(mode, workers, c, s, p)]
                        f.write(f"{c}\t" + "\t".join("NaN" if m[k] is None else f"{m[k]:g}"
                                                     for k, _ in metrics) + "\n")
                    f.write("\n\n")
        cols = 2 if len(sizes) > 1 else 1
        rows = (len(sizes) + cols - 1) // cols
        for mi, (metric, label) in enumerate(metrics):
            png = os.path.join(out_dir, f"{metric}-{mode}-w{workers}.png")
            gp = [f"set terminal pngcairo size {560 * cols},{380 * rows} font ',9'",
                  f"set output '{png}'",
                  f"set multiplot layout {rows},{cols} title '{label}, {mode}, {workers} worker(s)'",
                  "set logscale x 2", "set xlabel 'client connections'", "set grid",
                  "set key top left font ',8'", "set datafile missing 'NaN'"]
            if metric == "p99_ms":
                gp.append("set logscale y")
            for si, s in enumerate(sizes):
                gp.append(f"set title '{size_label(s)} responses'")
                series = []
                for pi, p in enumerate(proxies):
                    idx = si * len(proxies) + pi
                    series.append(f"'{data}' index {idx} using 1:{mi + 2} with linespoints title '{p}'")
                gp.append("plot " + ", ".join(series))
            gp.append("unset multiplot")
            r = subprocess.run(["gnuplot"], input="\n".join(gp), text=True, capture_output=True)
            if r.returncode == 0:
                made.append(os.path.basename(png))
            else:
                print(f"report.py: gnuplot failed for {png}: {r.stderr.strip()[:300]}", file=sys.stderr)
    return made


def rows_table(lines, rows, columns):
    """Appends TSV rows as a Markdown table; columns are (heading, key, numeric)."""
    lines.append("| " + " | ".join(h for h, _, _ in columns) + " |")
    lines.append("|" + "|".join("---:" if numeric else "---" for _, _, numeric in columns) + "|")
    for r in rows:
        lines.append("| " + " | ".join(str(r[k]) for _, k, _ in columns) + " |")
    lines.append("")


def openloop_table(rows, lines):
    if not rows:
        return
    lines.append("### Open-loop latency (h2load --rps, fixed rate)")
    lines.append("")
    r0 = rows[0]
    lines.append(f"{r0['mode']}, {r0['workers']} worker(s), {r0['conns']} connections, "
                 f"{size_label(r0['size'])} responses; the rate is a share of nginx's measured "
                 "closed-loop peak in the same cell.")
    lines.append("")
    rows_table(lines, rows, [("proxy", "proxy", False), ("% of nginx peak", "pct_of_nginx_peak", True),
                             ("target req/s", "target_rps", True),
                             ("achieved req/s", "achieved_rps", True), ("p50 ms", "p50_ms", True),
                             ("p99 ms", "p99_ms", True), ("p99.9 ms", "p999_ms", True),
                             ("max ms", "max_ms", True), ("errors", "errors", True),
                             ("CPU µs/req", "cpu_us_req", True)])


def memory_table(rows, lines):
    if not rows:
        return
    lines.append("### Memory")
    lines.append("")
    lines.append("RSS growth of the proxy (all its processes, VmRSS) divided by the clients held: "
                 "`idle` = keep-alive connections idle after one 100 B request each; `slow` = "
                 "streams of a 4 MiB response read at ~10 KiB/s by clients with a 4 KiB receive "
                 "buffer.")
    lines.append("")
    rows_table(lines, rows, [("proxy", "proxy", False), ("row", "row", False),
                             ("clients", "clients", True), ("RSS before KiB", "base_kib", True),
                             ("RSS held KiB", "loaded_kib", True),
                             ("bytes per client", "bytes_per_client", True)])


def burst_table(rows, lines):
    if not rows:
        return
    lines.append("### Burst")
    lines.append("")
    lines.append("2,000 clients at once, one GET each, through the proxy to a thread-per-connection "
                 "upstream (listen backlog 128, 20 ms per request); `limit` is the proxy's own cap "
                 "on connections to that server (ringway queues, HAProxy queues, nginx OSS refuses "
                 "past it, h2o has none). The peak is counted by the upstream at each accept.")
    lines.append("")
    rows_table(lines, rows, [("proxy", "proxy", False), ("limit", "limit", True),
                             ("answered", "answered", True), ("failed", "failed", True),
                             ("seconds", "seconds", True), ("upstream peak", "upstream_peak", True),
                             ("upstream accepts", "upstream_accepted", True)])


def accesslog_table(rows, lines):
    lines.append("### Access-log cost")
    lines.append("")
    if isinstance(rows, str):
        lines.append(rows)
        lines.append("")
        return
    if not rows:
        lines.append("not run")
        lines.append("")
        return
    med = medians(rows)
    lines.append("| ringway | req/s | p99 ms | CPU µs/req | rounds |")
    lines.append("|---|---:|---:|---:|---:|")
    base = None
    for key in sorted(med, key=lambda k: k[4] != "ringway"):
        m = med[key]
        if key[4] == "ringway":
            base = m
        label = "access log on" if key[4] == "ringway-log" else "access log off"
        lines.append(f"| {label} | {fmt(m['rps'])} | {fmt(m['p99_ms'])} | {fmt(m['cpu_us_req'])} | "
                     f"{m['rounds']} |")
    on = next((m for k, m in med.items() if k[4] == "ringway-log"), None)
    if base and on:
        lines.append("")
        lines.append(f"Logging costs {ratio(on['cpu_us_req'], base['cpu_us_req'])}× the CPU per "
                     f"request and gives {ratio(on['rps'], base['rps'])}× the requests/s.")
    lines.append("")


def micro_table(rows, lines):
    if not rows:
        return
    lines.append("### Micro-benchmarks (callgrind instructions per operation)")
    lines.append("")
    lines.append("| benchmark | instructions/op | iterations |")
    lines.append("|---|---:|---:|")
    for r in rows:
        lines.append(f"| {r['benchmark']} | {r['instructions_per_op']} | {r['iterations']} |")
    lines.append("")


def main():
    out_dir = sys.argv[1]
    meta = {}
    if os.path.exists(os.path.join(out_dir, "meta.tsv")):
        for line in open(os.path.join(out_dir, "meta.tsv")):
            k, _, v = line.rstrip("\n").partition("\t")
            meta[k] = v
    raw = read_tsv(os.path.join(out_dir, "raw.tsv")) or []
    med = medians(raw)
    write_summary(os.path.join(out_dir, "summary.tsv"), med)
    groups = sorted({(k[0], k[1]) for k in med}, key=lambda g: (g[0] != "pinned", g[1]))
    lines = [f"# Proxy benchmark, {meta.get('date', '?')}", ""]
    lines.append(f"Command: `{meta.get('command', '?')}`  ")
    lines.append(f"Machine: {meta.get('machine', '?')}  ")
    lines.append(f"Versions: {meta.get('versions', '?')}  ")
    lines.append(f"Settings: {meta.get('settings', '?')}")
    lines.append("")
    lines.append("Raw rounds: `raw.tsv`; medians: `summary.tsv`; wrk and h2load output: "
                 "`wrk.log`, `h2load.log`. How to read the columns: README.md, "
                 "\"Benchmarks: bench/run.sh\".")
    lines.append("")
    if med:
        lines.append("### Matrix")
        lines.append("")
        headline(med, groups, lines)
        targets(med, groups, lines)
        made = plots(out_dir, med, groups)
        for png in made:
            lines.append(f"![{png}]({png})")
        if made:
            lines.append("")
        full_tables(med, groups, lines)
    openloop_table(read_tsv(os.path.join(out_dir, "openloop.tsv")), lines)
    memory_table(read_tsv(os.path.join(out_dir, "memory.tsv")), lines)
    burst_table(read_tsv(os.path.join(out_dir, "burst.tsv")), lines)
    accesslog_table(read_tsv(os.path.join(out_dir, "accesslog.tsv")), lines)
    micro_table(read_tsv(os.path.join(out_dir, "micro.tsv")), lines)
    with open(os.path.join(out_dir, "report.md"), "w") as f:
        f.write("\n".join(lines))
    print("\n".join(lines[:60]))


if __name__ == "__main__":
    main()
