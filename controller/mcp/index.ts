export { buildMcpServer, createMcpHandler, MCP_PATH, SERVER_NAME } from './server.ts';
export type { McpDeps, ToolContext } from './context.ts';
export { wireSystemMessages, decisionText } from './notify.ts';
export { proposeChange } from './tools/config.ts';
export { runStdioBridge, mcpEndpoint } from './stdio-bridge.ts';
