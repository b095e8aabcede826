#!/usr/bin/env python3
"""The GPU check's summary: reads the stages' outputs that scripts/gpu_check.sh
run left in GGC_WORK (and the variables it exports, GGC_*) and writes
summary.json and summary.md into GGC_OUT. Run by gpu_check.sh, not by hand."""
import json, os, statistics, time

E = os.environ
work, out = E['GGC_WORK'], E['GGC_OUT']
train_short, train_long, test_limit = (int(v) for v in E['GGC_LIMITS'].split())
reps, f_train, f_ops = E['GGC_BENCH_REPS'], E['GGC_BENCH_TRAIN_FILTER'], E['GGC_BENCH_OPS_FILTER']


def read(path):
    try:
        with open(path, errors='replace') as f:
            return f.read()
    except OSError:
        return ''


stages = []
for line in read(os.path.join(work, 'stages.tsv')).splitlines():
    name, status, rc, ms, budget, note = (line.split('\t') + [''] * 6)[:6]
    stages.append(dict(name=name, status=status, exit_code=int(rc), wall_s=round(int(ms) / 1000, 2),
                       budget_s=int(budget), note=note))
by_stage = {s['name']: s for s in stages}

vulkan_devices = []
sec = False
for line in read(E['GGC_LISTING']).splitlines():
    if line.startswith('vulkan:'):
        sec = True
    elif sec and line.startswith('  '):
        vulkan_devices.append(line.strip())
    elif sec:
        break
smi = read(os.path.join(work, 'nvidia_smi.out')).strip().splitlines()
smi_line = smi[0] if smi and by_stage.get('nvidia_smi', {}).get('status') == 'ok' else ''
gpu = dict(zip(['name', 'driver', 'memory', 'max_sm_clock'], [v.strip() for v in smi_line.split(',')])) if smi_line else {}


def train_run(name, epochs, limit):
    lines = []
    for line in read(os.path.join(work, name + '.out')).splitlines():
        try:
            lines.append(json.loads(line))
        except ValueError:
            pass
    ep = [l for l in lines if 'epoch' in l]
    final = next((l for l in reversed(lines) if 'train_images_per_s' in l), None)
    err = next((l['error'] for l in lines if 'error' in l), None)
    st = by_stage.get(name, {})
    r = dict(stage_status=st.get('status'), wall_s=st.get('wall_s'), epochs_asked=epochs, epochs_done=len(ep),
             train_images=limit or 60000, test_images=test_limit or 10000)
    if final:
        r.update({k: final.get(k) for k in ('backend', 'train_images_per_s', 'infer_images_per_s', 'latency_batch1_ms',
                                            'test_accuracy', 'peak_rss_mib', 'peer', 'device', 'peak_gpu_mib') if k in final})
    elif ep:  # cut short: the figures the finished epochs give
        secs = sum(l.get('epoch_s', 0) for l in ep)
        r['test_accuracy'] = ep[-1].get('test_accuracy')
        if secs > 0:
            r['train_images_per_s'] = round(len(ep) * (limit or 60000) / secs, 1)
        r['partial'] = f'{len(ep)} of {epochs} epochs finished before the stage ended; figures from those epochs'
    if err:
        r['error'] = err
    r['epochs'] = ep
    return r


train = {}
for e, lim in ((1, train_short), (10, train_long)):
    train[f'ours_{e}'] = train_run(f'ours_{e}', e, lim)
    train[f'peer_{e}'] = train_run(f'peer_{e}', e, lim)
ratios = {}
for e in (1, 10):
    o, p = train[f'ours_{e}'], train[f'peer_{e}']
    r = {}
    for k in ('train_images_per_s', 'infer_images_per_s', 'latency_batch1_ms', 'test_accuracy', 'peak_rss_mib'):
        if isinstance(o.get(k), (int, float)) and isinstance(p.get(k), (int, float)) and p[k]:
            r[k] = round(o[k] / p[k], 3)
    ratios[f'{e}_epoch' + ('s' if e > 1 else '')] = r


