/**
 * Training curves as a PNG: loss and accuracy per epoch, training vs validation, side by side.
 *
 * A Vega-Lite spec (https://vega.github.io/vega-lite/) compiled to Vega, rendered headless to SVG
 * (`new vega.View(vega.parse(spec), { renderer: 'none' }).toSVG()`), then rasterized by sharp (librsvg).
 * Node-only because of sharp; `trainingCurvesSpec` alone is plain data and also works with vega-embed in a browser.
 */

import sharp from 'sharp';
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import { hwrError } from '../core/errors.ts';

/** Metrics of one epoch, as Keras / TF.js `fit` reports them. */
export interface EpochMetrics {
  /** Epoch number, usually starting at 1. */
  epoch: number;
  /** Mean training loss (categorical cross-entropy, in nats). */
  loss: number;
  /** Training accuracy, fraction in [0, 1]. */
  accuracy: number;
  /** Validation loss, when validated. */
  valLoss?: number;
  /** Validation accuracy, fraction in [0, 1], when validated. */
  valAccuracy?: number;
}

/** Options for `renderTrainingCurves`. */
export interface TrainingCurvesOptions {
  /** Chart title. Default "Training curves". A subtitle always gives the last epoch's numbers. */
  title?: string;
  /** Pixel density: the PNG is `scale` times the SVG size in each direction. Default 2 (sharp on high-DPI screens). */
  scale?: number;
}

const PANEL_WIDTH = 320;
const PANEL_HEIGHT = 220;
const FONT = 'DejaVu Sans';
const COLORS = { train: '#1f77b4', validation: '#ff7f0e' };

/**
 * The Vega-Lite spec of the two panels. Non-finite values (a diverged loss) are left out of the chart.
 *
 * @param history  one entry per epoch, in any order; at least one
 * @param options  title
 * @returns a Vega-Lite v6 top-level spec with the data inlined
 * @throws HwrError `BAD_ARGUMENT` when `history` is empty or an epoch number is not finite
 */
export function trainingCurvesSpec(history: readonly EpochMetrics[], options: TrainingCurvesOptions = {}): TopLevelSpec {
  if (history.length === 0) throw hwrError('BAD_ARGUMENT', 'history: expected at least one epoch, got none');
  const rows: { epoch: number; metric: 'loss' | 'accuracy'; split: 'train' | 'validation'; value: number }[] = [];
  for (const [i, h] of history.entries()) {
    if (!Number.isFinite(h.epoch)) throw hwrError('BAD_ARGUMENT', `history[${i}].epoch: expected a number, got ${h.epoch}`);
    const add = (metric: 'loss' | 'accuracy', split: 'train' | 'validation', value: number | undefined): void => {
      if (value !== undefined && Number.isFinite(value)) rows.push({ epoch: h.epoch, metric, split, value });
    };
    add('loss', 'train', h.loss);
    add('accuracy', 'train', h.accuracy);
    add('loss', 'validation', h.valLoss);
    add('accuracy', 'validation', h.valAccuracy);
  }
  const epochs = history.map((h) => h.epoch);
  const first = Math.min(...epochs);
  const last = Math.max(...epochs);
  // A single epoch has an empty domain; widen it so the point sits in the middle with one tick.
  const domain = first === last ? [first - 0.5, last + 0.5] : [first, last];
  const hasValidation = rows.some((r) => r.split === 'validation');

  const panel = (metric: 'loss' | 'accuracy', title: string) => ({
    title,
    width: PANEL_WIDTH,
    height: PANEL_HEIGHT,
    transform: [{ filter: `datum.metric === '${metric}'` }],
    mark: { type: 'line' as const, point: { size: 40, filled: true }, strokeWidth: 2 },
    encoding: {
      x: {
        field: 'epoch',
        type: 'quantitative' as const,
        title: 'epoch',
        scale: { domain, nice: false, padding: 10 },
        axis: { tickMinStep: 1, format: 'd' },
      },
      y: {
        field: 'value',
        type: 'quantitative' as const,
        title: null,
        scale: { zero: metric === 'loss' },
        axis: metric === 'accuracy' ? { format: '%' } : {},
      },
      color: {
        field: 'split',
        type: 'nominal' as const,
        title: null,
        scale: { domain: hasValidation ? ['train', 'validation'] : ['train'], range: hasValidation ? [COLORS.train, COLORS.validation] : [COLORS.train] },
        legend: { orient: 'bottom' as const, direction: 'horizontal' as const },
      },
    },
  });

  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: options.title ?? 'Training curves', subtitle: summary(history), anchor: 'middle' },
    background: 'white',
    padding: 12,
    config: {
      font: FONT,
      title: { fontSize: 16, subtitleFontSize: 12, subtitleColor: '#555555', subtitlePadding: 6 },
      axis: { labelFontSize: 11, titleFontSize: 12, gridColor: '#ececec' },
      legend: { labelFontSize: 12 },
      view: { stroke: '#cccccc' },
    },
    data: { values: rows },
    hconcat: [panel('loss', 'Loss'), panel('accuracy', 'Accuracy')],
    resolve: { scale: { color: 'shared' } },
  };
}

