/**
 * Vite config of the handwriting pad web app (web/).
 *
 * `npm run build` writes web-dist/: a static folder that works from any static host and under any sub-path
 * (`base: './'`, every URL relative). Recognition then runs in the browser, so the model files of both scripts
 * (models/digits/, models/hanzi/) and the wasm binaries of TF.js and of ONNX Runtime Web are copied into it as
 * `models/digits/*`, `models/hanzi/*` and `wasm/*`. Each model's ONNX form is generated from its folder at build
 * time (`toOnnx(lowerModel(model))` of src/export/, float32) as `models/<script>/model.onnx`, with its SHA-256 in
 * `models/<script>/generated.SHA256SUMS` (the folder's committed SHA256SUMS lists only the model's own files), for
 * the page's optional ONNX Runtime Web engine (`?engine=onnxruntime-web`; web/src/recognition/loadInBrowser.ts).
 * The page fetches the hanzi model only when 中文 is chosen, and keeps its weights (or model.onnx) in the Cache API
 * (web/src/recognition/modelFetch.ts).
 * The teaching base (`TEACHING_BASES`: models/glyphs-latin) is published as `models/glyphs-latin/` for teach mode.
 * Line verifiers: every folder of models/ whose metadata names a published script in `pairsFor` and whose classes
 * make it a segment verifier (a class `whole`, as `verifierClass` of src/core/line/pairs.ts: `hanzi-segments`) is
 * published as `models/<folder>/` too (with its ONNX form), and `models/line-verifiers.json` maps each script to its
 * verifier's folder (`{ "hanzi": "hanzi-segments/" }`). Line mode's worker loads it on the first line it reads, as the
 * server does (web/src/recognition/lineVerifier.ts). Pair models without a `whole` class are left out: the line reader
 * uses them on images only, and the page reads ink.
 * hwr's SIMD training kernels (`src/backend/simd/kernels.wasm` and its relaxed-SIMD build `kernels-relaxed.wasm`, for
 * the page's training worker) need no entry here: Vite emits them as hashed assets beside the worker because
 * src/backend/simd/index.ts names them with `new URL('./kernels.wasm', import.meta.url)`.
 * `npm run dev:web` serves the same files from their sources and proxies `/api` to the server (`npm start`).
 *
 * Environment: `HWR_WEB_MODEL_DIR` (model folder copied into the app as the digits model; default `models/digits`),
 * `HWR_WEB_HANZI_MODEL_DIR` (copied as the hanzi model; default `models/hanzi`),
 * `PORT` (where the dev proxy finds the server; default 3000).
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, posix, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig, type Plugin } from 'vite';
import { DEFAULT_TEACHING_BASE } from './src/train/teachingBase.ts';

const repoRoot = dirname(fileURLToPath(import.meta.url));
/** The model folder published as `models/<script>/` in the app, per script. */
const modelDirs: Record<'digits' | 'hanzi', string> = {
  digits: resolve(repoRoot, process.env.HWR_WEB_MODEL_DIR ?? 'models/digits'),
  hanzi: resolve(repoRoot, process.env.HWR_WEB_HANZI_MODEL_DIR ?? 'models/hanzi'),
};
/**
 * Teaching bases published as `models/<name>/` (model files only, no ONNX form: the page's training worker loads them
 * on TF.js): the model a taught script learns from (`DEFAULT_TEACHING_BASE`, src/train/teachingBase.ts).
 */
const TEACHING_BASES = [DEFAULT_TEACHING_BASE];

/** The index of line verifiers inside the app (script -> its verifier's folder, relative to `models/`). */
const LINE_VERIFIERS_FILE = 'models/line-verifiers.json';

/**
 * The segment verifiers of the published scripts: folder name under models/ -> { dir, script }. A verifier is a model
 * folder with model.json whose metadata.json has `pairsFor` naming a key of `modelDirs` and a class `whole`.
 * Scanned once per process (the dev server asks for the published files on every request, and some metadata.json
 * files, hanzi's, are large); a new verifier folder needs a restart of the dev server, as the generated files do.
 */
