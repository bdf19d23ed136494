#!/usr/bin/env python3
"""The checks of scripts/check-kubernetes.sh on manifests rendered by `kubectl kustomize`.

Run by that script inside its venv (kubernetes-validate, and with it PyYAML, jsonschema and referencing):

    check_kubernetes.py --ferry BIN --kube-version 1.31.0 [--kube-version ...] NAME=RENDERED.yaml [...]

For each rendered file:
  1. built-in kinds: `kubernetes-validate --strict -k VERSION` on each; every object must be reported as passed.
     The tool only warns (and exits 0) on a kind it has no schema for, so a warning fails here: a kind that is
     not built in must have its own check in CUSTOM_KINDS below, or the run fails naming it.
  2. ServiceMonitor (a Prometheus Operator CRD the tool does not know): Ferry's own schema of the fields it may
     use (deploy/kubernetes/schemas/servicemonitor.schema.json, made strict: unknown fields rejected; metadata
     against the strict ObjectMeta of the same Kubernetes version), then what it must mean for Ferry: selects the ferry Service, scrapes a named
     port of it at /metrics, and sends a bearer token from a key that exists in a rendered Secret.
  3. `ferry serve` as the manifests start it: every --flag in args and every FERRY_* env var is in
     `ferry serve --help`; every other env var is used as $(VAR) in args and every $(VAR) is defined; every
     ConfigMap/Secret key referenced exists in the render; probes, ports, preStop, securityContext, volumes and
     selectors agree with each other and with the Dockerfile's UID.
  4. start: the binary is started with the rendered args ($(VAR) filled from the ConfigMap, host/port/data-dir
     moved to loopback and a temp folder, SQLite instead of the Secret's database): it must become ready, answer
     /metrics only with a key, and exit 0 on SIGTERM.
Exits 1 naming every failure.
"""

import argparse
import copy
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

import jsonschema
import referencing
import yaml
from kubernetes_validate import utils as kv_utils

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SERVICEMONITOR_SCHEMA = os.path.join(ROOT, "deploy/kubernetes/schemas/servicemonitor.schema.json")
DOCKERFILE = os.path.join(ROOT, "Dockerfile")
# The tool's command-line entry point, from the venv this script runs in.
KUBERNETES_VALIDATE = os.path.join(os.path.dirname(sys.executable), "kubernetes-validate")
OBJECT_META_REF = "https://kubernetes.io/api/_definitions.json#/$defs/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"

failures = []


def fail(where, message):
    failures.append(f"{where}: {message}")
    print(f"  FAIL {where}: {message}")


def ok(message):
    print(f"  ok   {message}")


def name_of(doc):
    return f"{doc.get('kind')}/{doc.get('metadata', {}).get('name')}"


def namespace_of(doc):
    return doc.get("metadata", {}).get("namespace")


# --- 1. built-in kinds: kubernetes-validate --strict -------------------------------------------------------------

def validate_builtin(label, docs, versions, tmpdir):
    path = os.path.join(tmpdir, f"{label}-builtin.yaml")
    with open(path, "w") as f:
        yaml.safe_dump_all(docs, f, sort_keys=False)
    for version in versions:
        cmd = [KUBERNETES_VALIDATE, "--strict", "--kubernetes-version", version, path]
        run = subprocess.run(cmd, capture_output=True, text=True)
        out = (run.stdout + run.stderr).splitlines()
        passed = [line for line in out if line.startswith("INFO ") and " passed for resource " in line]
        problems = [line for line in out if not line.startswith("INFO ")]
        where = f"{label} kubernetes-validate --strict -k {version}"
        if run.returncode != 0 or problems or len(passed) != len(docs):
            fail(where, f"exit {run.returncode}, {len(passed)}/{len(docs)} objects passed")
            for line in problems or out:
                print(f"         {line}")
            continue
        kinds = ", ".join(sorted(name_of(d) for d in docs))
        ok(f"{where}: {len(passed)}/{len(docs)} objects passed ({kinds})")


