/**
 * Training and test data from folders of GNT files (CASIA HWDB1.x, ICDAR 2013, or `hwr synth`'s synthetic writers),
 * named on the command line as `hwdb:DIR`. Nothing is loaded whole: samples stream from the files, through the CJK
 * profile (`fitInkToBox`, src/core/profiles.ts), into a bounded shuffle buffer, and batches are built on the fly,
 * so memory stays flat however large the data (`HwdbStream.maxHeld` is the proof the tests check).
 *
 * Shuffling follows tf.data's design (`interleave` + `shuffle(buffer_size)`): every epoch the file order is
 * shuffled, `interleave` files are read at once (each pick takes the next sample of a randomly chosen open file, so a
 * buffer holds several writers), and each sample enters a buffer of `shuffleBuffer` samples, from which a random
 * one leaves whenever it is full. The same seed and epoch give the same order.
 *
 * The split is by writer (`splitOfWriter` in ./gnt.ts). Validation is held out by writer as well: a share of the
 * training writers (`validationWriters`), of whose samples at most `maxValidation` are kept in memory.
 *
 * Corrupt samples: by default the first one is an error naming the file and the byte offset, raised by the
 * header-only index scan before any pixel is read (so before training starts). With `skipCorrupt` (the CLI's
 * `--skip-corrupt`) each is reported once, by the scan, and skipped on every pass; the streams count them.
 *
 * Node-only (reads files).
 */
import { open } from 'node:fs/promises';
import { resolve } from 'node:path';
import { hwrError, isHwrError } from '../core/errors.ts';
import { fitInkToBox } from '../core/profiles.ts';
import { createRng, shuffledIndices } from './augment.ts';
import { charsetByName, decodeGbCode } from './charset.ts';
import { corruptGntMessage, GNT_HEADER_BYTES, gntSampleProblem, listGntFiles, parseGntHeader, readGntFile, type GntSample, type WriterSplit } from './gnt.ts';

/** The prefix of a GNT data source on the command line and in a training recipe: `hwdb:DIR`. */
export const HWDB_PREFIX = 'hwdb:';

/** The folder of a `hwdb:DIR` data source, or null for any other source (an IDX folder, or null for MNIST). */
export function hwdbFolderOf(source: string | null | undefined): string | null {
  return source?.startsWith(HWDB_PREFIX) ? source.slice(HWDB_PREFIX.length) : null;
}

/**
 * A data source as a recipe records it: `hwdb:` with an absolute folder.
 * @throws HwrError `BAD_ARGUMENT` for `hwdb:` with no folder
 */
export function hwdbSource(spec: string): string {
  const folder = hwdbFolderOf(spec);
  if (!folder) throw hwrError('BAD_ARGUMENT', `--data ${spec}: expected hwdb:DIR, a folder of .gnt files`);
  return `${HWDB_PREFIX}${resolve(folder)}`;
}

/** One GNT file of a folder, with what a header-only scan found. */
export interface HwdbFile {
  file: string;
  writer: string;
  split: WriterSplit;
  /** Sound samples: what the reader yields (corrupt ones are not counted). */
  count: number;
  /** Byte offsets of the corrupt samples the scan skipped (with `skipCorrupt`; empty otherwise). */
  corruptOffsets: number[];
}

/** What `indexHwdbFolder` found: files, their sample counts and the characters, without reading any pixel. */
export interface HwdbIndex {
  dir: string;
  files: HwdbFile[];
  /** Distinct characters of all files (both splits), in GB code order: the classes when no charset is named. */
  characters: string[];
  /** Corrupt samples skipped, over all files (with `skipCorrupt`; 0 otherwise). A truncated file rest counts as one. */
  corrupt: number;
}

/** Options of `indexHwdbFolder`. */
export interface IndexHwdbOptions {
  /** Report corrupt samples to `onWarning` and leave them out, instead of throwing at the first. Default false. */
  skipCorrupt?: boolean;
  /** Receives one line per corrupt sample or file rest skipped (with `skipCorrupt`). */
  onWarning?: (line: string) => void;
  /** Index only the files of this split (`splitOfWriter`): `hwr evaluate` reads only the test writers. Default: all. */
  split?: WriterSplit;
}

