/**
 * A shared budget of decoded pixels, so that memory stays bounded whatever arrives at once.
 *
 * A 50 kB PNG may hold 49 megapixels: decoded and preprocessed that is ~800 MB of RAM for a few seconds.
 * Each limit on its own (5 MB bodies, 50 MP per image, 64 images per batch) lets a batch or a burst of
 * requests ask for many such images together; the budget makes them take turns instead of exhausting memory.
 * Turns are bounded: past `maxWaiting` waiting requests, `acquire` refuses at once with 503 `BUSY`
 * (a client told to come back beats one left waiting without an answer), and a waiting request whose
 * client went away (its `AbortSignal` aborts) leaves the line.
 */
import { ApiError } from './errors.ts';

/** Seconds a client is told to wait (`Retry-After`) when the server answers 503 `BUSY`. */
export const RETRY_AFTER_SECONDS = 1;

/** The ApiError 503 `BUSY` of every full queue of the server; `what` says which queue, for the message. */
export function busyError(what: string): ApiError {
  return new ApiError(503, 'BUSY', `the server is busy (${what}); retry in ${RETRY_AFTER_SECONDS} s`);
}

/** Gives back what was acquired; calling it more than once gives back only once. */
export type Release = () => void;

/**
 * A counting semaphore measured in pixels, first come first served.
 * Requests larger than the whole budget are clamped to it (they run alone).
 */
export class PixelBudget {
  readonly capacity: number;
  /** Most requests that may wait at once; one more is refused with 503 `BUSY`. */
  readonly maxWaiting: number;
  private available: number;
  private readonly waiting: Array<{ pixels: number; grant: (release: Release) => void }> = [];

  /**
   * @param capacity pixels (width x height summed over images) that may be decoded at the same time; > 0.
   * @param options.maxWaiting most requests waiting for pixels at once; default 64.
   */
  constructor(capacity: number, options: { maxWaiting?: number } = {}) {
    if (!(capacity > 0)) throw new RangeError(`pixel budget must be positive, got ${capacity}`);
    const maxWaiting = options.maxWaiting ?? 64;
    if (!(Number.isInteger(maxWaiting) && maxWaiting >= 0)) throw new RangeError(`maxWaiting must be an integer >= 0, got ${maxWaiting}`);
    this.capacity = capacity;
    this.maxWaiting = maxWaiting;
    this.available = capacity;
  }

  /** Requests waiting for pixels. */
  get waitingCount(): number {
    return this.waiting.length;
  }

  /** Pixels not currently acquired. */
  get free(): number {
    return this.available;
  }

  /**
   * Waits until `pixels` are free (after everyone who asked earlier), takes them, and resolves with their `Release`.
   * @param signal when it aborts while waiting, the request leaves the line and the promise rejects with its reason.
   * @throws ApiError 503 `BUSY` (at once) when `maxWaiting` requests are already waiting.
   */
  acquire(pixels: number, signal?: AbortSignal): Promise<Release> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    const amount = this.clamp(pixels);
    const granted = this.tryAcquire(amount);
    if (granted) return Promise.resolve(granted);
    if (this.waiting.length >= this.maxWaiting) {
      return Promise.reject(busyError(`${this.waiting.length} requests are waiting for decoding memory`));
    }
    return new Promise((resolve, reject) => {
      const entry = {
        pixels: amount,
        grant: (release: Release) => {
          signal?.removeEventListener('abort', leave);
          resolve(release);
        },
      };
      const leave = (): void => {
        const index = this.waiting.indexOf(entry);
        if (index < 0) return;
        this.waiting.splice(index, 1);
        reject(signal!.reason);
        this.grantWaiting(); // whoever stood behind may fit now
      };
      signal?.addEventListener('abort', leave, { once: true });
      this.waiting.push(entry);
    });
  }

  /** Takes `pixels` when free right now and nobody is waiting; otherwise `null` (never waits). */
  tryAcquire(pixels: number): Release | null {
    const amount = this.clamp(pixels);
    if (this.waiting.length > 0 || amount > this.available) return null;
    this.available -= amount;
    return this.releaser(amount);
  }

  private clamp(pixels: number): number {
    return Math.min(this.capacity, Math.max(1, Math.ceil(pixels) || 1));
  }

  private releaser(amount: number): Release {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.available += amount;
      this.grantWaiting();
    };
  }

  private grantWaiting(): void {
    while (this.waiting.length > 0 && this.waiting[0]!.pixels <= this.available) {
      const next = this.waiting.shift()!;
      this.available -= next.pixels;
      next.grant(this.releaser(next.pixels));
    }
  }
}
