/**
 * Teach mode: create a script (a name and its symbols), draw samples of each symbol on the pad with a progress view,
 * redo a bad one, see them all as a grid, train a model on them in the browser, and export, import, download or
 * delete the script. The page (main.ts) owns the pad and the script switch; this panel tells it when the list of
 * taught scripts or a script's model changes (`TeachHost`).
 *
 * Samples are `hwr-ink-dataset` samples (src/data/inkDataset.ts) of the pad's ink (`DrawingPad.ink()`), kept with the
 * script in IndexedDB (./store.ts) after every change. Thumbnails are drawn by the core's `inkImage`, the renderer
 * training uses. A symbol's optional reference picture (a file picked or an image pasted) is shown beside the pad
 * and kept in the dataset's `pictures` as a PNG data URL of at most `PICTURE_SIDE` px.
 *
 * State for tests and tools on `<body>`: `data-teach` (`create`, `collect`, `recognize`, absent outside teach mode),
 * `data-samples` (samples of the open script), `data-training` (`running`, `done`, `cancelled`, `failed`) and
 * `data-taught-model` (`none`, `usable`, `final`: the open script's model). A `teachmode` event on `document` says
 * that the pad switched between drawing samples and recognizing.
 */
import { inkImage, inkToJson } from '../../../src/core/ink.ts';
import { emptyInkDataset, parseInkDataset, readInkDataset, sampleInk, serializeInkDataset, type InkSample } from '../../../src/data/inkDataset.ts';
import type { DrawingPad } from '../pad.ts';
import type { Script } from '../recognition/types.ts';
import type { ModelFiles, ScriptTrainer, TrainingJob, TrainingProgress } from '../training/types.ts';
import { deleteScript, getModel, getScript, listScripts, putModel, putScript, type TaughtScript } from './store.ts';

/** Samples asked for per symbol unless the user says otherwise. */
export const DEFAULT_SAMPLES_PER_SYMBOL = 5;
/** Longest side of a kept reference picture, px. */
export const PICTURE_SIDE = 160;
/** Side of a sample's thumbnail, px. */
const THUMBNAIL_SIDE = 48;

/** What the panel needs from the page. */
export interface TeachHost {
  pad: DrawingPad;
  /** The trainer (H3's worker; imported on first use). */
  trainer(): Promise<ScriptTrainer>;
  /** The taught scripts changed (created, imported, deleted): rebuild the script switch, then switch to `select` if given. */
  scriptsChanged(names: string[], select?: Script): void;
  /** A taught script's model arrived (usable during training, or final) or went (null). */
  modelChanged(script: Script, model: ModelFiles | null): void;
  /** Says something to screen readers. */
  announce(text: string): void;
}

/** The page script of a taught script's name. */
export function taughtScript(name: string): Script {
  return `taught:${name}`;
}

/** The name of a taught page script (`taught:<name>`), or null for a shipped one. */
export function taughtName(script: string): string | null {
  return script.startsWith('taught:') ? script.slice('taught:'.length) : null;
}

/**
 * Class labels from what the user typed: separated by white space (so a label has none), duplicates an error.
 * @throws Error naming the duplicate, or when there is none.
 */
export function parseSymbols(text: string): string[] {
  const symbols = text.split(/\s+/u).filter((symbol) => symbol.length > 0);
  if (symbols.length === 0) throw new Error('Symbols: type at least one, separated by spaces or new lines.');
  const seen = new Set<string>();
  for (const symbol of symbols) {
    if (seen.has(symbol)) throw new Error(`Symbols: “${symbol}” is listed twice.`);
    seen.add(symbol);
  }
  return symbols;
}

function element<T extends HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (!found) throw new Error(`index.html lacks #${id}`);
  return found as T;
}

let sampleCounter = 0;

/** Seconds as `m:ss`. */
function clock(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  return `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, '0')}`;
}

