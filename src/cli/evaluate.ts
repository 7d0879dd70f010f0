import { resolve } from 'node:path';
import { loadIdxDataset, classNamesFor, mnistDir } from '../data/mnist.ts';
import { loadRecognizer } from '../node/recognizer.ts';
import { evaluateClassifier, type Evaluation } from '../train/evaluate.ts';
import { hwrError } from '../core/errors.ts';

/** Flags of `hwr evaluate`. */
export interface EvaluateFlags {
  model: string;
  data?: string;
  limit?: number;
  json?: boolean;
}

const percent = (x: number): string => `${(x * 100).toFixed(2)}%`;

/** Formats an evaluation as the text report of `hwr evaluate`. */
export function formatEvaluation(evaluation: Evaluation, title: string): string {
  const { classes, confusionMatrix } = evaluation;
  const lines = [
    title,
    `accuracy        ${percent(evaluation.accuracy)}  (${evaluation.count - evaluation.errors.length}/${evaluation.count})`,
    `top-3 accuracy  ${percent(evaluation.top3Accuracy)}`,
    '',
    'class  precision  recall   count',
    ...evaluation.perClass.map((c) => `${c.label.padStart(5)}  ${percent(c.precision).padStart(9)}  ${percent(c.recall).padStart(7)}  ${String(c.count).padStart(6)}`),
    '',
    'confusion matrix (rows: actual, columns: predicted)',
    `      ${classes.map((c) => c.padStart(5)).join('')}`,
    ...confusionMatrix.map((row, i) => `${classes[i]!.padStart(5)} ${row.map((v) => String(v).padStart(5)).join('')}`),
  ];
  return lines.join('\n');
}

/** `hwr evaluate`: metrics of a model on the test split of an IDX dataset (MNIST by default). */
export async function evaluateCommand(flags: EvaluateFlags): Promise<void> {
  const recognizer = await loadRecognizer(flags.model);
  const dataDir = flags.data ? resolve(flags.data) : mnistDir();
  const { test } = await loadIdxDataset(dataDir, flags.limit ? { limit: flags.limit } : {});
  const classes = flags.data ? await classNamesFor(dataDir) : recognizer.metadata.classes;
  if (classes.length !== recognizer.metadata.classes.length) {
    throw hwrError('BAD_ARGUMENT', `${dataDir} has ${classes.length} classes but model ${flags.model} has ${recognizer.metadata.classes.length}`);
  }
  const [h, w] = recognizer.metadata.inputShape;
  if (test.rows !== h || test.cols !== w) throw hwrError('BAD_ARGUMENT', `${dataDir}: images are ${test.rows}x${test.cols} but model ${flags.model} takes ${h}x${w}`);
  const evaluation = await evaluateClassifier(recognizer.predictProbabilities, test, recognizer.metadata.classes);
  if (flags.json) {
    const { errors: _errors, ...rest } = evaluation;
    process.stdout.write(`${JSON.stringify({ model: recognizer.metadata.name, data: flags.data ? dataDir : 'MNIST test', ...rest, errorCount: evaluation.errors.length })}\n`);
  } else {
    process.stdout.write(`${formatEvaluation(evaluation, `${recognizer.metadata.name} on ${flags.data ? dataDir : 'MNIST'} test (${evaluation.count} images)`)}\n`);
  }
  recognizer.dispose();
}
