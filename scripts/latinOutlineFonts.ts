/**
 * Latin letters from the machine's outline fonts, for a Latin-aware glyph base (scripts/train-glyph-base.ts
 * `--latin-fonts`, issue 11): every letter of `LATIN_OUTLINE_CHARS` rendered by every face of `LATIN_OUTLINE_FACES`
 * (DejaVu and Liberation families, AR PL UKai's and WenQuanYi Micro Hei's Latin letters; regular, light, bold,
 * oblique/italic, condensed and narrow variants) through sharp (librsvg + fontconfig), each at 3 outline
 * thicknesses, then per training image an image-space augmentation (affine, elastic field) before the model's
 * preprocessing profile. No Hershey or EMS plotter font is used: those draw the teach-a-script test's letters
 * (bench/teach.ts `LATIN_PRINT_FONTS`).
 *
 * Node only (sharp). A face missing on a machine falls back silently in fontconfig to another family, so the faces
 * are checked: `renderLatinOutlineGlyphs` throws when two faces render a letter identically at every thickness
 * (a fallback) unless they are listed as distinct.
 */
import type { PixelBuffer } from '../src/core/types.ts';
import { hwrError } from '../src/core/errors.ts';
import type { Rng } from '../src/data/augment.ts';

/** A font face as SVG text attributes (fontconfig resolves the family). */
export interface OutlineFace {
  family: string;
  style?: 'normal' | 'italic' | 'oblique';
  /** CSS weight: `normal`, `bold` or a number such as `200`. */
  weight?: string;
  stretch?: 'normal' | 'condensed';
}

/**
 * The faces (24), all installed on the project's machine (`fc-list`): DejaVu Sans (book, oblique, bold, bold oblique,
 * extra light, condensed, condensed oblique), DejaVu Serif (book, italic, condensed, bold italic), DejaVu Sans Mono
 * (book, oblique), Liberation Sans (regular, italic, bold), Liberation Serif (regular, italic), Liberation Mono
 * (regular, italic), Liberation Sans Narrow (regular, italic), AR PL UKai CN, WenQuanYi Micro Hei.
 */
export const LATIN_OUTLINE_FACES: readonly OutlineFace[] = Object.freeze([
  { family: 'DejaVu Sans' },
  { family: 'DejaVu Sans', style: 'oblique' },
  { family: 'DejaVu Sans', weight: 'bold' },
  { family: 'DejaVu Sans', style: 'oblique', weight: 'bold' },
  { family: 'DejaVu Sans', weight: '200' },
  { family: 'DejaVu Sans', stretch: 'condensed' },
  { family: 'DejaVu Sans', style: 'oblique', stretch: 'condensed' },
  { family: 'DejaVu Serif' },
  { family: 'DejaVu Serif', style: 'italic' },
  { family: 'DejaVu Serif', stretch: 'condensed' },
  { family: 'DejaVu Serif', style: 'italic', weight: 'bold' },
  { family: 'DejaVu Sans Mono' },
  { family: 'DejaVu Sans Mono', style: 'oblique' },
  { family: 'Liberation Sans' },
  { family: 'Liberation Sans', style: 'italic' },
  { family: 'Liberation Sans', weight: 'bold' },
  { family: 'Liberation Serif' },
  { family: 'Liberation Serif', style: 'italic' },
  { family: 'Liberation Mono' },
  { family: 'Liberation Mono', style: 'italic' },
  { family: 'Liberation Sans Narrow' },
  { family: 'Liberation Sans Narrow', style: 'italic' },
  { family: 'AR PL UKai CN' },
  { family: 'WenQuanYi Micro Hei' },
] as OutlineFace[]);

/**
 * The letters: a-z, and the capitals whose shape differs from their lowercase letter's (A B D E F G H L M N Q R T Y;
 * C O S U V W X Z and the like are left out, as are I, J, K, P: near twins of l, j, k, p once the box is normalized).
 */
export const LATIN_OUTLINE_CHARS: readonly string[] = Object.freeze([...'abcdefghijklmnopqrstuvwxyz', ...'ABDEFGHLMNQRTY']);

