#!/usr/bin/env bash
# End-to-end checks of the mnist CLI: what a user types, what they get back.
#   cli_test.sh MNIST_BINARY DATA_DIR [TESTS_DIR]
# GG_CLI_PARTS: a comma-separated subset of the parts to run (default: all of them):
#   main       flags, train/evaluate/predict, plots, ONNX export, bad data and checkpoints, Vulkan faults
#   nompi      a build without MPI started by mpirun refuses (only where GG_BUILT_WITH_MPI=OFF)
#   interrupt  SIGINT and SIGKILL mid-run, --resume, mid-epoch checkpoints
#   io         write failures: a full disk, a read-only folder (checkpoints, export --onnx, samples --out)
set -u
mnist=$1 data=$(cd "$2" && pwd) tests=${3:-$(dirname "$0")}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0 failed=0
parts=${GG_CLI_PARTS:-main,nompi,interrupt,io}
part() { [[ ",$parts," == *",$1,"* ]]; }

# expect NAME WANT_STATUS(0|nonzero) PATTERN -- command...: runs it, checks the exit status and that
# stdout+stderr match PATTERN (grep -E); the output stays in $tmp/last.out.
expect() {
  local name=$1 want=$2 pattern=$3
  shift 4
  local out status
  out=$("$@" 2>&1)
  status=$?
  printf '%s\n' "$out" > "$tmp/last.out"
  if { [ "$want" = 0 ] && [ $status -ne 0 ]; } || { [ "$want" != 0 ] && [ $status -eq 0 ]; } ||
     [ $status -gt 128 ] || ! grep -qE -- "$pattern" <<<"$out"; then
    echo "FAIL $name: exit $status, output:"; echo "$out" | head -20
    failed=$((failed + 1))
  else
    echo "ok   $name"
    passed=$((passed + 1))
  fi
}

if part main; then
expect "no subcommand"        nonzero "subcommand"                 -- "$mnist"
expect "unknown flag"         nonzero "--no-such-flag"             -- "$mnist" train --no-such-flag
expect "unknown backend"      nonzero "--backend"                  -- "$mnist" train --backend tpu --data "$data"
expect "devices"              0       "cpu:"                       -- "$mnist" devices
if "$mnist" devices 2>/dev/null | grep -q "not built"; then
  expect "vulkan not built"   nonzero "vulkan.*not built"          -- "$mnist" train --backend vulkan --data "$data" --train-limit 10 --epochs 1
else
  expect "unknown vulkan device" nonzero "no-such-gpu"             -- "$mnist" train --backend vulkan --device no-such-gpu --data "$data" --train-limit 10 --epochs 1
fi
expect "batch 0"              nonzero "--batch"                    -- "$mnist" train --batch 0 --data "$data"
expect "negative epochs"      nonzero "--epochs"                   -- "$mnist" train --epochs -1 --data "$data"
expect "threads 0"            nonzero "--threads"                  -- "$mnist" train --threads 0 --data "$data"
expect "missing data dir"     nonzero "$tmp/nowhere"               -- "$mnist" train --data "$tmp/nowhere" --epochs 1
# Runs that succeed validate on the first 1,000 test images (--test-limit): each
# evaluation of all 10,000 costs seconds in the sanitized build.
expect "train and save"       0       '"test_accuracy"'            -- "$mnist" train --data "$data" --test-limit 1000 --epochs 1 --train-limit 512 --batch 64 --threads 2 --json --save "$tmp/w.ckpt"
expect "json summary keys"    0       'train_images_per_s.*infer_images_per_s.*peak_rss_mib' -- "$mnist" train --data "$data" --test-limit 1000 --epochs 1 --train-limit 256 --json
expect "evaluate"             0       "accuracy: 0\.[0-9]"         -- "$mnist" evaluate --data "$data" --test-limit 1000 --load "$tmp/w.ckpt"
expect "predict"              0       "predicted = [0-9], actual = 7" -- "$mnist" predict --data "$data" --load "$tmp/w.ckpt" --index 0
expect "test-limit"           0       '"test_images":5}$'           -- "$mnist" evaluate --data "$data" --load "$tmp/w.ckpt" --test-limit 5 --json
expect "test-limit negative"  nonzero "--test-limit: expects a count of images" -- "$mnist" evaluate --data "$data" --load "$tmp/w.ckpt" --test-limit -1
expect "predict past data"    nonzero "--index 10000"              -- "$mnist" predict --data "$data" --load "$tmp/w.ckpt" --index 10000
# Training control from the command line: optimizer, a schedule's rate at the epoch's last step, augmentation, early stopping.
expect "sgd with step decay"   0       '"learning_rate":0.005,'       -- "$mnist" train --data "$data" --optimizer sgd --lr 0.01 --lr-schedule step:every=4,factor=0.5 --epochs 1 --train-limit 512 --batch 64 --test-limit 100 --json
expect "augment, early stop"   0       '"test_accuracy"'              -- "$mnist" train --data "$data" --model mlp --augment default --early-stopping 1 --lr-schedule plateau:patience=1 --epochs 2 --train-limit 256 --batch 64 --test-limit 100 --json
# --early-stopping keeps the best epoch's weights: the checkpoint written at the end and the summary's
# test accuracy are the best epoch's (this run stops after epoch 5, best epoch 3), not the last one's. The
# checkpoint holds the best weights twice: as the model's variables and as EarlyStopping's own tensors.
es_run=(train --data "$data" --model mlp --optimizer sgd --lr 0.3 --early-stopping 2 --train-limit 512 --batch 64 --test-limit 500 --threads 2)
expect "early stop saves"     0       '"test_accuracy"'              -- "$mnist" "${es_run[@]}" --epochs 10 --json --save "$tmp/es.ckpt"
cp "$tmp/last.out" "$tmp/es.out"
es_best=$(python3 - "$tests/../scripts" "$tmp/es.ckpt" <<'PY'
import sys
sys.path.insert(0, sys.argv[1])
import ckpt_compare
_, doc, tensors = ckpt_compare.read(sys.argv[2])
names = doc["training"]["callback_tensors"]["early_stopping"]
differ = [n for n in names if tensors[n][1] != tensors["callbacks/early_stopping/" + n][1]]
print(doc["training"]["callbacks"]["early_stopping"]["best_epoch"] if names and not differ else f"weights differ: {differ}")
PY
)
es_best_acc=$(grep -o "^{\"epoch\":$es_best,.*" "$tmp/es.out" | grep -o '"test_accuracy":[0-9.e-]*' | cut -d: -f2)
es_final_acc=$(tail -1 "$tmp/es.out" | grep -o '"test_accuracy":[0-9.e-]*' | cut -d: -f2)
if [[ "$es_best" =~ ^[0-9]+$ ]] && ! grep -q "^{\"epoch\":10," "$tmp/es.out" && grep -q "^{\"epoch\":$((es_best + 1))," "$tmp/es.out" &&
   [ -n "$es_best_acc" ] && [ "$es_final_acc" = "$es_best_acc" ]; then
  echo "ok   early stop: the final checkpoint and summary are the best epoch's ($es_best, test accuracy $es_best_acc)"; passed=$((passed + 1))
