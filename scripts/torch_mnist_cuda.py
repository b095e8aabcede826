#!/usr/bin/env python3
"""Peer for the GPU check: the Keras MNIST CNN (conv32-conv32-maxpool-dropout0.25-dense128-dropout0.5-dense10,
Adam 1e-3) trained with PyTorch on a CUDA device, derived from ../shared/peers/torch_mnist_cnn.py (the CPU peer).

  python3 torch_mnist_cuda.py --data DIR [--device cuda|cpu] [--epochs N] [--batch 128] [--seed 0]
                              [--train-limit N] [--test-limit N] [--tf32]

Prints the same JSON lines as `mnist train --json`: one per epoch (epoch, loss, test_accuracy, epoch_s) and a
final one (backend, threads, train_images_per_s, infer_images_per_s, latency_batch1_ms, test_accuracy,
peak_rss_mib), plus peer, device and peak_gpu_mib. It does what `mnist train --backend vulkan` does: the data
stays in host memory and each batch goes to the device as it is used; inference returns the softmax
probabilities to the host; one-image latency is host image -> device -> probabilities on the host (median of
1000 after 100 warm-ups). The device is synchronized before every timer is read. Math is strict fp32 (TF32 off,
as our shaders compute in fp32) unless --tf32. The loss is summed on the device and read once per epoch.

Exit status: 0 done; 3 CUDA asked for but not available (a JSON line says so); 4 no torch/numpy in this python.
"""
import argparse, gzip, json, os, resource, struct, sys, time

ap = argparse.ArgumentParser()
ap.add_argument('--data', required=True)
ap.add_argument('--device', default='', help='cuda or cpu (default: cuda when available, else cpu)')
ap.add_argument('--epochs', type=int, default=1)
ap.add_argument('--batch', type=int, default=128)
ap.add_argument('--seed', type=int, default=0)
ap.add_argument('--train-limit', type=int, default=0)
ap.add_argument('--test-limit', type=int, default=0)
ap.add_argument('--threads', type=int, default=os.cpu_count())
ap.add_argument('--tf32', action='store_true', help='allow TF32 in convolutions and matrix products')
a = ap.parse_args()

try:
    import numpy as np
    import torch, torch.nn as nn, torch.nn.functional as F
except ImportError as e:
    print(json.dumps(dict(error=f'no torch: {e}')), flush=True)
    sys.exit(4)

want = a.device or ('cuda' if torch.cuda.is_available() else 'cpu')
if want.startswith('cuda') and not torch.cuda.is_available():
    print(json.dumps(dict(error=f'no CUDA: torch {torch.__version__} (built for CUDA {torch.version.cuda}) sees no CUDA device')),
          flush=True)
    sys.exit(3)
dev = torch.device(want)
cuda = dev.type == 'cuda'
sync = torch.cuda.synchronize if cuda else (lambda: None)
if cuda:
    torch.backends.cuda.matmul.allow_tf32 = a.tf32
    torch.backends.cudnn.allow_tf32 = a.tf32


def idx(path):
    op = gzip.open if path.endswith('.gz') else open
    with op(path, 'rb') as f:
        data = f.read()
    magic, = struct.unpack('>I', data[:4])
    ndim = magic & 0xff
    dims = struct.unpack('>' + 'I' * ndim, data[4:4 + 4 * ndim])
    return np.frombuffer(data[4 + 4 * ndim:], np.uint8).reshape(dims)


def load(d, split):
    p = 'train' if split == 'train' else 't10k'
    find = lambda s: next(os.path.join(d, f) for f in (s + '.gz', s) if os.path.exists(os.path.join(d, f)))
    x = idx(find(f'{p}-images-idx3-ubyte')).astype(np.float32)[:, None] / 255.0
    y = idx(find(f'{p}-labels-idx1-ubyte')).astype(np.int64)
    return torch.from_numpy(x), torch.from_numpy(y)


class Net(nn.Module):
    def __init__(s):
        super().__init__()
        s.c1, s.c2 = nn.Conv2d(1, 32, 3), nn.Conv2d(32, 32, 3)
        s.d1, s.d2 = nn.Linear(32 * 12 * 12, 128), nn.Linear(128, 10)

    def forward(s, x):
        x = F.max_pool2d(F.relu(s.c2(F.relu(s.c1(x)))), 2)
        x = F.dropout(x, 0.25, s.training).flatten(1)
        x = F.dropout(F.relu(s.d1(x)), 0.5, s.training)
        return s.d2(x)


torch.set_num_threads(a.threads)
torch.manual_seed(a.seed)
xtr, ytr = load(a.data, 'train')
xte, yte = load(a.data, 'test')
if a.train_limit: xtr, ytr = xtr[:a.train_limit], ytr[:a.train_limit]
if a.test_limit: xte, yte = xte[:a.test_limit], yte[:a.test_limit]
m = Net().to(dev)
opt = torch.optim.Adam(m.parameters(), 1e-3)


def accuracy():
    m.eval()
    with torch.no_grad():
        pred = torch.cat([m(xte[i:i + a.batch].to(dev)).argmax(1) for i in range(0, len(xte), a.batch)])
    return float((pred.cpu() == yte).float().mean())


train_s = 0.0
seen = 0
acc = 0.0
for ep in range(a.epochs):
    m.train()
    perm = torch.randperm(len(xtr))
    tot = torch.zeros((), device=dev)
    sync()
    t0 = time.perf_counter()
    for i in range(0, len(xtr), a.batch):
        b = perm[i:i + a.batch]
        x, y = xtr[b].to(dev, non_blocking=True), ytr[b].to(dev, non_blocking=True)
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(m(x), y)
        loss.backward()
        opt.step()
        tot += loss.detach() * len(b)
    sync()
    dt = time.perf_counter() - t0
    train_s += dt
    seen += len(xtr)
    acc = accuracy()
    print(json.dumps(dict(epoch=ep + 1, loss=float(tot) / len(xtr), test_accuracy=acc, epoch_s=round(dt, 2))), flush=True)

with torch.no_grad():  # inference at the training batch size (probabilities back on the host), then one image at a time
    m.eval()
    sync()
    t0 = time.perf_counter()
    probs = [F.softmax(m(xte[i:i + a.batch].to(dev)), 1).cpu() for i in range(0, len(xte), a.batch)]
    sync()
    inf = len(xte) / (time.perf_counter() - t0)
    n1 = min(len(xte), 1000)
    for i in range(100):  # warm-up, then the median of 1000 single images
        F.softmax(m(xte[i % n1:i % n1 + 1].to(dev)), 1).cpu()
    lat = []
    for i in range(1000):
        x1 = xte[i % n1:i % n1 + 1]
        sync()
        t0 = time.perf_counter()
        F.softmax(m(x1.to(dev)), 1).cpu()
        sync()
        lat.append(time.perf_counter() - t0)
    lat_ms = sorted(lat)[500] * 1e3

print(json.dumps(dict(backend='pytorch-' + dev.type, threads=a.threads, train_images_per_s=round(seen / train_s, 1),
                      infer_images_per_s=round(inf, 1), latency_batch1_ms=round(lat_ms, 3), test_accuracy=acc,
                      peak_rss_mib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
                      peer='pytorch-' + torch.__version__,
                      device=torch.cuda.get_device_name(dev) if cuda else 'cpu', tf32=bool(cuda and a.tf32),
                      peak_gpu_mib=(torch.cuda.max_memory_allocated(dev) >> 20) if cuda else 0)), flush=True)
