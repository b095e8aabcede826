#!/usr/bin/env bash
# The mnist CLI under mpirun: what a user of data-parallel training sees.
#   mpi_cli_test.sh MNIST_BINARY DATA_DIR MPIRUN [MPIRUN_ARGS...]
# (MPIRUN_ARGS: --allow-run-as-root --oversubscribe as the build found fit; -np is added here.)
set -u
mnist=$1 data=$(cd "$2" && pwd) mpirun=$3
shift 3
mpi_args=("$@")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0 failed=0
ok() { echo "ok   $1"; passed=$((passed + 1)); }
bad() { echo "FAIL $1"; [ -f "$tmp/last.out" ] && head -30 "$tmp/last.out"; failed=$((failed + 1)); }
# run NAME COMMAND...: runs it with a 5-minute cap ($limit seconds where set; a hang is a failure), output in
# $tmp/last.out, status in $status.
run() {
  local name=$1 cap=${limit:-300}; shift
  timeout "$cap" "$@" > "$tmp/last.out" 2>&1
  status=$?
  [ $status -eq 124 ] && bad "$name: hung (killed after $cap s)"
  # In a sanitized build a report fails the run even where the command was meant to fail.
  if grep -qE "ERROR: [A-Za-z]+Sanitizer|runtime error:" "$tmp/last.out"; then bad "$name: a sanitizer report"; fi
}
np=("$mpirun" "${mpi_args[@]}" -np)
json_field() { grep -o "\"$1\":[-0-9.e]*" "$2" | tail -1 | cut -d: -f2; }

# 1. Two ranks train and save; one process evaluates the checkpoint and gets the same accuracy.
run "2-rank train" "${np[@]}" 2 "$mnist" train --data "$data" --epochs 2 --train-limit 1536 --batch 64 --save "$tmp/two.ckpt" --json
if [ $status -eq 0 ] && [ "$(grep -c '"epoch"' "$tmp/last.out")" = 2 ] && grep -q '"ranks":2' "$tmp/last.out" &&
   [ -s "$tmp/two.ckpt" ]; then ok "2-rank train: rank 0 alone prints 2 epoch lines and the summary, and saves"; else bad "2-rank train (exit $status)"; fi
two_acc=$(json_field test_accuracy "$tmp/last.out")
run "1-process evaluate" "$mnist" evaluate --data "$data" --load "$tmp/two.ckpt" --json
one_acc=$(json_field test_accuracy "$tmp/last.out")
if [ $status -eq 0 ] && [ -n "$two_acc" ] && [ "$one_acc" = "$two_acc" ]; then
  ok "a 2-rank checkpoint evaluates in one process: accuracy $one_acc, as the 2-rank run reported"
else bad "1-process evaluate of the 2-rank checkpoint: $one_acc vs $two_acc (exit $status)"; fi
run "2-rank evaluate" "${np[@]}" 2 "$mnist" evaluate --data "$data" --load "$tmp/two.ckpt" --json
if [ $status -eq 0 ] && [ "$(json_field test_accuracy "$tmp/last.out")" = "$one_acc" ] && [ "$(grep -c test_accuracy "$tmp/last.out")" = 1 ]; then
  ok "2-rank evaluate (sharded, counts reduced) gives the same accuracy, printed once"
else bad "2-rank evaluate (exit $status)"; fi

# 2. One process trains; two ranks resume it (rank 0 reads, broadcasts) and match one process resuming it.
run "1-process train" "$mnist" train --data "$data" --epochs 1 --train-limit 1536 --batch 64 --threads 1 --save "$tmp/one.ckpt" --json
run "2-rank resume" "${np[@]}" 2 "$mnist" train --data "$data" --epochs 2 --train-limit 1536 --batch 64 --resume "$tmp/one.ckpt" --save "$tmp/resumed2.ckpt"
if [ $status -eq 0 ] && [ "$(grep -c 'resumed from' "$tmp/last.out")" = 1 ] && grep -q "Epoch 1/1" "$tmp/last.out"; then
  ok "2 ranks resume a 1-process checkpoint (epoch 2 of 2)"; else bad "2-rank resume (exit $status)"; fi
run "1-process resume" "$mnist" train --data "$data" --epochs 2 --train-limit 1536 --batch 64 --threads 1 --resume "$tmp/one.ckpt" --save "$tmp/resumed1.ckpt"
run "evaluate resumed (2 ranks)" "$mnist" evaluate --data "$data" --load "$tmp/resumed2.ckpt" --json
acc2=$(json_field test_accuracy "$tmp/last.out") loss2=$(json_field loss "$tmp/last.out")
run "evaluate resumed (1 process)" "$mnist" evaluate --data "$data" --load "$tmp/resumed1.ckpt" --json
acc1=$(json_field test_accuracy "$tmp/last.out") loss1=$(json_field loss "$tmp/last.out")
if awk -v a="$loss1" -v b="$loss2" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(a != "" && d < 1e-4) }'; then
  ok "resumed on 2 ranks = resumed in 1 process: test loss $loss2 vs $loss1, accuracy $acc2 vs $acc1"
