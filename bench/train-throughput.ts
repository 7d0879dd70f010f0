/**
 * Training throughput of a registry model (default the seed CNN) on random data, with `trainOnBatch`
 * (Adam, categorical cross-entropy, accuracy: the same step as `hwr train`).
 *
 *   npx tsx bench/train-throughput.ts [--backend wasm|cpu] [--model seed-cnn|lenet5|hwr-net] [--batch 64] [--steps 30]
 *                                     [--detail] [--stock MaxPoolGrad,Conv2DBackpropInput,...]
 *                                     [--without lazy-conv-grad,batch-norm,adam,dense,conv-relu,dropout-mask,
 *                                     moving-averages,winograd-3-5,gemm,cross-entropy,max-pool,dropout-kernel,bn-relu,bn-relu-pool,conv-relu-pool,
 *                                     conv1-relu-pool,conv-pool-crop]
 *                                     [--kernel-threads 2]
 *                                     [--classes 10] (the input shape is the architecture's own: hccr-vgg 64x64)
 *
 * --detail splits kernel times by input shapes; --stock runs the named kernels with the stock wasm version
 * instead of ours (A/B comparison in the same conditions); --without turns off the named training paths of
 * 2026-11-30 (the lazy fused-conv gradient, the one-kernel batch norm, the fused Adam update, the SIMD dense
 * products; notes/PERFORMANCE.md), i.e. runs TF.js's own ops there, and those of session 21 (`conv-relu`: a
 * convolution with a ReLU as one FusedConv2D in training; `dropout-mask`: SeededDropout's masks from tf.dropout instead
 * of `dropoutMask`; `moving-averages`: batch norm's moving statistics by six ops per layer instead of one kernel;
 * `winograd-3-5`: F(4x4) where F(3x3) or F(5x5) cover the output exactly; `gemm`: the dense products on the
 * 1x1-convolution route instead of src/backend/simd/gemm.ts; `cross-entropy`: tfjs-layers' loss ops) and of session 22
 * (`max-pool`: the stock XNNPACK MaxPool in training; `dropout-kernel`: SeededDropout's masks made in JS and uploaded;
 * `bn-relu`: a ReLU layer after a batch norm runs its own kernels instead of being fused into the batch norm's) and of
 * session 24 (`bn-relu-pool`: a 2x2 max pooling after a batch norm and ReLU runs its own kernels instead of being fused
 * into theirs; `conv-relu-pool`: the same pooling after a convolution with a ReLU runs MaxPool, MaxPoolGrad and the
 * ReLU's gradient instead of a pooling with positions) and of session 25 (`conv1-relu-pool`: a one-channel
 * convolution, its ReLU and the 2x2 max pooling after it run as FusedConv2D and the pooling's kernels instead of one
 * kernel each way; `conv-pool-crop`: a convolution whose last output row or column no 2x2 pooling window reads computes
 * it anyway).
 * Prints images/s (from the median step time), the main thread's CPU time per step (Linux; steadier than wall time
 * on a shared machine) and the share of step time spent in each kernel,
 * so the next bottleneck is visible. Per-kernel times wrap every registered kernelFunc of the backend
 * and count only top-level calls (a kernel that calls another kernel's function directly is charged
 * for both); "(outside kernels)" is engine, tape, optimizer bookkeeping and JS glue.
 */
import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { getArchitecture } from '../src/models/index.ts';
import { setupBackend } from '../src/backend/backend.ts';
import { useTrainingKernel } from '../src/backend/kernels/index.ts';
import { TRAINING_SWITCHES as switches } from './trainingSwitches.ts';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1]! : fallback;
}

const backendName = arg('backend', 'wasm') as 'wasm' | 'cpu';
const modelName = arg('model', 'seed-cnn');
const batch = Number(arg('batch', '64'));
const steps = Number(arg('steps', '30'));
const detail = process.argv.includes('--detail');
const stock = arg('stock', '').split(',').filter(Boolean);
const without = arg('without', '').split(',').filter(Boolean);
// --kernel-threads N: TF.js's threaded wasm build and the SIMD convolutions split over N threads (setupBackend's
// `kernelThreads`; src/backend/simd/threads.ts).
const kernelThreads = Number(arg('kernel-threads', '1'));
// --classes N: the output layer's size (hccr-vgg's shipped model has 3,755).
const classes = Number(arg('classes', '10'));

/**
 * CPU time (user + system) of this process's main thread so far, in ms, from Linux's /proc/self/task/<pid>/stat
 * (clock ticks of 10 ms); null elsewhere. Unlike wall time it does not count the time other processes hold the core,
 * so on a shared machine it is the steadier figure (cache and memory contention still count).
 */
function mainThreadCpuMs(): number | null {
  try {
    const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return null;
  }
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
  const active = await setupBackend({ backend: backendName, kernelThreads });
  for (const name of stock) useTrainingKernel(name, false);
  for (const name of without) {
    const turn = switches[name];
    if (!turn) throw new Error(`--without: unknown '${name}' (known: ${Object.keys(switches).join(', ')})`);
    turn(false);
  }
  const model = getArchitecture(modelName).create({ classes, seed: 1 });
  model.compile({ optimizer: tf.train.adam(1e-3), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
  // The architecture's own input shape (hccr-vgg: 64x64), not an assumed 28x28.
  const [, h, w, c] = model.inputs[0]!.shape as number[];
  const x = tf.randomUniform([batch, h!, w!, c!]);
  const labels = tf.randomUniform([batch], 0, classes, 'int32');
  const y = tf.oneHot(labels, classes).toFloat();

  const step = async (): Promise<number> => {
    const [loss] = (await model.trainOnBatch(x, y)) as number[];
    return loss!;
  };

  // Warm-up: XNNPACK operators, the heap and V8 (the JS loops of the kernels deoptimize once per new branch).
  const warmup = Math.min(5, steps);
  for (let i = 0; i < warmup; i++) await step();
  const times = instrumentKernels(active);
  const stepMs: number[] = [];
  let lastLoss = NaN;
  const cpu0 = mainThreadCpuMs();
  for (let i = 0; i < steps; i++) {
    const t0 = performance.now();
    lastLoss = await step();
    stepMs.push(performance.now() - t0);
  }
  const cpu1 = mainThreadCpuMs();
  const total = stepMs.reduce((a, b) => a + b, 0);
  const median = [...stepMs].sort((a, b) => a - b)[Math.floor(stepMs.length / 2)]!;
  const cpu = cpu0 !== null && cpu1 !== null ? `, main-thread CPU ${((cpu1 - cpu0) / steps).toFixed(1)} ms/step` : '';
  console.log(
    `backend=${active}${stock.length ? ` (stock ${stock})` : ''}${without.length ? ` (without ${without})` : ''} model=${modelName} batch=${batch} steps=${steps}: median step ${median.toFixed(1)} ms, ` +
      `${((batch * 1000) / median).toFixed(0)} images/s (mean ${((batch * 1000 * steps) / total).toFixed(0)})${cpu}, loss ${lastLoss.toFixed(3)}`,
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
