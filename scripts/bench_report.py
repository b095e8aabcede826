#!/usr/bin/python3
"""The benchmark comparison report, in one command.

  scripts/bench_report.py [--build DIR] [--data DIR] [--quick] [--threads N] [--train-limit N] [--out DIR]
  scripts/bench_report.py --from-json RESULTS.json [--out DIR]   (the markdown again, from an earlier run)

Runs, each with --benchmark_format=json, the roofline (bench_roofline: sgemm and FMA peaks, the
net's GEMMs, the direct conv kernels), bench_ops and bench_train on the cpu and vulkan backends;
then the peers, each when it can run here (else a line saying why it was skipped): our `mnist train`, PyTorch
(../shared/peers/torch_mnist_cnn.py), libtorch (built once by build_libtorch_peer.sh into
<build>/peers/) and onnxruntime-node (from the npm registry, by scripts/install_onnxruntime.sh into
build/onnxruntime; skipped, with npm's reason, when it cannot be installed).

Writes bench/results/<date>-<host>.md (tables: op x backend with time, GFLOP/s, the fraction
of the sgemm 2048^3 peak and of the FMA peak, and the Vulkan/CPU ratio; the peers' images/s and
latency beside ours, with the commands), <date>-<host>.json (everything it ran, raw) and
<date>-<host>.png (GFLOP/s per op against both peaks; matplotlib when installed, else Pillow).

The tables, the fractions of peak in them and the chart are rendered by bench_render.py (its docstring
says how), from the same results that go into the JSON; --from-json renders them again from that JSON.

--quick: shorter minimum times, Vulkan at batch 1 and 32 only (lavapipe takes seconds per run at
batch 128), training runs limited to 2,000 images. The default run limits training to 6,000
images (a tenth of an epoch, 47 steps at batch 128): enough for steady images/s, and the
accuracy after a tenth of an epoch is only a check that the run trained. Both aim at well under
5 minutes on 2 idle cores; on a busy machine everything (PyTorch's latency loop above all) slows.
"""
import argparse
import datetime
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# bench_render.py sits beside this script: importable whatever the working directory, and when this file is
# loaded by path rather than run (sys.path[0] is then not scripts/).
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_render import PEAK_REPS, chart_series, draw_chart, write_markdown  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
T0 = time.monotonic()


def log(msg):
    print(f'[bench_report {time.monotonic() - T0:5.0f}s] {msg}', file=sys.stderr, flush=True)


def run(cmd, timeout, cwd=None, env=None):
    """Runs cmd (a list); returns (rc, stdout, stderr, seconds). rc None: could not start or timed out."""
    t = time.monotonic()
    try:
        p = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=timeout, cwd=cwd, env=env)
        return p.returncode, p.stdout, p.stderr, time.monotonic() - t
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or '')
        return None, out, f'timed out after {timeout} s', time.monotonic() - t
    except OSError as e:
        return None, '', str(e), time.monotonic() - t


def shell(cmd):
    return ' '.join(str(c) if re.fullmatch(r'[\w@%+=:,./-]+', str(c)) else "'" + str(c).replace("'", "'\\''") + "'"
                    for c in cmd)


def last_json_line(text):
    for line in reversed(text.strip().splitlines()):
        line = line.strip()
        if line.startswith('{'):
            try:
                return json.loads(line)
            except json.JSONDecodeError:
                pass
    return None


def why(rc, err):
    lines = [l for l in err.strip().splitlines() if l.strip()]
    return (f'exit {rc}: ' if rc is not None else '') + (lines[-1][:300] if lines else 'no message')


# ---------------------------------------------------------------------------------------- benchmarks

def gbench(binary, args, timeout, commands, skipped):
    """Runs a Google Benchmark binary with JSON output; returns its parsed JSON (or None)."""
    cmd = [binary, '--benchmark_format=json'] + args
    commands.append(shell(cmd))
    log('running ' + shell(cmd))
    rc, out, err, secs = run(cmd, timeout)
    for line in err.splitlines():
        if 'skipped' in line or 'flops.h counts' in line:
            skipped.append(line.strip())
    if rc != 0:
        skipped.append(f'{Path(binary).name} {" ".join(args)}: {why(rc, err)}')
        return None
    try:
        data = json.loads(out)
    except json.JSONDecodeError as e:
        skipped.append(f'{Path(binary).name}: unreadable JSON ({e})')
        return None
    data['stderr'] = err
    data['seconds'] = round(secs, 1)
    return data


