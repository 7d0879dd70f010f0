/**
 * Helper threads for the SIMD kernels: one training step's convolutions on two (or more) cores over the wasm
 * backend's *shared* memory (issue 13, "both cores for one step").
 *
 * How: when TF.js runs its threaded wasm build (its heap is a `SharedArrayBuffer`-backed `WebAssembly.Memory`,
 * see ../threadedWasm.ts for Node), every helper thread instantiates the shared build of `kernels.wasm` on that same
 * memory, so a pointer means the same bytes on every thread. A kernel wrapper splits its work into calls that
 * write disjoint outputs (whole images, or separate partial sums added afterwards) and `runCalls` runs the first on
 * the calling thread and the others on the helpers, returning when all are done.
 *
 * Protocol, per helper: an `Int32Array` control block on a `SharedArrayBuffer` ([0] request sequence number,
 * [1] finished sequence number, [2] export index, [3] argument count, [4] error flag) and a `Float64Array` of up
 * to `MAX_ARGS` arguments (i32 pointers and sizes are exact in f64). The caller writes the call and bumps [0]
 * (`Atomics.notify`); the helper, blocked in `Atomics.wait` on [0], runs the export and stores the sequence number
 * in [1] (`Atomics.notify`); the caller waits on [1]. No message passing on the hot path.
 *
 * Environments: Node (`worker_threads`, reached through `process.getBuiltinModule`, so this module also bundles for
 * a browser, where there are no helpers yet: `startKernelThreads` returns null). `Atomics.wait` on the calling
 * thread is allowed in Node's main thread and in workers.
 */

/** The most arguments a kernel export takes (`winogradConv2dBackpropFilter` has 12). */
const MAX_ARGS = 16;
const CONTROL_INTS = 8;
/**
 * How long a helper polls for the next call before it sleeps in `Atomics.wait`, in ms (environment variable
 * `HWR_KERNEL_SPIN_MS`, default 3). Without it the split convolutions gained nothing on the 2-vCPU VM of
 * notes/PERFORMANCE.md ("Kernel threads"), where waking an idle vCPU costs about as much as half a kernel; with it the
 * helper keeps a core busy for up to that long after each call (0: sleep at once).
 */
