/**
 * The handwriting pad page: wires the drawing pad, the script switch (digits, 中文), the two recognition engines
 * (in the browser, on the server), the results view, the composer (candidates and text, for 中文) and the keyboard
 * shortcuts together.
 *
 * Server mode is offered only where an hwr server answers: the page asks `api/health` once at start, and on a
 * plain static host (the `npm run build` output, no API) it disables that mode and says why. The footer names
 * the model and where it runs in the current mode.
 *
 * Scripts: the choice is remembered in localStorage (`hwr.script`). Each script's in-browser model is loaded the first
 * time it is needed (the hanzi model, ~2.7 MB, only when 中文 is chosen), with its download's progress over the pad;
 * the browser keeps its weights (Cache API, recognition/modelFetch.ts). In 中文 mode recognition runs after every
 * stroke, the candidates become buttons (also the keys 1-9 and 0), a pick appends the character to the text and
 * clears the pad; Backspace undoes the last stroke, or in an empty pad deletes the last character of the text.
 *
 * Recognition runs after each stroke (debounced for digits, at once for 中文), on Predict, on Enter, and when the
 * mode changes. At most one recognition is in flight; requests that arrive meanwhile collapse into one rerun with the
 * latest drawing, and an answer for a drawing that has since changed is dropped. Engines get the pad's ink with its
 * canvas (`DrawingPad.ink()`).
 *
 * Teach mode (./teach/): "＋ New script…" in the script switch opens the teach panel; a taught script (`taught:<name>`)
 * joins the switch, its samples are drawn on the pad ("Add sample", Enter) and, once trained, its model (kept in
 * IndexedDB) recognizes the pad like digits do, in a recognition worker (`BrowserEngine` on its `ModelFiles`); a
 * script without a model recognizes nothing and says why. Every script offers "Wrong?
 * Pick the right one" and "Improve" (./teach/improve.ts); an improved model replaces the shipped one in the browser
 * mode until "Reset to the original model".
 *
 * Line mode (./line/linePanel.ts): the view switch beside the title ("One character" | "Line", remembered in
 * localStorage `hwr.view`) shows a wide writing area instead of the pad and the results; the line is read by the
 * current script's engine in the current mode (`RecognitionEngine.read`), and the mode menu moves into its panel.
 */
import type { SizedInk } from '../../src/core/ink.ts';
import { Composer } from './composer.ts';
import { LinePanel } from './line/linePanel.ts';
import { DrawingPad, type DrawingPadOptions } from './pad.ts';
import { BrowserEngine } from './recognition/browserEngine.ts';
import type { ModelProgress } from './recognition/modelFetch.ts';
import { ServerEngine } from './recognition/serverEngine.ts';
import {
  engineChoiceFromQuery, isShippedScript, PadRecognitionError, type ModelSummary, type RecognitionEngine,
  type RecognitionMode, type Script, type ShippedScript,
} from './recognition/types.ts';
import { ResultsView } from './resultsView.ts';
import { ImprovePanel } from './teach/improve.ts';
import { listModels } from './teach/store.ts';
import { TeachPanel, taughtName, taughtScript } from './teach/teachPanel.ts';
import type { ModelFiles, ScriptTrainer, TrainRecipe } from './training/types.ts';

/**
 * Quiet time after a stroke before recognizing, in ms: for digits long enough to start the next stroke of a "4" or
 * "7"; for 中文 none, since the candidates should follow the pen (a pick clears the pad anyway).
 */
function autoRecognizeDelayMs(forScript: Script): number {
  return forScript === 'hanzi' ? 0 : 350;
}

/** Where the script choice is remembered. */
const SCRIPT_KEY = 'hwr.script';

/**
 * The pad for each script: MNIST's thick pen for digits; for characters a thinner one and a 米字格 guide; for a taught
 * script one in between (its model sees the ink, rendered at the model's own pen width, not the screen's).
 */
const PAD_STYLE: Record<ShippedScript, Pick<DrawingPadOptions, 'lineWidth' | 'guide'>> = {
  digits: { lineWidth: 0.065, guide: 'none' },
  hanzi: { lineWidth: 0.04, guide: 'mi' },
};
function padStyle(forScript: Script): Pick<DrawingPadOptions, 'lineWidth' | 'guide'> {
  return isShippedScript(forScript) ? PAD_STYLE[forScript] : { lineWidth: 0.05, guide: 'none' };
}

