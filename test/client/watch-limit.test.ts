import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { getWatchLimitWarning } from '../../src/client/watch-limit.js';

const folders: string[] = [];
afterEach(async () => {
  for (const folder of folders.splice(0)) await rm(folder, { recursive: true, force: true });
});

async function limitFile(text: string): Promise<string> {
  const folder = await mkdtemp(join(tmpdir(), 'watch-limit-'));
  folders.push(folder);
  const file = join(folder, 'max_user_watches');
  await writeFile(file, text);
  return file;
}

describe('getWatchLimitWarning', () => {
  it('says nothing while the folders fit', async () => {
    expect(getWatchLimitWarning(8190, await limitFile('8192\n'))).toBeNull();
  });

  it('names the counts and gives the sysctl line when they do not', async () => {
    const warning = getWatchLimitWarning(12_000, await limitFile('8192\n'));
    expect(warning).toContain('12001 folders to watch, more than the 8192 inotify watches');
    expect(warning).toContain('sudo sysctl fs.inotify.max_user_watches=524288');
    expect(getWatchLimitWarning(600_000, await limitFile('8192'))).toContain('max_user_watches=2097152');
  });

  it('says nothing where there is no limit to read', () => {
    expect(getWatchLimitWarning(1_000_000, '/nonexistent/max_user_watches')).toBeNull();
  });
});
