/**
 * In-process wake-ups for long-polling recv, keyed by recipient: send wakes exactly the
 * recipient's waiters, so a waiting recv answers as soon as its message is committed.
 */
export class Waiters {
  private readonly byRecipient = new Map<string, Set<() => void>>();

  /**
   * Resolves true when woken for `recipient`, false after `timeoutMs`;
   * rejects with the signal's reason when aborted.
   */
  wait(recipient: string, timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    return new Promise<boolean>((resolve, reject) => {
      if (signal?.aborted) { reject(signal.reason); return; }
      let set = this.byRecipient.get(recipient);
      if (!set) { set = new Set(); this.byRecipient.set(recipient, set); }
      const cleanup = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        const s = this.byRecipient.get(recipient);
        if (s) { s.delete(wake); if (s.size === 0) this.byRecipient.delete(recipient); }
      };
      const wake = () => { cleanup(); resolve(true); };
      const onAbort = () => { cleanup(); reject(signal!.reason); };
      const timer = setTimeout(() => { cleanup(); resolve(false); }, timeoutMs);
      set.add(wake);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  wake(recipient: string): void {
    const set = this.byRecipient.get(recipient);
    if (!set) return;
    for (const w of [...set]) w();
  }

  wakeAll(): void {
    for (const recipient of [...this.byRecipient.keys()]) this.wake(recipient);
  }

  count(recipient?: string): number {
    if (recipient !== undefined) return this.byRecipient.get(recipient)?.size ?? 0;
    let n = 0;
    for (const s of this.byRecipient.values()) n += s.size;
    return n;
  }
}