else
  echo "FAIL early stop: best epoch '$es_best' (test accuracy '$es_best_acc'), final summary's test accuracy '$es_final_acc'"
  cat "$tmp/es.out"; failed=$((failed + 1))
fi
expect "early stop evaluates" 0       "\"test_accuracy\":$es_best_acc," -- "$mnist" evaluate --data "$data" --test-limit 500 --load "$tmp/es.ckpt" --json
expect "bad lr schedule"       nonzero "lr-schedule 'cosine:decay_steps=5,bogus=1': unknown option 'bogus'" -- "$mnist" train --data "$data" --lr-schedule cosine:decay_steps=5,bogus=1 --epochs 1
expect "bad augment"           nonzero "--augment: unknown option 'tilt'" -- "$mnist" train --data "$data" --augment tilt=3 --epochs 1
expect "unknown model"         nonzero "--model: tiny not in"         -- "$mnist" train --data "$data" --model tiny --epochs 1
expect "evaluate missing ckpt" nonzero "$tmp/none.ckpt"            -- "$mnist" evaluate --data "$data" --load "$tmp/none.ckpt"
head -c 4096 /dev/urandom > "$tmp/junk.ckpt"
expect "evaluate junk ckpt"   nonzero "junk.ckpt.*magic"           -- "$mnist" evaluate --data "$data" --load "$tmp/junk.ckpt"
expect "samples png"          0       "grid"                       -- "$mnist" samples --data "$data" --out "$tmp/grid.png"
expect "samples is a png"     0       "PNG image data, 448 x 112" -- file "$tmp/grid.png"
expect "graph dot"            0       "digraph"                    -- "$mnist" graph --dot
expect "graph dump has backward" 0    "conv2d_backward_weight"     -- "$mnist" graph

# --plot: loss and test accuracy per epoch as a PNG (matplotlib), the numbers beside it; --plot-with adds another run.
if /usr/bin/python3 -c "import matplotlib" 2>/dev/null; then
  expect "plot"               0       "plotted the curves to $tmp/c1.png" -- "$mnist" train --data "$data" --test-limit 1000 --epochs 2 --train-limit 256 --plot "$tmp/c1.png"
  expect "plot is a png"      0       "PNG image data, 1200 x 480"  -- file "$tmp/c1.png"
  expect "plot json"          0       '"epoch": 2'                  -- cat "$tmp/c1.json"
  expect "plot with another"  0       "plotted the curves"          -- "$mnist" train --data "$data" --test-limit 1000 --epochs 2 --train-limit 256 --batch 64 --plot "$tmp/c2.png" --plot-with "$tmp/c1.json"
  echo '{"epochs": []}' > "$tmp/empty.json"
  expect "plot with a bad file" nonzero "empty.json: not a training-curve file" -- "$mnist" train --data "$data" --epochs 1 --train-limit 64 --plot "$tmp/c3.png" --plot-with "$tmp/empty.json"
