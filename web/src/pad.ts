/**
 * The drawing pad: a canvas that records strokes from Pointer Events (mouse, touch and pen alike),
 * draws them round and smooth, and renders them at a fixed size for recognition. Square by default (the
 * single-character pad); a wider one (`aspect`, e.g. 4 for 4:1) is Line mode's writing area (web/src/line/).
 *
 * Strokes are kept as points in pad units (0..1 on both axes: x across the width, y down the height), so the
 * drawing survives resizes and device pixel ratios, and Undo is "drop the last stroke and redraw".
 * Smoothing: each stroke is drawn as quadratic Bézier curves through the midpoints of successive points,
 * with the recorded points as control points (the usual midpoint-quadratic scheme), and with
 * `getCoalescedEvents()` so fast strokes keep every sample the hardware reported.
 * The strokes are also the drawing's ink (`ink()`, src/core/ink.ts): what recognition and teach mode's samples use.
 */
import type { SizedInk } from '../../src/core/ink.ts';

/**
 * A point on the pad in pad units: x from the left edge, y from the top edge, both 0..1; `t` in ms since the first
 * pen-down of the drawing (from `PointerEvent.timeStamp`), absent for points added by code.
 */
export interface PadPoint {
  x: number;
  y: number;
  t?: number;
}

/**
 * Height of the field, in logical px, in which `DrawingPad.ink()` gives coordinates, whatever the screen size; its
 * width is `PAD_INK_SIZE * aspect` (a square of 280 for the single-character pad).
 */
export const PAD_INK_SIZE = 280;

/** One stroke: the points from pointer down to pointer up, in order. */
export type Stroke = PadPoint[];

/**
 * A light guide drawn on screen behind the ink (never in the image recognized), as in Chinese copybooks:
 * `tian` (田字格: the two centre lines), `mi` (米字格: the centre lines and both diagonals), `baseline` (one dashed
 * line at 3/4 of the height, to write a line on), or `none`.
 */
export type PadGuide = 'none' | 'tian' | 'mi' | 'baseline';

/** Options of `DrawingPad`, and of `DrawingPad.configure`. */
export interface DrawingPadOptions {
  /**
   * Ink width as a fraction of the pad's height (0.065 of a 280 px pad is ~18 px, close to MNIST's stroke-to-digit
   * ratio; a Chinese character, with many more strokes, wants about 0.04).
   */
  lineWidth?: number;
  /**
   * Width / height of the pad, default 1 (square). Fixed for the pad's life: give the canvas the same CSS
   * `aspect-ratio`, so ink coordinates (`ink()`) keep their proportions whatever the screen size.
   */
  aspect?: number;
  /** Guide grid on screen; default `none`. */
  guide?: PadGuide;
  /** Ink colour on screen. Recognition always renders black on white. */
  inkColor?: string;
  /** Paper colour on screen. */
  paperColor?: string;
}

/** Fired as `change` after a stroke ends, and after `undo()` and `clear()`. */
export type PadChangeReason = 'stroke' | 'undo' | 'clear';

/**
 * A drawing pad on an existing `<canvas>` (give it `touch-action: none` in CSS so touch draws instead of scrolling).
 *
 * Events (an `EventTarget`): `strokestart` when a stroke begins; `change` (a `CustomEvent<PadChangeReason>`)
 * when the drawing changed.
 */
export class DrawingPad extends EventTarget {
  readonly canvas: HTMLCanvasElement;
  private readonly context: CanvasRenderingContext2D;
  private lineWidth: number;
  private guide: PadGuide;
  /** Width / height. */
  readonly aspect: number;
  private readonly inkColor: string;
  private readonly paperColor: string;
  private readonly finished: Stroke[] = [];
  private current: Stroke | null = null;
  private activePointer: number | null = null;
  private frameRequested = false;
  private recognitionCanvas: HTMLCanvasElement | null = null;
  /** `PointerEvent.timeStamp` of the drawing's first pen-down: the origin of the points' `t`. */
  private timeOrigin: number | null = null;

  constructor(canvas: HTMLCanvasElement, options: DrawingPadOptions = {}) {
    super();
    this.canvas = canvas;
    const context = canvas.getContext('2d');
    if (!context) throw new Error('the drawing pad needs a 2D canvas context, which this browser refused');
    this.context = context;
    this.lineWidth = options.lineWidth ?? 0.065;
    this.aspect = options.aspect ?? 1;
    if (!(this.aspect > 0 && Number.isFinite(this.aspect))) throw new RangeError(`DrawingPad: aspect must be a positive number, got ${this.aspect}`);
    this.guide = options.guide ?? 'none';
    this.inkColor = options.inkColor ?? '#14161f';
    this.paperColor = options.paperColor ?? '#ffffff';

    canvas.addEventListener('pointerdown', (event) => this.onPointerDown(event));
    canvas.addEventListener('pointermove', (event) => this.onPointerMove(event));
    canvas.addEventListener('pointerup', (event) => this.onPointerEnd(event));
    canvas.addEventListener('pointercancel', (event) => this.onPointerEnd(event));
    canvas.addEventListener('contextmenu', (event) => event.preventDefault());
    new ResizeObserver(() => this.fitToElement()).observe(canvas);
    canvas.dataset.strokes = '0';
    this.fitToElement();
  }

