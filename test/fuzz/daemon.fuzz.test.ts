/**
 * The fuzz tier (hardening issue): generated frames at both layers against one live daemon, while
 * an honest `sicksync` client keeps syncing an edited project through it over both transports.
 *
 * (a) raw WebSocket bytes on fresh connections: bad opcodes, RSV bits, unmasked frames, lying and
 *     huge lengths, fragments out of order, invalid UTF-8, long control frames, truncation, damage;
 * (b) valid frames carrying generated protocol messages: paths and link targets that try to leave
 *     the root, wrong versions, ops out of order, huge numbers, schema and codec violations.
 *
 * Afterwards: the daemon is the same process, nothing outside the roots changed (nor does any link
 * inside a root lead out of it), and the honest destinations equal the project. The seed comes
 * from SICKSYNC_FUZZ_SEED (random otherwise) and starts every failure message; the budget per layer
 * from SICKSYNC_FUZZ_FRAMES (default 10,000).
 */
import * as path from 'node:path';
import { describe, it } from 'vitest';
import { useCliHarness, waitForSameTree } from '../helpers/cli-harness.js';
import { openWebSocket, RawClient } from '../helpers/daemon-harness.js';
import {
  diffSnapshots,
  findEscapingLinks,
  isSameDaemon,
  makeLayout,
  snapshotOutside,
  startDaemon,
  startEditor,
  startSwapper,
  watchNames,
  WATCHING,
  type FuzzWorld,
} from './fuzz-world.js';
import { createRandom, deriveSeed, getFuzzSeed } from './prng.js';
import { describeSession, runProtocolLayer } from './protocol-layer.js';
import type { ProtocolSession } from './protocol-messages.js';
import type { Finding } from './run-pool.js';
import { runWsLayer } from './ws-layer.js';

const harness = useCliHarness();
const SEED = getFuzzSeed();
const FRAMES = Number(process.env.SICKSYNC_FUZZ_FRAMES ?? 10_000);
const CONVERGE_MS = 30_000;
/** Findings listed in full in a failure message; the rest are counted. */
const SHOWN = 12;

function getReproduction(): string {
  return `fuzz seed ${SEED}; reproduce with SICKSYNC_FUZZ_SEED=${SEED} npx vitest run test/fuzz/daemon.fuzz.test.ts (after npm run build)`;
}

/** Names the fuzzer gave its files carry their session's tag (`c<index>`): point at that session. */
function attributeEscapes(lines: readonly string[], sessions: Map<number, ProtocolSession>): string[] {
  const shown = new Set<number>();
  const out: string[] = [];
  for (const line of lines) {
    const match = /\bc(\d+)\b/.exec(line);
    const index = match ? Number(match[1]) : NaN;
    const session = sessions.get(index);
    if (!session || shown.has(index)) continue;
    shown.add(index);
    out.push(`protocol case ${index}, its messages naming c${index}: ${describeSession(session, `c${index}`)}`);
  }
  return out;
}

function formatFindings(findings: readonly Finding[]): string {
  const lines = findings
    .slice(0, SHOWN)
    .map((finding) => `- [${finding.layer} case ${finding.index}] ${finding.what}\n    ${finding.detail}`);
  if (findings.length > SHOWN) lines.push(`- and ${findings.length - SHOWN} more`);
  return lines.join('\n');
}

