import test from 'ava';
import { renderMarkdown } from '../../web/views/markdown.ts';

// notes.md is written by agents: untrusted. markdown-it renders GitHub's tables, task lists and nested
// lists; nothing in the input may produce a tag, attribute, script, style or outside fetch of its own.

const render = (lines: string[]): string => renderMarkdown(lines.join('\n')).value;
// Block tags end with a newline in markdown-it's output; the structure is what these tests read.
const flat = (s: string): string => s.replace(/\n/g, '');

test('headings, emphasis, code, lists, quotes, rules and http(s) links render', (t) => {
  const md = flat(render([
    '# Title', '', 'Some **bold** and *em* and `code <b>` here.', '',
    '- one', '- two [ok](https://example.com/?a=1&b=2)', '',
    '1. first', '2. second', '',
    '```js', 'const x = "<script>";', '```', '> quoted', '---',
  ]));
  t.regex(md, /<h1>Title<\/h1>/);
  t.regex(md, /<strong>bold<\/strong>/);
  t.regex(md, /<em>em<\/em>/);
  t.regex(md, /<code>code &lt;b&gt;<\/code>/);
  t.regex(md, /<ul><li>one<\/li><li>two <a href="https:\/\/example.com\/\?a=1&amp;b=2" rel="noopener noreferrer">ok<\/a><\/li><\/ul>/);
  t.regex(md, /<ol><li>first<\/li><li>second<\/li><\/ol>/);
  t.regex(md, /<pre><code class="language-js">const x = &quot;&lt;script&gt;&quot;;<\/code><\/pre>/);
  t.regex(md, /<blockquote><p>quoted<\/p><\/blockquote>/);
  t.regex(md, /<hr>/);
});

test('GitHub tables render; alignment is a class, never an inline style (the CSP allows none)', (t) => {
  const md = flat(render(['| name | state | cost |', '|:-----|:-----:|-----:|', '| alpha | ready | 0.25 |', '| beta | `x|y` | 1 |']));
  t.regex(md, /<table><thead><tr><th class="hh-align-left">name<\/th><th class="hh-align-center">state<\/th><th class="hh-align-right">cost<\/th><\/tr><\/thead>/);
  t.regex(md, /<tbody><tr><td class="hh-align-left">alpha<\/td><td class="hh-align-center">ready<\/td><td class="hh-align-right">0.25<\/td><\/tr>/);
  t.notRegex(md, /style=/);
  // A table without alignment has plain cells.
  t.regex(flat(render(['| a | b |', '|---|---|', '| 1 | 2 |'])), /<th>a<\/th><th>b<\/th>.*<td>1<\/td><td>2<\/td>/);
});

test('task lists render as disabled checkboxes, checked for [x] and [X]; other items and lists stay plain', (t) => {
  const md = flat(render(['- [ ] write tests', '- [x] ship **it**', '- [X] also done', '- plain item', '', 'text [ ] not a task', '', '- [link](https://e.com) not a task']));
  t.regex(md, /<ul class="hh-tasks"><li class="hh-task"><input type="checkbox" class="hh-task-box" disabled> write tests<\/li>/);
  t.regex(md, /<li class="hh-task"><input type="checkbox" class="hh-task-box" disabled checked> ship <strong>it<\/strong><\/li>/);
  t.regex(md, /<li class="hh-task"><input type="checkbox" class="hh-task-box" disabled checked> also done<\/li><li>plain item<\/li><\/ul>/);
  t.regex(md, /<p>text \[ \] not a task<\/p>/);
  t.regex(md, /<ul><li><a href="https:\/\/e.com" rel="noopener noreferrer">link<\/a> not a task<\/li><\/ul>/);
  t.is(md.match(/<input/g)?.length, 3);
  t.notRegex(md, /<input(?![^>]*disabled)/);
});

