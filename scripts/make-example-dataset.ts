/**
 * Writes the example `hwr-ink-dataset` files, from generated writers (a single-stroke plotter font and a pen style,
 * src/data/plotterFonts.ts), deterministically (fixed seeds):
 *
 * - `docs/examples/latin-5.json`: Latin a-z, 5 samples each, one writer (Hershey Sans 1-stroke, pen style 1);
 * - `docs/examples/symbols-5.json`: an invented 26-symbol alphabet (`INVENTED_ALPHABET`: signs of Hershey's
 *   `symbolic` font, labelled `sym-a` ... `sym-z`), 5 samples each, one writer;
 * - `test/fixtures/ink/tiny.json`: 3 classes (`l`, `o`, `x`) x 5 samples, for tests.
 *
 * Coordinates are whole units of the 1024-unit glyph box, points within 2 units of a straight line dropped
 * (`simplifyStroke`), times whole ms: files under 200 KB.
 *
 *   npx tsx scripts/make-example-dataset.ts
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { INVENTED_ALPHABET, LATIN_LOWERCASE, plotterWriter, writerDataset } from '../src/data/plotterFonts.ts';
import { serializeInkDataset, type InkDataset } from '../src/data/inkDataset.ts';
import { loadPlotterFont } from '../src/node/plotterFonts.ts';

/** Whole glyph units (a 1024 box) and points within 2 units of a straight line dropped: a file a quarter the size, the
 * same pictures at the models' 28-64 px. */
const SMALL = { decimals: 0, simplifyTolerance: 2 };

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** The datasets this script writes, by path relative to the repository root. */
export function exampleDatasets(): Record<string, InkDataset> {
  const futural = loadPlotterFont('futural');
  return {
    'docs/examples/latin-5.json': writerDataset([plotterWriter(futural, 1)], [...LATIN_LOWERCASE], { script: 'latin', samplesPerClass: 5, seed: 1, ...SMALL }),
    'docs/examples/symbols-5.json': writerDataset([plotterWriter(loadPlotterFont(INVENTED_ALPHABET.font), 2)], [...INVENTED_ALPHABET.chars], {
      script: 'symbols',
      labels: [...INVENTED_ALPHABET.labels],
      samplesPerClass: 5,
      seed: 2,
      ...SMALL,
    }),
    'test/fixtures/ink/tiny.json': writerDataset([plotterWriter(futural, 7)], ['l', 'o', 'x'], { script: 'tiny', samplesPerClass: 5, seed: 3, ...SMALL }),
  };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  for (const [path, dataset] of Object.entries(exampleDatasets())) {
    const file = join(ROOT, path);
    mkdirSync(dirname(file), { recursive: true });
    const text = serializeInkDataset(dataset);
    writeFileSync(file, text);
    console.log(`${path}: ${dataset.classes.length} classes, ${dataset.samples.length} samples, ${(text.length / 1024).toFixed(1)} KiB`);
  }
}
