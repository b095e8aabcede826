#!/usr/bin/env bash
# Runs the libFuzzer targets (fuzz_idx, fuzz_checkpoint, fuzz_graph) side by
# side for a bounded time, starting from the committed seed corpus (copied: the
# repository is never written). Needs a build configured with GRAPHGRAD_FUZZ=ON (clang);
# scripts/check_sanitized.sh makes one.
#   scripts/fuzz.sh [SECONDS_EACH=60] [BUILD_DIR=build-asan]
# A finding is written to $FINDINGS (default build-asan/fuzz-findings) and the
# script fails; copy the file into fuzz/regressions/<target>/ so ctest replays
# it from then on, and fix the code at fault (GG_FUZZ_GRAPH_VERBOSE=1 makes
# fuzz_graph print the graph an input builds).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
build=${2:-build-asan}
findings=${FINDINGS:-$build/fuzz-findings}
mkdir -p "$findings"

targets=(idx checkpoint graph)
pids=()
for target in "${targets[@]}"; do
  bin=$build/bin/fuzz_$target
  [ -x "$bin" ] || { echo "fuzz.sh: $bin missing: configure $build with -DGRAPHGRAD_FUZZ=ON (see scripts/check_sanitized.sh)" >&2; exit 2; }
  work=$(mktemp -d)
  cp fuzz/corpus/$target/* "$work/"
  # -timeout: one input running 10 s is a hang (fuzz_graph's take milliseconds);
  # -rss_limit_mb: a loader that allocates what a lying header declares is a finding.
  "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$findings/${target}-" "$work" fuzz/regressions/$target > "$findings/$target.log" 2>&1 &
  pids+=($!)
done

status=0
for i in "${!targets[@]}"; do
  target=${targets[$i]}
  if wait "${pids[$i]}"; then
    echo "fuzz_$target: $(grep -E '^stat::number_of_executed_units' "$findings/$target.log" | awk '{print $2}') inputs in ${seconds}s, no finding"
  else
    status=1
    echo "fuzz_$target: FINDING (log: $findings/$target.log)"
    tail -40 "$findings/$target.log"
  fi
done
exit $status
