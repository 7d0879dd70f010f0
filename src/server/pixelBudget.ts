/**
 * A shared budget of decoded pixels, so that memory stays bounded whatever arrives at once.
 *
 * A 50 kB PNG may hold 49 megapixels: decoded and preprocessed that is ~800 MB of RAM for a few seconds.
 * Each limit on its own (5 MB bodies, 50 MP per image, 64 images per batch) lets a batch or a burst of
 * requests ask for many such images together; the budget makes them take turns instead of exhausting memory.
 */

/** Gives back what was acquired; calling it more than once gives back only once. */
export type Release = () => void;

/**
 * A counting semaphore measured in pixels, first come first served.
 * Requests larger than the whole budget are clamped to it (they run alone).
 */
export class PixelBudget {
  readonly capacity: number;
  private available: number;
  private readonly waiting: Array<{ pixels: number; grant: (release: Release) => void }> = [];

  /** @param capacity pixels (width x height summed over images) that may be decoded at the same time; > 0. */
  constructor(capacity: number) {
    if (!(capacity > 0)) throw new RangeError(`pixel budget must be positive, got ${capacity}`);
    this.capacity = capacity;
    this.available = capacity;
  }

  /** Pixels not currently acquired. */
  get free(): number {
    return this.available;
  }

  /** Waits until `pixels` are free (after everyone who asked earlier), takes them, and resolves with their `Release`. */
  acquire(pixels: number): Promise<Release> {
    const amount = this.clamp(pixels);
    const granted = this.tryAcquire(amount);
    if (granted) return Promise.resolve(granted);
    return new Promise((grant) => this.waiting.push({ pixels: amount, grant }));
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