else bad "resumed runs differ: test loss $loss2 (2 ranks) vs $loss1 (1 process)"; fi

# 3. Errors end the whole job, named once, without a hang.
run "bad data dir" "${np[@]}" 2 "$mnist" train --data "$tmp/nowhere" --epochs 1
if [ $status -ne 0 ] && [ $status -ne 124 ] && grep -q "$tmp/nowhere" "$tmp/last.out"; then ok "a missing data folder ends both ranks, naming it"; else bad "bad data dir (exit $status)"; fi
run "bad checkpoint" "${np[@]}" 2 "$mnist" evaluate --data "$data" --load "$tmp/none.ckpt"
if [ $status -ne 0 ] && [ $status -ne 124 ] && grep -q "$tmp/none.ckpt" "$tmp/last.out"; then ok "a missing checkpoint ends both ranks, naming it"; else bad "bad checkpoint (exit $status)"; fi
run "unknown flag" "${np[@]}" 2 "$mnist" train --no-such-flag
if [ $status -ne 0 ] && [ "$(grep -c -- '--no-such-flag' "$tmp/last.out")" -ge 1 ]; then ok "an unknown flag is refused"; else bad "unknown flag (exit $status)"; fi

# 4. One bucket after the backward pass (--bucket-mib 0) trains too.
run "one bucket" "${np[@]}" 2 "$mnist" train --data "$data" --epochs 1 --train-limit 512 --batch 64 --bucket-mib 0 --json
if [ $status -eq 0 ] && grep -q '"ranks":2' "$tmp/last.out"; then ok "--bucket-mib 0 (a single all-reduce per step)"; else bad "--bucket-mib 0 (exit $status)"; fi

# 5. A rank that dies ends the job with a message; the last checkpoint stays whole.
"${np[@]}" 2 "$mnist" train --data "$data" --epochs 50 --train-limit 1024 --batch 64 --save "$tmp/killed.ckpt" > "$tmp/kill.out" 2>&1 &
job=$!
for _ in $(seq 600); do [ -s "$tmp/killed.ckpt" ] && break; sleep 0.1; done
victim=""
for p in $(pgrep -f "$tmp/killed.ckpt"); do
  tr '\0' '\n' < "/proc/$p/environ" 2>/dev/null | grep -qx "OMPI_COMM_WORLD_RANK=1" && victim=$p
done
if [ -n "$victim" ] && [ -s "$tmp/killed.ckpt" ]; then
  kill -9 "$victim"
  for _ in $(seq 240); do kill -0 $job 2>/dev/null || break; sleep 0.5; done  # mpirun must end the job by itself
  kill -9 $job 2>/dev/null
  wait $job; status=$?
  cp "$tmp/kill.out" "$tmp/last.out"
  if [ $status -ne 0 ] && grep -qiE "signal 9|killed|exited on signal|terminated" "$tmp/kill.out"; then
    ok "SIGKILL of rank 1 ends the job (exit $status) with a message"
  else bad "after SIGKILL of rank 1: exit $status"; fi
  run "evaluate after the kill" "$mnist" evaluate --data "$data" --load "$tmp/killed.ckpt" --json
  if [ $status -eq 0 ] && grep -q test_accuracy "$tmp/last.out"; then ok "the last checkpoint of the killed job loads and evaluates"; else bad "checkpoint after the kill (exit $status)"; fi
else
  kill -9 $job 2>/dev/null; wait $job 2>/dev/null
  bad "could not find rank 1 of the job to kill (checkpoint written: $([ -s "$tmp/killed.ckpt" ] && echo yes || echo no))"
fi

# 6. SIGINT to mpirun (a user's Ctrl-C): mpirun sends the ranks SIGTERM and, a moment later, SIGKILL.
# Caught inside a step, the stop flag (summed every step) stops both ranks at the same step and
# rank 0 alone names the intact checkpoint; caught during evaluation (which polls no flag), the
# ranks are killed. Either way the job ends without a hang and the last checkpoint is whole.
"${np[@]}" 2 "$mnist" train --data "$data" --epochs 50 --train-limit 1024 --batch 64 --save "$tmp/int.ckpt" > "$tmp/int.out" 2>&1 &
job=$!
for _ in $(seq 600); do [ -s "$tmp/int.ckpt" ] && break; sleep 0.1; done
sleep 0.5  # into the next epoch's steps, usually
kill -INT $job
for _ in $(seq 240); do kill -0 $job 2>/dev/null || break; sleep 0.5; done
kill -9 $job 2>/dev/null
wait $job; status=$?
cp "$tmp/int.out" "$tmp/last.out"
stopped=$(grep -c "interrupted during epoch .*the last checkpoint is $tmp/int.ckpt (epoch [0-9]*), intact" "$tmp/int.out")
if [ $status -ne 0 ] && [ $status -ne 137 ] && [ "$stopped" -le 1 ]; then
  ok "SIGINT to mpirun ends the job (exit $status): $([ "$stopped" = 1 ] && echo "both ranks stopped at one step, rank 0 named the intact checkpoint" || echo "the ranks were killed outside a step")"
