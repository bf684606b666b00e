import test from 'ava';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';

const nix = ['/usr/bin/nix-instantiate', '/run/current-system/sw/bin/nix-instantiate'].find((p) => fs.existsSync(p));
const files = ['flake.nix', 'nix/package.nix', 'nix/module.nix', 'nix/container.nix', 'templates/agent/agent.nix'];

for (const f of files) {
  if (!nix) {
    test.skip(`${f} parses with nix-instantiate --parse (skipped: nix-instantiate not installed; apt-get install nix-bin)`, () => {});
    continue;
  }
  test(`${f} parses with nix-instantiate --parse`, (t) => {
    const out = execFileSync(nix, ['--parse', f], { encoding: 'utf8' });
    t.true(out.length > 0);
  });
}
