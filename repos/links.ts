// Symbolic links and gitlinks have no place in an agent's repo: a link in the config checkout is
// followed by whatever reads it (the harness read a `prompt.md` → /etc/shadow as its role prompt),
// and a gitlink names a commit of a repo nobody here has. Every layer refuses them with this text.

export const SYMLINK_MODE = '120000';
export const GITLINK_MODE = '160000';

export const isLinkMode = (mode: string | undefined): boolean => mode === SYMLINK_MODE || mode === GITLINK_MODE;

/** Why `path` with git mode `mode` is refused, or null for a regular file or a tree. */
export function linkProblem(path: string, mode: string | undefined): string | null {
  if (mode === SYMLINK_MODE) return `${path} is a symbolic link (mode 120000): only regular files are accepted, since a link could make the agent read a file outside its repo; commit the file's content instead`;
  if (mode === GITLINK_MODE) return `${path} is a gitlink (mode 160000, a submodule): submodules are not accepted; commit the files themselves`;
  return null;
}

/** The link entries of `ls-tree -r -z` output (`<mode> <type> <sha>\t<path>` records). */
export function linksInLsTree(text: string): { path: string; mode: string }[] {
  const out: { path: string; mode: string }[] = [];
  for (const rec of text.split('\0')) {
    const tab = rec.indexOf('\t');
    const mode = rec.slice(0, rec.indexOf(' '));
    if (tab > 0 && isLinkMode(mode)) out.push({ path: rec.slice(tab + 1), mode });
  }
  return out;
}
