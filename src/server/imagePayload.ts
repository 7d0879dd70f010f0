/**
 * Turns the text form of an uploaded image (a data URL such as the browser's `canvas.toDataURL()`,
 * or bare base64) into its bytes. Decoding the bytes into pixels is `decodeImage`'s job.
 */
import { ApiError } from './errors.ts';

const DATA_URL = /^data:([^;,]*)((?:;[^;,]*)*),/i;
const BASE64 = /^[A-Za-z0-9+/_-]*={0,2}$/;

/**
 * Bytes of an image given as a data URL (`data:image/png;base64,iVBOR...`) or as bare base64
 * (standard or URL-safe alphabet, padding optional, whitespace ignored).
 *
 * @param text the string from the request.
 * @param field where it came from, for messages, e.g. `body.image` or `body.images[3]`.
 * @returns the decoded bytes (may be any file format; nothing is checked beyond the encoding).
 * @throws ApiError 415 `UNSUPPORTED_MEDIA_TYPE` when a data URL declares a type other than `image/*`;
 *         400 `BAD_REQUEST` when the text is empty, not base64, or a data URL without `;base64`.
 */
export function bytesFromImageText(text: string, field: string): Buffer {
  let payload = text.trim();
  const dataUrl = DATA_URL.exec(payload);
  if (dataUrl) {
    const mediaType = dataUrl[1].toLowerCase();
    if (mediaType !== '' && !mediaType.startsWith('image/')) {
      throw new ApiError(415, 'UNSUPPORTED_MEDIA_TYPE', `${field} is a data URL of type ${mediaType}, not an image`);
    }
    if (!/;base64$/i.test(dataUrl[2])) {
      throw new ApiError(400, 'BAD_REQUEST', `${field} is a data URL without ;base64 encoding`);
    }
    payload = payload.slice(dataUrl[0].length);
  }
  payload = payload.replace(/\s+/g, '');
  if (payload.length === 0) throw new ApiError(400, 'BAD_REQUEST', `${field} holds no image data`);
  if (!BASE64.test(payload)) {
    throw new ApiError(400, 'BAD_REQUEST', `${field} is neither a data URL nor base64 text`);
  }
  return Buffer.from(payload, payload.includes('-') || payload.includes('_') ? 'base64url' : 'base64');
}