/** The hint appended to a strict corrupt-sample error, naming the way out. */
const SKIP_CORRUPT_HINT = '(--skip-corrupt to skip corrupt samples with a warning)';

/**
 * Scans the sample headers of every `.gnt` file of `dir` (10 bytes per sample, the pixels are skipped) to count the
 * samples, collect the characters and find corrupt samples, with the reader's checks (`gntSampleProblem`).
 * A sample whose framing is sound (an empty image, an undecodable tag code) is skipped alone; after a broken
 * framing or a truncated sample the rest of the file is.
 * @throws HwrError `FILE_NOT_FOUND` when the folder is missing or has no `.gnt` file; `BAD_ARGUMENT` when no file
 *   is of `split`; `CORRUPT_GNT` at the first corrupt sample unless `skipCorrupt`, in one line:
 *   `<file>: corrupt GNT sample <i> at byte offset <n>: <reason> (--skip-corrupt ...)`
 */
export async function indexHwdbFolder(dir: string, options: IndexHwdbOptions = {}): Promise<HwdbIndex> {
  const codes = new Set<number>();
  const files: HwdbFile[] = [];
  const header = new Uint8Array(GNT_HEADER_BYTES);
  let corrupt = 0;
  const entries = (await listGntFiles(dir)).filter((entry) => !options.split || entry.split === options.split);
  if (entries.length === 0) throw hwrError('BAD_ARGUMENT', `${dir}: no ${options.split} writers (see splitOfWriter in src/data/gnt.ts)`);
  for (const entry of entries) {
    const handle = await open(entry.file, 'r');
    let count = 0;
    const corruptOffsets: number[] = [];
    try {
      const size = (await handle.stat()).size;
      let position = 0;
      for (let index = 0; position < size; index++) {
        const { bytesRead } = await handle.read(header, 0, GNT_HEADER_BYTES, position);
        const problem = gntSampleProblem(header.subarray(0, bytesRead), position, size);
        if (problem) {
          const message = corruptGntMessage(entry.file, index, position, problem.reason);
          if (!options.skipCorrupt) throw hwrError('CORRUPT_GNT', `${message} ${SKIP_CORRUPT_HINT}`);
          options.onWarning?.(`${message}; skipped ${problem.resumable ? 'it' : 'the rest of the file'}`);
          corrupt++;
          corruptOffsets.push(position);
          if (!problem.resumable) break;
        } else {
          codes.add(parseGntHeader(header).tagCode);
          count++;
        }
        position += parseGntHeader(header).size;
      }
    } finally {
      await handle.close();
    }
    files.push({ ...entry, count, corruptOffsets });
  }
  const characters = [...codes].sort((x, y) => x - y).map(decodeGbCode).filter((c): c is string => c !== undefined);
  return { dir, files, characters, corrupt };
}

/**
 * The classes of a model trained on `index`: the named charset (`gb2312-1`), or the characters found in the data.
 * @throws HwrError `BAD_ARGUMENT` for an unknown charset, or data with fewer than 2 characters
 */
export function hwdbClasses(index: HwdbIndex, charset?: string | null): string[] {
  const classes = charset ? [...charsetByName(charset)] : index.characters;
  if (classes.length < 2) throw hwrError('BAD_ARGUMENT', `${index.dir}: ${classes.length} character(s) in the GNT files; a classifier needs at least 2`);
  return classes;
}

/**
 * The training writers held out for validation: every `round(1 / fraction)`-th training writer in name order (the
 * last of each group), at least one when there are 2 or more training writers and `fraction` > 0.
 */
export function validationWriters(index: HwdbIndex, fraction: number): Set<string> {
  const writers = index.files.filter((f) => f.split === 'train').map((f) => f.writer);
  const held = new Set<string>();
  if (!(fraction > 0) || writers.length < 2) return held;
  const every = Math.max(2, Math.round(1 / fraction));
  writers.forEach((w, i) => {
    if (i % every === every - 1) held.add(w);
  });
  if (held.size === 0) held.add(writers[writers.length - 1]!);
  return held;
}

/** One sample as a model sees it. */
export interface HwdbItem {
  /** `[size * size]` uint8, 0 = background, 255 = ink (the CJK profile's output). */
  pixels: Uint8Array;
  /** Class index into the stream's `classes`. */
  label: number;
}

