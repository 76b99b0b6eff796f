#!/usr/bin/env node
// bench/ort_infer.js — anchor benchmark: ONNX Runtime (npm onnxruntime-node, CPU) on the
// ONNX files bench/torch_infer.py exports for bench/recur_infer.c's configurations:
//
//   node bench/ort_infer.js DIR [--quick]
//
//   DIR/e1.onnx, DIR/e2.onnx  generation at B=1: x [1, 1, 84] one-hot, h0, c0 -> logits, hn, cn;
//                             one run per symbol, argmax fed back, states carried; ms per symbol
//                             (median over rounds of 200 symbols)
//   DIR/f1.onnx, DIR/f2.onnx  LSTM / GRU T=50 B=64 I=512 H=512 over the sequence; ms per sequence
//
// Each model runs in sessions of 1 and 2 intra-op threads (inter-op 1, sequential execution)
// and the best is printed: `anchor ort <cfg> ms=<median> threads=<n>`. onnxruntime-node is
// found under $RECUR_ORT_MODULES (a folder holding node_modules/) or the current folder.
'use strict';
const fs = require('fs');
const path = require('path');

function loadOrt() {
  const where = [process.env.RECUR_ORT_MODULES || process.cwd(), __dirname];
  return require(require.resolve('onnxruntime-node', { paths: where }));
}

function median(v) {
  const s = [...v].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

const nowMs = () => Number(process.hrtime.bigint()) / 1e6;

async function timeGenerate(ort, session, layers, hidden, rounds, symbols) {
  const V = 84;
  const x = new Float32Array(V);
  let h = new ort.Tensor('float32', new Float32Array(layers * hidden), [layers, 1, hidden]);
  let c = new ort.Tensor('float32', new Float32Array(layers * hidden), [layers, 1, hidden]);
  let sym = 0;
  const times = [];
  for (let r = 0; r <= rounds; r++) {
    const t0 = nowMs();
    for (let s = 0; s < symbols; s++) {
      x.fill(0);
      x[sym] = 1;
      const out = await session.run({ x: new ort.Tensor('float32', x, [1, 1, V]), h0: h, c0: c });
      const l = out.logits.data;
      sym = 0;
      for (let i = 1; i < V; i++) if (l[i] > l[sym]) sym = i;
      h = out.hn;
      c = out.cn;
    }
    if (r > 0) times.push((nowMs() - t0) / symbols);
  }
  return median(times);
}

async function timeSequence(ort, session, rounds) {
  const n = 50 * 64 * 512;
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = ((i * 7919) % 1000) / 1000 - 0.5;
  const x = new ort.Tensor('float32', data, [50, 64, 512]);
  const times = [];
  for (let r = 0; r < rounds + 2; r++) {
    const t0 = nowMs();
    await session.run({ x });
    if (r >= 2) times.push(nowMs() - t0);
  }
  return median(times);
}

async function main() {
  const args = process.argv.slice(2);
  const dir = args.find((a) => !a.startsWith('--'));
  const quick = args.includes('--quick');
  if (!dir) {
    console.error('usage: node bench/ort_infer.js DIR [--quick]');
    process.exit(2);
  }
  const ort = loadOrt();
  console.log(`# onnxruntime-node ${require(require.resolve('onnxruntime-node/package.json', {
    paths: [process.env.RECUR_ORT_MODULES || process.cwd(), __dirname] })).version}, threads tried 1, 2`);
  for (const name of ['e1', 'e2', 'f1', 'f2']) {
    const file = path.join(dir, name + '.onnx');
    if (!fs.existsSync(file)) continue;
    let best = null;
    for (const threads of [1, 2]) {
      const session = await ort.InferenceSession.create(file, {
        intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: 'sequential' });
      const ms = name.startsWith('e')
        ? await timeGenerate(ort, session, name === 'e1' ? 1 : 2, name === 'e1' ? 128 : 512, quick ? 3 : 9, 200)
        : await timeSequence(ort, session, quick ? 5 : 21);
      console.log(`ort (${name}) threads=${threads}: ${ms.toFixed(4)} ms`);
      if (!best || ms < best[0]) best = [ms, threads];
    }
    console.log(`anchor ort ${name} ms=${best[0].toFixed(4)} threads=${best[1]}`);
  }
}

main().catch((e) => {
  console.error(`ort_infer.js: ${e.message}`);
  process.exit(1);
});
