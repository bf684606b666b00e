import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { HyperhiveError } from './errors.ts';
import { runCli } from './harness/run-cli.ts';
import { commitFiles } from '../repos/commit.ts';
import { identityFor } from '../repos/identity.ts';
import { readFileAt } from '../repos/read.ts';
import { readRef } from '../repos/refs.ts';

export const DEFAULT_COMPACT_THRESHOLD = 16 * 1024;

export interface CompactorDeps {
  repo: (agent: string) => string;
  /** A directory the compaction CLI may use as its cwd and state. */
  workDir: (agent: string) => string;
  /** The prompt template; the notes are appended to it. */
  promptFile: string;
  /** Runs `fn` exclusively with the agent's other operations (the reconciler's per-agent queue). */
  exclusive: <T>(agent: string, fn: () => Promise<T>) => Promise<T>;
  log: { info(agent: string, event: string, msg: string, data?: Record<string, unknown>): void; warn(agent: string, event: string, msg: string, data?: Record<string, unknown>): void };
  audit?: (e: { actor: string; action: string; agent: string; base: string; head: string; reason: string }) => void;
  /** After a compaction was committed. */
  onCompacted?: (agent: string, r: CompactionResult) => void;
  /** notes.md above this many bytes is compacted (default 16 KiB). */
  thresholdBytes?: number;
  /** The CLI and fixed leading args (default ['claude']); the turn args follow. */
  command?: string[];
  env?: NodeJS.ProcessEnv;
  /** The model for the compaction session; default the agent's own (model on live), else sonnet. */
  model?: string;
  /** Kill a silent compaction after this long (default 10 min). */
  hangMs?: number;
  /** After a failure or live moving meanwhile, try again no sooner than this (default 60 s). */
  retryMs?: number;
  now?: () => number;
}

export interface CompactionResult { commit: string; base: string; before: number; after: number }

/** Size in bytes of notes.md on `live` (0 when absent); null when there is no live branch. */
export async function readNotesSize(repo: string): Promise<number | null> {
  const live = await readRef(repo, 'live');
  if (!live) return null;
  const buf = await readFileAt(repo, live, 'notes.md');
  return buf ? buf.length : 0;
}

/** Why a compaction answer is not usable as the new notes, or null when it is; pure. */
export function compactionProblem(before: string, after: string): string | null {
  if (!after.trim()) return 'the compaction session answered nothing';
  if (Buffer.byteLength(after) >= Buffer.byteLength(before)) return `the compacted notes (${Buffer.byteLength(after)} bytes) are not smaller than the notes (${Buffer.byteLength(before)} bytes)`;
  return null;
}

/**
 * Notes compaction: when notes.md on an agent's `live` passes the threshold, a secondary agent CLI
 * session rewrites it and the result is committed on `live` as `system`, by compare-and-swap on the
 * tip the notes were read from. If `live` moved meanwhile nothing is written; it is tried again later.
 */
export class Compactor {
  readonly thresholdBytes: number;
  private running = new Map<string, Promise<CompactionResult | null>>();
  private notBefore = new Map<string, number>();
  private timers = new Set<NodeJS.Timeout>();
  private stopped = false;
  private readonly now: () => number;

  constructor(private readonly d: CompactorDeps) {
    this.thresholdBytes = d.thresholdBytes ?? DEFAULT_COMPACT_THRESHOLD;
    this.now = d.now ?? Date.now;
  }

  /** Starts a compaction in the background when `notesBytes` is over the threshold and none runs or waits. */
  maybeCompact(agent: string, notesBytes: number): Promise<CompactionResult | null> | null {
    if (this.stopped || notesBytes <= this.thresholdBytes) return null;
    const cur = this.running.get(agent);
    if (cur) return cur;
    if ((this.notBefore.get(agent) ?? 0) > this.now()) return null;
    const p = this.compact(agent).catch((e: Error) => {
      this.d.log.warn(agent, 'compaction-failed', `notes compaction failed: ${e.message}`);
      this.later(agent);
      return null;
    }).finally(() => this.running.delete(agent));
    this.running.set(agent, p);
    return p;
  }

