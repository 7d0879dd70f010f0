/**
 * Messages between the page's `ScriptTrainer` (./trainer.ts) and the training worker (./training.worker.ts).
 * One worker runs one training job; model weights are transferred, not copied.
 */
import type { InkDataset } from '../../../src/data/inkDataset.ts';
import type { ModelFiles, TrainingProgress, TrainRecipe } from './types.ts';

/** Page -> worker. */
export type TrainerRequest =
  | {
      type: 'train';
      dataset: InkDataset;
      /** Absolute URL of the shipped model folder whose layers are the feature extractor, e.g. `.../models/digits/`. */
      baseUrl: string;
      /** Absolute URL of the folder with TF.js's `.wasm` files, ending in `/`. */
      wasmUrl: string;
      /** A trained model to continue from, or the absolute URL of a shipped model folder to continue from. */
      startFrom?: ModelFiles | { url: string };
      seed?: number;
      recipe?: TrainRecipe;
    }
  | { type: 'cancel' };

/** Worker -> page. `failed.error.code` is `CANCELLED` after a cancel, an `HwrErrorCode`, or `INTERNAL_ERROR`. */
export type TrainerResponse =
  | { type: 'progress'; progress: TrainingProgress }
  | { type: 'usable'; model: ModelFiles }
  | { type: 'done'; model: ModelFiles; backend: string; simd: boolean }
  | { type: 'failed'; error: { code: string; message: string } };
