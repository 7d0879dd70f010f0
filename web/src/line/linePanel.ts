/**
 * Line mode: a wide writing area where a whole line is written (a number, a date, a code, a word, a short Chinese
 * phrase) and read as it is written, by the core's `readLine` (src/core/line/readLine.ts: over-segmentation of the
 * ink into stroke groups, candidate characters classified by the script's model, a beam search over the cuts).
 *
 * - The writing area is a `DrawingPad` (../pad.ts) with `aspect` `LINE_ASPECT`, recording ink with `t`.
 * - After each stroke (debounced by `READ_DELAY_MS`), on Enter and when the pattern, the script or the mode changes,
 *   the line is read by the current engine (`RecognitionEngine.read`: the recognition worker for the in-browser
 *   engines, `POST api/read` for the server). At most one read is in flight; requests meanwhile collapse into one
 *   rerun with the latest ink, and an answer for ink that has since changed is dropped.
 * - Each character's box is drawn over the ink (in %, from the boxes in ink units), and the characters stand under
 *   their boxes as buttons: choosing one lists its alternatives with their probabilities, and picking one replaces
 *   the character (kept across re-reads while the character is made of the same strokes). Rejected characters show as
 *   a red `?` (U+FFFD in the text).
 * - The text (with picks), the confidence, Copy (navigator.clipboard, else a selection and `execCommand('copy')`),
 *   Undo, Clear, and an optional pattern (digits only, a date, a time, or any regular expression) passed to
 *   `readLine` as `pattern`.
 *
 * State for tests and tools, on the panel's element (`<section data-testid="line">`): `data-drawing` (bumped at every
 * change of the ink), `data-read` (the `data-drawing` whose reading is shown), `data-busy` while reading,
 * `data-reads` (finished reads, shown or failed).
 */
import { REJECTED_CHARACTER, type LineCharacter, type LineReading } from '../../../src/core/line/types.ts';
import { formatProbability } from '../../../src/core/probabilityText.ts';
import { DrawingPad, type PadGuide } from '../pad.ts';
import type { LineReadOptions } from '../recognition/protocol.ts';
import type { RecognitionEngine } from '../recognition/types.ts';

/** Width / height of the writing area (and of its ink field: `PAD_INK_SIZE * LINE_ASPECT` x `PAD_INK_SIZE`). */
export const LINE_ASPECT = 4;

/** The same on a screen narrower than 600 px (a phone held upright), where 4:1 would leave too little height to write in. */
export const NARROW_LINE_ASPECT = 2.5;

/** Quiet time after a stroke before reading, in ms: long enough to start the next stroke of a "4" or a 字. */
export const READ_DELAY_MS = 450;

/** Alternatives asked for per character (the model's rejection class, if among them, is not offered). */
export const ALTERNATIVES = 8;

/** Patterns offered in the "Expect" menu (`value` is the regular expression; '' reads anything). */
export const PATTERN_PRESETS: ReadonlyArray<{ value: string; text: string }> = [
  { value: '', text: 'anything' },
  { value: '\\d+', text: 'digits only' },
  { value: '\\d{4}-\\d{2}-\\d{2}', text: 'a date (2024-05-31)' },
  { value: '\\d{1,2}:\\d{2}', text: 'a time (9:30)' },
  { value: '\\d{3}-\\d{4}', text: 'a phone number (555-0123)' },
];

/** The elements of the panel (all in index.html). */
export interface LinePanelElements {
  /** `<section data-testid="line">`: carries the state attributes. */
  panel: HTMLElement;
  /** The writing area (`data-testid="line-pad"`). */
  canvas: HTMLCanvasElement;
  /** Layer over the canvas for the characters' boxes. */
  boxes: HTMLElement;
  /** `<ol>` of the characters as buttons, each under its box. */
  characters: HTMLOListElement;
  /** The text as read (with picks). */
  text: HTMLElement;
  /** The confidence, e.g. "93.1%". */
  confidence: HTMLElement;
  /** The alternatives of the chosen character: a caption and an `<ol>` of buttons. */
  alternatives: HTMLElement;
  alternativesCaption: HTMLElement;
  alternativesList: HTMLOListElement;
  status: HTMLElement;
  timing: HTMLElement;
  copy: HTMLButtonElement;
  /** Reads now (also Enter). */
  read: HTMLButtonElement;
  undo: HTMLButtonElement;
  clear: HTMLButtonElement;
  /** The "Expect" menu (`PATTERN_PRESETS`, and "a pattern…"). */
  preset: HTMLSelectElement;
  /** The pattern field (a regular expression; empty: none). */
  pattern: HTMLInputElement;
  /** `aria-live` region. */
  announcer: HTMLElement;
}

