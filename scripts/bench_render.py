"""The benchmark report's rendering: the markdown and the chart of one bench_report.py run, from its
results (the dict bench_report.py writes as <date>-<host>.json). Runs nothing; bench_report.py runs the
benchmarks and the peers and calls write_markdown, chart_series and draw_chart.

The fractions of peak are computed here, from the JSON: an op's GFLOP/s divided by
sgemm/peak/2048x2048x2048/threads:T and by fma_peak/threads:T (each the best of PEAK_REPS repetitions),
T = --threads (at most 2, the thread counts the roofline measures). Vulkan on lavapipe runs on the same CPU, so the same
peaks bound it. The Vulkan device's own ceilings (bench_roofline vulkan/: FMA, texel-read, storage-read and copy
bandwidth, dispatch and submit costs) get a table of their own, and every Vulkan case of bench_ops is set beside them
(% of the Vulkan FMA peak, GB/s against texel-read bandwidth, the roofline bound); JSON from before them says
"not measured".
"""
import re

# The repetitions bench_report.py runs the peaks and the Vulkan ceilings with; the report says how many.
PEAK_REPS = 3
NAME = re.compile(r'^(?P<case>[^/]+)/(?P<backend>[^/]+)/batch:(?P<batch>\d+)')


# ---------------------------------------------------------------------------------------- results

def rows_by_name(*runs):
    """{(case, backend, batch): benchmark row} from bench_ops / bench_train JSON outputs."""
    rows = {}
    for data in runs:
        for b in (data or {}).get('benchmarks', []):
            m = NAME.match(b['name'])
            if m:
                rows[(m['case'], m['backend'], int(m['batch']))] = b
    return rows


def to_ms(b):
    scale = {'ns': 1e-6, 'us': 1e-3, 'ms': 1.0, 's': 1e3}[b.get('time_unit', 'ns')]
    return b['real_time'] * scale


def peak_table(res):
    """{benchmark name: GFLOP/s} for the roofline; the peaks are the best of their repetitions."""
    table = {}
    for key in ('roofline', 'roofline_peaks'):
        for b in (res.get(key) or {}).get('benchmarks', []):
            if b.get('run_type', 'iteration') == 'iteration' and b.get('GFLOP/s') is not None:
                name = b.get('run_name', b['name'])
                table[name] = max(table.get(name, 0.0), b['GFLOP/s'])
    return table


def peaks(res, threads):
    """(sgemm 2048^3 GFLOP/s, FMA GFLOP/s) at min(threads, 2) threads, and that thread count."""
    t = max(1, min(threads, 2))
    table = peak_table(res)
    return table.get(f'sgemm/peak/2048x2048x2048/threads:{t}'), table.get(f'fma_peak/threads:{t}'), t


VK_CEILINGS = (  # (benchmark name, counter, best is the largest, what it is)
    ('vulkan/fma_peak', 'GFLOP/s', True, 'vec4 FMA chains on registers'),
    ('vulkan/bandwidth/texel_read', 'GB/s', True, 'vec4 reads through a uniform texel buffer (how our kernels read on CPU devices)'),
    ('vulkan/bandwidth/storage_read', 'GB/s', True, 'vec4 reads from a storage buffer'),
    ('vulkan/bandwidth/copy', 'GB/s', True, 'texel read + storage write, bytes read and written'),
    ('vulkan/dispatch_overhead', 'us_per_dispatch', False, 'an empty dispatch and its barrier'),
    ('vulkan/submit_wait', 'us_per_submit', False, 'vkQueueSubmit + vkWaitForFences of one empty dispatch (wall time)'),
)


def vulkan_ceilings(res):
    """{ceiling name: best value over its repetitions} from bench_roofline's vulkan/ run; {} when not measured
    (older JSON, no Vulkan device, or a build without the Vulkan backend)."""
    best = {}
    want = {name: (counter, larger) for name, counter, larger, _ in VK_CEILINGS}
    for b in (res.get('vulkan_ceilings') or {}).get('benchmarks', []):
        name = b.get('run_name', b['name'])
        if b.get('run_type', 'iteration') != 'iteration' or b.get('error_occurred') or name not in want:
            continue
        counter, larger = want[name]
        v = b.get(counter)
        if v is not None:
            best[name] = (max if larger else min)(best.get(name, v), v)
    return best


