/**
 * What the page's teach mode and the training worker exchange: a script's trained model as files, training progress,
 * and the trainer that runs `trainInkScript` (src/train/inkScript.ts) in a Web Worker.
 */
import type { InkDataset } from '../../../src/data/inkDataset.ts';
import type { ModelFiles, TrainingProgress } from '../../../src/train/inkScript.ts';

/**
 * A trained model as the browser keeps it (IndexedDB) and hands it around: TF.js's model artifacts plus hwr's metadata,
 * the content of a model folder (`model.json`, `weights.bin`, `metadata.json`) that `hwr predict --model DIR`, the
 * server and `hwr export` read; and where a training run is. Both are the recipe's own types (src/train/inkScript.ts),
 * which the training worker forwards as they are.
 */
export type { ModelFiles, TrainingProgress };

/** Options of `ScriptTrainer.train`. */
export interface TrainOptions {
  /**
   * The pretrained model the script learns from (a shipped model's name): its convolutional features, or where it knows
   * every label (glyphs-latin's Latin letters) its own units for them (`knownLabels` of src/train/inkScript.ts).
   * Default `DEFAULT_TEACHING_BASE` (`glyphs-latin`).
   */
  base?: 'glyphs-latin' | 'digits' | 'hanzi';
  /**
   * Continue from this model (personalization: "Improve" fine-tunes the script's current model on new samples), or
   * from a shipped model by name (`'digits'`, `'hanzi'`: improving a shipped script). Its classes may be the dataset's
   * or a subset of them (new classes get fresh output units).
   */
  startFrom?: ModelFiles | 'digits' | 'hanzi';
  /** Seed of augmentation and initialization; the same seed and data give the same model. */
  seed?: number;
  /** Smaller or larger runs than the recipe's defaults (tests use tiny ones); omitted fields keep the defaults. */
  recipe?: TrainRecipe;
  /** Called with every progress message. */
  onProgress?: (progress: TrainingProgress) => void;
  /** Called once when a usable model exists (after the head phase), before fine-tuning ends. */
  onUsable?: (model: ModelFiles) => void;
}

/** Knobs of the training recipe (`trainInkScript`'s options of the same names, src/train/inkScript.ts). */
export interface TrainRecipe {
  /** Augmented variants rendered per drawn sample. */
  variantsPerSample?: number;
  /** Epochs of the head phase (new classifier on frozen features). */
  headEpochs?: number;
  /** Epochs of the fine-tune phase (0 skips it: the usable model is the final one). */
  fineTuneEpochs?: number;
}

/** A training run in progress. */
export interface TrainingJob {
  /** The final model; rejects with an error whose `code` is `CANCELLED` after `cancel()`, or the training error. */
  readonly result: Promise<ModelFiles>;
  /** Stops the run at the next batch; `result` then rejects with code `CANCELLED`. */
  cancel(): void;
}

/** Trains scripts in a Web Worker (web/src/training/trainer.ts implements it). */
export interface ScriptTrainer {
  train(dataset: InkDataset, options?: TrainOptions): TrainingJob;
}
