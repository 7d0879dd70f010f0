/**
 * Single-stroke plotter fonts as ink, and generated writers made of a font and a pen style: the "other writers"
 * of the teach-a-script evaluation (bench/teach.ts) and the example datasets (scripts/make-example-dataset.ts).
 *
 * A plotter (engraving) font draws each glyph as a few open pen paths, not filled outlines, so a glyph is already
 * ink: strokes in drawing order. Two sources, both in the `hersheytext` package (MIT; the Hershey fonts are
 * A. V. Hershey's 1967 NBS glyphs, the EMS fonts are SIL OFL single-stroke conversions by Evil Mad Scientist):
 *
 * - `hersheytext.json`: `{ <key>: { name, chars: [{ d, o }] } }`, `chars[i]` the glyph of the character with
 *   code `33 + i` (`!` first: hersheytext.js reads `font.chars[char.charCodeAt(0) - 33]`; the space has no glyph),
 *   `d` an SVG path in a y-down box about 32 units high (cap height 21), `o` half the advance width;
 * - SVG fonts (`svg_fonts/*.svg`): `<glyph unicode=".." d="..."/>` with paths in font units, **y up** from the
 *   baseline (`units-per-em` 1000, `ascent` 800): they are flipped here.
 *
 * Every glyph comes out in one box for the whole font, y down, about `GLYPH_UNITS` (1024) units from the top of
 * the ascenders to the bottom of the descenders: the units `handwrite` (src/data/synth/handwriting.ts) expects.
 * Curves (`C S Q T A`) are flattened into points. Pure computation: the caller reads the font files (in Node
 * src/node/plotterFonts.ts), so this module imports nothing Node-only.
 */

import { hwrError } from '../core/errors.ts';
import type { Ink, InkPoint, InkStroke } from '../core/ink.ts';
import { createRng, type Rng } from './augment.ts';
import { emptyInkDataset, type InkDataset, type InkSample } from './inkDataset.ts';
import { handwrite, randomWriterStyle, type WriterStyle } from './synth/handwriting.ts';

/** Height of a font's em box in glyph ink units (the 1024-unit box of Make Me a Hanzi and `handwrite`). */
export const GLYPH_UNITS = 1024;

/** A single-stroke font: its glyphs as ink, y down, in one `GLYPH_UNITS` box per font. */
export interface PlotterFont {
  /** A short key, e.g. `futural` or `EMSReadability`. */
  key: string;
  /** The font's own name, e.g. `Sans 1-stroke`. */
  name: string;
  /** Ink per character (a single Unicode character or a named glyph's text); glyphs without strokes are left out. */
  glyphs: Map<string, Ink>;
}

/** Options of `pathToStrokes`. */
export interface PathOptions {
  /** Points per curve segment (`C S Q T`) and per quarter turn of an arc. Default 8. */
  curveSteps?: number;
}