type ScriptWords = { lede: string; hint: string; padLabel: string; drawFirst: string; name: string; lineLede: string; lineHint: string };
/** The words of the page that change with the script. */
const SCRIPT_TEXT: Record<ShippedScript, ScriptWords> = {
  digits: {
    lede: 'Draw a digit from 0 to 9; a neural network trained on MNIST reads it as you write.',
    hint: 'Draw a digit here',
    padLabel: 'Drawing pad. Draw a digit with the mouse, a finger or a pen. Enter recognizes it, Escape clears, Control+Z undoes the last stroke.',
    drawFirst: 'Draw a digit first.',
    name: 'digits',
    lineLede: 'Line mode: write a whole number, date or code; it is read as you write, each digit boxed. Tap a digit to correct it.',
    lineHint: 'Write a number here',
  },
  hanzi: {
    lede: 'Write a Chinese character (one of the 3,755 of GB 2312 level 1), pick it from the candidates, and compose text.',
    hint: '写一个字 · write a character',
    padLabel: 'Writing box for one Chinese character. Write with the mouse, a finger or a pen; candidates appear after each stroke. Keys 1 to 9 and 0 pick a candidate, Backspace undoes a stroke or deletes a character, Escape clears.',
    drawFirst: 'Write a character first.',
    name: '中文',
    lineLede: 'Line mode: write a short Chinese phrase; it is read as you write, each character boxed. Tap one to correct it.',
    lineHint: '写一行字 · write a line',
  },
};

/** The words for any script: a taught one's name its own. */
function scriptWords(forScript: Script): ScriptWords {
  if (isShippedScript(forScript)) return SCRIPT_TEXT[forScript];
  const name = taughtName(forScript)!;
  return {
    lede: `Write a symbol of “${name}”, the script you taught; its model runs in your browser.`,
    hint: teach.isCollecting ? 'Draw the symbol here' : 'Draw a symbol here',
    padLabel: `Drawing pad for the script “${name}”. Draw with the mouse, a finger or a pen. Enter ${teach.isCollecting ? 'adds the drawing as a sample' : 'recognizes it'}, Escape clears, Control+Z undoes the last stroke.`,
    drawFirst: 'Draw a symbol first.',
    name,
    lineLede: `Line mode: write a row of “${name}” symbols; it is read as you write, each symbol boxed. Tap one to correct it.`,
    lineHint: 'Write a row of symbols here',
  };
}

function element<T extends HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (!found) throw new Error(`index.html lacks #${id}`);
  return found as T;
}

/**
 * The remembered script, or digits (also when storage is unavailable or holds something else); a taught script only
 * if it is among `taught` (its name).
 */
function rememberedScript(taught: string[]): Script {
  try {
    const remembered = localStorage.getItem(SCRIPT_KEY) ?? '';
    if (isShippedScript(remembered)) return remembered;
    const name = taughtName(remembered);
    return name !== null && taught.includes(name) ? taughtScript(name) : 'digits';
  } catch {
    return 'digits';
  }
}

let script: Script = 'digits';
const pad = new DrawingPad(element<HTMLCanvasElement>('pad'), PAD_STYLE.digits);
const modeSelect = element<HTMLSelectElement>('mode');
const scriptSelect = element<HTMLSelectElement>('script');
const view = new ResultsView({
  prediction: element('prediction'),
  probability: element('probability'),
  reason: element('reason'),
  bars: element<HTMLOListElement>('probabilities'),
  processed: element<HTMLCanvasElement>('processed'),
  processedCaption: element('processed-caption'),
  answerCaption: element('answer-caption'),
  status: element('status'),
  timing: { browser: element('timing-browser'), server: element('timing-server') },
  announcer: element('announcer'),
});
const composer = new Composer({
  candidates: element<HTMLOListElement>('candidates'),
  text: element<HTMLTextAreaElement>('text'),
  copy: element<HTMLButtonElement>('copy'),
  announcer: element('announcer'),
});

// Every URL is relative to the page, so the app works from a sub-path of any static host.
const wasmUrl = new URL('wasm/', document.baseURI).href;
/** In-browser engines (each its worker): a shipped model, or a model the page holds (taught or improved). */
const browserEngines: Partial<Record<Script, BrowserEngine>> = {};
const serverEngines: Record<ShippedScript, ServerEngine> = {
  digits: new ServerEngine(new URL('api/', document.baseURI).href),
  hanzi: new ServerEngine(new URL('api/', document.baseURI).href, 'hanzi'),
};
/** Models the page holds (IndexedDB): taught scripts' and improved shipped ones, by script. */
const heldModels = new Map<Script, ModelFiles>();

