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
    expect(getWatchLimitWarning(8190, 0, [await limitFile('8192\n')])).toBeNull();
  });

  it('names the counts and gives the sysctl line when they do not', async () => {
    const warning = getWatchLimitWarning(12_000, 0, [await limitFile('8192\n')]);
    expect(warning).toContain('12001 folders to watch, more than the 8192 inotify watches');
    expect(warning).toContain('polled every 2 s instead');
    expect(warning).toContain('sudo sysctl fs.inotify.max_user_watches=524288');
    expect(getWatchLimitWarning(600_000, 0, [await limitFile('8192')])).toContain('max_user_watches=2097152');
  });

  it('takes the lowest of the limits it can read (a container has its own)', async () => {
    const files = [await limitFile('1000000'), await limitFile('100'), '/nonexistent/max_user_watches'];
    expect(getWatchLimitWarning(500, 0, files)).toContain('more than the 100 inotify watches');
  });

  it('says how many folders got no watch, whatever the counts suggested', async () => {
    const warning = getWatchLimitWarning(50, 7, [await limitFile('8192')]);
    expect(warning).toContain("7 of this project's 51 folders got no inotify watch");
    expect(warning).toContain('the limit is 8192');
    expect(warning).toContain('sudo sysctl fs.inotify.max_user_watches=524288');
  });

  it('says nothing where there is no limit to read', () => {
    expect(getWatchLimitWarning(1_000_000, 0, ['/nonexistent/max_user_watches'])).toBeNull();
  });
});
