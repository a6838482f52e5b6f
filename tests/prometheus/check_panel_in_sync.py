#!/usr/bin/env python3
"""Checks that the Firing alerts panel's query is the one alerts_test.yml unit-tests.

The panel (deploy/grafana/dashboards/ringway-overview.json) cannot carry tests itself, so
tests/prometheus/alerts_test.yml evaluates its query verbatim; this keeps the copies equal.
Usage: check_panel_in_sync.py DASHBOARD_JSON ALERTS_TEST_YML   (exit 0 equal, 1 not)
"""

import json
import sys


def main():
    dashboard_path, test_path = sys.argv[1:3]
    panels = json.load(open(dashboard_path))["panels"]
    found = [p for p in panels if p.get("title") == "Firing alerts"]
    if len(found) != 1:
        print(f"check_panel_in_sync: want one 'Firing alerts' panel in {dashboard_path}, found {len(found)}")
        return 1
    exprs = [t["expr"] for t in found[0].get("targets", [])]
    test_text = open(test_path).read()
    missing = [e for e in exprs if f"expr: '{e}'" not in test_text]
    for e in missing:
        print(f"check_panel_in_sync: panel query not unit-tested in {test_path}:\n  {e}")
    if not exprs:
        print("check_panel_in_sync: the Firing alerts panel has no query")
    return 1 if missing or not exprs else 0


if __name__ == "__main__":
    sys.exit(main())
