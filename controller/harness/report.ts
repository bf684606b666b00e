import type { Classification } from './classify.ts';
import type { RecipientClass, TurnReport } from './io.ts';
import type { ParsedStream } from './stream.ts';

export function recipientClass(to: string | undefined): RecipientClass {
  if (to === 'operator' || to === 'manager' || to === 'system') return to;
  return 'peer';
}

/** The turn's report from its parsed stream; pure. */
export function buildTurnReport(p: {
  classification: Classification;
  stream: ParsedStream;
  startedAt: Date;
  durationMs: number;
  model: string;
  messages: number;
  exitCode: number | null;
}): TurnReport {
  const r = p.stream.result;
  const sentTo: Record<RecipientClass, number> = { peer: 0, operator: 0, manager: 0, system: 0 };
  // A send without a recipient cannot have reached anyone; it is not counted.
  for (const to of p.stream.sends) if (to !== undefined) sentTo[recipientClass(to)]++;
  const report: TurnReport = {
    class: p.classification.class,
    startedAt: p.startedAt.toISOString(),
    durationMs: p.durationMs,
    tools: { ...p.stream.toolCounts },
    costUsd: r?.costUsd ?? 0,
    usage: r?.usage ?? { inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheCreationTokens: 0 },
    numTurns: r?.numTurns ?? 0,
    permissionDenials: r?.permissionDenials.length ?? 0,
    model: p.model,
    sentTo,
    messages: p.messages,
    exitCode: p.exitCode,
  };
  const sessionId = r?.sessionId ?? p.stream.sessionId;
  if (sessionId) report.sessionId = sessionId;
  if (p.classification.class !== 'ok') report.error = p.classification.reason;
  return report;
}
