/**
 * `npm start` as Docker, systemd or a terminal run it: SIGTERM to the npm process reaches the server, which stops
 * accepting connections, finishes the request in flight, and exits, leaving no process of the tree behind; a second
 * signal exits at once. Also the log format: LOG_FORMAT=pretty gives readable lines, json (the default off a
 * terminal) one JSON object per line (checked on the same runs, to start the server only twice).
 *
 * `npm start --ignore-scripts` skips `prestart` (the web build), which these tests do not need.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { digitPng, mnistTestDigits } from '../fixtures/images.ts';
import { head, parseResponse } from './rawHttp.ts';

const MODEL = process.env.HWR_MODEL ?? 'digits';
/** Every process this file started (npm and its descendants, seen once the server was up). */
const started = new Set<number>();

afterEach(() => {
  // A failed test must not leave a server behind: end every process this file started that is still alive.
  for (const pid of started) {
    if (isAlive(pid)) process.kill(pid, 'SIGKILL');
  }
  started.clear();
});

/** Pids of every living descendant of `pid`, from /proc (Linux). */
function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(parent, [...(children.get(parent) ?? []), Number(entry)]);
    } catch {
      // exited while we looked
    }
  }
  const found: number[] = [];
  const visit = (id: number): void => { for (const child of children.get(id) ?? []) { found.push(child); visit(child); } };
  visit(pid);
  return found;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return !readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z '); // a zombie has exited
  } catch {
    return false;
  }
}

/** Starts `npm start` (or `node main.ts` with `direct`) on a free port; resolves with its port once healthy. */
async function startServer(env: Record<string, string> = {}): Promise<{ child: ChildProcess; port: number; output: () => string }> {
  const child = spawn('npm', ['start', '--ignore-scripts', '--silent'], {
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', HWR_MODEL: MODEL, HWR_WORKERS: '1', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  started.add(child.pid!);
  let output = '';
  child.stdout!.on('data', (chunk) => { output += chunk; });
  child.stderr!.on('data', (chunk) => { output += chunk; });
  const port = await new Promise<number>((resolve, reject) => {
    const poll = setInterval(() => {
      const match = /on http:\/\/127\.0\.0\.1:(\d+)\//.exec(output);
      if (match) { clearInterval(poll); resolve(Number(match[1])); }
    }, 50);
    child.once('exit', (code) => { clearInterval(poll); reject(new Error(`npm start exited early with ${code}: ${output}`)); });
  });
  for (let attempt = 0; ; attempt++) {
    const health = await fetch(`http://127.0.0.1:${port}/api/health`).then((response) => response.status, () => 0);
    if (health === 200) break;
    if (attempt > 600) throw new Error(`never healthy: ${output}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  for (const pid of descendants(child.pid!)) started.add(pid);
  return { child, port, output: () => output };
}

function exitOf(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) resolve(child.exitCode);
    else child.once('exit', (code) => resolve(code));
  });
}

/** True when a new connection to the port is refused. */
function refuses(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => { socket.destroy(); resolve(false); });
    socket.once('error', () => resolve(true));
  });
}

/** Opens a connection and sends a POST /api/predict whose body is only half there: a request in flight. */
async function requestInFlight(port: number, png: Buffer): Promise<{ finish: () => Promise<ReturnType<typeof parseResponse>>; socket: net.Socket }> {
  const socket = net.connect(port, '127.0.0.1');
  await new Promise((resolve) => socket.once('connect', resolve));
  let text = '';
  socket.on('data', (chunk) => { text += chunk.toString('latin1'); });
  const closed = new Promise((resolve) => socket.once('close', resolve));
  socket.on('error', () => {});
  const half = Math.floor(png.length / 2);
  socket.write(head('POST', '/api/predict', { 'Content-Type': 'image/png', 'Content-Length': png.length }));
  socket.write(png.subarray(0, half));
  const finish = async (): Promise<ReturnType<typeof parseResponse>> => {
    socket.write(png.subarray(half));
    await closed;
    return parseResponse(text);
  };
  return { finish, socket };
}

describe('npm start and signals', () => {
  it('SIGTERM to npm: no new connections, the request in flight is answered, then every process of the tree exits', async () => {
    const png = await digitPng((await mnistTestDigits(1))[0]!);
    const { child, port, output } = await startServer();
    const tree = descendants(child.pid!);
    expect(tree.length).toBeGreaterThan(0);
    const inFlight = await requestInFlight(port, png);

    const exited = exitOf(child);
    child.kill('SIGTERM');
    for (let attempt = 0; attempt < 200 && !(await refuses(port)); attempt++) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(await refuses(port)).toBe(true);

    const answer = await inFlight.finish();
    expect(answer.status).toBe(200);
    expect(answer.body.label).toBe('7');
    expect(await exited).toBe(0);
    for (let attempt = 0; attempt < 100 && tree.some(isAlive); attempt++) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(tree.filter(isAlive)).toEqual([]);

    // The log, JSON by default when stdout is not a terminal: one object per line, the answered request among them.
    const entries = output().split('\n').filter((text) => text.startsWith('{')).map((text) => JSON.parse(text));
    expect(entries.find((entry) => entry.url === '/api/predict')).toMatchObject({ level: 30, statusCode: 200 });
  });

  it('a second SIGTERM exits at once, without waiting for the request in flight; LOG_FORMAT=pretty gives readable lines', async () => {
    const png = await digitPng((await mnistTestDigits(1))[0]!);
    const { child, port, output } = await startServer({ LOG_FORMAT: 'pretty' });
    await fetch(`http://127.0.0.1:${port}/api/nothing-here`);
    const tree = descendants(child.pid!);
    const inFlight = await requestInFlight(port, png);
    const exited = exitOf(child);
    child.kill('SIGTERM');
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(child.exitCode).toBe(null); // still waiting for the request in flight
    child.kill('SIGTERM');
    expect(await exited).not.toBe(0);
    for (let attempt = 0; attempt < 100 && tree.some(isAlive); attempt++) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(tree.filter(isAlive)).toEqual([]);
    expect(output()).toMatch(/second signal/);
    inFlight.socket.destroy();

    const line = output().split('\n').find((text) => text.includes('/api/nothing-here'));
    expect(line).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: .*404/);
    expect(output()).not.toMatch(/^\{"level"/m);
  });
});
