#!/usr/bin/env bash
# gpu_check.sh: checks graphgrad's Vulkan backend on a lent GPU machine that cannot build
# it (no compiler packages, no internet), in two steps.
#
#   scripts/gpu_check.sh pack DIR          here: builds Release into build-gpucheck/ (portable:
#                                          -DGRAPHGRAD_NATIVE=OFF; no MPI, no ONNX export, which
#                                          saves protobuf's 3.5 MiB) and fills DIR (< 60 MiB) with all
#                                          the run needs: bin/ (mnist, bench_ops, bench_train,
#                                          bench_roofline, gg_tests, stripped), lib/ (their shared libraries beyond
#                                          glibc/libstdc++/libgcc, named by SONAME, and the Vulkan
#                                          loader libvulkan.so.1; those over 8 MiB xz-compressed,
#                                          unpacked by the run), mnist/ (the IDX .gz files),
#                                          torch_mnist_cuda.py (the PyTorch-on-CUDA peer), this
#                                          script, vklayer/ (the Khronos validation layer, only if
#                                          it fits: as is, else xz-compressed, unpacked by the run
#                                          into a temporary folder) and MANIFEST (commit, date, sizes)
#   bash DIR/gpu_check.sh run DIR OUT [--quick]
#                                          there: runs the check from DIR alone and writes OUT/
#                                          (6 files: run.log, summary.json, summary.md,
#                                          bench_train.json, bench_ops.json, ceilings.json)
#
# The run, each stage under its own timeout (budgets below, clipped so the whole run ends
# within GG_CHECK_TOTAL_S, default 465 s; the 10-epoch Vulkan run also gets the time the
# stages before it left), a failed or timed-out stage recorded as such and the next started:
#   devices      `mnist devices` (retried with VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/
#                icd.d/nvidia_icd.json when the loader finds no NVIDIA device and that file
#                exists), nvidia-smi, loader diagnostics when still no NVIDIA device
#   parity       gg_tests --test-suite=backend_parity, GRAPHGRAD_REQUIRE_VULKAN=1 (and the
#                validation layer and its synchronization checks when packed: any validation
#                message fails the stage)
#   bench_train  bench_train, cpu and vulkan, batch 1/32/128, 3 repetitions -> OUT/bench_train.json
#   bench_ops    bench_ops, cpu and vulkan, batch 128, 3 repetitions -> OUT/bench_ops.json
#   ceilings     bench_roofline's vulkan/ cases: the device's FMA peak, texel/storage read and
#                copy bandwidth, dispatch and submit costs -> OUT/ceilings.json
#   ours_1, peer_1, ours_10, peer_10
#                `mnist train --backend vulkan --json --batch 128 --seed 0` for 1 and 10 epochs,
#                and torch_mnist_cuda.py --device cuda with the same batch, seed and epochs
# then summary.json / summary.md (device, driver, every stage's status, exit code and wall
# time, images/s and test accuracy of ours and the peer, ratios, bench figures). Exit status
# 1 when any stage failed or timed out (after the summary), 2 on bad usage or a broken pack.
#
# --quick (or GG_CHECK_QUICK=1) is for rehearsing on a slow device (lavapipe): the 1-epoch runs
# train on GG_CHECK_TRAIN_LIMIT images (default 256 with --quick), the 10-epoch runs on
# GG_CHECK_TRAIN_LIMIT_LONG (default 2048: on lavapipe the run is cut by its timeout, as a
# full one would be), both validate on GG_CHECK_TEST_LIMIT (256) test images, and the
# benchmarks run fewer cases once. Without it every run uses the full 60,000/10,000 images.
# Other knobs: GG_CHECK_PYTHON (the peer's python3; default: python3 on PATH, else
# /opt/torch/.venv/bin/python3, whichever imports torch), GG_CHECK_NVIDIA_ICD (the ICD json of
# the retry), GG_CHECK_GPU_PATTERN (the Vulkan device name that counts as the GPU: nvidia),
# GG_CHECK_PEER_DEVICE (cuda; cpu rehearses the peer's whole path), GG_CHECK_KEEP_WORK=1 (keep
# the stages' raw output in the temporary folder), GG_CHECK_TOTAL_S (465), GG_PACK_LIMIT_MIB
# (pack's size limit: 60), GG_JOBS (build jobs: 2).
set -euo pipefail
# Two files: this one (the usage above, what both halves share, and the run) and, beside it in
# a checkout, gpu_check_pack.sh (pack and the helpers only packing needs), which `pack` sources.
# The run needs this file alone (and gpu_check_summary.py), so that is all a pack copies of the
# scripts; the shared part (prog, die, BINS, MANIFEST_TAG) stays here, defined before the source.

