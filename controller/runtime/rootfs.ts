import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

/** nspawn's user namespaces: 65536 uids each, at a multiple of 65536, between these host uids. */
export const UID_RANGE = 0x10000;
const FIRST_RANGE = 0x80000;
const LAST_RANGE = 0x6fff0000;

/** The host's software as an agent sees it on a plain (non-NixOS) host: what is present of these. */
const PLAIN_HOST_DIRS = ['/usr', '/bin', '/sbin', '/lib', '/lib64', '/lib32', '/libx32', '/etc/alternatives', '/etc/ssl'];

export function defaultHostDirs(nixos: boolean, exists: (p: string) => boolean = fs.existsSync): string[] {
  return nixos ? ['/nix/store'] : PLAIN_HOST_DIRS.filter((d) => exists(d));
}

/**
 * The uid range the rootfs belongs to: its owner, when that is the start of a range nspawn would use.
 * `--private-users=pick` takes the range from there, so an agent keeps its uids across restarts.
 */
export function rootfsRange(dir: string): number | null {
  try {
    const { uid } = fs.statSync(dir);
    return uid >= FIRST_RANGE && uid <= LAST_RANGE && uid % UID_RANGE === 0 ? uid : null;
  } catch { return null; }
}

/** A range for a new rootfs: hashed from its path (stable), moved on past ranges other agents hold. */
export function chooseRange(key: string, taken: Set<number>): number {
  const slots = (LAST_RANGE - FIRST_RANGE) / UID_RANGE + 1;
  const h = crypto.createHash('sha256').update(key).digest().readUInt32BE(0);
  for (let i = 0; i < slots; i++) {
    const base = FIRST_RANGE + ((h + i) % slots) * UID_RANGE;
    if (!taken.has(base)) return base;
  }
  throw new Error('no free uid range for a container');
}

/** Gives a tree (never following a link) to `uid`:`uid`; what is already its stays as is. */
export function chownTree(dir: string, uid: number): void {
  const walk = (p: string) => {
    const st = fs.lstatSync(p);
    if (st.uid !== uid || st.gid !== uid) fs.lchownSync(p, uid, uid);
    if (st.isDirectory()) for (const e of fs.readdirSync(p)) walk(path.join(p, e));
  };
  walk(dir);
}

const lexists = (p: string): boolean => { try { fs.lstatSync(p); return true; } catch { return false; } };

const ETC: Record<string, string> = {
  passwd: 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n',
  group: 'root:x:0:\nnogroup:x:65534:\n',
  hosts: '127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n',
  'nsswitch.conf': 'passwd: files\ngroup: files\nhosts: files dns\n',
};

function osRelease(): string {
  for (const f of ['/etc/os-release', '/usr/lib/os-release']) {
    try { return fs.readFileSync(f, 'utf8'); } catch { /* next */ }
  }
  // nspawn refuses a directory without one: it would not look like an OS tree.
  return 'ID=hyperhive\nNAME="hyperhive agent"\n';
}

/**
 * The minimal root of an agent's container: empty mount points, the host's merged-/usr links
 * (`/bin → usr/bin` where the host has them, so no bind is needed there), and the few /etc files a
 * process needs. Everything else comes from read-only binds of the host's software. Idempotent;
 * returns the host directories to bind (those that are real directories on the host).
 */
export function ensureRootfs(dir: string, hostDirs: string[]): string[] {
  fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
  const binds: string[] = [];
  for (const d of hostDirs) {
    const inside = path.join(dir, d);
    let link: string | null = null;
    try { if (fs.lstatSync(d).isSymbolicLink()) link = fs.readlinkSync(d); } catch { continue; }
    if (link !== null && !path.isAbsolute(link)) {
      // lstat, not exists: the link dangles until /usr is bound.
      if (!lexists(inside)) { fs.mkdirSync(path.dirname(inside), { recursive: true }); fs.symlinkSync(link, inside); }
      continue;
    }
    // A real directory, or a link to an absolute path (nspawn binds what it points at).
    binds.push(d);
  }
  // nspawn looks for /usr (or an os-release) before it binds anything: the mount point must exist.
  for (const sub of ['usr', 'etc', 'tmp', 'var/tmp', 'root', 'run', 'proc', 'sys', 'dev', 'home']) fs.mkdirSync(path.join(dir, sub), { recursive: true });
  fs.chmodSync(path.join(dir, 'tmp'), 0o1777);
  fs.chmodSync(path.join(dir, 'var', 'tmp'), 0o1777);
  fs.chmodSync(path.join(dir, 'root'), 0o700);
  const etc = path.join(dir, 'etc');
  if (!fs.existsSync(path.join(etc, 'os-release'))) fs.writeFileSync(path.join(etc, 'os-release'), osRelease());
  for (const [f, text] of Object.entries(ETC)) if (!fs.existsSync(path.join(etc, f))) fs.writeFileSync(path.join(etc, f), text);
  return binds;
}
