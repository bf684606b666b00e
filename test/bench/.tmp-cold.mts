import { freePort, spawnCli, waitHealthy, killAgentProcesses, agentProcesses } from '../helpers/cli-server.ts';
const state = '/tmp/hh-fleet-state';
for (let i = 0; i < 2; i++) {
  const t0 = performance.now();
  const s = spawnCli(state, await freePort(), { HYPERHIVE_AGENT_COMMAND: 'sleep 100000000' });
  await waitHealthy(s, 180_000);
  console.log(`health after ${(performance.now() - t0).toFixed(0)} ms`);
  const t1 = performance.now();
  while (agentProcesses(state).length < 1000) await new Promise((r) => setTimeout(r, 250));
  console.log(`1000 agent processes ${(performance.now() - t1).toFixed(0)} ms after health`);
  const t2 = performance.now();
  await s.term(180_000);
  console.log(`term took ${(performance.now() - t2).toFixed(0)} ms; ${agentProcesses(state).length} agents left`);
  console.log(s.output().split('\n').filter((l) => /hook|bundle|start|listen/i.test(l)).slice(0, 8).join('\n'));
}
killAgentProcesses(state);
