#!/usr/bin/env python3
# Steady, paced HTTP load for the swarm test: a few keep-alive clients send GET requests at a
# fixed total rate and record every failure (error, wrong status or wrong body) with its time.
"""Usage: steady_load.py --url BASE --paths /service1/ping,/service2/ping --rate 60
       --threads 4 --max-seconds 300 --out summary.json

Runs until SIGTERM/SIGINT or --max-seconds, then writes a JSON summary: totals per path,
failures (first 50 in full), the longest gap without a completed request, latency p50/p99/max.
A request counts as good only with status 200 and the JSON body {"service": NAME, ...} where
NAME is the path's first segment. Loopback only: BASE must be http://127.0.0.1:PORT.
"""
import argparse
import http.client
import json
import signal
import sys
import threading
import time
import urllib.parse


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--url", required=True)
    p.add_argument("--paths", required=True)
    p.add_argument("--rate", type=float, default=60.0, help="requests per second, all threads")
    p.add_argument("--threads", type=int, default=4)
    p.add_argument("--timeout", type=float, default=5.0, help="per request, seconds")
    p.add_argument("--max-seconds", type=float, default=300.0)
    p.add_argument("--out", required=True)
    p.add_argument("--ready", help="file to create once the first request succeeded")
    return p.parse_args()


class Stats:
    def __init__(self, paths):
        self.lock = threading.Lock()
        self.ok = {p: 0 for p in paths}
        self.bad = {p: 0 for p in paths}
        self.failures = []
        self.latencies = []
        self.completions = []  # monotonic time of every good response, for the gap check

    def good(self, path, started, now):
        with self.lock:
            self.ok[path] += 1
            self.latencies.append(now - started)
            self.completions.append(now)

    def fail(self, path, started, now, what):
        with self.lock:
            self.bad[path] += 1
            self.failures.append({"t": round(time.time(), 3), "path": path,
                                  "after_s": round(now - started, 3), "error": what})


def client(idx, args, base, paths, stats, stop, interval, ready_event):
    conn = None
    # Threads start staggered so the total rate is even, not bursts of `threads` requests.
    next_at = time.monotonic() + idx * interval / args.threads
    n = idx
    while not stop.is_set():
        delay = next_at - time.monotonic()
        if delay > 0 and stop.wait(delay):
            break
        next_at += interval
        path = paths[n % len(paths)]
        n += 1
        want = path.strip("/").split("/")[0]
        started = time.monotonic()
        try:
            if conn is None:
                conn = http.client.HTTPConnection(base.hostname, base.port, timeout=args.timeout)
            conn.request("GET", path, headers={"User-Agent": "ringway-steady-load"})
            resp = conn.getresponse()
            body = resp.read()
            now = time.monotonic()
            if resp.status != 200:
                stats.fail(path, started, now, f"status {resp.status}: {body[:200]!r}")
            else:
                try:
                    doc = json.loads(body)
                except ValueError:
                    doc = None
                if not isinstance(doc, dict) or doc.get("service") != want:
                    stats.fail(path, started, now, f"body {body[:200]!r}")
                else:
                    stats.good(path, started, now)
                    ready_event.set()
            if resp.getheader("Connection", "").lower() == "close":
                conn.close()
                conn = None
        except (OSError, http.client.HTTPException) as e:
            stats.fail(path, started, time.monotonic(), f"{type(e).__name__}: {e}")
            if conn is not None:
                conn.close()
            conn = None
    if conn is not None:
        conn.close()


def main():
    args = parse_args()
    base = urllib.parse.urlsplit(args.url)
    if base.scheme != "http" or base.hostname != "127.0.0.1" or not base.port:
        sys.exit("steady_load.py: --url must be http://127.0.0.1:PORT (loopback only)")
    paths = [p for p in args.paths.split(",") if p]
    stats = Stats(paths)
    stop = threading.Event()
    ready_event = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    interval = args.threads / args.rate  # per thread
    threads = [threading.Thread(target=client, daemon=True,
                                args=(i, args, base, paths, stats, stop, interval, ready_event))
               for i in range(args.threads)]
    t0 = time.monotonic()
    wall0 = time.time()
    for t in threads:
        t.start()
    deadline = t0 + args.max_seconds
    announced = False
    while not stop.is_set() and time.monotonic() < deadline:
        stop.wait(0.2)
        if args.ready and not announced and ready_event.is_set():
            open(args.ready, "w").close()
            announced = True
    stopped_by = "signal" if stop.is_set() else "max-seconds"
    stop.set()
    for t in threads:
        t.join(args.timeout + 2)
    elapsed = time.monotonic() - t0
    with stats.lock:
        lat = sorted(stats.latencies)
        marks = [t0] + sorted(stats.completions) + [time.monotonic()]
        gap = max(b - a for a, b in zip(marks, marks[1:]))
        q = lambda f: round(lat[min(len(lat) - 1, int(f * len(lat)))] * 1000, 2) if lat else None
        summary = {
            "started": round(wall0, 3), "seconds": round(elapsed, 1), "stopped_by": stopped_by,
            "rate_target": args.rate, "ok": stats.ok, "failed": stats.bad,
            "total_ok": sum(stats.ok.values()), "total_failed": sum(stats.bad.values()),
            "longest_gap_s": round(gap, 3),
            "latency_ms": {"p50": q(0.50), "p99": q(0.99), "max": round(lat[-1] * 1000, 2) if lat else None},
            "failures": stats.failures[:50],
        }
    with open(args.out, "w") as f:
        json.dump(summary, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