def vulkan_ceilings_why(res):
    """Why the Vulkan ceilings were not measured."""
    data = res.get('vulkan_ceilings')
    if 'vulkan_ceilings' not in res:
        return 'not measured (this report\'s JSON predates the Vulkan ceilings)'
    if not data:
        return 'not measured (bench_roofline did not run; see Skipped)'
    ctx = data.get('context', {})
    return 'not measured: ' + ctx.get('vulkan_ceilings_skipped', 'bench_roofline reported no vulkan/ entries')


# ---------------------------------------------------------------------------------------- report

def fmt(x, digits=3):
    if x is None:
        return '–'
    if x == 0:
        return '0'
    if abs(x) >= 100:
        return f'{x:,.0f}'
    return f'{x:.{digits}g}'


def fmt_time(ms):
    for unit, scale in (('s', 1e3), ('ms', 1.0), ('µs', 1e-3)):
        if ms >= scale:
            return f'{ms / scale:.3g} {unit}'
    return f'{ms * 1e6:.3g} ns'


def pct(x, peak):
    return '–' if x is None or not peak else f'{100 * x / peak:.1f}%'


def op_table(rows, cases, batches, sg, fm):
    head = ('| case | batch | CPU time | CPU img/s | CPU GFLOP/s | CPU % sgemm | CPU % FMA | Vulkan time | Vulkan img/s '
            '| Vulkan GFLOP/s | Vulkan % sgemm | Vulkan % FMA | Vulkan/CPU time |\n' + '|---' * 13 + '|\n')
    out = []
    for case in cases:
        for n in batches:
            c, v = rows.get((case, 'cpu', n)), rows.get((case, 'vulkan', n))
            if not c and not v:
                continue
            cells = [case, str(n)]
            for b in (c, v):
                if b and not b.get('error_occurred'):
                    g = b.get('GFLOP/s')
                    cells += [fmt_time(to_ms(b)), fmt(b.get('items_per_second')), fmt(g), pct(g, sg), pct(g, fm)]
                elif b:
                    cells += ['skipped: ' + b.get('error_message', '')[:80]] + ['–'] * 4
                else:
                    cells += ['–'] * 5
            ok = c and v and not c.get('error_occurred') and not v.get('error_occurred')
            cells.append(f'{to_ms(v) / to_ms(c):.1f}×' if ok else '–')
            out.append('| ' + ' | '.join(cells) + ' |')
    return head + '\n'.join(out) + '\n'


def ordered_cases(rows, suffixes):
    seen = []
    for (case, _, _) in rows:
        if case not in seen:
            seen.append(case)
    return [c for c in seen if any(c.endswith(s) for s in suffixes)]