/**
 * Renders the curves to SVG with Vega's headless renderer.
 *
 * @returns SVG text; its root `width`/`height` attributes are the chart size in px
 * @throws as `trainingCurvesSpec`
 */
export async function renderTrainingCurvesSvg(history: readonly EpochMetrics[], options: TrainingCurvesOptions = {}): Promise<string> {
  const vegaSpec = compile(trainingCurvesSpec(history, options)).spec;
  const view = new vega.View(vega.parse(vegaSpec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/**
 * Renders loss and accuracy per epoch, train vs validation, as two panels in one PNG. Works with a single
 * epoch (drawn as points) and without validation metrics (train only).
 *
 * @param history  one entry per epoch (see `EpochMetrics`); accuracies are fractions in [0, 1]
 * @param options  title; `scale` pixel density (default 2)
 * @returns PNG bytes, RGB, `scale` times the SVG size (the SVG is about 780 x 370 px, so about 1560 x 740 px by default)
 * @throws HwrError `BAD_ARGUMENT` when `history` is empty, an epoch is not a number, or `scale` is not positive
 */
export async function renderTrainingCurves(history: readonly EpochMetrics[], options: TrainingCurvesOptions = {}): Promise<Buffer> {
  const scale = options.scale ?? 2;
  if (!(Number.isFinite(scale) && scale > 0)) throw hwrError('BAD_ARGUMENT', `scale: expected a positive number, got ${scale}`);
  const svg = await renderTrainingCurvesSvg(history, options);
  // librsvg renders SVG user units at 72 dpi; a higher density scales the raster.
  return sharp(Buffer.from(svg), { density: 72 * scale }).flatten({ background: '#ffffff' }).png().toBuffer();
}

/** Subtitle: the last epoch's numbers, e.g. `epoch 5: loss 0.041, accuracy 98.70%, val loss 0.052, val accuracy 98.40%`. */
function summary(history: readonly EpochMetrics[]): string {
  const last = history.reduce((a, b) => (b.epoch > a.epoch ? b : a));
  const parts = [`epoch ${last.epoch}`, `loss ${formatLoss(last.loss)}`, `accuracy ${formatPercent(last.accuracy)}`];
  if (last.valLoss !== undefined) parts.push(`val loss ${formatLoss(last.valLoss)}`);
  if (last.valAccuracy !== undefined) parts.push(`val accuracy ${formatPercent(last.valAccuracy)}`);
  return `${parts[0]}: ${parts.slice(1).join(', ')}`;
}

function formatLoss(value: number): string {
  return Number.isFinite(value) ? value.toPrecision(3) : String(value);
}

function formatPercent(value: number): string {
  return Number.isFinite(value) ? `${(value * 100).toFixed(2)}%` : String(value);
}
