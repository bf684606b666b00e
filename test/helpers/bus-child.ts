// Child process for the bus durability test: it opens the db and either sends messages,
// printing "sent <i>" only after each send has returned, or receives once and then idles,
// until the parent SIGKILLs it.
import { writeSync } from 'node:fs';
import { openDb } from '../../controller/db/open.ts';
import { Bus } from '../../controller/bus/index.ts';

const [mode, file, prefix = 'run', countArg = '100000'] = process.argv.slice(2);
if (!file || (mode !== 'send' && mode !== 'recv')) {
  process.stderr.write('usage: bus-child.ts send|recv <db file> [prefix] [count]\n');
  process.exit(2);
}
const bus = new Bus(openDb(file));
writeSync(1, 'ready\n');

if (mode === 'send') {
  const count = Number(countArg);
  for (let i = 0; i < count; i++) {
    bus.send({ from: 'system', to: 'alice', body: `${prefix}:${i}` });
    writeSync(1, `sent ${i}\n`);
  }
  writeSync(1, 'done\n');
} else {
  const got = await bus.recv('bob', { max: 10_000 });
  writeSync(1, `got ${got.map((m) => m.body).join(',')}\n`);
  setInterval(() => {}, 60_000); // stay alive, messages in hand, until killed
}