const PATH_TOKEN = /([MLHVCSQTAZmlhvcsqtaz])|([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)/g;
const PARAMETER_COUNT: Record<string, number> = { M: 2, L: 2, H: 1, V: 1, C: 6, S: 4, Q: 4, T: 2, A: 7, Z: 0 };

/**
 * An SVG path's `d` attribute as pen strokes: each subpath (`M` ... up to the next `M`) one stroke, curves
 * flattened into `curveSteps` points each, `Z` closing back to the subpath's start. Implements the path grammar of
 * SVG 1.1 section 8.3 (absolute and relative `M L H V C S Q T A Z`, implicit repetition of a command's parameters,
 * numbers without separators such as `1-2.5.5`); arcs by the endpoint-to-centre conversion of its appendix F.6.5.
 * Coordinates are kept as they are (no flip, no scale).
 *
 * @param d     the path text
 * @param name  where it came from (font and glyph), for messages
 * @returns strokes of `{x, y}` points; a subpath that is a lone `M` is a one-point stroke (a dot)
 * @throws HwrError `BAD_ARGUMENT` naming `name` for text that is not path data: an unknown character, a command
 *   without its parameters, a number before the first command
 */
export function pathToStrokes(d: string, name: string, options: PathOptions = {}): InkStroke[] {
  const steps = options.curveSteps ?? 8;
  const tokens: (string | number)[] = [];
  let end = 0;
  for (const match of d.matchAll(PATH_TOKEN)) {
    const between = d.slice(end, match.index);
    if (!/^[\s,]*$/.test(between)) throw hwrError('BAD_ARGUMENT', `${name}: path data has "${between.trim().slice(0, 20)}" at offset ${end}`);
    tokens.push(match[1] ?? Number(match[2]));
    end = match.index + match[0].length;
  }
  if (!/^[\s,]*$/.test(d.slice(end))) throw hwrError('BAD_ARGUMENT', `${name}: path data has "${d.slice(end).trim().slice(0, 20)}" at offset ${end}`);

  const strokes: InkStroke[] = [];
  let stroke: InkStroke = [];
  let x = 0;
  let y = 0;
  let startX = 0;
  let startY = 0;
  let lastControl: { x: number; y: number; cubic: boolean } | undefined;
  let i = 0;
  let command = '';
  const flush = (): void => {
    if (stroke.length > 0) strokes.push(stroke);
    stroke = [];
  };
  const lineTo = (nx: number, ny: number): void => {
    if (stroke.length === 0) stroke.push({ x, y });
    stroke.push({ x: nx, y: ny });
    x = nx;
    y = ny;
  };
  while (i < tokens.length) {
    const token = tokens[i]!;
    if (typeof token === 'string') {
      command = token;
      i++;
    } else if (command === '' || command === 'Z' || command === 'z') {
      throw hwrError('BAD_ARGUMENT', `${name}: path data has a number (${token}) where a command is expected`);
    }
    const upper = command.toUpperCase();
    const relative = command !== upper;
    const count = PARAMETER_COUNT[upper]!;
    const p = tokens.slice(i, i + count);
    if (p.length < count || p.some((v) => typeof v !== 'number')) {
      throw hwrError('BAD_ARGUMENT', `${name}: path command ${command} needs ${count} numbers`);
    }
    i += count;
    const n = p as number[];
    const ox = relative ? x : 0;
    const oy = relative ? y : 0;
    let control: { x: number; y: number; cubic: boolean } | undefined;
    switch (upper) {
      case 'M':
        flush();
        x = ox + n[0]!;
        y = oy + n[1]!;
        startX = x;
        startY = y;
        stroke.push({ x, y });
        command = relative ? 'l' : 'L'; // further pairs are implicit line-tos
        break;
      case 'L':
        lineTo(ox + n[0]!, oy + n[1]!);
        break;
      case 'H':
        lineTo(ox + n[0]!, y);
        break;
      case 'V':
        lineTo(x, oy + n[0]!);
        break;
      case 'C':
      case 'S': {
        const reflected = lastControl?.cubic ? { x: 2 * x - lastControl.x, y: 2 * y - lastControl.y } : { x, y };
        const c1 = upper === 'C' ? { x: ox + n[0]!, y: oy + n[1]! } : reflected;
        const k = upper === 'C' ? 2 : 0;
        const c2 = { x: ox + n[k]!, y: oy + n[k + 1]! };
        const to = { x: ox + n[k + 2]!, y: oy + n[k + 3]! };
        const from = { x, y };
        for (let s = 1; s <= steps; s++) {
          const u = s / steps;
          const v = 1 - u;
          lineTo(
            v * v * v * from.x + 3 * v * v * u * c1.x + 3 * v * u * u * c2.x + u * u * u * to.x,
            v * v * v * from.y + 3 * v * v * u * c1.y + 3 * v * u * u * c2.y + u * u * u * to.y,
          );
        }
        control = { ...c2, cubic: true };
        break;
      }
      case 'Q':
      case 'T': {
        const c = upper === 'Q' ? { x: ox + n[0]!, y: oy + n[1]! } : lastControl && !lastControl.cubic ? { x: 2 * x - lastControl.x, y: 2 * y - lastControl.y } : { x, y };
        const k = upper === 'Q' ? 2 : 0;
        const to = { x: ox + n[k]!, y: oy + n[k + 1]! };
        const from = { x, y };
        for (let s = 1; s <= steps; s++) {
          const u = s / steps;
          const v = 1 - u;
          lineTo(v * v * from.x + 2 * v * u * c.x + u * u * to.x, v * v * from.y + 2 * v * u * c.y + u * u * to.y);
        }
        control = { ...c, cubic: false };
        break;
      }
      case 'A':
        for (const point of arcPoints({ x, y }, n, ox, oy, steps)) lineTo(point.x, point.y);
        break;
      case 'Z':
        if (stroke.length > 0) lineTo(startX, startY);
        x = startX;
        y = startY;
        break;
    }
    lastControl = control;
  }
  flush();
  return strokes;
}

/** Points along an SVG elliptical arc (appendix F.6.5 of SVG 1.1), the end point last. */
function arcPoints(from: { x: number; y: number }, n: number[], ox: number, oy: number, steps: number): InkPoint[] {
  const [rxIn, ryIn, rotationDeg, largeArc, sweep] = n as [number, number, number, number, number];
  const to = { x: ox + n[5]!, y: oy + n[6]! };
  let rx = Math.abs(rxIn);
  let ry = Math.abs(ryIn);
  if (rx === 0 || ry === 0 || (from.x === to.x && from.y === to.y)) return [to];
  const phi = (rotationDeg * Math.PI) / 180;
  const cos = Math.cos(phi);
  const sin = Math.sin(phi);
  const dx = (from.x - to.x) / 2;
  const dy = (from.y - to.y) / 2;
  const x1 = cos * dx + sin * dy;
  const y1 = -sin * dx + cos * dy;
  const lambda = (x1 * x1) / (rx * rx) + (y1 * y1) / (ry * ry);
  if (lambda > 1) (rx *= Math.sqrt(lambda)), (ry *= Math.sqrt(lambda));
  const numerator = rx * rx * ry * ry - rx * rx * y1 * y1 - ry * ry * x1 * x1;
  const factor = (largeArc !== sweep ? 1 : -1) * Math.sqrt(Math.max(0, numerator / (rx * rx * y1 * y1 + ry * ry * x1 * x1)));
  const cx1 = (factor * rx * y1) / ry;
  const cy1 = (-factor * ry * x1) / rx;
  const cx = cos * cx1 - sin * cy1 + (from.x + to.x) / 2;
  const cy = sin * cx1 + cos * cy1 + (from.y + to.y) / 2;
  const angle = (ux: number, uy: number, vx: number, vy: number): number => Math.atan2(ux * vy - uy * vx, ux * vx + uy * vy);
  const theta = angle(1, 0, (x1 - cx1) / rx, (y1 - cy1) / ry);
  let delta = angle((x1 - cx1) / rx, (y1 - cy1) / ry, (-x1 - cx1) / rx, (-y1 - cy1) / ry);
  if (!sweep && delta > 0) delta -= 2 * Math.PI;
  if (sweep && delta < 0) delta += 2 * Math.PI;
  const count = Math.max(1, Math.ceil((Math.abs(delta) / (Math.PI / 2)) * steps));
  const points: InkPoint[] = [];
  for (let s = 1; s < count; s++) {
    const t = theta + (delta * s) / count;
    const ex = rx * Math.cos(t);
    const ey = ry * Math.sin(t);
    points.push({ x: cos * ex - sin * ey + cx, y: sin * ex + cos * ey + cy });
  }
  points.push(to);
  return points;
}

/** `x' = (x - originX) * scale`, `y' = (y - originY) * scale`, or `(originY - y) * scale` with `flip`, for every point. */
function placeStrokes(strokes: InkStroke[], originX: number, originY: number, scale: number, flip: boolean): Ink {
  const placeY = (y: number): number => (flip ? originY - y : y - originY) * scale;
  return { strokes: strokes.map((stroke) => stroke.map((p) => ({ x: (p.x - originX) * scale, y: placeY(p.y) }))) };
}

/** One font of `hersheytext.json`: `{ name, chars: [{ d, o }] }`. */
export interface HersheyJsonFont {
  name: string;
  chars: { d: string; o: number }[];
}

/** The y range of hersheytext.json's glyph box (y down): Hershey's coordinates run from about -3 (accents) to 29. */
const HERSHEY_TOP = -3;
const HERSHEY_HEIGHT = 32;

/**
 * A font of `hersheytext.json` as ink: `chars[i]` is the character of code `33 + i`; its path is in a y-down box
 * 32 units high, scaled here to `GLYPH_UNITS`.
 *
 * @param key   the font's key in the file, e.g. `futural`
 * @param font  its value, `{ name, chars }`
 * @throws HwrError `BAD_ARGUMENT` naming the font and character for a value without `chars` or a bad path
 */
export function hersheyJsonFont(key: string, font: HersheyJsonFont): PlotterFont {
  if (typeof font !== 'object' || font === null || !Array.isArray(font.chars)) {
    throw hwrError('BAD_ARGUMENT', `hersheytext font ${key}: expected { name, chars: [{ d, o }] }`);
  }
  const glyphs = new Map<string, Ink>();
  font.chars.forEach((glyph, i) => {
    const char = String.fromCodePoint(33 + i);
    const strokes = pathToStrokes(glyph?.d ?? '', `hersheytext font ${key} character ${JSON.stringify(char)}`);
    if (strokes.length > 0) glyphs.set(char, placeStrokes(strokes, 0, HERSHEY_TOP, GLYPH_UNITS / HERSHEY_HEIGHT, false));
  });
  return { key, name: typeof font.name === 'string' ? font.name.trim() : key, glyphs };
}

const XML_ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

/** Decodes XML character references and the five predefined entities in attribute text. */
function decodeXml(text: string): string {
  return text.replace(/&(#x[0-9a-fA-F]+|#\d+|[a-z]+);/g, (whole, entity: string) => {
    if (entity.startsWith('#x')) return String.fromCodePoint(parseInt(entity.slice(2), 16));
    if (entity.startsWith('#')) return String.fromCodePoint(parseInt(entity.slice(1), 10));
    return XML_ENTITIES[entity] ?? whole;
  });
}

/** The attributes of one XML start tag's text, decoded. */
function attributesOf(tag: string): Record<string, string> {
  const attributes: Record<string, string> = {};
  for (const match of tag.matchAll(/([\w:-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')/g)) attributes[match[1]!] = decodeXml(match[2] ?? match[3] ?? '');
  return attributes;
}

/**
 * An SVG font (`<font>` with `<font-face ascent descent>` and `<glyph unicode d>` elements, SVG 1.1 chapter 20)
 * as ink: y flipped to point down, the box from `ascent` down to `descent` scaled to `GLYPH_UNITS`. Glyphs whose
 * `unicode` is more than one character (ligatures) are kept under that text.
 *
 * @param key   a short key, e.g. `EMSReadability`
 * @param text  the .svg file's text
 * @throws HwrError `BAD_ARGUMENT` naming `key` for text without a `<font-face>` with a positive ascent - descent,
 *   without glyphs, or with a bad glyph path
 */
export function svgFont(key: string, text: string): PlotterFont {
  const face = /<font-face\b[^>]*>/.exec(text);
  const faceAttributes = face ? attributesOf(face[0]) : {};
  const ascent = Number(faceAttributes['ascent']);
  const descent = Number(faceAttributes['descent'] ?? 0);
  if (!face || !Number.isFinite(ascent) || !Number.isFinite(descent) || ascent - descent <= 0) {
    throw hwrError('BAD_ARGUMENT', `SVG font ${key}: no <font-face> with a numeric ascent above its descent`);
  }
  const glyphs = new Map<string, Ink>();
  for (const match of text.matchAll(/<glyph\b[^>]*>/g)) {
    const attributes = attributesOf(match[0]);
    const char = attributes['unicode'];
    if (!char || !attributes['d']) continue;
    const strokes = pathToStrokes(attributes['d'], `SVG font ${key} glyph ${JSON.stringify(char)}`);
    if (strokes.length > 0) glyphs.set(char, placeStrokes(strokes, 0, ascent, GLYPH_UNITS / (ascent - descent), true));
  }
  if (glyphs.size === 0) throw hwrError('BAD_ARGUMENT', `SVG font ${key}: no <glyph> with a unicode and a path`);
  return { key, name: faceAttributes['font-family'] ?? key, glyphs };
}

/**
 * A glyph's ink.
 * @throws HwrError `BAD_ARGUMENT` naming the font and the character when the font has no such glyph
 */
export function glyphInk(font: PlotterFont, char: string): Ink {
  const ink = font.glyphs.get(char);
  if (!ink) throw hwrError('BAD_ARGUMENT', `font ${font.key}: no glyph for ${JSON.stringify(char)}`);
  return ink;
}

/**
 * A generated writer: a font's letterforms written by one pen style (`randomWriterStyle`), with per-character
 * variation added by `handwrite` at each sample.
 */
export interface PlotterWriter {
  /** `<font key>/<style seed>`, e.g. `futural/1`: the dataset's `writer` field. */
  id: string;
  font: PlotterFont;
  style: WriterStyle;
}

/** The writer of `font` with the pen style drawn from `styleSeed` (the same seed, the same style). */
export function plotterWriter(font: PlotterFont, styleSeed: number): PlotterWriter {
  return { id: `${font.key}/${styleSeed}`, font, style: randomWriterStyle(createRng(styleSeed)) };
}

/**
 * One sample of a character by a writer: `handwrite(glyph, style, rng)`.
 * @returns ink in `GLYPH_UNITS`, y down, each point with `pressure` and `t` (ms)
 * @throws HwrError `BAD_ARGUMENT` when the writer's font has no glyph for `char`
 */
export function writeSample(writer: PlotterWriter, char: string, rng: Rng): Ink {
  return handwrite(glyphInk(writer.font, char), writer.style, rng);
}

/** Options of `writerDataset`. */
export interface WriterDatasetOptions {
  /** The dataset's `script` name. */
  script: string;
  /** Class labels. Default: the characters themselves. */
  labels?: string[];
  /** Samples per character and writer. */
  samplesPerClass: number;
  /** Seed of the per-sample variation. */
  seed: number;
  /** Decimals kept in coordinates (times are whole ms). Default 1. */
  decimals?: number;
  /**
   * Ramer-Douglas-Peucker tolerance in glyph units (of `GLYPH_UNITS`): points closer than this to the line through
   * their kept neighbours are dropped, to keep files small. Default 0: every point kept.
   */
  simplifyTolerance?: number;
}

/**
 * An `hwr-ink-dataset` written by generated writers: for each writer, `samplesPerClass` samples of each character
 * (writer by writer, then character by character, then sample by sample, all from one `createRng(seed)`), each
 * with the writer's `id` and its points as `[x, y, t]` rounded to `decimals`.
 *
 * @param writers  who writes; each font must have every character
 * @param chars    the characters of the script, one per class (labels from `options.labels` when given)
 * @throws HwrError `BAD_ARGUMENT` when a font lacks a character, or `labels` is not as long as `chars`
 */
export function writerDataset(writers: PlotterWriter[], chars: string[], options: WriterDatasetOptions): InkDataset {
  const labels = options.labels ?? chars;
  if (labels.length !== chars.length) throw hwrError('BAD_ARGUMENT', `labels: ${labels.length} labels for ${chars.length} characters`);
  const decimals = options.decimals ?? 1;
  const factor = 10 ** decimals;
  const round = (v: number): number => Math.round(v * factor) / factor;
  const tolerance = options.simplifyTolerance ?? 0;
  const rng = createRng(options.seed);
  const dataset = emptyInkDataset(options.script, labels);
  for (const writer of writers) {
    chars.forEach((char, c) => {
      for (let s = 0; s < options.samplesPerClass; s++) {
        const ink = writeSample(writer, char, rng);
        const sample: InkSample = {
          label: labels[c]!,
          writer: writer.id,
          strokes: ink.strokes.map((stroke) => simplifyStroke(stroke, tolerance).map((p) => [round(p.x), round(p.y), Math.round(p.t ?? 0)])),
        };
        dataset.samples.push(sample);
      }
    });
  }
  return dataset;
}

/** The 26 Latin lowercase letters a-z: the Latin script of the teach-a-script evaluation. */
export const LATIN_LOWERCASE: readonly string[] = Object.freeze([...'abcdefghijklmnopqrstuvwxyz']);

/**
 * An invented 26-symbol alphabet, the non-Latin stand-in of the teach-a-script evaluation: 26 single-line signs of
 * Hershey's `symbolic` font (circle, square, triangles, diamond, stars, crosses, flag, anchor, moon, bell, palm, tree,
 * shamrock, section sign, daggers, card suits, root; the font puts them at ASCII codes: `chars`), labelled `sym-a` ...
 * `sym-z`. No letter or digit shapes; some pairs are close (the two triangles upside down, two stars, two crosses).
 * (The `astrology` font's signs were the first choice, but many are drawn as double lines that a pen of the models'
 * width fills into blobs: see bench/teach.md.)
 */
export const INVENTED_ALPHABET: Readonly<{ font: string; chars: readonly string[]; labels: readonly string[] }> = Object.freeze({
  font: 'symbolic',
  chars: Object.freeze([...'HIJGKLMNOVXY^_`abchijkmnpu']),
  labels: Object.freeze(LATIN_LOWERCASE.map((letter) => `sym-${letter}`)),
});

/**
 * A polyline with the points within `tolerance` of the chord of their kept neighbours dropped (Ramer-Douglas-Peucker:
 * U. Ramer, Computer Graphics and Image Processing 1, 1972; D. Douglas and T. Peucker, Cartographica 10, 1973).
 * The ends are always kept; `tolerance` 0 keeps every point.
 */
export function simplifyStroke(stroke: InkStroke, tolerance: number): InkStroke {
  if (!(tolerance > 0) || stroke.length < 3) return stroke;
  const keep = new Uint8Array(stroke.length);
  keep[0] = keep[stroke.length - 1] = 1;
  const spans: [number, number][] = [[0, stroke.length - 1]];
  while (spans.length > 0) {
    const [first, last] = spans.pop()!;
    const a = stroke[first]!;
    const b = stroke[last]!;
    const dx = b.x - a.x;
    const dy = b.y - a.y;
    const length = Math.sqrt(dx * dx + dy * dy);
    let farthest = -1;
    let distance = tolerance;
    for (let i = first + 1; i < last; i++) {
      const p = stroke[i]!;
      const d = length > 0 ? Math.abs(dx * (a.y - p.y) - dy * (a.x - p.x)) / length : Math.sqrt((p.x - a.x) ** 2 + (p.y - a.y) ** 2);
      if (d > distance) (distance = d), (farthest = i);
    }
    if (farthest >= 0) {
      keep[farthest] = 1;
      spans.push([first, farthest], [farthest, last]);
    }
  }
  return stroke.filter((_, i) => keep[i] === 1);
}
