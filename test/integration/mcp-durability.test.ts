// Messages sent through /mcp survive a SIGKILL of the real CLI server between send and recv, and
// messages handed out but never acked (the controller died mid-turn) are redelivered after a restart.
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { tmpDir } from '../helpers/paths.ts';
import { freePort, httpJson, killAgentProcesses, spawnCli, waitHealthy, type CliServer } from '../helpers/cli-server.ts';
import { connect, ok } from '../helpers/mcp.ts';
import { agentToken, operatorToken } from '../helpers/server.ts';

// Idle agents: the harness would recv the very messages this test checks.
const ENV = { HYPERHIVE_AGENT_COMMAND: 'idle' };

test('messages survive SIGKILL between send and recv; un-acked ones come again after a restart', async (t) => {
  const state = tmpDir('hh-mcp-kill-');
  const port = await freePort();
  let server: CliServer | null = null;
  const clients: Client[] = [];
  const client = async (agent: string) => { const c = await connect(server!.url, agentToken(state, agent), `kill-${agent}`); clients.push(c); return c; };
  const start = async () => { server = spawnCli(state, port, ENV); await waitHealthy(server); };
  const kill = async () => {
    for (const c of clients.splice(0)) await c.close().catch(() => {});
    await server!.kill9();
  };
  try {
    await start();
    for (const name of ['alpha', 'beta']) {
      const r = await httpJson(server!.url, 'POST', '/api/agents', { token: operatorToken(state), body: { name } });
      t.is(r.status, 201, JSON.stringify(r.body));
    }
    const alpha = await client('alpha');
    const sent = [];
    for (const body of ['first', 'second', 'third']) sent.push((await ok(alpha, 'send', { to: 'beta', body })).id);

    // 1. killed between send and recv: nothing is lost
    await kill();
    await start();
    let beta = await client('beta');
    const got = (await ok(beta, 'recv', {})).messages;
    t.deepEqual(got.map((m: any) => [m.id, m.from, m.body, m.redelivered]), [[sent[0], 'alpha', 'first', false], [sent[1], 'alpha', 'second', false], [sent[2], 'alpha', 'third', false]]);

    // 2. killed after handing them out, before the next recv acked them: they come again
    await kill();
    await start();
    beta = await client('beta');
    const again = (await ok(beta, 'recv', {})).messages;
    t.deepEqual(again.map((m: any) => [m.id, m.body, m.redelivered]), [[sent[0], 'first', true], [sent[1], 'second', true], [sent[2], 'third', true]]);
    // 3. this recv acks them: gone for good, even across another kill
    t.deepEqual((await ok(beta, 'recv', {})).messages, []);
    await kill();
    await start();
    beta = await client('beta');
    t.deepEqual((await ok(beta, 'recv', {})).messages, []);
    const depths = await httpJson(server!.url, 'GET', '/api/inbox/depths', { token: operatorToken(state) });
    t.is(depths.body.beta, 0);
  } finally {
    for (const c of clients) await c.close().catch(() => {});
    if (server) await (server as CliServer).kill9();
    killAgentProcesses(state);
    fs.rmSync(path.resolve(state), { recursive: true, force: true });
  }
});
