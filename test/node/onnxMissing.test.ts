/**
 * A platform where `onnxruntime-node` cannot be loaded (no binary for it, a broken install), simulated by a module
 * mock that throws on import: `auto` runs TF.js with one warning line saying why, `onnx` refuses with one clear
 * error, `tfjs` is unaffected.
 */
import { describe, expect, it, vi } from 'vitest';
import { loadRecognizer } from '../../src/node/recognizer.ts';

vi.mock('onnxruntime-node', () => {
  throw new Error('Cannot find module onnxruntime_binding.node\n    at stack line');
});

describe('without onnxruntime-node', () => {
  it('auto falls back to TF.js with one warning line; onnx is an UNSUPPORTED_MODEL error naming the platform', async () => {
    const warnings: string[] = [];
    const recognizer = await loadRecognizer('digits', undefined, { engine: 'auto', warn: (line) => warnings.push(line) });
    expect(recognizer.engine).toBe('tfjs');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^onnxruntime-node cannot be loaded on \w+-\w+ \(Node [\d.]+\): .+ -- running .* with TF\.js instead of ONNX Runtime$/);
    recognizer.dispose();
    const error = (await loadRecognizer('digits', undefined, { engine: 'onnx' }).then(() => null, (e: unknown) => e)) as Error & { code: string };
    expect(error.code).toBe('UNSUPPORTED_MODEL');
    expect(error.message).toMatch(/^onnxruntime-node cannot be loaded on /);
    expect(error.message).not.toContain('\n');
    const tfjs = await loadRecognizer('digits', undefined, { engine: 'tfjs' });
    expect(tfjs.engine).toBe('tfjs');
    tfjs.dispose();
  });
});