else
  expect "plot without matplotlib" nonzero "--plot.*matplotlib"   -- "$mnist" train --data "$data" --epochs 1 --train-limit 64 --plot "$tmp/c1.png"
fi
expect "plot-with missing"    nonzero "--plot-with $tmp/none.json: no such file" -- "$mnist" train --data "$data" --epochs 1 --plot "$tmp/c4.png" --plot-with "$tmp/none.json"
expect "plot-with needs plot" nonzero "--plot"                    -- "$mnist" train --data "$data" --epochs 1 --plot-with "$tmp/c1.json"

# predict --count: several images in batches, one JSON line each (what the ONNX checks compare with).
expect "predict --count"      0       '^\{"index":2,.*"actual":1\}$' -- "$mnist" predict --data "$data" --load "$tmp/w.ckpt" --index 0 --count 3 --json
expect "predict --count 0"    nonzero "--count 0"                  -- "$mnist" predict --data "$data" --load "$tmp/w.ckpt" --count 0
expect "predict count past data" nonzero "--index 9990 --count 11" -- "$mnist" predict --data "$data" --load "$tmp/w.ckpt" --index 9990 --count 11

# export --onnx: the trained net as ONNX, valid for onnx.checker (tests/onnx_check.py) and predicting as we do
# in onnxruntime (tests/onnx_ort_check.mjs).
if "$mnist" export --help > /dev/null 2>&1 && ! "$mnist" export --load "$tmp/w.ckpt" --onnx "$tmp/m.onnx" 2>&1 | grep -q "built without ONNX"; then
  expect "export onnx"        0       "wrote $tmp/m.onnx \(ONNX opset 13: 10 nodes" -- "$mnist" export --load "$tmp/w.ckpt" --onnx "$tmp/m.onnx"
  if /usr/bin/python3 -c "import onnx, numpy" 2>/dev/null; then
    # onnx.checker always; the predictions too where Python's onnxruntime or torch can run the model (else a skip line).
    # (env -u LD_PRELOAD: the sanitizer run preloads lavapipe, which has no business inside Python.)
    expect "onnx model is valid and predicts as we do" 0 "onnx.checker: .* is valid" -- env -u LD_PRELOAD /usr/bin/python3 "$tests/onnx_check.py" "$tmp/m.onnx" "$data" "$mnist" "$tmp/w.ckpt" 20
    grep -E "onnx_check|onnxruntime" "$tmp/last.out" | sed 's/^/     /'
    if /usr/bin/python3 -c "import torch" 2>/dev/null && ! grep -q "20 images, same classes" "$tmp/last.out"; then
      echo "FAIL onnx predictions: torch is here but the check did not run"; failed=$((failed + 1))
    fi
  else
    echo "skip onnx check: /usr/bin/python3 lacks onnx or numpy (python3-onnx)"
  fi
  # onnxruntime itself: npm's onnxruntime-node in build/onnxruntime (or $GG_ONNXRUNTIME_DIR), installed
  # there by scripts/install_onnxruntime.sh if missing; the model on 1,000 test images must give our
  # classes and probabilities within 1e-5. A skip line (with the reason) where it cannot be installed.
  ort_dir=${GG_ONNXRUNTIME_DIR:-$tests/../build/onnxruntime} ort_install=$tests/../scripts/install_onnxruntime.sh
  if [ ! -x "$ort_install" ]; then
    ort_status=1 ort_log="$ort_install is missing"
  else
    ort_log=$(env -u LD_PRELOAD "$ort_install" "$ort_dir" 2>&1); ort_status=$?
  fi
  if [ $ort_status -eq 0 ]; then
    [ -z "$ort_log" ] || printf '%s\n' "$ort_log" | sed 's/^/     /'
    expect "predict 1000 images"  0     '^\{"index":999,' -- sh -c '"$1" predict --data "$2" --load "$3" --index 0 --count 1000 --json > "$4" && tail -1 "$4"' \
      sh "$mnist" "$data" "$tmp/w.ckpt" "$tmp/p1000.jsonl"
    expect "onnxruntime predicts as we do" 0 "onnxruntime [0-9.]+: 1000 images, same classes as graphgrad, probabilities within" -- \
      env -u LD_PRELOAD GG_ONNXRUNTIME_DIR="$ort_dir" node "$tests/onnx_ort_check.mjs" "$tmp/m.onnx" "$data" "$tmp/p1000.jsonl" 1000
    sed 's/^/     /' "$tmp/last.out"
    # Every model of the zoo: trained briefly, rebuilt from its checkpoint, exported, and run in onnxruntime.
    for zoo in lenet5 bn-cnn mlp; do
      expect "zoo $zoo: train"  0 '"test_accuracy"' -- "$mnist" train --data "$data" --model "$zoo" --epochs 1 --train-limit 512 \
        --test-limit 200 --batch 64 --threads 2 --json --save "$tmp/$zoo.ckpt"
      expect "zoo $zoo: export" 0 "wrote .*$zoo.onnx" -- "$mnist" export --load "$tmp/$zoo.ckpt" --onnx "$tmp/$zoo.onnx"
      expect "zoo $zoo: predict" 0 '^\{"index":199,' -- sh -c '"$1" predict --data "$2" --load "$3" --index 0 --count 200 --json > "$4" && tail -1 "$4"' \
        sh "$mnist" "$data" "$tmp/$zoo.ckpt" "$tmp/$zoo.jsonl"
      expect "zoo $zoo: onnxruntime predicts as we do" 0 "onnxruntime [0-9.]+: 200 images, same classes as graphgrad, probabilities within" -- \
        env -u LD_PRELOAD GG_ONNXRUNTIME_DIR="$ort_dir" node "$tests/onnx_ort_check.mjs" "$tmp/$zoo.onnx" "$data" "$tmp/$zoo.jsonl" 200
      sed 's/^/     /' "$tmp/last.out"
    done
  else
    echo "skip onnxruntime check: ${ort_log##*$'\n'}"
  fi
  expect "export missing ckpt" nonzero "$tmp/none.ckpt"           -- "$mnist" export --load "$tmp/none.ckpt" --onnx "$tmp/n.onnx"
  expect "export unwritable"  nonzero "$tmp/no/dir/m.onnx: cannot create" -- "$mnist" export --load "$tmp/w.ckpt" --onnx "$tmp/no/dir/m.onnx"