def bench(file):
    text, data, partial = read(os.path.join(out, file)), None, False
    try:
        data = json.loads(text)
    except ValueError:
        # Cut short (the stage timed out): keep the benchmarks written up to the last whole one.
        cut = len(text)
        for _ in range(50):
            cut = text.rfind('}', 0, cut)
            if cut < 0: break
            try:
                data, partial = json.loads(text[:cut + 1] + ']}'), True
                break
            except ValueError:
                pass
    if not isinstance(data, dict):
        return dict(error=f'{file} not written' if not text else f'{file} is not JSON (the stage was cut short?)')
    scale = dict(ns=1e-6, us=1e-3, ms=1.0, s=1e3)
    runs = {}
    for b in data.get('benchmarks', []):
        if b.get('run_type') == 'aggregate':
            continue
        name = b.get('run_name', b['name'])
        name = '/'.join(p for p in name.split('/') if not p.startswith(('iterations:', 'repeats:')))
        r = runs.setdefault(name, dict(ms=[], images_per_s=[], gflops=[], gbps=[], us_per_dispatch=[], us_per_submit=[]))
        if b.get('error_occurred'):
            r['error'] = b.get('error_message', 'error')
            continue
        r['ms'].append(b['real_time'] * scale.get(b.get('time_unit', 'ns'), 1e-6))
        if 'items_per_second' in b: r['images_per_s'].append(b['items_per_second'])
        if 'GFLOP/s' in b: r['gflops'].append(b['GFLOP/s'])
        if 'GB/s' in b: r['gbps'].append(b['GB/s'])
        for k in ('us_per_dispatch', 'us_per_submit'):
            if k in b: r[k].append(b[k])
    res = {}
    for name, r in runs.items():
        res[name] = {k: round(statistics.median(v), 4 if k == 'ms' else 1) for k, v in r.items() if isinstance(v, list) and v}
        res[name]['repetitions'] = len(r['ms'])
        if 'error' in r: res[name]['error'] = r['error']
    ctx = data.get('context', {})
    return dict(cases=res, partial=partial, context={k: ctx[k] for k in ('host_name', 'num_cpus', 'mhz_per_cpu', 'graphgrad_threads',
                                                          'vulkan_devices', 'vulkan_skipped') if k in ctx})


benches = {'bench_train': bench('bench_train.json'), 'bench_ops': bench('bench_ops.json'), 'ceilings': bench('ceilings.json')}
fma_peak = benches['ceilings'].get('cases', {}).get('vulkan/fma_peak', {}).get('gflops')
texel_read = benches['ceilings'].get('cases', {}).get('vulkan/bandwidth/texel_read', {}).get('gbps')
failed = [f for f in E['GGC_FAILED'].split() if f]
summary = dict(
    check='graphgrad gpu_check', date=time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime()),
    pack=[l for l in read(os.path.join(E['GGC_DIR'], 'MANIFEST')).splitlines()[1:3]],
    quick=E['GGC_QUICK'] == '1', limits=dict(train_1_epoch=train_short or 'all', train_10_epochs=train_long or 'all',
                                            test=test_limit or 'all'),
    device=dict(nvidia_smi=gpu, vulkan_devices=vulkan_devices, nvidia_vulkan=E['GGC_NVIDIA'] == '1',
                vk_driver_files=E['GGC_VK_DRIVER_FILES'] or None, validation_layer=E['GGC_LAYER'],
                peer_python=E['GGC_PYTHON'] or None),
    stages=stages, train=train, ratios_ours_over_peer=ratios,
    bench=dict(repetitions=int(reps), filters=dict(bench_train=f_train, bench_ops=f_ops), **benches),
    total_s=round(int(E['GGC_TOTAL_MS']) / 1000, 1), failed=failed, exit_code=int(E['GGC_EXIT']))
with open(os.path.join(out, 'summary.json'), 'w') as f:
    json.dump(summary, f, indent=1)
    f.write('\n')


# summary.md
def fmt(v, nd=1):
    if v is None: return '–'
    if isinstance(v, float): return f'{v:,.{nd}f}'
    return str(v)


md = [f"# graphgrad GPU check, {summary['date']}", '']
md.append(f"- pack: {'; '.join(summary['pack'])}")
dev = gpu.get('name') and f"{gpu['name']}, driver {gpu.get('driver')}, {gpu.get('memory')}" or 'no nvidia-smi'
md.append(f"- GPU (nvidia-smi): {dev}")
md.append(f"- Vulkan devices: {'; '.join(vulkan_devices) or 'none'}" +
          (f" (with VK_DRIVER_FILES={E['GGC_VK_DRIVER_FILES']})" if E['GGC_VK_DRIVER_FILES'] else ''))
md.append(f"- validation layer: {E['GGC_LAYER']}")
if summary['quick']:
    md.append(f"- **quick rehearsal**: 1-epoch runs on {train_short or 'all'} images, 10-epoch runs on "
              f"{train_long or 'all'}, tests on {test_limit or 'all'}: not full-size figures")
md.append(f"- total {summary['total_s']} s; " + (f"**failed or timed out: {', '.join(failed)}**" if failed else 'every stage passed'))
md += ['', '| stage | status | exit | wall s | budget s | note |', '| --- | --- | --- | --- | --- | --- |']
for s in stages:
    md.append(f"| {s['name']} | {s['status']} | {s['exit_code'] if s['exit_code'] >= 0 else '–'} | {s['wall_s']} | "
              f"{s['budget_s']} | {s['note'].replace('|', '/')[:300]} |")
md += ['', '## Training (batch 128, seed 0)', '',
       '| run | epochs | train img/s | infer img/s | 1-image ms | test accuracy | peak RSS MiB | wall s | status |',
       '| --- | --- | --- | --- | --- | --- | --- | --- | --- |']
