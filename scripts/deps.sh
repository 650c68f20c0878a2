#!/bin/sh
# Install the Debian packages enevo needs, when missing (usage: deps.sh [bench|npm]). As root it runs
# apt-get; otherwise it prints the exact command and fails.
set -e
PKGS="build-essential libopenblas-dev libdnnl-dev zlib1g-dev libyaml-dev libcjson-dev libcmocka-dev libpng-dev libjpeg62-turbo-dev gnuplot-nox dataset-fashion-mnist python3-onnx nodejs pkg-config man-db clang libclang-rt-14-dev libomp-14-dev"
# npm: Debian's package, unless the nodejs installed already brings its own npm (NodeSource's does).
command -v npm >/dev/null 2>&1 || PKGS="$PKGS npm"
# `deps.sh npm` (run by the export tests' set-up) also installs ONNX Runtime for Node into
# .cache/npm under the repository (git-ignored); its CPU libraries ship inside the package, so
# no install scripts run.
ORT_NODE="onnxruntime-node@1.30.0"
npm_deps() {
    [ "${1:-}" = npm ] || return 0
    root="$(cd "$(dirname "$0")/.." && pwd)"
    [ -f "$root/.cache/npm/node_modules/onnxruntime-node/package.json" ] && return 0
    mkdir -p "$root/.cache/npm"
    echo "enevo: installing $ORT_NODE into $root/.cache/npm"
    npm install --ignore-scripts --no-audit --no-fund --prefix "$root/.cache/npm" "$ORT_NODE"
}
# `deps.sh bench` adds what the side-by-side benchmark needs.
[ "${1:-}" = bench ] && PKGS="$PKGS python3-torch"
missing=""
for p in $PKGS; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
        missing="$missing $p"
    fi
done
if [ -z "$missing" ]; then
    npm_deps "${1:-}"
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "enevo: missing Debian packages:$missing" >&2
    echo "run:   sudo apt-get update && sudo apt-get install -y$missing" >&2
    exit 1
fi
echo "enevo: installing Debian packages:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q $missing
npm_deps "${1:-}"
