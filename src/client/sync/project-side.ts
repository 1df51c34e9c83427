/**
 * The project folder as one side of a sync: its content is read for the destinations, and changes
 * that come from a destination (pull, bidirectional) are applied to it through the same code as
 * the daemon's destinations (src/shared/tree): confined to the root, atomic, guarded against what
 * changed since the plan, and keeping what it replaces in the history. Content comes from the
 * destination, read while it is written here.
 */
import { realpathSync } from 'node:fs';
import { join } from 'node:path';
import { getFileHash } from '../../shared/hash.js';
import type { Entry } from '../../shared/entry.js';
import { ProtocolError } from '../../shared/errors.js';
import type { IgnoreRules } from '../../shared/ignore-rules.js';
import type { Op } from '../../shared/plan/types.js';
import { DestinationRoot, type OpResult } from '../../shared/tree/destination-root.js';
import type { HistoryPolicy } from '../../shared/tree/history.js';
import type { ContentSource, SyncSide } from '../endpoint/endpoint.js';
import { readFileChunks } from '../endpoint/send-file.js';

export class ProjectSide implements SyncSide {
  private readonly tree: DestinationRoot;

  constructor(
    readonly localRoot: string,
    rules: IgnoreRules,
    history: HistoryPolicy | null,
    otherHost: string,
  ) {
    this.tree = new DestinationRoot(realpathSync.native(localRoot), rules, { clientName: otherHost, history, place: 'in the project' });
  }

  async hash(paths: readonly string[]): Promise<Map<string, string | null>> {
    const hashes = new Map<string, string | null>();
    for (const path of paths) hashes.set(path, await getFileHash(join(this.localRoot, path)).catch(() => null));
    return hashes;
  }

  /** Reads a file that is still `entry`, a chunk at a time (send-file.ts checks it as it goes). */
  async read(entry: Entry, sink: (chunk: Buffer) => Promise<void>): Promise<void> {
    await readFileChunks(this.localRoot, entry, sink);
  }

  listVersions(path: string) {
    return this.tree.listVersions(path);
  }

  /**
   * Writes `size` bytes from `read` at `path`, atomically, as a fresh change (mtime now); what is
   * there is kept in the history first. Used to bring back a version.
   */
  async writeFrom(path: string, size: number, mode: number, read: (sink: (chunk: Buffer) => Promise<void>) => Promise<void>) {
    const write = this.tree.beginWrite(path, size);
    try {
      await read((chunk) => write.append(chunk));
    } catch (error) {
      write.abort();
      throw error;
    }
    const nowNs = (BigInt(Date.now()) * 1_000_000n).toString();
    return this.tree.finishWrite(path, write, mode, nowNs, {});
  }

  async apply(op: Op, from: ContentSource): Promise<OpResult> {
    const read = (entry: Entry, sink: (chunk: Buffer) => Promise<void>) => from.read(entry, sink);
    const tree = this.tree;
    switch (op.kind) {
      case 'mkdir':
        return tree.mkdir(op.path, op.entry.mode);
      case 'symlink':
        return tree.symlink(op.path, op.entry.target ?? '', op.entry.mtimeNs, op);
      case 'meta':
        return tree.meta(op.path, op.entry.mode, op.entry.mtimeNs);
      case 'delete':
        return tree.delete(op.path, op.guard);
      case 'rename':
        return tree.rename(op.from, op.path);
      case 'write': {
        const write = tree.beginWrite(op.path, op.entry.size);
        write.hashContent();
        try {
          await read(op.entry, (chunk) => write.append(chunk));
        } catch (error) {
          write.abort();
          throw error;
        }
        return tree.finishWrite(op.path, write, op.entry.mode, op.entry.mtimeNs, op);
      }
      default:
        throw new ProtocolError(`unknown operation ${JSON.stringify(op)}`);
    }
  }
}
