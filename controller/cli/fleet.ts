import { parseAgentQuery, queryParams, STATES } from '../agents/query.ts';
import { BULK_ACTIONS, type BulkOutcome } from '../ops/bulk.ts';
import { isHyperhiveError } from '../errors.ts';
import { resolveStateDir } from '../paths.ts';
import { parseOptions, UsageError } from './args.ts';
import { ApiClient } from './client.ts';
import { formatAgents } from './format.ts';
import { formatKept } from './lifecycle.ts';

// `hyperhive agents` with the listing's filters, and `hyperhive bulk`. Both take their argv whole:
// `--state` is the state dir for every command, and here also the agents' state filter (a value made
// of agent states only is the filter; anything else is the state dir), and may be given twice.

interface IO { out(s: string): void; err(s: string): void }
interface RawCommand { usage: string; summary: string; help: string; flags: Record<string, 'string' | 'boolean'>; min: number; max: number; raw: true; run(p: { positional: string[] }, io: IO): Promise<number> }

const FILTER_FLAGS = {
  state: { type: 'string', multiple: true }, condition: { type: 'string' }, reason: { type: 'string' }, q: { type: 'string' },
  suspended: { type: 'boolean' }, all: { type: 'boolean' }, url: { type: 'string' }, help: { type: 'boolean', short: 'h' }, json: { type: 'boolean' },
} as const;

const isStateList = (v: string): boolean => v.split(',').every((s) => (STATES as readonly string[]).includes(s));

const parse = parseOptions;

/** The filter flags → the listing's query parameters, checked here so a bad value is bad usage (exit 2). */
function filterParams(v: Record<string, unknown>, extra: Record<string, string | undefined> = {}): { params: URLSearchParams; stateDir: string | undefined } {
  const states = (v.state as string[] | undefined) ?? [];
  const dirs = states.filter((s) => !isStateList(s));
  if (dirs.length > 1) throw new UsageError(`--state given twice as a state dir (${dirs.join(', ')})`);
  const filters = states.filter(isStateList);
  const raw: Record<string, string> = {};
  if (filters.length) raw.state = filters.join(',');
  for (const k of ['condition', 'reason', 'q'] as const) if (typeof v[k] === 'string') raw[k] = v[k] as string;
  if (v.suspended) raw.suspended = '1';
  if (v.all) raw.all = '1';
  for (const [k, x] of Object.entries(extra)) if (x !== undefined) raw[k] = x;
  try { return { params: queryParams(parseAgentQuery(raw)), stateDir: dirs[0] }; } catch (e) {
    if (isHyperhiveError(e)) throw new UsageError(`--${e.data.field ?? 'filter'}: ${e.message}`);
    throw e;
  }
}

const help = (c: RawCommand): string => `usage: hyperhive ${c.usage}\n\n${c.summary}.\n${c.help}`;
const FILTER_HELP = [
  '  --state S        active, draft, pending or kept (comma-separated); --state DIR still names the state dir',
  '  --condition C    Ready, Stalled or Reconciling (an agent whose condition C is True)',
  '  --reason R       the reason of that condition, e.g. --condition Stalled --reason BuildFailed',
  '  --q NAME         a part of the name',
  '  --suspended      suspended agents only',
  '  --all            include kept (destroyed) agents',
].join('\n');