prog=gpu_check.sh
die() { echo "$prog: $*" >&2; exit 2; }
# unxz_to FILE.xz OUT: with python3's lzma, else with xz (whichever the machine has).
unxz_to() {
  python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' "$1" "$2" 2>/dev/null ||
    xz -dc "$1" >"$2" 2>/dev/null
}
usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; }

# The binaries the check runs (pack builds them, run checks they are there).
BINS=(mnist bench_ops bench_train bench_roofline gg_tests)
MANIFEST_TAG='graphgrad gpu_check pack'

# ----------------------------------------------------------------------------------- run
# Stage budgets in seconds: 451, 475 with the kill grace, under the 480 s asked for. The
# 10-epoch Vulkan run also gets what the stages before it left unused (all but peer_10's
# budget of what is left of the total), so on a GPU it has minutes, not 150 s.
B_DEVICES=10 B_SMI=8 B_DIAG=8 B_PARITY=35 B_BENCH_TRAIN=35 B_BENCH_OPS=45 B_CEILINGS=15
B_OURS_1=40 B_PEER_1=35 B_OURS_10=150 B_PEER_10=60
KILL_GRACE=2

now_ms() { date +%s%3N; }

# stage NAME BUDGET CMD...: runs CMD under timeout (its budget clipped to what is left of the
# total), stdout in $WORK/NAME.out, stderr in $WORK/NAME.err. Sets RC, WALL_MS, BUDGET.
stage() {
  local name=$1 t0
  BUDGET=$2
  shift 2
  local left=$(((DEADLINE_MS - $(now_ms)) / 1000 - KILL_GRACE))
  ((left < BUDGET)) && BUDGET=$left
  : >"$WORK/$name.out"
  : >"$WORK/$name.err"
  printf '%s\n' "$*" >"$WORK/$name.cmd"
  if ((BUDGET < 3)); then
    RC=-1 WALL_MS=0
    return 0
  fi
  local shown="$*"
  shown=${shown//$'\n'/ }
  ((${#shown} <= 240)) || shown="${shown:0:240}..."
  echo "$prog: [$(date +%T)] $name (budget ${BUDGET}s): $shown" >&2
  t0=$(now_ms)
  RC=0
  timeout -k "$KILL_GRACE" "$BUDGET" "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" </dev/null || RC=$?
  WALL_MS=$(($(now_ms) - t0))
}

# finish NAME [STATUS [NOTE]]: records the stage (STATUS by default from RC: ok, timeout,
# failed) and appends its command and output to OUT/run.log.
finish() {
  local name=$1 status=${2:-} note=${3:-}
  if [ -z "$status" ]; then
    case $RC in
      0) status=ok ;;
      -1) status=skipped note=${note:-"no time left of the ${TOTAL_S}s total"} ;;
      124 | 137) status=timeout note=${note:-"cut after ${BUDGET}s"} ;;
      *) status=failed ;;
    esac
  fi
  [ "$RC" = -1 ] && [ "$status" != skipped ] && status=skipped note="no time left of the ${TOTAL_S}s total"
  case $status in failed | timeout) FAILED+=("$name") ;; esac
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$status" "$RC" "$WALL_MS" "$BUDGET" "${note//$'\t'/ }" >>"$WORK/stages.tsv"
  echo "$prog: [$(date +%T)] $name: $status (exit $RC, $((WALL_MS / 1000)).$(printf '%03d' $((WALL_MS % 1000)))s)${note:+: $note}" >&2
  {
    echo
    echo "===== $name: $status, exit $RC, ${WALL_MS} ms of a ${BUDGET} s budget${note:+; $note}"
    echo "\$ $(cat "$WORK/$name.cmd")"
    if [ -s "$WORK/$name.out" ]; then echo "--- stdout"; tail -n 4000 "$WORK/$name.out"; fi
    if [ -s "$WORK/$name.err" ]; then echo "--- stderr"; tail -n 2000 "$WORK/$name.err"; fi
  } >>"$OUT/run.log"
}

