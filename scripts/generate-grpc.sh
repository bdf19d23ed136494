#!/usr/bin/env bash
# Regenerates the committed gRPC code for the Open Inference Protocol from Protos/grpc_predict_v2.proto:
#
#   Sources/FerryGRPC/Generated/grpc_predict_v2.pb.swift     messages (protoc-gen-swift, swift-protobuf)
#   Sources/FerryGRPC/Generated/grpc_predict_v2.grpc.swift   service, server and client (protoc-gen-grpc-swift-2)
#
# Nothing is generated at build time or in CI: the output is plain Swift that needs only the runtime libraries
# (GRPCCore, GRPCProtobuf, SwiftProtobuf). Run this after editing the proto or moving the pins below, then commit.
#
# The two protoc plugins are built from source in a scratch package outside the repo, at exactly the versions
# Package.swift resolves for the runtime (a generator must not be newer than its runtime). protoc itself comes from
# Debian (`apt-get install protobuf-compiler`, 3.21.x). Idempotent: a second run rewrites nothing.
#
#   bash scripts/generate-grpc.sh            # regenerate (plugins are cached in $FERRY_GRPCGEN_DIR)
#   bash scripts/generate-grpc.sh --check    # exit 1 if the committed files differ from fresh output
#
# FERRY_GRPCGEN_DIR (default ${TMPDIR:-/tmp}/ferry-grpcgen) holds the scratch package and its build.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

# Keep these equal to the runtime pins in Package.swift.
GRPC_SWIFT_2=2.4.3
GRPC_SWIFT_PROTOBUF=2.4.1
SWIFT_PROTOBUF=1.39.0

proto_dir=Protos
proto=grpc_predict_v2.proto
out_dir=Sources/FerryGRPC/Generated
options="Visibility=Package,FileNaming=DropPath"
grpc_options="$options,Server=true,Client=true"

check=false
case "${1:-}" in
  "") ;;
  --check) check=true ;;
  *) echo "usage: $0 [--check]" >&2; exit 2 ;;
esac

fail() { echo "generate-grpc: $*" >&2; exit 1; }
command -v protoc > /dev/null || fail "protoc not found: apt-get install -y protobuf-compiler"
command -v swift > /dev/null || fail "swift not found"
echo "protoc: $(protoc --version)"

# 1. The scratch package that pins the generators.
scratch=${FERRY_GRPCGEN_DIR:-${TMPDIR:-/tmp}/ferry-grpcgen}
mkdir -p "$scratch/Sources/Placeholder"
manifest=$(cat <<EOF
// swift-tools-version:6.1
// Written by scripts/generate-grpc.sh in Ferry: builds the protoc plugins at the runtime's versions.
import PackageDescription

let package = Package(
    name: "ferry-grpcgen",
    dependencies: [
        .package(url: "https://github.com/grpc/grpc-swift-2.git", exact: "$GRPC_SWIFT_2"),
        .package(url: "https://github.com/grpc/grpc-swift-protobuf.git", exact: "$GRPC_SWIFT_PROTOBUF"),
        .package(url: "https://github.com/apple/swift-protobuf.git", exact: "$SWIFT_PROTOBUF"),
    ],
    targets: [
        // Only here so that the three packages are part of the graph; never built.
        .target(
            name: "Placeholder",
            dependencies: [
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ]
        ),
    ]
)
EOF
)
# Rewrite only on change, so that SwiftPM keeps its cached build.
if [ "$(cat "$scratch/Package.swift" 2> /dev/null)" != "$manifest" ]; then
  printf '%s\n' "$manifest" > "$scratch/Package.swift"
fi
[ -f "$scratch/Sources/Placeholder/Placeholder.swift" ] || echo "// Intentionally empty." > "$scratch/Sources/Placeholder/Placeholder.swift"

# 2. Build both plugins in release (about 2.5 minutes cold on 2 cores, a few seconds when cached).
echo "building protoc-gen-swift $SWIFT_PROTOBUF and protoc-gen-grpc-swift-2 $GRPC_SWIFT_PROTOBUF (grpc-swift-2 $GRPC_SWIFT_2) in $scratch"
# Always from inside the scratch package: SwiftPM may replan (and recompile) when the same package is built from
# another working directory.
spm() { (cd "$scratch" && swift "$@"); }
for product in protoc-gen-swift protoc-gen-grpc-swift-2; do
  spm build -c release --product "$product" > "$scratch/build-$product.log" 2>&1 \
    || { tail -n 40 "$scratch/build-$product.log" >&2; fail "building $product failed (log: $scratch/build-$product.log)"; }
done
bin=$(spm build -c release --show-bin-path)
for product in protoc-gen-swift protoc-gen-grpc-swift-2; do
  [ -x "$bin/$product" ] || fail "$bin/$product missing after the build"
done
# The resolved versions must be the pins (the mirror could in principle resolve something else).
resolved=$(spm package show-dependencies --format json 2> /dev/null)
for pin in "grpc-swift-2:$GRPC_SWIFT_2" "grpc-swift-protobuf:$GRPC_SWIFT_PROTOBUF" "swift-protobuf:$SWIFT_PROTOBUF"; do
  name=${pin%%:*} version=${pin#*:}
  got=$(printf '%s' "$resolved" | python3 -c 'import json,sys
def walk(d):
    for x in d.get("dependencies", []):
        if x["identity"] == sys.argv[1]: print(x["version"]); sys.exit(0)
        walk(x)
walk(json.load(sys.stdin))' "$name")
  [ "$got" = "$version" ] || fail "$name resolved to '$got', expected $version"
done

# 3. Generate into a temporary folder, then replace only what changed.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
protoc \
  --plugin=protoc-gen-swift="$bin/protoc-gen-swift" \
  --plugin=protoc-gen-grpc-swift-2="$bin/protoc-gen-grpc-swift-2" \
  --proto_path="$proto_dir" \
  --swift_out="$tmp" --swift_opt="$options" \
  --grpc-swift-2_out="$tmp" --grpc-swift-2_opt="$grpc_options" \
  "$proto_dir/$proto"

generated=(grpc_predict_v2.pb.swift grpc_predict_v2.grpc.swift)
[ "$(cd "$tmp" && ls | sort | tr '\n' ' ')" = "$(printf '%s\n' "${generated[@]}" | sort | tr '\n' ' ')" ] \
  || fail "protoc wrote unexpected files: $(ls "$tmp")"

mkdir -p "$out_dir"
stale=0
for file in "${generated[@]}"; do
  if cmp -s "$tmp/$file" "$out_dir/$file"; then
    echo "unchanged $out_dir/$file ($(wc -c < "$tmp/$file") bytes)"
  elif $check; then
    echo "DIFFERS   $out_dir/$file" >&2
    stale=1
  else
    cp "$tmp/$file" "$out_dir/$file"
    echo "wrote     $out_dir/$file ($(wc -c < "$tmp/$file") bytes)"
  fi
done
$check && [ $stale = 1 ] && fail "generated code is out of date: run bash scripts/generate-grpc.sh"
echo "done: $proto_dir/$proto -> $out_dir ($options; Server=true, Client=true)"