def write_markdown(path, meta, res, chart_line):
    sg, fm, pt = peaks(res, meta['threads'])
    ops_rows = rows_by_name(res['ops'].get('cpu'), res['ops'].get('vulkan'))
    step_rows = rows_by_name(res['train'].get('cpu'), res['train'].get('vulkan'))
    batches = [1, 32, 128]
    L = []
    L.append(f"# graphgrad benchmarks, {meta['date']} on {meta['host']}\n")
    L.append(f"- machine: {meta['cpu']}, {meta['cores']} cores; backends' threads: {meta['threads']}")
    ctx = (res['roofline'] or res['roofline_peaks'] or {}).get('context', {})
    L.append(f"- OpenBLAS: corename `{ctx.get('openblas_corename', '?')}`, config `{ctx.get('openblas_config', '?')}`; "
             f"FMA loop ISA: {ctx.get('fma_isa', '?')}")
    vctx = ((res['ops'].get('vulkan') or res['ops'].get('cpu') or {}).get('context', {}))
    L.append(f"- Vulkan: {vctx.get('vulkan_devices') or 'skipped: ' + vctx.get('vulkan_skipped', 'not run')}")
    L.append(f"- mode: {'quick' if meta['quick'] else 'full'}; training runs limited to "
             f"{meta['train_limit'] or 'all'} images (`--train-limit`); the whole report took {meta['seconds']:.0f} s")
    L.append(f"- load average at the start: {meta['loadavg']}, at the end: {meta.get('loadavg_end', '?')} "
             "(other work on the machine skews every figure)")
    L.append('')
    L.append('## Peaks (the roofline)\n')
    L.append('| peak | 1 thread GFLOP/s | 2 threads GFLOP/s |\n|---|---|---|')
    rl = peak_table(res)
    L.append(f"| cblas_sgemm 2048³ | {fmt(rl.get('sgemm/peak/2048x2048x2048/threads:1'))} | "
             f"{fmt(rl.get('sgemm/peak/2048x2048x2048/threads:2'))} |")
    L.append(f"| FMA loop ({ctx.get('fma_isa', '?')}) | {fmt(rl.get('fma_peak/threads:1'))} | {fmt(rl.get('fma_peak/threads:2'))} |")
    L.append(f"\nEach peak is the best of {PEAK_REPS} repetitions. The fractions below divide each GFLOP/s by the "
             f"{pt}-thread peaks: sgemm {fmt(sg)} GFLOP/s, FMA {fmt(fm)} GFLOP/s (computed by this script from the "
             f"JSON). Vulkan runs on lavapipe, on the same CPU cores, so the same peaks bound it. Vulkan/CPU time: how "
             f"many times longer the Vulkan run takes.\n")
    vk = vulkan_ceilings(res)
    L.append('### The Vulkan device\'s ceilings (bench_roofline vulkan/)\n')
    if vk:
        vctx_c = (res.get('vulkan_ceilings') or {}).get('context', {})
        L.append(f"Measured by bench_roofline's own shaders (shaders/ceiling_*.comp) on "
                 f"{vctx_c.get('vulkan_devices', 'the Vulkan device')}; each the best of {PEAK_REPS} repetitions, "
                 'timed by the device\'s timestamps where the queue has them.\n')
        L.append('| ceiling | measured | what |\n|---|---|---|')
        for name, counter, _, what in VK_CEILINGS:
            unit = {'us_per_dispatch': 'µs', 'us_per_submit': 'µs'}.get(counter, counter)
            L.append(f"| {name} | {fmt(vk.get(name)) + ' ' + unit if vk.get(name) is not None else 'not measured'} | {what} |")
        L.append('')
    else:
        L.append(f'Vulkan ceilings {vulkan_ceilings_why(res)}.\n')
    rows_all = list(ops_rows.values()) + list(step_rows.values())
    over = [b['name'] for b in rows_all if sg and (b.get('GFLOP/s') or 0) > sg]
    if over:
        L.append(f"**{len(over)} figures exceed the sgemm peak** (e.g. {over[0]}): the peak was measured while other "
                 f"work held the cores more than during those runs; compare the load averages above.\n")
    L.append('## Whole steps (bench_train)\n')
    L.append('`train_step`: forward with dropout, loss, every gradient and the Adam updates of the MNIST CNN; '
             '`infer_step`: the predict path (no dropout, softmax).\n')
    L.append(op_table(step_rows, ['train_step', 'infer_step'], batches, sg, fm))
    L.append('## Ops (bench_ops)\n')
    L.append('Each op of the net at its shapes; `_backward` is every node autodiff appends for it '
             '(e.g. conv2d_2: conv2d_backward_input + conv2d_backward_weight + bias_grad).\n')
    L.append(op_table(ops_rows, ordered_cases(ops_rows, ['_forward', '_backward']), batches, sg, fm))
    L.append(vulkan_kernel_table(ops_rows, ordered_cases(ops_rows, ['_forward', '_backward']), batches, res))
    L.append('## The net\'s GEMMs (bench_roofline, cblas_sgemm as the CPU backend calls it, batch 128)\n')
    roof = (res['roofline'] or {}).get('benchmarks', [])
    direct = [b for b in roof if b['name'].startswith('direct/')]
    L.append('Every im2col GEMM of the net at its shapes. A GEMM with 0 calls per step is measured but not run by the '
             'training step: conv2d_1.backward_input (its input is data) and, where the CPU has AVX2+FMA, conv2d_2\'s '
             'three, the im2col fallback for CPUs without it: there conv2d_2 runs the direct kernels (next table).\n')
    L.append('| GEMM | M×N×K | calls per step | 1 thread GFLOP/s | % of sgemm peak (1 thread) | 2 threads GFLOP/s |\n'
             '|---|---|---|---|---|---|')
    s1 = rl.get('sgemm/peak/2048x2048x2048/threads:1')
    for b in roof:
        m = re.match(r'sgemm/([^/]+)/([^/]+)/threads:1$', b['name'])
        if m and m[1] != 'peak':
            two = rl.get(f'sgemm/{m[1]}/{m[2]}/threads:2')
            L.append(f"| {m[1]} ({b.get('label', '').split(' ')[0]}) | {m[2]} | {int(b.get('calls_per_step', 0))} | "
                     f"{fmt(b.get('GFLOP/s'))} | {pct(b.get('GFLOP/s'), s1)} | {fmt(two)} |")
    L.append('')
    L.append('## The direct conv kernels (bench_roofline, conv2d_2 at batch 128)\n')
    if direct:
        f1, f2 = rl.get('fma_peak/threads:1'), rl.get('fma_peak/threads:2')
        L.append('What the training step runs for conv2d_2 on the CPU backend (backends/cpu/conv_direct.h, AVX2+FMA, '
                 'no im2col): one call per step over the whole batch. threads:T is one call over 64·T images on a pool '
                 'of T threads (the same work per thread; T = 2 is the batch-128 call), against the T-thread FMA peak.\n')
        L.append('| kernel | 1 thread GFLOP/s | % of FMA peak (1 thread) | 2 threads GFLOP/s | % of FMA peak (2 threads) |\n'
                 '|---|---|---|---|---|')
        by_name = {b['name']: b for b in direct}
        for kernel in ('forward', 'backward_input', 'backward_weight'):
            one = (by_name.get(f'direct/conv2d_2.{kernel}/threads:1') or {}).get('GFLOP/s')
            two = (by_name.get(f'direct/conv2d_2.{kernel}/threads:2') or {}).get('GFLOP/s')
            L.append(f'| conv2d_2.{kernel} | {fmt(one)} | {pct(one, f1)} | {fmt(two)} | {pct(two, f2)} |')
    elif res['roofline']:
        L.append('Not run: this CPU lacks AVX2+FMA, so bench_roofline registers no direct/ entries and conv2d_2 runs '
                 'im2col + sgemm (the conv2d_2 GEMMs above).')
    else:
        L.append('Not run: the roofline did not run (see Skipped).')
    L.append('')
    L.append('## Peers: the same net, one epoch, side by side\n')
    L.append('| run | train img/s | inference img/s | latency, 1 image (ms) | test accuracy | peak RSS (MiB) | '
             'train vs ours | seconds |\n|---|---|---|---|---|---|---|---|')
    ours = next((p['result'] for p in res['peers'] if p['name'].startswith('graphgrad') and p.get('result')), None)
    for p in res['peers']:
        r = p.get('result')
        if not r:
            continue
        lat = r.get('latency_batch1_ms', r.get('latency_batch1_median_ms'))
        ratio = '–'
        if ours and r.get('train_images_per_s') and ours.get('train_images_per_s'):
            ratio = f"{r['train_images_per_s'] / ours['train_images_per_s']:.2f}×"
        L.append(f"| {p['name']} | {fmt(r.get('train_images_per_s'))} | {fmt(r.get('infer_images_per_s'))} | {fmt(lat)} | "
                 f"{fmt(r.get('test_accuracy'), 4)} | {fmt(r.get('peak_rss_mib'))} | {ratio} | {p['seconds']} |")
    L.append('\nCommands:\n')
    for p in res['peers']:
        if p.get('command'):
            L.append(f"- {p['name']}: `{p['command']}`")
    skipped = [f"{p['name']}: {p['skipped']}" for p in res['peers'] if p.get('skipped')] + res['skipped']
    if skipped:
        L.append('\n## Skipped\n')
        L += [f'- {s}' for s in skipped]
    L.append('\n## Benchmark commands\n')
    L += [f'- `{c}`' for c in res['commands']]
    L.append('')
    L.append(chart_line)
    path.write_text('\n'.join(L) + '\n')


