import { OncePer, type BusLimitName, type BusRefusal } from './limits.ts';

export interface QuotaReportDeps {
  warn(agent: string | null, event: string, message: string, data?: Record<string, unknown>): unknown;
  /** A stats point (controller/stats/store.ts `record`). */
  record(agent: string, key: string, value: number): void;
  now?: () => number;
}

const LABEL: Record<BusLimitName, string> = { inbox_messages: 'inbox depth', inbox_bytes: 'inbox size', send_rate: 'send rate' };

/**
 * What the operator sees of the bus quotas: every refusal is a `bus_refused` point of its sender,
 * and a `bus-quota` warning names sender, recipient and limit at most once a minute per pair (a
 * looping agent refused 1,000 times must not write 1,000 log lines).
 */
export function busQuotaReporter(d: QuotaReportDeps): (r: BusRefusal) => void {
  const once = new OncePer(60_000, d.now);
  return (r) => {
    d.record(r.from, 'bus_refused', 1);
    const quiet = once.check(`${r.from}\0${r.to}`);
    if (quiet === null) return;
    d.warn(r.from, 'bus-quota', `a message from ${r.from} to ${r.to} was refused by the ${LABEL[r.limit]} limit (${r.error.message})${quiet ? `; ${quiet} more from ${r.from} to ${r.to} were refused since the last such line` : ''}; refusals are counted in bus_refused and logged at most once a minute per pair`,
      { from: r.from, to: r.to, limit: r.limit, refusedQuietly: quiet });
  };
}
