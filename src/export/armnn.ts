/**
 * ArmNN's TFLite parser as an independent check of hwr's TFLite files, from Node: runs scripts/armnn_run.py (Debian's
 * python3-pyarmnn, ArmNN's reference backend `CpuRef`) in a child process. Node-only.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { hwrError } from '../core/errors.ts';

/** The Python that has Debian's pyarmnn (not a pyenv or venv python first on PATH); `HWR_ARMNN_PYTHON` overrides it. */
export const ARMNN_PYTHON = process.env.HWR_ARMNN_PYTHON ?? '/usr/bin/python3';

/** scripts/armnn_run.py of this repository. */
export const ARMNN_SCRIPT = resolve(dirname(fileURLToPath(import.meta.url)), '../../scripts/armnn_run.py');

let availability: string | null | undefined;

/**
 * Whether ArmNN can be used here: null when `import pyarmnn` works in `ARMNN_PYTHON`, else why not (one line, naming
 * the Debian packages to install). Checked once per process.
 */
export function armnnAvailable(): string | null {
  if (availability === undefined) {
    const probe = spawnSync(ARMNN_PYTHON, ['-c', 'import pyarmnn'], { encoding: 'utf8' });
    availability = probe.status === 0
      ? null
      : `ArmNN is not installed for ${ARMNN_PYTHON} (apt-get install python3-pyarmnn libarmnntfliteparser22 libarmnn-cpuref-backend22)`;
  }
  return availability;
}

/**
 * Runs `count` images through a TFLite file with ArmNN.
 * @param images `[count, h, w, 1]` float32 in the model's input layout
 * @param outputs values per image in the model's output (the classes)
 * @returns `[count * outputs]` float32
 * @throws HwrError `BAD_MODEL` with ArmNN's one-line reason when it cannot parse or run the file; `UNSUPPORTED_MODEL`
 *   when ArmNN is not installed
 */
export async function runArmnn(path: string, images: Float32Array, count: number, outputs: number): Promise<Float32Array> {
  const missing = armnnAvailable();
  if (missing !== null) throw hwrError('UNSUPPORTED_MODEL', missing);
  const dir = await mkdtemp(join(tmpdir(), 'hwr-armnn-'));
  try {
    const input = join(dir, 'input.bin');
    const output = join(dir, 'output.bin');
    await writeFile(input, new Uint8Array(images.buffer, images.byteOffset, images.byteLength));
    const { code, stderr } = await new Promise<{ code: number | null; stderr: string }>((done, fail) => {
      const child = spawn(ARMNN_PYTHON, [ARMNN_SCRIPT, path, input, String(count), output], { stdio: ['ignore', 'ignore', 'pipe'] });
      let text = '';
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
      child.on('error', fail);
      child.on('close', (status) => done({ code: status, stderr: text }));
    });
    if (code !== 0) {
      const line = stderr.trim().split('\n').filter(Boolean).pop() ?? `exit status ${code}`;
      throw hwrError('BAD_MODEL', line.startsWith(path) ? line : `${path}: ArmNN: ${line}`);
    }
    const bytes = await readFile(output);
    const result = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
    if (result.length !== count * outputs) throw hwrError('BAD_MODEL', `${path}: ArmNN answered ${result.length} values for ${count} images of ${outputs} classes`);
    return result;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
