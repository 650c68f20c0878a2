#!/bin/sh
# Install the Debian packages enevo needs, when missing (usage: deps.sh [bench]). As root it runs
# apt-get; otherwise it prints the exact command and fails.
set -e
PKGS="build-essential libopenblas-dev libdnnl-dev zlib1g-dev libyaml-dev libcjson-dev libcmocka-dev gnuplot-nox dataset-fashion-mnist"
# `deps.sh bench` adds what the side-by-side benchmark needs.
[ "${1:-}" = bench ] && PKGS="$PKGS python3-torch"
missing=""
for p in $PKGS; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
        missing="$missing $p"
    fi
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
    echo "enevo: missing Debian packages:$missing" >&2
    echo "run:   sudo apt-get update && sudo apt-get install -y$missing" >&2
    exit 1
fi
echo "enevo: installing Debian packages:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q $missing
