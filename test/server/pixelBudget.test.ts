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

  it('refuses at once with 503 BUSY when maxWaiting requests already wait', async () => {
    const budget = new PixelBudget(100, { maxWaiting: 1 });
    const held = await budget.acquire(100);
    const waiting = budget.acquire(50);
    await expect(budget.acquire(10)).rejects.toMatchObject({ statusCode: 503, code: 'BUSY' });
    held();
    (await waiting)();
    expect(budget.free).toBe(100);
  });

  it('drops a waiting request whose signal aborts, and lets the one behind it through', async () => {
    const budget = new PixelBudget(100);
    const held = await budget.acquire(60);
    const client = new AbortController();
    const big = budget.acquire(70, client.signal);
    const small = budget.acquire(30); // fits, but waits behind the big one
    expect(budget.waitingCount).toBe(2);
    client.abort(new Error('client left'));
    await expect(big).rejects.toThrow('client left');
    const releaseSmall = await small;
    expect(budget.free).toBe(10);
    releaseSmall();
    held();
    expect(budget.free).toBe(100);
    await expect(budget.acquire(1, client.signal)).rejects.toThrow('client left');
  });

  it('refuses a budget that is not positive', () => {
    expect(() => new PixelBudget(0)).toThrow(RangeError);
  });
});