def self_test_validator(docs, version, tmpdir):
    """The pinned tool must reject an unknown field in --strict mode, or step 1 proves nothing."""
    deployment = next((d for d in docs if d.get("kind") == "Deployment"), None)
    if deployment is None:
        return
    bad = copy.deepcopy(deployment)
    bad["spec"]["template"]["spec"]["containers"][0]["imagePullPolicyy"] = "IfNotPresent"
    path = os.path.join(tmpdir, "self-test.yaml")
    with open(path, "w") as f:
        yaml.safe_dump(bad, f)
    run = subprocess.run([KUBERNETES_VALIDATE, "--strict", "--kubernetes-version", version, path],
                         capture_output=True, text=True)
    if run.returncode == 0 or "ERROR" not in run.stdout:
        fail("self-test", "kubernetes-validate --strict accepted a Deployment with an unknown field")
    else:
        ok(f"self-test: kubernetes-validate --strict -k {version} rejects an unknown container field")


# --- 2. ServiceMonitor -------------------------------------------------------------------------------------------

def strict_crd_schema(node):
    """Rejects unknown fields, as the API server's pruning would drop them silently."""
    if isinstance(node, dict):
        if ("properties" in node and "additionalProperties" not in node
                and not node.get("x-kubernetes-preserve-unknown-fields")):
            node["additionalProperties"] = False
        for value in node.values():
            strict_crd_schema(value)
    elif isinstance(node, list):
        for value in node:
            strict_crd_schema(value)
    return node


def servicemonitor_validator(version):
    with open(SERVICEMONITOR_SCHEMA) as f:
        schema = json.load(f)
    schema.pop("$comment", None)
    schema = strict_crd_schema(schema)
    schema["properties"]["metadata"] = {"$ref": OBJECT_META_REF}
    schema["properties"]["apiVersion"] = {"const": "monitoring.coreos.com/v1"}
    schema["properties"]["kind"] = {"const": "ServiceMonitor"}
    schema["required"] = sorted(set(schema.get("required", [])) | {"apiVersion", "kind", "metadata", "spec"})
    definitions = kv_utils.schema_contents(f"kubernetes-json-schema/v{version}-local-strict/_definitions.json", version)
    registry = referencing.Resource.from_contents(definitions) @ referencing.Registry()
    return jsonschema.Draft202012Validator(schema, registry=registry)


def secret_keys(docs, name, namespace):
    for d in docs:
        if d.get("kind") == "Secret" and d["metadata"]["name"] == name and namespace_of(d) == namespace:
            return set(d.get("data", {}) or {}) | set(d.get("stringData", {}) or {})
    return None


def check_servicemonitor(label, sm, docs, versions):
    where = f"{label} {name_of(sm)}"
    for version in versions:
        validator = servicemonitor_validator(version)
        errors = sorted(validator.iter_errors(sm), key=lambda e: list(e.path))
        for e in errors:
            fail(f"{where} (ServiceMonitor schema, metadata at {version})", f"{'.'.join(map(str, e.path)) or '<root>'}: {e.message}")
        if not errors:
            ok(f"{where}: valid against Ferry's ServiceMonitor schema (strict; ObjectMeta of {version})")
        bad = copy.deepcopy(sm)
        bad["spec"]["endpoints"][0]["bearerTokenSecrett"] = {"name": "x", "key": "y"}
        if validator.is_valid(bad):
            fail(f"{where} self-test", "the strict ServiceMonitor schema accepted an unknown endpoint field")

    ns = namespace_of(sm)
    spec = sm.get("spec", {})
    selector = spec.get("selector", {}).get("matchLabels", {})
    if spec.get("selector", {}).get("matchExpressions"):
        fail(where, "matchExpressions are not checked here; select the Service with matchLabels")
    ns_selector = spec.get("namespaceSelector")
    if ns_selector and not ns_selector.get("any") and ns not in (ns_selector.get("matchNames") or []):
        fail(where, f"namespaceSelector {ns_selector} does not include its own namespace {ns!r}")
    services = [d for d in docs if d.get("kind") == "Service" and namespace_of(d) == ns and selector
                and all(d["metadata"].get("labels", {}).get(k) == v for k, v in selector.items())]
    if not services:
        fail(where, f"selector {selector} matches no rendered Service in namespace {ns!r}")
        return
    ok(f"{where}: selects {', '.join(name_of(s) for s in services)}")
    port_names = {p.get("name") for s in services for p in s["spec"].get("ports", [])}
    endpoints = spec.get("endpoints") or []
    if not endpoints:
        fail(where, "no endpoints")
    for i, ep in enumerate(endpoints):
        at = f"{where} endpoints[{i}]"
        if ep.get("port") not in port_names:
            fail(at, f"port {ep.get('port')!r} is not a named port of the Service ({sorted(port_names)})")
        if ep.get("path") != "/metrics":
            fail(at, f"path {ep.get('path')!r}, expected /metrics")
        auth = ep.get("authorization")
        if auth is not None:
            if auth.get("type", "Bearer").lower() != "bearer":
                fail(at, f"authorization type {auth.get('type')!r}: Ferry takes a bearer token")
            ref = auth.get("credentials") or {}
        else:
            ref = ep.get("bearerTokenSecret") or {}
        if not ref:
            fail(at, "no authorization.credentials (or bearerTokenSecret): /metrics needs an API key")
            continue
        keys = secret_keys(docs, ref.get("name"), ns)
        if keys is None:
            fail(at, f"token Secret {ref.get('name')!r} is not in the render (namespace {ns!r})")
        elif ref.get("key") not in keys:
            fail(at, f"Secret {ref.get('name')!r} has no key {ref.get('key')!r} ({sorted(keys)})")
        else:
            ok(f"{at}: scrapes port {ep.get('port')} {ep.get('path')} with the bearer token "
               f"{ref['name']}/{ref['key']}")


