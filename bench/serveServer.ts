/**
 * The server of the serving benchmark (bench/serve.ts): `buildServer` with the shipped model and the worker count
 * given as the first argument (0 = recognition on the event loop), no web app, no log, on 127.0.0.1 and a free port.
 * The engine comes from `HWR_ENGINE` (`tfjs`, `onnx` or `auto`), read as src/server/main.ts reads it.
 * Prints one JSON line `{ "url" }` once the model is loaded; exits on SIGTERM.
 * Measures its own event-loop delay: the line `reset` on stdin starts a new measurement, `report` prints
 * `{ "maxMs", "p99Ms" }` (perf_hooks.monitorEventLoopDelay, 5 ms resolution): the longest stall of every request;
 * `cpu` prints `{ "cpuMs" }`, the CPU time the process (all its threads) has used so far.
 */
import type { AddressInfo } from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { parseEngineChoice } from '../src/node/recognizer.ts';
import { buildServer } from '../src/server/server.ts';

const workers = Number(process.argv[2] ?? 1);
const engine = parseEngineChoice(process.env.HWR_ENGINE, 'HWR_ENGINE');
const app = buildServer({ workers, engine, webRoot: false, logger: false });
await app.listen({ port: 0, host: '127.0.0.1' });
const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
for (;;) {
  const health = await fetch(`${url}/api/health`);
  if (health.status === 200) break;
  if (((await health.json()) as { status: string }).status === 'failed') throw new Error('serving bench: the model failed to load');
  await new Promise((done) => setTimeout(done, 100));
}
process.stdout.write(`${JSON.stringify({ url })}\n`);
const delay = monitorEventLoopDelay({ resolution: 5 });
delay.enable();
createInterface({ input: process.stdin }).on('line', (command) => {
  if (command === 'reset') delay.reset();
  if (command === 'report') process.stdout.write(`${JSON.stringify({ maxMs: delay.max / 1e6, p99Ms: delay.percentile(99) / 1e6 })}\n`);
  if (command === 'cpu') {
    const { user, system } = process.cpuUsage();
    process.stdout.write(`${JSON.stringify({ cpuMs: (user + system) / 1000 })}\n`);
  }
});
process.once('SIGTERM', () => {
  void app.close().then(() => process.exit(0));
});
