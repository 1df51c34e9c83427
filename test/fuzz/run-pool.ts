/**
 * Runs generated cases over a bounded number of connections at once, in case order, until a frame
 * budget is spent. Cases are generated one by one in index order from their own derived seeds, so
 * the cases of a seed are the same on every run, whatever the timing.
 */

export interface Finding {
  layer: 'ws' | 'protocol' | 'world';
  /** Case index within its layer; -1 for findings of the whole run. */
  index: number;
  what: string;
  /** The frames or messages that led to it, abbreviated. */
  detail: string;
}

export interface PoolOptions<C> {
  /** Generates case `index`; returns its frame count with it. */
  generate(index: number): { testCase: C; frames: number };
  run(testCase: C, index: number): Promise<void>;
  frameBudget: number;
  concurrency: number;
  /** Stops early (say, once the daemon is gone: every later case would only repeat that). */
  shouldStop(): boolean;
}

export interface PoolResult {
  cases: number;
  frames: number;
}

export async function runPool<C>({ generate, run, frameBudget, concurrency, shouldStop }: PoolOptions<C>): Promise<PoolResult> {
  let next = 0;
  let frames = 0;
  const worker = async (): Promise<void> => {
    while (frames < frameBudget && !shouldStop()) {
      const index = next;
      next += 1;
      const generated = generate(index);
      frames += generated.frames;
      await run(generated.testCase, index);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { cases: next, frames };
}

/** JSON for failure messages, long strings and byte runs shortened so a finding stays readable. */
export function abbreviate(value: unknown, limit = 1200): string {
  const text = JSON.stringify(value, (_key, item: unknown) => {
    if (typeof item === 'string' && item.length > 80) return `${item.slice(0, 40)}…(${item.length} chars)`;
    if (item && typeof item === 'object' && (item as { type?: string }).type === 'Buffer') {
      const data = (item as { data: number[] }).data;
      return `<${data.length} bytes ${Buffer.from(data.slice(0, 24)).toString('hex')}${data.length > 24 ? '…' : ''}>`;
    }
    return item;
  });
  return text.length > limit ? `${text.slice(0, limit)}…` : text;
}
