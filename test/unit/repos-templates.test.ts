import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const T = path.join(ROOT, 'templates');

function hasNix(): boolean {
  try { execFileSync('nix-instantiate', ['--version'], { stdio: 'ignore' }); return true; } catch { return false; }
}
const nix = hasNix();

test('templates: hyperhive.json is exactly the Contract shape; model is sonnet; notes has a header', (t) => {
  t.deepEqual(JSON.parse(fs.readFileSync(path.join(T, 'agent', 'hyperhive.json'), 'utf8')), {
    tools: { allow: ['Read', 'Edit', 'Write', 'Bash(git *)', 'mcp__hyperhive__*'], deny: [] },
    mcpServers: {},
    env: {},
  });
  t.is(fs.readFileSync(path.join(T, 'live', 'model'), 'utf8'), 'sonnet\n');
  t.regex(fs.readFileSync(path.join(T, 'live', 'notes.md'), 'utf8'), /^# /);
  const prompt = fs.readFileSync(path.join(T, 'agent', 'prompt.md'), 'utf8');
  for (const word of ['send', 'recv', 'notes.md', 'live', 'proposed']) t.true(prompt.includes(word), word);
});

if (nix) test('templates: agent.nix parses and its hyperhive attribute is hyperhive.json', (t) => {
  const file = path.join(T, 'agent', 'agent.nix');
  execFileSync('nix-instantiate', ['--parse', file], { stdio: 'pipe' });
  const out = execFileSync('nix-instantiate', ['--eval', '--strict', '--json', '-E',
    `(import ${file} { config = {}; lib = {}; pkgs = {}; }).hyperhive`], { encoding: 'utf8' });
  t.deepEqual(JSON.parse(out), JSON.parse(fs.readFileSync(path.join(T, 'agent', 'hyperhive.json'), 'utf8')));
});
else test('templates: agent.nix parses (needs nix-instantiate)', (t) => { t.log('skipped: nix-instantiate is not installed'); t.pass(); });