# ---------------------------------------------------------------------------------------- peers

def torch_python():
    for py in [sys.executable, '/usr/bin/python3', shutil.which('python3')]:
        if py and os.path.exists(py):
            rc, _, _, _ = run([py, '-c', 'import torch, numpy'], 60)
            if rc == 0:
                return py
    return None


def peer_run(name, cmd, timeout, peers, cwd=None, env=None):
    log(f'{name}: ' + shell(cmd))
    rc, out, err, secs = run(cmd, timeout, cwd=cwd, env=env)
    result = last_json_line(out) if rc == 0 else None
    entry = {'name': name, 'command': shell(cmd), 'seconds': round(secs, 1), 'result': result}
    if result is None:
        entry['skipped'] = why(rc, err or out)
    peers.append(entry)
    return entry


def run_peers(a, build, data, peers_dir, limit, peers):
    threads = a.threads
    ours = [build / 'bin' / 'mnist', 'train', '--epochs', 1, '--threads', threads, '--json', '--data', data]
    if limit:
        ours += ['--train-limit', limit]
    peer_run('graphgrad (ours, cpu)', ours, 600, peers)

    script = peers_dir / 'torch_mnist_cnn.py'
    py = torch_python()
    if not script.exists():
        peers.append({'name': 'PyTorch', 'skipped': f'{script} not found'})
    elif not py:
        peers.append({'name': 'PyTorch', 'skipped': 'no python3 here imports torch and numpy (Debian: python3-torch)'})
    else:
        cmd = [py, script, '--data', data, '--epochs', 1, '--threads', threads] + (['--train-limit', limit] if limit else [])
        peer_run('PyTorch (python)', cmd, 600, peers)

    # libtorch: built once into the build folder, again when its source is newer.
    src, builder = peers_dir / 'libtorch_mnist_cnn.cpp', peers_dir / 'build_libtorch_peer.sh'
    exe = build / 'peers' / 'libtorch_mnist_cnn'
    if not src.exists() or not builder.exists():
        peers.append({'name': 'libtorch', 'skipped': f'{src} or {builder} not found'})
    elif not Path('/usr/include/torch').exists():
        peers.append({'name': 'libtorch', 'skipped': 'libtorch-dev is not installed (/usr/include/torch missing)'})
    else:
        ok = exe.exists() and exe.stat().st_mtime >= src.stat().st_mtime
        if not ok:
            exe.parent.mkdir(parents=True, exist_ok=True)
            log(f'libtorch: building {exe} (about half a minute)')
            rc, _, err, secs = run(['sh', builder, exe], 600)
            ok = rc == 0
            if not ok:
                peers.append({'name': 'libtorch', 'skipped': 'build failed: ' + why(rc, err)})
        if ok:
            cmd = [exe, '--data', data, '--epochs', 1, '--threads', threads] + (['--train-limit', limit] if limit else [])
            peer_run('libtorch (C++)', cmd, 600, peers)

    run_onnx(a, data, peers_dir / 'onnx', py, peers)