/** A batch: `xs` `[count, size, size, 1]` float32 in [0, 1] (ink = 1), `labels` `[count]` class indices. */
export interface HwdbBatch {
  xs: Float32Array;
  labels: Int32Array;
  count: number;
}

/** Options of `HwdbStream`. */
export interface HwdbStreamOptions {
  index: HwdbIndex;
  /** Class names in index order; a sample whose character is not among them is skipped (and counted). */
  classes: readonly string[];
  /** Side of the model input in px. */
  size: number;
  /** Which files: the writers of this split, minus `exclude`, or only `only`. */
  split: WriterSplit;
  /** Writers to leave out (the validation writers, for training). */
  exclude?: ReadonlySet<string>;
  /** Writers to read, instead of the whole split (the validation writers). */
  only?: ReadonlySet<string>;
  /** At most this many samples per pass, the first ones in file-name order (`--limit`). */
  limit?: number | null;
  /** Seed of the file order and the shuffle buffer. */
  seed: number;
  /** Samples held by the shuffle buffer; 1 (or `shuffle: false`) means no buffer. Default 4096. */
  shuffleBuffer?: number;
  /** Files read at once, each a 1 MiB read buffer. Default 4. */
  interleave?: number;
  /**
   * Skip corrupt samples (counted in `corrupt`) instead of throwing `CORRUPT_GNT`. Default false. The index scan has
   * normally found them already (`HwdbFile.corruptOffsets`): those are not reported again.
   */
  skipCorrupt?: boolean;
  /** Receives one line per blank sample skipped, and per corrupt sample or file rest that the index did not report. */
  onWarning?: (line: string) => void;
}

/**
 * A pass-by-pass stream of normalized samples from GNT files (see the module comment). Memory: at most
 * `shuffleBuffer` samples of `size * size` bytes, plus one sample and one read buffer per open file.
 */
export class HwdbStream {
  /** Largest number of samples the shuffle buffer held at once, over all passes so far. */
  maxHeld = 0;
  /** Samples skipped so far: blank (`NO_INK`), corrupt, or a character outside `classes`. */
  skipped = 0;
  /** Of `skipped`, the corrupt samples (or truncated file rests), with `skipCorrupt`. */
  corrupt = 0;
  private readonly classIndex: Map<string, number>;
  /** `file@offset` of the corrupt samples already reported (by the index scan, or by an earlier pass). */
  private readonly reported = new Set<string>();
  /** Files of this stream with the samples to take from each (all, or fewer for `limit`). */
  readonly files: { file: string; take: number }[];
  /** Samples per pass (before blank or unknown ones are skipped). */
  readonly count: number;

  constructor(private readonly options: HwdbStreamOptions) {
    this.classIndex = new Map(options.classes.map((c, i) => [c, i]));
    let left = options.limit ?? Infinity;
    this.files = [];
    for (const f of options.index.files) {
      if (f.split !== options.split || options.exclude?.has(f.writer) || (options.only && !options.only.has(f.writer))) continue;
      if (left <= 0) break;
      const take = Math.min(f.count, left);
      left -= take;
      if (take > 0) this.files.push({ file: f.file, take });
      for (const offset of f.corruptOffsets) this.reported.add(`${f.file}@${offset}`);
    }
    this.count = this.files.reduce((sum, f) => sum + f.take, 0);
  }

  /** Normalized samples of one file, in file order, skipping (and counting) what cannot be used. */
  private async *fileItems(file: string, take: number): AsyncGenerator<HwdbItem> {
    let taken = 0;
    const onWarning = (line: string, offset: number): void => {
      this.skipped++;
      this.corrupt++;
      const key = `${file}@${offset}`;
      if (!this.reported.has(key)) this.options.onWarning?.(line);
      this.reported.add(key);
    };
    const reader = readGntFile(file, { skipCorrupt: this.options.skipCorrupt ?? false, onWarning });
    for await (const sample of reader) {
      if (taken++ >= take) break;
      const item = this.normalize(sample);
      if (item) yield item;
    }
  }

