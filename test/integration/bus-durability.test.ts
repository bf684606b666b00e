import test from 'ava';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openDb } from '../../controller/db/open.ts';
import { Bus } from '../../controller/bus/index.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const child = fileURLToPath(new URL('../helpers/bus-child.ts', import.meta.url));
const dirs: string[] = [];
test.after.always(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

function tempDb(): string {
  const dir = mkdtempSync(join(tmpdir(), 'hh-bus-dur-'));
  dirs.push(dir);
  return join(dir, 'hyperhive.db');
}

/**
 * Runs the child and SIGKILLs it once `killWhen` says so (seeing each stdout line);
 * resolves with every line it printed before it died.
 */
function runChild(args: string[], killWhen: (line: string) => boolean): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--import', 'tsx', child, ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    const lines: string[] = [];
    let buf = '';
    let stderr = '';
    let killed = false;
    const timer = setTimeout(() => { p.kill('SIGKILL'); reject(new Error(`child hung; stderr: ${stderr}`)); }, 60_000);
    p.stdout.setEncoding('utf8');
    p.stdout.on('data', (chunk: string) => {
      buf += chunk;
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        lines.push(line);
        if (!killed && killWhen(line)) { killed = true; p.kill('SIGKILL'); }
      }
    });
    p.stderr.on('data', (c) => { stderr += String(c); });
    p.on('error', reject);
    p.on('close', (code, signal) => {
      clearTimeout(timer);
      if (signal !== 'SIGKILL' && code !== 0) reject(new Error(`child exited ${code}: ${stderr}`));
      else resolve(lines);
    });
  });
}

test('every message a SIGKILLed sender saw sent is stored and recv-able, in order (20 kills)', async (t) => {
  const file = tempDb();
  openDb(file).close(); // migrate once, up front, so children start on an existing db
  const KILLS = 20;
  const reported: number[] = new Array(KILLS).fill(-1); // highest "sent" index per run
  const killOne = async (run: number) => {
    // Kill at a random point: before the first send finishes, or after 1..400 sends.
    const target = Math.floor(Math.random() * 401);
    await runChild(['send', file, `r${run}`], (line) => {
      if (line === 'ready' && target === 0) return true;
      const m = /^sent (\d+)$/.exec(line);
      if (m) reported[run] = Number(m[1]);
      return m !== null && reported[run]! + 1 >= target;
    });
  };
  // Two writers at a time: halves the wall time and kills writers while another one holds the db.
  for (let run = 0; run < KILLS; run += 2) await Promise.all([killOne(run), killOne(run + 1)]);

  const db = openDb(file);
  const bus = new Bus(db);
  const stored = bus.list({ recipient: 'alice', since: 0, limit: 1000 });
  const all: string[] = [];
  for (let page = stored; page.length > 0; page = bus.list({ recipient: 'alice', since: page.at(-1)!.id, limit: 1000 })) {
    all.push(...page.map((m) => m.body));
  }
  for (let run = 0; run < KILLS; run++) {
    // Each run's messages are contiguous from 0, in id order: everything reported, plus possibly a few
    // committed between the last report and the kill (more is fine, fewer would be a loss).
    const mine = all.filter((b) => b.startsWith(`r${run}:`));
    t.deepEqual(mine, mine.map((_, i) => `r${run}:${i}`), `run ${run} is stored in order without gaps`);
    t.true(mine.length - 1 >= reported[run]!, `run ${run}: child reported up to ${reported[run]}, db has up to ${mine.length - 1}`);
  }
  t.is(all.filter((b) => !/^r\d+:\d+$/.test(b)).length, 0);
  t.true(reported.some((r) => r > 0), 'at least one run got messages out before its kill');

  // And the stored messages come out of recv in exactly that order.
  const received: string[] = [];
  for (;;) {
    const got = await bus.recv('alice', { max: 500 });
    if (got.length === 0) break;
    received.push(...got.map((m) => m.body));
  }
  t.deepEqual(received, all);
  t.is(bus.depth('alice'), 0);
  t.log(`${KILLS} kills; ${all.length} messages stored; reported per run: ${reported.join(' ')}`);
  db.close();
});

test('messages a SIGKILLed controller handed out but never saw acked are redelivered', async (t) => {
  const file = tempDb();
  const db = openDb(file);
  const bus = new Bus(db);
  for (const b of ['one', 'two', 'three']) bus.send({ from: 'manager', to: 'bob', body: b });
  for (let run = 0; run < 2; run++) {
    const lines = await runChild(['recv', file], (line) => line.startsWith('got '));
    t.is(lines.at(-1), 'got one,two,three', `controller ${run} received all three, then died`);
  }
  const again = await bus.recv('bob');
  t.deepEqual(again.map((m) => m.body), ['one', 'two', 'three']);
  t.deepEqual(again.map((m) => m.deliveries), [3, 3, 3]);
  t.deepEqual(await bus.recv('bob'), []);
  db.close();
});