def vulkan_kernel_table(rows, cases, batches, res):
    """Each Vulkan case of bench_ops beside the Vulkan device's ceilings: GFLOP/s against the FMA peak, GB/s
    (bytes_per_run: every operand read once, every output written once) against texel-read bandwidth, and the
    roofline bound min(FMA peak, FLOP/byte x texel-read bandwidth)."""
    vk = vulkan_ceilings(res)
    fma, bw = vk.get('vulkan/fma_peak'), vk.get('vulkan/bandwidth/texel_read')
    disp = vk.get('vulkan/dispatch_overhead')
    L = ['## Vulkan kernels against the Vulkan device\'s ceilings (bench_ops)\n']
    if not vk:
        L.append(f'The Vulkan ceilings were {vulkan_ceilings_why(res)}: the % columns say "not measured".\n')
    L.append(f"Ceilings: FMA {fmt(fma) + ' GFLOP/s' if fma else 'not measured'}, texel read "
             f"{fmt(bw) + ' GB/s' if bw else 'not measured'}, "
             f"dispatch + barrier {fmt(disp) + ' µs' if disp else 'not measured'}. GB/s counts the bytes a run "
             'must move (each operand read once, each output written once: bench_util graph_bytes), a lower bound '
             'of the traffic. Roofline bound: min(FMA peak, FLOP/byte × texel-read GB/s); % of bound is how close '
             'the case comes to it. Cases far below it at small batches are bound by dispatch overhead instead.\n')
    L.append('| case | batch | time | GFLOP/s | % of Vulkan FMA peak | GB/s | % of texel read | FLOP/byte | '
             'bound | % of bound |\n|---|---|---|---|---|---|---|---|---|---|')
    nm = 'not measured'
    for case in cases:
        for n in batches:
            b = rows.get((case, 'vulkan', n))
            if not b:
                continue
            if b.get('error_occurred'):
                L.append(f"| {case} | {n} | skipped: {b.get('error_message', '')[:80]} |" + ' – |' * 7)
                continue
            g, gb, fl, by = b.get('GFLOP/s'), b.get('GB/s'), b.get('flop_per_run'), b.get('bytes_per_run')
            ai = fl / by if fl is not None and by else None
            bound = None
            if fma and bw and ai is not None:
                bound = min(fma, ai * bw)
            kind = '' if bound is None else (' (memory)' if ai * bw < fma else ' (compute)')
            L.append(f"| {case} | {n} | {fmt_time(to_ms(b))} | {fmt(g)} | {pct(g, fma) if fma else nm} | {fmt(gb)} | "
                     f"{(pct(gb, bw) if gb is not None else '–') if bw else nm} | {fmt(ai)} | "
                     f"{(fmt(bound) + ' GFLOP/s' + kind) if bound is not None else '–'} | {pct(g, bound)} |")
    return '\n'.join(L) + '\n'


