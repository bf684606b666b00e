import crypto from 'node:crypto';
import * as Diff2Html from 'diff2html';
import type { DiffFile } from 'diff2html/lib/types.js';
import type { ChangedPath } from '../../repos/diff.ts';
import { html, join, raw, type SafeHtml } from './html.ts';
import { SizedLru } from './lru.ts';

// diff2html renders on the server (no browser-side diff JS). Measured: a 50-file, 10,000-line change
// costs 170–490 ms and ~3–6 MB of HTML in one go, so past a threshold files are collapsed and rendered
// on demand, and every rendered piece is cached by patch hash.

export type DiffFormat = 'side-by-side' | 'line-by-line';
export type DiffFileStatus = 'added' | 'deleted' | 'renamed' | 'copied' | 'modified';

export interface DiffFileInfo {
  index: number;
  /** The path after the change (before it, for a deletion). */
  path: string;
  /** The path before a rename or copy; null otherwise. */
  oldPath: string | null;
  status: DiffFileStatus;
  added: number;
  deleted: number;
  binary: boolean;
  /**
   * What git stores at the path (after the change; before it, for a deletion): a symbolic link
   * (mode 120000) or gitlink (160000) is named as such, never shown as if its target were content.
   */
  kind: DiffFileKind;
  /** A symbolic link's target, as the patch carries it; null otherwise. */
  target: string | null;
  /** Rendered as a header only; its body is fetched when the reader expands it. */
  collapsed: boolean;
}

export type DiffFileKind = 'file' | 'symlink' | 'gitlink';

export interface RenderedDiff {
  hash: string;
  format: DiffFormat;
  files: DiffFileInfo[];
  added: number;
  deleted: number;
  /** 5,000+ changed lines or 50+ files: some files are collapsed. */
  large: boolean;
  /** File list + files; file bodies of collapsed files are absent. */
  fileList: SafeHtml;
  body: SafeHtml;
}

export interface DiffRendererOptions {
  /** Cache budget in bytes of rendered HTML and parsed patches (strings counted as 2 bytes a char). */
  maxCacheBytes?: number;
  largeLines?: number;
  largeFiles?: number;
  /** In a large change, files are rendered in full until either budget is spent; the rest collapse. */
  expandedLines?: number;
  expandedFiles?: number;
  /** A single file with more changed lines than this is collapsed in any change. */
  maxFileLines?: number;
}

const DEFAULTS: Required<DiffRendererOptions> = {
  maxCacheBytes: 64 * 1024 * 1024,
  largeLines: 5000,
  largeFiles: 50,
  expandedLines: 1000,
  expandedFiles: 10,
  maxFileLines: 2000,
};

export const patchHashOf = (patch: string): string => crypto.createHash('sha256').update(patch, 'utf8').digest('hex');

/**
 * A patch with git's own list of its paths (`diffSummary`/`changedPaths`, from `-z` output): the
 * names shown and addressed come from that list, never from the patch's `---`/`+++` headers, where
 * git appends a tab to a name with a space and C-quotes one with a tab, quote, newline or non-ASCII.
 */
export type DiffSource = string | { patch: string; paths: readonly DiffPath[] };
export type DiffPath = Pick<ChangedPath, 'path' | 'oldPath' | 'status'>;

const patchOf = (s: DiffSource): string => (typeof s === 'string' ? s : s.patch);

type SectionName = { path: string; oldPath: string | null };

/**
 * The name of each `diff --git` section, in order, from git's path list: git writes the sections in
 * the list's order, one per path, except a type change (a file made a symlink), which is two — the
 * old file deleted, then the new one added.
 */
export function sectionNames(paths: readonly DiffPath[]): SectionName[] {
  return paths.flatMap((p): SectionName[] => (p.status === 'T'
    ? [{ path: p.path, oldPath: null }, { path: p.path, oldPath: null }]
    : [{ path: p.path, oldPath: p.status === 'R' ? p.oldPath ?? null : null }]));
}

/**
 * A name as diff2html read it from the patch's headers, for a patch that came without its path
 * list: best effort (a C-quoted name keeps its escapes), with the tab git appends to a name with a space dropped.
 */
const headerName = (name: string): string => name.replace(/\t$/, '').replace(/^"?[ab]\//, '').replace(/"$/, '');

const KIND_OF_MODE: Record<string, DiffFileKind> = { '120000': 'symlink', '160000': 'gitlink' };

/** The kind at the path from the patch's mode lines: `new file mode`, `deleted file mode`, `new mode`, or the `index` line's. */
function kindOf(f: DiffFile, deleted: boolean): DiffFileKind {
  const oldMode = typeof f.oldMode === 'string' ? f.oldMode : undefined;
  const mode = deleted ? f.deletedFileMode ?? oldMode : f.newFileMode ?? f.newMode ?? f.mode;
  return (mode && KIND_OF_MODE[mode]) || 'file';
}

