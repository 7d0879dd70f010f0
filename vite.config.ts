/**
 * Vite config of the handwriting pad web app (web/).
 *
 * `npm run build` writes web-dist/: a static folder that works from any static host and under any sub-path
 * (`base: './'`, every URL relative). Recognition then runs in the browser, so the model files of both scripts
 * (models/digits/, models/hanzi/) and the TF.js wasm binaries are copied into it as `models/digits/*`,
 * `models/hanzi/*` and `wasm/*`. The page fetches the hanzi model only when 中文 is chosen, and keeps its weights in
 * the Cache API (web/src/recognition/modelFetch.ts).
 * `npm run dev:web` serves the same files from their sources and proxies `/api` to the server (`npm start`).
 *
 * Environment: `HWR_WEB_MODEL_DIR` (model folder copied into the app as the digits model; default `models/digits`),
 * `HWR_WEB_HANZI_MODEL_DIR` (copied as the hanzi model; default `models/hanzi`),
 * `PORT` (where the dev proxy finds the server; default 3000).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, posix, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig, type Plugin } from 'vite';

const repoRoot = dirname(fileURLToPath(import.meta.url));
/** The model folder published as `models/<script>/` in the app, per script. */
const modelDirs: Record<'digits' | 'hanzi', string> = {
  digits: resolve(repoRoot, process.env.HWR_WEB_MODEL_DIR ?? 'models/digits'),
  hanzi: resolve(repoRoot, process.env.HWR_WEB_HANZI_MODEL_DIR ?? 'models/hanzi'),
};
const wasmDir = dirname(createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm'));

/** Files published with the app: URL path inside the app -> file on disk. */
function publishedFiles(): Map<string, string> {
  const files = new Map<string, string>();
  for (const name of readdirSync(wasmDir).filter((file) => file.endsWith('.wasm'))) {
    files.set(`wasm/${name}`, join(wasmDir, name));
  }
  for (const [script, dir] of Object.entries(modelDirs)) {
    for (const name of modelFileNames(dir)) files.set(`models/${script}/${name}`, join(dir, name));
  }
  return files;
}

/**
 * The files the browser needs from a model folder: model.json, its weight shards (from its weights manifest),
 * metadata.json and SHA256SUMS (the browser checks the others against it); not the training leftovers
 * (checkpoints, curves, history). Empty when there is no model.
 */
function modelFileNames(dir: string): string[] {
  const modelJson = join(dir, 'model.json');
  if (!existsSync(modelJson)) return [];
  const manifest = (JSON.parse(readFileSync(modelJson, 'utf8')) as { weightsManifest?: Array<{ paths: string[] }> }).weightsManifest ?? [];
  const names = ['model.json', 'metadata.json', 'SHA256SUMS', ...manifest.flatMap((group) => group.paths.map((path) => posix.normalize(path)))];
  return names.filter((name) => existsSync(join(dir, name)));
}

/** Copies the model and wasm binaries into the build, and serves them from their sources in dev. */
function modelAndWasmFiles(): Plugin {
  return {
    name: 'hwr-model-and-wasm-files',
    configureServer(server) {
      server.middlewares.use((request, response, next) => {
        const path = decodeURIComponent((request.url ?? '').split('?')[0]!.replace(/^\//, ''));
        const file = publishedFiles().get(path);
        if (!file) return next();
        response.setHeader('Content-Type', path.endsWith('.wasm') ? 'application/wasm' : path.endsWith('.json') ? 'application/json' : 'application/octet-stream');
        response.end(readFileSync(file));
      });
    },
    generateBundle() {
      for (const [script, dir] of Object.entries(modelDirs)) {
        if (!existsSync(join(dir, 'model.json'))) {
          this.warn(`no ${script} model in ${dir}: the built app will recognize ${script} only in server mode`);
        }
      }
      for (const [fileName, path] of publishedFiles()) {
        this.emitFile({ type: 'asset', fileName, source: readFileSync(path) });
      }
    },
  };
}

export default defineConfig({
  root: resolve(repoRoot, 'web'),
  base: './',
  publicDir: false,
  plugins: [modelAndWasmFiles()],
  build: {
    outDir: resolve(repoRoot, 'web-dist'),
    emptyOutDir: true,
    target: 'es2022',
    // TF.js is one large chunk by nature; it loads in the worker, off the UI thread.
    chunkSizeWarningLimit: 4096,
  },
  worker: { format: 'es' },
  server: {
    proxy: { '/api': `http://localhost:${process.env.PORT ?? 3000}` },
  },
});
