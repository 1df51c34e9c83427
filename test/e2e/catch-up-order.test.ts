/**
 * Defect 15 of the hardening issue: "watching for changes" means every destination has caught up.
 * When the first attempt fails, the client says which destination is behind, and says it is
 * watching only after that destination's catch-up has finished.
 */
import { rm } from 'node:fs/promises';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { put, useCliHarness, waitForSameTree } from '../helpers/cli-harness.js';
import { writeProjectFile } from './fixtures.js';

const harness = useCliHarness();
const WATCHING = /^watching for changes \(Ctrl-C to stop\)$/;

describe('defect 15: the order of what a live client says after a failed first attempt', () => {
  it('names the destination that is behind, and says "watching" only after its catch-up', async () => {
    const root = harness.path('project');
    const blocker = harness.path('blocker'); // a file where the destination's parent folder should be
    const dest = path.join(blocker, 'dest');
    await writeProjectFile(root, { destinations: [dest] });
    await put(path.join(root, 'a.txt'), 'a\n');
    await put(blocker, 'in the way\n');

    const live = harness.startCli([], { cwd: root });
    const behind = await live.waitForLine(/not caught up yet: .*dest/);
    expect(
      live.lines.some((line) => WATCHING.test(line)),
      live.output,
    ).toBe(false);

    await rm(blocker);
    const watching = await live.waitForLine(WATCHING, { timeoutMs: 20_000 });
    const summary = await live.waitForLine(/dest: .*applied/);
    expect(summary.index, live.output).toBeLessThan(watching.index);
    expect(behind.index).toBeLessThan(summary.index);
    await waitForSameTree(dest, root);

    expect((await live.stop()).code, live.output).toBe(0);
    await harness.expectNoProcessesLeft();
  });
});