  /** Finished strokes, oldest first (the stroke being drawn is not included). */
  get strokes(): readonly Stroke[] {
    return this.finished;
  }

  /** True when nothing is drawn. */
  get isEmpty(): boolean {
    return this.finished.length === 0 && this.current === null;
  }

  /** True while a pointer is drawing. */
  get isDrawing(): boolean {
    return this.current !== null;
  }

  /** Changes the ink width and the guide grid (for another script) and redraws; the strokes stay. */
  configure(options: Pick<DrawingPadOptions, 'lineWidth' | 'guide'>): void {
    this.lineWidth = options.lineWidth ?? this.lineWidth;
    this.guide = options.guide ?? this.guide;
    this.requestDraw();
  }

  /**
   * The drawing as ink (src/core/ink.ts): the finished strokes, x and y in logical px of a field `PAD_INK_SIZE * aspect`
   * wide and `PAD_INK_SIZE` high (a 280 px square for the square pad; y down), `t` in ms since the first pen-down;
   * `width` and `height` are the field's. Empty strokes when nothing is drawn.
   */
  ink(): SizedInk & { width: number; height: number } {
    const width = PAD_INK_SIZE * this.aspect;
    return {
      strokes: this.finished.map((stroke) => stroke.map((point) => ({
        x: point.x * width,
        y: point.y * PAD_INK_SIZE,
        ...(point.t === undefined ? {} : { t: point.t }),
      }))),
      width,
      height: PAD_INK_SIZE,
    };
  }

  /** Removes the last finished stroke. Returns false when there was none. Fires `change` ('undo'). */
  undo(): boolean {
    if (this.finished.length === 0) return false;
    this.finished.pop();
    if (this.finished.length === 0) this.timeOrigin = null;
    this.requestDraw();
    this.emitChange('undo');
    return true;
  }

  /** Removes every stroke, including one being drawn. Fires `change` ('clear'). */
  clear(): void {
    this.finished.length = 0;
    this.current = null;
    this.activePointer = null;
    this.timeOrigin = null;
    this.requestDraw();
    this.emitChange('clear');
  }

  /**
   * Renders the strokes black on white at `round(size * aspect)` x `size` px (a `size` square for the square pad),
   * independent of the screen's size and pixel ratio, so the same drawing always gives the same pixels for the model.
   * @param size height in px; default 280 (10x MNIST's 28).
   * @returns a canvas owned by the pad, overwritten by the next call.
   */
  renderForRecognition(size = 280): HTMLCanvasElement {
    const canvas = this.recognitionCanvas ?? document.createElement('canvas');
    this.recognitionCanvas = canvas;
    canvas.width = Math.max(1, Math.round(size * this.aspect));
    canvas.height = size;
    const context = canvas.getContext('2d', { willReadFrequently: true });
    if (!context) throw new Error('the browser refused a 2D canvas context for recognition');
    paint(context, canvas.width, canvas.height, this.allStrokes(), this.lineWidth, '#000000', '#ffffff');
    return canvas;
  }

  /** Resizes the backing store to the element's CSS size (width, and width / aspect) times the device pixel ratio, then redraws. */
  private fitToElement(): void {
    const ratio = window.devicePixelRatio || 1;
    const width = Math.max(1, Math.round(this.canvas.clientWidth * ratio));
    const height = Math.max(1, Math.round((this.canvas.clientWidth / this.aspect) * ratio));
    if (this.canvas.width !== width || this.canvas.height !== height) {
      this.canvas.width = width;
      this.canvas.height = height;
    }
    this.draw();
  }

  private onPointerDown(event: PointerEvent): void {
    // One stroke at a time: a second finger, or a right/middle click, does not draw.
    if (this.activePointer !== null || (event.pointerType === 'mouse' && event.button !== 0)) return;
    event.preventDefault();
    this.canvas.focus({ preventScroll: true });
    this.activePointer = event.pointerId;
    this.canvas.setPointerCapture(event.pointerId);
    this.timeOrigin ??= event.timeStamp;
    this.current = [this.toPadPoint(event)];
    this.dispatchEvent(new Event('strokestart'));
    this.requestDraw();
  }

  private onPointerMove(event: PointerEvent): void {
    if (event.pointerId !== this.activePointer || !this.current) return;
    event.preventDefault();
    const samples = typeof event.getCoalescedEvents === 'function' ? event.getCoalescedEvents() : [];
    for (const sample of samples.length > 0 ? samples : [event]) this.addPoint(this.toPadPoint(sample));
    this.requestDraw();
  }

  private onPointerEnd(event: PointerEvent): void {
    if (event.pointerId !== this.activePointer || !this.current) return;
    if (event.type === 'pointerup') this.addPoint(this.toPadPoint(event));
    this.finished.push(this.current);
    this.current = null;
    this.activePointer = null;
    if (this.canvas.hasPointerCapture(event.pointerId)) this.canvas.releasePointerCapture(event.pointerId);
    this.requestDraw();
    this.emitChange('stroke');
  }