CUSTOM_KINDS = {("monitoring.coreos.com/v1", "ServiceMonitor"): check_servicemonitor}


# --- 3. ferry serve as the manifests start it --------------------------------------------------------------------

def serve_help(ferry):
    run = subprocess.run([ferry, "serve", "--help"], capture_output=True, text=True)
    text = run.stdout + run.stderr
    flags = set(re.findall(r"^  (?:-\w, )?(--[a-z0-9][a-z0-9-]*)", text, re.M))
    if run.returncode != 0 or "--data-dir" not in flags:
        sys.exit(f"FAIL: `{ferry} serve --help` did not list its flags (exit {run.returncode}):\n{text}")
    return text, flags


def ferry_containers(docs):
    for d in docs:
        spec = d.get("spec", {}).get("template", {}).get("spec")
        if not spec:
            continue
        for c in spec.get("containers", []):
            if os.path.basename((c.get("command") or [""])[0]) == "ferry" or c.get("name") == "ferry":
                yield d, spec, c


def flag_value(args, flag):
    for i, a in enumerate(args):
        if a == flag and i + 1 < len(args):
            return args[i + 1]
        if a.startswith(flag + "="):
            return a.split("=", 1)[1]
    return None


def dockerfile_uid():
    with open(DOCKERFILE) as f:
        m = re.search(r"^ARG FERRY_UID=(\d+)", f.read(), re.M)
    return int(m.group(1)) if m else None


