/**
 * Correct and improve, for every script (digits, 中文, taught ones): when an answer is wrong the user gives the right
 * label (a list of the classes; a text field for 中文's 3,755), the pad's ink joins that script's personal dataset
 * (IndexedDB, ./store.ts), and "Improve" fine-tunes the script's current model on it in the browser
 * (`ScriptTrainer.train(dataset, { startFrom })`: the model the page holds, or the shipped one by name), shows the
 * top-1 accuracy on the user's own samples before and after (each model in a recognition worker, `BrowserEngine`,
 * so the page stays responsive), and keeps the improved model (the page then uses it). "Reset to the original model"
 * forgets it.
 *
 * A taught script is improved on its drawn samples and the corrected ones together (so it does not forget what it
 * learned); a shipped script on the corrected ones, starting from the shipped model.
 *
 * State for tests: `<body data-personal>` (corrected samples of the current script) and `data-improving`
 * (`running`, `done`, `failed`).
 */
import { inkToJson, type SizedInk } from '../../../src/core/ink.ts';
import { emptyInkDataset, sampleInk, type InkDataset } from '../../../src/data/inkDataset.ts';
import { BrowserEngine } from '../recognition/browserEngine.ts';
import { isShippedScript, type Script } from '../recognition/types.ts';
import type { ModelFiles, ScriptTrainer } from '../training/types.ts';
import { deleteModel, getModel, getPersonal, getScript, putModel, putPersonal } from './store.ts';
import { taughtName } from './teachPanel.ts';

/** Scripts with more classes than this get a text field instead of a list. */
const MAX_LISTED_CLASSES = 200;

/** What the improve panel needs from the page. */
export interface ImproveHost {
  /** The page's current script. */
  script(): Script;
  /** The ink whose answer is shown, or null. */
  shownInk(): SizedInk | null;
  /** The model the page holds for a script (taught, or improved), if any; else the script's shipped model runs. */
  heldModel(script: Script): ModelFiles | undefined;
  trainer(): Promise<ScriptTrainer>;
  /** Absolute URL of TF.js's .wasm folder. */
  wasmUrl: string;
  /** Absolute URL of a shipped script's model folder. */
  modelUrl(script: Script): string;
  /** The script's model changed (improved) or went back to the original (null: reload the original). */
  modelChanged(script: Script, model: ModelFiles | null): void;
  announce(text: string): void;
}

function element<T extends HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (!found) throw new Error(`index.html lacks #${id}`);
  return found as T;
}

/**
 * Top-1 accuracy of a model on a dataset's samples, each sample's ink recognized as the pad's is, in a recognition
 * worker (`BrowserEngine`, disposed after); null when the dataset has no sample.
 * @param model a model the page holds, or the URL of a shipped model folder.
 */
export async function inkAccuracy(model: ModelFiles | string, dataset: InkDataset, wasmUrl: string): Promise<number | null> {
  if (dataset.samples.length === 0) return null;
  const engine = new BrowserEngine(model, wasmUrl);
  const unused = document.createElement('canvas'); // the engine reads the ink, not the canvas
  try {
    let correct = 0;
    for (const sample of dataset.samples) {
      const result = await engine.recognize(unused, sampleInk(sample)).catch(() => null);
      if (result?.candidates[0]?.label === sample.label) correct++;
    }
    return correct / dataset.samples.length;
  } finally {
    engine.dispose();
  }
}

/** The "Wrong? Pick the right one" row, the count of corrected samples, Improve and Reset (index.html `#improve`). */
export class ImprovePanel {
  private readonly host: ImproveHost;
  /** The classes offered (the rejection class left out), and all the model's classes (the dataset's). */
  private classes: string[] = [];
  private allClasses: string[] = [];
  private rejectClass: string | undefined;
  private personal: InkDataset | null = null;
  private running = false;

  constructor(host: ImproveHost) {
    this.host = host;
    element('correct-add').addEventListener('click', () => void this.addCorrection());
    element('improve-button').addEventListener('click', () => void this.improve());
    element('reset-model').addEventListener('click', () => void this.reset());
    element('correct-text').addEventListener('keydown', (event) => {
      if ((event as KeyboardEvent).key === 'Enter') {
        event.preventDefault();
        void this.addCorrection();
      }
    });
  }

  /**
   * Shows the panel for a script with these classes and its collected count. The rejection class, if any, is offered
   * last as "not a digit" (a scribble the model took for a digit is a correction too).
   */
  async setScript(script: Script, classes: string[], rejectClass?: string): Promise<void> {
    this.allClasses = classes;
    this.rejectClass = rejectClass;
    this.classes = [...classes.filter((label) => label !== rejectClass), ...(rejectClass && classes.includes(rejectClass) ? [rejectClass] : [])];
    const list = element<HTMLSelectElement>('correct-label');
    const text = element<HTMLInputElement>('correct-text');
    const listed = this.classes.length <= MAX_LISTED_CLASSES;
    list.hidden = !listed;
    text.hidden = listed;
    element('correct-label').parentElement!.querySelector('label')!.htmlFor = listed ? 'correct-label' : 'correct-text';
    if (listed) {
      list.replaceChildren(...this.classes.map((label) => new Option(label === rejectClass ? 'not a digit' : label, label)));
    }
    element('improve').hidden = false;
    this.personal = (await getPersonal(script).catch(() => undefined)) ?? null;
    const stored = await getModel(script).catch(() => undefined);
    element('reset-model').hidden = !stored?.improved;
    if (script === this.host.script()) this.renderCount();
  }

