import type { FlagSpec, Parsed } from './args.ts';
import { UsageError } from './args.ts';
import type { ApiClient } from './client.ts';
import { humanBytes } from '../ops/lifecycle-deps.ts';
import type { KeptInfo } from '../ops/kept-info.ts';

interface IO { out(s: string): void; err(s: string): void }
interface LifecycleCommand { usage: string; summary: string; help?: string; flags: FlagSpec; min: number; max: number; run(p: Parsed, io: IO): Promise<number> }

export interface LifecycleCliDeps {
  common: FlagSpec;
  client: (flags: Record<string, string | boolean>) => ApiClient;
}

const short = (s: string | null | undefined): string => (s ? s.slice(0, 7) : '-');
const enc = encodeURIComponent;
const when = (ts: number): string => new Date(ts).toISOString().replace(/\.\d+Z$/, 'Z');

interface KeptLike { name: string; state: string; applied: string | null; destroyed?: KeptInfo | null }

/** `agents --all`: the kept agents under the table, with when and by whom destroyed, state size and applied. */
export function formatKept(list: KeptLike[]): string {
  const kept = list.filter((a) => a.state === 'kept');
  if (!kept.length) return '';
  const lines = ['', 'kept state (destroyed; repo and state kept):'];
  for (const a of kept) {
    const k = a.destroyed;
    lines.push(`  ${a.name.padEnd(20)} ${k ? `destroyed ${when(k.at)} by ${k.by}${k.requestedBy ? ` (asked by ${k.requestedBy})` : ''}, state ${humanBytes(k.stateBytes)}` : 'destroyed (no record)'}, applied ${short(a.applied)}${k?.reason ? ` — ${k.reason}` : ''}`);
  }
  return lines.join('\n');
}

/** destroy, revive, purge, and rename (refused: not supported). */
export function lifecycleCommands(d: LifecycleCliDeps): Record<string, LifecycleCommand> {
  const { common, client } = d;
  return {
    destroy: {
      usage: 'destroy NAME [--reason TEXT] [--json]', summary: "destroy an agent at once: runtime stopped, token refused; repo and state kept",
      help: 'It is listed under kept state (`hyperhive agents --all`, the dashboard) until revived (`hyperhive revive NAME`) or purged (`hyperhive purge NAME --yes`).\nA destroy while a revision is being built waits for the build to end and discards it.',
      flags: { ...common, json: 'boolean', reason: 'string' }, min: 1, max: 1,
      async run({ positional, flags }, io) {
        const a = await client(flags).request<KeptLike>('POST', `/api/agents/${enc(positional[0]!)}/destroy`, flags.reason ? { reason: flags.reason } : {});
        if (flags.json) { io.out(JSON.stringify(a, null, 2)); return 0; }
        io.out(`destroyed ${a.name}: runtime stopped, its token no longer works; repo and state kept (${humanBytes(a.destroyed?.stateBytes ?? 0)}), applied ${short(a.applied)}`);
        return 0;
      },
    },
    revive: {
      usage: 'revive NAME [--json]', summary: 'raise a revive request for a destroyed agent (approve it to start it again)',
      help: 'The request shows what will start: the applied revision, its config and the state size. On approval (`hyperhive approve ID`) the agent runs again at that revision with its state and a new token.',
      flags: { ...common, json: 'boolean' }, min: 1, max: 1,
      async run({ positional, flags }, io) {
        const r = await client(flags).request<{ id: number; head: string | null; paths: string[]; data: { stateBytes?: number } }>('POST', `/api/agents/${enc(positional[0]!)}/revive`, {});
        if (flags.json) { io.out(JSON.stringify(r, null, 2)); return 0; }
        io.out(`revive request #${r.id} for ${positional[0]}: it would start at applied ${short(r.head)} (${r.paths.length} config file(s)) with its state (${humanBytes(r.data.stateBytes ?? 0)}) and a new token`);
        io.out(`approve it with: hyperhive approve ${r.id}`);
        return 0;
      },
    },
    purge: {
      usage: 'purge NAME --yes [--json]', summary: "delete a destroyed agent's repo and state for good (needs --yes)",
      help: 'Only a destroyed (kept) agent can be purged. The audit trail records it with the final applied SHA; the reconciliation log and audit trail of the agent stay, and the name can be used again.',
      flags: { ...common, json: 'boolean', yes: 'boolean' }, min: 1, max: 1,
      async run({ positional, flags }, io) {
        const name = positional[0]!;
        if (!flags.yes) throw new UsageError(`purging deletes ${name}'s repo and state for good: pass --yes to confirm`);
        const r = await client(flags).request<{ applied: string | null; stateBytes: number }>('DELETE', `/api/agents/${enc(name)}?confirm=${enc(name)}`);
        if (flags.json) { io.out(JSON.stringify(r, null, 2)); return 0; }
        io.out(`purged ${name}: repo and state (${humanBytes(r.stateBytes)}) deleted, final applied ${short(r.applied)}; its log and audit trail stay`);
        return 0;
      },
    },
    rename: {
      usage: 'rename NAME NEW-NAME', summary: 'not supported (says why and what to do instead)',
      flags: { ...common, json: 'boolean' }, min: 2, max: 2,
      async run({ positional, flags }) {
        // The server refuses, naming why; nothing else answers this (exit 1 with its reason).
        await client(flags).request('POST', `/api/agents/${enc(positional[0]!)}/rename`, { name: positional[1] });
        return 1;
      },
    },
  };
}