# ---------------------------------------------------------------------------------------- chart

def chart_series(res):
    """(labels, cpu GFLOP/s, vulkan GFLOP/s, batch, sgemm peak, fma peak) for the chart."""
    sg, fm, _ = peaks(res, res['meta']['threads'])
    rows = rows_by_name(res['ops'].get('cpu'), res['ops'].get('vulkan'), res['train'].get('cpu'), res['train'].get('vulkan'))
    have = {n for (_, be, n) in rows if be == 'vulkan'}
    batch = 128 if (not have or 128 in have) else max(have)
    cases = ordered_cases(rows, ['_forward', '_backward', '_step'])
    cases = [c for c in cases if c.endswith('_step')] + [c for c in cases if not c.endswith('_step')]

    def g(case, be):
        b = rows.get((case, be, batch))
        return None if not b or b.get('error_occurred') else b.get('GFLOP/s')
    return cases, [g(c, 'cpu') for c in cases], [g(c, 'vulkan') for c in cases], batch, sg, fm


def draw_matplotlib(series, png):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    cases, cpu, vk, batch, sg, fm = series
    fig, ax = plt.subplots(figsize=(10, 0.32 * len(cases) + 1.5))
    y = list(range(len(cases)))
    ax.barh([i - 0.2 for i in y], [c or 0 for c in cpu], 0.4, label='cpu')
    ax.barh([i + 0.2 for i in y], [v or 0 for v in vk], 0.4, label='vulkan (lavapipe)')
    for peak, name, style in ((sg, 'sgemm 2048³', '--'), (fm, 'FMA peak', ':')):
        if peak:
            ax.axvline(peak, linestyle=style, color='k', label=f'{name} {peak:.0f}')
    ax.set_xscale('log')
    ax.set_yticks(y, cases)
    ax.invert_yaxis()
    ax.set_xlabel(f'GFLOP/s at batch {batch} (log scale)')
    ax.legend(loc='lower right')
    fig.tight_layout()
    fig.savefig(png, dpi=100)


