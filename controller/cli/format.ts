import { ApprovalStore } from '../approvals/store.ts';

const short = (s: string | null | undefined): string => (s ? s.slice(0, 7) : '-');
const age = (ts: number | null | undefined): string => {
  if (!ts) return '-';
  const s = Math.max(0, Math.round((Date.now() - ts) / 1000));
  return s < 60 ? `${s}s` : s < 3600 ? `${Math.round(s / 60)}m` : s < 86400 ? `${Math.round(s / 3600)}h` : `${Math.round(s / 86400)}d`;
};

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}

interface AgentLike { name: string; state: string; applied: string | null; proposed: string | null; model: string | null; suspended: boolean; conditions: { type: string; status: string; reason: string; message: string }[]; runtime: { state: string; revision: string | null; isolated: boolean } }

export function formatAgents(list: AgentLike[], detail = false): string {
  if (!list.length) return 'no agents';
  const ready = (a: AgentLike) => a.conditions.find((c) => c.type === 'Ready');
  const rows = [['NAME', 'STATE', 'READY', 'REASON', 'APPLIED', 'PROPOSED', 'RUNTIME', 'MODEL', 'SUSPENDED']];
  for (const a of list) rows.push([a.name, a.state, ready(a)?.status ?? '-', ready(a)?.reason ?? '-', short(a.applied), short(a.proposed), `${a.runtime.state}@${short(a.runtime.revision)}`, a.model ?? '-', a.suspended ? 'yes' : 'no']);
  let s = table(rows);
  if (detail) for (const a of list) for (const c of a.conditions) s += `\n${c.type}=${c.status} ${c.reason}${c.message ? `: ${c.message}` : ''}`;
  return s;
}

interface AgentDetailLike extends AgentLike {
  live?: string | null;
  lastAppliedRevision?: string | null;
  lastAttemptedRevision?: string | null;
  runtime: AgentLike['runtime'] & { pid?: number | null; startedAt?: number | null; restarts?: number; note?: string };
  history?: { ts: number; op: string; revision: string | null; result: string; message: string }[];
}

/** `hyperhive agent NAME`: the row, its conditions, the runtime, the open request(s) and the last operations. */
export function formatAgentDetail(a: AgentDetailLike, open: ApprovalLike[]): string {
  const lines = [formatAgents([a], true), ''];
  const rt = a.runtime;
  lines.push(`runtime      ${rt.state}${rt.revision ? ` on ${short(rt.revision)}` : ''}${rt.pid ? `, pid ${rt.pid}` : ''}${rt.startedAt ? `, up ${age(rt.startedAt)}` : ''}${rt.restarts ? `, ${rt.restarts} restart(s)` : ''}`);
  if (rt.note) lines.push(`             ${rt.note}`);
  lines.push(`revisions    applied ${short(a.applied)}, proposed ${short(a.proposed)}, live ${short(a.live)}; last applied ${short(a.lastAppliedRevision)}, last attempted ${short(a.lastAttemptedRevision)}`);
  lines.push(open.length
    ? `open request ${open.map((r) => `#${r.id} ${r.status} ${short(r.base)}..${short(r.head)} by ${r.proposer ?? 'unknown'} (config ${configWord(r)})`).join('; ')}`
    : 'open request none');
  const hist = (a.history ?? []).slice(-10);
  if (hist.length) {
    lines.push('', 'last operations (oldest first):');
    for (const h of hist) lines.push(`  ${new Date(h.ts).toISOString()}  ${h.op.padEnd(14)} ${short(h.revision)}  ${h.result.padEnd(6)} ${h.message}`);
  }
  return lines.join('\n');
}

interface ApprovalLike {
  id: number; kind: string; agent: string; base: string | null; head: string | null; status: string; paths: string[]; proposer: string | null; createdAt: number; decidedBy: string | null; error?: string | null; data?: Record<string, unknown>;
  votes?: { by: string; decision: string }[]; required?: number; tool?: { name: string; input: unknown } | null;
}

/** Approvals so far of the quorum ("1/2"), or "-" where one decides. */
const quorumWord = (a: ApprovalLike): string => ((a.required ?? 1) > 1 ? `${(a.votes ?? []).filter((v) => v.decision === 'approve').length}/${a.required}` : '-');
/** What a request is about: its paths, or for a tool request the call. */
const what = (a: ApprovalLike): string => {
  if (a.kind === 'tool') {
    const i = (a.tool?.input ?? {}) as Record<string, unknown>;
    const s = typeof i.command === 'string' ? i.command : typeof i.file_path === 'string' ? i.file_path : '';
    return `${a.tool?.name ?? '?'}${s ? ` ${s.length > 60 ? `${s.slice(0, 60)}…` : s}` : ''}`;
  }
  return a.paths.slice(0, 4).join(',') + (a.paths.length > 4 ? ',…' : '');
};

