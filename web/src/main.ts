/**
 * The handwriting pad page: wires the drawing pad, the two recognition engines (in the browser, on the server),
 * the results view and the keyboard shortcuts together.
 *
 * Server mode is offered only where an hwr server answers: the page asks `api/health` once at start, and on a
 * plain static host (the `npm run build` output, no API) it disables that mode and says why. The footer names
 * the model and where it runs in the current mode.
 *
 * Recognition runs after each stroke (debounced), on Predict, on Enter, and when the mode changes.
 * At most one recognition is in flight; requests that arrive meanwhile collapse into one rerun with the
 * latest drawing, and an answer for a drawing that has since changed is dropped.
 */
import { DrawingPad } from './pad.ts';
import { BrowserEngine } from './recognition/browserEngine.ts';
import { ServerEngine } from './recognition/serverEngine.ts';
import type { ModelSummary, RecognitionEngine, RecognitionMode } from './recognition/types.ts';
import { ResultsView } from './resultsView.ts';

/** Quiet time after a stroke before recognizing, in ms: long enough to start the next stroke of a "4" or "7". */
const AUTO_RECOGNIZE_DELAY_MS = 350;

function element<T extends HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (!found) throw new Error(`index.html lacks #${id}`);
  return found as T;
}

const pad = new DrawingPad(element<HTMLCanvasElement>('pad'));
const modeSelect = element<HTMLSelectElement>('mode');
const view = new ResultsView({
  prediction: element('prediction'),
  probability: element('probability'),
  reason: element('reason'),
  bars: element<HTMLOListElement>('probabilities'),
  processed: element<HTMLCanvasElement>('processed'),
  status: element('status'),
  timing: { browser: element('timing-browser'), server: element('timing-server') },
  announcer: element('announcer'),
});
view.reset();

// Every URL is relative to the page, so the app works from a sub-path of any static host.
const engines: Record<RecognitionMode, RecognitionEngine> = {
  browser: new BrowserEngine(new URL('models/digits/', document.baseURI).href, new URL('wasm/', document.baseURI).href),
  server: new ServerEngine(new URL('api/', document.baseURI).href),
};
const browserEngine = engines.browser as BrowserEngine;

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
  if (pad.isEmpty) {
    view.reset();
    view.setStatus('Draw a digit first.', 'info');
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
      const drawing = pad.renderForRecognition();
      try {
        const result = await engines[mode].recognize(drawing);
        if (version === drawingVersion && mode === currentMode()) view.show(result);
      } catch (error) {
        if (version === drawingVersion && mode === currentMode()) showError(error);
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
  if (code === 'NO_INK') view.setStatus('No ink found: draw a digit first.', 'info');
  else view.setStatus(message, 'error');
}

function scheduleRecognition(): void {
  clearTimeout(autoTimer);
  autoTimer = setTimeout(() => void recognizeNow(), AUTO_RECOGNIZE_DELAY_MS);
}

pad.addEventListener('strokestart', () => clearTimeout(autoTimer));
pad.addEventListener('change', (event) => {
  drawingVersion++;
  const reason = (event as CustomEvent<string>).detail;
  if (pad.isEmpty) {
    clearTimeout(autoTimer);
    view.reset();
    view.setStatus('', 'info');
    if (reason === 'clear') element('announcer').textContent = 'Pad cleared.';
    return;
  }
  scheduleRecognition();
});

element('predict').addEventListener('click', () => void recognizeNow());
element('clear').addEventListener('click', () => pad.clear());
element('undo').addEventListener('click', () => pad.undo());
modeSelect.addEventListener('change', () => {
  document.body.dataset.mode = currentMode();
  showModelInfo();
  if (!pad.isEmpty) void recognizeNow();
  else view.setStatus('', 'info');
});
document.body.dataset.mode = currentMode();

document.addEventListener('keydown', (event) => {
  const target = event.target as HTMLElement | null;
  // Let buttons, the select and text fields handle their own Enter and Escape.
  const ownsKeys = target?.closest('button, select, input, textarea, a[href]') !== null && target !== null;
  if (event.key === 'Enter' && !ownsKeys && !event.repeat) {
    event.preventDefault();
    void recognizeNow();
  } else if (event.key === 'Escape' && !(target instanceof HTMLSelectElement)) {
    event.preventDefault();
    pad.clear();
  } else if ((event.ctrlKey || event.metaKey) && !event.shiftKey && event.key.toLowerCase() === 'z') {
    event.preventDefault();
    pad.undo();
  }
});

/** What the footer knows of each mode's model: its summary once loaded, or why it is unavailable. */
const models: Record<RecognitionMode, ModelSummary | Error | undefined> = { browser: undefined, server: undefined };

/** Writes the footer for the current mode: the model and where it runs, never a place it does not run. */
function showModelInfo(): void {
  const mode = currentMode();
  const model = models[mode];
  const modelInfo = element('model-info');
  if (model instanceof Error) {
    modelInfo.textContent = mode === 'browser'
      ? 'The in-browser model is unavailable; server recognition may still work.'
      : `The server's model is unavailable: ${model.message}`;
  } else if (model === undefined) {
    modelInfo.textContent = mode === 'browser' ? 'Loading the model…' : 'Asking the server about its model…';
    if (mode === 'server') loadServerModel();
  } else {
    modelInfo.textContent = describeModel(model, mode);
  }
}

function describeModel(model: ModelSummary, mode: RecognitionMode): string {
  const accuracy = model.testAccuracy === null ? '' : `, ${(model.testAccuracy * 100).toFixed(2)}% correct on the MNIST test set`;
  const where = mode === 'server'
    ? `runs on the server at ${new URL(document.baseURI).host}`
    : `runs in your browser (${model.backend === 'wasm' ? 'WebAssembly in a Web Worker' : model.backend ?? 'TensorFlow.js'})`;
  return `Model “${model.name}” (${model.architecture}${accuracy}); ${where}.`;
}

/** Gets the server's model description (`ServerEngine.model`, asked of the server once) and refreshes the footer. */
function loadServerModel(): void {
  void (engines.server as ServerEngine).model().then((model) => {
    models.server = model;
  }, (error: Error) => {
    models.server = error;
  }).then(showModelInfo);
}

view.setStatus('Loading the model…', 'busy');
browserEngine.ready.then((model) => {
  models.browser = model;
  showModelInfo();
  if (element('status').dataset.tone === 'busy') view.setStatus('', 'info');
}, (error: Error) => {
  models.browser = error;
  showModelInfo();
  if (currentMode() === 'browser') view.setStatus(error.message, 'error');
});

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
