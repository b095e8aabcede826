// The per-op ONNX check's second half: runs each case that tests/onnx_ops_export.cpp wrote
// (OUTDIR/<case>.onnx with OUTDIR/<case>.json: the input and graphgrad's CPU output) in
// onnxruntime (onnxruntime-node, CPU) and compares: the same output shape, and a max absolute
// error <= 1e-5 * max(1, max|ours|).
//
//   node tests/onnx_ops_ort.mjs OUTDIR
//
// onnxruntime-node comes from $GG_ONNXRUNTIME_DIR/node_modules (default: build/onnxruntime beside
// this checkout, where scripts/install_onnxruntime.sh puts it), else from NODE_PATH.
// Prints one line per case and `N passed, M failed`; exits 1 on any failure.
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const me = 'onnx_ops_ort';
const fail = (msg) => { console.error(`${me}: ${msg}`); process.exit(1); };
const [outdir] = process.argv.slice(2);
if (!outdir) fail('usage: node onnx_ops_ort.mjs OUTDIR');

const ortDir = resolve(process.env.GG_ONNXRUNTIME_DIR || join(dirname(fileURLToPath(import.meta.url)), '..', 'build', 'onnxruntime'));
const require = createRequire(join(ortDir, 'package.json'));  // resolves in ortDir/node_modules, then NODE_PATH
let ort, version;
try {
  ort = require('onnxruntime-node');
  version = require('onnxruntime-node/package.json').version;
} catch (e) {
  fail(`cannot load onnxruntime-node from ${ortDir}/node_modules or NODE_PATH (scripts/install_onnxruntime.sh installs it): ${e.message.split('\n')[0]}`);
}

// One tolerance for every op: onnxruntime and our CPU kernels differ by a few float roundings
// (at most ~5e-7 of the scale, in the exp/erf/tanh-based ops and the sums), so none needs a looser one.
const tol = 1e-5;

const cases = readdirSync(outdir).filter((f) => f.endsWith('.json')).sort();
if (cases.length === 0) fail(`${outdir} holds no cases (run onnx_ops_export ${outdir} first)`);
let passed = 0, failed = 0;
const sameShape = (a, b) => a.length === b.length && a.every((d, i) => d === Number(b[i]));
for (const file of cases) {
  const c = JSON.parse(readFileSync(join(outdir, file), 'utf8'));
  const model = join(outdir, `${c.case}.onnx`);
  let line;
  try {
    if (!existsSync(model)) throw new Error(`${model} is missing`);
    const session = await ort.InferenceSession.create(model, {
      intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all',
      logSeverityLevel: 4,  // a failing run's error is in our FAIL line; not onnxruntime's log too
    });
    const [input] = session.inputNames, [output] = session.outputNames;
    const feeds = { [input]: new ort.Tensor('float32', Float32Array.from(c.input.data), c.input.shape) };
    const y = (await session.run(feeds))[output];
    if (!sameShape(c.output.shape, y.dims)) {
      line = `FAIL ${c.case}: shape [${y.dims}] in onnxruntime, [${c.output.shape}] in graphgrad`;
    } else {
      const ours = Float32Array.from(c.output.data);  // the JSON's 9 digits give back our float32 values exactly
      let worst = 0, at = 0, scale = 1;
      for (let i = 0; i < ours.length; i++) {
        scale = Math.max(scale, Math.abs(ours[i]));
        const a = ours[i], b = Number(y.data[i]);
        const d = a === b || (Number.isNaN(a) && Number.isNaN(b)) ? 0 : Math.abs(a - b);
        if (!(d <= worst)) worst = Number.isNaN(d) ? Infinity : d, at = i;  // one NaN: the worst
      }
      const ok = worst <= tol * scale;
      line = `${ok ? 'ok  ' : 'FAIL'} ${c.case} [${c.ops.join(',')}]: shape [${c.output.shape}], max abs error ${worst.toExponential(2)}` +
             ` (limit ${(tol * scale).toExponential(2)})` + (ok ? '' : `: at ${at} graphgrad ${ours[at]}, onnxruntime ${y.data[at]}`);
    }
  } catch (e) {
    line = `FAIL ${c.case}: ${e.message.split('\n')[0]}`;
  }
  if (line.startsWith('ok')) ++passed; else ++failed;
  console.log(line);
}
console.log(`onnxruntime ${version}: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