/** What the panel asks the page. */
export interface LinePanelHost {
  /** The engine of the current script and mode. */
  engine(): RecognitionEngine;
  /** What to tell the user while the current engine's model loads, or null when it is ready. */
  loading(): string | null;
  /** The current model's rejection class (e.g. `none`), never offered as an alternative; undefined when it has none. */
  rejectClass(): string | undefined;
}

/** A character as shown: the reading's, with the user's pick if any. */
interface ShownCharacter {
  character: LineCharacter;
  /** The user's pick, or null. */
  picked: string | null;
}

/** The text a character stands for: the pick, its label, or U+FFFD when rejected. */
function shownText(shown: ShownCharacter): string {
  return shown.picked ?? shown.character.text ?? REJECTED_CHARACTER;
}

/** Which strokes (or, without strokes, where) a character is: the key its pick is kept under across re-reads. */
function characterKey(character: LineCharacter): string {
  if (character.strokes && character.strokes.length > 0) return `s${character.strokes.join(',')}`;
  const { x, y, width, height } = character.box;
  return `b${[x, y, width, height].map((value) => Math.round(value)).join(',')}`;
}

/**
 * Line mode's panel: the writing area, the reading, the alternatives, Copy, Clear and the pattern.
 *
 * Events (an `EventTarget`): `read` (a `CustomEvent<LineReading>`) after a reading is shown; `pick` after the user
 * picked an alternative.
 */
export class LinePanel extends EventTarget {
  readonly pad: DrawingPad;
  private readonly elements: LinePanelElements;
  private readonly host: LinePanelHost;
  private shown: ShownCharacter[] = [];
  /** The ink's size when the shown reading was asked for (boxes are in its units). */
  private inkSize = { width: 1, height: 1 };
  private reading: LineReading | null = null;
  /** Picks by `characterKey`. */
  private readonly picks = new Map<string, string>();
  /** Index of the character whose alternatives are open, or -1. */
  private open = -1;
  private drawingVersion = 0;
  private reads = 0;
  private running = false;
  private rerun = false;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private active = false;

  constructor(elements: LinePanelElements, host: LinePanelHost) {
    super();
    this.elements = elements;
    this.host = host;
    // Phones get a taller area (2.5:1); the CSS aspect ratio follows the pad's, so the ink keeps its proportions.
    const aspect = window.matchMedia('(max-width: 599px)').matches ? NARROW_LINE_ASPECT : LINE_ASPECT;
    elements.canvas.style.aspectRatio = `${aspect} / 1`;
    this.pad = new DrawingPad(elements.canvas, { aspect, lineWidth: 0.03, guide: 'baseline' });
    this.pad.addEventListener('strokestart', () => {
      clearTimeout(this.timer);
      this.closeAlternatives();
    });
    this.pad.addEventListener('change', (event) => this.inkChanged((event as CustomEvent<string>).detail));
    elements.characters.addEventListener('click', (event) => {
      const button = (event.target as HTMLElement).closest<HTMLButtonElement>('button[data-index]');
      if (button) this.toggleAlternatives(Number(button.dataset.index));
    });
    elements.characters.addEventListener('pointerover', (event) => {
      const button = (event.target as HTMLElement).closest<HTMLButtonElement>('button[data-index]');
      this.highlight(button ? Number(button.dataset.index) : -1);
    });
    elements.characters.addEventListener('pointerleave', () => this.highlight(-1));
    elements.characters.addEventListener('focusin', (event) => {
      const button = (event.target as HTMLElement).closest<HTMLButtonElement>('button[data-index]');
      this.highlight(button ? Number(button.dataset.index) : -1);
    });
    elements.characters.addEventListener('focusout', () => this.highlight(-1));
    elements.alternativesList.addEventListener('click', (event) => {
      const button = (event.target as HTMLElement).closest<HTMLButtonElement>('button[data-label]');
      if (button) this.pick(this.open, button.dataset.label!);
    });
    elements.alternatives.addEventListener('keydown', (event) => {
      if (event.key !== 'Escape') return;
      event.preventDefault();
      event.stopPropagation();
      const index = this.open;
      this.closeAlternatives();
      this.focusCharacter(index);
    });
    elements.copy.addEventListener('click', () => void this.copy());
    elements.read.addEventListener('click', () => void this.readNow());
    elements.undo.addEventListener('click', () => this.pad.undo());
    elements.clear.addEventListener('click', () => this.pad.clear());
    elements.preset.replaceChildren(
      ...PATTERN_PRESETS.map(({ value, text }) => new Option(text, value)),
      new Option('a pattern…', 'custom'),
    );
    elements.preset.addEventListener('change', () => {
      if (elements.preset.value !== 'custom') elements.pattern.value = elements.preset.value;
      elements.pattern.hidden = elements.preset.value !== 'custom' && elements.pattern.value === '';
      if (elements.preset.value === 'custom') elements.pattern.focus();
      this.optionsChanged();
    });
    elements.pattern.addEventListener('change', () => {
      const preset = PATTERN_PRESETS.find((option) => option.value === elements.pattern.value);
      elements.preset.value = preset ? preset.value : 'custom';
      this.optionsChanged();
    });
    this.render();
  }