/** A link's blob is its target: the last line the patch adds (or removes, for a deletion). */
function targetOf(f: DiffFile, deleted: boolean): string | null {
  const sign = deleted ? '-' : '+';
  const lines = f.blocks.flatMap((b) => b.lines).filter((l) => l.content.startsWith(sign));
  return lines.length ? lines[lines.length - 1]!.content.slice(1) : null;
}

function infoOf(f: DiffFile, index: number, name: SectionName | undefined): Omit<DiffFileInfo, 'collapsed'> {
  const deleted = !!f.isDeleted || f.newName === '/dev/null';
  const added = !!f.isNew || f.oldName === '/dev/null';
  const path = name?.path ?? headerName(deleted ? f.oldName : f.newName);
  const status: DiffFileStatus = deleted ? 'deleted' : added ? 'added' : f.isRename ? 'renamed' : f.isCopy ? 'copied' : 'modified';
  const kind = kindOf(f, deleted);
  return {
    index,
    path,
    oldPath: status === 'renamed' || status === 'copied' ? name?.oldPath ?? headerName(f.oldName) : null,
    status,
    added: f.addedLines,
    deleted: f.deletedLines,
    binary: !!f.isBinary,
    kind,
    target: kind === 'symlink' ? targetOf(f, deleted) : null,
  };
}

/** Which files to collapse: pure, so the thresholds can be tested without rendering anything. */
export function planCollapse(stats: { added: number; deleted: number; binary: boolean }[], o: DiffRendererOptions = {}): { large: boolean; collapsed: boolean[] } {
  const opt = { ...DEFAULTS, ...o };
  const total = stats.reduce((n, s) => n + s.added + s.deleted, 0);
  const large = total >= opt.largeLines || stats.length >= opt.largeFiles;
  let lines = 0;
  let files = 0;
  const collapsed = stats.map((s) => {
    const n = s.added + s.deleted;
    if (s.binary) return false; // a binary file renders as one line naming it
    if (n > opt.maxFileLines) return true;
    if (!large) return false;
    if (files >= opt.expandedFiles || lines + n > opt.expandedLines) return true;
    files++;
    lines += n;
    return false;
  });
  return { large, collapsed };
}

const STATUS_LABEL: Record<DiffFileStatus, string> = { added: 'added', deleted: 'deleted', renamed: 'renamed', copied: 'copied', modified: 'modified' };

function displayName(f: DiffFileInfo): string {
  return f.oldPath ? `${f.oldPath} → ${f.path}` : f.path;
}

/** The tags before a file's name: its status, and what it is when not a plain text file. */
function tags(f: DiffFileInfo): SafeHtml {
  return html`<span class="hh-tag hh-tag-${f.status}">${STATUS_LABEL[f.status]}</span>${f.binary ? html` <span class="hh-tag hh-tag-binary">binary</span>` : ''}${f.kind !== 'file' ? html` <span class="hh-tag hh-tag-link" data-kind="${f.kind}">${f.kind === 'symlink' ? 'symbolic link' : 'gitlink'}</span>` : ''}`;
}

const targetNote = (f: DiffFileInfo): SafeHtml | '' => (f.kind === 'symlink' && f.target !== null ? html` <span class="hh-link-target">→ <code>${f.target}</code></span>` : '');

/** Above a link's diff: what the lines below are, so a target never reads as the file's content. */
function linkNote(f: Omit<DiffFileInfo, 'collapsed'>): SafeHtml | '' {
  if (f.kind === 'symlink') return html`<p class="hh-link-note" role="note"><strong>${f.path}</strong> is a symbolic link (mode 120000)${f.target !== null ? html` to <code>${f.target}</code>` : ''}: the lines below are its target, not file content.</p>`;
  if (f.kind === 'gitlink') return html`<p class="hh-link-note" role="note"><strong>${f.path}</strong> is a gitlink (mode 160000, a submodule commit), not a file.</p>`;
  return '';
}

export function renderFileList(files: DiffFileInfo[], added: number, deleted: number): SafeHtml {
  return html`<nav class="hh-filelist" aria-label="Changed files">
<p class="hh-filelist-title">${files.length} file${files.length === 1 ? '' : 's'} changed, <span class="hh-add">+${added}</span> <span class="hh-del">−${deleted}</span></p>
<ol>${files.map((f) => html`<li data-path="${f.path}">${tags(f)} <a href="#hh-file-${f.index}">${displayName(f)}</a>${targetNote(f)} <span class="hh-add">+${f.added}</span> <span class="hh-del">−${f.deleted}</span>${f.collapsed ? html` <span class="hh-muted">(collapsed)</span>` : ''}</li>`)}</ol>
</nav>`;
}

function fileHeader(f: DiffFileInfo): SafeHtml {
  return html`<header class="hh-file-header">${tags(f)} <span class="hh-file-name">${displayName(f)}</span>${targetNote(f)} <span class="hh-add">+${f.added}</span> <span class="hh-del">−${f.deleted}</span></header>`;
}

