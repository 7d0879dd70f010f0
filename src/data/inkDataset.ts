/**
 * `hwr-ink-dataset`: a script taught by drawing, as one JSON file. The page exports and imports it, the server stores
 * it (`/api/datasets`), `hwr train --data ink:FILE.json` trains from it. It is a public interface: other tools may
 * write it, so it is validated with errors that name the field and the reason.
 *
 * ```json
 * { "format": "hwr-ink-dataset", "version": 1, "script": "hylian", "classes": ["a", "b"],
 *   "samples": [ { "label": "a", "writer": "optional id", "strokes": [[[x, y, t?], ...], ...] } ] }
 * ```
 * Coordinates are in any unit with y pointing down (the renderer fits the ink's bounding box); `t` in ms is optional.
 * Fields this version does not know are kept (a round trip through `parseInkDataset` and `serializeInkDataset`
 * preserves them) and ignored. Optional fields hwr itself writes: a class's reference picture in `pictures`
 * (`{ "<label>": "data:image/png;base64,..." }`), a sample's `id` and `created` (ISO 8601).
 *
 * Imports nothing Node-only.
 */
import { hwrError } from '../core/errors.ts';
import { describeJson, INK_LIMITS, parseStrokes, type Ink, type InkJson } from '../core/ink.ts';

/** The `format` field's value. */
export const INK_DATASET_FORMAT = 'hwr-ink-dataset';
/** The version this code writes and reads. */
export const INK_DATASET_VERSION = 1;

/** Bounds on a dataset from outside (a file, a request). */
export const INK_DATASET_LIMITS = {
  /** Most classes. */
  maxClasses: 4_000,
  /** Most samples. */
  maxSamples: 50_000,
  /** Longest class label, script name or writer id, in UTF-16 code units. */
  maxLabelLength: 64,
  /** Most points in one sample (all its strokes). */
  maxPointsPerSample: 5_000,
  /** Most strokes in one sample. */
  maxStrokesPerSample: 200,
} as const;

/** One drawn sample: its class label, an optional writer id, and its strokes as JSON points. Unknown fields are kept. */
export interface InkSample {
  label: string;
  writer?: string;
  strokes: InkJson['strokes'];
  [field: string]: unknown;
}

/** A whole dataset file. Unknown fields are kept. */
export interface InkDataset {
  format: typeof INK_DATASET_FORMAT;
  version: typeof INK_DATASET_VERSION;
  /** The script's name, e.g. `hylian`. */
  script: string;
  /** The class labels in model output order: each any non-empty Unicode text (e.g. `a`, `hylian-a`, `♩`). */
  classes: string[];
  samples: InkSample[];
  /** Optional reference picture per class label (a data URL), to copy from when drawing. */
  pictures?: Record<string, string>;
  [field: string]: unknown;
}

function fail(name: string, message: string): never {
  throw hwrError('BAD_DATASET', `${name}: ${message}`);
}

function checkText(value: unknown, field: string, name: string): string {
  if (typeof value !== 'string' || value.trim().length === 0) fail(name, `${field} must be a non-empty string, got ${describeJson(value)}`);
  if (value.length > INK_DATASET_LIMITS.maxLabelLength) fail(name, `${field} is ${value.length} characters long, more than ${INK_DATASET_LIMITS.maxLabelLength}`);
  return value;
}

/**
 * Validates a parsed JSON value as an `hwr-ink-dataset` (version 1).
 *
 * @param value  the parsed JSON
 * @param name   the file or field it came from, for messages
 * @returns the same dataset (unknown fields kept), with every sample's points checked
 * @throws HwrError `BAD_DATASET` naming the field: wrong `format` or `version`, a missing or duplicate class, a
 *   sample whose label is not one of `classes`, bad strokes (the `parseInk` reason: not finite, over the limits),
 *   more classes or samples than `INK_DATASET_LIMITS`
 */
