// Runs a model written by `mnist export --onnx` in onnxruntime (onnxruntime-node, CPU) and compares
// it with graphgrad's own predictions, image by image.
//
//   node tests/onnx_ort_check.mjs MODEL.onnx MNIST_DIR PREDICTIONS.jsonl [COUNT=1000]
//
// PREDICTIONS.jsonl: `mnist predict --index 0 --count COUNT --json` (one line per image, with
// "index" and "probabilities"). The first COUNT test images of MNIST_DIR/t10k-images-idx3-ubyte.gz
// go through the model; the predicted classes must be identical and every probability within 1e-5.
// onnxruntime-node comes from $GG_ONNXRUNTIME_DIR/node_modules (default: build/onnxruntime beside
// this checkout, where scripts/install_onnxruntime.sh puts it), else from NODE_PATH.
// Prints one line and exits 0, or names the first mismatching image and exits 1.
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const me = 'onnx_ort_check';
const fail = (msg) => { console.error(`${me}: ${msg}`); process.exit(1); };
const [model, dir, predictions, countArg = '1000'] = process.argv.slice(2);
if (!predictions) fail('usage: node onnx_ort_check.mjs MODEL.onnx MNIST_DIR PREDICTIONS.jsonl [COUNT=1000]');
const count = Number(countArg);
if (!Number.isInteger(count) || count < 1) fail(`COUNT must be a positive integer, not ${countArg}`);
const tolerance = 1e-5;

const ortDir = resolve(process.env.GG_ONNXRUNTIME_DIR || join(dirname(fileURLToPath(import.meta.url)), '..', 'build', 'onnxruntime'));
const require = createRequire(join(ortDir, 'package.json'));  // resolves in ortDir/node_modules, then NODE_PATH
let ort, version;
try {
  ort = require('onnxruntime-node');
  version = require('onnxruntime-node/package.json').version;
} catch (e) {
  fail(`cannot load onnxruntime-node from ${ortDir}/node_modules or NODE_PATH (scripts/install_onnxruntime.sh installs it): ${e.message.split('\n')[0]}`);
}
const runner = `onnxruntime ${version}`;

// The first COUNT test images, scaled to [0, 1] as graphgrad's loader does.
const raw = gunzipSync(readFileSync(join(dir, 't10k-images-idx3-ubyte.gz')));
const n = raw.readUInt32BE(4), rows = raw.readUInt32BE(8), cols = raw.readUInt32BE(12), item = rows * cols;
if (raw.readUInt32BE(0) !== 0x803 || rows !== 28 || cols !== 28) fail(`${dir}: not the MNIST test images (28x28 IDX)`);
if (count > n) fail(`COUNT ${count} is more than the ${n} test images`);
const x = Float32Array.from(raw.subarray(16, 16 + count * item), (v) => v / 255);

// Ours, by index.
const ours = new Map();
for (const [lineNo, line] of readFileSync(predictions, 'utf8').split('\n').entries()) {
  if (!line.trim()) continue;
  let rec;
  try { rec = JSON.parse(line); } catch { fail(`${predictions}:${lineNo + 1}: not a JSON line: ${line.slice(0, 80)}`); }
  if (Number.isInteger(rec.index) && Array.isArray(rec.probabilities)) ours.set(rec.index, rec.probabilities);
}

const session = await ort.InferenceSession.create(model, {
  intraOpNumThreads: 2, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all',
});
const [input] = session.inputNames, [output] = session.outputNames;
const argmax = (p) => p.reduce((best, v, i) => (v > p[best] ? i : best), 0);
const fmt = (p) => '[' + Array.from(p, (v) => v.toExponential(3)).join(' ') + ']';

let worst = 0;
const batch = 100;
for (let b0 = 0; b0 < count; b0 += batch) {
  const b = Math.min(batch, count - b0);
  const feeds = { [input]: new ort.Tensor('float32', x.subarray(b0 * item, (b0 + b) * item), [b, 1, rows, cols]) };
  const y = (await session.run(feeds))[output];
  const k = y.dims[y.dims.length - 1];
  for (let j = 0; j < b; j++) {
    const i = b0 + j, theirs = y.data.subarray(j * k, (j + 1) * k), p = ours.get(i);
    if (!p) fail(`${predictions} has no line for image ${i} (make it with mnist predict --index 0 --count ${count} --json)`);
    if (p.length !== k) fail(`image ${i}: graphgrad gives ${p.length} probabilities, ${runner} ${k}`);
    if (argmax(p) !== argmax(theirs))
      fail(`image ${i}: graphgrad predicts ${argmax(p)}, ${runner} predicts ${argmax(theirs)}\n  graphgrad   ${fmt(p)}\n  onnxruntime ${fmt(theirs)}`);
    for (let c = 0; c < k; c++) {
      const d = Math.abs(p[c] - theirs[c]);
      if (!(d <= tolerance))
        fail(`image ${i}: probability of class ${c} differs by ${d.toExponential(2)} (> 1e-5): graphgrad ${p[c]}, ${runner} ${theirs[c]}`);
      worst = Math.max(worst, d);
    }
  }
}
console.log(`${runner}: ${count} images, same classes as graphgrad, probabilities within ${worst.toPrecision(2)}`);
