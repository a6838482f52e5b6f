#!/usr/bin/env python3
# Checks deploy/k8s/ without a cluster: valid YAML, probes/limits/hardening on every container,
# Service and PodDisruptionBudget selectors that match pod labels, and the ConfigMap's ringway
# config through `ringway --check-config`. Then breaks copies on purpose to prove it notices.
"""Usage: check_manifests.py BIN_DIR MANIFEST_DIR    (exit 0 pass, 1 fail)"""
import copy
import os
import subprocess
import sys
import tempfile

import yaml

CONFIG_KEY = "ringway.yaml"


def load(manifest_dir):
    docs, problems = [], []
    files = sorted(f for f in os.listdir(manifest_dir) if f.endswith((".yaml", ".yml")))
    if not files:
        problems.append(f"{manifest_dir}: no manifests")
    for name in files:
        path = os.path.join(manifest_dir, name)
        try:
            with open(path, encoding="utf-8") as f:
                for doc in yaml.safe_load_all(f):
                    if doc is not None:
                        docs.append((name, doc))
        except yaml.YAMLError as e:
            problems.append(f"{name}: invalid YAML: {e}")
    return docs, problems


def matches(selector, labels):
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def port_names(container):
    names = set()
    for p in container.get("ports", []):
        names.add(p["containerPort"])
        if "name" in p:
            names.add(p["name"])
    return names


def check_container(where, c, init, problems):
    ports = port_names(c)
    if not init:
        for probe in ("livenessProbe", "readinessProbe"):
            pr = c.get(probe)
            if not pr or "httpGet" not in pr:
                problems.append(f"{where}: no {probe} (httpGet)")
            elif pr["httpGet"].get("port") not in ports:
                problems.append(f"{where}: {probe} port {pr['httpGet'].get('port')!r} is not a container port")
        pre = c.get("lifecycle", {}).get("preStop")
        if not pre:
            problems.append(f"{where}: no preStop hook (drain)")
    res = c.get("resources", {})
    for kind in ("requests", "limits"):
        for r in ("cpu", "memory"):
            if r not in res.get(kind, {}):
                problems.append(f"{where}: no resources.{kind}.{r}")
    sc = c.get("securityContext", {})
    if sc.get("allowPrivilegeEscalation") is not False:
        problems.append(f"{where}: allowPrivilegeEscalation is not false")
    if sc.get("readOnlyRootFilesystem") is not True:
        problems.append(f"{where}: readOnlyRootFilesystem is not true")
    if "ALL" not in sc.get("capabilities", {}).get("drop", []):
        problems.append(f"{where}: capabilities do not drop ALL")


def prestop_seconds(c):
    cmd = c.get("lifecycle", {}).get("preStop", {}).get("exec", {}).get("command", [])
    return int(cmd[1]) if len(cmd) == 2 and cmd[0] == "sleep" and cmd[1].isdigit() else 0