test('nested lists render nested, task items in them too', (t) => {
  const md = flat(render(['- top', '  - middle', '    - [x] deep task', '  - second middle', '- next top', '  1. ordered child']));
  t.regex(md, /<ul><li>top<ul><li>middle<ul class="hh-tasks"><li class="hh-task"><input type="checkbox" class="hh-task-box" disabled checked> deep task<\/li><\/ul><\/li><li>second middle<\/li><\/ul><\/li><li>next top<ol><li>ordered child<\/li><\/ol><\/li><\/ul>/);
});

test('raw HTML is escaped as text: no script, no event handler, no tag of its own', (t) => {
  const md = render(['# Title <img src=x onerror=alert(1)>', '', '<script>alert(1)</script>', '', 'inline <b onclick="x()">b</b> and <style>body{}</style>', '', '<div>', 'block', '</div>']);
  t.regex(md, /<h1>Title &lt;img src=x onerror=alert\(1\)&gt;<\/h1>/);
  t.regex(md, /&lt;script&gt;alert\(1\)&lt;\/script&gt;/);
  t.regex(md, /inline &lt;b onclick=&quot;x\(\)&quot;&gt;b&lt;\/b&gt; and &lt;style&gt;/);
  t.notRegex(md, /<(script|img|b|style|div)\b/i);
});

test('only http(s) and mailto links: javascript:, vbscript:, data:, file: and relative ones stay text, in every link syntax', (t) => {
  const md = render([
    '[a](javascript:alert(1)) [b](JaVaScRiPt:alert(1)) [c](vbscript:x) [d](data:text/html,<script>x</script>) [e](file:///etc/passwd)',
    '[f](/api/agents) [g](#top) <javascript:alert(1)> [h][ref]', '', '[ref]: javascript:alert(2)', '',
    '[mail](mailto:op@example.com) <https://auto.example/x> bare https://bare.example/y and op@example.com; agent.nix notes.md stay text',
  ]);
  t.notRegex(md, /href="(?!https?:\/\/|mailto:)/i);
  t.regex(md, /\[a\]\(javascript:alert\(1\)\)/);
  t.regex(md, /&lt;javascript:alert\(1\)&gt;/);
  t.regex(md, /<a href="mailto:op@example.com" rel="noopener noreferrer">mail<\/a>/);
  t.regex(md, /<a href="https:\/\/auto.example\/x" rel="noopener noreferrer">https:\/\/auto.example\/x<\/a>/);
  t.regex(md, /<a href="https:\/\/bare.example\/y" rel="noopener noreferrer">/);
  t.regex(md, /<a href="mailto:op@example.com" rel="noopener noreferrer">op@example.com<\/a>/);
  t.regex(md, /agent.nix notes.md stay text/);
  t.is(md.match(/<a /g)?.length, 4);
});

test('an image from outside is never loaded: it becomes a link to it labelled with its alt text (inside a link, the text only)', (t) => {
  const md = render(['![tracking pixel](https://evil.example/p.png "seen") and [![badge](https://evil.example/b.svg)](https://ci.example/run)', '', '![x](javascript:alert(1)) ![](data:image/png;base64,AAAA)']);
  t.notRegex(md, /<img|src=/i);
  t.regex(md, /<a href="https:\/\/evil.example\/p.png" class="hh-md-image" title="seen" rel="noopener noreferrer">tracking pixel<\/a>/);
  t.regex(md, /<a href="https:\/\/ci.example\/run" rel="noopener noreferrer">badge<\/a>/);
  t.regex(md, /!\[x\]\(javascript:alert\(1\)\)/);
  t.notRegex(md, /href="(javascript|data):/);
});

test('attribute injection through a link or a title is impossible', (t) => {
  const md = renderMarkdown('[x](https://e.com/"onmouseover="alert(1)) [y](https://e.com "a\\" onclick=\\"z")').value;
  // With every quoted attribute value taken out, no tag has an event-handler attribute left.
  const tags = md.replace(/"[^"]*"/g, '""');
  t.notRegex(tags, /<a [^>]*\son\w+=/);
  t.regex(md, /title="a&quot; onclick=&quot;z"/);
});
