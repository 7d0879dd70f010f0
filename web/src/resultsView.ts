/**
 * Renders recognition results: the digit (or "not a digit" and the reason when the model rejects the drawing),
 * its probability, one bar per class (the most probable highlighted), the image the model saw (28x28 for digits,
 * 64x64 for hanzi), the time each mode took, status messages, and a spoken summary for screen readers (an
 * `aria-live` region). For hanzi (3,755 classes) the bars are the ten candidates' (the buttons to pick them are in
 * composer.ts), and the summary names the top candidate. A script taught in the page is shown as digits are.
 *
 * Numbers never move the layout: every number sits in a box of fixed width (style.css), and probabilities are
 * written with one decimal and never rounded to a certainty (`formatProbability`: ">99.9%", "<0.1%").
 */
import { formatProbability } from '../../src/core/probabilityText.ts';
import type { PadRecognition, RecognitionMode, Script } from './recognition/types.ts';

/** Elements the view writes into (all present in index.html). */
export interface ResultsElements {
  prediction: HTMLElement;
  probability: HTMLElement;
  /** Why the drawing was rejected; empty otherwise. */
  reason: HTMLElement;
  bars: HTMLOListElement;
  processed: HTMLCanvasElement;
  /** The caption under the processed image ("What the model saw (28×28)"). */
  processedCaption: HTMLElement;
  /** The caption above the answer ("Digit", "Character"). */
  answerCaption: HTMLElement;
  status: HTMLElement;
  timing: Record<RecognitionMode, HTMLElement>;
  announcer: HTMLElement;
}

/** Status line tone: `info` (neutral), `busy` (work in progress), `error`. */
export type StatusTone = 'info' | 'busy' | 'error';

const MODE_NAMES: Record<RecognitionMode, string> = { browser: 'in the browser', server: 'on the server' };

const DIGITS = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];

/** Ten unlabelled rows: the hanzi view's bars before an answer, so the first candidates move nothing. */
const EMPTY_CANDIDATES: string[] = Array.from({ length: 10 }, () => '');

/** The results panel. Stateless apart from the DOM it owns. */
export class ResultsView {
  private readonly elements: ResultsElements;
  private script: Script = 'digits';

  constructor(elements: ResultsElements, classes: string[] = DIGITS) {
    this.elements = elements;
    this.setClasses(classes);
  }

  /** Rebuilds the bar chart with one empty bar per class (`data-label`, `data-probability="0"`). */
  setClasses(classes: string[]): void {
    const bars = classes.map((label) => {
      const item = document.createElement('li');
      item.className = 'bar';
      item.dataset.label = label;
      item.dataset.probability = '0';
      item.innerHTML = '<span class="bar-label"></span><span class="bar-track"><span class="bar-fill"></span></span><span class="bar-value">0%</span>';
      item.querySelector('.bar-label')!.textContent = label;
      return item;
    });
    this.elements.bars.replaceChildren(...bars);
  }

  /**
   * Switches between the digits view (a bar per class), a taught script's (a bar per class of `classes`, the way
   * digits show theirs: a small alphabet) and the hanzi view (no bars; the candidates are elsewhere),
   * and empties the answer.
   */
  setScript(script: Script, classes?: string[]): void {
    this.script = script;
    const { bars, answerCaption } = this.elements;
    const taught = script !== 'digits' && script !== 'hanzi';
    answerCaption.textContent = script === 'digits' ? 'Digit' : taught ? 'Symbol' : 'Character';
    bars.setAttribute('aria-label', script === 'hanzi' ? 'Probability of each candidate' : script === 'digits' ? 'Probability of each digit' : 'Probability of each symbol');
    if (script === 'digits') this.setClasses(DIGITS);
    else if (taught) this.setClasses(classes ?? []);
    else this.setClasses(EMPTY_CANDIDATES);
    this.reset();
  }