def check(docs, bin_dir):
    """Returns the list of problems found in the parsed manifests (empty = pass)."""
    problems = []
    by_kind = {}
    for name, d in docs:
        if not isinstance(d, dict) or not {"apiVersion", "kind", "metadata"} <= d.keys():
            problems.append(f"{name}: a document without apiVersion/kind/metadata")
            continue
        if d["kind"] != "Namespace" and d["metadata"].get("namespace") != "ringway":
            problems.append(f"{name}: {d['kind']} {d['metadata'].get('name')} is not in namespace ringway")
        by_kind.setdefault(d["kind"], []).append((name, d))
    for kind in ("Deployment", "Service", "ConfigMap", "PodDisruptionBudget"):
        if kind not in by_kind:
            problems.append(f"no {kind}")
    deployments = {d["metadata"]["name"]: d for _, d in by_kind.get("Deployment", [])}
    for want in ("ringway", "service1", "service2"):
        if want not in deployments:
            problems.append(f"no Deployment {want}")

    pods = {}  # deployment name -> (labels, containers)
    for name, d in by_kind.get("Deployment", []):
        dn = d["metadata"]["name"]
        spec = d["spec"]
        tmpl = spec["template"]
        labels = tmpl["metadata"].get("labels", {})
        if not matches(spec["selector"].get("matchLabels", {}), labels):
            problems.append(f"{name}: Deployment {dn}: selector does not match its pod labels")
        psc = tmpl["spec"].get("securityContext", {})
        if psc.get("runAsNonRoot") is not True:
            problems.append(f"{name}: Deployment {dn}: runAsNonRoot is not true")
        if psc.get("seccompProfile", {}).get("type") != "RuntimeDefault":
            problems.append(f"{name}: Deployment {dn}: seccompProfile is not RuntimeDefault")
        containers = tmpl["spec"].get("containers", [])
        if not containers:
            problems.append(f"{name}: Deployment {dn}: no containers")
        grace = tmpl["spec"].get("terminationGracePeriodSeconds", 30)
        for c in containers:
            check_container(f"{name}: {dn}/{c.get('name')}", c, False, problems)
            if prestop_seconds(c) and grace <= prestop_seconds(c) + 10:
                problems.append(f"{name}: {dn}/{c['name']}: terminationGracePeriodSeconds {grace} leaves no "
                                f"time to drain after the {prestop_seconds(c)} s preStop sleep")
        for c in tmpl["spec"].get("initContainers", []):
            check_container(f"{name}: {dn}/{c.get('name')} (init)", c, True, problems)
        pods[dn] = (labels, containers, spec.get("replicas", 1), tmpl["spec"])

    services = {}
    for name, d in by_kind.get("Service", []):
        sn, spec = d["metadata"]["name"], d["spec"]
        hits = [dn for dn, (labels, _, _, _) in pods.items() if matches(spec.get("selector", {}), labels)]
        if not hits:
            problems.append(f"{name}: Service {sn}: selector {spec.get('selector')} matches no pod labels")
        for p in spec.get("ports", []):
            target = p.get("targetPort", p.get("port"))
            if hits and not any(target in port_names(c) for dn in hits for c in pods[dn][1]):
                problems.append(f"{name}: Service {sn}: targetPort {target!r} is no port of its pods")
        services[sn] = spec

    for name, d in by_kind.get("PodDisruptionBudget", []):
        pn, spec = d["metadata"]["name"], d["spec"]
        hits = [dn for dn, (labels, _, _, _) in pods.items()
                if matches(spec.get("selector", {}).get("matchLabels", {}), labels)]
        if not hits:
            problems.append(f"{name}: PodDisruptionBudget {pn}: selector matches no pod labels")
        for dn in hits:
            if isinstance(spec.get("minAvailable"), int) and spec["minAvailable"] >= pods[dn][2]:
                problems.append(f"{name}: PodDisruptionBudget {pn}: minAvailable {spec['minAvailable']} "
                                f">= {pods[dn][2]} replicas of {dn}: a node drain could never evict them")

    # The ConfigMap: a config ringway accepts, mounted where ringway reads it, naming headless
    # Services on ports they serve.
    cms = {d["metadata"]["name"]: d for _, d in by_kind.get("ConfigMap", [])}
    cm = next((c for c in cms.values() if CONFIG_KEY in c.get("data", {})), None)
    if cm is None:
        problems.append(f"no ConfigMap with a {CONFIG_KEY} key")
        return problems
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", prefix="ringway-k8s-", delete=False) as f:
        f.write(cm["data"][CONFIG_KEY])
        cfg_path = f.name
    try:
        r = subprocess.run([os.path.join(bin_dir, "ringway"), "--check-config", cfg_path],
                           capture_output=True, text=True, timeout=20)
        if r.returncode != 0:
            problems.append(f"ConfigMap {cm['metadata']['name']}: ringway --check-config failed: "
                            f"{(r.stdout + r.stderr).strip()}")
    finally:
        os.unlink(cfg_path)
    try:
        cfg = yaml.safe_load(cm["data"][CONFIG_KEY])
    except yaml.YAMLError:
        return problems  # --check-config already said why
    for up, u in (cfg.get("upstreams") or {}).items():
        for server in u.get("servers", []):
            host, _, port = server.rpartition(":")
            svc = services.get(host.split(".")[0])
            if svc is None:
                problems.append(f"upstream {up}: server {server}: no Service {host}")
            elif svc.get("clusterIP") != "None":
                problems.append(f"upstream {up}: server {server}: Service {host} is not headless "
                                "(its DNS would return one cluster IP, hiding the pods from ringway)")
            elif int(port) not in [p.get("port") for p in svc.get("ports", [])]:
                problems.append(f"upstream {up}: server {server}: Service {host} has no port {port}")
    rw = pods.get("ringway")
    if rw:
        labels, containers, _, pod_spec = rw
        c = next((c for c in containers if c.get("name") == "ringway"), containers[0] if containers else {})
        cmd = c.get("command", []) + c.get("args", [])
        cfg_file = cmd[cmd.index("--config") + 1] if "--config" in cmd[:-1] else None
        vols = {v["name"]: v for v in pod_spec.get("volumes", [])}
        mounted = any(
            vols.get(m["name"], {}).get("configMap", {}).get("name") == cm["metadata"]["name"]
            and cfg_file == os.path.join(m["mountPath"], CONFIG_KEY)
            for m in c.get("volumeMounts", []))
        if not mounted:
            problems.append(f"ringway: --config {cfg_file} is not the ConfigMap's {CONFIG_KEY}")
        admin_port = int(str(cfg.get("admin", {}).get("listen", "127.0.0.1:9901")).rpartition(":")[2])
        if not str(cfg.get("admin", {}).get("listen", "")).startswith("0.0.0.0:"):
            problems.append("ringway: admin.listen must be 0.0.0.0:PORT for kubelet probes")
        ports = {p.get("name"): p["containerPort"] for p in c.get("ports", [])}
        for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
            g = c.get(probe, {}).get("httpGet", {})
            port = ports.get(g.get("port"), g.get("port"))
            if g.get("path") != path or port != admin_port:
                problems.append(f"ringway: {probe} is {g.get('path')}:{port}, expected {path} on admin port {admin_port}")
        drain = str(cfg.get("timeouts", {}).get("drain", "10s"))
        if drain.endswith("s") and not drain.endswith("ms"):
            grace = pod_spec.get("terminationGracePeriodSeconds", 30)
            if grace < prestop_seconds(c) + int(drain[:-1]):
                problems.append(f"ringway: terminationGracePeriodSeconds {grace} < preStop + timeouts.drain")
    return problems


