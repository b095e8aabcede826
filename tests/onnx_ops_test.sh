#!/usr/bin/env bash
# ctest `onnx_ops`: every exported op's ONNX mapping run in onnxruntime against graphgrad's CPU backend.
#   onnx_ops_test.sh ONNX_OPS_EXPORT OUTDIR
# Installs onnxruntime-node (scripts/install_onnxruntime.sh, idempotent) into $GG_ONNXRUNTIME_DIR
# (default build/onnxruntime beside this checkout); where it cannot, prints `skip onnxruntime
# check: <reason>` and exits 77 (ctest's SKIP_RETURN_CODE). Then onnx_ops_export writes the
# cases into OUTDIR and tests/onnx_ops_ort.mjs runs them; fails if either fails.
set -uo pipefail
[ $# -eq 2 ] || { echo "usage: onnx_ops_test.sh ONNX_OPS_EXPORT OUTDIR" >&2; exit 2; }
exporter=$1 outdir=$2
tests=$(cd "$(dirname "$0")" && pwd)
ort_dir=${GG_ONNXRUNTIME_DIR:-$tests/../build/onnxruntime}

# (env -u LD_PRELOAD: the sanitizer run preloads lavapipe, which has no business inside node.)
if ! ort_log=$(env -u LD_PRELOAD "$tests/../scripts/install_onnxruntime.sh" "$ort_dir" 2>&1); then
  echo "skip onnxruntime check: ${ort_log##*$'\n'}"
  exit 77
fi
[ -z "$ort_log" ] || printf '%s\n' "$ort_log"

rm -rf "$outdir" && mkdir -p "$outdir" || exit 1
"$exporter" "$outdir"
export_status=$?
env -u LD_PRELOAD GG_ONNXRUNTIME_DIR="$ort_dir" node "$tests/onnx_ops_ort.mjs" "$outdir"
ort_status=$?
[ $export_status -eq 0 ] || echo "FAIL onnx_ops_export exited $export_status (its FAIL lines above)"
[ $export_status -eq 0 ] && [ $ort_status -eq 0 ]
