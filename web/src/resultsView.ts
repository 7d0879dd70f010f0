/**
 * Renders recognition results: the digit, its probability, one bar per class (top one highlighted),
 * the 28x28 image the model saw, the time each mode took, status messages, and a spoken summary
 * for screen readers (an `aria-live` region).
 */
import type { PadRecognition, RecognitionMode } from './recognition/types.ts';

/** Elements the view writes into (all present in index.html). */
export interface ResultsElements {
  prediction: HTMLElement;
  probability: HTMLElement;
  bars: HTMLOListElement;
  processed: HTMLCanvasElement;
  status: HTMLElement;
  timing: Record<RecognitionMode, HTMLElement>;
  announcer: HTMLElement;
}

/** Status line tone: `info` (neutral), `busy` (work in progress), `error`. */
export type StatusTone = 'info' | 'busy' | 'error';

const MODE_NAMES: Record<RecognitionMode, string> = { browser: 'in the browser', server: 'on the server' };

/** The results panel. Stateless apart from the DOM it owns. */
export class ResultsView {
  private readonly elements: ResultsElements;

  constructor(elements: ResultsElements, classes: string[] = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']) {
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

  /** Shows a recognition: digit, probability, bars, processed image, timing, and announces it. */
  show(result: PadRecognition): void {
    const { elements } = this;
    if (elements.bars.children.length !== result.classes.length) this.setClasses(result.classes);
    elements.prediction.textContent = result.label;
    elements.probability.textContent = percent(result.probability);
    const best = result.probabilities.indexOf(Math.max(...result.probabilities));
    Array.from(elements.bars.children).forEach((child, index) => {
      const item = child as HTMLLIElement;
      const probability = result.probabilities[index] ?? 0;
      item.dataset.label = result.classes[index] ?? String(index);
      item.dataset.probability = probability.toFixed(6);
      item.classList.toggle('top', index === best);
      item.setAttribute('aria-label', `${item.dataset.label}: ${percent(probability)}`);
      (item.querySelector('.bar-fill') as HTMLElement).style.width = `${(probability * 100).toFixed(2)}%`;
      item.querySelector('.bar-value')!.textContent = percent(probability);
    });
    drawPixels(elements.processed, result.processed);
    elements.timing[result.mode].textContent = describeTimings(result);
    this.setStatus('', 'info');
    elements.announcer.textContent = `Recognized ${result.label}, ${percent(result.probability)} sure, ${MODE_NAMES[result.mode]}.`;
  }

  /** Empties the answer (after Clear): no digit, zero bars, black processed image. */
  reset(): void {
    const { elements } = this;
    elements.prediction.textContent = '';
    elements.probability.textContent = '–';
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

/** "97.3%", with one decimal below 99.95% and none for tiny values. */
function percent(probability: number): string {
  const value = probability * 100;
  if (value >= 99.95) return '100%';
  if (value < 0.05) return '0%';
  return `${value.toFixed(1)}%`;
}

function describeTimings({ mode, timings }: PadRecognition): string {
  const parts = [`model ${ms(timings.inferenceMs)}`, `preprocessing ${ms(timings.preprocessMs)}`];
  if (timings.decodeMs !== undefined) parts.push(`PNG decoding ${ms(timings.decodeMs)}`);
  const total = mode === 'server' ? `${ms(timings.totalMs)} round trip` : `${ms(timings.totalMs)}`;
  return `${total} (${parts.join(', ')})`;
}

function ms(value: number): string {
  return value < 10 ? `${value.toFixed(1)} ms` : `${Math.round(value)} ms`;
}

/** Draws RGBA pixels into a canvas of the same size (CSS magnifies it with `image-rendering: pixelated`). */
function drawPixels(canvas: HTMLCanvasElement, image: { width: number; height: number; data: ArrayLike<number> }): void {
  canvas.width = image.width;
  canvas.height = image.height;
  const data = new ImageData(new Uint8ClampedArray(image.data as ArrayLike<number>), image.width, image.height);
  canvas.getContext('2d')!.putImageData(data, 0, 0);
}