/** The config check's verdict in a word: ok, failed, … (being evaluated), or - (not a change, or no checks). */
const configWord = (a: ApprovalLike): string => {
  const v = a.data?.configCheck;
  if (v === 'ok' || v === 'failed') return v;
  return a.kind === 'change' && (a.status === 'pending' || a.status === 'diverged') ? '…' : '-';
};

export function formatApprovals(list: ApprovalLike[]): string {
  if (!list.length) return 'no requests';
  const rows = [['ID', 'KIND', 'AGENT', 'STATUS', 'CONFIG', 'BASE..HEAD', 'PROPOSER', 'AGE', 'QUORUM', 'PATHS / CALL']];
  for (const a of list) rows.push([`#${a.id}`, a.kind, a.agent, a.status, configWord(a), `${short(a.base)}..${short(a.head)}`, a.proposer ?? '-', age(a.createdAt), quorumWord(a), what(a)]);
  return table(rows);
}

export function formatApproval(a: ApprovalLike & { patch: string; reason: string | null; commits: { sha: string; subject: string; author: { name: string }; proposer: string | null }[] }): string {
  const head = [`request #${a.id} (${a.kind}) for ${a.agent}: ${a.status}`, `base ${a.base ?? '-'}`, `head ${a.head ?? '-'}`, `proposer ${a.proposer ?? '-'}`];
  if (a.decidedBy) head.push(`decided by ${a.decidedBy}${a.reason ? `: ${a.reason}` : ''}`);
  if ((a.required ?? 1) > 1 || a.votes?.length) head.push(`votes ${(a.votes ?? []).map((v) => `${v.by} (${v.decision})`).join(', ') || 'none'}; ${(a.required ?? 1)} approval(s) required`);
  if (a.kind === 'tool' && a.tool) head.push(`tool ${a.tool.name}`, `input ${JSON.stringify(a.tool.input, null, 2)}`);
  const config = configWord(a);
  if (config === 'ok') head.push('config evaluates');
  else if (config === 'failed') head.push(`config does not evaluate: ${ApprovalStore.configError({ error: a.error ?? null }) || 'no error text'} (approve is refused)`);
  else if (config === '…') head.push('config being evaluated (or checks are off)');
  for (const c of a.commits ?? []) head.push(`  ${short(c.sha)} ${c.subject} (${c.author.name}${c.proposer ? `, pushed by ${c.proposer}` : ''})`);
  return `${head.join('\n')}\n\n${a.patch}`;
}

export function formatLog(e: { ts: number; agent: string | null; level: string; event: string; message: string }): string {
  return `${new Date(e.ts).toISOString()} ${e.level.toUpperCase().padEnd(5)} ${(e.agent ?? '-').padEnd(12)} ${e.event}: ${e.message}`;
}

interface RuntimeLike {
  kind: string; isolated: boolean; systemd: boolean; note: string;
  watcher: { state: string; address: string; since: number; lastError: string | null; reconnects: number; signals: number } | null;
  backends?: RuntimeLike[];
}

/** `hyperhive runtime`: one line per runtime in use, then its watcher's health. */
export function formatRuntime(h: RuntimeLike): string {
  const lines: string[] = [];
  for (const r of [h, ...(h.backends ?? [])]) {
    lines.push(`${r.kind}${r === h ? ' (default)' : ''}: ${r.note}${r.isolated ? '' : ' [not isolated]'}`);
    const w = r.watcher;
    if (w) lines.push(`  D-Bus watcher: ${w.state} on ${w.address} since ${new Date(w.since).toISOString()}, ${w.reconnects} reconnect(s), ${w.signals} unit signal(s)${w.lastError && w.state !== 'connected' ? `; last error: ${w.lastError}` : ''}`);
  }
  return lines.join('\n');
}

interface TurnLike { id: number; startedAt: number; endedAt: number | null; status: string; class: string | null; durationMs: number | null; costUsd: number | null; model: string | null; tools: Record<string, number>; events: number; dropped: number; error: string | null }
const secs = (ms: number | null): string => (ms === null ? '-' : `${(ms / 1000).toFixed(1)}s`);

