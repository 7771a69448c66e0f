/**
 * Turns many small requests for the same kind of statement into few statements: at most
 * `maxInFlight` statements run at a time; requests made meanwhile are queued and sent together, in
 * one statement, when one returns. Without load nothing waits (a request finding a free slot goes
 * out at once); under load n round trips (parse, plan, commit each) become one. Not a cache: every
 * request is answered by a statement sent after it was made.
 *
 * `groupOf` keeps requests that cannot share a statement apart (e.g. one tenant per statement):
 * a batch holds only requests of the group of the oldest one queued.
 */
export interface StatementBatcherOptions<In, Out> {
  /** runs one statement for a batch; answers in the order of the inputs */
  run: (batch: In[]) => Promise<Out[]>;
  maxInFlight: number;
  maxBatch: number;
  groupOf?: (input: In) => string;
}

interface Waiting<In, Out> {
  input: In;
  resolve: (out: Out) => void;
  reject: (err: unknown) => void;
}

export class StatementBatcher<In, Out> {
  private inFlight = 0;
  private queue: Waiting<In, Out>[] = [];

  constructor(private readonly opts: StatementBatcherOptions<In, Out>) {}

  submit(input: In): Promise<Out> {
    return new Promise((resolve, reject) => {
      this.queue.push({ input, resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    while (this.inFlight < this.opts.maxInFlight && this.queue.length > 0) {
      const batch = this.take();
      this.inFlight++;
      this.opts
        .run(batch.map((w) => w.input))
        .then(
          (outs) => batch.forEach((w, i) => w.resolve(outs[i])),
          (err: unknown) => batch.forEach((w) => w.reject(err)),
        )
        .finally(() => {
          this.inFlight--;
          this.pump();
        });
    }
  }

  /** The oldest queued request and as many others of its group as fit, in queue order. */
  private take(): Waiting<In, Out>[] {
    const { groupOf, maxBatch } = this.opts;
    if (!groupOf) return this.queue.splice(0, maxBatch);
    const group = groupOf(this.queue[0].input);
    const batch: Waiting<In, Out>[] = [];
    const rest: Waiting<In, Out>[] = [];
    for (const w of this.queue) (batch.length < maxBatch && groupOf(w.input) === group ? batch : rest).push(w);
    this.queue = rest;
    return batch;
  }
}