for e in (1, 10):
    for who, label in (('ours', 'graphgrad, Vulkan'), ('peer', f"PyTorch, {E['GGC_PEER_DEVICE'].upper()}")):
        r = train[f'{who}_{e}']
        st = r.get('stage_status') or '–'
        if r.get('partial'): st += f" ({r['partial']})"
        if r.get('error'): st += f" ({r['error']})"
        acc = r.get('test_accuracy')
        md.append(f"| {label} | {r['epochs_done']}/{e} | {fmt(r.get('train_images_per_s'))} | {fmt(r.get('infer_images_per_s'))} | "
                  f"{fmt(r.get('latency_batch1_ms'), 3)} | {fmt(acc * 100 if isinstance(acc, (int, float)) else None, 2)}{'%' if acc is not None else ''} | "
                  f"{fmt(r.get('peak_rss_mib'))} | {fmt(r.get('wall_s'))} | {st} |")
    rr = ratios[f'{e}_epoch' + ('s' if e > 1 else '')]
    x = lambda k: f'{rr[k]:.2f}×' if k in rr else '–'
    o, p = train[f'ours_{e}'].get('test_accuracy'), train[f'peer_{e}'].get('test_accuracy')
    dacc = f'{(o - p) * 100:+.2f} pts' if isinstance(o, (int, float)) and isinstance(p, (int, float)) else '–'
    md.append(f"| ours/peer | | {x('train_images_per_s')} | {x('infer_images_per_s')} | {x('latency_batch1_ms')} | {dacc} | "
              f"{x('peak_rss_mib')} | | |")


def bench_table(title, b, rows):
    md.extend(['', f'## {title} (median of {reps} repetition(s); ms per run; CPU on every core)', ''])
    if 'error' in b:
        md.append(f"not available: {b['error']}")
        return
    cases = b['cases']
    if b.get('partial'): md.append('(cut short: the cases finished before the stage ended)\n')
    # Beside the device's ceilings (the ceilings stage), where it ran: % of its FMA peak, and GB/s
    # (each input read and the output written once) as % of its texel-read bandwidth.
    md.extend(['| case | cpu ms | vulkan ms | cpu/vulkan | vulkan img/s | vulkan GFLOP/s | % FMA peak | vulkan GB/s | % read bw |',
               '| --- | --- | --- | --- | --- | --- | --- | --- | --- |'])
    pct = lambda v, peak: round(100 * v / peak, 1) if v and peak else None
    for name in rows(cases):
        c, v = cases.get(name.replace('@', 'cpu'), {}), cases.get(name.replace('@', 'vulkan'), {})
        ratio = round(c['ms'] / v['ms'], 2) if c.get('ms') and v.get('ms') else None
        md.append(f"| {name.replace('/@', '')} | {fmt(c.get('ms') or c.get('error'), 3)} | {fmt(v.get('ms') or v.get('error'), 3)} | "
                  f"{fmt(ratio, 2)} | {fmt(v.get('images_per_s'))} | {fmt(v.get('gflops'))} | {fmt(pct(v.get('gflops'), fma_peak))} | "
                  f"{fmt(v.get('gbps'), 2)} | {fmt(pct(v.get('gbps'), texel_read))} |")
    if b['context'].get('vulkan_skipped'):
        md.append(f"\nVulkan skipped: {b['context']['vulkan_skipped']}")


def generic(cases):
    seen = []
    for n in cases:
        k = n.replace('/cpu/', '/@/').replace('/vulkan/', '/@/')
        if k not in seen: seen.append(k)
    return seen


md.extend(['', '## The Vulkan device\'s ceilings (bench_roofline, vulkan/)', ''])
if 'error' in benches['ceilings']:
    md.append(f"not available: {benches['ceilings']['error']}")
else:
    cc = benches['ceilings']['cases']
    md.extend(['| ceiling | measured |', '| --- | --- |'])
    for name, key, unit in (('vulkan/fma_peak', 'gflops', 'GFLOP/s'), ('vulkan/bandwidth/texel_read', 'gbps', 'GB/s'),
                            ('vulkan/bandwidth/storage_read', 'gbps', 'GB/s'), ('vulkan/bandwidth/copy', 'gbps', 'GB/s'),
                            ('vulkan/dispatch_overhead', 'us_per_dispatch', 'µs per dispatch + barrier'),
                            ('vulkan/submit_wait', 'us_per_submit', 'µs per submit + wait')):
        v = cc.get(name, {})
        md.append(f"| {name[len('vulkan/'):]} | {fmt(v.get(key) or v.get('error'), 1)} {unit if v.get(key) else ''} |")
bench_table('bench_train', benches['bench_train'], generic)
bench_table('bench_ops', benches['bench_ops'], lambda cases: [k for k in generic(cases) if k.endswith('batch:128')] or generic(cases))
with open(os.path.join(out, 'summary.md'), 'w') as f:
    f.write('\n'.join(md) + '\n')