def run_onnx(a, data, onnx_dir, py, peers):
    """onnxruntime-node, per ../shared/peers/onnx/README.md, installed by scripts/install_onnxruntime.sh."""
    name = 'onnxruntime-node (inference)'
    if not shutil.which('node'):
        peers.append({'name': name, 'skipped': 'node is not installed (Debian: nodejs)'})
        return
    if not py:
        peers.append({'name': name, 'skipped': 'the ONNX export needs python3-torch'})
        return
    ort_dir = ROOT / 'build' / 'onnxruntime'
    install = [ROOT / 'scripts' / 'install_onnxruntime.sh', ort_dir]
    log('onnxruntime: ' + shell(install))
    rc, out, err, _ = run(install, 240)  # quiet and quick when already there; npm's own timeout is 180 s
    if rc != 0:
        peers.append({'name': name, 'command': shell(install), 'skipped': 'cannot install onnxruntime-node: ' + why(rc, err)})
        return
    # ort_bench.mjs imports onnxruntime-node (an ES import, which ignores NODE_PATH): it runs from a
    # scratch folder whose node_modules is the installed one; NODE_PATH serves its require().
    work = Path(tempfile.mkdtemp(prefix='gg_ort_'))
    (work / 'node_modules').symlink_to(ort_dir / 'node_modules')
    shutil.copy(onnx_dir / 'ort_bench.mjs', work)
    env = dict(os.environ, NODE_PATH=str(ort_dir / 'node_modules'))
    export = [py, onnx_dir / 'export_onnx.py', '--data', data, '--out', work / 'mnist_cnn.onnx', '--threads', a.threads,
              '--train-images', 2000 if a.quick else 10000, '--bench']
    e = peer_run('PyTorch (python), by ort_bench rules', export, 600, peers)
    if e.get('result') is not None:
        peer_run(name, ['node', 'ort_bench.mjs', 'mnist_cnn.onnx', data, a.threads], 600, peers, cwd=work, env=env)
    shutil.rmtree(work, ignore_errors=True)


# ---------------------------------------------------------------------------------------- chart

def chart(res, png, json_path):
    """Draws the chart (bench_render.draw_chart) in this python, or else in /usr/bin/python3 (Debian's, which may
    have Pillow) via --chart-only."""
    reason = draw_chart(chart_series(res), png)
    if reason and os.path.exists('/usr/bin/python3') and os.path.realpath(sys.executable) != os.path.realpath('/usr/bin/python3'):
        rc, _, err, _ = run(['/usr/bin/python3', __file__, '--chart-only', json_path, png], 120)
        if rc == 0:
            return None
        reason += f'; /usr/bin/python3: {why(rc, err)}'
    return reason


