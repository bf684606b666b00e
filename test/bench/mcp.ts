// Round-trip time of the MCP `send` tool through /mcp: the SDK's Client over real HTTP on loopback
// against a real server (token check, a stateless MCP server per request, zod validation, a durable
// sqlite insert). Also a long-poll wake-up through /mcp: send by one client, a waiting recv of another.
import fs from 'node:fs';
import { connect, ok } from '../helpers/mcp.ts';
import { startServer, createAgents, agentToken } from '../helpers/server.ts';

type Report = (name: string, value: number, unit: string, note?: string) => void;

const pct = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;

export async function benchMcp(report: Report): Promise<void> {
  // 330 sends as fast as they go are the point here: the send rate quota (60 a minute) is off for
  // this server; the inbox quota still runs its check on every send.
  const rate = process.env.HYPERHIVE_SEND_PER_MINUTE;
  process.env.HYPERHIVE_SEND_PER_MINUTE = '0';
  const s = await startServer().finally(() => { if (rate === undefined) delete process.env.HYPERHIVE_SEND_PER_MINUTE; else process.env.HYPERHIVE_SEND_PER_MINUTE = rate; });
  try {
    await createAgents(s, ['alpha', 'beta']);
    const alpha = await connect(s.url, agentToken(s.state, 'alpha'), 'bench-alpha');
    const beta = await connect(s.url, agentToken(s.state, 'beta'), 'bench-beta');
    try {
      const warm = 30;
      const n = 300;
      for (let i = 0; i < warm; i++) await ok(alpha, 'send', { to: 'beta', body: `warm ${i}` });
      const times: number[] = [];
      const t0 = performance.now();
      for (let i = 0; i < n; i++) {
        const a = performance.now();
        await ok(alpha, 'send', { to: 'beta', body: `message ${i}` });
        times.push(performance.now() - a);
      }
      const total = performance.now() - t0;
      times.sort((x, y) => x - y);
      const note = `${n} sequential calls, SDK Client over loopback HTTP`;
      report('mcp send round trip p50', pct(times, 50), 'ms', note);
      report('mcp send round trip p95', pct(times, 95), 'ms', note);
      report('mcp send sequential rate', (n / total) * 1000, 'ops/s', note);
      // Drain (recv hands out at most 100 at a time) and ack.
      while ((await ok(beta, 'recv', {})).messages.length > 0) { /* next batch */ }

      // Wake-up: beta long-polls, alpha sends; time from the send call to recv's answer.
      const wake: number[] = [];
      for (let i = 0; i < 40; i++) {
        const waiting = ok(beta, 'recv', { wait_seconds: 30 }, 60_000);
        const deadline = Date.now() + 10_000;
        while (s.bus.waiting('beta') === 0) {
          if (Date.now() > deadline) throw new Error('beta\'s recv never started waiting');
          await new Promise((r) => setTimeout(r, 1));
        }
        const a = performance.now();
        await ok(alpha, 'send', { to: 'beta', body: `wake ${i}` });
        await waiting;
        wake.push(performance.now() - a);
      }
      await ok(beta, 'recv', {});
      wake.sort((x, y) => x - y);
      report('mcp recv wake-up (send → recv answer) p50', pct(wake, 50), 'ms', '40 rounds, long-poll through /mcp');
      report('mcp recv wake-up (send → recv answer) p95', pct(wake, 95), 'ms', '40 rounds, long-poll through /mcp');
    } finally {
      await alpha.close().catch(() => {});
      await beta.close().catch(() => {});
    }
  } finally {
    await s.close();
    fs.rmSync(s.state, { recursive: true, force: true });
  }
}