function lineVerifierDirs(): Map<string, { dir: string; script: string }> {
  verifierDirs ??= scanLineVerifierDirs();
  return verifierDirs;
}
let verifierDirs: Map<string, { dir: string; script: string }> | undefined;

function scanLineVerifierDirs(): Map<string, { dir: string; script: string }> {
  const found = new Map<string, { dir: string; script: string }>();
  const root = resolve(repoRoot, 'models');
  if (!existsSync(root)) return found;
  for (const folder of readdirSync(root).sort()) {
    const dir = join(root, folder);
    if (!existsSync(join(dir, 'model.json')) || !existsSync(join(dir, 'metadata.json'))) continue;
    try {
      const metadata = JSON.parse(readFileSync(join(dir, 'metadata.json'), 'utf8')) as { pairsFor?: unknown; classes?: unknown };
      const script = metadata.pairsFor;
      if (typeof script !== 'string' || !(script in modelDirs) || Object.values(modelDirs).includes(dir)) continue;
      if (!Array.isArray(metadata.classes) || !metadata.classes.includes('whole')) continue;
      if (![...found.values()].some((v) => v.script === script)) found.set(folder, { dir, script });
    } catch {
      // An unreadable metadata.json: not published (the server reports it when it loads the folder).
    }
  }
  return found;
}

/** Every model folder published in the app: URL folder under `models/` -> folder on disk (scripts, then verifiers). */
function publishedModelDirs(): Map<string, string> {
  const dirs = new Map<string, string>(Object.entries(modelDirs));
  for (const [folder, { dir }] of lineVerifierDirs()) dirs.set(folder, dir);
  return dirs;
}

const require = createRequire(import.meta.url);
const wasmDir = dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm'));
/**
 * ONNX Runtime Web's binary and its JavaScript glue, the one variant the page uses (wasm SIMD, threads where the page
 * is cross-origin isolated): 14.2 MB (3.7 MB gzipped) and 24 KB, published as `wasm/ort-wasm-simd-threaded.wasm` and
 * `wasm/ort-wasm-simd-threaded.js` (`.js`, not the package's `.mjs`: every static host serves `.js` as JavaScript,
 * which a module import requires). The page imports onnxruntime-web's `ort.wasm.min.mjs` (not the default bundle,
 * which embeds the glue and makes Vite emit a second, hashed copy of the binary), which loads both from `wasm/`
 * (`ort.env.wasm.wasmPaths`, web/src/recognition/ortWebEngine.ts).
 */
const ortDist = dirname(require.resolve('onnxruntime-web/ort-wasm-simd-threaded.wasm'));
const ORT_FILES: Record<string, string> = {
  'ort-wasm-simd-threaded.wasm': join(ortDist, 'ort-wasm-simd-threaded.wasm'),
  'ort-wasm-simd-threaded.js': join(ortDist, 'ort-wasm-simd-threaded.mjs'),
};
/** The generated ONNX file and its checksum file inside each published model folder. */
const ONNX_FILE = 'model.onnx';
const GENERATED_CHECKSUMS_FILE = 'generated.SHA256SUMS';