/** A face as one line of text, e.g. `DejaVu Sans oblique bold condensed`. */
export function faceName(face: OutlineFace): string {
  return [face.family, face.style !== 'normal' ? face.style : '', face.weight && face.weight !== 'normal' ? face.weight : '', face.stretch !== 'normal' ? face.stretch : '']
    .filter(Boolean)
    .join(' ');
}

/** Side of the rendered glyph maps, px. */
export const OUTLINE_SIZE = 128;
/** Extra outline stroke widths (px at `OUTLINE_SIZE`) of the 3 renders of each glyph: as drawn, bolder, boldest. */
const THICKNESS = [0, 1.5, 3];

const escape = (c: string): string => (c === '&' ? '&amp;' : c === '<' ? '&lt;' : c === '>' ? '&gt;' : c);

/**
 * Renders every letter of `chars` in every face at 3 outline thicknesses.
 * @returns per letter, its ink maps: `[OUTLINE_SIZE * OUTLINE_SIZE]` float32 in [0, 1] (1 = full ink), row-major,
 *   the letter about the middle (font size 64 px, baseline at 88 px), `faces.length * 3` of them
 * @throws HwrError `BAD_ARGUMENT` when a face renders no ink for a letter, or renders `a` exactly like an earlier
 *   face (fontconfig's silent fallback for a missing family)
 */
export async function renderLatinOutlineGlyphs(faces: readonly OutlineFace[], chars: readonly string[]): Promise<Map<string, Float32Array[]>> {
  const { default: sharp } = await import('sharp');
  const out = new Map<string, Float32Array[]>(chars.map((c) => [c, []]));
  const firstA = new Map<string, string>();
  for (const face of faces) {
    for (const char of chars) {
      for (const extra of THICKNESS) {
        const svg =
          `<svg xmlns="http://www.w3.org/2000/svg" width="${OUTLINE_SIZE}" height="${OUTLINE_SIZE}"><rect width="100%" height="100%" fill="white"/>` +
          `<text x="64" y="88" text-anchor="middle" font-size="64" font-family="${face.family}" font-style="${face.style ?? 'normal'}" font-weight="${face.weight ?? 'normal'}" font-stretch="${face.stretch ?? 'normal'}"` +
          `${extra > 0 ? ` stroke="black" stroke-width="${extra}" stroke-linejoin="round"` : ''}>${escape(char)}</text></svg>`;
        const { data, info } = await sharp(Buffer.from(svg)).flatten({ background: '#ffffff' }).raw().toBuffer({ resolveWithObject: true });
        const map = new Float32Array(OUTLINE_SIZE * OUTLINE_SIZE);
        let total = 0;
        for (let i = 0; i < map.length; i++) total += map[i] = 1 - data[i * info.channels]! / 255;
        if (total < 20) throw hwrError('BAD_ARGUMENT', `${faceName(face)}: no ink for ${JSON.stringify(char)}`);
        if (char === 'a' && extra === 0) {
          const key = Array.from(map, (v) => Math.round(v * 8)).join('');
          const earlier = firstA.get(key);
          if (earlier) throw hwrError('BAD_ARGUMENT', `${faceName(face)} draws "a" exactly like ${earlier}: is the family installed (fc-list)?`);
          firstA.set(key, faceName(face));
        }
        out.get(char)!.push(map);
      }
    }
  }
  return out;
}

/** Knobs of `augmentOutlineGlyph` (defaults in brackets). */
export interface OutlineAugmentOptions {
  /** Largest rotation, radians [0.14]. */
  rotation?: number;
  /** Largest horizontal shear (x += shear * y) [0.3]. */
  shear?: number;
  /** Largest |log| of the aspect factor (width / height) [0.3]. */
  aspect?: number;
  /** Largest elastic displacement, as a fraction of the map's side [0.06]. */
  elastic?: number;
}