# A stage that does not run at all.
skip() {
  RC=-1 WALL_MS=0 BUDGET=0
  : >"$WORK/$1.out"
  : >"$WORK/$1.err"
  echo "(not run)" >"$WORK/$1.cmd"
  finish "$1" skipped "$2"
}

vulkan_section() { sed -n '/^vulkan:/,$p' "$1" | tail -n +2; }

pick_python() {
  local p
  for p in "${GG_CHECK_PYTHON:-}" python3 /opt/torch/.venv/bin/python3; do
    [ -n "$p" ] && command -v "$p" >/dev/null 2>&1 || continue
    if "$p" -c 'import importlib.util as u, sys; sys.exit(0 if u.find_spec("torch") else 1)' 2>/dev/null; then
      command -v "$p"
      return
    fi
  done
  command -v python3 2>/dev/null || true
}

run_check() {
  local quick=${GG_CHECK_QUICK:-0} args=()
  for a in "$@"; do
    case $a in --quick) quick=1 ;; -*) die "unknown option $a" ;; *) args+=("$a") ;; esac
  done
  [ ${#args[@]} -eq 2 ] || die "usage: $prog run DIR OUT [--quick]"
  [ "$quick" = 0 ] || quick=1
  local dir out
  dir=$(cd "${args[0]}" 2>/dev/null && pwd) || die "no pack at ${args[0]}"
  head -n1 "$dir/MANIFEST" 2>/dev/null | grep -q "^$MANIFEST_TAG" || die "$dir holds no pack (no MANIFEST): make one with $prog pack DIR"
  for b in "${BINS[@]}"; do [ -x "$dir/bin/$b" ] || die "$dir/bin/$b is missing"; done
  mkdir -p "${args[1]}"
  out=$(cd "${args[1]}" && pwd)
  OUT=$out
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/gg_gpu_check.XXXXXX")
  [ "${GG_CHECK_KEEP_WORK:-0}" = 1 ] || trap 'rm -rf "$WORK"' EXIT
  TOTAL_S=${GG_CHECK_TOTAL_S:-465}
  local t_start
  t_start=$(now_ms)
  DEADLINE_MS=$((t_start + TOTAL_S * 1000))
  FAILED=()
  : >"$WORK/stages.tsv"
  rm -f "$OUT/run.log" "$OUT/summary.json" "$OUT/summary.md" "$OUT/bench_train.json" "$OUT/bench_ops.json"

  local train_short=0 train_long=0 test_limit=0 bench_reps=3
  local bench_train_filter='.' bench_ops_filter='/batch:128(/|$)'
  if [ "$quick" = 1 ]; then
    train_short=256 train_long=2048 test_limit=256 bench_reps=1
    bench_train_filter='/batch:(1|128)(/|$)' bench_ops_filter='/batch:128(/|$)'
  fi
  train_short=${GG_CHECK_TRAIN_LIMIT:-$train_short}
  train_long=${GG_CHECK_TRAIN_LIMIT_LONG:-$train_long}
  test_limit=${GG_CHECK_TEST_LIMIT:-$test_limit}

  # Libraries packed xz-compressed, unpacked into WORK: without them nothing of ours runs.
  local libdirs=$dir/lib packed
  for packed in "$dir/lib/"*.xz; do
    [ -f "$packed" ] || continue
    mkdir -p "$WORK/lib"
    unxz_to "$packed" "$WORK/lib/$(basename "${packed%.xz}")" ||
      die "$packed: neither python3's lzma nor xz could unpack it"
    libdirs=$WORK/lib:$dir/lib
  done
  # Our binaries see the packed libraries first; the python peer keeps the environment as it is.
  # The NVIDIA ICD loads libnvidia-tls.so, whose initial-exec TLS does not fit
  # glibc's default static-TLS surplus in a large program (gg_tests):
  # vkCreateInstance then fails with VK_ERROR_INCOMPATIBLE_DRIVER.
  local ours_env=(LD_LIBRARY_PATH="$libdirs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
                  GLIBC_TUNABLES=glibc.rtld.optional_static_tls=65536)
  local layer_dir='' layer_note
  {
    echo "graphgrad GPU check, $(date -u '+%Y-%m-%d %H:%M:%S UTC'), on $(uname -n) ($(uname -srm)), $(nproc) CPUs"
    echo "pack: $dir; out: $OUT; quick: $quick (train limits $train_short / $train_long, test limit $test_limit; 0: all)"
    sed -n '2,7p' "$dir/MANIFEST"
  } >"$OUT/run.log"

  # The validation layer, when packed (unpacked into WORK when compressed).
  if [ -f "$dir/vklayer/libVkLayer_khronos_validation.so" ]; then
    layer_dir=$dir/vklayer layer_note="packed"
  elif [ -f "$dir/vklayer/libVkLayer_khronos_validation.so.xz" ]; then
    mkdir -p "$WORK/vklayer"
    cp "$dir/vklayer/VkLayer_khronos_validation.json" "$WORK/vklayer/"
    if unxz_to "$dir/vklayer/libVkLayer_khronos_validation.so.xz" "$WORK/vklayer/libVkLayer_khronos_validation.so"; then
      layer_dir=$WORK/vklayer layer_note="packed (xz, unpacked)"
    else
      layer_note="packed xz-compressed, but neither python3's lzma nor xz could unpack it: parity runs without it"
    fi
  else
    layer_note="not packed: parity runs without it"
  fi

  # ---- devices: our loader, then the NVIDIA ICD named explicitly when that finds no NVIDIA device
  local icd=${GG_CHECK_NVIDIA_ICD:-/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json}
  local nvidia=0 vk_driver_files='' note status gpu_pattern=${GG_CHECK_GPU_PATTERN:-nvidia}
  stage devices "$B_DEVICES" env "${ours_env[@]}" "$dir/bin/mnist" devices
  if vulkan_section "$WORK/devices.out" | grep -qi -- "$gpu_pattern"; then
    nvidia=1
    finish devices ok "a Vulkan device matching '$gpu_pattern' found"
  elif [ -f "$icd" ]; then
    status=''
    [ "$RC" = 0 ] && status=warn
    finish devices "$status" "no NVIDIA Vulkan device with the default ICD search; retrying with VK_DRIVER_FILES=$icd"
    local retry_env=("${ours_env[@]}" VK_DRIVER_FILES="$icd")
    # The ICD's library (libGLX_nvidia.so.0) may sit beside it in /usr/local/nvidia, outside the linker's cache.
    local ld=${retry_env[0]#LD_LIBRARY_PATH=} d
    for d in /usr/local/nvidia/lib64 /usr/local/nvidia/lib; do
      [ -d "$d" ] && [[ ":$ld:" != *":$d:"* ]] && ld=$ld:$d
    done
    retry_env[0]=LD_LIBRARY_PATH=$ld
    stage devices_icd "$B_DEVICES" env "${retry_env[@]}" "$dir/bin/mnist" devices
    if vulkan_section "$WORK/devices_icd.out" | grep -qi -- "$gpu_pattern"; then
      nvidia=1 vk_driver_files=$icd
      ours_env=("${retry_env[@]}")
      finish devices_icd ok "NVIDIA Vulkan device found with VK_DRIVER_FILES=$icd"
    else
      status=''
      [ "$RC" = 0 ] && status=warn
      finish devices_icd "$status" "still no NVIDIA Vulkan device; VK_DRIVER_FILES left unset"
    fi
  else
    status=''
    [ "$RC" = 0 ] && status=warn
    finish devices "$status" "no NVIDIA Vulkan device, and no NVIDIA ICD at $icd (VK_DRIVER_FILES left unset)"
  fi
  if command -v nvidia-smi >/dev/null; then
    stage nvidia_smi "$B_SMI" bash -c 'nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader; echo; nvidia-smi'
    finish nvidia_smi
  else
    skip nvidia_smi "no nvidia-smi on this machine"
  fi
  if [ "$nvidia" = 0 ]; then
    # What the loader sees and why: kept in run.log for whoever reads it.
    stage vulkan_diag "$B_DIAG" env "${ours_env[@]}" VK_LOADER_DEBUG=error,warn,driver bash -c '
      echo "## ldd mnist"; ldd "$1/bin/mnist"
      echo "## ICD manifests"; ls -l /usr/local/nvidia/share/vulkan/icd.d /usr/share/vulkan/icd.d /etc/vulkan/icd.d 2>&1
      for f in /usr/local/nvidia/share/vulkan/icd.d/*.json /usr/share/vulkan/icd.d/*nvidia*.json /etc/vulkan/icd.d/*nvidia*.json; do
        [ -f "$f" ] && { echo "## $f"; cat "$f"; }; done
      echo "## linker cache"; /sbin/ldconfig -p 2>/dev/null | grep -i -E "vulkan|GLX_nvidia|nvidia-glcore" || echo "(none)"
      echo "## mnist devices with VK_LOADER_DEBUG=$VK_LOADER_DEBUG"; "$1/bin/mnist" devices 2>&1 | head -n 150' diag "$dir"
    finish vulkan_diag info "no NVIDIA Vulkan device: loader diagnostics"
  fi
  # Which Vulkan device the runs use (the CLI prefers a discrete GPU), from the last listing.
  local listing=$WORK/devices.out
  [ -n "$vk_driver_files" ] && listing=$WORK/devices_icd.out
  if ! vulkan_section "$listing" | grep -q '^  [0-9]'; then
    # No Vulkan device at all: the Vulkan stages still run, and fail, saying why.
    FAILED+=(no_vulkan_device)
  fi

  # ---- parity
  local parity_env=("${ours_env[@]}" GRAPHGRAD_REQUIRE_VULKAN=1)
  # With the layer's synchronization checks: on a GPU, dispatches without a barrier between
  # them may overlap, so a hazard the recorder's tracking missed (hazards.h) shows there.
  [ -n "$layer_dir" ] && parity_env+=(GRAPHGRAD_VULKAN_VALIDATION=1 VK_LAYER_PATH="$layer_dir"
                                      VK_LAYER_ENABLES=VK_VALIDATION_FEATURE_ENABLE_SYNCHRONIZATION_VALIDATION_EXT)
  # gg_tests finds the MNIST files as ./mnist (built so): run it in DIR.
  stage parity "$B_PARITY" env -C "$dir" "${parity_env[@]}" "$dir/bin/gg_tests" --test-suite=backend_parity
  note="validation layer: $layer_note"
  if [ "$RC" = 0 ] && grep -q -E 'vulkan validation (error|warning)' "$WORK/parity.out" "$WORK/parity.err"; then
    finish parity failed "the validation layer reported errors or warnings; $note"
  elif [ "$RC" = 0 ] && grep -q -E 'test cases: +0 \|' "$WORK/parity.out"; then
    finish parity failed "no test case ran; $note"
  else
    finish parity "" "$note"
  fi

  # ---- benchmarks (CPU cases: 0.1 s each; Vulkan cases run their own fixed iteration counts)
  stage bench_train "$B_BENCH_TRAIN" env "${ours_env[@]}" "$dir/bin/bench_train" --threads=0 \
    --benchmark_filter="$bench_train_filter" --benchmark_min_time=0.1 --benchmark_repetitions="$bench_reps" \
    --benchmark_out="$OUT/bench_train.json" --benchmark_out_format=json
  finish bench_train
  stage bench_ops "$B_BENCH_OPS" env "${ours_env[@]}" "$dir/bin/bench_ops" --threads=0 \
    --benchmark_filter="$bench_ops_filter" --benchmark_min_time=0.1 --benchmark_repetitions="$bench_reps" \
    --benchmark_out="$OUT/bench_ops.json" --benchmark_out_format=json
  finish bench_ops
  # The device's own ceilings (FMA, bandwidth, dispatch and submit costs), to read the kernels against.
  stage ceilings "$B_CEILINGS" env "${ours_env[@]}" GRAPHGRAD_REQUIRE_VULKAN=1 "$dir/bin/bench_roofline" \
    --benchmark_filter='^vulkan/' --benchmark_out="$OUT/ceilings.json" --benchmark_out_format=json
  finish ceilings

  # ---- training: ours on Vulkan and the PyTorch peer on CUDA, 1 epoch then 10
  local py peer_skip='' peer_device=${GG_CHECK_PEER_DEVICE:-cuda}
  py=$(pick_python)
  [ -n "$py" ] || peer_skip="no python3 on this machine"
  local epochs limit stage_name lim
  for epochs in 1 10; do
    if [ "$epochs" = 1 ]; then limit=$train_short; else limit=$train_long; fi
    lim=()
    [ "$limit" != 0 ] && lim+=(--train-limit "$limit")
    [ "$test_limit" != 0 ] && lim+=(--test-limit "$test_limit")
    stage_name=ours_$epochs
    local budget=$B_OURS_1
    if [ "$epochs" = 10 ]; then
      budget=$(((DEADLINE_MS - $(now_ms)) / 1000 - B_PEER_10 - 3 * KILL_GRACE))
      ((budget > B_OURS_10)) || budget=$B_OURS_10
    fi
    stage "$stage_name" "$budget" env "${ours_env[@]}" "$dir/bin/mnist" train --backend vulkan --epochs "$epochs" \
      --batch 128 --seed 0 --json --data "$dir/mnist" "${lim[@]}"
    if [ "$RC" = 0 ] && ! tail -n1 "$WORK/$stage_name.out" | grep -q train_images_per_s; then
      finish "$stage_name" failed "no final JSON line"
    elif [ "$RC" = 124 ] || [ "$RC" = 137 ]; then
      finish "$stage_name" "" "cut after ${BUDGET}s, $(grep -c '"epoch"' "$WORK/$stage_name.out" || true) of $epochs epochs done"
    else
      finish "$stage_name"
    fi

    stage_name=peer_$epochs
    budget=$B_PEER_1
    [ "$epochs" = 10 ] && budget=$B_PEER_10
    if [ -n "$peer_skip" ]; then
      skip "$stage_name" "$peer_skip"
      continue
    fi
    stage "$stage_name" "$budget" env PYTHONUNBUFFERED=1 "$py" "$dir/torch_mnist_cuda.py" --device "$peer_device" --epochs "$epochs" \
      --batch 128 --seed 0 --data "$dir/mnist" "${lim[@]}"
    case $RC in
      3) peer_skip="no CUDA ($py)"; finish "$stage_name" skipped "$peer_skip: $(tail -n1 "$WORK/$stage_name.out")" ;;
      4) peer_skip="no torch ($py)"; finish "$stage_name" skipped "$peer_skip: $(tail -n1 "$WORK/$stage_name.out")" ;;
      124 | 137) finish "$stage_name" "" "cut after ${BUDGET}s, $(grep -c '"epoch"' "$WORK/$stage_name.out" || true) of $epochs epochs done" ;;
      *) finish "$stage_name" "" "$py" ;;
    esac
  done

  # ---- summary
  local total_ms=$(($(now_ms) - t_start))
  local exit_code=0
  [ ${#FAILED[@]} -eq 0 ] || exit_code=1
  export GGC_WORK=$WORK GGC_OUT=$OUT GGC_DIR=$dir GGC_QUICK=$quick GGC_TOTAL_MS=$total_ms GGC_EXIT=$exit_code
  export GGC_FAILED="${FAILED[*]:-}" GGC_LAYER="$layer_note" GGC_VK_DRIVER_FILES="$vk_driver_files" GGC_NVIDIA=$nvidia
  export GGC_LIMITS="$train_short $train_long $test_limit" GGC_BENCH_REPS=$bench_reps GGC_BENCH_TRAIN_FILTER=$bench_train_filter GGC_BENCH_OPS_FILTER=$bench_ops_filter
  export GGC_LISTING=$listing GGC_PYTHON="${py:-}" GGC_PEER_DEVICE=$peer_device
  if ! command -v python3 >/dev/null || ! python3 "$dir/gpu_check_summary.py" 2>>"$OUT/run.log"; then
    # Without python3: the stage table alone.
    {
      echo "# graphgrad GPU check (python3 missing or the summary script failed: stages only; see run.log)"
      echo
      echo "| stage | status | exit | wall ms | budget s | note |"
      echo "| --- | --- | --- | --- | --- | --- |"
      sed 's/|/\//g; s/\t/ | /g; s/^/| /; s/$/ |/' "$WORK/stages.tsv"
    } >"$OUT/summary.md"
    echo "{\"check\": \"graphgrad gpu_check\", \"error\": \"summary script failed\", \"exit_code\": $exit_code}" >"$OUT/summary.json"
  fi
  echo "$prog: done in $((total_ms / 1000)) s; $OUT/summary.md:" >&2
  cat "$OUT/summary.md" >&2
  return $exit_code
}

case ${1:-} in
  pack)
    shift
    pack_sh=$(dirname "${BASH_SOURCE[0]}")/gpu_check_pack.sh
    [ -f "$pack_sh" ] || die "pack runs from a graphgrad checkout (scripts/gpu_check.sh pack DIR): $pack_sh is missing"
    # shellcheck source-path=SCRIPTDIR source=gpu_check_pack.sh
    . "$pack_sh"
    pack "$@"
    ;;
  run) shift; run_check "$@" ;;
  -h | --help | help) usage ;;
  *) usage >&2; exit 2 ;;
esac
