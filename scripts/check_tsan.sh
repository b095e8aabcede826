#!/usr/bin/env bash
# CI's third stage: ThreadSanitizer over the code that runs threads (clang).
#   scripts/check_tsan.sh
# Builds gg_tests and mnist into build-tsan (-fsanitize=thread; CPU only:
# Vulkan, MPI, ONNX and the benchmarks off, so only the threaded code is
# built), then runs
#   - the CPU backend's suites (every op's kernels through the gradient
#     checks, whole nets, training, layers, numerics) at 1, 2 and 4 threads
#     (GRAPHGRAD_CPU_THREADS overrides every backend's thread count);
#   - the conv kernels' suite (cpu_kernels: its own thread splits, 1-3 threads);
#   - the data-parallel suite (the communication thread of the bucketed
#     all-reduce, through the stand-in communicator), at 1, 2 and 4 threads;
#   - the CLI's interrupt tests (SIGINT mid-step, SIGKILL, --resume, mid-epoch
#     checkpoints) and its "built without MPI" refusals (this build has no MPI).
# Any report fails the stage: every process writes its reports under
# build-tsan/tsan-reports (TSAN_OPTIONS log_path), which must stay empty.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

# -O1 -gline-tables-only: TSan's usual trade between run time and file:line in reports.
CC=clang CXX=clang++ cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -gline-tables-only -DNDEBUG" -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -gline-tables-only -DNDEBUG" \
  -DGRAPHGRAD_SANITIZE=thread -DGRAPHGRAD_VULKAN=OFF -DGRAPHGRAD_MPI=OFF -DGRAPHGRAD_ONNX=OFF -DGRAPHGRAD_BENCH=OFF \
  -DGRAPHGRAD_FUZZ=OFF > /dev/null
cmake --build build-tsan -j2 --target gg_tests mnist

reports=$root/build-tsan/tsan-reports
rm -rf "$reports" && mkdir -p "$reports"
export TSAN_OPTIONS="log_path=$reports/tsan second_deadlock_stack=1 history_size=4 suppressions=$root/scripts/sanitizers/tsan.supp"
# OpenBLAS runs single-threaded inside our pool (cpu_backend.cpp calls
# openblas_set_num_threads(1)); with 1 here it also starts none of its own
# idle threads when it loads.
export OPENBLAS_NUM_THREADS=1
check_reports() {
  if compgen -G "$reports/tsan*" > /dev/null; then
    echo "check_tsan: ThreadSanitizer reports after $1:"
    cat "$reports"/tsan*
    exit 1
  fi
  echo "check_tsan: $1: no report"
}
# clang 14's TSan cannot map its shadow memory under the address randomization
# of newer kernels (vm.mmap_rnd_bits > 28: "unexpected memory mapping"); run
# without randomization where setarch may turn it off.
norand=()
if setarch "$(uname -m)" -R true 2> /dev/null; then norand=(setarch "$(uname -m)" -R); fi
tests="${norand[*]} build-tsan/bin/gg_tests"
suites="--test-suite=net_gradcheck,training_control,layers,numerics,optimizers,data_parallel"
for threads in 1 2 4; do
  start=$SECONDS
  GRAPHGRAD_CPU_THREADS=$threads $tests --test-case='gradcheck*' > /dev/null
  GRAPHGRAD_CPU_THREADS=$threads $tests "$suites" > /dev/null
  check_reports "the CPU suites at $threads thread(s) ($((SECONDS - start)) s)"
done
start=$SECONDS
$tests --test-suite=cpu_kernels > /dev/null
check_reports "cpu_kernels ($((SECONDS - start)) s)"
start=$SECONDS
GG_BUILT_WITH_MPI=OFF GG_CLI_PARTS=interrupt,nompi "${norand[@]}" tests/cli_test.sh build-tsan/bin/mnist data/mnist tests
check_reports "the CLI's interrupt tests ($((SECONDS - start)) s)"
