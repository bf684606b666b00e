import type { ExecutionContext, TestFn } from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { isHyperhiveError } from '../../controller/errors.ts';
import { checkedOutRevision } from '../../controller/runtime/checkout.ts';
import type { AgentSpec, PtyHandle, Runtime, RuntimeEvent } from '../../controller/runtime/types.ts';
import { commitFiles } from '../../repos/commit.ts';
import { identityFor } from '../../repos/identity.ts';
import { createRepo } from '../../repos/store.ts';
import { PROJECT_ROOT } from './paths.ts';

/**
 * The runtime contract, one suite for every backend (process, the fake, nspawn): each target says how
 * to build its runtime and how to make its agent die, and the same tests run against it.
 */
export interface ConformanceTarget {
  name: string;
  /** Why the target cannot run here (an absent system part), or null. */
  skip: () => string | null;
  runtime(): Runtime;
  /** The agent's command (as the runtime resolves it); it must record its environment with `recordEnv`. */
  command: string[];
  /** Makes the running agent die by itself (not a stop): a crash. */
  kill(runtime: Runtime, agent: string): void | Promise<void>;
  /** The environment the running agent was given. */
  envOf(runtime: Runtime, spec: AgentSpec): Promise<Record<string, string> | null>;
  /** The spec as this backend's agents see it (a container's mount targets); default: host paths. */
  spec?: (spec: AgentSpec) => AgentSpec;
}

interface Fixture { runtime: Runtime; spec: AgentSpec; r1: string; r2: string; events: RuntimeEvent[]; dir: string }

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until<T>(what: string, fn: () => T | Promise<T>, ms = 20_000): Promise<NonNullable<T>> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v as NonNullable<T>;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** Another agent with its own dirs, on the same repo. */
function sibling(spec: AgentSpec, suffix: string, adapt: (s: AgentSpec) => AgentSpec): AgentSpec {
  const name = `${spec.name}${suffix}`;
  const base = path.join(path.dirname(path.dirname(spec.mounts.config.source)), name);
  fs.mkdirSync(base, { recursive: true });
  fs.copyFileSync(spec.mounts.token.source, path.join(base, 'token'));
  const m = (sub: string, readOnly: boolean) => ({ source: path.join(base, sub), target: path.join(base, sub), readOnly });
  return adapt({ ...spec, name, mounts: { config: m('config', true), state: m('state', false), token: m('token', true) } });
}

