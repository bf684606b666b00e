// An Edit tool call as a unified diff for diff2html; pure. The CLI's Edit names the text it replaces,
// not where it is in the file, so line numbers count from the edit's first line; lines the old and
// new text share at their start and end are context.

export interface TextEdit { old: string; new: string }

const splitLines = (s: string): string[] => {
  const lines = s.split('\n');
  if (lines.length > 1 && lines.at(-1) === '') lines.pop();
  return s === '' ? [] : lines;
};

function hunk(e: TextEdit, start: number): { text: string; lines: number } {
  const a = splitLines(e.old);
  const b = splitLines(e.new);
  let pre = 0;
  while (pre < a.length && pre < b.length && a[pre] === b[pre]) pre++;
  let post = 0;
  while (post < a.length - pre && post < b.length - pre && a[a.length - 1 - post] === b[b.length - 1 - post]) post++;
  const body = [
    ...a.slice(0, pre).map((l) => ` ${l}`),
    ...a.slice(pre, a.length - post).map((l) => `-${l}`),
    ...b.slice(pre, b.length - post).map((l) => `+${l}`),
    ...a.slice(a.length - post).map((l) => ` ${l}`),
  ];
  const oldStart = a.length ? start : start - 1;
  const newStart = b.length ? start : start - 1;
  return { text: `@@ -${oldStart},${a.length} +${newStart},${b.length} @@\n${body.join('\n')}\n`, lines: Math.max(a.length, b.length) };
}

/** The patch of one file's edits (an Edit is one, a MultiEdit several); `path` is only a label. */
export function editPatch(path: string, edits: TextEdit[]): string {
  const name = path.replace(/[\r\n]/g, ' ') || 'file';
  let out = `diff --git a/${name} b/${name}\n--- a/${name}\n+++ b/${name}\n`;
  let start = 1;
  for (const e of edits) {
    const h = hunk(e, start);
    out += h.text;
    // Hunks of a MultiEdit do not overlap in the file; their places are unknown, so they follow one another.
    start += h.lines + 1;
  }
  return out;
}