else
  expect "export without onnx" nonzero "built without ONNX"       -- "$mnist" export --load "$tmp/w.ckpt" --onnx "$tmp/m.onnx"
fi

fi

# Started by mpirun with 2 ranks (as its environment says) but built without MPI:
# refuse, rather than train two independent copies that overwrite each other's files.
if part nompi && [ "${GG_BUILT_WITH_MPI:-}" = OFF ]; then
  expect "mpirun, no MPI"      nonzero "one of 2 processes .*built without MPI" -- env OMPI_COMM_WORLD_SIZE=2 "$mnist" train --data "$data" --epochs 1
  expect "srun/hydra, no MPI"  nonzero "one of 4 processes .*built without MPI" -- env PMI_SIZE=4 "$mnist" evaluate --data "$data" --load "$tmp/w.ckpt"
fi


if part interrupt; then
# SIGINT mid-run: exit 130, the last checkpoint named and loadable; --resume continues the epoch count.
"$mnist" train --data "$data" --test-limit 1000 --train-limit 1024 --batch 64 --epochs 500 --threads 2 --json --save "$tmp/run.ckpt" \
  > "$tmp/run.out" 2> "$tmp/run.err" &
pid=$!
for _ in $(seq 1 600); do [ -f "$tmp/run.ckpt" ] && break; sleep 0.1; done
sleep 0.3
kill -INT $pid
wait $pid
status=$?
if [ $status -eq 130 ] && grep -q "last checkpoint is $tmp/run.ckpt" "$tmp/run.err" && [ ! -e "$tmp/run.ckpt.tmp" ]; then
  echo "ok   sigint keeps the last checkpoint"; passed=$((passed + 1))
else
  echo "FAIL sigint: exit $status"; cat "$tmp/run.err"; failed=$((failed + 1))
fi
expect "interrupted ckpt loads" 0     "accuracy: 0\.[0-9]"        -- "$mnist" evaluate --data "$data" --test-limit 1000 --load "$tmp/run.ckpt"
last=$(grep -c '"epoch"' "$tmp/run.out")
expect "resume continues"     0       "\"epoch\":$((last + 1)),"   -- "$mnist" train --data "$data" --test-limit 1000 --train-limit 1024 --batch 64 --epochs $((last + 1)) --threads 2 --json --resume "$tmp/run.ckpt"
# SIGKILL mid-epoch (no handler runs): the last checkpoint written is still whole, because it was
# renamed into place only after being written and flushed.
"$mnist" train --data "$data" --test-limit 1000 --train-limit 1024 --batch 64 --epochs 500 --threads 2 --save "$tmp/killed.ckpt" \
  > /dev/null 2>&1 &
pid=$!
for _ in $(seq 1 600); do [ -f "$tmp/killed.ckpt" ] && break; sleep 0.1; done
sleep 0.5
kill -KILL $pid
wait $pid 2>/dev/null
expect "sigkill: last checkpoint loads" 0 "accuracy: 0\.[0-9]"    -- "$mnist" evaluate --data "$data" --test-limit 1000 --load "$tmp/killed.ckpt"
expect "resume missing file"  nonzero "$tmp/missing.ckpt"          -- "$mnist" train --data "$data" --train-limit 64 --resume "$tmp/missing.ckpt"
expect "save-every 0"         nonzero "--save-every"               -- "$mnist" train --data "$data" --save-every 0
# SIGINT after a mid-epoch checkpoint (--save-every-steps 5, 16 steps an epoch): the message names the
# epoch and the step; --resume goes on from the next step (scripts/soak_resume.sh checks the bits).
"$mnist" train --data "$data" --test-limit 200 --train-limit 1024 --batch 64 --epochs 500 --threads 2 --save "$tmp/mid.ckpt" \
  --save-every-steps 5 > /dev/null 2> "$tmp/mid.err" &
