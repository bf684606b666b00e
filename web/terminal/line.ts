// The terminal's prompt line knows the agent page's slash commands (`/model opus`, …). Pure: fed the
// writer's keystrokes, it says what goes to the shell, what the viewers see echoed, and which line to
// run as a command. A `/` typed first on an empty line while the shell waits at its prompt starts a
// line held back from the shell and echoed here; Enter runs it when its first word is a known command,
// and hands it to the shell as typed otherwise (so `/usr/bin/env` still works); Tab, arrows or any
// other control key hand it over too. A program in the foreground (vim's `/`) never sees any of this.

export type LineAction = { pty: string } | { echo: string } | { run: string };

const ERASE = '\b \b';

export class SlashLine {
  /** The held-back line while it starts with `/`; null otherwise. */
  private held: string | null = null;
  /** Characters typed on the shell's line since it was last empty (null: unknown, e.g. after an arrow key). */
  private typed: number | null = 0;

  constructor(private readonly isCommand: (word: string) => boolean) {}

  get holding(): boolean { return this.held !== null; }

  feed(data: string, atPrompt: () => boolean): LineAction[] {
    const out: LineAction[] = [];
    const pty = (s: string) => { const last = out.at(-1); if (last && 'pty' in last) last.pty += s; else out.push({ pty: s }); };
    const echo = (s: string) => { const last = out.at(-1); if (last && 'echo' in last) last.echo += s; else out.push({ echo: s }); };
    const handOver = (rest: string) => {
      const line = this.held!;
      this.held = null;
      echo(ERASE.repeat([...line].length));
      pty(line + rest);
      this.typed = null;
    };
    const chars = [...data];
    for (let i = 0; i < chars.length; i++) {
      const ch = chars[i]!;
      if (this.held !== null) {
        if (ch === '\r' || ch === '\n') {
          const line = this.held;
          const word = line.trim().split(/\s+/)[0]!;
          if (this.isCommand(word)) {
            this.held = null;
            this.typed = 0;
            out.push({ run: line });
          } else {
            handOver('\r');
            this.typed = 0;
          }
        } else if (ch === '\x7f' || ch === '\b') {
          const cs = [...this.held];
          cs.pop();
          echo(ERASE);
          this.held = cs.length ? cs.join('') : null;
          if (this.held === null) this.typed = 0;
        } else if (ch === '\x03' || ch === '\x15') {
          // Ctrl-C / Ctrl-U: the line is dropped, and the shell gets the key (a fresh prompt).
          echo(ERASE.repeat([...this.held].length));
          this.held = null;
          pty(ch);
          this.typed = 0;
        } else if (ch < ' ' || ch === '\x1b') {
          // Tab (completion), an arrow key, any other control: the shell takes the line from here.
          handOver(chars.slice(i).join(''));
          return out;
        } else {
          this.held += ch;
          echo(ch);
        }
        continue;
      }
      if (ch === '/' && this.typed === 0 && atPrompt()) {
        this.held = '/';
        echo('/');
        continue;
      }
      pty(ch);
      if (ch === '\r' || ch === '\n' || ch === '\x03' || ch === '\x15') this.typed = 0;
      else if (ch === '\x7f' || ch === '\b') { if (this.typed !== null) this.typed = Math.max(0, this.typed - 1); }
      else if (ch === '\x1b' || ch < ' ') this.typed = null;
      else if (this.typed !== null) this.typed++;
    }
    return out;
  }
}
