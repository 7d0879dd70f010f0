/**
 * The switches of hwr's training paths by name, each turning one path off (`false`: the stock TF.js ops or the earlier
 * path it replaced) or back on, for A/B benchmarks: bench/train-throughput.ts `--without NAME,...` (one process per
 * configuration) and bench/train-ab.ts `--switch NAME` (both configurations interleaved in one process). What each
 * path is: bench/train-throughput.ts's comment and notes/PERFORMANCE.md.
 */
import { setBatchNormReluFusionEnabled, setBatchNormReluPoolFusionEnabled, setBatchNormTrainingEnabled, setMovingAveragesKernelEnabled } from '../src/backend/batchNormTraining.ts';
import { setFusedAdamEnabled } from '../src/backend/adam.ts';
import { setLazyFusedConv2DGradient } from '../src/backend/gradients/FusedConv2D_grad.ts';
import { setGemmKernelsEnabled, setSimdMatMulEnabled } from '../src/backend/kernels/BatchMatMul.ts';
import { setConvReluTrainingEnabled } from '../src/backend/convReluTraining.ts';
import { setHashedDropoutMasks } from '../src/models/seededDropout.ts';
import { setGenericWinogradEnabled } from '../src/backend/simd/winograd.ts';
import { setFusedCrossEntropyEnabled } from '../src/backend/crossEntropy.ts';
import { setSimdMaxPoolEnabled } from '../src/backend/kernels/MaxPool.ts';
import { setDropoutMaskKernelEnabled } from '../src/models/seededDropout.ts';
import { setConvPoolCropEnabled, setConvReluPoolEnabled, setFusedConvReluPoolEnabled } from '../src/backend/convReluPool.ts';
import { setBatchNormConvGradientEnabled } from '../src/backend/batchNormConvGradient.ts';

/** Name -> setter (true: the path on, the default). */
export const TRAINING_SWITCHES: Readonly<Record<string, (on: boolean) => void>> = {
  'lazy-conv-grad': setLazyFusedConv2DGradient,
  'batch-norm': setBatchNormTrainingEnabled,
  adam: setFusedAdamEnabled,
  dense: setSimdMatMulEnabled,
  'conv-relu': setConvReluTrainingEnabled,
  'dropout-mask': setHashedDropoutMasks,
  'moving-averages': setMovingAveragesKernelEnabled,
  'winograd-3-5': setGenericWinogradEnabled,
  gemm: setGemmKernelsEnabled,
  'cross-entropy': setFusedCrossEntropyEnabled,
  'max-pool': setSimdMaxPoolEnabled,
  'dropout-kernel': setDropoutMaskKernelEnabled,
  'bn-relu': setBatchNormReluFusionEnabled,
  'bn-relu-pool': setBatchNormReluPoolFusionEnabled,
  'conv-relu-pool': setConvReluPoolEnabled,
  'conv1-relu-pool': setFusedConvReluPoolEnabled,
  'conv-pool-crop': setConvPoolCropEnabled,
  'bn-conv-grad': setBatchNormConvGradientEnabled,
};
