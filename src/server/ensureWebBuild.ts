/**
 * `npm start`'s `prestart` step: builds the web app into web-dist/ when it is missing or older than its sources,
 * so a fresh clone runs with `npm install && npm start` and nothing else.
 *
 * Sources: web/, src/core/ (shared with the page), src/backend/, src/train/ and src/data/ (the page's training worker
 * bundles them), src/export/ (the build writes each model's model.onnx with it),
 * vite.config.ts and the shipped model folders, models/* (model.json, metadata.json, SHA256SUMS; the weights are
 * rewritten together with model.json): the scripts' models and the line verifiers the app publishes beside them.
 * Run directly: `npx tsx src/server/ensureWebBuild.ts` (exit 0 when the build is up to date or was rebuilt, 1 on failure).
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

/** Newest modification time (ms since epoch) of any file under `path`; 0 when it does not exist. */
export function newestMtime(path: string): number {
  if (!existsSync(path)) return 0;
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  let newest = 0;
  for (const entry of readdirSync(path)) newest = Math.max(newest, newestMtime(join(path, entry)));
  return newest;
}

/**
 * True when `<repo>/web-dist/index.html` is missing or older than any source of the web app.
 * @param root repository root; default this repository.
 */
export function webBuildIsStale(root = repoRoot): boolean {
  const built = join(root, 'web-dist', 'index.html');
  if (!existsSync(built)) return true;
  const modelsDir = join(root, 'models');
  const folders = existsSync(modelsDir) ? readdirSync(modelsDir) : [];
  const models = folders.flatMap((folder) => ['model.json', 'metadata.json', 'SHA256SUMS'].map((file) => `models/${folder}/${file}`));
  const sources = ['web', 'src/core', 'src/backend', 'src/train', 'src/data', 'src/export', 'vite.config.ts', ...models].map((path) => newestMtime(join(root, path)));
  return Math.max(...sources) > statSync(built).mtimeMs;
}

/**
 * Builds web-dist/ with Vite's API when stale (or always, with `force`); logs what it does.
 * The models copied into the app are `HWR_WEB_MODEL_DIR` or models/digits, and `HWR_WEB_HANZI_MODEL_DIR` or
 * models/hanzi (see vite.config.ts).
 * @throws when the build fails.
 */
export async function ensureWebBuild(root = repoRoot, options: { force?: boolean } = {}): Promise<void> {
  if (!options.force && !webBuildIsStale(root)) {
    console.log('hwr: web app in web-dist/ is up to date');
    return;
  }
  console.log('hwr: building the web app into web-dist/ ...');
  const { build } = await import('vite');
  await build({ configFile: join(root, 'vite.config.ts'), logLevel: 'warn' });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  ensureWebBuild().catch((error: unknown) => {
    console.error('hwr: building the web app failed:', error);
    process.exit(1);
  });
}
