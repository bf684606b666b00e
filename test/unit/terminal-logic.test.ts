import test from 'ava';
import { FlowControl } from '../../web/terminal/flow.ts';
import { SlashLine, type LineAction } from '../../web/terminal/line.ts';
import { parseClientMessage, sizeParam } from '../../web/terminal/protocol.ts';

// The terminal's pure parts: flow control's decisions, the prompt line's slash commands, the protocol.

test('flow control: pause while the slowest sink is above the high watermark, resume below the low one', (t) => {
  let now = 0;
  const f = new FlowControl({ high: 100, low: 10 }, () => now);
  f.add('screen'); f.add('a'); f.add('b');
  t.is(f.sent(60), null);
  t.is(f.sent(60), 'pause', '120 outstanding for every sink');
  t.is(f.acked('a', 120), null);
  t.is(f.acked('screen', 115), null, 'b is still behind');
  t.is(f.slowest, 120);
  t.is(f.acked('b', 111), 'resume', 'the slowest is below the low watermark');
  t.is(f.acked('b', 1000), null, 'acking more than was sent clamps at 0');
  t.is(f.outstanding('b'), 0);
  f.sent(200);
  now = 5000;
  t.deepEqual(f.stalled(4000).sort(), ['a', 'b', 'screen']);
  f.acked('a', 200); f.acked('screen', 200);
  t.deepEqual(f.stalled(4000), ['b']);
  t.is(f.remove('b'), 'resume', 'a viewer leaving can resume the PTY');
  t.is(f.sentTo('a', 150), 'pause', 'a restore counts for its viewer only');
  t.is(f.outstanding('screen'), 5, 'the screen\'s own backlog is untouched');
});

const isCommand = (w: string) => ['/model', '/approve'].includes(w.toLowerCase());
const run = (line: SlashLine, keys: string, atPrompt = true): LineAction[] => line.feed(keys, () => atPrompt);

test('a / line at the prompt is held back and echoed; Enter runs a known command', (t) => {
  const l = new SlashLine(isCommand);
  t.deepEqual(run(l, '/mo'), [{ echo: '/mo' }]);
  t.true(l.holding);
  t.deepEqual(run(l, 'dl\x7f\x7fdel opus\r'), [{ echo: 'dl\b \b\b \bdel opus' }, { run: '/model opus' }]);
  t.false(l.holding);
  t.deepEqual(run(l, 'ls\r'), [{ pty: 'ls\r' }], 'ordinary lines go straight to the shell');
});

test('a / line that is no command goes to the shell as typed; Tab, arrows and Ctrl-C hand it over', (t) => {
  const l = new SlashLine(isCommand);
  t.deepEqual(run(l, '/usr/bin/env\r'), [{ echo: '/usr/bin/env' + '\b \b'.repeat(12) }, { pty: '/usr/bin/env\r' }], 'the echo erased, the shell gets the line');
  t.deepEqual(run(l, '/us\tr/bin'), [{ echo: '/us' + '\b \b'.repeat(3) }, { pty: '/us\tr/bin' }], 'Tab: the shell completes from here');
  t.deepEqual(run(l, '/x'), [{ pty: '/x' }], 'not at the start of the line: the shell\'s');
  run(l, '\r');
  t.deepEqual(run(l, '/mod\x03'), [{ echo: '/mod' + '\b \b'.repeat(4) }, { pty: '\x03' }]);
  t.deepEqual(run(l, '/\x7f'), [{ echo: '/\b \b' }]);
  t.false(l.holding, 'erasing the / ends the line');
  t.deepEqual(run(l, '\x1b[A'), [{ pty: '\x1b[A' }]);
  t.deepEqual(run(l, '/model x\r'), [{ pty: '/model x\r' }], 'after an arrow key the line is not known empty');
  t.deepEqual(run(l, 'a\x7f/model y\r'), [{ pty: 'a\x7f' }, { echo: '/model y' }, { run: '/model y' }], 'typed and erased: empty again');
});

test('no slash commands while a program has the terminal', (t) => {
  const l = new SlashLine(isCommand);
  t.deepEqual(run(l, '/model opus\r', false), [{ pty: '/model opus\r' }]);
  t.deepEqual(run(l, 'é/', true), [{ pty: 'é/' }]);
});

test('protocol: control messages are checked, anything else ignored; sizes from the URL bounded', (t) => {
  t.deepEqual(parseClientMessage('{"type":"resize","cols":120,"rows":40}'), { type: 'resize', cols: 120, rows: 40 });
  t.deepEqual(parseClientMessage('{"type":"ack","bytes":4096}'), { type: 'ack', bytes: 4096 });
  t.deepEqual(parseClientMessage('{"type":"take"}'), { type: 'take' });
  for (const bad of ['nope', '[]', 'null', '{"type":"resize","cols":1,"rows":40}', '{"type":"resize","cols":5000,"rows":40}', '{"type":"ack","bytes":-1}', '{"type":"ack","bytes":1.5}', '{"type":"exec"}']) t.is(parseClientMessage(bad), null, bad);
  t.is(sizeParam('132', 80), 132);
  for (const bad of [null, '', '0', '1', '01', '99999', '12a']) t.is(sizeParam(bad, 80), 80, String(bad));
});