  /**
   * Shows a recognition: digit, probability, bars, processed image, timing, and announces it.
   * A rejection (`label: null`) shows "not a digit", the probability of the rejection, the reason, and all bars.
   */
  show(result: PadRecognition): void {
    if (this.script === 'hanzi') {
      this.showCharacter(result);
      return;
    }
    const { elements } = this;
    if (elements.bars.children.length !== result.classes.length) this.setClasses(result.classes);
    const best = result.probabilities.indexOf(Math.max(...result.probabilities));
    const rejected = result.label === null;
    elements.prediction.textContent = result.label ?? 'not a digit';
    elements.prediction.toggleAttribute('data-rejected', rejected);
    // A taught script's label may be a name (`hylian-a`): smaller type, wrapped, in the same box.
    elements.prediction.toggleAttribute('data-long', !rejected && [...(result.label ?? '')].length > 2);
    elements.probability.textContent = percent(result.probability);
    elements.reason.textContent = rejected ? rejectionReason(result.reason, result.classes[best]) : '';
    Array.from(elements.bars.children).forEach((child, index) => {
      const item = child as HTMLLIElement;
      item.dataset.label = result.classes[index] ?? String(index);
      this.fillBar(item, result.probabilities[index] ?? 0, index === best);
    });
    this.showProcessedAndTiming(result);
    const answer = rejected ? `Not a digit${spokenReason(result.reason)}` : `Recognized ${result.label}`;
    elements.announcer.textContent = `${answer}, ${percent(result.probability)} sure, ${MODE_NAMES[result.mode]}.`;
  }

  /**
   * The hanzi answer: the top candidate, its probability, a bar per candidate (ten rows, empty ones when fewer), the
   * processed image, the timing, and the spoken summary.
   */
  private showCharacter(result: PadRecognition): void {
    const { elements } = this;
    const top = result.candidates[0];
    this.setClasses(EMPTY_CANDIDATES.map((empty, i) => result.candidates[i]?.label ?? empty));
    Array.from(elements.bars.children).forEach((child, index) => {
      const candidate = result.candidates[index];
      if (candidate) this.fillBar(child as HTMLLIElement, candidate.probability, index === 0);
    });
    elements.prediction.textContent = top?.label ?? '';
    elements.prediction.removeAttribute('data-rejected');
    elements.probability.textContent = top ? percent(top.probability) : '–';
    elements.reason.textContent = '';
    this.showProcessedAndTiming(result);
    elements.announcer.textContent = top
      ? `Top candidate ${top.label}, ${percent(top.probability)} sure, ${MODE_NAMES[result.mode]}. Press 1 to pick it.`
      : `No candidates, ${MODE_NAMES[result.mode]}.`;
  }

  /**
   * The processed image with its size in the caption, and the timing line; the timings also go into the timing
   * element's `data-total-ms`, `data-preprocess-ms` and `data-inference-ms` (for tools such as bench/hanzi-page.ts).
   */
  private showProcessedAndTiming(result: PadRecognition): void {
    const { elements } = this;
    const { width, height } = result.processed;
    drawPixels(elements.processed, result.processed);
    this.describeProcessed(width, height);
    const timing = elements.timing[result.mode];
    timing.replaceChildren(...describeTimings(result));
    timing.dataset.totalMs = result.timings.totalMs.toFixed(3);
    timing.dataset.preprocessMs = result.timings.preprocessMs.toFixed(3);
    timing.dataset.inferenceMs = result.timings.inferenceMs.toFixed(3);
    this.setStatus('', 'info');
  }

  /**
   * Sizes the processed image (black until an answer) and its caption for a model input of `size` x `size` px,
   * before the first answer shows it.
   */
  setInputSize(size: number): void {
    const { processed } = this.elements;
    if (processed.width === size && processed.height === size) return;
    processed.width = size;
    processed.height = size;
    this.describeProcessed(size, size);
    const context = processed.getContext('2d')!;
    context.fillStyle = '#000';
    context.fillRect(0, 0, size, size);
  }

  private describeProcessed(width: number, height: number): void {
    this.elements.processed.setAttribute('aria-label', `The ${width} by ${height} image the model saw`);
    this.elements.processedCaption.textContent = `What the model saw (${width}×${height})`;
  }

  /** Sets one bar's probability (`data-probability`, width, text, spoken label) and whether it is the top one. */
  private fillBar(item: HTMLLIElement, probability: number, top: boolean): void {
    item.dataset.probability = probability.toFixed(6);
    item.classList.toggle('top', top);
    item.setAttribute('aria-label', `${item.dataset.label}: ${percent(probability)}`);
    (item.querySelector('.bar-fill') as HTMLElement).style.width = `${(probability * 100).toFixed(2)}%`;
    item.querySelector('.bar-value')!.textContent = percent(probability);
  }

