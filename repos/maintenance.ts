import { git } from './git.ts';

/**
 * `git gc --auto`: packs loose objects once there are enough of them (git's own thresholds), so
 * reads stay fast. Pushes into the agents' repos skip it (receive.autogc is off: the pusher would
 * wait for it); the controller calls this off the push's path. Cheap when there is nothing to do.
 */
export async function gcAuto(repo: string): Promise<void> {
  await git(['gc', '--auto', '--quiet'], { repo });
}