# ---------------------------------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--build', default=str(ROOT / 'build'), help='build folder with bin/bench_* and bin/mnist (default: build)')
    ap.add_argument('--data', default=str(ROOT / 'data' / 'mnist'), help='folder with the four MNIST .gz files')
    ap.add_argument('--out', default=str(ROOT / 'bench' / 'results'), help='where the .md, .json and .png go')
    ap.add_argument('--peers', default=str(ROOT.parent / 'shared' / 'peers'), help='the peers folder')
    ap.add_argument('--threads', type=int, default=2, help='threads for every backend and peer (default 2)')
    ap.add_argument('--train-limit', type=int, default=None, help='images per training run (default 6000; quick 2000; 0: all)')
    ap.add_argument('--quick', action='store_true', help='shorter runs: see the module doc')
    ap.add_argument('--no-peers', action='store_true', help='benchmarks and roofline only')
    ap.add_argument('--from-json', metavar='JSON', help='write the markdown report of an earlier run\'s JSON (runs nothing); '
                    'the .md goes to --out, named after the JSON')
    ap.add_argument('--chart-only', nargs=2, metavar=('JSON', 'PNG'), help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.from_json:
        src = Path(a.from_json)
        res = json.loads(src.read_text())
        md = Path(a.out) / src.with_suffix('.md').name
        md.parent.mkdir(parents=True, exist_ok=True)
        png = src.with_suffix('.png')
        write_markdown(md, res['meta'], res, f'![GFLOP/s per op against the peaks]({png.name})' if png.exists() else
                       'No chart (rendered from JSON).')
        print(md)
        return
    if a.chart_only:
        reason = draw_chart(chart_series(json.loads(Path(a.chart_only[0]).read_text())), a.chart_only[1])
        if reason:
            sys.exit(reason)
        return

    build, data, peers_dir = Path(a.build).resolve(), Path(a.data).resolve(), Path(a.peers).resolve()
    bins = {n: build / 'bin' / n for n in ('bench_ops', 'bench_train', 'bench_roofline', 'mnist')}
    missing = [str(p) for p in bins.values() if not p.exists()]
    if missing:
        sys.exit(f'bench_report: missing {", ".join(missing)}: build them with '
                 f'cmake -S {ROOT} -B {build} && cmake --build {build} -j2 --target mnist bench_ops bench_train bench_roofline')
    if not any(data.glob('train-images-idx3-ubyte*')):
        sys.exit(f'bench_report: no MNIST files in {data}: run scripts/fetch_mnist.sh or pass --data DIR')
    limit = a.train_limit if a.train_limit is not None else (2000 if a.quick else 6000)

    now = datetime.datetime.now()
    host = socket.gethostname().split('.')[0]
    cpu = next((l.split(':', 1)[1].strip() for l in open('/proc/cpuinfo') if l.startswith('model name')), 'unknown CPU')
    meta = {'date': now.strftime('%Y-%m-%d'), 'time': now.strftime('%H:%M:%S'), 'host': host, 'cpu': cpu,
            'cores': os.cpu_count(), 'threads': a.threads, 'quick': a.quick, 'train_limit': limit,
            'build': str(build), 'data': str(data), 'loadavg': ' '.join(f'{x:.2f}' for x in os.getloadavg())}
    res = {'meta': meta, 'roofline_peaks': None, 'roofline': None, 'vulkan_ceilings': None, 'ops': {}, 'train': {},
           'peers': [], 'skipped': [], 'commands': []}

    min_time = ['--benchmark_min_time=0.05'] if a.quick else ['--benchmark_min_time=0.1']
    thr = [f'--threads={a.threads}']
    # The Vulkan cases run fixed iteration counts; the quick form leaves out batch 128 (seconds per run on lavapipe).
    vk_filter = '/vulkan/batch:(1|32)(/|$)' if a.quick else '/vulkan/'
    # The peaks, as the best of a few repetitions (other work on the machine only ever lowers them); then the net's GEMMs.
    res['roofline_peaks'] = gbench(bins['bench_roofline'], min_time + ['--benchmark_filter=^(fma_peak|sgemm/peak)/',
                                   f'--benchmark_repetitions={PEAK_REPS}'], 300, res['commands'], res['skipped'])
    res['roofline'] = gbench(bins['bench_roofline'], min_time + ['--benchmark_filter=-peak|^vulkan/'], 300, res['commands'],
                             res['skipped'])
    # The Vulkan device's ceilings (fixed iteration counts, a few seconds on lavapipe), best of PEAK_REPS.
    res['vulkan_ceilings'] = gbench(bins['bench_roofline'], ['--benchmark_filter=^vulkan/', f'--benchmark_repetitions={PEAK_REPS}'],
                                    300, res['commands'], res['skipped'])
    res['ops']['cpu'] = gbench(bins['bench_ops'], thr + min_time + ['--benchmark_filter=/cpu/'], 300, res['commands'], res['skipped'])
    res['train']['cpu'] = gbench(bins['bench_train'], thr + min_time + ['--benchmark_filter=/cpu/'], 300, res['commands'], res['skipped'])
    res['ops']['vulkan'] = gbench(bins['bench_ops'], thr + [f'--benchmark_filter={vk_filter}'], 400, res['commands'], res['skipped'])
    res['train']['vulkan'] = gbench(bins['bench_train'], thr + [f'--benchmark_filter={vk_filter}'], 400, res['commands'], res['skipped'])
    if a.no_peers:
        res['skipped'].append('peers: --no-peers')
    else:
        run_peers(a, build, data, peers_dir, limit, res['peers'])
    res['skipped'] = list(dict.fromkeys(res['skipped']))  # bench_ops and bench_train say the same about Vulkan

    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = out / f"{meta['date']}-{host}"
    md, js, png = stem.with_suffix('.md'), stem.with_suffix('.json'), stem.with_suffix('.png')
    meta['seconds'] = time.monotonic() - T0
    meta['loadavg_end'] = ' '.join(f'{x:.2f}' for x in os.getloadavg())
    js.write_text(json.dumps(res, indent=1) + '\n')
    reason = chart(res, str(png), str(js))
    chart_line = f'![GFLOP/s per op against the peaks]({png.name})' if not reason else f'No chart: {reason}.'
    meta['seconds'] = time.monotonic() - T0
    js.write_text(json.dumps(res, indent=1) + '\n')
    write_markdown(md, meta, res, chart_line)
    log(f'wrote {md}, {js.name}' + ('' if reason else f', {png.name}') + f' in {meta["seconds"]:.0f} s')
    print(md)


if __name__ == '__main__':
    main()
