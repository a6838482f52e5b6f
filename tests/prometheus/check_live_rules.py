#!/usr/bin/env python3
"""Checks deploy/prometheus/rules/ inside a live Prometheus scraping the real binaries.

promtool's unit tests feed the rules hand-written series; this catches what they cannot: a
rule naming a metric or label the binaries do not export, or failing at evaluation time.
Checks that every group and rule of RULES_DIR is loaded, every rule evaluates with health
"ok", every recording rule yields at least one series, each --expect-firing alert is firing,
and prometheus_rule_group_rules reports the alert group (the Firing alerts panel's fallback).
Retries for up to --wait seconds, since rules are evaluated on their own interval.

Usage: check_live_rules.py [--wait S] [--expect-firing ALERT]... PROMETHEUS_URL RULES_DIR
Exit status: 0 all good, 1 a check failed, 2 usage error. Python 3 standard library only.
"""

import argparse
import json
import pathlib
import re
import sys
import time
import urllib.parse
import urllib.request

# Never send loopback requests through an http_proxy from the environment.
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def api(base, path, params=None):
    url = f"{base.rstrip('/')}{path}"
    if params:
        url += "?" + urllib.parse.urlencode(params)
    with OPENER.open(url, timeout=5) as resp:
        data = json.load(resp)
    if data.get("status") != "success":
        raise RuntimeError(f"{path}: {data.get('error')}")
    return data["data"]


def expected_rules(rules_dir):
    """(group name -> set of rule names) from the files, by the two keys a rule can have.
    A plain scan, not a YAML parser: the files keep one `- record:`/`- alert:` per rule."""
    groups = {}
    for path in sorted(pathlib.Path(rules_dir).glob("*.yml")):
        group = None
        for line in path.read_text().splitlines():
            m = re.match(r"\s*-\s*name:\s*(\S+)", line)
            if m:
                group = m.group(1)
                groups.setdefault(group, set())
                continue
            m = re.match(r"\s*-\s*(?:record|alert):\s*(\S+)", line)
            if m and group:
                groups[group].add(m.group(1))
    return groups


def problems(base, want, expect_firing):
    out = []
    loaded = {g["name"]: g for g in api(base, "/api/v1/rules")["groups"]}
    for group, names in sorted(want.items()):
        g = loaded.get(group)
        if g is None:
            out.append(f"group {group} not loaded (loaded: {', '.join(sorted(loaded)) or 'none'})")
            continue
        have = {r["name"]: r for r in g["rules"]}
        for name in sorted(names - have.keys()):
            out.append(f"{group}: rule {name} not loaded")
        for name, rule in sorted(have.items()):
            if rule.get("health") != "ok":
                out.append(f"{group}: {name} health={rule.get('health')} {rule.get('lastError', '')}".rstrip())
            if rule.get("type") == "recording":
                series = api(base, "/api/v1/query", {"query": name})["result"]
                if not series:
                    out.append(f"{group}: recording rule {name} has no series")
    firing = {a["labels"]["alertname"] for a in api(base, "/api/v1/alerts")["alerts"] if a["state"] == "firing"}
    for name in expect_firing:
        if name not in firing:
            out.append(f"alert {name} is not firing (firing: {', '.join(sorted(firing)) or 'none'})")
    meta = api(base, "/api/v1/query", {"query": 'prometheus_rule_group_rules{rule_group=~".+;ringway[.]alerts"}'})
    if not meta["result"]:
        out.append("prometheus_rule_group_rules has no ringway.alerts group (is job prometheus scraped?)")
    return out, firing


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("prometheus")
    parser.add_argument("rules_dir")
    parser.add_argument("--expect-firing", action="append", default=[], metavar="ALERT")
    parser.add_argument("--wait", type=float, default=15)
    args = parser.parse_args()
    want = expected_rules(args.rules_dir)
    if not any(want.values()):
        print(f"check_live_rules: no rules found in {args.rules_dir}/*.yml", file=sys.stderr)
        return 2

    deadline = time.monotonic() + args.wait
    while True:
        try:
            found, firing = problems(args.prometheus, want, args.expect_firing)
        except (OSError, RuntimeError, ValueError) as e:
            found, firing = [f"Prometheus API: {e}"], set()
        if not found or time.monotonic() > deadline:
            break
        time.sleep(1)

    total = sum(len(v) for v in want.values())
    for p in found:
        print(f"FAIL {p}")
    print(f"check_live_rules: {len(want)} groups, {total} rules, firing now: "
          f"{', '.join(sorted(firing)) or 'none'}; {len(found)} problems")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
