/**
 * The registry of preprocessing profiles: how the recognizer turns an image into a model input, chosen by the
 * model's metadata (`ModelMetadata.preprocessing`, a name and version such as `mnist-com-v2` or `cjk-fit-v1`), so
 * that a model is fed exactly what its training data looked like.
 *
 * - `mnist-com-v1`, `mnist-com-v2`: `preprocessDigit` (MNIST: ink fitted to 20/28 of the field, centred by its centre
 *   of mass) at the model's input size. v2's output equals v1's on clean input (see `PREPROCESSING_VERSION`), so the
 *   shipped digits model (trained as v1) runs on the same code as before.
 * - `cjk-fit-v1`: the CJK profile of training on GNT files (`fitInkToBox`, ./profiles.ts, as src/data/hwdb.ts uses
 *   it): the image becomes 8-bit gray (255 = paper), the ink's box is fitted into the model's square input, and the
 *   result is divided by 255, which gives the training pipeline's input bit for bit for the same gray image.
 *
 * Imports nothing Node-only.
 */
import { hwrError } from './errors.ts';
import { DEFAULT_INK_PEN_WIDTH, inkImage, type Ink } from './ink.ts';
import { detectPolarity, MnistCropNormalizer, preprocessDigit, toGrayscale } from './preprocess.ts';
import { CJK_PROFILE, fitInkToBox } from './profiles.ts';
import type { ModelMetadata, PixelBuffer } from './types.ts';

/**
 * Prepares one image for a model.
 * @param image RGBA pixels of any size
 * @param name  names the image in error messages
 * @returns `[height * width]` float32 in [0, 1], row-major, ink = 1 (the model's input shape without batch and channel)
 * @throws HwrError `NO_INK` for a blank image, `BAD_ARGUMENT` for a malformed buffer
 */
export type Preprocessor = (image: PixelBuffer, name: string) => Float32Array;

/** Builds a profile's `Preprocessor` for a square model input of `size` x `size` px. */
type ProfileFactory = (size: number) => Preprocessor;

const mnistProfile: ProfileFactory = (size) => {
  // MNIST fits the ink into 20 px of a 28 px field; other input sizes keep that proportion.
  const options = { size, box: Math.round((size * 20) / 28) };
  return (image, name) => preprocessDigit(image, { ...options, name }).input;
};

/**
 * 8-bit gray of an image, 255 = paper, as GNT files store a character: Rec. 601 luma over white paper
 * (`toGrayscale`), rounded; light ink on a dark background is inverted first. A gray PNG written from a GNT sample
 * comes back as its own bytes.
 */
function toPaperGray(image: PixelBuffer): { width: number; height: number; data: Uint8Array } {
  const gray = toGrayscale(image);
  const invert = (image.polarity ?? detectPolarity(gray)) === 'light-on-dark';
  const data = new Uint8Array(gray.length);
  for (let i = 0; i < gray.length; i++) data[i] = Math.round((invert ? 1 - gray[i]! : gray[i]!) * 255);
  return { width: image.width, height: image.height, data };
}

const cjkProfile: ProfileFactory = (size) => (image, name) => {
  const fitted = (() => {
    try {
      return fitInkToBox(toPaperGray(image), { size });
    } catch (error) {
      // fitInkToBox names itself; the caller's name for the image is what a user can act on.
      if ((error as { code?: string }).code === 'NO_INK') throw hwrError('NO_INK', `no ink found in ${name}`, error);
      throw error;
    }
  })();
  const input = new Float32Array(fitted.length);
  // Exactly as HwdbStream makes a batch: uint8 / 255 in float32.
  for (let i = 0; i < fitted.length; i++) input[i] = fitted[i]! / 255;
  return input;
};

/** The profiles by the name and version a model's metadata gives in `preprocessing`. */
const PROFILES: ReadonlyMap<string, ProfileFactory> = new Map([
  ['mnist-com-v1', mnistProfile],
  ['mnist-com-v2', mnistProfile],
  [CJK_PROFILE, cjkProfile],
]);

