#!/usr/bin/env node
// tests/ort/check.js — runs recur's exported ONNX models in ONNX Runtime and
// compares its outputs with recur's.
//
//   node tests/ort/check.js DIR...
//
// Every DIR/NAME.onnx that has a DIR/NAME.ref beside it (the text format of
// tests/torch_ref.h: the inputs fed and recur's outputs, written by
// test_onnx with RECUR_ONNX_OUT=DIR or by `recur export --ref`) is loaded
// into an InferenceSession (CPU), run on the .ref's inputs, and each output
// compared with recur's: |ort - recur| <= 1e-5 (1 + |recur|) elementwise.
// onnxruntime-node is found under $RECUR_ORT_MODULES (a folder holding
// node_modules/, as `npm install --ignore-scripts onnxruntime-node` makes it)
// or the current folder. Prints one line per model and ends with
// "ort: N passed, N failed"; exits 1 when a model failed or none was found.
'use strict';
const fs = require('fs');
const path = require('path');

const TOL = 1e-5;

function loadOrt() {
  const where = [process.env.RECUR_ORT_MODULES || process.cwd(), __dirname];
  return require(require.resolve('onnxruntime-node', { paths: where }));
}

// Reads a reference file: { name: { dims: [...], data: Float64Array } }, in file order.
function readRef(file) {
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  if (!lines[0].startsWith('# recur torch reference v1')) throw new Error(`${file}: not a reference file`);
  const tensors = new Map();
  let cur = null;
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i].trim();
    if (!line || line.startsWith('#') || line.startsWith('meta ')) continue;
    if (line.startsWith('tensor ')) {
      const f = line.split(/\s+/);
      const ndim = Number(f[2]);
      const dims = f.slice(3, 3 + ndim).map(Number);
      cur = { dims, data: [], numel: dims.reduce((a, b) => a * b, 1) };
      tensors.set(f[1], cur);
      continue;
    }
    if (!cur) throw new Error(`${file}:${i + 1}: values before a tensor line`);
    for (const v of line.split(/\s+/)) cur.data.push(Number(v));
  }
  for (const [name, t] of tensors) {
    if (t.data.length !== t.numel) throw new Error(`${file}: tensor ${name} has ${t.data.length} values, not ${t.numel}`);
  }
  return tensors;
}

async function checkModel(ort, onnxFile, refFile) {
  const ref = readRef(refFile);
  const session = await ort.InferenceSession.create(onnxFile, { executionProviders: ['cpu'] });
  const feeds = {};
  for (const name of session.inputNames) {
    const t = ref.get(name);
    if (!t) throw new Error(`the reference has no input ${name}`);
    feeds[name] = new ort.Tensor('float32', Float32Array.from(t.data), t.dims);
  }
  const results = await session.run(feeds);
  let worst = 0;
  for (const name of session.outputNames) {
    const want = ref.get(name);
    if (!want) throw new Error(`the reference has no output ${name}`);
    const got = results[name];
    if (got.dims.join(',') !== want.dims.join(',')) {
      throw new Error(`output ${name}: shape [${got.dims}] in ONNX Runtime, [${want.dims}] in recur`);
    }
    for (let k = 0; k < want.numel; k++) {
      const err = Math.abs(got.data[k] - want.data[k]) / (1 + Math.abs(want.data[k]));
      if (!(err <= TOL)) {
        throw new Error(`output ${name} element ${k}: ONNX Runtime ${got.data[k]}, recur ${want.data[k]}`);
      }
      worst = Math.max(worst, err);
    }
  }
  return worst;
}

async function main() {
  const dirs = process.argv.slice(2);
  if (!dirs.length) {
    console.error('usage: node tests/ort/check.js DIR...');
    process.exit(2);
  }
  let ort;
  try {
    ort = loadOrt();
  } catch (e) {
    console.error(`ort: onnxruntime-node not found (npm install --ignore-scripts onnxruntime-node): ${e.message}`);
    console.log('ort: 0 passed, 1 failed');
    process.exit(1);
  }
  let passed = 0, failed = 0;
  for (const dir of dirs) {
    for (const f of fs.readdirSync(dir).filter((n) => n.endsWith('.onnx')).sort()) {
      const refFile = path.join(dir, f.replace(/\.onnx$/, '.ref'));
      if (!fs.existsSync(refFile)) continue;
      try {
        const worst = await checkModel(ort, path.join(dir, f), refFile);
        console.log(`ort: ok   ${f} (largest relative difference ${worst.toExponential(2)})`);
        passed++;
      } catch (e) {
        console.log(`ort: FAIL ${f}: ${e.message}`);
        failed++;
      }
    }
  }
  if (passed + failed === 0) {
    console.log('ort: no model found');
    failed = 1;
  }
  console.log(`ort: ${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}

main();
