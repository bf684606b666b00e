import type { ExecutionContext } from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Identity } from '../../controller/auth/index.ts';
import { createCore, type Core, type CoreOptions } from '../../controller/core.ts';
import { openDb } from '../../controller/db/open.ts';
import type { DomainEvent } from '../../controller/events.ts';
import { statePaths } from '../../controller/paths.ts';
import { FakeRuntime } from '../../controller/runtime/fake.ts';
import { commitFiles } from '../../repos/commit.ts';
import { identityFor } from '../../repos/identity.ts';
import { readRefs } from '../../repos/refs.ts';

export const OPERATOR: Identity = { kind: 'operator', name: 'operator' };

export interface FakeCore { core: Core; runtime: FakeRuntime; dir: string; events: DomainEvent[] }

/**
 * The whole controller without a server: real sqlite, real bare repos and hooks, the FakeRuntime in
 * place of processes. Stopped and removed when the test ends.
 */
export async function fakeCore(t: ExecutionContext, o: Partial<CoreOptions> = {}): Promise<FakeCore> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hh-core-'));
  const db = openDb(path.join(dir, 'hyperhive.db'));
  const runtime = new FakeRuntime({ minBackoffMs: 20, maxBackoffMs: 200 });
  const core = createCore({
    db, paths: statePaths(dir), runtime, url: () => 'http://127.0.0.1:9', logToStderr: false, agentClone: false,
    resyncMs: 600_000, backoff: { minMs: 50, maxMs: 400 }, ...o,
  });
  const events: DomainEvent[] = [];
  core.events.subscribe((e) => { if (e.type !== 'log') events.push(e); });
  await core.controller.start();
  t.teardown(async () => { await core.controller.stop(); db.close(); fs.rmSync(dir, { recursive: true, force: true }); });
  return { core, runtime, dir, events };
}

/** A commit on the agent's proposed, as `by` would push it; returns it once its request (if any) is raised. */
export async function propose(f: FakeCore, agent: string, files: Record<string, string | null>, by = 'alice'): Promise<string> {
  const repo = f.core.paths.repo(agent);
  const { proposed } = await readRefs(repo);
  const sha = await commitFiles(repo, { branch: 'proposed', files, message: `change by ${by}`, author: identityFor(by), expectedOld: proposed!, pusher: by });
  f.core.reconciler.ingest();
  f.core.reconciler.enqueue(agent);
  await f.core.reconciler.settled(agent);
  return sha;
}

export async function until<T>(what: string, fn: () => T | Promise<T>, ms = 20_000): Promise<NonNullable<T>> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v as NonNullable<T>;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export const running = (f: FakeCore, agent: string, revision: string) =>
  until(`${agent} running ${revision.slice(0, 7)}`, () => { const s = f.runtime.status(agent); return s.state === 'running' && s.revision === revision; });
