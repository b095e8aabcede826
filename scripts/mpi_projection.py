#!/usr/bin/env python3
"""Projects data-parallel training of the MNIST CNN past this machine.

  scripts/mpi_projection.py [--build build] [--threads 2] [--data data/mnist]

Measures, on this machine:
  1. the all-reduce time against message size, 2 ranks on loopback, through
     shared memory and through TCP (bench_allreduce under mpirun);
  2. one machine's training step at batch 128 (the time per step of `mnist
     train` with GRAPHGRAD_PROFILE=1) and the part of its backward pass that
     runs after the dense layers' gradients are ready (the convolutions'
     backward): the window in which the first all-reduce bucket can travel.
Then, for N machines each training batch 128 (global batch 128 N) on links of
10 and 100 Gb/s, a ring all-reduce of S bytes takes
    T_ar(N, S) = 2 (N - 1) a + 2 (N - 1) / N * S / bandwidth
with a the per-message latency (half the 2-rank 4 KiB all-reduce over TCP:
a ring of 2 makes 2 steps). The gradients go as two buckets: the dense
layers' (S0 = 2.26 MiB, ready early: hidden behind the convolutions' backward,
T_h) and the convolutions' (S1 = 0.04 MiB, ready last: exposed), so
    T_step(N) = T_c + max(0, T_ar(N, S0) - T_h) + T_ar(N, S1) + T_ar(N, 24 B)
(the last: the step's loss, accuracy and stop flag, summed so every rank
decides alike), and the scaling efficiency is T_c / T_step(N). Stragglers
(one slow machine holds every step back) are not modelled. Prints markdown tables.
"""
import argparse
import json
import os
import re
import subprocess
import sys

# The MNIST CNN's gradients by all-reduce bucket (ops::AllreduceOptions, 1 MiB buckets).
DENSE_FLOATS = 4608 * 128 + 128 + 128 * 10 + 10  # dense_1, dense_2: bucket 0
CONV_FLOATS = 32 * 32 * 9 + 32 + 32 * 9 + 32      # conv2d_2, conv2d_1: bucket 1


def mpirun(extra):
    base = ["mpirun", "--oversubscribe", "-np", "2"]
    if os.geteuid() == 0:
        base.insert(1, "--allow-run-as-root")
    return base + extra


def allreduce(build, transport):
    mca = ["--mca", "btl", "tcp,self"] if transport == "tcp" else []
    out = subprocess.run(mpirun(mca + [os.path.join(build, "bin", "bench_allreduce"), "--json", "16"]),
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def step_profile(build, data, threads):
    env = dict(os.environ, GRAPHGRAD_PROFILE="1")
    run = subprocess.run([os.path.join(build, "bin", "mnist"), "train", "--data", data, "--epochs", "1",
                          "--train-limit", "6400", "--threads", str(threads), "--json"],
                         capture_output=True, text=True, check=True, env=env)
    lines = run.stderr.splitlines()
    first = next(i for i, l in enumerate(lines) if l.startswith("cpu profile:"))  # the training executable
    step_ms = float(re.search(r"([0-9.]+) ms per run", lines[first]).group(1))
    hidden_ms = 0.0
    for line in lines[first + 1:]:
        if line.startswith("cpu profile:"):
            break
        m = re.match(r"\s*[0-9.]+%\s+([0-9.]+) ms\s+\S+\s+(\S+)", line)
        if m and re.match(r"grad/(conv2d|activation_[12]/|max_pooling2d|dropout_1/)", m.group(2)):
            hidden_ms += float(m.group(1))
    return step_ms, hidden_ms


def t_allreduce_ms(n, size_bytes, latency_us, gbit):
    if n == 1:
        return 0.0
    return (2 * (n - 1) * latency_us * 1e-6 + 2 * (n - 1) / n * size_bytes / (gbit * 1e9 / 8)) * 1e3


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default="build")
    ap.add_argument("--data", default="data/mnist")
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()

    shm, tcp = allreduce(a.build, "shm"), allreduce(a.build, "tcp")
    print("## All-reduce on loopback (2 ranks, f32 sum, median)\n")
    print("| bytes | shared memory (us) | bus GB/s | TCP loopback (us) | bus GB/s |")
    print("| ---: | ---: | ---: | ---: | ---: |")
    for s, t in zip(shm["sizes"], tcp["sizes"]):
        print(f"| {s['bytes']:,} | {s['median_us']:.1f} | {s['bus_gbytes_per_s']:.2f} | {t['median_us']:.1f} | {t['bus_gbytes_per_s']:.2f} |")
    latency_us = tcp["sizes"][0]["median_us"] / 2

    step_ms, hidden_ms = step_profile(a.build, a.data, a.threads)
    s0, s1 = DENSE_FLOATS * 4, CONV_FLOATS * 4
    print(f"\nMeasured: one machine's step at batch 128 ({a.threads} threads) T_c = {step_ms:.1f} ms; the convolutions' "
          f"backward after the dense gradients are ready T_h = {hidden_ms:.1f} ms; per-message latency a = {latency_us:.1f} us "
          f"(TCP loopback); buckets S0 = {s0 / 2**20:.2f} MiB, S1 = {s1 / 2**20:.3f} MiB.\n")
    print("## Projected step time and scaling efficiency (each machine batch 128, ring all-reduce)\n")
    print("| machines | link | all-reduce per step (ms) | exposed after overlap (ms) | step (ms) | efficiency | "
          "images/s | efficiency without overlap |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for gbit in (10, 100):
        for n in (2, 8, 64):
            t0, t1 = t_allreduce_ms(n, s0, latency_us, gbit), t_allreduce_ms(n, s1, latency_us, gbit) + t_allreduce_ms(n, 24, latency_us, gbit)
            exposed = max(0.0, t0 - hidden_ms) + t1
            step = step_ms + exposed
            print(f"| {n} | {gbit} Gb/s | {t0 + t1:.2f} | {exposed:.2f} | {step:.1f} | {step_ms / step:.1%} | "
                  f"{n * 128 / step * 1e3:,.0f} | {step_ms / (step_ms + t0 + t1):.1%} |")


if __name__ == "__main__":
    sys.exit(main())