/** What answers for a taught script without a model. */
const untrained: RecognitionEngine = {
  mode: 'browser',
  recognize: () => Promise.reject(new PadRecognitionError('MODEL_UNAVAILABLE', 'This script has no model yet: draw its samples, then Train.')),
  read: () => Promise.reject(new PadRecognitionError('MODEL_UNAVAILABLE', 'This script has no model yet: draw its samples (one character at a time), then Train.')),
};

/** What answers for a taught script in server mode: the server has no such model. */
const noServerModel: RecognitionEngine = {
  mode: 'server',
  recognize: () => Promise.reject(new PadRecognitionError('MODEL_UNAVAILABLE', 'A taught script runs in your browser only: choose “in the browser”.')),
  read: () => Promise.reject(new PadRecognitionError('MODEL_UNAVAILABLE', 'A taught script runs in your browser only: choose “in the browser”.')),
};

/** The engine of a script and mode; the in-browser one is created (its model loaded) on first use. */
function engineFor(forScript: Script, mode: RecognitionMode): RecognitionEngine {
  if (mode === 'server') return isShippedScript(forScript) ? serverEngines[forScript] : noServerModel;
  return browserEngine(forScript);
}

/**
 * The training recipe a page URL asks for, `?teach-recipe=40,3,1`: augmented variants per sample, head epochs,
 * fine-tune epochs (for tests and slow machines); undefined when absent or malformed (the trainer's defaults).
 */
function recipeFromQuery(search: string): TrainRecipe | undefined {
  const asked = new URLSearchParams(search).get('teach-recipe');
  const parts = asked?.split(',').map(Number) ?? [];
  if (parts.length !== 3 || parts.some((part) => !Number.isInteger(part) || part < 0)) return undefined;
  const [variantsPerSample, headEpochs, fineTuneEpochs] = parts as [number, number, number];
  return { variantsPerSample, headEpochs, fineTuneEpochs };
}

let trainer: Promise<ScriptTrainer> | null = null;
/** The training worker, started on first use. */
function scriptTrainer(): Promise<ScriptTrainer> {
  trainer ??= import('./training/trainer.ts').then((module) => {
    const created = module.createScriptTrainer({ wasmUrl, modelsUrl: new URL('models/', document.baseURI).href });
    const recipe = recipeFromQuery(location.search);
    // The page's URL may ask for a smaller run (tests, slow machines): `?teach-recipe=VARIANTS,HEAD,FINETUNE`.
    return recipe ? { train: (dataset, options = {}) => created.train(dataset, { recipe, ...options }) } : created;
  });
  trainer.catch(() => {
    trainer = null;
  });
  return trainer;
}

/** A script's model changed (trained, improved, reset, deleted): drop its engine and load the new one if shown. */
function modelChanged(forScript: Script, model: ModelFiles | null): void {
  if (model) heldModels.set(forScript, model);
  else heldModels.delete(forScript);
  browserEngines[forScript]?.dispose();
  delete browserEngines[forScript];
  modelsOf(forScript).browser = undefined;
  if (forScript !== script) return;
  if (currentMode() === 'browser' && (model || isShippedScript(forScript))) browserEngine(forScript);
  showModelInfo();
  if (!pad.isEmpty && !teach.isCollecting) void recognizeNow();
  line.engineChanged();
}

/** The ink whose answer is shown (for a correction). */
let shownInk: SizedInk | null = null;

const teach = new TeachPanel({
  pad,
  trainer: scriptTrainer,
  scriptsChanged: (names, select) => rebuildScriptSwitch(names, select ?? script),
  modelChanged,
  announce: (text) => {
    element('announcer').textContent = text;
  },
});
const improve = new ImprovePanel({
  script: () => script,
  shownInk: () => shownInk,
  heldModel: (forScript) => heldModels.get(forScript),
  modelUrl: (forScript) => new URL(`models/${forScript}/`, document.baseURI).href,
  trainer: scriptTrainer,
  wasmUrl,
  modelChanged,
  announce: (text) => {
    element('announcer').textContent = text;
  },
});