const SPIN_MS = Number((globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.HWR_KERNEL_SPIN_MS ?? 3);

/** One call of a `kernels.wasm` export: its name and its arguments (pointers are byte offsets on the heap). */
export interface KernelCall {
  fn: string;
  args: number[];
}

/** The helpers' code: plain CommonJS, run with `eval: true` (no loader, no file). */
const HELPER_SOURCE = `
const { workerData } = require('node:worker_threads');
const { memory, module, control, names } = workerData;
const exports_ = new WebAssembly.Instance(module, { env: { memory } }).exports;
const fns = names.map((name) => exports_[name]);
const ints = new Int32Array(control, 0, ${CONTROL_INTS});
const args = new Float64Array(control, ${CONTROL_INTS * 4}, ${MAX_ARGS});
let seen = 0;
const spinMs = workerData.spinMs;
for (;;) {
  // Poll for up to spinMs before sleeping: the next call of a training step usually comes within a few ms, and waking
  // a sleeping thread (an idle vCPU of a VM) can cost more than the call itself.
  if (spinMs > 0) {
    const until = performance.now() + spinMs;
    while (Atomics.load(ints, 0) === seen && performance.now() < until);
  }
  Atomics.wait(ints, 0, seen);
  seen = Atomics.load(ints, 0);
  if (seen < 0) break;
  try {
    const fn = fns[ints[2]];
    const n = ints[3];
    const a = [];
    for (let i = 0; i < n; i++) a.push(args[i]);
    fn(...a);
  } catch (error) {
    ints[4] = 1;
  }
  Atomics.store(ints, 1, seen);
  Atomics.notify(ints, 1);
}
`;

interface Helper {
  ints: Int32Array;
  args: Float64Array;
  worker: { terminate(): Promise<number>; unref(): void };
  sequence: number;
}

/** A started set of helper threads bound to one wasm heap; see the module comment. */
export class KernelThreads {
  private readonly index: Map<string, number>;
  private closed = false;

  private constructor(
    private readonly helpers: Helper[],
    names: readonly string[],
  ) {
    this.index = new Map(names.map((name, i) => [name, i]));
  }

  /** The number of threads a split should use: the helpers plus the calling thread. */
  get threads(): number {
    return this.helpers.length + 1;
  }

  /**
   * Starts `helpers` threads, each instantiating `module` (the shared build of `kernels.wasm`) on `memory`.
   * @param memory the wasm backend's heap; must be shared (`memory.buffer` a `SharedArrayBuffer`)
   * @param names the exports the helpers may run
   * @returns null outside Node, or when `memory` is not shared
   */
  static start(memory: WebAssembly.Memory, module: WebAssembly.Module, names: readonly string[], helpers: number): KernelThreads | null {
    if (typeof SharedArrayBuffer === 'undefined' || !(memory.buffer instanceof SharedArrayBuffer) || helpers < 1) return null;
    const proc = (globalThis as { process?: { versions?: { node?: string }; getBuiltinModule?: (id: string) => unknown } }).process;
    if (!proc?.versions?.node || typeof proc.getBuiltinModule !== 'function') return null;
    const { Worker } = proc.getBuiltinModule('node:worker_threads') as typeof import('node:worker_threads');
    const list: Helper[] = [];
    for (let k = 0; k < helpers; k++) {
      const control = new SharedArrayBuffer(CONTROL_INTS * 4 + MAX_ARGS * 8);
      // No tsx or other loader in the helpers: the code is plain JavaScript.
      const worker = new Worker(HELPER_SOURCE, { eval: true, workerData: { memory, module, control, names: [...names], spinMs: SPIN_MS }, execArgv: [] });
      worker.unref();
      list.push({ ints: new Int32Array(control, 0, CONTROL_INTS), args: new Float64Array(control, CONTROL_INTS * 4, MAX_ARGS), worker, sequence: 0 });
    }
    return new KernelThreads(list, names);
  }

  /**
   * Runs `calls[0]` on this thread with `exports` and `calls[1..]` on the helpers (at most one each), and returns
   * when every call has finished. The calls must write disjoint memory.
   * @throws Error when there are more calls than threads, a name is not one the helpers were started with, or a
   *   helper's call trapped
   */
  run(exports: Record<string, unknown>, calls: readonly KernelCall[]): void {
    if (this.closed) throw new Error('KernelThreads: closed');
    if (calls.length > this.threads) throw new Error(`KernelThreads: ${calls.length} calls for ${this.threads} threads`);
    const sent: Helper[] = [];
    for (let k = 1; k < calls.length; k++) {
      const call = calls[k]!;
      const fn = this.index.get(call.fn);
      if (fn === undefined) throw new Error(`KernelThreads: no export '${call.fn}'`);
      if (call.args.length > MAX_ARGS) throw new Error(`KernelThreads: ${call.fn} takes ${call.args.length} arguments, at most ${MAX_ARGS}`);
      const helper = this.helpers[k - 1]!;
      helper.ints[2] = fn;
      helper.ints[3] = call.args.length;
      helper.args.set(call.args);
      helper.sequence++;
      Atomics.store(helper.ints, 0, helper.sequence);
      Atomics.notify(helper.ints, 0);
      sent.push(helper);
    }
    const first = calls[0];
    if (first) (exports[first.fn] as (...a: number[]) => void)(...first.args);
    let failed = false;
    for (const helper of sent) {
      for (;;) {
        const done = Atomics.load(helper.ints, 1);
        if (done === helper.sequence) break;
        Atomics.wait(helper.ints, 1, done);
      }
      if (helper.ints[4]) {
        helper.ints[4] = 0;
        failed = true;
      }
    }
    if (failed) throw new Error('KernelThreads: a helper thread trapped in a kernel');
  }

  /** Stops the helpers. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const helper of this.helpers) {
      Atomics.store(helper.ints, 0, -1);
      Atomics.notify(helper.ints, 0);
    }
    await Promise.all(this.helpers.map((h) => h.worker.terminate()));
  }
}

/**
 * Splits `batch` images into at most `parts` contiguous runs of whole images, as even as possible.
 * @returns `[first, count]` pairs, none empty
 */
export function splitImages(batch: number, parts: number): Array<[number, number]> {
  const n = Math.max(1, Math.min(parts, batch));
  const out: Array<[number, number]> = [];
  let start = 0;
  for (let k = 0; k < n; k++) {
    const count = Math.floor((batch - start) / (n - k));
    out.push([start, count]);
    start += count;
  }
  return out;
}