  private normalize(sample: GntSample): HwdbItem | null {
    const label = this.classIndex.get(sample.label);
    if (label === undefined) {
      this.skipped++;
      return null;
    }
    try {
      return { pixels: fitInkToBox({ width: sample.width, height: sample.height, data: sample.pixels }, { size: this.options.size }), label };
    } catch (error) {
      if (!isHwrError(error) || error.code !== 'NO_INK') throw error;
      this.skipped++;
      this.options.onWarning?.(`${sample.file}: sample at byte offset ${sample.offset} (${sample.label}) is blank; skipped it`);
      return null;
    }
  }

  /**
   * The samples of one pass. With `epoch` null: file-name order, no shuffling (evaluation). Otherwise shuffled files,
   * interleaved, through the shuffle buffer, seeded by `seed` and `epoch`.
   */
  async *items(epoch: number | null): AsyncGenerator<HwdbItem> {
    if (epoch === null) {
      for (const f of this.files) yield* this.fileItems(f.file, f.take);
      return;
    }
    const rng = createRng(this.options.seed * 7919 + epoch * 104_729 + 17);
    const order = shuffledIndices(this.files.length, rng);
    const capacity = Math.max(1, this.options.shuffleBuffer ?? 4096);
    const cycle = Math.max(1, this.options.interleave ?? 4);
    const open: AsyncGenerator<HwdbItem>[] = [];
    let nextFile = 0;
    const buffer: HwdbItem[] = [];
    try {
      while (true) {
        while (open.length < cycle && nextFile < order.length) {
          const f = this.files[order[nextFile++]!]!;
          open.push(this.fileItems(f.file, f.take));
        }
        if (open.length === 0) break;
        const pick = rng.int(open.length);
        const next = await open[pick]!.next();
        if (next.done) {
          open.splice(pick, 1);
          continue;
        }
        if (buffer.length < capacity) {
          buffer.push(next.value);
          if (buffer.length > this.maxHeld) this.maxHeld = buffer.length;
          continue;
        }
        const j = rng.int(capacity);
        const out = buffer[j]!;
        buffer[j] = next.value;
        yield out;
      }
      // Drain: what is left leaves in random order.
      for (let i = buffer.length; i > 0; i--) {
        const j = rng.int(i);
        yield buffer[j]!;
        buffer[j] = buffer[i - 1]!;
      }
    } finally {
      for (const reader of open) await reader.return(undefined);
    }
  }

  /**
   * Batches of one pass (see `items`); the last may be smaller. `augment`, when given, transforms each batch's
   * `[count, size, size]` float32 images in place or returns new ones (random affine distortion).
   */
  async *batches(epoch: number | null, batchSize: number, augment?: (xs: Float32Array, count: number) => Float32Array): AsyncGenerator<HwdbBatch> {
    const pixels = this.options.size * this.options.size;
    let xs = new Float32Array(batchSize * pixels);
    let labels = new Int32Array(batchSize);
    let count = 0;
    const flush = (): HwdbBatch => {
      let images: Float32Array = count === batchSize ? xs : xs.slice(0, count * pixels);
      if (augment) images = augment(images, count);
      const batch = { xs: images, labels: count === batchSize ? labels : labels.slice(0, count), count };
      xs = new Float32Array(batchSize * pixels);
      labels = new Int32Array(batchSize);
      count = 0;
      return batch;
    };
    for await (const item of this.items(epoch)) {
      const offset = count * pixels;
      for (let i = 0; i < pixels; i++) xs[offset + i] = item.pixels[i]! / 255;
      labels[count++] = item.label;
      if (count === batchSize) yield flush();
    }
    if (count > 0) yield flush();
  }

  /**
   * Reads the whole pass into memory, in file order: for the validation writers (bounded by `limit`).
   * @returns `[count, size, size]` uint8 images (ink = 255) and their labels
   */
  async collect(): Promise<{ images: Uint8Array; labels: Int32Array; count: number }> {
    const pixels = this.options.size * this.options.size;
    const images = new Uint8Array(this.count * pixels);
    const labels = new Int32Array(this.count);
    let count = 0;
    for await (const item of this.items(null)) {
      images.set(item.pixels, count * pixels);
      labels[count++] = item.label;
    }
    return { images: images.subarray(0, count * pixels), labels: labels.subarray(0, count), count };
  }
}