const line = new LinePanel({
  panel: element('line'),
  canvas: element<HTMLCanvasElement>('line-pad'),
  boxes: element('line-boxes'),
  characters: element<HTMLOListElement>('line-characters'),
  text: element('line-text'),
  confidence: element('line-confidence'),
  alternatives: element('line-alternatives'),
  alternativesCaption: element('line-alternatives-caption'),
  alternativesList: element<HTMLOListElement>('line-alternatives-list'),
  status: element('line-status'),
  timing: element('line-timing'),
  copy: element<HTMLButtonElement>('line-copy'),
  read: element<HTMLButtonElement>('line-read'),
  undo: element<HTMLButtonElement>('line-undo'),
  clear: element<HTMLButtonElement>('line-clear'),
  preset: element<HTMLSelectElement>('line-preset'),
  pattern: element<HTMLInputElement>('line-pattern'),
  announcer: element('announcer'),
}, {
  engine: () => engineFor(script, currentMode()),
  loading: () => (currentMode() === 'browser' && browserEngines[script] !== undefined && modelsOf(script).browser === undefined ? loadingMessage(script) : null),
  rejectClass: () => rejectClassOf(script),
});

/** What the page shows: the single-character pad and its results, or Line mode. */
type PageView = 'character' | 'line';
/** Where the view choice is remembered. */
const VIEW_KEY = 'hwr.view';
let pageView: PageView = 'character';
/** The mode menu and its note, and what follows them under the pad (where they go back to from Line mode). */
const modeRow = modeSelect.closest<HTMLElement>('.mode-row')!;
const modeNote = element('mode-note');
const modeHome = modeNote.nextElementSibling!;

/**
 * Shows the single-character pad (`character`) or Line mode (`line`): swaps the panels (CSS on `<body data-view>`),
 * moves the mode menu into the shown one, the header's words follow, and the choice is remembered.
 */
function setView(next: PageView): void {
  pageView = next;
  document.body.dataset.view = next;
  element('view-character').setAttribute('aria-pressed', String(next === 'character'));
  element('view-line').setAttribute('aria-pressed', String(next === 'line'));
  element('line').hidden = next !== 'line';
  if (next === 'line') element('line-mode-slot').append(modeRow, modeNote);
  else modeHome.before(modeRow, modeNote);
  showWords();
  try {
    localStorage.setItem(VIEW_KEY, next);
  } catch {
    // Storage refused: the choice lasts for this visit only.
  }
  line.setActive(next === 'line');
}

/** The header's lede and the writing areas' hints, for the current script and view. */
function showWords(): void {
  const words = scriptWords(script);
  element('lede').textContent = pageView === 'line' ? words.lineLede : words.lede;
  element('line-hint').textContent = words.lineHint;
}

element('view-character').addEventListener('click', () => setView('character'));
element('view-line').addEventListener('click', () => setView('line'));

/** Rebuilds the script switch: the shipped scripts, the taught ones, "＋ New script…"; then switches to `select`. */
function rebuildScriptSwitch(taught: string[], select: Script): void {
  const options = [
    ...Array.from(scriptSelect.options).filter((option) => isShippedScript(option.value)),
    ...taught.map((name) => {
      const option = new Option(name, taughtScript(name));
      option.dataset.taught = 'true';
      return option;
    }),
    scriptSelect.querySelector<HTMLOptionElement>('option[value="new"]')!,
  ];
  scriptSelect.replaceChildren(...options);
  const name = taughtName(select);
  const next = name === null || taught.includes(name) ? select : 'digits';
  // Already showing it (the start-up's rebuild): keep the pad as it is.
  if (next === script && document.body.dataset.script === next && document.body.dataset.teach !== 'create') scriptSelect.value = next;
  else setScript(next);
}

/**
 * Bumped at every change of the drawing; mirrored in `<body data-drawing>`, and `<body data-recognized>` is the version
 * of the drawing whose answer is shown: equal and not busy, the page shows the answer to what is on the pad
 * (for tests and tools).
 */
let drawingVersion = 0;
/** Count of finished recognitions (shown or failed), mirrored in `<body data-recognitions>` for tests and tools. */
let recognitions = 0;
let running = false;
let rerun = false;
let autoTimer: ReturnType<typeof setTimeout> | undefined;

function currentMode(): RecognitionMode {
  return modeSelect.value === 'server' ? 'server' : 'browser';
}