pid=$!
for _ in $(seq 1 600); do [ -f "$tmp/mid.ckpt" ] && break; sleep 0.05; done
kill -INT $pid
wait $pid
status=$?
if [ $status -eq 130 ] && grep -qE "last checkpoint is $tmp/mid.ckpt \(epoch [0-9]+, step [0-9]+ of 16\), intact" "$tmp/mid.err"; then
  echo "ok   sigint names the mid-epoch checkpoint"; passed=$((passed + 1))
else
  echo "FAIL sigint mid-epoch: exit $status"; cat "$tmp/mid.err"; failed=$((failed + 1))
fi
expect "resume mid-epoch"     0       "after [0-9]+ epoch\(s\) and [0-9]+ of 16 steps" -- "$mnist" train --data "$data" --test-limit 200 \
  --train-limit 1024 --batch 64 --epochs 1 --threads 2 --resume "$tmp/mid.ckpt"
expect "save-every-steps needs --save" nonzero "--save-every-steps requires --save" -- "$mnist" train --data "$data" --save-every-steps 3
fi

if part main; then
# --- Bad data files: each names the file and the fault, and exits non-zero. ---
be32() { printf "$(printf '\\%03o\\%03o\\%03o\\%03o' $(($1 >> 24 & 255)) $(($1 >> 16 & 255)) $(($1 >> 8 & 255)) $(($1 & 255)))"; }
real() { if [ -f "$data/$1.gz" ]; then gzip -dc "$data/$1.gz"; else cat "$data/$1"; fi; }
# images FILE MAGIC3 DIMS... : an IDX header (magic 00 <MAGIC3 bytes>), then as many real pixels as the dims hold
images() {
  local f=$1 magic=$2 n=1; shift 2
  for d in "$@"; do n=$((n * d)); done
  { printf "$magic"; for d in "$@"; do be32 "$d"; done; real t10k-images-idx3-ubyte | tail -c +17 | head -c $n; } > "$f"
}
labels() {  # labels FILE COUNT [a byte value to put at index 3]
  { printf '\0\0\10\1'; be32 "$2"; real t10k-labels-idx1-ubyte | tail -c +9 | head -c 3;
    if [ -n "${3:-}" ]; then printf "$(printf '\\%03o' "$3")"; else real t10k-labels-idx1-ubyte | tail -c +12 | head -c 1; fi
    real t10k-labels-idx1-ubyte | tail -c +13 | head -c $(($2 - 4)); } > "$1"
}
flip_byte() {  # flip_byte FILE OFFSET_FROM_END : inverts one byte in place
  local size b; size=$(stat -c %s "$1"); b=$(od -An -tu1 -j $((size - $2)) -N1 "$1" | tr -d ' ')
  printf "$(printf '\\%03o' $((b ^ 255)))" | dd of="$1" bs=1 seek=$((size - $2)) conv=notrunc status=none
}
# [want=0] bad_data NAME PATTERN SETUP... : a folder with 64 good training images, then SETUP run in it,
# then train: it must fail (or succeed, with want=0) printing PATTERN
bad_data() {
  local name=$1 pattern=$2 d=$tmp/bad_$passed$failed; shift 2
  mkdir -p "$d" && ( cd "$d" &&
    images train-images-idx3-ubyte '\0\0\10\3' 64 28 28 && labels train-labels-idx1-ubyte 64 &&
    gzip -f train-images-idx3-ubyte train-labels-idx1-ubyte &&
    for s in images-idx3 labels-idx1; do ln -sf "$data/t10k-$s-ubyte.gz" .; done && eval "$*" )
  expect "data: $name" "${want:-nonzero}" "$pattern" -- "$mnist" train --data "$d" --epochs 1 --batch 32 --threads 2
}
ti=train-images-idx3-ubyte tl=train-labels-idx1-ubyte
want=0 bad_data "control: the good files train" "accuracy: 0\."          'true'
bad_data "missing labels"       "$tl.gz: missing file"                    "rm $tl.gz"
bad_data "empty file"           "$ti.gz: empty file"                      ": > $ti.gz"
bad_data "truncated gzip"       "$ti.gz: truncated gzip"                  "head -c 2000 $ti.gz > x && mv x $ti.gz"
bad_data "gzip CRC"             "$ti.gz: corrupt gzip: CRC-32 mismatch"   "flip_byte $ti.gz 8"
bad_data "bad magic"            "$ti.gz: bad magic"                       "images $ti '\\1\\0\\10\\3' 64 28 28 && gzip -f $ti"
bad_data "wrong rank"           "$ti.gz: bad rank 2 for images"           "images $ti '\\0\\0\\10\\2' 64 784 && gzip -f $ti"
bad_data "zero dimension"       "$ti.gz: zero dimension in 64 x 0 x 28"   "images $ti '\\0\\0\\10\\3' 64 0 28 && gzip -f $ti"
bad_data "absurd dimensions"    "$ti.gz: absurd dimensions"               "images $ti '\\0\\0\\10\\3' 65536 65536 28 && gzip -f $ti"
bad_data "truncated raw file"   "$ti: truncated: header declares"         "rm $ti.gz && images $ti '\\0\\0\\10\\3' 64 28 28 && head -c 5000 $ti > x && mv x $ti"
bad_data "count mismatch"       "$tl.gz: count mismatch: 63 labels"       "labels $tl 63 && gzip -f $tl"
bad_data "label outside 0-9"    "$tl.gz: bad label 10 at index 3"         "labels $tl 64 10 && gzip -f $tl"
bad_data "images the net cannot take" "$ti.gz: images are 32x32, but the MNIST CNN takes 28x28" \
                                                                          "images $ti '\\0\\0\\10\\3' 64 32 32 && gzip -f $ti"

