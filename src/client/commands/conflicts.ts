/**
 * `sicksync conflicts` and `sicksync resolve <path> --keep local|remote|both`: the conflicts left
 * open by the `manual` policy, read from each destination's stored state, and the user's answer,
 * which a running client takes within half a second (or the next run, at its start).
 */
import { realpath } from 'node:fs/promises';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { ErrorCode, SicksyncError } from '../../shared/errors.js';
import { getStatePaths } from '../../shared/state-dir.js';
import type { Entry } from '../../shared/entry.js';
import type { ProjectConfig } from '../config/types.js';
import { BaselineStore, type Resolution } from '../sync/baseline-store.js';
import { formatBytes } from '../sync/summary.js';

function getStores(project: ProjectConfig): { id: string; store: BaselineStore }[] {
  const dir = getStatePaths().dir;
  return project.destinations.map((spec) => ({ id: spec.id, store: new BaselineStore(dir, project.root, spec.id) }));
}

function describeSide(entry: Entry | null): string {
  if (!entry) return 'deleted';
  const when = new Date(Number(BigInt(entry.mtimeNs) / 1_000_000n)).toISOString().replace('T', ' ').slice(0, 19);
  return entry.kind === 'file' ? `${formatBytes(entry.size)}, modified ${when} UTC` : `${entry.kind}, modified ${when} UTC`;
}

export async function listConflicts(project: ProjectConfig): Promise<string[]> {
  const lines: string[] = [];
  for (const { id, store } of getStores(project)) {
    const state = await store.load();
    const pending = await store.hasPendingResolutions();
    for (const conflict of state?.conflicts.values() ?? []) {
      lines.push(`${id}: ${conflict.path}`);
      lines.push(`    local:  ${describeSide(conflict.local)}`);
      lines.push(`    remote: ${describeSide(conflict.remote)}${pending ? ' (a resolution is waiting to be applied)' : ''}`);
    }
  }
  if (lines.length === 0) return [`${project.name}: no open conflicts`];
  return [...lines, 'Settle one with: sicksync resolve <path> --keep local|remote|both'];
}

/** A path given on the command line, relative to the project root (it may be gone on this side). */
export async function toProjectPath(project: ProjectConfig, given: string, cwd: string): Promise<string> {
  const absolute = resolve(cwd, given);
  // The working folder is a real path; the project's root may be spelled through a symlink.
  for (const base of [project.root, await realpath(project.root)]) {
    const rel = relative(base, absolute);
    if (rel && !rel.startsWith('..') && !isAbsolute(rel)) return rel.split(sep).join('/');
  }
  throw new SicksyncError(ErrorCode.USAGE, `${given} is not inside the project ${project.root}`);
}

export async function resolveConflict(project: ProjectConfig, given: string, keep: Resolution, cwd: string): Promise<string[]> {
  const path = await toProjectPath(project, given, cwd);
  const lines: string[] = [];
  for (const { id, store } of getStores(project)) {
    const state = await store.load();
    if (!state?.conflicts.has(path)) continue;
    await store.addResolution(path, keep);
    lines.push(`${id}: ${path}: keeping ${keep === 'both' ? 'both versions' : `the ${keep} version`}`);
  }
  if (lines.length === 0) {
    throw new SicksyncError(ErrorCode.USAGE, `${path} has no open conflict in ${project.name}; "sicksync conflicts" lists them`);
  }
  return [...lines, 'A running sicksync applies it now; otherwise the next run does, before anything else.'];
}
