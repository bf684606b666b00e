import type { Approval } from '../approvals/store.ts';
import type { WebhookEvent } from './store.ts';

/** What a webhook receives: `{event, agent, at, url, data}`, `url` being the page that acts on it. */
export interface WebhookPayload { event: WebhookEvent; agent: string | null; at: string; url: string; data: Record<string, unknown> }

const MAX_INPUT_CHARS = 2000;

/** A tool call's input, cut to a size a notification can carry (the page shows it whole). */
function inputSummary(input: unknown): unknown {
  const text = JSON.stringify(input ?? null);
  return text.length <= MAX_INPUT_CHARS ? input : { truncated: true, text: `${text.slice(0, MAX_INPUT_CHARS)}…` };
}

/** The payload of a request raised (`request.created`, or `tool.waiting` for a tool call). Pure. */
export function requestPayload(a: Approval, o: { baseUrl: string; at: number; required: number }): WebhookPayload {
  const url = `${o.baseUrl}/approvals/${a.id}`;
  const at = new Date(o.at).toISOString();
  if (a.kind === 'tool') {
    const tool = (a.data.tool ?? {}) as { name?: string; input?: unknown };
    return { event: 'tool.waiting', agent: a.agent, at, url, data: { id: a.id, kind: a.kind, tool: { name: tool.name ?? null, input: inputSummary(tool.input) }, timeoutAt: a.data.timeoutAt ?? null } };
  }
  return { event: 'request.created', agent: a.agent, at, url, data: { id: a.id, kind: a.kind, status: a.status, base: a.base, head: a.head, paths: a.paths, proposer: a.proposer, required: o.required } };
}

/** The payload of a decision (approved, rejected, failed, expired). Pure. */
export function decisionPayload(a: Approval, o: { baseUrl: string; at: number }): WebhookPayload {
  return {
    event: 'request.decided', agent: a.agent, at: new Date(o.at).toISOString(), url: `${o.baseUrl}/approvals/${a.id}`,
    data: { id: a.id, kind: a.kind, status: a.status, by: a.decidedBy, reason: a.reason, base: a.base, head: a.head, ...(a.kind === 'tool' ? { tool: { name: (a.data.tool as { name?: string } | undefined)?.name ?? null } } : {}) },
  };
}

export function agentPayload(event: 'agent.stalled' | 'container.crashed', agent: string, data: Record<string, unknown>, o: { baseUrl: string; at: number }): WebhookPayload {
  return { event, agent, at: new Date(o.at).toISOString(), url: `${o.baseUrl}/agents/${agent}`, data };
}

export function testPayload(webhookId: number, by: string, o: { baseUrl: string; at: number }): WebhookPayload {
  return { event: 'test', agent: null, at: new Date(o.at).toISOString(), url: `${o.baseUrl}/webhooks`, data: { webhook: webhookId, by, message: `a test delivery sent by ${by}` } };
}