  /** Hides the panel (no model for the script yet, or drawing samples). */
  hide(): void {
    element('improve').hidden = true;
  }

  /** Preselects the label shown as the answer, so a correction is one change away. */
  showAnswer(label: string | null): void {
    const list = element<HTMLSelectElement>('correct-label');
    const shown = label ?? this.rejectClass ?? null; // a rejection is shown as label null
    if (shown !== null && this.classes.includes(shown)) list.value = shown;
  }

  private renderCount(): void {
    const count = this.personal?.samples.length ?? 0;
    document.body.dataset.personal = String(count);
    element('personal-count').textContent = count === 0
      ? 'No corrected samples yet.'
      : `${count} corrected sample${count === 1 ? '' : 's'} collected.`;
    element<HTMLButtonElement>('improve-button').disabled = count === 0 || this.running;
  }

  private async addCorrection(): Promise<void> {
    const script = this.host.script();
    const ink = this.host.shownInk();
    const result = element('improve-result');
    if (!ink || ink.strokes.length === 0) {
      result.textContent = 'Draw something first, then pick the right label.';
      return;
    }
    const listed = !element('correct-label').hidden;
    const label = listed ? element<HTMLSelectElement>('correct-label').value : element<HTMLInputElement>('correct-text').value.trim();
    if (!this.classes.includes(label)) {
      result.textContent = label === '' ? 'Type the right character first.' : `“${label}” is not one of this model's ${this.classes.length} classes.`;
      return;
    }
    const dataset = this.personal ?? emptyInkDataset(`${script}-personal`, this.allClasses);
    dataset.samples.push({ label, strokes: inkToJson(ink).strokes, writer: 'me', created: new Date().toISOString() });
    await putPersonal(script, dataset);
    this.personal = dataset;
    element<HTMLInputElement>('correct-text').value = '';
    result.textContent = `Added as “${label}”.`;
    this.host.announce(`Added as ${label}. ${dataset.samples.length} corrected samples.`);
    this.renderCount();
  }

  private async improve(): Promise<void> {
    const script = this.host.script();
    const personal = this.personal;
    if (!personal || personal.samples.length === 0 || this.running) return;
    this.running = true;
    document.body.dataset.improving = 'running';
    const result = element('improve-result');
    this.renderCount();
    try {
      const held = this.host.heldModel(script);
      if (!held && !isShippedScript(script)) throw new Error('this script has no model yet: train it first');
      const before: ModelFiles | string = held ?? this.host.modelUrl(script);
      result.textContent = 'Improving: fine-tuning the model on your samples…';
      const name = taughtName(script);
      const taught = name === null ? undefined : await getScript(name);
      const dataset: InkDataset = taught
        ? { ...taught.dataset, samples: [...taught.dataset.samples, ...personal.samples] }
        : { ...personal, classes: held?.metadata.classes ?? this.allClasses };
      const trainer = await this.host.trainer();
      const job = trainer.train(dataset, {
        startFrom: held ?? (script as 'digits' | 'hanzi'),
        onProgress: (progress) => {
          result.textContent = `Improving: ${Math.round(progress.fraction * 100)}%${progress.accuracy === null ? '' : `, accuracy ${(progress.accuracy * 100).toFixed(1)}%`}…`;
        },
      });
      const after = await job.result;
      result.textContent = 'Improved: scoring both models on your samples…';
      const oldAccuracy = await inkAccuracy(before, personal, this.host.wasmUrl);
      const newAccuracy = await inkAccuracy(after, personal, this.host.wasmUrl);
      const stored = await getModel(script);
      await putModel(script, { model: after, original: stored?.original ?? (stored ? stored.model : undefined), improved: true, saved: Date.now() });
      this.host.modelChanged(script, after);
      const percent = (value: number | null): string => (value === null ? '–' : `${(value * 100).toFixed(0)}%`);
      const count = personal.samples.length;
      result.textContent = `Improved: on your ${count} sample${count === 1 ? '' : 's'}, ${percent(oldAccuracy)} correct before, ${percent(newAccuracy)} after.`;
      result.dataset.before = String(oldAccuracy);
      result.dataset.after = String(newAccuracy);
      element('reset-model').hidden = false;
      document.body.dataset.improving = 'done';
      this.host.announce(result.textContent);
    } catch (error) {
      result.textContent = `Improve failed: ${(error as Error).message}`;
      document.body.dataset.improving = 'failed';
    } finally {
      this.running = false;
      this.renderCount();
    }
  }

  private async reset(): Promise<void> {
    const script = this.host.script();
    const stored = await getModel(script);
    if (stored?.original) {
      await putModel(script, { model: stored.original, improved: false, saved: Date.now() });
      this.host.modelChanged(script, stored.original);
    } else {
      await deleteModel(script);
      this.host.modelChanged(script, null);
    }
    element('reset-model').hidden = true;
    element('improve-result').textContent = 'Back to the original model.';
    this.host.announce('Back to the original model.');
  }
}
