#!/usr/bin/python3
"""Checks an ONNX model written by `mnist export` against our own predictions.

  onnx_check.py MODEL.onnx MNIST_DIR MNIST_BINARY CHECKPOINT [COUNT=20]

1. onnx.checker (full check, with shape inference) must accept the model.
2. The model runs on the first COUNT test images in onnxruntime's Python
   module when it can be imported (Debian packages none); otherwise in an
   independent interpreter of the model's ONNX nodes written with PyTorch's
   functional ops, and says which it used; with neither, it says that the
   prediction check was skipped.
3. Its probabilities must match `mnist predict --count COUNT` image by image:
   the same predicted class and every probability within 1e-5.

This is the quick check that needs only Debian packages. The check in
onnxruntime proper is tests/onnx_ort_check.mjs, with onnxruntime-node from the
npm registry (scripts/install_onnxruntime.sh), on 1,000 images.
"""
import gzip
import json
import os
import subprocess
import sys

import numpy as np
import onnx
from onnx import numpy_helper


def run_with_torch(model, images):
    import torch
    import torch.nn.functional as F
    values = {t.name: torch.from_numpy(numpy_helper.to_array(t).copy()) for t in model.graph.initializer}
    values[model.graph.input[0].name] = torch.from_numpy(images)
    attrs = lambda node: {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
    for node in model.graph.node:
        a, x = attrs(node), [values[i] for i in node.input]
        if node.op_type == "Conv":
            p = a.get("pads", [0, 0, 0, 0])
            assert p[0] == p[2] and p[1] == p[3], "asymmetric pads"
            y = F.conv2d(x[0], x[1], x[2] if len(x) > 2 else None, stride=a.get("strides", [1, 1]), padding=(p[0], p[1]))
        elif node.op_type == "Relu":
            y = F.relu(x[0])
        elif node.op_type == "MaxPool":
            y = F.max_pool2d(x[0], a["kernel_shape"], a.get("strides", a["kernel_shape"]))
        elif node.op_type == "Reshape":
            shape = [x[0].shape[i] if d == 0 else int(d) for i, d in enumerate(x[1].tolist())]
            y = x[0].reshape(shape)
        elif node.op_type == "Gemm":
            assert not a.get("transA", 0) and not a.get("transB", 0)
            y = x[0] @ x[1] + (x[2] if len(x) > 2 else 0)
        elif node.op_type == "MatMul":
            y = x[0] @ x[1]
        elif node.op_type == "Add":
            y = x[0] + x[1]
        elif node.op_type == "Softmax":
            y = F.softmax(x[0], dim=a.get("axis", -1))
        else:
            sys.exit(f"onnx_check: no interpreter rule for {node.op_type}")
        values[node.output[0]] = y
    return values[model.graph.output[0].name].numpy()


def main(argv):
    model_path, data, mnist, ckpt = argv[1:5]
    count = int(argv[5]) if len(argv) > 5 else 20
    model = onnx.load(model_path)
    onnx.checker.check_model(model, full_check=True)
    print(f"onnx.checker: {model_path} is valid (opset {model.opset_import[0].version}, {len(model.graph.node)} nodes)")

    with gzip.open(os.path.join(data, "t10k-images-idx3-ubyte.gz")) as f:
        raw = f.read()
    images = (np.frombuffer(raw, np.uint8, offset=16)[: count * 784].astype(np.float32) / np.float32(255)).reshape(count, 1, 28, 28)

    try:
        import onnxruntime as ort
        session = ort.InferenceSession(model_path, providers=["CPUExecutionProvider"])
        theirs, runner = session.run(None, {model.graph.input[0].name: images})[0], "onnxruntime " + ort.__version__
    except ImportError:
        try:
            import torch  # noqa: F401
        except ImportError:
            print("onnx_check: prediction check skipped: neither onnxruntime nor torch (python3-torch) can be imported")
            return
        print("onnxruntime: no Python module here (Debian has none; tests/onnx_ort_check.mjs runs npm's "
              "onnxruntime-node): checking with an interpreter of the ONNX nodes on PyTorch instead")
        theirs, runner = run_with_torch(model, images), "the PyTorch interpreter of the ONNX nodes"

    out = subprocess.run([mnist, "predict", "--data", data, "--load", ckpt, "--index", "0", "--count", str(count), "--json"],
                         capture_output=True, text=True, check=True).stdout
    lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    worst = 0.0
    for i in range(count):
        ours = np.array(lines[i]["probabilities"], np.float32)
        if ours.argmax() != theirs[i].argmax():
            sys.exit(f"onnx_check: image {i}: we predict {ours.argmax()}, {runner} {theirs[i].argmax()}")
        worst = max(worst, float(np.abs(ours - theirs[i]).max()))
    if worst > 1e-5:
        sys.exit(f"onnx_check: probabilities differ by up to {worst:.3g} (> 1e-5) from {runner}")
    print(f"onnx_check: {count} images, same classes as {runner}, probabilities within {worst:.2g}")


if __name__ == "__main__":
    main(sys.argv)
