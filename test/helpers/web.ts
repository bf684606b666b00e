import type { AppDeps } from '../../web/app.ts';
import { createApp } from '../../web/app.ts';
import { pushByPath, repoOf } from './git.ts';
import { loginSession, startServer, type TestServer } from './server.ts';
import { waitFor } from './wait.ts';

export interface Route { method: string; path: string }

/**
 * Every route the app mounts (HEAD aside), read from a second app built from the same deps, so a test
 * that walks them covers a route added later without being edited.
 */
export function mountedRoutes(deps: AppDeps): Route[] {
  const routes: Route[] = [];
  for (const m of createApp(deps).middleware as { router?: { stack: { methods: string[]; path: string }[] } }[]) {
    for (const l of m.router?.stack ?? []) for (const method of l.methods) if (method !== 'HEAD') routes.push({ method, path: l.path });
  }
  return routes;
}

export interface WebFixture { server: TestServer; routes: Route[]; approvalId: number; cookie: string; csrf: string }

/** A real server with agent `alpha`, one pending change request from a push, its route table and a logged-in UI session. */
export async function webFixture(prefix: string): Promise<WebFixture> {
  let deps: AppDeps | undefined;
  const server = await startServer({ prefix, extendApp: (d) => { deps = d; } });
  const routes = mountedRoutes(deps!);
  if ((await server.api('POST', '/api/agents', { name: 'alpha' })).status !== 201) throw new Error('could not create agent alpha');
  const head = pushByPath(repoOf(server.state, 'alpha'), { 'prompt.md': `${prefix} change\n` }, { message: `${prefix} change` });
  const req = await waitFor('request', async () => (await server.api<{ id: number; head: string }[]>('GET', '/api/approvals?status=pending')).body.find((a) => a.head === head), 60_000);
  const { cookie, csrf } = await loginSession(server);
  return { server, routes, approvalId: req.id, cookie, csrf };
}