/** Starts a download of `data` as `name`. */
export function download(name: string, data: BlobPart, type: string): void {
  const url = URL.createObjectURL(new Blob([data], { type }));
  const link = document.createElement('a');
  link.href = url;
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** A file name made of a script name: letters, digits, `-`, `_` and `.` kept, the rest `_`. */
function fileStem(name: string): string {
  return name.replace(/[^\p{L}\p{N}._-]+/gu, '_') || 'script';
}

/** An image file or pasted image as a PNG data URL, scaled down to at most `PICTURE_SIDE` px. */
async function pictureDataUrl(file: Blob): Promise<string> {
  const bitmap = await createImageBitmap(file);
  const scale = Math.min(1, PICTURE_SIDE / Math.max(bitmap.width, bitmap.height));
  const canvas = document.createElement('canvas');
  canvas.width = Math.max(1, Math.round(bitmap.width * scale));
  canvas.height = Math.max(1, Math.round(bitmap.height * scale));
  canvas.getContext('2d')!.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
  bitmap.close();
  return canvas.toDataURL('image/png');
}

/** The teach panel (index.html `#teach`) and the pad-side parts it drives (reference picture, Add sample). */
export class TeachPanel {
  private readonly host: TeachHost;
  private script: TaughtScript | null = null;
  /** The symbol being drawn. */
  private symbol = '';
  private job: TrainingJob | null = null;
  private collecting = true;
  private hasModel: 'none' | 'usable' | 'final' = 'none';

  constructor(host: TeachHost) {
    this.host = host;
    element<HTMLFormElement>('teach-create').addEventListener('submit', (event) => {
      event.preventDefault();
      void this.create();
    });
    element('teach-create-cancel').addEventListener('click', () => this.host.scriptsChanged(this.names));
    element<HTMLInputElement>('teach-import').addEventListener('change', (event) => {
      const input = event.target as HTMLInputElement;
      const file = input.files?.[0];
      input.value = '';
      if (file) void this.importFile(file);
    });
    element('teach-add').addEventListener('click', () => void this.addSample());
    element('teach-train').addEventListener('click', () => void this.train());
    element('teach-cancel').addEventListener('click', () => this.job?.cancel());
    element('teach-export').addEventListener('click', () => this.exportDataset());
    element('teach-download').addEventListener('click', () => void this.downloadModel());
    element('teach-delete').addEventListener('click', () => void this.deleteOpen());
    element('teach-collect').addEventListener('click', () => this.setCollecting(true));
    element('teach-recognize').addEventListener('click', () => this.setCollecting(false));
    element<HTMLInputElement>('teach-picture').addEventListener('change', (event) => {
      const input = event.target as HTMLInputElement;
      const file = input.files?.[0];
      input.value = '';
      if (file) void this.setPicture(file);
    });
    element('teach-picture-remove').addEventListener('click', () => void this.setPicture(null));
    element('teach-grid').addEventListener('click', (event) => this.onGridClick(event));
    document.addEventListener('paste', (event) => {
      if (!this.script || !this.collecting || document.body.dataset.teach !== 'collect') return;
      const file = Array.from(event.clipboardData?.files ?? []).find((item) => item.type.startsWith('image/'));
      if (file) {
        event.preventDefault();
        void this.setPicture(file);
      }
    });
  }

  private names: string[] = [];

  /** Reads the taught scripts from IndexedDB; resolves with their names (empty when storage is unavailable). */
  async load(): Promise<string[]> {
    try {
      this.names = (await listScripts()).map((script) => script.name);
    } catch (error) {
      console.warn(`hwr: taught scripts unavailable: ${(error as Error).message}`);
      this.names = [];
    }
    return this.names;
  }

  /** The stored model of a taught script, or null. */
  async storedModel(name: string): Promise<ModelFiles | null> {
    return (await getModel(taughtScript(name)))?.model ?? null;
  }

  /** True while the pad draws samples (no recognition) rather than being recognized. */
  get isCollecting(): boolean {
    return this.script !== null && this.collecting;
  }

  /** Shows the form that creates a script (and imports one). */
  showCreate(): void {
    this.script = null;
    element('teach').hidden = false;
    element('teach-create').hidden = false;
    element('teach-script').hidden = true;
    element('teach-reference').hidden = true;
    element('teach-create-error').textContent = '';
    document.body.dataset.teach = 'create';
    element<HTMLInputElement>('teach-name').focus();
  }

  /** Hides the panel (a shipped script is chosen). */
  close(): void {
    this.script = null;
    element('teach').hidden = true;
    element('teach-reference').hidden = true;
    delete document.body.dataset.teach;
    delete document.body.dataset.samples;
    delete document.body.dataset.taughtModel;
  }

  /** Opens a taught script: its samples and, with `model`, recognition (else drawing samples). */
  async open(name: string, model: 'none' | 'final'): Promise<void> {
    const script = await getScript(name);
    if (!script) throw new Error(`no taught script named “${name}”`);
    this.script = script;
    this.hasModel = model;
    document.body.dataset.taughtModel = model;
    element('teach').hidden = false;
    element('teach-create').hidden = true;
    element('teach-script').hidden = false;
    element('teach-script-title').textContent = `Teach “${name}”`;
    this.symbol = this.nextSymbol() ?? script.dataset.classes[0]!;
    this.setCollecting(model === 'none' || this.missingSamples() > 0);
    this.render();
  }

  /** Switches between drawing samples and recognizing with the script's model (when it has one). */
  setCollecting(collecting: boolean): void {
    this.collecting = collecting || this.hasModel === 'none';
    document.body.dataset.teach = this.collecting ? 'collect' : 'recognize';
    element('teach-collect').setAttribute('aria-pressed', String(this.collecting));
    element('teach-recognize').setAttribute('aria-pressed', String(!this.collecting));
    (element<HTMLButtonElement>('teach-recognize')).disabled = this.hasModel === 'none';
    this.host.pad.clear();
    this.renderPrompt();
    document.dispatchEvent(new Event('teachmode'));
  }

  /** Adds the pad's drawing as a sample of the current symbol, clears the pad and moves to the next symbol to draw. */
  async addSample(): Promise<void> {
    const script = this.script;
    if (!script || !this.collecting) return;
    const ink = this.host.pad.ink();
    if (ink.strokes.length === 0) {
      this.setMessage('Draw the symbol on the pad first.');
      return;
    }
    const sample: InkSample = {
      label: this.symbol,
      strokes: inkToJson(ink).strokes,
      id: `${Date.now().toString(36)}-${(sampleCounter++).toString(36)}`,
      created: new Date().toISOString(),
    };
    script.dataset.samples.push(sample);
    await this.save();
    const count = this.countOf(this.symbol);
    this.host.announce(`Sample ${count} of “${this.symbol}” added.`);
    if (count >= script.samplesPerSymbol) this.symbol = this.nextSymbol() ?? this.symbol;
    this.host.pad.clear();
    this.render();
  }

  /** Brings the pad into view and gives it the keyboard (Enter adds a sample), after the form that created the script. */
  private focusPad(): void {
    const { canvas } = this.host.pad;
    canvas.scrollIntoView({ block: 'nearest' });
    canvas.focus({ preventScroll: true });
  }

  private async create(): Promise<void> {
    const errorText = element('teach-create-error');
    errorText.textContent = '';
    try {
      const name = element<HTMLInputElement>('teach-name').value.trim();
      const symbols = parseSymbols(element<HTMLTextAreaElement>('teach-symbols').value);
      const count = Math.round(Number(element<HTMLInputElement>('teach-count').value) || DEFAULT_SAMPLES_PER_SYMBOL);
      if (count < 1 || count > 100) throw new Error('Samples per symbol: between 1 and 100.');
      // The dataset format's own checks (name and labels: non-empty, at most 64 characters, no duplicate).
      const dataset = parseInkDataset(emptyInkDataset(name, symbols), 'New script');
      if (this.names.includes(name)) throw new Error(`A script named “${name}” exists already: pick another name, or delete it first.`);
      const now = Date.now();
      await putScript({ name, dataset, samplesPerSymbol: count, created: now, updated: now });
      element<HTMLFormElement>('teach-create').reset();
      await this.load();
      this.host.scriptsChanged(this.names, taughtScript(name));
      this.focusPad();
    } catch (error) {
      errorText.textContent = (error as Error).message;
    }
  }

  /** Imports a dataset file as a new script: validated whole first, so nothing is half-imported. */
  private async importFile(file: File): Promise<void> {
    const errorText = element('teach-create-error');
    errorText.textContent = '';
    document.body.dataset.importing = 'true';
    try {
      const dataset = readInkDataset(await file.text(), file.name);
      let name = dataset.script;
      for (let n = 2; this.names.includes(name); n++) name = `${dataset.script} (${n})`;
      dataset.script = name;
      const perClass = Math.max(...dataset.classes.map((label) => dataset.samples.filter((sample) => sample.label === label).length));
      const now = Date.now();
      await putScript({ name, dataset, samplesPerSymbol: Math.max(DEFAULT_SAMPLES_PER_SYMBOL, perClass), created: now, updated: now });
      await this.load();
      this.host.announce(`Imported “${name}”: ${dataset.classes.length} symbols, ${dataset.samples.length} samples.`);
      this.host.scriptsChanged(this.names, taughtScript(name));
      this.focusPad();
    } catch (error) {
      errorText.textContent = `Import failed: ${(error as Error).message}`;
      this.host.announce(errorText.textContent);
    } finally {
      delete document.body.dataset.importing;
    }
  }

  private exportDataset(): void {
    if (!this.script) return;
    download(`${fileStem(this.script.name)}.hwr-ink.json`, serializeInkDataset(this.script.dataset), 'application/json');
  }

  private async downloadModel(): Promise<void> {
    if (!this.script) return;
    const model = await this.storedModel(this.script.name);
    if (!model) return;
    const [{ zipSync }, { modelFolderFiles }] = await Promise.all([import('fflate'), import('../training/modelFiles.ts')]);
    const stem = fileStem(this.script.name);
    const files = await modelFolderFiles(model);
    const zip = zipSync(Object.fromEntries(Object.entries(files).map(([name, bytes]) => [`${stem}/${name}`, bytes])));
    download(`${stem}-model.zip`, zip, 'application/zip');
  }

  private async deleteOpen(): Promise<void> {
    const script = this.script;
    if (!script) return;
    if (!window.confirm(`Delete the script “${script.name}”, its ${script.dataset.samples.length} samples and its model?`)) return;
    this.job?.cancel();
    await deleteScript(script.name);
    await this.load();
    this.host.modelChanged(taughtScript(script.name), null);
    this.host.announce(`Deleted “${script.name}”.`);
    this.host.scriptsChanged(this.names, 'digits');
  }

  private async setPicture(file: Blob | null): Promise<void> {
    const script = this.script;
    if (!script) return;
    const pictures = { ...(script.dataset.pictures ?? {}) };
    if (file) {
      try {
        pictures[this.symbol] = await pictureDataUrl(file);
      } catch {
        this.setMessage('That file is not a picture this browser can read.');
        return;
      }
    } else {
      delete pictures[this.symbol];
    }
    script.dataset.pictures = pictures;
    await this.save();
    this.render();
  }

  private async train(): Promise<void> {
    const script = this.script;
    if (!script || this.job) return;
    const scriptKey = taughtScript(script.name);
    const box = element('teach-training');
    box.hidden = false;
    document.body.dataset.training = 'running';
    element<HTMLButtonElement>('teach-train').disabled = true;
    this.showProgress({ phase: 'synthesis', fraction: 0, epoch: 0, epochs: 0, loss: null, accuracy: null, elapsedMs: 0, usable: false });
    try {
      const trainer = await this.host.trainer();
      const job = trainer.train(script.dataset, {
        onProgress: (progress) => this.showProgress(progress),
        onUsable: (model) => {
          this.host.modelChanged(scriptKey, model);
          if (this.script?.name === script.name) {
            // Recognizes at once: the pad switches to recognition while fine-tuning goes on.
            this.hasModel = this.hasModel === 'final' ? 'final' : 'usable';
            document.body.dataset.taughtModel = this.hasModel;
            this.setCollecting(false);
          }
          this.host.announce(`“${script.name}” recognizes now; training goes on.`);
        },
      });
      this.job = job;
      const model = await job.result;
      await putModel(scriptKey, { model, improved: false, saved: Date.now() });
      this.host.modelChanged(scriptKey, model);
      if (this.script?.name === script.name) {
        this.hasModel = 'final';
        document.body.dataset.taughtModel = 'final';
        if (this.collecting) this.setCollecting(false);
      }
      document.body.dataset.training = 'done';
      this.host.announce(`Training “${script.name}” finished.`);
    } catch (error) {
      const cancelled = (error as { code?: string }).code === 'CANCELLED';
      document.body.dataset.training = cancelled ? 'cancelled' : 'failed';
      element('teach-training-text').textContent = cancelled ? 'Training cancelled.' : `Training failed: ${(error as Error).message}`;
      this.host.announce(element('teach-training-text').textContent ?? '');
    } finally {
      this.job = null;
      element<HTMLButtonElement>('teach-train').disabled = false;
      element<HTMLButtonElement>('teach-cancel').disabled = true;
      this.render();
    }
  }

  private showProgress(progress: TrainingProgress): void {
    element<HTMLButtonElement>('teach-cancel').disabled = progress.phase === 'done' || document.body.dataset.training !== 'running';
    const bar = element<HTMLProgressElement>('teach-training-bar');
    bar.value = progress.fraction;
    const phase = { synthesis: 'Making samples', head: 'Training the classifier', 'fine-tune': 'Fine-tuning', done: 'Done' }[progress.phase];
    const parts = [phase];
    if (progress.epochs > 0) parts.push(`epoch ${progress.epoch} of ${progress.epochs}`);
    if (progress.loss !== null) parts.push(`loss ${progress.loss.toFixed(3)}`);
    if (progress.accuracy !== null) parts.push(`accuracy ${(progress.accuracy * 100).toFixed(1)}%`);
    parts.push(clock(progress.elapsedMs));
    element('teach-training-text').textContent = parts.join(' · ');
    const box = element('teach-training');
    box.dataset.phase = progress.phase;
    box.dataset.fraction = progress.fraction.toFixed(3);
  }

  private onGridClick(event: Event): void {
    const target = event.target as HTMLElement;
    const remove = target.closest<HTMLButtonElement>('button[data-sample]');
    if (remove && this.script) {
      const id = remove.dataset.sample!;
      const index = this.script.dataset.samples.findIndex((sample, i) => (sample.id ?? String(i)) === id);
      if (index >= 0) {
        const [removed] = this.script.dataset.samples.splice(index, 1);
        this.symbol = removed!.label;
        void this.save().then(() => {
          this.host.announce(`Sample of “${removed!.label}” deleted: draw it again.`);
          this.setCollecting(true);
          this.render();
        });
      }
      return;
    }
    const pick = target.closest<HTMLButtonElement>('button[data-symbol]');
    if (pick) {
      this.symbol = pick.dataset.symbol!;
      this.setCollecting(true);
      this.render();
      this.focusPad();
    }
  }

  private async save(): Promise<void> {
    const script = this.script!;
    script.updated = Date.now();
    await putScript(script);
  }

  private countOf(label: string): number {
    return this.script!.dataset.samples.filter((sample) => sample.label === label).length;
  }

  /** The first symbol, from the current one on, that lacks samples; null when every symbol has enough. */
  private nextSymbol(): string | null {
    const script = this.script!;
    const { classes } = script.dataset;
    const start = Math.max(0, classes.indexOf(this.symbol));
    for (let i = 0; i < classes.length; i++) {
      const label = classes[(start + i) % classes.length]!;
      if (this.countOf(label) < script.samplesPerSymbol) return label;
    }
    return null;
  }

  private missingSamples(): number {
    const script = this.script!;
    return script.dataset.classes.reduce((sum, label) => sum + Math.max(0, script.samplesPerSymbol - this.countOf(label)), 0);
  }

  private setMessage(text: string): void {
    element('teach-message').textContent = text;
  }

  private renderPrompt(): void {
    const script = this.script;
    if (!script) return;
    const prompt = element('teach-prompt');
    if (!this.collecting) {
      prompt.textContent = `Write any symbol of “${script.name}” on the pad.`;
    } else {
      const count = this.countOf(this.symbol);
      const total = script.dataset.classes.length * script.samplesPerSymbol;
      prompt.textContent = count < script.samplesPerSymbol
        ? `Draw “${this.symbol}”: sample ${count + 1} of ${script.samplesPerSymbol}`
        : this.missingSamples() === 0
          ? `All ${total} samples drawn: Train, or draw more of “${this.symbol}” (pick another symbol below).`
          : `Draw “${this.symbol}” again: sample ${count + 1} (${script.samplesPerSymbol} asked for)`;
    }
    prompt.dataset.symbol = this.symbol;
    const picture = script.dataset.pictures?.[this.symbol];
    const reference = element('teach-reference');
    reference.hidden = !this.collecting;
    const image = element<HTMLImageElement>('teach-reference-image');
    if (picture) image.src = picture;
    else image.removeAttribute('src');
    image.hidden = !picture;
    element('teach-reference-symbol').textContent = this.symbol;
    element('teach-picture-remove').hidden = !picture;
    element('teach-picture-label').textContent = picture ? 'Change picture…' : 'Add a picture to copy…';
  }

  /** Redraws the prompt, the progress and the grid of samples. */
  private render(): void {
    const script = this.script;
    if (!script) return;
    this.setMessage('');
    const total = script.dataset.classes.length * script.samplesPerSymbol;
    const drawn = total - this.missingSamples();
    const bar = element<HTMLProgressElement>('teach-progress');
    bar.max = total;
    bar.value = drawn;
    element('teach-progress-text').textContent = `${drawn} of ${total} samples`;
    document.body.dataset.samples = String(script.dataset.samples.length);
    const ready = this.missingSamples() === 0;
    const train = element<HTMLButtonElement>('teach-train');
    train.disabled = this.job !== null || script.dataset.samples.length === 0;
    train.textContent = this.hasModel === 'none' ? 'Train' : 'Train again';
    element('teach-train-note').textContent = ready ? '' : `Draw ${this.missingSamples()} more samples first for the best model (or train with what you have).`;
    (element<HTMLButtonElement>('teach-download')).disabled = this.hasModel !== 'final';
    this.renderPrompt();
    this.renderGrid();
  }

  private renderGrid(): void {
    const script = this.script!;
    const rows = script.dataset.classes.map((label) => {
      const row = document.createElement('li');
      row.className = 'symbol-row';
      row.dataset.label = label;
      row.classList.toggle('current', label === this.symbol && this.collecting);
      const samples = script.dataset.samples.map((sample, index) => ({ sample, index })).filter(({ sample }) => sample.label === label);
      const pick = document.createElement('button');
      pick.type = 'button';
      pick.className = 'symbol-pick';
      pick.dataset.symbol = label;
      pick.setAttribute('aria-label', `Draw samples of “${label}”`);
      const name = document.createElement('span');
      name.className = 'symbol-name';
      name.textContent = label;
      const count = document.createElement('span');
      count.className = 'symbol-count';
      count.textContent = `${samples.length} of ${script.samplesPerSymbol}`;
      pick.append(name, count);
      const thumbs = document.createElement('ol');
      thumbs.className = 'thumbs';
      thumbs.setAttribute('aria-label', `Samples of “${label}”`);
      samples.forEach(({ sample, index }, position) => {
        const item = document.createElement('li');
        const canvas = thumbnail(sample);
        canvas.setAttribute('role', 'img');
        canvas.setAttribute('aria-label', `Sample ${position + 1} of “${label}”`);
        const remove = document.createElement('button');
        remove.type = 'button';
        remove.className = 'thumb-remove';
        remove.dataset.sample = typeof sample.id === 'string' ? sample.id : String(index);
        remove.textContent = '×';
        remove.setAttribute('aria-label', `Delete sample ${position + 1} of “${label}” and draw it again`);
        remove.title = 'Delete and draw again';
        item.append(canvas, remove);
        thumbs.append(item);
      });
      row.append(pick, thumbs);
      return row;
    });
    element('teach-grid').replaceChildren(...rows);
  }
}

/** Thumbnails already drawn, by sample: the grid is redrawn after every change, the pictures only once. */
const thumbnails = new WeakMap<InkSample, ImageData | null>();

/** A sample drawn by the core's `inkImage` (black on white) on a small canvas. */
function thumbnail(sample: InkSample): HTMLCanvasElement {
  const canvas = document.createElement('canvas');
  canvas.width = THUMBNAIL_SIDE;
  canvas.height = THUMBNAIL_SIDE;
  canvas.className = 'thumb';
  if (!thumbnails.has(sample)) {
    try {
      const image = inkImage(sampleInk(sample), { size: THUMBNAIL_SIDE, penWidth: 0.1 });
      thumbnails.set(sample, new ImageData(new Uint8ClampedArray(image.data), image.width, image.height));
    } catch {
      thumbnails.set(sample, null); // a sample without ink (imported): an empty square
    }
  }
  const image = thumbnails.get(sample);
  if (image) canvas.getContext('2d')!.putImageData(image, 0, 0);
  return canvas;
}
