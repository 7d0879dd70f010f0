/**
 * Training throughput of the seed CNN (or lenet5 / a BatchNorm net) on random data.
 *
 *   npx tsx bench/train-throughput.ts [--backend wasm|cpu] [--model seed|lenet5|bn] [--batch 64] [--steps 30]
 *
 * Prints images/s (from the median step time) and the share of step time spent in each kernel,
 * so the next bottleneck is visible. Per-kernel times wrap every registered kernelFunc of the backend
 * and count only top-level calls (a kernel that calls another kernel's function directly is charged
 * for both); "(outside kernels)" is engine, tape, optimizer bookkeeping and JS glue.
 */
import * as tf from '@tensorflow/tfjs';
import { setupBackend } from '../src/train/backend.ts';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1]! : fallback;
}

const backendName = arg('backend', 'wasm') as 'wasm' | 'cpu';
const modelName = arg('model', 'seed');
const batch = Number(arg('batch', '64'));
const steps = Number(arg('steps', '30'));
const detail = process.argv.includes('--detail'); // per-kernel times split by input shapes

function buildModel(name: string): tf.LayersModel {
  const m = tf.sequential();
  const input = { inputShape: [28, 28, 1] };
  if (name === 'seed') {
    m.add(tf.layers.conv2d({ ...input, filters: 32, kernelSize: 3, activation: 'relu' }));
    m.add(tf.layers.maxPooling2d({ poolSize: 2 }));
    m.add(tf.layers.conv2d({ filters: 64, kernelSize: 3, activation: 'relu' }));
    m.add(tf.layers.maxPooling2d({ poolSize: 2 }));
    m.add(tf.layers.conv2d({ filters: 128, kernelSize: 3, activation: 'relu' }));
    m.add(tf.layers.maxPooling2d({ poolSize: 2 }));
    m.add(tf.layers.flatten());
    m.add(tf.layers.dense({ units: 64, activation: 'relu' }));
    m.add(tf.layers.dense({ units: 10, activation: 'softmax' }));
  } else if (name === 'lenet5') {
    m.add(tf.layers.conv2d({ ...input, filters: 6, kernelSize: 5, padding: 'same', activation: 'tanh' }));
    m.add(tf.layers.averagePooling2d({ poolSize: 2 }));
    m.add(tf.layers.conv2d({ filters: 16, kernelSize: 5, activation: 'tanh' }));
    m.add(tf.layers.averagePooling2d({ poolSize: 2 }));
    m.add(tf.layers.flatten());
    m.add(tf.layers.dense({ units: 120, activation: 'relu' }));
    m.add(tf.layers.dense({ units: 84, activation: 'relu' }));
    m.add(tf.layers.dense({ units: 10, activation: 'softmax' }));
  } else if (name === 'bn') {
    const block = (filters: number, kernelSize: number, padding: 'same' | 'valid', first = false) => {
      m.add(tf.layers.conv2d({ ...(first ? input : {}), filters, kernelSize, padding, useBias: false }));
      m.add(tf.layers.batchNormalization());
      m.add(tf.layers.reLU());
    };
    block(32, 3, 'same', true);
    block(32, 5, 'same');
    m.add(tf.layers.maxPooling2d({ poolSize: 2 }));
    m.add(tf.layers.dropout({ rate: 0.25 }));
    block(64, 3, 'valid');
    block(64, 3, 'same');
    m.add(tf.layers.maxPooling2d({ poolSize: 2 }));
    m.add(tf.layers.dropout({ rate: 0.25 }));
    m.add(tf.layers.flatten());
    m.add(tf.layers.dense({ units: 128, activation: 'relu' }));
    m.add(tf.layers.dropout({ rate: 0.5 }));
    m.add(tf.layers.dense({ units: 10, activation: 'softmax' }));
  } else {
    throw new Error(`--model: unknown model '${name}' (seed, lenet5, bn)`);
  }
  return m;
}

/** Wraps every kernel of `backend` to accumulate wall time per kernel name (top-level calls only). */
function instrumentKernels(backend: string): Map<string, { ms: number; calls: number }> {
  const times = new Map<string, { ms: number; calls: number }>();
  let depth = 0;
  for (const config of tf.getKernelsForBackend(backend)) {
    const inner = config.kernelFunc;
    (config as { kernelFunc: tf.KernelFunc }).kernelFunc = ((args: Parameters<tf.KernelFunc>[0]) => {
      if (depth > 0) return inner(args);
      const name = detail
        ? `${config.kernelName} ${Object.values(args.inputs).map((t) => `[${t?.shape}]`).join(' ')}`
        : config.kernelName;
      depth++;
      const t0 = performance.now();
      try {
        return inner(args);
      } finally {
        depth--;
        const entry = times.get(name) ?? { ms: 0, calls: 0 };
        entry.ms += performance.now() - t0;
        entry.calls++;
        times.set(name, entry);
      }
    }) as tf.KernelFunc;
  }
  return times;
}

async function main(): Promise<void> {
  const active = await setupBackend({ backend: backendName });
  const model = buildModel(modelName);
  const optimizer = tf.train.adam(1e-3);
  const x = tf.randomUniform([batch, 28, 28, 1]);
  const labels = tf.randomUniform([batch], 0, 10, 'int32');
  const y = tf.oneHot(labels, 10).toFloat();

  const step = (): number => {
    const loss = optimizer.minimize(() => {
      const pred = model.apply(x, { training: true }) as tf.Tensor;
      return tf.metrics.categoricalCrossentropy(y, pred).mean() as tf.Scalar;
    }, true)!;
    const value = loss.dataSync()[0]!;
    loss.dispose();
    return value;
  };

  const warmup = Math.min(3, steps);
  for (let i = 0; i < warmup; i++) step();
  const times = instrumentKernels(active);
  const stepMs: number[] = [];
  let lastLoss = NaN;
  for (let i = 0; i < steps; i++) {
    const t0 = performance.now();
    lastLoss = step();
    stepMs.push(performance.now() - t0);
  }
  const total = stepMs.reduce((a, b) => a + b, 0);
  const median = [...stepMs].sort((a, b) => a - b)[Math.floor(stepMs.length / 2)]!;
  console.log(
    `backend=${active} model=${modelName} batch=${batch} steps=${steps}: median step ${median.toFixed(1)} ms, ` +
      `${((batch * 1000) / median).toFixed(0)} images/s (mean ${((batch * 1000 * steps) / total).toFixed(0)}), loss ${lastLoss.toFixed(3)}`,
  );
  const rows = [...times.entries()].sort((a, b) => b[1].ms - a[1].ms);
  const kernelTotal = rows.reduce((a, [, t]) => a + t.ms, 0);
  const shown = rows.slice(0, detail ? 40 : 20);
  shown.push(['(other kernels)', { ms: rows.slice(shown.length).reduce((a, [, t]) => a + t.ms, 0), calls: 0 }]);
  shown.push(['(outside kernels)', { ms: total - kernelTotal, calls: 0 }]);
  for (const [name, t] of shown) {
    console.log(
      `  ${name.padEnd(detail ? 60 : 24)} ${((100 * t.ms) / total).toFixed(1).padStart(5)}%  ${(t.ms / steps).toFixed(2).padStart(7)} ms/step  ${String(t.calls / steps).padStart(4)} calls/step`,
    );
  }
  tf.dispose([x, labels, y]);
}

await main();