  /** Empties the answer (after Clear): no digit, zero bars, black processed image. */
  reset(): void {
    const { elements } = this;
    elements.prediction.textContent = '';
    elements.prediction.removeAttribute('data-rejected');
    elements.prediction.removeAttribute('data-long');
    elements.probability.textContent = '–';
    elements.reason.textContent = '';
    if (this.script === 'hanzi') this.setClasses(EMPTY_CANDIDATES);
    for (const child of Array.from(elements.bars.children)) {
      const item = child as HTMLLIElement;
      item.dataset.probability = '0';
      item.classList.remove('top');
      item.removeAttribute('aria-label');
      (item.querySelector('.bar-fill') as HTMLElement).style.width = '0%';
      item.querySelector('.bar-value')!.textContent = '0%';
    }
    const context = elements.processed.getContext('2d')!;
    context.fillStyle = '#000';
    context.fillRect(0, 0, elements.processed.width, elements.processed.height);
  }

  /** Shows a status line (empty text hides it). Errors are also announced. */
  setStatus(text: string, tone: StatusTone): void {
    this.elements.status.textContent = text;
    this.elements.status.dataset.tone = tone;
    this.elements.status.hidden = text === '';
    if (tone === 'error') this.elements.announcer.textContent = text;
  }
}

/** "97.3%", one decimal; ">99.9%" and "<0.1%" rather than a rounded 100% or 0%. */
function percent(probability: number): string {
  return formatProbability(probability, 1);
}

/** True when `reason` says no more than "not a digit", which the answer box already shows. */
function saysOnlyNotADigit(reason: string | undefined): boolean {
  return !reason || /^\s*not a digit\.?\s*$/i.test(reason);
}

/** The line under the probability for a rejection: the reason, or which class won when the reason adds nothing. */
function rejectionReason(reason: string | undefined, topClass: string | undefined): string {
  if (!saysOnlyNotADigit(reason)) return `${reason!.charAt(0).toUpperCase()}${reason!.slice(1)}.`;
  return topClass === undefined ? 'None of the classes fits.' : `“${topClass}” is the most probable class.`;
}

/** " (reason)" for the spoken summary, or nothing when the reason is just "not a digit". */
function spokenReason(reason: string | undefined): string {
  return saysOnlyNotADigit(reason) ? '' : ` (${reason!.trim()})`;
}

/**
 * "12 ms round trip (model 3.1 ms, preprocessing 2.0 ms, PNG decoding 0.4 ms)", each duration in its own
 * fixed-width box (`.ms`), so the line wraps at the same places whatever the numbers.
 */
function describeTimings({ mode, timings }: PadRecognition): Node[] {
  const nodes: Node[] = [ms(timings.totalMs), text(mode === 'server' ? ' round trip (model ' : ' (model '), ms(timings.inferenceMs),
    text(', preprocessing '), ms(timings.preprocessMs)];
  if (timings.decodeMs !== undefined) nodes.push(text(', PNG decoding '), ms(timings.decodeMs));
  nodes.push(text(')'));
  return nodes;
}

function text(value: string): Text {
  return document.createTextNode(value);
}

/** A duration in ms as `<span class="ms">3.1 ms</span>`: one decimal under 10 ms, none above. */
function ms(value: number): HTMLSpanElement {
  const span = document.createElement('span');
  span.className = 'ms';
  span.textContent = value < 10 ? `${value.toFixed(1)} ms` : `${Math.round(value)} ms`;
  return span;
}

/** Draws RGBA pixels into a canvas of the same size (CSS magnifies it with `image-rendering: pixelated`). */
function drawPixels(canvas: HTMLCanvasElement, image: { width: number; height: number; data: ArrayLike<number> }): void {
  canvas.width = image.width;
  canvas.height = image.height;
  const data = new ImageData(new Uint8ClampedArray(image.data as ArrayLike<number>), image.width, image.height);
  canvas.getContext('2d')!.putImageData(data, 0, 0);
}
