import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import type { Identity } from '../../auth/index.ts';
import type { Controller } from '../../controller.ts';
import { HyperhiveError } from '../../errors.ts';
import { can } from '../../lifecycle.ts';
import { checkRepoPath } from '../../../repos/commit.ts';
import { listTree, readFileAt } from '../../../repos/read.ts';
import { readRefs } from '../../../repos/refs.ts';
import { LIVE_FILES } from '../../../repos/receive.ts';
import { guarded, isManagerOrOperator, ok, repoToolInput, short, targetAgent, type ToolContext } from '../context.ts';

const REFS = ['applied', 'proposed', 'live'] as const;
type RefName = typeof REFS[number];
export const MAX_READ_BYTES = 1024 * 1024;
export const MAX_PROPOSE_BYTES = 4 * 1024 * 1024;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** File content as text when it is UTF-8 without NULs, else base64. */
export function fileContent(buf: Buffer): { content: string; encoding: 'utf8' | 'base64' } {
  if (!buf.includes(0)) {
    try { return { content: utf8.decode(buf), encoding: 'utf8' }; } catch { /* not UTF-8 */ }
  }
  return { content: buf.toString('base64'), encoding: 'base64' };
}

export interface ProposeResult {
  agent: string;
  commit: string;
  request: { id: number; status: string; base: string | null; head: string | null; paths: string[]; url: string } | null;
  note: string;
}

/**
 * Commits `files` (null deletes) on top of the agent's proposed as `who`, with the receive rules a push
 * would meet, then waits for the reconcile and says which request it raised.
 */
export async function proposeChange(c: Controller, who: Identity, name: string, files: Record<string, string | null>, message: string, baseUrl: string): Promise<ProposeResult> {
  const entries = Object.entries(files);
  if (entries.length === 0) throw new HyperhiveError('bad_request', 'files: give at least one path (content to write, null to delete)', { field: 'files' });
  let total = 0;
  for (const [p, content] of entries) {
    try { checkRepoPath(p); } catch (e) { throw new HyperhiveError('bad_request', `files: ${(e as Error).message}`, { field: 'files' }); }
    if ((LIVE_FILES as readonly string[]).includes(p)) {
      const use = p !== 'model' ? 'use write_notes' : isManagerOrOperator(who) ? 'use set_model' : 'the manager or an operator sets it';
      throw new HyperhiveError('bad_request', `files: ${p} does not belong in the config: it lives on the live branch (${use})`, { field: 'files' });
    }
    if (content !== null) total += Buffer.byteLength(content, 'utf8');
  }
  if (total > MAX_PROPOSE_BYTES) throw new HyperhiveError('too_large', `files: ${total} bytes in all; propose_change takes at most ${MAX_PROPOSE_BYTES} bytes (push larger changes with git)`, { field: 'files' });
  const commit = await c.proposeFiles(name, files, message, who);

  const open = c.openChange(name);
  const state = c.findAgent(name)?.state;
  if (open && open.head === commit) {
    const request = { id: open.id, status: open.status, base: open.base, head: open.head, paths: open.paths, url: `${baseUrl}/approvals/${open.id}` };
    const note = open.status === 'diverged'
      ? `request #${open.id} is DIVERGED: proposed does not descend from applied; an operator must sort it out`
      : `request #${open.id} waits for operator approval (${open.paths.length} path(s) changed since applied): ${request.url}`;
    return { agent: name, commit, request, note };
  }
  if (state && state !== 'kept' && !can(state, 'raise')) {
    return { agent: name, commit, request: null, note: `${name} is ${state}: no request is raised; ask for its spawn at this commit with request_spawn_commit(name: "${name}", commit: "${commit}")` };
  }
  if (open) return { agent: name, commit, request: null, note: `proposed moved on after ${short(commit)}: the open request is #${open.id} for ${short(open.head)}` };
  return { agent: name, commit, request: null, note: 'no request: proposed now has the same config as applied (nothing to approve)' };
}

