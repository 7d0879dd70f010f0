import { describe, expect, it } from 'vitest';
import { PixelBudget } from '../../src/server/pixelBudget.ts';

describe('PixelBudget', () => {
  it('grants at once while pixels are free, and waits first come first served once they are not', async () => {
    const budget = new PixelBudget(100);
    const first = await budget.acquire(60);
    expect(budget.free).toBe(40);
    const order: string[] = [];
    const big = budget.acquire(70).then((release) => { order.push('big'); return release; });
    const small = budget.acquire(10).then((release) => { order.push('small'); return release; });
    await Promise.resolve();
    expect(order).toEqual([]); // the small one fits, but waits behind the big one that asked first
    first();
    const releaseBig = await big;
    const releaseSmall = await small;
    expect(order).toEqual(['big', 'small']);
    expect(budget.free).toBe(20);
    releaseBig();
    releaseSmall();
    expect(budget.free).toBe(100);
  });

  it('tryAcquire never waits, and fails while others are waiting', async () => {
    const budget = new PixelBudget(100);
    const held = budget.tryAcquire(90)!;
    expect(held).toBeTypeOf('function');
    expect(budget.tryAcquire(20)).toBeNull();
    const waiting = budget.acquire(50);
    expect(budget.tryAcquire(5)).toBeNull();
    held();
    (await waiting)();
    expect(budget.free).toBe(100);
  });

  it('clamps requests to the capacity, so an image larger than the budget runs alone', async () => {
    const budget = new PixelBudget(100);
    const release = await budget.acquire(1e9);
    expect(budget.free).toBe(0);
    release();
    release(); // a second call gives back nothing more
    expect(budget.free).toBe(100);
  });

  it('refuses a budget that is not positive', () => {
    expect(() => new PixelBudget(0)).toThrow(RangeError);
  });
});
