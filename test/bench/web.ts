// P6: server time to render the approval page of a 5,000-line, 50-file change (goal ≤ 300 ms median),
// cold (diff cache cleared: git diff + diff2html + page) and warm (cached by base..head); and the time
// from `git push` (by path, the push included) until an SSE client on /api/events sees the new request.
// Real server on 127.0.0.1:0, real git, real sqlite. Run with `npm run bench -- web`.
import { DiffRenderer } from '../../web/views/diff.ts';
import { largeChange, pushByPath, repoOf } from '../helpers/git.ts';
import { startServer, type TestServer } from '../helpers/server.ts';
import { waitFor } from '../helpers/wait.ts';

type Report = (name: string, value: number, unit: string, note?: string) => void;

const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2; };

async function timeGet(s: TestServer, p: string): Promise<{ ms: number; bytes: number }> {
  const t0 = performance.now();
  const r = await fetch(`${s.url}${p}`, { headers: { authorization: `Bearer ${s.token}`, accept: 'text/html' } });
  const body = await r.arrayBuffer();
  const ms = performance.now() - t0;
  if (r.status !== 200) throw new Error(`GET ${p}: ${r.status}`);
  return { ms, bytes: body.byteLength };
}

async function requestFor(s: TestServer, agent: string, head: string): Promise<{ id: number }> {
  return waitFor(`request for ${head.slice(0, 7)}`, async () => (await s.api<{ id: number; head: string }[]>('GET', `/api/approvals?agent=${agent}&status=pending`)).body.find((a) => a.head === head), 60_000);
}

/** Rewrites every line of 50 files of 100 lines: 10,000 changed lines (the brief's measured case). */
function rewriteChange(tag: string, version: string): Record<string, string> {
  const files: Record<string, string> = {};
  for (let i = 0; i < 50; i++) files[`${tag}/file-${String(i).padStart(2, '0')}.txt`] = Array.from({ length: 100 }, (_, j) => `${version} ${tag} file ${i} line ${j}`).join('\n') + '\n';
  return files;
}

