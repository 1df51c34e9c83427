/**
 * Drives layer (a): each case on a fresh connection, most on the Unix socket, some on the TCP
 * listener (some of those with a wrong, missing or mangled token).
 */
import { makeFrame } from '../helpers/daemon-harness.js';
import { PROTOCOL_VERSION } from '../../src/shared/protocol.js';
import { VERSION } from '../../src/shared/version.js';
import type { FuzzWorld } from './fuzz-world.js';
import { createRandom, deriveSeed } from './prng.js';
import { runRawConnection, type RawTarget, type TokenVariant } from './raw-connection.js';
import { abbreviate, runPool, type Finding, type PoolResult } from './run-pool.js';
import { generateWsCase, type WsCase } from './ws-frames.js';

const LAYER = 1;
/** How long a connection may stay open after its bytes; the daemon's heartbeat is far longer. */
const CLOSE_DEADLINE_MS = 8000;
const BAD_TOKENS: TokenVariant[] = ['wrong', 'missing', 'empty', 'valid-plus-garbage', 'not-bearer', 'huge'];

interface Planned {
  wsCase: WsCase;
  target: RawTarget;
  token: TokenVariant;
}

function describe(planned: Planned): string {
  const bytes = Buffer.concat(planned.wsCase.chunks);
  return (
    `${planned.wsCase.label} over ${planned.target.kind}${planned.target.kind === 'tcp' ? ` (token ${planned.token})` : ''}; ` +
    `${planned.wsCase.frames} frames, ${bytes.length} bytes in ${planned.wsCase.chunks.length} writes: ` +
    abbreviate(
      planned.wsCase.chunks.map((chunk) => chunk.toString('hex')),
      600,
    )
  );
}

export async function runWsLayer(
  world: FuzzWorld,
  seed: number,
  {
    frameBudget,
    concurrency,
    findings,
    shouldStop,
  }: { frameBudget: number; concurrency: number; findings: Finding[]; shouldStop: () => boolean },
): Promise<PoolResult> {
  const hello = makeFrame({
    t: 'hello',
    protocol: PROTOCOL_VERSION,
    version: VERSION,
    root: world.fuzzRoots[0],
    excludes: [],
    client: 'fuzz-ws',
  });
  const unix: RawTarget = { kind: 'unix', socket: world.socket };
  const tcp: RawTarget = { kind: 'tcp', port: world.port, token: world.token };
  return runPool<Planned>({
    frameBudget,
    concurrency,
    shouldStop,
    generate(index) {
      const random = createRandom(deriveSeed(seed, LAYER, index));
      const wsCase = generateWsCase(random, { hello });
      const overTcp = random.chance(0.25);
      const token: TokenVariant = overTcp && random.chance(0.1) ? random.pick(BAD_TOKENS) : 'valid';
      return { testCase: { wsCase, target: overTcp ? tcp : unix, token }, frames: wsCase.frames };
    },
    async run(planned, index) {
      const report = (what: string): void => {
        findings.push({ layer: 'ws', index, what, detail: describe(planned) });
      };
      const refusedToken = planned.target.kind === 'tcp' && planned.token !== 'valid';
      let outcome;
      try {
        outcome = await runRawConnection(planned.target, planned.wsCase.chunks, {
          endAfterSend: !planned.wsCase.daemonMustClose,
          timeoutMs: CLOSE_DEADLINE_MS,
          token: planned.token,
        });
      } catch (error) {
        report(`could not connect: ${(error as Error).message}`);
        return;
      }
      if (refusedToken) {
        if (outcome.status.startsWith('HTTP/1.1 101')) report(`upgraded with token '${planned.token}'`);
        if (outcome.closedBy === 'timeout') report(`kept a connection with token '${planned.token}' open`);
        return;
      }
      if (!outcome.status.startsWith('HTTP/1.1 101')) {
        report(`upgrade refused: ${JSON.stringify(outcome.status)}`);
        return;
      }
      if (outcome.closedBy === 'timeout') {
        report(
          planned.wsCase.daemonMustClose
            ? `kept the connection open ${CLOSE_DEADLINE_MS} ms after a malformed frame`
            : `kept the connection open ${CLOSE_DEADLINE_MS} ms after the client's EOF`,
        );
      }
    },
  });
}
