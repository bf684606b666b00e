import type { AgentView } from '../../controller/controller.ts';
import { html, type SafeHtml } from './html.ts';

// The agent page's terminal: xterm.js and its fit add-on from their npm packages (under /vendor/),
// driven by /assets/terminal.js. Not [data-live]: a live refresh must not throw the terminal away.

const ASSETS = html`<link rel="stylesheet" href="/vendor/xterm.css"><link rel="stylesheet" href="/assets/turns.css">
<script src="/vendor/xterm.js" defer></script><script src="/vendor/addon-fit.js" defer></script><script src="/assets/terminal.js" defer></script>`;

export function terminalSection(o: { agent: AgentView; commands: { usage: string }[] }): SafeHtml {
  const rt = o.agent.runtime;
  return html`<section class="hh-section" id="terminal" data-agent="${o.agent.name}"><h2>Terminal</h2>
${rt.isolated ? '' : html`<p class="hh-muted" data-testid="terminal-isolation"><span class="hh-tag hh-tag-warn">not isolated</span> ${rt.kind} runtime: the shell runs on the controller's host, as the controller's user, in ${o.agent.name}'s state dir with its environment; this runtime isolates nothing.</p>`}
<div class="hh-terminal-bar">
<button type="button" id="terminal-open" data-testid="terminal-open">Open terminal</button>
<button type="button" id="terminal-close" data-testid="terminal-close" hidden>Disconnect</button>
<span id="terminal-role" class="hh-term-role" data-testid="terminal-role" hidden></span>
<button type="button" id="terminal-take" data-testid="terminal-take" hidden>Take the keyboard</button>
<span id="terminal-viewers" class="hh-muted" data-testid="terminal-viewers"></span>
<span id="terminal-msg" class="hh-term-msg" role="status" data-testid="terminal-msg"></span>
</div>
<div id="terminal-box" class="hh-terminal-box" data-testid="terminal-box" hidden></div>
<p class="hh-muted hh-help">One viewer types at a time, the others watch. At the shell's prompt: ${o.commands.map((c, i) => html`${i ? ' · ' : ''}<code>${c.usage}</code>`)}.</p>
</section>${ASSETS}`;
}