/** Files published with the app: URL path inside the app -> file on disk. */
function publishedFiles(): Map<string, string> {
  const files = new Map<string, string>();
  for (const name of readdirSync(wasmDir).filter((file) => file.endsWith('.wasm'))) {
    files.set(`wasm/${name}`, join(wasmDir, name));
  }
  for (const [name, path] of Object.entries(ORT_FILES)) files.set(`wasm/${name}`, path);
  const teachingBases = TEACHING_BASES.map((name) => [name, resolve(repoRoot, 'models', name)] as const);
  for (const [folder, dir] of [...publishedModelDirs(), ...teachingBases]) {
    for (const name of modelFileNames(dir)) files.set(`models/${folder}/${name}`, join(dir, name));
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

/**
 * The files generated from the model folders: `models/<folder>/model.onnx` (`exportModel` of src/export/export.ts,
 * float32, with the model's sidecar in its metadata_props) and `models/<folder>/generated.SHA256SUMS` (its SHA-256, in the
 * format of SHA256SUMS) per published model folder (scripts and line verifiers), and `models/line-verifiers.json`
 * (script -> its verifier's folder; `{}` when there is none); URL path inside the app -> bytes. About 0.1-0.2 s per model.
 * src/export and src/node are imported only here, when a build or the dev server needs them.
 * @throws HwrError `BAD_MODEL`/`UNSUPPORTED_MODEL` when a model cannot be loaded or lowered.
 */
async function generatedFiles(): Promise<Map<string, Uint8Array>> {
  const files = new Map<string, Uint8Array>();
  const verifiers = Object.fromEntries([...lineVerifierDirs()].map(([folder, { script }]) => [script, `${folder}/`]));
  files.set(LINE_VERIFIERS_FILE, new TextEncoder().encode(`${JSON.stringify(verifiers, null, 2)}\n`));
  const present = [...publishedModelDirs()].filter(([, dir]) => existsSync(join(dir, 'model.json')));
  if (present.length === 0) return files;
  const [{ setupBackend }, { loadModel }, { exportModel }, { HWR_VERSION, modelWeightsSha256 }] = await Promise.all([
    import('./src/backend/backend.ts'),
    import('./src/node/modelFiles.ts'),
    import('./src/export/export.ts'),
    import('./src/node/onnxCache.ts'),
  ]);
  await setupBackend();
  for (const [folder, dir] of present) {
    const model = await loadModel(dir);
    try {
      const metadata = JSON.parse(readFileSync(join(dir, 'metadata.json'), 'utf8'));
      const { bytes: onnx } = await exportModel(model, metadata, {
        format: 'onnx',
        quantize: 'float32',
        modelFile: ONNX_FILE,
        command: 'vite build (vite.config.ts of hwr)',
        version: HWR_VERSION,
        sourceWeightsSha256: await modelWeightsSha256(dir),
      });
      files.set(`models/${folder}/${ONNX_FILE}`, onnx);
      const sum = createHash('sha256').update(onnx).digest('hex');
      files.set(`models/${folder}/${GENERATED_CHECKSUMS_FILE}`, new TextEncoder().encode(`${sum}  ${ONNX_FILE}\n`));
    } finally {
      model.dispose();
    }
  }
  return files;
}

/** Copies the model and wasm binaries into the build, and serves them from their sources in dev. */
function modelAndWasmFiles(): Plugin {
  return {
    name: 'hwr-model-and-wasm-files',
    configureServer(server) {
      let generated: Promise<Map<string, Uint8Array>> | null = null;
      server.middlewares.use((request, response, next) => {
        const path = decodeURIComponent((request.url ?? '').split('?')[0]!.replace(/^\//, ''));
        const file = publishedFiles().get(path);
        const type = path.endsWith('.wasm') ? 'application/wasm' : path.endsWith('.json') ? 'application/json' : path.endsWith('.js') ? 'text/javascript' : 'application/octet-stream';
        if (file) {
          response.setHeader('Content-Type', type);
          return void response.end(readFileSync(file));
        }
        if (!path.endsWith(ONNX_FILE) && !path.endsWith(GENERATED_CHECKSUMS_FILE) && path !== LINE_VERIFIERS_FILE) return next();
        generated ??= generatedFiles();
        generated.then((files) => {
          const bytes = files.get(path);
          if (!bytes) return next();
          response.setHeader('Content-Type', type);
          response.end(bytes);
        }, next);
      });
    },
    async generateBundle() {
      for (const [script, dir] of Object.entries(modelDirs)) {
        if (!existsSync(join(dir, 'model.json'))) {
          this.warn(`no ${script} model in ${dir}: the built app will recognize ${script} only in server mode`);
        }
      }
      for (const [fileName, path] of publishedFiles()) {
        this.emitFile({ type: 'asset', fileName, source: readFileSync(path) });
      }
      for (const [fileName, source] of await generatedFiles()) {
        this.emitFile({ type: 'asset', fileName, source });
      }
    },
  };
}

export default defineConfig({
  root: resolve(repoRoot, 'web'),
  base: './',
  publicDir: false,
  plugins: [modelAndWasmFiles()],
  resolve: {
    alias: [{ find: /^onnxruntime-web\/wasm$/, replacement: join(ortDist, 'ort.wasm.min.mjs') }],
  },
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
