#!/usr/bin/env bash
# End-to-end checks of the mnist CLI: what a user types, what they get back.
#   cli_test.sh MNIST_BINARY DATA_DIR
set -u
mnist=$1 data=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0 failed=0

# expect NAME WANT_STATUS(0|nonzero) PATTERN -- command...: runs it, checks the exit status and that
# stdout+stderr match PATTERN (grep -E).
expect() {
  local name=$1 want=$2 pattern=$3
  shift 4
  local out status
  out=$("$@" 2>&1)
  status=$?
  if { [ "$want" = 0 ] && [ $status -ne 0 ]; } || { [ "$want" != 0 ] && [ $status -eq 0 ]; } ||
     [ $status -gt 128 ] || ! grep -qE -- "$pattern" <<<"$out"; then
    echo "FAIL $name: exit $status, output:"; echo "$out" | head -20
    failed=$((failed + 1))
  else
    echo "ok   $name"
    passed=$((passed + 1))
  fi
}

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
expect "train and save"       0       '"test_accuracy"'            -- "$mnist" train --data "$data" --epochs 1 --train-limit 512 --batch 64 --threads 2 --json --save "$tmp/w.ckpt"
expect "json summary keys"    0       'train_images_per_s.*infer_images_per_s.*peak_rss_mib' -- "$mnist" train --data "$data" --epochs 1 --train-limit 256 --json
expect "evaluate"             0       "accuracy: 0\.[0-9]"         -- "$mnist" evaluate --data "$data" --load "$tmp/w.ckpt"
expect "predict"              0       "predicted = [0-9], actual = 7" -- "$mnist" predict --data "$data" --load "$tmp/w.ckpt" --index 0
expect "predict past data"    nonzero "--index 10000"              -- "$mnist" predict --data "$data" --load "$tmp/w.ckpt" --index 10000
expect "evaluate missing ckpt" nonzero "$tmp/none.ckpt"            -- "$mnist" evaluate --data "$data" --load "$tmp/none.ckpt"
head -c 4096 /dev/urandom > "$tmp/junk.ckpt"
expect "evaluate junk ckpt"   nonzero "junk.ckpt.*magic"           -- "$mnist" evaluate --data "$data" --load "$tmp/junk.ckpt"
expect "samples png"          0       "grid"                       -- "$mnist" samples --data "$data" --out "$tmp/grid.png"
expect "samples is a png"     0       "PNG image data, 448 x 112" -- file "$tmp/grid.png"
expect "graph dot"            0       "digraph"                    -- "$mnist" graph --dot
expect "graph dump has backward" 0    "conv2d_backward_weight"     -- "$mnist" graph

# SIGINT mid-run: exit 130, the last checkpoint named and loadable; --resume continues the epoch count.
"$mnist" train --data "$data" --train-limit 1024 --batch 64 --epochs 500 --threads 2 --json --save "$tmp/run.ckpt" \
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
expect "interrupted ckpt loads" 0     "accuracy: 0\.[0-9]"        -- "$mnist" evaluate --data "$data" --load "$tmp/run.ckpt"
last=$(grep -c '"epoch"' "$tmp/run.out")
expect "resume continues"     0       "\"epoch\":$((last + 1)),"   -- "$mnist" train --data "$data" --train-limit 1024 --batch 64 --epochs $((last + 1)) --threads 2 --json --resume "$tmp/run.ckpt"
expect "resume missing file"  nonzero "$tmp/missing.ckpt"          -- "$mnist" train --data "$data" --train-limit 64 --resume "$tmp/missing.ckpt"
expect "save-every 0"         nonzero "--save-every"               -- "$mnist" train --data "$data" --save-every 0

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