/** Recognizes the current drawing with the current mode; see the module docstring for the scheduling. */
async function recognizeNow(): Promise<void> {
  clearTimeout(autoTimer);
  if (teach.isCollecting) return; // the pad draws a sample: Add sample keeps it
  if (pad.isEmpty) {
    view.reset();
    composer.showCandidates([]);
    view.setStatus(scriptWords(script).drawFirst, 'info');
    return;
  }
  if (running) {
    rerun = true;
    return;
  }
  running = true;
  document.body.dataset.busy = 'true';
  try {
    do {
      rerun = false;
      const version = drawingVersion;
      const mode = currentMode();
      const forScript = script;
      const current = (): boolean => version === drawingVersion && mode === currentMode() && forScript === script;
      const drawing = pad.renderForRecognition();
      const ink = pad.ink();
      try {
        const result = await engineFor(forScript, mode).recognize(drawing, ink);
        if (current()) {
          view.show(result);
          shownInk = ink;
          improve.showAnswer(result.label);
          if (forScript === 'hanzi') composer.showCandidates(result.candidates);
          document.body.dataset.recognized = String(version);
        }
      } catch (error) {
        if (current()) {
          showError(error);
          document.body.dataset.recognized = String(version);
        }
      }
      document.body.dataset.recognitions = String(++recognitions);
    } while (rerun && !pad.isEmpty);
  } finally {
    running = false;
    delete document.body.dataset.busy;
  }
}

function showError(error: unknown): void {
  const code = (error as { code?: string }).code;
  const message = error instanceof Error ? error.message : String(error);
  view.reset();
  composer.showCandidates([]);
  if (code === 'NO_INK') view.setStatus(`No ink found: ${scriptWords(script).drawFirst.toLowerCase()}`, 'info');
  else view.setStatus(message, 'error');
}

function scheduleRecognition(): void {
  clearTimeout(autoTimer);
  autoTimer = setTimeout(() => void recognizeNow(), autoRecognizeDelayMs(script));
}

pad.addEventListener('strokestart', () => clearTimeout(autoTimer));
pad.addEventListener('change', (event) => {
  document.body.dataset.drawing = String(++drawingVersion);
  const reason = (event as CustomEvent<string>).detail;
  if (pad.isEmpty) {
    clearTimeout(autoTimer);
    view.reset();
    composer.showCandidates([]);
    view.setStatus('', 'info');
    if (reason === 'clear') element('announcer').textContent = 'Pad cleared.';
    return;
  }
  scheduleRecognition();
});

element('predict').addEventListener('click', () => void recognizeNow());
document.addEventListener('teachmode', () => {
  // Drawing samples or recognizing: the pad's words and the improve panel follow.
  const words = scriptWords(script);
  element('pad-hint').textContent = words.hint;
  pad.canvas.setAttribute('aria-label', words.padLabel);
  view.reset();
  view.setStatus('', 'info');
  showImprove();
});
element('clear').addEventListener('click', () => pad.clear());
element('undo').addEventListener('click', () => pad.undo());
element('backspace').addEventListener('click', () => composer.deleteLast());
composer.addEventListener('pick', (event) => {
  pad.clear();
  element('announcer').textContent = `Wrote ${(event as CustomEvent<string>).detail}.`; // rather than "Pad cleared."
});
modeSelect.addEventListener('change', () => {
  document.body.dataset.mode = currentMode();
  if (currentMode() === 'browser') browserEngine(script);
  showModelInfo();
  if (!pad.isEmpty) void recognizeNow();
  else view.setStatus('', 'info');
  line.engineChanged();
});
document.body.dataset.mode = currentMode();
scriptSelect.addEventListener('change', () => {
  const chosen = scriptSelect.value;
  if (chosen === 'new') {
    if (pageView === 'line') setView('character'); // teaching draws one symbol at a time
    teach.showCreate();
    return;
  }
  setScript(isShippedScript(chosen) || taughtName(chosen) !== null ? (chosen as Script) : 'digits');
});

/**
 * Switches the page to `next`: remembers it, restyles the pad (cleared), swaps the words and the results view, and
 * loads the script's in-browser model if the browser mode needs it and it is not loaded yet.
 */
