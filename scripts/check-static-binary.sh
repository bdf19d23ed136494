#!/usr/bin/env bash
# What the Dockerfile's run stage relies on, checked without Docker: a release build with the Swift runtime linked
# statically needs only libraries a plain Debian 12 image has (plus libsqlite3-0, which the Dockerfile installs),
# and it serves with the Swift toolchain out of sight. Run as root (it hides /opt/swift in a private mount
# namespace). About 12 minutes cold on 2 cores, so it is not part of CI.
#
#   bash scripts/check-static-binary.sh          # builds into .build-static (git-ignored)
set -euo pipefail
cd "$(dirname "$0")/.."
fail() { echo "STATIC BINARY CHECK FAILED: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || fail "run as root (unshare -m hides the Swift toolchain)"
swift build -c release --static-swift-stdlib --product ferry --build-path .build-static
binary=$(swift build -c release --static-swift-stdlib --build-path .build-static --show-bin-path)/ferry
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$binary" "$work/ferry"

# Only Debian's own libraries: libc, libm, libgcc_s, libstdc++ and zlib are in debian:bookworm-slim; libsqlite3-0
# is the one package the Dockerfile adds.
allowed='^(linux-vdso\.so\.1|libc\.so\.6|libm\.so\.6|libgcc_s\.so\.1|libstdc\+\+\.so\.6|libz\.so\.1|libsqlite3\.so\.0|/lib64/ld-linux-x86-64\.so\.2)$'
others=$(ldd "$work/ferry" | awk '{print $1}' | grep -Ev "$allowed" || true)
[ -z "$others" ] || fail "the binary needs libraries a plain Debian image lacks: $others"
echo "linked against: $(ldd "$work/ferry" | awk '{print $1}' | tr '\n' ' ')"

toolchain=$(dirname "$(dirname "$(dirname "$(readlink -f "$(command -v swift)")")")")
key="fry_staticck_$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')"
unshare -m bash -euo pipefail -c '
  mount -t tmpfs none "$1"
  [ -z "$(ls -A "$1")" ] || exit 3
  FERRY_ADMIN_KEY="$3" "$2/ferry" serve --port 0 --data-dir "$2/data" --example examples/fraud > "$2/serve.log" 2>&1 &
  pid=$!
  port=""
  for _ in $(seq 1 100); do
    port=$(grep -o "serving on http://127.0.0.1:[0-9]*" "$2/serve.log" | grep -o "[0-9]*$" || true)
    [ -n "$port" ] && break
    sleep 0.1
  done
  [ -n "$port" ] || { cat "$2/serve.log"; exit 4; }
  answer=$(curl -sf -H "Authorization: Bearer $3" "http://127.0.0.1:$port/v2/models/fraud/infer" \
    -H "Content-Type: application/json" -d @examples/fraud/request.json)
  echo "with $1 hidden: $answer"
  echo "$answer" | grep -q "\"model_version\":\"1\"" || exit 5
  kill -TERM $pid
  wait $pid
' _ "$toolchain" "$work" "$key" || fail "the binary did not serve with the Swift toolchain ($toolchain) hidden (status $?)"
echo "static binary check passed: Debian libraries only, serves and drains without the Swift toolchain"