export function registerConfigTools(server: McpServer, ctx: ToolContext): void {
  const c = ctx.deps.controller;
  const manages = isManagerOrOperator(ctx.who);

  server.registerTool('read_config', {
    title: 'Read a file of your repo',
    description: `Read one file of your agent repo at a ref: "applied" (the config you run; the default), "proposed" (config changes waiting for approval) or "live" (notes.md and model; the default for those two). Files include agent.nix, hyperhive.json, prompt.md on applied/proposed, and notes.md, model on live. Pass path "." to list the files at that ref.${manages ? ' The manager may pass agent to read a sub-agent\'s repo.' : ''} Returns {path, ref, revision, content, encoding} (encoding "base64" for binary files).`,
    inputSchema: repoToolInput(ctx, {
      path: z.string().min(1).describe('Repo-relative file path, e.g. "prompt.md", "hyperhive.json", "notes.md"; "." lists the files.'),
      ref: z.enum(REFS).optional().describe('"applied" (default; "live" for notes.md and model), "proposed" or "live".'),
    }, 'Whose repo to read: a sub-agent\'s or a draft\'s (default: your own; an operator has none and names one).'),
  }, guarded(ctx, async ({ path, ref, agent }: { path: string; ref?: RefName; agent?: string }) => {
    const name = targetAgent(ctx, agent, 'read_config');
    const r: RefName = ref ?? (path === 'notes.md' || path === 'model' ? 'live' : 'applied');
    const repo = c.repoOf(name);
    const revision = (await readRefs(repo))[r];
    if (!revision) throw new HyperhiveError('not_found', `ref: ${name} has no ${r} branch`, { field: 'ref' });
    const clean = path.replace(/^\.\/+/, '').replace(/\/+$/, '');
    if (clean === '.' || clean === '') {
      const files = (await listTree(repo, revision)).map((f) => ({ path: f.path, size: f.size }));
      return ok({ agent: name, ref: r, revision, path: '.', files }, `${files.length} file(s) at ${r} ${short(revision)}`);
    }
    try { checkRepoPath(clean); } catch (e) { throw new HyperhiveError('bad_request', `path: ${(e as Error).message}`, { field: 'path' }); }
    const buf = await readFileAt(repo, revision, clean);
    if (!buf) {
      const all = await listTree(repo, revision);
      const under = all.filter((f) => f.path.startsWith(`${clean}/`)).map((f) => ({ path: f.path, size: f.size }));
      if (under.length) return ok({ agent: name, ref: r, revision, path: clean, files: under }, `${clean} is a directory: ${under.length} file(s)`);
      throw new HyperhiveError('not_found', `path: file ${clean} not found at ${r} (${short(revision)}) of ${name}; files there: ${all.map((f) => f.path).join(', ') || 'none'}`, { field: 'path' });
    }
    if (buf.length > MAX_READ_BYTES) throw new HyperhiveError('too_large', `path: ${clean} is ${buf.length} bytes; read_config returns at most ${MAX_READ_BYTES} bytes (clone the repo with git for larger files)`, { field: 'path' });
    return ok({ agent: name, ref: r, revision, path: clean, ...fileContent(buf), size: buf.length });
  }));

  server.registerTool('propose_change', {
    title: 'Propose a config change',
    description: `Propose a change to your own config (agent.nix, hyperhive.json, prompt.md, or other config files) without a git checkout: writes the given files (null deletes a file) as one commit on your proposed branch. Nothing changes for you until an operator approves the request this raises; the reply names it. notes.md and model are not config: ${manages ? 'use write_notes and set_model. The manager may pass agent to propose for a sub-agent or a draft' : 'use write_notes (the manager or an operator sets your model)'}. Returns {commit, request: {id, status, url} | null, note}.`,
    inputSchema: repoToolInput(ctx, {
      files: z.record(z.string(), z.string().nullable()).describe('Map of repo-relative path to the whole new file content, or null to delete the file.'),
      message: z.string().min(1).max(2000).describe('Commit message: what the change does and why (the operator reads it).'),
    }, 'Whose repo to change: a sub-agent\'s or a draft\'s (default: your own; an operator has none and names one).'),
  }, guarded(ctx, async ({ files, message, agent }: { files: Record<string, string | null>; message: string; agent?: string }) => {
    const name = targetAgent(ctx, agent, 'propose_change');
    const r = await proposeChange(c, ctx.who, name, files, message, ctx.deps.baseUrl());
    return ok({ ...r }, r.note);
  }));
}