  /** The text as shown: the characters (with picks), a space before those with `spaceBefore`, U+FFFD for a rejected one. */
  get text(): string {
    return this.shown.map((shown) => `${shown.character.spaceBefore ? ' ' : ''}${shownText(shown)}`).join('');
  }

  /** Shows or hides the panel's reading (the page's view switch); reads the ink again when shown. */
  setActive(active: boolean): void {
    this.active = active;
    clearTimeout(this.timer);
    this.closeAlternatives();
    if (active) this.engineChanged();
  }

  /** Restyles the pen (thinner for 中文) and clears the line: the script changed. */
  setScript(options: { lineWidth: number; guide?: PadGuide }): void {
    this.pad.configure({ lineWidth: options.lineWidth, guide: options.guide ?? 'baseline' });
    if (!this.pad.isEmpty) this.pad.clear();
    this.setStatus('', 'info');
  }

  /** The engine or its model changed (mode switch, model loaded): reads the ink again, if any. */
  engineChanged(): void {
    if (!this.active) return;
    if (this.pad.isEmpty) this.setStatus(this.host.loading() ?? '', this.host.loading() ? 'busy' : 'info');
    else void this.readNow();
  }

  /** Handles the page's keys while Line mode is shown: Enter reads, Escape clears, Ctrl+Z undoes. Returns true when handled. */
  handleKey(event: KeyboardEvent, inTextField: boolean): boolean {
    const target = event.target as HTMLElement | null;
    const ownsKeys = target !== null && target.closest('button, select, input, textarea, a[href]') !== null;
    if (event.key === 'Enter' && !ownsKeys && !event.repeat) {
      void this.readNow();
      return true;
    }
    if (event.key === 'Escape' && !(target instanceof HTMLSelectElement)) {
      if (this.open >= 0) this.closeAlternatives();
      else this.pad.clear();
      return true;
    }
    if ((event.ctrlKey || event.metaKey) && !event.shiftKey && event.key.toLowerCase() === 'z' && !inTextField) {
      this.pad.undo();
      return true;
    }
    return false;
  }

  /** Reads the ink now with the current engine; see the module docstring for the scheduling. */
  async readNow(): Promise<void> {
    clearTimeout(this.timer);
    if (this.pad.isEmpty) {
      this.show(null);
      return;
    }
    if (this.running) {
      this.rerun = true;
      return;
    }
    this.running = true;
    const { panel } = this.elements;
    panel.dataset.busy = 'true';
    try {
      do {
        this.rerun = false;
        const version = this.drawingVersion;
        const engine = this.host.engine();
        const options = this.options();
        const ink = this.pad.ink();
        const loading = this.host.loading();
        if (loading) this.setStatus(loading, 'busy');
        const current = (): boolean => version === this.drawingVersion && engine === this.host.engine() && this.sameOptions(options);
        try {
          const answer = await engine.read(ink, options);
          if (current()) {
            this.inkSize = { width: ink.width, height: ink.height };
            this.show(answer.reading);
            this.showTiming(answer.mode, answer.roundTripMs, answer.reading);
            panel.dataset.read = String(version);
          }
        } catch (error) {
          if (current()) {
            this.show(null);
            this.showError(error);
            panel.dataset.read = String(version);
          }
        }
        panel.dataset.reads = String(++this.reads);
      } while (this.rerun && !this.pad.isEmpty);
    } finally {
      this.running = false;
      delete panel.dataset.busy;
    }
  }