export const agentsCommand: RawCommand = {
  usage: 'agents [--state S] [--condition C [--reason R]] [--q NAME] [--suspended] [--sort KEY] [--limit N [--offset N]] [--all] [--json]',
  summary: 'list agents with their conditions and revisions (--all: kept ones too, with when and by whom destroyed)',
  help: `Filters (as GET /api/agents takes them):\n${FILTER_HELP}\n  --sort KEY       name (default), state, condition (problems first), created, updated; -KEY descends\n  --limit N        a page of N agents (1 to 1000), --offset N skips N; without --limit every match\n  --json           the API's objects`,
  flags: {}, min: 0, max: 0, raw: true,
  async run({ positional }, io) {
    const { values: v, positionals } = parse(positional, { ...FILTER_FLAGS, sort: { type: 'string' }, limit: { type: 'string' }, offset: { type: 'string' } });
    if (v.help) { io.out(help(this)); return 0; }
    if (positionals.length) throw new UsageError(`expected 0 argument(s), got ${positionals.length}`);
    if (v.offset !== undefined && v.limit === undefined) throw new UsageError('--offset needs --limit');
    const { params, stateDir } = filterParams(v, { sort: v.sort, limit: v.limit, offset: v.offset });
    const c = new ApiClient(resolveStateDir(stateDir), v.url);
    const { body: list, headers } = await c.requestWithHeaders<never[]>('GET', `/api/agents${params.size ? `?${params}` : ''}`);
    if (v.json) { io.out(JSON.stringify(list, null, 2)); return 0; }
    const total = Number(headers.get('x-total-count') ?? list.length);
    const offset = Number(v.offset ?? 0);
    io.out(formatAgents(list) + (v.all ? formatKept(list) : ''));
    if (total > list.length) io.out(`\nshowing ${list.length ? `${offset + 1}–${offset + list.length}` : 'none'} of ${total}${offset + list.length < total ? ` (next: --offset ${offset + list.length})` : ''}`);
    return 0;
  },
};

export const bulkCommand: RawCommand = {
  usage: `bulk ${BULK_ACTIONS.join('|')} (NAME... | --all-matching [filters]) [--message TEXT] [--json]`,
  summary: 'suspend, resume or reject the open requests of many agents, each on its own (one audit row per agent)',
  help: `reject-requests rejects every open request of each agent (approve none), with --message as the reason.\n--all-matching acts on every agent the filters select (no filter: every agent but kept ones):\n${FILTER_HELP}\nExit status 1 when any agent failed (each named on stderr); the others were still acted on.`,
  flags: {}, min: 1, max: Infinity, raw: true,
  async run({ positional }, io) {
    const { values: v, positionals } = parse(positional, { ...FILTER_FLAGS, 'all-matching': { type: 'boolean' }, message: { type: 'string' } });
    if (v.help) { io.out(help(this)); return 0; }
    const [action, ...names] = positionals;
    if (!action || !(BULK_ACTIONS as readonly string[]).includes(action)) throw new UsageError(`the action must be one of ${BULK_ACTIONS.join(', ')}, got ${JSON.stringify(action ?? null)}`);
    if (!!names.length === !!v['all-matching']) throw new UsageError('name the agents, or give --all-matching with filters (not both)');
    const hasFilter = ['condition', 'reason', 'q', 'suspended', 'all'].some((k) => v[k as keyof typeof v] !== undefined) || (v.state ?? []).some(isStateList);
    if (names.length && hasFilter) throw new UsageError('filters go with --all-matching, not with names');
    const { params, stateDir } = filterParams(v);
    if (v.message !== undefined && action !== 'reject-requests') throw new UsageError('--message goes with reject-requests');
    const body = { action, ...(names.length ? { names } : { filter: Object.fromEntries(params) }), ...(v.message !== undefined ? { reason: v.message } : {}) };
    const c = new ApiClient(resolveStateDir(stateDir), v.url);
    const r = await c.request<BulkOutcome>('POST', '/api/agents/bulk', body);
    if (v.json) io.out(JSON.stringify(r, null, 2));
    else {
      for (const x of r.results) if (x.result !== 'failed') io.out(`${x.name}: ${x.result}${x.rejected?.length ? ` (rejected ${x.rejected.map((i) => `#${i}`).join(', ')})` : ''}`);
      io.out(`${action}: ${r.done} done, ${r.unchanged} unchanged, ${r.failed} failed of ${r.matched} (bulk ${r.id})`);
    }
    for (const x of r.results) if (x.result === 'failed') io.err(`${x.name}: ${x.error?.message ?? 'failed'}`);
    return r.failed ? 1 : 0;
  },
};
