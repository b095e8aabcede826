#!/usr/bin/env bash
# Kill-and-resume soak: trains a reduced MNIST run (checkpoints at every epoch
# and every few steps, mid-epoch too), SIGKILLs it at random moments KILLS
# times, resuming with --resume each time, and checks that
#   - after every kill the checkpoint loads and evaluates (mnist evaluate) and
#     its step never goes back (a lost checkpoint would);
#   - the run, however often killed, ends bit for bit where an uninterrupted
#     run of the same seed and threads ends: same step, same JSON (learning
#     rate, callbacks' state), same bits in every tensor, optimizer slots too
#     (scripts/ckpt_compare.py).
# The kills spread over the whole run (kill k comes once the checkpoint has
# passed a step drawn from the k-th of KILLS equal parts of it) and come in
# fours: at a random moment; just after a mid-epoch checkpoint landed (so the
# next run resumes mid-epoch); at a random moment; inside a checkpoint write
# (once its .tmp file appears).
#
#   scripts/soak_resume.sh MNIST_BINARY DATA_DIR [KILLS=20] [SEED=random]
#
# SEED drives the kill moments: a failure prints it, and the same SEED replays
# the same sequence of target steps and delays. The run's size: SOAK_TRAIN_LIMIT images
# (3072), SOAK_EPOCHS (6), checkpoints every SOAK_STEPS steps (7) and every
# epoch, SOAK_THREADS threads (2); batch 64, dropout (the tutorial's CNN),
# augmentation and a plateau schedule, so their state is resumed too.
set -u
mnist=$1 data=$2 kills=${3:-20}
seed=${4:-$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')}
here=$(cd "$(dirname "$0")" && pwd)
if ! command -v python3 > /dev/null; then echo "soak_resume: skipped: needs python3 (scripts/ckpt_compare.py)"; exit 77; fi
compare="python3 $here/ckpt_compare.py"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
RANDOM=$seed
echo "soak_resume: seed $seed (replay: $0 $mnist $data $kills $seed)"

limit=${SOAK_TRAIN_LIMIT:-3072} epochs=${SOAK_EPOCHS:-6} every=${SOAK_STEPS:-7} threads=${SOAK_THREADS:-2}
run=(train --data "$data" --train-limit "$limit" --test-limit 300 --batch 64 --epochs "$epochs" --threads "$threads" --seed 5
     --augment default --lr-schedule plateau:patience=1 --json --save-every 1 --save-every-steps "$every")
fail() { echo "soak_resume: FAIL (seed $seed): $*"; exit 1; }
ms() { date +%s%3N; }
t_start=$(ms)

# The reference: the same run, never interrupted.
t0=$(ms)
"$mnist" "${run[@]}" --save "$tmp/ref.ckpt" > "$tmp/ref.out" 2>&1 || { cat "$tmp/ref.out"; fail "the uninterrupted run failed"; }
ref_ms=$(($(ms) - t0))
echo "soak_resume: uninterrupted run: $((ref_ms / 1000)).$((ref_ms % 1000 / 100)) s, $epochs epochs of $limit images"

# Kill moments. Kill k waits until the checkpoint has reached a step drawn from
# the k-th of KILLS equal parts of the run, so the kills spread over every
# epoch; then (for the random kind) comes a delay uniform in [0, max_ms), from
# start-up to two checkpoint intervals. Start-up: resuming the finished run,
# which loads the data and the checkpoint, validates and stops.
t0=$(ms)
"$mnist" "${run[@]}" --save "$tmp/ref.ckpt" --resume "$tmp/ref.ckpt" > "$tmp/noop.out" 2>&1 || { cat "$tmp/noop.out"; fail "resuming the finished run failed"; }
startup_ms=$(($(ms) - t0))
train_ms=$(sed -n 's/.*"epoch_s":\([0-9.]*\).*/\1/p' "$tmp/ref.out" | awk '{s += $1} END {printf "%d", s * 1000}')
per_epoch=$(((limit + 63) / 64))
total=$((per_epoch * epochs)) span=$((per_epoch * epochs - 2 * every))
max_ms=$((startup_ms + 2 * every * train_ms / total + 1))
echo "soak_resume: start-up $startup_ms ms, training $train_ms ms ($total steps): random kills within $max_ms ms"
ckpt=$tmp/soak.ckpt
step_of() { od -An -tu8 -j24 -N8 "$1" 2>/dev/null | tr -d ' '; }  # the payload's first field (checkpoint.h)
current() { local s; s=$(step_of "$ckpt"); echo "${s:-0}"; }  # the checkpoint's step, 0 before the first
killed=0 in_write=0 lost=0 last_step=0 mid_resumes=0
# Starts the run, resuming from the checkpoint when there is one.
start() {
  resume=()
  if [ -f "$ckpt" ]; then
    resume=(--resume "$ckpt")
    [ $(($(step_of "$ckpt") % per_epoch)) -ne 0 ] && mid_resumes=$((mid_resumes + 1))
  fi
  "$mnist" "${run[@]}" --save "$ckpt" "${resume[@]}" > "$tmp/run.out" 2>&1 &
  pid=$!
}
while [ $killed -lt "$kills" ]; do
  touch "$tmp/started"  # a .tmp newer than this is this run's (a kill may leave a stale one, which the next save overwrites)
  start
  target=$((span * killed / kills + RANDOM % (span / kills + 1)))
  while kill -0 $pid 2>/dev/null && [ "$(current)" -lt $target ]; do sleep 0.02; done
  delay=$(( (RANDOM * 32768 + RANDOM) % max_ms ))
  kind=$((killed % 4))
  # Near the end no checkpoint may come any more: kill during start-up, before the run can end.
  [ $((total - $(current))) -le $((2 * every)) ] && kind=startup delay=$((delay % (startup_ms / 2 + 1)))
  t0=$(ms)
  if [ $kind = 1 ]; then
    from=$(current)
    deadline=$(($(ms) + 4 * max_ms))
    while kill -0 $pid 2>/dev/null && [ "$(ms)" -lt $deadline ]; do
      now=$(current)
      [ "$now" -gt "$from" ] && [ $((now % per_epoch)) -ne 0 ] && break
      sleep 0.002
    done
    how="just after a mid-epoch checkpoint"
  elif [ $kind = 3 ]; then
    # Into a checkpoint write: wait for its .tmp. A write can be over between two polls (a
    # loaded machine, a sanitized build): past two checkpoints missed, or near the end of the
    # run, the kill comes at once instead of letting the run end on its own.
    deadline=$(($(ms) + 4 * max_ms)) from=$(current)
    how="as a checkpoint write began"
    while ! [ "$ckpt.tmp" -nt "$tmp/started" ] && [ "$(ms)" -lt $deadline ] && kill -0 $pid 2>/dev/null; do
      now=$(current)
      if [ $((now - from)) -ge $((2 * every)) ] || [ $((total - now)) -le "$every" ]; then
        how="after its writes were missed (a write came and went between two polls)"
        break
      fi
      sleep 0.002
    done
  else
    how="at a random moment"
    [ $kind = startup ] && how="during start-up"
    sleep "$((delay / 1000)).$(printf %03d $((delay % 1000)))"
  fi
  if ! kill -KILL $pid 2>/dev/null; then
    wait $pid; status=$?
    cat "$tmp/run.out"
    fail "the run ended on its own (exit $status) after $killed of $kills kills: make it longer (SOAK_EPOCHS, SOAK_TRAIN_LIMIT)"
  fi
  wait $pid 2>/dev/null
  killed=$((killed + 1)) after=$(($(ms) - t0))
  # A kill inside a write leaves its .tmp behind (a finished write renamed it away).
  if [ "$ckpt.tmp" -nt "$tmp/started" ]; then how="$how, inside the write"; in_write=$((in_write + 1)); fi
  [ -f "$ckpt" ] || continue  # killed before its first checkpoint: nothing to lose yet
  if ! step=$($compare step "$ckpt"); then lost=$((lost + 1)); fail "kill $killed: the checkpoint does not read"; fi
  if [ "$step" -lt "$last_step" ]; then lost=$((lost + 1)); fail "kill $killed: the checkpoint went back from step $last_step to $step"; fi
  last_step=$step
  "$mnist" evaluate --data "$data" --test-limit 200 --threads "$threads" --load "$ckpt" > "$tmp/eval.out" 2>&1 &&
    grep -q "accuracy: 0\.[0-9]" "$tmp/eval.out" || { cat "$tmp/eval.out"; lost=$((lost + 1)); fail "kill $killed: the checkpoint (step $step) does not evaluate"; }
  echo "soak_resume: kill $killed/$kills (past step $target) $how, $after ms after: the checkpoint (step $step) loads and evaluates"
done

# The last resume runs to the end.
start
wait $pid || { cat "$tmp/run.out"; fail "the final resumed run failed"; }
$compare compare "$tmp/ref.ckpt" "$ckpt" > "$tmp/compare.out"
status=$?
cat "$tmp/compare.out"
[ $status -eq 0 ] || fail "the resumed run does not end where the uninterrupted one does"
[ $mid_resumes -gt 0 ] || fail "no run resumed from a mid-epoch checkpoint: nothing tested them"
bits=$(sed -n 's/.* \([0-9]*\) differing bits.*/\1/p' "$tmp/compare.out")
wall=$(($(ms) - t_start))
echo "soak_resume: PASS: $killed kills survived ($in_write inside a checkpoint write, $mid_resumes resumes mid-epoch), $lost checkpoints lost," \
     "final parameters ${bits:-?} differing bits; wall $((wall / 1000)).$((wall % 1000 / 100)) s; seed $seed"
