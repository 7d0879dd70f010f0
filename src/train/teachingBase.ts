/** The teaching base's name, apart from src/train/inkScript.ts so that the page's main thread can import it without TF.js. */
/**
 * The base a script is taught from unless another is named (`hwr train --data ink:`, the page's teach mode): the
 * shipped glyph base, models/glyphs-latin (hwr-net 28x28, `mnist-com-v1`; 601 non-Latin glyph classes and 40 Latin
 * letter classes from outline fonts: scripts/train-glyph-base.ts). Measured against digits (notes/TEACH-RECIPE.md,
 * "A Latin glyph base"): the invented alphabet's other hands 99.0% against 97.9%; Latin other print fonts 87.6%
 * against 77.6% (`knownLabels`).
 */
export const DEFAULT_TEACHING_BASE = 'glyphs-latin';
