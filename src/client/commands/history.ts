/**
 * `sicksync history <path>` lists the versions kept of a file, in the project's history and in each
 * destination's (a version lives on the side where it was replaced); `sicksync restore <path>
 * [--version N]` brings one back into the project, from whichever side keeps it. What is in the
 * project now is kept in its history first, and a running client syncs the restored file as any
 * other change.
 */
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { ErrorCode, SicksyncError, hasErrno } from '../../shared/errors.js';
import { createIgnoreRules } from '../../shared/ignore-rules.js';
import { getEntry } from '../../shared/stat-entry.js';
import { CHUNK_SIZE } from '../../shared/protocol.js';
import type { ProjectConfig } from '../config/types.js';
import { createConnector } from '../endpoint/connect.js';
import type { Endpoint, VersionInfo } from '../endpoint/endpoint.js';
import { loadProjectRules } from '../project-rules.js';
import { ProjectSide } from '../sync/project-side.js';
import { formatBytes } from '../sync/summary.js';
import { toProjectPath } from './conflicts.js';

interface Found extends VersionInfo {
  /** 'the project' or a destination's id. */
  side: string;
  endpoint: Endpoint | null;
}

interface Collected {
  versions: Found[];
  /** Destinations that could not be asked, with why. */
  unreachable: string[];
  close: () => Promise<void>;
}

async function collectVersions(project: ProjectConfig, path: string): Promise<Collected> {
  const tree = new ProjectSide(project.root, createIgnoreRules([]), null, 'here');
  const versions: Found[] = tree.listVersions(path).map((version) => ({ ...version, side: 'the project', endpoint: null }));
  const connector = createConnector(() => undefined);
  const rules = await loadProjectRules(project);
  const endpoints: Endpoint[] = [];
  const unreachable: string[] = [];
  await Promise.all(
    project.destinations.map(async (spec) => {
      try {
        const endpoint = await connector.connect(spec, { root: spec.location, excludes: rules.patterns, history: null });
        endpoints.push(endpoint);
        for (const version of await endpoint.versions(path)) versions.push({ ...version, side: spec.id, endpoint });
      } catch (error) {
        unreachable.push(`${spec.id}: ${(error as Error).message}`);
      }
    }),
  );
  versions.sort((a, b) => b.date.getTime() - a.date.getTime());
  versions.forEach((version, index) => (version.number = index + 1));
  return {
    versions,
    unreachable,
    close: async () => {
      await Promise.all(endpoints.map((endpoint) => endpoint.close()));
      await connector.close();
    },
  };
}

function formatDate(date: Date): string {
  return `${date.toISOString().replace('T', ' ').slice(0, 23)} UTC`;
}

export async function listHistory(project: ProjectConfig, given: string, cwd: string): Promise<string[]> {
  const path = await toProjectPath(project, given, cwd);
  const found = await collectVersions(project, path);
  try {
    const lines = found.versions.map(
      (version) =>
        `${String(version.number).padStart(3)}  ${formatDate(version.date)}  ${formatBytes(version.size).padStart(9)}  ${version.side}`,
    );
    const warnings = found.unreachable.map((line) => `not asked: ${line}`);
    if (lines.length === 0) return [`no versions of ${path} are kept`, ...warnings];
    return [`versions of ${path}, newest first:`, ...lines, ...warnings, `Bring one back with: sicksync restore ${given} --version N`];
  } finally {
    await found.close();
  }
}

/** Streams a version kept in the project's own history. */
async function readLocalVersion(project: ProjectConfig, version: Found, sink: (chunk: Buffer) => Promise<void>): Promise<void> {
  const handle = await open(join(project.root, version.path), 'r');
  try {
    const buffer = Buffer.allocUnsafe(Math.min(CHUNK_SIZE, Math.max(version.size, 1)));
    for (let offset = 0; ;) {
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, offset);
      if (bytesRead === 0) break;
      offset += bytesRead;
      await sink(Buffer.from(buffer.subarray(0, bytesRead)));
    }
  } finally {
    await handle.close();
  }
}

export async function restoreVersion(project: ProjectConfig, given: string, number: number, cwd: string): Promise<string[]> {
  const path = await toProjectPath(project, given, cwd);
  const found = await collectVersions(project, path);
  try {
    const version = found.versions.find((candidate) => candidate.number === number);
    if (!version) {
      const known = found.versions.length === 0 ? 'none is kept' : `there are ${found.versions.length}`;
      throw new SicksyncError(ErrorCode.NO_VERSION, `no version ${number} of ${path}: ${known} ("sicksync history ${given}" lists them)`);
    }
    const rules = await loadProjectRules(project);
    const tree = new ProjectSide(project.root, rules, project.history.versions > 0 ? project.history : null, 'here');
    let mode = 0o644;
    try {
      const current = getEntry(join(project.root, path), path);
      if (current?.kind === 'file') mode = current.mode;
    } catch (error) {
      if (!hasErrno(error, 'ENOENT', 'ENOTDIR')) throw error;
    }
    const endpoint = version.endpoint;
    await tree.writeFrom(path, version.size, mode, (sink) =>
      endpoint ? endpoint.read({ ...version, kind: 'file', mode, ino: '0' }, sink) : readLocalVersion(project, version, sink),
    );
    return [
      `restored ${path} from version ${version.number} (${formatDate(version.date)}, kept by ${version.side}); what was there is in the project's history`,
      'A running sicksync sends it to the destinations now; otherwise the next run does.',
    ];
  } finally {
    await found.close();
  }
}
