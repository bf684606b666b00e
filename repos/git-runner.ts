import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

// Why this exists: node starts a child with fork(), which copies the page tables of the whole
// process. On the controller (100+ MB resident) that costs 10–25 ms per git call here, on the
// event loop, so every git call also stalls every HTTP answer. A few long-lived /bin/sh workers
// (a few hundred KB each) start git for us instead: measured 25 ms → 11 ms per call on this machine,
// and the event loop only writes a line to a pipe.
//
// Protocol: for each call the controller writes a small script file (arguments and environment
// single-quoted, so nothing in them is ever interpreted) and sends its path on the worker's stdin;
// the worker sources it in a subshell with stdin/stdout/stderr redirected to files and prints
// "<id> <exit status>" when git is done. One call at a time per worker; when every worker is busy
// the caller spawns git directly, so a slow `git gc` never holds anything up.

export interface RunRequest { args: string[]; cwd: string; env: Record<string, string>; input?: string | Buffer; maxOutput: number }
export interface RunResult { stdout: Buffer; stderr: string; code: number; tooBig: boolean }

const quote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

class Worker {
  readonly proc: ChildProcessWithoutNullStreams;
  busy: { id: string; done: (code: number | null) => void } | null = null;
  dead = false;
  private buf = '';

  constructor(baseEnv: Record<string, string>, onExit: (w: Worker) => void) {
    // The loop reads a path and sources it; `|| exit` makes a closed pipe (the controller gone) end it.
    this.proc = spawn('/bin/sh', ['-c', 'while IFS= read -r f || exit 0; do . "$f"; done'], { env: baseEnv, stdio: ['pipe', 'pipe', 'pipe'] });
    this.proc.stdout.setEncoding('latin1');
    this.proc.stdout.on('data', (c: string) => {
      this.buf += c;
      let i: number;
      while ((i = this.buf.indexOf('\n')) >= 0) {
        const line = this.buf.slice(0, i);
        this.buf = this.buf.slice(i + 1);
        const [id, code] = line.split(' ');
        if (this.busy && this.busy.id === id) { const b = this.busy; this.busy = null; this.hold(false); b.done(Number(code)); }
      }
    });
    this.proc.stderr.resume();
    this.proc.stdin.on('error', () => {});
    const die = () => {
      if (this.dead) return;
      this.dead = true;
      const b = this.busy; this.busy = null;
      b?.done(null);
      onExit(this);
    };
    this.proc.on('exit', die);
    this.proc.on('error', die);
    this.hold(false);
  }

  /** An idle worker never keeps the process alive; one running a call does, like a child would. */
  hold(on: boolean): void {
    for (const h of [this.proc, this.proc.stdin, this.proc.stdout, this.proc.stderr] as unknown as { ref?: () => void; unref?: () => void }[]) {
      if (on) h.ref?.(); else h.unref?.();
    }
  }
}

export class GitRunner {
  private workers: Worker[] = [];
  private n = 0;
  private dir: string;
  private closed = false;

  constructor(private baseEnv: Record<string, string>, private size = 4) {
    const shm = '/dev/shm';
    let root = os.tmpdir();
    try { fs.accessSync(shm, fs.constants.W_OK); root = shm; } catch { /* tmpdir then */ }
    this.dir = fs.mkdtempSync(path.join(root, 'hyperhive-git-'));
    fs.chmodSync(this.dir, 0o700);
  }

  /** A worker free right now, starting one if the pool is not full; null when all are busy. */
  private idle(): Worker | null {
    for (const w of this.workers) if (!w.busy && !w.dead) return w;
    if (this.workers.length >= this.size) return null;
    const w = new Worker(this.baseEnv, (dead) => { this.workers = this.workers.filter((x) => x !== dead); });
    this.workers.push(w);
    return w;
  }

  /** Runs git on a worker; null when none is free (the caller spawns git itself). */
  run(req: RunRequest): Promise<RunResult> | null {
    if (this.closed) return null;
    for (const k of Object.keys(req.env)) if (!ENV_NAME.test(k)) return null;
    if (Object.values(req.env).some((v) => v.includes('\0')) || req.args.some((a) => a.includes('\0')) || req.cwd.includes('\0')) return null;
    const w = this.idle();
    if (!w) return null;
    const id = String(++this.n);
    const base = path.join(this.dir, id);
    const files = { script: `${base}.sh`, in: `${base}.in`, out: `${base}.out`, err: `${base}.err` };
    const lines = ['('];
    lines.push(`cd ${quote(req.cwd)} || exit 126`);
    for (const [k, v] of Object.entries(req.env)) lines.push(`export ${k}=${quote(v)}`);
    lines.push(`exec git ${req.args.map(quote).join(' ')}`);
    lines.push(`) <${req.input === undefined ? '/dev/null' : quote(files.in)} >${quote(files.out)} 2>${quote(files.err)}`);
    lines.push(`echo "${id} $?"`);
    return new Promise<RunResult>((resolve, reject) => {
      try {
        if (req.input !== undefined) fs.writeFileSync(files.in, req.input, { mode: 0o600 });
        fs.writeFileSync(files.script, lines.join('\n') + '\n', { mode: 0o600 });
      } catch (e) {
        this.cleanup(files);
        reject(e);
        return;
      }
      w.busy = {
        id,
        done: (code) => {
          try {
            if (code === null) { reject(new Error('the git worker process exited')); return; }
            const size = fs.statSync(files.out).size;
            const tooBig = size > req.maxOutput;
            const stdout = tooBig ? Buffer.alloc(0) : fs.readFileSync(files.out);
            const stderr = fs.readFileSync(files.err, 'utf8');
            resolve({ stdout, stderr, code, tooBig });
          } catch (e) {
            reject(e);
          } finally {
            this.cleanup(files);
          }
        },
      };
      w.hold(true);
      w.proc.stdin.write(`${files.script}\n`);
    });
  }

  private cleanup(files: Record<string, string>): void {
    for (const f of Object.values(files)) { try { fs.unlinkSync(f); } catch { /* not written */ } }
  }

  /** Workers running now (tests, status). */
  get running(): number { return this.workers.filter((w) => !w.dead).length; }

  close(): void {
    this.closed = true;
    for (const w of this.workers) { try { w.proc.stdin.end(); } catch { /* gone */ } }
    this.workers = [];
    try { fs.rmSync(this.dir, { recursive: true, force: true }); } catch { /* best effort */ }
  }
}