else bad "SIGINT to mpirun: exit $status, $stopped stop messages"; fi
run "evaluate after the interrupt" "$mnist" evaluate --data "$data" --load "$tmp/int.ckpt" --json
if [ $status -eq 0 ] && grep -q test_accuracy "$tmp/last.out"; then ok "the interrupted job's checkpoint evaluates"; else bad "checkpoint after SIGINT (exit $status)"; fi

# 7. Resume under 2 ranks with --early-stopping (restore_best_weights) and a plateau schedule: rank 0
# reads the checkpoint and every rank restores the callbacks' states and best weights from it, so the
# ranks stop at the same epoch and lower the learning rate together, and the resumed run ends bit for
# bit where the uninterrupted one ends. A rank that started the callbacks afresh would stop at another
# epoch than the other (a hang in the next all-reduce) or train at another learning rate.
# (This run: the plateau halves the rate after epochs 4, 6 and 7, training stops after epoch 7 and keeps
# epoch 5's weights; the resume point is epoch 3, whose own weights are the best so far, so the
# checkpoint written at its end is the resume point.)
es=(train --data "$data" --model mlp --optimizer sgd --lr 0.3 --early-stopping 2 --lr-schedule plateau:patience=1
    --train-limit 512 --batch 64 --test-limit 500 --threads 1)
compare=$(dirname "$0")/../scripts/ckpt_compare.py
run "early stop, uninterrupted" "${np[@]}" 2 "$mnist" "${es[@]}" --epochs 8 --save "$tmp/es_full.ckpt"
cp "$tmp/last.out" "$tmp/es_full.out"
run "early stop, first 3 epochs" "${np[@]}" 2 "$mnist" "${es[@]}" --epochs 3 --save "$tmp/es_part.ckpt"
limit=60 run "early stop, resumed" "${np[@]}" 2 "$mnist" "${es[@]}" --epochs 8 --resume "$tmp/es_part.ckpt" --save "$tmp/es_resumed.ckpt"
final() { grep -E "^(loss|accuracy): " "$1"; }  # the final evaluation: each rank its half of the test set
if [ $status -eq 0 ] && grep -q "^Epoch 7/8" "$tmp/es_full.out" && ! grep -q "^Epoch 8/8" "$tmp/es_full.out" &&
   grep -q "^Epoch 4/5" "$tmp/last.out" && ! grep -q "^Epoch 5/5" "$tmp/last.out" &&
   [ -n "$(final "$tmp/last.out")" ] && [ "$(final "$tmp/last.out")" = "$(final "$tmp/es_full.out")" ] &&
   python3 "$compare" compare "$tmp/es_full.ckpt" "$tmp/es_resumed.ckpt" > "$tmp/compare.out" 2>&1; then
  ok "2 ranks resume early stopping and a plateau schedule: stopped after epoch 7 as uninterrupted, same final evaluation, $(cat "$tmp/compare.out")"
else
  [ $status -ne 124 ] && cat "$tmp/compare.out" >> "$tmp/last.out" 2>/dev/null
  bad "2-rank resume with callbacks (exit $status) differs from the uninterrupted run: $(final "$tmp/last.out" | tr '\n' ' ')vs $(final "$tmp/es_full.out" | tr '\n' ' ')"
fi
# A corrupt resume point: rank 0 cannot read it, and every rank fails with its error instead of waiting
# (both ranks print it, their lines may interleave, and rank 0's abort may cut rank 1's off).
cp "$tmp/es_part.ckpt" "$tmp/es_bad.ckpt"
printf 'X' | dd of="$tmp/es_bad.ckpt" bs=1 seek=100 conv=notrunc 2> /dev/null
limit=60 run "resume a corrupt checkpoint" "${np[@]}" 2 "$mnist" "${es[@]}" --epochs 8 --resume "$tmp/es_bad.ckpt"
if [ $status -ne 0 ] && [ $status -ne 124 ] && grep -q "$tmp/es_bad.ckpt: checksum mismatch: the file is corrupt" "$tmp/last.out"; then
  ok "a corrupt checkpoint to resume ends both ranks, naming it and the cause"
else bad "resume of a corrupt checkpoint (exit $status)"; fi

echo "mpi cli: $passed passed, $failed failed"
[ $failed -eq 0 ]
