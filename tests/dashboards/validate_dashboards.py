#!/usr/bin/env python3
"""Validates Grafana dashboards against a live Prometheus.

Loads every *.json dashboard in a directory, checks its structure (uid, title, unique panel
ids, a Prometheus datasource and PromQL targets on every panel), replaces Grafana variables
with values Prometheus accepts, evaluates each query through /api/v1/query and prints one line
per target. Exit status: 0 all good, 1 a structural error or failed query (or, with
--require-data, a query with an empty result), 2 usage error / Prometheus unreachable.

Usage: validate_dashboards.py [--require-data] [--datasource-uid UID] PROMETHEUS_URL DASHBOARD_DIR
Python 3 standard library only.
"""

import argparse
import json
import pathlib
import re
import sys
import urllib.error
import urllib.parse
import urllib.request

# Grafana's built-in interval variables, replaced by what they would be on a dashboard
# showing the last hour from a Prometheus scraped every few seconds.
BUILTINS = {
    "__rate_interval": "1m",
    "__interval": "15s",
    "__interval_ms": "15000",
    "__range": "1h",
    "__range_s": "3600",
    "__range_ms": "3600000",
}
# $name, ${name}, ${name:format}, [[name]] (the deprecated form).
VAR_RE = re.compile(r"\$\{(\w+)(?::[^}]*)?\}|\$(\w+)|\[\[(\w+)(?::[^\]]*)?\]\]")

# A direct HTTP client: never route loopback requests through an http_proxy from the
# environment.
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class Check:
    """Accumulates problems and table rows for one run."""

    def __init__(self):
        self.errors = []
        self.rows = []
        self.uids = {}  # dashboard uid -> files using it

    def error(self, where, message):
        self.errors.append(f"{where}: {message}")


def iter_panels(panels):
    """Yields every panel, including those nested in (collapsed) rows."""
    for panel in panels or []:
        yield panel
        yield from iter_panels(panel.get("panels"))


def substitute(expr, template_vars):
    """Returns (expr with every variable replaced, names of unknown variables)."""
    unknown = []

    def repl(match):
        name = match.group(1) or match.group(2) or match.group(3)
        if name.isdigit():  # $1 in label_replace() replacements is PromQL, not Grafana
            return match.group(0)
        if name in BUILTINS:
            return BUILTINS[name]
        if name in template_vars:
            return template_vars[name]
        unknown.append(name)
        return match.group(0)

    return VAR_RE.sub(repl, expr), unknown


def template_values(dashboard):
    """Maps each dashboard variable to a stand-in value that matches everything."""
    values = {}
    for var in dashboard.get("templating", {}).get("list", []):
        name = var.get("name")
        if not name:
            continue
        if var.get("type") in ("interval",):
            values[name] = "1m"
        elif var.get("type") in ("constant", "textbox") and isinstance(var.get("query"), str) and var["query"]:
            values[name] = var["query"]
        elif var.get("type") == "datasource":
            values[name] = "prometheus"
        else:
            # Query/custom variables are used as label matchers (=~"$var"): match anything.
            values[name] = ".*"
    return values


def prom_get(base, path, params):
    url = f"{base.rstrip('/')}{path}?{urllib.parse.urlencode(params, doseq=True)}"
    try:
        with OPENER.open(url, timeout=10) as resp:
            return json.load(resp)
    except urllib.error.HTTPError as e:
        # Prometheus answers 400/422 with a JSON body naming the error.
        try:
            return json.load(e)
        except ValueError:
            return {"status": "error", "error": f"HTTP {e.code} {e.reason}"}


def result_size(data):
    kind = data.get("resultType")
    result = data.get("result")
    if kind in ("vector", "matrix"):
        return len(result or [])
    if kind in ("scalar", "string"):
        return 1
    return 0


def check_variables(base, dashboard, where, args, check):
    """label_values(metric, label) variable queries: the metric must have that label."""
    for var in dashboard.get("templating", {}).get("list", []):
        if var.get("type") != "query":
            continue
        query = var.get("query")
        if isinstance(query, dict):
            query = query.get("query", "")
        match = re.fullmatch(r"\s*label_values\(\s*(.+?)\s*,\s*(\w+)\s*\)\s*", query or "")
        vwhere = f"{where} variable ${var.get('name')}"
        if not match:
            check.rows.append((where, "-", f"${var.get('name')}", "-", "SKIP", 0, query))
            continue
        metric, label = match.groups()
        resp = prom_get(base, "/api/v1/series", {"match[]": metric})
        if resp.get("status") != "success":
            check.error(vwhere, f"series lookup failed: {resp.get('error')}")
            status, count = "ERROR", 0
        else:
            count = sum(1 for s in resp.get("data", []) if label in s)
            status = "OK" if count else ("EMPTY" if args.require_data else "OK(empty)")
            if not count and args.require_data:
                check.error(vwhere, f"no series of {metric} with label {label}")
        check.rows.append((where, "-", f"${var.get('name')}", "-", status, count, query))