export function runtimeConformance(test: TestFn, target: ConformanceTarget): void {
  const reason = target.skip();
  const t0 = reason ? test.skip : test;
  if (reason) test(`${target.name}: conformance suite skipped`, (t) => { t.log(`skipped: ${reason}`); t.pass(); });

  let n = 0;
  const adapt = target.spec ?? ((s: AgentSpec) => s);
  async function fixture(t: ExecutionContext): Promise<Fixture> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `hh-conf-${target.name}-`));
    const agent = `a${++n}`;
    const repo = path.join(dir, 'repos', `${agent}.git`);
    const roots = await createRepo(repo, { agent, templatesDir: path.join(PROJECT_ROOT, 'templates'), eventsFile: path.join(dir, 'refs.jsonl'), author: identityFor('operator'), projectRoot: PROJECT_ROOT });
    const r2 = await commitFiles(repo, { branch: 'proposed', files: { 'second.md': 'revision two\n' }, message: 'second', author: identityFor('operator'), expectedOld: roots.config, pusher: 'operator' });
    const base = path.join(dir, 'agents', agent);
    fs.mkdirSync(base, { recursive: true });
    fs.writeFileSync(path.join(base, 'token'), 'not-a-real-token\n', { mode: 0o600 });
    const spec: AgentSpec = adapt({
      name: agent, repo,
      mounts: {
        config: { source: path.join(base, 'config'), target: path.join(base, 'config'), readOnly: true },
        state: { source: path.join(base, 'state'), target: path.join(base, 'state'), readOnly: false },
        token: { source: path.join(base, 'token'), target: path.join(base, 'token'), readOnly: true },
      },
      env: { CONFORMANCE: '1' }, controllerUrl: 'http://127.0.0.1:9', command: target.command, workingClone: false,
    });
    const runtime = target.runtime();
    const events: RuntimeEvent[] = [];
    runtime.onEvent((e) => { if (e.agent === agent) events.push(e); });
    t.teardown(async () => { await runtime.close(); fs.rmSync(dir, { recursive: true, force: true }); });
    return { runtime, spec, r1: roots.config, r2, events, dir };
  }
  const start = async (f: Fixture, rev: string) => { await f.runtime.activate(await f.runtime.prepare(f.spec, rev)); };
  const types = (f: Fixture) => f.events.map((e) => e.type);
  const name = (s: string) => `${target.name}: ${s}`;

  t0(name('prepare then activate: running at that revision, events in order, the Contract environment'), async (t) => {
    const f = await fixture(t);
    t.is(f.runtime.status(f.spec.name).state, 'none', 'an agent never started is none');
    const p = f.runtime.prepare(f.spec, f.r1);
    t.is(f.runtime.status(f.spec.name).building, f.r1, 'building is visible at once');
    await f.runtime.activate(await p);
    const st = f.runtime.status(f.spec.name);
    t.is(st.state, 'running');
    t.is(st.revision, f.r1);
    t.is(st.building, null);
    t.deepEqual(types(f), ['building', 'applied', 'started']);
    t.is(await checkedOutRevision(f.spec.mounts.config.source), f.r1);
    const env = await until('the agent\'s environment', () => target.envOf(f.runtime, f.spec));
    t.like(env, {
      HYPERHIVE_AGENT: f.spec.name, HYPERHIVE_URL: f.spec.controllerUrl, HYPERHIVE_TOKEN_FILE: f.spec.mounts.token.target,
      HYPERHIVE_CONFIG_DIR: f.spec.mounts.config.target, HYPERHIVE_STATE_DIR: f.spec.mounts.state.target, CONFORMANCE: '1',
    });
  });

  t0(name('a prepared revision changes nothing until activated; then the state is kept and the config is the new revision only'), async (t) => {
    const f = await fixture(t);
    await start(f, f.r1);
    const pid = f.runtime.status(f.spec.name).pid;
    fs.writeFileSync(path.join(f.spec.mounts.state.source, 'kept.txt'), 'state survives\n');
    const p = await f.runtime.prepare(f.spec, f.r2);
    t.is(f.runtime.status(f.spec.name).revision, f.r1, 'the old revision runs while the new one is prepared');
    t.is(f.runtime.status(f.spec.name).pid, pid);
    t.is(await checkedOutRevision(f.spec.mounts.config.source), f.r1);
    t.false(fs.existsSync(path.join(f.spec.mounts.config.source, 'second.md')));
    await f.runtime.activate(p);
    t.is(f.runtime.status(f.spec.name).revision, f.r2);
    t.is(f.runtime.status(f.spec.name).state, 'running');
    t.is(await checkedOutRevision(f.spec.mounts.config.source), f.r2);
    t.is(fs.readFileSync(path.join(f.spec.mounts.config.source, 'second.md'), 'utf8'), 'revision two\n');
    t.is(fs.readFileSync(path.join(f.spec.mounts.state.source, 'kept.txt'), 'utf8'), 'state survives\n');
  });

  t0(name('an agent that dies is started again with a growing backoff: crashed → backoff → started'), async (t) => {
    const f = await fixture(t);
    await start(f, f.r1);
    const delays: number[] = [];
    for (let i = 1; i <= 2; i++) {
      const pid = f.runtime.status(f.spec.name).pid;
      const before = f.events.length;
      await target.kill(f.runtime, f.spec.name);
      await until(`restart ${i}`, () => f.events.slice(before).some((e) => e.type === 'started'));
      const seq = f.events.slice(before).map((e) => e.type);
      t.deepEqual(seq, ['crashed', 'backoff', 'started'], `events of crash ${i}`);
      const bo = f.events.slice(before).find((e) => e.type === 'backoff') as Extract<RuntimeEvent, { type: 'backoff' }>;
      delays.push(bo.delayMs);
      const st = f.runtime.status(f.spec.name);
      t.is(st.state, 'running');
      t.is(st.restarts, i);
      t.is(st.revision, f.r1);
      t.not(st.pid, pid);
      t.truthy(st.lastExit);
    }
    t.true(delays[1]! > delays[0]!, `the backoff grows (${delays.join(' → ')} ms)`);
  });

  t0(name('stop: stopped, and not started again'), async (t) => {
    const f = await fixture(t);
    await start(f, f.r1);
    // A second agent on the same runtime: its restart after a crash is the positive signal that a
    // restart of the stopped one (same backoff) would have happened by then.
    const other = sibling(f.spec, 'b', adapt);
    await f.runtime.activate(await f.runtime.prepare(other, f.r1));
    await f.runtime.stop(f.spec.name);
    t.is(f.runtime.status(f.spec.name).state, 'stopped');
    t.is(f.runtime.status(f.spec.name).pid, null);
    const restarts = f.runtime.status(other.name).restarts;
    await target.kill(f.runtime, other.name);
    await until('the other agent restarted', () => f.runtime.status(other.name).restarts > restarts && f.runtime.status(other.name).state === 'running');
    t.is(f.runtime.status(f.spec.name).state, 'stopped');
    t.deepEqual(types(f), ['building', 'applied', 'started', 'stopped']);
  });

  t0(name('a prepare that fails reports build-failed and leaves the old revision running'), async (t) => {
    const f = await fixture(t);
    await start(f, f.r1);
    const err = await t.throwsAsync(() => f.runtime.prepare(f.spec, 'f'.repeat(40)));
    t.truthy(err?.message);
    const failed = f.events.find((e) => e.type === 'build-failed') as Extract<RuntimeEvent, { type: 'build-failed' }> | undefined;
    t.truthy(failed, 'build-failed event');
    t.truthy(failed?.logTail);
    const st = f.runtime.status(f.spec.name);
    t.is(st.state, 'running');
    t.is(st.revision, f.r1);
    t.is(st.building, null);
  });

  t0(name('discard drops a prepared revision: it never runs, the running one goes on'), async (t) => {
    const f = await fixture(t);
    await start(f, f.r1);
    const p = await f.runtime.prepare(f.spec, f.r2);
    await f.runtime.discard(p);
    t.is(f.runtime.status(f.spec.name).revision, f.r1);
    t.is(await checkedOutRevision(f.spec.mounts.config.source), f.r1);
    const leftovers = fs.readdirSync(path.dirname(f.spec.mounts.config.source)).filter((x) => x.startsWith('.config-'));
    t.deepEqual(leftovers, [], 'no staged checkout left behind');
  });

  t0(name('exec: a PTY into the running agent with its environment and directory (or not_supported); ends when the agent stops; refused once stopped'), async (t) => {
    const f = await fixture(t);
    await start(f, f.r1);
    let pty: PtyHandle;
    try {
      pty = await f.runtime.exec(f.spec.name, { cols: 100, rows: 30 });
    } catch (e) {
      t.true(isHyperhiveError(e) && e.code === 'not_supported', `not_supported, got ${(e as Error).message}`);
      return;
    }
    let out = '';
    pty.onData((c) => { out += Buffer.from(c).toString('utf8'); });
    const exited = new Promise<{ code: number | null; signal: string | null }>((r) => pty.onExit(r));
    // Computed by the shell, so the echo of what was typed cannot satisfy the wait.
    pty.write(`echo "hh-$((6*7))"; echo "agent=$HYPERHIVE_AGENT"; printf 'cwd:%s\\n' "$(pwd)"; stty size\n`);
    await until('the shell\'s answer', () => /hh-42/.test(out) && /cwd:\//.test(out) && /[\r\n]30 100\r?\n/.test(out));
    t.regex(out, new RegExp(`agent=${f.spec.name}\\r?\\n`));
    t.is(/cwd:(\/\S*)/.exec(out)![1], f.spec.mounts.state.target);
    pty.resize(120, 40);
    pty.write('stty size\n');
    await until('the new size', () => /[\r\n]40 120\r?\n/.test(out));
    t.pass();
    await f.runtime.stop(f.spec.name);
    await exited;
    const err = await t.throwsAsync(() => f.runtime.exec(f.spec.name, { cols: 80, rows: 24 }));
    t.true(isHyperhiveError(err) && err.code === 'conflict', `a stopped agent is refused with conflict, got ${err?.message}`);
    t.regex(err!.message, /not running/);
  });

  t0(name('close stops every agent'), async (t) => {
    const f = await fixture(t);
    await start(f, f.r1);
    await f.runtime.close();
    t.is(f.runtime.status(f.spec.name).state, 'stopped');
    t.is(f.runtime.status(f.spec.name).pid, null);
  });
}

/** The agent command the process-like targets run: records its environment, then waits for a signal. */
export const RECORDING_AGENT = `
const fs = require('node:fs'); const path = require('node:path');
const dir = process.env.HYPERHIVE_STATE_DIR;
fs.writeFileSync(path.join(dir, 'env.json.tmp'), JSON.stringify(process.env));
fs.renameSync(path.join(dir, 'env.json.tmp'), path.join(dir, 'env.json'));
setInterval(() => {}, 1 << 30);
process.on('SIGTERM', () => process.exit(0));
`;