/** Names of the known profiles, e.g. `['mnist-com-v1', 'mnist-com-v2', 'cjk-fit-v1']`. */
export function preprocessingProfiles(): string[] {
  return [...PROFILES.keys()];
}

/**
 * The preprocessing a model was trained with, from its metadata: `preprocessing` picks the profile and
 * `inputShape` `[height, width, 1]` its output size.
 * @returns a `Preprocessor` giving `[height * width]` float32 inputs
 * @throws HwrError `BAD_MODEL` naming the model and the profile when the profile is unknown or cannot make the input shape
 */
export function preprocessorFor(metadata: Pick<ModelMetadata, 'name' | 'preprocessing' | 'inputShape'>): Preprocessor {
  const model = metadata.name ?? 'model';
  const factory = PROFILES.get(metadata.preprocessing);
  if (!factory) {
    throw hwrError('BAD_MODEL', `${model}: unknown preprocessing profile "${metadata.preprocessing}" in its metadata (known: ${preprocessingProfiles().join(', ')})`);
  }
  const [height, width] = metadata.inputShape;
  if (height !== width) {
    throw hwrError('BAD_MODEL', `${model}: the ${metadata.preprocessing} profile needs a square input, the metadata says ${height}x${width}`);
  }
  return factory(height);
}

/**
 * Whether two models take the same input from the same image: the same preprocessing (`mnist-com-v1` and `-v2` are
 * one function, see `PROFILES`) at the same input size. The line reader then normalizes a candidate shared by a
 * character model and a pair model once (`segmentPreprocessorFor`).
 */
export function samePreprocessing(a: Pick<ModelMetadata, 'preprocessing' | 'inputShape'>, b: Pick<ModelMetadata, 'preprocessing' | 'inputShape'>): boolean {
  const profile = PROFILES.get(a.preprocessing);
  return profile !== undefined && profile === PROFILES.get(b.preprocessing) && a.inputShape[0] === b.inputShape[0] && a.inputShape[1] === b.inputShape[1];
}

/**
 * Whether model `b`'s input is model `a`'s averaged over `k x k` blocks: both `cjk-fit-v1` (`fitInkToBox`: area
 * resampling of the ink box into the field with a margin of `round(size / 16)`), `a`'s side `k` times `b`'s and its
 * margin `k` times `b`'s (64 and 32 px: 4 and 2). The average then equals `b`'s own normalization but for the 8-bit
 * rounding of each (at most 0.003 apart on 1,706 candidates of hanzi lines), so the line reader computes a verifier's
 * 32 px input from the hanzi model's 64 px one instead of normalizing every crop again.
 * @returns k (2 or more), or null when `b`'s input is not such an average of `a`'s (other profiles, sizes, or the same size)
 */
export function downsampleFactor(a: Pick<ModelMetadata, 'preprocessing' | 'inputShape'>, b: Pick<ModelMetadata, 'preprocessing' | 'inputShape'>): number | null {
  if (a.preprocessing !== CJK_PROFILE || b.preprocessing !== CJK_PROFILE) return null;
  const [ah, aw] = a.inputShape;
  const [bh, bw] = b.inputShape;
  if (ah !== aw || bh !== bw || !(bh > 0) || ah % bh !== 0) return null;
  const k = ah / bh;
  return k >= 2 && Math.round(ah / 16) === k * Math.round(bh / 16) ? k : null;
}

/**
 * Averages a square input over `k x k` blocks (see `downsampleFactor`).
 * @param input `[side * side]` float32, row-major
 * @param out `[(side / k)^2]` float32, written
 */
export function downsampleInput(input: ArrayLike<number>, side: number, k: number, out: Float32Array): void {
  const small = side / k;
  const scale = 1 / (k * k);
  for (let y = 0; y < small; y++) {
    for (let x = 0; x < small; x++) {
      let sum = 0;
      for (let dy = 0; dy < k; dy++) for (let dx = 0; dx < k; dx++) sum += input[(y * k + dy) * side + x * k + dx]!;
      out[y * small + x] = sum * scale;
    }
  }
}

