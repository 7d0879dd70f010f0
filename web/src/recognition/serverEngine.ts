/**
 * Server recognition: posts the pad's ink as JSON (`{ "ink": inkToJson(ink) }`, drawn by the server with the core's
 * `inkImageFor`, as the browser engines and training draw it), or without ink the drawing as a base64 PNG data URL,
 * to `POST api/predict` (relative to the page, so it works when the server serves the page under any path). For a
 * model other than the server's default (hanzi), the body names it (`model`) and asks for `topK` candidates.
 * Line mode posts a line's ink to `POST api/read` (`{ "ink", "model"?, "pattern"?, "words"?, "topK"? }`), which answers
 * the `LineReading` fields (src/core/line/types.ts) at the top level, with the model's name.
 */
import { inkToJson, type SizedInk } from '../../../src/core/ink.ts';
import type { LineReading } from '../../../src/core/line/types.ts';
import type { ClassProbability } from '../../../src/core/recognizer.ts';
import type { PixelBuffer } from '../../../src/core/types.ts';
import type { LineReadOptions } from './protocol.ts';
import { PadRecognitionError, type ModelSummary, type PadLineReading, type PadRecognition, type RecognitionEngine } from './types.ts';

/** How many candidates the page shows for a large vocabulary, and asks the server for. */
const CANDIDATES = 10;

/**
 * The server's JSON answer (see src/server/plugins/recognition.ts): digits answer with every class's probability
 * and `timings`; a large vocabulary (`model: "hanzi"`) with its `candidates` and the total `ms`, and maybe no
 * `probabilities`.
 */
interface ServerPrediction {
  /** null when the model rejects the drawing; `reason` then says why. */
  label: string | null;
  reason?: string;
  probability: number;
  probabilities?: number[];
  candidates?: ClassProbability[];
  processed: string;
  timings?: { decodeMs?: number; preprocessMs: number; inferenceMs: number };
  ms?: number;
}

/** Recognition on the hwr server. */
export class ServerEngine implements RecognitionEngine {
  readonly mode = 'server' as const;
  private readonly apiUrl: string;
  private readonly modelName: string | undefined;
  private summary: Promise<ModelSummary> | null = null;

  /**
   * @param apiUrl absolute URL of the API root, ending in `/`, e.g. `new URL('api/', document.baseURI).href`.
   * @param model the shipped model to ask for by name (`hanzi`); absent: the server's default model (digits).
   */
  constructor(apiUrl: string, model?: string) {
    this.apiUrl = apiUrl;
    this.modelName = model;
  }

  /**
   * Describes the server's model (`GET api/model`), fetched once (again after a failure): the page's footer and
   * the class labels of every answer share it. @throws PadRecognitionError like `recognize`.
   */
  model(): Promise<ModelSummary> {
    const path = this.modelName === undefined ? 'model' : `model?model=${encodeURIComponent(this.modelName)}`;
    this.summary ??= this.request(path, { method: 'GET' }).then((body) => body as ModelSummary, (error: unknown) => {
      this.summary = null;
      throw error;
    });
    return this.summary;
  }

  /** Recognizes the pad's ink when given, else the drawing, on the server; see `RecognitionEngine.recognize`. */
  async recognize(drawing: HTMLCanvasElement, ink?: SizedInk): Promise<PadRecognition> {
    const started = performance.now();
    const input = ink ? { ink: inkToJson(ink) } : { image: drawing.toDataURL('image/png') };
    const body = JSON.stringify(this.modelName === undefined ? input : { ...input, model: this.modelName, topK: CANDIDATES });
    const prediction = (await this.request('predict', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    })) as ServerPrediction;
    const processed = await decodePng(prediction.processed);
    const totalMs = performance.now() - started;
    const probabilities = prediction.probabilities ?? [];
    const classes = probabilities.length > 0 ? await this.classNames(probabilities.length) : [];
    return {
      mode: 'server',
      label: prediction.label,
      ...(prediction.reason === undefined ? {} : { reason: prediction.reason }),
      probability: prediction.probability,
      probabilities,
      classes,
      candidates: prediction.candidates ?? topCandidates(probabilities, classes),
      processed,
      timings: { totalMs, ...(prediction.timings ?? { preprocessMs: 0, inferenceMs: prediction.ms ?? 0 }) },
    };
  }

  /** Reads a line of ink on the server (`POST api/read`); see `RecognitionEngine.read`. */
  async read(ink: SizedInk, options: LineReadOptions): Promise<PadLineReading> {
    const started = performance.now();
    const body = { ink: inkToJson(ink), ...(this.modelName === undefined ? {} : { model: this.modelName }), ...options };
    const answer = (await this.request('read', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    })) as LineReading & { model?: string };
    if (typeof answer?.text !== 'string' || !Array.isArray(answer.characters)) {
      throw new PadRecognitionError('BAD_RESPONSE', 'the server answered POST api/read without a text and its characters');
    }
    const { model: _model, ...reading } = answer;
    return { mode: 'server', reading, roundTripMs: performance.now() - started };
  }

  /** Class labels from `model()`; plain indices if that fails or their count is not `count`. */
  private async classNames(count: number): Promise<string[]> {
    const indices = (): string[] => Array.from({ length: count }, (_, i) => String(i));
    const classes = await this.model().then((model) => model.classes, indices);
    return classes.length === count ? classes : indices();
  }

  private async request(path: string, init: RequestInit): Promise<unknown> {
    const url = new URL(path, this.apiUrl).href;
    let response: Response;
    try {
      response = await fetch(url, init);
    } catch {
      throw new PadRecognitionError('SERVER_UNREACHABLE',
        `The recognition server at ${new URL(this.apiUrl).origin} cannot be reached. Start it with "npm start", or switch to in-browser recognition.`);
    }
    let body: unknown;
    try {
      body = await response.json();
    } catch {
      // A static host answers 404/405 with an HTML page: there is no hwr server behind this page.
      throw new PadRecognitionError('SERVER_UNREACHABLE',
        `No recognition server answers at ${url} (HTTP ${response.status}). Serve the app with "npm start", or switch to in-browser recognition.`);
    }
    if (!response.ok) {
      const error = (body as { error?: { code?: string; message?: string } }).error;
      throw new PadRecognitionError(error?.code ?? `HTTP_${response.status}`, error?.message ?? `the server answered HTTP ${response.status}`);
    }
    return body;
  }
}

/** The 3 most probable classes (what digits show), when the answer lists no candidates of its own. */
function topCandidates(probabilities: number[], classes: string[]): ClassProbability[] {
  return probabilities
    .map((probability, i) => ({ label: classes[i] ?? String(i), probability }))
    .sort((a, b) => b.probability - a.probability)
    .slice(0, 3);
}

/** Decodes a PNG data URL into RGBA pixels with the browser's own decoder. */
async function decodePng(dataUrl: string): Promise<PixelBuffer> {
  const bitmap = await createImageBitmap(await (await fetch(dataUrl)).blob());
  const canvas = document.createElement('canvas');
  canvas.width = bitmap.width;
  canvas.height = bitmap.height;
  const context = canvas.getContext('2d', { willReadFrequently: true })!;
  context.drawImage(bitmap, 0, 0);
  bitmap.close();
  return context.getImageData(0, 0, canvas.width, canvas.height);
}