/** Options of `openHwdbTraining`. */
export interface HwdbTrainingOptions {
  /** Folder of `.gnt` files. */
  dir: string;
  /** Named class set (`gb2312-1`); null: the characters found in the files. */
  charset: string | null;
  /** Model input side in px. */
  size: number;
  seed: number;
  /** Share of the training writers held out for validation (`validationWriters`). */
  validationSplit: number;
  /** At most this many training samples per epoch, and test samples (`--limit`); null: all. */
  limit: number | null;
  /** Validation samples kept in memory, at most (the first ones of the held-out writers). Default 5,000. */
  maxValidation?: number;
  shuffleBuffer?: number;
  /** Skip corrupt samples with a warning each (`--skip-corrupt`) instead of failing at the first. Default false. */
  skipCorrupt?: boolean;
  onWarning?: (line: string) => void;
}

/** The data of a training run on GNT files: streams for training and test, validation in memory. */
export interface HwdbTraining {
  index: HwdbIndex;
  classes: string[];
  train: HwdbStream;
  /** `[count, size, size]` uint8 (ink = 255) and class indices. */
  validation: { images: Uint8Array; labels: Int32Array; count: number };
  test: HwdbStream;
  /** One line for metadata.json's `trainingData`. */
  description: string;
}

/**
 * Opens `dir` for training: indexes it, decides the classes, holds out validation writers (read into memory,
 * at most `maxValidation` samples) and sets up the training stream (the other training writers) and the test stream
 * (the test writers).
 * With `skipCorrupt`, the index scan reports each corrupt sample, then one line with their count.
 * @throws HwrError `FILE_NOT_FOUND` (no folder or no `.gnt`), `BAD_ARGUMENT` (unknown charset, fewer than 2
 *   classes, no training or no test writer), `CORRUPT_GNT` (a corrupt sample, unless `skipCorrupt`)
 */
export async function openHwdbTraining(options: HwdbTrainingOptions): Promise<HwdbTraining> {
  const skipCorrupt = options.skipCorrupt ?? false;
  const index = await indexHwdbFolder(options.dir, { skipCorrupt, onWarning: options.onWarning });
  if (index.corrupt > 0) options.onWarning?.(`${options.dir}: ${corruptCount(index.corrupt)} skipped (--skip-corrupt)`);
  const classes = hwdbClasses(index, options.charset);
  const held = validationWriters(index, options.validationSplit);
  const common = { index, classes, size: options.size, seed: options.seed, shuffleBuffer: options.shuffleBuffer, skipCorrupt, onWarning: options.onWarning };
  const train = new HwdbStream({ ...common, split: 'train', exclude: held, limit: options.limit });
  const test = new HwdbStream({ ...common, split: 'test', limit: options.limit });
  if (train.count === 0) throw hwrError('BAD_ARGUMENT', `${options.dir}: no training samples (no writer of the training split besides the validation writers)`);
  if (test.count === 0) throw hwrError('BAD_ARGUMENT', `${options.dir}: no test samples (no writer of the test split; see splitOfWriter in src/data/gnt.ts)`);
  const validationStream = new HwdbStream({ ...common, split: 'train', only: held, limit: options.maxValidation ?? 5000 });
  const validation = await validationStream.collect();
  const writers = (split: WriterSplit) => index.files.filter((f) => f.split === split).length;
  const description =
    `GNT ${options.dir} (${index.files.length} writers, ${index.characters.length} characters; ${classes.length} classes${options.charset ? ` from ${options.charset}` : ''}): ` +
    `${train.count} training samples of ${writers('train') - held.size} writers, ${validation.count} validation samples of ${held.size} held-out writers, ` +
    `${test.count} test samples of ${writers('test')} test writers; ${index.corrupt > 0 ? `${corruptCount(index.corrupt)} skipped; ` : ''}CJK profile ${options.size}x${options.size}`;
  return { index, classes, train, validation, test, description };
}

/** "1 corrupt sample", "3 corrupt samples" (a truncated file rest counts as one). */
export function corruptCount(n: number): string {
  return `${n} corrupt sample${n === 1 ? '' : 's'}`;
}
