import { StatementBatcher } from '../../src/store/statement-batcher';

/** A run function whose statements finish only when the test says so. */
function controlledRun() {
  const calls: { batch: string[]; finish: (err?: Error) => void }[] = [];
  const run = (batch: string[]) =>
    new Promise<string[]>((resolve, reject) => {
      calls.push({ batch, finish: (err) => (err ? reject(err) : resolve(batch.map((x) => x.toUpperCase()))) });
    });
  return { calls, run };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('StatementBatcher', () => {
  it('sends a request at once when a slot is free, and batches the ones made while all slots are busy', async () => {
    const { calls, run } = controlledRun();
    const b = new StatementBatcher({ run, maxInFlight: 1, maxBatch: 10 });
    const first = b.submit('a');
    expect(calls.map((c) => c.batch)).toEqual([['a']]);
    const rest = ['b', 'c', 'd'].map((x) => b.submit(x));
    expect(calls).toHaveLength(1);
    calls[0].finish();
    await expect(first).resolves.toBe('A');
    await tick();
    expect(calls.map((c) => c.batch)).toEqual([['a'], ['b', 'c', 'd']]);
    calls[1].finish();
    await expect(Promise.all(rest)).resolves.toEqual(['B', 'C', 'D']);
  });

  it('keeps at most maxInFlight statements running and at most maxBatch requests in one', async () => {
    const { calls, run } = controlledRun();
    const b = new StatementBatcher({ run, maxInFlight: 2, maxBatch: 2 });
    const all = ['a', 'b', 'c', 'd', 'e', 'f'].map((x) => b.submit(x));
    expect(calls.map((c) => c.batch)).toEqual([['a'], ['b']]);
    calls[0].finish();
    await tick();
    expect(calls.map((c) => c.batch)).toEqual([['a'], ['b'], ['c', 'd']]);
    calls[1].finish();
    await tick();
    calls[2].finish();
    await tick();
    expect(calls.map((c) => c.batch)).toEqual([['a'], ['b'], ['c', 'd'], ['e', 'f']]);
    calls[3].finish();
    await expect(Promise.all(all)).resolves.toEqual(['A', 'B', 'C', 'D', 'E', 'F']);
  });

  it('puts only requests of one group in a statement, oldest group first', async () => {
    const { calls, run } = controlledRun();
    const b = new StatementBatcher({ run, maxInFlight: 1, maxBatch: 10, groupOf: (x: string) => x[0] });
    const all = ['x0', 'y1', 'x2', 'y3', 'x4'].map((x) => b.submit(x));
    for (let i = 0; i < 3; i++) {
      calls[i].finish();
      await tick();
    }
    expect(calls.map((c) => c.batch)).toEqual([['x0'], ['y1', 'y3'], ['x2', 'x4']]);
    await expect(Promise.all(all)).resolves.toEqual(['X0', 'Y1', 'X2', 'Y3', 'X4']);
  });

  it('rejects every request of a failed statement and goes on with the next', async () => {
    const { calls, run } = controlledRun();
    const b = new StatementBatcher({ run, maxInFlight: 1, maxBatch: 10 });
    const a = b.submit('a');
    const [c, d] = [b.submit('c'), b.submit('d')];
    calls[0].finish();
    await a;
    await tick();
    calls[1].finish(new Error('deadlock detected'));
    await expect(c).rejects.toThrow('deadlock detected');
    await expect(d).rejects.toThrow('deadlock detected');
    const e = b.submit('e');
    calls[2].finish();
    await expect(e).resolves.toBe('E');
  });
});