/**
 * Pen width (a fraction of the ink's longer side) at which ink is drawn for a model (`inkImageFor`): the metadata's
 * `inkPenWidth` when it has one (models trained on ink record the width they were trained at), else the profile's:
 * MNIST's median stroke for `mnist-com-*` (`DEFAULT_INK_PEN_WIDTH`, 0.12), the synthetic writers' middle pen for
 * `cjk-fit-v1` (0.05; `randomWriterStyle` draws 3.5% to 6.5% of the character's size).
 */
export function inkPenWidthFor(metadata: Pick<ModelMetadata, 'preprocessing' | 'inkPenWidth'>): number {
  if (metadata.inkPenWidth !== undefined) return metadata.inkPenWidth;
  return metadata.preprocessing === CJK_PROFILE ? 0.05 : DEFAULT_INK_PEN_WIDTH;
}

/**
 * Ink drawn as the picture a model's preprocessing takes (`inkImage` at the model's pen width, `inkPenWidthFor`):
 * the one path from ink to a model input in the page, the server, the CLI and training on ink.
 * @returns RGBA pixels, 128 x 128, black ink on white
 * @throws HwrError `NO_INK` for ink without points
 */
export function inkImageFor(ink: Ink, metadata: Pick<ModelMetadata, 'preprocessing' | 'inkPenWidth'>): PixelBuffer {
  return inkImage(ink, { penWidth: inkPenWidthFor(metadata) });
}

/**
 * One character cut out of a line, as ink strength: `[height * width]` float32 in [0, 1], row-major, 1 = full ink,
 * 0 = paper, the character's ink filling the crop (its ink box is the whole crop, give or take faint rim pixels).
 */
export interface InkCrop {
  data: Float32Array;
  width: number;
  height: number;
}

/**
 * Prepares an ink crop (`InkCrop`) for a model: the line reader's fast path (src/core/line/), which cuts many candidate
 * characters out of one ink map of the line and must not redo grayscale, lighting and polarity for each. Normalizes
 * as the model's profile does after those steps, so that a character alone gets the input `preprocessorFor` gives:
 * - `mnist-com-*`: the crop's ink box (`inkBoundingBox`, specks ignored) fitted to 20/28 of the field with MNIST's
 *   stroke widths (`fitWithStrokeWidth`), then centred by its centre of mass (`centerInField`), as `preprocessDigit` does
 *   (computed by `MnistCropNormalizer`, the same numbers faster; the returned function keeps its scratch buffers, so
 *   make one per reader);
 * - `cjk-fit-v1`: the crop as 8-bit gray (`255 - round(255 * ink)`, 255 = paper) through `fitInkToBox`, divided by 255.
 * @returns `(crop) => [height * width]` float32 model input in [0, 1], ink = 1 (the model's input shape)
 * @throws HwrError `BAD_MODEL` as `preprocessorFor` for an unknown profile; the returned function throws `NO_INK` for a crop without ink
 */
export function segmentPreprocessorFor(metadata: Pick<ModelMetadata, 'name' | 'preprocessing' | 'inputShape'>): (crop: InkCrop) => Float32Array {
  preprocessorFor(metadata); // the same checks and errors (unknown profile, not square)
  const size = metadata.inputShape[0];
  if (metadata.preprocessing === CJK_PROFILE) {
    return (crop) => {
      const gray = new Uint8Array(crop.data.length);
      for (let i = 0; i < gray.length; i++) gray[i] = 255 - Math.round(255 * Math.min(1, Math.max(0, crop.data[i]!)));
      const fitted = fitInkToBox({ width: crop.width, height: crop.height, data: gray }, { size });
      const input = new Float32Array(fitted.length);
      for (let i = 0; i < fitted.length; i++) input[i] = fitted[i]! / 255;
      return input;
    };
  }
  const normalizer = new MnistCropNormalizer(size, Math.round((size * 20) / 28));
  return (crop) => normalizer.normalize(crop.data, crop.width, crop.height, 'line segment');
}