def matches(selector, labels):
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def check_ferry(label, docs, help_text, help_flags):
    containers = list(ferry_containers(docs))
    if not containers:
        fail(label, "no container runs ferry")
    for owner, pod, c in containers:
        where = f"{label} {name_of(owner)} container {c['name']}"
        ns = namespace_of(owner)
        if c.get("command") != ["ferry"]:
            fail(where, f"command {c.get('command')!r}, expected ['ferry'] (the image's binary)")
        args = c.get("args") or []
        if args[:1] != ["serve"]:
            fail(where, f"args start {args[:1]!r}, expected 'serve'")
        flags = [a.split("=", 1)[0] for a in args if a.startswith("--")]
        unknown = [f for f in flags if f not in help_flags]
        if unknown:
            fail(where, f"flags not in `ferry serve --help`: {unknown}")
        else:
            ok(f"{where}: all {len(flags)} flags are in `ferry serve --help` ({' '.join(flags)})")

        env = c.get("env") or []
        names = [e["name"] for e in env]
        used = set(re.findall(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", " ".join(args + (c.get("command") or []))))
        ferry_env = [n for n in names if n.startswith("FERRY_")]
        for n in ferry_env:
            if not re.search(rf"\b{re.escape(n)}\b", help_text):
                fail(where, f"env {n} is not named in `ferry serve --help`")
        for n in names:
            if not n.startswith("FERRY_") and n not in used:
                fail(where, f"env {n} is neither read by ferry (FERRY_*) nor used as $({n}) in args")
        for n in sorted(used - set(names)):
            fail(where, f"args use $({n}) but no env {n} is defined: Kubernetes would pass it literally")
        if c.get("envFrom"):
            fail(where, "envFrom is not checked here; list the variables under env")
        ok(f"{where}: FERRY_* env in `ferry serve --help` ({', '.join(ferry_env) or 'none'}); "
           f"args use {', '.join(f'$({n})' for n in sorted(used)) or 'no $(VAR)'}")

        for e in env:
            source = e.get("valueFrom") or {}
            for kind, field in (("ConfigMap", "configMapKeyRef"), ("Secret", "secretKeyRef")):
                ref = source.get(field)
                if not ref:
                    continue
                obj = next((d for d in docs if d.get("kind") == kind and d["metadata"]["name"] == ref["name"]
                            and namespace_of(d) == ns), None)
                keys = None if obj is None else set(obj.get("data", {}) or {}) | set(obj.get("stringData", {}) or {})
                if keys is None:
                    fail(where, f"env {e['name']}: {kind} {ref['name']!r} is not in the render")
                elif ref["key"] not in keys and not ref.get("optional"):
                    fail(where, f"env {e['name']}: {kind} {ref['name']!r} has no key {ref['key']!r}")
        ok(f"{where}: every configMapKeyRef/secretKeyRef names a rendered object and key")

        # Ports, probes, preStop.
        port = flag_value(args, "--port")
        ports = {p.get("name"): p.get("containerPort") for p in c.get("ports", [])}
        if str(ports.get("http")) != str(port):
            fail(where, f"--port {port} but the container port named http is {ports.get('http')}")
        for probe, path in (("readinessProbe", "/v2/health/ready"), ("livenessProbe", "/v2/health/live")):
            get = (c.get(probe) or {}).get("httpGet") or {}
            probe_port = ports.get(get.get("port"), get.get("port"))
            if get.get("path") != path or str(probe_port) != str(port):
                fail(where, f"{probe} is {get}, expected GET {path} on port {port}")
        grace = pod.get("terminationGracePeriodSeconds", 30)
        pre = (((c.get("lifecycle") or {}).get("preStop") or {}).get("exec") or {}).get("command") or []
        if len(pre) != 2 or pre[0] != "sleep" or not pre[1].isdigit():
            fail(where, f"preStop is {pre!r}, expected ['sleep', N]")
        elif int(pre[1]) + 15 > grace:
            fail(where, f"preStop sleeps {pre[1]} s but terminationGracePeriodSeconds is {grace}: no time to drain")
        else:
            ok(f"{where}: probes on :{port} (ready/live), preStop sleep {pre[1]} s < grace {grace} s")

        # Security context (pod-level values count where the container does not set them).
        psc, csc = pod.get("securityContext") or {}, c.get("securityContext") or {}
        uid = csc.get("runAsUser", psc.get("runAsUser"))
        checks = {
            "runAsNonRoot": csc.get("runAsNonRoot", psc.get("runAsNonRoot")) is True,
            "runAsUser non-zero": isinstance(uid, int) and uid > 0,
            "runAsUser = Dockerfile FERRY_UID": uid == dockerfile_uid(),
            "readOnlyRootFilesystem": csc.get("readOnlyRootFilesystem") is True,
            "allowPrivilegeEscalation false": csc.get("allowPrivilegeEscalation") is False,
            "capabilities drop ALL": "ALL" in ((csc.get("capabilities") or {}).get("drop") or []),
            "seccomp RuntimeDefault": (csc.get("seccompProfile") or psc.get("seccompProfile") or {}).get("type")
            == "RuntimeDefault",
        }
        bad = [k for k, v in checks.items() if not v]
        if bad:
            fail(where, f"securityContext lacks: {bad} (runAsUser {uid}, Dockerfile {dockerfile_uid()})")
        else:
            ok(f"{where}: securityContext {', '.join(checks)} (UID {uid})")

        mounts = {m["mountPath"]: m["name"] for m in c.get("volumeMounts", [])}
        volumes = {v["name"] for v in pod.get("volumes", [])}
        data_dir = flag_value(args, "--data-dir")
        for path in (data_dir, "/tmp"):
            if mounts.get(path) not in volumes:
                fail(where, f"{path} is not a mounted volume (read-only root filesystem)")
        if c.get("resources", {}).get("requests") is None or c.get("resources", {}).get("limits") is None:
            fail(where, "resources need requests and limits")

        # Everything that selects the pods must select these pods.
        pod_labels = owner["spec"]["template"]["metadata"].get("labels", {})
        if not matches(owner["spec"].get("selector", {}).get("matchLabels"), pod_labels):
            fail(where, "the Deployment's selector does not match its pod labels")
        for d in docs:
            if namespace_of(d) != ns:
                continue
            kind = d.get("kind")
            selector = {"Service": lambda s: s.get("selector"),
                        "PodDisruptionBudget": lambda s: s.get("selector", {}).get("matchLabels"),
                        "NetworkPolicy": lambda s: s.get("podSelector", {}).get("matchLabels")}.get(kind)
            if selector and not matches(selector(d.get("spec", {})), pod_labels):
                fail(where, f"{name_of(d)} does not select the ferry pods")
            if kind == "Service":
                for p in d["spec"].get("ports", []):
                    if ports.get(p.get("targetPort"), p.get("targetPort")) not in ports.values():
                        fail(where, f"{name_of(d)} port {p.get('name')} targets {p.get('targetPort')!r}, not a container port")
            if kind == "HorizontalPodAutoscaler":
                target = d["spec"]["scaleTargetRef"]
                if (target.get("kind"), target.get("name")) != (owner["kind"], owner["metadata"]["name"]):
                    fail(where, f"{name_of(d)} scales {target}, not this {name_of(owner)}")
            if kind == "NetworkPolicy":
                ingress_ports = {str(p.get("port")) for r in d["spec"].get("ingress", []) for p in r.get("ports", [])}
                if str(port) not in ingress_ports:
                    fail(where, f"{name_of(d)} does not let port {port} in")
        ok(f"{where}: Service, PDB, NetworkPolicy and HPA select/target these pods; /data and /tmp are volumes")


# --- 4. start the binary with the rendered args ------------------------------------------------------------------

def set_flag(args, flag, value):
    out, i = [], 0
    while i < len(args):
        if args[i] == flag:
            i += 2
            continue
        if not args[i].startswith(flag + "="):
            out.append(args[i])
        i += 1
    return out + [flag, value]


def http_get(url, key=None, timeout=2):
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {key}"} if key else {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as r:
            return r.status, r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, ""


def start_check(label, docs, ferry):
    for owner, pod, c in ferry_containers(docs):
        where = f"{label} start"
        ns = namespace_of(owner)
        config = {}
        for e in c.get("env") or []:
            ref = (e.get("valueFrom") or {}).get("configMapKeyRef")
            if ref:
                cm = next((d for d in docs if d.get("kind") == "ConfigMap" and d["metadata"]["name"] == ref["name"]
                           and namespace_of(d) == ns), {})
                if ref["key"] in (cm.get("data") or {}):
                    config[e["name"]] = str(cm["data"][ref["key"]])
            elif "value" in e:
                config[e["name"]] = str(e["value"])
        missing = [e["name"] for e in c.get("env") or []
                   if (e.get("valueFrom") or {}).get("configMapKeyRef") and e["name"] not in config]
        if missing:
            fail(where, f"not started: no ConfigMap value for {missing}")
            continue
        args = [re.sub(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", lambda m: config.get(m.group(1), m.group(0)), a)
                for a in c.get("args") or []]
        with tempfile.TemporaryDirectory(prefix="ferry-k8s-check-") as data:
            args = set_flag(set_flag(set_flag(args, "--host", "127.0.0.1"), "--port", "0"), "--data-dir", data)
            env = {k: v for k, v in os.environ.items() if not k.startswith("FERRY_")}
            admin_key = "k8s-check-" + secrets.token_hex(16)
            env["FERRY_ADMIN_KEY"] = admin_key  # the Secret's database URL is not used: SQLite in the temp folder
            proc = subprocess.Popen([ferry] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
            lines, base = [], []

            def read(stream):
                for line in stream:
                    lines.append(line.rstrip("\n"))
                    m = re.search(r"is serving on (https?://\S+)", line)
                    if m:
                        base.append(m.group(1))

            readers = [threading.Thread(target=read, args=(s,), daemon=True) for s in (proc.stdout, proc.stderr)]
            for t in readers:
                t.start()
            try:
                deadline = time.monotonic() + 30
                ready = False
                while time.monotonic() < deadline and proc.poll() is None:
                    if base and http_get(base[0] + "/v2/health/ready")[0] == 200:
                        ready = True
                        break
                    time.sleep(0.1)
                if not ready:
                    fail(where, f"ferry {' '.join(args)} did not become ready (exit {proc.poll()})")
                    for line in lines[-20:]:
                        print(f"         {line}")
                    continue
                live = http_get(base[0] + "/v2/health/live")[0]
                anonymous = http_get(base[0] + "/metrics")[0]
                keyed, body = http_get(base[0] + "/metrics", admin_key)
                if live != 200 or anonymous != 401 or keyed != 200 or "# TYPE" not in body:
                    fail(where, f"/v2/health/live {live}, /metrics without key {anonymous}, with key {keyed}")
                sent = time.monotonic()
                proc.send_signal(signal.SIGTERM)
                try:
                    code = proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    fail(where, "ferry did not exit within 15 s of SIGTERM")
                    continue
                if code != 0:
                    fail(where, f"ferry exited {code} on SIGTERM")
                else:
                    ok(f"{where}: `ferry {' '.join(args[:1] + [a for a in args[1:] if a != data])} <tmp>` "
                       f"became ready; /metrics 401 without a key, 200 with one; SIGTERM -> exit 0 in "
                       f"{time.monotonic() - sent:.1f} s")
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()


# --- main ----------------------------------------------------------------------------------------------------------

def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ferry", required=True)
    parser.add_argument("--kube-version", action="append", required=True)
    parser.add_argument("--no-start", action="store_true", help="skip step 4 (starting the binary)")
    parser.add_argument("renders", nargs="+", metavar="NAME=FILE")
    opts = parser.parse_args()

    help_text, help_flags = serve_help(opts.ferry)
    print(f"ferry serve --help: {len(help_flags)} flags")
    with tempfile.TemporaryDirectory(prefix="ferry-k8s-validate-") as tmpdir:
        for i, render in enumerate(opts.renders):
            label, path = render.split("=", 1)
            with open(path) as f:
                docs = [d for d in yaml.safe_load_all(f) if d]
            print(f"== {label}: {len(docs)} objects ({path})")
            for d in docs:
                if not (d.get("apiVersion") and d.get("kind") and d.get("metadata", {}).get("name")):
                    fail(label, f"object without apiVersion/kind/metadata.name: {str(d)[:100]}")
            builtin = [d for d in docs if (d.get("apiVersion"), d.get("kind")) not in CUSTOM_KINDS]
            custom = [d for d in docs if (d.get("apiVersion"), d.get("kind")) in CUSTOM_KINDS]
            if i == 0:
                self_test_validator(builtin, opts.kube_version[0], tmpdir)
            validate_builtin(label, builtin, opts.kube_version, tmpdir)
            for d in custom:
                CUSTOM_KINDS[(d["apiVersion"], d["kind"])](label, d, docs, opts.kube_version)
            check_ferry(label, docs, help_text, help_flags)
            if not opts.no_start:
                start_check(label, docs, opts.ferry)
    if failures:
        print(f"\n{len(failures)} check(s) failed:")
        for f in failures:
            print(f"  - {f}")
        sys.exit(1)


if __name__ == "__main__":
    main()