export async function benchWeb(report: Report): Promise<void> {
  const diffs = new DiffRenderer();
  const s = await startServer({ prefix: 'hh-bench-web-', agentCommand: undefined, configCheck: true, agentClone: true, logToStderr: undefined, extendApp: (deps) => { deps.diffs = diffs; } });
  try {
    await s.api('POST', '/api/agents', { name: 'bench' });

    // ---- P6: approval page render -------------------------------------------------------------
    const cases: [string, Record<string, string>][] = [['5,000 added lines, 50 files', largeChange('p6')]];
    for (const [label, files] of cases) {
      const head = pushByPath(repoOf(s.state, 'bench'), files, { message: `bench: ${label}` });
      const { id } = await requestFor(s, 'bench', head);
      await timeGet(s, `/approvals/${id}`); // first request pays module warm-up; not counted
      const cold: number[] = [];
      let bytes = 0;
      for (let i = 0; i < 7; i++) { diffs.clearCache(); const r = await timeGet(s, `/approvals/${id}`); cold.push(r.ms); bytes = r.bytes; }
      const warm: number[] = [];
      for (let i = 0; i < 15; i++) warm.push((await timeGet(s, `/approvals/${id}`)).ms);
      report(`P6 approval page, cold cache (${label})`, median(cold), 'ms', `median of ${cold.length}; goal ≤ 300 ms; git diff + diff2html + page over HTTP`);
      report(`P6 approval page, warm cache (${label})`, median(warm), 'ms', `median of ${warm.length}`);
      report(`P6 approval page size (${label})`, bytes / 1024, 'KB', 'collapsed files are fetched on demand');
      const frag: number[] = [];
      for (let i = 0; i < 5; i++) { diffs.clearCache(); frag.push((await timeGet(s, `/approvals/${id}/file?path=${encodeURIComponent('p6/file-49.txt')}`)).ms); }
      report('P6 expand one collapsed file, cold', median(frag), 'ms', `median of ${frag.length}`);
      await s.api('POST', `/api/approvals/${id}/reject`, { reason: 'bench' });
      await s.api('POST', '/api/agents/bench/revert');
    }

    // The brief's measured case: 50 files × 100 lines rewritten (10,000 changed lines).
    pushByPath(repoOf(s.state, 'bench'), rewriteChange('rw', 'old'), { message: 'bench: base for rewrite' });
    const base = await requestFor(s, 'bench', (await s.api<{ proposed: string }>('GET', '/api/agents/bench')).body.proposed);
    await s.api('POST', `/api/approvals/${base.id}/approve`);
    const rwHead = pushByPath(repoOf(s.state, 'bench'), rewriteChange('rw', 'new'), { message: 'bench: rewrite 50 files' });
    const rw = await requestFor(s, 'bench', rwHead);
    await timeGet(s, `/approvals/${rw.id}`);
    const rwCold: number[] = [];
    let rwBytes = 0;
    for (let i = 0; i < 7; i++) { diffs.clearCache(); const r = await timeGet(s, `/approvals/${rw.id}`); rwCold.push(r.ms); rwBytes = r.bytes; }
    report('P6 approval page, cold cache (10,000 changed lines, 50 files)', median(rwCold), 'ms', `median of ${rwCold.length}`);
    report('P6 approval page size (10,000 changed lines, 50 files)', rwBytes / 1024, 'KB');
    // What collapsing saves: diff2html over every file at once, as without it.
    const patch = await (await fetch(`${s.url}/api/approvals/${rw.id}/patch`, { headers: { authorization: `Bearer ${s.token}` } })).text();
    const { html } = await import('diff2html');
    const full: number[] = [];
    let fullBytes = 0;
    for (let i = 0; i < 3; i++) { const t0 = performance.now(); fullBytes = html(patch, { outputFormat: 'side-by-side', drawFileList: true }).length; full.push(performance.now() - t0); }
    report('diff2html alone, every file expanded (10,000 changed lines)', median(full), 'ms', `median of ${full.length}; ${(fullBytes / 1024 / 1024).toFixed(1)} MB of HTML — the baseline collapsing avoids`);
    await s.api('POST', `/api/approvals/${rw.id}/reject`, { reason: 'bench' });
    await s.api('POST', '/api/agents/bench/revert');

    // ---- SSE latency: git push → the client sees the request ---------------------------------
    const ac = new AbortController();
    const res = await fetch(`${s.url}/api/events`, { headers: { authorization: `Bearer ${s.token}` }, signal: ac.signal });
    const reader = res.body!.getReader();
    const seen: { at: number; id: number }[] = [];
    const dec = new TextDecoder();
    let buf = '';
    void (async () => {
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) return;
          buf += dec.decode(value, { stream: true });
          let i: number;
          while ((i = buf.indexOf('\n\n')) >= 0) {
            const block = buf.slice(0, i); buf = buf.slice(i + 2);
            const data = /^data: (.*)$/m.exec(block)?.[1];
            if (!/^event: change$/m.test(block) || !data) continue;
            const e = JSON.parse(data) as { what?: string; id?: number; agent?: string };
            if (e.what === 'approval' && e.agent === 'bench' && typeof e.id === 'number') seen.push({ at: performance.now(), id: e.id });
          }
        }
      } catch { /* aborted */ }
    })();
    const lat: number[] = [];
    const pushes: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now();
      const head = pushByPath(repoOf(s.state, 'bench'), { 'prompt.md': `sse bench ${i}\n` }, { message: `sse bench ${i}` });
      pushes.push(performance.now() - t0);
      const req = await requestFor(s, 'bench', head);
      const hit = await waitFor('SSE event', () => seen.find((e) => e.id === req.id && e.at >= t0), 60_000);
      lat.push(hit.at - t0);
    }
    ac.abort();
    report('SSE: git push → client sees the new request', median(lat), 'ms', `median of ${lat.length}; the push (by path, hooks included) is part of it`);
    report('SSE: of which the git push itself', median(pushes), 'ms', `median of ${pushes.length}`);
  } finally {
    await s.close();
  }
}
