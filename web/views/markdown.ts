import MarkdownIt from 'markdown-it';
import type { StateCore, Token } from 'markdown-it';
import { raw, type SafeHtml } from './html.ts';

// notes.md is written by agents, so it is untrusted: markdown-it with raw HTML off (escaped as text),
// links only to http(s) and mailto (validateLink also guards autolinks, linkify and references), and
// no image ever loaded: an image becomes a link to it. GitHub's tables and task lists render; the
// page's CSP allows no inline style, so table alignment is a class instead of markdown-it's style.

const SAFE_LINK = /^(https?:\/\/|mailto:)/i;
const TASK = /^\[([ xX])\][ \t]/;

const md = new MarkdownIt('default', { html: false, linkify: true, typographer: false });
md.validateLink = (url) => SAFE_LINK.test(url.trim());
// Bare domains stay text: notes name files like `agent.nix` and `notes.md` (.md is a country's TLD).
md.linkify.set({ fuzzyLink: false });

/** Table cells: `style="text-align:x"` → class `hh-align-x`. */
function alignAsClass(state: StateCore): void {
  for (const t of state.tokens) {
    if (t.type !== 'th_open' && t.type !== 'td_open') continue;
    const align = /^text-align:(left|center|right)$/.exec(String(t.attrGet('style') ?? ''))?.[1];
    if (!t.attrs) continue;
    t.attrs = t.attrs.filter(([k]) => k !== 'style');
    if (align) t.attrJoin('class', `hh-align-${align}`);
  }
}

/** An image is a link to it, labelled with its alt text (inside a link, only the text: anchors do not nest). */
function imagesAsLinks(state: StateCore): void {
  for (const block of state.tokens) {
    if (block.type !== 'inline' || !block.children?.some((t) => t.type === 'image')) continue;
    const out: Token[] = [];
    let depth = 0;
    for (const t of block.children) {
      if (t.type === 'link_open') depth++;
      if (t.type === 'link_close') depth--;
      if (t.type !== 'image') { out.push(t); continue; }
      const src = String(t.attrGet('src') ?? '');
      const label = new state.Token('text', '', 0);
      label.content = md.renderer.renderInlineAsText(t.children ?? [], md.options, state.env) || src;
      if (depth > 0) { out.push(label); continue; }
      const open = new state.Token('link_open', 'a', 1);
      open.attrs = [['href', src], ['class', 'hh-md-image']];
      const title = t.attrGet('title');
      if (title) open.attrSet('title', title);
      out.push(open, label, new state.Token('link_close', 'a', -1));
    }
    block.children = out;
  }
}

/** `- [ ] x` / `- [x] x`: a disabled checkbox; the item and its list get classes for the stylesheet. */
function taskLists(state: StateCore): void {
  const tokens = state.tokens;
  for (let i = 2; i < tokens.length; i++) {
    const inline = tokens[i]!;
    const item = tokens[i - 2]!;
    if (inline.type !== 'inline' || tokens[i - 1]!.type !== 'paragraph_open' || item.type !== 'list_item_open') continue;
    const first = inline.children?.[0];
    const m = TASK.exec(inline.content);
    if (!m || first?.type !== 'text' || !first.content.startsWith(m[0])) continue;
    first.content = first.content.slice(m[0].length);
    const box = new state.Token('hh_task', 'input', 0);
    box.meta = { checked: m[1] !== ' ' };
    inline.children!.unshift(box);
    item.attrJoin('class', 'hh-task');
    for (let j = i - 3; j >= 0; j--) {
      const list = tokens[j]!;
      if (list.level !== item.level - 1 || (list.type !== 'bullet_list_open' && list.type !== 'ordered_list_open')) continue;
      if (!String(list.attrGet('class') ?? '').split(' ').includes('hh-tasks')) list.attrJoin('class', 'hh-tasks');
      break;
    }
  }
}

md.core.ruler.push('hh_align_class', alignAsClass);
md.core.ruler.push('hh_images_as_links', imagesAsLinks);
md.core.ruler.push('hh_task_lists', taskLists);
md.renderer.rules.hh_task = (tokens, idx) => `<input type="checkbox" class="hh-task-box" disabled${(tokens[idx]!.meta as { checked: boolean }).checked ? ' checked' : ''}> `;
md.renderer.rules.link_open = (tokens, idx, options, _env, self) => {
  tokens[idx]!.attrSet('rel', 'noopener noreferrer');
  return self.renderToken(tokens, idx, options);
};

export function renderMarkdown(src: string): SafeHtml {
  return raw(md.render(src));
}
