#!/usr/bin/env bash
# CI's second stage: the whole test suite under AddressSanitizer and
# UndefinedBehaviorSanitizer (clang), then the fuzzers for a bounded time.
#   scripts/check_sanitized.sh [FUZZ_SECONDS_EACH=60]   (0: no fuzzing)
# Uses the folder build-asan. Any sanitizer report fails the test it came from
# (UBSan aborts: -fno-sanitize-recover=all; LeakSanitizer fails the exit code).
set -euo pipefail
cd "$(dirname "$0")/.."
fuzz_seconds=${1:-60}

# -gline-tables-only: file:line in sanitizer reports at a fraction of -g's compile time.
# MPI as found (on in CI): mpi_parity and mpi_cli run the data-parallel code
# under ASan+UBSan, two ranks under mpirun; LeakSanitizer skips Open MPI's own
# allocations, each suppression justified in scripts/sanitizers/lsan_openmpi.supp.
# (The CLI test's "built without MPI" refusals run in scripts/check_tsan.sh's
# build, which has no MPI.)
# NATIVE off: a portable build (no -march=native), so the AVX2 kernels are
# compiled through their target attributes alone and picked at run time, as
# in a distribution's package; stage one covers the -march=native build.
CC=clang CXX=clang++ cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -gline-tables-only -DNDEBUG" -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O2 -gline-tables-only -DNDEBUG" \
  -DGRAPHGRAD_SANITIZE=address,undefined -DGRAPHGRAD_FUZZ=ON -DGRAPHGRAD_BENCH=OFF -DGRAPHGRAD_NATIVE=OFF
cmake --build build-asan -j2

# lavapipe (the Vulkan driver the parity tests run on) keeps allocations in
# globals; the Vulkan loader dlclose()s it at vkDestroyInstance, after which
# LeakSanitizer sees those blocks as leaked from "<unknown module>" and cannot
# tell them from ours. Preloading the driver keeps it mapped, so they stay
# reachable and any leak LSan reports is a real one.
lvp=$(sed -n 's/.*"library_path": *"\([^"]*lvp[^"]*\)".*/\1/p' /usr/share/vulkan/icd.d/lvp_icd*.json 2>/dev/null | head -1)
if [ -n "$lvp" ] && [ -e "$lvp" ]; then export LD_PRELOAD=$lvp; fi
ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 LSAN_OPTIONS=suppressions=$PWD/scripts/sanitizers/lsan_openmpi.supp:print_suppressions=0 \
  ctest --test-dir build-asan --output-on-failure -j2
unset LD_PRELOAD

if [ "$fuzz_seconds" -gt 0 ]; then scripts/fuzz.sh "$fuzz_seconds" build-asan; fi
