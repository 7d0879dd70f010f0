/**
 * The convolution algorithms of the training kernels side by side: the direct SIMD implicit GEMM, Winograd
 * F(2x2, 3x3) and F(4x4, 3x3), and F(3x3, 3x3), F(5x5, 3x3) and F(6x6, 3x3) where `genericTileFits` (src/backend/simd),
 * for the forward pass and both gradients, on the 3x3 layers of the seed CNN and hwr-net, at training batch sizes and
 * for one image. The measurements behind `winogradCostMs`'s
 * constants and the tables in notes/PERFORMANCE.md.
 *
 *   npx tsx bench/conv-algorithms.ts [--rounds 21]
 *
 * Prints, per layer and operation, the median ms over interleaved rounds (all algorithms in each round, so the
 * machine's noise hits them alike), and the algorithm `winogradTile` picks.
 */
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { setupBackend } from '../src/backend/backend.ts';
import { forceWinogradTile, winogradTile, type ConvOp, type WinogradTile } from '../src/backend/simd/winograd.ts';
import { genericTileFits } from '../src/backend/simd/winogradGeneric.ts';

const { values: flags } = parseArgs({ options: { rounds: { type: 'string', default: '21' } } });
const rounds = Number(flags.rounds);

/** [batch, inSize, inC, outC]: 3x3 'valid' convolutions, square inputs. */
const layers: Array<{ name: string; shape: [number, number, number, number] }> = [
  { name: 'seed-cnn layer 2', shape: [64, 13, 32, 64] },
  { name: 'seed-cnn layer 3', shape: [64, 5, 64, 128] },
  { name: 'hwr-net layer 2', shape: [64, 12, 32, 64] },
  { name: 'hwr-net layer 2, one shard of 2', shape: [32, 12, 32, 64] },
  { name: 'seed-cnn layer 2, one shard of 2', shape: [32, 13, 32, 64] },
  { name: 'hwr-net layer 3, one shard of 2', shape: [32, 5, 64, 128] },
  { name: 'seed-cnn layer 2, one image', shape: [1, 13, 32, 64] },
];
const allTiles: WinogradTile[] = [0, 2, 4, 3, 5, 6];
const median = (a: number[]): number => [...a].sort((p, q) => p - q)[a.length >> 1]!;

await setupBackend();
for (const { name, shape: [B, H, Ci, Co] } of layers) {
  const O = H - 2;
  const info = tf.backend_util.computeConv2DInfo([B, H, H, Ci], [3, 3, Ci, Co], 1, 1, 'valid');
  const tiles = allTiles.filter((t) => t === 0 || t === 2 || t === 4 || genericTileFits(info, t));
  const x = tf.randomUniform([B, H, H, Ci]) as tf.Tensor4D;
  const w = tf.randomUniform([3, 3, Ci, Co]) as tf.Tensor4D;
  const dy = tf.randomUniform([B, O, O, Co]);
  const ops: Record<ConvOp, () => tf.Tensor> = {
    forward: () => tf.conv2d(x, w, 1, 'valid'),
    input: () => tf.engine().runKernel('Conv2DBackpropInput', { dy, filter: w }, { strides: 1, pad: 'valid', dataFormat: 'NHWC', inputShape: [B, H, H, Ci] }) as tf.Tensor,
    filter: () => tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, { strides: 1, pad: 'valid', dataFormat: 'NHWC', filterShape: [3, 3, Ci, Co] }) as tf.Tensor,
  };
  const times = new Map<string, number[]>();
  for (let r = 0; r < rounds; r++) {
    for (const tile of tiles) {
      forceWinogradTile(tile);
      for (const [op, run] of Object.entries(ops)) {
        const start = performance.now();
        const out = run();
        out.dataSync();
        const key = `${op}/${tile}`;
        times.set(key, [...(times.get(key) ?? []), performance.now() - start]);
        out.dispose();
      }
    }
  }
  forceWinogradTile(undefined);
  const cells = (Object.keys(ops) as ConvOp[]).map((op) =>
    `${op} ${tiles.map((t) => median(times.get(`${op}/${t}`)!).toFixed(2)).join(' / ')} (picks ${winogradTile(info, op) || 'direct'})`);
  console.log(`${name} [${B},${H},${H},${Ci}] -> ${Co}, ms ${tiles.map((t) => (t ? `F(${t}x${t})` : 'direct')).join(' / ')}: ${cells.join('; ')}`);
  tf.dispose([x, w, dy]);
}
