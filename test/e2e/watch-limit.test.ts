/**
 * More folders than inotify watches: the client runs in a user namespace of its own whose watch
 * limit (/proc/sys/user/max_inotify_watches, which a namespace's owner may lower) is far below the
 * project's folders. It must say so with the sysctl line, and still follow every kind of change in
 * the folders that got no watch, by polling them.
 */
import { spawnSync } from 'node:child_process';
import { chmod, mkdir, rename, rm, unlink } from 'node:fs/promises';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { put, useCliHarness, waitForSameTree } from '../helpers/cli-harness.js';
import { writeProjectFile } from './fixtures.js';

const harness = useCliHarness();
const WATCHES = 12;
const LIMITED = [
  'unshare',
  '--user',
  '--map-root-user',
  'sh',
  '-c',
  `echo ${WATCHES} > /proc/sys/user/max_inotify_watches && exec "$0" "$@"`,
];

/** Some kernels or containers refuse user namespaces: then there is no way to lower the limit for one process. */
const canLimit = spawnSync(LIMITED[0]!, [...LIMITED.slice(1), 'true'], { stdio: 'ignore' }).status === 0;

describe.skipIf(!canLimit)('more folders than inotify watches', () => {
  it('warns with the sysctl line and still follows changes in the folders it polls', async () => {
    const root = harness.path('proj');
    const dest = harness.path('dest');
    await writeProjectFile(root, { destinations: [dest] });
    for (let i = 0; i < 40; i += 1) await put(path.join(root, `f${String(i).padStart(2, '0')}/sub/file.txt`), `file ${i}\n`);
    const cli = harness.startCli([], { cwd: root, prefix: LIMITED });
    await cli.waitForLine(/^watching for changes/, { timeoutMs: 15_000 });
    expect(cli.stderr).toMatch(/of this project's 81 folders got no inotify watch/);
    expect(cli.stderr).toContain('polled every 2 s');
    expect(cli.stderr).toContain('sudo sysctl fs.inotify.max_user_watches=');
    await waitForSameTree(dest, root, {}, 20_000);

    // Scanned last (the scan takes folders from the end of a stack): f00 and its subfolder are
    // among those without a watch, whatever the order of the others.
    await put(path.join(root, 'f00/sub/new.txt'), 'new\n');
    await put(path.join(root, 'f01/sub/file.txt'), 'changed, and longer\n');
    await chmod(path.join(root, 'f02/sub/file.txt'), 0o755);
    await unlink(path.join(root, 'f03/sub/file.txt'));
    await rm(path.join(root, 'f04'), { recursive: true });
    await rename(path.join(root, 'f05/sub'), path.join(root, 'f06/moved'));
    await mkdir(path.join(root, 'f07/sub/new-folder/deeper'), { recursive: true });
    await put(path.join(root, 'f07/sub/new-folder/deeper/x.txt'), 'x\n');
    await waitForSameTree(dest, root, {}, 20_000);

    const result = await cli.stop();
    expect(result.code, cli.output).toBe(0);
    await harness.expectNoProcessesLeft();
  });
});
