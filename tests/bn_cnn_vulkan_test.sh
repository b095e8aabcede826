#!/bin/bash
# The zoo's bn-cnn trains on Vulkan as on the CPU (dropout and batch norm on,
# seed 0, batch 8): the first step's loss agrees within 1e-5 relative (4e-7
# measured), and the mean loss of 100 steps (800 images) within 3% (0.97%
# measured). Training at batch 8 with batch norm and Adam amplifies the
# backends' different summation orders step by step: the CPU at 1 and at 2
# threads, whose only difference is the order of one sum, end 100 steps
# 0.02% apart, and the device's ~1e-6 differences in every kernel carry ~50x
# further. The run has the validation layer on.
#   bn_cnn_vulkan_test.sh MNIST_BIN MNIST_DIR
set -u
mnist=$1 data=$2
run() { "$mnist" train --data "$data" --model bn-cnn --backend "$1" --threads 2 --train-limit "$2" --batch 8 --epochs 1 \
          --test-limit 100 --seed 0 --json | head -1; }
status=0
for images in 8 800; do
  cpu=$(run cpu $images) || { echo "FAIL: cpu run: $cpu"; exit 1; }
  vk=$(GRAPHGRAD_VULKAN_VALIDATION=1 run vulkan $images) || { echo "FAIL: vulkan run: $vk"; exit 1; }
  echo "cpu:    $cpu"
  echo "vulkan: $vk"
  python3 - "$cpu" "$vk" "$images" <<'PY' || status=1
import json, sys
c, v = (json.loads(a) for a in sys.argv[1:3])
steps = int(sys.argv[3]) // 8
tolerance = 1e-5 if steps == 1 else 0.03
rel = abs(c["loss"] - v["loss"]) / abs(c["loss"])
print(f"bn-cnn, {steps} step(s): loss {c['loss']:.7f} (cpu) vs {v['loss']:.7f} (vulkan): {rel:.2e} apart (tolerance {tolerance:g})")
sys.exit(0 if rel <= tolerance else 1)
PY
done
exit $status