def draw_pillow(series, png):
    import math
    from PIL import Image, ImageDraw
    cases, cpu, vk, batch, sg, fm = series
    left, right, top, row = 260, 40, 50, 22
    width, height = 1100, top + row * len(cases) + 60
    img = Image.new('RGB', (width, height), 'white')
    d = ImageDraw.Draw(img)
    vals = [x for x in cpu + vk + [sg, fm] if x]
    lo = math.floor(math.log10(min(vals))) if vals else -3
    hi = math.ceil(math.log10(max(vals))) if vals else 2
    span = max(hi - lo, 1)
    xpos = lambda v: left + (width - left - right) * (math.log10(v) - lo) / span
    for e in range(lo, hi + 1):
        x = xpos(10 ** e)
        d.line([(x, top - 5), (x, height - 45)], fill=(220, 220, 220))
        d.text((x - 12, height - 40), f'1e{e}', fill='black')
    d.text((left, height - 22), f'GFLOP/s at batch {batch}, log scale. Blue: cpu; orange: vulkan (lavapipe); '
           'dashed: sgemm 2048^3 peak; dotted: FMA peak', fill='black')
    d.text((10, 10), 'graphgrad: GFLOP/s per op and per step against the CPU peaks', fill='black')
    for i, case in enumerate(cases):
        y = top + i * row
        d.text((10, y + 5), case, fill='black')
        for j, (v, colour) in enumerate(((cpu[i], (31, 119, 180)), (vk[i], (255, 127, 14)))):
            if v:
                d.rectangle([left, y + 2 + j * 9, max(left + 1, xpos(v)), y + 9 + j * 9], fill=colour)
    for peak, dash in ((sg, 8), (fm, 3)):
        if peak:
            x = xpos(peak)
            for y0 in range(top - 5, height - 45, 2 * dash):
                d.line([(x, y0), (x, min(y0 + dash, height - 45))], fill='black', width=2)
    img.save(png)


def draw_chart(series, png):
    """Draws with matplotlib, else Pillow; returns None or the reason neither could."""
    errors = []
    for name, fn in (('matplotlib', draw_matplotlib), ('Pillow', draw_pillow)):
        try:
            fn(series, png)
            return None
        except ImportError as e:
            errors.append(f'{name} not installed ({e})')
        except Exception as e:  # a drawing bug must not lose the report
            errors.append(f'{name} failed: {e!r}')
    return '; '.join(errors)
