/**
 * Entry point of `npm start`: serves the web app and the recognition API on
 * http://localhost:3000 with the shipped model.
 *
 * Environment: `PORT` (default 3000), `HOST` (default `localhost`; `0.0.0.0` to reach it from a phone
 * on the same network), `HWR_MODEL` (model name under models/ or a model folder; default `digits`),
 * `LOG_LEVEL` (pino level; default `info`). Stops cleanly on SIGTERM and SIGINT.
 */
import { buildServer } from './server.ts';

const port = Number(process.env.PORT ?? 3000);
const host = process.env.HOST ?? 'localhost';
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`PORT must be an integer from 0 to 65535, got ${JSON.stringify(process.env.PORT)}`);
  process.exit(2);
}

const app = buildServer({
  model: process.env.HWR_MODEL ?? 'digits',
  logger: { level: process.env.LOG_LEVEL ?? 'info' },
});

let closing = false;
async function shutDown(signal: NodeJS.Signals): Promise<void> {
  if (closing) {
    // A second signal means "now": skip waiting for open requests.
    process.exit(1);
  }
  closing = true;
  app.log.info({ signal }, 'shutting down');
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