# --- Bad checkpoints. ---
: > "$tmp/empty.ckpt"
expect "ckpt: empty"          nonzero "empty.ckpt: empty file"            -- "$mnist" evaluate --data "$data" --load "$tmp/empty.ckpt"
head -c 1000 "$tmp/w.ckpt" > "$tmp/short.ckpt"
expect "ckpt: truncated"      nonzero "short.ckpt: truncated"             -- "$mnist" evaluate --data "$data" --load "$tmp/short.ckpt"
cp "$tmp/w.ckpt" "$tmp/newer.ckpt" && printf '\3' | dd of="$tmp/newer.ckpt" bs=1 seek=8 conv=notrunc status=none
expect "ckpt: newer version"  nonzero "newer.ckpt: format version 3 is newer" -- "$mnist" evaluate --data "$data" --load "$tmp/newer.ckpt"
cp "$tmp/w.ckpt" "$tmp/flip.ckpt" && flip_byte "$tmp/flip.ckpt" 100
expect "ckpt: flipped byte"   nonzero "flip.ckpt: checksum mismatch"      -- "$mnist" evaluate --data "$data" --load "$tmp/flip.ckpt"
expect "ckpt: a folder"       nonzero "$tmp"                              -- "$mnist" evaluate --data "$data" --load "$tmp"

# --- More flags out of range. ---
expect "negative index"       nonzero "--index -1"                        -- "$mnist" predict --data "$data" --load "$tmp/w.ckpt" --index -1
expect "negative threads"     nonzero "--threads"                         -- "$mnist" train --threads -2 --data "$data"
expect "negative batch"       nonzero "--batch"                           -- "$mnist" train --batch -5 --data "$data"
expect "train-limit negative" nonzero "--train-limit"                     -- "$mnist" train --train-limit -1 --data "$data"
expect "stray argument"       nonzero "stray|extra|unexpected|not expected" -- "$mnist" train stray --data "$data"