/** `hyperhive turns NAME`: newest first. */
export function formatTurns(list: TurnLike[]): string {
  if (!list.length) return 'no turns';
  const rows = [['TURN', 'ENDED', 'CLASS', 'DURATION', 'COST', 'MODEL', 'TOOLS', 'EVENTS']];
  for (const t of list) rows.push([`#${t.id}`, age(t.endedAt ?? t.startedAt), t.status === 'done' ? t.class ?? '-' : t.status, secs(t.durationMs), t.costUsd === null ? '-' : `$${t.costUsd.toFixed(4)}`, t.model ?? '-', String(Object.values(t.tools).reduce((a, b) => a + b, 0)), `${t.events}${t.dropped ? `+${t.dropped} dropped` : ''}`]);
  return table(rows);
}

type EventLike = { seq: number; kind: string; at: number; [k: string]: unknown };
const indent = (s: string): string => s.replace(/\n/g, '\n    ');
const clip = (s: string, n = 2000): string => (s.length > n ? `${s.slice(0, n)}… (${s.length - n} more characters)` : s);

function eventLine(e: EventLike): string {
  const at = new Date(e.at).toISOString().slice(11, 19);
  const x = e as Record<string, any>;
  switch (e.kind) {
    case 'prompt': return `${at} prompt (${x.messages} message(s))\n    ${indent(clip(x.text, 500))}`;
    case 'init': return `${at} session: model ${x.model ?? 'default'}, ${x.tools} tools${x.mcpServers?.length ? `, MCP ${x.mcpServers.map((m: any) => `${m.name} ${m.status}`).join(', ')}` : ''}`;
    case 'text': return `${at} assistant: ${indent(clip(x.text))}`;
    case 'thinking': return `${at} thinking: ${indent(clip(x.text, 500))}`;
    case 'tool_use': return `${at} tool ${x.name}: ${x.name === 'Bash' && typeof x.input?.command === 'string' ? `$ ${indent(x.input.command)}` : indent(clip(JSON.stringify(x.input)))}`;
    case 'tool_result': return `${at} ${x.isError ? 'error' : 'result'}: ${indent(clip(x.content))}`;
    case 'error': return `${at} ERROR: ${indent(x.message)}`;
    case 'result': return `${at} result ${x.subtype}: $${Number(x.costUsd).toFixed(4)}, ${x.numTurns} model turn(s), ${secs(x.durationMs)}${x.text ? `\n    ${indent(clip(x.text))}` : ''}`;
    default: return `${at} ${e.kind}`;
  }
}

/** `hyperhive turns NAME ID`: the turn's figures, then its events in order. */
export function formatTranscript(t: TurnLike & { agent: string; transcript: EventLike[] }): string {
  const head = `turn #${t.id} of ${t.agent}: ${t.status === 'done' ? t.class : t.status}, ${secs(t.durationMs)}, ${t.costUsd === null ? '-' : `$${t.costUsd.toFixed(4)}`}, model ${t.model ?? '-'}, ${t.events} event(s)${t.dropped ? ` (${t.dropped} not kept)` : ''}${t.error ? `\nerror: ${t.error}` : ''}`;
  return [head, '', ...t.transcript.map(eventLine)].join('\n');
}

interface OperatorLike { name: string; first: boolean; createdAt: number | null; createdBy: string | null; sessions: number; lastSeen: number | null }

export function formatOperators(list: OperatorLike[]): string {
  const rows = [['NAME', 'LOGGED IN', 'ADDED BY', 'AGE']];
  for (const o of list) rows.push([`${o.name}${o.first ? ' (first)' : ''}`, o.sessions ? `yes (${o.sessions}, seen ${age(o.lastSeen)} ago)` : 'no', o.createdBy ?? '-', age(o.createdAt)]);
  return table(rows);
}

interface PolicyLike { file: string; present: boolean; error: string | null; rules: { quorum: { agent: string; paths: string[]; approvals: number }[] } }

export function formatPolicy(p: PolicyLike): string {
  const lines = [`${p.file}: ${p.present ? `${p.rules.quorum.length} quorum rule(s)` : 'absent (one approval decides every request)'}`];
  if (p.error) lines.push(`REFUSED (the last good rules stay in force): ${p.error}`);
  if (p.rules.quorum.length) {
    const rows = [['AGENT', 'PATHS', 'APPROVALS']];
    for (const r of p.rules.quorum) rows.push([r.agent, r.paths.length ? r.paths.join(',') : '(any change)', String(r.approvals)]);
    lines.push(table(rows));
  }
  return lines.join('\n');
}
