import { open, rename, mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { HyperhiveJson } from '../surface/hyperhive-json.ts';

export interface McpConfigFile {
  mcpServers: Record<string,
    | { type: 'http'; url: string; headers: Record<string, string> }
    | { type: 'stdio'; command: string; args: string[]; env: Record<string, string> }>;
}

/** The --mcp-config document: the controller's own server first, then the surface's extra servers. */
export function buildMcpConfig(input: { url: string; token: string; surface: HyperhiveJson }): McpConfigFile {
  const base = input.url.replace(/\/+$/, '');
  const servers: McpConfigFile['mcpServers'] = {
    hyperhive: { type: 'http', url: `${base}/mcp`, headers: { Authorization: `Bearer ${input.token}` } },
  };
  for (const [name, s] of Object.entries(input.surface.mcpServers)) {
    if (name === 'hyperhive') continue; // the validator refuses it too; the controller's server is not overridable
    servers[name] = { type: 'stdio', command: s.command, args: [...s.args], env: { ...s.env } };
  }
  return { mcpServers: servers };
}

export const MCP_CONFIG_FILE = 'mcp-config.json';

/** Writes it 0600 (it holds the agent's token) by rename, so the CLI never reads half a file. */
export async function writeMcpConfig(stateDir: string, config: McpConfigFile): Promise<string> {
  await mkdir(stateDir, { recursive: true });
  const file = path.join(stateDir, MCP_CONFIG_FILE);
  const tmp = `${file}.${process.pid}.tmp`;
  const fh = await open(tmp, 'w', 0o600);
  try {
    await fh.chmod(0o600);
    await fh.writeFile(JSON.stringify(config, null, 2) + '\n');
  } finally {
    await fh.close();
  }
  await rename(tmp, file);
  return file;
}