  private later(agent: string): void {
    const retryMs = this.d.retryMs ?? 60_000;
    this.notBefore.set(agent, this.now() + retryMs);
    if (this.stopped) return;
    // Retried even without another turn: an idle agent's oversized notes still get compacted.
    const t = setTimeout(async () => {
      this.timers.delete(t);
      const size = await this.notesSize(agent).catch(() => null);
      if (size !== null) this.maybeCompact(agent, size);
    }, retryMs);
    t.unref();
    this.timers.add(t);
  }

  notesSize(agent: string): Promise<number | null> { return readNotesSize(this.d.repo(agent)); }

  /** One compaction now (whatever the size, as long as it is over the threshold); null when there was nothing to do. */
  async compact(agent: string): Promise<CompactionResult | null> {
    const repo = this.d.repo(agent);
    const base = await readRef(repo, 'live');
    if (!base) throw new HyperhiveError('conflict', `agent ${agent} has no live branch`);
    const notes = (await readFileAt(repo, base, 'notes.md'))?.toString('utf8') ?? '';
    if (Buffer.byteLength(notes) <= this.thresholdBytes) return null;
    const model = this.d.model ?? ((await readFileAt(repo, base, 'model'))?.toString('utf8').trim() || 'sonnet');
    const prompt = `${(await readFile(this.d.promptFile, 'utf8')).trimEnd()}\n${notes}`;
    const [command, ...lead] = this.d.command ?? ['claude'];
    const cwd = this.d.workDir(agent);
    await mkdir(cwd, { recursive: true });
    this.d.log.info(agent, 'compaction-started', `notes.md is ${Buffer.byteLength(notes)} bytes (limit ${this.thresholdBytes}): compacting with ${path.basename(command!)} (model ${model})`);
    const run = await runCli({
      command: command!, args: [...lead, '-p', prompt, '--output-format', 'stream-json', '--verbose', '--model', model],
      cwd, env: { ...(this.d.env ?? process.env), HYPERHIVE_STATE_DIR: cwd }, hangMs: this.d.hangMs ?? 10 * 60_000,
    });
    const r = run.stream.result;
    if (run.spawnError) throw new HyperhiveError('internal', run.spawnError);
    if (!r || r.isError || r.subtype !== 'success') {
      const why = r?.result?.split('\n')[0] || r?.subtype || run.stderr?.trim().split('\n').pop() || `exit ${run.exitCode}`;
      throw new HyperhiveError('internal', `the compaction session did not succeed: ${why.slice(0, 300)}`);
    }
    const after = `${(r.result ?? '').trim()}\n`;
    const problem = compactionProblem(notes, after);
    if (problem) throw new HyperhiveError('internal', problem);
    const before = Buffer.byteLength(notes);
    const size = Buffer.byteLength(after);
    const commit = await this.d.exclusive(agent, async () => {
      const tip = await readRef(repo, 'live');
      if (tip !== base) return null;
      try {
        return await commitFiles(repo, {
          branch: 'live', files: { 'notes.md': after }, expectedOld: base, author: identityFor('system'), pusher: 'system',
          message: `Compact notes.md (${before} → ${size} bytes)\n\nnotes.md passed ${this.thresholdBytes} bytes; rewritten by a compaction session (model ${model}).`,
        });
      } catch (e) {
        if (e instanceof HyperhiveError && (e.code === 'ref_moved' || e.code === 'conflict')) return null;
        throw e;
      }
    });
    if (!commit) {
      this.d.log.info(agent, 'compaction-deferred', `live moved while notes were being compacted; trying again later`);
      this.later(agent);
      return null;
    }
    const res: CompactionResult = { commit, base, before, after: size };
    this.d.log.info(agent, 'compacted', `notes.md compacted on live as system: ${before} → ${size} bytes (${commit.slice(0, 7)})`, { ...res });
    this.d.audit?.({ actor: 'system', action: 'compact-notes', agent, base, head: commit, reason: `notes.md ${before} → ${size} bytes` });
    this.d.onCompacted?.(agent, res);
    return res;
  }

  /** Waits for running compactions (tests, shutdown). */
  async idle(): Promise<void> { await Promise.all([...this.running.values()]); }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }
}