function setScript(next: Script): void {
  script = next;
  scriptSelect.value = next;
  document.body.dataset.script = next;
  shownInk = null;
  const name = taughtName(next);
  if (name === null) teach.close();
  else void teach.open(name, heldModels.has(next) ? 'final' : 'none');
  try {
    localStorage.setItem(SCRIPT_KEY, next);
  } catch {
    // Storage refused (private mode, quota): the choice lasts for this visit only.
  }
  const words = scriptWords(next);
  showWords();
  element('pad-hint').textContent = words.hint;
  pad.canvas.setAttribute('aria-label', words.padLabel);
  pad.configure(padStyle(next));
  view.setScript(next, heldModels.get(next)?.metadata.classes);
  improve.hide();
  composer.showCandidates([]);
  if (!pad.isEmpty) pad.clear();
  view.setStatus('', 'info');
  if (currentMode() === 'browser' && (isShippedScript(next) || heldModels.has(next))) {
    const loaded = browserEngines[next] !== undefined;
    browserEngine(next);
    // A model chosen before: say where it stands (the first choice's engine says "Loading" itself).
    const model = modelsOf(next).browser;
    if (loaded && model instanceof Error) view.setStatus(model.message, 'error');
    else if (loaded && model === undefined) view.setStatus(loadingMessage(next), 'busy');
  }
  showModelInfo();
  showModelProgress();
  line.setScript({ lineWidth: next === 'hanzi' ? 0.022 : 0.03 });
  element('line').lang = next === 'hanzi' ? 'zh-Hans' : ''; // Chinese glyphs, not Japanese ones, for the text and alternatives
  line.engineChanged();
}

/** "Loading the model…" for digits, "Loading the 中文 model…" for another script. */
function loadingMessage(forScript: Script): string {
  return `Loading the ${forScript === 'digits' ? '' : `${scriptWords(forScript).name} `}model…`;
}

/**
 * Shows "Wrong? Pick the right one" and Improve for the current script once its model is known (not while drawing
 * samples, nor for a taught script without a model).
 */
function showImprove(): void {
  const model = modelsOf(script).browser;
  if (teach.isCollecting || model === undefined || model instanceof Error) {
    improve.hide();
    return;
  }
  void improve.setScript(script, model.classes, rejectClassOf(script));
}

/** A script's model's rejection class: the held model's, `none` for the shipped digits model; undefined when none. */
function rejectClassOf(forScript: Script): string | undefined {
  const rejectClass = heldModels.get(forScript)?.metadata.rejectClass ?? (forScript === 'digits' ? 'none' : undefined);
  return typeof rejectClass === 'string' ? rejectClass : undefined;
}

/** True when the key event comes from a field that edits text, which keeps its own keys (digits, Backspace, Ctrl+Z). */
function inTextField(target: HTMLElement | null): boolean {
  return target !== null && target.closest('input, textarea, select, [contenteditable="true"]') !== null;
}

document.addEventListener('keydown', (event) => {
  const target = event.target as HTMLElement | null;
  if (pageView === 'line') {
    // Line mode's keys (Enter reads, Escape clears, Ctrl+Z undoes) act on the line.
    if (line.handleKey(event, inTextField(target))) event.preventDefault();
    return;
  }
  // Let buttons, the select and text fields handle their own Enter and Escape.
  const ownsKeys = target?.closest('button, select, input, textarea, a[href]') !== null && target !== null;
  const plain = !event.ctrlKey && !event.metaKey && !event.altKey;
  if (event.key === 'Enter' && !ownsKeys && !event.repeat) {
    event.preventDefault();
    if (teach.isCollecting) void teach.addSample();
    else void recognizeNow();
  } else if (event.key === 'Escape' && !(target instanceof HTMLSelectElement)) {
    event.preventDefault();
    pad.clear();
  } else if ((event.ctrlKey || event.metaKey) && !event.shiftKey && event.key.toLowerCase() === 'z' && !inTextField(target)) {
    event.preventDefault();
    pad.undo();
  } else if (script === 'hanzi' && plain && /^[0-9]$/.test(event.key) && !inTextField(target)) {
    // 1-9 pick the first nine candidates, 0 the tenth.
    if (composer.pick((Number(event.key) + 9) % 10)) event.preventDefault();
  } else if (script === 'hanzi' && plain && event.key === 'Backspace' && !inTextField(target)) {
    event.preventDefault();
    if (pad.isEmpty) composer.deleteLast();
    else pad.undo();
  }
});

/** What the footer knows of each script's model in each mode: its summary once loaded, or why it is unavailable. */
const models: Partial<Record<Script, Record<RecognitionMode, ModelSummary | Error | undefined>>> = {};

/** The footer's knowledge of a script's models, created empty on first use. */
function modelsOf(forScript: Script): Record<RecognitionMode, ModelSummary | Error | undefined> {
  models[forScript] ??= { browser: undefined, server: undefined };
  return models[forScript]!;
}

