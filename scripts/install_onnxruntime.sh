#!/usr/bin/env bash
# Installs onnxruntime-node (the CPU runtime, from the npm registry) into a project-local folder,
# for tests/onnx_ort_check.mjs and the onnxruntime peer of scripts/bench_report.py.
#   scripts/install_onnxruntime.sh [DIR=build/onnxruntime]    -> DIR/node_modules/onnxruntime-node
# Idempotent and silent when that version is already there and loads. Exits non-zero with a
# one-line reason when node or npm is missing or the install fails; an unreachable registry
# cannot hang it (few fetch retries, and the whole install under a time limit).
# ONNXRUNTIME_NODE_INSTALL=skip: the package's postinstall would fetch the CUDA provider from
# NuGet on linux/x64; the CPU runtime (libonnxruntime.so.1) comes inside the npm package.
set -uo pipefail
version=1.30.0
root=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:-$root/build/onnxruntime}
case $dir in /*) ;; *) dir=$PWD/$dir ;; esac
limit=${GG_NPM_TIMEOUT:-180}
me=install_onnxruntime.sh

command -v node > /dev/null || { echo "$me: node is not installed (Debian: nodejs)" >&2; exit 1; }
loads() {
  node -e 'const p = process.argv[1], v = require(p + "/package.json").version;
           if (v !== process.argv[2]) process.exit(1); require(p).InferenceSession;' \
    "$dir/node_modules/onnxruntime-node" "$version" > /dev/null 2>&1
}
loads && exit 0

command -v npm > /dev/null || { echo "$me: npm is not installed (Debian: npm), cannot install onnxruntime-node" >&2; exit 1; }
mkdir -p "$dir" || { echo "$me: cannot create $dir" >&2; exit 1; }
[ -f "$dir/package.json" ] || echo '{"private": true, "description": "onnxruntime-node for graphgrad tests"}' > "$dir/package.json"
log=$dir/npm-install.log
echo "$me: installing onnxruntime-node@$version into $dir (npm registry)" >&2
ONNXRUNTIME_NODE_INSTALL=skip timeout -k 10 "$limit" npm install --prefix "$dir" --no-audit --no-fund --no-update-notifier \
  --save-exact --fetch-retries=1 --fetch-retry-mintimeout=2000 --fetch-retry-maxtimeout=10000 --fetch-timeout=60000 \
  "onnxruntime-node@$version" > "$log" 2>&1
status=$?
if [ $status -ne 0 ]; then
  if [ $status -eq 124 ]; then reason="timed out after ${limit}s"
  else
    reason=$(grep -m1 -E '^npm (ERR!|error) +(FetchError|[0-9]{3} [A-Z])' "$log" || grep -m1 -E '^npm (ERR!|error)' "$log")
    reason=$(sed -E 's/^npm (ERR!|error) *(FetchError: *)?//' <<<"$reason" | cut -c1-200)
  fi
  echo "$me: npm install onnxruntime-node@$version failed (exit $status${reason:+: $reason}); see $log" >&2
  exit 1
fi
loads || { echo "$me: onnxruntime-node@$version installed in $dir but does not load in node; see $log" >&2; exit 1; }
