/**
 * Line images as files and uploads: `decodeImage` downscales a picture to 1024 px on its longer side before any pixel
 * reaches JavaScript, so a line is read in the decoded picture's px; `hwr read` and `POST /api/read` promise boxes in
 * the px of the picture the user gave, so the boxes are scaled back (`toUploadScale`).
 */
import sharp from 'sharp';
import type { LineBox, LineReading } from '../core/line/types.ts';
import type { PixelBuffer } from '../core/types.ts';

/** Factors from decoded px to the original picture's px, per axis (1 when the picture was not downscaled). */
export interface ImageScale {
  x: number;
  y: number;
}

/**
 * How much larger the original picture is than its decoding `decoded` (the first frame, upright after its EXIF
 * orientation, as `decodeImage` turns it; an SVG in its declared size). `{ x: 1, y: 1 }` when the header cannot be
 * read or the sizes agree.
 * @param source the file's bytes as given to `decodeImage`, or its path (only the header is read)
 */
export async function originalScale(source: Uint8Array | string, decoded: Pick<PixelBuffer, 'width' | 'height'>): Promise<ImageScale> {
  try {
    const header = await sharp(source).metadata();
    const upright = header.autoOrient ?? { width: header.width, height: header.height };
    // A multi-frame GIF or WebP declares the height of all its frames; decodeImage keeps the first.
    const rotated = upright.width !== header.width;
    const width = upright.width;
    const height = header.pageHeight !== undefined && !rotated ? header.pageHeight : upright.height;
    if (!(width > 0 && height > 0)) return { x: 1, y: 1 };
    return { x: width / decoded.width, y: height / decoded.height };
  } catch {
    return { x: 1, y: 1 };
  }
}

/**
 * `reading` with every character's box scaled by `scale` (decoded px to original px); the same object when the scale
 * is 1 on both axes. Nothing else changes (text, probabilities, timings).
 */
export function scaleReading(reading: LineReading, scale: ImageScale): LineReading {
  if (scale.x === 1 && scale.y === 1) return reading;
  const box = ({ x, y, width, height }: LineBox): LineBox => ({ x: x * scale.x, y: y * scale.y, width: width * scale.x, height: height * scale.y });
  return { ...reading, characters: reading.characters.map((character) => ({ ...character, box: box(character.box) })) };
}