  /** The options for `readLine`: `ALTERNATIVES` alternatives per character, and the pattern, if any. */
  private options(): LineReadOptions {
    const pattern = this.elements.pattern.value.trim();
    return pattern === '' ? { topK: ALTERNATIVES } : { topK: ALTERNATIVES, pattern };
  }

  private sameOptions(options: LineReadOptions): boolean {
    return (options.pattern ?? '') === (this.options().pattern ?? '');
  }

  private optionsChanged(): void {
    if (!this.pad.isEmpty) void this.readNow();
  }

  private inkChanged(reason: string): void {
    this.elements.panel.dataset.drawing = String(++this.drawingVersion);
    if (this.pad.isEmpty) {
      clearTimeout(this.timer);
      this.picks.clear();
      this.show(null);
      this.setStatus('', 'info');
      this.elements.timing.textContent = '';
      this.elements.panel.dataset.read = String(this.drawingVersion);
      if (reason === 'clear') this.elements.announcer.textContent = 'Line cleared.';
      return;
    }
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.readNow(), READ_DELAY_MS);
  }

  /** Shows a reading (null: none), with the picks that still apply. */
  private show(reading: LineReading | null): void {
    this.reading = reading;
    this.closeAlternatives();
    this.shown = (reading?.characters ?? []).map((character) => {
      const picked = this.picks.get(characterKey(character)) ?? null;
      return { character, picked: picked === character.text ? null : picked };
    });
    this.render();
    if (reading) {
      const constraint = reading.constraintMet === false
        ? 'Nothing matching the pattern was found: the best reading without it is shown.'
        : '';
      this.setStatus(constraint, 'info');
      this.elements.announcer.textContent = reading.text === '' ? 'Nothing read.' : `Read ${this.text}.`;
      this.dispatchEvent(new CustomEvent<LineReading>('read', { detail: reading }));
    }
  }

  /** Draws the boxes, the characters, the text and the confidence from `shown`. */
  private render(): void {
    const { boxes, characters, text, confidence, panel } = this.elements;
    const { width, height } = this.inkSize;
    const percent = (value: number, of: number): string => `${((value / of) * 100).toFixed(3)}%`;
    boxes.replaceChildren(...this.shown.map((shown, index) => {
      const box = document.createElement('div');
      box.className = 'line-box';
      box.dataset.index = String(index);
      const { x, y, width: w, height: h } = shown.character.box;
      Object.assign(box.style, { left: percent(x, width), top: percent(y, height), width: percent(w, width), height: percent(h, height) });
      this.styleByState(box, shown);
      return box;
    }));
    characters.replaceChildren(...this.shown.map((shown, index) => {
      const item = document.createElement('li');
      const { x, width: w } = shown.character.box;
      item.style.left = percent(x + w / 2, width);
      const button = document.createElement('button');
      button.type = 'button';
      button.className = 'line-char';
      button.dataset.index = String(index);
      button.dataset.text = shownText(shown);
      button.textContent = shown.character.text === null && shown.picked === null ? '?' : shownText(shown);
      button.setAttribute('aria-expanded', 'false');
      button.setAttribute('aria-controls', this.elements.alternatives.id);
      button.setAttribute('aria-label', this.describe(shown, index));
      this.styleByState(button, shown);
      item.append(button);
      return item;
    }));
    this.spreadCharacters();
    text.replaceChildren(...this.shown.flatMap((shown) => {
      const parts: Node[] = [];
      if (shown.character.spaceBefore) parts.push(document.createTextNode(' '));
      if (shown.character.text === null && shown.picked === null) {
        const mark = document.createElement('mark');
        mark.className = 'rejected';
        mark.title = shown.character.reason ?? 'not recognized';
        mark.textContent = REJECTED_CHARACTER;
        parts.push(mark);
      } else parts.push(document.createTextNode(shownText(shown)));
      return parts;
    }));
    text.dataset.text = this.text;
    const picked = this.shown.filter((shown) => shown.picked !== null).length;
    confidence.textContent = this.reading ? formatProbability(this.reading.confidence, 1) : '–';
    confidence.dataset.confidence = this.reading ? this.reading.confidence.toFixed(6) : '';
    confidence.title = picked > 0 ? `the reader's confidence; ${picked} character${picked === 1 ? '' : 's'} corrected by you` : '';
    panel.dataset.characters = String(this.shown.length);
    this.elements.copy.disabled = this.shown.length === 0;
  }

  /**
   * Moves the characters' buttons apart where they would overlap (narrow characters, touching boxes): a sweep left to
   * right pushes each at least its neighbour's width away, one right to left pulls them back inside the row.
   */
  private spreadCharacters(): void {
    const list = this.elements.characters;
    const width = list.clientWidth;
    const items = Array.from(list.children) as HTMLElement[];
    if (width === 0 || items.length === 0) return;
    const gap = 4;
    const sizes = items.map((item) => item.offsetWidth);
    const centres = items.map((item) => (parseFloat(item.style.left) / 100) * width);
    for (let i = 1; i < items.length; i++) {
      centres[i] = Math.max(centres[i]!, centres[i - 1]! + (sizes[i - 1]! + sizes[i]!) / 2 + gap);
    }
    centres[items.length - 1] = Math.min(centres[items.length - 1]!, width - sizes[items.length - 1]! / 2);
    for (let i = items.length - 2; i >= 0; i--) {
      centres[i] = Math.min(centres[i]!, centres[i + 1]! - (sizes[i]! + sizes[i + 1]!) / 2 - gap);
    }
    items.forEach((item, i) => {
      item.style.left = `${Math.max(sizes[i]! / 2, centres[i]!)}px`;
    });
  }

  /** Marks an element as rejected, picked or unsure (probability below 1/2). */
  private styleByState(element: HTMLElement, shown: ShownCharacter): void {
    element.classList.toggle('rejected', shown.character.text === null && shown.picked === null);
    element.classList.toggle('picked', shown.picked !== null);
    element.classList.toggle('unsure', shown.picked === null && shown.character.text !== null && shown.character.probability < 0.5);
  }

  private describe(shown: ShownCharacter, index: number): string {
    const { character } = shown;
    const what = shown.picked !== null
      ? `${shown.picked}, your pick`
      : character.text === null
        ? `not recognized (${character.reason ?? 'rejected'})`
        : `${character.text}, ${formatProbability(character.probability, 1)}`;
    return `Character ${index + 1} of ${this.shown.length}: ${what}. Show its alternatives.`;
  }

  private highlight(index: number): void {
    for (const box of this.elements.boxes.children) {
      (box as HTMLElement).classList.toggle('hover', Number((box as HTMLElement).dataset.index) === index);
    }
  }

  private toggleAlternatives(index: number): void {
    if (this.open === index) {
      this.closeAlternatives();
      return;
    }
    this.openAlternatives(index);
  }

  /** Lists the alternatives of character `index` (most probable first, with probabilities); the current one pressed. */
  private openAlternatives(index: number): void {
    const shown = this.shown[index];
    if (!shown) return;
    this.open = index;
    const { alternatives, alternativesCaption, alternativesList, characters, boxes } = this.elements;
    const current = shownText(shown);
    alternativesCaption.textContent = `Character ${index + 1}: pick the right one`;
    const rejectClass = this.host.rejectClass();
    const options = shown.character.alternatives.filter((option) => option.label !== rejectClass);
    if (shown.picked !== null && !options.some((option) => option.label === shown.picked)) options.unshift({ label: shown.picked, probability: Number.NaN });
    alternativesList.replaceChildren(...options.map((option) => {
      const item = document.createElement('li');
      const button = document.createElement('button');
      button.type = 'button';
      button.className = 'line-alternative';
      button.dataset.label = option.label;
      button.dataset.probability = Number.isNaN(option.probability) ? '' : option.probability.toFixed(6);
      const label = document.createElement('span');
      label.className = 'line-alternative-label';
      label.textContent = option.label;
      const probability = document.createElement('span');
      probability.className = 'line-alternative-probability';
      probability.textContent = Number.isNaN(option.probability) ? 'yours' : formatProbability(option.probability, 1);
      button.append(label, probability);
      button.setAttribute('aria-pressed', String(option.label === current));
      button.setAttribute('aria-label', `${option.label}, ${probability.textContent}`);
      item.append(button);
      return item;
    }));
    alternatives.hidden = false;
    alternatives.dataset.index = String(index);
    for (const button of characters.querySelectorAll<HTMLButtonElement>('button[data-index]')) {
      const selected = Number(button.dataset.index) === index;
      button.setAttribute('aria-expanded', String(selected));
      button.classList.toggle('selected', selected);
    }
    for (const box of boxes.children) (box as HTMLElement).classList.toggle('selected', Number((box as HTMLElement).dataset.index) === index);
    alternativesList.querySelector<HTMLButtonElement>('button[aria-pressed="true"]')?.focus() ?? alternativesList.querySelector('button')?.focus();
  }

  private closeAlternatives(): void {
    const { alternatives, characters, boxes } = this.elements;
    this.open = -1;
    alternatives.hidden = true;
    delete alternatives.dataset.index;
    for (const button of characters.querySelectorAll('button')) {
      button.setAttribute('aria-expanded', 'false');
      button.classList.remove('selected');
    }
    for (const box of boxes.children) box.classList.remove('selected');
  }

  private focusCharacter(index: number): void {
    this.elements.characters.querySelector<HTMLButtonElement>(`button[data-index="${index}"]`)?.focus();
  }

  /** Replaces character `index` with `label` (the reading's own label undoes a pick), closes the list. */
  private pick(index: number, label: string): void {
    const shown = this.shown[index];
    if (!shown) return;
    const key = characterKey(shown.character);
    if (label === shown.character.text) {
      this.picks.delete(key);
      shown.picked = null;
    } else {
      this.picks.set(key, label);
      shown.picked = label;
    }
    this.closeAlternatives();
    this.render();
    this.focusCharacter(index);
    this.elements.announcer.textContent = `Character ${index + 1} is now ${label}; the line reads ${this.text}.`;
    this.dispatchEvent(new Event('pick'));
  }

  /**
   * Copies the text to the clipboard: `navigator.clipboard` where the page may use it, else a selected off-screen
   * text field and `document.execCommand('copy')` (plain-HTTP pages, older browsers). Says whether it worked.
   */
  async copy(): Promise<boolean> {
    const { copy, announcer } = this.elements;
    const text = this.text;
    let copied = false;
    try {
      await navigator.clipboard.writeText(text);
      copied = true;
    } catch {
      const field = document.createElement('textarea');
      field.value = text;
      field.setAttribute('readonly', '');
      field.style.position = 'fixed';
      field.style.left = '-9999px';
      document.body.append(field);
      field.select();
      try {
        copied = document.execCommand('copy');
      } catch {
        copied = false;
      }
      field.remove();
      copy.focus();
    }
    copy.dataset.state = copied ? 'copied' : 'failed';
    announcer.textContent = copied ? `Copied ${Array.from(text).length} characters.` : 'Copy failed: select the text and copy it by hand.';
    setTimeout(() => delete copy.dataset.state, 1500);
    return copied;
  }

  private showTiming(mode: string, roundTripMs: number, reading: LineReading): void {
    const where = mode === 'server' ? 'on the server' : 'in the browser';
    this.elements.timing.textContent = `Read ${where} in ${Math.round(roundTripMs)} ms (${reading.characters.length} character${reading.characters.length === 1 ? '' : 's'}; reading ${Math.round(reading.timings.totalMs)} ms).`;
  }

  private showError(error: unknown): void {
    const code = (error as { code?: string }).code;
    const message = error instanceof Error ? error.message : String(error);
    if (code === 'NO_INK') this.setStatus('No ink found: write a line first.', 'info');
    else this.setStatus(message, 'error');
  }

  private setStatus(text: string, tone: 'info' | 'busy' | 'error'): void {
    const { status, announcer } = this.elements;
    status.textContent = text;
    status.dataset.tone = tone;
    status.hidden = text === '';
    if (tone === 'error') announcer.textContent = text;
  }
}
