# Helpers shared by the benchmark scripts. Set BENCH_TAG before sourcing; ROOT is the repository root.

log() { printf '[%s] %s\n' "$BENCH_TAG" "$*" >&2; }
die() { printf '\n[%s] ERROR: %s\n' "$BENCH_TAG" "$*" >&2; exit 1; }

as_root() { if [[ $(id -u) -eq 0 ]]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else "$@"; fi; }
APT_UPDATED=0
apt_install() {
  command -v apt-get >/dev/null || die "need to install $* but apt-get is not available"
  if [[ $APT_UPDATED == 0 ]]; then as_root apt-get update -qq; APT_UPDATED=1; fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# setup_venv VENV REQUIREMENTS [MARKER]
# (Re)creates VENV from REQUIREMENTS when the file's sha256 changed or VENV/MARKER (default bin/python) is missing.
setup_venv() {
  local venv="$1" req="$2" marker="${3:-bin/python}" want have
  want="$(sha256sum "$req" | cut -d' ' -f1)"
  have="$(cat "$venv/.requirements.sha256" 2>/dev/null || true)"
  if [[ -x "$venv/$marker" && "$want" == "$have" ]]; then return 0; fi
  log "creating venv at $venv (pip install -r ${req#"$ROOT/"})"
  rm -rf "$venv"
  if ! python3 -m venv "$venv" 2>/dev/null; then
    log "python3 -m venv failed; installing python3-venv (apt)"
    apt_install python3-venv
    rm -rf "$venv"
    python3 -m venv "$venv"
  fi
  "$venv/bin/python" -m pip install -q --upgrade pip || die "pip upgrade failed in $venv"
  "$venv/bin/python" -m pip install -q -r "$req" || die "pip install -r $req failed"
  echo "$want" >"$venv/.requirements.sha256"
}