/** Writes the footer for the current script and mode: the model and where it runs, never a place it does not run. */
function showModelInfo(): void {
  const mode = currentMode();
  const model = modelsOf(script)[mode];
  const modelInfo = element('model-info');
  if (!isShippedScript(script) && (mode === 'server' || !heldModels.has(script))) {
    delete modelInfo.dataset.engine;
    modelInfo.textContent = mode === 'server'
      ? 'A taught script runs in your browser only.'
      : `“${taughtName(script)}” has no model yet: draw its samples, then Train.`;
    return;
  }
  // What runs the in-browser model (`onnxruntime-web` or `tfjs`), for tests and anyone inspecting the page.
  if (mode === 'browser' && model !== undefined && !(model instanceof Error) && model.engine) modelInfo.dataset.engine = model.engine;
  else delete modelInfo.dataset.engine;
  if (model instanceof Error) {
    modelInfo.textContent = mode === 'browser'
      ? 'The in-browser model is unavailable; server recognition may still work.'
      : `The server's model is unavailable: ${model.message}`;
  } else if (model === undefined) {
    modelInfo.textContent = mode === 'browser' ? 'Loading the model…' : 'Asking the server about its model…';
    if (mode === 'server' && isShippedScript(script)) loadServerModel(script);
  } else {
    modelInfo.textContent = describeModel(model, mode);
    const size = model.inputShape?.[0];
    if (typeof size === 'number' && size > 0) view.setInputSize(size);
  }
}

function describeModel(model: ModelSummary, mode: RecognitionMode): string {
  const held = heldModels.get(script);
  if (mode === 'browser' && held) {
    const what = isShippedScript(script) ? 'improved on your samples' : `${model.classes.length} symbols, taught here`;
    return `Model “${model.name}” (${model.architecture}, ${what}); runs in your browser (${browserEngineText(model)}).`;
  }
  const count = Array.isArray(model.classes) ? model.classes.length : 0; // an older server may not list them
  const testSet = count <= 20 ? 'the MNIST test set' : 'its held-out test set';
  const accuracy = typeof model.testAccuracy === 'number' ? `, ${(model.testAccuracy * 100).toFixed(2)}% correct on ${testSet}` : '';
  const classes = count > 20 ? `, ${count.toLocaleString('en')} characters` : '';
  const where = mode === 'server'
    ? `runs on the server at ${new URL(document.baseURI).host}`
    : `runs in your browser (${browserEngineText(model)})`;
  return `Model “${model.name}” (${model.architecture}${classes}${accuracy}); ${where}.`;
}

/** Which engine runs the in-browser model, for the footer: e.g. "ONNX Runtime Web, WebAssembly in a Web Worker". */
function browserEngineText(model: ModelSummary): string {
  const runtime = model.engine === 'onnxruntime-web' ? 'ONNX Runtime Web' : 'TensorFlow.js';
  return model.backend === 'wasm' || model.backend?.startsWith('wasm,') ? `${runtime}, WebAssembly in a Web Worker` : `${runtime}, ${model.backend ?? 'wasm'}`;
}

/** Gets the server's model description (`ServerEngine.model`, asked of the server once) and refreshes the footer. */
function loadServerModel(forScript: ShippedScript): void {
  void serverEngines[forScript].model().then((model) => {
    modelsOf(forScript).server = model;
  }, (error: Error) => {
    modelsOf(forScript).server = error;
  }).then(showModelInfo);
}

/** Download progress of each script's in-browser model, while it loads; undefined before the first byte and after. */
const progress: Partial<Record<Script, ModelProgress & { done: boolean }>> = {};

/**
 * The progress indicator over the pad, for the current script in browser mode: a bar of bytes fetched of the total,
 * "from the browser's cache" when they were kept. Its `data-loaded`, `data-total`, `data-cached` and `data-state`
 * (`loading`, `done`) attributes say the same for tests.
 */
function showModelProgress(): void {
  const box = element('model-progress');
  const state = progress[script];
  const visible = state !== undefined && !state.done && currentMode() === 'browser';
  box.hidden = !visible;
  if (!state) return;
  box.dataset.loaded = String(state.loaded);
  box.dataset.total = String(state.total);
  box.dataset.cached = String(state.cached);
  box.dataset.state = state.done ? 'done' : 'loading';
  const bar = element<HTMLProgressElement>('model-progress-bar');
  bar.value = state.total > 0 ? state.loaded / state.total : 0;
  const megabytes = (bytes: number): string => (bytes / 1e6).toFixed(1);
  element('model-progress-text').textContent = state.cached
    ? `Loading the ${scriptWords(script).name} model from the browser's cache…`
    : `Loading the ${scriptWords(script).name} model: ${megabytes(state.loaded)} of ${state.total > 0 ? megabytes(state.total) : '?'} MB`;
}