describe('fuzz tier: the daemon under generated frames at both layers', () => {
  it('keeps its pid, writes nothing outside a root, and lets an honest live client converge', async () => {
    const escapeName = `sfz-${SEED}`;
    const findings: Finding[] = [];
    const sessions = new Map<number, ProtocolSession>();
    let world: FuzzWorld | null = null;
    try {
      const daemon = await startDaemon(harness);
      // Held open all along: the daemon must not reach its grace period, and this client must outlive the fuzz.
      const bystander = new RawClient(await openWebSocket(harness.path('.sicksync', 'daemon.sock')));
      const layout = await makeLayout(harness, daemon.port);
      await bystander.hello(layout.fuzzRoots[1]!);
      const cli = harness.startCli([], { cwd: layout.project });
      await cli.waitForLine(WATCHING, { timeoutMs: 20_000 });
      world = {
        ...layout,
        socket: harness.path('.sicksync', 'daemon.sock'),
        port: daemon.port,
        token: daemon.token,
        daemonPid: daemon.pid,
        cli,
      };
      const current = world;
      await Promise.all(world.honestDestinations.map((dest) => waitForSameTree(dest, current.project, {}, CONVERGE_MS)));
      const before = await snapshotOutside(world, escapeName);

      const rootNames = new Set([...world.honestDestinations, ...world.fuzzRoots].map((root) => path.basename(root)));
      const watcher = watchNames([world.home, world.sentinel, world.outside], new Set([...rootNames, 'proj', '.sicksync']));
      const editor = startEditor(world.project, createRandom(deriveSeed(SEED, 3)));
      const swapper = startSwapper(world.swapRoot, world.outside);
      let daemonGone = false;
      const watchdog = setInterval(() => {
        void isSameDaemon(current).then((same) => (daemonGone ||= !same));
      }, 250);
      const shouldStop = (): boolean => daemonGone;
      const context = {
        roots: world.fuzzRoots,
        home: world.home,
        outside: world.outside,
        escapeName,
        honestRelative: path.relative(world.fuzzRoots[0]!, world.honestDestinations[0]!),
      };
      const [ws, protocol] = await Promise.all([
        runWsLayer(world, SEED, { frameBudget: FRAMES, concurrency: 6, findings, shouldStop }),
        runProtocolLayer(world, SEED, context, { frameBudget: FRAMES, concurrency: 4, findings, sessions, shouldStop }),
      ]).finally(async () => {
        clearInterval(watchdog);
        await Promise.all([editor.stop(), swapper.stop()]);
        watcher.stop();
      });
      console.log(
        `${getReproduction()}\n  raw WebSocket layer: ${ws.frames} frames in ${ws.cases} connections\n` +
          `  protocol layer: ${protocol.frames} messages generated, ${protocol.sent} sent, in ${protocol.cases} connections`,
      );

      const problems: string[] = [];
      if (!(await isSameDaemon(world))) problems.push(`the daemon (pid ${world.daemonPid}) is gone or was replaced`);
      if (!bystander.isOpen) problems.push('a client that only stayed connected lost its connection');
      if (!cli.isRunning) problems.push(`the honest client exited:\n${cli.output}`);

      const escaped = diffSnapshots(before, await snapshotOutside(world, escapeName));
      if (watcher.seen.size > 0) escaped.push(...[...watcher.seen].map((name) => `${name}: came and went during the run`));
      if (escaped.length > 0) {
        problems.push(`outside the roots:\n  ${escaped.slice(0, 30).join('\n  ')}`);
        problems.push(...attributeEscapes(escaped, sessions));
      }
      // fuzz-swap is left out: its links to outside/ are the swapper's, not the daemon's.
      for (const root of world.fuzzRoots.slice(0, 2)) {
        const links = await findEscapingLinks(root);
        if (links.length > 0) {
          problems.push(`links the daemon made in ${root} lead outside it:\n  ${links.slice(0, 20).join('\n  ')}`);
          problems.push(...attributeEscapes(links, sessions));
        }
      }
      try {
        await Promise.all(world.honestDestinations.map((dest) => waitForSameTree(dest, current.project, {}, CONVERGE_MS)));
      } catch (error) {
        problems.push(`the honest client did not converge: ${(error as Error).message}\nit printed:\n${cli.output}`);
      }
      if (findings.length > 0) problems.push(`${findings.length} findings on single connections:\n${formatFindings(findings)}`);
      if (problems.length > 0) throw new Error(problems.join('\n\n'));

      const result = await cli.stop();
      if (result.code !== 0) throw new Error(`the honest client exited with ${result.code} on SIGINT:\n${cli.output}`);
      bystander.terminate();
      await bystander.closed;
    } catch (error) {
      if (error instanceof Error) error.message = `${getReproduction()}\n${error.message}`;
      throw error;
    } finally {
      world?.cli.kill('SIGINT');
      await world?.cli.exited;
      await harness.runCli(['remote', 'stop']);
    }
  }, 180_000);
});