# --- Vulkan faults mid-run: the message, and the last checkpoint intact and loadable. lavapipe never
# loses its device or runs out of memory, so GRAPHGRAD_VULKAN_FAULT makes the n-th step submission fail
# with the VkResult a driver returns then. 64 images, batch 32: submissions 1-2 train epoch 1, 3-4
# validate it, the checkpoint is written, and submission 5 is epoch 2's first step.
if "$mnist" devices 2>/dev/null | grep -A1 '^vulkan:' | grep -q '^  0:'; then
  small=$tmp/small
  mkdir -p "$small" && ( cd "$small" && for s in train t10k; do
    images $s-images-idx3-ubyte '\0\0\10\3' 64 28 28 && labels $s-labels-idx1-ubyte 64; done && gzip -f ./* )
  for fault in device_lost:VK_ERROR_DEVICE_LOST out_of_memory:VK_ERROR_OUT_OF_DEVICE_MEMORY; do
    rm -f "$tmp/v.ckpt"
    expect "vulkan ${fault%%:*} mid-run" nonzero "${fault#*:}" -- env GRAPHGRAD_VULKAN_FAULT="${fault%%:*}@5" \
      "$mnist" train --backend vulkan --data "$small" --epochs 3 --batch 32 --save "$tmp/v.ckpt"
    if grep -q "training stopped; the last checkpoint is $tmp/v.ckpt (epoch 1), intact" "$tmp/last.out" && [ ! -e "$tmp/v.ckpt.tmp" ]; then
      echo "ok   vulkan ${fault%%:*}: names the intact checkpoint"; passed=$((passed + 1))
    else
      echo "FAIL vulkan ${fault%%:*}: no checkpoint line"; cat "$tmp/last.out"; failed=$((failed + 1))
    fi
    expect "vulkan ${fault%%:*}: checkpoint loads" 0 "accuracy: 0\.[0-9]" -- "$mnist" evaluate --data "$small" --load "$tmp/v.ckpt"
  done
  expect "vulkan: bad fault spec"  nonzero "GRAPHGRAD_VULKAN_FAULT" -- env GRAPHGRAD_VULKAN_FAULT=melt@1 \
    "$mnist" train --backend vulkan --data "$small" --epochs 1 --batch 32
  # A real limit, no injection: a batch whose buffers exceed what the device can address.
  expect "vulkan: batch too big for the device" nonzero "vulkan: .* needs .* MiB .*more than the device.s (maxStorageBufferRange|maxMemoryAllocationSize|memory)" -- \
    "$mnist" train --backend vulkan --data "$data" --train-limit 64 --epochs 1 --batch 65536
fi

fi

if part io; then
# --- Write failures: a full disk or a read-only folder ends the command with a message naming the file
# and the cause, and the file written before stays byte for byte (files are only ever renamed into
# place). GRAPHGRAD_IO_FAULT=<ERRNO>@<n> fails the n-th file written, root or not; a real full tmpfs and
# a real read-only mount run where this user may mount one (unshare -rm), else a skip line says why.
io=$tmp/io
mkdir -p "$io" "$io/fs"
# intact NAME FILE ORIG: FILE is byte for byte ORIG, with no .tmp left beside it
intact() {
  if cmp -s "$2" "$3" && [ ! -e "$2.tmp" ]; then echo "ok   $1: the previous file is intact"; passed=$((passed + 1))
  else echo "FAIL $1: $2 changed or a .tmp was left"; ls -la "$(dirname "$2")"; failed=$((failed + 1)); fi
}
lenet=(train --data "$data" --train-limit 256 --batch 64 --test-limit 100 --threads 2 --model lenet5)
expect "io: a checkpoint"     0       "saved weights to $io/c.ckpt" -- "$mnist" "${lenet[@]}" --epochs 1 --save "$io/c.ckpt"
cp "$io/c.ckpt" "$io/c.orig"
for fault in ENOSPC:"No space left on device" EIO:"Input/output error" EROFS:"Read-only file system" EACCES:"Permission denied"; do
  expect "io: checkpoint ${fault%%:*}" nonzero "mnist: error: $io/c.ckpt: cannot (write|create) $io/c.ckpt.tmp: ${fault#*:} \(injected by GRAPHGRAD_IO_FAULT\); the previous c.ckpt is unchanged" -- \
    env GRAPHGRAD_IO_FAULT="${fault%%:*}@1" "$mnist" "${lenet[@]}" --epochs 2 --save "$io/c.ckpt" --resume "$io/c.ckpt"
  intact "io: checkpoint ${fault%%:*}" "$io/c.ckpt" "$io/c.orig"
done
# Mid-epoch: 4 steps an epoch, saves at steps 2, 4 (epoch 1's end) and 6, the third failing. The
# second is epoch 1's end, which the run above wrote: byte for byte the same file.
expect "io: mid-epoch save fails" nonzero "training stopped; the last checkpoint is $io/d.ckpt \(epoch 1\), intact" -- \
  env GRAPHGRAD_IO_FAULT=ENOSPC@3 "$mnist" "${lenet[@]}" --epochs 3 --save "$io/d.ckpt" --save-every-steps 2
intact "io: mid-epoch save fails" "$io/d.ckpt" "$io/c.orig"
expect "io: bad fault spec"   nonzero "GRAPHGRAD_IO_FAULT=\"ENOSPC@x\" is not" -- env GRAPHGRAD_IO_FAULT=ENOSPC@x "$mnist" samples --data "$data" --out "$io/x.png"

expect "io: samples"          0       "wrote a 4x16 grid" -- "$mnist" samples --data "$data" --out "$io/g.png"
cp "$io/g.png" "$io/g.orig"
expect "io: samples ENOSPC"   nonzero "mnist: error: $io/g.png: cannot write $io/g.png.tmp: No space left on device.*unchanged" -- \
  env GRAPHGRAD_IO_FAULT=ENOSPC@1 "$mnist" samples --data "$data" --seed 9 --out "$io/g.png"
intact "io: samples ENOSPC" "$io/g.png" "$io/g.orig"
onnx=0
if "$mnist" export --load "$io/c.ckpt" --onnx "$io/m.onnx" > /dev/null 2>&1; then
  onnx=1
  cp "$io/m.onnx" "$io/m.orig"
  expect "io: export ENOSPC"  nonzero "mnist: error: onnx export: $io/m.onnx: cannot write $io/m.onnx.tmp: No space left on device.*unchanged" -- \
    env GRAPHGRAD_IO_FAULT=ENOSPC@1 "$mnist" export --load "$io/c.ckpt" --onnx "$io/m.onnx"
  intact "io: export ENOSPC" "$io/m.onnx" "$io/m.orig"
  expect "io: export EROFS"   nonzero "$io/m.onnx: cannot create $io/m.onnx.tmp: Read-only file system" -- \
    env GRAPHGRAD_IO_FAULT=EROFS@1 "$mnist" export --load "$io/c.ckpt" --onnx "$io/m.onnx"
  intact "io: export EROFS" "$io/m.onnx" "$io/m.orig"
else
  echo "skip io: export: this mnist cannot export ONNX"
fi

# A real read-only folder: only for a user the permissions bind (root writes anyway).
if [ "$(id -u)" -ne 0 ]; then
  mkdir -p "$io/ro" && cp "$io/c.orig" "$io/ro/c.ckpt" && chmod a-w "$io/ro"
  expect "io: read-only folder" nonzero "$io/ro/c.ckpt: cannot create $io/ro/c.ckpt.tmp: Permission denied" -- \
    "$mnist" "${lenet[@]}" --epochs 2 --save "$io/ro/c.ckpt" --resume "$io/ro/c.ckpt"
  intact "io: read-only folder" "$io/ro/c.ckpt" "$io/c.orig"
  chmod u+w "$io/ro"
else
  echo "skip io: chmod'ed read-only folder: root writes into it anyway (the read-only mount below stands in)"
fi

# A real full disk and a real read-only filesystem: a tmpfs in a private mount namespace, holding a copy of
# ORIG as NAME and room for half of another (full), or remounted read-only (ro); then the command runs there.
# mounted NAME ORIG full|ro PATTERN -- command... (the command writes $io/fs/NAME)
in_ns='fs=$1 orig=$2 name=$3 mode=$4; shift 4
pages=$(( ($(stat -c %s "$orig") + 4095) / 4096 ))
kb=$(( (pages + pages / 2) * 4 ))  # tmpfs counts whole pages: the copy fits, a second one does not
mount -t tmpfs -o size=${kb}k gg_io_test "$fs" || { echo "NO_MOUNT"; exit 0; }
cp "$orig" "$fs/$name" || { echo "NO_COPY"; exit 0; }
if [ "$mode" = ro ]; then mount -o remount,ro "$fs" || { echo "NO_MOUNT"; exit 0; }; fi
"$@" 2>&1; echo "EXIT $?"
cmp -s "$orig" "$fs/$name" && echo "INTACT"
[ -e "$fs/$name.tmp" ] && echo "TMP_LEFT"
exit 0'
if ! why=$(unshare -rm sh -c 'mount -t tmpfs -o size=64k gg_io_probe "$1"' sh "$io/fs" 2>&1); then
  echo "skip io: a real full tmpfs and read-only mount: cannot mount one here (unshare -rm: ${why:-refused})"
else
  mounted() {
    local name=$1 orig=$2 mode=$3 pattern=$4; shift 5
    local out
    out=$(unshare -rm sh -c "$in_ns" sh "$io/fs" "$orig" "$name" "$mode" "$@" 2>&1)
    if grep -q "NO_MOUNT\|NO_COPY" <<<"$out"; then echo "skip io: $mode $name: the tmpfs did not mount"; return; fi
    if grep -qE -- "$pattern" <<<"$out" && grep -q "^EXIT 1$" <<<"$out" && grep -q "^INTACT$" <<<"$out" && ! grep -q TMP_LEFT <<<"$out"; then
      echo "ok   io: $mode tmpfs: $name fails naming the cause, the previous file intact"; passed=$((passed + 1))
    else
      echo "FAIL io: $mode tmpfs: $name:"; echo "$out" | tail -8; failed=$((failed + 1))
    fi
  }
  mounted c.ckpt "$io/c.orig" full "$io/fs/c.ckpt: cannot (write|flush) $io/fs/c.ckpt.tmp.*: No space left on device; the previous c.ckpt is unchanged" -- \
    "$mnist" "${lenet[@]}" --epochs 2 --save "$io/fs/c.ckpt" --resume "$io/fs/c.ckpt"
  mounted c.ckpt "$io/c.orig" ro "$io/fs/c.ckpt: cannot create $io/fs/c.ckpt.tmp: Read-only file system" -- \
    "$mnist" "${lenet[@]}" --epochs 2 --save "$io/fs/c.ckpt" --resume "$io/fs/c.ckpt"
  mounted g.png "$io/g.orig" full "$io/fs/g.png: cannot (write|flush) $io/fs/g.png.tmp.*: No space left on device" -- \
    "$mnist" samples --data "$data" --seed 9 --out "$io/fs/g.png"
  mounted g.png "$io/g.orig" ro "$io/fs/g.png: cannot create $io/fs/g.png.tmp: Read-only file system" -- \
    "$mnist" samples --data "$data" --seed 9 --out "$io/fs/g.png"
  if [ $onnx = 1 ]; then
    mounted m.onnx "$io/m.orig" full "$io/fs/m.onnx: cannot (write|flush) $io/fs/m.onnx.tmp.*: No space left on device" -- \
      "$mnist" export --load "$io/c.ckpt" --onnx "$io/fs/m.onnx"
    mounted m.onnx "$io/m.orig" ro "$io/fs/m.onnx: cannot create $io/fs/m.onnx.tmp: Read-only file system" -- \
      "$mnist" export --load "$io/c.ckpt" --onnx "$io/fs/m.onnx"
  fi
fi
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
