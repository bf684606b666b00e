import { HyperhiveError } from './errors.ts';

/**
 * Positive whole numbers from `serve`'s environment, by variable name → option key; an unset or empty
 * variable is left out, any other value that is not one stops the start naming the variable.
 */
export function positiveIntsFromEnv<K extends string>(env: NodeJS.ProcessEnv, names: Record<string, K>): Partial<Record<K, number>> {
  const out: Partial<Record<K, number>> = {};
  for (const [name, key] of Object.entries(names) as [string, K][]) {
    const raw = env[name];
    if (raw === undefined || raw === '') continue;
    if (!/^[1-9][0-9]*$/.test(raw.trim()) || !Number.isSafeInteger(Number(raw))) throw new HyperhiveError('bad_request', `${name} must be a positive whole number, got ${JSON.stringify(raw)}`);
    out[key] = Number(raw);
  }
  return out;
}