function collapsedSection(f: DiffFileInfo): SafeHtml {
  return html`<section class="hh-file hh-collapsed" id="hh-file-${f.index}" data-path="${f.path}">${fileHeader(f)}<div class="hh-file-body"><button type="button" class="hh-expand" data-path="${f.path}">Show diff (${f.added + f.deleted} changed lines)</button></div></section>`;
}

interface Parsed { files: DiffFile[]; infos: Omit<DiffFileInfo, 'collapsed'>[] }

export class DiffRenderer {
  private cache: SizedLru<unknown>;
  private opt: Required<DiffRendererOptions>;
  /** Renders done (not served from cache), for tests and metrics. */
  renders = 0;

  constructor(options: DiffRendererOptions = {}) {
    this.opt = { ...DEFAULTS, ...options };
    this.cache = new SizedLru(this.opt.maxCacheBytes);
  }

  private parsed(source: DiffSource, hash: string): Parsed {
    const key = `p:${hash}`;
    const hit = this.cache.get(key) as Parsed | undefined;
    if (hit) return hit;
    const patch = patchOf(source);
    const files = Diff2Html.parse(patch);
    // Should the list and the patch ever disagree on the sections, the headers are all there is.
    const listed = typeof source === 'string' ? null : sectionNames(source.paths);
    const names = listed?.length === files.length ? listed : null;
    const p = { files, infos: files.map((f, i) => infoOf(f, i, names?.[i])) };
    // Parsed line objects cost several times the patch text; 4x is a measured-ish upper bound.
    this.cache.set(key, p, patch.length * 2 * 4);
    return p;
  }

  private fileBody(p: Parsed, hash: string, index: number, format: DiffFormat): string {
    const key = `f:${hash}:${format}:${index}`;
    const hit = this.cache.get(key) as string | undefined;
    if (hit !== undefined) return hit;
    this.renders++;
    const out = Diff2Html.html([p.files[index]!], { outputFormat: format, drawFileList: false, matching: 'none' });
    this.cache.set(key, out, out.length * 2);
    return out;
  }

  private fileSection(p: Parsed, hash: string, f: Omit<DiffFileInfo, 'collapsed'>, format: DiffFormat): SafeHtml {
    return html`<section class="hh-file" id="hh-file-${f.index}" data-path="${f.path}">${linkNote(f)}${raw(this.fileBody(p, hash, f.index, format))}</section>`;
  }

  /** The whole change: file list, expanded files rendered, collapsed ones as headers to expand. */
  render(source: DiffSource, format: DiffFormat = 'side-by-side', hash: string = patchHashOf(patchOf(source))): RenderedDiff {
    const key = `r:${hash}:${format}`;
    const hit = this.cache.get(key) as RenderedDiff | undefined;
    if (hit) return hit;
    const p = this.parsed(source, hash);
    const { large, collapsed } = planCollapse(p.infos, this.opt);
    const files = p.infos.map((f, i) => ({ ...f, collapsed: collapsed[i]! }));
    const added = files.reduce((n, f) => n + f.added, 0);
    const deleted = files.reduce((n, f) => n + f.deleted, 0);
    const sections = files.map((f) => (f.collapsed
      ? collapsedSection(f)
      : this.fileSection(p, hash, f, format)));
    const out: RenderedDiff = {
      hash, format, files, added, deleted, large,
      fileList: renderFileList(files, added, deleted),
      body: files.length ? join(sections, '\n') : html`<p class="hh-muted">No file changes.</p>`,
    };
    this.cache.set(key, out, (out.body.value.length + out.fileList.value.length) * 2);
    return out;
  }

  /** One file's rendered section (for expanding a collapsed file); null when the patch has no such path. */
  renderFile(source: DiffSource, path: string, format: DiffFormat = 'side-by-side', hash: string = patchHashOf(patchOf(source))): SafeHtml | null {
    const p = this.parsed(source, hash);
    const index = p.infos.findIndex((f) => f.path === path || f.oldPath === path);
    if (index < 0) return null;
    return this.fileSection(p, hash, p.infos[index]!, format);
  }

  /** render() for a patch loaded only on a cache miss; `key` must identify the patch (e.g. "base..head"). */
  async renderLazy(key: string, load: () => Promise<DiffSource>, format: DiffFormat = 'side-by-side'): Promise<RenderedDiff> {
    const hit = this.cache.get(`r:${key}:${format}`) as RenderedDiff | undefined;
    return hit ?? this.render(await load(), format, key);
  }

  /** renderFile() for a patch loaded only when its parse is not cached. */
  async renderFileLazy(key: string, load: () => Promise<DiffSource>, path: string, format: DiffFormat = 'side-by-side'): Promise<SafeHtml | null> {
    const parsed = this.cache.get(`p:${key}`) !== undefined;
    return this.renderFile(parsed ? '' : await load(), path, format, key);
  }

  get cacheBytes(): number { return this.cache.size; }
  clearCache(): void { this.cache.clear(); }
}

export const parseDiffFormat = (v: unknown): DiffFormat => (v === 'line' || v === 'line-by-line' ? 'line-by-line' : 'side-by-side');
