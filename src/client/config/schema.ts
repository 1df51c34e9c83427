import * as path from 'node:path';
import * as z from 'zod';
import type { ConfigProblem } from '../../shared/errors.js';
import { CONFLICT_POLICIES, SYNC_MODES } from '../../shared/sync-mode.js';

/**
 * Schemas of the project file and the global file (DESIGN.md §2). Objects are strict so a typo
 * (`hostnme`) is reported instead of silently ignored.
 */

const modeSchema = z.enum(SYNC_MODES);

export const destinationObjectSchema = z.strictObject({
  hostname: z.string().min(1).optional(),
  username: z.string().min(1).optional(),
  port: z.number().int().min(1).max(65535).optional(),
  destinationLocation: z.string().min(1),
  mode: modeSchema.optional(),
  /** Opt-in TCP transport instead of SSH: the daemon's ws:// or wss:// listener. */
  url: z
    .string()
    .regex(/^wss?:\/\/[^/]+\/?$/, 'expected ws://host:port or wss://host:port')
    .optional(),
  /** File holding the daemon's token (never the token itself: project files get synced). */
  tokenFile: z.string().min(1).optional(),
  /** PEM file of the certificate authority that signed a wss:// daemon's certificate. */
  ca: z.string().min(1).optional(),
});
export type DestinationObject = z.infer<typeof destinationObjectSchema>;

/** A destination as written in a file: scp-style shorthand or the long form. */
export const destinationSchema = z.union([z.string().min(1), destinationObjectSchema]);
export type DestinationInput = z.infer<typeof destinationSchema>;

const ruleSchema = z.strictObject({ pattern: z.string().min(1), mode: modeSchema });

/** Fields shared by a project file and the global file's `defaults`. */
const sharedFields = {
  mode: modeSchema.optional(),
  excludes: z.array(z.string()).optional(),
  excludesFile: z.array(z.string().min(1)).optional(),
  rules: z.array(ruleSchema).optional(),
  conflictPolicy: z.enum(CONFLICT_POLICIES).optional(),
  deleteGuard: z.number().min(0).max(1).optional(),
  /** Versions kept of files sicksync replaces or deletes: per file, by count and age. */
  history: z.strictObject({ versions: z.number().int().min(0).max(10_000), days: z.number().min(0).max(36_500) }).optional(),
};

export const projectFileSchema = z.strictObject({
  project: z.string().min(1).optional(),
  // Optional here: an empty or missing list is reported after merging, since flags may supply it.
  destinations: z.array(destinationSchema).optional(),
  ...sharedFields,
});
export type ProjectFile = z.infer<typeof projectFileSchema>;

const globalProjectSchema = z.strictObject({
  alias: z.string().min(1),
  path: z.string().refine((value) => path.isAbsolute(value), 'expected an absolute path'),
  active: z.boolean().default(true),
});

export const globalFileSchema = z.strictObject({
  projects: z.array(globalProjectSchema).default([]),
  defaults: z.strictObject(sharedFields).default({}),
});
export type GlobalFile = z.infer<typeof globalFileSchema>;

/**
 * Parses with `reportInput` so a missing field can be told apart from a wrong one ("required").
 * Returns either the data or every problem of the file.
 */
export function parseConfigFile<T extends z.ZodType>(
  schema: T,
  file: string,
  raw: unknown,
): { data: z.output<T>; problems?: undefined } | { data?: undefined; problems: ConfigProblem[] } {
  const result = schema.safeParse(raw, { reportInput: true });
  return result.success ? { data: result.data } : { problems: getConfigProblems(file, result.error, raw) };
}

type Issue = z.core.$ZodIssue;
type Key = PropertyKey;

/**
 * Turns zod issues into problems located by dot-path (`destinations[1].port`), all of them.
 * `raw`, the input that was parsed, tells a missing field ("required") from a wrong one when zod
 * was not asked to `reportInput`.
 */
export function getConfigProblems(file: string, error: z.ZodError, raw?: unknown): ConfigProblem[] {
  return error.issues.flatMap((issue) => getIssueProblems({ file, raw }, [], issue));
}

interface Source {
  file: string;
  raw: unknown;
}

function getIssueProblems(source: Source, prefix: Key[], issue: Issue): ConfigProblem[] {
  const at = [...prefix, ...issue.path];
  const problem = (keys: Key[], message: string): ConfigProblem => ({ file: source.file, field: getFieldPath(keys), message });
  switch (issue.code) {
    case 'unrecognized_keys':
      return issue.keys.map((key) => problem([...at, key], 'unknown field'));
    case 'invalid_union':
      return getUnionProblems(source, at, issue.errors);
    case 'invalid_type':
      return [problem(at, isMissing(source, at, issue) ? 'required' : `expected ${describeType(issue.expected)}`)];
    case 'invalid_value':
      if (isMissing(source, at, issue)) return [problem(at, 'required')];
      return [problem(at, `expected one of ${issue.values.map(String).join(', ')}`)];
    case 'too_small':
      return [problem(at, describeBound(issue.origin, issue.minimum, 'least'))];
    case 'too_big':
      return [problem(at, describeBound(issue.origin, issue.maximum, 'most'))];
    default:
      return [problem(at, issue.message)];
  }
}

/**
 * A union reports every branch. Branches that failed only because the value has another type
 * (a string where the object form was tried) say nothing useful, so report the others.
 */
function getUnionProblems(source: Source, at: Key[], branches: Issue[][]): ConfigProblem[] {
  const isTypeMismatch = (issues: Issue[]) => issues.length === 1 && issues[0]?.code === 'invalid_type' && issues[0].path.length === 0;
  const relevant = branches.filter((issues) => !isTypeMismatch(issues));
  const best = relevant.sort((a, b) => a.length - b.length)[0];
  if (best) return best.flatMap((issue) => getIssueProblems(source, at, issue));
  const expected = branches.map((issues) => (issues[0]?.code === 'invalid_type' ? describeType(issues[0].expected) : ''));
  return [{ file: source.file, field: getFieldPath(at), message: `expected ${expected.filter(Boolean).join(' or ')}` }];
}

function isMissing(source: Source, at: Key[], issue: Issue): boolean {
  // With `reportInput` the issue holds the input (possibly undefined); without, the key is absent.
  if ('input' in issue) return issue.input === undefined;
  if (source.raw !== undefined) return getValueAt(source.raw, at) === undefined;
  return /received undefined$/.test(issue.message);
}

function getValueAt(raw: unknown, keys: Key[]): unknown {
  let value = raw;
  for (const key of keys) {
    if (typeof value !== 'object' || value === null) return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}

function describeType(expected: string): string {
  const names: Record<string, string> = {
    string: 'a string',
    number: 'a number',
    int: 'an integer',
    boolean: 'true or false',
    array: 'a list',
    object: 'an object',
  };
  return names[expected] ?? expected;
}

function describeBound(origin: string, bound: number | bigint, side: 'least' | 'most'): string {
  if (origin === 'string' && side === 'least' && Number(bound) === 1) return 'must not be empty';
  if (origin === 'array' && side === 'least') return `expected at least ${bound} item(s)`;
  if (origin === 'string') return `expected at ${side} ${bound} characters`;
  return `expected at ${side} ${bound}`;
}

/** `['destinations', 1, 'port']` → `destinations[1].port`; the empty path is the whole file. */
export function getFieldPath(keys: readonly Key[]): string {
  return keys.reduce<string>((field, key) => {
    if (typeof key === 'number') return `${field}[${key}]`;
    const name = String(key);
    return field ? `${field}.${name}` : name;
  }, '');
}