export function parseInkDataset(value: unknown, name: string): InkDataset {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(name, 'expected a JSON object with "format": "hwr-ink-dataset"');
  const dataset = value as Partial<InkDataset>;
  if (dataset.format !== INK_DATASET_FORMAT) fail(name, `format must be "${INK_DATASET_FORMAT}", got ${describeJson(dataset.format)}`);
  if (dataset.version !== INK_DATASET_VERSION) fail(name, `version ${typeof dataset.version === 'number' ? dataset.version : describeJson(dataset.version)} is not supported (this hwr reads version ${INK_DATASET_VERSION})`);
  checkText(dataset.script, 'script', name);
  if (!Array.isArray(dataset.classes) || dataset.classes.length === 0) fail(name, 'classes must be a non-empty array of labels');
  if (dataset.classes.length > INK_DATASET_LIMITS.maxClasses) fail(name, `${dataset.classes.length} classes, more than ${INK_DATASET_LIMITS.maxClasses}`);
  const classes = new Set<string>();
  dataset.classes.forEach((label, i) => {
    checkText(label, `classes[${i}]`, name);
    if (classes.has(label)) fail(name, `classes[${i}] "${label}" is listed twice`);
    classes.add(label);
  });
  if (!Array.isArray(dataset.samples)) fail(name, 'samples must be an array (it may be empty)');
  if (dataset.samples.length > INK_DATASET_LIMITS.maxSamples) fail(name, `${dataset.samples.length} samples, more than ${INK_DATASET_LIMITS.maxSamples}`);
  const limits = { ...INK_LIMITS, maxStrokes: INK_DATASET_LIMITS.maxStrokesPerSample, maxPoints: INK_DATASET_LIMITS.maxPointsPerSample };
  dataset.samples.forEach((sample, i) => {
    const where = `samples[${i}]`;
    if (typeof sample !== 'object' || sample === null || Array.isArray(sample)) fail(name, `${where} must be an object { label, strokes, writer? }`);
    const label = checkText(sample.label, `${where}.label`, name);
    if (!classes.has(label)) fail(name, `${where}.label "${label}" is not one of the classes`);
    if (sample.writer !== undefined) checkText(sample.writer, `${where}.writer`, name);
    try {
      parseStrokes(sample.strokes, `${where}.strokes`, limits);
    } catch (error) {
      fail(name, (error as Error).message);
    }
  });
  if (dataset.pictures !== undefined) {
    if (typeof dataset.pictures !== 'object' || dataset.pictures === null || Array.isArray(dataset.pictures)) fail(name, 'pictures must be an object { label: data URL }');
    for (const [label, picture] of Object.entries(dataset.pictures)) {
      if (!classes.has(label)) fail(name, `pictures["${label}"] is not one of the classes`);
      if (typeof picture !== 'string' || !/^data:image\/[a-z+.-]+;base64,/i.test(picture)) fail(name, `pictures["${label}"] must be a data:image/...;base64 URL`);
    }
  }
  return dataset as InkDataset;
}

/**
 * Parses the text of a dataset file (`JSON.parse`, then `parseInkDataset`).
 * @throws HwrError `BAD_DATASET` for text that is not JSON (with the parser's reason) or not a valid dataset
 */
export function readInkDataset(text: string, name: string): InkDataset {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    fail(name, `not JSON: ${(error as Error).message}`);
  }
  return parseInkDataset(value, name);
}

/** The dataset as file text: JSON, one sample per line (diffable, and readable by any JSON parser). */
export function serializeInkDataset(dataset: InkDataset): string {
  const { samples, ...head } = dataset;
  const body = JSON.stringify(head);
  const lines = samples.map((sample) => `  ${JSON.stringify(sample)}`);
  return `${body.slice(0, -1)},\n"samples": [\n${lines.join(',\n')}\n]}\n`;
}

/** A sample's strokes as `Ink` points (validated by `parseInkDataset`). */
export function sampleInk(sample: InkSample): Ink {
  return { strokes: sample.strokes.map((stroke) => stroke.map(([x, y, t]) => (t === undefined ? { x, y } : { x, y, t }))) };
}

/** An empty dataset of a script with its classes, ready for samples. */
export function emptyInkDataset(script: string, classes: string[]): InkDataset {
  return { format: INK_DATASET_FORMAT, version: INK_DATASET_VERSION, script, classes: [...classes], samples: [] };
}