/**
 * One augmented picture of a glyph map: about the centre, a rotation, a shear, an aspect change (each uniform within
 * its limit), and a smooth elastic displacement field (uniform [-1, 1] displacements on a 5 x 5 grid, bilinearly
 * interpolated, scaled by a uniform factor up to `elastic`); sampled bilinearly (inverse mapping).
 * @param map  `[OUTLINE_SIZE * OUTLINE_SIZE]` ink in [0, 1]
 * @returns RGBA pixels, `OUTLINE_SIZE` square, black ink on white (`dark-on-light`), as `inkImage` gives
 */
export function augmentOutlineGlyph(map: Float32Array, rng: Rng, options: OutlineAugmentOptions = {}): PixelBuffer {
  const n = OUTLINE_SIZE;
  const rotation = rng.uniform(-1, 1) * (options.rotation ?? 0.14);
  const shear = rng.uniform(-1, 1) * (options.shear ?? 0.3);
  const aspect = Math.exp(rng.uniform(-1, 1) * (options.aspect ?? 0.3));
  const alpha = rng.uniform(0, 1) * (options.elastic ?? 0.06) * n;
  const G = 5;
  const gx = new Float32Array(G * G);
  const gy = new Float32Array(G * G);
  for (let i = 0; i < G * G; i++) {
    gx[i] = rng.uniform(-1, 1) * alpha;
    gy[i] = rng.uniform(-1, 1) * alpha;
  }
  // Forward: p' = c + R * S * A * (p - c); inverse per output pixel.
  const cos = Math.cos(rotation);
  const sin = Math.sin(rotation);
  const sx = Math.sqrt(aspect);
  const sy = 1 / sx;
  // M = R * Shear * diag(sx, sy): [[cos, -sin], [sin, cos]] * [[1, shear], [0, 1]] * diag(sx, sy)
  const m00 = cos * sx;
  const m01 = (cos * shear - sin) * sy;
  const m10 = sin * sx;
  const m11 = (sin * shear + cos) * sy;
  const det = m00 * m11 - m01 * m10;
  const i00 = m11 / det;
  const i01 = -m01 / det;
  const i10 = -m10 / det;
  const i11 = m00 / det;
  const c = (n - 1) / 2;
  const data = new Uint8ClampedArray(n * n * 4);
  const sample = (x: number, y: number): number => {
    if (x < 0 || y < 0 || x > n - 1 || y > n - 1) return 0;
    const x0 = Math.min(n - 2, Math.floor(x));
    const y0 = Math.min(n - 2, Math.floor(y));
    const fx = x - x0;
    const fy = y - y0;
    const i = y0 * n + x0;
    return (map[i]! * (1 - fx) + map[i + 1]! * fx) * (1 - fy) + (map[i + n]! * (1 - fx) + map[i + n + 1]! * fx) * fy;
  };
  for (let y = 0; y < n; y++) {
    const v = (y / (n - 1)) * (G - 1);
    const v0 = Math.min(G - 2, Math.floor(v));
    const fv = v - v0;
    for (let x = 0; x < n; x++) {
      const u = (x / (n - 1)) * (G - 1);
      const u0 = Math.min(G - 2, Math.floor(u));
      const fu = u - u0;
      const k = v0 * G + u0;
      const dx = (gx[k]! * (1 - fu) + gx[k + 1]! * fu) * (1 - fv) + (gx[k + G]! * (1 - fu) + gx[k + G + 1]! * fu) * fv;
      const dy = (gy[k]! * (1 - fu) + gy[k + 1]! * fu) * (1 - fv) + (gy[k + G]! * (1 - fu) + gy[k + G + 1]! * fu) * fv;
      const px = x + dx - c;
      const py = y + dy - c;
      const ink = sample(c + i00 * px + i01 * py, c + i10 * px + i11 * py);
      const gray = 255 - Math.round(255 * Math.min(1, ink));
      const o = 4 * (y * n + x);
      data[o] = data[o + 1] = data[o + 2] = gray;
      data[o + 3] = 255;
    }
  }
  return { width: n, height: n, data, polarity: 'dark-on-light' } as PixelBuffer;
}
