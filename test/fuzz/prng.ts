/**
 * A small seeded PRNG (mulberry32) for the fuzz tier. Every case gets its own generator derived
 * from the run's seed and its index, so a case's bytes are the same whatever ran before it or in
 * parallel with it: a seed and a case number reproduce one frame exactly.
 */
import { randomInt } from 'node:crypto';

export interface Random {
  /** A float in [0, 1). */
  next(): number;
  /** An integer in [0, n). */
  int(n: number): number;
  /** An integer in [min, max]. */
  range(min: number, max: number): number;
  chance(probability: number): boolean;
  pick<T>(items: readonly T[]): T;
  bytes(length: number): Buffer;
}

function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function createRandom(seed: number): Random {
  const next = mulberry32(seed);
  const int = (n: number): number => Math.floor(next() * n);
  return {
    next,
    int,
    range: (min, max) => min + int(max - min + 1),
    chance: (probability) => next() < probability,
    pick: (items) => {
      if (items.length === 0) throw new Error('pick from an empty list');
      return items[int(items.length)]!;
    },
    bytes: (length) => {
      const out = Buffer.allocUnsafe(length);
      for (let i = 0; i < length; i += 1) out[i] = int(256);
      return out;
    },
  };
}

/** Mixes the run's seed with a layer and a case number (a 32-bit FNV-1a over their bytes). */
export function deriveSeed(seed: number, ...parts: number[]): number {
  let hash = 0x811c9dc5;
  for (const value of [seed, ...parts]) {
    for (let shift = 0; shift < 32; shift += 8) {
      hash ^= (value >>> shift) & 0xff;
      hash = Math.imul(hash, 0x01000193) >>> 0;
    }
  }
  return hash;
}

/** SICKSYNC_FUZZ_SEED when set (decimal or 0x hex), otherwise a fresh random one. */
export function getFuzzSeed(): number {
  const fromEnv = process.env.SICKSYNC_FUZZ_SEED;
  if (fromEnv === undefined || fromEnv === '') return randomInt(2 ** 32 - 1);
  const seed = Number(fromEnv);
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
    throw new Error(`SICKSYNC_FUZZ_SEED must be an integer in [0, 2^32), not ${JSON.stringify(fromEnv)}`);
  }
  return seed;
}