/**
 * The in-browser engine of a script, created (and its model loaded, with progress) on the first call: the model the
 * page holds for it (taught, or improved), else the shipped one in the worker.
 */
function browserEngine(forScript: Script): RecognitionEngine {
  const existing = browserEngines[forScript];
  if (existing) return existing;
  const held = heldModels.get(forScript);
  if (!held && !isShippedScript(forScript)) return untrained;
  const engine = new BrowserEngine(held ?? new URL(`models/${forScript}/`, document.baseURI).href, wasmUrl, (update) => {
    progress[forScript] = { ...update, done: false };
    if (forScript === script) showModelProgress();
  }, engineChoiceFromQuery(location.search));
  browserEngines[forScript] = engine;
  if (forScript === script) view.setStatus(loadingMessage(forScript), 'busy');
  engine.ready.then((model) => {
    if (browserEngines[forScript] !== engine) return; // replaced meanwhile (trained, improved, reset)
    modelsOf(forScript).browser = model;
    progress[forScript] = { ...(progress[forScript] ?? { loaded: 0, total: 0, cached: false }), done: true };
    if (forScript !== script) return;
    if (!isShippedScript(forScript)) view.setClasses(model.classes);
    showModelInfo();
    showModelProgress();
    showImprove();
    if (element('status').dataset.tone === 'busy') view.setStatus('', 'info');
    line.engineChanged();
  }, (error: Error) => {
    if (browserEngines[forScript] !== engine) return;
    modelsOf(forScript).browser = error;
    progress[forScript] = { ...(progress[forScript] ?? { loaded: 0, total: 0, cached: false }), done: true };
    if (forScript !== script) return;
    showModelInfo();
    showModelProgress();
    if (currentMode() === 'browser') view.setStatus(error.message, 'error');
    line.engineChanged();
  });
  return engine;
}

/** Reads what IndexedDB keeps (taught scripts, held models), then shows the remembered script. */
async function start(): Promise<void> {
  // A shipped script starts at once; a taught one once IndexedDB has answered.
  let remembered = '';
  try {
    remembered = localStorage.getItem(SCRIPT_KEY) ?? '';
  } catch {
    // no storage: digits
  }
  if (taughtName(remembered) === null) setScript(rememberedScript([]));
  try {
    if (localStorage.getItem(VIEW_KEY) === 'line') setView('line');
  } catch {
    // no storage: the single-character pad
  }
  const [taught, held] = await Promise.all([
    teach.load(),
    listModels().catch(() => new Map<string, { model: ModelFiles }>()),
  ]);
  for (const [key, stored] of held) heldModels.set(key as Script, stored.model);
  rebuildScriptSwitch(taught, rememberedScript(taught));
  document.body.dataset.ready = 'true';
}

void start();

/**
 * True when an hwr server answers `GET api/health` next to the page: a JSON object with its `status` or, when
 * busy, an `error`, whatever the HTTP status (503 while its model loads). A static host answers 404 with HTML,
 * a dev server without the API a proxy error.
 */
async function serverAnswers(): Promise<boolean> {
  try {
    const response = await fetch(new URL('api/health', document.baseURI), { cache: 'no-store' });
    if (!(response.headers.get('content-type') ?? '').includes('application/json')) return false;
    const body = (await response.json()) as { status?: unknown; error?: unknown } | null;
    return typeof body?.status === 'string' || (typeof body?.error === 'object' && body.error !== null);
  } catch {
    return false;
  }
}

/** Turns server mode off where no server answers, says why under the mode menu, and falls back to the browser. */
async function offerServerModeOnlyWithAServer(): Promise<void> {
  if (await serverAnswers()) return;
  const option = modeSelect.querySelector<HTMLOptionElement>('option[value="server"]')!;
  option.disabled = true;
  option.textContent = 'on the server (no server here)';
  const note = element('mode-note');
  note.textContent = 'Server recognition needs the hwr server ("npm start"). This copy of the page is served as '
    + 'static files, so it recognizes in your browser only.';
  note.hidden = false;
  if (currentMode() === 'server') {
    modeSelect.value = 'browser';
    modeSelect.dispatchEvent(new Event('change'));
  }
}

void offerServerModeOnlyWithAServer();
