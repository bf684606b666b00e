type Falsy = false | 0 | '' | null | undefined;

/**
 * Polls `fn` every 50 ms until it returns something truthy (which it returns), failing after timeoutMs
 * with `what` and the last error `fn` threw. The one wait of the tests: for a positive signal, never a sleep.
 */
export async function waitFor<T>(what: string, fn: () => T | Falsy | Promise<T | Falsy>, timeoutMs = 30_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v as T;
    } catch (e) { last = e; }
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ''}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
