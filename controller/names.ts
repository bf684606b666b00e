import { HyperhiveError } from './errors.ts';

export const NAME_PATTERN = /^[a-z][a-z0-9-]{0,31}$/;
export const RESERVED_NAMES = ['operator', 'system', 'policy', 'controller', 'local', 'all'] as const;
// A letter or digit first: a model handed to `claude --model` must never read as an option (`-h`, `--dangerously-…`).
export const MODEL_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/;
export const MANAGER = 'manager';

/** Refuses a bad agent name before anything touches disk. */
export function assertAgentName(name: unknown): asserts name is string {
  if (typeof name !== 'string' || name.length === 0) {
    throw new HyperhiveError('invalid_name', 'agent name is required');
  }
  if (!NAME_PATTERN.test(name)) {
    const shown = name.length > 40 ? `${name.slice(0, 40)}…` : name;
    throw new HyperhiveError('invalid_name',
      `invalid agent name ${JSON.stringify(shown)}: names match ${NAME_PATTERN.source} (lowercase letter first, then lowercase letters, digits or '-', at most 32 characters)`,
      { name: shown });
  }
  if ((RESERVED_NAMES as readonly string[]).includes(name)) {
    throw new HyperhiveError('reserved_name', `agent name ${JSON.stringify(name)} is reserved (${RESERVED_NAMES.join(', ')})`, { name });
  }
}

export function assertModel(model: unknown): asserts model is string {
  if (typeof model !== 'string' || !MODEL_PATTERN.test(model)) {
    const shown = typeof model === 'string' ? (model.length > 40 ? `${model.slice(0, 40)}…` : model) : String(model);
    throw new HyperhiveError('invalid_model',
      `invalid model ${JSON.stringify(shown)}: a model is one word matching ${MODEL_PATTERN.source} (e.g. sonnet, opus, or a full model id)`);
  }
}
