// The kernel's view of mounts and loop devices, and taking them down:
// /proc/self/mounts for what is mounted where, /sys/block/loop*/loop/
// backing_file for which image a loop device serves.

import { readFileSync, readdirSync } from 'node:fs';
import { runTool } from './tools.js';

export interface MountEntry {
  source: string;
  target: string;
  type: string;
}

/** /proc/mounts escapes space, tab, newline and backslash as octal. */
function unescapeMountField(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

export function listMounts(): MountEntry[] {
  return readFileSync('/proc/self/mounts', 'utf8').split('\n').filter(Boolean).map((line) => {
    const [source = '', target = '', type = ''] = line.split(' ');
    return { source: unescapeMountField(source), target: unescapeMountField(target), type };
  });
}

function under(path: string, prefix: string): boolean {
  return path === prefix || path.startsWith(prefix.endsWith('/') ? prefix : `${prefix}/`);
}

/** Mounts whose mount point is at or under prefix, deepest first (the order to unmount them in). */
export function mountsUnder(prefix: string): MountEntry[] {
  return listMounts().filter((m) => under(m.target, prefix)).sort((a, b) => b.target.length - a.target.length);
}

export interface LoopEntry {
  device: string;
  backingFile: string;
}

/** Loop devices with a backing file, from sysfs (a deleted image reads "... (deleted)"). */
export function listLoops(): LoopEntry[] {
  let names: string[];
  try {
    names = readdirSync('/sys/block').filter((n) => /^loop\d+$/.test(n));
  } catch {
    return [];
  }
  const out: LoopEntry[] = [];
  for (const name of names) {
    try {
      const backing = readFileSync(`/sys/block/${name}/loop/backing_file`, 'utf8').trim();
      out.push({ device: `/dev/${name}`, backingFile: backing.replace(/ \(deleted\)$/, '') });
    } catch {
      // not attached
    }
  }
  return out;
}

export function loopsUnder(prefix: string): LoopEntry[] {
  return listLoops().filter((l) => under(l.backingFile, prefix));
}

export function isMounted(target: string): boolean {
  return listMounts().some((m) => m.target === target);
}

/**
 * Unmount target if it is mounted. Busy (a process still has a file open
 * there): detach it lazily, which frees the mount point now and the
 * filesystem when the last user goes.
 */
export function unmount(target: string): void {
  if (!isMounted(target)) return;
  try {
    runTool('umount', [target]);
  } catch {
    runTool('umount', ['-l', target]);
  }
}

/** Detach a loop device if it still serves backingFile (a number may be reused by someone else). */
export function detachLoop(device: string, backingFile: string): void {
  if (!listLoops().some((l) => l.device === device && l.backingFile === backingFile)) return;
  runTool('losetup', ['-d', device]);
}