def self_test(docs, bin_dir):
    """Breaks copies of the manifests one way each; every break must be reported."""
    def find(ds, kind, name):
        return next(d for _, d in ds if d["kind"] == kind and d["metadata"]["name"] == name)

    def no_probe(ds):
        del find(ds, "Deployment", "service1")["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]

    def no_limits(ds):
        del find(ds, "Deployment", "service2")["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]

    def bad_selector(ds):
        find(ds, "Service", "service2")["spec"]["selector"] = {"app.kubernetes.io/name": "servce2"}

    def bad_config(ds):
        cm = next(d for _, d in ds if d["kind"] == "ConfigMap")
        cm["data"][CONFIG_KEY] = cm["data"][CONFIG_KEY].replace("balance: p2c", "balance: fastest", 1)

    def not_headless(ds):
        del find(ds, "Service", "service1")["spec"]["clusterIP"]

    breaks = {"readiness probe removed": no_probe, "limits removed": no_limits,
              "Service selector typo": bad_selector, "bad balance in the ConfigMap": bad_config,
              "service1 not headless": not_headless}
    missed = []
    for what, mutate in breaks.items():
        broken = copy.deepcopy(docs)
        mutate(broken)
        found = check(broken, bin_dir)
        if not found:
            missed.append(what)
        else:
            print(f"check_manifests: self-test '{what}' -> {found[0]}")
    return missed


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    bin_dir, manifest_dir = sys.argv[1], sys.argv[2]
    docs, problems = load(manifest_dir)
    if not problems:
        problems = check(docs, bin_dir)
    if problems:
        for p in problems:
            print(f"check_manifests: FAIL: {p}", file=sys.stderr)
        return 1
    kinds = sorted({d["kind"] for _, d in docs})
    print(f"check_manifests: {len(docs)} objects ({', '.join(kinds)}) in {manifest_dir}: ok")
    missed = self_test(docs, bin_dir)
    if missed:
        print(f"check_manifests: FAIL: the checker did not notice: {', '.join(missed)}", file=sys.stderr)
        return 1
    print("check_manifests: PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