  /** Appends a point unless it is within a fraction of a screen pixel of the last one. */
  private addPoint(point: PadPoint): void {
    const last = this.current![this.current!.length - 1]!;
    const minimum = 0.5 / Math.max(1, this.canvas.clientWidth);
    if (Math.abs(point.x - last.x) < minimum && Math.abs(point.y - last.y) < minimum) return;
    this.current!.push(point);
  }

  private toPadPoint(event: PointerEvent): PadPoint {
    const rect = this.canvas.getBoundingClientRect();
    return {
      x: clamp01((event.clientX - rect.left) / Math.max(1, rect.width)),
      y: clamp01((event.clientY - rect.top) / Math.max(1, rect.height)),
      // Coalesced events carry their own timeStamp; never before the origin (clock granularity).
      t: Math.max(0, Math.round((event.timeStamp - (this.timeOrigin ?? event.timeStamp)) * 10) / 10),
    };
  }

  private allStrokes(): Stroke[] {
    return this.current ? [...this.finished, this.current] : this.finished;
  }

  /**
   * Redraws at most once per animation frame, however many pointer events arrive. The count of finished strokes is
   * written into the canvas's `data-strokes` at once (for tests and tools).
   */
  private requestDraw(): void {
    this.canvas.dataset.strokes = String(this.finished.length);
    if (this.frameRequested) return;
    this.frameRequested = true;
    requestAnimationFrame(() => {
      this.frameRequested = false;
      this.draw();
    });
  }

  private draw(): void {
    paint(this.context, this.canvas.width, this.canvas.height, this.allStrokes(), this.lineWidth, this.inkColor, this.paperColor, this.guide);
    this.canvas.classList.toggle('has-ink', !this.isEmpty);
  }

  private emitChange(reason: PadChangeReason): void {
    this.dispatchEvent(new CustomEvent<PadChangeReason>('change', { detail: reason }));
  }
}

/**
 * Fills the paper, draws the guide (if any) and every stroke on a context of `width` x `height` px; the pen is
 * `lineWidth * height` wide.
 */
function paint(context: CanvasRenderingContext2D, width: number, height: number, strokes: readonly Stroke[], lineWidth: number, ink: string, paper: string, guide: PadGuide = 'none'): void {
  context.fillStyle = paper;
  context.fillRect(0, 0, width, height);
  if (guide !== 'none') drawGuide(context, width, height, guide);
  context.strokeStyle = ink;
  context.fillStyle = ink;
  context.lineWidth = lineWidth * height;
  context.lineCap = 'round';
  context.lineJoin = 'round';
  for (const stroke of strokes) drawStroke(context, stroke, width, height);
}

/**
 * Dashed light-red centre lines (and diagonals for 米字格), the colours of a Chinese copybook's grid; or a light-blue
 * baseline at 3/4 of the height, as on ruled paper.
 */
function drawGuide(context: CanvasRenderingContext2D, width: number, height: number, guide: Exclude<PadGuide, 'none'>): void {
  const lines: Array<[number, number, number, number]> = guide === 'baseline' ? [[0.03, 0.75, 0.97, 0.75]] : [[0.5, 0, 0.5, 1], [0, 0.5, 1, 0.5]];
  if (guide === 'mi') lines.push([0, 0, 1, 1], [1, 0, 0, 1]);
  context.save();
  context.strokeStyle = guide === 'baseline' ? 'rgb(47 84 235 / 28%)' : 'rgb(214 96 96 / 38%)';
  context.lineWidth = Math.max(1, height / 320);
  context.setLineDash([height / 60, height / 60]);
  context.beginPath();
  for (const [x0, y0, x1, y1] of lines) {
    context.moveTo(x0 * width, y0 * height);
    context.lineTo(x1 * width, y1 * height);
  }
  context.stroke();
  context.restore();
}

/** Draws one stroke with midpoint quadratic smoothing; a single point becomes a round dot. */
function drawStroke(context: CanvasRenderingContext2D, stroke: Stroke, width: number, height: number): void {
  const first = stroke[0];
  if (!first) return;
  if (stroke.length === 1) {
    context.beginPath();
    context.arc(first.x * width, first.y * height, context.lineWidth / 2, 0, Math.PI * 2);
    context.fill();
    return;
  }
  context.beginPath();
  context.moveTo(first.x * width, first.y * height);
  for (let i = 1; i < stroke.length - 1; i++) {
    const point = stroke[i]!;
    const next = stroke[i + 1]!;
    context.quadraticCurveTo(point.x * width, point.y * height, ((point.x + next.x) / 2) * width, ((point.y + next.y) / 2) * height);
  }
  const last = stroke[stroke.length - 1]!;
  context.lineTo(last.x * width, last.y * height);
  context.stroke();
}

function clamp01(value: number): number {
  return Math.min(1, Math.max(0, value));
}
