/**
 * Drives layer (b): each generated session on a fresh connection (a real WebSocket client, so
 * every frame is well formed), then a final scan whose answer shows the daemon got through all of
 * it. What comes back is checked too: every frame decodes, and nothing read outside a root.
 */
import WebSocket from 'ws';
import { openWebSocket, RawClient } from '../helpers/daemon-harness.js';
import type { DaemonMessage } from '../../src/shared/protocol.js';
import type { FuzzWorld } from './fuzz-world.js';
import { createRandom, deriveSeed } from './prng.js';
import { generateProtocolSession, type ProtocolContext, type ProtocolSession, type ProtocolStep } from './protocol-messages.js';
import { abbreviate, runPool, type Finding, type PoolResult } from './run-pool.js';

const LAYER = 2;
/** A req id no generated step uses: the last request of every session. */
const FINAL_REQ = 2 ** 40;
const ANSWER_DEADLINE_MS = 15_000;

interface Planned {
  session: ProtocolSession;
  overTcp: boolean;
}

export function getCaseTag(index: number): string {
  return `c${index}`;
}

function openTcp(port: number, token: string): Promise<WebSocket> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/`, { headers: { authorization: `Bearer ${token}` }, perMessageDeflate: false });
  return new Promise((resolve, reject) => {
    ws.once('open', () => {
      ws.off('error', reject);
      resolve(ws);
    });
    ws.once('error', reject);
  });
}

async function sendStep(client: RawClient, step: ProtocolStep): Promise<void> {
  if (step.kind === 'message') return client.send(step.header, step.payload);
  if (step.kind === 'raw') return client.sendBytes(step.bytes);
  return client.sendBytes(step.text, false);
}

export function describeSession(session: ProtocolSession, filter?: string): string {
  const steps = session.steps.map((step, i) => ({ i, ...step }));
  const shown = filter ? steps.filter((step) => abbreviate(step, 100_000).includes(filter)) : steps;
  return abbreviate(shown, 4000);
}

function isFinalAnswer(message: DaemonMessage): boolean {
  return (message.t === 'scan-page' && message.req === FINAL_REQ && message.done) || (message.t === 'error' && message.req === FINAL_REQ);
}

function checkAnswers(client: RawClient, world: FuzzWorld, report: (what: string) => void): void {
  for (const bad of client.badFrames) report(`sent a frame that does not decode: ${bad}`);
  for (const message of client.pending) {
    if (message.t === 'hashes') {
      for (const [path, hash] of Object.entries(message.hashes)) {
        if (hash === world.secretHash) report(`answered the hash of a file outside the root, for ${JSON.stringify(path)}`);
      }
    }
    if (message.t === 'scan-page') {
      for (const entry of message.entries) {
        if (entry.path.startsWith('/') || entry.path.split('/').includes('..')) report(`scanned an entry outside the root: ${entry.path}`);
      }
    }
  }
}

export async function runProtocolLayer(
  world: FuzzWorld,
  seed: number,
  context: ProtocolContext,
  {
    frameBudget,
    concurrency,
    findings,
    sessions,
    shouldStop,
  }: { frameBudget: number; concurrency: number; findings: Finding[]; sessions: Map<number, ProtocolSession>; shouldStop: () => boolean },
): Promise<PoolResult & { sent: number }> {
  let sent = 0;
  const result = await runPool<Planned>({
    frameBudget,
    concurrency,
    shouldStop,
    generate(index) {
      const random = createRandom(deriveSeed(seed, LAYER, index));
      const session = generateProtocolSession(random, context, getCaseTag(index));
      sessions.set(index, session);
      return { testCase: { session, overTcp: random.chance(0.25) }, frames: session.steps.length };
    },
    async run({ session, overTcp }, index) {
      const report = (what: string): void => {
        findings.push({
          layer: 'protocol',
          index,
          what: `${what} (over ${overTcp ? 'TCP' : 'the Unix socket'})`,
          detail: describeSession(session),
        });
      };
      let client: RawClient;
      try {
        client = new RawClient(overTcp ? await openTcp(world.port, world.token) : await openWebSocket(world.socket));
      } catch (error) {
        report(`could not connect: ${(error as Error).message}`);
        return;
      }
      try {
        for (const step of session.steps) {
          if (!client.isOpen) break;
          await sendStep(client, step).then(
            () => (sent += 1),
            () => undefined, // closed under us: the daemon refused an earlier frame
          );
        }
        if (client.isOpen) {
          await client.send({ t: 'scan', req: FINAL_REQ }).catch(() => undefined);
          await client.waitFor(isFinalAnswer, 'the answer to the final scan', ANSWER_DEADLINE_MS).catch((error: Error) => {
            if (!/^connection closed/.test(error.message)) report(`no answer: ${error.message.slice(0, 300)}`);
          });
        }
        checkAnswers(client, world, report);
      } finally {
        client.terminate();
        await client.closed;
      }
    },
  });
  return { ...result, sent };
}
