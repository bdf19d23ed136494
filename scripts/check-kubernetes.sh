#!/usr/bin/env bash
# Checks the Kubernetes manifests in deploy/kubernetes: renders the base and every overlay with `kubectl kustomize`,
# validates every object strictly, and checks that they start `ferry serve` as the binary understands it.
#
#   bash scripts/check-kubernetes.sh [path/to/ferry]        (default: .build/debug/ferry)
#
# - built-in kinds: kubernetes-validate --strict, against the Kubernetes schemas of KUBERNETES_VERSIONS;
# - the ServiceMonitor (a CRD the tool has no schema for: it only warns and exits 0 on such kinds, so a warning
#   fails here): the CRD's own schema in deploy/kubernetes/schemas/, made strict, plus what it must mean for Ferry;
# - every ferry flag in args and FERRY_* env var must be in `ferry serve --help`; selectors, ports, probes,
#   securityContext and the Dockerfile's UID must agree;
# - the binary is started with each render's args (loopback, temp folder, SQLite) and must become ready.
# Details: scripts/check_kubernetes.py. kubernetes-validate is installed into $KUBE_VALIDATE_VENV when missing.
# Needs kubectl (for kustomize) and python3 with venv; touches nothing outside that venv and temp folders.
set -euo pipefail
cd "$(dirname "$0")/.."

FERRY="${1:-.build/debug/ferry}"
KUBE_VALIDATE_VERSION=1.37.0            # exact pin; `pip index versions kubernetes-validate` lists others
KUBERNETES_VERSIONS=(1.31.0 1.37.0)     # oldest Kubernetes the manifests are meant for, and the tool's newest
KUBE_VALIDATE_VENV="${KUBE_VALIDATE_VENV:-.venv-kubernetes}"
RENDERS=(base=deploy/kubernetes/base)
for overlay in deploy/kubernetes/overlays/*/; do
  RENDERS+=("$(basename "$overlay")=${overlay%/}")
done

die() { echo "FAIL: $*" >&2; exit 1; }
start=$(date +%s)

echo "== prerequisites"
[ -x "$FERRY" ] || die "no ferry binary at $FERRY (build it, or pass its path as the first argument)"
command -v kubectl >/dev/null || die "kubectl is not installed: it renders the kustomizations (kubectl kustomize)"
command -v python3 >/dev/null || die "python3 is not installed"
echo "ferry:   $FERRY"
echo "kubectl: $(kubectl version --client 2>/dev/null | tr '\n' ' ')"

echo "== kubernetes-validate $KUBE_VALIDATE_VERSION in $KUBE_VALIDATE_VENV"
installed=$("$KUBE_VALIDATE_VENV/bin/kubernetes-validate" --version 2>/dev/null || true)
if [ "$installed" != "$KUBE_VALIDATE_VERSION" ]; then
  echo "installing (found: ${installed:-none})"
  rm -rf "$KUBE_VALIDATE_VENV"
  python3 -m venv "$KUBE_VALIDATE_VENV" || die "python3 -m venv failed (Debian: apt-get install python3-venv)"
  "$KUBE_VALIDATE_VENV/bin/pip" install --quiet --disable-pip-version-check "kubernetes-validate==$KUBE_VALIDATE_VERSION" \
    || die "pip install kubernetes-validate==$KUBE_VALIDATE_VERSION failed"
  installed=$("$KUBE_VALIDATE_VENV/bin/kubernetes-validate" --version)
  [ "$installed" = "$KUBE_VALIDATE_VERSION" ] || die "kubernetes-validate reports version $installed, not $KUBE_VALIDATE_VERSION"
fi
echo "kubernetes-validate $installed; Kubernetes schemas: ${KUBERNETES_VERSIONS[*]}"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "== render (kubectl kustomize)"
args=()
for render in "${RENDERS[@]}"; do
  name=${render%%=*} dir=${render#*=}
  kubectl kustomize "$dir" > "$tmp/$name.yaml" || die "kubectl kustomize $dir failed"
  echo "$dir: $(grep -c '^kind:' "$tmp/$name.yaml") objects: $(grep '^kind:' "$tmp/$name.yaml" | awk '{print $2}' | sort | tr '\n' ' ')"
  args+=("$name=$tmp/$name.yaml")
done

echo "== checks"
versions=()
for v in "${KUBERNETES_VERSIONS[@]}"; do versions+=(--kube-version "$v"); done
"$KUBE_VALIDATE_VENV/bin/python" scripts/check_kubernetes.py \
  --ferry "$FERRY" "${versions[@]}" "${args[@]}" || die "Kubernetes manifest checks failed (see FAIL lines above)"

echo "PASS: Kubernetes manifests (${RENDERS[*]%%=*}; kubernetes-validate $KUBE_VALIDATE_VERSION --strict, schemas ${KUBERNETES_VERSIONS[*]}) in $(( $(date +%s) - start )) s"
