import fs from 'node:fs';

// What /proc says about a process: the runtimes that take over or clean up after an earlier
// controller's agents (process, nspawn) read it, never trusting a pid alone (pids are reused).

/** The process's environment, or null when it is gone or unreadable. */
export function environOf(pid: number): Map<string, string> | null {
  let raw: string;
  try { raw = fs.readFileSync(`/proc/${pid}/environ`, 'utf8'); } catch { return null; }
  const vars = new Map<string, string>();
  for (const kv of raw.split('\0')) { const i = kv.indexOf('='); if (i > 0) vars.set(kv.slice(0, i), kv.slice(i + 1)); }
  return vars;
}

/** Gone, or a zombie: it has exited and only waits for its new parent to reap it. */
export function exited(pid: number): boolean {
  try { return /^State:\s+Z/m.test(fs.readFileSync(`/proc/${pid}/status`, 'utf8')); } catch { return true; }
}

export function cmdlineOf(pid: number): string[] | null {
  try { return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').slice(0, -1); } catch { return null; }
}

/** The pids of the process's children (every thread's), oldest first. */
export function childrenOf(pid: number): number[] {
  const out: number[] = [];
  let tasks: string[] = [];
  try { tasks = fs.readdirSync(`/proc/${pid}/task`); } catch { return out; }
  for (const t of tasks) {
    try { for (const c of fs.readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8').trim().split(/\s+/)) if (c) out.push(Number(c)); } catch { /* gone */ }
  }
  return out.sort((a, b) => a - b);
}

/** The process's pid in each pid namespace it is in, outermost first (`NSpid`). */
export function nsPids(pid: number): number[] {
  try {
    const m = /^NSpid:\s+(.*)$/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? m[1]!.trim().split(/\s+/).map(Number) : [];
  } catch { return []; }
}

/**
 * Among the process's descendants (a few levels down), the one that is PID 1 of a pid namespace of
 * its own and runs another program than `parent`'s: a container's init. While nspawn still sets the
 * container up, PID 1 is a fork of nspawn itself, in mounts not yet the container's: not its init.
 */
export function namespaceInitUnder(pid: number, depth = 3): number | null {
  const starter = cmdlineOf(pid)?.[0];
  const walk = (p: number, d: number): number | null => {
    for (const c of childrenOf(p)) {
      const ns = nsPids(c);
      if (ns.length > 1 && ns.at(-1) === 1) return cmdlineOf(c)?.[0] === starter ? null : c;
      if (d > 1) { const deeper = walk(c, d - 1); if (deeper) return deeper; }
    }
    return null;
  };
  return walk(pid, depth);
}

/** The first line of the process's uid_map: `{inside, outside, count}` (the host uid that inside's 0 maps to). */
export function uidMapOf(pid: number): { inside: number; outside: number; count: number } | null {
  try {
    const [inside, outside, count] = fs.readFileSync(`/proc/${pid}/uid_map`, 'utf8').trim().split('\n')[0]!.trim().split(/\s+/).map(Number);
    return Number.isFinite(outside) ? { inside: inside!, outside: outside!, count: count! } : null;
  } catch { return null; }
}

/** When the process started (ms since epoch), from /proc: boot time plus its start in clock ticks. */
export function processStartedAt(pid: number): number | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const ticks = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
    const btime = Number(/^btime (\d+)$/m.exec(fs.readFileSync('/proc/stat', 'utf8'))?.[1]);
    // USER_HZ is 100 on every Linux this runs on.
    return Number.isFinite(ticks) && Number.isFinite(btime) ? btime * 1000 + ticks * 10 : null;
  } catch { return null; }
}

/** Resident memory of the process in bytes (VmRSS), or null when it is gone. */
export function residentBytes(pid: number): number | null {
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : null;
  } catch { return null; }
}

/** Signals the process's group, else the process alone; a process already gone is fine. */
export function killGroup(pid: number, signal: NodeJS.Signals): void {
  try { process.kill(-pid, signal); } catch { try { process.kill(pid, signal); } catch { /* gone */ } }
}
