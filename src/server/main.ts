/**
 * Entry point of `npm start`: serves the web app and the recognition API on
 * http://localhost:3000 with the shipped model.
 *
 * Environment: `PORT` (default 3000), `HOST` (default `localhost`; `0.0.0.0` to reach it from a phone
 * on the same network), `HWR_MODEL` (the default model, for requests without `model`: a name under models/ or a
 * model folder; default `digits`; the other models under models/ are served by name too), `HWR_ENGINE` (what runs
 * the models: `auto`, the default, is ONNX Runtime where it can run the model and TF.js otherwise, with a warning;
 * `onnx` or `tfjs` force one; `GET /api/health` says which runs the default model; the ONNX form of each model is
 * cached in `HWR_CACHE_DIR`, default `~/.cache/hwr`),
 * `HWR_DATA_DIR` (folder of the ink datasets of `/api/datasets`; default `data/datasets` under the working
 * directory), `HWR_DATASET_TOKEN` (a secret that turns on dataset writes and then guards every `/api/datasets` route:
 * `Authorization: Bearer <secret>`; unset, writes answer 403), `HWR_DATASET_MAX_BYTES` (one dataset, default 5 MiB),
 * `HWR_DATASET_MAX_COUNT` (datasets in the folder, default 100), `HWR_DATASET_MAX_TOTAL_BYTES` (all of them, default
 * 200 MiB), `LOG_LEVEL` (pino level; default `info`), `LOG_FORMAT` (`pretty`: one readable line per entry; `json`: one JSON
 * object per line, for log collectors; default `pretty` when stdout is a terminal, else `json`).
 *
 * Signals: the first SIGTERM or SIGINT stops accepting connections, lets the requests in flight finish, then exits 0;
 * a second one exits at once (code 1). `npm start` runs this file in a single node process (`exec node --import tsx`)
 * so that the signal reaches it: a `tsx` in between would start a second process that npm's signal never reaches.
 */
import pretty from 'pino-pretty';
import type { FastifyServerOptions } from 'fastify';
import { parseEngineChoice, type EngineChoice } from '../node/recognizer.ts';
import { datasetStoreOptionsFromEnv, type DatasetStoreOptions } from './datasetStore.ts';
import { buildServer } from './server.ts';

const port = Number(process.env.PORT ?? 3000);
const host = process.env.HOST ?? 'localhost';
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`PORT must be an integer from 0 to 65535, got ${JSON.stringify(process.env.PORT)}`);
  process.exit(2);
}

/**
 * Pino options for `LOG_LEVEL` and `LOG_FORMAT`. The readable format is pino-pretty as a synchronous stream in this
 * thread (not a transport worker), so the last lines before `process.exit` are not lost.
 * @throws when `LOG_FORMAT` is neither `pretty` nor `json`.
 */
function loggerOptions(level: string, format: string | undefined, isTerminal: boolean): FastifyServerOptions['logger'] {
  const chosen = format ?? (isTerminal ? 'pretty' : 'json');
  if (chosen === 'json') return { level };
  if (chosen !== 'pretty') throw new Error(`LOG_FORMAT must be pretty or json, got ${JSON.stringify(format)}`);
  const stream = pretty({ colorize: isTerminal, singleLine: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname', sync: true });
  return { level, stream };
}

let engine: EngineChoice;
try {
  engine = parseEngineChoice(process.env.HWR_ENGINE, 'HWR_ENGINE');
} catch (error) {
  console.error((error as Error).message);
  process.exit(2);
}

let datasets: DatasetStoreOptions;
try {
  datasets = datasetStoreOptionsFromEnv(process.env);
} catch (error) {
  console.error((error as Error).message);
  process.exit(2);
}

let logger: FastifyServerOptions['logger'];
try {
  logger = loggerOptions(process.env.LOG_LEVEL ?? 'info', process.env.LOG_FORMAT || undefined, process.stdout.isTTY === true);
} catch (error) {
  console.error((error as Error).message);
  process.exit(2);
}

const app = buildServer({ model: process.env.HWR_MODEL ?? 'digits', engine, logger, datasets });
app.log.info({ dir: datasets.dir, writes: Boolean(datasets.token) },
  datasets.token ? 'datasets: writes enabled (HWR_DATASET_TOKEN set)' : 'datasets: read-only (set HWR_DATASET_TOKEN to enable writes)');

let closing = false;
async function shutDown(signal: NodeJS.Signals): Promise<void> {
  if (closing) {
    // A second signal means "now": skip waiting for open requests.
    app.log.warn({ signal }, 'second signal: exiting without waiting for open requests');
    process.exit(1);
  }
  closing = true;
  app.log.info({ signal }, 'shutting down: no new connections; waiting for the requests in flight (a second signal exits at once)');
  try {
    await app.close();
    process.exit(0);
  } catch (error) {
    app.log.error({ err: error }, 'shutdown failed');
    process.exit(1);
  }
}
process.on('SIGTERM', shutDown);
process.on('SIGINT', shutDown);

try {
  await app.listen({ port, host });
} catch (error) {
  app.log.error({ err: error }, `cannot listen on ${host}:${port}`);
  process.exit(1);
}
const address = app.server.address();
const boundPort = typeof address === 'object' && address ? address.port : port;
const shownHost = host === '0.0.0.0' || host === '::' ? 'localhost' : host.includes(':') ? `[${host}]` : host;
console.log(`hwr: handwriting pad and API on http://${shownHost}:${boundPort}/`);