def check_dashboard(path, base, args, check):
    where = path.name
    try:
        dashboard = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        check.error(where, f"cannot load: {e}")
        return
    for key in ("uid", "title", "panels", "schemaVersion"):
        if not dashboard.get(key):
            check.error(where, f"missing or empty '{key}'")
    uid = dashboard.get("uid", "")
    if uid and not re.fullmatch(r"[A-Za-z0-9_-]{1,40}", uid):
        check.error(where, f"uid '{uid}' must be 1-40 characters of [A-Za-z0-9_-]")
    check.uids.setdefault(uid, []).append(where)

    template_vars = template_values(dashboard)
    check_variables(base, dashboard, where, args, check)
    seen_ids = {}
    for panel in iter_panels(dashboard.get("panels")):
        pid = panel.get("id")
        title = panel.get("title", "")
        pwhere = f"{where} panel {pid} '{title}'"
        if pid is None:
            check.error(pwhere, "panel without id")
        elif pid in seen_ids:
            check.error(pwhere, f"duplicate panel id (also '{seen_ids[pid]}')")
        else:
            seen_ids[pid] = title
        if not panel.get("gridPos"):
            check.error(pwhere, "no gridPos")
        if panel.get("type") in ("row", "text", "news", "dashlist"):
            continue
        ds = panel.get("datasource")
        if not isinstance(ds, dict) or ds.get("type") != "prometheus" or ds.get("uid") != args.datasource_uid:
            check.error(pwhere, f"datasource must be {{type: prometheus, uid: {args.datasource_uid}}}, got {ds!r}")
        targets = panel.get("targets") or []
        if not targets:
            check.error(pwhere, "no targets")
        ref_ids = set()
        for target in targets:
            ref = target.get("refId", "?")
            if ref in ref_ids:
                check.error(pwhere, f"duplicate refId {ref}")
            ref_ids.add(ref)
            tds = target.get("datasource")
            if tds is not None and (not isinstance(tds, dict) or tds.get("uid") != args.datasource_uid):
                check.error(f"{pwhere} {ref}", f"target datasource {tds!r} is not uid {args.datasource_uid}")
            expr = (target.get("expr") or "").strip()
            if not expr:
                check.error(f"{pwhere} {ref}", "target without expr")
                check.rows.append((where, pid, title, ref, "ERROR", 0, "(no expr)"))
                continue
            query, unknown = substitute(expr, template_vars)
            if unknown:
                check.error(f"{pwhere} {ref}", f"unknown variable(s) {', '.join(sorted(set(unknown)))}")
                check.rows.append((where, pid, title, ref, "ERROR", 0, query))
                continue
            resp = prom_get(base, "/api/v1/query", {"query": query})
            if resp.get("status") != "success":
                check.error(f"{pwhere} {ref}", f"query failed: {resp.get('errorType', '')} {resp.get('error')}\n    {query}")
                check.rows.append((where, pid, title, ref, "ERROR", 0, query))
                continue
            for warning in resp.get("warnings") or []:
                print(f"warning: {pwhere} {ref}: {warning}", file=sys.stderr)
            count = result_size(resp.get("data", {}))
            if count:
                status = "OK"
            elif args.require_data:
                status = "EMPTY"
                check.error(f"{pwhere} {ref}", f"query returned no data\n    {query}")
            else:
                status = "OK(empty)"
            check.rows.append((where, pid, title, ref, status, count, query))


def print_table(rows, verbose):
    headers = ("dashboard", "panel", "title", "ref", "status", "series")
    cells = [tuple(str(c) for c in r[:6]) for r in rows]
    widths = [max([len(h)] + [len(c[i]) for c in cells]) for i, h in enumerate(headers)]
    widths[2] = min(widths[2], 48)
    line = "  ".join(f"{{:<{w}}}" for w in widths)
    print(line.format(*headers))
    print(line.format(*("-" * w for w in widths)))
    for row, c in zip(rows, cells):
        title = c[2] if len(c[2]) <= 48 else c[2][:45] + "..."
        print(line.format(c[0], c[1], title, c[3], c[4], c[5]))
        if verbose:
            print(f"    {row[6]}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("prometheus", help="Prometheus base URL, e.g. http://127.0.0.1:9090")
    parser.add_argument("dashboards", type=pathlib.Path, help="directory of dashboard *.json files")
    parser.add_argument("--require-data", action="store_true", help="fail on queries that return no series")
    parser.add_argument("--datasource-uid", default="prometheus", help="datasource uid every panel must use")
    parser.add_argument("-v", "--verbose", action="store_true", help="print each evaluated query")
    args = parser.parse_args()

    files = sorted(args.dashboards.glob("*.json"))
    if not files:
        print(f"validate_dashboards: no *.json in {args.dashboards}", file=sys.stderr)
        return 2
    build = prom_get(args.prometheus, "/api/v1/status/buildinfo", {}) if args.prometheus else {}
    if build.get("status") != "success":
        try:
            OPENER.open(f"{args.prometheus.rstrip('/')}/-/ready", timeout=5).close()
        except (OSError, ValueError) as e:
            print(f"validate_dashboards: Prometheus at {args.prometheus} unreachable: {e}", file=sys.stderr)
            return 2

    check = Check()
    for path in files:
        check_dashboard(path, args.prometheus, args, check)
    for uid, where in check.uids.items():
        if uid and len(where) > 1:
            check.error(", ".join(where), f"duplicate dashboard uid '{uid}'")

    print_table(check.rows, args.verbose)
    queries = sum(1 for r in check.rows if r[3] != "-")
    print(f"\n{len(files)} dashboards, {queries} queries, {len(check.errors)} problems")
    for e in check.errors:
        print(f"FAIL {e}")
    return 1 if check.errors else 0


if __name__ == "__main__":
    sys.exit(main())
